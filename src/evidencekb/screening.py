"""Screening logs: every candidate looked at for a claim, with its decision. Pure.

One YAML file per claim, ``screening/<slug>.yaml`` beside ``mkdocs.yml`` (not in
the docs), lists each record a search returned: its identifier (the BibTeX key
when included; a DOI, PMID or URL otherwise), title, decision and, for an
exclusion, the reason from a fixed list. The counts of a PRISMA 2020 flow
diagram are computed from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .diagnostics import Diagnostic, diag
from .records import Problems, Rec, records_in
from .yamlsafe import compose, read_text

__all__ = ["Record", "Log", "Flow", "REASONS", "DECISIONS", "parse", "load", "flow", "merge_flows"]

DECISIONS = ("included", "excluded", "unscreened")
REASONS = ("wrong-population", "wrong-intervention", "wrong-outcome", "wrong-design", "duplicate",
           "not-retrievable", "other")
REASON_LABELS = {
    "wrong-population": "Wrong population", "wrong-intervention": "Wrong intervention or exposure",
    "wrong-outcome": "Wrong outcome", "wrong-design": "Wrong study design", "duplicate": "Duplicate",
    "not-retrievable": "Not retrievable or not verifiable", "other": "Other reasons",
}
RECORD_FIELDS = {
    "id": "The BibTeX key (included), or doi:..., pmid:... or url:... (excluded).",
    "title": "The record's title.", "year": "Its year, when known.",
    "search": "Which of the claim's searches found it (1 for the first), when known.",
    "decision": "One of: " + ", ".join(DECISIONS) + ".",
    "reason": "For an exclusion, one of: " + ", ".join(REASONS) + ".",
    "note": "A few words; required for the reason 'other'.",
}


@dataclass
class Record:
    id: str
    title: str
    decision: str
    reason: str = ""
    note: str = ""
    year: int | None = None
    search: int | None = None
    line: int = 0


@dataclass
class Log:
    path: str
    records: list[Record] = field(default_factory=list)

    def included(self) -> dict[str, Record]:
        return {r.id: r for r in self.records if r.decision == "included"}


@dataclass(frozen=True)
class Flow:
    """The counts of a PRISMA 2020 flow diagram."""

    identified: int
    duplicates: int
    screened: int
    excluded: tuple[tuple[str, int], ...]
    included: int
    unscreened: int = 0

    @property
    def excluded_total(self) -> int:
        return sum(n for _, n in self.excluded)


def parse(text: str, path: str) -> tuple[Log, list[Diagnostic]]:
    node, errs = compose(text, path, 1, "screening-invalid")
    log = Log(path)
    if node is None:
        return log, errs
    if not isinstance(node, yaml.MappingNode):
        return log, [diag(path, 1, 1, "screening-invalid", "a screening log is a mapping with a 'records' list.")]
    probs = Problems(path, 1, "screening-invalid")
    rec = Rec(node, probs, "screening log", {"records": "Every candidate looked at."}, ("records",))
    seen: dict[str, int] = {}
    for r in records_in(rec, "records", "record", RECORD_FIELDS, ("id", "title", "decision")):
        item = Record(r.text("id"), r.text("title"), r.enum("decision", DECISIONS, "unscreened"),
                      r.enum("reason", REASONS), r.text("note", optional=True), r.whole("year"), r.whole("search", minimum=1),
                      r.line)
        if item.decision == "excluded" and not item.reason:
            probs.add(r.line, f"record '{item.id}' is excluded without a reason; give one of: {', '.join(REASONS)}.")
        if item.reason == "other" and not item.note:
            probs.add(r.at("reason"), f"record '{item.id}' is excluded for 'other' reasons; say which in 'note'.")
        if item.decision != "excluded" and item.reason:
            probs.add(r.at("reason"), f"record '{item.id}' is {item.decision}: only an exclusion has a reason.")
        if item.id and item.decision == "included" and item.id in seen:
            probs.add(r.line, f"record '{item.id}' is included twice (first at line {seen[item.id]}); mark the "
                      "second a duplicate.")
        seen.setdefault(item.id, r.line)
        log.records.append(item)
    return log, errs + probs.items


def load(path: Path, display: str) -> tuple[Log | None, list[Diagnostic]]:
    """A claim's log, or None (and no error) when it has none."""
    if not path.exists():
        return None, []
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, [diag(display, 1, 1, "screening-invalid", f"cannot read the file: {exc.strerror}.")]
    text, errs = read_text(data, display, "screening-invalid")
    if text is None:
        return None, errs
    return parse(text, display)


def flow(log: Log) -> Flow:
    """PRISMA counts of one log."""
    counts: dict[str, int] = {}
    duplicates = unscreened = 0
    for r in log.records:
        if r.decision == "excluded" and r.reason == "duplicate":
            duplicates += 1
        elif r.decision == "excluded":
            counts[r.reason] = counts.get(r.reason, 0) + 1
        elif r.decision == "unscreened":
            unscreened += 1
    included = len({r.id for r in log.records if r.decision == "included"})
    identified = len(log.records)
    excluded = tuple((reason, counts[reason]) for reason in REASONS if counts.get(reason))
    return Flow(identified, duplicates, identified - duplicates - unscreened, excluded, included, unscreened)


def merge_flows(logs: list[Log]) -> Flow:
    """Site-wide counts: a record screened for several claims counts once per claim it was
    screened for, as each claim is its own review; a study included for several claims
    counts once."""
    total = [flow(lg) for lg in logs]
    excluded: dict[str, int] = {}
    for f in total:
        for reason, n in f.excluded:
            excluded[reason] = excluded.get(reason, 0) + n
    included = len({r.id for lg in logs for r in lg.records if r.decision == "included"})
    return Flow(sum(f.identified for f in total), sum(f.duplicates for f in total), sum(f.screened for f in total),
                tuple((r, excluded[r]) for r in REASONS if excluded.get(r)), included,
                sum(f.unscreened for f in total))
