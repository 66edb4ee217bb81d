"""biblatex data as biblatex and pandoc read it: inheritance, dates, options, types. Pure.

``crossref`` and ``xdata`` inheritance follows biblatex's rules (appendix B of its
manual, as pandoc's reader applies them: a book's ``title`` is an in-book entry's
``booktitle``, a multi-volume book's ``title`` a book's ``maintitle``, ...). Dates
are the ISO 8601 / EDTF forms biblatex's ``date`` field takes, or ``year``,
``month`` and ``day``. The required fields of each type follow biblatex's data
model, counting inherited fields and the usual aliases (``journal`` for
``journaltitle``, ``year`` for ``date``, ``school`` for ``institution``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

__all__ = ["inherit", "parse_options", "parse_date", "year_of", "REQUIRED", "missing_fields", "language_tag",
           "ENGLISH", "split_keys"]

_NEVER = {"ids", "crossref", "xref", "xdata", "entryset", "entrysubtype", "execute", "label", "options", "presort",
          "related", "relatedoptions", "relatedstring", "relatedtype", "shorthand", "shorthandintro", "sortkey"}
_STANDARD = {"title": ["maintitle"], "subtitle": ["mainsubtitle"], "titleaddon": ["maintitleaddon"],
             "shorttitle": [], "sorttitle": [], "indextitle": [], "indexsorttitle": []}
_BOOK = {"title": ["booktitle"], "subtitle": ["booksubtitle"], "titleaddon": ["booktitleaddon"],
         "shorttitle": [], "sorttitle": [], "indextitle": [], "indexsorttitle": []}
_PERIODICAL = {"title": ["journaltitle"], "subtitle": ["journalsubtitle"], "shorttitle": [], "sorttitle": [],
               "indextitle": [], "indexsorttitle": []}


#: Which parent types give which child types their titles under other names (biblatex's
#: inheritance table): a parent's ``title`` is a child's ``maintitle``, ``booktitle`` or ``journaltitle``.
_TABLES: tuple[tuple[frozenset[str], frozenset[str], dict[str, list[str]]], ...] = (
    (frozenset({"mvbook"}), frozenset({"book", "inbook", "bookinbook", "suppbook"}), _STANDARD),
    (frozenset({"mvcollection", "mvreference"}),
     frozenset({"collection", "reference", "incollection", "inreference", "suppcollection"}), _STANDARD),
    (frozenset({"mvproceedings"}), frozenset({"proceedings", "inproceedings"}), _STANDARD),
    (frozenset({"book"}), frozenset({"inbook", "bookinbook", "suppbook"}), _BOOK),
    (frozenset({"collection", "reference"}), frozenset({"incollection", "inreference", "suppcollection"}), _BOOK),
    (frozenset({"proceedings"}), frozenset({"inproceedings"}), _BOOK),
    (frozenset({"periodical"}), frozenset({"article", "suppperiodical"}), _PERIODICAL),
)


def _transform(source: str, target: str, key: str) -> list[str]:
    """The field names a parent's field takes in a child (biblatex's inheritance rules)."""
    if key in _NEVER:
        return []
    if key == "author" and ((source in ("mvbook", "book") and target in ("inbook", "bookinbook", "suppbook"))
                            or (source == "mvbook" and target == "book")):
        return ["bookauthor", "author"]
    table = next((t for sources, targets, t in _TABLES if source in sources and target in targets), None)
    if table is not None and key in table:
        return table[key]
    return [key]


def split_keys(value: str) -> list[str]:
    return [k for k in re.split(r"[\s,]+", value) if k]


def inherit(etype: str, fields: Mapping[str, str], lookup: Callable[[str], tuple[str, Mapping[str, str]] | None],
            depth: int = 0) -> dict[str, str]:
    """The fields of an entry with what its ``crossref`` and ``xdata`` parents give it: a
    field the entry sets itself always wins. ``lookup(key)`` gives a parent's (type, fields)."""
    out = dict(fields)
    if depth > 8:  # a cycle of parents: stop, the fields so far stand
        return out
    for link in ("crossref", "xdata"):
        for key in split_keys(fields.get(link, "")):
            parent = lookup(key)
            if parent is None:
                continue
            ptype, pfields = parent
            pfields = inherit(ptype, pfields, lookup, depth + 1)
            for k, v in pfields.items():
                if link == "xdata":  # xdata fields are taken as they are
                    names = [] if k in _NEVER else [k]
                else:
                    names = _transform(ptype, etype, k)
                for name in names:
                    out.setdefault(name, v)
    return out


def parse_options(value: str) -> dict[str, str]:
    """``useprefix=true, doi=false`` as a mapping (a bare option is true)."""
    out = {}
    for part in value.split(","):
        name, _, v = part.partition("=")
        if name.strip():
            out[name.strip().lower()] = v.strip().lower() or "true"
    return out


_DATE = re.compile(r"^(-?\d{1,4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?[?~%]?$")


def parse_date(value: str) -> list[list[int]] | None:
    """An ISO 8601 / EDTF date or range as CSL date-parts (``2004``, ``2004-10-27``,
    ``1885/1888``, ``2003/``), or None when it is not one."""
    v = value.strip().replace("\u2013", "/").replace("--", "/")
    if not v:
        return None
    ends = v.split("/")
    if len(ends) > 2:
        return None
    out: list[list[int]] = []
    for end in ends:
        if end in ("", ".."):
            continue
        m = _DATE.match(end.strip())
        if not m:
            return None
        parts = [int(m.group(1))] + [int(x) for x in m.groups()[1:] if x]
        if len(parts) > 1 and not 1 <= parts[1] <= 12 and not 21 <= parts[1] <= 24:  # 21-24: seasons
            return None
        if len(parts) > 2 and not 1 <= parts[2] <= 31:
            return None
        out.append(parts)
    if len(out) == 2 and out[1] < out[0]:
        return None  # "2005/06" is no range from 2005 to the year 6: printed as written
    return out or None


_YEAR = re.compile(r"^(-?\d{1,4})(?:\s*(?:--?|\u2013|/)\s*(-?\d{1,4}))?$")


def year_of(fields: Mapping[str, str], decode: Callable[[str], str]) -> list[list[int]] | None:
    """The issued date parts of ``date``, or else ``year`` (a range too), ``month``, ``day``."""
    if fields.get("date"):
        return parse_date(decode(fields["date"]))
    year = decode(fields.get("year", "")).strip()
    m = _YEAR.match(year)
    if not m:
        return None
    first = [int(m.group(1))]
    month = decode(fields.get("month", "")).strip()
    if month.isdigit() and 1 <= int(month) <= 12:
        first.append(int(month))
        day = decode(fields.get("day", "")).strip()
        if day.isdigit() and 1 <= int(day) <= 31:
            first.append(int(day))
    parts = [first]
    if m.group(2):
        if int(m.group(2)) < first[0]:
            return None  # "2005/06": printed as written
        parts.append([int(m.group(2))])
    return parts


# Required fields per type: what both BibTeX's standard styles and biblatex's data model
# require (biblatex's aliases counted: ``journaltitle`` for ``journal``, ``date`` for ``year``,
# ``school`` for ``institution``), so that neither a BibTeX nor a biblatex library is told a
# field is missing that its own tools do not ask for. Names are never required: a work with
# no author is cited by its title, as CSL styles substitute. Each item is a field or its
# alternatives; inherited fields count.
_DATE_F = ("date", "year")
_TITLE = ("title",)
_BOOKTITLE = ("booktitle",)
_INSTITUTION = ("institution", "school")
REQUIRED: dict[str, tuple[tuple[str, ...], ...]] = {
    "article": (_TITLE, ("journaltitle", "journal"), _DATE_F),
    "book": (_TITLE, _DATE_F),
    "mvbook": (_TITLE, _DATE_F),
    "inbook": (_TITLE, _DATE_F),
    "bookinbook": (_TITLE, _BOOKTITLE, _DATE_F),
    "suppbook": (_TITLE, _BOOKTITLE, _DATE_F),
    "booklet": (_TITLE,),
    "collection": (_TITLE, _DATE_F),
    "mvcollection": (_TITLE, _DATE_F),
    "incollection": (_TITLE, _BOOKTITLE, _DATE_F),
    "suppcollection": (_TITLE, _BOOKTITLE, _DATE_F),
    "dataset": (_TITLE,),
    "manual": (_TITLE,),
    "misc": (),
    "online": (_TITLE, ("url", "doi", "eprint")),
    "electronic": (_TITLE, ("url", "doi", "eprint")),
    "www": (_TITLE, ("url", "doi", "eprint")),
    "patent": (_TITLE, ("number",), _DATE_F),
    "periodical": (_TITLE, _DATE_F),
    "suppperiodical": (_TITLE, ("journaltitle", "journal"), _DATE_F),
    "proceedings": (_TITLE, _DATE_F),
    "mvproceedings": (_TITLE, _DATE_F),
    "inproceedings": (_TITLE, _BOOKTITLE, _DATE_F),
    "conference": (_TITLE, _BOOKTITLE, _DATE_F),
    "reference": (_TITLE, _DATE_F),
    "mvreference": (_TITLE, _DATE_F),
    "inreference": (_TITLE, _BOOKTITLE, _DATE_F),
    "report": (_TITLE, _INSTITUTION, _DATE_F),
    "techreport": (_TITLE, _INSTITUTION, _DATE_F),
    "thesis": (_TITLE, _INSTITUTION, _DATE_F),
    "phdthesis": (_TITLE, _INSTITUTION, _DATE_F),
    "mastersthesis": (_TITLE, _INSTITUTION, _DATE_F),
    "unpublished": (_TITLE,),
    "software": (_TITLE,),
    "set": (("entryset",),),
    "xdata": (),
}


def missing_fields(etype: str, fields: Mapping[str, str]) -> list[str]:
    """The required fields (or alternatives, as ``a or b``) an entry lacks."""
    out = []
    for alternatives in REQUIRED.get(etype, ()):
        if not any(fields.get(name, "").strip() for name in alternatives):
            out.append(" or ".join(alternatives))
    return out


ENGLISH = frozenset({"", "english", "american", "british", "canadian", "australian", "newzealand", "usenglish",
                     "ukenglish", "en", "en-us", "en-gb", "en-au", "en-ca", "en-nz"})
_TAGS = {"german": "de-DE", "ngerman": "de-DE", "austrian": "de-AT", "naustrian": "de-AT", "swissgerman": "de-CH",
         "french": "fr-FR", "italian": "it-IT", "spanish": "es-ES", "portuguese": "pt-PT", "brazilian": "pt-BR",
         "dutch": "nl-NL", "swedish": "sv-SE", "norwegian": "nb-NO", "danish": "da-DK", "finnish": "fi-FI",
         "polish": "pl-PL", "czech": "cs-CZ", "russian": "ru-RU", "greek": "el-GR", "latin": "la",
         "english": "en-US", "american": "en-US", "british": "en-GB", "australian": "en-AU",
         "newzealand": "en-NZ", "canadian": "en-CA", "catalan": "ca-AD", "croatian": "hr-HR", "hungarian": "hu-HU",
         "turkish": "tr-TR", "japanese": "ja-JP", "chinese": "zh-CN", "hebrew": "he-IL", "arabic": "ar"}


def language_tag(langid: str) -> str:
    """A biblatex language name (``ngerman``) as an IETF tag (``de-DE``); a tag stays a tag."""
    v = langid.strip().lower()
    if v in _TAGS:
        return _TAGS[v]
    return langid.strip()
