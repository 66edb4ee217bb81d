"""Shared fixtures: project paths, a helper to build tiny sample sites, external-tool gating."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROOTS = Path(__file__).resolve().parent / "roots"


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child Python process that must run the very code these tests
    import (under mutation testing, a changed copy of the package), not an installed one."""
    import evidencekb

    src = str(Path(evidencekb.__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH", "")
    env = {**os.environ, "PYTHONPATH": src + (os.pathsep + path if path else ""), **extra}
    if env.get("MUTANT_UNDER_TEST") == "stats":  # mutmut's coverage pass: it reads its settings from the
        del env["MUTANT_UNDER_TEST"]             # current folder, which a child's is not
    return env

#: Set by .ci/run: a test that needs an external program fails instead of skipping.
REQUIRE_EXTERNAL = os.environ.get("EVIDENCEKB_REQUIRE_EXTERNAL", "") not in ("", "0", "false")


def need(condition: bool, reason: str) -> None:
    """Skip (or, in CI, fail) when an external program is missing."""
    if condition:
        return
    if REQUIRE_EXTERNAL:
        pytest.fail(f"required external tool missing: {reason}")
    pytest.skip(reason)


class LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def warnings(self) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno >= logging.WARNING]


#: The public address the real site is built for in the tests.
PUBLIC_URL = "https://itband-evidence.example.org/"


def build_site(root: Path, tmp_path: Path, strict: bool = False) -> tuple[Path, list[str]]:
    """Build a sample site in a copy of ``root``; return (site dir, warning messages)."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    work = tmp_path / root.name
    shutil.copytree(root, work)
    handler = LogCapture()
    mk_log = logging.getLogger("mkdocs")
    mk_log.addHandler(handler)
    old = os.getcwd()
    try:
        os.chdir(work)
        cfg = load_config(str(work / "mkdocs.yml"), site_dir=str(work / "site"), strict=strict)
        build(cfg)
    finally:
        os.chdir(old)
        mk_log.removeHandler(handler)
    return work / "site", handler.warnings()


@pytest.fixture
def site_builder(tmp_path: Path):  # type: ignore[no-untyped-def]
    def run(name: str, strict: bool = False) -> tuple[Path, list[str]]:
        return build_site(ROOTS / name, tmp_path, strict)

    return run


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real site, built once per test session with --strict."""
    import subprocess
    import sys

    site = tmp_path_factory.mktemp("site")
    # Built as a published site is (mkdocs.yml reads site_url from SITE_URL): the handouts'
    # addresses and QR codes, and the structured data, carry this address.
    env = child_env(NO_MKDOCS_2_WARNING="1", SITE_URL=PUBLIC_URL)
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return site


@pytest.fixture(scope="session")
def served_site(built_site: Path):  # type: ignore[no-untyped-def]
    """The built site served on 127.0.0.1 (a free port) for browsers and link checkers."""
    import functools
    import http.server
    import threading

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(Handler, directory=str(built_site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


CHROMIUM = os.environ.get("EVIDENCEKB_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    """Headless Debian Chromium driven by Playwright (never a downloaded browser)."""
    need(Path(CHROMIUM).exists(), f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def serve(folder: Path):  # type: ignore[no-untyped-def]
    """A static server for a built site on 127.0.0.1 (a free port); returns (base URL, server)."""
    import functools
    import http.server
    import threading

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/", server


def pandoc() -> str | None:
    try:
        import pypandoc

        return str(pypandoc.get_pandoc_path())
    except Exception:  # pragma: no cover - depends on the machine
        return shutil.which("pandoc")
