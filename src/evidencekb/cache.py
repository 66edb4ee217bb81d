"""An on-disk cache keyed by content, shared by builds and ``evidencekb check``.

Parsed libraries (with their lint) are stored under a hash of every .bib
file's path and bytes and of this package's version, so an edit, a rename or
an upgrade misses the cache; modification times are never trusted. The
entries themselves sit compressed in a ``.blobs`` file beside it and are read
one by one as pages cite them. Formatted entries (and what pages show of
them) are stored per style under a hash of each entry's source text.
Writes are atomic; a damaged or foreign cache file is ignored, never fatal.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import bibliography as bibmod

__all__ = ["load_library", "FormatCache", "default_dir"]

VERSION = "4"
#: The last library loaded in this process, as [digest, library].
_MEMORY: list[Any] = [None, None]


def _package_version() -> str:
    try:
        from importlib.metadata import version

        return version("evidencekb")
    except Exception:  # pragma: no cover - running from a source tree
        return "dev"


def default_dir(root: Path) -> Path:
    return root / ".cache" / "evidencekb"


def _read(path: Path) -> Any:
    try:
        with path.open("rb") as f:
            return pickle.load(f)
    except Exception:
        return None


def _write(path: Path, value: Any) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only checkout still builds, just without the cache


def _load(paths: list[Path], root: Path, blobs: Path | None) -> bibmod.Bibliography:
    """Parse, lint and pack the library, a chunk of each file at a time: it is never held
    whole, as text, parsed blocks or entries. Packed into ``blobs`` or else in memory."""
    loader = bibmod.loader(paths, root)
    bib = loader.bib

    def linted() -> Iterator[bibmod.Entry]:
        for entry in loader.entries():
            bib.diagnostics.extend(bibmod.lint_entry(entry))
            yield entry

    bib.entries = bibmod.LazyEntries(linted(), blobs)
    return bib


def load_library(paths: list[Path], root: Path, cache_dir: Path | None) -> bibmod.Bibliography:
    """Load and lint the library, from the cache when its content is unchanged."""
    h = hashlib.sha256(f"{VERSION}\0{_package_version()}\0".encode())
    for p in paths:
        h.update(bibmod._display(p, root).encode() + b"\0")
        try:
            with p.open("rb") as f:  # in pieces: a large library is never held whole just to hash it
                while chunk := f.read(1 << 20):
                    h.update(chunk)
        except OSError:
            h.update(b"\1missing")
        h.update(b"\0")
    digest = h.hexdigest()
    if cache_dir is not None and _MEMORY[0] == digest and _MEMORY[1] is not None:
        return _MEMORY[1]  # the rebuilds of one `mkdocs serve`: nothing changed since the last build
    target = cache_dir / f"library-{digest[:32]}.pickle" if cache_dir else None
    if target is not None and target.exists():
        bib = _read(target)
        if isinstance(bib, bibmod.Bibliography):
            _MEMORY[:] = [digest, bib]
            return bib
    if target is None:
        return _load(paths, root, None)
    blobs = target.with_suffix(".blobs")
    for old in target.parent.glob("library-*") if target.parent.exists() else []:
        if old not in (target, blobs):
            old.unlink(missing_ok=True)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        bib = _load(paths, root, blobs)  # read from the cache file from now on
    except OSError:
        bib = _load(paths, root, None)  # a read-only checkout (or a full disk): kept in memory
    _write(target, bib)
    _MEMORY[:] = [digest, bib]
    return bib


class FormatCache:
    """Formatted entries of one style, persisted between builds."""

    def __init__(self, cache_dir: Path | None, style: str) -> None:
        name = hashlib.sha256(f"{VERSION}\0{_package_version()}\0{style}".encode()).hexdigest()[:24]
        self.path = cache_dir / f"format-{name}.pickle" if cache_dir else None
        data = _read(self.path) if self.path and self.path.exists() else None
        self.data: dict[Any, Any] = data if isinstance(data, dict) else {}
        self.dirty = False

    def get(self, key: Any) -> Any:
        return self.data.get(key)

    def put(self, key: Any, value: Any) -> None:
        self.data[key] = value
        self.dirty = True

    def save(self) -> None:
        if self.path and self.dirty:
            _write(self.path, self.data)
            self.dirty = False
