"""The evidencekb command: check, fmt, add and new."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import threading
from pathlib import Path

import pytest
from conftest import ROOTS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidencekb.bibfmt import format_text
from evidencekb.bibliography import load_text
from evidencekb.cli import main


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(ROOTS / "basic", root)
    return root


def test_check_reports_sorted_located_lines_and_exit_code(project: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["check", "--root", str(project)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("docs/index.md:5:9: error unknown-citation: '@alpah2020' is not a key in any .bib file. "
                      "Did you mean 'alpha2020'?")
    assert out[-1] == "1 error(s), 1 warning(s)"  # beta2019 has only a URL


def test_check_names_pages_in_folders_and_linked_pages_as_the_project_shows_paths(
        project: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (project / "docs" / "sub" / "deeper").mkdir(parents=True)
    (project / "docs" / "sub" / "deeper" / "page.md").write_text("A\n\n[@nokey1]\n", encoding="utf-8")
    outside = tmp_path / "elsewhere.md"
    outside.write_text("[@nokey2]\n", encoding="utf-8")
    (project / "docs" / "linked.md").symlink_to(outside)
    (project / "docs" / "inside.md").symlink_to(project / "docs" / "sub" / "deeper" / "page.md")
    main(["check", "--root", str(project)])
    out = capsys.readouterr().out
    assert "docs/sub/deeper/page.md:3:1: error unknown-citation: '@nokey1'" in out
    # a link to a page outside the project: the link, in full
    assert f"{(project / 'docs' / 'linked.md').as_posix()}:1:1: error unknown-citation: '@nokey2'" in out
    assert "inside.md" not in out  # a link within the project is shown as its target (the same place)


def test_check_clean_exits_zero_and_strict_turns_warnings_into_errors(project: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (project / "docs" / "index.md").write_text("[@alpha2020]\n", encoding="utf-8")
    assert main(["check", "--root", str(project)]) == 0
    assert "uncited-entry" in capsys.readouterr().out  # beta2019 is not cited: a warning
    assert main(["check", "--root", str(project), "--strict"]) == 1


def test_check_json(project: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    main(["check", "--root", str(project), "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert data["errors"] == 1 and data["diagnostics"][0]["code"] == "unknown-citation"


MESSY = """% a comment that must survive
@STRING{ jj = "Journal of J" }

@Article{b2020,
    Title={A title
      over two lines},
  author = {Bee, Bo},
  journal = jj,
  year = 2020,
  pages = {12-19},
}
@preamble{"\\newcommand{\\x}{y}"}
@article{a2019, author={Aye, Al}, title={T}, journal={J}, year={2019}, note="quoted"}
@article{broken, title = {never closed
"""


def test_fmt_normalises_and_keeps_everything(tmp_path: Path) -> None:
    out = format_text(MESSY)
    assert "% a comment that must survive" in out
    assert '@preamble{"\\newcommand{\\x}{y}"}' in out
    assert '@STRING{ jj = "Journal of J" }' in out  # @string blocks are kept byte for byte
    assert "  pages = {12--19}," in out
    assert "  title = {A title over two lines}," in out
    assert "  journal = jj," in out
    assert "@article{broken, title = {never closed" in out  # kept verbatim, not dropped
    assert out.index("author = {Bee, Bo}") < out.index("title = {A title")
    assert format_text(out) == out  # idempotent
    sorted_out = format_text(MESSY, sort=True)
    assert sorted_out.index("{a2019,") < sorted_out.index("{b2020,")


def test_fmt_check_shows_diff_and_exits_1(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "x.bib"
    f.write_text(MESSY, encoding="utf-8")
    assert main(["fmt", "--check", str(f)]) == 1
    assert "+  pages = {12--19}," in capsys.readouterr().out
    assert f.read_text(encoding="utf-8") == MESSY
    assert main(["fmt", str(f)]) == 0
    assert main(["fmt", "--check", str(f)]) == 0


_names = st.from_regex(r"[a-z][a-z_]{0,10}", fullmatch=True).filter(lambda n: n not in {"pages"})
_values = st.from_regex(r"[A-Za-z0-9 .,:;'()\-]{0,40}", fullmatch=True)
_entries = st.dictionaries(_names, _values, min_size=1, max_size=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_entries, min_size=1, max_size=5))
def test_parse_fmt_parse_keeps_every_entry_and_field(entries: list[dict[str, str]]) -> None:
    text = "\n".join("@article{k" + str(i) + ",\n" + "".join(f"  {k} = {{{v}}},\n" for k, v in e.items()) + "}\n"
                     for i, e in enumerate(entries))
    before = load_text([("x.bib", text)])
    after = load_text([("x.bib", format_text(text))])
    assert list(before.entries) == list(after.entries)
    for key, entry in before.entries.items():
        norm = {k: " ".join(v.split()) for k, v in entry.fields.items()}
        assert {k: " ".join(v.split()) for k, v in after.entries[key].fields.items()} == norm


RIS = """TY  - JOUR
AU  - Smith, John
AU  - Doe, Jane
TI  - A running study
JO  - Journal of Running
PY  - 2021
VL  - 4
SP  - 10
EP  - 20
DO  - 10.5555/run.2021
ER  - 
"""
NBIB = """PMID- 87654321
TI  - Hip strength in runners.
FAU - Müller, Anna
FAU - Lee, Bo
JT  - Journal of Hips
TA  - J Hips
DP  - 2019 Mar
VI  - 7
IP  - 2
PG  - 101-9
AID - 10.5555/hips.2019 [doi]
AB  - An abstract that continues
      on a second line.
"""
CSL = json.dumps([{"type": "article-journal", "title": "Fascia", "author": [{"family": "Smith", "given": "John"}],
                   "container-title": "J Fascia", "issued": {"date-parts": [[2021]]}, "DOI": "10.5555/fascia"}])


def test_add_imports_ris_nbib_csljson_with_house_keys(project: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (project / "a.ris").write_text(RIS, encoding="utf-8")
    (project / "b.nbib").write_text(NBIB, encoding="utf-8")
    (project / "c.json").write_text(CSL, encoding="utf-8")
    target = project / "references" / "new.bib"
    assert main(["add", "--root", str(project), "--to", str(target),
                 str(project / "a.ris"), str(project / "b.nbib"), str(project / "c.json")]) == 0
    bib = load_text([("new.bib", target.read_text(encoding="utf-8"))])
    assert list(bib.entries) == ["smith2021", "muller2019", "smith2021a"]
    hips = bib["muller2019"].fields
    assert hips["pages"] == "101--109" and hips["pmid"] == "87654321" and hips["doi"] == "10.5555/hips.2019"
    assert hips["abstract"] == "An abstract that continues on a second line."
    assert bib["smith2021"].fields["pages"] == "10--20"


def test_add_refuses_duplicate_doi_naming_existing_key(project: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (project / "a.ris").write_text(RIS.replace("10.5555/run.2021", "10.1234/alpha.2020"), encoding="utf-8")
    assert main(["add", "--root", str(project), str(project / "a.ris")]) == 1
    assert "already in the library as 'alpha2020'" in capsys.readouterr().err
    assert not (project / "references" / "imported.bib").exists()


def test_add_bad_file_names_file_and_line(project: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (project / "bad.ris").write_text("TY  - JOUR\nTI  - no end\n", encoding="utf-8")
    assert main(["add", "--root", str(project), str(project / "bad.ris")]) == 1
    assert "bad.ris:1: record has no closing 'ER  -' line" in capsys.readouterr().err


def test_add_doi_through_a_local_resolver(project: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.headers.get("Accept") != "application/x-bibtex" or not self.path.endswith("10.5555/xyz"):
                self.send_response(404)
                self.end_headers()
                return
            body = b"@article{X, author={Zed, Zoe}, title={Fetched}, journal={J}, year={2022}, doi={10.5555/xyz}}"
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("EVIDENCEKB_DOI_RESOLVER", f"http://127.0.0.1:{server.server_address[1]}/")
        assert main(["add", "--root", str(project), "--doi", "10.5555/xyz"]) == 0
        assert "added zed2022" in capsys.readouterr().out
        assert main(["add", "--root", str(project), "--doi", "10.5555/nope"]) == 1
        assert "answered 404" in capsys.readouterr().err
    finally:
        server.shutdown()


def test_add_doi_offline_gives_clear_error(project: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("EVIDENCEKB_DOI_RESOLVER", "http://127.0.0.1:9/")
    assert main(["add", "--root", str(project), "--doi", "10.5555/xyz"]) == 1
    assert "cannot reach the DOI resolver" in capsys.readouterr().err


def test_new_claim_scaffolds_a_valid_record(project: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (project / "docs" / "article.md").write_text("# A\n\nThe band is fascia. It rubs.\n", encoding="utf-8")
    assert main(["new", "claim", "The band is fascia.", "--root", str(project), "--topic", "anatomy"]) == 0
    page = project / "docs" / "claims" / "the-band-is-fascia.md"
    assert page.exists()
    from evidencekb.claims import parse_claim

    claim, errs = parse_claim(page.read_text(encoding="utf-8"), "x", "the-band-is-fascia", {})
    assert errs == [] and claim is not None and claim.verdict == "untested"
    assert main(["new", "claim", "Not in the article.", "--root", str(project)]) == 1
    assert "not verbatim" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["check"], ["fmt"], ["add"], ["new", "claim"]])
def test_every_subcommand_has_help(command: list[str], capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exc:
        main([*command, "--help"])
    assert exc.value.code == 0 and "usage: evidencekb" in capsys.readouterr().out


BAD_INPUTS = {
    "truncated": b"@article{t, author={A, B}, title={T",
    "missing-comma": b"@article{m, author={A, B} title={T}, journal={J}, year={2020}, doi={10.5555/m}}\n",
    "missing-brace": b"@article{n, author={A, B}, title={T}, journal={J}, year={2020}\n",
    "bad-string": b"@string{s = {unclosed}\n",
    "bom": b"\xef\xbb\xbf@article{b, author={A, B}, title={T}, journal={J}, year={2020}, doi={10.5555/b}}\n",
    "crlf": b"@article{c,\r\n author={A, B},\r\n title={T}, journal={J}, year={2020}, doi={10.5555/c}}\r\n",
    "empty": b"",
    "garbage": bytes(range(256)),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_inputs_never_traceback_and_lose_nothing(name: str, project: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    f = project / "references" / f"{name}.bib"
    f.write_bytes(BAD_INPUTS[name])
    rc = main(["check", "--root", str(project)])
    out = capsys.readouterr().out
    assert rc in (0, 1) and "Traceback" not in out
    own = [ln for ln in out.splitlines() if ln.startswith(f"references/{name}.bib:")]
    if name in {"bom", "crlf", "empty"}:
        assert not [ln for ln in own if " error " in ln]
    else:
        assert own and all(ln.split(":")[1].isdigit() for ln in own)
    if name != "garbage":
        text = BAD_INPUTS[name].decode("utf-8-sig")
        assert main(["fmt", str(f)]) == 0
        formatted = f.read_text(encoding="utf-8")
        for word in ("author", "title", "journal"):
            assert text.count(word) == formatted.count(word)
    capsys.readouterr()


def test_ten_thousand_entries_check(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "big"
    shutil.copytree(ROOTS / "basic", root)
    (root / "references" / "big.bib").write_text("".join(
        f"@article{{k{i}, author={{A{i}, B}}, title={{T{i}}}, journal={{J}}, year={{2000}}, doi={{10.5555/{i}}}}}\n"
        for i in range(10_000)), encoding="utf-8")
    main(["check", "--root", str(root)])
    out = capsys.readouterr().out
    assert out.count("uncited-entry") == 10_000  # every new entry accounted for, none lost


def test_fmt_check_shows_a_unified_diff_of_the_file() -> None:
    from evidencekb.bibfmt import diff

    assert diff("refs.bib", "a\nb\n", "a\nc\n") == ("--- refs.bib (now)\n+++ refs.bib (formatted)\n@@ -1,2 +1,2 @@\n"
                                                     " a\n-b\n+c\n")
    assert diff("refs.bib", "same\n", "same\n") == ""


def test_a_lock_held_by_a_dead_process_is_stale() -> None:
    import os
    import subprocess
    import sys

    from evidencekb.bibfmt import _alive

    assert _alive(os.getpid())
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    assert not _alive(int(child.stdout))  # exited and reaped
    if os.geteuid() != 0:  # another user's process: alive, though we may not signal it
        assert _alive(1)


def test_write_atomic_keeps_links_modes_and_hard_links_in_process(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    from evidencekb.bibfmt import write_atomic

    real = tmp_path / "real.bib"
    real.write_text("old\n", encoding="utf-8")
    real.chmod(0o640)
    link = tmp_path / "link.bib"
    link.symlink_to(real)
    hard = tmp_path / "hard.bib"
    os.link(real, hard)
    write_atomic(link, "new\r\nline é\n")
    assert link.is_symlink() and os.readlink(link) == str(real)  # the link stays a link
    assert real.read_bytes() == "new\r\nline é\n".encode()  # the text as given, in UTF-8
    assert (real.stat().st_mode & 0o777) == 0o640
    assert os.path.samefile(real, hard) and hard.read_text(encoding="utf-8") == real.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hard.bib", "link.bib", "real.bib"]  # no temporary left
    alone = tmp_path / "alone.bib"
    alone.write_text("a", encoding="utf-8")
    alone.chmod(0o604)
    inode = alone.stat().st_ino
    write_atomic(alone, "b")
    assert alone.read_text(encoding="utf-8") == "b" and (alone.stat().st_mode & 0o777) == 0o604
    assert alone.stat().st_ino != inode  # replaced as one step, not rewritten in place
    fresh = tmp_path / "new.bib"
    write_atomic(fresh, "c")
    assert fresh.read_text(encoding="utf-8") == "c"


def test_write_atomic_refuses_folders_and_read_only_files_and_cleans_up_on_error(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import os

    import pytest

    from evidencekb import bibfmt

    with pytest.raises(bibfmt.WriteError, match="is a folder"):
        bibfmt.write_atomic(tmp_path, "x")
    ro = tmp_path / "ro.bib"
    ro.write_text("keep", encoding="utf-8")
    ro.chmod(0o444)
    with pytest.raises(bibfmt.WriteError, match="read-only"):
        bibfmt.write_atomic(ro, "x")
    assert ro.read_text(encoding="utf-8") == "keep"
    ok = tmp_path / "ok.bib"
    ok.write_text("keep", encoding="utf-8")

    def fail(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        bibfmt.write_atomic(ok, "new")
    assert ok.read_text(encoding="utf-8") == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.bib", "ro.bib"]  # its temporary file removed


def test_only_temporary_files_of_dead_runs_are_removed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    from evidencekb.bibfmt import _TMP_TAG, write_atomic

    target = tmp_path / "lib.bib"
    target.write_text("x", encoding="utf-8")
    mine = tmp_path / f".lib.bib{_TMP_TAG}{os.getpid()}-abc.tmp"  # this process's own: kept
    live = tmp_path / f".lib.bib{_TMP_TAG}1-abc.tmp"  # a live process's (pid 1): kept
    dead = tmp_path / f".lib.bib{_TMP_TAG}999999999-abc.tmp"
    odd = tmp_path / f".lib.bib{_TMP_TAG}notapid.tmp"  # not ours to judge: kept
    other = tmp_path / f".other.bib{_TMP_TAG}999999999-abc.tmp"  # another file's: kept
    for p in (mine, live, dead, odd, other):
        p.write_text("half", encoding="utf-8")
    write_atomic(target, "y")
    assert target.read_text(encoding="utf-8") == "y"
    assert [p.exists() for p in (mine, live, dead, odd, other)] == [True, True, False, True, True]


@pytest.mark.parametrize(("name", "raw", "fix", "out"), [
    ("title", '"A {B} C"', False, "{A {B} C}"),  # quotes become braces
    ("title", r'"A \"b\" c"', False, r'{A \"b\" c}'),
    ("title", '"A "b" c"', False, '"A "b" c"'),  # an unescaped quote inside: left as written
    ("note", "{a}b{c}", False, "{a}b{c}"),  # braces that do not enclose the value: left as written
    ("note", r"{50\% \{x\}}", False, r"{50\% \{x\}}"),
    ("note", r"{\}a\{}", False, r"{\}a\{}"),
    ("title", '"a}b{c"', False, '"a}b{c"'),  # braces that do not balance inside quotes: left quoted
    ("title", r'"a\}b"', False, r"{a\}b}"),  # an escaped brace needs no partner
    ("year", "2020", False, "{2020}"),  # a bare number is braced
    ("journal", "jt", False, "jt"),  # a macro is kept
    ("journal", 'jt # " x"', False, 'jt # " x"'),  # so is a concatenation
    ("title", "{A\n   B\n\n C}", False, "{A B\n\nC}"),  # lines joined, paragraphs kept
    ("abstract", "{  L1\n  L2  }", False, "{L1\n  L2}"),  # an abstract keeps its lines
    ("pages", "{1-2}", False, "{1--2}"),
    ("pages", "{1--2}", False, "{1--2}"),
    ("doi", "{https://doi.org/10.1/x}", False, "{https://doi.org/10.1/x}"),  # fixed only under --fix
    ("doi", "{https://dx.doi.org/10.1/x}", True, "{10.1/x}"),
    ("doi", "{doi: 10.1/x}", True, "{10.1/x}"),
    ("doi", "{10.1/x}", True, "{10.1/x}"),
])
def test_fmt_writes_each_value_braced_without_changing_what_it_says(name: str, raw: str, fix: bool, out: str) -> None:
    formatted = format_text(f"@misc{{k, {name} = {raw}}}\n", fix=fix)
    assert formatted == f"@misc{{k,\n  {name} = {out},\n}}\n"


def test_fmt_reads_any_line_ending_and_a_byte_order_mark() -> None:
    for text in ("\ufeff@misc{k, title={A}}\r\n", "@misc{k,\r  title={A}}\r", "@misc{k, title={A}}\n"):
        assert format_text(text) == "@misc{k,\n  title = {A},\n}\n", repr(text)


def test_fmt_sort_moves_the_comments_above_an_entry_with_it_and_names_what_it_cannot_format() -> None:
    text = ("% about b\n@misc{B, title={X}}\n\n% about a\n@misc{a, title={Y}}\n"
            "@misc{c, title={Z}, TITLE={z}}\n")
    problems: list[str] = []
    out = format_text(text, sort=True, problems=problems)
    assert out.index("% about a") < out.index("@misc{a,") < out.index("% about b") < out.index("@misc{B,")
    assert "@misc{c, title={Z}, TITLE={z}}" in out  # kept exactly as written
    assert problems == ["line 6: entry 'c' names a field twice (in different case); it was left as it is. Remove one "
                        "of the two."]
    unsorted = format_text(text)
    assert unsorted.index("% about b") < unsorted.index("@misc{B,") < unsorted.index("% about a")
    assert format_text(text, problems=None) == unsorted  # problems are only collected when asked for


def _check_imports(root: Path, modules: tuple[str, ...]) -> tuple[list[str], str]:
    """Which of ``modules`` `evidencekb check` of ``root`` imports, run in a process of its own."""
    import subprocess
    import sys

    from conftest import child_env

    code = ("import json, sys\nimport evidencekb.cli as cli\n"
            f"try:\n    cli.main(['check', '--root', {str(root)!r}])\nexcept SystemExit:\n    pass\n"
            f"print(json.dumps(sorted(m for m in {modules!r} if m in sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=child_env())
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stdout + out.stderr


APPRAISAL = ("evidencekb.claims", "evidencekb.checks", "evidencekb.grade", "evidencekb.rob", "evidencekb.mcid",
             "evidencekb.screening", "evidencekb.quotes")


def test_check_loads_no_page_builder_or_formatter(tmp_path: Path) -> None:
    """`evidencekb check` reads and checks; it never builds a page, so it never pays for
    importing the page builders, the exports or the CSL formatter."""
    shutil.copytree(ROOTS / "claims", tmp_path / "site")
    index = tmp_path / "site" / "docs" / "index.md"
    index.write_text(index.read_text(encoding="utf-8") + "\nAs shown [@nosuchkey].\n", encoding="utf-8")
    builders = ("evidencekb.pages", "evidencekb.exports", "evidencekb.csl", "evidencekb.figures", "citeproc")
    imported, output = _check_imports(tmp_path / "site", builders + APPRAISAL)
    assert imported == sorted(APPRAISAL)  # the claims are checked; no page is built
    assert "unknown-citation" in output and "0 error(s)" not in output  # it did check the pages


def test_a_site_without_claims_is_checked_without_the_appraisal_modules(tmp_path: Path) -> None:
    """A site that only cites its library (no claims, no risk-of-bias, MCID or screening
    records) is checked without importing what appraises claims."""
    shutil.copytree(ROOTS / "claims", tmp_path / "site")
    shutil.rmtree(tmp_path / "site" / "docs" / "claims")
    imported, output = _check_imports(tmp_path / "site", APPRAISAL)
    assert imported == ["evidencekb.rob"]  # its risk-of-bias file is read (and checked) all the same
    (tmp_path / "site" / "references" / "risk-of-bias.yaml").unlink()
    imported, output = _check_imports(tmp_path / "site", APPRAISAL)
    assert imported == []
    assert "uncited-entry" in output  # the library and the pages were checked


def test_a_termination_signal_while_writing_leaves_the_file_and_no_temporary(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """SIGTERM or SIGHUP in the middle of a write (an editor or CI stopping `fmt`): the old text
    stays whole, the temporary file goes, and the program's own handlers are back afterwards."""
    import os
    import signal

    from evidencekb import bibfmt

    target = tmp_path / "lib.bib"
    target.write_text("old", encoding="utf-8")
    mine = signal.getsignal(signal.SIGTERM)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
        monkeypatch.setattr(os, "fsync", lambda fd, sig=sig: os.kill(os.getpid(), sig))
        with pytest.raises(KeyboardInterrupt):
            bibfmt.write_atomic(target, "new")
        assert target.read_text(encoding="utf-8") == "old"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["lib.bib"]
        assert {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)} == before
    monkeypatch.undo()
    bibfmt.write_atomic(target, "new")
    assert target.read_text(encoding="utf-8") == "new" and signal.getsignal(signal.SIGTERM) == mine


def test_the_temporary_file_sits_beside_its_target_named_for_it_and_this_process(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import os
    import re

    from evidencekb import bibfmt

    seen: list[str] = []
    real_replace = os.replace

    def spy(src: str, dst: object) -> None:
        seen.append(str(src))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    bibfmt.write_atomic(tmp_path / "lib.bib", "x")
    tmp = Path(seen[0])
    assert tmp.parent == tmp_path
    assert re.fullmatch(rf"\.lib\.bib{re.escape(bibfmt._TMP_TAG)}{os.getpid()}-.+\.tmp", tmp.name), tmp.name


def test_write_atomic_from_a_worker_thread_leaves_signals_alone(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import signal
    import threading

    from evidencekb.bibfmt import write_atomic

    target = tmp_path / "t.bib"
    errors: list[BaseException] = []
    before = signal.getsignal(signal.SIGTERM)

    def work() -> None:
        try:
            write_atomic(target, "from a thread")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert errors == [] and target.read_text(encoding="utf-8") == "from a thread"
    assert signal.getsignal(signal.SIGTERM) == before


def test_a_temporary_file_of_a_process_we_may_not_signal_is_kept(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A process of another user answers 'permission denied': it is alive, and its file is kept."""
    import os

    from evidencekb import bibfmt

    target = tmp_path / "lib.bib"
    other = tmp_path / f".lib.bib{bibfmt._TMP_TAG}4242-abc.tmp"
    other.write_text("half", encoding="utf-8")

    def kill(pid: int, sig: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "kill", kill)
    bibfmt.write_atomic(target, "x")
    assert other.exists() and target.read_text(encoding="utf-8") == "x"


def test_fmt_puts_fields_in_the_house_order_then_the_rest_alphabetically() -> None:
    from evidencekb.bibfmt import format_text

    out = format_text("@article{k, zzz={z}, Year={2000}, doi={10.1/x}, aaa={a}, title={T}, JOURNAL={J}, author={A, B}}")
    assert out == ("@article{k,\n  author = {A, B},\n  title = {T},\n  journal = {J},\n  year = {2000},\n"
                   "  doi = {10.1/x},\n  aaa = {a},\n  zzz = {z},\n}\n")


def test_fmt_names_the_first_line_for_an_entry_on_it_and_sorts_keys_without_case() -> None:
    from evidencekb.bibfmt import format_text

    problems: list[str] = []
    assert format_text("@article{k, title={T}, Title={U}}", problems=problems) == "@article{k, title={T}, Title={U}}\n"
    assert problems == ["line 1: entry 'k' names a field twice (in different case); it was left as it is. "
                        "Remove one of the two."]
    out = format_text("@misc{aab, title={1}}\n@misc{a_b, title={2}}\n@misc{Abc, title={3}}", sort=True)
    assert [line for line in out.splitlines() if line.startswith("@")] == ["@misc{a_b,", "@misc{aab,", "@misc{Abc,"]


def test_fmt_keeps_escaped_braces_as_text_in_quoted_and_braced_values() -> None:
    from evidencekb.bibfmt import format_text

    out = format_text('@misc{x, title = "\\{a\\} b", note = {\\}x\\{}, other = {{A} b}, last = "{B}"}')
    assert "  title = {\\{a\\} b},\n" in out and "  note = {\\}x\\{},\n" in out
    assert "  other = {{A} b},\n" in out and "  last = {{B}},\n" in out


@pytest.mark.parametrize(("text", "out"), [
    pytest.param("@misc{k, title={A\r\nB}}", "@misc{k,\n  title = {A B},\n}\n", id="a-crlf-inside-a-value-is-one-line-end"),
    pytest.param("@misc{k, title={A\rB}}", "@misc{k,\n  title = {A B},\n}\n", id="a-lone-cr-is-a-line-end"),
    pytest.param("Xtra notes\n@misc{k, title={A}}", "Xtra notes\n\n@misc{k,\n  title = {A},\n}\n",
                 id="only-a-byte-order-mark-is-stripped-from-the-start"),
    pytest.param("@misc{k, xab={1}, x_b={2}}", "@misc{k,\n  x_b = {2},\n  xab = {1},\n}\n",
                 id="other-fields-sort-by-their-lower-case-names"),
    pytest.param("@misc{k, title={{{A}}\n   {B}}}", "@misc{k,\n  title = {{{A}} {B}},\n}\n", id="nested-groups-are-balanced"),
])
def test_fmt_reads_line_ends_and_orders_fields_exactly(text: str, out: str) -> None:
    from evidencekb.bibfmt import format_text

    assert format_text(text) == out


def test_fmt_sort_keeps_a_comment_one_blank_line_above_its_entry() -> None:
    from evidencekb.bibfmt import format_text

    text = "% c\n@misc{b, title={B}}\n% d\n@misc{a, title={A}}"
    assert format_text(text, sort=True) == ("% d\n\n@misc{a,\n  title = {A},\n}\n\n"
                                            "% c\n\n@misc{b,\n  title = {B},\n}\n")


def test_fmt_leaves_a_value_whose_quotes_do_not_pair_as_written() -> None:
    from evidencekb.bibfmt import _value

    assert _value("title", '"""') == '"""'
    assert _value("title", '"a \\" b"') == '{a \\" b}'


def test_a_rewritten_file_keeps_its_owner_and_group(tmp_path: Path) -> None:
    from evidencekb.bibfmt import write_atomic

    f = tmp_path / "x.bib"
    f.write_text("old\n", encoding="utf-8")
    if os.geteuid() == 0:
        uid, gid = 4321, 4321
    else:
        others = [g for g in os.getgroups() if g != os.getegid()]
        if not others:
            pytest.skip("needs root, or a second group to give the file, to see ownership kept")
        uid, gid = os.geteuid(), others[0]
    os.chown(f, uid, gid)
    write_atomic(f, "new\n")
    st = f.stat()
    assert (st.st_uid, st.st_gid, f.read_text(encoding="utf-8")) == (uid, gid, "new\n")


def test_fmt_sort_moves_only_entries_other_blocks_and_a_closing_comment_keep_their_places() -> None:
    from evidencekb.bibfmt import format_text

    text = "@misc{b, title={B}}\n% about the macro\n@string{jj = {J}}\n@misc{a, title={A}}\n% the end\n"
    assert format_text(text, sort=True) == ("@misc{a,\n  title = {A},\n}\n\n% about the macro\n\n@string{jj = {J}}\n\n"
                                            "@misc{b,\n  title = {B},\n}\n\n% the end\n")


def test_fmt_of_an_empty_file_is_empty_and_an_escaped_brace_counts_for_nothing() -> None:
    from evidencekb.bibfmt import _balanced, format_text

    assert (format_text(""), format_text("  \n\n"), format_text("", sort=True)) == ("", "", "")
    assert (_balanced("\\x a} {b"), _balanced("\\{a"), _balanced("a\\}"), _balanced("{a}")) == (False, True, True, True)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a.bib", "b.md", "a.bib "]), st.integers(0, 3), st.integers(0, 2),
                          st.sampled_from(["bib-syntax", "uncited-entry"]), st.sampled_from(["x", "y", ""]),
                          st.sampled_from(["error", "warning"])), max_size=12))
def test_diagnostics_are_listed_in_their_own_order(rows: list[tuple[str, int, int, str, str, str]]) -> None:
    """The sort key the checks list diagnostics by is the order they compare in."""
    from evidencekb.diagnostics import ORDER, Diagnostic, Severity

    diags = [Diagnostic(p, ln, col, code, msg, Severity(sev)) for p, ln, col, code, msg, sev in rows]
    assert sorted(diags, key=ORDER) == sorted(diags)


def test_the_command_exits_with_the_code_of_what_it_ran(monkeypatch: pytest.MonkeyPatch) -> None:
    """The installed command runs main and exits with its code, the collector told to leave
    alone what the process imported (it is about to end)."""
    import gc

    from evidencekb import cli

    monkeypatch.setattr(cli, "main", lambda: 3)
    frozen = gc.get_freeze_count()
    try:
        with pytest.raises(SystemExit) as exc:
            cli.run()
        assert exc.value.code == 3 and gc.get_freeze_count() > frozen
    finally:
        gc.unfreeze()


def test_a_site_without_claims_or_generated_pages_builds_without_the_page_builders(tmp_path: Path) -> None:
    """The citation layer alone (``generate_pages: false``) on a site without claims: a build
    imports neither the page builders nor the appraisal modules (the plugin's own settings
    do not bring them in), and writes an empty claims.json."""
    import subprocess
    import sys

    from conftest import child_env

    root = tmp_path / "site"
    (root / "docs").mkdir(parents=True)
    (root / "references").mkdir()
    (root / "references" / "lib.bib").write_text("@article{a1, author={Ames, Ann}, title={One}, journal={J}, "
                                                 "year={2020}}\n", encoding="utf-8")
    (root / "docs" / "index.md").write_text("# Home\n\nAs shown [@a1].\n", encoding="utf-8")
    (root / "mkdocs.yml").write_text("site_name: S\nplugins:\n  - evidencekb:\n      generate_pages: false\n"
                                     "markdown_extensions:\n  - evidencekb\n", encoding="utf-8")
    # nor the abbreviations extension, which a page's generated quotes look to only where it is in use
    modules = ("evidencekb.pages", "evidencekb.figures", "evidencekb.exports", "markdown.extensions.abbr") + APPRAISAL
    code = ("import json, sys\nfrom mkdocs.commands.build import build\nfrom mkdocs.config import load_config\n"
            f"build(load_config({str(root / 'mkdocs.yml')!r}, site_dir={str(tmp_path / 'out')!r}))\n"
            f"print(json.dumps(sorted(m for m in {modules!r} if m in sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=child_env(),
                         cwd=root)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
    assert json.loads((tmp_path / "out" / "claims.json").read_text(encoding="utf-8")) == {"version": 2, "claims": []}
    assert "Ames" in (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
