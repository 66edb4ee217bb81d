"""The real site: it builds with --strict, offline, and its content is faithful."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from conftest import ROOT

from evidencekb.checks import article_text

#: The article as its author published it (a copy kept with the tests).
ORIGINAL_ARTICLE = ROOT / "tests" / "data" / "itband-article.txt"


def test_strict_build_succeeds(built_site: Path) -> None:
    assert (built_site / "index.html").exists()
    assert (built_site / "claims.json").exists()


def test_no_third_party_resources(built_site: Path) -> None:
    """Nothing is loaded from another host (the site's own public address, in its canonical
    link, is no third party)."""
    from urllib.parse import urlparse

    from conftest import PUBLIC_URL

    own = urlparse(PUBLIC_URL).netloc
    offenders = []
    for page in built_site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        for m in re.finditer(r'<(?:script|link|img|iframe)\b[^>]*(?:src|href)="(https?:)?//([^"/]+)', html):
            if m.group(2) != own:
                offenders.append((page.relative_to(built_site).as_posix(), m.group(2)))
    assert offenders == []


def test_every_claim_page_is_built(built_site: Path) -> None:
    data = json.loads((built_site / "claims.json").read_text(encoding="utf-8"))
    slugs = {c["slug"] for c in data["claims"]}
    assert slugs == {p.stem for p in (ROOT / "docs" / "claims").glob("*.md") if p.name != "index.md"}
    for slug in slugs:
        html = (built_site / "claims" / slug / "index.html").read_text(encoding="utf-8")
        assert "Verdict: </span>" in html and " certainty</span>" in html and 'class="references"' in html
        assert 'class="ekb-bottom-line"' in html and "Summary of findings" in html and "ekb-prisma-svg" in html


def test_reference_pages_exist_for_every_cited_entry(built_site: Path) -> None:
    from evidencekb.site import Project, Site

    site = Site.load(Project.from_config_file(ROOT / "mkdocs.yml"))
    cited = site.cited_keys()
    assert len(cited) >= 60
    for key in site.bib.entries:
        assert (built_site / "references" / key / "index.html").exists() == (key in cited), key


def test_reference_pages_hold_their_formatted_entries(built_site: Path) -> None:
    """A generated page's formatted entries are put in as the page is written: each reference
    page holds its entry in the site's style and, to copy, in every style; no page and no
    search entry is left with a stand-in for one."""
    from markupsafe import escape

    from evidencekb.csl import Formatter
    from evidencekb.site import Project, Site

    site = Site.load(Project.from_config_file(ROOT / "mkdocs.yml"))
    opts = site.project.options
    stand_in = re.compile(r"ekblater[0-9a-f]{12}n[0-9]+z")
    assert not stand_in.search((built_site / "search" / "search_index.json").read_text(encoding="utf-8"))
    for page in built_site.rglob("*.html"):
        assert not stand_in.search(page.read_text(encoding="utf-8")), page
    fmts = {s: Formatter(s) for s in opts.styles}
    for key in sorted(site.cited_keys()):
        page = (built_site / "references" / key / "index.html").read_text(encoding="utf-8")
        entry = site.bib.entries[key]
        assert f'<p class="ekb-formatted">{fmts[opts.style].format(entry).html}</p>' in page, key
        for f in fmts.values():
            assert f"<code>{escape(f.format(entry).text)}</code>" in page, key
    listing = (built_site / "bibliography" / "index.html").read_text(encoding="utf-8")
    assert all(fmts[opts.style].format(site.bib.entries[k]).html in listing for k in site.cited_keys())


def test_article_is_reproduced_exactly() -> None:
    original = ORIGINAL_ARTICLE.read_text(encoding="utf-8")
    page = (ROOT / "docs" / "article.md").read_text(encoding="utf-8")
    prose = article_text(page.split("<!-- article starts -->", 1)[1])
    lines = [ln.strip() for ln in original.splitlines() if ln.strip()]
    author, title, date, body = lines[0], lines[1], lines[2], lines[3:]
    assert f"# {title}" in page and f"**{author}**" in page and f"**{date}**" in page
    assert [ln.strip() for ln in prose.splitlines() if ln.strip()] == body


def test_footer_and_search_ranking(built_site: Path) -> None:
    """The footer names the owner and licence from the configuration and the date the evidence
    was last reviewed; search ranks claim pages above reference pages."""
    data = json.loads((built_site / "claims.json").read_text(encoding="utf-8"))
    latest = max(c["reviewed"] for c in data["claims"])
    home = (built_site / "index.html").read_text(encoding="utf-8")
    assert "Published by the IT Band Evidence editors" in home and f"Evidence last reviewed {latest}" in home
    assert "CC BY 4.0" in home
    import yaml

    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    reviewers = next(p["evidencekb"]["reviewers"] for p in yaml.load(config, Loader=yaml.BaseLoader)["plugins"]
                     if isinstance(p, dict) and "evidencekb" in p)
    methods = (built_site / "methods" / "index.html").read_text(encoding="utf-8")
    claim_page = (built_site / "claims" / data["claims"][0]["slug"] / "index.html").read_text(encoding="utf-8")
    for name in reviewers:  # named, from the configuration, on the methods page and on each claim page
        assert f"<li>{html.escape(name, quote=False)}</li>" in methods and html.escape(name, quote=False) in claim_page
    # abbreviations in quoted abstracts are explained as in the page's own text
    assert re.search(r'<span class="ekb-quote">[^<]*<abbr title="[^"]+">', "".join(
        p.read_text(encoding="utf-8") for p in (built_site / "claims").glob("*/index.html")))
    index = json.loads((built_site / "search" / "search_index.json").read_text(encoding="utf-8"))["docs"]
    boosts = {d["location"].split("#")[0]: d.get("boost") for d in index if "#" not in d["location"]}
    claim = f"claims/{data['claims'][0]['slug']}/"
    assert boosts[claim] > 1
    first = {d["location"]: d["text"] for d in index}[claim]
    from evidencekb.pages import VERDICT_LABELS

    # a result's excerpt shows the verdict
    assert f"Verdict: {VERDICT_LABELS[data['claims'][0]['verdict']]}" in first
    assert all(b is not None and b < 1 for loc, b in boosts.items() if loc.startswith("references/"))


def test_no_broken_internal_links_or_anchors(built_site: Path) -> None:
    """Every internal link and anchor of the whole site resolves (read statically)."""
    from linkcheck import broken_links

    assert broken_links(built_site) == []


def test_the_static_link_check_finds_broken_links(tmp_path: Path) -> None:
    from linkcheck import broken_links

    (tmp_path / "a").mkdir()
    (tmp_path / "index.html").write_text('<a href="a/">ok</a> <a href="b/">no page</a> <a href="#top">no anchor</a>'
                                         '<h1 id="here">x</h1><a href="#here">ok</a>', encoding="utf-8")
    (tmp_path / "a" / "index.html").write_text('<a href="../index.html#here">ok</a><a href="../#gone">no</a>'
                                               '<a href="https://example.org/x">outside</a>', encoding="utf-8")
    assert sorted(broken_links(tmp_path)) == [("a/index.html", "../#gone"), ("index.html", "#top"),
                                              ("index.html", "b/")]



@pytest.mark.parametrize(("pages", "excluded"), [("cited", True), ("none", False)])
def test_the_bibliography_leaves_to_search_the_entries_with_pages_of_their_own(tmp_path: Path, pages: str,
                                                                              excluded: bool) -> None:
    """An entry with a page is found by search there, not in the bibliography too: a large
    library's listing would pass the search index's limit (Zensical stops the build)."""
    import shutil

    from conftest import ROOTS

    from evidencekb.safe import decode_slots
    from evidencekb.site import Project, Site, formatters

    root = tmp_path / "claims"
    shutil.copytree(ROOTS / "claims", root)
    cfg = (root / "mkdocs.yml").read_text(encoding="utf-8")
    (root / "mkdocs.yml").write_text(cfg.replace("  - evidencekb\nmarkdown", "  - evidencekb:\n"
                                                 f"      reference_pages: {pages}\nmarkdown"), encoding="utf-8")
    site = Site.load(Project.from_config_file(root / "mkdocs.yml"))
    listing = decode_slots(site.generated(formatters(None))["bibliography.md"])
    items = re.findall(r"<li[^>]*>.*?</li>", listing)
    assert len(items) == len(site.cited_keys()) > 0
    for item in items:
        assert item.startswith("<li data-search-exclude>") is excluded and ("Details</a>" in item) is excluded


def test_evidence_tables_name_their_studies_through_the_formatters_memo(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A claim page's evidence tables name each study ("Smith et al. (2020)") through the
    site formatter's memo, kept with its formatted entries between builds: a second build
    works out no names again, and writes the same page as without the memo."""
    import shutil

    from conftest import ROOTS

    from evidencekb import csl
    from evidencekb.site import Formatters, Project, Site

    root = tmp_path / "claims"
    shutil.copytree(ROOTS / "claims", root)
    site = Site.load(Project.from_config_file(root / "mkdocs.yml"))
    claim = site.claims[0]
    src = f"{site.project.options.claims_dir}/{claim.slug}.md"
    cdir = tmp_path / "cache"
    first = Formatters(cdir)
    page = site.page_markdown(src, "", first)
    first.save(site.bib.entries)
    converted: list[str] = []  # name lists read (the work a name takes)
    real = csl._names

    def names(value: str, *args: object, **kwargs: object) -> object:
        converted.append(value)
        return real(value, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(csl, "_names", names)
    assert site.page_markdown(src, "", Formatters(cdir)) == page and converted == []  # the next build
    monkeypatch.setattr(site, "appraisal", lambda formatter=None: Site.appraisal(site))  # no memo
    assert site.page_markdown(src, "", Formatters(cdir)) == page and converted  # worked out again


def test_evidence_quotes_are_checked_again_only_when_a_quote_or_its_abstract_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What each evidence quote came to against its abstract is kept between checks by the
    text of both: a check in which neither changed decodes no abstract and reports the same;
    an edited quote is checked again."""
    import shutil

    from conftest import ROOTS

    from evidencekb import bibliography as bibmod
    from evidencekb.site import Project, Site

    root = tmp_path / "claims"
    shutil.copytree(ROOTS / "claims", root)
    page = root / "docs" / "claims" / "band-stretch.md"
    good = "Stretching did not change band stiffness in any trial."
    page.write_text(page.read_text(encoding="utf-8").replace(good, good.replace("any", "every")), encoding="utf-8")
    project, cdir = Project.from_config_file(root / "mkdocs.yml"), tmp_path / "cache"
    first = Site.load(project, cdir).check()
    assert [d.line for d in first if d.code == "evidence-misquote"] == [40]
    real = bibmod.Entry.text

    def text(self: bibmod.Entry, name: str) -> str:
        assert name != "abstract", "decoded again"
        return real(self, name)

    monkeypatch.setattr(bibmod.Entry, "text", text)
    assert Site.load(project, cdir).check() == first
    page.write_text(page.read_text(encoding="utf-8").replace(good.replace("any", "every"), good), encoding="utf-8")
    with pytest.raises(AssertionError, match="decoded again"):
        Site.load(Project.from_config_file(root / "mkdocs.yml"), cdir).check()
    monkeypatch.undo()
    assert not [d for d in Site.load(project, cdir).check() if d.code == "evidence-misquote"]
