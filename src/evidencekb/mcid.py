"""Minimal important differences: a small table, stored once, that effects are shown against. Pure.

``references/mcid.yaml`` maps a scale id to its name, the smallest change
patients notice as important, its unit and where that value comes from::

    vas-pain-100:
      name: Pain, 0 to 100 mm visual analogue scale
      value: 13
      unit: mm
      source: somekey2001
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from .diagnostics import Diagnostic, diag
from .records import Problems, Rec
from .yamlsafe import compose, read_text

__all__ = ["Mcid", "parse", "load"]

FIELDS = {"name": "The scale, in words.", "value": "The minimal important difference.",
          "unit": "Its unit.", "source": "The BibTeX key of the study it comes from.", "note": "A few words."}


@dataclass(frozen=True)
class Mcid:
    id: str
    name: str
    value: float
    unit: str = ""
    source: str = ""
    note: str = ""


def parse(text: str, path: str, known: Mapping[str, object] | None = None) -> tuple[dict[str, Mcid], list[Diagnostic]]:
    node, errs = compose(text, path, 1, "mcid-invalid")
    if node is None:
        return {}, errs
    if not isinstance(node, yaml.MappingNode):
        return {}, [diag(path, 1, 1, "mcid-invalid", "the table maps each scale id to its name, value and unit.")]
    probs = Problems(path, 1, "mcid-invalid")
    out: dict[str, Mcid] = {}
    for k, v in node.value:
        sid = str(k.value)
        if not isinstance(v, yaml.MappingNode):
            probs.add(probs.line_of(k), f"scale '{sid}' must be a mapping with fields {', '.join(FIELDS)}.")
            continue
        rec = Rec(v, probs, f"scale '{sid}'", FIELDS, ("name", "value"))
        value = rec.number("value")
        source = rec.text("source", optional=True)
        if source and known is not None and source not in known:
            probs.add(rec.at("source"), f"scale '{sid}': source '{source}' is not a key in any .bib file.")
        if value is not None:
            out[sid] = Mcid(sid, rec.text("name"), value, rec.text("unit", optional=True), source,
                            rec.text("note", optional=True))
    return out, errs + probs.items


def load(path: Path, display: str, known: Mapping[str, object] | None = None) -> tuple[dict[str, Mcid], list[Diagnostic]]:
    if not path.exists():
        return {}, []
    text, errs = read_text(path.read_bytes(), display, "mcid-invalid")
    return ({}, errs) if text is None else parse(text, display, known)
