"""Importing the exports reference managers and PubMed produce (``evidencekb add``), format by
format and field by field: RIS as its specification tags it, PubMed's MEDLINE, CSL-JSON as
Zotero writes it, and BibTeX kept as written; house keys; refused duplicates; escaping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evidencekb.bibliography import load_text
from evidencekb.importers import (
    ImportError_,
    Record,
    assign_keys,
    check_records,
    fetch_doi,
    house_key,
    parse_bibtex,
    parse_csl_json,
    parse_nbib,
    parse_ris,
    read_file,
    to_bibtex,
)

RIS = """TY  - JOUR
AU  - Fairclough, John
A1  - Hayashi, Koji
AU  - Smith and Sons, Ltd
TI  - The functional anatomy of the iliotibial band
T1  - Not this title
JO  - Journal of Anatomy
J2  - J Anat
PY  - 2006/03/01
VL  - 208
IS  - 3
SP  - 309
EP  - 316
DO  - https://doi.org/10.1111/j.1469-7580.2006.00531.x
AN  - 16533314
UR  - https://example.org/fair
AB  - The band is fascia.
PB  - Wiley
ER  -

TY  - BOOK
T1  - Lore of running
JF  - Not a journal for a book, but kept
Y1  - 2003
SP  - 12
AN  - not-a-pmid
ER  -
"""


def test_ris_fields_by_tag() -> None:
    art, book = parse_ris(RIS, "x.ris")
    assert art.type == "article" and book.type == "book"
    assert art.source == "x.ris:1" and book.source == "x.ris:21"
    assert art.fields == {
        "author": "Fairclough, John and {Smith and Sons, Ltd} and Hayashi, Koji",  # AU, then A1; 'and' braced
        "title": "The functional anatomy of the iliotibial band", "journal": "Journal of Anatomy",
        "shortjournal": "J Anat", "year": "2006", "volume": "208", "number": "3", "pages": "309--316",
        "doi": "10.1111/j.1469-7580.2006.00531.x", "pmid": "16533314", "url": "https://example.org/fair",
        "abstract": "The band is fascia.", "publisher": "Wiley",
    }
    # T1 when there is no TI, JF when there is no JO, Y1 for the year, one page alone, no
    # PMID from an accession number that is not one, and no empty field.
    assert book.fields == {"title": "Lore of running", "journal": "Not a journal for a book, but kept",
                           "year": "2003", "pages": "12"}


@pytest.mark.parametrize(("ty", "bibtype"), [("JOUR", "article"), ("JFULL", "article"), ("EJOUR", "article"),
                                             ("BOOK", "book"), ("CHAP", "incollection"), ("CONF", "inproceedings"),
                                             ("CPAPER", "inproceedings"), ("THES", "phdthesis"), ("RPRT", "techreport"),
                                             ("ELEC", "online"), ("WEB", "online"), ("GEN", "misc"), ("SOUND", "misc")])
def test_ris_types(ty: str, bibtype: str) -> None:
    (rec,) = parse_ris(f"TY  - {ty}\nTI  - T\nER  - \n", "t.ris")
    assert rec.type == bibtype


def test_ris_other_sources_of_fields() -> None:
    (rec,) = parse_ris("TY  - JOUR\nT2  - Container\nJA  - Abbrev\nDA  - 1999\nN2  - Summary\nER  -\n", "t.ris")
    assert rec.fields == {"journal": "Container", "shortjournal": "Abbrev", "year": "1999", "abstract": "Summary"}
    (rec,) = parse_ris("TY  - JOUR\nPY  - n.d.\nAU  -   \nER  -\n", "t.ris")
    assert rec.fields == {}  # a year that is not one, and an empty author, leave nothing behind


@pytest.mark.parametrize(("text", "message"), [
    ("Hello\nTY  - JOUR\nER  -\n", "t.ris:1: not an RIS line"),
    ("TI  - before\nTY  - JOUR\nER  -\n", "t.ris:1: 'TI' before the first 'TY  -' line."),
    ("TY  - JOUR\nTI  - T\nER  -\n\nTY  - BOOK\nTI  - open\n", "t.ris:5: record has no closing 'ER  -' line."),
])
def test_ris_errors_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(ImportError_) as exc:
        parse_ris(text, "t.ris")
    assert message in str(exc.value)


def test_ris_wrapped_lines_continue_their_field_and_blank_lines_are_nothing() -> None:
    recs = parse_ris("TY  - JOUR\nTI  - A long\n  title\nAB  - First line\nsecond line\n\nER  -\n\n"
                     "TY  - JOUR\nTI  - B\nER  -\n", "t.ris")
    assert [r.fields for r in recs] == [{"title": "A long title", "abstract": "First line second line"}, {"title": "B"}]
    with pytest.raises(ImportError_, match=r"t\.ris:4: not an RIS line"):
        parse_ris("TY  - JOUR\nTI  - A\nER  -\nnotes between records\n", "t.ris")


NBIB = """PMID- 16533314
TI  - The functional anatomy of the iliotibial band during flexion and extension of
      the knee: implications for understanding iliotibial band syndrome.
FAU - Fairclough, John
AU  - Fairclough J
FAU - Hayashi, Koji
DP  - 2006 Mar
JT  - Journal of anatomy
TA  - J Anat
VI  - 208
IP  - 3
PG  - 309-16
AB  - The band is fascia.
AID - 10.1111/j.1469-7580.2006.00531.x [doi]
AID - PMC2100245 [pmc]

PMID- 2
TI  - Second
AU  - Solo A
PG  - 100-120
LID - 10.5555/second [doi]
PMC - PMC9

PMID- 3
TI  - Third
PG  - e123
"""


def test_medline_fields() -> None:
    first, second, third = parse_nbib(NBIB, "p.nbib")
    assert (first.source, second.source, third.source) == ("p.nbib:1", "p.nbib:17", "p.nbib:24")
    assert first.type == "article"
    assert first.fields == {
        "author": "Fairclough, John and Hayashi, Koji",  # the full names (FAU) over the short ones
        "title": "The functional anatomy of the iliotibial band during flexion and extension of the knee: "
                 "implications for understanding iliotibial band syndrome",  # continuation joined, stop dropped
        "journal": "Journal of anatomy", "shortjournal": "J Anat", "year": "2006", "volume": "208", "number": "3",
        "pages": "309--316",  # MEDLINE's shortened range written out
        "pmid": "16533314", "doi": "10.1111/j.1469-7580.2006.00531.x", "pmcid": "PMC2100245",
        "abstract": "The band is fascia.",
    }
    assert second.fields == {"author": "Solo A", "title": "Second", "pages": "100--120", "pmid": "2",
                             "doi": "10.5555/second", "pmcid": "PMC9"}
    assert third.fields == {"title": "Third", "pages": "e123", "pmid": "3"}


def test_medline_bad_line_is_located() -> None:
    with pytest.raises(ImportError_, match=r"p\.nbib:2: not a MEDLINE line"):
        parse_nbib("PMID- 1\nthis is not medline\n", "p.nbib")


CSL = [
    {"type": "article-journal", "title": "Iliotibial band syndrome", "container-title": "BMJ",
     "container-title-short": "BMJ", "volume": 12, "issue": "3", "page": "100 – 108", "DOI": "doi:10.1136/x",
     "PMID": "123", "PMCID": "PMC4", "URL": "https://example.org", "publisher": "BMJ Publishing", "abstract": "A.",
     "issued": {"date-parts": [["2011", 5]]},
     "author": [{"family": "Berg", "given": "Pieter", "non-dropping-particle": "van der"},
                {"literal": "World Health Organization"}, {"family": "Plato"}]},
    {"type": "chapter", "title": "Raw date", "issued": {"raw": "Spring 1998"}},
    {"type": "no-such-type", "title": "Literal date", "issued": {"literal": "circa 2001"}},
    {"title": "No date at all", "issued": {"date-parts": [[]]}},
]


def test_csl_json_fields() -> None:
    a, b, c, d = parse_csl_json(json.dumps(CSL), "z.json")
    assert (a.type, b.type, c.type, d.type) == ("article", "incollection", "misc", "misc")
    assert a.source == "z.json: item 1" and d.source == "z.json: item 4"
    assert a.fields == {
        "author": "van der Berg, Pieter and {World Health Organization} and Plato", "title": "Iliotibial band syndrome",
        "journal": "BMJ", "shortjournal": "BMJ", "year": "2011", "volume": "12", "number": "3", "pages": "100--108",
        "doi": "10.1136/x", "pmid": "123", "pmcid": "PMC4", "url": "https://example.org", "publisher": "BMJ Publishing",
        "abstract": "A.",
    }
    assert b.fields == {"title": "Raw date", "year": "1998"}
    assert c.fields == {"title": "Literal date", "year": "2001"}
    assert d.fields == {"title": "No date at all"}
    (one,) = parse_csl_json(json.dumps({"type": "book", "title": "Alone", "issued": {"date-parts": [[1999]]}}), "o.json")
    assert one.type == "book" and one.fields == {"title": "Alone", "year": "1999"}  # one object, not a list


@pytest.mark.parametrize(("item", "message"), [
    ("[1]", "z.json: item 1 is not a CSL-JSON object."),
    ('[{"title": ["a"]}]', "z.json: item 1: 'title' must be text, not list."),
    ('[{"title": true}]', "'title' must be text, not bool."),
    ('[{"author": "Smith"}]', "'author' must be a list of names, not str."),
    ('[{"author": ["Smith"]}]', "each author must be an object with family and given names."),
    ('[{"author": [{"family": 3}]}]', "author name parts must be text."),
    ('[{"issued": "2001"}]', "'issued' must be an object with date-parts, not str."),
    ('[{"issued": {"date-parts": [2001]}}]', "'issued' date-parts must be [[year, month, day]]."),
    ('[{"issued": {"date-parts": []}}]', "'issued' date-parts must be [[year, month, day]]."),
    ('[{"issued": {"date-parts": [["soon"]]}}]', "the year in 'issued' must be a number, not 'soon'."),
    ('[{"issued": {"date-parts": [[true]]}}]', "the year in 'issued' must be a number, not True."),
    ('{"a": 1,\n "b": }', "z.json:2: not valid JSON"),
])
def test_csl_json_errors_say_what_is_wrong(item: str, message: str) -> None:
    with pytest.raises(ImportError_) as exc:
        parse_csl_json(item, "z.json")
    assert message in str(exc.value)


def test_bibtex_is_kept_as_written_and_its_errors_are_located() -> None:
    (rec,) = parse_bibtex("\n@article{Key1, title = {The {ITB} and \\emph{TFL}}, year = 2001}\n", "in.bib")
    assert (rec.type, rec.key, rec.latex, rec.source) == ("article", "", True, "in.bib:2")
    assert rec.fields == {"title": "The {ITB} and \\emph{TFL}", "year": "2001"}
    with pytest.raises(ImportError_, match=r"^in\.bib:1: "):
        parse_bibtex("@article{broken, title = {unclosed}\n", "in.bib")


def test_read_file_chooses_the_reader_by_suffix_and_content(tmp_path: Path) -> None:
    files = {"a.ris": "TY  - JOUR\nTI  - R\nER  -\n", "a.txt": "\ufeffTY  - JOUR\nTI  - T\nER  -\n",
             "a.nbib": "PMID- 1\nTI  - N\n", "pubmed.medline": "PMID- 2\nTI  - M\n", "export": "PMID- 3\nTI  - P\n",
             "a.json": '[{"title": "J"}]', "a.bib": "@misc{k, title = {B}}", "bib.data": "  @misc{k, title = {D}}"}
    titles = {}
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        (rec,) = read_file(tmp_path / name)
        titles[name] = rec.fields["title"]
    assert titles == {"a.ris": "R", "a.txt": "T", "a.nbib": "N", "pubmed.medline": "M", "export": "P", "a.json": "J",
                      "a.bib": "B", "bib.data": "D"}


def test_read_file_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    with pytest.raises(ImportError_, match="is a folder; give an export file"):
        read_file(tmp_path)
    (tmp_path / "latin1.ris").write_bytes(b"TY  - JOUR\nTI  - Caf\xe9\nER  -\n")
    with pytest.raises(ImportError_, match=r"latin1\.ris:2: not UTF-8 text"):
        read_file(tmp_path / "latin1.ris")
    (tmp_path / "notes.txt").write_text("just notes\n", encoding="utf-8")
    with pytest.raises(ImportError_, match=r"notes\.txt:1: unknown format; use \.bib, \.ris, \.nbib"):
        read_file(tmp_path / "notes.txt")


@pytest.mark.parametrize(("author", "year", "key"), [
    ("Fairclough, John and Hayashi, Koji", "2006", "fairclough2006"),
    ("van der Berg, Pieter", "2011", "vanderberg2011"),
    ("M{\\\"u}ller, J{\\\"o}rg", "2015", "muller2015"),
    ("Fernández-de-las-Peñas, César", "2012", "fernandezdelaspenas2012"),
    ("{World Health Organization}", "2019", "world2019"),
    ("", "2019", "anon2019"),
    ("Smith, A", "", "smithnd"),
    ("Smith, A", "circa 1999", "smithnd"),
    ("Smith, A", "1999--2000", "smith1999"),
    ("Ørsted, H", "1820", "rsted1820"),  # a letter with no ASCII form is left out
])
def test_house_keys(author: str, year: str, key: str) -> None:
    fields = {k: v for k, v in (("author", author), ("year", year)) if v}
    assert house_key(Record("article", fields)) == key


def test_keys_get_letters_on_a_clash_and_duplicates_are_refused() -> None:
    lib = load_text([("l.bib", "@article{smith2020, author={Smith, A}, year={2020}, doi={10.1/Old}, pmid={111}}\n"
                               "@article{Jones2020, author={Jones, B}, year={2020}}")])
    recs = [Record("article", {"author": "Smith, C", "year": "2020"}, "r:1"),
            Record("article", {"author": "Smith, D", "year": "2020", "doi": "https://doi.org/10.1/New"}, "r:2"),
            Record("article", {"author": "jones, E", "year": "2020"}, "r:3")]
    assign_keys(recs, lib)
    assert [r.key for r in recs] == ["smith2020a", "smith2020b", "jones2020a"]  # taken keys compared without case
    assert recs[1].fields["doi"] == "10.1/New"
    cases = [  # the DOI compared without case, the PMID as it is, the import against itself too
        ([Record("article", {"doi": "10.1/OLD"}, "r:9")], "r:9: DOI 10.1/OLD is already in the library as 'smith2020'."),
        ([Record("article", {"pmid": "111"}, "r:9")], "r:9: PMID 111 is already in the library as 'smith2020'."),
        ([Record("article", {"author": "Smith, C", "year": "2020", "doi": "10.1/New"}, "r:1"),
          Record("article", {"doi": "doi:10.1/new"}, "r:9")], "r:9: DOI 10.1/new is already in the library as 'smith2020a'."),
    ]
    for records, message in cases:
        with pytest.raises(ImportError_) as exc:
            assign_keys(records, lib)
        assert str(exc.value) == message
    with pytest.raises(ImportError_, match="PMID 7 is already in the library as 'ann2001'"):
        assign_keys([Record("article", {"author": "Ann, A", "year": "2001", "pmid": "7"}, "r:1"),
                     Record("article", {"author": "Bob, B", "pmid": "7"}, "r:2")], load_text([]))


def test_twenty_six_clashes_use_every_letter() -> None:
    recs = [Record("article", {"author": "Same, A", "year": "2000"}, f"r:{i}") for i in range(27)]
    assign_keys(recs, load_text([]))
    assert [r.key for r in recs][:3] == ["same2000", "same2000a", "same2000b"]
    assert recs[-1].key == "same2000z"


def test_plain_text_is_escaped_and_bibtex_kept_when_written_out() -> None:
    plain = Record("article", {"author": "O'Brien, A_B and {Co & Co}", "title": "50% of runners: a_b & c#d $5 ~x^2 {x} \\n",
                               "year": "2020"}, key="obrien2020")
    kept = Record("article", {"title": "The {ITB} \\emph{in vivo}", "year": "2021"}, key="kept2021", latex=True)
    out = to_bibtex([plain, kept])
    assert ("title = {50\\% of runners: a\\_b \\& c\\#d \\$5 \\textasciitilde{}x\\textasciicircum{}2 "
            "\\textbraceleft{}x\\textbraceright{} \\textbackslash{}n}") in out
    assert "author = {O'Brien, A_B and {Co & Co}}" in out  # names are already BibTeX (_join_authors escaped them)
    assert "title = {The {ITB} \\emph{in vivo}}" in out
    bib = load_text([("o.bib", out)])
    assert bib.diagnostics == []
    from evidencekb import latex

    assert latex.decode(bib.entries["obrien2020"].fields["title"]) == "50% of runners: a_b & c#d $5 ~x^2 {x} \\n"


def test_names_are_escaped_when_joined() -> None:
    (rec,) = parse_ris("TY  - JOUR\nAU  - Smith & Jones, A%\nAU  - Andersen, Hans\nER  -\n", "n.ris")
    assert rec.fields["author"] == "Smith \\& Jones, A\\% and Andersen, Hans"  # 'Andersen' holds no word 'and'


def test_an_import_that_would_not_load_is_refused_whole() -> None:
    good = [Record("article", {"title": "T", "year": "2001"}, key="a2001")]
    check_records(to_bibtex(good), good)  # nothing raised
    with pytest.raises(ImportError_, match=r"would not load cleanly \(.*year '3020'.*\); nothing was added"):
        bad = [Record("article", {"title": "T", "year": "3020"}, key="b", latex=True)]
        check_records(to_bibtex(bad), bad)
    with pytest.raises(ImportError_, match="an entry was lost"):
        check_records(to_bibtex(good), [*good, Record("article", {}, key="c")])


@pytest.mark.parametrize("doi", ["not-a-doi", "10.12/abc", "https://doi.org/11.1234/x", "10.1234/"])
def test_fetch_refuses_what_is_not_a_doi_before_asking(doi: str) -> None:
    with pytest.raises(ImportError_, match=r"is not a DOI; a DOI looks like 10\.1234/abc"):
        fetch_doi(doi, resolver="http://127.0.0.1:9/")


def test_names_are_tidied_and_a_name_holding_and_in_any_case_is_braced() -> None:
    (rec,) = parse_ris("TY  - JOUR\nAU  - \nAU  - Smith,   John\nAU  - Marks AND Spencer\nER  -\n", "n.ris")
    assert rec.fields["author"] == "Smith, John and {Marks AND Spencer}"  # an empty name skipped, not the end


@pytest.mark.parametrize("written", ["10.1/x", "doi:10.1/x", "DOI: 10.1/x", "https://doi.org/10.1/x",
                                     "HTTPS://DX.DOI.ORG/10.1/x", "http://dx.doi.org/10.1/x"])
def test_a_doi_loses_its_resolver_prefix_in_any_case(written: str) -> None:
    (rec,) = parse_ris(f"TY  - JOUR\nDO  - {written}\nER  -\n", "d.ris")
    assert rec.fields["doi"] == "10.1/x"


def test_medline_continuation_joins_the_last_field_and_absent_fields_stay_absent() -> None:
    (rec,) = parse_nbib("AU  - Solo A\nTI  - Short\nAB  - First half\n      second half\n", "c.nbib")
    assert rec.fields == {"author": "Solo A", "title": "Short", "abstract": "First half second half"}
    (rec,) = parse_nbib("\nAU  - Solo A\n", "c.nbib")
    assert (rec.fields, rec.source) == ({"author": "Solo A"}, "c.nbib:2")


def test_csl_json_dates_and_names_at_their_edges() -> None:
    items = [{"title": "a", "issued": {"raw": 1999}}, {"title": "b", "issued": {"raw": "Spring"}},
             {"title": "c", "author": [{"family": "Xu"}, {"given": "Ann", "family": "Xiong"}]}]
    a, b, c = parse_csl_json(json.dumps(items), "e.json")
    assert a.fields == {"title": "a"} and b.fields == {"title": "b"}  # no year made up from what is not one
    assert c.fields["author"] == "Xu and Xiong, Ann"


def test_read_file_names_the_file_in_every_record_and_skips_leading_blank_lines(tmp_path: Path) -> None:
    files = {"a.ris": "\nTY  - JOUR\nTI  - R\nER  -\n", "a.nbib": "\nTI  - N\n", "a.json": '[{"title": "J"}]',
             "a.bib": "\n@misc{k, title = {B}}"}
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        (rec,) = read_file(tmp_path / name)
        assert rec.source.startswith(f"{tmp_path / name}:") or rec.source.startswith(f"{tmp_path / name}: item"), rec.source


@pytest.mark.parametrize(("author", "key"), [
    ("John Fairclough and Koji Hayashi", "fairclough2020"),  # the first name of the list, written given-first
    ("{WHO} Collaborating Group", "group2020"),  # braces around part of a name: a person's name still
    ("王, 小明", "anon2020"),  # no letter with an ASCII form
])
def test_house_keys_from_the_first_author(author: str, key: str) -> None:
    assert house_key(Record("article", {"author": author, "year": "2020"})) == key


def test_escaping_puts_white_space_on_one_line() -> None:
    (rec,) = parse_csl_json('[{"title": "A\\n   title\\twith  breaks", "key": 1}]', "w.json")
    rec.key = "w"
    assert "title = {A title with breaks}" in to_bibtex([rec])


@pytest.mark.parametrize(("text", "problem"), [
    ("@article{a, title={T}}\n@article{a, title={U}}", "bib-duplicate-key"),
    ("@article{a, title={T}, title={U}}", "bib-duplicate-field"),
    ("@article{a, title={T}, journal=nosuchmacro}", "bib-unknown-string"),
    ("@article{a`b, title={T}}", "bib-bad-key"),
    ("@article{a, title={T}, doi={nonsense}}", "bib-bad-identifier"),
    ("@article{a, title={T}, year={3020}}", "bib-bad-year"),
    ("@article{a, title={T}\n@article{b, title={U}}", "bib-syntax"),
])
def test_every_kind_of_broken_import_is_refused(text: str, problem: str) -> None:
    from evidencekb.bibliography import lint

    bib = load_text([("import", text)])
    assert problem in {d.code for d in bib.diagnostics + lint(bib)}  # the case shows the problem it names
    with pytest.raises(ImportError_, match="would not load cleanly"):
        check_records(text, [Record("article", {}, key="a")] * max(1, len(bib.entries)))


def test_a_lost_entry_is_named_as_such() -> None:
    good = [Record("article", {"title": "T", "year": "2001"}, key="a2001")]
    with pytest.raises(ImportError_) as exc:
        check_records(to_bibtex(good), [*good, Record("article", {}, key="c")])
    assert str(exc.value) == "the imported references would not load cleanly (an entry was lost); nothing was added."


def test_fetch_asks_the_resolver_for_bibtex_with_the_doi_alone() -> None:
    import http.server
    import threading

    asked: list[tuple[str, str | None]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append((self.path, self.headers.get("Accept")))
            body = b"@article{X, title={Fetched}, year={2022}}" if self.path == "/10.5555/xyz" else b"<html>not bibtex</html>"
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        resolver = f"http://127.0.0.1:{server.server_address[1]}"
        assert "Fetched" in fetch_doi("  https://doi.org/10.5555/xyz ", resolver=resolver)
        assert "Fetched" in fetch_doi("http://dx.doi.org/10.5555/xyz", resolver=resolver + "/")
        with pytest.raises(ImportError_, match=r"did not return BibTeX for 10\.5555/other"):
            fetch_doi("10.5555/other", resolver=resolver)
    finally:
        server.shutdown()
    assert asked[0] == ("/10.5555/xyz", "application/x-bibtex") and asked[1][0] == "/10.5555/xyz"
