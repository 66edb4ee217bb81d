"""The benchmark script runs end to end and prints a well-formed table row."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench.py"


def test_bench_prints_a_row_per_size_and_the_warm_share() -> None:
    out = subprocess.run([sys.executable, str(SCRIPT), "--sizes", "3x40", "--runs", "1"], capture_output=True,
                         text=True, check=True, timeout=600, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}).stdout
    row = next(line for line in out.splitlines() if line.startswith("| 3 | 40 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert len(cells) == 12
    seconds = [float(c.removesuffix(" s")) for c in (cells[2], cells[3], cells[5], cells[8], cells[9], cells[10])]
    assert all(s > 0 for s in seconds)
    ratio = float(cells[4])
    assert 0.2 < ratio < 20  # a ratio of two real builds, not a constant
    plain, ours, first = (float(x) for x in cells[6].split("/"))
    assert min(plain, ours, first) > 5  # MiB: a Python process running MkDocs
    share = re.search(r"Warm rebuild after one page changes \(3 pages, 40 entries\): ([\d.]+)%", out)
    assert share is not None and 0 < float(share.group(1)) < 100
