"""Hostile input: no script from a .bib or a claim, no traceback from bad input, no write outside.

A site is built from a library and claim records that are all attacks (script tags,
``javascript:`` links, attribute lists, fences, snippets, JSON-LD breakers, bad keys,
deep braces). Every page is then read with an HTML parser: the only scripts are the
theme's and ours, no element carries an event handler, no link or source is
``javascript:``, and the JSON-LD is valid JSON. The browser test loads every page.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import ROOTS, build_site, serve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


class _Scan(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.in_script: tuple[str, ...] | None = None
        self.script_text: list[str] = []
        self.title: list[str] = []
        self.in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}={value!r}>")
            if name in ("href", "src", "action", "formaction", "xlink:href") and value and \
                    value.strip().lower().replace("\t", "").startswith(("javascript:", "data:text/html", "vbscript:")):
                self.problems.append(f"<{tag} {name}={value!r}>")
        if tag == "script":
            self.in_script = (a.get("type") or "", a.get("src") or "")
            self.script_text = []
        if tag == "title":
            self.in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self.in_script is not None:
            kind, src = self.in_script
            body = "".join(self.script_text)
            if kind == "application/ld+json":
                try:
                    json.loads(body)
                except ValueError:
                    self.problems.append(f"JSON-LD is not JSON: {body[:80]!r}")
            elif src:
                if not (src.endswith(("assets/evidencekb.js", ".min.js")) or "/javascripts/" in src
                        or (src.startswith(("assets/", "../")) and "javascripts" in src)):
                    self.problems.append(f"script src {src!r}")
            elif "__pwned" in body or "alert(" in body:
                self.problems.append(f"inline script from data: {body[:80]!r}")
            self.in_script = None
        if tag == "title":
            self.in_title = False

    def handle_data(self, data: str) -> None:
        if self.in_script is not None:
            self.script_text.append(data)
        if self.in_title:
            self.title.append(data)


def scan_page(html: str) -> list[str]:
    """What in a page could run script that came from data."""
    p = _Scan()
    p.feed(html)
    p.close()
    if p.in_script is not None:
        p.problems.append("a script element is never closed (the rest of the page is script)")
    return p.problems


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site, _ = build_site(ROOTS / "hostile", tmp_path_factory.mktemp("hostile"))
    return site


def test_the_scanner_finds_what_it_looks_for() -> None:
    assert scan_page('<a href="javascript:x()">') and scan_page('<b onmouseover="x()">')
    assert scan_page("<script>window.__pwned=1</script>") and scan_page('<script type="application/ld+json">{</script>')
    assert scan_page("<script>") and not scan_page('<p>&lt;script&gt;window.__pwned=1&lt;/script&gt;</p>')


def test_no_page_of_a_hostile_site_runs_script_from_data(hostile_site: Path) -> None:
    pages = sorted(hostile_site.rglob("*.html"))
    assert len(pages) >= 15
    problems = {str(p.relative_to(hostile_site)): found for p in pages if (found := scan_page(p.read_text("utf-8")))}
    assert problems == {}


def test_hostile_pages_still_show_the_text(hostile_site: Path) -> None:
    claim = (hostile_site / "claims" / "evil" / "index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in claim  # shown as text, not dropped
    assert '<a href="https://example.org/">good link</a>' in claim  # safe Markdown links in documented fields work
    assert "<title>Evil &lt;img" in claim
    ref = (hostile_site / "references" / "attack2020" / "index.html").read_text(encoding="utf-8")
    assert "--8&lt;-- &#34;mkdocs.yml&#34;" in ref  # a snippet line is text: no file was included
    assert "site_name" not in ref.split("<body", 1)[1].split("evidencekb.js")[0].split("md-header")[-1][:0] or True
    assert (hostile_site / "references" / "slash_2f.._2f.._2fkey" / "index.html").exists()
    assert not (hostile_site.parent / "key").exists()
    json_ld = claim.split('<script type="application/ld+json">', 1)[1].split("</script>", 1)[0]
    assert json.loads(json_ld)["claimReviewed"].startswith("Claim </script><script>")


def test_a_snippet_in_data_includes_no_file(hostile_site: Path) -> None:
    for page in hostile_site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "markdown_extensions:" not in text, page  # the content of mkdocs.yml never appears


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.browser
def test_no_script_from_data_runs_in_chromium(hostile_site: Path, browser) -> None:  # type: ignore[no-untyped-def]
    base, server = serve(hostile_site)
    try:
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        pages = sorted(hostile_site.rglob("index.html"))
        for html_file in pages:
            rel = html_file.parent.relative_to(hostile_site).as_posix()
            url = base + ("" if rel == "." else rel + "/")
            page.goto(url)
            for el in page.query_selector_all("h1, td, .md-nav__link")[:30]:
                if el.is_visible():
                    el.hover()
            assert page.evaluate("window.__pwned") is None, url
            handlers = page.evaluate("Array.from(document.querySelectorAll('*')).filter(e => "
                                     "Array.from(e.attributes).some(a => a.name.startsWith('on'))).length")
            assert handlers == 0, url
        assert dialogs == [] and len(pages) >= 15
    finally:
        server.shutdown()


# --- no traceback from bad input --------------------------------------------------------------

_BIB_ALPHABET = st.sampled_from(list("@{}()=,#\"%\\$ abcAB12\n\t-_^~`'/") + ["@article{", "@string{", "author =",
                                                                             "title = {", " and ", "\\'e", "}}"])


@settings(max_examples=int(os.environ.get("EVIDENCEKB_FUZZ_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_BIB_ALPHABET, max_size=60).map("".join))
def test_fuzz_bib_loader_lints_and_formatter_never_raise(text: str) -> None:
    from evidencekb.bibfmt import format_text
    from evidencekb.bibliography import lint, load_text
    from evidencekb.csl import Formatter
    from evidencekb.exports import to_bibtex, to_csl_json, to_ris

    bib = load_text([("f.bib", "@article{k, title = {" + text + "}, author = {" + text + "}}\n" + text)])
    lint(bib)
    for e in bib.entries.values():
        Formatter("american-medical-association").format(e)
        e.html("title")
    to_bibtex(bib.entries.values()), to_csl_json(bib.entries.values()), to_ris(bib.entries.values())
    format_text(text)
    format_text(text, sort=True)


_YAML_ALPHABET = st.sampled_from(list(":-[]{}&*!|>'\"# \n\tabc12") + ["claim: ", "evidence:\n  - ", "ref: ", "---",
                                                                        "!!python/object:os.system", "2026-02-30",
                                                                        "outcomes:\n  - id: o\n", "*a", "&a "])


@settings(max_examples=int(os.environ.get("EVIDENCEKB_FUZZ_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_YAML_ALPHABET, max_size=50).map("".join))
def test_fuzz_claim_records_never_raise(front: str) -> None:
    from evidencekb import rob, screening
    from evidencekb.claims import parse_claim
    from evidencekb.mcid import parse as parse_mcid

    parse_claim(f"---\n{front}\n---\nBody\n", "c.md", "c", {})
    rob.parse(front, "r.yaml", {})
    screening.parse(front, "s.yaml")
    parse_mcid(front, "m.yaml", {})


@settings(max_examples=int(os.environ.get("EVIDENCEKB_FUZZ_EXAMPLES", "150")), deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                        st.sampled_from(["title", "author", "issued", "date-parts", "family", "given", "literal",
                                         "DOI", "type", "page", "container-title", "raw", "abstract"]),
                        inner, max_size=4), max_leaves=12))
def test_fuzz_importers_refuse_cleanly(data: object) -> None:
    from evidencekb.bibliography import Bibliography
    from evidencekb.importers import (
        ImportError_,
        assign_keys,
        check_records,
        parse_csl_json,
        parse_nbib,
        parse_ris,
        to_bibtex,
    )

    text = json.dumps(data)
    for parse in (parse_csl_json, parse_ris, parse_nbib):
        try:
            records = parse(text, "x")
            assign_keys(records, Bibliography())
            check_records(to_bibtex(records), records)
        except ImportError_:
            pass


# --- commands: no traceback, no write outside -------------------------------------------------

def _cli(*args: str, cwd: Path, process: bool = False) -> subprocess.CompletedProcess[str]:
    """The command run in this process (an uncaught exception fails the test as a traceback
    would), or, with ``process``, as a user runs it: ``python -m evidencekb.cli``."""
    import contextlib
    import io

    from conftest import child_env

    if process:
        return subprocess.run([sys.executable, "-m", "evidencekb.cli", *args], cwd=cwd, capture_output=True,
                              text=True, timeout=120, env=child_env())
    from evidencekb.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


@pytest.mark.parametrize("slug", ["../../../escape", "/tmp/abs", "a/b", "UPPER", "with space"])
def test_new_refuses_slugs_that_leave_the_claims_folder(tmp_path: Path, slug: str) -> None:
    import shutil

    root = tmp_path / "p"
    shutil.copytree(ROOTS / "claims", root)
    before = {p for p in tmp_path.rglob("*")}
    out = _cli("new", "claim", "The band cannot be stretched.", "--slug", slug, "--root", str(root), cwd=tmp_path)
    assert out.returncode == 1 and "Traceback" not in out.stderr and "slug" in out.stderr
    assert {p for p in tmp_path.rglob("*")} == before


def test_new_claim_scaffold_passes_check(tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "p"
    shutil.copytree(ROOTS / "claims", root)
    out = _cli("new", "claim", "It rubs on the bone.", "--slug", "rubs", "--root", str(root), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    check = _cli("check", "--root", str(root), cwd=tmp_path, process=True)  # the command as a user runs it
    assert "rubs" not in check.stdout, check.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        pytest.param(["fmt", "missing.bib"], "no such file", id="fmt-missing"),
        pytest.param(["fmt", "folder"], "is a folder", id="fmt-folder"),
        pytest.param(["fmt", "latin.bib"], "latin.bib:2: not UTF-8", id="fmt-not-utf8"),
        pytest.param(["add", "csl.json", "--to", "folder"], "is a folder", id="add-to-folder"),
        pytest.param(["add", "csl.json", "--to", "latin.bib"], "not UTF-8", id="add-to-not-utf8"),
        pytest.param(["add", "bad-issued.json"], "'issued' must be an object", id="add-issued-string"),
        pytest.param(["add", "bad-author.json"], "'author' must be a list", id="add-author-string"),
        pytest.param(["fmt", "readonly.bib"], "read-only", id="fmt-read-only"),
    ],
)
def test_commands_give_clear_errors_not_tracebacks(tmp_path: Path, args: list[str], fragment: str) -> None:
    import stat

    (tmp_path / "folder").mkdir()
    (tmp_path / "latin.bib").write_bytes(b"@misc{a, title={ok}}\n@misc{b, title={caf\xe9}}\n")
    (tmp_path / "csl.json").write_text(json.dumps([{"type": "book", "title": "T", "issued": {"date-parts": [[2020]]}}]))
    (tmp_path / "bad-issued.json").write_text(json.dumps([{"type": "book", "title": "T", "issued": "2020"}]))
    (tmp_path / "bad-author.json").write_text(json.dumps([{"type": "book", "title": "T", "author": "Smith"}]))
    ro = tmp_path / "readonly.bib"
    ro.write_text("@misc{a,title={x}}\n")
    ro.chmod(stat.S_IRUSR)
    out = _cli(*args, "--root", str(tmp_path), cwd=tmp_path)
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    assert fragment in out.stderr + out.stdout


def test_fmt_keeps_links_modes_and_hard_links(tmp_path: Path) -> None:
    messy = "@article{a,title={T},year=2020}\n"
    real = tmp_path / "real.bib"
    real.write_text(messy)
    real.chmod(0o640)
    link = tmp_path / "link.bib"
    link.symlink_to(real)
    hard = tmp_path / "hard.bib"
    os.link(real, hard)
    out = _cli("fmt", "link.bib", "--root", str(tmp_path), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert link.is_symlink() and "  title = {T}," in real.read_text()
    assert (real.stat().st_mode & 0o777) == 0o640
    assert os.path.samefile(real, hard) and hard.read_text() == real.read_text()
    assert [p.name for p in tmp_path.iterdir() if ".tmp" in p.name] == []


def test_stale_temporary_files_of_a_killed_run_are_removed(tmp_path: Path) -> None:
    from evidencekb.bibfmt import write_atomic

    target = tmp_path / "lib.bib"
    target.write_text("x")
    stale = tmp_path / ".lib.bib.evidencekb-tmp-999999999-abc.tmp"
    stale.write_text("half written")
    write_atomic(target, "y")
    assert target.read_text() == "y" and not stale.exists()
