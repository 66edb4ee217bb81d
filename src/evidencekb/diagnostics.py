"""Diagnostics: every problem a person can fix, located and coded.

Checks never raise on content problems; they return :class:`Diagnostic`
records. Only the MkDocs plugin and the command line turn them into log lines
or exit codes.
"""

from __future__ import annotations

from enum import Enum
from operator import attrgetter
from typing import NamedTuple


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


#: Every diagnostic code, its default severity and what it means. The docs
#: page of codes is generated from this table, so it is the single source.
CODES: dict[str, tuple[Severity, str]] = {
    "bib-syntax": (Severity.ERROR, "A .bib block could not be parsed; the entry is skipped until it is fixed."),
    "bib-duplicate-key": (Severity.ERROR, "Two entries share a key, or two @string macros a name, in one file or across files."),
    "bib-duplicate-field": (Severity.ERROR, "An entry names the same field twice."),
    "bib-missing-field": (Severity.ERROR, "An entry lacks a field its type requires."),
    "bib-unknown-string": (Severity.ERROR, "A field uses an @string macro that no .bib file defines."),
    "bib-bad-identifier": (Severity.ERROR, "A DOI, PMID, PMCID or URL is malformed."),
    "bib-no-identifier": (Severity.WARNING, "A journal article has no DOI, PMID or PMCID."),
    "bib-bad-year": (Severity.ERROR, "A year is not a plausible four-digit year."),
    "bib-odd-year": (Severity.WARNING, "A year is written in an unusual form ('August, 2005'); it is printed as written."),
    "bib-unknown-design": (Severity.ERROR, "The design field is not in the design vocabulary."),
    "bib-abbreviated-pages": (Severity.WARNING, "A page range is abbreviated (123-45); write it in full."),
    "bib-read": (Severity.ERROR, "A .bib file could not be read as UTF-8 text."),
    "unknown-citation": (Severity.ERROR, "A page cites a key that no .bib file defines."),
    "page-markup-lost": (Severity.ERROR, "A template or another plugin dropped the marked places of a page's citation links or reference list."),
    "uncited-entry": (Severity.WARNING, "No page cites this entry."),
    "bib-doi-prefix": (Severity.WARNING, "A DOI is written with a resolver prefix (https://doi.org/, doi:); write the bare DOI."),
    "bib-unknown-parent": (Severity.WARNING, "An entry's crossref or xdata names an entry that no .bib file defines."),
    "bib-bad-key": (Severity.ERROR, "A citation key has characters BibTeX or pandoc do not allow in keys (a backtick, a quote, white space, ...)."),
    "claim-invalid": (Severity.ERROR, "A claim record has an unknown field, a wrong type or a value outside its vocabulary."),
    "claim-unknown-ref": (Severity.ERROR, "A claim's evidence names a reference key that no .bib file defines."),
    "claim-misquote": (Severity.ERROR, "A claim's quote does not occur in the article, or the article is missing."),
    "evidence-misquote": (Severity.ERROR, "An evidence quote does not occur in its entry's abstract."),
    "verdict-not-allowed": (Severity.ERROR, "A verdict is not one the claim's direct evidence allows, and no override reason is given."),
    "grade-mismatch": (Severity.ERROR, "A stated certainty differs from what the outcome's GRADE judgements give."),
    "grade-no-reason": (Severity.ERROR, "A GRADE domain is rated up or down without a written reason."),
    "grade-double-count": (Severity.WARNING, "An outcome counts a review and a study that review includes."),
    "grade-upgrade": (Severity.WARNING, "An outcome is rated up although it is also rated down."),
    "grade-hint": (Severity.WARNING, "A GRADE judgement looks at odds with the studies (all at high risk of bias, or all indirect, yet not rated down)."),
    "rob-invalid": (Severity.ERROR, "A risk-of-bias judgement has an unknown tool or item, a wrong value or no reason."),
    "rob-unknown-ref": (Severity.ERROR, "A risk-of-bias judgement names a key no .bib file defines."),
    "rob-missing": (Severity.ERROR, "A study counted for an outcome has no risk-of-bias judgement."),
    "screening-invalid": (Severity.ERROR, "A screening log has an unknown field, decision or reason, or an exclusion without a reason."),
    "screening-missing": (Severity.ERROR, "A claim has no screening log."),
    "screening-not-included": (Severity.ERROR, "An evidence item is not an included record of the claim's screening log."),
    "screening-unused": (Severity.ERROR, "An included record of a screening log is not used by any evidence item."),
    "screening-unscreened": (Severity.WARNING, "A screening log holds records not yet screened (from a new search)."),
    "search-outdated": (Severity.ERROR, "A claim's latest search is older than its review date, or no search has a date."),
    "verify-mismatch": (Severity.WARNING, "Crossref or PubMed gives a field (title, first author, year, journal, volume, first page) differently."),
    "verify-not-found": (Severity.ERROR, "Crossref does not know an entry's DOI, or PubMed its PMID."),
    "verify-retracted": (Severity.ERROR, "Crossref or PubMed reports the work as retracted."),
    "mcid-invalid": (Severity.ERROR, "The table of minimal important differences has a wrong field or value."),
    "effect-unknown-scale": (Severity.ERROR, "An effect names a scale the table of minimal important differences does not define."),
}


class Diagnostic(NamedTuple):
    """One located problem. Sorting orders by place, then code."""

    path: str
    line: int
    col: int
    code: str
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.severity.value} {self.code}: {self.message}"


#: The order of :class:`Diagnostic` (place, then code) as a sort key: the same order as
#: comparing them, at a fraction of the cost for thousands of diagnostics.
ORDER = attrgetter("path", "line", "col", "code", "message", "severity")


def diag(path: str, line: int, col: int, code: str, message: str) -> Diagnostic:
    """Make a diagnostic with the code's default severity."""
    severity = CODES[code][0]
    return Diagnostic(path, line, col, code, message, severity)


def did_you_mean(word: str, candidates: object, *, cutoff: float = 0.6) -> str:
    """Return ' Did you mean 'x'?' for the closest candidate, or ''."""
    import difflib

    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=cutoff)  # type: ignore[call-overload]
    return f" Did you mean '{close[0]}'?" if close else ""
