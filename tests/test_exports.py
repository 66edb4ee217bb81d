"""The exports other tools read back, on small libraries: RIS field by field (as the RIS
specification tags them), CSL-JSON as pandoc and Zotero read it, self-contained BibTeX."""

from __future__ import annotations

import json

from evidencekb.bibliography import load_text
from evidencekb.exports import to_bibtex, to_csl_json, to_ris

LIB = load_text([("r.bib", r"""
@article{fair2006,
  author = {Fairclough, John and van der Berg, Anna and Smith, Jr., Tom and {World Health Organization}},
  title = {The functional anatomy of the iliotibial band},
  journal = {Journal of Anatomy}, shortjournal = {J Anat},
  year = {2006}, volume = {208}, number = {3}, pages = {309--316},
  doi = {10.1111/j.1469-7580.2006.00531.x}, issn = {0021-8782}, pmid = {16533314},
  abstract = {The  band is
  fascia.}}
@book{noakes, author = {Noakes, Tim}, title = {Lore of Running}, publisher = {Human Kinetics},
  address = {Champaign}, year = {2003}, url = {https://example.org/lore}}
@misc{anon, title = {Only a title}}
@thesis{th, author = {Doe, Jane}, title = {T}, year = {2019}, institution = {U}, type = {phdthesis}}
""")])


def test_ris_tags_every_field_readers_need() -> None:
    ris = to_ris([LIB.entries["fair2006"], LIB.entries["noakes"], LIB.entries["anon"]])
    assert ris.split("\n") == [
        "TY  - JOUR",
        "AU  - Fairclough, John", "AU  - van der Berg, Anna", "AU  - Smith, Tom, Jr.", "AU  - World Health Organization",
        "TI  - The functional anatomy of the iliotibial band",
        "JO  - Journal of Anatomy", "J2  - J Anat", "PY  - 2006", "VL  - 208", "IS  - 3",
        "DO  - 10.1111/j.1469-7580.2006.00531.x", "SN  - 0021-8782", "SP  - 309", "EP  - 316", "AN  - 16533314",
        "AB  - The band is fascia.", "ER  - ", "",
        # titles in sentence case, as CSL keeps them (and pandoc's BibTeX reader makes them)
        "TY  - BOOK", "AU  - Noakes, Tim", "TI  - Lore of running", "PY  - 2003", "PB  - Human Kinetics",
        "CY  - Champaign", "UR  - https://example.org/lore", "ER  - ", "",
        "TY  - GEN", "TI  - Only a title", "ER  - ", "",
    ]


def test_ris_names_a_type_it_has_no_tag_for_generic() -> None:
    assert to_ris([LIB.entries["th"]]).startswith("TY  - GEN\nAU  - Doe, Jane\n")


def test_csl_json_is_an_indented_utf8_list() -> None:
    lib = load_text([("u.bib", "@article{u, author={Schön, J}, title={Café au lait}, journal={J}, year={2020}}")])
    text = to_csl_json(lib.entries.values())
    assert text.endswith("]\n") and text.startswith('[\n  {\n    "')
    assert "Schön" in text and "Café" in text  # not \u escapes
    (item,) = json.loads(text)
    assert item["id"] == "u" and item["author"] == [{"family": "Schön", "given": "J"}] and item["title"] == "Café au lait"


def test_bibtex_export_writes_inherited_fields_in_and_drops_the_parent_link() -> None:
    lib = load_text([("x.bib", "@inproceedings{child, author={A, B}, title={T}, crossref={parent}, pages={1--2}}\n"
                               "@proceedings{parent, booktitle={The Book}, year={2001}, publisher={P}}\n"
                               "@article{own, author={C, D}, title={U}, journal={J}, year={2002}, xdata={none}}\n")])
    out = to_bibtex([lib.entries["child"], lib.entries["own"]])
    child, own = out.split("@article")
    assert "booktitle = {The Book}" in child and "year = {2001}" in child and "crossref" not in child
    assert "xdata = {none}" in own  # not inherited (no such parent): kept as written


def test_ris_tags_a_book_chapter_container_as_secondary_title_and_a_single_name_as_is() -> None:
    lib = load_text([("c.bib", "@incollection{ch, author={Plato}, title={On bands}, booktitle={Collected Works}, "
                               "publisher={P}, year={2001}, pages={5--9}}")])
    assert to_ris(lib.entries.values()).split("\n")[:7] == [
        "TY  - CHAP", "AU  - Plato", "TI  - On bands", "T2  - Collected works", "PY  - 2001", "PB  - P", "SP  - 5"]


def test_bibtex_export_drops_an_xdata_link_once_its_fields_are_written_in() -> None:
    lib = load_text([("x.bib", "@xdata{pub, publisher={Human Kinetics}, location={Champaign}}\n"
                               "@book{b, author={A, B}, title={T}, year={2003}, xdata={pub}}\n")])
    out = to_bibtex([lib.entries["b"]])
    assert "publisher = {Human Kinetics}" in out and "xdata" not in out


STYLED = load_text([("s.bib", r"""@article{s, author={Bee, A}, title={Effects of \emph{in vivo} loading on {$n^\alpha$} fibres and {H\textsubscript{2}O}},
  journal={J}, year={2020}, note={Private \ue000marks\ue001 in data}}""".replace(r"\ue000", "\ue000").replace(r"\ue001", "\ue001"))])


def test_field_styling_reaches_csl_json_as_its_rich_text_and_plain_exports_drop_it() -> None:
    (item,) = json.loads(to_csl_json(STYLED.entries.values()))
    assert item["title"] == ('Effects of <i>in vivo</i> loading on <i><span class="nocase">n</span></i>'
                             '<sup><i><span class="nocase">α</span></i></sup> fibres and H<sub>2</sub>O')
    assert "TI  - Effects of in vivo loading on nα fibres and H2O" in to_ris(STYLED.entries.values())


def test_private_use_characters_in_data_never_become_markup() -> None:
    from evidencekb.csl import Formatter

    (item,) = json.loads(to_csl_json(STYLED.entries.values()))
    assert item["note"] == "Private marks in data"
    out = Formatter("apa").format(STYLED.entries["s"])
    assert "<i>in vivo</i>" in out.html and "<sup><i>α</i></sup>" in out.html and "H<sub>2</sub>O" in out.html
    assert "in vivo" in out.text and "\ue000" not in out.text + out.html


def test_bibtex_export_is_one_entry_after_another_with_a_blank_line_between() -> None:
    lib = load_text([("b.bib", "@misc{a, title={A}}\n@misc{b, title={B}, year={2001}}")])
    assert to_bibtex(lib.entries.values()) == "@misc{a,\n  title = {A},\n}\n\n@misc{b,\n  title = {B},\n  year = {2001},\n}\n"
