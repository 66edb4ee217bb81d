"""Typed options of the MkDocs plugin (``plugins: - evidencekb: ...``).

The same names, read without MkDocs, are :class:`evidencekb.site.Options`; a test
keeps the two in step.
"""

from __future__ import annotations

from mkdocs.config import config_options as c
from mkdocs.config.base import Config


class EvidenceConfig(Config):  # type: ignore[no-untyped-call]
    bibliography = c.ListOfItems(c.Type(str), default=["references"])
    """BibTeX files or folders (read recursively), relative to mkdocs.yml."""

    style = c.Type(str, default="american-medical-association")
    """CSL style for in-page citations: ama, apa, vancouver, a CSL id or a .csl path."""

    styles = c.ListOfItems(c.Type(str), default=["american-medical-association", "apa", "nlm-citation-sequence"])
    """Styles offered on reference pages ("copy reference")."""

    references_title = c.Type(str, default="References")
    """Heading of each page's reference list."""

    article = c.Type(str, default="article.md")
    """The article whose claims are judged (docs-relative); quotes are checked against it."""

    claims_dir = c.Type(str, default="claims")
    """Folder (docs-relative) of claim pages whose front matter is the claim record."""

    screening_dir = c.Type(str, default="screening")
    """Folder (relative to mkdocs.yml) of the claims' screening logs, one <slug>.yaml each."""

    risk_of_bias = c.Type(str, default="references/risk-of-bias.yaml")
    """The risk-of-bias judgements, one per study (relative to mkdocs.yml)."""

    mcid = c.Type(str, default="references/mcid.yaml")
    """The table of minimal important differences (relative to mkdocs.yml)."""

    generate_pages = c.Type(bool, default=True)
    """Generate reference pages, the bibliography, the evidence map and the other evidence pages."""

    reference_pages = c.Choice(("cited", "all", "none"), default="cited")
    """Which entries get a page of their own: those the site cites, every entry, or none."""

    owner = c.Type(str, default="")
    """Who publishes the site, for the footer ("IT Band Evidence editors")."""

    contact = c.Type(str, default="")
    """How to reach the owner, for the footer: an email address or a web address."""

    licence = c.Type(str, default="")
    """The licence of the site's text, for the footer ("CC BY 4.0")."""

    reviewers = c.ListOfItems(c.Type(str), default=[])
    """Who reviewed the evidence, "Name, role" each; shown on every claim page and wherever a page
    has the marker ``<!-- reviewers -->`` (the methods page)."""

    cache = c.Type(bool, default=True)
    """Keep parsed .bib files and formatted entries in .cache/evidencekb, keyed by content."""
