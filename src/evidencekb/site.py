"""The site stage: the library, the records and the docs in; checks, pages and files out. Pure.

No engine is imported here. The MkDocs plugin (also used by ProperDocs) and
the Zensical path (``evidencekb build --engine zensical``) are thin adapters
over :class:`Site`, and ``evidencekb check`` runs the very same checks, so the
build and the command cannot disagree on a diagnostic.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import bibliography as bibmod
from .citations import scan
from .diagnostics import ORDER, Diagnostic, Severity, diag
from .urls import Urls
from .yamlsafe import read_text

# The page builders (pages, exports) are imported by the methods that build pages, so that
# checking a project (`evidencekb check`) does not load them; the appraisal modules (claims,
# risk of bias, MCIDs, screening logs, GRADE) only where the site has such records: a site
# that only cites its library does not pay for importing them.
if TYPE_CHECKING:
    from . import mcid, pages, rob, screening
    from .claims import Claim

__all__ = ["Options", "Project", "Site", "Formatters", "formatters", "PLACEHOLDER_BASE", "REFERENCE_PAGES"]

#: Stands for the site's address when site_url is not set; the page script puts the real one in.
PLACEHOLDER_BASE = "https://site.invalid"
REFERENCE_PAGES = ("cited", "all", "none")


@dataclass
class Options:
    """The plugin's options, as plain data (the same names in ``mkdocs.yml`` for every engine)."""

    bibliography: list[str] = field(default_factory=lambda: ["references"])
    style: str = "american-medical-association"
    styles: list[str] = field(default_factory=lambda: ["american-medical-association", "apa", "nlm-citation-sequence"])
    references_title: str = "References"
    article: str = "article.md"
    claims_dir: str = "claims"
    screening_dir: str = "screening"
    risk_of_bias: str = "references/risk-of-bias.yaml"
    mcid: str = "references/mcid.yaml"
    generate_pages: bool = True
    reference_pages: str = "cited"
    owner: str = ""
    contact: str = ""
    licence: str = ""
    reviewers: list[str] = field(default_factory=list)
    cache: bool = True

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Options:
        """Options from ``mkdocs.yml``'s plugin entry; unknown names are ignored here (the
        engine's own config validation reports them)."""
        known = {f.name for f in fields(cls)}
        out = cls()
        for k, v in data.items():
            if k in known and v is not None:
                setattr(out, k, list(v) if isinstance(v, (list, tuple)) else v)
        if isinstance(out.bibliography, str):
            out.bibliography = [out.bibliography]
        return out


@dataclass
class Project:
    """Where things are: the folder of ``mkdocs.yml``, the docs folder, the site's settings."""

    root: Path
    docs_dir: Path
    options: Options = field(default_factory=Options)
    site_name: str = ""
    site_url: str = ""
    directory_urls: bool = True

    @property
    def docs_prefix(self) -> str:
        try:
            return self.docs_dir.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return self.docs_dir.as_posix()

    def display(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return path.as_posix()

    @classmethod
    def from_config_file(cls, config_file: Path) -> Project:
        """A project from its ``mkdocs.yml``, read without an engine (tolerating ``!!python`` tags)."""
        import yaml

        root = config_file.resolve().parent
        data: dict[str, Any] = {}
        if config_file.exists():
            loaded = yaml.load(config_file.read_text(encoding="utf-8"), Loader=config_loader())
            data = loaded if isinstance(loaded, dict) else {}
        opts: dict[str, Any] = {}
        for plugin in data.get("plugins") or []:
            if isinstance(plugin, dict) and "evidencekb" in plugin:
                opts = dict(plugin["evidencekb"] or {})
        return cls(root, root / str(data.get("docs_dir", "docs")), Options.from_mapping(opts),
                   str(data.get("site_name") or ""), str(data.get("site_url") or ""),
                   bool(data.get("use_directory_urls", True)))


def config_loader() -> Any:
    """A YAML loader for ``mkdocs.yml`` without an engine: ``!ENV`` resolved as MkDocs resolves
    it (``!ENV [SITE_URL, ""]``: the first variable set, else the last item), other tags
    (``!!python/name:...``) read as nothing."""
    import os

    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def env(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return os.environ.get(str(loader.construct_scalar(node)))
        if isinstance(node, yaml.SequenceNode):
            items = loader.construct_sequence(node)
            names, default = (items[:-1], items[-1]) if len(items) > 1 else (items, None)
            return next((os.environ[str(n)] for n in names if str(n) in os.environ), default)
        return None

    Loader.add_constructor("!ENV", env)
    Loader.add_multi_constructor("", lambda loader, suffix, node: None)
    return Loader


class Site:
    """Everything one build (or one check) needs, loaded once."""

    def __init__(self, project: Project, bib: bibmod.Bibliography, source_links: bool = False) -> None:
        self.project = project
        self.bib = bib
        self.claims: list[Claim] = []
        self.article: str | None = None  # the article's prose (for quotes)
        self.rob: dict[str, rob.Judgement] = {}
        self.mcid: dict[str, mcid.Mcid] = {}
        self.logs: dict[str, screening.Log | None] = {}
        self.diagnostics: list[Diagnostic] = list(bib.diagnostics)
        self.cache_dir: Path | None = None
        self._cited: dict[str, list[tuple[str, int, int]]] | None = None
        opts = project.options
        self.urls = Urls(project.directory_urls, opts.claims_dir.strip("/"), opts.article, source_links)

    # --- loading -------------------------------------------------------------------------
    @classmethod
    def load(cls, project: Project, cache_dir: Path | None = None, source_links: bool = False,
             workers: int | None = None) -> Site:
        """Load the library (through the cache when given; where it is not cached, parsed
        by ``workers`` processes, by default :func:`~evidencekb.bibliography.parse_workers`),
        the claims and the appraisal records."""
        from .cache import load_library

        paths = bibmod.find_bib_files(project.root, project.options.bibliography)
        bib = load_library(paths, project.root, cache_dir, bibmod.parse_workers() if workers is None else workers)
        site = cls(project, bib, source_links)
        site.cache_dir = cache_dir
        if not paths:
            site.diagnostics.append(diag("mkdocs.yml", 1, 1, "bib-read",
                                         f"no .bib files found under {project.options.bibliography}; citations "
                                         "cannot resolve. Set 'bibliography' in the plugin options."))
        site._load_records()
        return site

    def _load_records(self) -> None:
        p, opts = self.project, self.project.options
        known = self.bib.entries
        if (p.docs_dir / opts.claims_dir).is_dir():
            from .claims import load_claims

            self.claims, diags = load_claims(p.docs_dir, opts.claims_dir, known, p.docs_prefix)
            self.diagnostics += diags
        rob_file = p.root / opts.risk_of_bias
        if rob_file.exists():
            from . import rob

            self.rob, diags = rob.load(rob_file, p.display(rob_file), known)
            self.diagnostics += diags
        mcid_file = p.root / opts.mcid
        if mcid_file.exists():
            from . import mcid

            self.mcid, diags = mcid.load(mcid_file, p.display(mcid_file), known)
            self.diagnostics += diags
        if self.claims:
            from . import screening
        for c in self.claims:
            path = self.log_path(c.slug)
            self.logs[c.slug], diags = screening.load(path, p.display(path))
            self.diagnostics += diags
        article_file = p.docs_dir / opts.article
        if article_file.exists():
            text, diags = read_text(article_file.read_bytes(), self.article_display, "claim-misquote")
            self.diagnostics += diags
            if text is not None and self.claims:  # its prose serves only to check the claims' quotes
                from . import checks, quotes

                self.article = checks.article_text(text)
                self.claims.sort(key=lambda c: (quotes.find(c.quote, self.article or "") or (len(self.article or ""), 0))[0])

    @property
    def article_display(self) -> str:
        return f"{self.project.docs_prefix}/{self.project.options.article}"

    def log_path(self, slug: str) -> Path:
        return self.project.root / self.project.options.screening_dir / f"{slug}.yaml"

    def appraisal(self, formatter: Callable[[str], Any] | None = None) -> pages.Appraisal:
        """What pages read of the appraisal; with the site's ``formatter``, the evidence
        tables' author names come from its (persisted) memo."""
        from . import pages
        names = formatter(self.project.options.style) if formatter is not None else None
        return pages.Appraisal(self.rob, self.mcid, self.logs, self.reference_keys(), names)

    # --- checks ---------------------------------------------------------------------------
    def check(self) -> list[Diagnostic]:
        """Every content check, once: what the build reports and ``evidencekb check`` prints,
        each diagnostic once, in :data:`~evidencekb.diagnostics.ORDER`."""
        out = list(self.diagnostics)
        if self.claims and self.article is None and not any(d.path == self.article_display for d in out):
            out.append(diag(self.article_display, 1, 1, "claim-misquote",
                            "the article page is missing, so no claim quote can be checked; set 'article' in the "
                            "plugin options."))
        if self.claims:
            from . import checks
            from .cache import TextMemo

            if self.article is not None:
                out += checks.check_claim_quotes(self.claims, self.article, self.article_display)
            memo = TextMemo(self.cache_dir, "quotes")  # what each quote and abstract came to
            out += checks.check_evidence_quotes(self.claims, self.bib, memo)
            memo.save()
            for c in self.claims:
                out += checks.check_appraisal(c, self.bib, self.rob, self.mcid)
                path = self.log_path(c.slug)
                out += checks.check_screening(c, self.logs.get(c.slug), self.project.display(path))
        out += self.check_citations()
        return sorted(set(out), key=ORDER)

    def cited_in_docs(self) -> dict[str, list[tuple[str, int, int]]]:
        """Every key cited in the docs' Markdown, with its places (display path, line, column);
        read once per build, each page scanned only when its text changed (:class:`ScanCache`)."""
        if self._cited is not None:
            return self._cited
        from .cache import ScanCache

        out: dict[str, list[tuple[str, int, int]]] = {}
        memo = ScanCache(self.cache_dir)
        docs = self.project.docs_dir
        # Shown as the project shows a path (resolved, relative to the root), with the folder
        # resolved once: the glob follows no linked folder, so only a linked page is resolved.
        base = self.project.display(docs)
        for p in sorted(docs.rglob("*.md")) if docs.is_dir() else []:
            try:
                text = p.read_bytes().decode("utf-8-sig", errors="replace")
            except OSError:
                continue
            if "@" not in text:
                continue
            rel = p.relative_to(docs).as_posix()
            display = self.project.display(p) if p.is_symlink() else rel if base == "." else f"{base}/{rel}"
            for key, line, col in memo.get(text, scan):
                out.setdefault(str(key), []).append((display, int(line), int(col)))
        memo.save()
        self._cited = out
        return out

    def check_citations(self) -> list[Diagnostic]:
        out: list[Diagnostic] = []
        cited = self.cited_in_docs()
        for key, places in cited.items():
            if key not in self.bib.entries:
                for path, line, col in places:
                    out.append(diag(path, line, col, "unknown-citation",
                                    f"'@{key}' is not a key in any .bib file.{self.bib.suggest(key)}"))
        used = set(cited) | {it.ref for c in self.claims for it in c.evidence}
        entries = self.bib.entries
        for key in entries:
            if key not in used:
                path, line = (entries.place(key) if isinstance(entries, bibmod.LazyEntries)
                              else (entries[key].path, entries[key].line))
                out.append(diag(path, line, 1, "uncited-entry", f"no page cites '{key}'."))
        return out

    def footer(self, existing: str = "") -> str:
        """The footer's text (HTML): owner, contact, licence and the date the evidence was last
        reviewed, from the configuration and the claims; ``existing`` (the engine's own
        ``copyright``) comes first."""
        from .safe import Markup, escape, safe_href

        opts = self.project.options
        parts = [Markup(existing)] if existing else []
        if opts.owner:
            parts.append(Markup("Published by {}").format(opts.owner))
        if opts.contact:
            href = safe_href(opts.contact if "@" not in opts.contact or "://" in opts.contact
                             else f"mailto:{opts.contact}")
            parts.append(Markup('Contact: <a href="{}">{}</a>').format(href, opts.contact) if href
                         else Markup("Contact: {}").format(opts.contact))
        if opts.licence:
            parts.append(Markup("Text licensed {}").format(opts.licence))
        reviewed = max((c.reviewed for c in self.claims), default="")
        if reviewed:
            parts.append(Markup("Evidence last reviewed {}").format(reviewed))
        return str(Markup(" · ").join(escape(p) if not isinstance(p, Markup) else p for p in parts))

    def prefetch(self, formatter: Callable[[str], Any], wait: bool = True) -> int:
        """Format what this build will show and the cache lacks, across the cores: the cited
        entries in the site's style, and those with a page in the other styles (a first
        build), in the order the pages cite them. Without ``wait`` the workers go on while
        the build does (see :func:`evidencekb.csl.prefetch`). Returns how many go to them."""
        from .csl import prefetch

        opts = self.project.options
        cited = self.cited_keys()
        order = [k for k in dict.fromkeys([*self.cited_in_docs(), *(it.ref for c in self.claims for it in c.evidence)])
                 if k in cited]
        pages_ = self.reference_keys()
        shown = order + sorted(pages_.difference(cited))
        jobs = [(formatter(opts.style), shown)]
        if pages_:
            paged = sorted(pages_)  # in the order the reference pages are written
            jobs += [(formatter(style), paged) for style in dict.fromkeys(opts.styles) if style != opts.style]
        return prefetch(jobs, self.bib.entries, wait=wait)

    # --- generated pages and files ------------------------------------------------------------
    def cited_keys(self) -> set[str]:
        keys = {it.ref for c in self.claims for it in c.evidence} | set(self.cited_in_docs())
        return {k for k in keys if k in self.bib.entries}

    def reference_keys(self) -> frozenset[str]:
        """The keys that get a page of their own (option ``reference_pages``)."""
        mode = self.project.options.reference_pages
        if not self.project.options.generate_pages or mode == "none":
            return frozenset()
        if mode == "all":
            return frozenset(self.bib.entries)
        return frozenset(self.cited_keys())

    def generated(self, formatter: Callable[[str], Any], later: Any = None) -> dict[str, Any]:
        """The pages and files the site stage adds to the docs: docs-relative path -> its text,
        or a file to copy (a :class:`~pathlib.Path`: the downloads the cache keeps). With
        ``later`` (a :class:`~evidencekb.later.Later`), for an engine that reads each page
        as it goes: a reference page is a function that lays it out, for the engine to call
        when it reads the page (the engine holds its Markdown then; it is never held twice);
        the formatted entries of the reference pages and the bibliography are tokens ``later``
        fills when each page is written; and a download the cache lacks is made while the
        build goes on: a function that gives its file or text (see :meth:`_downloads`)."""
        opts = self.project.options
        out: dict[str, Any] = {}
        if not opts.generate_pages:
            return out
        from . import pages
        bib, ap, urls = self.bib, self.appraisal(formatter), self.urls
        fmts = {s: formatter(s) if later is None else later.formatter(formatter(s), bib.entries) for s in opts.styles}

        def page(key: str) -> str:
            return pages.reference_page(bib.entries[key], bib, self.claims, fmts, ap, urls)

        for key in sorted(ap.reference_pages or ()):
            out[urls.reference(key)] = page(key) if later is None else functools.partial(page, key)
        cited = self.cited_keys()
        keys = [k for k in bib.entries if k in cited]
        out["bibliography.md"] = pages.bibliography_page(keys, bib, formatter(opts.style), ap, urls, later)
        out["evidence-map.md"] = pages.evidence_map_page(self.claims, bib, ap, urls)
        out["topics.md"] = pages.topics_page(self.claims, urls)
        out["changes.md"] = pages.changes_page(self.claims, urls)
        out["codes.md"] = pages.codes_page()
        out["searches.md"] = pages.search_record_page(self.claims, ap, urls)
        wanted = [("downloads/references", keys)]
        for c in self.claims:
            wanted.append((f"downloads/claims/{c.slug}",
                           [k for k in dict.fromkeys(it.ref for it in c.evidence) if k in bib.entries]))
        out.update(self._downloads(wanted, background=later is not None))
        return out

    def _downloads(self, wanted: list[tuple[str, list[str]]], background: bool = False) -> dict[str, Any]:
        """For each (stem, keys), the entries as BibTeX, CSL-JSON and RIS files; made again only
        when an entry changed (the key names every entry's hash, which a warm build reads
        without unpacking it). Each file is kept in the cache (:class:`~evidencekb.cache.FileMemo`)
        and given as its path there, for the engine to copy; without a cache, as its text.
        With ``background``, what must be made is made by a forked process while the build
        goes on, and a file is a function that gives its path or text (waiting for that
        process): call :meth:`save_downloads` once the build has them."""
        from . import exports
        from .cache import FileMemo

        memo = self._downloads_memo = FileMemo(self.cache_dir, "downloads")
        entries = self.bib.entries
        digest = (entries.digest if isinstance(entries, bibmod.LazyEntries) else lambda k: entries[k].digest)
        out: dict[str, Any] = {}
        missing: list[tuple[str, str, list[str]]] = []  # (memo key, stem, keys)
        for stem, keys in wanted:
            key = hashlib.sha256("\0".join([stem, *(f"{k}\1{digest(k)}" for k in keys)]).encode()).hexdigest()
            kept = memo.files(key)
            if kept is None:
                missing.append((key, stem, keys))
            else:
                out.update(kept)

        def here(key: str, stem: str, keys: list[str]) -> dict[str, Any]:
            texts = _download_files(entries, stem, keys)
            return memo.put(key, texts) or texts

        later = _in_background(missing, entries, self.cache_dir) if background else None
        if later is None:
            for key, stem, keys in missing:
                out.update(here(key, stem, keys))
            if not background:
                self.save_downloads()
            return out

        made: dict[str, dict[str, Any]] = {}

        def from_process(key: str, stem: str, keys: list[str]) -> dict[str, Any]:
            if key not in made:
                try:
                    how, got = later.result()[key]
                    made[key] = (memo.made(key, got) if how == "kept" else got) or here(key, stem, keys)
                except Exception:  # the process failed: made here, where an error shows
                    made[key] = here(key, stem, keys)
            return made[key]

        def file(key: str, stem: str, keys: list[str], path: str) -> Callable[[], Any]:
            return lambda: from_process(key, stem, keys)[path]

        for key, stem, keys in missing:
            out.update({path: file(key, stem, keys, path) for path in exports.download_paths(stem)})
        return out

    def save_downloads(self) -> None:
        """Keep the downloads made in this build for the next (see :meth:`_downloads`)."""
        memo = getattr(self, "_downloads_memo", None)
        if memo is not None:
            memo.save()

    def claims_json(self, formatter: Callable[[str], Any]) -> str:
        if not self.claims:  # nothing to resolve: the page builders are not needed
            from .safe import claims_document
            return claims_document([])
        from . import pages
        return pages.claims_json(self.claims, self.bib, formatter(self.project.options.style), self.appraisal(formatter),
                                 self.urls, self.base_url + "/")

    @property
    def base_url(self) -> str:
        return (self.project.site_url or "").rstrip("/") or PLACEHOLDER_BASE

    def claim_for(self, src: str) -> Claim | None:
        folder = self.project.options.claims_dir.strip("/") + "/"
        if not src.startswith(folder):
            return None
        slug = src[len(folder):].removesuffix(".md")
        return next((c for c in self.claims if c.slug == slug), None)

    def page_title(self, src: str) -> str | None:
        """The escaped title a claim page must carry (the engine prints titles unescaped)."""
        from .safe import title_text

        c = self.claim_for(src)
        return title_text(c.heading) if c is not None else None

    def page_markdown(self, src: str, markdown: str, formatter: Callable[[str], Any]) -> str:
        """A docs page's Markdown as the site shows it: claim pages get their record around
        their discussion, the article its claim markers, the claims index its list."""
        claim = self.claim_for(src)
        opts = self.project.options
        # The page builders are imported by the branches that use them: a page with nothing
        # to add (every page of a site without claims) never loads them.
        if claim is not None:
            from . import pages
            return (pages.claim_header(claim, self.bib, self.appraisal(formatter), self.urls, self._json_ld(claim),
                                       self._handout(claim, formatter))
                    + markdown + pages.claim_footer(claim, self._cite_this(claim, formatter),
                                                    pages.downloads_block(self._download_prefix(src, claim.slug),
                                                                          len({it.ref for it in claim.evidence})),
                                                    opts.reviewers))
        if src == opts.article and self.claims:
            from . import pages
            return pages.annotate_article(markdown, self.claims, lambda slug: _md_link(src, self.urls.claim(slug)))
        if src == f"{opts.claims_dir.strip('/')}/index.md" and "<!-- claims -->" in markdown:
            from . import pages
            return markdown.replace("<!-- claims -->", pages.claims_index_page(self.claims, self.urls))
        if "<!-- reviewers -->" in markdown:  # who reviewed, from configuration (the methods page)
            from . import pages
            markdown = markdown.replace("<!-- reviewers -->", pages.reviewers_block(opts.reviewers))
        if "<!-- verdicts -->" in markdown and self.claims:  # the site's verdicts, counted (the home page)
            from . import pages
            from .safe import block

            summary = pages.verdict_summary(self.claims, self.urls.rel(src, "evidence-map.md"))
            return markdown.replace("<!-- verdicts -->", block(summary))
        return markdown

    def _handout(self, c: Claim, formatter: Callable[[str], Any]) -> Any:
        """The claim's printable client handout; its QR code and address need ``site_url``."""
        from . import pages
        fmt = formatter(self.project.options.style)
        refs = [fmt.format(self.bib.entries[k]) for k in pages.key_evidence(c, self.bib)]
        url = (f"{self.base_url}/{self.urls.page(self.urls.claim(c.slug))}" if self.project.site_url else None)
        return pages.handout(c, self.project.site_name, url, refs)

    def _download_prefix(self, src: str, slug: str) -> str:
        """The downloads' address without its extension (a file, not a page)."""
        import posixpath

        target = f"downloads/claims/{slug}"
        if self.urls.source_links:
            return posixpath.relpath(target, posixpath.dirname(src) or ".")
        here = self.urls.page(src)
        return posixpath.relpath(target, here.rstrip("/") if here.endswith("/") else posixpath.dirname(here) or ".")

    def _cite_this(self, c: Claim, formatter: Callable[[str], Any]) -> str:
        from . import exports, pages
        url = f"{self.base_url}/{self.urls.page(self.urls.claim(c.slug))}"
        entry = exports.page_entry(c, self.project.site_name, url)
        texts = {"AMA": formatter("american-medical-association").format(entry).text,
                 "APA": formatter("apa").format(entry).text,
                 "BibTeX": exports.to_bibtex([entry]).strip()}
        return pages.cite_this_block(texts, accessed=c.reviewed)

    def _json_ld(self, c: Claim) -> dict[str, Any]:
        from . import exports, pages
        meta = self._article_meta()
        return exports.claim_review(
            c, url=f"{self.base_url}/{self.urls.page(self.urls.claim(c.slug))}",
            article_url=f"{self.base_url}/{self.urls.page(self.project.options.article)}",
            site_name=self.project.site_name, verdict_label=pages.VERDICT_LABELS[c.verdict], article_meta=meta)

    def _article_meta(self) -> dict[str, str]:
        from .claims import split_front_matter
        from .yamlsafe import compose, construct

        path = self.project.docs_dir / self.project.options.article
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError):
            return {}
        front, _, _ = split_front_matter(text)
        node, _ = compose(front, self.article_display, 2) if front else (None, [])
        meta = construct(node) if node is not None else {}
        meta = meta if isinstance(meta, dict) else {}
        return {"author": str(meta.get("author", "")), "title": str(meta.get("title", "")),
                "date": str(meta.get("published", ""))}


def _md_link(from_src: str, to_src: str) -> str:
    """A docs-relative Markdown link target (the engine resolves and checks it)."""
    import posixpath

    return posixpath.relpath(to_src, posixpath.dirname(from_src) or ".")


def errors(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diags if d.severity == Severity.ERROR]


class Formatters:
    """One formatter per style, each with its persistent store (the same for every engine)."""

    def __init__(self, cache_dir: Path | None) -> None:
        self.cache_dir = cache_dir
        self._made: dict[str, Any] = {}

    def __call__(self, style: str) -> Any:
        from .cache import FormatCache
        from .csl import Formatter, get_style

        f = self._made.get(style)
        if f is None:
            f = self._made[style] = Formatter(get_style(style), FormatCache(self.cache_dir, style))
        return f

    def save(self, entries: Mapping[str, bibmod.Entry] | None = None) -> None:
        """Keep what was formatted (waiting for the workers still formatting); given the
        library's ``entries``, drop what was formatted from entries since edited or removed."""
        from .cache import in_library

        current = in_library(entries) if entries is not None else None
        for f in self._made.values():
            if f.background is not None:
                f.background.finish()
            if f.store is not None:
                f.store.save(current)

    def release(self) -> None:
        """Let go of the formatted entries held in memory once :meth:`save` has kept them:
        the next build (``serve``) reads them from the store again. Without a cache folder
        they are kept nowhere else, and stay."""
        if self.cache_dir is not None:
            self.close()
            self._made.clear()

    def close(self) -> None:
        """Stop the workers still formatting (a build that failed)."""
        for f in self._made.values():
            if f.background is not None:
                f.background.close()


#: Fewer entries than this to put in downloads are written out in the building process.
DOWNLOADS_IN_BACKGROUND = 64
#: The library a downloads process reads its entries from (set before it forks).
_DOWNLOADS_LIBRARY: list[Mapping[str, bibmod.Entry]] = []


def _download_files(entries: Mapping[str, bibmod.Entry], stem: str, keys: list[str]) -> dict[str, str]:
    from . import exports

    return exports.downloads(stem, [entries[k] for k in keys])


def _make_downloads(missing: list[tuple[str, str, list[str]]],
                    cache_dir: Path | None) -> dict[str, tuple[str, dict[str, str]]]:
    """Make the downloads of each (memo key, stem, keys) and keep them in the cache (as
    :class:`~evidencekb.cache.FileMemo` does): for each memo key, ``("kept", names)`` with
    what :meth:`~evidencekb.cache.FileMemo.names_of` gives for it there, or, without a cache
    or where it cannot be written, ``("texts", texts)``."""
    from .cache import FileMemo

    memo = FileMemo(cache_dir, "downloads")
    out = {}
    for key, stem, keys in missing:
        texts = _download_files(_DOWNLOADS_LIBRARY[0], stem, keys)
        out[key] = ("texts", texts) if memo.put(key, texts) is None else ("kept", memo.names_of(key))
    return out


def _in_background(missing: list[tuple[str, str, list[str]]], entries: Mapping[str, bibmod.Entry],
                   cache_dir: Path | None) -> Any:
    """A future of :func:`_make_downloads` for the ``missing`` downloads, made by a process
    forked now (it reads the entries itself, from the library's cache file or its copy of
    this process's memory) and kept in the cache at ``cache_dir``; None for a few entries,
    or where processes are not forked."""
    import sys

    if sum(len(keys) for _, _, keys in missing) < DOWNLOADS_IN_BACKGROUND or not sys.platform.startswith("linux"):
        return None
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from .forking import forking

    _DOWNLOADS_LIBRARY[:] = [entries]
    try:
        pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
        with forking():
            future = pool.submit(_make_downloads, missing, cache_dir)  # forks here
    except OSError:  # no process could be started: made here
        return None
    finally:
        _DOWNLOADS_LIBRARY.clear()
    pool.shutdown(wait=False)  # the process ends once it has sent its result
    return future


#: Formatters by cache folder, kept between the builds of one process (``serve``).
_FORMATTERS: dict[Path | None, Formatters] = {}


def formatters(cache_dir: Path | None) -> Formatters:
    f = _FORMATTERS.get(cache_dir)
    if f is None:
        f = _FORMATTERS[cache_dir] = Formatters(cache_dir)
    return f
