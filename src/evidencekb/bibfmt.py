"""Normalise .bib files without losing anything.

Field order, two-space indentation, ``--`` in page ranges, braces around
values, and (optionally) entries sorted by key. Comments, ``@string`` and
``@preamble`` blocks, and blocks that do not parse are kept verbatim and in
place. Formatting twice changes nothing the second time.
"""

from __future__ import annotations

import difflib
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from typing import TYPE_CHECKING

from .bibliography import _parse_file

if TYPE_CHECKING:
    from bibtexparser import model

__all__ = ["FIELD_ORDER", "format_text", "entries_text", "write_atomic", "diff"]

FIELD_ORDER = (
    "author", "editor", "title", "booktitle", "journal", "journaltitle", "shortjournal", "series",
    "edition", "year", "month", "volume", "number", "pages", "eid", "publisher", "school",
    "institution", "organization", "address", "location", "doi", "pmid", "pmcid", "isbn", "issn",
    "url", "urldate", "langid", "design", "keywords", "note", "abstract",
)
_RANK = {name: i for i, name in enumerate(FIELD_ORDER)}
_PAGE_RANGE = re.compile(r"(?<=[\dA-Za-z])\s*(?:-{1,3}|–|—)\s*(?=[\dA-Za-z])")


def _balanced(text: str) -> bool:
    depth = 0
    for i, c in enumerate(text):
        if c == "\\":
            continue
        if c == "{" and (i == 0 or text[i - 1] != "\\"):
            depth += 1
        elif c == "}" and (i == 0 or text[i - 1] != "\\"):
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _value(name: str, raw: str) -> str:
    raw = raw.strip()
    inner: str | None = None
    if raw.startswith("{") and raw.endswith("}") and _balanced(raw[1:-1]):
        inner = raw[1:-1]
    elif raw.startswith('"') and raw.endswith('"') and '"' not in raw[1:-1].replace('\\"', "") and _balanced(raw[1:-1]):
        inner = raw[1:-1]
    elif raw.isdigit():
        inner = raw
    if inner is None:
        return raw  # a macro, a concatenation, or something we must not touch
    inner = re.sub(r"[ \t]*\n[ \t]*", " ", inner).strip() if name != "abstract" else inner.strip()
    if name == "pages":
        inner = _PAGE_RANGE.sub("--", inner)
    return "{" + inner + "}"


def _entry(block: model.Entry) -> str:
    fields = sorted(block.fields, key=lambda f: (_RANK.get(f.key.lower(), len(_RANK)), f.key.lower()))
    lines = [f"@{block.entry_type.lower()}{{{block.key},"]
    for f in fields:
        lines.append(f"  {f.key.lower()} = {_value(f.key.lower(), f.value)},")
    lines.append("}")
    return "\n".join(lines)


def format_text(text: str, sort: bool = False) -> str:
    """The formatted file. Unparseable blocks are kept exactly as they were."""
    from bibtexparser import model

    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lib = _parse_file(text)
    pieces: list[tuple[str, str]] = []  # (sort key or "", text)
    for block in lib.blocks:
        if isinstance(block, model.Entry) and not isinstance(block, model.ParsingFailedBlock):
            pieces.append((block.key.lower(), _entry(block)))
        elif isinstance(block, model.String):
            pieces.append(("", f"@string{{{block.key} = {_value('', block.value)}}}"))
        else:
            pieces.append(("", block.raw.strip()))
    if sort:
        # Entries are sorted among themselves; other blocks keep their slots.
        entries = sorted(p for p in pieces if p[0])
        it = iter(entries)
        pieces = [next(it) if p[0] else p for p in pieces]
    body = "\n\n".join(p[1] for p in pieces if p[1])
    return body + "\n" if body else ""


def entries_text(entries: Iterable[tuple[str, str, Mapping[str, str]]]) -> str:
    """Formatted BibTeX for (type, key, fields) triples whose values are already BibTeX."""
    parts = []
    for type_, key, fields in entries:
        body = "".join(f"  {k} = {{{v}}},\n" for k, v in fields.items())
        parts.append(f"@{type_}{{{key},\n{body}}}")
    return format_text("\n\n".join(parts))


def write_atomic(path: Path, text: str) -> None:
    """Write through a temporary file in the same folder, then rename over the target."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def diff(path: str, old: str, new: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), f"{path} (now)",
                                        f"{path} (formatted)"))
