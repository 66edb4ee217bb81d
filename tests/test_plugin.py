"""Tiny sample sites built with MkDocs (and ProperDocs): logs, strict mode, HTML."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOTS, child_env, need
from mkdocs.exceptions import Abort


def test_unknown_citation_is_logged_with_place_and_suggestion(site_builder) -> None:  # type: ignore[no-untyped-def]
    site, warnings = site_builder("basic")
    assert ("evidencekb: docs/index.md:5:9: unknown-citation: '@alpah2020' is not a key in any .bib file. "
            "Did you mean 'alpha2020'?") in warnings
    html = (site / "index.html").read_text(encoding="utf-8")
    assert "[?alpah2020]" in html
    assert html.count('class="reference-entry"') == 2


def test_strict_build_fails_on_unknown_citation(site_builder) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Abort):
        site_builder("basic", strict=True)


def test_bib_errors_are_reported_with_file_and_line(tmp_path: Path) -> None:
    from conftest import build_site

    root = tmp_path / "src"
    shutil.copytree(ROOTS / "basic", root)
    with open(root / "references" / "sample.bib", "a", encoding="utf-8") as f:
        f.write("\n@article{alpha2020, title={dup}}\n")
    _, warnings = build_site(root, tmp_path / "out")
    dup = [w for w in warnings if "bib-duplicate-key" in w]
    assert dup and dup[0].startswith("evidencekb: references/sample.bib:26:1: bib-duplicate-key:")


def test_properdocs_builds_numbered_citations_and_their_list(tmp_path: Path) -> None:
    """The plugin runs under ProperDocs (its pages are compared with MkDocs's and Zensical's
    in test_engines.py)."""
    need(shutil.which("properdocs") is not None or _has_module("properdocs"), "ProperDocs is not installed")
    work = tmp_path / "basic"
    shutil.copytree(ROOTS / "basic", work)
    (work / "docs" / "index.md").write_text("# Sample\n\nFirst [@alpha2020] then @beta2019.\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "properdocs", "build", "--strict", "-q"], cwd=work,
                          capture_output=True, text=True, timeout=300, env=child_env())
    assert proc.returncode == 0, proc.stderr
    html = (work / "site" / "index.html").read_text(encoding="utf-8")
    assert re.search(r'href="#ref-alpha2020"[^>]*>1</a>', html)
    assert 'id="ref-beta2019"' in html


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _with(tmp_path: Path, extra_yaml: str, hook: str | None = None) -> Path:
    root = tmp_path / "src"
    shutil.copytree(ROOTS / "basic", root)
    cfg = (root / "mkdocs.yml").read_text(encoding="utf-8").replace("plugins:\n", "plugins:\n  - search\n")
    (root / "mkdocs.yml").write_text(cfg + extra_yaml, encoding="utf-8")
    if hook:
        (root / "hook.py").write_text(hook, encoding="utf-8")
    return root


def test_search_reads_citation_text_but_not_links_or_the_list(tmp_path: Path) -> None:
    import json

    from conftest import build_site

    site, warnings = build_site(_with(tmp_path, ""), tmp_path / "out")
    assert not [w for w in warnings if "page-markup-lost" in w]
    html = (site / "index.html").read_text(encoding="utf-8")
    assert "evidencekb-cite" not in html and "evidencekb-reference-list" not in html
    assert html.count('class="reference-entry"') == 2 and 'class="citation-link"' in html
    index = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    text = " ".join(d["text"] for d in index["docs"])
    assert "First 1 then 2(p3) and Alpha et al.1 again." in text  # what readers see of citations
    assert "first study" not in text.lower()  # the formatted reference list is not indexed
    assert "evidencekb" not in text and "citation-link" not in text


def test_a_plugin_removing_the_markers_is_reported(tmp_path: Path) -> None:
    from conftest import build_site

    hook = ("import re\n\ndef on_page_content(html, **kwargs):\n"
            "    return re.sub(r'<!--.*?-->', '', html)\n")
    _, warnings = build_site(_with(tmp_path, "hooks:\n  - hook.py\n", hook), tmp_path / "out")
    assert any(w.startswith("evidencekb: docs/index.md:1:1: page-markup-lost:") for w in warnings), warnings


@pytest.mark.parametrize("generate", [True, False])
def test_a_build_formatting_in_workers_writes_the_same_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            generate: bool) -> None:
    """A first build formats its entries in one worker process while MkDocs converts and writes
    the pages, its generated pages too (their formatted entries are put in as each is written).
    The pages it writes are those of a build formatting each entry here."""
    from conftest import build_site

    from evidencekb import csl, forking

    if not sys.platform.startswith("linux"):
        pytest.skip("entries are formatted across processes only where the platform forks")
    root = tmp_path / "claims"
    shutil.copytree(ROOTS / "claims", root)
    cfg = (root / "mkdocs.yml").read_text(encoding="utf-8")
    (root / "mkdocs.yml").write_text(cfg.replace("  - evidencekb\nmarkdown", "  - evidencekb:\n"
                                                 f"      generate_pages: {str(generate).lower()}\nmarkdown"),
                                     encoding="utf-8")
    monkeypatch.setattr(csl, "PARALLEL_MIN", 10**9)
    here, _ = build_site(root, tmp_path / "here")
    started: list[tuple[int, int, bool]] = []
    real_init, real_wait = csl.Background.__init__, csl.Background.wait

    def init(self: object, jobs: list[tuple[object, list[object]]], entries: object, workers: int) -> None:
        started.append((len(jobs), workers, False))
        real_init(self, jobs, entries, workers)  # type: ignore[arg-type]

    def wait(self: object, formatter: object, k: tuple[str, ...]) -> object:
        started.append((0, 0, True))
        return real_wait(self, formatter, k)  # type: ignore[arg-type]

    monkeypatch.setattr(csl.Background, "__init__", init)
    monkeypatch.setattr(csl.Background, "wait", wait)
    monkeypatch.setattr(csl, "PARALLEL_MIN", 1)
    monkeypatch.setattr(forking, "usable_cores", lambda: 2)
    there, _ = build_site(root, tmp_path / "there")
    # Generating pages: the site's style and the other two of the reference pages. The build
    # does not wait for them to start: a core is left to it.
    assert started[0] == ((3 if generate else 1), 1, False)
    pages = sorted(p.relative_to(here) for p in here.rglob("*.html"))
    assert pages == sorted(p.relative_to(there) for p in there.rglob("*.html")) and len(pages) > 5
    for p in pages:
        assert (here / p).read_text(encoding="utf-8") == (there / p).read_text(encoding="utf-8"), p


def test_a_site_without_the_tabs_extension_gets_it_for_its_reference_pages(tmp_path: Path) -> None:
    """Reference pages show each style in tabs (pymdownx.tabbed): a site that does not list
    the extension has it added, rather than pages printing the tabs' hidden HTML as code."""
    from conftest import build_site

    root = tmp_path / "claims"
    shutil.copytree(ROOTS / "claims", root)
    cfg = (root / "mkdocs.yml").read_text(encoding="utf-8")
    cut = "  - pymdownx.tabbed:\n      alternate_style: true\n"
    assert cut in cfg
    (root / "mkdocs.yml").write_text(cfg.replace(cut, ""), encoding="utf-8")
    site, _ = build_site(root, tmp_path / "out")
    pages = list((site / "references").glob("*/index.html"))
    assert pages
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "&lt;!--ekb:" not in text and 'class="tabbed-set tabbed-alternate"' in text, page


def test_downloads_made_while_the_build_goes_on_are_those_made_here(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A first build writes the library's downloads (BibTeX, CSL-JSON, RIS) from a forked
    process while MkDocs reads the pages; they are the files a build makes in-process, and
    the next build takes them from the cache without starting a process."""
    from conftest import build_site

    from evidencekb import site as sitemod

    if not sys.platform.startswith("linux"):
        pytest.skip("downloads are made in another process only where the platform forks")
    monkeypatch.setattr(sitemod, "DOWNLOADS_IN_BACKGROUND", 10**9)
    here, _ = build_site(ROOTS / "claims", tmp_path / "here")
    started: list[int] = []
    real = sitemod._in_background

    def counted(missing: list[tuple[str, str, list[str]]], entries: object, cache_dir: Path) -> object:
        future = real(missing, entries, cache_dir)  # type: ignore[arg-type]
        started.append(len(missing) if future is not None else 0)
        return future

    monkeypatch.setattr(sitemod, "DOWNLOADS_IN_BACKGROUND", 1)
    monkeypatch.setattr(sitemod, "_in_background", counted)
    root = tmp_path / "there"
    there, _ = build_site(ROOTS / "claims", root)
    assert started and started[0] > 1  # the library's downloads and each claim's
    made = sorted(p.relative_to(here) for p in (here / "downloads").rglob("*.*"))
    assert len(made) == 3 * started[0]
    for p in made:
        assert (here / p).read_bytes() == (there / p).read_bytes(), p
    # Built again where the cache is: nothing to make, no process started.
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    started.clear()
    work = root / "claims"
    old = Path.cwd()
    try:
        import os

        os.chdir(work)
        build(load_config(str(work / "mkdocs.yml"), site_dir=str(tmp_path / "again")))
    finally:
        os.chdir(old)
    assert started == [0]
    for p in made:
        assert (tmp_path / "again" / p).read_bytes() == (here / p).read_bytes(), p
    # ... copied from the files the cache keeps, one for each distinct download.
    kept = {f.read_bytes() for f in (work / ".cache" / "evidencekb").glob("downloads-*/*")}
    assert kept == {(here / p).read_bytes() for p in made}


def test_downloads_made_while_the_build_goes_on_without_a_cache(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a cache (``cache: false``) the downloads process sends their texts back."""
    from conftest import build_site

    from evidencekb import site as sitemod

    if not sys.platform.startswith("linux"):
        pytest.skip("downloads are made in another process only where the platform forks")
    monkeypatch.setattr(sitemod, "DOWNLOADS_IN_BACKGROUND", 10**9)
    here, _ = build_site(ROOTS / "claims", tmp_path / "here")
    root = tmp_path / "src"
    shutil.copytree(ROOTS / "claims", root / "claims")
    cfg = (root / "claims" / "mkdocs.yml").read_text(encoding="utf-8")
    (root / "claims" / "mkdocs.yml").write_text(
        cfg.replace("plugins:\n  - evidencekb\n", "plugins:\n  - evidencekb:\n      cache: false\n"), encoding="utf-8")
    sent: list[object] = []
    real = sitemod._in_background

    def recorded(missing: list[tuple[str, str, list[str]]], entries: object, cache_dir: Path | None) -> object:
        future = real(missing, entries, cache_dir)  # type: ignore[arg-type]
        sent.append((cache_dir, sorted({how for how, _ in future.result().values()})))
        return future

    monkeypatch.setattr(sitemod, "DOWNLOADS_IN_BACKGROUND", 1)
    monkeypatch.setattr(sitemod, "_in_background", recorded)
    there, _ = build_site(root / "claims", tmp_path / "there")
    assert sent == [(None, ["texts"])]
    assert not (tmp_path / "there" / "claims" / ".cache").exists()
    made = sorted(p.relative_to(here) for p in (here / "downloads").rglob("*.*"))
    assert made and made == sorted(p.relative_to(there) for p in (there / "downloads").rglob("*.*"))
    for p in made:
        assert (here / p).read_bytes() == (there / p).read_bytes(), p


def test_a_file_made_later_is_made_when_read_and_not_held(tmp_path: Path) -> None:
    """A generated page laid out when MkDocs reads it: made at each read, never held by the
    file (MkDocs holds the page's Markdown); a download kept in the cache: copied from there."""
    from mkdocs.config.defaults import MkDocsConfig

    from evidencekb.plugin import _MadeLater

    config = MkDocsConfig()
    config.load_dict({"site_name": "x", "docs_dir": str(tmp_path / "docs"), "site_dir": str(tmp_path / "site")})
    (tmp_path / "docs").mkdir()
    assert not config.validate()[0]
    config.plugins._current_plugin = "evidencekb"  # as while the plugin's on_files runs
    calls: list[int] = []
    f = _MadeLater.of(config, "references/x.md", lambda: calls.append(1) or "# X\n")
    assert calls == [] and f.is_modified() and calls == []  # a dirty build knows without making it
    assert f.content_string == "# X\n" and calls == [1]
    assert f.content_bytes == b"# X\n" and calls == [1, 1]  # made again: nothing was held
    assert not f._made and f.abs_src_path is None
    f.content_string = "# Y\n"  # a plugin that sets the content: that is the content now
    assert f.content_string == "# Y\n" and calls == [1, 1]
    # Made as a file (kept in the cache): copied from there, made once.
    kept = tmp_path / "kept.ris"
    kept.write_bytes(b"TY  - GEN\r\nER  - \r\n")
    g = _MadeLater.of(config, "downloads/x.ris", lambda: calls.append(2) or kept)
    assert g.content_bytes == kept.read_bytes() and calls == [1, 1, 2] and g.abs_src_path == str(kept)
    assert g.content_bytes == kept.read_bytes() and calls == [1, 1, 2]
    g.copy_file()
    assert (tmp_path / "site" / "downloads" / "x.ris").read_bytes() == kept.read_bytes() and calls == [1, 1, 2]


def test_downloads_whose_process_fails_are_made_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import build_site

    from evidencekb import site as sitemod

    if not sys.platform.startswith("linux"):
        pytest.skip("downloads are made in another process only where the platform forks")
    monkeypatch.setattr(sitemod, "DOWNLOADS_IN_BACKGROUND", 10**9)
    here, _ = build_site(ROOTS / "claims", tmp_path / "here")

    def fails(missing: object, cache_dir: object) -> object:
        raise RuntimeError("the process that makes the downloads failed")

    monkeypatch.setattr(sitemod, "DOWNLOADS_IN_BACKGROUND", 1)
    monkeypatch.setattr(sitemod, "_make_downloads", fails)
    there, _ = build_site(ROOTS / "claims", tmp_path / "there")
    made = sorted(p.relative_to(here) for p in (here / "downloads").rglob("*.*"))
    assert made and made == sorted(p.relative_to(there) for p in (there / "downloads").rglob("*.*"))
    for p in made:
        assert (here / p).read_bytes() == (there / p).read_bytes(), p


def test_a_build_lets_go_of_its_formatted_entries_before_the_search_index(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The search index is written last, when a build holds the most: by then the formatted
    entries are kept on disk and no longer in memory (the next build reads them again, and
    writes the same pages), and the pages' citations and stand-ins are gone."""
    from material.plugins.search.plugin import SearchPlugin
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    from evidencekb import site as sitemod

    work = tmp_path / "claims"
    shutil.copytree(ROOTS / "claims", work)
    cfg = (work / "mkdocs.yml").read_text(encoding="utf-8")
    (work / "mkdocs.yml").write_text(cfg.replace("plugins:\n  - evidencekb\n", "plugins:\n  - search\n  - evidencekb\n"),
                                     encoding="utf-8")
    seen: list[tuple[int, object, object]] = []
    real = SearchPlugin.on_post_build

    def search_post_build(self: SearchPlugin, *, config: object) -> None:
        ours = config.plugins["evidencekb"]  # type: ignore[attr-defined]
        seen.append((len(ours.formatter._made), ours.ctx.results, ours.ctx.formatter.store, ours.later))
        real(self, config=config)  # type: ignore[arg-type]

    monkeypatch.setattr(SearchPlugin, "on_post_build", search_post_build)
    monkeypatch.chdir(work)
    built = []
    for name in ("first", "again"):
        config = load_config(str(work / "mkdocs.yml"), site_dir=str(tmp_path / name))
        build(config)
        built.append({p.relative_to(tmp_path / name): p.read_bytes() for p in (tmp_path / name).rglob("*.html")})
    assert seen == [(0, {}, None, None), (0, {}, None, None)]
    # A page another plugin renders afterwards, with the site's extensions, still gets its citations.
    import markdown

    later = markdown.Markdown(extensions=config.markdown_extensions, extension_configs=config.mdx_configs)
    html = later.convert("As shown [@review2020].")
    assert "review2020" in html and "[@review2020]" not in html
    assert built[0] == built[1] and any(p.parts[0] == "references" for p in built[0])
    f = sitemod.formatters(work / ".cache" / "evidencekb")
    assert f._made == {}
    # Without a cache they are kept nowhere else: they stay in memory for the next build.
    assert sitemod.formatters(None).release() is None


def test_a_build_logs_ten_warnings_of_a_code_then_counts_the_rest_and_every_error(
        caplog: pytest.LogCaptureFixture) -> None:
    """A large library's uncited entries are thousands of warnings: the build logs the first
    ten of each code (in order) and counts the rest, and logs and counts every error; given
    out of order and twice, each is reported once, in order."""
    import logging

    from evidencekb.diagnostics import diag
    from evidencekb.plugin import WARNINGS_SHOWN, EvidencePlugin

    warnings = [diag("refs.bib", n, 1, "uncited-entry", f"no page cites 'k{n}'.") for n in range(1, 16)]
    errors = [diag("docs/a.md", n, 2, "unknown-citation", f"'@x{n}' is not a key.") for n in (3, 1)]
    plugin = EvidencePlugin()
    with caplog.at_level(logging.INFO):
        plugin._report([*reversed(warnings), *errors, *warnings[:4]])
    lines = [r.getMessage().removeprefix("evidencekb: ") for r in caplog.records]
    assert lines == ["docs/a.md:1:2: unknown-citation: '@x1' is not a key.",
                     "docs/a.md:3:2: unknown-citation: '@x3' is not a key.",
                     *(f"refs.bib:{n}:1: uncited-entry: no page cites 'k{n}'." for n in range(1, WARNINGS_SHOWN + 1)),
                     "... and 5 more 'uncited-entry' warnings; 'evidencekb check' lists them all."]
    assert plugin.errors == 2
    caplog.clear()
    already = EvidencePlugin()
    with caplog.at_level(logging.INFO):
        already._report(sorted(set(errors + warnings), key=lambda d: (d.path, d.line)), ordered=True)
    assert [r.getMessage().removeprefix("evidencekb: ") for r in caplog.records] == lines
    assert already.errors == 2
