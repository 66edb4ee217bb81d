"""The MkDocs plugin (also run by ProperDocs): a thin adapter over the site stage.

Only this module talks to MkDocs. It loads the :class:`~evidencekb.site.Site`
once per build (the library through the content-keyed cache), hands the
library to the Markdown extension, adds the generated pages, and reports every
diagnostic through the MkDocs logger: errors at error level, so that
``mkdocs build --strict`` fails on them whatever the log level (``-q``
included), and warnings (which ``evidencekb check --strict`` fails on) at
info level.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import Abort, PluginError
from mkdocs.plugins import BasePlugin, event_priority, get_plugin_logger
from mkdocs.structure.files import File, Files, InclusionLevel
from mkdocs.structure.pages import Page

from . import cache
from .config import EvidenceConfig
from .csl import StyleError, get_style
from .diagnostics import ORDER, Diagnostic, Severity, diag
from .later import Later
from .markdown_ext import CitationContext
from .safe import CLAIM_BOOST, TABS_EXTENSION
from .site import Options, Project, Site, formatters

log = get_plugin_logger(__name__)

ASSETS = ("evidencekb.css", "evidencekb.js")
#: Warnings of one code printed by a build before the rest are counted (check lists them all).
WARNINGS_SHOWN = 10


class _MadeLater(File):
    """A generated file made when MkDocs reads it: a reference page, laid out when the build
    reaches it, or a download being made by another process while the build goes on.
    ``make`` gives its text, made again at each read and never held here (MkDocs keeps a
    page's Markdown itself), or the file to copy."""

    _make: Callable[[], str | Path] | None = None
    _made: str | bytes | None = None

    @classmethod
    def of(cls, config: MkDocsConfig, src: str, make: Callable[[], str | Path]) -> _MadeLater:
        f = cls.generated(config, src, content="")
        assert isinstance(f, cls)
        f._make = make
        return f

    @property
    def _content(self) -> str | bytes | None:
        if self._make is None:
            return self._made
        made = self._make()
        if isinstance(made, Path):
            self.abs_src_path, self._made, self._make = str(made), None, None
            return None
        return made

    @_content.setter
    def _content(self, value: str | bytes | None) -> None:
        self._made, self._make = value, None

    def is_modified(self) -> bool:
        return self._make is not None or super().is_modified()


class EvidencePlugin(BasePlugin[EvidenceConfig]):  # type: ignore[no-untyped-call]
    supports_multiple_instances = False

    def __init__(self) -> None:
        self.ctx: CitationContext | None = None
        self.site: Site | None = None
        self.errors = 0
        self.formatter: Any = None
        self.later: Later | None = None

    # --- configuration and loading ------------------------------------------------
    def on_config(self, config: MkDocsConfig) -> MkDocsConfig:
        root = Path(config.config_file_path or "mkdocs.yml").resolve().parent
        opts = Options.from_mapping({k: self.config[k] for k in self.config})
        project = Project(root, Path(config.docs_dir).resolve(), opts, config.site_name or "",
                          config.site_url or "", bool(config.use_directory_urls))
        try:
            for s in [opts.style, *opts.styles]:
                get_style(s)
        except StyleError as exc:
            raise PluginError(f"evidencekb: {exc}") from exc
        cache_dir = cache.default_dir(root) if opts.cache else None
        self.formatter = formatters(cache_dir)
        self.site = site = Site.load(project, cache_dir)
        self.errors = 0
        self._report(site.check(), ordered=True)
        # The entries this build lacks are formatted by worker processes while the build goes
        # on: a page's citations need only names and years, and the formatted entries of a
        # page, written or generated, are put in when it is written (on_page_context and
        # on_post_page), by when most are done.
        site.prefetch(self.formatter, wait=False)
        self.ctx = CitationContext(site.bib, opts.style, opts.references_title, reference_url=None)
        self.ctx.formatter = self.formatter(opts.style)
        self.ctx.deferred = True  # markup put into the written page by on_post_page
        self._add_claims_to_nav(config)
        config.copyright = site.footer(config.copyright or "")
        if "evidencekb" not in config.markdown_extensions:
            config.markdown_extensions.append("evidencekb")
        name, settings = TABS_EXTENSION
        if name not in config.markdown_extensions:  # generated pages' tabs of copyable references
            config.markdown_extensions.append(name)
            config.mdx_configs[name] = dict(settings)
        config.mdx_configs.setdefault("evidencekb", {})["context"] = self.ctx
        for asset in ASSETS:
            target = f"assets/{asset}"
            lst = config.extra_css if asset.endswith(".css") else config.extra_javascript
            if target not in [str(x) for x in lst]:
                lst.append(target)
        return config

    def _report(self, diags: list[Diagnostic], ordered: bool = False) -> None:
        """Log ``diags`` (each once, in order; ``ordered`` when they are already, as
        :meth:`Site.check` gives them): a line is made only for what is logged, since a
        large library's uncited entries are thousands of warnings, ten of them shown."""
        shown: Counter[str] = Counter()
        for d in diags if ordered else sorted(set(diags), key=ORDER):
            if d.severity == Severity.ERROR:
                self.errors += 1
                log.error(f"{d.path}:{d.line}:{d.col}: {d.code}: {d.message}")
            else:
                shown[d.code] += 1
                if shown[d.code] <= WARNINGS_SHOWN:
                    log.info(f"{d.path}:{d.line}:{d.col}: {d.code}: {d.message}")
        for code, n in shown.items():
            if n > WARNINGS_SHOWN:
                log.info(f"... and {n - WARNINGS_SHOWN} more '{code}' warnings; 'evidencekb check' lists them all.")

    def _add_claims_to_nav(self, config: MkDocsConfig) -> None:
        """List claim pages, in the article's order, in the nav section holding claims/index.md."""
        assert self.site is not None
        claims_dir = self.site.project.options.claims_dir.strip("/")
        index = f"{claims_dir}/index.md"
        pages_ = [f"{claims_dir}/{c.slug}.md" for c in self.site.claims]

        def target(x: Any) -> Any:
            return x if isinstance(x, str) else next(iter(x.values()), None) if isinstance(x, dict) else None

        def visit(items: Any) -> bool:
            if not isinstance(items, list):
                return False
            for item in items:
                values = list(item.values()) if isinstance(item, dict) else [item]
                for v in values:
                    if isinstance(v, list) and index in [target(x) for x in v]:
                        present = {target(x) for x in v}
                        v.extend(p for p in pages_ if p not in present)
                        return True
                    if visit(v):
                        return True
            return False

        visit(config.nav)

    # --- generated pages --------------------------------------------------------------
    def on_files(self, files: Files, config: MkDocsConfig) -> Files:
        assert self.site is not None
        for asset in ASSETS:
            src = f"assets/{asset}"
            if files.get_file_from_path(src) is None:
                content = resources.files("evidencekb").joinpath(f"assets/{asset}").read_text(encoding="utf-8")
                files.append(File.generated(config, src, content=content))
        self.later = Later()
        for src, content in self.site.generated(self.formatter, self.later).items():
            if files.get_file_from_path(src) is None:
                f = (_MadeLater.of(config, src, content) if callable(content)
                     else File.generated(config, src, abs_src_path=str(content)) if isinstance(content, Path)
                     else File.generated(config, src, content=content))
                if src.startswith("references/"):
                    f.inclusion = InclusionLevel.NOT_IN_NAV
                files.append(f)
        return files

    # --- pages ------------------------------------------------------------------------
    def on_page_markdown(self, markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
        assert self.ctx is not None and self.site is not None
        src = page.file.src_uri
        self.ctx.page = src
        title = self.site.page_title(src)
        if title is not None:  # themes print titles unescaped: the claim's must be escaped HTML
            page.meta["title"] = title
            page.title = title
            page.meta.setdefault("search", {"boost": CLAIM_BOOST})  # claims rank first for their topics
        return self.site.page_markdown(src, markdown, self.formatter)

    def on_page_content(self, html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
        assert self.ctx is not None and self.site is not None
        src = page.file.src_uri
        result = self.ctx.results.get(src)
        if result and result.unknown and not page.file.generated_by:
            # The site stage reported what the Markdown source cites; what only the rendered page
            # cites (through an included file) is reported here.
            known_places = self.site.cited_in_docs()
            missing = [k for k in dict.fromkeys(result.unknown) if k not in known_places]
            self._report([diag(f"{self.site.project.docs_prefix}/{src}", 1, 1, "unknown-citation",
                               f"'@{k}' is not a key in any .bib file (cited through an included file?)."
                               f"{self.site.bib.suggest(k)}") for k in missing])
        self.ctx.page = None
        return html

    @event_priority(100)  # before the search index reads the page
    def on_page_context(self, context: Any, page: Page, config: MkDocsConfig, nav: Any) -> Any:
        if self.later is not None and page.content:
            page.content = self.later.fill(page.content)  # a generated page's formatted entries
        return context

    @event_priority(100)  # before other plugins (minifiers) see the page
    def on_post_page(self, output: str, page: Page, config: MkDocsConfig) -> str:
        # page.content keeps the compact markers (MkDocs holds every page's content until
        # the build ends); only the written page gets the full markup.
        assert self.ctx is not None and self.site is not None
        result = self.ctx.results.pop(page.file.src_uri, None)  # nothing of it is needed after this
        if result is None or not result.deferred:
            return output
        output, complete = self.ctx.restore(output, result)
        if not complete:
            self._report([diag(f"{self.site.project.docs_prefix}/{page.file.src_uri}", 1, 1, "page-markup-lost",
                               "the rendered page lacks the HTML comments marking where its citation links or "
                               "reference list go (its template does not show page.content, or a plugin changed "
                               "them); show page.content, or list evidencekb before that plugin.")])
        return output

    @event_priority(100)  # before the search index is written, which is when a build holds the most
    def on_post_build(self, config: MkDocsConfig) -> None:
        assert self.site is not None
        claims = self.site.claims_json(self.formatter)
        self.formatter.save(self.site.bib.entries)
        self.site.save_downloads()
        # What only this build needed goes now, before the search index is made: the
        # formatted entries (kept on disk; the next build reads them again) and the pages'
        # citations and stand-ins.
        self.formatter.release()
        self.later = None
        if self.ctx is not None:
            self.ctx.release()
        out = Path(config.site_dir) / "claims.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".json.tmp")
        tmp.write_text(claims, encoding="utf-8")
        os.replace(tmp, out)
        if config.strict and self.errors:
            # MkDocs counts logged errors too, but a quiet or custom log setup may drop them.
            raise Abort(f"evidencekb: {self.errors} error(s) in strict mode; see the messages above.")

    def on_build_error(self, *, error: Exception) -> None:
        if self.formatter is not None:
            self.formatter.close()

    def on_serve(self, server: Any, config: MkDocsConfig, builder: Any) -> Any:
        assert self.site is not None
        p = self.site.project
        for spec in p.options.bibliography + [p.options.screening_dir, p.options.risk_of_bias, p.options.mcid]:
            path = p.root / spec
            if path.exists():  # a folder is watched whole: a .bib added while serving is seen
                server.watch(str(path))
        return server
