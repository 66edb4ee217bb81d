"""Diagnostics: every problem a person can fix, located and coded.

Checks never raise on content problems; they return :class:`Diagnostic`
records. Only the MkDocs plugin and the command line turn them into log lines
or exit codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


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
    "bib-unknown-design": (Severity.ERROR, "The design field is not in the design vocabulary."),
    "bib-abbreviated-pages": (Severity.WARNING, "A page range is abbreviated (123-45); write it in full."),
    "bib-read": (Severity.ERROR, "A .bib file could not be read as UTF-8 text."),
    "unknown-citation": (Severity.ERROR, "A page cites a key that no .bib file defines."),
    "page-markup-lost": (Severity.ERROR, "A template or another plugin dropped the marked places of a page's citation links or reference list."),
    "uncited-entry": (Severity.WARNING, "No page cites this entry."),
    "claim-invalid": (Severity.ERROR, "A claim record has an unknown field, a wrong type or a value outside its vocabulary."),
    "claim-unknown-ref": (Severity.ERROR, "A claim's evidence names a reference key that no .bib file defines."),
    "claim-misquote": (Severity.ERROR, "A claim's quote does not occur in the article."),
    "evidence-misquote": (Severity.ERROR, "An evidence quote does not occur in its entry's abstract."),
    "verdict-above-ceiling": (Severity.ERROR, "A verdict is stronger than its evidence allows and no override reason is given."),
}


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One located problem. Sorting orders by place, then code."""

    path: str
    line: int
    col: int
    code: str
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.severity.value} {self.code}: {self.message}"


def diag(path: str, line: int, col: int, code: str, message: str) -> Diagnostic:
    """Make a diagnostic with the code's default severity."""
    severity = CODES[code][0]
    return Diagnostic(path, line, col, code, message, severity)


def did_you_mean(word: str, candidates: object, *, cutoff: float = 0.6) -> str:
    """Return ' Did you mean 'x'?' for the closest candidate, or ''."""
    import difflib

    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=cutoff)  # type: ignore[call-overload]
    return f" Did you mean '{close[0]}'?" if close else ""
