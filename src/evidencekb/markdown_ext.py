"""Python-Markdown extension: pandoc citations and a per-page reference list.

Works in any Python-Markdown host (MkDocs, ProperDocs, Zensical, docstrings).
Standalone it loads the configured ``.bib`` files itself; inside MkDocs the
plugin hands it a shared :class:`CitationContext` so that every file is parsed
once per build and every entry formatted once per style.

    md = markdown.Markdown(extensions=["evidencekb"],
                           extension_configs={"evidencekb": {"bibliography": ["references"]}})
"""

from __future__ import annotations

import html
import re
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markdown import Markdown, util
from markdown.extensions import Extension
from markdown.inlinepatterns import InlineProcessor
from markdown.postprocessors import Postprocessor
from markdown.preprocessors import Preprocessor
from markdown.treeprocessors import Treeprocessor

from . import bibliography as bibmod
from .bibliography import Bibliography
from .citations import CITATION_RE, CiteItem, Cluster, match_to_cluster
from .csl import Formatter, get_style
from .render import Cards, PageCitations, reference_items, reference_section, render_cluster
from .safe import decode_slots

SLOT_MARK = "<!--ekb:"

__all__ = ["CitationExtension", "CitationContext", "PageResult", "makeExtension"]

MARKER = "<!-- references -->"
_MARKER_TOKEN = "EVIDENCEKBREFERENCESMARKER7f3a"
_TAG = re.compile(r"<[^>]*>")  # our own markup: attribute values are escaped, so no '>' inside
_TAG_START = re.compile(r"</?[A-Za-z]")


@dataclass
class PageResult:
    """What one conversion cited: numbered keys, clusters, and unknown keys."""

    citations: PageCitations
    clusters: list[Cluster] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    #: With ``CitationContext.deferred``: the clusters in document order, whose markup
    #: (and the reference list's, when ``listed``) :meth:`CitationContext.restore` renders.
    #: Only this is kept, not the markup: a host may convert every page before it writes
    #: any (MkDocs does), and the markup of a whole site is large (holding it was 3.8 MB
    #: more at 500 pages citing 5,000 entries, for 0.3 % fewer instructions).
    deferred: list[Cluster] = field(default_factory=list)
    listed: bool = False


class CitationContext:
    """State shared by every page of a build: the library, the style, the results."""

    def __init__(
        self,
        bibliography: Bibliography,
        style: str = "american-medical-association",
        references_title: str = "References",
        reference_url: str | None = None,
    ) -> None:
        self.bib = bibliography
        self.style = get_style(style)
        self.formatter = Formatter(self.style)
        self.references_title = references_title
        self.reference_url = reference_url
        self.page: str | None = None
        self.results: dict[str, PageResult] = {}
        self.last: PageResult | None = None
        #: When true, a page's HTML carries its citations as their visible text between
        #: markers, and its reference list as ``list_slot``; the host puts the markup in
        #: after search indexing (:meth:`restore`), so the indexer reads the same text
        #: without parsing links and hover titles.
        self.deferred = False
        nonce = secrets.token_hex(6)
        self.list_slot = f"<!--evidencekb-reference-list-{nonce}-->"
        self._cite_open = f"<!--evidencekb-cite-{nonce}:"
        self._cite_close = f"<!--/evidencekb-cite-{nonce}-->"

    def release(self) -> None:
        """Let go of what this build's pages left (their citations, the formatter and what it
        formatted): a page rendered after this formats what it cites again."""
        self.results.clear()
        self.last = None
        self.formatter = Formatter(self.style)
        self.__dict__.pop("_cards", None)

    @property
    def cards(self) -> Cards:
        """What pages show of each cited entry, shared by the pages of this build."""
        cards = self.__dict__.get("_cards")
        if cards is None or cards.formatter is not self.formatter or cards.entries is not self.bib.entries:
            cards = self.__dict__["_cards"] = Cards(self.bib.entries, self.formatter)
        return cards

    def cite_marker(self, index: int, html: str) -> str:
        """A citation's stand-in: its visible text, between markers."""
        return f"{self._cite_open}{index}-->{_TAG.sub('', html)}{self._cite_close}"

    def render(self, result: PageResult) -> tuple[list[str], str]:
        """The markup of a deferred page's citations and its reference list's items, the
        same as a page rendered at once. Each citation is rendered against the page's
        numbering as conversion left it, complete: citing a key again changes nothing."""
        page, entries = result.citations, self.bib.entries
        cites = [render_cluster(c, f"cite-{i}", entries, page, self.style, self.formatter, self.cards)
                 for i, c in enumerate(result.deferred, 1)]
        items = reference_items(page, entries, self.style, self.formatter, self.reference_url, self.cards)
        return cites, items if result.listed else ""

    def restore(self, output: str, result: PageResult) -> tuple[str, bool]:
        """Put a deferred page's citations and reference list into its rendered HTML.

        Returns the HTML and whether every marker was found. One pass of string
        search and a single join: the rendered page holds the whole navigation."""
        citations_html, listing = self.render(result)
        spans: list[tuple[int, int, str]] = []
        n, open_, close = len(citations_html), self._cite_open, self._cite_close
        i = output.find(open_) if n else -1
        while i >= 0:
            j = output.find("-->", i + len(open_))
            k = output.find(close, j) if j >= 0 else -1
            nxt = output.find(open_, i + 1)
            head = output[i + len(open_): j]
            if k >= 0 and (nxt < 0 or nxt > k) and head.isdigit() and int(head) < n:
                spans.append((i, k + len(close), citations_html[int(head)]))
            i = nxt
        complete = len(spans) == n
        if listing:
            at = output.find(self.list_slot)
            if at >= 0:
                spans.append((at, at + len(self.list_slot), listing))
                spans.sort()
            else:
                complete = False
        if not spans:
            return output, complete
        out: list[str] = []
        pos = 0
        for a, b, text in spans:
            out += (output[pos:a], text)
            pos = b
        out.append(output[pos:])
        return "".join(out), complete

    def record(self, result: PageResult) -> None:
        result.unknown = [k for c in result.clusters for k in c.keys if k not in self.bib.entries]
        self.last = result
        if self.page is not None:
            self.results[self.page] = result


_standalone: dict[tuple[Any, ...], CitationContext] = {}


def _standalone_context(paths: list[str], style: str, title: str, cache_dir: str = "") -> CitationContext:
    """A context of one's own (outside MkDocs: Zensical, scripts), loaded once per library state;
    with ``cache_dir`` the library and formatted entries come from (and go to) the cache."""
    root = Path.cwd()
    files = bibmod.find_bib_files(root, paths)
    stamp = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    key = (stamp, style, title, cache_dir)
    ctx = _standalone.get(key)
    if ctx is None:
        if cache_dir:
            import atexit

            from .cache import FormatCache, in_library, load_library

            bib = load_library(files, root, Path(cache_dir))
            ctx = CitationContext(bib, style, title)
            store = FormatCache(Path(cache_dir), style)
            ctx.formatter = Formatter(ctx.style, store)
            # the host has no end-of-build hook for extensions
            atexit.register(store.save, in_library(bib.entries))
        else:
            ctx = CitationContext(bibmod.load(files, root), style, title)
        _standalone[key] = ctx
    return ctx


class _MarkerPreprocessor(Preprocessor):
    def __init__(self, ext: CitationExtension, md: Markdown) -> None:
        super().__init__(md)
        self.ext = ext

    def run(self, lines: list[str]) -> list[str]:
        self.ext.reset()
        return ["\n" + _MARKER_TOKEN + "\n" if line.strip() == MARKER else line for line in lines]


class _CitationPattern(InlineProcessor):
    def __init__(self, ext: CitationExtension, md: Markdown) -> None:
        super().__init__(CITATION_RE.pattern, md)
        self.compiled_re = CITATION_RE
        self.ext = ext

    def handleMatch(self, m: re.Match[str], data: str) -> tuple[str | None, int | None, int | None]:  # type: ignore[override]
        lt = data.rfind("<", 0, m.start())
        if lt > data.rfind(">", 0, m.start()) and _TAG_START.match(data, lt):
            return None, None, None  # inside an HTML tag's attributes
        cluster = match_to_cluster(m)
        if cluster is None:
            return None, None, None
        # A placeholder of the raw-HTML stash, left empty: _CitationPost puts the citation
        # in its place once the page is serialised, where text order is document order.
        placeholder = self.md.htmlStash.store("")
        self.ext.pending[placeholder] = Cluster(cluster.items, cluster.narrative, source=m.group(0))
        return placeholder, m.start(0), m.end(0)


_STASHED = re.compile(re.escape(util.HTML_PLACEHOLDER).replace("%s", "([0-9]+)"))
_CITE_TOKEN = re.compile(r"<!--ekb-cite:([^<>]*?)-->")


class _Serialised(Treeprocessor):
    """Runs after every other tree processor: what the postprocessors see next is the
    serialised page, not a fragment some tree processor runs through them."""

    def __init__(self, ext: CitationExtension, md: Markdown) -> None:
        super().__init__(md)
        self.ext = ext

    def run(self, root: Any) -> None:
        self.ext.serialised = True


# Generated text whose abbreviations the page's definitions explain: quoted abstracts, findings
# and the claim's quote (each holds escaped text only, no markup).
_ABBR_SPANS = re.compile(r'(<(?:span|p) class="ekb-(?:quote|finding)">|<blockquote class="ekb-claim-quote"><p>)([^<]*)(<)')


def _page_abbreviations(md: Markdown) -> dict[str, str]:
    """The abbreviations defined for this page (``*[ITB]: ...``) by the ``abbr`` extension."""
    abbr = sys.modules.get("markdown.extensions.abbr")  # loaded wherever a page can define any
    if abbr is None:
        return {}
    for ext in md.registeredExtensions:
        if isinstance(ext, abbr.AbbrExtension):
            found: dict[str, str] = getattr(ext, "abbrs", {})  # filled as the page's definitions are read
            return {k: v for k, v in found.items() if k and v}
    return {}


def explain_abbreviations(text: str, abbrs: dict[str, str]) -> str:
    """Mark the defined abbreviations in generated quotes and findings as ``<abbr>``, as the
    ``abbr`` extension does in the page's own text (which never reaches raw HTML)."""
    if not abbrs or "ekb-" not in text:
        return text
    word = re.compile(r"\b(?:" + "|".join(re.escape(k) for k in sorted(abbrs, key=len, reverse=True)) + r")\b")

    def mark(m: re.Match[str]) -> str:
        inner = word.sub(lambda w: f'<abbr title="{html.escape(abbrs[w.group(0)], quote=True)}">{w.group(0)}</abbr>',
                         m.group(2))
        return m.group(1) + inner + m.group(3)
    return _ABBR_SPANS.sub(mark, text)


class _CitationPost(Postprocessor):
    """Numbers and renders the page's citations in document order, and places its
    reference list: one pass over the serialised page, before raw HTML is put back."""

    def __init__(self, ext: CitationExtension, md: Markdown) -> None:
        super().__init__(md)
        self.ext = ext

    def run(self, text: str) -> str:
        ext = self.ext
        if not ext.serialised:
            # A fragment (a heading's text, run through the postprocessors by the table of
            # contents or a page title): its citations stay for the page itself.
            return text
        ext.serialised = False
        pending, ext.pending = ext.pending, {}
        ctx = ext.context()
        page = PageCitations()
        entries = ctx.bib.entries
        defer = ctx.deferred and ctx.page is not None
        in_order: list[Cluster] = []

        def render(cluster: Cluster) -> str:
            in_order.append(cluster)
            page.clusters += 1
            cid = f"cite-{page.clusters}"
            if defer:  # only the visible text now: no links, so no formatted entries
                shown = render_cluster(cluster, cid, entries, page, ctx.style, ctx.formatter, ctx.cards, links=False)
                return ctx.cite_marker(len(in_order) - 1, shown)
            return render_cluster(cluster, cid, entries, page, ctx.style, ctx.formatter, ctx.cards)

        stash = self.md.htmlStash.rawHtmlBlocks

        def cite(m: re.Match[str]) -> str:
            cluster = pending.pop(m.group(0), None)
            if cluster is not None:
                return render(cluster)
            i = int(m.group(1))
            raw = stash[i] if i < len(stash) else None
            if isinstance(raw, str) and SLOT_MARK in raw:
                # A slot of a generated page: its HTML goes in now, its citations numbered
                # in their place in the document.
                stash[i] = _CITE_TOKEN.sub(lambda t: render(Cluster((CiteItem(html.unescape(t.group(1))),))),
                                           explain_abbreviations(decode_slots(raw), abbrs))
            return m.group(0)  # another extension's stashed HTML (or a copy of a citation)

        if pending or any(isinstance(raw, str) and SLOT_MARK in raw for raw in stash):
            abbrs = _page_abbreviations(self.md)
            text = _STASHED.sub(cite, text)
        if defer:
            listing = reference_section(ctx.references_title, ctx.list_slot) if page.numbers else ""
        else:
            items = reference_items(page, entries, ctx.style, ctx.formatter, ctx.reference_url, ctx.cards)
            listing = reference_section(ctx.references_title, items) if items else ""
        slot = f"<p>{_MARKER_TOKEN}</p>"
        if slot in text:
            text = text.replace(slot, listing)
        elif listing:
            text = f"{text}\n{listing}" if text else listing
        # A citation whose placeholder another extension dropped still has its keys checked.
        ctx.record(PageResult(page, in_order + list(pending.values()), deferred=in_order if defer else [],
                              listed=bool(defer and listing)))
        return text


class _SlotPost(Postprocessor):
    """Puts in any slot still in the text (one that never went through the raw HTML stash)."""

    def run(self, text: str) -> str:
        return explain_abbreviations(decode_slots(text), _page_abbreviations(self.md)) if SLOT_MARK in text else text


class CitationExtension(Extension):
    """Pandoc citations for Python-Markdown."""

    def __init__(self, **kwargs: Any) -> None:
        self.config = {
            "bibliography": [["references"], "BibTeX files or folders to read (standalone use)."],
            "style": ["american-medical-association", "CSL style: ama, apa, vancouver, a CSL id or a .csl path."],
            "references_title": ["References", "Heading of the per-page reference list."],
            # Not None: Python-Markdown would coerce a None default's values to bool.
            "context": ["", "A shared CitationContext (set by the MkDocs plugin)."],
            "cache": ["", "A cache folder for the library and formatted entries (standalone use)."],
        }
        super().__init__(**kwargs)
        self.pending: dict[str, Cluster] = {}  # stash placeholder -> its citation, until placed
        self.serialised = False

    def context(self) -> CitationContext:
        ctx = self.getConfig("context")
        if not isinstance(ctx, CitationContext):
            paths = self.getConfig("bibliography")
            ctx = _standalone_context([paths] if isinstance(paths, str) else list(paths),
                                      self.getConfig("style"), self.getConfig("references_title"),
                                      self.getConfig("cache"))
        return ctx

    def extendMarkdown(self, md: Markdown) -> None:
        md.registerExtension(self)
        if "@" not in md.ESCAPED_CHARS:
            md.ESCAPED_CHARS = [*md.ESCAPED_CHARS, "@"]
        md.preprocessors.register(_MarkerPreprocessor(self, md), "evidencekb-marker", 35)
        # After code spans (190) and backslash escapes (180); before links and emphasis.
        md.inlinePatterns.register(_CitationPattern(self, md), "evidencekb-citation", 175)
        # Before raw HTML is put back (30): the page's text still holds the placeholders.
        md.treeprocessors.register(_Serialised(self, md), "evidencekb-serialised", -1000)
        md.postprocessors.register(_CitationPost(self, md), "evidencekb-citations", 35)
        # After raw HTML is put back (30).
        md.postprocessors.register(_SlotPost(md), "evidencekb-slots", 25)

    def reset(self) -> None:
        self.pending = {}
        self.serialised = False


def makeExtension(**kwargs: Any) -> CitationExtension:
    return CitationExtension(**kwargs)
