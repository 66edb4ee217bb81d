"""Real libraries nobody on the project wrote: biber's test library (with its @string
definitions in a separate file) and biblatex's examples (tests/data/corpora/README.md).

Every entry is read, linted and formatted without a traceback; the AMA text of at least
95% of entries equals pandoc 3's (tests/golden/papers.json, biblatex-examples.json, made by
scripts/make_golden.py), and every other entry is one of pandoc's own errors listed in
tests/pandoc_notes.py.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
from conftest import ROOT
from pandoc_notes import CASES, EXPLAINED, corrected

from evidencekb.bibliography import Bibliography, lint, load
from evidencekb.csl import Formatter

CORPORA = {"biber": "papers.json", "biblatex": "biblatex-examples.json"}


@cache
def library(name: str) -> Bibliography:
    return load(sorted((ROOT / "tests" / "data" / "corpora" / name).glob("*.bib")), ROOT)


@cache
def formatter(style: str) -> Formatter:
    """One formatter per style for the whole module: it keeps what it has formatted, so each
    library is formatted once per style however many tests read it."""
    return Formatter(style)


def golden(name: str) -> dict[str, str]:
    data: dict[str, dict[str, str]] = json.loads((ROOT / "tests" / "golden" / CORPORA[name]).read_text(encoding="utf-8"))
    return data["american-medical-association"]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CORPORA))
def test_ama_text_equals_pandoc_for_95_percent_and_the_rest_is_explained(name: str) -> None:
    bib, expected = library(name), golden(name)
    assert set(expected) == set(bib.entries), "every entry is read (and pandoc read the same ones)"
    f = formatter("american-medical-association")
    differ = {key for key, text in expected.items() if f.format(bib.entries[key]).text != corrected(text)}
    share = 1 - len(differ) / len(expected)
    assert share >= 0.95, f"{share:.1%} of {name}'s entries equal pandoc's"
    explained = {key for (lib, key) in CASES if lib == name and "@" not in key}
    assert differ - explained == set(), "differences from pandoc that tests/pandoc_notes.py does not explain"
    assert explained - differ == set(), "explained differences that no longer differ: remove them from the notes"
    assert all(CASES[(name, k)] in EXPLAINED for k in explained)


@pytest.mark.parametrize("name", sorted(CORPORA))
def test_every_line_number_is_the_real_line(name: str) -> None:
    bib = library(name)
    lines = {p: (ROOT / p).read_text(encoding="utf-8").split("\n") for p in bib.files}
    for e in bib.entries.values():
        assert lines[e.path][e.line - 1].lstrip().startswith("@"), (e.key, e.line)
        for fname, n in e.field_lines.items():
            assert lines[e.path][n - 1].lower().lstrip().startswith(fname) or f"{fname} " in lines[e.path][n - 1].lower() \
                or f"{fname}=" in lines[e.path][n - 1].lower(), (e.key, fname, n)
    for d in bib.diagnostics + lint(bib):
        assert 1 <= d.line <= len(lines[d.path])


def test_no_false_missing_fields() -> None:
    """Only the two technical reports that name no institution lack a required field (both
    BibTeX and biblatex ask for one); crossref children count what they inherit."""
    missing = {(d.path.rsplit("/", 1)[-1], d.message.split("'")[1]) for name in CORPORA
               for d in lint(library(name)) if d.code == "bib-missing-field"}
    assert missing == {("papers.bib", "KarpinskiWZ97"), ("papers.bib", "Marecek09")}
    errors = {(d.code, d.message.split("'")[1]) for name in CORPORA for d in lint(library(name))
              if d.severity.value == "error"}
    assert errors == {("bib-missing-field", "KarpinskiWZ97"), ("bib-missing-field", "Marecek09")}


def test_inherited_fields_come_from_the_parent() -> None:
    e = library("biblatex").entries["westfahl:space"]
    assert e.fields["booktitle"] == library("biblatex").entries["westfahl:frontier"].fields["title"]
    assert "booktitle" in e.inherited and "crossref" in e.fields


@pytest.mark.slow
@pytest.mark.parametrize("style", ["apa", "nlm-citation-sequence"])
def test_entries_format_in_the_other_styles_with_no_tex_left(style: str) -> None:
    """biblatex's examples whole, and every fifth entry of biber's library (kept fast): text,
    with no LaTeX left in it. (@set and @xdata entries are containers, not references.)"""
    f = formatter(style)
    for name, step in (("biblatex", 1), ("biber", 5)):
        bib = library(name)
        for key in list(bib.entries)[::step]:
            e = bib.entries[key]
            if e.type in ("set", "xdata"):
                continue
            out = f.format(e)
            assert out.text.strip() and "\\" not in out.text, (key, out.text)


def test_corpora_are_the_shared_ones() -> None:
    readme = (ROOT / "tests" / "data" / "corpora" / "README.md").read_text(encoding="utf-8")
    assert "biber" in readme and "biblatex" in readme
    assert all((ROOT / "tests" / "golden" / g).exists() for g in CORPORA.values())
    assert Path(ROOT / "tests" / "data" / "corpora" / "biber" / "definitions.bib").exists()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CORPORA))
def test_a_page_citing_every_entry_renders(name: str) -> None:
    """Every entry cited on one page, in APA (author-date: names, years and suffixes for every
    entry): no traceback, a reference list item per cited entry, and no LaTeX in the page."""
    import markdown

    from evidencekb.markdown_ext import CitationContext

    bib = library(name)
    keys = [k for k, e in bib.entries.items() if e.type not in ("set", "xdata")]
    if name == "biber":
        keys = keys[::4]  # kept fast: a quarter of biber's library
    ctx = CitationContext(bib, "apa")
    md = markdown.Markdown(extensions=["evidencekb"], extension_configs={"evidencekb": {"context": ctx}})
    page = md.convert("\n\n".join(f"Text [@{{{k}}}]." for k in keys))  # braced: keys such as "Kloks93+"
    assert page.count('<li id="ref-') == len(keys)
    assert "\\textit" not in page and "\\emph" not in page and "$" not in page.replace("US$", "")


def test_formatting_across_processes_gives_what_one_process_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    """A first build formats the entries it lacks across the cores (Formatter.prefetch): the
    same text, HTML and names as formatting each in turn."""
    import sys

    from evidencekb import csl

    if not sys.platform.startswith("linux"):
        pytest.skip("entries are formatted across processes only where the platform forks")
    bib = library("biblatex")
    keys = [k for k, e in bib.entries.items() if e.type not in ("set", "xdata")]
    monkeypatch.setattr(csl, "PARALLEL_MIN", 2)
    for style in ("american-medical-association", "apa"):
        parallel = Formatter(style)
        assert parallel.prefetch(keys, bib.entries, workers=2) == len(keys)
        assert parallel.prefetch(keys, bib.entries, workers=2) == 0  # nothing left to do
        one = Formatter(style)
        for k in keys:
            assert parallel.format(bib.entries[k]) == one.format(bib.entries[k])
            assert parallel.short_names(bib.entries[k]) == one.short_names(bib.entries[k])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CORPORA))
def test_ama_html_equals_pandoc_wherever_the_text_does(name: str) -> None:
    """Tags and escaping too: where an entry's text is pandoc's exactly, so is its HTML
    (italics, bold, super- and subscripts, escaped characters; see scripts/make_golden.py)."""
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    import make_golden

    bib, expected = library(name), golden(name)
    markup = json.loads(make_golden.html_path(ROOT / "tests" / "golden" / CORPORA[name]).read_text(encoding="utf-8"))
    markup = markup["american-medical-association"]
    f = formatter("american-medical-association")
    compared, differ = 0, []
    for key, text in expected.items():
        out = f.format(bib.entries[key])
        if out.text != text:
            continue
        compared += 1
        if make_golden.markup(out.html) != markup[key]:
            differ.append((key, make_golden.markup(out.html), markup[key]))
    assert compared >= 0.7 * len(expected)
    assert differ == [], "\n".join(map(repr, differ))


def test_short_names_read_only_the_name_fields_and_name_as_the_full_conversion_does() -> None:
    """The names a citation shows are read from the name fields alone (a first build names
    every cited entry before it is formatted): for every entry of the real libraries, this
    project's and the hostile test library, they are the names of its whole CSL-JSON."""
    from evidencekb.csl import _names_of, short_names, to_csl

    libraries = [library(name) for name in sorted(CORPORA)]
    libraries.append(load(sorted((ROOT / "references").glob("*.bib")), ROOT))
    libraries += [load(sorted(p.glob("*.bib")), ROOT) for p in sorted((ROOT / "tests" / "roots").glob("*/references"))]
    checked = 0
    for bib in libraries:
        for e in bib.entries.values():
            assert short_names(e) == _names_of(to_csl(e)), e.key
            checked += 1
    assert checked > 2_000


def test_short_names_agree_with_the_full_conversion_on_any_name_fields() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from evidencekb.bibliography import Entry
    from evidencekb.csl import _names_of, short_names, to_csl

    names = st.sampled_from(["", " ", "\ue001", "van der Berg, Ann", "{World Health Organization}", "Smith, J. and others",
                             "Y. Alavi et al.", "de la Cruz, M. and O'Neil, P. and Li, X. and Wu, Y.", "{\\'E}mile Zola",
                             "\ue002Ng, K.", "and", "Doe, {J}ohn and {\\relax Ch}ristensen, A."])
    optional = st.sampled_from(["", "useprefix=true", "useprefix", "useprefix=false", "\ue003", "url=false, useprefix=true"])
    kinds = st.sampled_from(["", "director", "Director", "editor", "{director}", "\ue004"])

    @settings(max_examples=300, deadline=None)
    @given(author=names, editor=names, options=optional, editortype=kinds, type_=st.sampled_from(["article", "book", "periodical"]))
    def check(author: str, editor: str, options: str, editortype: str, type_: str) -> None:
        fields = {k: v for k, v in (("author", author), ("editor", editor), ("options", options),
                                    ("editortype", editortype), ("title", "A title")) if v}
        e = Entry("k", type_, fields, "x.bib", 1, "", {})
        assert short_names(e) == _names_of(to_csl(e))

    check()
