"""Parts of generated pages put in when the page is written, not when it is laid out.

A generated page (a reference's page, the bibliography) is laid out before the engine
reads any page, but its formatted entries are needed only when the engine writes it. On
a first build, worker processes format entries while the build goes on; a page laid out
with a token in place of each formatted entry does not wait for them, and
:meth:`Later.fill` puts each part in once the page's HTML is made (the MkDocs adapter
does it as the page is written, before the search index reads it). The written page is
the same as one laid out with the parts themselves.

A token is letters and digits only: HTML escaping leaves it as it is, and no Markdown
extension reads it as anything but a word.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from .safe import escape

__all__ = ["Later"]


class Later:
    """Tokens standing for HTML made later, and :meth:`fill`, which makes and puts it in."""

    def __init__(self) -> None:
        # A token of one build is never taken for another's, nor for text a page holds.
        self._prefix = f"ekblater{secrets.token_hex(6)}n"
        self._token = re.compile(re.escape(self._prefix) + r"(\d+)z")
        self._makers: list[Callable[[], str]] = []

    def put(self, make: Callable[[], str]) -> str:
        """A token for ``make()``'s HTML, made when a page holding the token is filled."""
        self._makers.append(make)
        return f"{self._prefix}{len(self._makers) - 1}z"

    def fill(self, html: str) -> str:
        """``html`` with each token of this build replaced by what it stands for."""
        if self._prefix not in html:
            return html
        return self._token.sub(lambda m: self._makers[int(m.group(1))](), html)

    def formatter(self, formatter: Any, entries: Mapping[str, Any]) -> _LaterFormatter:
        """``formatter`` (a :class:`~evidencekb.csl.Formatter`), whose ``format`` gives tokens:
        its ``html`` stands for the formatted entry's HTML, its ``text`` for its text, escaped
        as a page escapes text. The entry is read again from ``entries`` when it is filled."""
        return _LaterFormatter(self, formatter, entries)


class _LaterFormatter:
    def __init__(self, later: Later, formatter: Any, entries: Mapping[str, Any]) -> None:
        self._later, self._formatter, self._entries = later, formatter, entries

    def format(self, entry: Any) -> Any:
        from .csl import Formatted

        key, fmt, entries = entry.key, self._formatter, self._entries
        return Formatted(text=self._later.put(lambda: str(escape(fmt.format(entries[key]).text))),
                         html=self._later.put(lambda: fmt.format(entries[key]).html))
