"""Normalise .bib files without losing anything.

Field order, two-space indentation, ``--`` in page ranges, braces around
values, and (optionally) entries sorted by key. Comments, ``@string`` and
``@preamble`` blocks, and blocks that do not parse are kept verbatim and in
place. Formatting twice changes nothing the second time.
"""

from __future__ import annotations

import contextlib
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

__all__ = ["FIELD_ORDER", "format_text", "entries_text", "write_atomic", "diff", "WriteError", "FormatError"]

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


_DOI_RESOLVER = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)(?=10\.)", re.IGNORECASE)


def _value(name: str, raw: str, fix: bool = False) -> str:
    raw = raw.strip()
    inner: str | None = None
    braced = raw.startswith("{") and raw.endswith("}")
    quoted = raw.startswith('"') and raw.endswith('"') and '"' not in raw[1:-1].replace('\\"', "")
    if (braced or quoted) and _balanced(raw[1:-1]):
        inner = raw[1:-1]
    elif raw.isdigit():
        inner = raw
    if inner is None:
        return raw  # a macro, a concatenation, or something we must not touch
    if name != "abstract":  # lines joined, paragraphs (blank lines) kept
        inner = "\n\n".join(re.sub(r"\s*\n\s*", " ", para).strip()
                             for para in re.split(r"\n[ \t]*\n\s*", inner) if para.strip())
    else:
        inner = inner.strip()
    if name == "pages":
        inner = _PAGE_RANGE.sub("--", inner)
    if fix and name == "doi":
        inner = _DOI_RESOLVER.sub("", inner.strip())
    return "{" + inner + "}"


def _entry(block: model.Entry, fix: bool = False) -> str | None:
    """The formatted entry, or None when formatting would lose something (two fields whose
    names differ only in case, which BibTeX reads as one)."""
    names = [f.key.lower() for f in block.fields]
    if len(names) != len(set(names)):
        return None
    fields = sorted(block.fields, key=lambda f: (_RANK.get(f.key.lower(), len(_RANK)), f.key.lower()))
    lines = [f"@{block.entry_type.lower()}{{{block.key},"]
    for f in fields:
        lines.append(f"  {f.key.lower()} = {_value(f.key.lower(), f.value, fix)},")
    lines.append("}")
    return "\n".join(lines)


def format_text(text: str, sort: bool = False, problems: list[str] | None = None, fix: bool = False) -> str:
    """The formatted file (under ``fix``, DOIs stripped of a resolver prefix as well). ``@string``, ``@preamble`` and ``@comment`` blocks, comments, and
    blocks that do not parse are kept exactly as they were; an entry that cannot be
    formatted without loss is kept as it was and named in ``problems``. Under ``sort``,
    the comments just above an entry move with it."""
    from bibtexparser import model

    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lib = _parse_file(text)
    pieces: list[tuple[str, str]] = []  # (sort key or "", text)
    pending: list[str] = []  # comments waiting for the entry below them
    for block in lib.blocks:
        if isinstance(block, model.Entry) and not isinstance(block, model.ParsingFailedBlock):
            formatted = _entry(block, fix)
            if formatted is None:
                formatted = (block.raw or "").strip()
                if problems is not None:
                    problems.append(f"line {(block.start_line or 0) + 1}: entry '{block.key}' names a field twice "
                                    "(in different case); it was left as it is. Remove one of the two.")
            head = "\n\n".join(pending + [formatted]) if sort else formatted
            if not sort:
                pieces += [("", c) for c in pending]
            pending = []
            pieces.append((block.key.lower(), head))
        elif isinstance(block, (model.ImplicitComment, model.ExplicitComment)) and sort:
            pending.append((block.raw or "").strip())
        else:
            pieces += [("", c) for c in pending]
            pending = []
            pieces.append(("", (block.raw or "").strip()))
    pieces += [("", c) for c in pending]
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


class FormatError(ValueError):
    """A file ``fmt`` cannot read; the message names it and says what to do."""


class WriteError(OSError):
    """A file that must not or cannot be rewritten; the message says why and what to do."""


_TMP_TAG = ".evidencekb-tmp-"


def _stale_temps(folder: Path, name: str) -> None:
    """Remove temporary files a killed run left beside ``name`` (their process is gone)."""
    for p in folder.glob(f".{name}{_TMP_TAG}*"):
        try:
            pid = int(p.name.rsplit("-", 2)[-2])
        except (ValueError, IndexError):
            continue
        if pid != os.getpid() and not _alive(pid):
            p.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def write_atomic(path: Path, text: str) -> None:
    """Replace a file's content as one step, losing nothing around it.

    The text goes to a temporary file beside the real target (a symbolic link is
    followed, so the link stays a link), which then replaces it; the target's mode
    (and owner, where allowed) is kept. A file with other hard links is rewritten in
    place once the new text is safely on disk, so every link sees it. A read-only
    file is refused. Temporary files are removed on any error or interrupt, and
    those of a killed earlier run are removed on the next."""
    import signal
    import stat

    target = Path(os.path.realpath(path))
    if target.is_dir():
        raise WriteError(f"{path}: is a folder, not a file.")
    st = target.stat() if target.exists() else None
    if st is not None and (not os.access(target, os.W_OK) or not st.st_mode & stat.S_IWUSR):
        # The mode bits too: a file marked read-only stays so even for root, who may write anything.
        raise WriteError(f"{path}: the file is read-only; make it writable to change it.")
    folder = target.parent
    _stale_temps(folder, target.name)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}{_TMP_TAG}{os.getpid()}-", suffix=".tmp", dir=folder)
    old_handlers = {}

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            with contextlib.suppress(ValueError):  # not the main thread: signals stay as they are
                old_handlers[sig] = signal.signal(sig, interrupted)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if st is not None:
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
            if hasattr(os, "chown"):
                # Not allowed: the file keeps our ownership, as an editor's save would.
                with contextlib.suppress(OSError):
                    os.chown(tmp, st.st_uid, st.st_gid)
        if st is not None and st.st_nlink > 1:
            with open(target, "wb") as out, open(tmp, "rb") as src:  # bytes: line endings as written
                out.write(src.read())
            os.unlink(tmp)
        else:
            os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        for sig, handler in old_handlers.items():
            signal.signal(sig, handler)


def diff(path: str, old: str, new: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), f"{path} (now)",
                                        f"{path} (formatted)"))
