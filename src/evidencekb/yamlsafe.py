"""YAML for records people write by hand: plain data, located errors, nothing else. Pure.

Claim front matter, screening logs and risk-of-bias tables are read as plain
mappings, lists, strings, numbers, booleans and nulls. Aliases (``*name``) are
refused, so a few hundred bytes cannot expand into gigabytes; tags
(``!custom``, ``!!python/...``) are refused, so a record cannot build objects;
dates stay text, so an impossible date is a located error rather than an
exception. Every problem is a :class:`~evidencekb.diagnostics.Diagnostic`.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from .diagnostics import Diagnostic, diag

__all__ = ["compose", "construct", "shown", "read_text", "MAX_BYTES"]

#: A record larger than this is refused (a claim page is a few kilobytes).
MAX_BYTES = 2_000_000

_CORE = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null", "seq", "map")}


class _NoAliases:
    """A composer that refuses aliases, where the alias is written."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):  # type: ignore[attr-defined]
            event = self.peek_event()  # type: ignore[attr-defined]
            raise yaml.composer.ComposerError(
                None, None, f"an alias (*{event.anchor}) is not allowed here; write the value out in full",
                event.start_mark)
        return super().compose_node(parent, index)  # type: ignore[misc]


class _Loader(_NoAliases, yaml.SafeLoader):
    """SafeLoader without aliases, explicit tags or timestamps."""


# Dates stay strings: they are validated (and located) by the records that hold them.
_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != _CORE + "timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_FastLoader: Any = None
if yaml.__with_libyaml__:  # PyYAML built with libyaml (its wheels are)
    from yaml._yaml import CParser

    class _FastLoader(_NoAliases, yaml.composer.Composer, CParser, yaml.resolver.Resolver):  # type: ignore[no-redef]
        """:class:`_Loader`'s composer over libyaml's scanner and parser (it only composes:
        :func:`construct` builds the values): the same nodes, marks and refusals, read several
        times faster. A text it cannot read is read again by :class:`_Loader`, whose messages
        are the ones reported."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.resolver.Resolver.__init__(self)

    _FastLoader.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers


def shown(value: Any, limit: int = 60) -> str:
    """A value for a message: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def compose(text: str, path: str, first_line: int = 1, code: str = "claim-invalid") -> tuple[Any, list[Diagnostic]]:
    """The YAML node tree of ``text`` (None on failure) and the problems found.

    ``first_line`` is the file line where ``text`` starts."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        return None, [diag(path, first_line, 1, code,
                           f"the record is larger than {MAX_BYTES // 1_000_000} MB; split it or remove what does not belong.")]
    try:
        try:
            node = yaml.compose(text, Loader=_FastLoader or _Loader)
        except (yaml.YAMLError, RecursionError):
            if _FastLoader is None:
                raise
            node = yaml.compose(text, Loader=_Loader)  # (it raises the error, in its own words)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + first_line if mark else first_line
        col = mark.column + 1 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [diag(path, line, col, code, f"not valid YAML: {str(problem)[:200]}.")]
    except RecursionError:
        return None, [diag(path, first_line, 1, code, "the YAML is nested too deeply.")]
    errs: list[Diagnostic] = []
    if node is not None:
        _check_tags(node, path, first_line, code, errs)
    return (None if errs else node), errs


def _check_tags(node: Any, path: str, first_line: int, code: str, errs: list[Diagnostic]) -> None:
    stack = [node]
    while stack:
        n = stack.pop()
        if n.tag not in _ALLOWED_TAGS:
            errs.append(diag(path, n.start_mark.line + first_line, n.start_mark.column + 1, code,
                             f"the tag {shown(n.tag, 50)} is not allowed; records hold plain text, numbers, "
                             "lists and mappings."))
            continue
        if isinstance(n, yaml.SequenceNode):
            stack.extend(n.value)
        elif isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                stack.extend((k, v))


def construct(node: Any) -> Any:
    """Plain Python data from a node :func:`compose` accepted."""
    if node is None:
        return None
    # A constructor alone: a whole loader (reader, scanner, parser) for each node the
    # records read was most of the cost, some eight thousand times per build of this site.
    return yaml.constructor.SafeConstructor().construct_document(node)


_BAD_BYTE = re.compile(rb"[\x80-\xff]")


def read_text(data: bytes, path: str, code: str) -> tuple[str | None, list[Diagnostic]]:
    """UTF-8 text of a file's bytes (a byte order mark dropped), or a located error."""
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [diag(path, line, 1, code, "not UTF-8 text; save the file as UTF-8.")]
