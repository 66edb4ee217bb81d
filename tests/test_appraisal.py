"""The appraisal model: GRADE per outcome, the verdict rule, risk-of-bias tools, screening logs."""

from __future__ import annotations

import pytest

from evidencekb import grade, rob, screening
from evidencekb.bibliography import load_text
from evidencekb.checks import check_appraisal, check_screening
from evidencekb.claims import Claim, Directness, EvidenceItem, Outcome, Rating, Search
from evidencekb.mcid import parse as parse_mcid

BIB = load_text([("r.bib", "\n".join(
    f"@article{{{k}, author={{A, B}}, title={{T}}, journal={{J}}, year={{2020}}, doi={{10.5555/{k}}}, design={{{d}}}}}"
    for k, d in [("t1", "rct"), ("t2", "rct"), ("o1", "cohort"), ("o2", "case-control"), ("c1", "cadaver"),
                 ("sr", "systematic-review")]))])
DIRECT = Directness()
INDIRECT = Directness("indirect", "direct", "direct", "Healthy volunteers.")


def item(ref: str, stance: str = "supports", outcome: str = "o", direct: bool = True, n: int | None = 10) -> EvidenceItem:
    return EvidenceItem(ref, stance, "runners", n, "found", "", 7, outcome, "", DIRECT if direct else INDIRECT)


def claim(items: list[EvidenceItem], *, kind: str = "intervention", certainty: str = "high",
          ratings: dict[str, int] | None = None, verdict: str = "supported") -> Claim:
    g = {d: Rating(r, "why" if r else "") for d, r in (ratings or {}).items()}
    o = Outcome("o", "Pain", kind, True, certainty, g, 3, {"certainty": 4})
    return Claim("x", "docs/claims/x.md", verdict=verdict, certainty=certainty, evidence=items, outcomes=[o],
                 lines={"verdict": 2, "certainty": 3}, reviewed="2026-11-01",
                 searches=[Search("pubmed", "x", "2026-11-01", 3)])


@pytest.mark.parametrize(
    ("refs", "kind", "ratings", "expected"),
    [
        pytest.param(["t1", "t2"], "intervention", {}, "high", id="trials-start-high"),
        pytest.param(["o1"], "intervention", {}, "low", id="observational-start-low"),
        pytest.param(["t1", "o1"], "intervention", {}, "low", id="mixed-body-starts-low"),
        pytest.param(["c1"], "measurement", {}, "high", id="measurement-starts-high"),
        pytest.param(["t1"], "intervention", {"risk-of-bias": -1, "imprecision": -2}, "very-low", id="floored"),
        pytest.param(["t1"], "intervention", {"risk-of-bias": -1}, "moderate", id="one-down"),
        pytest.param(["o1"], "association", {"large-effect": 1}, "moderate", id="rated-up"),
        pytest.param(["t1"], "intervention", {"large-effect": 2}, "high", id="capped-at-high"),
        pytest.param([], "intervention", {}, "very-low", id="no-studies"),
    ],
)
def test_grade_certainty(refs: list[str], kind: str, ratings: dict[str, int], expected: str) -> None:
    c = claim([item(r) for r in refs], kind=kind, ratings=ratings)
    designs = {r: BIB[r].design for r in refs}
    assert grade.compute(c.outcomes[0], c.body_of("o"), designs).certainty == expected


def test_review_of_trials_starts_high() -> None:
    c = claim([item("sr")])
    assert grade.compute(c.outcomes[0], c.body_of("o"), {"sr": "systematic-review"}).certainty == "low"
    assert grade.compute(c.outcomes[0], c.body_of("o"), {"sr": "systematic-review"}, frozenset({"sr"})).certainty == "high"


def test_context_items_do_not_count() -> None:
    c = claim([item("t1"), item("o1", "context")])
    assert [it.ref for it in c.body_of("o")] == ["t1"]


@pytest.mark.parametrize(
    ("items", "certainty", "allowed"),
    [
        pytest.param([], "very-low", ("untested",), id="nothing"),
        pytest.param([("supports", False), ("contradicts", False)], "low", ("untested",), id="indirect-only"),
        pytest.param([("supports", True)], "moderate", ("supported", "partly-supported"), id="direct-support"),
        pytest.param([("supports", True)], "low", ("partly-supported",), id="support-at-low-certainty"),
        pytest.param([("contradicts", True)], "low", ("not-supported",), id="direct-against"),
        pytest.param([("supports", True), ("contradicts", True)], "low",
                     ("partly-supported", "contested", "not-supported"), id="direct-disagree"),
        pytest.param([("mixed", True)], "low", ("partly-supported", "contested"), id="mixed"),
        pytest.param([("contradicts", True), ("supports", False)], "low", ("not-supported",),
                     id="indirect-support-cannot-contest"),
        pytest.param([("context", True)], "low", ("untested",), id="context-only"),
    ],
)
def test_verdict_rule(items: list[tuple[str, bool]], certainty: str, allowed: tuple[str, ...]) -> None:
    c = claim([item(f"t{i}", s, direct=d) for i, (s, d) in enumerate(items)], certainty=certainty)
    assert grade.verdict_rule(c).allowed == allowed


def test_indirect_only_claim_called_contested_fails_located() -> None:
    c = claim([item("t1", "supports", direct=False), item("o1", "contradicts", direct=False)],
              kind="association", certainty="very-low", verdict="contested",
              ratings={"indirectness": -1})
    diags = check_appraisal(c, BIB, {}, {})
    (d,) = [d for d in diags if d.code == "verdict-not-allowed"]
    assert d.line == 2 and "no direct study tested the claim" in d.message and "allowed: untested" in d.message
    c.override = "Because."
    assert not [d for d in check_appraisal(c, BIB, {}, {}) if d.code == "verdict-not-allowed"]


def test_stated_certainty_above_judgements_fails_located() -> None:
    c = claim([item("o1")], certainty="moderate", verdict="partly-supported")
    diags = check_appraisal(c, BIB, {}, {})
    mismatch = [d for d in diags if d.code == "grade-mismatch"]
    assert mismatch[0].line == 4 and "stated 'moderate' but its judgements give 'low'" in mismatch[0].message
    assert "starts low" in mismatch[0].message


def test_rating_without_reason_fails() -> None:
    c = claim([item("t1")], certainty="moderate", verdict="supported")
    c.outcomes[0].grade["imprecision"] = Rating(-1, "")
    c.outcomes[0].lines["imprecision"] = 9
    (d,) = [d for d in check_appraisal(c, BIB, {}, {}) if d.code == "grade-no-reason"]
    assert d.line == 9 and "imprecision is rated -1 without a reason" in d.message


def test_claim_certainty_is_lowest_critical_outcome() -> None:
    c = claim([item("t1"), item("o1", outcome="p")], certainty="high")
    c.outcomes.append(Outcome("p", "Function", "association", True, "low", {}, 5))
    (d,) = [d for d in check_appraisal(c, BIB, {}, {}) if d.code == "grade-mismatch"]
    assert d.line == 3 and "should be 'low'" in d.message
    c.outcomes[1].critical = False
    assert not [d for d in check_appraisal(c, BIB, {}, {}) if d.code == "grade-mismatch"]


def test_review_and_its_study_counted_twice_warns() -> None:
    judged, _ = rob.parse("sr:\n  tool: not-appraised\n  reason: r\n  includes: [t1]\n", "rob.yaml", BIB.entries)
    c = claim([item("sr"), item("t1")], certainty="low", verdict="partly-supported")
    (d,) = [d for d in check_appraisal(c, BIB, judged, {}) if d.code == "grade-double-count"]
    assert "'sr'" in d.message and "'t1'" in d.message and d.severity == "warning"


def test_counted_study_without_risk_of_bias_is_an_error() -> None:
    c = claim([item("t1")])
    (d,) = [d for d in check_appraisal(c, BIB, {}, {}) if d.code == "rob-missing"]
    assert d.line == 7


def test_effect_scale_must_be_in_mcid_table() -> None:
    from evidencekb.claims import Effect

    table, errs = parse_mcid("vas:\n  name: Pain VAS\n  value: 13\n  unit: mm\n", "mcid.yaml")
    assert errs == [] and table["vas"].value == 13
    c = claim([item("t1")])
    c.evidence[0].effects.append(Effect("mean-difference", -5, (-9, -1), "mm", 20, "", "", "vsa", 11))
    (d,) = [d for d in check_appraisal(c, BIB, {}, table) if d.code == "effect-unknown-scale"]
    assert d.line == 11 and "'vsa'" in d.message


# --- risk of bias ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "summary", "risk"),
    [
        pytest.param("tool: pedro\nitems: {1: yes, 2: yes, 3: yes, 4: yes, 5: no, 6: no, 7: yes, 8: yes, 9: no, "
                     "10: yes, 11: yes}", "7/10 (good)", "low", id="pedro-good"),
        pytest.param("tool: pedro\nitems: {1: yes, 2: yes, 3: no, 4: yes, 5: no, 6: no, 7: no, 8: no, 9: no, "
                     "10: yes, 11: yes}", "4/10 (fair)", "some-concerns", id="pedro-fair-item-1-not-scored"),
        pytest.param("tool: newcastle-ottawa\nitems: {selection: 3, comparability: 1, outcome: 2}", "6/9 stars (good)",
                     "low", id="nos-good"),
        pytest.param("tool: newcastle-ottawa\nitems: {selection: 2, comparability: 0, outcome: 3}", "5/9 stars (poor)",
                     "high", id="nos-no-comparability-is-poor"),
        pytest.param("tool: amstar2\nitems: {" + ", ".join(f"{i}: yes" for i in range(1, 17)) + "}",
                     "high confidence", "low", id="amstar-high"),
        pytest.param("tool: amstar2\nitems: {" + ", ".join(f"{i}: {'no' if i in (2, 4) else 'yes'}"
                                                           for i in range(1, 17)) + "}",
                     "critically low confidence", "high", id="amstar-two-critical-flaws"),
        pytest.param("tool: amstar2\nitems: {" + ", ".join(f"{i}: {'no' if i in (3, 5) else 'yes'}"
                                                           for i in range(1, 17)) + "}",
                     "moderate confidence", "some-concerns", id="amstar-two-weaknesses"),
        pytest.param("tool: rob2\nitems: {randomisation: low, deviations: some-concerns, missing-data: low, "
                     "measurement: low, reported-result: low}", "some-concerns", "some-concerns", id="rob2-worst"),
        pytest.param("tool: note\nitems: {sample: {rating: high, reason: n=3}, measurement: low, analysis: low}",
                     "high", "high", id="note-worst"),
    ],
)
def test_risk_of_bias_summary_is_computed(text: str, summary: str, risk: str) -> None:
    body = "\n".join("  " + line for line in (text + "\nbasis: abstract\nreason: Because.").splitlines())
    judged, errs = rob.parse(f"t1:\n{body}\n", "rob.yaml", BIB.entries)
    assert errs == []
    assert (judged["t1"].summary, judged["t1"].risk) == (summary, risk)


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        pytest.param("t1:\n  tool: pedro\n  reason: r\n  items: {2: maybe}\n", 4, "PEDro item 2 must be yes or no",
                     id="pedro-value"),
        pytest.param("t1:\n  tool: pedro\n  reason: r\n  items: {2: yes}\n", 2, "missing: 1, 3", id="pedro-missing-items"),
        pytest.param("t1:\n  tool: magic\n  reason: r\n", 2, "allowed values: pedro", id="unknown-tool"),
        pytest.param("t1:\n  tool: not-appraised\n", 2, "missing required field 'reason'", id="no-reason"),
        pytest.param("zz:\n  tool: not-appraised\n  reason: r\n", 1, "not a key in any .bib file", id="unknown-key"),
        pytest.param("t1:\n  tool: rob2\n  reason: r\n  overall: low\n  items: {randomisation: high, deviations: low, "
                     "missing-data: low, measurement: low, reported-result: low}\n", 4, "better than its worst item",
                     id="rob2-overall-too-good"),
        pytest.param("t1:\n  tool: newcastle-ottawa\n  reason: r\n  items: {selection: 5, comparability: 0, outcome: 0}\n",
                     4, "must be 0 to 4 stars", id="nos-too-many-stars"),
    ],
)
def test_risk_of_bias_errors_are_located(text: str, line: int, fragment: str) -> None:
    _, errs = rob.parse(text, "rob.yaml", BIB.entries)
    assert any(e.line == line and fragment in e.message for e in errs), errs


# --- screening --------------------------------------------------------------------------------

LOG = """records:
  - {id: t1, title: A trial, decision: included}
  - {id: "doi:10.1/x", title: Horses, decision: excluded, reason: wrong-population}
  - {id: "pmid:1", title: Same, decision: excluded, reason: duplicate}
  - {id: "pmid:2", title: New, decision: unscreened}
"""


def test_screening_flow_counts() -> None:
    log, errs = screening.parse(LOG, "screening/x.yaml")
    assert errs == []
    f = screening.flow(log)
    assert (f.identified, f.duplicates, f.screened, f.included, f.unscreened) == (4, 1, 2, 1, 1)
    assert f.excluded == (("wrong-population", 1),)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("records:\n  - {id: a, title: T, decision: excluded}\n", "excluded without a reason", id="no-reason"),
        pytest.param("records:\n  - {id: a, title: T, decision: excluded, reason: other}\n", "say which in 'note'",
                     id="other-without-note"),
        pytest.param("records:\n  - {id: a, title: T, decision: excluded, reason: boring}\n", "allowed values",
                     id="unknown-reason"),
        pytest.param("records:\n  - {id: a, title: T, decision: maybe}\n", "allowed values: included", id="bad-decision"),
    ],
)
def test_screening_errors_are_located(text: str, fragment: str) -> None:
    _, errs = screening.parse(text, "screening/x.yaml")
    assert any(e.line == 2 and fragment in e.message for e in errs), errs


def test_evidence_must_be_an_included_record_and_included_records_used() -> None:
    log, _ = screening.parse(LOG.replace("id: t1", "id: t2"), "screening/x.yaml")
    c = claim([item("t1")])
    diags = check_screening(c, log, "screening/x.yaml")
    assert sorted((d.code, d.path, d.line, d.col) for d in diags) == [
        ("screening-not-included", "docs/claims/x.md", 7, 1), ("screening-unscreened", "screening/x.yaml", 5, 1),
        ("screening-unused", "screening/x.yaml", 2, 1)]
    by_code = {d.code: d.message for d in diags}
    assert "'t1' is evidence but not an included record of screening/x.yaml" in by_code["screening-not-included"]
    assert "'t2' is included for claim 'x' but no evidence item uses it" in by_code["screening-unused"]
    assert "has not been screened yet" in by_code["screening-unscreened"]


def test_search_older_than_review_fails() -> None:
    log, _ = screening.parse("records:\n  - {id: t1, title: T, decision: included}\n", "s.yaml")
    c = claim([item("t1")])
    assert check_screening(c, log, "s.yaml") == []
    c.reviewed = "2026-11-20"
    c.searches[0].date = "2026-10-01"
    c.lines["reviewed"], c.lines["searches"], c.lines["evidence"] = 9, 11, 13
    (d,) = check_screening(c, log, "s.yaml")
    assert (d.code, d.path, d.line, d.col) == ("search-outdated", "docs/claims/x.md", 9, 1)
    assert "reviewed 2026-11-20, but the latest search was run 2026-10-01" in d.message
    missing = check_screening(c, None, "s.yaml")[0]
    assert (missing.code, missing.path, missing.line, missing.col) == ("screening-missing", "docs/claims/x.md", 13, 1)
    assert "no screening log (s.yaml)" in missing.message
    c.searches[0].date = ""  # a search with no date
    (d,) = check_screening(c, log, "s.yaml")
    assert (d.code, d.line) == ("search-outdated", 11) and "no search has a date" in d.message
    c.searches = []  # no search at all: nothing to date
    assert check_screening(c, log, "s.yaml") == []


def test_the_certainty_explanation_names_the_start_each_step_and_the_result() -> None:
    none = grade.Computed("o", None, "very-low", (), 0, None)
    assert none.explain() == "no study is counted for this outcome"
    c = grade.Computed("o", grade.Start("low", "not all studies are randomised trials"), "very-low",
                       (("risk-of-bias", -1, "Unblinded."), ("large-effect", 1, "Big."), ("publication-bias", -1, "")),
                       3, 60)
    assert c.explain() == ("starts low (not all studies are randomised trials); risk of bias -1; large effect +1; "
                           "publication bias -1: very low")


@pytest.mark.parametrize("up", ["large-effect", "dose-response", "confounding"])
@pytest.mark.parametrize("down", ["risk-of-bias", "inconsistency", "indirectness", "imprecision", "publication-bias"])
def test_rating_up_a_body_also_rated_down_is_an_error(up: str, down: str) -> None:
    c = claim([item("o1")], kind="association", certainty="low", verdict="partly-supported", ratings={up: 1, down: -1})
    c.outcomes[0].lines = {}
    (d,) = [d for d in check_appraisal(c, BIB, {}, {}) if d.code == "grade-upgrade"]
    assert (d.path, d.line, d.col) == ("docs/claims/x.md", 3, 1) and "'o'" in d.message
    c.outcomes[0].grade[down] = Rating(0, "")  # rated up alone: allowed
    assert not [d for d in check_appraisal(c, BIB, {}, {}) if d.code == "grade-upgrade"]
    c.evidence = []  # no body of evidence: nothing to rate up
    assert not [d for d in check_appraisal(c, BIB, {}, {}) if d.code == "grade-upgrade"]


def test_grade_diagnostics_point_at_the_outcome_when_the_domain_has_no_line() -> None:
    c = claim([item("t1")], certainty="moderate", verdict="supported")
    c.outcomes[0].grade["imprecision"] = Rating(-1, "")
    c.outcomes[0].grade["inconsistency"] = Rating(0, "")  # not rated: needs no reason
    c.outcomes[0].lines = {}
    got = sorted((d.code, d.path, d.line, d.col) for d in check_appraisal(c, BIB, {}, {})
                 if d.code in ("grade-no-reason", "grade-mismatch"))
    assert got == [("grade-no-reason", "docs/claims/x.md", 3, 1)]
    c.outcomes[0].certainty = "high"
    got = sorted((d.code, d.path, d.line, d.col) for d in check_appraisal(c, BIB, {}, {}) if d.code == "grade-mismatch")
    assert got[0] == ("grade-mismatch", "docs/claims/x.md", 3, 1)


def test_a_claim_with_no_computed_outcome_is_very_low() -> None:
    c = claim([item("t1")])
    assert grade.claim_certainty(c, {}) == "very-low"


def test_a_review_of_randomised_trials_starts_high_through_its_risk_of_bias_record() -> None:
    from evidencekb.checks import computed_outcomes

    record = "sr:\n  tool: amstar2\n  reason: Sixteen yes.\n  designs: [DESIGNS]\n  items: {" + ", ".join(f"{i}: yes" for i in range(1, 17)) + "}\n"
    c = claim([item("sr")], certainty="high")
    for designs, start in (("rct", "high"), ("cohort", "low")):
        judged, errs = rob.parse(record.replace("DESIGNS", designs), "rob.yaml", BIB.entries)
        assert errs == []
        assert computed_outcomes(c, BIB, judged)["o"].certainty == start


@pytest.mark.parametrize(("stances", "certainty", "reason"), [
    ("s", "moderate", "1 direct study supports it"),
    ("s", "low", "1 direct study supports it; 'supported' needs at least moderate certainty"),
    ("ss", "high", "2 direct studies support it"),
    ("c", "low", "1 direct study contradicts it"),
    ("cc", "low", "2 direct studies contradict it"),
    ("m", "low", "1 direct study is mixed"),
    ("mm", "low", "2 direct studies are mixed"),
    ("scm", "low", "1 direct study supports it; 1 direct study contradicts it; 1 direct study is mixed"),
    ("sm", "low", "1 direct study supports it; 1 direct study is mixed"),
    ("sc", "high", "1 direct study supports it; 1 direct study contradicts it"),
])
def test_the_verdict_rule_gives_its_reason_in_words(stances: str, certainty: str, reason: str) -> None:
    word = {"s": "supports", "c": "contradicts", "m": "mixed"}
    c = claim([item(f"t{i}", word[x]) for i, x in enumerate(stances)], certainty=certainty)
    rule = grade.verdict_rule(c)
    assert rule.reason == reason
    assert sum(rule.direct.values()) == len(stances) and sum(rule.indirect.values()) == 0


def test_an_untested_claim_says_whether_indirect_studies_exist() -> None:
    assert grade.verdict_rule(claim([])).reason == "no direct study tested the claim"
    rule = grade.verdict_rule(claim([item("o1", direct=False)]))
    assert rule.reason == ("no direct study tested the claim (indirect studies inform the text but cannot decide "
                           "the verdict)") and rule.indirect["supports"] == 1


def test_grade_records_where_it_starts_and_how_many_took_part() -> None:
    c = claim([item("t1", n=12), item("t2", n=30)])
    got = grade.compute(c.outcomes[0], c.body_of("o"), {"t1": "rct", "t2": "rct"})
    assert (got.outcome, got.start, got.studies, got.participants) == (
        "o", grade.Start("high", "randomised trials"), 2, 42)
    c = claim([item("t1", n=12), item("o1", n=None)])
    got = grade.compute(c.outcomes[0], c.body_of("o"), {"t1": "rct"})  # o1's design unknown: not randomised
    assert got.start == grade.Start("low", "not all studies are randomised trials") and got.participants is None
    m = claim([item("c1")], kind="measurement").outcomes[0]
    assert grade.start(m, [item("c1")], {}) == grade.Start(
        "high", "a measurement against its reference standard: dissection, imaging or mechanical testing")


def _judged(**risk: str) -> dict[str, rob.Judgement]:
    text = "".join(f"{k}:\n  tool: note\n  reason: r\n  items: {{sample: {v}, measurement: {v}, analysis: {v}}}\n"
                   for k, v in risk.items())
    judged, errs = rob.parse(text, "rob.yaml", BIB.entries)
    assert errs == []
    return judged


def _located(diags: list, code: str) -> list[tuple[str, int, int]]:  # type: ignore[type-arg]
    return [(d.path, d.line, d.col) for d in diags if d.code == code]


def test_a_body_all_at_high_risk_of_bias_not_rated_down_is_pointed_out() -> None:
    c = claim([item("t1"), item("t2")], certainty="high")
    c.outcomes[0].lines = {"risk-of-bias": 6}
    diags = check_appraisal(c, BIB, _judged(t1="high", t2="high"), {})
    assert _located(diags, "grade-hint") == [("docs/claims/x.md", 6, 1)]
    assert "outcome 'o': every study is at high risk of bias, yet risk of bias is not rated down." in [
        d.message for d in diags if d.code == "grade-hint"]
    c.outcomes[0].lines = {}
    assert _located(check_appraisal(c, BIB, _judged(t1="high", t2="high"), {}), "grade-hint") == [
        ("docs/claims/x.md", 3, 1)]
    assert _located(check_appraisal(c, BIB, _judged(t1="high", t2="low"), {}), "grade-hint") == []  # not all high
    assert _located(check_appraisal(c, BIB, _judged(t1="high"), {}), "grade-hint") == []  # t2 not judged yet
    c.outcomes[0].grade["risk-of-bias"] = Rating(-1, "All unblinded.")
    c.outcomes[0].certainty = c.certainty = "moderate"
    assert _located(check_appraisal(c, BIB, _judged(t1="high", t2="high"), {}), "grade-hint") == []
    c.evidence = []
    assert _located(check_appraisal(c, BIB, {}, {}), "grade-hint") == []


def test_a_body_all_indirect_not_rated_down_is_pointed_out() -> None:
    c = claim([item("t1", direct=False), item("t2", direct=False)], certainty="high", verdict="untested")
    c.outcomes[0].lines = {"indirectness": 8}
    diags = check_appraisal(c, BIB, _judged(t1="low", t2="low"), {})
    assert _located(diags, "grade-hint") == [("docs/claims/x.md", 8, 1)]
    assert [d.message for d in diags if d.code == "grade-hint"] == [
        "outcome 'o': every study is indirect, yet indirectness is not rated down."]
    c.evidence[1] = item("t2")  # one direct study: no hint
    assert _located(check_appraisal(c, BIB, _judged(t1="low", t2="low"), {}), "grade-hint") == []
    c.evidence[1] = item("t2", direct=False)
    c.outcomes[0].grade["indirectness"] = Rating(-1, "Healthy people.")
    assert _located(check_appraisal(c, BIB, _judged(t1="low", t2="low"), {}), "grade-hint") == []


def test_appraisal_diagnostics_are_located_and_say_what_to_do() -> None:
    from evidencekb.claims import Effect

    judged, _ = rob.parse("sr:\n  tool: not-appraised\n  reason: r\n  includes: [t1]\n", "rob.yaml", BIB.entries)
    c = claim([item("sr"), item("t1"), item("t2")], certainty="low", verdict="supported")
    c.evidence[1].line, c.evidence[2].line = 12, 15
    c.evidence[2].effects.append(Effect("mean-difference", -5, (-9, -1), "mm", 20, "", "", "vas", 17))
    diags = check_appraisal(c, BIB, judged, {})
    assert _located(diags, "grade-double-count") == [("docs/claims/x.md", 7, 1)]  # at the review
    assert _located(diags, "rob-missing") == [("docs/claims/x.md", 12, 1), ("docs/claims/x.md", 15, 1)]
    assert _located(diags, "effect-unknown-scale") == [("docs/claims/x.md", 17, 1)]
    assert _located(diags, "verdict-not-allowed") == [("docs/claims/x.md", 2, 1)]
    msg = {d.code: d.message for d in diags}
    assert msg["grade-double-count"].endswith("count the study once (mark one of them context).")
    assert "'t2' counts for outcome 'o' but has no risk-of-bias judgement; add one to the risk-of-bias file." in [
        d.message for d in diags if d.code == "rob-missing"]
    assert msg["effect-unknown-scale"].endswith("does not define (it is empty).")
    assert "allowed: partly-supported. Change the verdict or the evidence, or give an 'override' reason." in \
        msg["verdict-not-allowed"]
    c.certainty = "high"
    (d,) = [d for d in check_appraisal(c, BIB, judged, {}) if d.code == "grade-mismatch" and d.line == 3]
    assert (d.path, d.col) == ("docs/claims/x.md", 1) and d.message.endswith("critical outcomes.")
