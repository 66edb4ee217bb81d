"""evidencekb: an evidence and citation knowledge base for MkDocs.

Pandoc citations in Markdown, BibTeX libraries formatted in CSL styles the way
pandoc formats them, claim records whose verdicts are checked against their
evidence, and the pages generated from them.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: Public names and the modules defining them, imported on first use, so that a
#: command (``evidencekb check``) loads only the modules it needs.
_EXPORTS = {
    "Bibliography": "bibliography", "Entry": "bibliography", "load": "bibliography", "load_text": "bibliography",
    "verdict_rule": "grade", "Site": "site", "Project": "site", "Options": "site",
    "CiteItem": "citations", "Cluster": "citations", "scan": "citations",
    "Claim": "claims", "EvidenceItem": "claims", "parse_claim": "claims",
    "Formatter": "csl", "to_csl": "csl",
    "CODES": "diagnostics", "Diagnostic": "diagnostics", "Severity": "diagnostics",
    "CitationContext": "markdown_ext", "CitationExtension": "markdown_ext",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'evidencekb' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "Bibliography", "Entry", "load", "load_text",
    "verdict_rule", "Site", "Project", "Options",
    "CiteItem", "Cluster", "scan",
    "Claim", "EvidenceItem", "parse_claim",
    "Formatter", "to_csl",
    "CODES", "Diagnostic", "Severity",
    "CitationContext", "CitationExtension",
]
