"""GRADE certainty per outcome, and the rule that keeps each verdict honest. Pure.

Certainty of a body of evidence for one outcome, as GRADE defines it: it
starts high when the studies are randomised trials (or reviews of them), or
when the outcome is a measurement whose reference standard is dissection,
imaging or mechanical testing; it starts low when the studies are
observational. It is rated down one or two levels for each of risk of bias,
inconsistency, indirectness, imprecision and publication bias, and may be
rated up for a large effect, a dose-response gradient or confounding that
would shrink the effect. A person makes each judgement; this module only
adds them up, and the build fails when the stated certainty disagrees.

Verdicts are defined by *direct* evidence (population, intervention and
outcome all direct for the claim's question): "untested" when there is none,
"contested" only when direct studies disagree. The rule is stated in words
on ``docs/methods.md``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from .claims import CERTAINTIES, DOWN_DOMAINS, UP_DOMAINS, VERDICTS, Claim, EvidenceItem, Outcome

__all__ = ["LEVELS", "Start", "Computed", "start", "compute", "claim_certainty", "VerdictRule", "verdict_rule",
           "RANDOMISED"]

LEVELS = {"high": 4, "moderate": 3, "low": 2, "very-low": 1}
_NAMES = {v: k for k, v in LEVELS.items()}
assert set(LEVELS) == set(CERTAINTIES)
RANDOMISED = frozenset({"rct"})


@dataclass(frozen=True)
class Start:
    level: str
    reason: str


@dataclass(frozen=True)
class Computed:
    """What an outcome's judgements give."""

    outcome: str
    start: Start | None  # None: no study is counted for the outcome
    certainty: str
    steps: tuple[tuple[str, int, str], ...]  # (domain, levels, reason) for every non-zero rating
    studies: int
    participants: int | None

    def explain(self) -> str:
        if self.start is None:
            return "no study is counted for this outcome"
        parts = [f"starts {self.start.level.replace('-', ' ')} ({self.start.reason})"]
        parts += [f"{d.replace('-', ' ')} {levels:+d}" for d, levels, _ in self.steps]
        return "; ".join(parts) + f": {self.certainty.replace('-', ' ')}"


def start(outcome: Outcome, body: list[EvidenceItem], designs: Mapping[str, str],
          randomised_reviews: frozenset[str] = frozenset()) -> Start | None:
    """Where GRADE starts for an outcome's body of evidence (None when the body is empty)."""
    if not body:
        return None
    if outcome.kind == "measurement":
        return Start("high", "a measurement against its reference standard: dissection, imaging or "
                             "mechanical testing")
    if all(designs.get(it.ref, "") in RANDOMISED or it.ref in randomised_reviews for it in body):
        return Start("high", "randomised trials")
    return Start("low", "not all studies are randomised trials")


def compute(outcome: Outcome, body: list[EvidenceItem], designs: Mapping[str, str],
            randomised_reviews: frozenset[str] = frozenset()) -> Computed:
    """The certainty an outcome's recorded judgements give."""
    s = start(outcome, body, designs, randomised_reviews)
    studies = len({it.ref for it in body})
    ns = [it.n for it in {it.ref: it for it in body}.values()]
    participants = sum(n for n in ns if n) if ns and all(n is not None for n in ns) else None
    if s is None:
        return Computed(outcome.id, None, "very-low", (), 0, None)
    steps = tuple((d, outcome.grade[d].rating, outcome.grade[d].reason)
                  for d in DOWN_DOMAINS + UP_DOMAINS if d in outcome.grade and outcome.grade[d].rating)
    level = LEVELS[s.level] + sum(levels for _, levels, _ in steps)
    return Computed(outcome.id, s, _NAMES[max(1, min(4, level))], steps, studies, participants)


def claim_certainty(claim: Claim, computed: Mapping[str, Computed]) -> str:
    """The claim's certainty: the lowest of its critical outcomes' (of all, when none is critical)."""
    outs = [o for o in claim.outcomes if o.critical] or claim.outcomes
    levels = [LEVELS[computed[o.id].certainty] for o in outs if o.id in computed]
    return _NAMES[min(levels)] if levels else "very-low"


@dataclass(frozen=True)
class VerdictRule:
    """The verdicts the direct evidence allows, and why."""

    allowed: tuple[str, ...]
    reason: str
    direct: Counter[str]
    indirect: Counter[str]


def verdict_rule(claim: Claim) -> VerdictRule:
    """Which verdicts a claim's direct evidence allows (in VERDICTS order)."""
    direct: Counter[str] = Counter()
    indirect: Counter[str] = Counter()
    for it in claim.evidence:
        if it.counted:
            (direct if it.directness.direct else indirect)[it.stance] += 1
    s, c, m = direct["supports"], direct["contradicts"], direct["mixed"]
    if not (s or c or m):
        extra = " (indirect studies inform the text but cannot decide the verdict)" if sum(indirect.values()) else ""
        return VerdictRule(("untested",), "no direct study tested the claim" + extra, direct, indirect)
    allowed = set()
    if s and not c and not m and LEVELS[claim.certainty] >= LEVELS["moderate"]:
        allowed.add("supported")
    if s or m:
        allowed.add("partly-supported")
    if (s and c) or m:
        allowed.add("contested")
    if c:
        allowed.add("not-supported")
    why = []
    if s:
        why.append(f"{s} direct {'study supports' if s == 1 else 'studies support'} it")
    if c:
        why.append(f"{c} direct {'study contradicts' if c == 1 else 'studies contradict'} it")
    if m:
        why.append(f"{m} direct {'study is' if m == 1 else 'studies are'} mixed")
    if s and not c and not m and "supported" not in allowed:
        why.append("'supported' needs at least moderate certainty")
    return VerdictRule(tuple(v for v in VERDICTS if v in allowed), "; ".join(why), direct, indirect)
