"""Risk of bias, judged once per study with a named tool. Pure.

The judgements live in one YAML file beside the BibTeX library (by default
``references/risk-of-bias.yaml``), keyed by citation key, so that every page
citing a study shows the same judgement. Each tool's items are validated and
its summary is computed, not typed: the PEDro score from its items, the
Newcastle–Ottawa category from its stars, the AMSTAR 2 confidence from its
critical and non-critical items, RoB 2, ROBINS-I and the structured note from
their worst domain (a stated overall judgement may be worse, never better).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .diagnostics import Diagnostic, diag
from .records import Problems, Rec
from .yamlsafe import compose, read_text

__all__ = ["Judgement", "Item", "TOOLS", "load", "parse", "RISK_LABELS"]

LEVELS_3 = ("low", "some-concerns", "high")
LEVELS_ROBINS = ("low", "moderate", "serious", "critical", "no-information")
AMSTAR_ANSWERS = ("yes", "partial-yes", "no", "not-applicable")
AMSTAR_CRITICAL = frozenset({2, 4, 7, 9, 11, 13, 15})

#: Each tool: its name, the items it judges and what an item's value may be.
TOOLS: dict[str, tuple[str, tuple[str, ...]]] = {
    "pedro": ("PEDro scale", tuple(str(i) for i in range(1, 12))),
    "rob2": ("RoB 2", ("randomisation", "deviations", "missing-data", "measurement", "reported-result")),
    "robins-i": ("ROBINS-I", ("confounding", "selection", "classification", "deviations", "missing-data",
                              "measurement", "reported-result")),
    "newcastle-ottawa": ("Newcastle–Ottawa scale", ("selection", "comparability", "outcome")),
    "amstar2": ("AMSTAR 2", tuple(str(i) for i in range(1, 17))),
    "note": ("Structured note", ("sample", "measurement", "analysis")),
    "not-appraised": ("Not appraised", ()),
}
PEDRO_ITEMS = {
    "1": "Eligibility criteria specified (not scored)", "2": "Random allocation", "3": "Concealed allocation",
    "4": "Groups similar at baseline", "5": "Participants blinded", "6": "Therapists blinded",
    "7": "Assessors blinded", "8": "Outcome data for more than 85% of participants",
    "9": "Intention-to-treat analysis", "10": "Between-group comparison reported",
    "11": "Point estimates and variability reported",
}
AMSTAR_ITEMS = {
    "1": "PICO components in the question", "2": "Protocol registered before the review (critical)",
    "3": "Choice of study designs explained", "4": "Comprehensive literature search (critical)",
    "5": "Study selection in duplicate", "6": "Data extraction in duplicate",
    "7": "List of excluded studies with reasons (critical)", "8": "Included studies described in detail",
    "9": "Risk of bias assessed with a satisfactory technique (critical)", "10": "Sources of funding reported",
    "11": "Appropriate statistical methods for meta-analysis (critical)",
    "12": "Impact of risk of bias on the meta-analysis assessed",
    "13": "Risk of bias accounted for in interpreting results (critical)",
    "14": "Heterogeneity explained", "15": "Publication bias investigated (critical)",
    "16": "Conflicts of interest reported",
}
ITEM_LABELS = {"pedro": PEDRO_ITEMS, "amstar2": AMSTAR_ITEMS}
NOS_MAX = {"selection": 4, "comparability": 2, "outcome": 3}
#: The risk every tool's summary maps to, for tables across designs.
RISK_LABELS = {"low": "Low risk of bias", "some-concerns": "Some concerns", "high": "High risk of bias",
               "n/a": "Not appraised"}
JUDGEMENT_FIELDS = {
    "tool": "One of: " + ", ".join(TOOLS) + ".",
    "basis": "What was read: abstract or full-text.",
    "items": "The tool's items, each a value or {rating or stars or answer, reason}.",
    "overall": "The overall judgement, where the tool has one (RoB 2, ROBINS-I); may be worse than the worst item.",
    "reason": "One line: why this overall judgement.",
    "includes": "For reviews: keys of the primary studies it includes.",
    "designs": "For reviews: the designs of the studies it synthesises (rct, cohort, ...).",
}


@dataclass(frozen=True)
class Item:
    id: str
    label: str
    value: str  # "yes", "low", "3 of 4 stars", ...
    reason: str = ""


@dataclass
class Judgement:
    key: str
    tool: str
    basis: str
    items: list[Item]
    summary: str  # e.g. "6/10 (good)", "low", "critically-low"
    risk: str  # low | some-concerns | high | n/a
    reason: str
    includes: list[str] = field(default_factory=list)
    designs: list[str] = field(default_factory=list)
    line: int = 0
    path: str = ""

    @property
    def tool_name(self) -> str:
        return TOOLS[self.tool][0]

    @property
    def randomised(self) -> bool:
        """A review of randomised trials (its ``designs`` name rct)."""
        return "rct" in self.designs


def _item(rec: Rec, tool: str, iid: str, node: object, line: int, what: str) -> tuple[str, str]:
    """(value, reason) of one item, validated for its tool."""
    reason = ""
    value: object
    if isinstance(node, yaml.MappingNode):
        sub = Rec(node, rec.probs, f"{what} item {iid}",
                  {"rating": "", "stars": "", "answer": "", "reason": "Why."})
        value = next((sub.raw(k) for k in ("rating", "stars", "answer") if k in sub), None)
        reason = sub.text("reason", optional=True)
    else:
        from .yamlsafe import construct

        value = construct(node)
    if isinstance(value, bool) and tool in ("pedro", "amstar2"):  # YAML reads a bare yes/no as true/false
        value = "yes" if value else "no"
    if tool == "pedro":
        if value not in ("yes", "no"):
            rec.probs.add(line, f"{what}: PEDro item {iid} must be yes or no, not {value!r}.")
            value = "no"
    elif tool == "newcastle-ottawa":
        top = NOS_MAX[iid]
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
            rec.probs.add(line, f"{what}: Newcastle–Ottawa '{iid}' must be 0 to {top} stars, not {value!r}.")
            value = 0
        value = str(value)
    elif tool == "amstar2":
        if value not in AMSTAR_ANSWERS:
            rec.probs.add(line, f"{what}: AMSTAR 2 item {iid} must be one of {', '.join(AMSTAR_ANSWERS)}, not {value!r}.")
            value = "no"
    else:
        allowed = LEVELS_ROBINS if tool == "robins-i" else LEVELS_3
        if value not in allowed:
            rec.probs.add(line, f"{what}: '{iid}' must be one of {', '.join(allowed)}, not {value!r}.")
            value = allowed[-1] if tool != "robins-i" else "no-information"
    return str(value), reason


def _summary(tool: str, values: dict[str, str], stated: str, rec: Rec, what: str) -> tuple[str, str]:
    """(summary, risk) computed from the items."""
    if tool == "pedro":
        score = sum(1 for i in range(2, 12) if values.get(str(i)) == "yes")
        grade = "excellent" if score >= 9 else "good" if score >= 6 else "fair" if score >= 4 else "poor"
        return f"{score}/10 ({grade})", {"excellent": "low", "good": "low", "fair": "some-concerns"}.get(grade, "high")
    if tool == "newcastle-ottawa":
        s, c, o = (int(values.get(k, "0")) for k in ("selection", "comparability", "outcome"))
        if s >= 3 and c >= 1 and o >= 2:
            cat = "good"
        elif s == 2 and c >= 1 and o >= 2:
            cat = "fair"
        else:
            cat = "poor"
        return f"{s + c + o}/9 stars ({cat})", {"good": "low", "fair": "some-concerns"}.get(cat, "high")
    if tool == "amstar2":
        flaws = sum(1 for i in AMSTAR_CRITICAL if values.get(str(i)) == "no")
        weak = sum(1 for i in range(1, 17) if i not in AMSTAR_CRITICAL and values.get(str(i)) == "no")
        conf = "critically-low" if flaws > 1 else "low" if flaws == 1 else "moderate" if weak > 1 else "high"
        return f"{conf.replace('-', ' ')} confidence", {"high": "low", "moderate": "some-concerns"}.get(conf, "high")
    if tool == "not-appraised":
        return "not appraised", "n/a"
    order = LEVELS_ROBINS if tool == "robins-i" else LEVELS_3
    ranked = [order.index(v) for v in values.values() if v in order and v != "no-information"]
    worst = order[max(ranked)] if ranked else order[0]
    overall = worst
    if stated:
        if stated not in order:
            rec.probs.add(rec.at("overall"), f"{what}: overall must be one of {', '.join(order)}, not {stated!r}.")
        elif order.index(stated) < order.index(worst):
            rec.probs.add(rec.at("overall"), f"{what}: overall '{stated}' is better than its worst item "
                          f"('{worst}'); an overall judgement is at least as bad as its worst domain.", "rob-invalid")
        else:
            overall = stated
    risk = {"low": "low", "some-concerns": "some-concerns", "moderate": "some-concerns"}.get(overall, "high")
    return overall, risk


def parse(text: str, path: str, known: Mapping[str, object] | None = None) -> tuple[dict[str, Judgement], list[Diagnostic]]:
    """Every judgement in a risk-of-bias file, and its problems."""
    node, errs = compose(text, path, 1, "rob-invalid")
    if node is None:
        return {}, errs
    if not isinstance(node, yaml.MappingNode):
        return {}, [diag(path, 1, 1, "rob-invalid", "the file must map each citation key to its judgement.")]
    probs = Problems(path, 1, "rob-invalid")
    out: dict[str, Judgement] = {}
    for knode, vnode in node.value:
        key = str(knode.value)
        line = probs.line_of(knode)
        if key in out:
            probs.add(line, f"'{key}' is judged twice; keep one judgement per study.")
            continue
        if known is not None and key not in known:
            probs.add(line, f"'{key}' is not a key in any .bib file.", "rob-unknown-ref")
        if not isinstance(vnode, yaml.MappingNode):
            probs.add(line, f"'{key}': a judgement is a mapping with fields {', '.join(JUDGEMENT_FIELDS)}.")
            continue
        what = f"risk of bias of '{key}'"
        rec = Rec(vnode, probs, what, JUDGEMENT_FIELDS, ("tool", "reason"))
        tool = rec.enum("tool", tuple(TOOLS), "not-appraised")
        basis = rec.enum("basis", ("abstract", "full-text"), "abstract") if tool != "not-appraised" else ""
        names = TOOLS[tool][1]
        values: dict[str, str] = {}
        items: list[Item] = []
        inode = rec.node("items")
        if isinstance(inode, yaml.MappingNode):
            for k, v in inode.value:
                iid = str(k.value)
                kline = probs.line_of(k)
                if iid not in names:
                    probs.add(kline, f"{what}: '{iid}' is not an item of {TOOLS[tool][0]}; its items: "
                              f"{', '.join(names) or 'none'}.")
                    continue
                value, reason = _item(rec, tool, iid, v, kline, what)
                values[iid] = value
                items.append(Item(iid, ITEM_LABELS.get(tool, {}).get(iid, iid.replace("-", " ").capitalize()),
                                  value, reason))
        elif inode is not None:
            probs.add(rec.at("items"), f"{what}: 'items' must map each item to its judgement.")
        missing = [n for n in names if n not in values]
        if missing and tool != "not-appraised":
            probs.add(rec.line, f"{what}: {TOOLS[tool][0]} needs every item; missing: {', '.join(missing)}.")
        order = {n: i for i, n in enumerate(names)}
        items.sort(key=lambda it: order.get(it.id, 99))
        summary, risk = _summary(tool, values, rec.text("overall", optional=True), rec, what)
        lists: dict[str, list[str]] = {}
        for fld in ("includes", "designs"):
            raw_value = rec.raw(fld) or []
            if not isinstance(raw_value, list) or not all(isinstance(x, str) for x in raw_value):
                probs.add(rec.at(fld), f"{what}: '{fld}' must be a list of names.")
            lists[fld] = [x for x in raw_value if isinstance(x, str)] if isinstance(raw_value, list) else []
        includes, designs = lists["includes"], lists["designs"]
        if known is not None:
            for k in includes:
                if k not in known:
                    probs.add(rec.at("includes"), f"{what}: includes '{k}', which is not a key in any .bib file.",
                              "rob-unknown-ref")
        out[key] = Judgement(key, tool, basis, items, summary, risk, rec.text("reason"), includes, designs, line, path)
    return out, errs + probs.items


def load(path: Path, display: str, known: Mapping[str, object] | None = None) -> tuple[dict[str, Judgement], list[Diagnostic]]:
    """The judgements of a file ({} without errors when the file does not exist)."""
    if not path.exists():
        return {}, []
    try:
        data = path.read_bytes()
    except OSError as exc:
        return {}, [diag(display, 1, 1, "rob-invalid", f"cannot read the file: {exc.strerror}.")]
    text, errs = read_text(data, display, "rob-invalid")
    if text is None:
        return {}, errs
    return parse(text, display, known)
