"""Checks across records: quotes, appraisal, verdicts, citations. Pure.

Records in, diagnostics out. The site stage runs every check here, once, for
both the build (any engine) and ``evidencekb check``: they cannot disagree.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from . import grade, quotes
from .bibliography import Bibliography, Entry
from .claims import Claim, Rating, split_front_matter
from .diagnostics import Diagnostic, diag
from .mcid import Mcid
from .rob import Judgement
from .screening import Log

_ZERO = Rating()

__all__ = ["article_text", "check_claim_quotes", "check_evidence_quotes", "check_appraisal", "check_screening",
           "computed_outcomes", "designs_of"]


def article_text(markdown: str) -> str:
    """The article's prose from its Markdown page: no front matter, headings or markup."""
    _, body, _ = split_front_matter(markdown)
    body = re.sub(r"<!--.*?-->", "", body, flags=re.S)
    body = re.sub(r"^#{1,6}[ \t]*", "", body, flags=re.M)  # (not \s: the lines between paragraphs stay)
    body = re.sub(r"^[ \t]*[*_]{1,2}(.*?)[*_]{1,2}[ \t]*$", r"\1", body, flags=re.M)
    body = re.sub(r"\\([\\`*_{}\[\]()#+\-.!'\"])", r"\1", body)
    return body


def _nearest(quote: str, text: str) -> str:
    """The did-you-mean part of a misquote message (at most 300 characters of the passage)."""
    near = quotes.closest(quote, text)
    if not near:
        return "No passage of it comes close: copy the quote from the text itself."
    return f"Closest passage: \"{near[:300]}\""


def check_claim_quotes(claims: Iterable[Claim], article: str, article_path: str) -> list[Diagnostic]:
    out = []
    for c in claims:
        if c.quote and quotes.find(c.quote, article) is None:
            out.append(diag(c.path, c.line("quote"), 1, "claim-misquote",
                            f"quote is not verbatim in {article_path}. {_nearest(c.quote, article)}"))
    return out


def check_evidence_quotes(claims: Iterable[Claim], bib: Bibliography, memo: Any = None) -> list[Diagnostic]:
    """Each evidence quote against its entry's abstract. With ``memo`` (a
    :class:`~evidencekb.cache.TextMemo`), what a quote and an abstract came to is kept by
    their text, so that a build in which neither changed neither decodes the abstract nor
    searches it again."""
    out = []
    for c in claims:
        for e in c.evidence:
            entry = bib.get(e.ref)
            if not e.quote or entry is None:
                continue
            if memo is None:
                found = _against_abstract(e.quote, entry)
            else:
                key = hashlib.sha256(f"{e.quote}\0{entry.fields.get('abstract', '')}".encode("utf-8", "surrogatepass"))
                found = memo.get(key.hexdigest(), lambda q=e.quote, en=entry: _against_abstract(q, en))
            if found is None:
                out.append(diag(c.path, e.quote_line or e.line, 1, "evidence-misquote",
                                f"evidence quote for '{e.ref}' cannot be checked: the entry has no abstract field "
                                f"({entry.path}:{entry.line}); add the abstract or drop the quote."))
            elif found:
                out.append(diag(c.path, e.quote_line or e.line, 1, "evidence-misquote",
                                f"evidence quote is not verbatim in the abstract of '{e.ref}'. " + found))
    return out


def _against_abstract(quote: str, entry: Entry) -> str | None:
    """A quote against its entry's abstract: None when there is no abstract, "" when the
    quote is in it, else what the misquote message suggests."""
    abstract = entry.text("abstract")
    if not abstract:
        return None
    return "" if quotes.find(quote, abstract) is not None else _nearest(quote, abstract)


def designs_of(c: Claim, bib: Bibliography) -> dict[str, str]:
    return {it.ref: bib[it.ref].design for it in c.evidence if it.ref in bib}


def computed_outcomes(c: Claim, bib: Bibliography, rob: Mapping[str, Judgement]) -> dict[str, grade.Computed]:
    """What each outcome's judgements give."""
    designs = designs_of(c, bib)
    randomised = frozenset(k for k, j in rob.items() if j.randomised)
    return {o.id: grade.compute(o, c.body_of(o.id), designs, randomised) for o in c.outcomes}


def check_appraisal(c: Claim, bib: Bibliography, rob: Mapping[str, Judgement],
                    mcid: Mapping[str, Mcid]) -> list[Diagnostic]:
    """GRADE judgements, the verdict rule, risk of bias and effects of one claim."""
    out: list[Diagnostic] = []
    computed = computed_outcomes(c, bib, rob)
    for o in c.outcomes:
        got = computed[o.id]
        for domain, r in o.grade.items():
            if r.rating and not r.reason:
                out.append(diag(c.path, o.lines.get(domain, o.line), 1, "grade-no-reason",
                                f"outcome '{o.id}': {domain} is rated {r.rating:+d} without a reason; say why."))
        if got.certainty != o.certainty:
            out.append(diag(c.path, o.lines.get("certainty", o.line), 1, "grade-mismatch",
                            f"outcome '{o.id}' is stated '{o.certainty}' but its judgements give "
                            f"'{got.certainty}' ({got.explain()}); correct the certainty or the judgements."))
        body = c.body_of(o.id)
        if body and sum(r.rating for d, r in o.grade.items() if d in ("large-effect", "dose-response", "confounding")) \
                and any(r.rating for d, r in o.grade.items() if d in ("risk-of-bias", "inconsistency", "indirectness",
                                                                        "imprecision", "publication-bias")):
            out.append(diag(c.path, o.line, 1, "grade-upgrade",
                            f"outcome '{o.id}' is rated up and also rated down; GRADE rates up only a body of "
                            "evidence with no serious limitation."))
        risks = [rob[it.ref].risk for it in body if it.ref in rob]
        if body and risks and all(r == "high" for r in risks) and len(risks) == len(body) \
                and not o.grade.get("risk-of-bias", _ZERO).rating:
            out.append(diag(c.path, o.lines.get("risk-of-bias", o.line), 1, "grade-hint",
                            f"outcome '{o.id}': every study is at high risk of bias, yet risk of bias is not "
                            "rated down."))
        if body and all(not it.directness.direct for it in body) \
                and not o.grade.get("indirectness", _ZERO).rating:
            out.append(diag(c.path, o.lines.get("indirectness", o.line), 1, "grade-hint",
                            f"outcome '{o.id}': every study is indirect, yet indirectness is not rated down."))
        counted = {it.ref for it in body}
        for it in body:
            j = rob.get(it.ref)
            for inner in j.includes if j else ():
                if inner in counted:
                    out.append(diag(c.path, it.line, 1, "grade-double-count",
                                    f"outcome '{o.id}' counts the review '{it.ref}' and '{inner}', a study it "
                                    "includes: count the study once (mark one of them context)."))
    expected = grade.claim_certainty(c, computed)
    if c.outcomes and expected != c.certainty:
        out.append(diag(c.path, c.line("certainty"), 1, "grade-mismatch",
                        f"certainty '{c.certainty}' should be '{expected}', the lowest certainty of the claim's "
                        "critical outcomes."))
    rule = grade.verdict_rule(c)
    if c.verdict not in rule.allowed and not c.override:
        out.append(diag(c.path, c.line("verdict"), 1, "verdict-not-allowed",
                        f"verdict '{c.verdict}' is not one the direct evidence allows ({rule.reason}); allowed: "
                        f"{', '.join(rule.allowed)}. Change the verdict or the evidence, or give an 'override' "
                        "reason."))
    for it in c.evidence:
        if it.counted and it.ref in bib and it.ref not in rob:
            out.append(diag(c.path, it.line, 1, "rob-missing",
                            f"'{it.ref}' counts for outcome '{it.outcome}' but has no risk-of-bias judgement; add "
                            "one to the risk-of-bias file."))
        for ef in it.effects:
            if ef.scale and ef.scale not in mcid:
                out.append(diag(c.path, ef.line, 1, "effect-unknown-scale",
                                f"effect of '{it.ref}' names scale '{ef.scale}', which the table of minimal "
                                f"important differences does not define ({', '.join(sorted(mcid)) or 'it is empty'})."))
    return out


def check_screening(c: Claim, log: Log | None, log_path: str) -> list[Diagnostic]:
    """Every evidence item is an included record; every included record is used; searches are current."""
    out: list[Diagnostic] = []
    if log is None:
        out.append(diag(c.path, c.line("evidence"), 1, "screening-missing",
                        f"the claim has no screening log ({log_path}); list every candidate looked at, with its "
                        "decision and, for exclusions, the reason."))
    else:
        included = log.included()
        used = {it.ref for it in c.evidence}
        for it in c.evidence:
            if it.ref not in included:
                out.append(diag(c.path, it.line, 1, "screening-not-included",
                                f"'{it.ref}' is evidence but not an included record of {log_path}; add it there "
                                "as included."))
        for rid, r in included.items():
            if rid not in used:
                out.append(diag(log.path, r.line, 1, "screening-unused",
                                f"'{rid}' is included for claim '{c.slug}' but no evidence item uses it; add the "
                                "evidence or change the decision (with its reason)."))
        for r in log.records:
            if r.decision == "unscreened":
                out.append(diag(log.path, r.line, 1, "screening-unscreened",
                                f"'{r.id}' has not been screened yet; include or exclude it with a reason."))
    if c.searched and c.reviewed and c.searched < c.reviewed:
        out.append(diag(c.path, c.line("reviewed"), 1, "search-outdated",
                        f"reviewed {c.reviewed}, but the latest search was run {c.searched}: run the searches "
                        "again (evidencekb search) before recording a new review date."))
    elif not c.searched and c.searches:
        out.append(diag(c.path, c.line("searches"), 1, "search-outdated",
                        "no search has a date: record when each search was run."))
    return out
