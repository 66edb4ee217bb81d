"""Every diagnostic code, one small fault each: a clean sample project with one change made,
checked as `evidencekb check` and the build check it (in process), must report exactly that
code at the line that holds the fault, and nothing else of error severity. Codes that need a
build, a network or an unreadable file are tested where those are (named below)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import ROOTS

from evidencekb.diagnostics import CODES

BIB = "references/sample.bib"
CLAIM = "docs/claims/band-stretch.md"
LOG = "screening/band-stretch.yaml"
ROB = "references/risk-of-bias.yaml"
MCID = "references/mcid.yaml"
REVIEW_DOI = "  doi = {10.5555/review},\n"

END = "<end>"  # as the text to find: append the replacement to the file
COUNTED_CADAVER = ("    stance: context\n    population: cadaver",
                   "    outcome: stiffness\n    stance: supports\n    population: cadaver\n"
                   "    directness: {population: direct, intervention: direct, outcome: direct}")

#: code -> (edits: (file, text to find, replacement) each, where the fault is: (file, line),
#: other error codes the same fault necessarily brings)
FAULTS: dict[str, tuple[list[tuple[str, str | None, str]], tuple[str, int], set[str]]] = {
    "bib-abbreviated-pages": ([(BIB, REVIEW_DOI, REVIEW_DOI + "  pages = {1234--56},\n")], (BIB, 8), set()),
    "bib-bad-identifier": ([(BIB, REVIEW_DOI, REVIEW_DOI + "  pmid = {12a4},\n")], (BIB, 8), set()),
    "bib-bad-key": ([(BIB, END, "@book{odd`key, author = {A, B}, title = {X}, publisher = {P}, year = {2001}}\n")],
                    (BIB, 21), set()),
    "bib-bad-year": ([(BIB, "  year = {2019},", "  year = {20x9},")], (BIB, 16), set()),
    "bib-doi-prefix": ([(BIB, "  doi = {10.5555/cadaver},", "  doi = {https://doi.org/10.5555/cadaver},")],
                       (BIB, 17), set()),
    "bib-duplicate-field": ([(BIB, "  year = {2019},", "  year = {2019},\n  Year = {2018},")], (BIB, 17), set()),
    "bib-duplicate-key": ([(BIB, END, "@book{Review2020, author = {A, B}, title = {X}, publisher = {P}, "
                                      "year = {2001}}\n")], (BIB, 21), set()),
    "bib-missing-field": ([(BIB, "  journal = {J Test},\n  year = {2019},", "  year = {2019},")], (BIB, 12), set()),
    "bib-no-identifier": ([(BIB, "  doi = {10.5555/cadaver},\n", "")], (BIB, 12), set()),
    "bib-odd-year": ([(BIB, "  year = {2019},", "  year = {August, 2019},")], (BIB, 16), set()),
    "bib-syntax": ([(BIB, END, "@book{broken, title = {Unclosed\n")], (BIB, 21), set()),
    "bib-unknown-design": ([(BIB, "  design = {cadaver},", "  design = {anecdote},")], (BIB, 18), set()),
    "bib-unknown-parent": ([(BIB, "  design = {cadaver},", "  design = {cadaver},\n  crossref = {nowhere},")],
                           (BIB, 19), set()),
    "bib-unknown-string": ([(BIB, "  journal = {J Test},\n  year = {2019},", "  journal = jtest,\n  year = {2019},")],
                           (BIB, 15), set()),
    "claim-invalid": ([(CLAIM, "topic: treatment", "topic: astrology")], (CLAIM, 5), set()),
    "claim-misquote": ([(CLAIM, 'quote: "The band cannot be stretched."', 'quote: "The band can never be stretched."')],
                       (CLAIM, 4), set()),
    # an unknown key cannot be an included record of the screening log either
    "claim-unknown-ref": ([(CLAIM, "  - ref: cadaver2019", "  - ref: cadavre2019")], (CLAIM, 41),
                          {"screening-not-included", "screening-unused"}),
    "effect-unknown-scale": ([(CLAIM, "    n: 120\n", "    n: 120\n    effects:\n      - {measure: mean-difference, "
                               "estimate: 1, ci: [0, 2], unit: mm, n: 120, scale: vas}\n")], (CLAIM, 39), set()),
    "evidence-misquote": ([(CLAIM, '"Stretching did not change band stiffness in any trial."',
                            '"Stretching changed band stiffness in every trial."')], (CLAIM, 40), set()),
    "grade-double-count": ([(CLAIM, *COUNTED_CADAVER), (ROB, "  designs: [rct]", "  designs: [rct]\n  includes: [cadaver2019]"),
                            (ROB, END, "cadaver2019:\n  tool: note\n  reason: r\n  items: {sample: low, "
                                       "measurement: low, analysis: low}\n"),
                            # a cadaver study in the body: GRADE starts low, two steps down
                            (CLAIM, "    certainty: low\n", "    certainty: very-low\n"),
                            (CLAIM, "certainty: low\n", "certainty: very-low\n")], (CLAIM, 32), set()),
    "grade-hint": ([(CLAIM, "    directness: {population: direct, intervention: direct, outcome: direct}",
                     "    directness: {population: indirect, intervention: direct, outcome: direct, reason: Healthy.}"),
                    (CLAIM, "override: null", "override: The indirect review is all there is.")], (CLAIM, 20), set()),
    "grade-mismatch": ([(CLAIM, "    certainty: low\n", "    certainty: moderate\n")], (CLAIM, 23), set()),
    "grade-no-reason": ([(CLAIM, "{rating: -1, reason: Few participants.}", "{rating: -1}")], (CLAIM, 26), set()),
    "grade-upgrade": ([(CLAIM, "      imprecision: {rating: -1, reason: Few participants.}",
                        "      imprecision: {rating: -1, reason: Few participants.}\n"
                        "      large-effect: {rating: 1, reason: Big.}"),
                       (CLAIM, "    certainty: low\n", "    certainty: moderate\n"),
                       (CLAIM, "certainty: low\n", "certainty: moderate\n")], (CLAIM, 20), set()),
    "mcid-invalid": ([(MCID, END, "vas:\n  value: lots\n")], (MCID, 2), set()),
    "rob-invalid": ([(ROB, "  tool: amstar2", "  tool: amstar3")], (ROB, 2), set()),
    # without its record the review is no longer known to hold randomised trials: GRADE starts lower
    "rob-missing": ([(ROB, "review2020:", "unused2020:")], (CLAIM, 32), {"grade-mismatch", "rob-unknown-ref"}),
    "rob-unknown-ref": ([(ROB, END, "nobody2021:\n  tool: note\n  reason: r\n  items: {sample: low, "
                                    "measurement: low, analysis: low}\n")], (ROB, 7), set()),
    "screening-invalid": ([(LOG, "    reason: wrong-population", "    reason: boredom")], (LOG, 17), set()),
    "screening-missing": ([(LOG, None, "")], (CLAIM, 31), set()),
    "screening-not-included": ([(LOG, "    decision: included\n  - id: cadaver2019",
                                 "    decision: excluded\n    reason: wrong-design\n  - id: cadaver2019")],
                               (CLAIM, 32), set()),
    "screening-unscreened": ([(LOG, END, "  - id: new\n    title: New\n    decision: unscreened\n")], (LOG, 18), set()),
    "screening-unused": ([(CLAIM, "  - ref: cadaver2019\n    stance: context\n    population: cadaver\n    n: 10\n"
                                  "    finding: The band is anchored.\n", "")], (LOG, 7), set()),
    "search-outdated": ([(CLAIM, "    date: 2026-11-26", "    date: 2026-10-01")], (CLAIM, 46), set()),
    "uncited-entry": ([(BIB, END, "@book{lonely, author = {A, B}, title = {X}, publisher = {P}, year = {2001}}\n")],
                      (BIB, 21), set()),
    "unknown-citation": ([(CLAIM, "The review [@review2020]", "The review [@review2021]")], (CLAIM, 53), set()),
    "verdict-not-allowed": ([(CLAIM, "verdict: partly-supported", "verdict: supported")], (CLAIM, 6), set()),
}

#: Codes a clean project cannot show in a check, and the tests that show them.
ELSEWHERE = {
    "bib-read": "tests/test_bibliography.py (a file that is not UTF-8)",
    "page-markup-lost": "tests/test_plugin.py (a template that drops the marks; needs a build)",
    "verify-mismatch": "tests/test_living.py (evidencekb verify against a local server)",
    "verify-not-found": "tests/test_living.py",
    "verify-retracted": "tests/test_living.py",
}


def test_every_code_has_its_fault_here_or_its_test_elsewhere() -> None:
    assert set(FAULTS) | set(ELSEWHERE) == set(CODES) and not set(FAULTS) & set(ELSEWHERE)


def _checked(tmp_path: Path, edits: list[tuple[str, str | None, str]]) -> list:  # type: ignore[type-arg]
    from evidencekb.cli import run_checks

    root = tmp_path / "p"
    shutil.copytree(ROOTS / "claims", root, ignore=shutil.ignore_patterns(".cache", "site"))
    for path, old, new in edits:
        target = root / path
        if old is None:
            target.unlink()
            continue
        text = target.read_text(encoding="utf-8") if target.exists() else ""
        if old == END:
            text = text + ("" if not text or text.endswith("\n") else "\n") + new
        else:
            assert old in text, (path, old)
            text = text.replace(old, new, 1)
        target.write_text(text, encoding="utf-8")
    return run_checks(root)


def test_the_sample_project_is_clean(tmp_path: Path) -> None:
    assert _checked(tmp_path, []) == []


@pytest.mark.parametrize("code", sorted(FAULTS))
def test_one_fault_gives_its_code_at_its_line(tmp_path: Path, code: str) -> None:
    edits, (where, line), brought = FAULTS[code]
    diags = _checked(tmp_path, edits)
    assert (where, line, code) in [(d.path, d.line, d.code) for d in diags], [str(d) for d in diags]
    assert all(d.col >= 1 and d.message.rstrip()[-1:] in (".", "?", ")", "'", '"') for d in diags), diags
    others = [str(d) for d in diags if d.code != code and d.code not in brought and d.severity.value == "error"]
    assert others == [], "one fault, one error code"
