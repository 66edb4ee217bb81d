"""Claim records: validation with located messages, hardened YAML, quote checks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidencekb.bibliography import load_text
from evidencekb.checks import check_claim_quotes, check_evidence_quotes
from evidencekb.claims import load_claims, parse_claim
from evidencekb.quotes import closest, find

BIB = load_text([("r.bib", """
@article{sr, author={A, B}, title={T}, journal={J}, year={2020}, doi={10.5555/1}, design={systematic-review},
  abstract={Foam rolling did not change {ITB} stiffness. It’s a “test” — really.}}
@article{cs, author={A, B}, title={T}, journal={J}, year={2020}, doi={10.5555/2}, design={cross-sectional}}
@article{op, author={A, B}, title={T}, journal={J}, year={2020}, doi={10.5555/3}, design={expert-opinion}}
""")])

GOOD = """---
claim: A claim.
quote: "It's a thick band"
topic: anatomy
verdict: supported
certainty: moderate
bottom_line: It is supported.
question:
  population: Runners with ITBS
  intervention: Foam rolling
  outcome: Band stiffness
searches:
  - source: pubmed
    terms: iliotibial AND rolling
    date: 2026-11-26
    results: 4
outcomes:
  - id: stiff
    name: Stiffness
    kind: intervention
    certainty: moderate
    grade:
      imprecision: {rating: -1, reason: Small.}
evidence:
  - ref: sr
    outcome: stiff
    stance: supports
    population: healthy
    n: 30
    directness: {population: indirect, intervention: direct, outcome: direct, reason: Healthy people.}
    effects:
      - {measure: mean-difference, estimate: 1.5, ci: [0.5, 2.5], unit: kPa, n: 30, scale: kpa}
    finding: It found something.
    quote: "did not change ITB stiffness"
reviewed: 2026-11-26
override: null
history:
  - date: 2026-11-26
    change: First review.
---
Body.
"""


def test_good_record_parses() -> None:
    claim, errs = parse_claim(GOOD, "docs/claims/x.md", "x", BIB.entries)
    assert errs == []
    assert claim is not None and claim.verdict == "supported" and claim.evidence[0].n == 30
    assert claim.body.strip() == "Body."
    assert claim.question.population == "Runners with ITBS" and claim.searched == "2026-11-26"
    (o,) = claim.outcomes
    assert (o.id, o.kind, o.certainty, o.grade["imprecision"].rating) == ("stiff", "intervention", "moderate", -1)
    (it,) = claim.evidence
    assert it.directness.indirect_parts == ["population"] and not it.directness.direct
    assert it.effects[0].ci == (0.5, 2.5) and it.effects[0].scale == "kpa"
    assert claim.body_of("stiff") == [it]


@pytest.mark.parametrize(
    ("old", "new", "line", "fragment"),
    [
        pytest.param("topic: anatomy", "topic: anatomy\ncolour: red", 5, "unknown field 'colour'", id="unknown-field"),
        pytest.param("verdict: supported", "verdict: proven", 5, "allowed values: supported, partly-supported", id="bad-verdict"),
        pytest.param("certainty: moderate\nbottom", "certainty: 3\nbottom", 6, "allowed values: high, moderate", id="wrong-type"),
        pytest.param("    n: 30", "    n: thirty", 29, "field 'n' must be a whole number", id="bad-n"),
        pytest.param("stance: supports", "stance: agrees", 27, "allowed values: supports, contradicts", id="bad-stance"),
        pytest.param("  - ref: sr", "  - ref: rs", 25, "not a key in any .bib file", id="unknown-ref"),
        pytest.param("reviewed: 2026-11-26", "reviewed: last week", 35, "must be a date", id="bad-date"),
        pytest.param("reviewed: 2026-11-26", "reviewed: 2026-02-30", 35, "not a day of the calendar",
                     id="impossible-date"),
        pytest.param("    finding: It found something.\n", "    findings: x\n", 33, "unknown field 'findings'",
                     id="unknown-evidence-field"),
        pytest.param("    kind: intervention", "    kind: trial", 20, "allowed values: intervention, association",
                     id="bad-outcome-kind"),
        pytest.param("{rating: -1, reason: Small.}", "{rating: -3, reason: Small.}", 23, "rating is -3",
                     id="bad-rating"),
        pytest.param("    outcome: stiff\n", "    outcome: stif\n", 26, "names outcome 'stif'", id="unknown-outcome"),
        pytest.param("    outcome: stiff\n", "", 25, "needs 'outcome'", id="missing-outcome"),
        pytest.param(", reason: Healthy people.}", "}", 30, "say why it is indirect", id="indirect-without-reason"),
        pytest.param("ci: [0.5, 2.5]", "ci: [2.0, 2.5]", 32, "must run from low to high and hold", id="ci-without-estimate"),
        pytest.param("  - source: pubmed", "  - source: google", 13, "allowed values: pubmed", id="bad-source"),
        pytest.param("measure: mean-difference, estimate: 1.5, ci: [0.5, 2.5]",
                     "measure: risk-ratio, estimate: -0.5, ci: [-1, 0.2]", 32, "a risk ratio is above 0",
                     id="ratio-not-positive"),
        pytest.param("bottom_line: It is supported.\n", "", 2, "missing required field 'bottom_line'",
                     id="missing-bottom-line"),
    ],
)
def test_invalid_records_are_located(old: str, new: str, line: int, fragment: str) -> None:
    assert old in GOOD
    _, errs = parse_claim(GOOD.replace(old, new, 1), "docs/claims/x.md", "x", BIB.entries)
    assert any(e.line == line and fragment in e.message and e.path == "docs/claims/x.md" for e in errs), errs


def test_missing_front_matter() -> None:
    claim, errs = parse_claim("# Just a page\n", "docs/claims/x.md", "x", BIB.entries)
    assert claim is None and errs[0].code == "claim-invalid"


@pytest.mark.parametrize(
    ("front", "fragment"),
    [
        pytest.param("a: &x [1]\nb: *x\n", "an alias (*x) is not allowed", id="alias"),
        pytest.param("claim: !custom x\n", "the tag '!custom' is not allowed", id="custom-tag"),
        pytest.param("claim: !!python/object/apply:os.system ['true']\n", "is not allowed", id="python-tag"),
        pytest.param("claim: [unclosed\n", "not valid YAML", id="broken-yaml"),
    ],
)
def test_hostile_yaml_is_a_located_error(front: str, fragment: str) -> None:
    claim, errs = parse_claim(f"---\n{front}---\n", "docs/claims/x.md", "x", BIB.entries)
    assert claim is None and errs and fragment in errs[0].message and errs[0].line >= 2, errs


def test_billion_laughs_is_refused_quickly() -> None:
    lol = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(9))
    claim, errs = parse_claim(f"---\n{lol}---\n", "docs/claims/x.md", "x", BIB.entries)
    assert claim is None and len(errs) == 1 and len(errs[0].message) < 300


def test_long_values_are_cut_in_messages() -> None:
    _, errs = parse_claim(GOOD.replace("verdict: supported", "verdict: " + "x" * 10_000), "c.md", "x", BIB.entries)
    assert errs and all(len(e.message) < 400 for e in errs)


def test_claim_files_are_read_safely(tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "claims"
    folder.mkdir()
    (folder / "good.md").write_text(GOOD, encoding="utf-8")
    (folder / "latin.md").write_bytes(GOOD.replace("A claim.", "Caf\xe9").encode("latin-1"))
    (folder / "Bad Name.md").write_text(GOOD, encoding="utf-8")
    (folder / "good").mkdir()
    (folder / "good" / "index.md").write_text("# Twin\n", encoding="utf-8")
    claims, errs = load_claims(tmp_path, "claims", BIB.entries)
    assert [c.slug for c in claims] == ["good"]
    messages = {(e.path, e.line): e.message for e in errs}
    assert "not UTF-8" in messages[("docs/claims/latin.md", 2)]
    assert "is not a slug" in messages[("docs/claims/Bad Name.md", 1)]
    assert "silently replace" in messages[("docs/claims/good/index.md", 1)]


def test_claim_quote_must_be_in_article() -> None:
    article = "It’s a thick,  dense strip — fascia — running from the hip."
    claim, _ = parse_claim(GOOD.replace("It's a thick band", "It's a thick, dense strip -- fascia"), "c.md", "x", BIB.entries)
    assert claim is not None and check_claim_quotes([claim], article, "a.md") == []
    claim.quote = "It's a thin, dense strip"
    (d,) = check_claim_quotes([claim], article, "a.md")
    assert d.code == "claim-misquote" and d.line == 3 and "Closest passage: \"It's a thick, dense strip" in d.message


def test_evidence_quote_must_be_in_abstract() -> None:
    claim, _ = parse_claim(GOOD, "c.md", "x", BIB.entries)
    assert claim is not None and check_evidence_quotes([claim], BIB) == []
    claim.evidence[0].quote = "changed ITB stiffness"
    (d,) = check_evidence_quotes([claim], BIB)
    quote_line = GOOD.splitlines().index('    quote: "did not change ITB stiffness"') + 1
    assert d.code == "evidence-misquote" and d.line == quote_line  # at the quote, not the item's first line


@pytest.mark.parametrize(
    ("quote", "text"),
    [("it's a “test” - really", "It’s a \"test\" — really"), ("a  b\nc", "x a b c y"), ("don't", "don’t")],
)
def test_quote_normalisation(quote: str, text: str) -> None:
    assert find(quote.replace("it's", "It’s"), text) is not None


def test_quote_is_case_sensitive() -> None:
    assert find("The Band", "the band is here") is None
    assert find("the band", "the band is here") == (0, 8)


def test_closest_passage() -> None:
    assert closest("the quick brown cat", "we saw the quick brown fox jump") == "the quick brown fox"
    assert closest("fox", "the quick brown fox") == "fox"  # as many words as the quote
    assert len(closest("c x", "a b c").split()) == 2  # never a shorter tail ("c"), though it is closer
    assert closest("a b c", "qqqqqqq c") == "qqqqqqq c"  # a text shorter than the quote: all of it
    assert closest("cat", "bat hat") == "bat"  # the first of equally close passages
    assert closest("zzz", "abc") == ""  # nothing alike: no suggestion


@pytest.mark.parametrize(("text", "folded"), [
    ("a -- b", "a - b"), ("a--b", "a - b"), ("a - - b", "a - b"), ("a – b", "a - b"), ("a -b", "a - b"),
    ("a- b", "a - b"), ("well-known", "well-known"), ("“it’s”\u00a0 x\n\ty ", '"it\'s" x y'),
])
def test_normalise_folds_dashes_quotes_and_space(text: str, folded: str) -> None:
    from evidencekb.quotes import normalise

    assert normalise(text) == folded


def test_find_maps_back_to_the_original_text() -> None:
    text = "x  the \n band -- here"
    start, end = find("the band - here", text) or (0, 0)
    assert text[start:end] == "the \n band -- here"


def test_a_text_searched_for_many_quotes_is_mapped_once() -> None:
    """The article is searched for every claim's quote: it is normalised once, not per quote."""
    from evidencekb import quotes

    text = "An article, with \u201ccurly\u201d quotes \u2014 and dashes; of some length. " * 50
    before = quotes._index_map.cache_info()
    spans = [find(q, text) for q in ("An article", '"curly" quotes - and', "dashes; of some", "absent")]
    after = quotes._index_map.cache_info()
    assert spans[0] == (0, 10) and spans[3] is None and all(spans[:3])
    assert after.misses - before.misses <= 1 and after.hits - before.hits >= 3


def test_every_claim_in_the_article_has_an_anchor_even_when_quotes_overlap() -> None:
    from evidencekb.pages import annotate_article

    outer, _ = parse_claim(GOOD.replace("It's a thick band", "a thick band that barely stretches"), "c/a.md", "a",
                           BIB.entries)
    inner, _ = parse_claim(GOOD.replace("It's a thick band", "barely stretches"), "c/b.md", "b", BIB.entries)
    assert outer and inner
    text = annotate_article("# Title\n\nIt is a thick band that barely stretches at all.\n", [outer, inner],
                            lambda slug: f"claims/{slug}.md")
    assert '<mark class="ekb-claim ekb-claim--supported" id="claim-a">a thick band that barely stretches</mark>' in text
    assert "(claims/b.md){: #claim-b .ekb-claim-marker" in text  # the inner claim's marker carries its anchor
    assert text.count('id="claim-') + text.count("#claim-") == 2


def test_the_methods_page_names_its_reviewers_or_says_none_are_named() -> None:
    from evidencekb.pages import reviewers_block
    from evidencekb.safe import decode_slots

    def shown(names: list[str]) -> str:
        return decode_slots(reviewers_block(names))

    assert "<li>A. Reviewer, physiotherapist</li>" in shown(["A. Reviewer, physiotherapist"])
    assert "<li>&lt;b&gt;</li>" in shown(["<b>"])
    assert "No reviewer is named" in shown([]) and "<li>" not in shown([])


def test_cite_this_page_entry_is_an_online_reference_with_escaped_words() -> None:
    from evidencekb.exports import page_entry

    claim, _ = parse_claim(GOOD.replace("reviewed: 2026-11-26", "reviewed: 2026-03-09").replace(
        "claim: A claim.", "claim: A claim.\ntitle: Rolling & 50% of {runners}"), "c/foam-it.md", "foam-it", BIB.entries)
    assert claim is not None
    e = page_entry(claim, "IT Band Evidence & Co", "https://x.example/claims/foam-it/")
    assert (e.key, e.type) == ("itbandevidenceco2026foamit", "online")
    assert e.fields == {"author": r"{IT Band Evidence \& Co}",
                        "title": r"Rolling \& 50\% of \textbraceleft{}runners\textbraceright{}",
                        "url": "https://x.example/claims/foam-it/", "year": "2026", "month": "3",
                        "urldate": "2026-03-09", "note": "Evidence review of a claim"}
    assert (e.path, e.line) == ("", 0)  # made by the site, from no file
    claim.reviewed = "2026"  # a year alone: no month
    assert "month" not in page_entry(claim, "S", "u").fields


def test_claim_review_is_schema_org_structured_data() -> None:
    from evidencekb.exports import RATING, claim_review

    claim, _ = parse_claim(GOOD, "c/x.md", "x", BIB.entries)
    assert claim is not None
    data = claim_review(claim, url="https://x.example/claims/x/", article_url="https://x.example/article/",
                        site_name="Site", verdict_label="Supported",
                        article_meta={"author": "A. Writer", "date": "2024-05-01", "title": "IT band pain"})
    assert data == {
        "@context": "https://schema.org", "@type": "ClaimReview", "url": "https://x.example/claims/x/",
        "claimReviewed": "A claim.", "datePublished": "2026-11-26",
        "author": {"@type": "Organization", "name": "Site"},
        "reviewRating": {"@type": "Rating", "ratingValue": RATING["supported"], "bestRating": 5, "worstRating": 1,
                         "alternateName": "Supported"},
        "itemReviewed": {"@type": "Claim", "author": {"@type": "Person", "name": "A. Writer"},
                         "datePublished": "2024-05-01",
                         "appearance": {"@type": "CreativeWork", "url": "https://x.example/article/",
                                        "headline": "IT band pain"}},
    }
    # the rating runs from the claim refuted (1) to supported (5)
    assert RATING["supported"] == 5 and min(RATING.values()) == 1
    blank = claim_review(claim, url="u", article_url="a", site_name="S", verdict_label="V", article_meta={})
    assert blank["itemReviewed"]["author"]["name"] == "" and blank["itemReviewed"]["appearance"]["headline"] == ""
    assert blank["itemReviewed"]["datePublished"] == ""


def test_article_text_is_the_prose_without_markup() -> None:
    from evidencekb.checks import article_text

    page = ("---\ntitle: T\n---\n<!-- a note\nover lines -->\n# The title\n\n**By A. Writer**\n  _May 2024_  \n\n"
            "## Part\nA \\*starred\\* word, 50\\% \\[sic\\] and \\#1.\n")
    assert article_text(page) == "\nThe title\n\nBy A. Writer\nMay 2024\n\nPart\nA *starred* word, 50\\% [sic] and #1.\n"


def test_a_misquote_message_is_located_and_suggests_at_most_300_characters() -> None:
    claim, _ = parse_claim(GOOD, "docs/claims/x.md", "x", BIB.entries)
    assert claim is not None
    claim.quote = "x" * 10
    (d,) = check_claim_quotes([claim], "y" * 500, "docs/article.md")
    assert (d.path, d.line, d.col) == ("docs/claims/x.md", 3, 1)
    assert d.message == ("quote is not verbatim in docs/article.md. No passage of it comes close: copy the quote "
                         "from the text itself.")
    claim.quote = " ".join(["word"] * 80)
    (d,) = check_claim_quotes([claim], " ".join(["ward"] * 80), "docs/article.md")
    assert d.message.endswith('"' + " ".join(["ward"] * 80)[:300] + '"')


def test_an_evidence_quote_needs_an_abstract_to_be_checked_against() -> None:
    lib = load_text([("r.bib", "@article{sr, author={A, B}, title={T}, journal={J}, year={2020}, doi={10.5555/1}, "
                               "design={systematic-review}}")])
    claim, _ = parse_claim(GOOD, "docs/claims/x.md", "x", lib.entries)
    assert claim is not None
    (d,) = check_evidence_quotes([claim], lib)
    assert (d.path, d.line, d.col, d.code) == ("docs/claims/x.md", claim.evidence[0].quote_line, 1, "evidence-misquote")
    assert d.message == ("evidence quote for 'sr' cannot be checked: the entry has no abstract field (r.bib:1); add the "
                         "abstract or drop the quote.")
    claim.evidence[0].quote = ""  # nothing to check
    assert check_evidence_quotes([claim], lib) == []
    claim.evidence[0].quote, claim.evidence[0].ref = "anything", "unknown"  # an unknown key is reported elsewhere
    assert check_evidence_quotes([claim], lib) == []


def test_the_handout_names_direct_counted_evidence_first_strongest_design_then_largest() -> None:
    from evidencekb.claims import Directness, EvidenceItem
    from evidencekb.pages import key_evidence

    claim, _ = parse_claim(GOOD, "c/x.md", "x", BIB.entries)
    assert claim is not None
    indirect = Directness("indirect", "direct", "direct", "Healthy people.")
    claim.evidence = [EvidenceItem("op", "context", n=500), EvidenceItem("sr", "supports", n=10, directness=indirect),
                      EvidenceItem("cs", "contradicts", n=5), EvidenceItem("nowhere", "supports", n=900),
                      EvidenceItem("cs", "supports", n=50)]
    assert key_evidence(claim, BIB) == ["cs", "sr", "op"]  # direct first, each key once, unknown keys left out
    assert key_evidence(claim, BIB, limit=1) == ["cs"]


def test_the_engine_free_config_reader_resolves_env_as_mkdocs_does(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import yaml

    from evidencekb.site import config_loader

    monkeypatch.delenv("EKB_A", raising=False)
    monkeypatch.setenv("EKB_B", "https://b.example/")

    def read(text: str) -> object:
        return yaml.load(text, Loader=config_loader())["v"]

    assert read("v: !ENV [EKB_A, EKB_B, 'fallback']") == "https://b.example/"  # the first variable set
    assert read("v: !ENV [EKB_A, 'fallback']") == "fallback"  # else the last item
    assert read("v: !ENV [EKB_B]") == "https://b.example/" and read("v: !ENV [EKB_A]") is None
    assert read("v: !ENV EKB_B") == "https://b.example/" and read("v: !ENV EKB_A") is None
    assert read("v: !!python/name:os.system") is None  # other tags read as nothing


def _tree(node: object) -> object:
    """A composed node as plain data: tag, value and where it starts and ends."""
    import yaml

    if node is None:
        return None
    assert isinstance(node, yaml.Node)
    where = (node.start_mark.line, node.start_mark.column, node.end_mark.line, node.end_mark.column)
    if isinstance(node, yaml.MappingNode):
        return node.tag, where, [(_tree(k), _tree(v)) for k, v in node.value]
    if isinstance(node, yaml.SequenceNode):
        return node.tag, where, [_tree(v) for v in node.value]
    return node.tag, where, node.value, getattr(node, "style", None) or None  # (plain: None here, "" from libyaml)


_HOSTILE = ["a: &x [1]\nb: *x\n", "claim: !custom x\n", "claim: !!python/object/apply:os.system ['true']\n",
            "claim: [unclosed\n", "a: b: c\n", "a:\n\t- tab\n", "é: ünï 𝄞\nb: [1, 2.5, x, null, true]\n",
            "a: |\n  two\n  lines\n", "a: >-\n  folded\n  text\n", "? [complex, key]\n: v\n", "a: 'it''s'\n",
            "a: \"\\u00e9\\x41\"\n", "- 2024-02-30\n- 0x1F\n- 1_000\n- .inf\n- ~\n", "%YAML 1.1\n---\na: 1\n",
            "a: 1\n---\nb: 2\n", "a: \x07\n", "{a: [b, {c: d}]}\n", "", "# only a comment\n",
            "[" * 200 + "]" * 200 + "\n"]


@pytest.mark.parametrize("text", _HOSTILE)
def test_libyaml_reads_records_as_the_python_reader_does(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Records are read by libyaml's scanner where PyYAML has it, under the same composer:
    the same nodes (tags, values, styles, places) and the same diagnostics as the pure-Python
    reader, for plain and hostile texts alike."""
    from evidencekb import yamlsafe

    if yamlsafe._FastLoader is None:
        pytest.skip("PyYAML was built without libyaml")
    fast = yamlsafe.compose(text, "x.yaml", 3)
    monkeypatch.setattr(yamlsafe, "_FastLoader", None)
    plain = yamlsafe.compose(text, "x.yaml", 3)
    assert (_tree(fast[0]), fast[1]) == (_tree(plain[0]), plain[1])


@settings(max_examples=150, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12),
       st.sampled_from([None, False, True]))
def test_libyaml_reads_what_yaml_writes_as_the_python_reader_does(data: object, flow: bool | None) -> None:
    import yaml

    from evidencekb import yamlsafe

    if yamlsafe._FastLoader is None:
        pytest.skip("PyYAML was built without libyaml")
    text = yaml.safe_dump(data, default_flow_style=flow, allow_unicode=True)
    fast = yamlsafe.compose(text, "x.yaml")
    real, yamlsafe._FastLoader = yamlsafe._FastLoader, None
    try:
        plain = yamlsafe.compose(text, "x.yaml")
    finally:
        yamlsafe._FastLoader = real
    assert (_tree(fast[0]), fast[1]) == (_tree(plain[0]), plain[1])
    assert yamlsafe.construct(fast[0]) == yamlsafe.construct(plain[0])


def test_records_are_read_by_libyaml_where_pyyaml_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """What makes reading the records fast is in use: a valid record never reaches the
    pure-Python reader (which still reads, and words, what libyaml cannot read)."""
    import yaml

    from evidencekb import yamlsafe

    if not yaml.__with_libyaml__:
        pytest.skip("PyYAML was built without libyaml")
    assert yamlsafe._FastLoader is not None
    read: list[str] = []
    real = yamlsafe._Loader.__init__

    def init(self: object, stream: str) -> None:
        read.append(stream)
        real(self, stream)  # type: ignore[arg-type]

    monkeypatch.setattr(yamlsafe._Loader, "__init__", init)
    node, errs = yamlsafe.compose("a: [1, 2]\n", "x.yaml")
    assert errs == [] and yamlsafe.construct(node) == {"a": [1, 2]} and read == []
    _, errs = yamlsafe.compose("a: b: c\n", "x.yaml")
    assert read == ["a: b: c\n"] and errs[0].message == "not valid YAML: mapping values are not allowed here."
