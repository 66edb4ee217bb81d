"""Each option of the plugin, one small site each: the sample claims project built with that
option set (and the files it names moved to match), and the effect asserted in the HTML.
Each test also shows the option matters: the same move without the option fails or differs."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import ROOTS, build_site

CLAIM_PAGE = "claims/band-stretch/index.html"


def _project(tmp_path: Path, root: str = "claims", moves: dict[str, str] | None = None, **options: object) -> Path:
    """A copy of a sample root with files moved and plugin options set."""
    src = tmp_path / "src" / root
    shutil.copytree(ROOTS / root, src, ignore=shutil.ignore_patterns(".cache", "site"))
    for old, new in (moves or {}).items():
        (src / new).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(src / old, src / new)
    cfg = yaml.safe_load((src / "mkdocs.yml").read_text(encoding="utf-8"))
    plugins = cfg["plugins"]
    i = next(i for i, p in enumerate(plugins) if p == "evidencekb" or (isinstance(p, dict) and "evidencekb" in p))
    current = plugins[i]["evidencekb"] if isinstance(plugins[i], dict) else {}
    plugins[i] = {"evidencekb": {**(current or {}), **options}}
    (src / "mkdocs.yml").write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return src


def _build(tmp_path: Path, src: Path, name: str = "out") -> tuple[Path, list[str]]:
    return build_site(src, tmp_path / name)


def _page(site: Path, rel: str = CLAIM_PAGE) -> str:
    return (site / rel).read_text(encoding="utf-8")


def _codes(warnings: list[str]) -> set[str]:
    return {m.group(1) for w in warnings if (m := re.search(r":\d+:\d+: ([a-z-]+):", w))}


def test_bibliography_names_the_files_to_read(tmp_path: Path) -> None:
    moves = {"references/sample.bib": "library/all.bib"}
    site, warnings = _build(tmp_path, _project(tmp_path, moves=moves, bibliography=["library/all.bib"]))
    assert 'href="#ref-review2020"' in _page(site) and "unknown-citation" not in _codes(warnings)
    _, warnings = _build(tmp_path, _project(tmp_path / "without", moves=moves), "without")
    assert "unknown-citation" in _codes(warnings) or "claim-unknown-ref" in _codes(warnings)


def test_style_sets_the_in_page_citations(tmp_path: Path) -> None:
    site, _ = _build(tmp_path, _project(tmp_path, style="apa"))
    assert re.search(r'href="#ref-review2020"[^>]*>Reviewer, 2020</a>', _page(site))
    site, _ = _build(tmp_path, _project(tmp_path / "ama"), "ama")
    assert re.search(r'href="#ref-review2020"[^>]*>1</a>', _page(site))


def test_styles_are_the_copyable_styles_of_a_reference_page(tmp_path: Path) -> None:
    site, _ = _build(tmp_path, _project(tmp_path, styles=["apa"]))
    ref = _page(site, "references/review2020/index.html")
    assert "APA" in ref and "Vancouver" not in ref and "NLM" not in ref
    site, _ = _build(tmp_path, _project(tmp_path / "default"), "default")
    assert "NLM" in _page(site, "references/review2020/index.html") or \
        "Vancouver" in _page(site, "references/review2020/index.html")


def test_references_title_heads_each_reference_list(tmp_path: Path) -> None:
    site, _ = _build(tmp_path, _project(tmp_path, references_title="Sources"))
    assert '<h2 id="references">Sources</h2>' in _page(site)


def test_article_names_the_page_the_claims_quote(tmp_path: Path) -> None:
    moves = {"docs/article.md": "docs/essay.md"}
    src = _project(tmp_path, moves=moves, article="essay.md")
    (src / "mkdocs.yml").write_text((src / "mkdocs.yml").read_text(encoding="utf-8").replace("article.md", "essay.md"),
                                    encoding="utf-8")
    site, warnings = _build(tmp_path, src)
    assert "claim-misquote" not in _codes(warnings)
    assert 'href="../../essay/#claim-band-stretch"' in _page(site)
    assert 'id="claim-band-stretch"' in _page(site, "essay/index.html")


def test_claims_dir_names_the_folder_of_claim_pages(tmp_path: Path) -> None:
    src = _project(tmp_path, moves={"docs/claims": "docs/evidence"}, claims_dir="evidence")
    (src / "mkdocs.yml").write_text((src / "mkdocs.yml").read_text(encoding="utf-8").replace("claims/", "evidence/"),
                                    encoding="utf-8")
    site, _ = _build(tmp_path, src)
    assert 'class="ekb-claim-quote"' in _page(site, "evidence/band-stretch/index.html")


def test_screening_dir_names_the_folder_of_screening_logs(tmp_path: Path) -> None:
    moves = {"screening": "logs"}
    _, warnings = _build(tmp_path, _project(tmp_path, moves=moves, screening_dir="logs"))
    assert "screening-missing" not in _codes(warnings)
    _, warnings = _build(tmp_path, _project(tmp_path / "without", moves=moves), "without")
    assert "screening-missing" in _codes(warnings)


def test_risk_of_bias_names_the_judgements_file(tmp_path: Path) -> None:
    moves = {"references/risk-of-bias.yaml": "appraisal/rob.yaml"}
    site, warnings = _build(tmp_path, _project(tmp_path, moves=moves, risk_of_bias="appraisal/rob.yaml"))
    assert "rob-missing" not in _codes(warnings) and "AMSTAR 2" in _page(site)
    _, warnings = _build(tmp_path, _project(tmp_path / "without", moves=moves), "without")
    assert "rob-missing" in _codes(warnings)


def test_mcid_names_the_table_of_minimal_important_differences(tmp_path: Path) -> None:
    moves = {"references/mcid.yaml": "appraisal/mid.yaml"}
    site, warnings = _build(tmp_path, _project(tmp_path, "forest", moves=moves, mcid="appraisal/mid.yaml"))
    assert "effect-unknown-scale" not in _codes(warnings) and "minimal important difference 10 mm" in _page(site)
    _, warnings = _build(tmp_path, _project(tmp_path / "without", "forest", moves=moves), "without")
    assert "effect-unknown-scale" in _codes(warnings)


@pytest.mark.parametrize(("generate", "which", "pages"), [
    (True, "cited", {"review2020", "cadaver2019"}), (True, "none", set()), (False, "cited", set())])
def test_generate_pages_and_reference_pages_choose_the_pages_made(tmp_path: Path, generate: bool, which: str,
                                                                 pages: set[str]) -> None:
    src = _project(tmp_path, generate_pages=generate, reference_pages=which)
    with (src / "references" / "sample.bib").open("a", encoding="utf-8") as f:
        f.write("\n@book{uncited2001, author = {A, B}, title = {X}, publisher = {P}, year = {2001}}\n")
    site, _ = _build(tmp_path, src)
    made = {p.parent.name for p in (site / "references").glob("*/index.html")} if (site / "references").exists() else set()
    assert made == pages
    assert (site / "evidence-map" / "index.html").exists() is generate


def test_reference_pages_all_gives_uncited_entries_a_page(tmp_path: Path) -> None:
    src = _project(tmp_path, reference_pages="all")
    with (src / "references" / "sample.bib").open("a", encoding="utf-8") as f:
        f.write("\n@book{uncited2001, author = {A, B}, title = {X}, publisher = {P}, year = {2001}}\n")
    site, _ = _build(tmp_path, src)
    assert (site / "references" / "uncited2001" / "index.html").exists()


def test_owner_contact_and_licence_fill_the_footer(tmp_path: Path) -> None:
    site, _ = _build(tmp_path, _project(tmp_path, owner="The <Editors>", contact="eds@example.org", licence="CC0"))
    home = _page(site, "index.html")
    assert "Published by The &lt;Editors&gt;" in home and 'href="mailto:eds@example.org"' in home
    assert "Text licensed CC0" in home and "Evidence last reviewed 2026-11-26" in home


def test_reviewers_are_named_on_claim_pages(tmp_path: Path) -> None:
    site, _ = _build(tmp_path, _project(tmp_path, reviewers=["A. Reviewer, physiotherapist", "B. Second, GP"]))
    assert "by A. Reviewer, physiotherapist; B. Second, GP" in _page(site)


@pytest.mark.parametrize("cache", [True, False])
def test_cache_keeps_or_skips_the_cache_folder(tmp_path: Path, cache: bool) -> None:
    site, _ = _build(tmp_path, _project(tmp_path, cache=cache))
    assert (site.parent / ".cache" / "evidencekb").is_dir() is cache
