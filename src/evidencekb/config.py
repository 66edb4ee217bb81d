"""Typed options of the MkDocs plugin (``plugins: - evidencekb: ...``)."""

from __future__ import annotations

from mkdocs.config import config_options as c
from mkdocs.config.base import Config


class EvidenceConfig(Config):
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

    generate_pages = c.Type(bool, default=True)
    """Generate reference pages, the bibliography, the evidence map and the annotated article."""

    cache = c.Type(bool, default=True)
    """Keep parsed .bib files between builds of one process (mkdocs serve), keyed by content hash."""
