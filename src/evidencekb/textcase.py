"""CSL text-case transforms as pandoc's citeproc applies them. Pure.

The text is cut into chunks: runs of letters and digits, runs of spaces, and single
marks. A state, kept from chunk to chunk, says where a chunk stands (at the start, after
a word break, after a sentence's end, inside a word); each transform changes only chunks
of letters and digits. So, in title case, ``graph-theoretic`` becomes ``Graph-Theoretic``,
``(preliminary version)`` becomes ``(Preliminary Version)``, ``3rd`` stays ``3rd``, a word
with a capital inside (``iPhone``, ``ITBS``) is left alone, a one-letter word is not
capitalized, and stop words stay lower case. Text between :data:`NOCASE_OPEN` and
:data:`NOCASE_CLOSE` (braces in BibTeX) is never changed. Where pandoc's source and its
behaviour differ, the behaviour of pandoc 3.9 was measured and followed.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["title_case", "sentence_case", "capitalize_first", "capitalize_all", "transform_parts", "sentence",
           "NOCASE_OPEN", "NOCASE_CLOSE", "STOP_WORDS"]

NOCASE_OPEN, NOCASE_CLOSE = "\ue010", "\ue011"
STOP_WORDS = frozenset({
    "a", "an", "and", "as", "at", "but", "by", "down", "for", "from", "in", "into", "nor", "of", "on", "onto", "or",
    "over", "so", "the", "till", "to", "up", "via", "with", "yet", "about", "van", "von", "de", "d", "l",
})

START, START_SENTENCE, AFTER_WORD_END, AFTER_WORD_CHAR, AFTER_SENTENCE_END, AFTER_OTHER, BEFORE_LAST = range(7)
_WORD_BREAK = frozenset("-/\u2013\u2014")


#: A chunk: a run of letters and digits (``str.isalnum``: what ``\w`` matches, but for ``_``), a
#: run of white space (``str.isspace``, as ``\s``), or any other character alone.
_CHUNK = re.compile(r"[^\W_]+|\s+|.", re.S)


def _chunks(text: str) -> list[str]:
    return _CHUNK.findall(text)


def _next_state(state: int, chunk: str) -> int:
    c = chunk[-1]
    if c in ".?!:":
        return AFTER_SENTENCE_END
    if c.isalnum():
        return AFTER_WORD_CHAR
    if c.isspace() and state == AFTER_SENTENCE_END:
        return START_SENTENCE
    if c.isspace() or c in _WORD_BREAK:
        return AFTER_WORD_END
    # Other marks (brackets, quotes) leave the state as it was, except that a mark after a
    # sentence's end ("Comm., control") ends that: pandoc 3's behaviour, measured.
    return AFTER_OTHER if state == AFTER_SENTENCE_END else state


def _capitalize(t: str) -> str:
    return t[:1].upper() + t[1:]


def _mixed(t: str) -> bool:
    return any(c.isupper() for c in t) and any(c.islower() for c in t)


def _title(state: int, t: str) -> str:
    if _mixed(t) or t.isupper():
        return t
    if state in (START, START_SENTENCE):
        return _capitalize(t.lower())
    if state == AFTER_WORD_END and t not in STOP_WORDS and len(t) > 1:
        return _capitalize(t.lower())
    if state == BEFORE_LAST and len(t) > 1:
        return _capitalize(t.lower())
    return t


def sentence(state: int, t: str) -> str:
    capitalized = t[:1].isupper() and t[1:] == t[1:].lower() and not any(c.isupper() for c in t[1:])
    at_start = state in (START, START_SENTENCE)
    if capitalized and not at_start:
        return t.lower()
    if at_start and (capitalized or t == t.lower()):
        return _capitalize(t.lower())
    return t


def _first(state: int, t: str) -> str:
    if _mixed(t):
        return t
    return _capitalize(t) if state == START and t == t.lower() else t


def _words(state: int, t: str) -> str:
    if _mixed(t):
        return t
    if state in (START, START_SENTENCE, AFTER_WORD_END, BEFORE_LAST) and t == t.lower():
        return _capitalize(t)
    return t


def transform_parts(parts: list[tuple[str, bool]], f: Callable[[int, str], str]) -> list[str]:
    """Apply a chunk transform across parts of one text; a part marked True is protected
    (left as it is, though it moves the state on, as citeproc's nocase spans do)."""
    chunks: list[tuple[str, bool, int]] = []  # (chunk, protected, part index)
    for n, (text, protected) in enumerate(parts):
        chunks += [(c, protected, n) for c in _chunks(text)]
    # The last word (after the last space) gets a state of its own, as citeproc gives its last
    # string, unless it holds a word break: citeproc capitalizes it even when it is a stop word.
    tail = next((i + 1 for i in range(len(chunks) - 1, -1, -1) if chunks[i][0][0].isspace()), 0)
    # A text that ends with a mark ("Vol. A.") has no last word in this sense.
    last = (tail if 0 < tail < len(chunks) and chunks[-1][0][-1].isalnum()
            and not any(c[0][0] in _WORD_BREAK for c in chunks[tail:]) else -1)
    out = ["" for _ in parts]
    state = START
    for i, (chunk, protected, n) in enumerate(chunks):
        if i == last and state in (AFTER_WORD_END, START_SENTENCE, START):
            state = BEFORE_LAST
        out[n] += f(state, chunk) if chunk[0].isalnum() and not protected else chunk
        state = _next_state(state, chunk)
    return out


def _transform(text: str, f: Callable[[int, str], str]) -> str:
    """The transform of a text whose protected stretches are marked with NOCASE_OPEN/CLOSE
    (the marks stay where they are and take no part in the state)."""
    pieces: list[tuple[str, bool] | str] = []  # text parts, and the marks between them
    depth, buf = 0, ""
    for c in text:
        if c in (NOCASE_OPEN, NOCASE_CLOSE):
            if buf:
                pieces.append((buf, depth > 0))
                buf = ""
            pieces.append(c)
            depth = depth + 1 if c == NOCASE_OPEN else max(0, depth - 1)
        else:
            buf += c
    if buf:
        pieces.append((buf, depth > 0))
    parts = [p for p in pieces if isinstance(p, tuple)]
    done = iter(transform_parts(parts, f))
    return "".join(p if isinstance(p, str) else next(done) for p in pieces)


def title_case(text: str) -> str:
    return _transform(text, _title)


def sentence_case(text: str) -> str:
    return _transform(text, sentence)


def capitalize_first(text: str) -> str:
    return _transform(text, _first)


def capitalize_all(text: str) -> str:
    return _transform(text, _words)
