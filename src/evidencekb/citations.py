"""Pandoc's citation syntax, parsed. Pure: no Markdown, no MkDocs.

Recognises ``[@key]``, ``[@a; @b]``, ``[see @key, p. 12]``, ``[@key p. 12]``,
``[-@key]``, narrative ``@key`` and ``@key [p. 3]``, keys with internal
``. : / - _`` and braced keys ``@{key}``. :func:`scan` finds them in Markdown
source with their line and column, skipping code, URLs, e-mail addresses,
link targets and HTML tags.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["CiteItem", "Cluster", "parse_cluster", "parse_narrative", "CITATION_RE", "scan", "match_to_cluster"]

# Internal punctuation belongs to the key when a word character follows it.
_KEY_TEMPLATE = r"(?:\{(?P<BKEY>[^{}\s][^{}]*)\}|(?P<KEY>\w(?:\w|[:.#$%&\-+?<>~/](?=\w))*))"


# A bracketed cluster holds at least one key; it is not a link ([..](..) or [..][..]).
_BRACKETED = r"\[(?P<body>[^\[\]\n]*?(?<![\w\\])-?@[^\[\]\n]*?)\](?![(\[:])"
_NARRATIVE = (
    r"(?<![\w/@.:\\`'\"=])(?P<nminus>-)?@" + _KEY_TEMPLATE.replace("BKEY", "nbkey").replace("KEY", "nkey")
    + r"(?:\s?\[(?P<nloc>[^\[\]@\n]*)\](?![(\[]))?"
)
# The lookahead names every character a citation can start with, which lets the regex
# engine skip ahead to them: over a page's text, a search costs less than half as much.
# Compiled with the flags Python-Markdown's InlineProcessor compiles its pattern with (the
# pattern has no '.' outside a class, so DOTALL changes nothing): the extension's compile
# of the same pattern is then found in re's cache rather than made again.
CITATION_RE = re.compile(f"(?=[\\[@-])(?:{_BRACKETED}|{_NARRATIVE})", re.DOTALL | re.UNICODE)

_LOCATOR_TERMS = {
    "book": "book", "bk": "book", "bks": "book", "chapter": "chapter", "chap": "chapter",
    "chaps": "chapter", "ch": "chapter", "column": "column", "col": "column", "cols": "column",
    "figure": "figure", "fig": "figure", "figs": "figure", "folio": "folio", "fol": "folio",
    "number": "number", "no": "number", "nos": "number", "line": "line", "l": "line",
    "ll": "line", "note": "note", "n": "note", "nn": "note", "opus": "opus", "op": "opus",
    "page": "page", "pages": "page", "p": "page", "pp": "page", "paragraph": "paragraph",
    "para": "paragraph", "paras": "paragraph", "part": "part", "pt": "part", "pts": "part",
    "section": "section", "sec": "section", "secs": "section", "verse": "verse", "v": "verse",
    "vv": "verse", "volume": "volume", "vol": "volume", "vols": "volume", "§": "section",
    "§§": "section", "¶": "paragraph", "¶¶": "paragraph",
}
# A locator as pandoc reads one: units that hold a digit ("33", "2.3a", "12:4", "A3") or are
# roman numerals ("xii"), joined into ranges by a dash with no space around it and into lists
# by commas; a trailing full stop, a spaced dash, "and" or "&" end it (measured with pandoc 3).
_UNIT = r"(?:\w*\d\w*(?:[.:]\w+)*|(?:[ivxlcdm]+|[IVXLCDM]+)(?![\w]))"
# A dash then a letter continues a word, not a range: "X-ray" is no page X (as pandoc reads it).
_RANGE = rf"(?>{_UNIT}(?:[-–—]{_UNIT})*)(?![-–—][^\W\d])"
_LOCATOR = re.compile(
    r"^(?P<term>[A-Za-z]+\.?|§§?|¶¶?)?\s*"
    rf"(?P<value>{_RANGE}(?:\s*,\s*{_RANGE})*)"
    r"(?P<rest>.*)$",
    re.S,
)


class CiteItem(NamedTuple):
    key: str
    prefix: str = ""
    suffix: str = ""
    label: str = ""
    locator: str = ""
    suppress_author: bool = False


class Cluster(NamedTuple):
    items: tuple[CiteItem, ...]
    narrative: bool = False
    line: int = 0
    col: int = 0
    source: str = ""

    @property
    def keys(self) -> list[str]:
        return [i.key for i in self.items]


def _locator(suffix: str, *, needs_comma: bool) -> tuple[str, str, str]:
    """Split a suffix into (label, locator, rest) as pandoc does."""
    s = suffix
    had_comma = s.lstrip().startswith(",")
    if had_comma:
        s = s.lstrip()[1:]
    s = s.strip()
    m = _LOCATOR.match(s)
    if m:
        term = (m.group("term") or "").rstrip(".")
        label = _LOCATOR_TERMS.get(term.lower()) if term else ("page" if had_comma or not needs_comma else None)
        if term and label is None:
            m = None
        elif label is not None and (had_comma or term or not needs_comma):
            rest = m.group("rest")
            return label, m.group("value").strip(), _tidy(rest)
    return "", "", _tidy(suffix)


def _tidy(suffix: str) -> str:
    return suffix.strip().lstrip(",").strip()


_ITEM = re.compile(r"(?:^|(?<=\s))(?P<minus>-)?@" + _KEY_TEMPLATE.replace("BKEY", "bkey").replace("KEY", "key"))


def parse_cluster(body: str) -> Cluster | None:
    """Parse the inside of ``[...]``; None when any part lacks a key."""
    items = []
    for part in body.split(";"):
        m = _ITEM.search(part)
        if not m:
            return None
        key = m.group("bkey") or m.group("key")
        prefix = part[: m.start()].strip()
        label, loc, suffix = _locator(part[m.end():], needs_comma=False)
        items.append(CiteItem(key, prefix, suffix, label, loc, bool(m.group("minus"))))
    return Cluster(tuple(items))


def parse_narrative(key: str, minus: bool, loc: str | None) -> Cluster:
    label, locator, suffix = _locator(loc or "", needs_comma=False) if loc else ("", "", "")
    return Cluster((CiteItem(key, "", suffix, label, locator, minus),), narrative=not minus)


def match_to_cluster(m: re.Match[str]) -> Cluster | None:
    """Turn a :data:`CITATION_RE` match into a cluster (None if it is not one)."""
    if m.group("body") is not None:
        return parse_cluster(m.group("body"))
    return parse_narrative(m.group("nbkey") or m.group("nkey"), bool(m.group("nminus")), m.group("nloc"))


# --- locating citations in Markdown source ---------------------------------

# A fence opens with three or more backticks or tildes; a backtick fence's info string has
# no backtick (CommonMark), so "``` ``quotes'' ```" at a line's start is inline code.
_FENCE = re.compile(r"^ {0,3}(`{3,}(?=[^`]*$)|~{3,})(.*)$")
_FOOTNOTE = re.compile(r"^\s{0,3}\[\^[^\]]+\]:")
_MASKS = [
    re.compile(r"(`+)(?:(?!\1).)+?\1"),                  # inline code
    re.compile(r"<!--.*?-->"),                             # HTML comments
    re.compile(r"</?[A-Za-z][^<>]*>"),                      # HTML tags and their attributes
    re.compile(r"<[^<>\s]+[@:][^<>\s]*>"),                  # autolinks <http://..> <a@b>
    re.compile(r"\]\([^)\s]*(?:\s+\"[^\"]*\")?\)"),         # link targets ](...)
    re.compile(r"^\s{0,3}\[(?!\^)[^\]]+\]:\s*\S+.*$"),       # reference definitions (not footnotes)
    re.compile(r"^\s{0,3}\[\^[^\]]+\]:"),                     # a footnote's label (its text is prose)
    re.compile(r"\b(?:https?|ftp|mailto):[^\s<>)\]]+"),     # bare URLs
    re.compile(r"\\[@\[\]\\`*_]"),                          # backslash escapes
]


def _mask(line: str) -> str:
    for rx in _MASKS:
        line = rx.sub(lambda m: " " * len(m.group(0)), line)
    return line


def scan(markdown: str, first_line: int = 1) -> list[Cluster]:
    """Every citation cluster in Markdown source, with 1-based line and column."""
    out: list[Cluster] = []
    fence: str | None = None
    prev_blank = True
    in_indented = False
    in_footnote = False
    for n, line in enumerate(markdown.split("\n"), first_line):
        if _FOOTNOTE.match(line):
            in_footnote = True
        elif line.strip() and not line.startswith(("    ", "\t")):
            in_footnote = False
        elif in_footnote and line.strip():  # a footnote's indented paragraph is prose, not code
            for m in CITATION_RE.finditer(_mask(line)):
                cluster = match_to_cluster(m)
                if cluster is not None:
                    out.append(Cluster(cluster.items, cluster.narrative, n, m.start() + 1, m.group(0)))
            prev_blank = False
            continue
        f = _FENCE.match(line)
        if fence:
            if f and f.group(1)[0] == fence[0] and len(f.group(1)) >= len(fence) and not f.group(2).strip():
                fence = None
            continue
        if f:
            fence = f.group(1)
            continue
        if in_indented or (prev_blank and line.startswith(("    ", "\t"))):
            if line.strip() and not line.startswith(("    ", "\t")):
                in_indented = False
            elif line.strip():
                in_indented = prev_blank or in_indented
                if in_indented:
                    prev_blank = False
                    continue
        prev_blank = not line.strip()
        masked = _mask(line)
        for m in CITATION_RE.finditer(masked):
            cluster = match_to_cluster(m)
            if cluster is not None:
                out.append(Cluster(cluster.items, cluster.narrative, n, m.start() + 1, m.group(0)))
    return out
