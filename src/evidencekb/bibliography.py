"""Load BibTeX files into entries plus located diagnostics.

Every ``.bib`` file is parsed on its own (so each problem keeps its file and
line), with ``@string`` macros shared across all files. Nothing is dropped in
silence: a block that does not parse, a duplicate key or a missing field each
become a :class:`~evidencekb.diagnostics.Diagnostic`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import io
import json
import logging
import os
import re
import tempfile
import threading
import zlib
from array import array
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from . import biblatex, latex
from .diagnostics import Diagnostic, diag, did_you_mean

if TYPE_CHECKING:
    from collections.abc import Callable

    from bibtexparser import model
    from bibtexparser.library import Library

__all__ = ["Entry", "Bibliography", "load", "load_text", "DESIGNS", "KEY", "ref_slug", "inherits", "resolve"]

#: Study designs, strongest first (the rank used by the verdict ceiling).
DESIGNS: tuple[str, ...] = (
    "systematic-review", "rct", "cohort", "case-control", "cross-sectional",
    "case-series", "case-report", "imaging", "cadaver", "lab", "model",
    "narrative-review", "expert-opinion",
)

_MONTHS = {m: str(i) for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}

#: A citation key as pandoc reads one (a slash, too: a reference page's name spells it out,
#: see :func:`ref_slug`).
KEY = re.compile(r"^\w[\w:.#$%&+?<>~/-]*$")
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_PMID = re.compile(r"^\d{1,9}$")
_PMCID = re.compile(r"^PMC\d+$")
#: A year as libraries write one: 1999, 1066, 1999?, 1990s, c. 1850, 1992--1993, 2005/06.
_YEAR_FORM = re.compile(r"^(?:c\.|ca\.|circa)?\s*\d{1,4}(?:s|[a-z]|[?~%]*)(?:\s*(?:-{1,3}|\u2013|/)\s*(?:\d{1,4}[?~%]*|…|\.\.\.)?)?$")
#: A field value that runs on into the next field, a comma missing: a brace closes and
#: "name = {" follows, or a quote ends a line and the next starts "name = ". (A quote then
#: ``id="x"`` on one line is markup in an abstract, not a missing comma.)
_SWALLOWED = re.compile(r"(?:\}\s*|\"[ \t]*\r?\n\s*)([A-Za-z][\w-]*)\s*=\s*[{\"]")
_DOI_RESOLVER = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)
_ABBREV_PAGES = re.compile(r"^(\d+)\s*-{1,2}\s*(\d+)$")


@dataclass
class Entry:
    """One BibTeX entry: raw (macro-resolved, still LaTeX) fields and its place."""

    key: str
    type: str
    fields: dict[str, str]
    path: str
    line: int
    raw: str = ""
    field_lines: dict[str, int] = field(default_factory=dict)
    #: Fields the entry takes from its ``crossref`` or ``xdata`` parents (already in ``fields``).
    inherited: tuple[str, ...] = ()

    def text(self, name: str) -> str:
        """A field decoded to plain Unicode text ('' when absent)."""
        value = self.fields.get(name)
        return latex.decode(value) if value else ""  # (read leniently: decoding never raises)

    def spans(self, name: str) -> list[latex.Span]:
        return latex.parse(self.fields.get(name, ""))

    def html(self, name: str) -> str:
        """The field as HTML: LaTeX read (leniently: :func:`latex.parse` never raises), text escaped."""
        return latex.to_html(self.spans(name))

    @property
    def design(self) -> str:
        return self.fields.get("design", "").strip()

    @property
    def doi(self) -> str:
        return self.fields.get("doi", "").strip()

    @property
    def year(self) -> str:
        return self.text("year")

    def line_of(self, name: str) -> int:
        return self.field_lines.get(name, self.line)

    @cached_property
    def digest(self) -> str:
        """A hash of what formatting reads (type, key and the fields with their @string macros
        resolved): what formatted output is cached under, so an edited macro misses the cache."""
        # Lengths first: no two field lists hash alike. Hashed as one text (what hashing it a
        # field at a time would give, at a fraction of the calls).
        text = "".join([f"{self.type}\0{self.key}"] + [f"\0{len(name)}:{name}{len(value)}:{value}"
                                                        for name, value in sorted(self.fields.items())])
        return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()

    def to_data(self) -> dict[str, object]:
        """Plain data (JSON) for the cache: never pickled, so a cache file cannot run code."""
        return {"key": self.key, "type": self.type, "fields": self.fields, "path": self.path, "line": self.line,
                "raw": self.raw, "field_lines": self.field_lines}

    @cached_property
    def problems(self) -> list[Diagnostic]:
        """:func:`lint_entry` of the entry."""
        return lint_entry(self)

    @classmethod
    def from_data(cls, data: dict[str, object]) -> Entry:
        e = cls(str(data["key"]), str(data["type"]), dict(data["fields"]), str(data["path"]),  # type: ignore[call-overload]
                int(data["line"]), str(data["raw"]), dict(data["field_lines"]))  # type: ignore[call-overload]
        if not all(isinstance(v, str) for v in e.fields.values()):
            raise ValueError("a cached entry with a field that is not text")
        return e


def _serialized(e: Entry) -> bytes:
    """The entry as the cache stores it (JSON, UTF-8)."""
    return json.dumps(e.to_data(), ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


class Packed(NamedTuple):
    """An entry as the cache stores it, made where it was parsed (a worker process): its
    JSON, hash and lint come to the process that stores it, which then neither receives,
    rebuilds nor serializes the entry itself."""

    key: str
    path: str
    line: int
    digest: str
    blob: bytes
    #: :attr:`Entry.problems`; None for an entry with parents, linted once their fields are in.
    problems: list[Diagnostic] | None
    #: The blob's checksum, as :class:`LazyEntries` keeps it for a blob stored uncompressed.
    checksum: bytes

    @classmethod
    def of(cls, e: Entry) -> Packed:
        blob = _serialized(e)
        return cls(e.key, e.path, e.line, e.digest, blob, None if inherits(e) else e.problems, _checksum(blob))


def inherits(e: Entry) -> bool:
    """Whether the entry names a ``crossref`` or ``xdata`` parent."""
    return bool(e.fields.get("crossref", "").strip() or e.fields.get("xdata", "").strip())


def resolve(e: Entry, lookup: Callable[[str], Entry | None]) -> tuple[Entry, list[str]]:
    """The entry with what its ``crossref`` and ``xdata`` parents give it, by biblatex's
    inheritance rules (:func:`evidencekb.biblatex.inherit`), and the parent keys that no
    library defines. ``lookup`` gives an entry as written (not resolved)."""
    if not inherits(e):
        return e, []
    unknown: list[str] = []

    def parent(key: str) -> tuple[str, Mapping[str, str]] | None:
        p = lookup(key)
        if p is None:
            unknown.append(key)
            return None
        return p.type, p.fields

    merged = biblatex.inherit(e.type, e.fields, parent)
    added = tuple(k for k in merged if k not in e.fields)
    if not added:
        return e, unknown
    lines = dict(e.field_lines)
    return Entry(e.key, e.type, merged, e.path, e.line, e.raw, lines, added), unknown


def unknown_parent(e: Entry, key: str) -> Diagnostic:
    link = "crossref" if key in biblatex.split_keys(e.fields.get("crossref", "")) else "xdata"
    return diag(e.path, e.line_of(link), 1, "bib-unknown-parent",
                f"'{e.key}' names {link} '{key}', which no .bib file defines; the fields it would give are "
                "missing. Add that entry, or correct the key.")


@dataclass
class Bibliography:
    """All entries by key, in file order, plus the diagnostics of loading them."""

    entries: dict[str, Entry] | LazyEntries = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    strings: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def __contains__(self, key: object) -> bool:
        return key in self.entries

    def __getitem__(self, key: str) -> Entry:
        return self.entries[key]

    def get(self, key: str) -> Entry | None:
        return self.entries.get(key)

    def suggest(self, key: str) -> str:
        return did_you_mean(key, list(self.entries))



def _open_read(path: str) -> int:
    return os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))


def _read_at(fd: int, size: int, offset: int) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(fd, size, offset)
    os.lseek(fd, offset, os.SEEK_SET)  # Windows has no pread; builds read from one thread
    return os.read(fd, size)


class CacheDamaged(OSError):
    """A cache file that does not match what was written; the caller loads afresh."""


class LazyEntries(Mapping[str, Entry]):
    """Entries kept compressed until used: a build touches only the entries it cites.

    Keys, membership, length, each entry's hash and place need no decompression; an
    entry is unpacked on access, and only the most recently used ones stay unpacked,
    so memory does not grow with the number of entries a build cites. Entries packed
    into a file are read from it on demand and not held in memory at all.

    Entries are stored as JSON, never pickled: a cache restored from elsewhere can
    hold wrong data, never code. Each stored entry carries a checksum, checked when
    it is read.
    """

    OPEN = 64

    def __init__(self, entries: Mapping[str, Entry] | Iterable[Entry | Packed], path: Path | None = None) -> None:
        """Pack ``entries`` (a mapping by key, or entries with distinct keys, which may be
        streamed, and may come :class:`Packed` already): into the file ``path`` (written
        atomically, uncompressed), or else compressed in memory."""
        self._pos: dict[str, int] = {}
        self._offsets = array("Q", [0])
        self._digests = bytearray()
        self._sums = bytearray()
        self._lines = array("L")
        self._path_ids = array("H")
        path_ids: dict[str, int] = {}
        self._data: bytes | None = None
        self._file: str | None = None
        self._fd: int | None = None
        self._compressed = path is None
        self._open: OrderedDict[str, Entry] = OrderedDict()
        # Open across the loop below, closed (or removed) by its finally-like handlers.
        out = (tempfile.NamedTemporaryFile(prefix=f".{path.name}.", dir=path.parent, delete=False,  # noqa: SIM115
                                           buffering=1 << 20) if path else None)
        chunks: list[bytes] = []
        write = out.file.write if out is not None else chunks.append
        try:
            items = entries.items() if isinstance(entries, Mapping) else ((e.key, e) for e in entries)
            for i, (k, e) in enumerate(items):
                packed = isinstance(e, Packed)
                blob = e.blob if packed else _serialized(e)
                if out is None:
                    blob = zlib.compress(blob, 1)
                write(blob)
                self._pos[k] = i
                self._offsets.append(self._offsets[-1] + len(blob))
                self._digests += bytes.fromhex(e.digest)
                # A packed entry's checksum was made where it was parsed (a worker), not here.
                self._sums += e.checksum if packed and out is not None else _checksum(blob)
                self._lines.append(min(e.line, 0xFFFFFFFF))
                self._path_ids.append(path_ids.setdefault(e.path, len(path_ids)))
            if out is not None:
                out.close()
                os.replace(out.name, path)  # type: ignore[arg-type]
                self._file = str(path)
                self._fd = _open_read(self._file)
        except BaseException:
            if out is not None:
                out.close()
                with contextlib.suppress(OSError):
                    os.unlink(out.name)
            raise
        self._paths = list(path_ids)
        if out is None:
            self._data = b"".join(chunks)

    def digest(self, key: str) -> str:
        """The entry's :attr:`Entry.digest`, without unpacking it."""
        i = self._pos[key]
        return self._digests[16 * i: 16 * i + 16].hex()

    def place(self, key: str) -> tuple[str, int]:
        """The entry's file and line, without unpacking it."""
        i = self._pos[key]
        return self._paths[self._path_ids[i]], self._lines[i]

    def _blob(self, i: int) -> bytes:
        lo, hi = self._offsets[i], self._offsets[i + 1]
        if self._data is not None:
            blob = self._data[lo:hi]
        else:
            if self._fd is None:
                self._fd = _open_read(self._file)  # type: ignore[arg-type]
            blob = _read_at(self._fd, hi - lo, lo)
        if len(blob) != hi - lo or _checksum(blob) != bytes(self._sums[8 * i: 8 * i + 8]):
            raise CacheDamaged(f"{self._file or 'the library in memory'}: a cached entry does not match its "
                               "checksum; delete the .cache folder and build again.")
        return blob

    def __getitem__(self, key: str) -> Entry:
        """The entry, its ``crossref`` and ``xdata`` parents' fields included."""
        entry = self._open.get(key)
        if entry is None:
            entry = self.written(key)
            if inherits(entry):
                entry = resolve(entry, self._written_or_none)[0]
            self._open[key] = entry
            if len(self._open) > self.OPEN:
                self._open.popitem(last=False)
        else:
            self._open.move_to_end(key)
        return entry

    def _written_or_none(self, key: str) -> Entry | None:
        return self.written(key) if key in self._pos else None

    def resolve_inheritance(self, keys: Iterable[str]) -> Iterator[tuple[Entry, Entry, list[str]]]:
        """For each key of an entry with parents: (as written, resolved, unknown parents), its
        stored hash updated to the resolved fields (a parent's edit changes its children's)."""
        for key in keys:
            written = self.written(key)
            resolved, unknown = resolve(written, self._written_or_none)
            i = self._pos[key]
            self._digests[16 * i: 16 * i + 16] = bytes.fromhex(resolved.digest)
            self._open.pop(key, None)
            yield written, resolved, unknown

    def written(self, key: str) -> Entry:
        """The entry as its file writes it (no inherited fields)."""
        blob = self._blob(self._pos[key])
        try:
            return Entry.from_data(json.loads(zlib.decompress(blob) if self._compressed else blob))
        except (ValueError, KeyError, TypeError, zlib.error) as exc:
            raise CacheDamaged(f"{self._file}: a cached entry cannot be read ({exc}); delete the .cache "
                               "folder and build again.") from None

    def state(self) -> dict[str, object]:
        """The index as plain data (JSON), for a library packed into a file."""
        if self._file is None:
            raise ValueError("only a library packed into a file has an index to save")
        return {"keys": list(self._pos), "offsets": list(self._offsets), "digests": self._digests.hex(),
                "sums": self._sums.hex(), "lines": list(self._lines), "path_ids": list(self._path_ids),
                "paths": self._paths, "file": os.path.basename(self._file)}

    @classmethod
    def from_state(cls, state: Mapping[str, object], folder: Path) -> LazyEntries:
        """The entries of a saved index, read from the file beside it. Raises
        :class:`CacheDamaged` when the index and the file disagree."""
        self = cls.__new__(cls)
        try:
            keys = _listed(state["keys"])
            self._pos = {str(k): i for i, k in enumerate(keys)}
            self._offsets = array("Q", _ints(state["offsets"]))
            self._digests = bytearray.fromhex(str(state["digests"]))
            self._sums = bytearray.fromhex(str(state["sums"]))
            self._lines = array("L", _ints(state["lines"]))
            self._path_ids = array("H", _ints(state["path_ids"]))
            self._paths = [str(p) for p in _listed(state["paths"])]
            name = str(state["file"])
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise CacheDamaged(f"a cached library index cannot be read ({exc})") from None
        n = len(keys)
        if (len(self._offsets) != n + 1 or len(self._digests) != 16 * n or len(self._sums) != 8 * n
                or len(self._lines) != n or len(self._path_ids) != n or os.sep in name or "/" in name
                or any(i >= len(self._paths) for i in self._path_ids)):
            raise CacheDamaged("a cached library index is inconsistent")
        self._data, self._compressed, self._open = None, False, OrderedDict()
        self._file = str(folder / name)
        # Opened now, so that a newer build replacing the cache cannot pull it away,
        # and checked, so that a damaged cache is a miss rather than a failed build.
        try:
            self._fd = _open_read(self._file)
        except OSError as exc:
            raise CacheDamaged(f"{self._file}: {exc.strerror}") from None
        if os.fstat(self._fd).st_size != self._offsets[-1]:
            os.close(self._fd)
            self._fd = None
            raise CacheDamaged(f"{self._file}: the cached entries do not match their index")
        return self

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)  # type: ignore[arg-type]

    def __contains__(self, key: object) -> bool:
        return key in self._pos

    def __iter__(self) -> Iterator[str]:
        return iter(self._pos)

    def __len__(self) -> int:
        return len(self._pos)


def digest_of(entries: Mapping[str, Entry], key: str) -> str:
    """The :attr:`Entry.digest` of ``entries[key]``; a packed library (:class:`LazyEntries`)
    gives it without unpacking the entry."""
    return entries.digest(key) if isinstance(entries, LazyEntries) else entries[key].digest


def _listed(value: object) -> list[object]:
    if not isinstance(value, list):
        raise ValueError("a list was expected")
    return value


def _ints(value: object) -> list[int]:
    out = _listed(value)
    if not set(map(type, out)) <= {int}:  # exactly int (not bool), in one pass of C code
        raise ValueError("whole numbers were expected")
    return out  # type: ignore[return-value]


def _checksum(blob: bytes) -> bytes:
    return hashlib.blake2b(blob, digest_size=8).digest()


def _split_concat(value: str) -> list[str]:
    """Split a raw BibTeX value on top-level ``#``."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, c in enumerate(value):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == '"' and depth == 0 and (i == 0 or value[i - 1] != "\\"):
            quoted = not quoted
        elif c == "#" and depth == 0 and not quoted:
            parts.append(value[start:i].strip())
            start = i + 1
    parts.append(value[start:].strip())
    return parts


def _resolve(value: str, strings: Mapping[str, str]) -> tuple[str, list[str]]:
    """Resolve a raw value: strip delimiters, expand macros. Returns (value, unknown macros)."""
    if "#" not in value:  # the common case: one delimited value, a number or a macro
        v = value.strip()
        if len(v) >= 2 and (v[0], v[-1]) in {("{", "}"), ('"', '"')}:
            return v[1:-1], []
        parts = [v]  # what _split_concat makes of it, without reading it a character at a time
    else:
        parts = _split_concat(value)
    out, unknown = [], []
    for part in parts:
        if len(part) >= 2 and (part[0], part[-1]) in {("{", "}"), ('"', '"')}:
            out.append(part[1:-1])
        elif part.isdigit():
            out.append(part)
        elif part.lower() in strings:
            out.append(strings[part.lower()])
        elif part.lower() in _MONTHS:
            out.append(_MONTHS[part.lower()])
        else:
            unknown.append(part)
            out.append(part)
    return "".join(out), unknown


def _parse_file(text: str) -> Library:
    # bibtexparser reports syntax errors through logging as well as in failed
    # blocks; we report the failed blocks ourselves, located.
    import bibtexparser  # only a cache miss parses: a warm build never imports it

    logger = logging.getLogger("bibtexparser")
    old = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return bibtexparser.parse_string(text, parse_stack=[])  # type: ignore[attr-defined]
    finally:
        logger.setLevel(old)


#: A .bib file is read and parsed this many characters at a time (in whole blocks), so
#: that a large library is never held whole, as text or parsed, while it loads (parsed by
#: worker processes, nor is it there: they are handed a chunk at a time).
CHUNK_CHARS = 1 << 20
#: Chunks this long where worker processes parse them: enough chunks to share out, each
#: long enough that passing it and its entries between processes costs little beside
#: parsing it.
PARALLEL_CHUNK_CHARS = 1 << 17
#: Where bibtexparser always starts a new block, whatever came before: ``@type{`` or
#: ``@type(`` at the start of a line (inside an unclosed block it aborts that block
#: there). A file cut at such places parses to the same blocks as the whole file.
_LINE_BLOCK_START = re.compile(r"^[ \t]*@\w*[ \t]*[{(]", re.M)
_STRING_BLOCK = re.compile(r"@string[ \t]*[{(]", re.I)


class _Unreadable(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def _decoded(path: Path, display: str, size: int = CHUNK_CHARS) -> Iterator[str]:
    """A file's text in pieces: UTF-8, without a byte order mark, newlines as ``\n``.

    Raises :class:`_Unreadable` (with its diagnostic) for a file that cannot be read,
    is not UTF-8 or holds NUL bytes."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    lines, first, cr = 0, True, False
    try:
        with path.open("rb") as f:
            while True:
                data = f.read(size)
                pending = len(decoder.getstate()[0])
                try:
                    text = decoder.decode(data, final=not data)
                except UnicodeDecodeError as exc:
                    line = lines + data[: max(0, exc.start - pending)].count(b"\n") + 1
                    raise _Unreadable(diag(display, line, 1, "bib-read", "not UTF-8 text; save the file as UTF-8 "
                                                                         "(binary or another encoding?).")) from None
                if "\x00" in text:
                    line = lines + text[: text.index("\x00")].count("\n") + 1
                    raise _Unreadable(diag(display, line, 1, "bib-read", "contains NUL bytes; is this a binary file?"))
                lines += text.count("\n")
                if first and text:  # a byte order mark, however the first reads split it
                    text, first = text.removeprefix("\ufeff"), False
                if cr:  # a CR that ended the last piece
                    text = "\r" + text
                cr = text.endswith("\r") and bool(data)
                if cr:
                    text = text[:-1]
                if text:
                    yield text.replace("\r\n", "\n").replace("\r", "\n")
                if not data:
                    return
    except OSError as exc:
        raise _Unreadable(diag(display, 1, 1, "bib-read", f"cannot read file: {exc.strerror}.")) from None


def _chunks(pieces: Iterable[str], size: int = CHUNK_CHARS) -> Iterator[tuple[int, str, str]]:
    """Cut text into (first line, chunk, sentinel) at block starts, about ``size`` long.

    The sentinel is the next chunk's opening ``@type{``: parsed after the chunk, it ends
    the chunk's last block exactly as the following text ends it in the whole file
    (an unclosed block fails with the same error); :func:`_parse_chunk` drops it."""
    buf, line, resume = "", 0, 0  # resume: where in buf the search for a cut goes on
    for piece in pieces:
        buf += piece
        start = 0
        while len(buf) - start > size:
            m = _LINE_BLOCK_START.search(buf, max(start + size, resume))
            if m is None:
                resume = max(len(buf) - 64, start + size)  # an opening may straddle the next piece
                break
            chunk = buf[start: m.start()]
            yield line, chunk, m.group(0)
            line += chunk.count("\n")
            start = resume = m.start()
        buf, resume = buf[start:], max(0, resume - start)  # one copy per piece, not per chunk
    if buf:
        yield line, buf, ""


def _parse_chunk(chunk: str, sentinel: str) -> Library:
    lib = _parse_file(chunk + sentinel)
    if sentinel:
        from bibtexparser import model

        last = lib.blocks[-1] if lib.blocks else None
        if not (isinstance(last, model.ParsingFailedBlock) and (last.raw or "").startswith(sentinel.lstrip())):
            raise AssertionError("a .bib chunk's closing sentinel did not parse as expected")
        lib.remove(last)
    _fix_lines(lib, chunk)
    return lib


def _fix_lines(lib: Library, chunk: str) -> None:
    """Correct the line numbers bibtexparser gives: its splitter does not count a newline that
    follows a backslash, so every block after a line ending in ``\\`` was placed too early."""
    from bisect import bisect_left

    breaks = [n for n, line in enumerate(chunk.split("\n")) if line.endswith("\\")]
    if not breaks:
        return
    # A real line r is reported as r minus the breaks before it; the k-th break's own line is
    # reported as breaks[k] - k. A reported line n is the real line n + (breaks reported before n).
    shifted = [b - k for k, b in enumerate(breaks)]

    def real(n: int) -> int:
        return n + bisect_left(shifted, n)

    for block in lib.blocks:
        inner = getattr(block, "ignore_error_block", None)
        for b in (block, inner) if inner is not None else (block,):
            start = getattr(b, "_start_line_in_file", None)
            if isinstance(start, int):
                b._start_line_in_file = real(start)
            for f in getattr(b, "fields", None) or ():
                if getattr(f, "_start_line", None) is not None:
                    f._start_line = real(f._start_line)


def _block_message(block: model.ParsingFailedBlock) -> str:
    exc = getattr(block, "error", None)
    error = str(getattr(exc, "abort_reason", None) or exc or "").strip().splitlines()
    first = error[0].strip().rstrip(".") + "." if error else "syntax error."
    raw = (block.raw or "").lstrip()
    head = raw.split("\n", 1)[0][:60]
    return f"cannot parse block '{head}': {first} Check for a missing comma, brace or quote."


#: One .bib source: its displayed path and a function giving its text in pieces
#: (called once per pass; it may raise :class:`_Unreadable`).
Source = tuple[str, "Callable[[], Iterable[str]]"]


class _Loader:
    """Loads sources in two streaming passes: the @string macros of every file first
    (macros are shared across files), then the entries, one chunk of blocks at a time."""

    def __init__(self, sources: Iterable[Source], chunk_chars: int = CHUNK_CHARS, workers: int = 0,
                 packed: bool = False) -> None:
        self.sources = list(sources)
        self.size = chunk_chars
        #: Worker processes that parse the second pass's chunks (0 or 1: none, all parsed here).
        self.workers = workers
        #: Whether :meth:`entries` gives each entry :class:`Packed` (for a caller that stores
        #: them) rather than as an :class:`Entry`.
        self.packed = packed
        self.bib = Bibliography()
        self._string_places: dict[str, tuple[str, int]] = {}
        self._seen: dict[str, tuple[str, int]] = {}  # folded key -> where it was first defined

    def entries(self) -> Iterator[Any]:
        """Every entry (an :class:`Entry`, or :class:`Packed` if so made), in file order, each
        key once; diagnostics and macros go to ``self.bib``.

        With workers, the second pass reads each file again and hands its chunks to them as
        it goes: the library's text is never held whole, here or there, and only the chunks
        and their results pass between processes."""
        readable: list[tuple[str, Callable[[], Iterable[str]], dict[int, Library]]] = []
        to_parse = 0  # chunks the second pass parses
        for display, pieces in self.sources:
            self.bib.files.append(display)
            parsed: dict[int, Library] = {}
            count = 0
            try:
                for i, (line0, chunk, sentinel) in enumerate(_chunks(pieces(), self.size)):
                    count += 1
                    if _STRING_BLOCK.search(chunk):
                        lib = _parse_chunk(chunk, sentinel)
                        self._strings(lib, display, line0)
                        if not parsed:  # usually the file's head: parsed once, not twice
                            parsed[i] = lib
            except _Unreadable as exc:
                self.bib.diagnostics.append(exc.diagnostic)
                continue
            to_parse += count - len(parsed)
            readable.append((display, pieces, parsed))
        pool = _pool(min(self.workers, to_parse), self.bib.strings, self.packed) if self.workers > 1 else None
        # Chunks handed out and not yet taken back: a few per worker, so that neither their
        # text nor their results pile up here when this process is the slower.
        slots = threading.Semaphore(2 * self.workers)
        stop = threading.Event()
        try:
            if pool is not None:
                # Tasks are made (the files read) by the pool's own thread, as slots free up.
                for f, i, line0, found in pool.imap(_parse_task, self._tasks(readable, slots, stop)):
                    slots.release()
                    if found is None:  # a chunk the first pass parsed: its blocks are here
                        display, _, parsed = readable[f]
                        found = self._found(parsed.pop(i), display, line0)
                    yield from self._admit(found)
                return
            for display, pieces, parsed in readable:
                try:
                    for i, (line0, chunk, sentinel) in enumerate(_chunks(pieces(), self.size)):
                        lib = parsed.pop(i) if i in parsed else _parse_chunk(chunk, sentinel)
                        yield from self._admit(self._found(lib, display, line0))
                except _Unreadable as exc:  # changed on disk since the first pass
                    self.bib.diagnostics.append(exc.diagnostic)
        finally:
            if pool is not None:
                stop.set()
                slots.release()  # a task thread waiting for a slot sees the stop
                pool.terminate()  # done, or a caller that stopped early: no worker is left behind
                pool.join()
                _SHARED.clear()

    def _found(self, lib: Library, display: str, line0: int) -> list[Any]:
        found = _found(lib, display, line0, self.bib.strings)
        return _packed(found) if self.packed else found

    def _tasks(self, readable: list[tuple[str, Callable[[], Iterable[str]], dict[int, Library]]],
               slots: threading.Semaphore, stop: threading.Event) -> Iterator[_Task]:
        """The second pass, for :func:`_parse_task`: each chunk of each file, but those the
        first pass parsed (sent without their text); a file no longer readable, as its
        diagnostic. Each waits for one of the ``slots``; none once ``stop`` is set."""
        def every() -> Iterator[_Task]:
            for f, (display, pieces, parsed) in enumerate(readable):
                try:
                    for i, (line0, chunk, sentinel) in enumerate(_chunks(pieces(), self.size)):
                        yield _Task(f, i, display, line0, None if i in parsed else chunk, sentinel)
                except _Unreadable as exc:  # changed on disk since the first pass
                    yield _Task(f, -1, display, 0, None, "", exc.diagnostic)

        for task in every():
            slots.acquire()
            if stop.is_set():
                return
            yield task

    def _admit(self, found: list[Any]) -> Iterator[Any]:
        """A chunk's entries, each key once (the first definition wins), and its diagnostics."""
        for item in found:
            if isinstance(item, Diagnostic):
                self.bib.diagnostics.append(item)
                continue
            folded = item.key.lower()
            if folded in self._seen:
                path, first = self._seen[folded]
                self.bib.diagnostics.append(diag(
                    item.path, item.line, 1, "bib-duplicate-key",
                    f"key '{item.key}' is already used at {path}:{first}; rename one of them (keys are compared "
                    "without case)."))
                continue
            self._seen[folded] = (item.path, item.line)
            yield item

    def load(self) -> Bibliography:
        """The whole library, its entries held in a dict (``crossref`` and ``xdata`` resolved)."""
        written = {e.key: e for e in self.entries()}
        entries = dict(written)
        for key, e in written.items():
            if inherits(e):
                entries[key], unknown = resolve(e, written.get)
                self.bib.diagnostics.extend(unknown_parent(e, k) for k in unknown)
        self.bib.entries = entries
        return self.bib

    def _strings(self, lib: Library, display: str, line0: int) -> None:
        from bibtexparser import model

        for found in lib.blocks:
            block = found.ignore_error_block if isinstance(found, model.DuplicateBlockKeyBlock) else found
            if not isinstance(block, model.String):
                continue
            line = line0 + (block.start_line or 0) + 1
            folded = block.key.lower()
            if folded in self._string_places:
                path, first = self._string_places[folded]
                self.bib.diagnostics.append(diag(
                    display, line, 1, "bib-duplicate-key",
                    f"@string '{block.key}' is already defined at {path}:{first}; the first definition is used. "
                    "Remove or rename one of them."))
                continue
            self._string_places[folded] = (display, line)
            value, unknown = _resolve(block.value, self.bib.strings)
            for macro in unknown:
                self.bib.diagnostics.append(diag(
                    display, line, 1, "bib-unknown-string",
                    f"@string '{block.key}' uses '{macro}', which is not an @string defined before it; it is kept "
                    "as written. Define it first, or brace the text." + did_you_mean(macro.lower(), self.bib.strings)))
            self.bib.strings[folded] = value


def _found(lib: Library, display: str, line0: int, strings: Mapping[str, str]) -> list[Entry | Diagnostic]:
    """What a parsed chunk holds, in file order: its entries (whether a key is used twice is
    known only to the loader, across chunks) and the diagnostics of its blocks and fields."""
    from bibtexparser import model

    out: list[Entry | Diagnostic] = []
    for block in lib.blocks:
        if isinstance(block, (model.DuplicateFieldKeyBlock, model.DuplicateBlockKeyBlock)):
            # _entry reports each field named twice (in any case), at the line naming it again.
            if isinstance(block.ignore_error_block, model.Entry):
                out += _entry(block.ignore_error_block, display, line0, strings)
        elif isinstance(block, model.ParsingFailedBlock):
            out.append(diag(display, line0 + (block.start_line or 0) + 1, 1, "bib-syntax", _block_message(block)))
        elif isinstance(block, model.Entry):
            out += _entry(block, display, line0, strings)
    return out


def _entry(block: model.Entry, display: str, line0: int, strings: Mapping[str, str]) -> list[Entry | Diagnostic]:
    out: list[Entry | Diagnostic] = []
    line = line0 + (block.start_line or 0) + 1
    fields: dict[str, str] = {}
    field_lines: dict[str, int] = {}
    for f in block.fields:
        name = f.key.lower()
        value, unknown = _resolve(f.value, strings)
        fline = line0 + f.start_line + 1 if getattr(f, "start_line", None) is not None else line
        for macro in unknown:
            out.append(diag(display, fline, 1, "bib-unknown-string",
                            f"field '{name}' of '{block.key}' uses @string '{macro}', which no .bib file defines."
                            + did_you_mean(macro.lower(), strings)))
        swallowed = _SWALLOWED.search(value) if "=" in value else None
        if swallowed:
            out.append(diag(display, fline, 1, "bib-syntax",
                            f"field '{name}' of '{block.key}' runs into field '{swallowed.group(1)}': "
                            f"is a comma missing before '{swallowed.group(1)}'?"))
        if name in fields:
            lines = f"lines {field_lines[name]} and {fline}" if field_lines[name] != fline else f"line {fline}"
            out.append(diag(display, fline, 1, "bib-duplicate-field",
                            f"entry '{block.key}' names '{name}' twice ({lines}); the last value is "
                            "used. Keep one of them."))
        fields[name] = value
        field_lines[name] = fline
    if not KEY.match(block.key):
        out.append(diag(display, line, 1, "bib-bad-key",
                        f"key {block.key[:60]!r} has characters a citation key cannot hold; use "
                        "letters, digits and _ (and inside a key : . # $ % & + ? < > ~ / -), no "
                        "backtick, quote, brace, comma or white space."))
    out.append(Entry(block.key, block.entry_type.lower(), fields, display, line, block.raw or "", field_lines))
    return out


def _packed(found: list[Entry | Diagnostic]) -> list[Packed | Diagnostic]:
    """A chunk's :func:`_found`, each entry :class:`Packed`."""
    return [Packed.of(e) if isinstance(e, Entry) else e for e in found]


#: What the worker processes of :func:`_pool` share, as they are forked: the library's
#: @string macros, and whether to pack the entries they parse.
_SHARED: list[Any] = []


class _Task(NamedTuple):
    """A chunk for a worker: of file ``file`` (shown as ``display``), the ``number``-th,
    starting at line ``line0 + 1``; its text None when the loading process parsed it
    already. Or, with ``error``, what stopped the file being read."""

    file: int
    number: int
    display: str
    line0: int
    chunk: str | None
    sentinel: str
    error: Diagnostic | None = None


def _parse_task(task: _Task) -> tuple[int, int, int, list[Any] | None]:
    """A worker's chunk: (file, number, first line, what it holds). What it holds is
    :func:`_found`, each entry with what the loading process would make of it made here
    (and sent with it): :class:`Packed`, or else its hash and lint. None for a chunk sent
    without its text."""
    if task.error is not None:
        return task.file, task.number, task.line0, [task.error]
    if task.chunk is None:
        return task.file, task.number, task.line0, None
    strings, packed = _SHARED
    found = _found(_parse_chunk(task.chunk, task.sentinel), task.display, task.line0, strings)
    if packed:
        return task.file, task.number, task.line0, _packed(found)
    for e in found:
        if isinstance(e, Entry):
            e.digest  # noqa: B018
            if not inherits(e):  # else linted once its parents' fields are in
                e.problems  # noqa: B018
    return task.file, task.number, task.line0, found


def _pool(workers: int, strings: dict[str, str], packed: bool = False) -> Any:
    """Forked processes to parse chunks (into :class:`Packed` entries if ``packed``); None
    where there is no use for them (fewer than two) or they cannot be had (no fork, no
    process left)."""
    import sys

    if workers < 2 or not sys.platform.startswith("linux"):
        return None
    import multiprocessing

    from .forking import forking

    _SHARED[:] = [strings, packed]
    try:
        with forking():
            return multiprocessing.get_context("fork").Pool(workers)
    except OSError:  # a limit on processes: parsed here
        _SHARED.clear()
        return None


def load_text(sources: Iterable[tuple[str, str]], chunk_chars: int = CHUNK_CHARS) -> Bibliography:
    """Load (display path, text) pairs. Pure: no file system access."""
    def pieces(text: str) -> Callable[[], Iterable[str]]:
        return lambda: [text]

    return _Loader([(display, pieces(text)) for display, text in sources], chunk_chars).load()


def loader(paths: Iterable[Path], root: Path | None = None, chunk_chars: int | None = None,
           workers: int = 0, packed: bool = False) -> _Loader:
    """A loader of .bib files whose :meth:`_Loader.entries` streams the entries, for a
    caller that stores them as they come (the cache) rather than all in memory; ``packed``,
    as :class:`Packed` (what :class:`LazyEntries` stores). With ``workers`` (see
    :func:`parse_workers`), a library of more than one chunk is parsed in that many forked
    processes, its entries and diagnostics the same as parsed here."""
    size = chunk_chars or (PARALLEL_CHUNK_CHARS if workers > 1 else CHUNK_CHARS)

    def pieces(path: Path, display: str) -> Callable[[], Iterable[str]]:
        return lambda: _decoded(path, display, size)

    return _Loader([(d, pieces(p, d)) for p, d in ((p, _display(p, root)) for p in paths)], size, workers, packed)


def parse_workers() -> int:
    """Worker processes worth starting to parse a library: one per core, at most four (the
    loading process stores what they parse meanwhile); 0 on a single core."""
    from .forking import usable_cores

    cores = usable_cores()
    return min(cores, 4) if cores > 1 else 0


def load(paths: Iterable[Path], root: Path | None = None, workers: int = 0) -> Bibliography:
    """Load .bib files from disk; paths are shown relative to ``root``."""
    return loader(paths, root, workers=workers).load()


def _display(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def find_bib_files(root: Path, spec: str | list[str]) -> list[Path]:
    """Every .bib file under the configured paths (files or folders), sorted."""
    specs = [spec] if isinstance(spec, str) else list(spec)
    out: list[Path] = []
    for s in specs:
        p = (root / s)
        if p.is_dir():
            out.extend(sorted(p.rglob("*.bib")))
        elif p.exists():
            out.append(p)
    return out


def ref_slug(key: str) -> str:
    """The page name of a reference: its key, with any character unsafe in a path spelt out."""
    return re.sub(r"[^A-Za-z0-9_.-]|^\.", lambda m: f"_{ord(m.group(0)):x}", key)


#: The latest plausible year of publication (in press, forthcoming).
_LATEST_YEAR = _dt.date.today().year + 5


def _plain(e: Entry, name: str) -> str:
    """``e.text(name).strip()``, without reading as LaTeX a value of digits and dashes (as
    most years and dates are): it reads as itself."""
    value = e.fields.get(name, "").strip()
    return value if _DIGITS_DASHES.match(value) else e.text(name).strip()


_DIGITS_DASHES = re.compile(r"\d+(?:-\d+)*\Z")


def _date_lint(e: Entry, at: Callable[[str], tuple[str, int, int]]) -> list[Diagnostic]:
    """A ``date`` must be ISO 8601 (EDTF); a ``year`` may be historic (``1066``), a range
    (``1992--1993``, ``2005/06``) or words (``in press``), but a number must be a plausible year."""
    out = []
    date = _plain(e, "date")
    if date and biblatex.parse_date(date) is None:
        out.append(diag(*at("date"), "bib-bad-year",
                        f"'{e.key}' has date '{date}'; write an ISO 8601 date (2004, 2004-10, 2004-10-27, or a "
                        "range 1885/1888)."))
    year = _plain(e, "year")
    if not year:
        return out
    latest = _LATEST_YEAR
    numbers = [int(n) for n in re.findall(r"\d+", year)]
    if not numbers:
        return out  # words: "in press", "forthcoming", "n.d."
    if not _YEAR_FORM.match(year):
        plausible = any(1 <= n <= latest for n in numbers if n >= 1000)
        out.append(diag(*at("year"), "bib-odd-year" if plausible else "bib-bad-year",
                        f"'{e.key}' has year '{year}'" + (", printed as written" if plausible else "")
                        + "; write a year (1999, 1066), a range (1992--1993), or put a full date in the date field "
                        "(date = {1999-05-12})."))
    elif not all(1 <= n <= latest for n in numbers if n >= 100) or (len(numbers) == 1 and numbers[0] == 0):
        out.append(diag(*at("year"), "bib-bad-year",
                        f"'{e.key}' has year '{year}', which is no plausible year; write the year of publication."))
    elif len(numbers) == 2 and numbers[1] >= 100 and numbers[1] < numbers[0]:
        out.append(diag(*at("year"), "bib-bad-year",
                        f"'{e.key}' has year '{year}', a range that ends before it starts; write the earlier year first."))
    return out


def lint(bib: Bibliography) -> list[Diagnostic]:
    """Field-level checks on loaded entries: required fields, identifiers, years, designs."""
    return [d for e in bib.entries.values() for d in lint_entry(e)]


def lint_entry(e: Entry) -> list[Diagnostic]:
    """:func:`lint` of one entry."""
    out: list[Diagnostic] = []

    def at(name: str) -> tuple[str, int, int]:
        return e.path, e.line_of(name), 1

    missing = biblatex.missing_fields(e.type, e.fields)
    if missing:
        needs = ", ".join(" or ".join(a) for a in biblatex.REQUIRED[e.type])
        out.append(diag(e.path, e.line, 1, "bib-missing-field",
                        f"@{e.type} '{e.key}' lacks {' and '.join(repr(m) for m in missing)}; an @{e.type} needs "
                        f"{needs}" + (" (fields its crossref or xdata parents give count)." if inherits(e) else ".")))
    for name, value in e.fields.items():
        problem = latex.check(value)
        if problem:
            out.append(diag(*at(name), "bib-syntax", f"field '{name}' of '{e.key}': {problem}."))
    checks: tuple[tuple[str, re.Pattern[str], str], ...] = (
              ("doi", _DOI, "a DOI looks like 10.1234/abc (no https://doi.org/ prefix)"),
              ("pmid", _PMID, "a PMID is digits only"),
              ("pmcid", _PMCID, "a PMCID looks like PMC1234567"))
    doi = e.fields.get("doi", "").strip()
    bare = _DOI_RESOLVER.sub("", doi)
    if doi and bare != doi and _DOI.match(bare):
        out.append(diag(*at("doi"), "bib-doi-prefix",
                        f"'{e.key}' has doi '{doi}': write the bare DOI '{bare}' (evidencekb fmt --fix does it); "
                        "it is printed and linked correctly either way."))
        checks = checks[1:]
    for name, rx, hint in checks:
        v = e.fields.get(name, "").strip()
        if v and not rx.match(v):
            out.append(diag(*at(name), "bib-bad-identifier", f"'{e.key}' has {name} '{v}': {hint}."))
    url = e.fields.get("url", "").strip()
    if url and not re.match(r"^https?://", url):
        out.append(diag(*at("url"), "bib-bad-identifier",
                        f"'{e.key}' has url '{url}': only http(s) URLs are linked."))
    if e.type == "article" and not (e.fields.get("doi") or e.fields.get("pmid") or e.fields.get("pmcid")):
        out.append(diag(e.path, e.line, 1, "bib-no-identifier",
                        f"article '{e.key}' has no doi, pmid or pmcid; add one so readers can find it."))
    out += _date_lint(e, at)
    if e.design and e.design not in DESIGNS:
        out.append(diag(*at("design"), "bib-unknown-design",
                        f"'{e.key}' has design '{e.design}'; allowed: {', '.join(DESIGNS)}."
                        + did_you_mean(e.design, DESIGNS)))
    m = _ABBREV_PAGES.match(e.fields.get("pages", "").strip())
    if m and len(m.group(2)) < len(m.group(1)):
        out.append(diag(*at("pages"), "bib-abbreviated-pages",
                        f"'{e.key}' has pages '{m.group(0)}'; write the range in full with '--'."))
    return out
