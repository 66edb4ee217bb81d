"""Claim records drive the generated pages, and the build fails, located, on each fault."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from mkdocs.exceptions import Abort

from conftest import ROOTS, build_site


def test_pages_build_from_the_records(site_builder) -> None:  # type: ignore[no-untyped-def]
    site, warnings = site_builder("claims", strict=True)
    assert warnings == []
    claim = (site / "claims" / "band-stretch" / "index.html").read_text(encoding="utf-8")
    assert "Verdict: Partly supported" in claim and "Certainty: Low" in claim
    assert "Strongest verdict the evidence allows (computed)" in claim and "<strong>Supported</strong>" in claim
    assert "Evidence for the claim (1)" in claim and "Evidence against the claim (0)" in claim
    assert "For clients, in plain words" in claim and "Review and history" in claim
    assert 'href="../../article/#claim-band-stretch"' in claim
    ref = (site / "references" / "review2020" / "index.html").read_text(encoding="utf-8")
    assert "Cited by" in ref and "Partly supported" in ref and "Supports" in ref and "Abstract" in ref
    article = (site / "article" / "index.html").read_text(encoding="utf-8")
    assert 'id="claim-band-stretch"' in article and "claim 1: Partly supported" in article
    assert "Evidence map" in (site / "evidence-map" / "index.html").read_text(encoding="utf-8")
    assert "<svg" in (site / "evidence-map" / "index.html").read_text(encoding="utf-8")
    assert "Treatment" in (site / "topics" / "index.html").read_text(encoding="utf-8")
    bibliography = (site / "bibliography" / "index.html").read_text(encoding="utf-8")
    assert 'data-design="systematic-review"' in bibliography and 'data-design="cadaver"' in bibliography
    data = json.loads((site / "claims.json").read_text(encoding="utf-8"))
    (record,) = data["claims"]
    assert record["ceiling"]["verdict"] == "supported"
    assert record["evidence"][0]["reference"]["doi"] == "10.5555/review"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param('quote: "The band cannot be stretched."', 'quote: "The band can never be stretched."',
                     "docs/claims/band-stretch.md:4:1: claim-misquote: quote is not verbatim in docs/article.md. "
                     'Closest passage: "The band cannot be stretched. It"', id="wrong-quote"),
        pytest.param("  - ref: cadaver2019", "  - ref: cadavre2019",
                     "docs/claims/band-stretch.md:19:1: claim-unknown-ref: evidence 'ref: cadavre2019' is not a key "
                     "in any .bib file. Did you mean 'cadaver2019'?", id="unknown-reference"),
        pytest.param("    stance: supports", "    stance: context",
                     "docs/claims/band-stretch.md:6:1: verdict-above-ceiling: verdict 'partly-supported' is above the "
                     "ceiling 'untested'", id="verdict-above-ceiling"),
    ],
)
def test_each_fault_fails_the_strict_build_with_a_located_message(tmp_path: Path, old: str, new: str, expected: str) -> None:
    root = tmp_path / "src"
    shutil.copytree(ROOTS / "claims", root)
    page = root / "docs" / "claims" / "band-stretch.md"
    text = page.read_text(encoding="utf-8")
    assert old in text
    page.write_text(text.replace(old, new, 1), encoding="utf-8")
    _, warnings = build_site(root, tmp_path / "lenient")
    assert any(w.startswith("evidencekb: " + expected) for w in warnings), warnings
    with pytest.raises(Abort):
        build_site(root, tmp_path / "strict", strict=True)
