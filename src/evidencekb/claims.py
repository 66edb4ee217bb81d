"""Claim records: the front matter of ``docs/claims/<slug>.md``, validated.

Validation reports every problem with its file, line and field, and lists the
allowed values; it never raises on content. Pure: no MkDocs.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .diagnostics import Diagnostic, diag, did_you_mean

__all__ = [
    "Claim", "EvidenceItem", "HistoryItem", "parse_claim", "load_claims",
    "TOPICS", "VERDICTS", "CERTAINTIES", "STANCES", "POPULATIONS", "CLAIM_FIELDS", "EVIDENCE_FIELDS",
]

TOPICS = ("anatomy", "mechanism", "cause", "treatment", "prognosis", "context")
#: Verdicts, from strongest endorsement of the article's claim to none.
VERDICTS = ("supported", "partly-supported", "contested", "not-supported", "untested")
CERTAINTIES = ("high", "moderate", "low", "very-low")
STANCES = ("supports", "contradicts", "mixed", "context")
POPULATIONS = (
    "itbs-patients", "runners", "cyclists", "athletes", "healthy", "patients", "cadaver",
    "model", "mixed", "studies",
)

CLAIM_FIELDS: dict[str, str] = {
    "title": "Page title (optional; defaults to the claim).",
    "claim": "The claim in our words, one sentence.",
    "quote": "The claim's words, verbatim from the article.",
    "topic": "One of: " + ", ".join(TOPICS) + ".",
    "verdict": "One of: " + ", ".join(VERDICTS) + ".",
    "certainty": "GRADE certainty: " + ", ".join(CERTAINTIES) + ".",
    "evidence": "A list of evidence items (ref, stance, population, n, finding, quote).",
    "clients": "A plain-language paragraph for clients.",
    "practice": "What it means in practice.",
    "reviewed": "Date of the last review (YYYY-MM-DD).",
    "override": "Reason for a verdict above the computed ceiling, or null.",
    "history": "A list of dated changes: date, change, reason.",
    "description": "Page description for search engines (optional).",
}
EVIDENCE_FIELDS = ("ref", "stance", "population", "n", "finding", "quote")
HISTORY_FIELDS = ("date", "change", "reason")
_REQUIRED = ("claim", "quote", "topic", "verdict", "certainty", "evidence", "reviewed")


@dataclass
class EvidenceItem:
    ref: str
    stance: str
    population: str = ""
    n: int | None = None
    finding: str = ""
    quote: str = ""
    line: int = 0


@dataclass
class HistoryItem:
    date: str
    change: str
    reason: str = ""


@dataclass
class Claim:
    slug: str
    path: str
    claim: str = ""
    quote: str = ""
    topic: str = ""
    verdict: str = "untested"
    certainty: str = "very-low"
    evidence: list[EvidenceItem] = field(default_factory=list)
    clients: str = ""
    practice: str = ""
    reviewed: str = ""
    override: str | None = None
    history: list[HistoryItem] = field(default_factory=list)
    title: str = ""
    lines: dict[str, int] = field(default_factory=dict)
    body: str = ""

    @property
    def heading(self) -> str:
        return self.title or self.claim

    def line(self, name: str) -> int:
        return self.lines.get(name, 1)


_FRONT = re.compile(r"\A---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)


def split_front_matter(text: str) -> tuple[str, str, int]:
    """(front matter YAML, body, line number where the YAML starts)."""
    m = _FRONT.match(text)
    if not m:
        return "", text, 1
    return m.group(1) or "", text[m.end():], 2


class _Located:
    """A YAML mapping node read as (value, line) pairs."""

    def __init__(self, node: yaml.MappingNode, first_line: int) -> None:
        self.items: dict[str, tuple[Any, int, yaml.Node]] = {}
        self.dupes: list[tuple[str, int]] = []
        for k, v in node.value:
            name = str(k.value)
            line = k.start_mark.line + first_line
            if name in self.items:
                self.dupes.append((name, line))
            self.items[name] = (yaml.safe_load(yaml.serialize(v)), line, v)


def _check_enum(errs: list[Diagnostic], path: str, line: int, name: str, value: Any, allowed: tuple[str, ...]) -> bool:
    if value not in allowed:
        errs.append(diag(path, line, 1, "claim-invalid",
                         f"field '{name}' is {value!r}; allowed values: {', '.join(allowed)}."
                         + (did_you_mean(str(value), allowed) if isinstance(value, str) else "")))
        return False
    return True


def _check_str(errs: list[Diagnostic], path: str, line: int, name: str, value: Any, *, empty_ok: bool = False) -> bool:
    if not isinstance(value, str) or (not empty_ok and not value.strip()):
        errs.append(diag(path, line, 1, "claim-invalid",
                         f"field '{name}' must be a non-empty string, not {type(value).__name__} {value!r}."))
        return False
    return True


def _date(errs: list[Diagnostic], path: str, line: int, name: str, value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return value
    errs.append(diag(path, line, 1, "claim-invalid", f"field '{name}' must be a date YYYY-MM-DD, not {value!r}."))
    return str(value)


def parse_claim(text: str, path: str, slug: str, known_refs: Mapping[str, object] | None = None) -> tuple[Claim | None, list[Diagnostic]]:
    """Parse and validate one claim page. Returns the claim (None if unusable) and diagnostics."""
    errs: list[Diagnostic] = []
    front, body, first = split_front_matter(text)
    if not front.strip():
        return None, [diag(path, 1, 1, "claim-invalid",
                           "a claim page needs a front-matter claim record between '---' lines; "
                           "run 'evidencekb new claim \"...\"' to scaffold one.")]
    try:
        node = yaml.compose(front)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = (mark.line + first) if mark else first
        return None, [diag(path, line, 1, "claim-invalid", f"front matter is not valid YAML: {getattr(exc, 'problem', exc)}.")]
    if not isinstance(node, yaml.MappingNode):
        return None, [diag(path, first, 1, "claim-invalid", "front matter must be a mapping of fields.")]
    rec = _Located(node, first)
    claim = Claim(slug=slug, path=path, body=body)
    for name, line in rec.dupes:
        errs.append(diag(path, line, 1, "claim-invalid", f"field '{name}' is given twice."))
    for name, (value, line, _) in rec.items.items():
        claim.lines[name] = line
        if name not in CLAIM_FIELDS:
            errs.append(diag(path, line, 1, "claim-invalid",
                             f"unknown field '{name}'; allowed fields: {', '.join(CLAIM_FIELDS)}."
                             + did_you_mean(name, CLAIM_FIELDS)))
    for name in _REQUIRED:
        if name not in rec.items:
            errs.append(diag(path, first, 1, "claim-invalid", f"missing required field '{name}': {CLAIM_FIELDS[name]}"))

    def get(name: str) -> tuple[Any, int] | None:
        if name in rec.items:
            value, line, _ = rec.items[name]
            return value, line
        return None

    for name in ("claim", "quote", "title", "clients", "practice", "description"):
        got = get(name)
        optional = name in {"clients", "practice", "title", "description"}
        if got and _check_str(errs, path, got[1], name, got[0], empty_ok=optional) and name != "description":
            setattr(claim, name, got[0].strip())
    for name, allowed in (("topic", TOPICS), ("verdict", VERDICTS), ("certainty", CERTAINTIES)):
        got = get(name)
        if got and _check_enum(errs, path, got[1], name, got[0], allowed):
            setattr(claim, name, got[0])
    got = get("reviewed")
    if got:
        claim.reviewed = _date(errs, path, got[1], "reviewed", got[0])
    got = get("override")
    if got and got[0] is not None:
        if _check_str(errs, path, got[1], "override", got[0]):
            claim.override = got[0].strip()
    if "evidence" in rec.items:
        _, line, enode = rec.items["evidence"]
        claim.evidence = _evidence(errs, path, line, enode, first, known_refs)
    if "history" in rec.items:
        value, line, _ = rec.items["history"]
        claim.history = _history(errs, path, line, value)
    return claim, errs


def _evidence(errs: list[Diagnostic], path: str, line: int, node: yaml.Node, first: int,
              known_refs: Mapping[str, object] | None) -> list[EvidenceItem]:
    if isinstance(node, yaml.ScalarNode) and node.value in ("", "null", "~"):
        return []
    if not isinstance(node, yaml.SequenceNode):
        errs.append(diag(path, line, 1, "claim-invalid", "field 'evidence' must be a list of items."))
        return []
    out: list[EvidenceItem] = []
    for item_node in node.value:
        iline = item_node.start_mark.line + first
        if not isinstance(item_node, yaml.MappingNode):
            errs.append(diag(path, iline, 1, "claim-invalid",
                             f"each evidence item must be a mapping with fields {', '.join(EVIDENCE_FIELDS)}."))
            continue
        rec = _Located(item_node, first)
        values = {k: v for k, (v, _, _) in rec.items.items()}
        for k, (_, kline, _) in rec.items.items():
            if k not in EVIDENCE_FIELDS:
                errs.append(diag(path, kline, 1, "claim-invalid",
                                 f"unknown evidence field '{k}'; allowed fields: {', '.join(EVIDENCE_FIELDS)}."
                                 + did_you_mean(k, EVIDENCE_FIELDS)))
        def at(k: str) -> int:
            return rec.items[k][1] if k in rec.items else iline
        ref = values.get("ref")
        if not isinstance(ref, str) or not ref:
            errs.append(diag(path, at("ref"), 1, "claim-invalid", "evidence item needs 'ref', a BibTeX key."))
            continue
        if known_refs is not None and ref not in known_refs:
            errs.append(diag(path, at("ref"), 1, "claim-unknown-ref",
                             f"evidence 'ref: {ref}' is not a key in any .bib file." + did_you_mean(ref, known_refs)))
        stance = values.get("stance")
        if not _check_enum(errs, path, at("stance"), "stance", stance, STANCES):
            stance = "context"
        population = values.get("population", "")
        if population and not _check_enum(errs, path, at("population"), "population", population, POPULATIONS):
            population = ""
        n = values.get("n")
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 0):
            errs.append(diag(path, at("n"), 1, "claim-invalid", f"field 'n' must be a whole number or null, not {n!r}."))
            n = None
        finding = values.get("finding", "")
        if not _check_str(errs, path, at("finding"), "finding", finding):
            finding = ""
        quote = values.get("quote") or ""
        if quote and not _check_str(errs, path, at("quote"), "quote", quote):
            quote = ""
        out.append(EvidenceItem(ref, str(stance), str(population or ""), n, str(finding).strip(), str(quote).strip(), iline))
    return out


def _history(errs: list[Diagnostic], path: str, line: int, value: Any) -> list[HistoryItem]:
    if value is None:
        return []
    if not isinstance(value, list):
        errs.append(diag(path, line, 1, "claim-invalid", "field 'history' must be a list of {date, change, reason}."))
        return []
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or set(item) - set(HISTORY_FIELDS) or "date" not in item or "change" not in item:
            errs.append(diag(path, line, 1, "claim-invalid",
                             f"history item {i + 1} must have date and change (and optionally reason); "
                             f"allowed fields: {', '.join(HISTORY_FIELDS)}."))
            continue
        out.append(HistoryItem(_date(errs, path, line, "history.date", item["date"]),
                               str(item["change"]), str(item.get("reason") or "")))
    return sorted(out, key=lambda h: h.date, reverse=True)


def load_claims(docs_dir: Path, claims_dir: str, known_refs: Mapping[str, object] | None,
                display_prefix: str = "docs") -> tuple[list[Claim], list[Diagnostic]]:
    """Every claim page under ``docs_dir/claims_dir``, sorted by slug."""
    claims: list[Claim] = []
    errs: list[Diagnostic] = []
    folder = docs_dir / claims_dir
    for p in sorted(folder.glob("*.md")) if folder.is_dir() else []:
        if p.name == "index.md":
            continue
        display = f"{display_prefix}/{claims_dir}/{p.name}"
        claim, problems = parse_claim(p.read_text(encoding="utf-8-sig"), display, p.stem, known_refs)
        errs.extend(problems)
        if claim is not None:
            claims.append(claim)
    return claims, errs
