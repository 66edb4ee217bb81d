"""Formatted references equal what pandoc 3's --citeproc prints (golden files).

Regenerate the golden files with ``python scripts/make_golden.py`` (and, for the
tricky libraries, ``python scripts/make_golden.py tests/tricky/tricky.bib tests/golden/tricky.json``,
likewise ``classes.bib``, one minimal entry per class of real-world input). Where pandoc is
itself wrong, tests/pandoc_notes.py says how and why.
"""

from __future__ import annotations

import json
import sys

import pytest
from conftest import ROOT, need, pandoc
from pandoc_notes import CASES, EXPLAINED, INTENDED, corrected

from evidencekb.bibliography import find_bib_files, load
from evidencekb.csl import Formatter

STYLES = ("american-medical-association", "apa", "nlm-citation-sequence")

LIBRARIES = {
    "references": (lambda: find_bib_files(ROOT, ["references"]), ROOT / "tests" / "golden" / "references.json"),
    "tricky": (lambda: [ROOT / "tests" / "tricky" / "tricky.bib"], ROOT / "tests" / "golden" / "tricky.json"),
    "classes": (lambda: [ROOT / "tests" / "tricky" / "classes.bib"], ROOT / "tests" / "golden" / "classes.json"),
}


def _reason(lib: str, style: str, key: str) -> str | None:
    """Why pandoc's output is wrong for this entry (tests/pandoc_notes.py), or None."""
    case = CASES.get((lib, f"{key}@{style}")) or CASES.get((lib, key))
    return EXPLAINED[case] if case else None


def _cases() -> list[pytest.ParameterSet]:
    out = []
    for lib, (files, golden_path) in LIBRARIES.items():
        golden = json.loads(golden_path.read_text(encoding="utf-8")) if golden_path.exists() else {}
        bib = load(files(), ROOT)
        for style in STYLES:
            for key in (k for k, e in bib.entries.items() if e.type != "xdata"):  # @xdata holds fields, no work
                reason = _reason(lib, style, key)
                intended = INTENDED.get((lib, style, key))
                if intended is not None:  # pandoc is wrong here: what we print instead, asserted
                    out.append(pytest.param(lib, style, key, intended, id=f"{lib}-{style}-{key}-intended"))
                    continue
                marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
                out.append(pytest.param(lib, style, key, golden.get(style, {}).get(key), id=f"{lib}-{style}-{key}",
                                        marks=marks))
    return out


@pytest.mark.parametrize(("library", "style", "key", "expected"), _cases())
def test_matches_pandoc(library: str, style: str, key: str, expected: str | None) -> None:
    files, golden_path = LIBRARIES[library]
    assert expected is not None, f"{key} is not in {golden_path.name}: run scripts/make_golden.py"
    bib = load(files(), ROOT)
    got = Formatter(style).format(bib[key]).text
    assert got == (expected if (library, style, key) in INTENDED else corrected(expected))


def test_golden_files_are_current() -> None:
    """pandoc, run now, prints what the committed tricky golden file says."""
    need(pandoc() is not None, "pandoc (pypandoc-binary) is not installed")
    sys.path.insert(0, str(ROOT / "scripts"))
    import make_golden

    for lib in ("tricky", "classes"):
        files, golden_path = LIBRARIES[lib]
        committed = json.loads(golden_path.read_text(encoding="utf-8"))
        for style in STYLES:
            assert make_golden.format_with_pandoc(files(), style) == committed[style]
