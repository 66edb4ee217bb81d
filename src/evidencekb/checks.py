"""Checks across records: quotes, evidence quotes, verdict ceilings. Pure.

Records in, diagnostics out. The MkDocs plugin and ``evidencekb check`` call
the same functions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from . import ceiling as ceil
from . import quotes
from .bibliography import Bibliography
from .claims import Claim
from .diagnostics import Diagnostic, diag

__all__ = ["article_text", "check_claim_quotes", "check_evidence_quotes", "check_ceilings", "check_all"]


def article_text(markdown: str) -> str:
    """The article's prose from its Markdown page: no front matter, headings or markup."""
    from .claims import split_front_matter

    _, body, _ = split_front_matter(markdown)
    body = re.sub(r"<!--.*?-->", "", body, flags=re.S)
    body = re.sub(r"^#{1,6}\s*", "", body, flags=re.M)
    body = re.sub(r"^\s*[*_]{1,2}(.*?)[*_]{1,2}\s*$", r"\1", body, flags=re.M)
    body = re.sub(r"\\([\\`*_{}\[\]()#+\-.!'\"])", r"\1", body)
    return body


def check_claim_quotes(claims: Iterable[Claim], article: str, article_path: str) -> list[Diagnostic]:
    out = []
    for c in claims:
        if c.quote and quotes.find(c.quote, article) is None:
            near = quotes.closest(c.quote, article)
            out.append(diag(c.path, c.line("quote"), 1, "claim-misquote",
                            f"quote is not verbatim in {article_path}. Closest passage: \"{near}\""))
    return out


def check_evidence_quotes(claims: Iterable[Claim], bib: Bibliography) -> list[Diagnostic]:
    out = []
    for c in claims:
        for e in c.evidence:
            entry = bib.get(e.ref)
            if not e.quote or entry is None:
                continue
            abstract = entry.text("abstract")
            if not abstract:
                out.append(diag(c.path, e.line, 1, "evidence-misquote",
                                f"evidence quote for '{e.ref}' cannot be checked: the entry has no abstract field "
                                f"({entry.path}:{entry.line}); add the abstract or drop the quote."))
            elif quotes.find(e.quote, abstract) is None:
                near = quotes.closest(e.quote, abstract)
                out.append(diag(c.path, e.line, 1, "evidence-misquote",
                                f"evidence quote is not verbatim in the abstract of '{e.ref}'. "
                                f"Closest passage: \"{near}\""))
    return out


def claim_ceiling(c: Claim, bib: Bibliography) -> ceil.Ceiling:
    designs = {it.ref: bib[it.ref].design for it in c.evidence if it.ref in bib}
    return ceil.for_claim(c.evidence, designs)


def check_ceilings(claims: Iterable[Claim], bib: Bibliography) -> list[Diagnostic]:
    out = []
    for c in claims:
        limit = claim_ceiling(c, bib)
        if ceil.verdict_exceeds(c.verdict, limit.verdict) and not c.override:
            out.append(diag(c.path, c.line("verdict"), 1, "verdict-above-ceiling",
                            f"verdict '{c.verdict}' is above the ceiling '{limit.verdict}' its evidence allows "
                            f"({limit.reason}); lower the verdict, add evidence, or give an 'override' reason."))
        if ceil.certainty_exceeds(c.certainty, limit.certainty) and not c.override:
            out.append(diag(c.path, c.line("certainty"), 1, "verdict-above-ceiling",
                            f"certainty '{c.certainty}' is above the '{limit.certainty}' its evidence allows; "
                            "lower it or give an 'override' reason."))
    return out


def check_all(claims: list[Claim], bib: Bibliography, article: str | None, article_path: str) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    if article is not None:
        out += check_claim_quotes(claims, article, article_path)
    out += check_evidence_quotes(claims, bib)
    out += check_ceilings(claims, bib)
    return out
