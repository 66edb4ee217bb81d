"""The package's own code: lint (ruff) and strict types (mypy; it ships py.typed), with the rules in
pyproject.toml. Part of the test suite, so the README's test command and CI run them."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

from conftest import ROOT, need


def _run(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    need(importlib.util.find_spec(module) is not None, f"{module} is not installed (pip install -e '.[test]')")
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing() -> None:
    proc = _run("ruff", "check", "src", "tests", "scripts")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict_finds_nothing() -> None:
    proc = _run("mypy")
    assert proc.returncode == 0, proc.stdout + proc.stderr
