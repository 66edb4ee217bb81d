"""Parts of generated pages put in when the page is written (evidencekb.later)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from evidencekb.csl import Formatted, task_order
from evidencekb.later import Later


@dataclass
class _Entry:
    key: str


class _Formatter:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def format(self, entry: _Entry) -> Formatted:
        self.calls.append(entry.key)
        return Formatted(text=f"{entry.key} <b> & \"x\"", html=f"<i>{entry.key}</i> &amp;")


def test_a_part_is_made_when_the_page_is_filled_not_before() -> None:
    later, made = Later(), []
    token = later.put(lambda: made.append(1) or "<em>part</em>")
    page = f"<p>before {token} after</p>"
    # One word (which the site's tests look for in every written page): a build's random
    # prefix, then the part's number.
    assert made == [] and re.fullmatch(r"ekblater[0-9a-f]{12}n0z", token)
    assert later.fill(page) == "<p>before <em>part</em> after</p>" and made == [1]
    assert later.fill(page + page).count("<em>part</em>") == 2  # a token met twice is filled twice


def test_a_formatted_entry_is_read_again_and_its_text_escaped() -> None:
    later, fmt = Later(), _Formatter()
    entries = {"a": _Entry("a"), "b": _Entry("b")}
    out = later.formatter(fmt, entries).format(_Entry("a"))
    assert fmt.calls == [] and out.html.isalnum() and out.text.isalnum() and out.html != out.text
    page = f"<p>{out.html}</p><pre><code>{out.text}</code></pre>"
    assert later.fill(page) == "<p><i>a</i> &amp;</p><pre><code>a &lt;b&gt; &amp; &#34;x&#34;</code></pre>"
    assert fmt.calls == ["a", "a"]


def test_text_without_this_builds_tokens_is_left_as_it_is() -> None:
    one, other = Later(), Later()
    token = other.put(lambda: "theirs")
    page = f"<p>{token} and ekblater words</p>"
    assert one.fill(page) is page
    assert one.fill(page + one.put(lambda: "ours")) == page + "ours"


def test_workers_take_the_pages_entries_first_then_each_style_in_turn() -> None:
    assert task_order([]) == []
    assert task_order([["a1", "a2"]]) == ["a1", "a2"]
    assert task_order([["a1", "a2"], ["b1", "b2", "b3"], ["c1"]]) == ["a1", "a2", "b1", "c1", "b2", "b3"]
