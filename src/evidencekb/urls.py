"""Relative addresses between the site's pages, as each engine writes them.

Kept apart from :mod:`evidencekb.pages` so that what only checks a project (``evidencekb
check``) does not import the page builders.
"""

from __future__ import annotations

import posixpath
from typing import NamedTuple

from .bibliography import ref_slug


class Urls(NamedTuple):
    """Relative addresses between pages, as the engine writes them (slots hold final links)."""

    directory_urls: bool = True
    claims_dir: str = "claims"
    article: str = "article.md"
    #: Zensical resolves every relative link of a page, raw HTML included, from the page's
    #: source file (``../article.md``); MkDocs leaves raw HTML alone, so it gets final addresses.
    source_links: bool = False

    def page(self, src: str) -> str:
        """The address of a docs-relative source file, from the site root."""
        stem = src[:-3] if src.endswith(".md") else src
        if not self.directory_urls:
            return stem + ".html"
        if stem == "index" or stem.endswith("/index"):
            return stem[: -len("index")]
        return stem + "/"

    def rel(self, from_src: str, to_src: str, anchor: str = "") -> str:
        if self.source_links:
            return posixpath.relpath(to_src, posixpath.dirname(from_src) or ".") + (f"#{anchor}" if anchor else "")
        here = self.page(from_src)
        base = posixpath.dirname(here.rstrip("/")) if not here.endswith("/") else here.rstrip("/")
        target = self.page(to_src)
        out = posixpath.relpath(target or ".", base or ".") if target else posixpath.relpath(".", base or ".")
        if target.endswith("/") and not out.endswith("/"):
            out += "/"
        if out == "./":
            out = "./"
        return out + (f"#{anchor}" if anchor else "")

    def claim(self, slug: str) -> str:
        return f"{self.claims_dir}/{slug}.md"

    @staticmethod
    def reference(key: str) -> str:
        return f"references/{ref_slug(key)}.md"
