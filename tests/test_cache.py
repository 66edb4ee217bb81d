"""The on-disk cache: content-keyed library with entries read from file, persistent cards."""

from __future__ import annotations

import json
import os
import pickle
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from evidencekb import bibliography as bibmod
from evidencekb import cache
from evidencekb.csl import Formatter, get_style
from evidencekb.render import Cards

BIB = r"""
@article{alpha2020, author = {Alpha, Ann and Beta, Ben and Gamma, Gus}, title = {A first study},
  journal = {J Test}, year = {2020}, volume = {1}, pages = {10--20}, doi = {10.1234/alpha}, pmid = {12345}}

@article{zed2019, author = {Zed, Zoe}, title = {Last but not least}, journal = {J Test}, year = {2019},
  doi = {10.5555/zed}}
"""


def _library(tmp_path: Path, text: str = BIB) -> tuple[Path, Path]:
    (tmp_path / "references").mkdir(exist_ok=True)
    bib = tmp_path / "references" / "lib.bib"
    bib.write_text(text, encoding="utf-8")
    return bib, tmp_path / ".cache"


@pytest.fixture(autouse=True)
def _no_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "_MEMORY", [None, None])


def test_second_load_reads_the_cache_not_the_bib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bib_path, cdir = _library(tmp_path)
    first = cache.load_library([bib_path], tmp_path, cdir)
    files = sorted(p.suffix for p in cdir.iterdir())
    assert files == [".blobs", ".json"]
    monkeypatch.setattr(cache, "_MEMORY", [None, None])
    monkeypatch.setattr(bibmod, "load", lambda *a, **k: pytest.fail("parsed again"))
    second = cache.load_library([bib_path], tmp_path, cdir)
    assert list(second.entries) == ["alpha2020", "zed2019"]
    assert second.entries["zed2019"] == first.entries["zed2019"]
    assert second.entries["alpha2020"].fields["pages"] == "10--20"


def test_an_edit_misses_the_cache_and_replaces_it(tmp_path: Path) -> None:
    bib_path, cdir = _library(tmp_path)
    cache.load_library([bib_path], tmp_path, cdir)
    old = set(cdir.iterdir())
    bib_path.write_text(BIB.replace("Last but not least", "Changed"), encoding="utf-8")
    bib = cache.load_library([bib_path], tmp_path, cdir)
    assert bib.entries["zed2019"].fields["title"] == "Changed"
    new = set(cdir.iterdir())
    assert len(new) == 2 and not (old & new)


def test_a_truncated_entry_file_is_ignored_and_the_bib_parsed_again(tmp_path: Path) -> None:
    bib_path, cdir = _library(tmp_path)
    cache.load_library([bib_path], tmp_path, cdir)
    blobs = next(cdir.glob("*.blobs"))
    blobs.write_bytes(blobs.read_bytes()[:10])
    cache._MEMORY[:] = [None, None]
    bib = cache.load_library([bib_path], tmp_path, cdir)
    assert bib.entries["alpha2020"].fields["doi"] == "10.1234/alpha"


def test_hash_and_place_need_no_unpacking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = bibmod.load_text([("references/lib.bib", BIB)])
    lazy = bibmod.LazyEntries(plain.entries)
    monkeypatch.setattr(lazy, "_blob", lambda i: pytest.fail("unpacked"))
    assert lazy.digest("zed2019") == plain.entries["zed2019"].digest
    assert lazy.place("zed2019") == ("references/lib.bib", plain.entries["zed2019"].line)
    assert "alpha2020" in lazy and "nope" not in lazy and len(lazy) == 2


def test_only_recent_entries_stay_unpacked(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "\n".join(f"@misc{{k{i}, title = {{T{i}}}}}" for i in range(40))
    lazy = bibmod.LazyEntries(bibmod.load_text([("l.bib", text)]).entries)
    monkeypatch.setattr(bibmod.LazyEntries, "OPEN", 8)
    for i in range(40):
        assert lazy[f"k{i}"].fields["title"] == f"T{i}"
    assert len(lazy._open) == 8


def test_entries_in_a_file_survive_a_saved_index(tmp_path: Path) -> None:
    lazy = bibmod.LazyEntries(bibmod.load_text([("l.bib", BIB)]).entries, tmp_path / "x.blobs")
    assert lazy._data is None and [p.name for p in tmp_path.iterdir()] == ["x.blobs"]
    again = bibmod.LazyEntries.from_state(json.loads(json.dumps(lazy.state())), tmp_path)
    assert again["alpha2020"].fields["pmid"] == "12345"
    assert again.digest("zed2019") == lazy.digest("zed2019")


def test_a_damaged_entry_of_the_right_size_is_a_clean_miss(tmp_path: Path) -> None:
    bib_path, cdir = _library(tmp_path)
    cache.load_library([bib_path], tmp_path, cdir)
    blobs = next(cdir.glob("*.blobs"))
    data = bytearray(blobs.read_bytes())
    data[5:9] = b"XXXX"  # same size, wrong content
    blobs.write_bytes(bytes(data))
    cache._MEMORY[:] = [None, None]
    bib = cache.load_library([bib_path], tmp_path, cdir)
    with pytest.raises(bibmod.CacheDamaged, match="checksum"):
        bib.entries["alpha2020"]


def test_cache_files_are_data_never_code(tmp_path: Path) -> None:
    bib_path, cdir = _library(tmp_path)
    cache.load_library([bib_path], tmp_path, cdir)
    index = next(cdir.glob("library-*.json"))
    head, _, body = index.read_bytes().partition(b"\n")
    assert head.startswith(b"evidencekb-cache-") and json.loads(body)["entries"]["keys"] == ["alpha2020", "zed2019"]
    # A planted pickle (code on load) in place of the index is never unpickled: it fails the checksum.
    index.write_bytes(pickle.dumps(print))
    cache._MEMORY[:] = [None, None]
    assert cache._read(index) is None
    assert cache.load_library([bib_path], tmp_path, cdir).entries["zed2019"].year == "2019"


def test_a_read_only_cache_with_a_stale_library_still_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    bib_path, cdir = _library(tmp_path)
    cache.load_library([bib_path], tmp_path, cdir)
    bib_path.write_text(BIB.replace("Last but not least", "New title"), encoding="utf-8")
    before = sorted(p.name for p in cdir.iterdir())

    def refuse(*args: object, **kwargs: object) -> object:
        raise PermissionError(13, "Read-only file system")

    # As the cache folder's permissions would (they do not bind root, so the refusal is simulated).
    monkeypatch.setattr(tempfile, "NamedTemporaryFile", refuse)
    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    monkeypatch.setattr(Path, "unlink", refuse)
    cache._MEMORY[:] = [None, None]
    assert cache.load_library([bib_path], tmp_path, cdir).entries["zed2019"].fields["title"] == "New title"
    assert sorted(p.name for p in cdir.iterdir()) == before


def test_an_edited_string_macro_misses_the_format_cache(tmp_path: Path) -> None:
    text = '@string{jt = "Journal One"}\n@article{m, author={M, M}, title={T}, journal=jt, year={2020}}\n'
    bib_path, cdir = _library(tmp_path, text)
    first = cache.load_library([bib_path], tmp_path, cdir)
    f = Formatter(get_style("apa"), cache.FormatCache(cdir, "apa"))
    assert "Journal One" in f.format(first.entries["m"]).text
    f.store.save()
    bib_path.write_text(text.replace("Journal One", "Journal Two"), encoding="utf-8")
    second = cache.load_library([bib_path], tmp_path, cdir)
    assert "Journal Two" in Formatter(get_style("apa"), cache.FormatCache(cdir, "apa")).format(second.entries["m"]).text


def test_an_edited_style_file_misses_the_format_cache(tmp_path: Path) -> None:
    from evidencekb.csl import style_path

    csl = tmp_path / "mine.csl"
    csl.write_text(style_path("apa").read_text(encoding="utf-8"), encoding="utf-8")
    one = cache.FormatCache(tmp_path / ".cache", str(csl))
    csl.write_text(csl.read_text(encoding="utf-8").replace("</style>", "<!-- edited --></style>"), encoding="utf-8")
    two = cache.FormatCache(tmp_path / ".cache", str(csl))
    assert one.path != two.path


def test_cards_come_from_the_format_cache_without_unpacking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bib_path, cdir = _library(tmp_path)
    bib = cache.load_library([bib_path], tmp_path, cdir)
    store = cache.FormatCache(cdir, "apa")
    cold = Cards(bib.entries, Formatter(get_style("apa"), store))["alpha2020"]
    store.save()
    assert cold.short(narrative=False) == "Alpha et al." and cold.year == "2020"
    assert 'href="https://doi.org/10.1234/alpha"' in cold.ids
    monkeypatch.setattr(bib.entries, "_blob", lambda i: pytest.fail("unpacked"))
    warm = Cards(bib.entries, Formatter(get_style("apa"), cache.FormatCache(cdir, "apa")))["alpha2020"]
    assert warm == cold
    assert warm.title.startswith("Alpha, A., Beta, B., &amp; Gamma, G. (2020).")


def test_a_card_is_stored_once_beside_its_formatted_entry(tmp_path: Path) -> None:
    """A card refers to the formatted entry and names stored beside it: they are written
    once, and loaded as one object each, shared by the card."""
    bib_path, cdir = _library(tmp_path)
    bib = cache.load_library([bib_path], tmp_path, cdir)
    store = cache.FormatCache(cdir, "apa")
    cold = Cards(bib.entries, Formatter(get_style("apa"), store))["alpha2020"]
    store.save()
    assert store.path is not None
    text = store.path.read_text(encoding="utf-8")  # the entry's text and HTML, once each
    assert text.count("Alpha, A., Beta, B.") == 2 and '"D":' in text and '"C":' not in text
    again = cache.FormatCache(cdir, "apa")
    digest = bib.entries.digest("alpha2020")  # type: ignore[union-attr]
    card = again.get(("alpha2020", digest, "card"))
    assert card == cold
    assert card.formatted is again.get(("alpha2020", digest)) and card.names is again.get(("alpha2020", digest, "names"))


def test_a_card_without_its_formatted_entry_is_stored_whole_or_made_again(tmp_path: Path) -> None:
    bib_path, cdir = _library(tmp_path)
    bib = cache.load_library([bib_path], tmp_path, cdir)
    store = cache.FormatCache(cdir, "apa")
    card = Cards(bib.entries, Formatter(get_style("apa"), store))["alpha2020"]
    digest = bib.entries.digest("alpha2020")  # type: ignore[union-attr]
    del store.data[("alpha2020", digest)]  # its formatted entry not stored beside it
    store.save()
    assert cache.FormatCache(cdir, "apa").get(("alpha2020", digest, "card")) == card  # stored whole
    assert store.path is not None
    items = cache._read_lines(store.path)
    assert items is not None
    cache._write_lines(store.path, [[k, {"D": ["ref-alpha2020", "", "2020", ""]}] if k[-1] == "card" else [k, v]
                                    for k, v in items])  # a card that refers to a formatted entry the file lacks
    assert cache.FormatCache(cdir, "apa").get(("alpha2020", digest, "card")) is None  # made again when needed


def test_a_card_whose_names_are_not_names_is_made_again(tmp_path: Path) -> None:
    """A damaged store whose names hold a formatted entry (a pair of texts, a tuple too)
    does not give a card that names its entry with the entry's formatted text."""
    bib_path, cdir = _library(tmp_path)
    bib = cache.load_library([bib_path], tmp_path, cdir)
    store = cache.FormatCache(cdir, "apa")
    Cards(bib.entries, Formatter(get_style("apa"), store))["alpha2020"]
    store.save()
    assert store.path is not None
    digest = bib.entries.digest("alpha2020")  # type: ignore[union-attr]
    items = cache._read_lines(store.path)
    assert items is not None
    cache._write_lines(store.path, [[k, {"F": ["Alpha", "<i>Alpha</i>"]}] if k[-1] == "names" else [k, v]
                                    for k, v in items])
    again = cache.FormatCache(cdir, "apa")
    assert again.get(("alpha2020", digest, "names")) == ("Alpha", "<i>Alpha</i>")  # what the damage left
    assert again.get(("alpha2020", digest, "card")) is None


@pytest.mark.parametrize("damage", ["flip a byte", "cut short", "not json", "foreign"])
def test_a_damaged_format_cache_is_a_clean_miss(tmp_path: Path, damage: str) -> None:
    bib_path, cdir = _library(tmp_path)
    bib = cache.load_library([bib_path], tmp_path, cdir)
    store = cache.FormatCache(cdir, "apa")
    Cards(bib.entries, Formatter(get_style("apa"), store))["alpha2020"]
    store.save()
    assert store.path is not None and len(cache.FormatCache(cdir, "apa").data) == 3  # formatted, names, card
    data = store.path.read_bytes()
    head, body = data.split(b"\n", 1)
    if damage == "flip a byte":
        data = head + b"\n" + body.replace(b"Alpha", b"Alphb", 1)
    elif damage == "cut short":
        data = data[:-20]
    elif damage == "not json":  # checksum right, an item that does not parse
        body = body + b"\n[1,"
        data = cache._MAGIC + cache.hashlib.sha256(body).hexdigest().encode() + b"\n" + body
    else:
        data = b"something else\n" + body
    store.path.write_bytes(data)
    assert cache.FormatCache(cdir, "apa").data == {}


def test_a_warm_load_imports_no_parser(tmp_path: Path) -> None:
    import subprocess
    import sys

    bib_path, cdir = _library(tmp_path)
    cache.load_library([bib_path], tmp_path, cdir)
    code = ("import sys\nfrom pathlib import Path\nimport evidencekb.plugin\nfrom evidencekb import cache\n"
            f"bib = cache.load_library([Path({str(bib_path)!r})], Path({str(tmp_path)!r}), Path({str(cdir)!r}))\n"
            "assert bib.entries['zed2019'].year == '2019'\n"
            "print(sorted(m for m in ('bibtexparser', 'pybtex', 'latexcodec', 'citeproc') if m in sys.modules))\n")
    from conftest import child_env

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=child_env())
    assert out.stdout.strip() == "[]"


def test_entries_are_read_where_os_has_no_pread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    lazy = bibmod.LazyEntries(bibmod.load_text([("l.bib", BIB)]).entries, tmp_path / "x.blobs")
    monkeypatch.delattr(os, "pread")
    assert lazy["zed2019"].fields["title"] == "Last but not least"
    assert lazy["alpha2020"].fields["pmid"] == "12345"


@pytest.mark.parametrize(("change", "reason"), [
    (lambda s: s.pop("keys"), "cannot be read ('keys')"),
    (lambda s: s.update(keys="alpha2020"), "cannot be read (a list was expected)"),
    (lambda s: s.update(offsets=[0, True, 2]), "cannot be read (whole numbers were expected)"),
    (lambda s: s.update(lines=["1", "2"]), "cannot be read (whole numbers were expected)"),
    (lambda s: s.update(digests="zz"), "cannot be read"),
    (lambda s: s.update(offsets=[-1, 0, 0]), "cannot be read"),
    (lambda s: s.update(offsets=s["offsets"][:-1]), "is inconsistent"),
    (lambda s: s.update(digests=s["digests"][:-2]), "is inconsistent"),
    (lambda s: s.update(sums=s["sums"][:-2]), "is inconsistent"),
    (lambda s: s.update(lines=s["lines"][:-1]), "is inconsistent"),
    (lambda s: s.update(path_ids=s["path_ids"][:-1]), "is inconsistent"),
    (lambda s: s.update(path_ids=[5] * len(s["path_ids"])), "is inconsistent"),
    (lambda s: s.update(file="../x.blobs"), "is inconsistent"),
    (lambda s: s.update(file="gone.blobs"), "gone.blobs: No such file or directory"),
    (lambda s: s.update(offsets=[*s["offsets"][:-1], s["offsets"][-1] + 1]), "do not match their index"),
])
def test_a_damaged_index_is_refused_with_its_reason(tmp_path: Path, change: object, reason: str) -> None:
    """A cache index that does not agree with itself or its file is a clean miss (CacheDamaged,
    and the build parses the library again), never a wrong entry."""
    lazy = bibmod.LazyEntries(bibmod.load_text([("l.bib", BIB)]).entries, tmp_path / "x.blobs")
    state = json.loads(json.dumps(lazy.state()))
    change(state)  # type: ignore[operator]
    with pytest.raises(bibmod.CacheDamaged) as exc:
        bibmod.LazyEntries.from_state(state, tmp_path)
    assert reason in str(exc.value)
    assert bibmod.LazyEntries.from_state(json.loads(json.dumps(lazy.state())), tmp_path)["zed2019"].year == "2019"


def test_the_least_recently_used_entry_is_packed_again_first(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "\n".join(f"@misc{{k{i}, title = {{T{i}}}}}" for i in range(5))
    lazy = bibmod.LazyEntries(bibmod.load_text([("l.bib", text)]).entries)
    monkeypatch.setattr(bibmod.LazyEntries, "OPEN", 3)
    for key in ("k0", "k1", "k2", "k0", "k3"):  # k0 used again, so k1 is the least recent
        assert lazy[key].key == key
    assert list(lazy._open) == ["k2", "k0", "k3"]
    assert lazy["k0"] is lazy._open["k0"]  # an open entry is not unpacked again


def test_a_saved_index_gives_every_entrys_hash_and_place(tmp_path: Path) -> None:
    text = "@misc{a, title={A}}\n\n@misc{b, title={B}}\n\n@misc{c, title={C}}\n"
    plain = bibmod.load_text([("refs/l.bib", text)])
    lazy = bibmod.LazyEntries(plain.entries, tmp_path / "x.blobs")
    again = bibmod.LazyEntries.from_state(json.loads(json.dumps(lazy.state())), tmp_path)
    for key, e in plain.entries.items():
        assert (again.digest(key), again.place(key)) == (e.digest, ("refs/l.bib", e.line))


def test_an_index_naming_a_file_it_does_not_list_is_damaged(tmp_path: Path) -> None:
    lazy = bibmod.LazyEntries(bibmod.load_text([("l.bib", BIB)]).entries, tmp_path / "x.blobs")
    state = json.loads(json.dumps(lazy.state()))
    state["path_ids"] = [len(state["paths"])] * len(state["keys"])  # one past the last file
    with pytest.raises(bibmod.CacheDamaged, match="inconsistent"):
        bibmod.LazyEntries.from_state(state, tmp_path)


def test_a_packed_file_is_read_through_the_descriptor_opened_when_packing(tmp_path: Path) -> None:
    import gc

    entries = bibmod.load_text([("l.bib", BIB)]).entries
    lazy = bibmod.LazyEntries(entries, tmp_path / "x.blobs")
    (tmp_path / "other").write_bytes(b"\0" * (tmp_path / "x.blobs").stat().st_size)
    os.replace(tmp_path / "other", tmp_path / "x.blobs")  # a newer build replaces the file
    assert lazy["alpha2020"].fields == entries["alpha2020"].fields  # still the file it packed
    fd = lazy._fd
    assert fd is not None
    del lazy
    gc.collect()
    with pytest.raises(OSError):
        os.fstat(fd)  # closed with the library


def test_packing_that_fails_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entries = bibmod.load_text([("l.bib", BIB)]).entries
    calls = iter(range(10))
    original = bibmod.Entry.to_data

    def to_data(self: bibmod.Entry) -> dict[str, object]:
        if next(calls) == 1:
            raise RuntimeError("disk full")
        return original(self)

    monkeypatch.setattr(bibmod.Entry, "to_data", to_data)
    with pytest.raises(RuntimeError):
        bibmod.LazyEntries(entries, tmp_path / "x.blobs")
    assert list(tmp_path.iterdir()) == []


def test_a_child_entrys_hash_follows_its_parent_wherever_it_stands(tmp_path: Path) -> None:
    text = ("@misc{a, title={A}}\n@misc{b, title={B}}\n@book{p, title={P}, publisher={Pub}, year={2001}}\n"
            "@inbook{c, crossref={p}, title={C}}\n@misc{d, title={D}}\n")
    path, _ = _library(tmp_path, text)
    plain = bibmod.load_text([("references/lib.bib", text)])
    packed = cache._load([path], tmp_path, tmp_path / "x.blobs").entries
    assert isinstance(packed, bibmod.LazyEntries)
    assert {k: packed.digest(k) for k in plain.entries} == {k: e.digest for k, e in plain.entries.items()}


def test_a_library_parsed_again_sweeps_what_other_versions_wrote(tmp_path: Path) -> None:
    """An upgrade, or an edited library, parses the library again: what another version of
    the package formatted or scanned goes with the old library's files; this version's
    files, whatever style wrote them, and files not the cache's stay."""
    bib_path, cdir = _library(tmp_path)
    now, other = cache.generation(), "0" * 16
    assert len(now) == 16 and now != other
    stale = [f"format-{other}-{'a' * 16}.json", f"scans-{other}.json", f"downloads-{other}.json",
             f"format-{'b' * 24}.json", "library-" + "c" * 32 + ".json", "library-" + "c" * 32 + ".blobs"]
    kept = [f"format-{now}-{'a' * 16}.json", f"format-{now}-{'d' * 16}.json", f"scans-{now}.json",
            f"downloads-{now}.json", "notes.txt", "format-notes.json"]
    cdir.mkdir(parents=True)
    for name in stale + kept:
        (cdir / name).write_text("{}", encoding="utf-8")
    for name in ("zensical", f"downloads-{other}", f"downloads-{now}", f"format-{other}"):
        (cdir / name).mkdir()
        (cdir / name / f"{'e' * 64}.bib").write_text("@misc{x}\n", encoding="utf-8")
    cache.load_library([bib_path], tmp_path, cdir)
    left = {p.name for p in cdir.iterdir()}
    assert not left & {*stale, f"downloads-{other}"}  # another version's downloads folder goes
    assert set(kept) | {"zensical", f"downloads-{now}", f"format-{other}"} <= left
    assert len([n for n in left if n.startswith("library-")]) == 2  # this library's index and entries


def test_this_versions_files_are_named_by_it(tmp_path: Path) -> None:
    now = cache.generation()
    assert cache.FormatCache(tmp_path, "apa").path.name.startswith(f"format-{now}-")  # type: ignore[union-attr]
    assert cache.ScanCache(tmp_path).path == tmp_path / f"scans-{now}.json"
    assert cache.TextMemo(tmp_path, "downloads").path == tmp_path / f"downloads-{now}.json"
    assert cache.FormatCache(tmp_path, "apa").path != cache.FormatCache(tmp_path, "vancouver").path


def test_what_was_formatted_from_an_edited_or_removed_entry_is_dropped(tmp_path: Path) -> None:
    bib_path, cdir = _library(tmp_path)
    bib = cache.load_library([bib_path], tmp_path, cdir)
    store = cache.FormatCache(cdir, "apa")
    cards = Cards(bib.entries, Formatter(get_style("apa"), store))
    cards["alpha2020"], cards["zed2019"]
    store.save(cache.in_library(bib.entries))
    old = {k[:2] for k in cache.FormatCache(cdir, "apa").data}
    assert len(old) == 2 and len(cache.FormatCache(cdir, "apa").data) == 6  # entry, names, card each

    bib_path.write_text(BIB.replace("Last but not least", "Changed"), encoding="utf-8")
    cache._MEMORY[:] = [None, None]
    edited = cache.load_library([bib_path], tmp_path, cdir)
    store = cache.FormatCache(cdir, "apa")
    assert "Changed" in Formatter(get_style("apa"), store).format(edited.entries["zed2019"]).text
    store.save(cache.in_library(edited.entries))
    again = cache.FormatCache(cdir, "apa").data
    alpha = ("alpha2020", edited.entries.digest("alpha2020"))  # type: ignore[union-attr]
    zed = ("zed2019", edited.entries.digest("zed2019"))  # type: ignore[union-attr]
    assert {k[:2] for k in again} == {alpha, zed}  # the old title's output is gone
    assert alpha + ("card",) in again  # unchanged entries keep all they had

    bib_path.write_text(BIB.split("@article{zed2019")[0], encoding="utf-8")
    cache._MEMORY[:] = [None, None]
    removed = cache.load_library([bib_path], tmp_path, cdir)
    store = cache.FormatCache(cdir, "apa")
    store.save(cache.in_library(removed.entries))  # nothing new formatted: written for what it dropped
    assert {k[:2] for k in cache.FormatCache(cdir, "apa").data} == {alpha}


def test_a_store_with_nothing_stale_or_new_is_not_written_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = BIB + "@book{p, title={P}, publisher={Pub}, year={2001}}\n@inbook{c, crossref={p}, title={C}}\n"
    bib_path, cdir = _library(tmp_path, text)
    bib = cache.load_library([bib_path], tmp_path, cdir)
    store = cache.FormatCache(cdir, "apa")
    f = Formatter(get_style("apa"), store)
    for key in bib.entries:
        f.format(bib.entries[key])
    store.save(cache.in_library(bib.entries))
    assert len(cache.FormatCache(cdir, "apa").data) == 8  # a child keeps what it was formatted under
    monkeypatch.setattr(cache, "_write_lines", lambda *a: pytest.fail("written again"))
    cache.FormatCache(cdir, "apa").save(cache.in_library(bib.entries))


def test_in_library_reads_entries_of_a_plain_mapping_too() -> None:
    bib = bibmod.load_text([("lib.bib", BIB)])
    current = cache.in_library(bib.entries)
    assert current("zed2019", bib.entries["zed2019"].digest)
    assert not current("zed2019", bib.entries["alpha2020"].digest)
    assert not current("missing", bib.entries["zed2019"].digest)


def test_workers_read_the_entries_they_format_and_this_process_unpacks_none(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A first build's workers read the entries they format from the packed library: the
    building process neither unpacks nor sends them (nor holds them while they work)."""
    import sys

    import citeproc

    from evidencekb import csl

    if not sys.platform.startswith("linux"):
        pytest.skip("entries are formatted across processes only where the platform forks")
    text = "".join(f"@article{{k{i}, author={{Writer{i}, Ann}}, title={{Title {i}}}, journal={{J Test}}, "
                   f"year={{20{i:02d}}}}}\n" for i in range(12))
    bib_path, cdir = _library(tmp_path, text)
    cache.load_library([bib_path], tmp_path, cdir)
    cache._MEMORY[:] = [None, None]
    entries = cache.load_library([bib_path], tmp_path, cdir).entries  # read back: nothing unpacked yet
    assert isinstance(entries, bibmod.LazyEntries)
    here, unpacked = os.getpid(), []
    real = entries.written

    def written(key: str) -> bibmod.Entry:
        if os.getpid() == here:
            unpacked.append(key)
        return real(key)

    monkeypatch.setattr(entries, "written", written)
    monkeypatch.setattr(csl, "PARALLEL_MIN", 2)
    styles_read: list[str] = []  # by this process; the workers read their own
    real_style = citeproc.CitationStylesStyle

    def read_style(path: str, *args: object, **kwargs: object) -> object:
        if os.getpid() == here:
            styles_read.append(Path(path).name)
        return real_style(path, *args, **kwargs)

    monkeypatch.setattr(citeproc, "CitationStylesStyle", read_style)
    csl.get_style.cache_clear()  # no style read before this test: each is read afresh
    f = Formatter(get_style("apa"))
    keys = list(entries)
    assert f.prefetch(keys, entries, workers=2) == 12
    assert unpacked == [] and styles_read == []
    assert f.prefetch(keys, entries, workers=2) == 0  # all formatted, and found without unpacking
    local = Formatter(get_style("apa"))
    assert [f.format(entries[k]) for k in keys] == [local.format(entries[k]) for k in keys]
    assert styles_read == [get_style("apa").path.name]  # formatting here, as `local` did, reads it
    assert "Writer3, A. (2003). Title 3. J Test." in f.format(entries["k3"]).text


def test_a_store_is_pruned_by_the_packed_hashes_and_written_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Saving at the end of a build compares the stored hashes with the packed library's,
    unpacking no entry, and a store saved once is not written again by its next save."""
    bib_path, cdir = _library(tmp_path)
    bib = cache.load_library([bib_path], tmp_path, cdir)
    store = cache.FormatCache(cdir, "apa")
    f = Formatter(get_style("apa"), store)
    f.format(bib.entries["alpha2020"])
    cache._MEMORY[:] = [None, None]
    entries = cache.load_library([bib_path], tmp_path, cdir).entries  # read back: nothing unpacked
    monkeypatch.setattr(entries, "written", lambda key: pytest.fail("unpacked"))
    store.save(cache.in_library(entries))
    assert len(cache.FormatCache(cdir, "apa").data) == 2  # the entry and its names
    monkeypatch.setattr(cache, "_write_lines", lambda *a: pytest.fail("written again"))
    store.save(cache.in_library(entries))


def test_what_a_build_formats_outside_the_library_is_kept_while_builds_use_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A claim page's own entry ("cite this page") is not in the library: kept while builds
    format it, so that a warm build neither formats it again nor rewrites the store; dropped
    by the first build that does not use it."""
    from evidencekb.bibliography import Entry

    bib_path, cdir = _library(tmp_path)
    entries = cache.load_library([bib_path], tmp_path, cdir).entries
    page = Entry("site2024claim", "online", {"author": "{Site}", "title": "A claim", "year": "2024",
                                             "url": "https://example.org/c/"}, "", 0)
    f = Formatter(get_style("apa"), cache.FormatCache(cdir, "apa"))
    made = f.format(page)
    f.store.save(cache.in_library(entries))  # type: ignore[union-attr]
    warm = Formatter(get_style("apa"), cache.FormatCache(cdir, "apa"))  # the next build
    monkeypatch.setattr(Formatter, "_render", lambda self, e: pytest.fail("formatted again"))
    assert warm.format(page) == made
    monkeypatch.setattr(cache, "_write_lines", lambda *a: pytest.fail("written again"))
    warm.store.save(cache.in_library(entries))  # type: ignore[union-attr]
    monkeypatch.undo()
    assert (page.key, page.digest) in warm.store.data  # type: ignore[union-attr]
    warm.store.save(cache.in_library(entries))  # a build that did not use it  # type: ignore[union-attr]
    assert (page.key, page.digest) not in cache.FormatCache(cdir, "apa").data


def test_an_entrys_hash_is_the_same_read_packed_or_parsed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bib_path, cdir = _library(tmp_path)
    plain = bibmod.load_text([("references/lib.bib", BIB)])
    packed = cache.load_library([bib_path], tmp_path, cdir).entries
    monkeypatch.setattr(packed, "written", lambda key: pytest.fail("unpacked"))
    for key in ("alpha2020", "zed2019"):
        assert bibmod.digest_of(packed, key) == bibmod.digest_of(plain.entries, key) == plain.entries[key].digest


def test_a_store_is_written_a_line_at_a_time_and_reads_back(tmp_path: Path) -> None:
    """A large cache file is written as its lines are made, never held whole (nor copied) in
    memory; what is read back is what was written, checked against the hash in its head."""
    import hashlib
    import tracemalloc

    items = [[[f"k{i}", f"d{i}"], {"text": "x" * 400, "n": i}] for i in range(10_000)]
    path = tmp_path / "store.jsonl"
    size = sum(len(json.dumps(item)) for item in items)
    tracemalloc.start()
    try:
        cache._write_lines(path, iter(items))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    data = path.read_bytes()
    assert size > 4_000_000 and peak < size / 4  # held whole (and copied), it was 2-3 times the size
    head, _, body = data.partition(b"\n")
    assert head == cache._MAGIC + hashlib.sha256(body).hexdigest().encode()
    lines = cache._read_lines(path)
    assert lines is not None and list(lines) == items
    cache._write(path, {"one": ["value"]})
    assert cache._read(path) == {"one": ["value"]}
    assert not [p for p in tmp_path.iterdir() if p.name != "store.jsonl"]  # no temporary left


def test_a_cache_file_is_written_beside_its_place_whatever_folders_it_needs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its folders are made, however deep; its temporary file is in the same folder (so that
    moving it into place is atomic, on the same file system), hidden, and gone afterwards."""
    moved: list[tuple[Path, Path]] = []
    real = os.replace

    def replace(src: str, dst: Path) -> None:
        moved.append((Path(src), Path(dst)))
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "a" / "b" / "c" / "scans.json"
    cache._write(target, {"k": 1})
    assert cache._read(target) == {"k": 1}
    [(src, dst)] = moved
    assert dst == target and src.parent == target.parent and src.name.startswith(".scans.json.")
    assert sorted(p.name for p in target.parent.iterdir()) == ["scans.json"]


def test_a_cache_write_that_fails_leaves_nothing_and_the_build_goes_on(tmp_path: Path) -> None:
    """A disk that fills up half-way through a cache file: no file, no temporary, no error
    (the build goes on without that cache), and an older file stays whole."""
    def lines() -> Iterator[bytes]:
        yield b'["a"]'
        raise OSError(28, "No space left on device")

    target = tmp_path / "store.jsonl"
    cache._write_body(target, lines())
    assert list(tmp_path.iterdir()) == []
    cache._write_lines(target, [["old"]])
    cache._write_body(target, lines())
    assert list(tmp_path.iterdir()) == [target] and list(cache._read_lines(target) or []) == [["old"]]


def test_kept_files_are_given_as_files_and_made_again_when_damaged(tmp_path: Path) -> None:
    """The downloads are kept as files named by the hash of their bytes: the next build gets
    the files (to copy, never read into memory), but not a file changed since, nor a key
    another build did not keep."""
    texts = {"downloads/references.bib": "@misc{a,\n  title = {Ä}\n}\n", "downloads/references.ris": "TY  - GEN\n"}
    memo = cache.FileMemo(tmp_path, "downloads")
    assert memo.files("k1") is None
    files = memo.put("k1", texts)
    assert files is not None and set(files) == set(texts)
    for path, text in texts.items():
        assert files[path].read_text(encoding="utf-8") == text
        assert files[path].parent == tmp_path / f"downloads-{cache.generation()}"
        assert files[path].suffix == Path(path).suffix
    memo.save()
    again = cache.FileMemo(tmp_path, "downloads")
    assert again.files("k1") == files and again.files("k2") is None
    files["downloads/references.ris"].write_text("TY  - JOUR\n", encoding="utf-8")  # damaged, or edited by hand
    assert cache.FileMemo(tmp_path, "downloads").files("k1") is None
    files["downloads/references.ris"].unlink()
    assert cache.FileMemo(tmp_path, "downloads").files("k1") is None


def test_kept_files_no_build_names_are_removed_once_unused_for_a_while(tmp_path: Path) -> None:
    """A build removes the kept files no key of it names, once no build has used them for
    an hour: another build of the same site (another state of its library) may be about
    to copy one it made or checked."""
    memo = cache.FileMemo(tmp_path, "downloads")
    old = memo.put("old", {"a.bib": "@misc{old}\n"})
    shared = memo.put("shared", {"b.bib": "@misc{same}\n"})
    recent = memo.put("recent", {"r.bib": "@misc{recent}\n"})
    memo.save()
    assert old is not None and shared is not None and recent is not None
    crash = memo.dir / ".a.bib.tmp-left-by-a-crash"  # type: ignore[operator]
    crash.write_text("x")
    an_hour_ago = time.time() - cache.UNUSED_KEPT - 5
    for f in (old["a.bib"], shared["b.bib"], crash):
        os.utime(f, (an_hour_ago, an_hour_ago))
    nxt = cache.FileMemo(tmp_path, "downloads")
    assert nxt.files("shared") == shared  # used by this build: counted from now
    assert shared["b.bib"].stat().st_mtime > an_hour_ago + 60
    new = nxt.put("new", {"c.bib": "@misc{same}\n"})  # the same bytes: the same file
    assert new is not None and new["c.bib"] == shared["b.bib"]
    nxt.save()
    assert sorted(memo.dir.iterdir()) == sorted([shared["b.bib"], recent["r.bib"]])  # type: ignore[union-attr]
    last = cache.FileMemo(tmp_path, "downloads")
    assert last.files("old") is None and last.files("new") == {"c.bib": shared["b.bib"]}
    assert last.files("recent") is None  # kept a while as a file, but no longer in the index


def test_files_that_cannot_be_kept_are_none(tmp_path: Path) -> None:
    assert cache.FileMemo(None, "downloads").put("k", {"a.bib": "x"}) is None
    (tmp_path / f"downloads-{cache.generation()}").write_text("a file where the folder goes")
    memo = cache.FileMemo(tmp_path, "downloads")
    assert memo.put("k", {"a.bib": "x"}) is None and memo.files("k") is None
    memo.save()  # nothing to prune, nothing raised


def test_downloads_a_process_cannot_keep_are_sent_as_texts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from evidencekb import site as sitemod

    bib_path, cdir = _library(tmp_path)
    lib = cache.load_library([bib_path], tmp_path, cdir)
    monkeypatch.setattr(sitemod, "_DOWNLOADS_LIBRARY", [lib.entries])
    missing = [("k1", "downloads/references", ["alpha2020", "zed2019"])]
    kept = sitemod._make_downloads(missing, cdir)
    assert kept["k1"][0] == "kept" and set(kept["k1"][1]) == {"downloads/references.bib", "downloads/references.json",
                                                               "downloads/references.ris"}
    texts = sitemod._download_files(lib.entries, "downloads/references", ["alpha2020", "zed2019"])
    memo = cache.FileMemo(cdir, "downloads")
    files = memo.made("k1", kept["k1"][1])
    assert files is not None and {p: f.read_text(encoding="utf-8") for p, f in files.items()} == texts
    assert sitemod._make_downloads(missing, None) == {"k1": ("texts", texts)}
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / f"downloads-{cache.generation()}").write_text("a file where the folder goes")
    assert sitemod._make_downloads(missing, blocked) == {"k1": ("texts", texts)}


@pytest.mark.parametrize("sha", ["../" * 3 + "etc/passwd", "e" * 63, "E" * 64, "e" * 64 + "/x", 7])
def test_an_index_naming_anything_but_a_kept_file_gives_nothing(tmp_path: Path, sha: object) -> None:
    """The index is read from a cache that may come from elsewhere: it names a file only by
    a SHA-256 in the memo's own folder."""
    memo = cache.FileMemo(tmp_path, "downloads")
    assert memo.put("k", {"a.bib": "@misc{a}\n"}) is not None
    memo.save()
    assert memo.index.path == tmp_path / f"downloads-{cache.generation()}.json"
    index = json.loads(memo.index.path.read_bytes().partition(b"\n")[2])  # type: ignore[union-attr]
    index["k"]["a.bib"] = sha
    cache._write(memo.index.path, index)  # type: ignore[arg-type]
    assert cache.FileMemo(tmp_path, "downloads").files("k") is None
    assert memo._file("a.bib", str(sha)) is None


@pytest.mark.parametrize("names", ["a.bib", ["a.bib"], {}, None])
def test_an_index_entry_that_is_not_a_mapping_of_files_gives_nothing(tmp_path: Path, names: object) -> None:
    memo = cache.FileMemo(tmp_path, "downloads")
    memo.index.data["k"] = names
    assert memo.files("k") is None and "k" not in memo.index.used


def test_a_kept_file_that_fails_its_check_is_not_named_again(tmp_path: Path) -> None:
    memo = cache.FileMemo(tmp_path, "downloads")
    files = memo.put("k", {"a.bib": "@misc{a}\n"})
    assert files is not None and memo.index.used["k"]
    files["a.bib"].write_text("@misc{b}\n")
    assert memo.files("k") is None and "k" not in memo.index.used
    memo.save()
    assert "k" not in cache.FileMemo(tmp_path, "downloads").index.data


def test_a_kept_file_already_there_is_not_written_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    memo = cache.FileMemo(tmp_path, "downloads")
    first = memo.put("k", {"a.bib": "@misc{a}\n"})
    assert first is not None
    inode = first["a.bib"].stat().st_ino
    assert memo.put("k2", {"b.bib": "@misc{a}\n"}) == {"b.bib": first["a.bib"]}
    assert first["a.bib"].stat().st_ino == inode  # not replaced by a copy of itself


def test_kept_files_are_given_where_their_time_cannot_be_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    memo = cache.FileMemo(tmp_path, "downloads")
    files = memo.put("k", {"a.bib": "@misc{a}\n"})

    def refused(*args: object) -> None:
        raise PermissionError("read-only")

    monkeypatch.setattr(os, "utime", refused)
    assert files is not None and cache.FileMemo(tmp_path, "downloads").files("k") is None  # not saved yet
    memo.save()
    assert cache.FileMemo(tmp_path, "downloads").files("k") == files


def test_kept_files_are_made_in_folders_not_there_yet(tmp_path: Path) -> None:
    memo = cache.FileMemo(tmp_path / "new" / "cache", "downloads")
    files = memo.put("k", {"a.bib": "@misc{a}\n"})
    assert files is not None and files["a.bib"].read_text() == "@misc{a}\n"
    assert [p.name for p in files["a.bib"].parent.iterdir()] == [files["a.bib"].name]  # no temporary file left


def test_a_kept_file_is_named_by_its_hash_and_the_suffix_of_its_path(tmp_path: Path) -> None:
    memo = cache.FileMemo(tmp_path, "downloads")
    files = memo.put("k", {"d/x.bib": "a", "d/x.json": "a", "d/x": "a", "d/x.no suffix": "a", "d/X.RIS": "a",
                           "d/x.ünï": "a"})
    assert files is not None
    sha = __import__("hashlib").sha256(b"a").hexdigest()
    assert {p: f.name for p, f in files.items()} == {"d/x.bib": sha + ".bib", "d/x.json": sha + ".json",
                                                       "d/x": sha, "d/x.no suffix": sha, "d/X.RIS": sha + ".RIS",
                                                       "d/x.ünï": sha}


def test_a_kept_file_removed_while_a_build_saves_is_no_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another build of the same site may remove a kept file between this build's listing of
    the folder and its look at the file."""
    memo = cache.FileMemo(tmp_path, "downloads")
    assert memo.put("k", {"a.bib": "@misc{a}\n"}) is not None
    listed = [memo.dir / ("f" * 64 + ".bib"), *memo.dir.iterdir()]  # type: ignore[operator]
    monkeypatch.setattr(Path, "iterdir", lambda self: iter(listed))
    memo.save()
    assert memo.index.path.exists()  # type: ignore[union-attr]
