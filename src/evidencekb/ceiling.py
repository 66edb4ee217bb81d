"""The verdict ceiling: the strongest verdict and certainty a claim's evidence allows.

A person chooses each verdict; this rule only keeps it honest. It is stated in
words on ``docs/methods.md`` and tested on a table of cases. Pure.

Designs fall into tiers (CEBM-like):

* tier 3: systematic review (with or without meta-analysis), randomised trial;
* tier 2: cohort, case-control, cross-sectional, imaging, cadaver and laboratory studies;
* tier 1: case series, case reports, mathematical models;
* tier 0: narrative reviews and expert opinion.

Evidence marked ``context`` does not count. ``mixed`` evidence counts on both
sides, one tier lower.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .claims import CERTAINTIES, VERDICTS

__all__ = ["TIERS", "Ceiling", "compute", "verdict_exceeds", "certainty_exceeds", "tier_of"]

TIERS: dict[str, int] = {
    "systematic-review": 3, "rct": 3,
    "cohort": 2, "case-control": 2, "cross-sectional": 2, "imaging": 2, "cadaver": 2, "lab": 2,
    "case-series": 1, "case-report": 1, "model": 1,
    "narrative-review": 0, "expert-opinion": 0,
}
TIER_NAMES = {3: "systematic review or trial", 2: "observational, imaging, cadaver or lab study",
              1: "case series, case report or model", 0: "narrative review or opinion", -1: "none"}


def tier_of(design: str) -> int:
    return TIERS.get(design, 0)


@dataclass(frozen=True)
class Ceiling:
    verdict: str
    certainty: str
    reason: str
    support_tier: int
    contra_tier: int
    n_support: int
    n_contra: int


def compute(items: Iterable[tuple[str, str]]) -> Ceiling:
    """Ceiling from (stance, design) pairs."""
    s_tiers: list[int] = []
    c_tiers: list[int] = []
    for stance, design in items:
        t = tier_of(design)
        if stance == "supports":
            s_tiers.append(t)
        elif stance == "contradicts":
            c_tiers.append(t)
        elif stance == "mixed":
            s_tiers.append(t - 1)
            c_tiers.append(t - 1)
    s = max(s_tiers, default=-1)
    c = max(c_tiers, default=-1)
    ns = sum(1 for t in s_tiers if t == s) if s_tiers else 0
    nc = sum(1 for t in c_tiers if t == c) if c_tiers else 0

    if not s_tiers and not c_tiers:
        verdict, why = "untested", "no study supports or contradicts the claim"
    elif not s_tiers or s < 0:
        verdict, why = "not-supported", "no study supports the claim"
    elif c > s:
        verdict, why = "contested", "the strongest evidence against is of a higher design tier than the strongest for"
    elif c == s and nc >= ns:
        verdict, why = "contested", "evidence for and against is of the same tier, and there is at least as much against"
    elif c == s:
        verdict, why = "partly-supported", "evidence for outweighs evidence against of the same tier"
    elif s == 3 or (s == 2 and ns >= 2):
        verdict, why = "supported", "supporting evidence from the top tier, or two studies of the second, and nothing as strong against"
    else:
        verdict, why = "partly-supported", "supporting evidence comes only from lower tiers"

    best = max(s, c)
    count_best = (ns if s == best else 0) + (nc if c == best else 0)
    if best == 3 and count_best >= 2:
        certainty = "high"
    elif best == 3 or (best == 2 and count_best >= 2):
        certainty = "moderate"
    elif best >= 1:
        certainty = "low"
    else:
        certainty = "very-low"
    return Ceiling(verdict, certainty, why, s, c, len(s_tiers), len(c_tiers))


_VERDICT_RANK = {"supported": 4, "partly-supported": 3, "contested": 2, "not-supported": 1, "untested": 0}
_CERTAINTY_RANK = {c: len(CERTAINTIES) - i for i, c in enumerate(CERTAINTIES)}
assert set(_VERDICT_RANK) == set(VERDICTS)


def verdict_exceeds(verdict: str, ceiling: str) -> bool:
    """True when the verdict endorses the claim more than the ceiling allows."""
    return _VERDICT_RANK.get(verdict, 0) > _VERDICT_RANK.get(ceiling, 0)


def certainty_exceeds(certainty: str, ceiling: str) -> bool:
    return _CERTAINTY_RANK.get(certainty, 0) > _CERTAINTY_RANK.get(ceiling, 0)


def for_claim(evidence: Iterable[object], designs: Mapping[str, str]) -> Ceiling:
    """Ceiling of a claim's evidence items, designs looked up by reference key."""
    return compute((e.stance, designs.get(e.ref, "")) for e in evidence)
