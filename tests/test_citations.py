"""The citation parser: one case per syntax form, pandoc's reading of it."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidencekb.citations import _BRACKETED, _NARRATIVE, CITATION_RE, scan

CASES = [
    pytest.param("[@key]", [("key", "", "", "", "", False)], False, id="bracketed"),
    pytest.param("[@a; @b]", [("a", "", "", "", "", False), ("b", "", "", "", "", False)], False, id="multiple"),
    pytest.param("[see @key, p. 12]", [("key", "see", "page", "12", "", False)], False, id="prefix-locator"),
    pytest.param("[@key, pp. 3-5]", [("key", "", "page", "3-5", "", False)], False, id="page-range"),
    pytest.param("[@key, pp. 33-35, 38-39]", [("key", "", "page", "33-35, 38-39", "", False)], False,
                 id="page-list"),
    pytest.param("[cf. @key, pp. 33-35, 38-39 and passim]", [("key", "cf.", "page", "33-35, 38-39", "and passim", False)],
                 False, id="page-list-and-suffix"),
    pytest.param("[@key p. 12]", [("key", "", "page", "12", "", False)], False, id="locator-no-comma"),
    pytest.param("[@key, 33]", [("key", "", "page", "33", "", False)], False, id="bare-number-is-page"),
    pytest.param("[@key, chap. 3]", [("key", "", "chapter", "3", "", False)], False, id="chapter"),
    pytest.param("[@key, p. 4, emphasis added]", [("key", "", "page", "4", "emphasis added", False)], False,
                 id="locator-and-suffix"),
    pytest.param("[-@key]", [("key", "", "", "", "", True)], False, id="suppress-author"),
    pytest.param("@key says", [("key", "", "", "", "", False)], True, id="narrative"),
    pytest.param("@key [p. 3] says", [("key", "", "page", "3", "", False)], True, id="narrative-locator"),
    pytest.param("see @a.b:c/d-e_f.", [("a.b:c/d-e_f", "", "", "", "", False)], True, id="internal-punctuation"),
    pytest.param("end of @key.", [("key", "", "", "", "", False)], True, id="trailing-punctuation"),
    pytest.param("@{braced.key.} here", [("braced.key.", "", "", "", "", False)], True, id="braced-key"),
    # locators as pandoc 3 reads them: dotted and colon units, roman numerals, dash ranges and
    # comma lists; "and", "&", a spaced dash or closing punctuation end the locator
    pytest.param("[@key, sec. 2.3a]", [("key", "", "section", "2.3a", "", False)], False, id="dotted-locator"),
    pytest.param("[@key, p. 12:4]", [("key", "", "page", "12:4", "", False)], False, id="colon-locator"),
    pytest.param("[@key, pp. x-xii and 4]", [("key", "", "page", "x-xii", "and 4", False)], False, id="roman-range"),
    pytest.param("[@key, pp. 3 & 5]", [("key", "", "page", "3", "& 5", False)], False, id="ampersand-ends"),
    pytest.param("[@key, pp. 3 - 5]", [("key", "", "page", "3", "- 5", False)], False, id="spaced-dash-ends"),
    pytest.param("[@key, p. 3,5]", [("key", "", "page", "3,5", "", False)], False, id="comma-list-no-space"),
    pytest.param("[@key, p. 33.]", [("key", "", "page", "33", ".", False)], False, id="full-stop-after"),
    pytest.param("[@key, vol. 2, p. 3]", [("key", "", "volume", "2", "p. 3", False)], False, id="second-label-is-suffix"),
    pytest.param("[@key, xyz. 3]", [("key", "", "", "", "xyz. 3", False)], False, id="unknown-term-is-suffix"),
    pytest.param("[@key, and passim]", [("key", "", "", "", "and passim", False)], False, id="comma-suffix"),
    pytest.param("@key [33]", [("key", "", "page", "33", "", False)], True, id="narrative-bare-number"),
    pytest.param("As said -@key [p. 3] here.", [("key", "", "page", "3", "", True)], False, id="suppressed-in-text"),
    pytest.param("@key [and more] says", [("key", "", "", "", "and more", False)], True, id="narrative-suffix"),
    pytest.param("[@key, X-ray findings]", [("key", "", "", "", "X-ray findings", False)], False,
                 id="a-word-with-a-dash-is-no-locator"),  # "X-ray" is not page X (pandoc 3 agrees)
    pytest.param("[@key, IV-ray]", [("key", "", "", "", "IV-ray", False)], False, id="roman-then-word"),
    pytest.param("[@key, 33-ray]", [("key", "", "", "", "33-ray", False)], False,
                 id="number-then-word"),  # pandoc prints "pp. 33–ray"; we keep the words as written
    pytest.param("[@key , p. 3]", [("key", "", "page", "3", "", False)], False, id="space-before-comma"),
    pytest.param("[@key,p. 3]", [("key", "", "page", "3", "", False)], False, id="no-space-after-comma"),
    pytest.param("[@key p. 3]", [("key", "", "page", "3", "", False)], False, id="no-comma"),
    pytest.param("[@key, 33]", [("key", "", "page", "33", "", False)], False, id="bare-number-is-a-page"),
    pytest.param("[see @a ch. 2; also @b]", [("a", "see", "chapter", "2", "", False), ("b", "also", "", "", "", False)],
                 False, id="prefixes-in-cluster"),
]


@pytest.mark.parametrize(("text", "items", "narrative"), CASES)
def test_syntax(text: str, items: list[tuple[str, ...]], narrative: bool) -> None:
    clusters = scan(text)
    assert len(clusters) == 1
    c = clusters[0]
    assert c.narrative is narrative
    got = [(i.key, i.prefix, i.label, i.locator, i.suffix, i.suppress_author) for i in c.items]
    assert got == items


NOT_CITATIONS = [
    pytest.param(r"an \@escaped at", id="escape"),
    pytest.param("mail me at someone@example.org", id="email"),
    pytest.param("<someone@example.org>", id="autolink-email"),
    pytest.param("see https://example.org/@user now", id="url"),
    pytest.param("<https://example.org/@user>", id="autolink-url"),
    pytest.param("[text](https://example.org/@user)", id="link-target"),
    pytest.param("[text](mailto:a@b.org)", id="mailto"),
    pytest.param("`[@key]` and `@key`", id="inline-code"),
    pytest.param('<span title="see @key">x</span>', id="html-attribute"),
    pytest.param("```\n[@key]\n```", id="fenced-code"),
    pytest.param("~~~python\n@key\n~~~", id="tilde-fence"),
    pytest.param("text\n\n    [@key] in code\n", id="indented-code"),
    pytest.param("[@key]: https://example.org", id="reference-definition"),
]


@pytest.mark.parametrize("text", NOT_CITATIONS)
def test_never_recognised(text: str) -> None:
    assert scan(text) == []


def test_positions_are_one_based_line_and_column() -> None:
    text = "first line\n\nsecond [@b] and @c\n"
    got = [(c.line, c.col, c.keys) for c in scan(text)]
    assert got == [(3, 8, ["b"]), (3, 17, ["c"])]


def _text(node: object) -> str:
    """pandoc inlines (any nesting: emphasis, quotes, spans) as plain text."""
    if isinstance(node, list):
        return "".join(_text(x) for x in node)
    if isinstance(node, dict):
        if node.get("t") == "Str":  # (pandoc's Markdown reader ties "p. 3" with a no-break space)
            return str(node["c"]).replace("\u00a0", " ")
        if node.get("t") in ("Space", "SoftBreak"):
            return " "
        return _text(node.get("c", []))
    return ""


def _pandoc_cites(text: str) -> list[list[tuple[str, str, str, str]]]:
    """pandoc's reading of the text: per citation cluster, (key, mode, prefix, suffix) of each
    item, the suffix as pandoc keeps it (its locator not yet split off)."""
    import json
    import subprocess

    from conftest import pandoc

    ast = json.loads(subprocess.run([pandoc(), "-f", "markdown", "-t", "json"], input=text, capture_output=True,
                                    text=True, check=True).stdout)
    out: list[list[tuple[str, str, str, str]]] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("t") == "Cite":
                out.append([(c["citationId"], c["citationMode"]["t"], _text(c["citationPrefix"]).strip(),
                             _text(c["citationSuffix"]).strip()) for c in node["c"][0]])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(ast["blocks"])
    return out


def _split_suffix(suffix: str, locator: str) -> str:
    """What is left of pandoc's suffix once our locator (with its label word) is taken off."""
    rest = suffix.lstrip(", ").strip("[]")
    if locator:
        at = rest.find(locator)
        assert at >= 0 and not any(ch.isdigit() for ch in rest[:at]), (suffix, locator)
        rest = rest[at + len(locator):]
    return rest.lstrip(", ").strip()


#: Deliberate departures: pandoc's Markdown has no bare-URL links and reads "[@key]:" as a
#: citation; in Python-Markdown hosts these are a URL and a link definition, never citations.
DIFFERS_FROM_PANDOC = {"url", "reference-definition"}
AGREEMENT = [p for p in CASES] + [pytest.param(p.values[0], id=f"not-{p.id}") for p in NOT_CITATIONS
                                   if p.id not in DIFFERS_FROM_PANDOC]


@pytest.mark.parametrize("text", [p.values[0] for p in AGREEMENT], ids=[p.id for p in AGREEMENT])
def test_agrees_with_pandoc(text: str) -> None:
    from conftest import need, pandoc

    need(pandoc() is not None, "pandoc (pypandoc-binary) is not installed")
    theirs = _pandoc_cites(text)
    ours = [[(i.key, "SuppressAuthor" if i.suppress_author else ("AuthorInText" if c.narrative else "NormalCitation"))
             for i in c.items] for c in scan(text)]
    assert ours == [[(key, mode) for key, mode, _, _ in cluster] for cluster in theirs]
    # the same prefix, and pandoc's suffix is our locator (after its label word) then our suffix
    for cluster, their_cluster in zip(scan(text), theirs):
        for item, (_, _, prefix, suffix) in zip(cluster.items, their_cluster):
            assert item.prefix == prefix
            assert item.suffix == _split_suffix(suffix, item.locator)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="[]@-;,.: {}ab1\n\\`'\"=/(p", max_size=50))
def test_citation_regex_matches_as_the_plain_alternation(text: str) -> None:
    """The lookahead that speeds the search up changes no match."""
    plain = re.compile(f"{_BRACKETED}|{_NARRATIVE}")

    def matches(rx: re.Pattern[str]) -> list[object]:
        return [(m.span(), m.groupdict()) for m in rx.finditer(text)]

    assert matches(CITATION_RE) == matches(plain)


def test_citations_in_footnotes_are_found_and_located() -> None:
    from evidencekb.citations import scan

    text = "Text.[^1]\n\n[^1]: See [@missing] and @other.\n\n    More [@third].\n\nAfter.\n\n    [@code] block\n"
    found = [(c.line, c.col, c.keys) for c in scan(text)]
    assert found == [(3, 11, ["missing"]), (3, 26, ["other"]), (5, 10, ["third"])]  # not the code after it
    assert scan("\n    [@code]\n") == []


@pytest.mark.parametrize(("text", "keys"), [
    pytest.param("```\n[@a]\n```\n[@out]", ["out"], id="fence"),
    pytest.param("````\n[@a]\n```\n[@b]\n````\n[@out]", ["out"], id="a-shorter-fence-does-not-close"),
    pytest.param("```\n[@a]\n~~~\n[@b]\n```\n[@out]", ["out"], id="another-fence-char-does-not-close"),
    pytest.param("~~~\n[@a]\n~~~~~\n[@out]", ["out"], id="a-longer-fence-closes"),
    pytest.param("``` ``q'' ``` [@in]\n[@out]", ["in", "out"], id="backticks-in-the-info-string-are-inline-code"),
    pytest.param("  ``` `x` ```, @in\n```\n[@a]\n```\n[@out]", ["in", "out"], id="inline-code-opens-no-fence"),
    pytest.param("~~~ `ok`\n[@a]\n~~~\n[@out]", ["out"], id="a-tilde-fence-may-hold-backticks"),
    pytest.param("```\n[@a]\n```python\n[@b]\n```\n[@out]", ["out"], id="a-fence-with-text-does-not-close"),
    pytest.param("text\n\n    [@code]\n\n    [@more]\n\nafter [@out]", ["out"], id="indented-code"),
    pytest.param("text\n\n\t[@code]\n\nafter [@out]", ["out"], id="tab-indented-code"),
    pytest.param("a paragraph\n    continued [@lazy]", ["lazy"], id="indented-continuation-is-prose"),
    pytest.param("\n    [@code]\nnot code [@out]", ["out"], id="code-ends-at-an-unindented-line"),
    pytest.param("[^1]: A note [@f1].\n\n    More of it [@f2].\n\nBody [@out].", ["f1", "f2", "out"], id="footnote"),
    pytest.param("[^1]: A note.\nBody [@out].\n\n    [@code]", ["out"], id="footnote-ends"),
])
def test_code_is_skipped_and_footnotes_are_read(text: str, keys: list[str]) -> None:
    assert [k for c in scan(text) for k in c.keys] == keys


def test_a_cluster_keeps_its_source_text_and_place() -> None:
    (a, b) = scan("x\n  See [@a, p. 3]; -@b [ch. 2] ok", first_line=10)
    assert (a.source, a.line, a.col, a.narrative) == ("[@a, p. 3]", 11, 7, False)
    assert (b.source, b.line, b.col, b.narrative) == ("-@b [ch. 2]", 11, 19, False)
    (f,) = scan("[^n]: x\n\n    in it @c [p. 1]")
    assert (f.source, f.line, f.col, f.narrative) == ("@c [p. 1]", 3, 11, True)


@pytest.mark.parametrize(("text", "keys"), [
    pytest.param("    [@code]", [], id="indented-first-line-is-code"),
    pytest.param("[^1]: x\n\n\t[@f]", ["f"], id="tab-indented-footnote-paragraph"),
    pytest.param("\n    code\nback [@a]\n    lazy [@b]", ["a", "b"], id="after-code-a-lazy-continuation-is-prose"),
])
def test_code_and_footnotes_at_their_edges(text: str, keys: list[str]) -> None:
    assert [k for c in scan(text) for k in c.keys] == keys


def test_the_citation_pattern_is_compiled_once_for_the_markdown_extension_too() -> None:
    """Python-Markdown's InlineProcessor compiles its pattern string with DOTALL and
    UNICODE; the citation pattern is compiled with the same flags (DOTALL changes nothing: it
    has no '.' outside a class), so the extension's compile is found in re's cache."""
    from markdown import Markdown

    from evidencekb.markdown_ext import _CitationPattern

    assert re.compile(CITATION_RE.pattern, re.DOTALL | re.UNICODE) is CITATION_RE
    assert "." not in re.sub(r"\\.|\[(?:\\.|[^\]])*\]", "", CITATION_RE.pattern)
    pattern = _CitationPattern(None, Markdown())  # type: ignore[arg-type]
    assert pattern.getCompiledRegExp() is CITATION_RE
