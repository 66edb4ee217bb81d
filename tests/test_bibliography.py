"""The .bib loader on good and bad inputs: every problem located, nothing lost."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidencekb import latex
from evidencekb.bibliography import load, load_text, lint
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
        pytest.param("@article{i, author={A, B}, title={T}, journal={J}, year={2000},\n  doi={https://doi.org/10.1/i},\n  pmid={PM1}}",
                     [("x.bib", 2, "bib-bad-identifier"), ("x.bib", 3, "bib-bad-identifier")], id="bad-identifiers"),
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
        latex.parse(value)
        parsed_ok = True
    except latex.LatexError:
        parsed_ok = False
    assert (latex.check(value) is None) == parsed_ok


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab -'`{}\\$~^_\t\né")), max_size=30))
def test_parse_shortcut_agrees_with_the_parser(value: str) -> None:
    from evidencekb import latex

    normal = " ".join(value.split())
    try:
        expected = latex._Parser(normal).run()
    except latex.LatexError:
        with pytest.raises(latex.LatexError):
            latex.parse(value)
        return
    assert latex.parse(value) == expected
    if "{" not in value and "}" not in value and "$" not in value:
        assert latex.check(value) is None  # its shortcut: nothing to balance
