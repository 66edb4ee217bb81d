"""One site, three engines: MkDocs, ProperDocs and Zensical build the same pages, and the same
faults fail every build that should fail, with the located line."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest
from conftest import ROOT, ROOTS, child_env, need

ENV_QUIET = {"NO_MKDOCS_2_WARNING": "1"}


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:

    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600, env=child_env(**ENV_QUIET))


def _build(engine: str, root: Path, out: Path) -> subprocess.CompletedProcess[str]:
    if engine == "zensical":
        need(_has("zensical"), "Zensical is not installed (pip install -e '.[test]')")
        return _run([sys.executable, "-m", "evidencekb.cli", "build", "--engine", "zensical", "--site-dir", str(out)],
                    root)
    need(_has(engine), f"{engine} is not installed (pip install -e '.[test]')")
    return _run([sys.executable, "-m", engine, "build", "--strict", "-d", str(out)], root)


_CITE = re.compile(r'<span class="citation" id="cite-\d+" data-cites="([^"]*)">(.*?)</span>(?=[^<]*(?:<|$))', re.S)
_REF = re.compile(r'<li id="(ref-[^"]+)" class="reference-entry"[^>]*><span class="csl-entry">(.*?)</span>', re.S)
_HEADER = re.compile(r'<div class="ekb-verdict-box">(.*?)</div>|<blockquote class="ekb-claim-quote">(.*?)</blockquote>',
                     re.S)


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _facts(site: Path) -> dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]], list[str]]]:
    """Per page: its citations (keys, visible text), its reference list, its claim header."""
    out = {}
    for page in sorted(site.rglob("index.html")):
        rel = page.parent.relative_to(site).as_posix()
        html = page.read_text(encoding="utf-8")
        body = html.split('class="md-content"', 1)[-1]
        cites = [(keys, _text(shown)) for keys, shown in _CITE.findall(body)]
        refs = [(rid, _text(entry)) for rid, entry in _REF.findall(body)]
        header = [_text(next(g for g in m.groups() if g is not None)) for m in _HEADER.finditer(body)]
        out[rel] = (cites, refs, header)
    return out


@pytest.fixture(scope="module")
def three_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("engines")
    out = {}
    for engine in ("mkdocs", "properdocs", "zensical"):
        root = base / f"src-{engine}"
        shutil.copytree(ROOTS / "claims", root)
        proc = _build(engine, root, base / engine)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        out[engine] = base / engine
    return out


def test_the_three_engines_build_the_same_pages(three_builds: dict[str, Path]) -> None:
    facts = {engine: _facts(site) for engine, site in three_builds.items()}
    pages = {engine: set(f) for engine, f in facts.items()}
    assert pages["mkdocs"] == pages["properdocs"] == pages["zensical"]
    assert {"claims/band-stretch", "references/review2020", "evidence-map", "searches"} <= pages["mkdocs"]
    for page in pages["mkdocs"]:
        assert facts["mkdocs"][page] == facts["properdocs"][page] == facts["zensical"][page], page
    cites, refs, header = facts["zensical"]["claims/band-stretch"]
    assert cites[0] == ("review2020", "1") and [r for r, _ in refs] == ["ref-review2020", "ref-cadaver2019"]
    assert header[0].startswith("◐ Verdict: Partly supported ⊕⊕◯◯ Low certainty One review found")
    for site in three_builds.values():
        assert (site / "claims.json").exists()


def test_the_three_engines_publish_the_same_downloads(three_builds: dict[str, Path]) -> None:
    """The downloads, kept as files in the cache and copied by each engine, byte for byte."""
    made = {engine: {p.relative_to(site): p.read_bytes() for p in (site / "downloads").rglob("*.*")}
            for engine, site in three_builds.items()}
    assert len(made["mkdocs"]) >= 6 and made["mkdocs"] == made["properdocs"] == made["zensical"]
    assert b"@article{review2020," in made["mkdocs"][Path("downloads/references.bib")]


def test_zensical_links_resolve_like_mkdocs(three_builds: dict[str, Path]) -> None:
    def links(site: Path) -> list[str]:
        html = (site / "claims" / "band-stretch" / "index.html").read_text(encoding="utf-8")
        body = html.split('class="md-content"', 1)[1]
        return sorted(set(re.findall(r'href="((?:\.\./)+[^"#]*)', body)))

    assert links(three_builds["zensical"]) == links(three_builds["mkdocs"])
    for href in links(three_builds["zensical"]):
        target = (three_builds["zensical"] / "claims" / "band-stretch" / href).resolve()
        assert target.exists() or (target / "index.html").exists(), href


@pytest.mark.parametrize(
    ("path", "old", "new", "located"),
    [
        pytest.param("docs/claims/band-stretch.md", 'quote: "The band cannot be stretched."',
                     'quote: "The band can never be stretched."', "docs/claims/band-stretch.md:4:1: claim-misquote",
                     id="misquote"),
        pytest.param("docs/claims/band-stretch.md", "  - ref: review2020", "  - ref: reveiw2020",
                     "docs/claims/band-stretch.md:32:1: claim-unknown-ref", id="unknown-evidence-ref"),
        pytest.param("docs/claims/band-stretch.md", "verdict: partly-supported", "verdict: supported",
                     "docs/claims/band-stretch.md:6:1: verdict-not-allowed", id="verdict-not-allowed"),
    ],
)
@pytest.mark.parametrize("command", ["mkdocs --strict", "mkdocs --strict -q", "properdocs --strict", "zensical"])
def test_every_engine_fails_on_the_same_faults(tmp_path: Path, command: str, path: str, old: str, new: str,
                                               located: str) -> None:
    root = tmp_path / "src"
    shutil.copytree(ROOTS / "claims", root)
    page = root / path
    text = page.read_text(encoding="utf-8")
    assert old in text
    page.write_text(text.replace(old, new, 1), encoding="utf-8")
    engine, *flags = command.split()
    if engine == "zensical":
        need(_has("zensical"), "Zensical is not installed (pip install -e '.[test]')")
        proc = _run([sys.executable, "-m", "evidencekb.cli", "build", "--engine", "zensical"], root)
        assert not (root / "site").exists()
    else:
        need(_has(engine), f"{engine} is not installed (pip install -e '.[test]')")
        proc = _run([sys.executable, "-m", engine, "build", *flags], root)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert located in proc.stdout + proc.stderr


@pytest.mark.slow
def test_the_real_site_builds_the_same_on_every_engine(built_site: Path, tmp_path: Path) -> None:
    work = tmp_path / "src"
    shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns(".venv", ".git", "site", ".cache", "node_modules",
                                                              "artifacts", "__pycache__", ".pytest_cache"))
    mk = _facts(built_site)
    for engine in ("properdocs", "zensical"):
        proc = _build(engine, work, tmp_path / engine)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        other = _facts(tmp_path / engine)
        assert set(mk) == set(other), engine
        assert [page for page in mk if mk[page] != other[page]] == [], engine
    assert not (work / "docs" / "references").exists()  # the staging happened outside the docs
