"""Claim records drive the generated pages, and the build fails, located, on each fault."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import ROOTS, build_site
from mkdocs.exceptions import Abort


def test_pages_build_from_the_records(site_builder) -> None:  # type: ignore[no-untyped-def]
    site, warnings = site_builder("claims", strict=True)
    assert [w for w in warnings if "error" in w.lower()] == []
    claim = (site / "claims" / "band-stretch" / "index.html").read_text(encoding="utf-8")
    assert "Verdict: </span>Partly supported" in claim and "Low certainty" in claim
    assert "One review found that stretching did not change the band&#39;s stiffness." in claim  # the bottom line
    assert "Searched to 2026-11-26: 3 records screened, 2 included." in claim
    assert "Summary of findings" in claim and "Risk of bias (-1): The trials were not blinded." in claim
    assert "starts high (randomised trials); risk of bias -1; imprecision -1: low" in claim
    assert "ekb-prisma-svg" in claim and "Records excluded: 1 (wrong population 1)" in claim
    assert "Evidence for the claim (1)" in claim and "Evidence against the claim (0)" in claim
    assert "For clients, in plain words" in claim and "Review and history" in claim
    assert 'href="../../article/#claim-band-stretch"' in claim
    assert "AMSTAR 2: high confidence" in claim
    ref = (site / "references" / "review2020" / "index.html").read_text(encoding="utf-8")
    assert "Cited by" in ref and "Partly supported" in ref and "Supports" in ref and "Abstract" in ref
    assert "Protocol registered before the review (critical)" in ref  # the judgement item by item
    article = (site / "article" / "index.html").read_text(encoding="utf-8")
    assert 'id="claim-band-stretch"' in article and "claim&nbsp;1: Partly supported" in article and "ekb-legend" in article
    assert "<svg" in (site / "evidence-map" / "index.html").read_text(encoding="utf-8")
    assert "Treatment" in (site / "topics" / "index.html").read_text(encoding="utf-8")
    index = (site / "claims" / "index.html").read_text(encoding="utf-8")
    assert 'href="band-stretch/"' in index and "ekb-bottom-line" in index
    searches = (site / "searches" / "index.html").read_text(encoding="utf-8")
    assert "Records identified: 3" in searches
    bibliography = (site / "bibliography" / "index.html").read_text(encoding="utf-8")
    assert 'data-design="systematic-review"' in bibliography and 'data-design="cadaver"' in bibliography
    data = json.loads((site / "claims.json").read_text(encoding="utf-8"))
    (record,) = data["claims"]
    assert record["allowed_verdicts"] == ["partly-supported"]
    assert record["outcomes"][0]["grade"]["risk-of-bias"] == {"rating": -1, "reason": "The trials were not blinded."}
    assert record["evidence"][0]["reference"]["doi"] == "10.5555/review"
    assert record["evidence"][0]["risk_of_bias"]["summary"] == "high confidence"


@pytest.mark.parametrize(
    ("path", "old", "new", "expected"),
    [
        pytest.param("docs/claims/band-stretch.md", 'quote: "The band cannot be stretched."',
                     'quote: "The band can never be stretched."',
                     "docs/claims/band-stretch.md:4:1: claim-misquote: quote is not verbatim in docs/article.md. "
                     'Closest passage: "The band cannot be stretched. It"', id="wrong-quote"),
        pytest.param("docs/claims/band-stretch.md", "  - ref: cadaver2019", "  - ref: cadavre2019",
                     "docs/claims/band-stretch.md:41:1: claim-unknown-ref: evidence 'ref: cadavre2019' is not a key "
                     "in any .bib file. Did you mean 'cadaver2019'?", id="unknown-reference"),
        pytest.param("docs/claims/band-stretch.md", "    stance: supports", "    stance: context",
                     "docs/claims/band-stretch.md:6:1: verdict-not-allowed: verdict 'partly-supported' is not one the "
                     "direct evidence allows (no direct study tested the claim); allowed: untested.",
                     id="verdict-without-direct-evidence"),
        pytest.param("docs/claims/band-stretch.md", "    certainty: low\n", "    certainty: moderate\n",
                     "docs/claims/band-stretch.md:23:1: grade-mismatch: outcome 'stiffness' is stated 'moderate' but "
                     "its judgements give 'low'", id="certainty-above-judgements"),
        pytest.param("docs/claims/band-stretch.md", "    directness: {population: direct, intervention: direct, "
                     "outcome: direct}", "    directness: {population: indirect, intervention: direct, outcome: "
                     "direct, reason: Healthy adults.}",
                     "docs/claims/band-stretch.md:6:1: verdict-not-allowed", id="indirect-only"),
        pytest.param("screening/band-stretch.yaml", "    decision: included\n  - id: cadaver2019",
                     "    decision: excluded\n    reason: wrong-design\n  - id: cadaver2019",
                     "docs/claims/band-stretch.md:32:1: screening-not-included: 'review2020' is evidence but not an "
                     "included record of screening/band-stretch.yaml", id="not-in-screening-log"),
        pytest.param("references/risk-of-bias.yaml", "review2020:", "other2020:",
                     "docs/claims/band-stretch.md:32:1: rob-missing", id="no-risk-of-bias"),
    ],
)
def test_each_fault_fails_the_strict_build_with_a_located_message(tmp_path: Path, path: str, old: str, new: str,
                                                                  expected: str) -> None:
    root = tmp_path / "src"
    shutil.copytree(ROOTS / "claims", root)
    page = root / path
    text = page.read_text(encoding="utf-8")
    assert old in text
    page.write_text(text.replace(old, new, 1), encoding="utf-8")
    _, warnings = build_site(root, tmp_path / "lenient")
    assert any(w.startswith("evidencekb: " + expected) for w in warnings), warnings
    with pytest.raises(Abort):
        build_site(root, tmp_path / "strict", strict=True)
    from evidencekb.cli import run_checks

    assert any(str(d).replace(" error ", " ").startswith(expected) for d in run_checks(root)), \
        "evidencekb check and the build must agree"
