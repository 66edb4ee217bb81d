"""One escaping rule for everything that comes from data. Pure.

Values from a ``.bib`` file or a claim record are text: they meet HTML only
through :func:`escape` (MarkupSafe), once, at the boundary. Fields documented
as Markdown go through :func:`markdown_html`, with raw HTML shown as text and
links limited to http(s), mailto and relative addresses.

Generated pages are Markdown for the site's own engine, but no data is ever
Markdown text there: a piece of HTML built from data is carried as a *slot*,
an HTML comment holding the HTML base64-encoded, which no Markdown extension
reads (no ``--8<--``, ``{:``, ``*[``, fences, links or citations can form in
it). The evidencekb Markdown extension decodes the slots after every other
step of the conversion (:func:`decode_slots`), in any Python-Markdown host.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from markupsafe import Markup, escape

#: Search ranking (Material's and Zensical's search boost): claim pages first, reference
#: pages last.
CLAIM_BOOST, REFERENCE_BOOST = 4, 0.3
#: The Markdown extension that makes the generated pages' tabs (:func:`evidencekb.pages.tabs`),
#: and its settings; added to a site's configuration that lacks it (without it, a page
#: would show the tabs' slots as code).
TABS_EXTENSION = ("pymdownx.tabbed", {"alternate_style": True})

__all__ = ["Markup", "escape", "slot", "decode_slots", "markdown_html", "json_script", "title_text",
           "safe_href", "SLOT_RE"]

_SLOT_OPEN = "<!--ekb:"
#: A slot, and the paragraph Markdown may put around a slot that stood alone on its line.
SLOT_RE = re.compile(r"<p><!--ekb:([A-Za-z0-9+/=]*)--></p>|<!--ekb:([A-Za-z0-9+/=]*)-->")


def slot(html: Markup | str) -> str:
    """HTML (already safe) packed into a comment no Markdown extension can read."""
    return _SLOT_OPEN + base64.b64encode(str(html).encode("utf-8")).decode("ascii") + "-->"


def block(html: Markup | str) -> str:
    """A slot on lines of its own: a block of the page, with blank lines around it."""
    return "\n\n" + slot(html) + "\n\n"


def decode_slots(text: str) -> str:
    """Put the HTML of every slot in its place (a no-op for text without slots)."""
    if _SLOT_OPEN not in text:
        return text

    def put(m: re.Match[str]) -> str:
        data = m.group(1) if m.group(1) is not None else m.group(2)
        try:
            return base64.b64decode(data, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return ""  # not one of ours: a damaged slot shows nothing rather than garbage
    return SLOT_RE.sub(put, text)


_SAFE_SCHEME = re.compile(r"^(?:https?:|mailto:)", re.I)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def safe_href(url: str) -> str | None:
    """The address when it is http(s), mailto or relative; else None."""
    u = url.strip()
    if not u or any(c in u for c in "\x00\n\r\t<>\"'`"):
        return None
    if _SAFE_SCHEME.match(u):
        return u
    if _SCHEME.match(u) or u.startswith("//"):
        return None  # another scheme (javascript:, data:, ...) or another host without a scheme
    return u


_MD_TAGS = {"p", "em", "strong", "a", "ul", "ol", "li", "code", "br", "blockquote", "pre"}


def markdown_html(text: str) -> Markup:
    """A field documented as Markdown, as safe HTML: emphasis, lists, code and links.

    Raw HTML in the text is shown as text, not dropped; links other than http(s),
    mailto and relative ones lose their address (their words stay)."""
    import markdown
    import nh3

    source = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    html = markdown.markdown(source, output_format="html")
    cleaned = nh3.clean(html, tags=_MD_TAGS, attributes={"a": {"href"}},
                        url_schemes={"http", "https", "mailto"}, link_rel=None)
    return Markup(cleaned)


def json_script(data: Any) -> Markup:
    """JSON to embed in a ``<script>`` element: ``<``, ``>`` and ``&`` escaped as ``\\u`` codes."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)


def title_text(text: str) -> str:
    """A page title from data, for front matter: HTML-escaped, one line.

    Themes print a page's title unescaped in the navigation and in ``<title>``
    (Material does both), so the title MkDocs and Zensical read must already be
    escaped HTML; the reader sees the original characters."""
    return str(escape(re.sub(r"\s+", " ", text).strip()))


def claims_document(records: list[dict[str, Any]]) -> str:
    """``claims.json``: the claim records (see :func:`evidencekb.pages.claims_json`) in the
    document whose schema the 'Data' page gives."""
    return json.dumps({"version": 2, "claims": records}, ensure_ascii=False, indent=2)


def front_matter(**fields: Any) -> str:
    """YAML front matter for a generated page (values as JSON, which YAML reads: text, numbers
    and mappings such as ``search={"boost": 0.5}``)."""
    lines = ["---"] + [f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in fields.items()] + ["---", ""]
    return "\n".join(lines)
