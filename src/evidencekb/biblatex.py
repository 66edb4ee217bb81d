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


def _transform(source: str, target: str, key: str) -> list[str]:
    """The field names a parent's field takes in a child (biblatex's inheritance rules)."""
    if key in _NEVER:
        return []
    if key == "author" and ((source in ("mvbook", "book") and target in ("inbook", "bookinbook", "suppbook"))
                            or (source == "mvbook" and target == "book")):
        return ["bookauthor", "author"]
    table: dict[str, list[str]] | None = None
    if source == "mvbook" and target in ("book", "inbook", "bookinbook", "suppbook"):
        table = _STANDARD
    elif source in ("mvcollection", "mvreference") and target in (
            "collection", "reference", "incollection", "inreference", "suppcollection"):
        table = _STANDARD
    elif source == "mvproceedings" and target in ("proceedings", "inproceedings"):
        table = _STANDARD
    elif source == "book" and target in ("inbook", "bookinbook", "suppbook"):
        table = _BOOK
    elif source in ("collection", "reference") and target in ("incollection", "inreference", "suppcollection"):
        table = _BOOK
    elif source == "proceedings" and target == "inproceedings":
        table = _BOOK
    elif source == "periodical" and target in ("article", "suppperiodical"):
        table = _PERIODICAL
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
        parts.append([int(m.group(2))])
    return parts


# Required fields per type, biblatex's data model; each item is a field or alternatives.
_AUTHOR = ("author", "editor")
_DATE_F = ("date", "year")
REQUIRED: dict[str, tuple[tuple[str, ...], ...]] = {
    "article": (_AUTHOR, ("title",), ("journaltitle", "journal"), _DATE_F),
    "book": (_AUTHOR, ("title",), _DATE_F),
    "mvbook": (_AUTHOR, ("title",), _DATE_F),
    "inbook": (("author",), ("title",), ("booktitle",), _DATE_F),
    "bookinbook": (("author",), ("title",), ("booktitle",), _DATE_F),
    "suppbook": (("author",), ("title",), ("booktitle",), _DATE_F),
    "booklet": (_AUTHOR, ("title",), _DATE_F),
    "collection": (("editor",), ("title",), _DATE_F),
    "mvcollection": (("editor",), ("title",), _DATE_F),
    "incollection": (("author",), ("title",), ("booktitle",), _DATE_F),
    "suppcollection": (("author",), ("title",), ("booktitle",), _DATE_F),
    "dataset": (_AUTHOR, ("title",), _DATE_F),
    "manual": (_AUTHOR, ("title",), _DATE_F),
    "misc": (("title",),),
    "online": (("title",), ("url", "doi", "eprint")),
    "electronic": (("title",), ("url", "doi", "eprint")),
    "www": (("title",), ("url", "doi", "eprint")),
    "patent": (("author",), ("title",), ("number",), _DATE_F),
    "periodical": (("editor",), ("title",), _DATE_F),
    "suppperiodical": (("author",), ("title",), ("journaltitle", "journal"), _DATE_F),
    "proceedings": (("title",), _DATE_F),
    "mvproceedings": (("title",), _DATE_F),
    "inproceedings": (("author",), ("title",), ("booktitle",), _DATE_F),
    "conference": (("author",), ("title",), ("booktitle",), _DATE_F),
    "reference": (("editor",), ("title",), _DATE_F),
    "mvreference": (("editor",), ("title",), _DATE_F),
    "inreference": (("author",), ("title",), ("booktitle",), _DATE_F),
    "report": (("author",), ("title",), ("type",), ("institution", "school"), _DATE_F),
    "techreport": (("author",), ("title",), ("institution", "school"), _DATE_F),
    "thesis": (("author",), ("title",), ("type",), ("institution", "school"), _DATE_F),
    "phdthesis": (("author",), ("title",), ("institution", "school"), _DATE_F),
    "mastersthesis": (("author",), ("title",), ("institution", "school"), _DATE_F),
    "unpublished": (("author",), ("title",)),
    "software": (("title",),),
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
