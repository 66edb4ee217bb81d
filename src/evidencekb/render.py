"""HTML for in-text citations and reference lists. Pure: no Markdown, no MkDocs.

In-text forms follow the style: superscript numbers (AMA), numbers in
brackets (Vancouver) or author-date (APA), each with its locator. Every
citation links to its entry; every entry links back to each place citing it and
to its identifiers (DOI, PubMed, PMC, URL). All text from BibTeX is escaped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import quote

from .bibliography import Entry, LazyEntries, digest_of
from .citations import CiteItem, Cluster
from .csl import Formatted, Formatter, Style, short_names, to_plain_csl

__all__ = ["PageCitations", "Card", "Label", "Cards", "render_cluster", "reference_items", "reference_section",
           "identifier_links", "anchor"]

_SHORT_LABELS = {"page": ("p", "pp"), "chapter": ("ch", "chs"), "section": ("sec", "secs"),
                 "figure": ("fig", "figs"), "volume": ("vol", "vols"), "paragraph": ("para", "paras"),
                 "line": ("l", "ll"), "note": ("n", "nn"), "number": ("no", "nos"), "column": ("col", "cols"),
                 "part": ("pt", "pts"), "verse": ("v", "vv"), "book": ("bk", "bks"), "opus": ("op", "opp"),
                 "folio": ("fol", "fols")}


def anchor(key: str) -> str:
    """A safe HTML id for an entry key."""
    return "ref-" + re.sub(r"[^A-Za-z0-9_.:-]", lambda m: f"_{ord(m.group(0)):x}", key)


_PLURAL = re.compile(r"[-–—,&]|\band\b")


def _plural(locator: str) -> bool:
    return _PLURAL.search(locator) is not None


def _locator(item: CiteItem, numeric_sup: bool) -> str:
    if not item.locator:
        return ""
    short = _SHORT_LABELS.get(item.label, (item.label, item.label))
    label = short[1] if _plural(item.locator) else short[0]
    loc = item.locator.replace("-", "–") if not numeric_sup else item.locator
    return f"({label}{loc})" if numeric_sup else f"{label}. {loc}"


def author_short(entry: Entry, narrative: bool, formatter: Formatter | None = None) -> str:
    """'Smith', 'Smith & Jones' ('and' in running text), 'Smith et al.' or the title.

    With a formatter the names are memoised (and persisted with its formatted entries)."""
    names = formatter.short_names(entry) if formatter is not None else short_names(entry)
    return _short(names, narrative) if names else str(to_plain_csl(entry).get("title", entry.key))


def _suffix(sep: str, suffix: str) -> str:
    """A citation's suffix after its separator; one that starts with a closing mark ("." or "!",
    left after a locator) follows without one, as pandoc prints it."""
    if not suffix:
        return ""
    return suffix if suffix[0] in ".!?;:)" else sep + suffix


def _short(names: tuple[str, ...], narrative: bool) -> str:
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        joiner = " and " if narrative else " & "
        return names[0] + joiner + names[1]
    return names[0] + " et al."


class Card(NamedTuple):
    """What pages show of one entry in one style: worked out once, kept with its formatting."""

    anchor: str
    formatted: Formatted
    ids: str  # identifier links
    year: str
    names: tuple[str, ...]
    fallback: str  # what names it when it has no authors or editors

    @property
    def title(self) -> str:
        """The hover text, escaped for an attribute."""
        return html.escape(self.formatted.text, quote=True)

    def short(self, narrative: bool) -> str:
        return _short(self.names, narrative) if self.names else self.fallback


class Label(NamedTuple):
    """What a citation's own text needs of an entry (its names and year), without the
    formatted entry: a page's citations can be written before its entries are formatted."""

    year: str
    names: tuple[str, ...]
    fallback: str

    def short(self, narrative: bool) -> str:
        return _short(self.names, narrative) if self.names else self.fallback


class Cards:
    """Cards of a library's entries in one style, through the formatter's (persistent) memo:
    with a warm cache, a cited entry is never unpacked."""

    def __init__(self, entries: Mapping[str, Entry], formatter: Formatter) -> None:
        self.entries = entries
        self.formatter = formatter
        # This build's cards by key: (digest, card).
        self._seen: dict[str, tuple[str, Card]] = {}
        # A packed library never changes: a card seen once needs no second look at its hash.
        self._fixed = isinstance(entries, LazyEntries)

    def _digest(self, key: str) -> str:
        return digest_of(self.entries, key)

    def __getitem__(self, key: str) -> Card:
        seen = self._seen.get(key)
        if seen is not None and self._fixed:
            return seen[1]
        digest = self._digest(key)
        if seen is None or seen[0] != digest:
            seen = self._seen[key] = (digest, self.formatter.memo("card", key, digest, lambda: self._make(key)))
        return seen[1]

    def label(self, key: str) -> Card | Label:
        """The entry's card when it is made (in this build or the store), else its names and
        year alone: the formatted entry is not waited for."""
        seen = self._seen.get(key)
        if seen is not None and self._fixed:
            return seen[1]
        digest = self._digest(key)
        if seen is not None and seen[0] == digest:
            return seen[1]
        card = self.formatter.peek("card", key, digest)
        if card is not None:
            return card  # type: ignore[no-any-return]
        entry = self.entries[key]
        return Label(entry.year, *self._names(key, entry))

    def link(self, key: str, text: str) -> str:
        """A citation's text linked to its entry, the formatted entry as hover text."""
        card = self[key]
        return f'<a class="citation-link" href="#{card.anchor}" title="{card.title}">{text}</a>'

    def _make(self, key: str) -> Card:
        entry = self.entries[key]
        return Card(anchor(key), self.formatter.format(entry), identifier_links(entry), entry.year,
                    *self._names(key, entry))

    def _names(self, key: str, entry: Entry) -> tuple[tuple[str, ...], str]:
        """The names a citation gives, and what it gives instead when there are none."""
        names = self.formatter.short_names(entry)
        return names, "" if names else str(to_plain_csl(entry).get("title", key))


@dataclass
class PageCitations:
    """The citations of one page, numbered in order of first citation."""

    numbers: dict[str, int] = field(default_factory=dict)
    backlinks: dict[str, list[str]] = field(default_factory=dict)
    clusters: int = 0

    def cite(self, key: str, cluster_id: str) -> int:
        n = self.numbers.setdefault(key, len(self.numbers) + 1)
        places = self.backlinks.setdefault(key, [])
        if cluster_id not in places:
            places.append(cluster_id)
        return n


def _number_runs(numbers: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def render_cluster(
    cluster: Cluster,
    cluster_id: str,
    entries: Mapping[str, Entry],
    page: PageCitations,
    style: Style,
    formatter: Formatter,
    cards: Cards | None = None,
    links: bool = True,
) -> str:
    """The HTML of one citation cluster; unknown keys stay visible as ``[?key]``.

    Without ``links`` the citation's text is the same but not linked to its entries."""
    cards = cards if cards is not None else Cards(entries, formatter)
    known: list[CiteItem] = []
    unknown: list[CiteItem] = []
    for i in cluster.items:
        (known if i.key in entries else unknown).append(i)
    parts: list[str] = []

    def link(item: CiteItem, text: str) -> str:
        return cards.link(item.key, text) if links else text

    if known and style.numeric:
        nums = [(page.cite(i.key, cluster_id), i) for i in known]
        simple = all(not (i.locator or i.prefix or i.suffix) for _, i in nums)
        pieces: list[str] = []
        if simple:
            by_n = {n: i for n, i in nums}
            for lo, hi in _number_runs(sorted(by_n)):
                if hi - lo >= 2:
                    pieces.append(f"{link(by_n[lo], str(lo))}–{link(by_n[hi], str(hi))}")
                else:
                    pieces.extend(link(by_n[n], str(n)) for n in range(lo, hi + 1))
        else:
            for n, i in nums:
                loc = _locator(i, style.superscript)
                text = str(n) + (loc if style.superscript or not loc else f", {loc}")
                pre = html.escape(i.prefix + " ") if i.prefix else ""
                suf = html.escape(_suffix(" ", i.suffix))
                pieces.append(pre + link(i, text) + suf)
        body = style.delimiter.join(pieces)
        if cluster.narrative:
            name = html.escape(cards.label(known[0].key).short(narrative=True))
            body = f"{name}<sup>{body}</sup>" if style.superscript else f"{name} {style.prefix}{body}{style.suffix}"
        elif style.superscript:
            body = f"<sup>{body}</sup>"
        else:
            body = f"{html.escape(style.prefix)}{body}{html.escape(style.suffix)}"
        parts.append(body)
    elif known:
        pieces = []
        for i in known:
            page.cite(i.key, cluster_id)
            card = cards.label(i.key)
            year = html.escape(card.year or "n.d.")
            loc = _locator(i, False)
            tail = year + (f", {html.escape(loc)}" if loc else "")
            tail += html.escape(_suffix(", ", i.suffix))
            name = html.escape(card.short(narrative=cluster.narrative))
            if cluster.narrative:
                pieces.append(f"{name} ({link(i, tail)})")
            else:
                inner = tail if i.suppress_author else f"{name}, {tail}"
                pre = html.escape(i.prefix + " ") if i.prefix else ""
                pieces.append(pre + link(i, inner))
        parts.append(pieces[0] if cluster.narrative else "(" + "; ".join(pieces) + ")")
    for i in unknown:
        parts.append(
            f'<span class="citation-unknown" title="Unknown reference key: {html.escape(i.key, quote=True)}">'
            f"[?{html.escape(i.key)}]</span>"
        )
    keys = html.escape(" ".join(cluster.keys), quote=True)
    return f'<span class="citation" id="{cluster_id}" data-cites="{keys}">{" ".join(parts)}</span>'


def identifier_links(entry: Entry) -> str:
    """Links to an entry's DOI, PubMed, PMC and URL; only safe targets become links."""
    links: list[str] = []
    doi = entry.fields.get("doi", "").strip()
    if re.match(r"^10\.\d{4,9}/\S+$", doi):
        href = "https://doi.org/" + quote(doi, safe="/:;()._-")
        links.append(f'<a class="id-doi" href="{html.escape(href)}">DOI</a>')
    pmid = entry.fields.get("pmid", "").strip()
    if pmid.isdigit():
        links.append(f'<a class="id-pmid" href="https://pubmed.ncbi.nlm.nih.gov/{pmid}/">PubMed</a>')
    pmcid = entry.fields.get("pmcid", "").strip()
    if re.match(r"^PMC\d+$", pmcid):
        links.append(f'<a class="id-pmcid" href="https://pmc.ncbi.nlm.nih.gov/articles/{pmcid}/">PMC</a>')
    url = entry.fields.get("url", "").strip()
    if re.match(r"^https?://[^\s\"<>]+$", url):
        links.append(f'<a class="id-url" href="{html.escape(url, quote=True)}">Link</a>')
    return " ".join(links)


def reference_section(title: str, items: str) -> str:
    """The titled section around a reference list; not indexed for search."""
    return (
        f'<section class="references" aria-labelledby="references" data-search-exclude>'
        f'<h2 id="references">{html.escape(title)}</h2>{items}</section>'
    )


def reference_items(
    page: PageCitations,
    entries: Mapping[str, Entry],
    style: Style,
    formatter: Formatter,
    page_url: str | None = None,
    cards: Cards | None = None,
) -> str:
    """The list element of a page's reference list ('' when nothing is cited)."""
    keys = list(page.numbers)
    if not keys:
        return ""
    cards = cards if cards is not None else Cards(entries, formatter)
    page_cards = {k: cards[k] for k in keys}
    if not style.numeric:
        keys.sort(key=lambda k: (page_cards[k].formatted.text.casefold(), k))
    items = []
    for k in keys:
        card = page_cards[k]
        back = " ".join(
            f'<a class="citation-backlink" href="#{cid}" title="Back to citation {n}">↩︎<sup>{n}</sup></a>'
            for n, cid in enumerate(page.backlinks.get(k, []), 1)
        )
        more = ""
        if page_url:
            more = f' <a class="reference-page" href="{page_url.format(key=quote(k, safe=""))}">Details</a>'
        value = f' value="{page.numbers[k]}"' if style.numeric else ""
        items.append(
            f'<li id="{card.anchor}" class="reference-entry"{value}>'
            f'<span class="csl-entry">{card.formatted.html}</span> '
            f'<span class="reference-links">{card.ids}{more}</span> '
            f'<span class="reference-backlinks">{back}</span></li>'
        )
    tag = "ol" if style.numeric else "ul"
    return f'<{tag} class="reference-list">{"".join(items)}</{tag}>'
