"""The .bib loader on good and bad inputs: every problem located, nothing lost."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidencekb import latex
from evidencekb.bibliography import _decoded, lint, load, load_text, loader
from evidencekb.csl import to_csl

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
        pytest.param(r"$\alpha$ and $x^{2}$", "α and x2", "α and x<sup>2</sup>", id="simple-math"),
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
