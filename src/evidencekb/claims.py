"""Claim records: the front matter of ``docs/claims/<slug>.md``, validated.

A record holds the claim and its verdict, the question it answers (PICO), the
searches that found its evidence, its outcomes with their GRADE judgements,
and one evidence item per study and outcome (stance, directness, effects).
Validation reports every problem with its file, line and field, and lists the
allowed values; it never raises on content. Pure: no MkDocs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .diagnostics import Diagnostic, diag, did_you_mean
from .records import Problems, Rec, records_in
from .yamlsafe import compose, read_text

__all__ = [
    "Claim", "EvidenceItem", "HistoryItem", "Question", "Search", "Outcome", "Rating", "Directness", "Effect",
    "parse_claim", "load_claims", "split_front_matter", "SLUG",
    "TOPICS", "VERDICTS", "CERTAINTIES", "STANCES", "POPULATIONS", "CLAIM_FIELDS", "EVIDENCE_FIELDS",
    "OUTCOME_KINDS", "DOWN_DOMAINS", "UP_DOMAINS", "MEASURES", "SOURCES",
]

TOPICS = ("anatomy", "mechanism", "cause", "treatment", "prognosis", "context")
#: Verdicts, from strongest endorsement of the article's claim to none.
VERDICTS = ("supported", "partly-supported", "contested", "not-supported", "untested")
CERTAINTIES = ("high", "moderate", "low", "very-low")
STANCES = ("supports", "contradicts", "mixed", "context")
POPULATIONS = (
    "itbs-patients", "runners", "cyclists", "athletes", "healthy", "patients", "cadaver", "model", "mixed",
)
POPULATION_WORDS = {
    "itbs-patients": "People with ITBS", "runners": "Runners", "cyclists": "Cyclists", "athletes": "Athletes",
    "healthy": "Healthy people", "patients": "Patients with another condition", "cadaver": "Cadavers",
    "model": "A computer or mathematical model", "mixed": "Mixed groups",
}
#: What kind of question an outcome answers; it sets where GRADE starts.
OUTCOME_KINDS = ("intervention", "association", "measurement")
#: GRADE's reasons to rate down (0, -1 or -2 levels) and up (0, +1 or +2).
DOWN_DOMAINS = ("risk-of-bias", "inconsistency", "indirectness", "imprecision", "publication-bias")
UP_DOMAINS = ("large-effect", "dose-response", "confounding")
MEASURES = (
    "mean-difference", "smd", "risk-ratio", "odds-ratio", "hazard-ratio", "risk-difference", "correlation",
    "percentage", "proportion", "mean", "median", "kappa", "icc", "other",
)
#: Where a search was run.
SOURCES = ("pubmed", "pmc", "europe-pmc", "pedro", "cochrane-library", "crossref", "stored-web-index",
           "reference-lists", "other")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")

CLAIM_FIELDS: dict[str, str] = {
    "title": "Page title (optional; defaults to the claim).",
    "claim": "The claim in our words, one sentence.",
    "quote": "The claim's words, verbatim from the article.",
    "topic": "One of: " + ", ".join(TOPICS) + ".",
    "verdict": "One of: " + ", ".join(VERDICTS) + ".",
    "certainty": "GRADE certainty of the claim's critical outcomes (the lowest of them): "
                 + ", ".join(CERTAINTIES) + ".",
    "bottom_line": "The answer in one plain sentence, shown at the top of the page.",
    "question": "The question the evidence answers: population, intervention (or exposure), comparison, outcome.",
    "searches": "Every search run for this claim: source, terms, date, results.",
    "outcomes": "The outcomes judged, each with its GRADE judgements and certainty.",
    "evidence": "One item per study and outcome: ref, outcome, stance, population, participants, n, "
                "directness, effects, finding, quote.",
    "clients": "A plain-language paragraph for clients (Markdown: emphasis, lists, links).",
    "practice": "What it means in practice (Markdown: emphasis, lists, links).",
    "reviewed": "Date of the last review (YYYY-MM-DD).",
    "override": "Reason for a verdict outside what the direct evidence allows, or null.",
    "history": "A list of dated changes: date, change, reason.",
    "description": "Page description for search engines (optional).",
}
EVIDENCE_FIELDS: dict[str, str] = {
    "ref": "The BibTeX key of the study.",
    "outcome": "The id of one of the claim's outcomes.",
    "stance": "One of: " + ", ".join(STANCES) + ".",
    "population": "Who or what was studied, one of: " + ", ".join(POPULATIONS) + ".",
    "participants": "Who took part, in words (from the abstract).",
    "n": "Participants or specimens analysed (never a number of studies), or null.",
    "directness": "population, intervention, outcome: direct or indirect, and the reason when indirect.",
    "effects": "Numbers the study reports for the outcome: measure, estimate, ci, unit, n, timepoint, scale.",
    "finding": "What the study found that bears on the claim, in our words.",
    "quote": "A sentence copied verbatim from the entry's abstract (optional).",
}
QUESTION_FIELDS = {"population": "Who.", "intervention": "What is done or what people are exposed to.",
                   "comparison": "Against what.", "outcome": "What is measured."}
SEARCH_FIELDS = {"source": "One of: " + ", ".join(SOURCES) + ".", "terms": "The exact search string.",
                 "date": "The day it was run (YYYY-MM-DD), or null for a search not yet run.",
                 "results": "How many records it returned.", "note": "How it was run, in words."}
OUTCOME_FIELDS = {"id": "A short id the evidence items name.", "name": "The outcome, in words.",
                  "kind": "One of: " + ", ".join(OUTCOME_KINDS) + ".",
                  "critical": "Whether the claim's certainty rests on it (default true).",
                  "certainty": "GRADE certainty: " + ", ".join(CERTAINTIES) + ".",
                  "grade": "The GRADE judgements: " + ", ".join(DOWN_DOMAINS + UP_DOMAINS) + "."}
RATING_FIELDS = {"rating": "Levels: 0, -1 or -2 to rate down; 0, 1 or 2 to rate up.",
                 "reason": "Why (required unless the rating is 0)."}
DIRECTNESS_FIELDS = {"population": "direct or indirect.", "intervention": "direct or indirect.",
                     "outcome": "direct or indirect.", "reason": "Why, when any part is indirect."}
EFFECT_FIELDS = {"measure": "One of: " + ", ".join(MEASURES) + ".", "estimate": "The number reported.",
                 "ci": "[low, high]: its 95% confidence interval, when reported.", "unit": "Its unit.",
                 "n": "Participants or specimens analysed.", "timepoint": "When it was measured.",
                 "outcome": "What was measured, when it differs from the outcome's name.",
                 "scale": "The id of a scale in the table of minimal important differences."}
HISTORY_FIELDS = {"date": "YYYY-MM-DD.", "change": "What changed.", "reason": "Why."}
_REQUIRED = ("claim", "quote", "topic", "verdict", "certainty", "bottom_line", "question", "searches", "outcomes",
             "evidence", "reviewed")


@dataclass(frozen=True)
class Rating:
    rating: int = 0
    reason: str = ""


@dataclass
class Question:
    population: str = ""
    intervention: str = ""
    comparison: str = ""
    outcome: str = ""


@dataclass
class Search:
    source: str
    terms: str
    date: str = ""  # '' for a search not yet run
    results: int | None = None
    note: str = ""
    line: int = 0


@dataclass
class Outcome:
    id: str
    name: str
    kind: str = "association"
    critical: bool = True
    certainty: str = "very-low"
    grade: dict[str, Rating] = field(default_factory=dict)
    line: int = 0
    lines: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Directness:
    population: str = "direct"
    intervention: str = "direct"
    outcome: str = "direct"
    reason: str = ""

    @property
    def direct(self) -> bool:
        return self.population == self.intervention == self.outcome == "direct"

    @property
    def indirect_parts(self) -> list[str]:
        return [p for p in ("population", "intervention", "outcome") if getattr(self, p) != "direct"]


@dataclass(frozen=True)
class Effect:
    measure: str
    estimate: float
    ci: tuple[float, float] | None = None
    unit: str = ""
    n: int | None = None
    timepoint: str = ""
    outcome: str = ""
    scale: str = ""
    line: int = 0


@dataclass
class EvidenceItem:
    ref: str
    stance: str
    population: str = ""
    n: int | None = None
    finding: str = ""
    quote: str = ""
    line: int = 0
    outcome: str = ""
    participants: str = ""
    directness: Directness = field(default_factory=Directness)
    effects: list[Effect] = field(default_factory=list)
    quote_line: int = 0  # the line of its quote (misquotes are reported there)

    @property
    def counted(self) -> bool:
        """Whether it counts in its outcome's body of evidence (context does not)."""
        return self.stance != "context"


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
    bottom_line: str = ""
    question: Question = field(default_factory=Question)
    searches: list[Search] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    description: str = ""
    lines: dict[str, int] = field(default_factory=dict)
    body: str = ""

    @property
    def heading(self) -> str:
        return self.title or self.claim

    def line(self, name: str) -> int:
        return self.lines.get(name, 1)

    @property
    def searched(self) -> str:
        """The date of the latest search run ('' when none was)."""
        return max((s.date for s in self.searches if s.date), default="")

    def outcome(self, oid: str) -> Outcome | None:
        return next((o for o in self.outcomes if o.id == oid), None)

    def body_of(self, oid: str) -> list[EvidenceItem]:
        """The studies counted for one outcome."""
        return [it for it in self.evidence if it.outcome == oid and it.counted]


_FRONT = re.compile(r"\A---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)


def split_front_matter(text: str) -> tuple[str, str, int]:
    """(front matter YAML, body, line number where the YAML starts)."""
    m = _FRONT.match(text)
    if not m:
        return "", text, 1
    return m.group(1) or "", text[m.end():], 2


def parse_claim(text: str, path: str, slug: str, known_refs: Mapping[str, object] | None = None
                ) -> tuple[Claim | None, list[Diagnostic]]:
    """Parse and validate one claim page. Returns the claim (None if unusable) and diagnostics."""
    front, body, first = split_front_matter(text)
    if not front.strip():
        return None, [diag(path, 1, 1, "claim-invalid",
                           "a claim page needs a front-matter claim record between '---' lines; "
                           "run 'evidencekb new claim \"...\"' to scaffold one.")]
    node, errs = compose(front, path, first)
    if node is None:
        return None, errs
    if not isinstance(node, yaml.MappingNode):
        return None, [diag(path, first, 1, "claim-invalid", "front matter must be a mapping of fields.")]
    probs = Problems(path, first, "claim-invalid")
    rec = Rec(node, probs, "claim", CLAIM_FIELDS, _REQUIRED)
    c = Claim(slug=slug, path=path, body=body)
    c.lines = {name: rec.at(name) for name in rec.nodes}
    for name in ("claim", "quote", "bottom_line"):
        setattr(c, name, rec.text(name))
    for name in ("title", "clients", "practice", "description"):
        setattr(c, name, rec.text(name, optional=True))
    c.topic = rec.enum("topic", TOPICS)
    c.verdict = rec.enum("verdict", VERDICTS, "untested")
    c.certainty = rec.enum("certainty", CERTAINTIES, "very-low")
    c.reviewed = rec.date("reviewed")
    c.override = rec.text("override", optional=True) or None
    q = rec.sub("question", "question", QUESTION_FIELDS, ("population", "intervention", "outcome"))
    if q is not None:
        c.question = Question(q.text("population"), q.text("intervention"), q.text("comparison", optional=True),
                              q.text("outcome"))
    for s in records_in(rec, "searches", "search", SEARCH_FIELDS, ("source", "terms", "date")):
        c.searches.append(Search(s.enum("source", SOURCES, "other"), s.text("terms"), s.date("date", optional=True),
                                 s.whole("results"), s.text("note", optional=True), s.line))
    if "searches" in rec and not c.searches and not probs.items:
        probs.add(rec.at("searches"), "claim: 'searches' is empty; record every search run for this claim "
                                      "(source, exact terms, date), even one that found nothing.")
    _outcomes(rec, c)
    c.evidence = _evidence(rec, c, known_refs)
    for h in records_in(rec, "history", "history item", HISTORY_FIELDS, ("date", "change")):
        c.history.append(HistoryItem(h.date("date"), h.text("change"), h.text("reason", optional=True)))
    c.history.sort(key=lambda h: h.date, reverse=True)
    return c, errs + probs.items


def _outcomes(rec: Rec, c: Claim) -> None:
    seen: set[str] = set()
    for o in records_in(rec, "outcomes", "outcome", OUTCOME_FIELDS, ("id", "name", "kind", "certainty")):
        oid = o.text("id")
        if oid in seen:
            rec.probs.add(o.at("id"), f"outcome id '{oid}' is used twice; give each outcome its own id.")
        seen.add(oid)
        out = Outcome(oid, o.text("name"), o.enum("kind", OUTCOME_KINDS, "association"), o.flag("critical", True),
                      o.enum("certainty", CERTAINTIES, "very-low"), {}, o.line,
                      {name: o.at(name) for name in o.nodes})
        g = o.sub("grade", f"grade of outcome '{oid}'", {d: "A rating and its reason." for d in DOWN_DOMAINS + UP_DOMAINS})
        for domain in g.nodes if g is not None else ():
            out.lines[domain] = g.at(domain)  # type: ignore[union-attr]
            r = g.sub(domain, f"{domain} of outcome '{oid}'", RATING_FIELDS, ("rating",))  # type: ignore[union-attr]
            if r is None:
                continue
            allowed = (0, -1, -2) if domain in DOWN_DOMAINS else (0, 1, 2)
            value = r.raw("rating")
            if value not in allowed or isinstance(value, bool):
                rec.probs.add(r.at("rating"), f"{domain} of outcome '{oid}': rating is {value!r}; allowed: "
                              + ", ".join(str(a) for a in allowed) + ".")
                value = 0
            out.grade[domain] = Rating(int(value), r.text("reason", optional=True))
        c.outcomes.append(out)


def _evidence(rec: Rec, c: Claim, known_refs: Mapping[str, object] | None) -> list[EvidenceItem]:
    out: list[EvidenceItem] = []
    ids = [o.id for o in c.outcomes]
    for e in records_in(rec, "evidence", "evidence item", EVIDENCE_FIELDS, ("ref", "stance", "finding")):
        ref = e.text("ref")
        if not ref:
            continue
        if known_refs is not None and ref not in known_refs:
            rec.probs.add(e.at("ref"), f"evidence 'ref: {ref}' is not a key in any .bib file."
                          + did_you_mean(ref, known_refs), "claim-unknown-ref")
        item = EvidenceItem(ref, e.enum("stance", STANCES, "context"), e.enum("population", POPULATIONS),
                            e.whole("n"), e.text("finding"), e.text("quote", optional=True), e.line,
                            e.text("outcome", optional=True), e.text("participants", optional=True))
        item.quote_line = e.at("quote") if item.quote else 0
        if item.counted and "outcome" not in e:
            rec.probs.add(e.line, f"evidence item for '{ref}' needs 'outcome', the id of one of the claim's "
                          f"outcomes ({', '.join(ids) or 'none defined'}).")
        elif item.outcome and item.outcome not in ids:
            rec.probs.add(e.at("outcome"), f"evidence item for '{ref}' names outcome '{item.outcome}', which the "
                          f"claim does not define; outcomes: {', '.join(ids) or 'none'}."
                          + did_you_mean(item.outcome, ids))
        d = e.sub("directness", f"directness of '{ref}'", DIRECTNESS_FIELDS)
        if d is not None:
            parts = {p: d.enum(p, ("direct", "indirect"), "direct") for p in ("population", "intervention", "outcome")}
            item.directness = Directness(**parts, reason=d.text("reason", optional=True))
            if not item.directness.direct and not item.directness.reason:
                rec.probs.add(d.line, f"directness of '{ref}': say why it is indirect "
                              f"({', '.join(item.directness.indirect_parts)}) in 'reason'.")
        elif item.counted:
            rec.probs.add(e.line, f"evidence item for '{ref}' needs 'directness' (population, intervention, "
                          "outcome: direct or indirect).")
        for f in records_in(e, "effects", f"effect of '{ref}'", EFFECT_FIELDS, ("measure", "estimate")):
            effect = _effect(f)
            if effect is not None:
                item.effects.append(effect)
        out.append(item)
    return out


def _effect(f: Rec) -> Effect | None:
    measure = f.enum("measure", MEASURES, "other")
    estimate = f.number("estimate")
    ci: tuple[float, float] | None = None
    raw = f.raw("ci")
    if raw is not None:
        if (isinstance(raw, list) and len(raw) == 2
                and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in raw)):
            ci = (float(raw[0]), float(raw[1]))
            if not ci[0] <= ci[1] or (estimate is not None and not ci[0] <= estimate <= ci[1]):
                f.probs.add(f.at("ci"), f"{f.what}: the interval {raw} must run from low to high and hold the "
                            f"estimate {estimate}.")
                ci = None
        else:
            f.probs.add(f.at("ci"), f"{f.what}: 'ci' must be [low, high], two numbers, not {raw!r}.")
    if estimate is None:
        return None
    if measure in ("risk-ratio", "odds-ratio", "hazard-ratio") and (estimate <= 0 or (ci is not None and ci[0] <= 0)):
        f.probs.add(f.at("estimate"), f"{f.what}: a {measure.replace('-', ' ')} is above 0; {estimate} (or its interval) "
                    "is not. Record the ratio itself, not its logarithm.")
        return None
    return Effect(measure, estimate, ci, f.text("unit", optional=True), f.whole("n", minimum=1),
                  f.text("timepoint", optional=True), f.text("outcome", optional=True), f.text("scale", optional=True),
                  f.line)


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
        if not SLUG.match(p.stem):
            errs.append(diag(display, 1, 1, "claim-invalid",
                             f"claim page name '{p.stem}' is not a slug: use lower-case letters, digits and hyphens "
                             "(rename the file)."))
            continue
        for twin in (folder / p.stem / "index.md", folder / p.stem / "README.md"):
            if twin.exists():
                errs.append(diag(f"{display_prefix}/{claims_dir}/{p.stem}/{twin.name}", 1, 1, "claim-invalid",
                                 f"this page has the same address as the claim page {display}, which it would "
                                 "silently replace; rename or remove one of them."))
        try:
            data = p.read_bytes()
        except OSError as exc:
            errs.append(diag(display, 1, 1, "claim-invalid", f"cannot read the page: {exc.strerror}."))
            continue
        text, problems = read_text(data, display, "claim-invalid")
        if text is None:
            errs.extend(problems)
            continue
        claim, problems = parse_claim(text, display, p.stem, known_refs)
        errs.extend(problems)
        if claim is not None:
            claims.append(claim)
    return claims, errs
