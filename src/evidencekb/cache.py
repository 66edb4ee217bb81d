"""An on-disk cache keyed by content, shared by builds and ``evidencekb check``.

Parsed libraries (with their lint) are stored under a hash of every .bib
file's path and bytes and of this package's code, so an edit, a rename or an
upgrade misses the cache; modification times are never trusted. The entries
sit in a ``.blobs`` file beside the index and are read one by one as pages cite
them. Formatted entries (and what pages show of them) are stored per style,
under the hash of the style file's content and of each entry's resolved
fields (an edited ``@string`` macro or ``.csl`` file misses the cache).

Everything is JSON with a checksum, never pickle: a cache restored from an
untrusted place (a shared CI cache) can at worst hold wrong data, and wrong
data fails its checksum. Writes are atomic; a damaged, foreign or read-only
cache is ignored, never fatal.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import lru_cache
from operator import methodcaller
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import bibliography as bibmod
from .diagnostics import Diagnostic, Severity

if TYPE_CHECKING:
    from .csl import Formatted
    from .render import Card

__all__ = ["load_library", "FormatCache", "default_dir", "code_hash"]

VERSION = "5"
#: The last library loaded in this process, as [digest, library].
_MEMORY: list[Any] = [None, None]
_MAGIC = b"evidencekb-cache-" + VERSION.encode() + b" "


@lru_cache(maxsize=1)
def code_hash() -> str:
    """A hash of this package's own files: a changed formatter or page never reads old output."""
    h = hashlib.sha256(VERSION.encode())
    here = Path(__file__).resolve().parent
    for p in sorted(here.rglob("*")):
        if p.is_file() and p.suffix in {".py", ".css", ".js", ".csl", ".yaml"}:
            h.update(p.relative_to(here).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def default_dir(root: Path) -> Path:
    return root / ".cache" / "evidencekb"


def generation() -> str:
    """This version of the package, as the cache files it writes are named: ``format-``,
    ``scans-``, ``downloads-`` and ``quotes-`` then this; a file of another version can
    never be read again and is swept (:func:`sweep`)."""
    return hashlib.sha256(f"{VERSION}\0{code_hash()}".encode()).hexdigest()[:16]


#: The files a build writes besides the library's, with the version they were written by.
_VERSIONED = re.compile(r"(?:format|scans|downloads|quotes)-([0-9a-f]+)(?:-[0-9a-f]+)?\.json")
#: The folders of files a build keeps (:class:`FileMemo`), with the version that wrote them.
_VERSIONED_DIR = re.compile(r"downloads-([0-9a-f]+)")


def sweep(folder: Path, keep: Iterable[Path] = ()) -> None:
    """Remove the cache files no build of this version reads: another library's index and
    entries (all ``library-*`` but ``keep``), and what another version of the package
    formatted, scanned and made (its folder of downloads too). Run when the library is parsed
    again, which a new version or an edited library always causes: a cache kept between CI
    runs does not grow with every release or edit. The files of this version stay, whatever
    style or site wrote them."""
    kept, now = set(keep), generation()
    try:
        names = list(folder.iterdir())
    except OSError:
        return  # no folder yet, or unreadable: nothing to sweep
    for old in names:
        if old.name.startswith("library-"):
            stale = old not in kept
        else:
            version = _VERSIONED.fullmatch(old.name) or _VERSIONED_DIR.fullmatch(old.name)
            stale = version is not None and version.group(1) != now
        if stale and old.is_file():
            old.unlink(missing_ok=True)
        elif stale and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


def _read(path: Path) -> Any:
    """A cache file's data, or None when it is missing, damaged or foreign."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head, _, body = data.partition(b"\n")
    if not head.startswith(_MAGIC) or head[len(_MAGIC):] != hashlib.sha256(body).hexdigest().encode():
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _read_lines(path: Path) -> Iterator[Any] | None:
    """The items of a cache file written by :func:`_write_lines`, decoded some lines at a
    time (a large file is never decoded whole: its parsed form is several times its size),
    or None when it is missing, damaged or foreign. An item that does not parse raises
    ValueError."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    nl = data.find(b"\n")
    if not data.startswith(_MAGIC) or nl < 0 or data[len(_MAGIC): nl] != hashlib.sha256(
            memoryview(data)[nl + 1:]).hexdigest().encode():
        return None

    def items() -> Iterator[Any]:  # some lines at a time: one json.loads per line is slow
        start = nl + 1
        while start < len(data):
            end = data.find(b"\n", start + _BATCH)
            end = len(data) if end < 0 else end
            yield from json.loads(b"[" + data[start:end].replace(b"\n", b",") + b"]")
            start = end + 1

    return items()


#: Bytes of a cache file's lines decoded at once by :func:`_read_lines` (a newline only
#: separates items: JSON writes one within a string as ``\n``).
_BATCH = 1 << 18


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


def _write_lines(path: Path, items: Iterable[Any]) -> None:
    """Write items as :func:`_read_lines` reads them: one JSON text per line, each written as
    it is made (a large store is never held whole as text, nor copied)."""
    def lines() -> Iterator[bytes]:
        for i, item in enumerate(items):
            yield b"\n" + _dumps(item) if i else _dumps(item)

    _write_body(path, lines())


def _write(path: Path, value: Any) -> None:
    _write_body(path, [_dumps(value)])


def _write_body(path: Path, body: Iterable[bytes]) -> None:
    """Write a cache file atomically: the magic line with the SHA-256 of the body, then the
    body, its pieces hashed as they are written (the hash goes in its place at the end)."""
    def fill(f: Any) -> None:
        hashed = hashlib.sha256()
        f.write(_MAGIC + b"0" * 64 + b"\n")
        for piece in body:
            hashed.update(piece)
            f.write(piece)
        f.seek(len(_MAGIC))
        f.write(hashed.hexdigest().encode())

    _replace(path, fill)


def _replace(path: Path, fill: Callable[[Any], Any]) -> bool:
    """Put at ``path`` the file ``fill`` writes into (an open binary file), atomically: a
    reader sees the old file or the whole new one. False where it cannot be written (a
    read-only checkout): the build goes on without the cache."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb", buffering=1 << 20) as f:
                fill(f)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        return False
    return True


def _load(paths: list[Path], root: Path, blobs: Path | None, workers: int = 0) -> bibmod.Bibliography:
    """Parse, lint and pack the library, a chunk of each file at a time, here or by
    ``workers`` processes (:func:`evidencekb.bibliography.loader`): it is never held whole,
    as text, parsed blocks or entries. Packed into ``blobs`` or else in memory."""
    loader = bibmod.loader(paths, root, workers=workers, packed=True)
    bib = loader.bib

    children: list[str] = []  # entries with crossref or xdata parents: linted once resolved

    def linted() -> Iterator[bibmod.Packed]:
        for entry in loader.entries():
            if entry.problems is None:
                children.append(entry.key)
            else:
                bib.diagnostics.extend(entry.problems)
            yield entry

    entries = bibmod.LazyEntries(linted(), blobs)
    for written, resolved, unknown in entries.resolve_inheritance(children):
        bib.diagnostics.extend(bibmod.unknown_parent(written, k) for k in unknown)
        bib.diagnostics.extend(bibmod.lint_entry(resolved))
    bib.entries = entries
    return bib


def _library_data(bib: bibmod.Bibliography) -> dict[str, Any]:
    return {"diagnostics": [[d.path, d.line, d.col, d.code, d.message, d.severity.value] for d in bib.diagnostics],
            "strings": bib.strings, "files": bib.files, "entries": bib.entries.state()}  # type: ignore[union-attr]


def _library_from(data: Any, folder: Path) -> bibmod.Bibliography | None:
    try:
        diags = [Diagnostic(str(p), int(ln), int(col), str(code), str(msg), Severity(sev))
                 for p, ln, col, code, msg, sev in data["diagnostics"]]
        strings = {str(k): str(v) for k, v in data["strings"].items()}
        files = [str(f) for f in data["files"]]
        entries = bibmod.LazyEntries.from_state(data["entries"], folder)
    except (KeyError, TypeError, ValueError, OSError):
        return None
    return bibmod.Bibliography(entries, diags, strings, files)


def library_digest(paths: list[Path], root: Path) -> str:
    h = hashlib.sha256(f"{VERSION}\0{code_hash()}\0".encode())
    for p in paths:
        h.update(bibmod._display(p, root).encode() + b"\0")
        try:
            with p.open("rb") as f:  # in pieces: a large library is never held whole just to hash it
                while chunk := f.read(1 << 20):
                    h.update(chunk)
        except OSError:
            h.update(b"\1missing")
        h.update(b"\0")
    return h.hexdigest()


def load_library(paths: list[Path], root: Path, cache_dir: Path | None, workers: int = 0) -> bibmod.Bibliography:
    """Load and lint the library, from the cache when its content is unchanged; parsed by
    ``workers`` processes when it is not (see :func:`evidencekb.bibliography.loader`)."""
    digest = library_digest(paths, root)
    if cache_dir is not None and _MEMORY[0] == digest and _MEMORY[1] is not None:
        return _MEMORY[1]  # type: ignore[no-any-return]  # a serve's rebuilds: nothing changed since the last
    target = cache_dir / f"library-{digest[:32]}.json" if cache_dir else None
    if target is None:
        return _load(paths, root, None, workers)
    data = _read(target) if target.exists() else None
    if data is not None:
        bib = _library_from(data, target.parent)
        if bib is not None:
            _MEMORY[:] = [digest, bib]
            return bib
    blobs = target.with_suffix(".blobs")
    try:
        sweep(target.parent, keep=(target, blobs))
        target.parent.mkdir(parents=True, exist_ok=True)
        bib = _load(paths, root, blobs, workers)  # read from the cache file from now on
        _write(target, _library_data(bib))
    except OSError:
        bib = _load(paths, root, None, workers)  # a read-only cache (or a full disk): kept in memory
    _MEMORY[:] = [digest, bib]
    return bib


@lru_cache(maxsize=1)
def _types() -> tuple[type[Formatted], type[Card]]:
    """The classes of cached values (imported once, not for each of thousands of values)."""
    from .csl import Formatted
    from .render import Card

    return Formatted, Card


def _encode(value: Any, data: dict[Any, Any] | None = None, key: Any = None) -> Any:
    """A cached value as JSON. A card whose formatted entry and names are stored beside it
    (under its key's ``(key, digest)`` and ``(key, digest, "names")``) refers to them
    ("D"), so that neither is written, nor held after loading, twice."""
    Formatted, Card = _types()

    if isinstance(value, Formatted):
        return {"F": [value.text, value.html]}
    if isinstance(value, Card):
        if (data is not None and data.get(key[:2]) == value.formatted
                and data.get((*key[:2], "names")) == value.names):
            return {"D": [value.anchor, value.ids, value.year, value.fallback]}
        return {"C": [value.anchor, value.formatted.text, value.formatted.html, value.ids, value.year,
                      list(value.names), value.fallback]}
    if isinstance(value, tuple) and all(isinstance(x, str) for x in value):
        return {"N": list(value)}
    raise TypeError(f"cannot cache {type(value).__name__}")


def _decode(value: Any, data: dict[Any, Any] | None = None, key: Any = None) -> Any:
    """:func:`_encode` undone; a card that refers to its formatted entry and names takes
    them from ``data`` (already decoded), or is None where they are not there."""
    Formatted, Card = _types()

    if "F" in value:
        text, html = value["F"]
        return Formatted(str(text), str(html))
    if "C" in value:
        anchor, text, html, ids, year, names, fallback = value["C"]
        return Card(str(anchor), Formatted(str(text), str(html)), str(ids), str(year),
                    tuple(map(str, names)), str(fallback))
    if "D" in value:
        anchor, ids, year, fallback = value["D"]
        formatted, names = (data or {}).get(key[:2]), (data or {}).get((*key[:2], "names"))
        if not isinstance(formatted, Formatted) or type(names) is not tuple:
            return None
        return Card(str(anchor), formatted, str(ids), str(year), names, str(fallback))
    return tuple(map(str, value["N"]))


class FormatCache:
    """Formatted entries of one style, persisted between builds."""

    def __init__(self, cache_dir: Path | None, style: str) -> None:
        from .csl import style_path

        try:
            style_key = hashlib.sha256(style_path(style).read_bytes()).hexdigest()
        except (OSError, ValueError):
            style_key = style
        name = hashlib.sha256(style_key.encode()).hexdigest()[:16]
        self.path = cache_dir / f"format-{generation()}-{name}.json" if cache_dir else None
        self.data: dict[Any, Any] = {}
        items = _read_lines(self.path) if self.path and self.path.exists() else None
        if items is not None:
            try:
                data, cards = {}, []
                for k, v in items:
                    if "D" in v:
                        cards.append((tuple(k), v))  # decoded once what it refers to is
                    else:
                        data[tuple(k)] = _decode(v)
                for k, v in cards:
                    if (card := _decode(v, data, k)) is not None:
                        data[k] = card
                self.data = data
            except (TypeError, ValueError, KeyError, AttributeError):
                self.data = {}
        self.dirty = False
        #: (key, hash) of the entries this build read or formatted something of: kept, in
        #: the library or not (the pages' own entries, which "cite this page" formats, are not).
        self.used: set[Any] = set()

    def get(self, key: Any) -> Any:
        hit = self.data.get(key)
        if hit is not None:
            self.used.add(key[:2])
        return hit

    def put(self, key: Any, value: Any) -> None:
        self.data[key] = value
        self.used.add(key[:2])
        self.dirty = True

    def save(self, current: Callable[[str, str], bool] | None = None) -> None:
        """Write what was formatted; with ``current`` (whether an entry of that key and
        :attr:`~evidencekb.bibliography.Entry.digest` is in the library), first drop what
        was formatted from entries since edited or removed, which no build would read, but
        for what this build used. The next build's use starts afresh."""
        if current is not None:
            stale = [k for k in self.data if k[:2] not in self.used and not current(k[0], k[1])]
            for k in stale:
                del self.data[k]
            self.dirty = self.dirty or bool(stale)
        self.used = set()
        if self.path and self.dirty:
            _write_lines(self.path, ([list(k), _encode(v, self.data, k)] for k, v in self.data.items()))
            self.dirty = False


def in_library(entries: Mapping[str, bibmod.Entry]) -> Callable[[str, str], bool]:
    """Whether the library ``entries`` (a mapping of keys to entries) holds an entry of that
    key and :attr:`~evidencekb.bibliography.Entry.digest`: what :meth:`FormatCache.save`
    keeps. A packed library gives the hashes without unpacking an entry."""
    def current(key: str, hashed: str) -> bool:
        return key in entries and bibmod.digest_of(entries, key) == hashed
    return current


class ScanCache:
    """The citations found in each docs page, by the hash of its text, persisted between
    builds: a build's checks read every page, but scan only the pages that changed."""

    def __init__(self, cache_dir: Path | None) -> None:
        self.path = cache_dir / f"scans-{generation()}.json" if cache_dir else None
        raw = _read(self.path) if self.path and self.path.exists() else None
        self.data: dict[str, list[list[Any]]] = raw if isinstance(raw, dict) else {}
        self.used: dict[str, list[list[Any]]] = {}

    def get(self, text: str, scan: Any) -> list[list[Any]]:
        """[[key, line, col], ...] of the page's citations (``scan(text)`` on a miss)."""
        digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
        hit = self.data.get(digest)
        if not (isinstance(hit, list) and all(isinstance(x, list) and len(x) == 3 for x in hit)):
            hit = [[key, cl.line, cl.col] for cl in scan(text) for key in cl.keys]
        self.used[digest] = hit
        return hit

    def save(self) -> None:
        """Keep the pages of this build only (an edited page's old scan goes)."""
        if self.path and self.used != self.data:
            _write(self.path, self.used)
            self.data = dict(self.used)


class TextMemo:
    """Texts made from entries (the library downloads; what evidence quotes came to), by a
    key that names everything they are made from, persisted between builds; only this
    build's keys are kept."""

    def __init__(self, cache_dir: Path | None, kind: str) -> None:
        self.path = cache_dir / f"{kind}-{generation()}.json" if cache_dir else None
        raw = _read(self.path) if self.path and self.path.exists() else None
        self.data: dict[str, Any] = raw if isinstance(raw, dict) else {}
        self.used: dict[str, Any] = {}

    def get(self, key: str, make: Any) -> Any:
        hit = self.data.get(key)
        if hit is None:
            hit = make()
        self.used[key] = hit
        return hit

    def save(self) -> None:
        if self.path and self.used != self.data:
            _write(self.path, self.used)
            self.data = dict(self.used)


#: Seconds a file kept by :class:`FileMemo` stays after the last build that used it.
UNUSED_KEPT = 3600


class FileMemo:
    """Files made from entries (the library downloads), kept between builds each in a file of
    its own, named by the SHA-256 of its bytes, in the folder ``<kind>-<generation>``; an
    index (a :class:`TextMemo`) names the files each key made. A build that has them gives
    the engine the files to copy and never holds their text; a file whose bytes no longer
    match its name is made again. Only this build's keys are kept (:meth:`save`)."""

    def __init__(self, cache_dir: Path | None, kind: str) -> None:
        self.dir = cache_dir / f"{kind}-{generation()}" if cache_dir else None
        self.index = TextMemo(cache_dir, kind)

    def files(self, key: str) -> dict[str, Path] | None:
        """The files ``key`` made (its paths in the site -> a file to copy), kept for the
        next build; None when the memo lacks any of them."""
        names = self.index.used.get(key) or self.index.data.get(key)
        if self.dir is None or not isinstance(names, dict) or not names:
            return None
        out = {}
        for path, sha in names.items():
            stored = self._file(str(path), str(sha))
            if stored is None or not _holds(stored, str(sha)):
                self.index.used.pop(key, None)
                return None
            out[str(path)] = stored
        return self._use(key, names, out)

    def put(self, key: str, texts: Mapping[str, str]) -> dict[str, Path] | None:
        """Keep ``texts`` (paths in the site -> text) as ``key``'s files; None when they could
        not be written (no cache, a read-only one)."""
        if self.dir is None:
            return None
        names, out = {}, {}
        for path, text in texts.items():
            data = text.encode()
            names[path] = sha = hashlib.sha256(data).hexdigest()
            out[path] = stored = self.dir / self._name(path, sha)
            if not (_holds(stored, sha) or _replace(stored, methodcaller("write", data))):
                return None
        return self._use(key, names, out)

    def _use(self, key: str, names: dict[str, str], out: dict[str, Path]) -> dict[str, Path]:
        """Record ``key``'s files as this build's, and touch them: another build's
        :meth:`save` leaves them."""
        for stored in out.values():
            with contextlib.suppress(OSError):
                os.utime(stored)
        self.index.used[key] = names
        return out

    def made(self, key: str, names: Mapping[str, str]) -> dict[str, Path] | None:
        """Record the files another process stored for ``key`` with :meth:`put` (``names``:
        what :meth:`names_of` gave there); None when they are not all there."""
        self.index.used[key] = dict(names)
        return self.files(key)

    def names_of(self, key: str) -> dict[str, str]:
        return dict(self.index.used.get(key) or {})

    def _file(self, path: str, sha: str) -> Path | None:
        """Where the file of ``path`` with bytes hashing to ``sha`` is kept; None for anything
        but a SHA-256 (the index may come from elsewhere)."""
        if self.dir is None or not re.fullmatch(r"[0-9a-f]{64}", sha):
            return None
        return self.dir / self._name(path, sha)

    @staticmethod
    def _name(path: str, sha: str) -> str:
        suffix = Path(path).suffix
        return sha + (suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,8}", suffix) else "")

    def save(self) -> None:
        """Write the index of this build's keys, and remove the files no build has used for
        :data:`UNUSED_KEPT` seconds (this build's are written or touched as it uses them):
        not at once, as another build of the same site, with its library in another state,
        may be about to copy one."""
        self.index.save()
        cutoff = time.time() - UNUSED_KEPT
        for old in self.dir.iterdir() if self.dir is not None and self.dir.is_dir() else ():
            with contextlib.suppress(OSError):  # gone already, or not ours to remove
                if old.stat().st_mtime < cutoff:
                    old.unlink()


def _holds(path: Path, sha: str) -> bool:
    """Whether the file at ``path`` is there and its bytes hash to ``sha`` (read in blocks,
    never held whole)."""
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, hashlib.sha256).hexdigest() == sha
    except OSError:
        return False
