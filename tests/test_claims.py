"""Claim records: validation with located messages, the verdict ceiling, quote checks."""

from __future__ import annotations

import pytest

from evidencekb import ceiling
from evidencekb.bibliography import load_text
from evidencekb.checks import check_ceilings, check_claim_quotes, check_evidence_quotes
from evidencekb.claims import parse_claim
from evidencekb.quotes import closest, find

BIB = load_text([("r.bib", """
@article{sr, author={A, B}, title={T}, journal={J}, year={2020}, doi={10.5555/1}, design={systematic-review},
  abstract={Foam rolling did not change {ITB} stiffness. It’s a “test” — really.}}
@article{cs, author={A, B}, title={T}, journal={J}, year={2020}, doi={10.5555/2}, design={cross-sectional}}
@article{op, author={A, B}, title={T}, journal={J}, year={2020}, doi={10.5555/3}, design={expert-opinion}}
""")])

GOOD = """---
claim: A claim.
quote: "It's a thick band"
topic: anatomy
verdict: supported
certainty: moderate
evidence:
  - ref: sr
    stance: supports
    population: healthy
    n: 30
    finding: It found something.
    quote: "did not change ITB stiffness"
reviewed: 2026-11-26
override: null
history:
  - date: 2026-11-26
    change: First review.
---
Body.
"""


def test_good_record_parses() -> None:
    claim, errs = parse_claim(GOOD, "docs/claims/x.md", "x", BIB.entries)
    assert errs == []
    assert claim is not None and claim.verdict == "supported" and claim.evidence[0].n == 30
    assert claim.body.strip() == "Body."


@pytest.mark.parametrize(
    ("old", "new", "line", "fragment"),
    [
        pytest.param("topic: anatomy", "topic: anatomy\ncolour: red", 5, "unknown field 'colour'", id="unknown-field"),
        pytest.param("verdict: supported", "verdict: proven", 5, "allowed values: supported, partly-supported", id="bad-verdict"),
        pytest.param("certainty: moderate", "certainty: 3", 6, "allowed values: high, moderate", id="wrong-type"),
        pytest.param("    n: 30", "    n: thirty", 11, "field 'n' must be a whole number", id="bad-n"),
        pytest.param("stance: supports", "stance: agrees", 9, "allowed values: supports, contradicts", id="bad-stance"),
        pytest.param("  - ref: sr", "  - ref: rs", 8, "not a key in any .bib file", id="unknown-ref"),
        pytest.param("reviewed: 2026-11-26", "reviewed: last week", 14, "must be a date", id="bad-date"),
        pytest.param("    finding: It found something.\n", "    findings: x\n", 12, "unknown evidence field 'findings'", id="unknown-evidence-field"),
    ],
)
def test_invalid_records_are_located(old: str, new: str, line: int, fragment: str) -> None:
    _, errs = parse_claim(GOOD.replace(old, new, 1), "docs/claims/x.md", "x", BIB.entries)
    assert any(e.line == line and fragment in e.message and e.path == "docs/claims/x.md" for e in errs), errs


def test_missing_front_matter() -> None:
    claim, errs = parse_claim("# Just a page\n", "docs/claims/x.md", "x", BIB.entries)
    assert claim is None and errs[0].code == "claim-invalid"


# (stance, design) pairs -> expected (verdict ceiling, certainty ceiling)
CEILING_CASES = [
    pytest.param([], ("untested", "very-low"), id="no-evidence"),
    pytest.param([("context", "systematic-review")], ("untested", "very-low"), id="context-only"),
    pytest.param([("contradicts", "rct")], ("not-supported", "moderate"), id="only-against"),
    pytest.param([("supports", "systematic-review")], ("supported", "moderate"), id="one-review-for"),
    pytest.param([("supports", "rct"), ("supports", "systematic-review")], ("supported", "high"), id="two-top-tier"),
    pytest.param([("supports", "cross-sectional"), ("supports", "cohort")], ("supported", "moderate"), id="two-tier-2"),
    pytest.param([("supports", "cross-sectional")], ("partly-supported", "low"), id="one-tier-2"),
    pytest.param([("supports", "expert-opinion")], ("partly-supported", "very-low"), id="opinion-only"),
    pytest.param([("supports", "cadaver"), ("contradicts", "systematic-review")], ("contested", "moderate"),
                 id="stronger-against"),
    pytest.param([("supports", "cohort"), ("contradicts", "cohort")], ("contested", "moderate"), id="tie-same-tier"),
    pytest.param([("supports", "cohort"), ("supports", "cadaver"), ("contradicts", "cohort")],
                 ("partly-supported", "moderate"), id="more-for-same-tier"),
    pytest.param([("mixed", "systematic-review")], ("contested", "moderate"), id="mixed-counts-both-ways"),
    pytest.param([("supports", "rct"), ("contradicts", "case-series")], ("supported", "moderate"), id="weak-against"),
]


@pytest.mark.parametrize(("items", "expected"), CEILING_CASES)
def test_ceiling_rule(items: list[tuple[str, str]], expected: tuple[str, str]) -> None:
    c = ceiling.compute(items)
    assert (c.verdict, c.certainty) == expected


@pytest.mark.parametrize(
    ("verdict", "limit", "exceeds"),
    [("supported", "partly-supported", True), ("contested", "supported", False), ("not-supported", "untested", True),
     ("untested", "not-supported", False), ("partly-supported", "partly-supported", False)],
)
def test_verdict_order(verdict: str, limit: str, exceeds: bool) -> None:
    assert ceiling.verdict_exceeds(verdict, limit) is exceeds


def test_verdict_above_ceiling_fails_unless_overridden() -> None:
    text = GOOD.replace("design", "").replace("ref: sr", "ref: cs").replace('    quote: "did not change ITB stiffness"\n', "")
    claim, _ = parse_claim(text, "docs/claims/x.md", "x", BIB.entries)
    assert claim is not None
    (d,) = [d for d in check_ceilings([claim], BIB) if "verdict" in d.message]
    assert (d.code, d.line) == ("verdict-above-ceiling", 5)
    assert "ceiling 'partly-supported'" in d.message
    claim.override = "Reason given."
    assert check_ceilings([claim], BIB) == []


def test_claim_quote_must_be_in_article() -> None:
    article = "It’s a thick,  dense strip — fascia — running from the hip."
    claim, _ = parse_claim(GOOD.replace("It's a thick band", "It's a thick, dense strip -- fascia"), "c.md", "x", BIB.entries)
    assert claim is not None and check_claim_quotes([claim], article, "a.md") == []
    claim.quote = "It's a thin, dense strip"
    (d,) = check_claim_quotes([claim], article, "a.md")
    assert d.code == "claim-misquote" and d.line == 3 and "Closest passage: \"It's a thick, dense strip" in d.message


def test_evidence_quote_must_be_in_abstract() -> None:
    claim, _ = parse_claim(GOOD, "c.md", "x", BIB.entries)
    assert claim is not None and check_evidence_quotes([claim], BIB) == []
    claim.evidence[0].quote = "changed ITB stiffness"
    (d,) = check_evidence_quotes([claim], BIB)
    assert d.code == "evidence-misquote" and d.line == 8


@pytest.mark.parametrize(
    ("quote", "text"),
    [("it's a “test” - really", "It’s a \"test\" — really"), ("a  b\nc", "x a b c y"), ("don't", "don’t")],
)
def test_quote_normalisation(quote: str, text: str) -> None:
    assert find(quote.replace("it's", "It’s"), text) is not None


def test_closest_passage() -> None:
    assert closest("the quick brown cat", "we saw the quick brown fox jump") == "the quick brown fox"
