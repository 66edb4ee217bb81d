"""A static check of a built site's internal links and anchors: every ``href`` to a page of
the site names a file that exists and, with ``#id``, an element with that id. Reads the HTML
files directly (no server), so the whole site is checked in a fraction of a second."""

from __future__ import annotations

import posixpath
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for name in ("id", "name") if tag == "a" else ("id",):
            if a.get(name):
                self.ids.add(str(a[name]))
        if tag == "a" and a.get("href"):
            self.links.append(str(a["href"]))


def broken_links(site: Path) -> list[tuple[str, str]]:
    """(page, href) of every internal link whose target page or anchor is missing."""
    pages: dict[str, _Page] = {}
    for f in site.rglob("*.html"):
        p = _Page()
        p.feed(f.read_text(encoding="utf-8", errors="replace"))
        pages[f.relative_to(site).as_posix()] = p
    out = []
    for rel, page in pages.items():
        for href in page.links:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or href.startswith(("mailto:", "javascript:")):
                continue  # another site: not ours to check here
            path = unquote(parts.path)
            if not path:
                target = rel
            else:
                base = "" if path.startswith("/") else posixpath.dirname(rel)  # "/x": from the site's root
                joined = posixpath.normpath(posixpath.join(base, path.lstrip("/")))
                if path.endswith("/") or (site / joined).is_dir():
                    joined = posixpath.normpath(posixpath.join(joined, "index.html"))
                target = joined
            if target not in pages:
                if not (site / target).is_file():
                    out.append((rel, href))
                continue
            if parts.fragment and unquote(parts.fragment) not in pages[target].ids:
                out.append((rel, href))
    return out
