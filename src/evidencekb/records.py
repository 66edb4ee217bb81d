"""Reading hand-written YAML records field by field, each problem located. Pure.

A :class:`Rec` wraps a YAML mapping node: it knows the line of every field,
reports unknown and missing fields (with the allowed names), and reads values
as strings, enums, numbers, dates, lists or nested records. Claim records,
screening logs and risk-of-bias tables are all read through it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from .diagnostics import Diagnostic, diag, did_you_mean
from .yamlsafe import construct, shown

__all__ = ["Rec", "Problems", "records_in"]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Problems:
    """Collects the diagnostics of one file."""

    def __init__(self, path: str, first_line: int, code: str) -> None:
        self.path, self.first, self.code = path, first_line, code
        self.items: list[Diagnostic] = []

    def add(self, line: int, message: str, code: str | None = None, col: int = 1) -> None:
        self.items.append(diag(self.path, line, col, code or self.code, message))

    def line_of(self, node: Any) -> int:
        return int(node.start_mark.line) + self.first


class Rec:
    """One YAML mapping, read field by field. ``what`` names it in messages."""

    def __init__(self, node: Any, probs: Problems, what: str, fields: Mapping[str, str],
                 required: tuple[str, ...] = ()) -> None:
        self.probs, self.what, self.fields = probs, what, fields
        self.line = probs.line_of(node)
        self.nodes: dict[str, tuple[Any, int]] = {}
        for k, v in node.value:
            name = str(k.value) if isinstance(k, yaml.ScalarNode) else shown(construct(k))
            kline = probs.line_of(k)
            if name in self.nodes:
                probs.add(kline, f"{what}: field '{name}' is given twice.")
            elif name not in fields:
                short = name if len(name) <= 40 else name[:39] + "…"
                probs.add(kline, f"{what}: unknown field '{short}'; allowed fields: {', '.join(fields)}."
                          + did_you_mean(name, fields))
                continue
            self.nodes[name] = (v, kline)
        for name in required:
            if name not in self.nodes:
                probs.add(self.line, f"{what}: missing required field '{name}': {fields[name]}")

    def __contains__(self, name: str) -> bool:
        return name in self.nodes

    def at(self, name: str) -> int:
        """The line of a field (the record's own line when absent)."""
        return self.nodes[name][1] if name in self.nodes else self.line

    def raw(self, name: str) -> Any:
        return construct(self.nodes[name][0]) if name in self.nodes else None

    def node(self, name: str) -> Any:
        return self.nodes[name][0] if name in self.nodes else None

    def _bad(self, name: str, expected: str, value: Any) -> None:
        self.probs.add(self.at(name), f"{self.what}: field '{name}' must be {expected}, not {shown(value)}.")

    def text(self, name: str, *, optional: bool = False, default: str = "") -> str:
        if name not in self.nodes:
            return default
        value = self.raw(name)
        if value is None and optional:
            return default
        if not isinstance(value, str) or not value.strip():
            if optional and isinstance(value, str):
                return default
            self._bad(name, "a non-empty string", value)
            return default
        return value.strip()

    def enum(self, name: str, allowed: tuple[str, ...], default: str = "") -> str:
        if name not in self.nodes:
            return default
        value = self.raw(name)
        if value not in allowed:
            self.probs.add(self.at(name), f"{self.what}: field '{name}' is {shown(value)}; allowed values: "
                           f"{', '.join(allowed)}." + (did_you_mean(value, allowed) if isinstance(value, str) else ""))
            return default
        return str(value)

    def whole(self, name: str, *, minimum: int = 0) -> int | None:
        value = self.raw(name)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            self._bad(name, f"a whole number of at least {minimum}, or null", value)
            return None
        return value

    def number(self, name: str) -> float | None:
        value = self.raw(name)
        if value is None:
            return None
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
            self._bad(name, "a number", value)
            return None
        return float(value)

    def flag(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            self._bad(name, "true or false", value)
            return default
        return value

    def date(self, name: str, *, optional: bool = False) -> str:
        """A date as YYYY-MM-DD text; checked to exist in the calendar."""
        if name not in self.nodes:
            return ""
        value = self.raw(name)
        if value is None and optional:
            return ""
        if isinstance(value, str) and _DATE.match(value.strip()):
            try:
                return dt.date.fromisoformat(value.strip()).isoformat()
            except ValueError:
                self.probs.add(self.at(name), f"{self.what}: field '{name}' is {shown(value)}, which is not a day "
                               "of the calendar; write a real date as YYYY-MM-DD.")
                return ""
        self._bad(name, "a date written YYYY-MM-DD" + (" or null" if optional else ""), value)
        return ""

    def items(self, name: str) -> Iterator[tuple[Any, int]]:
        """The nodes of a list field with their lines (nothing for null or an empty list)."""
        node = self.node(name)
        if node is None or (isinstance(node, yaml.ScalarNode) and node.value in ("", "null", "~")):
            return
        if not isinstance(node, yaml.SequenceNode):
            self._bad(name, "a list", construct(node))
            return
        for item in node.value:
            yield item, self.probs.line_of(item)

    def sub(self, name: str, what: str, fields: Mapping[str, str], required: tuple[str, ...] = ()) -> Rec | None:
        """A nested mapping field as a record (None when absent or not a mapping)."""
        node = self.node(name)
        if node is None:
            return None
        if not isinstance(node, yaml.MappingNode):
            self._bad(name, "a mapping of fields", construct(node))
            return None
        return Rec(node, self.probs, what, fields, required)


def records_in(rec: Rec, name: str, what: str, fields: Mapping[str, str],
               required: tuple[str, ...] = ()) -> Iterator[Rec]:
    """Each mapping in a list field, as a record; other items are reported."""
    for i, (node, line) in enumerate(rec.items(name), 1):
        if not isinstance(node, yaml.MappingNode):
            rec.probs.add(line, f"{what} {i} must be a mapping with fields {', '.join(fields)}.")
            continue
        yield Rec(node, rec.probs, f"{what} {i}", fields, required)
