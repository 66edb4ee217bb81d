"""Exports other tools read back: BibTeX, CSL-JSON and RIS; cite-this and ClaimReview data. Pure."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from .bibfmt import entries_text
from .bibliography import Entry
from .claims import Claim
from .csl import csl_json_item as _csl_json
from .csl import to_plain_csl

__all__ = ["to_bibtex", "to_csl_json", "to_ris", "downloads", "download_paths", "RATING", "claim_review", "page_entry"]

_RIS_TYPES = {"article": "JOUR", "book": "BOOK", "incollection": "CHAP", "inbook": "CHAP",
              "inproceedings": "CPAPER", "phdthesis": "THES", "mastersthesis": "THES", "techreport": "RPRT",
              "online": "ELEC", "misc": "GEN"}


def to_bibtex(entries: Iterable[Entry]) -> str:
    """Self-contained BibTeX: @string macros expanded, inherited fields written in, one
    normalised entry each."""
    # A child's inherited fields are written into it, so it needs no crossref or xdata parent.
    return entries_text((e.type, e.key, {k: v for k, v in e.fields.items()
                                         if not (e.inherited and k in ("crossref", "xdata"))}) for e in entries)


def download_paths(stem: str) -> list[str]:
    """The files :func:`downloads` makes for ``stem``."""
    return [stem + ".bib", stem + ".json", stem + ".ris"]


def downloads(stem: str, entries: list[Entry]) -> dict[str, str]:
    """The entries as files to download: BibTeX, CSL-JSON and RIS, at ``stem`` plus their suffix."""
    bib, json_, ris = download_paths(stem)
    return {bib: to_bibtex(entries), json_: to_csl_json(entries), ris: to_ris(entries)}


def to_csl_json(entries: Iterable[Entry]) -> str:
    return json.dumps([_csl_json(e) for e in entries], ensure_ascii=False, indent=2) + "\n"


def _ris_line(tag: str, value: str) -> str:
    clean = re.sub(r"\s+", " ", value).strip()
    return f"{tag}  - {clean}"


def to_ris(entries: Iterable[Entry]) -> str:
    out: list[str] = []
    for e in entries:
        item = to_plain_csl(e)
        out.append(_ris_line("TY", _RIS_TYPES.get(e.type, "GEN")))
        for name in item.get("author", []):
            if "literal" in name:
                out.append(_ris_line("AU", name["literal"]))
            else:
                family = " ".join(x for x in (name.get("dropping-particle"), name.get("family")) if x)
                given = name.get("given", "")
                suffix = f", {name['suffix']}" if name.get("suffix") else ""
                out.append(_ris_line("AU", f"{family}, {given}{suffix}".strip(", ")))
        if item.get("title"):
            out.append(_ris_line("TI", item["title"]))
        if item.get("container-title"):
            out.append(_ris_line("T2" if e.type != "article" else "JO", item["container-title"]))
        if item.get("container-title-short"):
            out.append(_ris_line("J2", item["container-title-short"]))
        year = (item.get("issued") or {}).get("date-parts", [[None]])[0][0]
        if year:
            out.append(_ris_line("PY", str(year)))
        for tag, field in (("VL", "volume"), ("IS", "issue"), ("PB", "publisher"), ("CY", "publisher-place"),
                           ("DO", "DOI"), ("UR", "URL"), ("SN", "ISSN")):
            if item.get(field):
                out.append(_ris_line(tag, str(item[field])))
        page = str(item.get("page", ""))
        if page:
            start, _, end = page.partition("-")
            out.append(_ris_line("SP", start))
            if end:
                out.append(_ris_line("EP", end))
        if e.fields.get("pmid"):
            out.append(_ris_line("AN", e.fields["pmid"]))
        abstract = e.text("abstract")
        if abstract:
            out.append(_ris_line("AB", abstract))
        out.append("ER  - ")
        out.append("")
    return "\n".join(out)


#: The ClaimReview rating scale (documented on the methods page).
RATING = {"supported": 5, "partly-supported": 4, "contested": 3, "untested": 2, "not-supported": 1}


def page_entry(c: Claim, site_name: str, url: str) -> Entry:
    """The claim page as a web reference, for "cite this page"."""
    from .importers import _escape

    year = c.reviewed[:4]
    fields = {  # the page's words are plain text: escaped for BibTeX
        "author": "{" + _escape(site_name) + "}", "title": _escape(c.heading), "url": url, "year": year,
        "month": str(int(c.reviewed[5:7])) if len(c.reviewed) >= 7 else "", "urldate": c.reviewed,
        "note": "Evidence review of a claim",
    }
    site = re.sub(r"[^a-z0-9]+", "", site_name.lower())
    return Entry(f"{site}{year}{c.slug.replace('-', '')}", "online",
                 {k: v for k, v in fields.items() if v}, "", 0)


def claim_review(c: Claim, *, url: str, article_url: str, site_name: str, verdict_label: str,
                 article_meta: dict[str, str]) -> dict[str, Any]:
    """schema.org ClaimReview (JSON-LD) for one claim page."""
    return {
        "@context": "https://schema.org",
        "@type": "ClaimReview",
        "url": url,
        "claimReviewed": c.claim,
        "datePublished": c.reviewed,
        "author": {"@type": "Organization", "name": site_name},
        "reviewRating": {
            "@type": "Rating", "ratingValue": RATING[c.verdict], "bestRating": 5, "worstRating": 1,
            "alternateName": verdict_label,
        },
        "itemReviewed": {
            "@type": "Claim",
            "author": {"@type": "Person", "name": article_meta.get("author", "")},
            "datePublished": article_meta.get("date", ""),
            "appearance": {"@type": "CreativeWork", "url": article_url,
                           "headline": article_meta.get("title", "")},
        },
    }
