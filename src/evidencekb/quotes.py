"""Verbatim-quote checks: normalise, find, and suggest the closest passage. Pure."""

from __future__ import annotations

import difflib
import re
import unicodedata
from functools import lru_cache

__all__ = ["normalise", "find", "closest"]

_TRANSLATE = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u00a0": " ", "\u2009": " ", "\u202f": " ",
})


def normalise(text: str) -> str:
    """Fold white space, curly and straight quotes, and dashes."""
    text = unicodedata.normalize("NFC", text).translate(_TRANSLATE)
    text = re.sub(r"\s*-\s*-\s*", " - ", text)  # "--" and spaced dashes read alike
    text = re.sub(r"\s*-\s+|\s+-\s*", " - ", text)
    return re.sub(r"\s+", " ", text).strip()


@lru_cache(maxsize=32)  # the article is searched for every claim's quote (twice: to order and to check)
def _index_map(text: str) -> tuple[str, tuple[int, ...]]:
    """Normalised text plus, for each of its characters, the index in the original."""
    out: list[str] = []
    idx: list[int] = []
    for i, ch in enumerate(text):
        n = unicodedata.normalize("NFC", ch).translate(_TRANSLATE)
        for c in n:
            if c.isspace():
                if out and out[-1] == " ":
                    continue
                c = " "
            out.append(c)
            idx.append(i)
    return "".join(out), tuple(idx)


def find(quote: str, text: str) -> tuple[int, int] | None:
    """Span (start, end) of the quote in the original text, or None."""
    q = re.sub(r"\s+", " ", unicodedata.normalize("NFC", quote).translate(_TRANSLATE)).strip()
    q = re.sub(r"\s*-+\s*", "-", q)
    if not q:
        return None
    norm, idx = _index_map(text)
    # Compare dashes without their surrounding spaces.
    pattern = re.escape(q).replace(r"\-", r"\s?-+\s?")  # (re.escape leaves spaces, which the map has folded)
    m = re.search(pattern, norm)
    if not m:
        return None
    return idx[m.start()], idx[m.end() - 1] + 1


def closest(quote: str, text: str) -> str:
    """The passage of ``text`` most like ``quote`` (for did-you-mean messages)."""
    words = normalise(text).split(" ")
    q = normalise(quote)
    n = max(1, len(q.split(" ")))
    best, best_ratio = "", 0.0
    for i in range(max(1, len(words) - n + 1)):  # every run of n words; all of them if fewer
        cand = " ".join(words[i : i + n])
        r = difflib.SequenceMatcher(None, q.lower(), cand.lower()).ratio()
        if r > best_ratio:  # the first of equally close passages
            best, best_ratio = cand, r
    return best
