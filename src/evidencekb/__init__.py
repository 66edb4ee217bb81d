"""evidencekb: an evidence and citation knowledge base for MkDocs.

Pandoc citations in Markdown, BibTeX libraries formatted in CSL styles the way
pandoc formats them, claim records whose verdicts are checked against their
evidence, and the pages generated from them.
"""

from __future__ import annotations

from .bibliography import Bibliography, Entry, load, load_text
from .ceiling import Ceiling, compute
from .citations import CiteItem, Cluster, scan
from .claims import Claim, EvidenceItem, parse_claim
from .csl import Formatter, to_csl
from .diagnostics import CODES, Diagnostic, Severity
from .markdown_ext import CitationContext, CitationExtension

__all__ = [
    "Bibliography", "Entry", "load", "load_text",
    "Ceiling", "compute",
    "CiteItem", "Cluster", "scan",
    "Claim", "EvidenceItem", "parse_claim",
    "Formatter", "to_csl",
    "CODES", "Diagnostic", "Severity",
    "CitationContext", "CitationExtension",
]
