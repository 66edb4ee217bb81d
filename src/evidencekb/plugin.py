"""The MkDocs plugin: shared bibliography, generated pages, checks, logging.

Only this module talks to MkDocs. It loads the library once per build (and
keeps it between builds of one ``mkdocs serve`` while the files' content is
unchanged), hands it to the Markdown extension, generates the evidence pages
and reports every diagnostic as ``path:line:col: code: message`` through the
MkDocs logger, so that ``mkdocs build --strict`` fails on any of them.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, event_priority, get_plugin_logger
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

from . import bibliography as bibmod
from . import cache, checks, exports, pages, quotes
from .cache import FormatCache
from .citations import scan
from .claims import Claim, load_claims, split_front_matter
from .config import EvidenceConfig
from .csl import Formatter, StyleError, get_style
from .diagnostics import Diagnostic, diag
from .markdown_ext import CitationContext

log = get_plugin_logger(__name__)

_FORMATTERS: dict[str, Formatter] = {}
_CACHE_DIR: list[Path | None] = [None]
ASSETS = ("evidencekb.css", "evidencekb.js")
#: Stands for the site's address when site_url is not set; the page script puts the real one in.
PLACEHOLDER_BASE = "https://site.invalid"


def formatter_for(style: str) -> Formatter:
    f = _FORMATTERS.get(style)
    if f is None:
        f = _FORMATTERS[style] = Formatter(get_style(style), FormatCache(_CACHE_DIR[0], style))
    return f


def _report(diags: list[Diagnostic]) -> None:
    for d in sorted(set(diags)):
        log.warning(f"{d.path}:{d.line}:{d.col}: {d.code}: {d.message}")


class EvidencePlugin(BasePlugin[EvidenceConfig]):
    supports_multiple_instances = False

    def __init__(self) -> None:
        self.ctx: CitationContext | None = None
        self.claims: list[Claim] = []
        self.root = Path.cwd()
        self.docs_prefix = "docs"
        self.bib = bibmod.Bibliography()

    # --- configuration and loading ------------------------------------------------
    def on_config(self, config: MkDocsConfig) -> MkDocsConfig:
        self.root = Path(config.config_file_path or "mkdocs.yml").resolve().parent
        docs = Path(config.docs_dir).resolve()
        self.docs_prefix = os.path.relpath(docs, self.root).replace(os.sep, "/")
        try:
            styles = [get_style(self.config.style)] + [get_style(s) for s in self.config.styles]
        except StyleError as exc:
            raise PluginError(f"evidencekb: {exc}") from exc
        del styles
        bib = self.bib = self._load_bibliography()
        self.ctx = CitationContext(bib, self.config.style, self.config.references_title,
                                   reference_url=None)
        self.ctx.formatter = formatter_for(self.config.style)
        self.ctx.deferred = True  # markup put into the written page by on_post_page
        self._load_claims(config)
        self._add_claims_to_nav(config)
        if "evidencekb" not in config.markdown_extensions:
            config.markdown_extensions.append("evidencekb")
        config.mdx_configs.setdefault("evidencekb", {})["context"] = self.ctx
        for asset in ASSETS:
            target = f"assets/{asset}"
            lst = config.extra_css if asset.endswith(".css") else config.extra_javascript
            if target not in [str(x) for x in lst]:
                lst.append(target)
        return config

    def _load_bibliography(self) -> bibmod.Bibliography:
        paths = bibmod.find_bib_files(self.root, self.config.bibliography)
        cache_dir = cache.default_dir(self.root) if self.config.cache else None
        if _CACHE_DIR[0] != cache_dir:
            _CACHE_DIR[0] = cache_dir
            _FORMATTERS.clear()
        bib = cache.load_library(paths, self.root, cache_dir)
        # Warnings (uncited entries, missing identifiers) are for `evidencekb check`;
        # the build fails on errors only.
        bib = bibmod.Bibliography(bib.entries, [d for d in bib.diagnostics if d.severity == "error"],
                                  bib.strings, bib.files)
        if not paths:
            log.warning(f"no .bib files found under {self.config.bibliography}; citations cannot resolve.")
        _report(bib.diagnostics)
        return bib

    def _load_claims(self, config: MkDocsConfig) -> None:
        bib = self.bib
        docs = Path(config.docs_dir)
        self.claims, diags = load_claims(docs, self.config.claims_dir, bib.entries, self.docs_prefix)
        article_file = docs / self.config.article
        article = None
        if article_file.exists():
            article = checks.article_text(article_file.read_text(encoding="utf-8-sig"))
            self.claims.sort(key=lambda c: (quotes.find(c.quote, article) or (len(article), 0))[0])
        elif self.claims:
            log.warning(f"{self.docs_prefix}/{self.config.article}:1:1: claim-misquote: the article page is "
                        "missing, so no claim quote can be checked; set 'article' in the plugin options.")
        diags += checks.check_all(self.claims, bib, article, f"{self.docs_prefix}/{self.config.article}")
        _report(diags)

    def _add_claims_to_nav(self, config: MkDocsConfig) -> None:
        """List claim pages, in the article's order, in the nav section holding claims/index.md."""
        index = f"{self.config.claims_dir}/index.md"
        pages_ = [f"{self.config.claims_dir}/{c.slug}.md" for c in self.claims]

        def visit(items: Any) -> bool:
            if not isinstance(items, list):
                return False
            for item in items:
                values = list(item.values()) if isinstance(item, dict) else [item]
                for v in values:
                    if isinstance(v, list) and index in [x if isinstance(x, str) else next(iter(x.values()), None)
                                                          for x in v]:
                        present = {x if isinstance(x, str) else next(iter(x.values()), None) for x in v}
                        v.extend(p for p in pages_ if p not in present)
                        return True
                    if visit(v):
                        return True
            return False

        visit(config.nav)

    # --- generated pages --------------------------------------------------------------
    def on_files(self, files: Files, config: MkDocsConfig) -> Files:
        assert self.ctx is not None
        bib = self.ctx.bib
        docs = Path(config.docs_dir)

        for asset in ASSETS:
            src = f"assets/{asset}"
            if files.get_file_from_path(src) is None:
                content = resources.files("evidencekb").joinpath(f"assets/{asset}").read_text(encoding="utf-8")
                files.append(File.generated(config, src, content=content))
        if not self.config.generate_pages:
            return files
        fmts = {s: formatter_for(s) for s in self.config.styles}
        cited = self._cited_keys(docs)
        for key in sorted(bib.entries):
            src = f"references/{key}.md"
            if files.get_file_from_path(src) is None:
                files.append(File.generated(config, src, content=pages.reference_page(
                    bib.entries[key], bib, self.claims, fmts)))
        generated = {
            "bibliography.md": lambda: pages.bibliography_page(
                [k for k in bib.entries if k in cited], bib, self.ctx.formatter),  # type: ignore[union-attr]
            "evidence-map.md": lambda: pages.evidence_map_page(self.claims, bib),
            "topics.md": lambda: pages.topics_page(self.claims),
            "changes.md": lambda: pages.changes_page(self.claims),
            "codes.md": pages.codes_page,
        }
        for src, make in generated.items():
            if files.get_file_from_path(src) is None:
                files.append(File.generated(config, src, content=make()))
        self._downloads(files, config, [bib.entries[k] for k in bib.entries if k in cited], "downloads/references")
        for claim in self.claims:
            entries = [bib.entries[k] for k in dict.fromkeys(it.ref for it in claim.evidence) if k in bib.entries]
            self._downloads(files, config, entries, f"downloads/claims/{claim.slug}")
        return files

    @staticmethod
    def _downloads(files: Files, config: MkDocsConfig, entries: list[bibmod.Entry], stem: str) -> None:
        for suffix, make in ((".bib", exports.to_bibtex), (".json", exports.to_csl_json), (".ris", exports.to_ris)):
            if files.get_file_from_path(stem + suffix) is None:
                files.append(File.generated(config, stem + suffix, content=make(entries)))

    def _cited_keys(self, docs: Path) -> set[str]:
        keys = {it.ref for c in self.claims for it in c.evidence}
        for p in docs.rglob("*.md"):
            text = p.read_text(encoding="utf-8-sig", errors="replace")
            if "@" in text:
                keys.update(k for cl in scan(text) for k in cl.keys)
        return keys

    # --- pages ------------------------------------------------------------------------
    def on_page_markdown(self, markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
        assert self.ctx is not None
        src = page.file.src_uri
        self.ctx.page = src
        claim = self._claim_for(src)
        if claim is not None:
            article_url = "../" + self.config.article
            return (pages.claim_header(claim, self.ctx.bib, article_url, self._json_ld(claim, config))
                    + markdown + pages.claim_footer(claim, self._cite_this(claim, config),
                                                    pages.downloads_block(f"../downloads/claims/{claim.slug}")))
        if src == self.config.article and self.claims:
            prefix = "../" * src.count("/")
            return pages.annotate_article(markdown, self.claims, prefix + "claims/{slug}.md")
        return markdown

    def _page_url(self, config: MkDocsConfig, path: str) -> str:
        base = (config.site_url or "").rstrip("/")
        return f"{base}/{path}" if base else f"{PLACEHOLDER_BASE}/{path}"

    def _cite_this(self, claim: Claim, config: MkDocsConfig) -> str:
        url = self._page_url(config, f"{self.config.claims_dir}/{claim.slug}/")
        entry = exports.page_entry(claim, config.site_name, url)
        texts = {"AMA": formatter_for("american-medical-association").format(entry).text,
                 "APA": formatter_for("apa").format(entry).text,
                 "BibTeX": exports.to_bibtex([entry]).strip()}
        return pages.cite_this_block(texts)

    def _json_ld(self, claim: Claim, config: MkDocsConfig) -> str:
        meta = self._article_meta(config)
        article_path = self.config.article.removesuffix(".md").removesuffix("index") + "/"
        data = exports.claim_review(
            claim, url=self._page_url(config, f"{self.config.claims_dir}/{claim.slug}/"),
            article_url=self._page_url(config, article_path.lstrip("/")), site_name=config.site_name,
            verdict_label=pages.VERDICT_LABELS[claim.verdict], article_meta=meta)
        return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")

    def _article_meta(self, config: MkDocsConfig) -> dict[str, str]:
        path = Path(config.docs_dir) / self.config.article
        front, _, _ = split_front_matter(path.read_text(encoding="utf-8-sig")) if path.exists() else ("", "", 0)
        meta = yaml.safe_load(front) or {} if front else {}
        return {"author": str(meta.get("author", "")), "title": str(meta.get("title", "")),
                "date": str(meta.get("published", ""))}

    def _claim_for(self, src: str) -> Claim | None:
        folder = self.config.claims_dir.rstrip("/") + "/"
        if not src.startswith(folder):
            return None
        slug = src[len(folder):].removesuffix(".md")
        return next((c for c in self.claims if c.slug == slug), None)

    def on_page_content(self, html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
        assert self.ctx is not None
        src = page.file.src_uri
        result = self.ctx.results.get(src)
        if result and result.unknown:
            self._report_unknown(src, page, result.unknown)
        self.ctx.page = None
        return html

    def _report_unknown(self, src: str, page: Page, unknown: list[str]) -> None:
        assert self.ctx is not None
        display = f"{self.docs_prefix}/{src}"
        text = page.file.content_string if not page.file.generated_by else ""
        _, body, _ = split_front_matter(text)
        offset = text[: len(text) - len(body)].count("\n")
        located = [c for c in scan(body, offset + 1)]
        claim = self._claim_for(src)
        evidence_refs = {it.ref for it in claim.evidence} if claim else set()
        diags: list[Diagnostic] = []
        for key in dict.fromkeys(unknown):
            hint = self.ctx.bib.suggest(key)
            places = [(c.line, c.col) for c in located if key in c.keys]
            if not places:
                if key in evidence_refs:
                    continue  # already reported as claim-unknown-ref on the record's line
                places = [(1, 1)]
            for line, col in places:
                diags.append(Diagnostic(display, line, col, "unknown-citation",
                                        f"'@{key}' is not a key in any .bib file.{hint}"))
        _report(diags)

    @event_priority(100)  # before other plugins (minifiers) see the page
    def on_post_page(self, output: str, page: Page, config: MkDocsConfig) -> str:
        # page.content keeps the compact markers (MkDocs holds every page's content until
        # the build ends); only the written page gets the full markup.
        assert self.ctx is not None
        result = self.ctx.results.pop(page.file.src_uri, None)  # nothing of it is needed after this
        if result is None or not result.deferred:
            return output
        output, complete = self.ctx.restore(output, result)
        if not complete:
            _report([diag(f"{self.docs_prefix}/{page.file.src_uri}", 1, 1, "page-markup-lost",
                          "the rendered page lacks the HTML comments marking where its citation links or "
                          "reference list go (its template does not show page.content, or a plugin changed "
                          "them); show page.content, or list evidencekb before that plugin.")])
        return output

    def on_post_build(self, config: MkDocsConfig) -> None:
        assert self.ctx is not None
        for f in _FORMATTERS.values():
            if f.store is not None:
                f.store.save()
        out = Path(config.site_dir) / "claims.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".json.tmp")
        tmp.write_text(pages.claims_json(self.claims, self.ctx.bib, self.ctx.formatter, config.site_url or ""),
                       encoding="utf-8")
        os.replace(tmp, out)

    def on_serve(self, server: Any, config: MkDocsConfig, builder: Any) -> Any:
        for p in bibmod.find_bib_files(self.root, self.config.bibliography):
            server.watch(str(p))
        return server
