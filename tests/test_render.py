"""In-page rendering through Python-Markdown: in-text forms, reference lists, links, escaping."""

from __future__ import annotations

import re

import markdown
import pytest

from evidencekb.bibliography import load_text
from evidencekb.markdown_ext import CitationContext

BIB = r"""
@article{alpha2020, author = {Alpha, Ann and Beta, Ben and Gamma, Gus}, title = {A first study},
  journal = {J Test}, year = {2020}, volume = {1}, pages = {10--20}, doi = {10.1234/alpha}, pmid = {12345},
  pmcid = {PMC999}}
@article{zed2019, author = {Zed, Zoe}, title = {Last but not least}, journal = {J Test}, year = {2019},
  url = {https://example.org/zed}}
@article{mid2021, author = {Mid, May and Other, Olly}, title = {Middle}, journal = {J Test}, year = {2021},
  doi = {10.5555/x}}
@article{evil, author = {<script>alert(1)</script>}, title = {<img src=x onerror=alert(1)> "quoted"},
  journal = {J}, year = {2020}, url = {javascript:alert(1)}, doi = {10.1/"><script>}}
"""


def render(text: str, style: str = "american-medical-association") -> tuple[str, CitationContext]:
    ctx = CitationContext(load_text([("t.bib", BIB)]), style)
    md = markdown.Markdown(extensions=["evidencekb", "attr_list"], extension_configs={"evidencekb": {"context": ctx}})
    return md.convert(text), ctx


def test_numeric_superscript_in_citation_order() -> None:
    html, _ = render("One [@zed2019]. Two [@alpha2020; @zed2019].")
    # Numbers follow first citation; within a cluster they are sorted, as AMA prints them.
    assert re.findall(r'href="#ref-(\w+)"[^>]*>(\d+)<', html)[:3] == [("zed2019", "1"), ("zed2019", "1"), ("alpha2020", "2")]
    assert "<sup>" in html
    items = re.findall(r'<li id="ref-(\w+)"', html)
    assert items == ["zed2019", "alpha2020"]


def test_numeric_range_collapses() -> None:
    html, _ = render("[@alpha2020] [@zed2019] [@mid2021] then [@alpha2020; @zed2019; @mid2021]")
    assert re.search(r">1</a>–<a[^>]*>3</a></sup>", html)


def test_ama_locator() -> None:
    html, _ = render("[@alpha2020, p. 12] [see @zed2019, pp. 3-5]")
    assert ">1(p12)</a>" in html
    assert "see <a" in html and ">2(pp3-5)</a>" in html


def test_vancouver_brackets() -> None:
    html, _ = render("[@alpha2020]", "vancouver")
    assert re.search(r'\(<a class="citation-link"[^>]*>1</a>\)', html)


def test_apa_author_date_and_alphabetical_list() -> None:
    html, _ = render("[@zed2019] [@alpha2020, p. 4] @mid2021 says [-@zed2019]", "apa")
    assert ">Zed, 2019</a>" in html
    assert ">Alpha et al., 2020, p. 4</a>" in html
    assert "Mid and Other (<a" in html and ">2021</a>)" in html
    assert re.search(r"\(<a[^>]*>2019</a>\)", html)  # suppressed author
    assert re.findall(r'<li id="ref-(\w+)"', html) == ["alpha2020", "mid2021", "zed2019"]
    assert "<ul" in html


def test_entry_links_identifiers_and_back_to_each_citation() -> None:
    html, _ = render("A [@alpha2020]. B [@alpha2020]. C [@zed2019].")
    li = re.search(r'<li id="ref-alpha2020".*?</li>', html).group(0)
    assert 'href="https://doi.org/10.1234/alpha"' in li
    assert 'href="https://pubmed.ncbi.nlm.nih.gov/12345/"' in li
    assert 'href="https://pmc.ncbi.nlm.nih.gov/articles/PMC999/"' in li
    assert re.findall(r'href="#(cite-\d+)"', li) == ["cite-1", "cite-2"]
    assert 'id="cite-1"' in html and 'id="cite-2"' in html
    assert 'href="https://example.org/zed"' in html


def test_tooltip_holds_full_reference() -> None:
    html, _ = render("[@alpha2020]")
    assert re.search(r'title="Alpha A, Beta B, Gamma G\. A first study\. J Test\. 2020;1:10-20\.', html)


def test_unknown_key_stays_visible_and_is_recorded() -> None:
    html, ctx = render("See [@alpah2020] and @nobody.")
    assert "[?alpah2020]" in html and "[?nobody]" in html
    assert ctx.last is not None and ctx.last.unknown == ["alpah2020", "nobody"]


def test_marker_places_reference_list() -> None:
    html, _ = render("Text [@alpha2020].\n\n<!-- references -->\n\n## After\n\nMore.")
    assert html.index('class="references"') < html.index("After")
    assert html.count('class="references"') == 1


def test_no_list_without_citations() -> None:
    html, _ = render("Plain text with an email a@b.org.")
    assert "references" not in html


@pytest.mark.parametrize("text", ["`[@alpha2020]`", "```\n[@alpha2020]\n```", "    [@alpha2020]",
                                  "[x](https://e.org/@alpha2020)", "<https://e.org/@alpha2020>",
                                  '<span title="x @alpha2020">y</span>', r"\@alpha2020"])
def test_not_rendered_in_code_links_or_attributes(text: str) -> None:
    html, _ = render(text)
    assert "citation-link" not in html


def test_bibtex_fields_cannot_inject_html() -> None:
    html, _ = render("[@evil]")
    assert "<script>" not in html and "<img" not in html
    assert "javascript:" not in html
    assert 'href="https://doi.org/10.1/' not in html  # not a valid DOI, so not linked


def test_standalone_extension_reads_bib_files(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "refs").mkdir()
    (tmp_path / "refs" / "a.bib").write_text(BIB, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    html = markdown.markdown("[@zed2019]", extensions=["evidencekb"],
                             extension_configs={"evidencekb": {"bibliography": ["refs"]}})
    assert 'href="#ref-zed2019"' in html and "Last but not least" in html


def test_deferred_pages_carry_visible_text_and_restore_to_the_same_html() -> None:
    text = "One [@zed2019]. Two @alpha2020 [p. 3] found [@mid2021; @zed2019].\n\n<!-- references -->\n\nAfter."
    direct, _ = render(text)
    ctx = CitationContext(load_text([("t.bib", BIB)]))
    ctx.deferred, ctx.page = True, "p.md"
    md = markdown.Markdown(extensions=["evidencekb", "attr_list"], extension_configs={"evidencekb": {"context": ctx}})
    marked = md.convert(text)
    result = ctx.results["p.md"]
    # What the search indexer reads: the citations' visible text, no links or hover titles.
    assert "citation-link" not in marked and "reference-entry" not in marked
    assert ctx.list_slot in marked and len(result.deferred) == 3 and result.listed
    assert re.sub(r"<!--.*?-->", "", marked).startswith("<p>One 1. Two Alpha et al.2(p3) found 1,3.</p>")
    restored, complete = ctx.restore(marked, result)
    assert complete and restored == direct


def test_restore_reports_a_lost_marker() -> None:
    ctx = CitationContext(load_text([("t.bib", BIB)]))
    ctx.deferred, ctx.page = True, "p.md"
    md = markdown.Markdown(extensions=["evidencekb"], extension_configs={"evidencekb": {"context": ctx}})
    marked = md.convert("One [@zed2019] and [@alpha2020].")
    result = ctx.results["p.md"]
    stripped = re.sub(r"<!--/evidencekb-cite-\w+-->", "", marked, count=1)
    restored, complete = ctx.restore(stripped, result)
    assert not complete
    assert restored.count("citation-link") == 1  # the intact one is still restored
    _, complete = ctx.restore(marked.replace(ctx.list_slot, ""), result)
    assert not complete


def test_numbers_follow_the_document_not_the_order_markdown_parses_in() -> None:
    # Python-Markdown handles a list's or a quote's inline text after the paragraphs around
    # it; numbering, back-links and the list still follow the page from top to bottom.
    text = "- one [@zed2019]\n- two [@alpha2020]\n\n> quoted [@mid2021]\n\nLast [@alpha2020]."
    html, ctx = render(text)
    assert re.findall(r'href="#ref-(\w+)"[^>]*>(\d+)<', html) == [
        ("zed2019", "1"), ("alpha2020", "2"), ("mid2021", "3"), ("alpha2020", "2")]
    assert re.findall(r'id="(cite-\d+)"', html) == ["cite-1", "cite-2", "cite-3", "cite-4"]
    assert ctx.last is not None and [c.keys for c in ctx.last.clusters] == [
        ["zed2019"], ["alpha2020"], ["mid2021"], ["alpha2020"]]


def test_citation_in_a_heading_is_shown_once_and_kept_out_of_its_anchor() -> None:
    ctx = CitationContext(load_text([("t.bib", BIB)]))
    md = markdown.Markdown(extensions=["evidencekb", "toc"], extension_configs={"evidencekb": {"context": ctx}})
    html = md.convert("# Results [@zed2019]\n\nText [@alpha2020].\n\n## Method [@alpha2020]\n")
    assert '<h1 id="results">Results <span class="citation" id="cite-1"' in html
    assert '<h2 id="method">Method <span class="citation" id="cite-3"' in html
    assert [t["name"] for t in md.toc_tokens] == ["Results"]  # the toc lists headings, not citations
    assert [c["name"] for c in md.toc_tokens[0]["children"]] == ["Method"]
    assert html.count('id="ref-alpha2020"') == 1 and html.count("citation-link") == 3


def test_abbreviations_in_generated_quotes_and_findings_are_explained() -> None:
    from evidencekb.markdown_ext import explain_abbreviations

    abbrs = {"ITB": 'Iliotibial "band"', "ITBS": "Iliotibial band syndrome"}
    out = explain_abbreviations('<span class="ekb-quote">“ITBS and ITB, not ITBX”</span><span class="x">ITB</span>'
                                '<blockquote class="ekb-claim-quote"><p>“the ITB”</p></blockquote>', abbrs)
    assert out == ('<span class="ekb-quote">“<abbr title="Iliotibial band syndrome">ITBS</abbr> and '
                   '<abbr title="Iliotibial &quot;band&quot;">ITB</abbr>, not ITBX”</span><span class="x">ITB</span>'
                   '<blockquote class="ekb-claim-quote"><p>“the <abbr title="Iliotibial &quot;band&quot;">ITB</abbr>”'
                   "</p></blockquote>")
    assert explain_abbreviations('<span class="ekb-quote">ITB</span>', {}) == '<span class="ekb-quote">ITB</span>'


def test_author_short_names_one_two_or_the_first_et_al_else_the_title() -> None:
    from evidencekb.csl import Formatter, get_style
    from evidencekb.render import author_short

    bib = load_text([("s.bib", r"""
@article{one, author={Fairclough, John}, title={T1}, year={2006}}
@article{two, author={Fairclough, John and Hayashi, Koji}, title={T2}, year={2006}}
@article{three, author={Fairclough, John and Hayashi, Koji and Toumi, Hechmi}, title={T3}, year={2006}}
@book{ed, editor={Noakes, Tim}, title={Lore}, year={1985}}
@misc{anon, title={The {IT} band}, year={2020}}
@misc{bare, year={2020}}
""")])
    e = bib.entries
    fmt = Formatter(get_style("apa"))
    for f in (None, fmt):  # with and without the formatter's memo, the same
        assert author_short(e["one"], False, f) == "Fairclough"
        assert author_short(e["two"], False, f) == "Fairclough & Hayashi"
        assert author_short(e["two"], True, f) == "Fairclough and Hayashi"
        assert author_short(e["three"], True, f) == "Fairclough et al."
        assert author_short(e["ed"], False, f) == "Noakes"
        assert author_short(e["anon"], False, f) == "The IT band"
        assert author_short(e["bare"], False, f) == "bare"


def test_a_suffix_that_closes_with_punctuation_follows_without_a_separator() -> None:
    def visible(html: str) -> str:
        return re.sub(r"<[^>]+>", "", html.split("<section", 1)[0]).strip()

    assert visible(render("[@alpha2020, p. 33.] [@zed2019, p. 4, emphasis added]")[0]) == "1(p33). 2(p4) emphasis added"
    assert visible(render("[@alpha2020, p. 33!] [@zed2019, p. 4, emphasis added]", "apa")[0]) == (
        "(Alpha et al., 2020, p. 33!) (Zed, 2019, p. 4, emphasis added)")


def test_numeric_lists_are_numbered_and_author_date_lists_alphabetical() -> None:
    html, _ = render("[@zed2019] then [@alpha2020] and [@zed2019].")
    listing = html.split("<section", 1)[1]
    assert re.findall(r"<(ol|ul)\b", listing) == ["ol"]
    assert re.findall(r'<li id="ref-(\w+)" class="reference-entry" value="(\d+)"', listing) == [
        ("zed2019", "1"), ("alpha2020", "2")]
    # each citation of an entry has its own numbered way back, from 1
    assert re.findall(r'href="#(cite-\d+)"[^>]*>↩︎<sup>(\d)</sup>', listing) == [("cite-1", "1"), ("cite-3", "2"),
                                                                                ("cite-2", "1")]
    html, _ = render("[@zed2019] [@mid2021] [@alpha2020]", "apa")
    listing = html.split("<section", 1)[1]
    assert re.findall(r"<(ol|ul)\b", listing) == ["ul"] and " value=" not in listing
    assert re.findall(r'<li id="ref-(\w+)" class="reference-entry">', listing) == ["alpha2020", "mid2021", "zed2019"]


def test_a_cluster_names_its_keys_and_links_each_entry_to_its_page() -> None:
    ctx = CitationContext(load_text([("t.bib", BIB)]), "american-medical-association",
                          reference_url="../references/{key}/")
    md = markdown.Markdown(extensions=["evidencekb"], extension_configs={"evidencekb": {"context": ctx}})
    html = md.convert("[@alpha2020; @zed2019]")
    assert 'data-cites="alpha2020 zed2019"' in html
    assert html.count('class="reference-page" href="../references/alpha2020/">Details</a>') == 1


def test_author_date_forms_name_the_year_or_nd() -> None:
    bib = BIB + "@book{undated, author = {Nod, Ned}, title = {Timeless}, publisher = {P}}\n"
    ctx = CitationContext(load_text([("t.bib", bib)]), "apa")
    md = markdown.Markdown(extensions=["evidencekb"], extension_configs={"evidencekb": {"context": ctx}})
    text = re.sub(r"<[^>]+>", "", md.convert("@mid2021 says [see @undated; @zed2019, p. 2].").split("<section")[0])
    assert text.strip() == "Mid and Other (2021) says (see Nod, n.d.; Zed, 2019, p. 2)."


def test_an_unknown_braced_key_is_shown_escaped_in_text_and_title() -> None:
    html, _ = render('[@{no"such<key>}]')
    assert 'title="Unknown reference key: no&quot;such&lt;key&gt;"' in html and "<key>" not in html


def test_anchors_are_safe_ids_for_any_key() -> None:
    from evidencekb.render import anchor

    assert anchor("Smith_2020:a.b-c") == "ref-Smith_2020:a.b-c"
    assert anchor("a/b c") == "ref-a_2fb_20c" and anchor("é") == "ref-_e9"


def test_identifier_links_only_for_well_formed_identifiers() -> None:
    from evidencekb.render import identifier_links

    lib = load_text([("i.bib", r"""
@article{good, author={A, B}, title={T}, journal={J}, year={2020}, doi={10.1234/a(b)c}, pmid={123},
  pmcid={PMC45}, url={https://example.org/x?y=1&z=2}}
@article{bad, author={A, B}, title={T}, journal={J}, year={2020}, doi={11.1234/a}, pmid={12a}, pmcid={45},
  url={ftp://example.org/x}}
""")])
    assert identifier_links(lib.entries["good"]) == (
        '<a class="id-doi" href="https://doi.org/10.1234/a(b)c">DOI</a> '
        '<a class="id-pmid" href="https://pubmed.ncbi.nlm.nih.gov/123/">PubMed</a> '
        '<a class="id-pmcid" href="https://pmc.ncbi.nlm.nih.gov/articles/PMC45/">PMC</a> '
        '<a class="id-url" href="https://example.org/x?y=1&amp;z=2">Link</a>')
    assert identifier_links(lib.entries["bad"]) == ""


def test_cards_are_made_once_per_entry_and_again_when_the_entry_changes() -> None:
    from evidencekb.csl import Formatter, get_style
    from evidencekb.render import Cards

    made: list[str] = []
    asked: list[str] = []  # of the formatter's memo: once per card and build, then kept here

    class Counting(Formatter):
        def format(self, entry):  # type: ignore[no-untyped-def]
            made.append(entry.key)
            return super().format(entry)

        def memo(self, kind, key, digest, make):  # type: ignore[no-untyped-def]
            if kind == "card":
                asked.append(key)
            return super().memo(kind, key, digest, make)

    lib = load_text([("t.bib", BIB)])
    cards = Cards(lib.entries, Counting(get_style("apa")))
    first = cards["zed2019"]
    assert cards["zed2019"] is first and cards.link("zed2019", "Z").startswith("<a") and made == ["zed2019"]
    assert asked == ["zed2019"]
    assert (first.anchor, first.year, first.names) == ("ref-zed2019", "2019", ("Zed",))
    assert cards.link("zed2019", "Zed") == (f'<a class="citation-link" href="#ref-zed2019" title="{first.title}">Zed</a>')
    changed = load_text([("t.bib", BIB.replace("year = {2019}", "year = {2018}"))]).entries["zed2019"]
    lib.entries["zed2019"] = changed  # the same key, other content: a new card
    assert cards["zed2019"].year == "2018" and made == ["zed2019", "zed2019"] and asked == ["zed2019", "zed2019"]


EXTRA = BIB + "@misc{anon2020, title = {Only a title}, year = {2020}}\n" \
              "@article{two2018, author={Smith, A and Jones, B}, title={T}, journal={J}, year={2018}}\n"


def _shown(text: str, style: str) -> str:
    """The page's text before its reference list, tags removed."""
    ctx = CitationContext(load_text([("t.bib", EXTRA)]), style)
    md = markdown.Markdown(extensions=["evidencekb"], extension_configs={"evidencekb": {"context": ctx}})
    html = md.convert(text)
    return re.sub(r"<[^>]+>", "", html.split("<h2")[0]).strip()


@pytest.mark.parametrize(("text", "style", "shown"), [
    ("[@alpha2020, pp. 33-35]", "apa", "(Alpha et al., 2020, pp. 33–35)"),  # a page range gets an en dash
    ("[@alpha2020, pp. 33-35]", "american-medical-association", "1(pp33-35)"),  # AMA's superscript keeps the hyphen
    ("[@alpha2020, verse 3]", "apa", "(Alpha et al., 2020, v. 3)"),
    ("[@alpha2020, col. 2]", "apa", "(Alpha et al., 2020, col. 2)"),  # a label with no short form: as written
    ("[@anon2020]", "apa", "(Only a title, 2020)"),  # no author: the title stands in
    ("@anon2020 says", "apa", "Only a title (2020) says"),
    ("@two2018 says [@two2018]", "apa", "Smith and Jones (2018) says (Smith &amp; Jones, 2018)"),  # 'and' in the text
    ("[see @alpha2020; @zed2019; @mid2021]", "vancouver", "(see 1,2,3)"),  # a prefix: no range
    ("[@alpha2020; @zed2019; @mid2021] [@alpha2020, p. 3]", "vancouver", "(1–3) (1, p. 3)"),
])
def test_in_text_forms_at_their_edges(text: str, style: str, shown: str) -> None:
    assert _shown(text, style) == shown


def test_a_cluster_renders_without_links_and_without_a_card_cache() -> None:
    from evidencekb.citations import scan
    from evidencekb.csl import Formatter, get_style
    from evidencekb.render import PageCitations, render_cluster

    bib = load_text([("t.bib", EXTRA)])
    (cluster,) = scan("[@two2018, p. 4; @nosuch]")
    linked = render_cluster(cluster, "cite-1", bib.entries, PageCitations(), get_style("apa"), Formatter("apa"))
    plain = render_cluster(cluster, "cite-1", bib.entries, PageCitations(), get_style("apa"), Formatter("apa"), links=False)
    assert 'href="#ref-two2018"' in linked and "<a" not in plain
    assert re.sub(r"<[^>]+>", "", linked) == re.sub(r"<[^>]+>", "", plain) == "(Smith &amp; Jones, 2018, p. 4) [?nosuch]"


@pytest.mark.parametrize("style", ["apa", "american-medical-association"])
def test_a_deferred_page_is_converted_before_any_entry_is_formatted(style: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page's citations (names, years, numbers) need no formatted entry: entries are
    formatted in the background while pages convert, and wanted only when a page is written."""
    from evidencekb import csl

    text = "@two2018 says [@anon2020; @alpha2020, p. 3]. [-@zed2019] and @anon2020 too.\n"
    ctx = CitationContext(load_text([("t.bib", EXTRA)]), style)
    ctx.deferred, ctx.page = True, "p.md"
    md = markdown.Markdown(extensions=["evidencekb"], extension_configs={"evidencekb": {"context": ctx}})
    with monkeypatch.context() as m:
        m.setattr(csl.Formatter, "_render", lambda self, e: pytest.fail(f"{e.key} formatted too soon"))
        marked = md.convert(text)
    restored, complete = ctx.restore(marked, ctx.results["p.md"])
    fresh = CitationContext(load_text([("t.bib", EXTRA)]), style)
    direct = markdown.Markdown(extensions=["evidencekb"], extension_configs={"evidencekb": {"context": fresh}}).convert(text)
    assert complete and restored == direct


def test_a_label_is_the_card_once_the_card_is_made() -> None:
    from evidencekb.csl import Formatter, get_style
    from evidencekb.render import Card, Cards, Label

    lib = load_text([("t.bib", EXTRA)])
    store: dict[tuple[str, ...], object] = {}

    class Store:
        def get(self, k: tuple[str, ...]) -> object:
            return store.get(k)

        def put(self, k: tuple[str, ...], v: object) -> None:
            store[k] = v

    lib = load_text([("t.bib", EXTRA + "@misc{bare2021, year = {2021}}\n")])
    cards = Cards(lib.entries, Formatter(get_style("apa"), Store()))
    label = cards.label("anon2020")
    assert label == Label("2020", (), "Only a title") and label.short(True) == "Only a title"
    assert cards.label("two2018") == Label("2018", ("Smith", "Jones"), "")
    assert cards.label("two2018").short(True) == "Smith and Jones"
    assert cards.label("bare2021").short(False) == "bare2021" == cards["bare2021"].short(False)  # nor a title
    card = cards["two2018"]
    assert cards.label("two2018") is card
    # Made in an earlier build: the store's card, no entry read.
    later = Cards(lib.entries, Formatter(get_style("apa"), Store()))
    assert isinstance(later.label("two2018"), Card) and later.label("two2018") == card
    assert isinstance(later.label("zed2019"), Label)
