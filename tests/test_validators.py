"""Outside validators: the Nu HTML checker on our HTML, biber on our BibTeX."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, need

VNU = os.environ.get("EVIDENCEKB_VNU_JAR", str(ROOT / ".ci" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"))


def _vnu(files: list[Path]) -> subprocess.CompletedProcess[str]:
    need(Path(VNU).exists(), f"the Nu HTML checker is not installed ({VNU}; npm install vnu-jar)")
    need(shutil.which("java") is not None, "Java is not installed (needed by the Nu HTML checker)")
    return subprocess.run(["java", "-jar", VNU, "--format", "gnu", "--errors-only", *map(str, files)],
                          capture_output=True, text=True, timeout=900)


def _content_pages(site: Path, out: Path) -> list[Path]:
    """Each page's article, the HTML our Markdown, extension and plugin produce, as a document.

    The theme's own chrome is left out: its templates are Material's, not ours.
    """
    pages = []
    for p in sorted(site.rglob("index.html")):
        m = re.search(r'<article class="md-content__inner md-typeset">(.*?)</article>', p.read_text(encoding="utf-8"), re.S)
        if m:
            f = out / (p.relative_to(site).as_posix().replace("/", "__"))
            f.write_text('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>page</title></head>'
                         f"<body><main>{m.group(1)}</main></body></html>", encoding="utf-8")
            pages.append(f)
    return pages


@pytest.mark.slow
def test_our_html_has_no_errors(built_site: Path, tmp_path: Path) -> None:
    pages = _content_pages(built_site, tmp_path)
    assert len(pages) > 60
    proc = _vnu(pages)
    assert proc.returncode == 0 and not proc.stderr.strip() and not proc.stdout.strip(), (proc.stdout + proc.stderr)[-3000:]


def test_nu_checker_catches_bad_html(tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html lang="en"><head><title>t</title></head><body>'
                   '<a href="#x"><div id="a"><p id="a">dup</p></div></a></body></html>', encoding="utf-8")
    proc = _vnu([bad])
    assert proc.returncode != 0 and "Duplicate ID" in proc.stderr + proc.stdout


def _biber(bib: Path, tmp_path: Path) -> str:
    need(shutil.which("biber") is not None, "biber is not installed (apt-get install biber)")
    work = tmp_path / "biber"
    work.mkdir(exist_ok=True)
    shutil.copy(bib, work / "in.bib")
    proc = subprocess.run(["biber", "--tool", "--validate-datamodel", "--output-file", "out.bib", "in.bib"],
                          cwd=work, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert "running in TOOL mode" in out and "Found BibTeX data source" in out, out[-2000:]  # biber really ran
    return out


@pytest.mark.parametrize("bib", sorted((ROOT / "references").glob("*.bib")), ids=lambda p: p.name)
def test_biber_validates_the_library(bib: Path, tmp_path: Path) -> None:
    out = _biber(bib, tmp_path)
    assert "ERROR" not in out, out[-3000:]
    # Only our own extra fields (pmid, pmcid, design) may be unknown to biblatex's data model.
    for warn in re.findall(r"WARN - (.*)", out):
        assert re.search(r"Field '(pmid|pmcid|design)' invalid in data model", warn), warn


def test_biber_catches_a_broken_entry(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bib"
    bad.write_text("@article{y, author={A, B} title={T}, journal={J}, year={2000}}\n", encoding="utf-8")
    assert "ERROR" in _biber(bad, tmp_path)
