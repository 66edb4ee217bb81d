"""Sharing: cite-this, downloads other tools read back, ClaimReview data, glossary tooltips, history."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from conftest import ROOT, need, pandoc

from evidencekb.bibliography import find_bib_files, load, load_text
from evidencekb.exports import RATING

BIB = load(find_bib_files(ROOT, ["references"]), ROOT)


def _claims(site: Path) -> list[dict]:  # type: ignore[type-arg]
    return json.loads((site / "claims.json").read_text(encoding="utf-8"))["claims"]


def test_library_downloads_round_trip_through_pandoc_and_rispy(built_site: Path, tmp_path: Path) -> None:
    need(pandoc() is not None, "pandoc (pypandoc-binary) is not installed")
    bib = built_site / "downloads" / "references.bib"
    csl = built_site / "downloads" / "references.json"
    ris = built_site / "downloads" / "references.ris"
    ours = load_text([("x", bib.read_text(encoding="utf-8"))])
    assert not ours.diagnostics
    cited = set(ours.entries)
    assert cited and cited <= set(BIB.entries)
    for key in cited:  # every field survives
        assert ours.entries[key].fields == BIB.entries[key].fields
    from_bib = json.loads(subprocess.run([pandoc(), "-f", "bibtex", "-t", "csljson", str(bib)],
                                         capture_output=True, text=True, check=True).stdout)
    assert {i["id"] for i in from_bib} == cited
    from_csl = json.loads(subprocess.run([pandoc(), "-f", "csljson", "-t", "csljson", str(csl)],
                                         capture_output=True, text=True, check=True).stdout)
    assert {i["id"] for i in from_csl} == cited
    by_id = {i["id"]: i for i in from_csl}
    for item in from_bib:
        assert by_id[item["id"]].get("DOI") == item.get("DOI")
        assert by_id[item["id"]]["title"] == item["title"]
    import rispy

    records = rispy.loads(ris.read_text(encoding="utf-8"))
    assert len(records) == len(cited)
    dois = {r.get("doi") for r in records if r.get("doi")}
    assert dois == {e.fields["doi"] for k, e in BIB.entries.items() if k in cited and e.fields.get("doi")}
    assert all(r.get("authors") and r.get("title") for r in records)


def test_each_claim_has_its_own_downloads(built_site: Path) -> None:
    for claim in _claims(built_site):
        stem = built_site / "downloads" / "claims" / claim["slug"]
        keys = set(load_text([("x", stem.with_suffix(".bib").read_text(encoding="utf-8"))]).entries)
        assert keys == {e["ref"] for e in claim["evidence"]}
        assert len(json.loads(stem.with_suffix(".json").read_text(encoding="utf-8"))) == len(keys)
        assert stem.with_suffix(".ris").read_text(encoding="utf-8").count("ER  - ") == len(keys)


SCHEMA = {  # the schema.org properties each type may carry (from the schema.org vocabulary)
    "ClaimReview": {"url", "claimReviewed", "datePublished", "author", "reviewRating", "itemReviewed"},
    "Rating": {"ratingValue", "bestRating", "worstRating", "alternateName"},
    "Claim": {"author", "datePublished", "appearance"},
    "CreativeWork": {"url", "headline"},
    "Organization": {"name"},
    "Person": {"name"},
}


def _check_node(node: dict) -> None:  # type: ignore[type-arg]
    t = node["@type"]
    assert t in SCHEMA, t
    assert set(node) - {"@type", "@context"} <= SCHEMA[t], (t, set(node) - SCHEMA[t])
    for v in node.values():
        if isinstance(v, dict):
            _check_node(v)


def test_claim_pages_carry_one_valid_claimreview(built_site: Path) -> None:
    for claim in _claims(built_site):
        html = (built_site / "claims" / claim["slug"] / "index.html").read_text(encoding="utf-8")
        blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
        assert len(blocks) == 1
        data = json.loads(blocks[0])
        assert data["@context"] == "https://schema.org"
        _check_node(data)
        assert data["claimReviewed"] == claim["claim"]
        rating = data["reviewRating"]
        assert rating["ratingValue"] == RATING[claim["verdict"]] and 1 <= rating["ratingValue"] <= 5
        assert rating["alternateName"].lower().replace(" ", "-") == claim["verdict"]
        item = data["itemReviewed"]
        assert item["author"]["name"].startswith("Mike Hachey") and item["datePublished"] == "2026-05-16"
        assert item["appearance"]["url"].endswith("/article/")
        assert data["author"]["name"] and re.match(r"\d{4}-\d{2}-\d{2}$", data["datePublished"])


def test_cite_this_page_in_ama_apa_and_bibtex(built_site: Path) -> None:
    claim = _claims(built_site)[0]
    html = (built_site / "claims" / claim["slug"] / "index.html").read_text(encoding="utf-8")
    assert 'id="cite-this-page"' in html
    for label in ("AMA", "APA", "BibTeX"):
        assert f">{label}</label>" in html
    text = re.sub(r"<[^>]+>", "", html)
    bibtex = re.search(r"@online\{[^@]*?\n\}", text)
    assert bibtex and f"claims/{claim['slug']}/" in bibtex.group(0)


def test_reference_pages_offer_copyable_styles(built_site: Path) -> None:
    key = next(iter(BIB.entries))
    html = (built_site / "references" / key / "index.html").read_text(encoding="utf-8")
    for label in ("AMA", "APA", "Vancouver"):
        assert f">{label}</label>" in html
    text = re.sub(r"<[^>]+>", "", html)
    assert "Cited by" in text and f"@article{{{key}," in text


def test_glossary_terms_explained_on_hover_without_breaking_headings(built_site: Path) -> None:
    html = (built_site / "claims" / "friction-over-condyle" / "index.html").read_text(encoding="utf-8")
    assert re.search(r'<abbr title="Iliotibial band syndrome[^"]*">ITBS</abbr>', html)
    for h in re.findall(r"<h[1-6][^>]*>.*?</h[1-6]>", html, re.S):
        assert h.count("<a") == h.count("</a>")
    glossary = (built_site / "glossary" / "index.html").read_text(encoding="utf-8")
    for term in ("Gerdy", "Vastus lateralis", "Trigger point", "Myofascial release", "Hip abductors",
                 "Lateral femoral condyle", "Lateral femoral epicondyle", "Fascia", "Neuromuscular therapy"):
        assert term in glossary


def test_history_and_what_changed(built_site: Path) -> None:
    changes = (built_site / "changes" / "index.html").read_text(encoding="utf-8")
    for claim in _claims(built_site):
        assert claim["history"], claim["slug"]
        assert claim["history"][0]["date"] in changes
        html = (built_site / "claims" / claim["slug"] / "index.html").read_text(encoding="utf-8")
        assert "Review and history" in html and claim["reviewed"] in html
