"""The .bib loader on good and bad inputs: every problem located, nothing lost."""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidencekb import bibliography as bibmod
from evidencekb import latex
from evidencekb.bibliography import _decoded, lint, load, load_text, loader
from evidencekb.csl import to_csl, to_plain_csl
from evidencekb.diagnostics import diag

GOOD = "@article{good2020, author={Good, Gail}, title={Fine}, journal={J}, year={2020}, doi={10.5555/good}}\n"


def codes(bib) -> list[tuple[str, int, str]]:  # type: ignore[no-untyped-def]
    return sorted((d.path, d.line, d.code) for d in bib.diagnostics + lint(bib))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("@article{trunc, author={A, B}, title={T", [("x.bib", 1, "bib-syntax")], id="truncated-entry"),
        pytest.param("@article{nocomma, author={A, B} title={T}, journal={J}, year={2020}}\n" + GOOD,
                     [("x.bib", 1, "bib-missing-field"), ("x.bib", 1, "bib-no-identifier"), ("x.bib", 1, "bib-syntax"),
                      ("x.bib", 1, "bib-syntax")], id="missing-comma"),
        pytest.param("@article{nobrace, author={A, B}, title={T}, journal={J}, year={2020}\n\n" + GOOD,
                     [("x.bib", 1, "bib-syntax")], id="missing-closing-brace"),
        pytest.param("@string{jj = {Journal}\n" + GOOD, [("x.bib", 1, "bib-syntax")], id="bad-string"),
        pytest.param("@article{m, author={A, B}, title={T}, journal=nosuch, year={2020}, doi={10.5555/m}}",
                     [("x.bib", 1, "bib-unknown-string")], id="unknown-macro"),
        pytest.param("@article{m, author={A, B}, title={T}, year={2020}, doi={10.5555/m}}",
                     [("x.bib", 1, "bib-missing-field")], id="missing-required-field"),
        pytest.param(GOOD + GOOD.replace("good2020", "Good2020"), [("x.bib", 2, "bib-duplicate-key")],
                     id="duplicate-key-in-file"),
        pytest.param("@article{d, author={A, B}, author={C, D}, title={T}, journal={J}, year={2020}, doi={10.5555/d}}",
                     [("x.bib", 1, "bib-duplicate-field")], id="duplicate-field"),
        pytest.param("@article{d, author={A, B}, title={T}, journal={J},\n  year={2020}, doi={10.5555/d},\n  Year={2021}}",
                     [("x.bib", 3, "bib-duplicate-field")], id="duplicate-field-in-another-case"),
        pytest.param("@article{y, author={A, B}, title={T}, journal={J}, year={20x0}, doi={10.5555/y}}",
                     [("x.bib", 1, "bib-bad-year")], id="bad-year"),
        pytest.param("@article{i, author={A, B}, title={T}, journal={J}, year={2000},\n  doi={https://doi.org/10.5555/i},\n  pmid={PM1}}",
                     [("x.bib", 2, "bib-doi-prefix"), ("x.bib", 3, "bib-bad-identifier")], id="bad-identifiers"),
        pytest.param("@article{p, author={A, B}, title={T}, journal={J}, year={2000}, doi={10.5555/p},\n pages={123-45}}",
                     [("x.bib", 2, "bib-abbreviated-pages")], id="abbreviated-pages"),
        pytest.param("@article{u, author={A, B}, title={T {unbalanced}, journal={J}, year={2000}, doi={10.5555/u}}",
                     [("x.bib", 1, "bib-syntax")], id="unbalanced-braces"),
        pytest.param("@comment{anything}\n@preamble{\"\\newcommand\"}\n" + GOOD, [], id="comment-and-preamble"),
        pytest.param("", [], id="empty-file"),
    ],
)
def test_bad_inputs_are_located(text: str, expected: list[tuple[str, int, str]]) -> None:
    bib = load_text([("x.bib", text)])
    assert codes(bib) == expected


def test_missing_comma_names_the_next_field() -> None:
    bib = load_text([("x.bib", "@article{c, author={A, B} title={T}, journal={J}, year={2020}}")])
    assert any("comma missing before 'title'" in d.message for d in bib.diagnostics)


def test_good_entries_survive_bad_neighbours() -> None:
    bib = load_text([("x.bib", "@article{trunc, title={T\n\n" + GOOD)])
    assert "good2020" in bib.entries


def test_duplicate_key_across_files_names_both() -> None:
    bib = load_text([("a.bib", GOOD), ("b.bib", "\n\n" + GOOD)])
    (d,) = bib.diagnostics
    assert (d.path, d.line, d.code) == ("b.bib", 3, "bib-duplicate-key")
    assert "a.bib:1" in d.message


def test_strings_are_shared_across_files() -> None:
    bib = load_text([("a.bib", "@string{jj = {Journal of J}}"),
                     ("b.bib", "@article{s, author={A, B}, title={T}, journal=jj # { Letters}, year={2000}}")])
    assert bib["s"].fields["journal"] == "Journal of J Letters"


def test_bom_crlf_binary(tmp_path: Path) -> None:
    (tmp_path / "bom.bib").write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    (tmp_path / "crlf.bib").write_bytes(GOOD.replace("good2020", "crlf2020").replace("\n", "\r\n").encode()
                                        + b"@article{two,\r\n author={A, B},\r\n title={T}, journal={J}, year={2000}}\r\n")
    (tmp_path / "garbage.bib").write_bytes(bytes(range(256)) * 4)
    bib = load(sorted(tmp_path.glob("*.bib")), tmp_path)
    assert {"good2020", "crlf2020", "two"} <= set(bib.entries)
    assert bib["two"].line == 2
    assert [(d.path, d.code) for d in bib.diagnostics] == [("garbage.bib", "bib-read")]


def test_large_file_loads_every_entry() -> None:
    text = "".join(f"@article{{k{i}, author={{A{i}, B}}, title={{T{i}}}, journal={{J}}, year={{2000}}}}\n"
                   for i in range(10_000))
    bib = load_text([("big.bib", text)])
    assert len(bib.entries) == 10_000 and not bib.diagnostics


@pytest.mark.parametrize(
    ("value", "text", "html"),
    [
        pytest.param(r"M{\"u}ller", "Müller", "Müller", id="braced-accent"),
        pytest.param(r"\'{e}t\'e \c{c}a \ss{} \o", "été ça ß ø", "été ça ß ø", id="accents"),
        pytest.param(r"A \& B", "A & B", "A &amp; B", id="ampersand"),
        pytest.param("10--20 and---so", "10–20 and—so", "10–20 and—so", id="dashes"),
        pytest.param(r"\textit{in vivo} and \emph{x}", "in vivo and x", "<i>in vivo</i> and <i>x</i>", id="italics"),
        pytest.param(r"$\alpha$ and $x^{2}$", "α and x2", "<i>α</i> and <i>x</i><sup>2</sup>", id="simple-math"),
        pytest.param(r"{\em shortest path} and {\it NP}-hard", "shortest path and NP-hard",
                     "<i>shortest path</i> and <i>NP</i>-hard", id="declarations-style-their-group"),
        pytest.param(r"$nm$ and $2^{O(k)}$ and $K_{n,n}$", "nm and 2O(k) and Kn, n",
                     "<i>n</i><i>m</i> and 2<sup><i>O</i>(<i>k</i>)</sup> and <i>K</i><sub><i>n</i>, <i>n</i></sub>",
                     id="math-variables-each-italic-scripts-one-element"),
        pytest.param(r"50\% <b>", "50% <b>", "50% &lt;b&gt;", id="escaped-html"),
    ],
)
def test_latex_decoding(value: str, text: str, html: str) -> None:
    spans = latex.parse(value)
    assert latex.to_text(spans) == text
    assert latex.to_html(spans) == html


@pytest.mark.parametrize(
    ("author", "expected"),
    [
        pytest.param("van der Worp, Maarten P.", {"dropping-particle": "van der", "family": "Worp", "given": "Maarten P."},
                     id="von-part"),
        pytest.param("Smith, Jr., John", {"family": "Smith", "given": "John", "suffix": "Jr."}, id="jr-part"),
        pytest.param("{World Health Organization}", {"literal": "World Health Organization"}, id="corporate"),
        pytest.param("Nijhuis-van der Sanden, Maria", {"family": "Nijhuis-van der Sanden", "given": "Maria"},
                     id="hyphenated-particle"),
        pytest.param("Ludwig van Beethoven", {"dropping-particle": "van", "family": "Beethoven", "given": "Ludwig"},
                     id="first-von-last"),
        pytest.param(r"M{\"u}ller, J{\"o}rg", {"family": "Müller", "given": "Jörg"}, id="accented"),
    ],
)
def test_names(author: str, expected: dict[str, str]) -> None:
    bib = load_text([("x.bib", f"@article{{n, author={{{author}}}, title={{T}}, journal={{J}}, year={{2000}}}}")])
    assert to_csl(bib["n"])["author"] == [expected]


@pytest.mark.parametrize("value", ["plain", "{A} b", r"\{ escaped", "{unbalanced", "closed}", "$x$", "$open",
                                   r"\$5", r"{\"o} and $\alpha$", "}{", r"a \\{b}"])
def test_fast_latex_check_agrees_with_the_parser(value: str) -> None:
    try:
        latex.parse_strict(value)
        parsed_ok = True
    except latex.LatexError:
        parsed_ok = False
    assert (latex.check(value) is None) == parsed_ok
    assert isinstance(latex.decode(value), str)  # the lenient reading never raises


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab -'`{}\\$~^_\t\né")), max_size=30))
def test_parse_shortcut_agrees_with_the_parser(value: str) -> None:
    from evidencekb import latex

    normal = " ".join(value.split())
    try:
        expected = latex._Parser(normal).run()
    except latex.LatexError:
        with pytest.raises(latex.LatexError):
            latex.parse_strict(value)
        assert isinstance(latex.decode(value), str)  # read leniently, never raised
        return
    assert latex.parse(value) == expected
    if "{" not in value and "}" not in value and "$" not in value:
        assert latex.check(value) is None  # its shortcut: nothing to balance


# --- loading in chunks ---------------------------------------------------------------

def _loaded(bib):  # type: ignore[no-untyped-def]
    entries = [(e.key, e.type, e.fields, e.path, e.line, e.raw, e.field_lines) for e in bib.entries.values()]
    return entries, sorted(bib.diagnostics), bib.strings, bib.files


BLOCKS = [
    GOOD,
    "@article{b2, author={B, B}, title={T}, journal=jj, year={2001}, doi={10.5555/b}}\n",
    "  @book{c3,\n  title = {A book},\n  publisher = {P},\n  year = 1999\n}\n",
    "@article(paren, author={P, Q}, title={In (parens)}, journal={J}, year={2002})\n",
    "@string{jj = {Journal of J}}\n",
    "@STRING(kk = \"K\" # jj)\n",
    "@string{jj = {Again}}\n",
    "@comment{an @article{x, inside} comment}\n",
    "% a line comment with { an unbalanced brace\n",
    "@article{unclosed, author={A, B}, title={T\n",
    "@article{nocomma, author={A, B} title={T}, journal={J}, year={2020}}\n",
    "@article{trunc, title={T",
    "text with an @misc{inline, title={x}} in it\n",
    "@misc{email, title={Write to a@b.org}, note={@ at {CLEF}}}\n",
    "\n\n",
    "@preamble{\"\\newcommand{\\x}{y}\"}\n",
    "@article{good2020, author={Dup, D}, title={Again}, journal={J}, year={2020}}\n",
]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(BLOCKS), max_size=14), st.integers(min_value=1, max_value=200))
def test_chunked_parse_is_the_whole_parse(blocks: list[str], size: int) -> None:
    """Cut anywhere a block starts, a file parses to the same entries, macros and
    diagnostics, at the same lines, as parsed whole: broken blocks included."""
    text = "".join(blocks)
    assert _loaded(load_text([("x.bib", text)], chunk_chars=size)) == _loaded(load_text([("x.bib", text)]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(BLOCKS + ["Müller {\\\"u} é\n", "@article{crlf,\r\n title={T},\r\n year={2000}}\r\n"]),
                max_size=10), st.integers(min_value=1, max_value=64), st.booleans())
def test_files_read_in_pieces_load_as_their_text(tmp_path_factory: pytest.TempPathFactory, blocks: list[str],
                                                 size: int, bom: bool) -> None:
    """Read a few bytes at a time (split CRLF pairs, split UTF-8 sequences, a BOM), a file
    loads as its whole text does."""
    text = "".join(blocks)
    path = tmp_path_factory.mktemp("bib") / "x.bib"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    assert "".join(_decoded(path, "x.bib", size)) == text.replace("\r\n", "\n")  # no BOM, CR or byte lost
    ld = loader([path], path.parent, chunk_chars=size)
    ld.bib.entries = {e.key: e for e in ld.entries()}
    assert _loaded(ld.bib) == _loaded(load_text([("x.bib", text.replace("\r\n", "\n"))]))


def test_unreadable_file_in_pieces_is_located_and_loses_nothing_else(tmp_path: Path) -> None:
    (tmp_path / "a.bib").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.bib").write_bytes(b"@article{ok, title={T}}\n" * 40 + b"\n@misc{bad, title={\xff}}\n")
    (tmp_path / "c.bib").write_bytes(b"@misc{n, title={T}}\n" * 30 + b"\x00")
    ld = loader(sorted(tmp_path.glob("*.bib")), tmp_path, chunk_chars=16)
    ld.bib.entries = {e.key: e for e in ld.entries()}
    assert list(ld.bib.entries) == ["good2020"]  # an unreadable file contributes no entries at all
    assert sorted((d.path, d.line, d.code) for d in ld.bib.diagnostics) == [
        ("b.bib", 42, "bib-read"), ("c.bib", 31, "bib-read")]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["", " ", "\t"]), st.sampled_from(["{a b}", "{}", "{{J} x}", "2001", "0", "jj", "JJ", "ab",
                                                         "jan", "Dec", "zz", "a-b", ""]), st.sampled_from(["", " ", "\n"]))
def test_a_value_without_concatenation_resolves_as_one_concatenated_with_nothing(lead: str, body: str,
                                                                                 tail: str) -> None:
    """The shortcut for a value without ``#`` gives what the full reading gives it."""
    value, strings = lead + body + tail, {"jj": "Journal of J", "ab": "A B"}
    assert bibmod._resolve(value, strings) == bibmod._resolve(value + " # {}", strings)


# --- parsed by worker processes ------------------------------------------------------

forks = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="worker processes are forked on Linux only")


def _by(ld):  # type: ignore[no-untyped-def]
    """The loader's library, and its entries' hashes and lint as the loading process has them."""
    es = list(ld.entries())
    ld.bib.entries = {e.key: e for e in es}
    return _loaded(ld.bib), ld.bib.diagnostics, [(e.digest, e.problems) for e in es]


def _pools(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    made: list[object] = []
    real = bibmod._pool

    def pool(*args):  # type: ignore[no-untyped-def]
        made.append(real(*args))
        return made[-1]

    monkeypatch.setattr(bibmod, "_pool", pool)
    return made


@forks
@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.sampled_from(BLOCKS), max_size=12), min_size=1, max_size=3), st.integers(16, 160))
def test_workers_load_what_one_process_loads(tmp_path_factory: pytest.TempPathFactory, files: list[list[str]],
                                             size: int) -> None:
    """Parsed by worker processes, files load to the same entries, macros and diagnostics,
    in the same order, with the same hashes and lint, as parsed in one process."""
    folder = tmp_path_factory.mktemp("bib")
    for i, blocks in enumerate(files):
        (folder / f"{i}.bib").write_text("".join(blocks), encoding="utf-8")
    paths = sorted(folder.glob("*.bib"))
    assert _by(loader(paths, folder, chunk_chars=size, workers=2)) == _by(loader(paths, folder, chunk_chars=size))


CHILD = "@inproceedings{child, author={C, C}, title={T}, crossref={b2}}\n"


@forks
@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.sampled_from(BLOCKS + [CHILD]), max_size=12), min_size=1, max_size=3),
       st.integers(16, 160), st.sampled_from([0, 2]))
def test_packed_entries_are_the_entries_as_stored(tmp_path_factory: pytest.TempPathFactory, files: list[list[str]],
                                                  size: int, workers: int) -> None:
    """A loader asked for packed entries gives, parsed here or by workers, each entry's stored
    form, hash, place and lint (None for an entry with parents) as made from the entry itself,
    with the same diagnostics; and a library packed from them is the one packed from entries."""
    folder = tmp_path_factory.mktemp("bib")
    for i, blocks in enumerate(files):
        (folder / f"{i}.bib").write_text("".join(blocks), encoding="utf-8")
    paths = sorted(folder.glob("*.bib"))
    plain = loader(paths, folder, chunk_chars=size)
    entries = list(plain.entries())
    packed = loader(paths, folder, chunk_chars=size, workers=workers, packed=True)
    items = list(packed.entries())
    assert all(isinstance(p, bibmod.Packed) for p in items)
    assert items == [bibmod.Packed.of(e) for e in entries]
    assert [p.problems is None for p in items] == [bibmod.inherits(e) for e in entries]
    assert sorted(packed.bib.diagnostics) == sorted(plain.bib.diagnostics)
    for i, made in enumerate((entries, items)):
        lazy = bibmod.LazyEntries(made, folder / f"{i}.blobs")
        assert {k: lazy.written(k) for k in lazy} == {e.key: e for e in entries}
        assert [lazy.digest(k) for k in lazy] == [e.digest for e in entries]
        assert [lazy.place(k) for k in lazy] == [(e.path, e.line) for e in entries]
    assert (folder / "0.blobs").read_bytes() == (folder / "1.blobs").read_bytes()
    in_memory = bibmod.LazyEntries(items)  # compressed here, as entries are
    assert {k: in_memory.written(k) for k in in_memory} == {e.key: e for e in entries}


@forks
def test_workers_parse_a_library_of_many_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Macros defined in one file and used in another, a key defined again in a later chunk,
    a broken block, an unreadable file between readable ones: all as in one process."""
    (tmp_path / "a.bib").write_text("@string{jj = {Journal of J}}\n" + "".join(
        f"@article{{k{i}, author={{A, B}}, title={{T{i}}}, journal=jj, year={{2001}}, doi={{10.5555/{i}}}}}\n"
        for i in range(40)), encoding="utf-8")
    (tmp_path / "b.bib").write_bytes(b"@misc{ok, title={T}}\n" * 60 + b"@misc{bad, title={\xff}}\n")  # chunks first
    (tmp_path / "c.bib").write_text("@string{kk = {K}}\n" + ("@article{K3, title={Again}, journal=jj}\n"
                                    "@article{cut, title={T\n@misc{last, title=zz}\n") * 6, encoding="utf-8")
    paths = sorted(tmp_path.glob("*.bib"))
    made = _pools(monkeypatch)
    ld = loader(paths, tmp_path, chunk_chars=256, workers=2)
    entries = list(ld.entries())
    assert made and made[0] is not None  # worker processes parsed it, hashed and linted its entries
    # Parsed here: the chunks of macros (the files' first), which the first pass parsed already.
    assert [e.key for e in entries if "digest" not in e.__dict__] == ["k0", "k1", "k2", "last"]
    assert all("problems" in e.__dict__ for e in entries if e.key not in {"k0", "k1", "k2", "last"})
    ld = loader(paths, tmp_path, chunk_chars=256, workers=2)
    shared = _by(ld)
    assert shared == _by(loader(paths, tmp_path, chunk_chars=256))
    codes = {d.code for d in shared[1]}
    assert {"bib-read", "bib-duplicate-key", "bib-syntax", "bib-unknown-string"} <= codes
    assert shared[0][3] == ["a.bib", "b.bib", "c.bib"]  # an unreadable file is listed all the same
    again = [d for d in shared[1] if d.code == "bib-duplicate-key"]
    assert (again[0].path, again[0].line, again[0].message) == (
        "c.bib", 2, "key 'K3' is already used at a.bib:5; rename one of them (keys are compared without case).")
    assert [(d.line, d.message.split(" is ")[0]) for d in again[1:]] == [  # c.bib's entries, six times
        (line + k, f"key '{key}'") for line in range(5, 18, 3) for k, key in ((0, "K3"), (2, "last"))]
    key, _, fields, *_ = shared[0][0][0]
    assert (key, fields["journal"]) == ("k0", "Journal of J")  # a macro of the first pass, used by a worker
    assert not multiprocessing.active_children()  # none left behind
    assert not bibmod._SHARED


@forks
def test_a_library_is_parsed_here_when_no_process_can_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.bib").write_text("".join(BLOCKS) * 4, encoding="utf-8")
    paths = [tmp_path / "a.bib"]
    expected = _by(loader(paths, tmp_path, chunk_chars=64))

    class NoProcesses:
        def Pool(self, *args: object) -> None:
            raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(multiprocessing, "get_context", lambda method: NoProcesses())
    made = _pools(monkeypatch)
    assert _by(loader(paths, tmp_path, chunk_chars=64, workers=2)) == expected
    assert made == [None] and not bibmod._SHARED


@forks
def test_workers_are_handed_chunks_the_library_text_is_never_held_whole(tmp_path: Path) -> None:
    """Parsed by workers, a 4 MB library never takes this process a fifth of its size: a
    few chunks of text at a time go out, and a few chunks' entries come back, however much
    faster the workers are than whatever takes the entries."""
    import multiprocessing.pool  # noqa: F401  # imported before counting: not the library's
    import time
    import tracemalloc
    from collections import deque

    import bibtexparser  # noqa: F401

    abstract = "An abstract of a study, long as abstracts are. " * 80
    (tmp_path / "a.bib").write_text("@string{jj = {Journal of J}}\n" + "".join(
        f"@article{{k{i}, author={{A, B}}, title={{T{i}}}, journal=jj, year={{2001}}, doi={{10.5555/{i}}}, "
        f"abstract={{{abstract}}}}}\n" for i in range(1000)), encoding="utf-8")
    size = (tmp_path / "a.bib").stat().st_size
    assert size > 3_800_000
    tracemalloc.start()
    try:
        ld = loader([tmp_path / "a.bib"], tmp_path, chunk_chars=1 << 14, workers=2, packed=True)
        entries = ld.entries()
        first = next(entries)
        time.sleep(0.5)  # the workers run ahead
        last = deque(entries, maxlen=1)[0]  # each let go as the next comes
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (first.key, last.key, ld.bib.diagnostics) == ("k0", "k999", [])
    assert peak < size / 5, f"{peak} bytes at the peak for a library of {size}"


@forks
def test_workers_stop_when_the_entries_are_no_longer_wanted(tmp_path: Path) -> None:
    (tmp_path / "a.bib").write_text("".join(f"@misc{{m{i}, title={{T}}}}\n" for i in range(200)), encoding="utf-8")
    entries = loader([tmp_path / "a.bib"], tmp_path, chunk_chars=64, workers=2).entries()
    assert next(entries).key == "m0"
    assert multiprocessing.active_children()
    entries.close()
    assert not multiprocessing.active_children() and not bibmod._SHARED


def test_a_bad_key_and_a_missing_comma_are_reported_in_full() -> None:
    key = "bad`key" + "x" * 60
    bib = load_text([("x.bib", f"@misc{{{key}, title={{T}}}}\n"
                               "@article{nc, author={A, B} title={T}, journal={J}, year={2020}}\n")])
    assert [(d.line, d.col, d.code, d.message) for d in bib.diagnostics if d.code in ("bib-bad-key", "bib-syntax")] == [
        (1, 1, "bib-bad-key", f"key {key[:60]!r} has characters a citation key cannot hold; use letters, digits "
                              "and _ (and inside a key : . # $ % & + ? < > ~ / -), no backtick, quote, brace, comma "
                              "or white space."),
        (2, 1, "bib-syntax", "field 'author' of 'nc' runs into field 'title': is a comma missing before 'title'?")]


def test_a_file_that_cannot_be_read_again_is_reported() -> None:
    """Read twice (macros first), a file that changed on disk in between, and no longer
    reads, is reported; what was read before it stays."""
    reads: list[int] = []

    def pieces() -> list[str]:
        reads.append(1)
        if len(reads) > 1:
            raise bibmod._Unreadable(bibmod.diag("x.bib", 3, 1, "bib-read", "not UTF-8 text."))
        return [GOOD]

    ld = bibmod._Loader([("a.bib", lambda: [GOOD.replace("good2020", "a1")]), ("x.bib", pieces)])
    assert [e.key for e in ld.entries()] == ["a1"]
    assert [(d.path, d.line, d.code) for d in ld.bib.diagnostics] == [("x.bib", 3, "bib-read")]


def _changing(first: list[str]) -> tuple[list[int], Callable[[], list[str]]]:
    """A file's pieces: ``first`` on the first read, then unreadable (changed on disk)."""
    reads: list[int] = []

    def pieces() -> list[str]:
        reads.append(1)
        if len(reads) > 1:
            raise bibmod._Unreadable(diag("x.bib", 3, 1, "bib-read", "not UTF-8 text."))
        return first

    return reads, pieces


@forks
def test_a_file_that_cannot_be_read_again_is_reported_by_workers_too(monkeypatch: pytest.MonkeyPatch) -> None:
    many = "".join(GOOD.replace("good2020", f"a{i}") for i in range(30))
    reads, pieces = _changing([many])
    made = _pools(monkeypatch)
    ld = bibmod._Loader([("a.bib", lambda: [many]), ("x.bib", pieces)], chunk_chars=256, workers=2)
    assert [e.key for e in ld.entries()] == [f"a{i}" for i in range(30)]
    assert made and made[0] is not None and len(reads) == 2
    assert [(d.path, d.line, d.code) for d in ld.bib.diagnostics] == [("x.bib", 3, "bib-read")]


def test_a_worker_makes_of_a_task_what_this_process_would(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a worker does with each task of the second pass, done here: a chunk's entries
    hashed and linted (or packed), as the loading process would make them; a chunk the first
    pass parsed sent back empty, to be taken from here; a file no longer readable as its
    diagnostic, under its file's number."""
    import threading

    text = "".join(GOOD.replace("good2020", f"k{i}").replace("{J}", "jj") for i in range(8)) + "@misc{m, title={\\'e}}\n"
    _, pieces = _changing([GOOD])
    pieces()  # its first read, by the first pass
    ld = bibmod._Loader([], chunk_chars=200)
    ld.bib.strings["jj"] = "Journal of J"
    readable = [("a.bib", lambda: [text], {0: "parsed already"}), ("x.bib", pieces, {})]
    tasks = list(ld._tasks(readable, threading.Semaphore(99), threading.Event()))  # type: ignore[arg-type]
    assert [(t.file, t.number, t.display, t.chunk is None, t.error is None) for t in tasks] == [
        (0, i, "a.bib", i == 0, True) for i in range(len(tasks) - 1)] + [(1, -1, "x.bib", True, False)]
    assert len(tasks) > 3 and "".join(t.chunk or "" for t in tasks) in text
    for packed in (False, True):
        ld.packed = packed
        monkeypatch.setattr(bibmod, "_SHARED", [ld.bib.strings, packed])
        done = [bibmod._parse_task(t) for t in tasks]
        assert done[0] == (0, 0, tasks[0].line0, None)
        assert done[-1] == (1, -1, 0, [tasks[-1].error])
        for t, (f, number, line0, found) in zip(tasks[1:-1], done[1:-1]):
            assert (f, number, line0) == (0, t.number, t.line0)
            assert t.chunk is not None and found is not None
            assert found == ld._found(bibmod._parse_chunk(t.chunk, t.sentinel), t.display, t.line0)
            entries = [e for e in found if isinstance(e, (bibmod.Entry, bibmod.Packed))]
            assert entries and all(isinstance(e, bibmod.Packed if packed else bibmod.Entry) for e in entries)
            assert packed or all({"digest", "problems"} <= set(e.__dict__) for e in entries)  # made there
        assert any(getattr(e, "key", "") == "k7" for _, _, _, found in done[1:-1] for e in found or [])
    stop, slots = threading.Event(), threading.Semaphore(2)  # as many tasks as slots, none once stopped
    gated = ld._tasks([("a.bib", lambda: [text], {})], slots, stop)
    assert [next(gated).number, next(gated).number] == [0, 1]
    stop.set()
    slots.release()
    assert list(gated) == []


def test_workers_only_where_there_are_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert bibmod.parse_workers() == 4
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert bibmod.parse_workers() == 2
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert bibmod.parse_workers() == 0
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)  # macOS, Windows: the machine's cores
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    assert bibmod.parse_workers() == 3
    monkeypatch.setattr(os, "cpu_count", lambda: None)  # unknown: one
    assert bibmod.parse_workers() == 0


def test_workers_are_forked_with_the_heap_frozen_and_it_is_thawed_after() -> None:
    import gc

    from evidencekb.forking import forking

    assert gc.get_freeze_count() == 0
    with forking():
        frozen = gc.get_freeze_count()
    assert frozen > 0 and gc.get_freeze_count() == 0
    gc.freeze()
    try:
        mine = gc.get_freeze_count()
        with forking():
            assert gc.get_freeze_count() == mine
        assert gc.get_freeze_count() == mine  # what the process froze itself stays frozen
    finally:
        gc.unfreeze()


def test_chunks_are_smaller_where_workers_share_them(tmp_path: Path) -> None:
    assert loader([], tmp_path).size == bibmod.CHUNK_CHARS
    assert loader([], tmp_path, workers=1).size == bibmod.CHUNK_CHARS  # one worker: parsed here
    assert loader([], tmp_path, workers=2).size == bibmod.PARALLEL_CHUNK_CHARS < bibmod.CHUNK_CHARS
    assert loader([], tmp_path, chunk_chars=99, workers=2).size == 99


def test_packed_entries_leave_their_json_behind() -> None:
    e = load_text([("x.bib", GOOD)])["good2020"]
    packed = bibmod.LazyEntries([e])
    assert "blob" not in e.__dict__  # not held twice by a caller that keeps its entries
    assert packed["good2020"] == e


def test_duplicate_string_is_reported_and_the_first_is_used() -> None:
    bib = load_text([("a.bib", "@string{jj = {First}}\n@string{JJ = {Second}}\n"),
                     ("b.bib", "@string{jj = {Third}}\n@misc{m, title=jj}\n")])
    assert bib["m"].fields["title"] == "First"
    assert sorted((d.path, d.line, d.code) for d in bib.diagnostics) == [
        ("a.bib", 2, "bib-duplicate-key"), ("b.bib", 1, "bib-duplicate-key")]
    assert "a.bib:1" in bib.diagnostics[0].message


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5])
def test_tiny_reads_lose_no_byte_order_mark_cr_or_character(tmp_path: Path, size: int) -> None:
    text = "@misc{m,\r\n title={Müller — “quoted”}}\r\n"
    path = tmp_path / "x.bib"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert "".join(_decoded(path, "x.bib", size)) == text.replace("\r\n", "\n")


# --- real-world BibTeX: inheritance, lines, years, DOIs -------------------------------------

CHILD = "@inbook{child,\n  author = {Chapter, C},\n  title = {Knee},\n  crossref = {parent},\n  pages = {1--9},\n}\n"
PARENT = "@book{parent,\n  editor = {Editor, E},\n  title = {Sports Knee},\n  publisher = {HK},\n  date = {2016},\n}\n"


@pytest.mark.parametrize("cached", [False, True], ids=["dict", "packed"])
def test_crossref_child_inherits_from_a_later_parent_and_hashes_with_it(cached: bool, tmp_path: Path) -> None:
    from evidencekb.cache import load_library

    def child(parent: str):  # type: ignore[no-untyped-def]
        (tmp_path / "a.bib").write_text(CHILD + "\n" + parent, encoding="utf-8")
        bib = load_library([tmp_path / "a.bib"], tmp_path, tmp_path / "c" if cached else None) if cached \
            else load([tmp_path / "a.bib"], tmp_path)
        return bib, bib.entries["child"]

    bib, e = child(PARENT)
    assert e.fields["booktitle"] == "Sports Knee" and e.fields["date"] == "2016"
    assert set(e.inherited) >= {"booktitle", "date", "editor", "publisher"} and "title" not in e.inherited
    assert e.fields["title"] == "Knee"  # its own field wins
    assert not [d for d in bib.diagnostics + (lint(bib) if not cached else []) if d.code == "bib-missing-field"]
    digest = bib.entries.digest("child") if cached else e.digest  # type: ignore[union-attr]
    assert digest == e.digest
    _, e2 = child(PARENT.replace("Sports Knee", "Sports Hip"))
    assert e2.fields["booktitle"] == "Sports Hip" and e2.digest != digest  # a parent's edit reaches the cache key


def test_unknown_crossref_is_located_at_the_crossref_field() -> None:
    bib = load_text([("x.bib", CHILD)])
    (d,) = [d for d in bib.diagnostics if d.code == "bib-unknown-parent"]
    assert (d.line, d.severity.value) == (4, "warning") and "'parent'" in d.message
    assert [x.code for x in lint(bib)] == ["bib-missing-field"]  # the booktitle it would inherit


def test_xdata_fields_are_taken_as_they_are() -> None:
    bib = load_text([("x.bib", "@xdata{pub, publisher={Elsevier}}\n@book{b, title={T}, date={2001}, xdata={pub}}")])
    assert bib.entries["b"].fields["publisher"] == "Elsevier"
    assert not lint(bib)


def test_line_numbers_after_lines_that_end_in_a_backslash() -> None:
    text = "@misc{a,\n  title = {A \\\\\n  B},\n  note = {x\\\n y},\n  year = {2000}\n}\n\n@misc{b,\n  title = {T},\n  year = {20x0}\n}\n"
    bib = load_text([("x.bib", text)])
    a, b = bib.entries["a"], bib.entries["b"]
    assert (a.line, a.field_lines) == (1, {"title": 2, "note": 4, "year": 6})
    assert (b.line, b.field_lines["year"]) == (9, 11)
    assert [(d.line, d.code) for d in lint(bib)] == [(11, "bib-bad-year")]


@pytest.mark.parametrize("year", ["1066", "1858", "1992--1993", "2005/06", "1988?", "in press", "n.d.", "1990s", "2000a",
                                  "2004--\\ldots", "2004--"])
def test_historic_years_ranges_and_words_are_accepted(year: str) -> None:
    bib = load_text([("x.bib", f"@book{{b, title={{T}}, year={{{year}}}}}")])
    assert [d.code for d in lint(bib)] == []


@pytest.mark.parametrize("year", ["20x0", "12345", "3024", "1999--1899"])
def test_implausible_years_are_reported(year: str) -> None:
    bib = load_text([("x.bib", f"@book{{b, title={{T}}, year={{{year}}}}}")])
    assert [d.code for d in lint(bib)] == ["bib-bad-year"]


def test_a_year_in_an_odd_form_is_a_warning() -> None:
    bib = load_text([("x.bib", "@book{b, title={T}, year={August, 2005}}")])
    assert [(d.code, d.severity.value) for d in lint(bib)] == [("bib-odd-year", "warning")]


def test_bad_iso_date_is_reported() -> None:
    bib = load_text([("x.bib", "@book{b, title={T}, date={2004-13-01}}")])
    assert [d.code for d in lint(bib)] == ["bib-bad-year"]


def test_doi_with_resolver_prefix_gets_a_fix_and_prints_once() -> None:
    from evidencekb.bibfmt import format_text
    from evidencekb.csl import Formatter

    text = "@article{a, author={A, B}, title={T}, journal={J}, year={2000}, doi={https://doi.org/10.5555/abc}}"
    bib = load_text([("x.bib", text)])
    (d,) = lint(bib)
    assert d.code == "bib-doi-prefix" and "'10.5555/abc'" in d.message
    assert Formatter("american-medical-association").format(bib.entries["a"]).text.endswith("doi:10.5555/abc")
    assert "doi = {10.5555/abc}" in format_text(text, fix=True)
    assert "doi = {https://doi.org/10.5555/abc}" in format_text(text)


def test_markup_in_an_abstract_is_no_missing_comma() -> None:
    text = '@misc{m, title={T}, abstract={See <span class="x" id="y">here</span>.}, year={2000}}'
    assert not load_text([("x.bib", text)]).diagnostics


def test_a_key_with_a_slash_is_a_key() -> None:
    bib = load_text([("x.bib", "@misc{baez/article, title={T}, year={2000}}")])
    assert "baez/article" in bib.entries and not bib.diagnostics


@pytest.mark.parametrize(("given", "ama", "apa"), [
    ("Jean-Pierre", "JP", "J.-P."), ("Ken-ichi", "K", "K."), ("W.-T.", "W-T", "W.-T."), ("D.D.-F.", "DD-F", "D. D.-F."),
    ("Md. Abul", "MdA", "Md. A."), ("K. Yu.", "KYu", "K. Yu."), ("J.P.", "JP", "J. P."), ("Karl-Öve", "KÖ", "K.-Ö."),
    ("Jean-de la", "J la", "J. la"), ("ab-Cd", "ab-Cd", "ab-Cd"), ("Éva", "É", "É."),
])
def test_initials_as_pandoc_makes_them(given: str, ama: str, apa: str) -> None:
    """Measured with pandoc 3.9: AMA (initialize-with "", no hyphen) and APA (". ", hyphen)."""
    from evidencekb.csl import initials

    assert (initials(given, "", False), initials(given, ". ", True)) == (ama, apa)


@pytest.mark.parametrize(("first", "last", "minimal", "expanded"), [
    ("1", "12", "12", "12"), ("429", "36", "36", "436"), ("1234", "1240", "40", "1240"), ("99", "101", "101", "101"),
    ("S12", "S15", "5", "S15"), ("12", "3", "3", "13"), ("5", "5", "5", "5"),
])
def test_page_ranges_as_pandoc_prints_them(first: str, last: str, minimal: str, expanded: str) -> None:
    from evidencekb.csl import last_page

    assert (last_page(first, last, "minimal"), last_page(first, last, "expanded")) == (minimal, expanded)


@pytest.mark.parametrize(("tex", "text"), [
    ("$n\\times n$", "n × n"), ("3$\\times$3", "3×3"), ("$L(2,1)$", "L(2, 1)"), ("$-1$", "−1"), ("$a-b$", "a − b"),
    ("$O(n^\\alpha \\log n)$", "O(nαlog n)"), ("$\\Pi_1$", "Π1"), ("$O(\\sqrt{E})$", "O(√E)"), ("$O^\\ast$", "O*"),
    ("{\\sc independent set} and", "independent set and"), ("\\mkbibquote{De Motu}", "“De Motu”"),
    ("a\\hyphen b", "a-b"), ("Sm\\'\\i d", "Smíd"),
])
def test_latex_as_pandoc_reads_it(tex: str, text: str) -> None:
    assert latex.decode(tex) == text


@pytest.mark.parametrize(("title", "case"), [
    ("special graph classes (preliminary version)", "Special Graph Classes (Preliminary Version)"),
    ("ein allgemeines für graphprobleme über", "Ein Allgemeines Für Graphprobleme Über"),
    ("handbook, vol. a.", "Handbook, Vol. A."),
    ("the ‘quoted’ word", "The ‘Quoted’ Word"),
])
def test_title_case_as_pandoc(title: str, case: str) -> None:
    from evidencekb.textcase import title_case

    assert title_case(title) == case


def _chunks_by_character(text: str) -> list[str]:
    """Text cut as pandoc's citeproc cuts it for case changes, a character at a time: runs
    of letters and digits, runs of white space, every other character alone."""
    def kind(c: str) -> int:
        return 1 if c.isalnum() else 3 if c.isspace() else 0

    out: list[str] = []
    for c in text:
        if out and kind(c) and kind(out[-1][-1]) == kind(c):
            out[-1] += c
        else:
            out.append(c)
    return out


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))) | st.text("aZ9_ \t\n\u00a0\u2003-./’é١²\u0301"))
def test_case_chunks_are_those_cut_a_character_at_a_time(text: str) -> None:
    from evidencekb.textcase import _chunks

    assert _chunks(text) == _chunks_by_character(text)


def test_fmt_keeps_string_preamble_and_comment_blocks_byte_for_byte() -> None:
    from evidencekb.bibfmt import format_text

    blocks = ['@String{j-X = "X"}', '@PREAMBLE{ "\\newcommand{\\noop}[1]{}" }', "@Comment{ keep  me }"]
    out = format_text("\n".join(blocks) + "\n@article{a, journal=j-X, title={T}}\n")
    assert all(b in out for b in blocks) and "journal = j-X," in out


@pytest.mark.parametrize(("value", "text", "html"), [
    ("{unbalanced title", "unbalanced title", "unbalanced title"),
    ("closed} here", "closed here", "closed here"),
    ("}{", "", ""),
    ("a {b} c} d {e", "a b c d e", "a b c d e"),  # only the unmatched braces go
    ("costs $5", "costs $5", "costs $5"),  # a lone dollar is a dollar
    ("$x$ and $y", "x and $y", "<i>x</i> and $y"),  # the math that closes is math, the last lone one a dollar
    (r"\{ escaped {open", "{ escaped open", "{ escaped open"),  # an escaped brace is no brace to match
    (r'{\"o}ber {x', "öber x", "öber x"),
])
def test_broken_latex_is_read_leniently_keeping_every_word(value: str, text: str, html: str) -> None:
    assert latex.check(value) is not None  # each is broken: the lint says so
    assert latex.decode(value) == text
    assert latex.to_html(latex.parse(value)) == html


def test_a_trailing_backslash_is_dropped_not_the_words_before_it() -> None:
    assert latex.decode("ends with \\").strip() == "ends with"


@pytest.mark.parametrize(("value", "text", "html"), [
    (r"$2^{n+1}$", "2n + 1", "2<sup><i>n</i> + 1</sup>"),  # an operator inside a superscript stays in it
    (r"$x_{i,j}$", "xi, j", "<i>x</i><sub><i>i</i>, <i>j</i></sub>"),
    (r"\textsuperscript{$\times$}", "×", "<sup>×</sup>"),  # an operator alone keeps the style around it
    (r"$10^{-3}$", "10−3", "10<sup>−3</sup>"),  # a minus that starts an exponent is a sign
    (r"$(-x)$", "(−x)", "(−<i>x</i>)"),
    (r"$a, -b$", "a, −b", "<i>a</i>, −<i>b</i>"),
    (r"$a = -b$", "a = −b", "<i>a</i> = −<i>b</i>"),  # a sign after a relation, not a second operator
    (r"$--x$", "−−x", "−−<i>x</i>"),
    (r"$a-b$", "a − b", "<i>a</i> − <i>b</i>"),  # between two terms: an operator, spaced
    (r"\foo{ab {c} d}", "ab c d", "ab c d"),  # an unknown command keeps its argument whole
    ('He said "x" & <b>', 'He said "x" & <b>', 'He said "x" &amp; &lt;b&gt;'),  # text escaped, quotes need not be
])
def test_math_and_commands_in_text_and_html(value: str, text: str, html: str) -> None:
    assert latex.decode(value) == text
    assert latex.to_html(latex.parse(value)) == html


def test_math_keeps_its_case_in_a_sentence_cased_title() -> None:
    from evidencekb.csl import to_plain_csl

    bib = load_text([("t.bib", r"@article{t, title={Bound on $N$ Nodes and $\Delta$ Graphs, $X, Y$}, langid={english}}")])
    assert to_plain_csl(bib["t"])["title"] == "Bound on N nodes and Δ graphs, X, Y"


def test_the_latex_lint_quotes_sixty_characters_of_the_value() -> None:
    assert latex.check("{" + "a" * 100) == f"unbalanced braces in {'{' + 'a' * 59!r}"
    assert latex.check("$" + "b" * 100) == f"unclosed $ in {'$' + 'b' * 59!r}"
    assert latex.check("c" * 100 + "}") == f"unbalanced braces in {'c' * 60!r}"


@pytest.mark.parametrize(("value", "text", "html"), [
    (r"\textbf{$a+b$}", "a + b", "<b><i>a</i> + <i>b</i></b>"),  # math inside a style keeps it, operators too
    (r"\textbf{$x, y$}", "x, y", "<b><i>x</i>, <i>y</i></b>"),
    (r"\textbf{$\log n$}", "log n", "<b>log <i>n</i></b>"),  # a named operator, upright, then a space
    (r"$\log{n}$", "log n", "log <i>n</i>"),
    (r"$\log   n$", "log n", "log <i>n</i>"),
    (r"$\sqrt{n}$", "√n", "√<i>n</i>"),
    (r"$\sqrt n$", "√n", "√<i>n</i>"),
    (r"$\sqrt{n+1}$", "√(n + 1)", "√(<i>n</i> + 1)"),  # more than one symbol under the root: bracketed
    (r"$\sqrt{a{b}}$", "√(ab)", "√(<i>a</i><i>b</i>)"),
    (r"\textbf{$\times$}", "×", "<b>×</b>"),
])
def test_math_inside_styles_operators_and_roots(value: str, text: str, html: str) -> None:
    assert latex.decode(value) == text
    assert latex.to_html(latex.parse(value)) == html


def test_math_variables_keep_their_case_as_braced_text_does() -> None:
    from evidencekb.csl import to_plain_csl

    bib = load_text([("t.bib", r"@article{t, title={On $Nm$ Bounds and $\log N$ Time}, langid={english}}")])
    assert to_plain_csl(bib["t"])["title"] == "On Nm bounds and log N time"


def test_a_block_that_does_not_parse_is_reported_with_the_parsers_reason() -> None:
    bib = load_text([("x.bib", "@article{a, title={T}}\n@article{broken, title = {unclosed, year=2000\n\n@misc{c, title={C}}\n")])
    (d,) = [d for d in bib.diagnostics if d.code == "bib-syntax"]
    assert (d.path, d.line, d.col) == ("x.bib", 2, 1)
    assert d.message == ("cannot parse block '@article{broken, title = {unclosed, year=2000': Unexpected block start: "
                         "`@misc`. Was still looking for field-value closing `}`. Check for a missing comma, brace "
                         "or quote.")
    assert set(bib.entries) == {"a", "c"}  # the entries around it are read


def test_a_missing_parent_is_named_with_its_link_at_the_line_of_that_field() -> None:
    from evidencekb.bibliography import lint

    bib = load_text([("p.bib", "@article{c,\n  title={C},\n  crossref={nowhere},\n  xdata={nothere},\n}\n")])
    found = [(d.line, d.col, d.message) for d in bib.diagnostics + lint(bib) if d.code == "bib-unknown-parent"]
    assert sorted(found) == [
        (3, 1, "'c' names crossref 'nowhere', which no .bib file defines; the fields it would give are missing. "
               "Add that entry, or correct the key."),
        (4, 1, "'c' names xdata 'nothere', which no .bib file defines; the fields it would give are missing. "
               "Add that entry, or correct the key."),
    ]


def test_an_entrys_fields_as_html_and_their_lines() -> None:
    bib = load_text([("y.bib", "@article{q,\n  title={A \\emph{x} <b> & c},\n  url={http://x.org/?a=1&b=<2>},\n}")])
    e = bib.entries["q"]
    assert e.html("title") == "A <i>x</i> &lt;b&gt; &amp; c"  # LaTeX read, then escaped
    assert e.html("url") == "http://x.org/?a=1&amp;b=&lt;2&gt;"  # a web address is not LaTeX: escaped as it is
    assert e.html("note") == "" and e.spans("note") == []
    assert (e.line_of("title"), e.line_of("url"), e.line_of("note")) == (2, 3, 1)  # a missing field: the entry's line


@pytest.mark.parametrize(("key", "slug"), [("Smith2020", "Smith2020"), ("x.y-z_1", "x.y-z_1"), ("a/b", "a_2fb"),
                                           (".x", "_2ex"), ("a.x", "a.x"), ("ü", "_fc"), ("a b", "a_20b")])
def test_a_reference_page_name_spells_out_what_a_file_name_cannot_hold(key: str, slug: str) -> None:
    from evidencekb.bibliography import ref_slug

    assert ref_slug(key) == slug


@pytest.mark.parametrize(("value", "text"), [
    (r"\v{\j}", "ǰ"), (r"\={\i}", "ī"), (r"\v{\i}", "ǐ"), (r"\'\i", "í"), (r"\' \i", "í"),  # dotless i and j
    (r"\H{o}", "ő"), (r"\k{a}", "ą"), (r"\r{a}", "å"), (r"\d{s}", "ṣ"), (r"\b{b}", "ḇ"), (r"\.{z}", "ż"),
    (r"\u{g}", "ğ"), (r"\c{c}", "ç"), (r"\v{s}", "š"), (r"\'{E}", "É"), (r"\`{a}", "à"), (r"\^ a", "â"), (r"\~n", "ñ"),
    (r"\^{2}", "^2"), (r"\~{}", "~"), (r'\"{}', "¨"), (r"\d{2}", "2"),  # over no letter: the mark's own sign, or nothing
])
def test_accents_become_letters(value: str, text: str) -> None:
    assert latex.decode(value) == text


def test_a_broken_block_is_named_by_sixty_characters_of_its_first_line() -> None:
    long_key = "k" * 80
    text = f"  @article{{{long_key}, title = {{unclosed,\n  year = 2000\n\n@misc{{ok, title={{T}}}}\n"
    (d,) = [d for d in load_text([("b.bib", text)]).diagnostics if d.code == "bib-syntax"]
    assert d.message.startswith(f"cannot parse block '{('@article{' + long_key)[:60]}': ")
    assert d.message.endswith(". Check for a missing comma, brace or quote.") and ".." not in d.message
    text = "@misc{short, title = {unclosed,\n  note = {x},\n  year = 2000\n\n@misc{ok, title={T}}\n"
    (d,) = [d for d in load_text([("b.bib", text)]).diagnostics if d.code == "bib-syntax"]
    assert d.message.startswith("cannot parse block '@misc{short, title = {unclosed,': ")  # its first line only


_WRITE_A_YEAR = ("write a year (1999, 1066), a range (1992--1993), or put a full date in the date field "
                 "(date = {1999-05-12}).")


@pytest.mark.parametrize(("field", "severity", "message"), [
    pytest.param("year={August, 2005}", "warning", f"'b' has year 'August, 2005', printed as written; {_WRITE_A_YEAR}",
                 id="odd-form-with-a-plausible-year"),
    pytest.param("year={20x0}", "error", f"'b' has year '20x0'; {_WRITE_A_YEAR}", id="no-year-in-it"),
    pytest.param("year={10000 BC}", "error", f"'b' has year '10000 BC'; {_WRITE_A_YEAR}", id="odd-form-no-plausible-year"),
    pytest.param("year={0}", "error", "'b' has year '0', which is no plausible year; write the year of publication.",
                 id="zero"),
    pytest.param("year={3024}", "error", "'b' has year '3024', which is no plausible year; write the year of "
                 "publication.", id="far-future"),
    pytest.param("year={1999--1899}", "error", "'b' has year '1999–1899', a range that ends before it starts; write "
                 "the earlier year first.", id="backwards-range"),
    pytest.param("date={2004-13-01}", "error", "'b' has date '2004-13-01'; write an ISO 8601 date (2004, 2004-10, "
                 "2004-10-27, or a range 1885/1888).", id="bad-date"),
])
def test_a_years_problem_says_what_to_write_at_its_line(field: str, severity: str, message: str) -> None:
    bib = load_text([("x.bib", "@book{b, title={T}, author={A}, publisher={P},\n\n  " + field + "}")])
    assert [(d.path, d.line, d.severity.value, d.message) for d in lint(bib)] == [("x.bib", 3, severity, message)]


@pytest.mark.parametrize(("raw", "value", "unknown"), [
    pytest.param('{a#b} # "c#d" # jj', "a#bc#dJ", [], id="hash-inside-braces-and-quotes-is-text"),
    pytest.param('"x\\"y # z" # jj', 'x\\"y # zJ', [], id="an-escaped-quote-does-not-end-the-string"),
    pytest.param('jan # " 5"', "1 5", [], id="month-macro"),
    pytest.param("{a} # 12 # Feb", "a122", [], id="digits-and-a-month-in-any-case"),
    pytest.param("x # {y}", "xy", ["x"], id="unknown-macro-kept-and-named"),
    pytest.param("{{a} # b}", "{a} # b", [], id="nested-braces"),
    pytest.param('  "q"  ', "q", [], id="spaces-around-a-quoted-value"),
    pytest.param("JJ", "J", [], id="a-macro-in-another-case"),
    pytest.param('{a}#"b"', "ab", [], id="no-spaces-around-the-hash"),
])
def test_a_raw_value_is_unquoted_and_its_macros_expanded(raw: str, value: str, unknown: list[str]) -> None:
    from evidencekb.bibliography import _resolve

    assert _resolve(raw, {"jj": "J"}) == (value, unknown)


@pytest.mark.parametrize(("value", "html"), [
    pytest.param("$X-1$", "<i>X</i> − 1", id="a-minus-after-a-capital-variable-is-binary"),
    pytest.param("$(-1)$", "(−1)", id="a-minus-after-a-bracket-is-unary"),
    pytest.param("3\\textbf{$\\times$}3", "3<b>×</b>3", id="an-operator-alone-keeps-the-style-around-it"),
    pytest.param("$\\sqrt$", "√", id="a-root-with-nothing-under-it"),
    pytest.param("$n^\\sqrt$", "<i>n</i><sup>√</sup>", id="a-root-as-an-exponent"),
    pytest.param("a\\&} b", "a&amp; b", id="a-stray-brace-after-a-control-symbol-goes"),
    pytest.param("\\emph{a}} b", "<i>a</i> b", id="a-stray-closing-brace-goes-the-style-stays"),
    pytest.param("$x$ {a", "<i>x</i> a", id="a-stray-brace-does-not-break-a-pair-of-dollars"),
])
def test_math_and_repaired_latex_as_html(value: str, html: str) -> None:
    assert latex.to_html(latex.parse(value)) == html


def test_a_lone_backslash_ending_math_is_kept_in_its_style() -> None:
    bold = frozenset({"b"})
    assert latex._math("a\\", bold) == [latex.Span("a", False, bold | {latex.VAR}), latex.Span("\\", False, bold)]


@pytest.mark.parametrize(("first", "last", "minimal_two"), [
    ("42", "45", "45"), ("321", "328", "28"), ("2787", "2816", "816"), ("S12", "S15", "15"), ("1", "12", "12"),
])
def test_minimal_two_keeps_at_least_two_digits_as_the_csl_specification_shows(first: str, last: str,
                                                                               minimal_two: str) -> None:
    from evidencekb.csl import last_page

    assert last_page(first, last, "minimal-two") == minimal_two


@pytest.mark.parametrize(("first", "last"), [("S12", "T15"), ("12", "S15"), ("xii", "xv"), ("e12", "")])
def test_a_last_page_that_is_not_the_first_pages_kind_is_printed_as_written(first: str, last: str) -> None:
    from evidencekb.csl import last_page

    assert {last_page(first, last, f) for f in ("minimal", "minimal-two", "expanded", "chicago", None)} == {last}


@pytest.mark.parametrize(("value", "html"), [
    pytest.param("$x^{ab}c$", "<i>x</i><sup><i>a</i><i>b</i></sup><i>c</i>", id="a-braced-superscript-ends-at-its-brace"),
    pytest.param("$x_{ij}k$", "<i>x</i><sub><i>i</i><i>j</i></sub><i>k</i>", id="a-braced-subscript-ends-at-its-brace"),
    pytest.param("$x^{{a}b}c$", "<i>x</i><sup><i>a</i><i>b</i></sup><i>c</i>", id="nested-braces-in-a-superscript"),
    pytest.param("$x^{a}b$", "<i>x</i><sup><i>a</i></sup><i>b</i>", id="the-symbol-after-the-brace-is-kept"),
    pytest.param("$x^ 2$", "<i>x</i><sup>2</sup>", id="spaces-before-an-exponent-are-skipped"),
    pytest.param("$x^23$", "<i>x</i><sup>2</sup>3", id="an-unbraced-exponent-is-one-symbol"),
    pytest.param("$\\sqrt{ab}c$", "√(<i>a</i><i>b</i>)<i>c</i>", id="a-root-ends-at-its-brace"),
    pytest.param("\\textbf{$\\sqrt{n+1}$}", "<b>√(<i>n</i> + 1)</b>", id="a-root-and-its-brackets-keep-the-style"),
])
def test_exponents_indices_and_roots_take_what_tex_gives_them(value: str, html: str) -> None:
    assert latex.to_html(latex.parse(value)) == html


def test_every_accent_on_every_letter_is_what_latexcodec_reads() -> None:
    import codecs
    import string

    import latexcodec  # noqa: F401  (installed with pybtex; registers the "ulatex" codec)

    letters = string.ascii_letters + "".join(chr(c) for c in range(0xC0, 0x250) if chr(c).isalpha())
    checked = 0
    for cmd in latex._COMBINING:
        for base in letters:
            theirs = str(codecs.decode(f"\\{cmd} {base}" if cmd.isalpha() else f"\\{cmd}{base}", "ulatex"))
            if theirs == base or any(c in theirs for c in "\\{}"):
                continue  # latexcodec has no letter for it; ours is the letter and a combining mark
            assert latex.decode(f"\\{cmd}{{{base}}}") == theirs, (cmd, base)
            checked += 1
    assert checked > 150
    assert latex.decode("\\v{\\j}") == "ǰ" and latex.decode("\\c{x}") == "x\u0327"


@pytest.mark.parametrize(("value", "html"), [
    ("$\\sqrt{n$", "√<i>n</i>"), ("$x^{n$", "<i>x</i><sup><i>n</i></sup>"), ("$x^{$", "<i>x</i>"),
])
def test_an_unclosed_brace_in_math_is_reported_and_read_to_the_end(value: str, html: str) -> None:
    assert latex.check(value) == f"unbalanced braces in {value!r}"
    assert latex.to_html(latex.parse(value)) == html


@pytest.mark.parametrize(("value", "text"), [
    pytest.param("\\v\\j", "ǰ", id="dotless-j-as-a-command-argument-takes-the-accent"),
    pytest.param("\\'\\i", "í", id="dotless-i-as-a-command-argument-takes-the-accent"),
    pytest.param("\\'\\o", "ǿ", id="a-symbol-command-as-the-argument-is-its-letter"),
    pytest.param("\\'\\% x", "´% x", id="a-control-symbol-argument-keeps-the-space-after-it"),
    pytest.param("a\\'", "a´", id="an-accent-with-nothing-after-it-is-its-mark"),
    pytest.param("a\\'\\", "a´", id="an-accent-over-a-lone-backslash-is-its-mark"),
    pytest.param("{a\\}b}", "a}b", id="an-escaped-brace-does-not-close-a-group"),
    pytest.param("a \\'\\foo x", "a x", id="an-accent-over-an-unknown-command-prints-nothing-as-pandoc"),
    pytest.param("a \\'\\foo{} x", "a  x", id="nor-with-an-empty-group-after-it"),
    pytest.param("\\emph\\foo x", "x", id="a-style-over-an-unknown-command-prints-nothing"),
])
def test_an_accents_argument_read_as_latex_reads_it(value: str, text: str) -> None:
    assert latex.decode(value) == text


def test_braces_inside_a_style_keep_the_style_and_neighbouring_groups_keep_their_case() -> None:
    assert latex.to_html(latex.parse("\\emph{a {B} c}")) == "<i>a B c</i>"
    assert latex.to_text(latex.sentence_case(latex.parse("The {Dna}{rna} Test"))) == "The Dnarna test"


def test_groups_nested_deeper_than_the_limit_are_read_as_text_with_their_case_kept() -> None:
    deepest = latex.MAX_DEPTH
    read = latex.parse("{" * deepest + "A--B" + "}" * deepest)
    assert (latex.to_text(read), [s.protected for s in read]) == ("A–B", [True])
    text = latex.parse("{" * (deepest + 1) + "A--{B}" + "}" * (deepest + 1))
    assert [(s.text, s.protected) for s in latex.sentence_case(text)] == [("A--B", True)]
    assert latex.to_text(latex.parse("x " + "{" * deepest + "{A} z" + "}" * deepest + " y")) == "x A z y"


@pytest.mark.parametrize(("value", "html", "sentence"), [
    pytest.param("x {\\bfseries}", "x ", "X ", id="a-declaration-ending-its-group"),
    pytest.param("a \\em", "a ", "A ", id="a-declaration-ending-the-value"),
    pytest.param("The \\emph{{Dna} Test} Now", "The <i>Dna Test</i> Now", "The Dna test now",
                 id="braces-inside-a-style-keep-their-case"),
    pytest.param("\\emph{see \\enquote{a} b}", "<i>see “a” b</i>", "See “a” b", id="a-quotation-keeps-the-style-around-it"),
    pytest.param("\\foo{bar} baz", "bar baz", "Bar baz", id="an-unknown-command-keeps-its-argument"),
    pytest.param("\\relax x", "x", "X", id="an-unknown-control-word-eats-one-space"),
    pytest.param("a\\! b", "a b", "A b", id="an-unknown-control-symbol-keeps-the-space"),
])
def test_commands_declarations_and_unknown_commands(value: str, html: str, sentence: str) -> None:
    spans = latex.parse(value)
    assert (latex.to_html(spans), latex.to_text(latex.sentence_case(spans))) == (html, sentence)


@pytest.mark.parametrize("command", ["\\emph{", "\\enquote{", "\\foo{"])
def test_a_commands_argument_counts_toward_the_nesting_limit(command: str) -> None:
    below = latex.to_text(latex.parse(command * (latex.MAX_DEPTH - 1) + "{a--b}" + "}" * (latex.MAX_DEPTH - 1)))
    at = latex.to_text(latex.parse(command * latex.MAX_DEPTH + "{a--b}" + "}" * latex.MAX_DEPTH))
    assert ("a–b" in below, "a--b" in at) == (True, True)


@pytest.mark.parametrize(("value", "useprefix", "names"), [
    pytest.param("Y. Alavi et al.", False, [{"given": "Y.", "family": "Alavi"}, {"literal": "et al."}],
                 id="et-al-written-into-the-last-name"),
    pytest.param("Smith, J and Y. Alavi et al", False, [{"given": "J", "family": "Smith"}, {"given": "Y.", "family": "Alavi"},
                                                        {"literal": "et al."}], id="et-al-after-the-second-name"),
    pytest.param("Smith, J and others", False, [{"given": "J", "family": "Smith"}, {"literal": "et al."}],
                 id="and-others"),
    pytest.param("{World Health {Organization}}", False, [{"literal": "World Health Organization"}],
                 id="a-corporate-author-in-braces"),
    pytest.param("{Centers for Disease Control and Prevention} and  Smith,\n J", False,
                 [{"literal": "Centers for Disease Control and Prevention"}, {"given": "J", "family": "Smith"}],
                 id="and-inside-braces-joins-no-names"),
    pytest.param("van der Sanden, Maria", False, [{"given": "Maria", "dropping-particle": "van der", "family": "Sanden"}],
                 id="a-lower-case-particle-drops"),
    pytest.param("van der Sanden, Maria", True, [{"given": "Maria", "non-dropping-particle": "van der", "family": "Sanden"}],
                 id="useprefix-keeps-the-particle-with-the-family-name"),
    pytest.param("Nijhuis-Van der Sanden, M", False, [{"given": "M", "family": "Nijhuis-Van der Sanden"}],
                 id="a-capitalised-particle-is-part-of-the-family-name"),
    pytest.param("King, Jr, Martin Luther", False, [{"given": "Martin Luther", "family": "King", "suffix": "Jr"}],
                 id="a-suffix"),
    pytest.param("\\'{E}va Tardos", False, [{"given": "Éva", "family": "Tardos"}], id="an-accented-given-name"),
])
def test_names_as_bibtex_and_pandoc_read_them(value: str, useprefix: bool, names: list[dict[str, str]]) -> None:
    from evidencekb.csl import _names

    assert _names(value, useprefix) == names


@pytest.mark.parametrize(("raw", "braced"), [("{A}", True), ("{{A}B}", True), ("{A} and {B}", False), ("{A}{B}", False),
                                             ("A", False), ("{A", False), ("{a}}", False)])
def test_a_name_is_fully_braced_only_when_one_group_spans_it(raw: str, braced: bool) -> None:
    from evidencekb.csl import _fully_braced

    assert _fully_braced(raw) is braced


@pytest.mark.parametrize(("text", "out"), [
    ("‘valgus’ knee", "“valgus” knee"), ("“x ‘y’ z”", "“x ‘y’ z”"), ("don’t ‘stop’", "don’t “stop”"),
    ("‘a’ and ‘b’", "“a” and “b”"), ("x‘y’", "x‘y’"), ("“a” ‘b’", "“a” “b”"), ("‘rock’n’roll’", "“rock’n’roll”"),
])
def test_an_outer_single_quotation_takes_double_quotes_and_apostrophes_stay(text: str, out: str) -> None:
    from evidencekb.csl import _single_quotes_doubled

    assert _single_quotes_doubled(text) == out


def test_parts_join_as_pandocs_concat_with_and_ordinals_take_english_suffixes() -> None:
    from evidencekb.csl import _join, _ordinal

    assert [_join(",", p) for p in (["a", "", "b"], ["a.", "b"], ["a?", "b", "c"], ["", ""], ["a:", "b"])] == [
        "a, b", "a. b", "a? b, c", "", "a: b"]
    from evidencekb.csl import NOCASE_CLOSE, NOCASE_OPEN

    kept = f"{NOCASE_OPEN}U.S.{NOCASE_CLOSE}"
    assert _join(",", [kept, "b"]) == f"{kept} b"  # the punctuation inside a case-protected span counts
    numbers = (1, 2, 3, 4, 11, 12, 13, 20, 21, 22, 23, 101, 111, 112, 113, 121, 1000)
    assert [_ordinal(str(k)) for k in numbers] == ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "20th", "21st",
                                                   "22nd", "23rd", "101st", "111th", "112th", "113th", "121st",
                                                   "1000th"]


def test_a_name_list_splits_on_and_outside_braces_even_when_they_do_not_pair() -> None:
    from evidencekb.csl import _names, split_names

    assert split_names(" Smith,  J and Doe} and\n Roe, K ") == ["Smith, J", "Doe}", "Roe, K"]
    assert split_names("{A and B") == ["{A and B"]
    assert split_names("") == []
    assert _names("Smith, J, K, L and Roe, K") == [{"literal": "Smith, J, K, L"}, {"given": "K", "family": "Roe"}]


def test_each_field_lint_names_the_entry_the_value_and_what_to_write() -> None:
    text = ("@article{a1, author={A}, title={T}, journal={J}, year={2020}, doi={https://doi.org/10.1/x}, pmid={12a},\n"
            " pmcid={123}, url={ftp://x}, design={rct-ish}, pages={123--45}}\n"
            "@article{a2, author={A}, title={T}, journal={J}, year={2020}}\n"
            "@article{a4, author={A}, title={T}, journal={J}, year={2020}, doi={doi:10.1234/abc}}\n"
            "@online{o, title={T}, year={2020}}\n")
    found = [(d.line, d.code, d.severity.value, d.message)
             for d in lint(load_text([("x.bib", text)]))]
    assert found == [
        (1, "bib-bad-identifier", "error", "'a1' has doi 'https://doi.org/10.1/x': a DOI looks like 10.1234/abc (no "
                                           "https://doi.org/ prefix)."),
        (1, "bib-bad-identifier", "error", "'a1' has pmid '12a': a PMID is digits only."),
        (2, "bib-bad-identifier", "error", "'a1' has pmcid '123': a PMCID looks like PMC1234567."),
        (2, "bib-bad-identifier", "error", "'a1' has url 'ftp://x': only http(s) URLs are linked."),
        (2, "bib-unknown-design", "error", "'a1' has design 'rct-ish'; allowed: systematic-review, rct, cohort, "
         "case-control, cross-sectional, case-series, case-report, imaging, cadaver, lab, model, narrative-review, "
         "expert-opinion. Did you mean 'rct'?"),
        (2, "bib-abbreviated-pages", "warning", "'a1' has pages '123--45'; write the range in full with '--'."),
        (3, "bib-no-identifier", "warning", "article 'a2' has no doi, pmid or pmcid; add one so readers can find it."),
        (4, "bib-doi-prefix", "warning", "'a4' has doi 'doi:10.1234/abc': write the bare DOI '10.1234/abc' (evidencekb "
                                         "fmt --fix does it); it is printed and linked correctly either way."),
        (5, "bib-missing-field", "error", "@online 'o' lacks 'url or doi or eprint'; an @online needs title, url or "
                                          "doi or eprint."),
    ]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
@pytest.mark.parametrize(("data", "line", "problem"), [
    (b"a\nb\nc\n\xe9x\n", 4, "not UTF-8"), (b"a\nb\n\xc3", 3, "not UTF-8"), (b"\xc3\xa9\n\n\xff", 3, "not UTF-8"),
    (b"x\xe2\x82\xac\xff\n", 1, "not UTF-8"), (b"a\r\nb\r\nc\x00\n", 3, "NUL bytes"), (b"\xef\xbb\xbfa\n\x00", 2, "NUL bytes"),
])
def test_a_file_that_is_not_text_is_located_at_its_line_however_it_is_read(tmp_path: Path, size: int, data: bytes,
                                                                           line: int, problem: str) -> None:
    from evidencekb.bibliography import _Unreadable

    p = tmp_path / "x.bib"
    p.write_bytes(data)
    with pytest.raises(_Unreadable) as caught:
        list(_decoded(p, "x.bib", size))
    d = caught.value.diagnostic
    assert (d.path, d.line, d.code, problem in d.message) == ("x.bib", line, "bib-read", True)


def test_bib_files_are_found_under_folders_and_named_by_files_and_shown_from_the_root(tmp_path: Path) -> None:
    from evidencekb.bibliography import _display, find_bib_files

    (tmp_path / "refs" / "sub").mkdir(parents=True)
    for name in ("refs/b.bib", "refs/sub/a.bib", "refs/notes.txt", "extra.bib"):
        (tmp_path / name).write_text("", encoding="utf-8")
    assert find_bib_files(tmp_path, "refs") == [tmp_path / "refs" / "b.bib", tmp_path / "refs" / "sub" / "a.bib"]
    assert find_bib_files(tmp_path, ["extra.bib", "missing", "refs/sub"]) == [tmp_path / "extra.bib",
                                                                             tmp_path / "refs" / "sub" / "a.bib"]
    assert _display(tmp_path / "refs" / "b.bib", tmp_path) == "refs/b.bib"
    outside = tmp_path.parent / "elsewhere.bib"
    assert _display(outside, tmp_path / "refs") == outside.as_posix()
    assert _display(Path("x/y.bib"), None) == "x/y.bib"


@pytest.mark.parametrize(("value", "html"), [
    pytest.param("a~b", "a\u00a0b", id="a-tie-is-a-no-break-space"),
    pytest.param("a~~b", "a\u00a0\u00a0b", id="two-ties"),
    pytest.param("$\\$5$", "$5", id="an-escaped-dollar-first-in-math"),
    pytest.param("$a\\$b$", "<i>a</i>$<i>b</i>", id="an-escaped-dollar-inside-math"),
    pytest.param("$a\\$$", "<i>a</i>$", id="an-escaped-dollar-ending-math"),
    pytest.param("a \\enquote{} b", "a “” b", id="an-empty-quotation"),
    pytest.param("a \\foo{} b", "a  b", id="an-unknown-command-with-an-empty-argument"),
])
def test_ties_dollars_and_empty_arguments(value: str, html: str) -> None:
    assert latex.check(value) is None
    assert latex.to_html(latex.parse(value)) == html


@pytest.mark.parametrize(("value", "text"), [
    pytest.param("\\emph{" * 2000 + "x \\& y" + "}" * 2000, "x & y", id="commands-nested-past-any-recursion-limit"),
    pytest.param("{" * 45 + "\\emph{a} \\'e \\%" + "}" * 45, "a e %", id="commands-inside-braces-past-the-limit"),
    pytest.param("$" + "x^{" * 1500 + "y" + "}" * 1500 + "$ and \\$5", None, id="math-nested-past-recursion"),
])
def test_latex_nested_too_deeply_to_read_shows_its_text_and_never_its_commands(value: str, text: str | None) -> None:
    shown = latex.to_text(latex.parse(value))
    assert "\\" not in shown and "{" not in shown and "}" not in shown
    if text is not None:
        assert shown == text
    else:
        assert shown.endswith("y and $5") and not shown.startswith("$")


def test_styles_shared_by_neighbouring_text_stay_open_across_it() -> None:
    assert latex.to_html(latex.parse("\\textsuperscript{\\textbf{a \\emph{b} c}} d")) == "<sup><b>a <i>b</i> c</b></sup> d"


def test_an_entry_completed_by_its_parent_keeps_its_own_place_and_field_lines() -> None:
    text = ("@book{parent, title={P}, year={2001}, publisher={Pub}}\n\n"
            "@inbook{child,\n  crossref={parent},\n  title={C},\n  year={20x1}}\n")
    bib = load_text([("x.bib", text)])
    child = bib.entries["child"]
    assert (child.line, child.field_lines["year"], child.fields["publisher"]) == (3, 6, "Pub")
    assert [(d.line, d.code) for d in lint(bib)] == [(6, "bib-bad-year")]


@pytest.mark.parametrize(("text", "message"), [
    ("@misc{a, title={x}", "cannot parse block '@misc{a, title={x}': Unexpectedly reached end of file. Check for a "
                           "missing comma, brace or quote."),
    ("@misc{a title={x}}\n", "cannot parse block '@misc{a title=': Expected comma after entry key, but found =. Check "
                             "for a missing comma, brace or quote."),
    ("@misc{a, title={x\n\n@misc{b, title={y}}\n", "cannot parse block '@misc{a, title={x': Unexpected block start: "
     "`@misc`. Was still looking for field-value closing `}`. Check for a missing comma, brace or quote."),
])
def test_a_block_that_does_not_parse_gives_the_parsers_reason_with_one_full_stop(text: str, message: str) -> None:
    assert [d.message for d in load_text([("b.bib", text)]).diagnostics] == [message]


@pytest.mark.parametrize(("entry", "expected"), [
    pytest.param("@article{m, title={A}, journaltitle={Runner's World}, entrysubtype={magazine}, date={2020-05}}",
                 {"type": "article-magazine", "container-title": "Runner’s World", "issued": {"date-parts": [[2020, 5]]}},
                 id="magazine"),
    pytest.param("@article{m, title={A}, journaltitle={The Times}, entrysubtype={newspaper}, date={2020}}",
                 {"type": "article-newspaper"}, id="newspaper"),
    pytest.param("@unpublished{m, title={A Talk}, eventtitle={Annual Meeting}, venue={Boston}, eventdate={2019-10-03}}",
                 {"type": "speech", "event-title": "Annual meeting", "event-place": "Boston",
                  "event-date": {"date-parts": [[2019, 10, 3]]}}, id="a-talk-is-a-speech"),
    pytest.param("@unpublished{m, title={A Draft}}", {"type": "manuscript"}, id="unpublished-without-an-event"),
    pytest.param("@unpublished{m, title={A}, eventdate={2019}}", {"type": "speech"}, id="an-event-date-alone-makes-a-talk"),
    pytest.param("@unpublished{m, title={A}, venue={Boston}}", {"type": "speech"}, id="a-venue-alone-makes-a-talk"),
    pytest.param("@periodical{m, title={A}, entrysubtype={magazine}, year={2020}}", {"type": "article-magazine"},
                 id="a-periodical-magazine"),
    pytest.param("@suppperiodical{m, title={A}, journal={J}, entrysubtype={newspaper}, year={2020}}",
                 {"type": "article-newspaper"}, id="a-supplement-to-a-newspaper"),
    pytest.param("@foo{m, title={A}}", {"type": "document"}, id="an-unknown-type-is-a-document"),
    pytest.param("@thesis{m, title={A}, type={PhDThesis}, institution={U}, year={2001}}", {"genre": "PhD thesis"},
                 id="a-type-key-in-any-case"),
    pytest.param("@misc{m, title={A}, editor={Kubrick, Stanley}, editortype={Director}}",
                 {"director": [{"given": "Stanley", "family": "Kubrick"}], "editor": None}, id="a-director"),
    pytest.param("@book{m, title={A}, editor={van der Berg, Jan}, options={useprefix=true}, year={2001}}",
                 {"editor": [{"given": "Jan", "non-dropping-particle": "van der", "family": "Berg"}]},
                 id="useprefix-for-editors-too"),
    pytest.param("@book{m, title={A}, year={1985/1986}}", {"issued": {"literal": "1985/1986"}},
                 id="a-range-in-year-is-printed-as-written"),
    pytest.param("@book{m, title={A}, date={1985/1986}}", {"issued": {"date-parts": [[1985], [1986]]}},
                 id="a-range-in-date-is-a-range"),
    pytest.param("@book{m, title={A}, langid={english}, year={2001}}", {"language": None}, id="english-carries-no-tag"),
    pytest.param("@book{m, title={A}, publisher={Pub A and {Pub and B}}, location={Oslo and Bergen}, year={2001}}",
                 {"publisher": "Pub A; Pub and B", "publisher-place": "Oslo; Bergen"}, id="lists-of-publishers-and-places"),
    pytest.param("@mastersthesis{m, title={A}, school={Uni}, year={2018}}",
                 {"type": "thesis", "genre": "Master’s thesis", "publisher": "Uni"}, id="masters-thesis"),
    pytest.param("@phdthesis{m, title={A}, school={Uni}, year={2018}, type={Habilitation}}",
                 {"type": "thesis", "genre": "Habilitation"}, id="a-thesis-type-of-its-own"),
    pytest.param("@article{m, title={A}, journal={J}, issue={Spring}, year={2018}}", {"issue": "Spring"},
                 id="an-issue-without-a-number"),
    pytest.param("@article{m, title={A}, journal={J}, number={3}, issue={Spring}, year={2018}}", {"issue": "3, Spring"},
                 id="a-number-and-an-issue"),
    pytest.param("@misc{m, title={A}, eprint={2101.00001}, archiveprefix={arXiv}}",
                 {"URL": "https://arxiv.org/abs/2101.00001"}, id="an-arxiv-eprint-is-linked"),
    pytest.param("@misc{m, title={A}, eprint={1234}, eprinttype={unknownarchive}}", {"URL": None},
                 id="an-eprint-of-an-unknown-archive-is-not-linked"),
    pytest.param("@misc{m, title={A}, url={https://x.org}, eprint={1}, eprinttype={pubmed}}", {"URL": "https://x.org"},
                 id="a-url-comes-before-an-eprint"),
])
def test_rarer_biblatex_types_and_fields_as_pandoc_reads_them(entry: str, expected: dict[str, object]) -> None:
    item = to_csl(load_text([("x.bib", entry)]).entries["m"])
    assert {k: item.get(k) for k in expected} == expected


def test_string_macros_defined_twice_or_used_before_they_exist_are_named_with_a_suggestion() -> None:
    text = "@string{journal = {J}}\n@string{Journal = {K}}\n@string{b = jornal # { x}}\n@misc{m, title = jornal}\n"
    assert [(d.path, d.line, d.col, d.code, d.message) for d in load_text([("s.bib", text)]).diagnostics] == [
        ("s.bib", 2, 1, "bib-duplicate-key", "@string 'Journal' is already defined at s.bib:1; the first definition is "
                                             "used. Remove or rename one of them."),
        ("s.bib", 3, 1, "bib-unknown-string", "@string 'b' uses 'jornal', which is not an @string defined before it; "
         "it is kept as written. Define it first, or brace the text. Did you mean 'journal'?"),
        ("s.bib", 4, 1, "bib-unknown-string", "field 'title' of 'm' uses @string 'jornal', which no .bib file defines. "
                                              "Did you mean 'journal'?"),
    ]


@pytest.mark.parametrize(("raw", "braced"), [
    ("{\\'E}va \\'Eva", "{\\'E}va {\\'E}va"), ('{{\\"o}} x\\"o', '{{\\"o}} x{\\"o}'), ("{a\\{b} \\'Eva", "{a\\{b} {\\'E}va"),
    ("{a} {b} \\v{C}apek", "{a} {b} {\\v{C}}apek"), ('{\\AA}ngstr\\"om', '{\\AA}ngstr{\\"o}m'), ("Smith", "Smith"),
])
def test_accented_letters_outside_braces_are_braced_once_as_bibtex_special_characters(raw: str, braced: str) -> None:
    from evidencekb.csl import _brace_specials

    assert _brace_specials(raw) == braced


@pytest.mark.parametrize(("fields", "language", "title"), [
    pytest.param("langid={english}, langidopts={variant=british}", None, "The big title", id="british-english"),
    pytest.param("langid={ENGLISH}", None, "The big title", id="langid-in-any-case"),
    pytest.param("langid={en-IN}", None, "The big title", id="any-en-tag"),
    pytest.param("hyphenation={german}", "de-DE", "The Big Title", id="hyphenation-when-no-langid"),
    pytest.param("language={French}", "fr-FR", "The Big Title", id="language-when-neither"),
    pytest.param("langid={ngerman}, hyphenation={english}", "de-DE", "The Big Title", id="langid-comes-first"),
    pytest.param("", None, "The big title", id="no-language-is-english"),
])
def test_an_english_title_is_sentence_cased_and_another_language_is_tagged_and_kept(fields: str, language: str | None,
                                                                                      title: str) -> None:
    item = to_csl(load_text([("x.bib", f"@book{{b, title={{The Big Title}}, year={{2001}}, {fields}}}")]).entries["b"])
    assert (item.get("language"), item["title"]) == (language, title)


def test_numbers_dates_and_series_of_a_book_in_csl_as_pandoc_gives_them() -> None:
    text = ("@book{m, title={A}, year={2001}, origdate={1899}, volume={2}, part={1}, volumes={3}, pagetotal={412},\n"
            " chapter={7}, edition={2}, version={1.2}, number={14}, series={Lecture Notes}, urldate={2020-02-03}}\n"
            "@book{n, title={A}, date={circa 1850}}\n@book{o, title={A}, part={2}, year={2001}}\n")
    entries = load_text([("x.bib", text)]).entries
    assert to_csl(entries["m"]) == {  # pandoc's CSL JSON for it, field for field
        "id": "m", "type": "book", "title": "A", "issued": {"date-parts": [[2001]]},
        "accessed": {"date-parts": [[2020, 2, 3]]}, "original-date": {"date-parts": [[1899]]}, "volume": "2.1",
        "number-of-volumes": "3", "number-of-pages": "412", "chapter-number": "7", "edition": "2", "version": "1.2",
        "collection-number": "14", "collection-title": "Lecture notes"}
    assert to_csl(entries["n"])["issued"] == {"literal": "circa 1850"}  # kept as written (pandoc drops it)
    assert to_csl(entries["o"])["volume"] == "2"  # a part without a volume


_TITLES = """@periodical{p, title={Journal of Fascia}, subtitle={Research Notes}, issuetitle={Special Issue on Bands},
  issuesubtitle={Part One}, year={2020}}
@periodical{q, title={Journal of Fascia}, subtitle={Research Notes}, titleaddon={Online}, year={2020}}
@book{mv, title={Anatomy}, subtitle={The Leg}, titleaddon={Revised}, maintitle={Collected Works},
  mainsubtitle={In Ten Volumes}, maintitleaddon={Annotated}, volume={2}, year={2001}}
@inbook{ch, title={The Knee}, booktitle={Anatomy}, booksubtitle={The Leg}, booktitleaddon={Revised},
  maintitle={Collected Works}, year={2001}}
@book{ta, title={A Book}, subtitle={Its Subtitle}, titleaddon={With an Addon}, year={2001}}
"""


@pytest.mark.parametrize(("key", "titles"), [
    ("p", {"title": "Special issue on bands: Part one", "container-title": "Journal of Fascia: Research Notes"}),
    ("q", {"title": "Journal of fascia: Research notes. Online",
           "container-title": "Journal of Fascia: Research Notes. Online"}),
    ("mv", {"title": "Collected works: In ten volumes. Annotated", "volume-title": "Anatomy: The leg. Revised"}),
    # pandoc gives the container "Collected works: The leg. Revised", the book's subtitle under the main title
    ("ch", {"title": "The knee", "container-title": "Collected works", "volume-title": "Anatomy: The leg. Revised"}),
    ("ta", {"title": "A book: Its subtitle. With an addon"}),
])
def test_titles_subtitles_and_addons_join_as_pandoc_joins_them(key: str, titles: dict[str, str]) -> None:
    item = to_plain_csl(load_text([("x.bib", _TITLES)]).entries[key])
    assert {k: item[k] for k in ("title", "container-title", "volume-title") if k in item} == titles


@pytest.mark.parametrize(("entry", "expected"), [
    ("@article{a, title={T}, journaltitle={Journal of Fascia}, journalsubtitle={Notes}, shortjournal={J Fascia}, "
     "year={2020}}", {"container-title": "Journal of Fascia: Notes", "container-title-short": "J Fascia"}),
    ("@periodical{a, title={Journal of Fascia}, shorttitle={J Fasc}, year={2020}}",
     {"title": "Journal of fascia", "container-title": "Journal of Fascia", "container-title-short": "J Fasc"}),
    ("@inbook{a, title={The Knee}, maintitle={Collected Works}, mainsubtitle={In Ten Volumes}, "
     "maintitleaddon={Annotated}, year={2001}}", {"container-title": "Collected works: In ten volumes. Annotated"}),
    ("@book{a, title={A}, series={3}, year={2001}}", {"collection-title": "3rd series"}),
    ("@book{a, title={A}, series={Lecture Notes in Anatomy}, year={2001}}", {"collection-title": "Lecture notes in anatomy"}),
])
def test_containers_short_titles_and_series_as_pandoc_reads_them(entry: str, expected: dict[str, str]) -> None:
    item = to_plain_csl(load_text([("x.bib", entry)]).entries["a"])
    assert {k: item.get(k) for k in expected} == expected


def test_identifiers_numbers_and_notes_in_csl() -> None:
    text = ("@report{a, title={T}, number={12}, institution={I}, year={2001}, isbn={978-3-16-148410-0}, issn={1234-5678},"
            " pmid={123}, pmcid={PMC9}, note={A note}, addendum={An addendum}}\n"
            "@periodical{b, title={P}, note={N}, addendum={Add}, year={2001}}\n")
    entries = load_text([("x.bib", text)]).entries
    a = to_plain_csl(entries["a"])
    assert {k: a[k] for k in ("type", "number", "ISBN", "ISSN", "PMID", "PMCID", "note")} == {
        "type": "report", "number": "12", "ISBN": "978-3-16-148410-0", "ISSN": "1234-5678", "PMID": "123",
        "PMCID": "PMC9", "note": "A note. An addendum"}
    assert to_plain_csl(entries["b"])["note"] == "Add"  # a periodical's note is not the issue's


def test_missing_fields_are_listed_and_inherited_ones_said_to_count() -> None:
    text = "@article{a, author={A}}\n@inbook{c, crossref={p}, author={B}}\n@book{p, title={P}}\n"
    bib = load_text([("x.bib", text)])
    assert [(d.line, d.message) for d in lint(bib) if d.code == "bib-missing-field"] == [
        (1, "@article 'a' lacks 'title' and 'journaltitle or journal' and 'date or year'; an @article needs title, "
            "journaltitle or journal, date or year."),
        (2, "@inbook 'c' lacks 'title' and 'date or year'; an @inbook needs title, date or year (fields its crossref "
            "or xdata parents give count)."),
        (3, "@book 'p' lacks 'date or year'; an @book needs title, date or year."),
    ]
    assert bib.entries["c"].raw == "@inbook{c, crossref={p}, author={B}}"  # as written, not as completed


def test_the_latest_plausible_year_is_five_years_ahead() -> None:
    import datetime

    latest = datetime.date.today().year + 5
    for year, codes in ((latest, []), (latest + 1, ["bib-bad-year"])):
        bib = load_text([("x.bib", f"@book{{b, title={{T}}, year={{{year}}}}}")])
        assert [d.code for d in lint(bib)] == codes, year


def test_a_field_named_twice_is_placed_on_its_lines() -> None:
    found = [(d.line, d.col, d.message) for t in ("@misc{a, title={A}, TITLE={B}}", "@misc{a, title={A},\n  title={B}}")
             for d in load_text([("x.bib", t)]).diagnostics]
    assert found == [(1, 1, "entry 'a' names 'title' twice (line 1); the last value is used. Keep one of them."),
                     (2, 1, "entry 'a' names 'title' twice (lines 1 and 2); the last value is used. Keep one of them.")]


def test_empty_quoted_parts_join_and_a_pmcid_alone_identifies_an_article() -> None:
    from evidencekb.bibliography import _resolve

    assert (_resolve('"" # jj', {"jj": "J"}), _resolve('{} # "x"', {})) == (("J", []), ("x", []))
    text = "@article{a, author={A}, title={T}, journal={J}, year={2001}, pmcid={PMC1}}"
    bib = load_text([("x.bib", text)])
    assert (lint(bib), bib.entries["a"].raw) == ([], text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789-–{}\\' ~a", max_size=12))
def test_a_year_or_date_is_read_as_its_text(value: str) -> None:
    """Years and dates of digits and dashes are not read as LaTeX; whatever they are, the
    lint sees what the entry's text gives."""
    e = bibmod.Entry("k", "misc", {"year": value, "date": value}, "a.bib", 1)
    assert bibmod._plain(e, "year") == e.text("year").strip() == bibmod._plain(e, "date")


def test_a_year_of_digits_and_dashes_is_not_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the fast path is for: most years and dates never reach the LaTeX decoder."""
    e = bibmod.Entry("k", "misc", {"year": " 2001 ", "date": "2001-02-03", "note": "{2001}"}, "a.bib", 1)
    decoded: list[str] = []
    real = bibmod.Entry.text

    def text(self: bibmod.Entry, name: str) -> str:
        decoded.append(name)
        return real(self, name)

    monkeypatch.setattr(bibmod.Entry, "text", text)
    assert [bibmod._plain(e, n) for n in ("year", "date", "note", "month")] == ["2001", "2001-02-03", "2001", ""]
    assert decoded == ["note", "month"]
