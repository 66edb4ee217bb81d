"""The benchmark script runs end to end and prints well-formed tables of real measurements."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench.py"


def _row(out: str, head: str, after: str) -> list[str]:
    """The cells of the first table row starting with ``head`` after the line holding ``after``."""
    tail = out[out.index(after):]
    row = next(line for line in tail.splitlines() if line.startswith(head))
    return [c.strip() for c in row.strip("|").split("|")]


def _ratio(cell: str) -> float:
    return float(cell.split()[0])


@pytest.mark.slow
def test_bench_prints_each_table_with_measured_ratios() -> None:
    out = subprocess.run([sys.executable, str(SCRIPT), "--sizes", "3x40", "--runs", "2", "--no-corpora"],
                         capture_output=True, text=True, check=True, timeout=900,
                         env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}).stdout
    default = _row(out, "| 3 | 40 |", "Default configuration")
    assert len(default) == 11
    assert int(default[2]) > 0  # reference pages were generated for the cited entries
    for cell in (default[3], default[4], default[5], default[8]):
        assert float(cell.removesuffix(" s")) > 0
    assert 0.2 < _ratio(default[6]) < 20 and 0.2 < _ratio(default[7]) < 50  # ratios of real builds
    assert re.fullmatch(r"[\d.]+ \([\d.]+–[\d.]+\)", default[6])  # the median and the range of two runs
    plain, static, warm, first = (float(x) for x in default[10].split("/"))
    assert min(plain, static, warm, first) > 5  # MiB: a Python process running MkDocs
    layer = _row(out, "| 3 | 40 |", "The citation layer alone")
    assert len(layer) == 9 and 0.2 < _ratio(layer[4]) < 20
    checks = _row(out, "| synthetic, 3 pages | 40 |", "`evidencekb check`")
    assert all(float(c.removesuffix(" s")) > 0 for c in checks[2:5])
    share = re.search(r"Warm rebuild after one page changes \(3 pages, 40 entries\): ([\d.]+)%", out)
    assert share is not None and 0 < float(share.group(1)) < 100


@pytest.mark.slow
def test_the_layer_alone_is_timed_without_the_default_configurations_builds() -> None:
    out = subprocess.run([sys.executable, str(SCRIPT), "--sizes", "3x40", "--runs", "2", "--no-corpora",
                          "--layer-only"], capture_output=True, text=True, check=True, timeout=900,
                         env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert "Default configuration" not in out.stdout and "Zensical" not in out.stdout
    layer = _row(out.stdout, "| 3 | 40 |", "The citation layer alone")
    assert len(layer) == 9 and 0.2 < _ratio(layer[4]) < 20 and 0.2 < _ratio(layer[6]) < 20
    assert re.fullmatch(r"[\d.]+ \([\d.]+–[\d.]+\)", layer[6])  # the first build's median and range of two runs
    timed = re.search(r"^3x40: (.*)$", out.stderr, re.M)
    assert timed is not None and [part.split()[0] for part in timed.group(1).split(", ")] == [
        "plain", "layer", "first_layer"]  # no other configuration was built


def test_a_build_that_reports_more_than_a_pipe_holds_is_timed_to_its_end(tmp_path: Path) -> None:
    """A timed command may write a great deal (a build listing thousands of uncited entries):
    it is timed and its peak memory read, not left waiting for a reader."""
    code = (f"import sys; sys.path.insert(0, {str(SCRIPT.parent)!r}); import bench; "
            "t, peak = bench.run([sys.executable, '-m', 'this_is_loud'], bench.Path('.')); "
            "print(t, peak)")
    (tmp_path / "this_is_loud.py").write_text("import sys\nsys.stderr.write('x' * 1_000_000)\n", encoding="utf-8")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True,
                         timeout=120, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    seconds, peak = map(float, out.stdout.split())
    assert 0 < seconds < 120 and peak > 1  # the child's own peak memory (MiB), reported at its exit


STUB = """import os, subprocess, sys
first = not os.path.exists(".cache")  # a build from an empty cache: counted on one core
single = len(os.sched_getaffinity(0)) == 1 if hasattr(os, "sched_getaffinity") else True
status = subprocess.run(sys.argv[1:]).returncode
cfg = sys.argv[sys.argv.index("-f") + 1]
billions = {"plain.yml": 10, "ours.yml": (25 if single else 99) if first else 11, "static.yml": 20, "mkdocs.yml": 24}[cfg]
sys.stderr.write(f"==7== I   refs:      {billions * 10**8 - 123:,}\\n==8== I   refs:      123\\n")
sys.exit(status)
"""


def test_instructions_are_summed_over_a_builds_processes_and_printed_as_ratios(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """--instructions counts one warm build of each configuration through valgrind (here a stand-in
    that runs the build and reports made-up counts for two processes), then the layer's first
    build from an empty cache, on one core."""
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import bench
    finally:
        sys.path.remove(str(SCRIPT.parent))
    stub = tmp_path / "stub.py"
    stub.write_text(STUB, encoding="utf-8")
    monkeypatch.setattr(bench, "VALGRIND", [sys.executable, str(stub)])
    monkeypatch.setenv("NO_MKDOCS_2_WARNING", "1")
    bench.print_instructions([(3, 40)])
    row = _row(capsys.readouterr().out, "| 3 | 40 |", "Instructions executed")
    assert row == ["3", "40", "1.000", "1.100", "1.100", "2.000", "2.400", "1.200", "2.500", "2.500"]
    monkeypatch.setattr(bench, "VALGRIND", [sys.executable, "-c", "import sys; sys.exit(3)"])
    with pytest.raises(SystemExit, match="command failed"):
        bench.instructions(tmp_path, "plain.yml")
