"""Generated pages, built from the records alone. Pure: Markdown strings out.

Claim pages (header, summary of findings, evidence tables, client box,
history), one page per reference, the bibliography, the evidence map, the
claims index, topic pages, the search record, the annotated article and
``claims.json``. What comes from data is HTML escaped once (MarkupSafe) and
carried in slots (:mod:`evidencekb.safe`); only our own headings and
structure are Markdown, so the site's Markdown extensions never read data.
Links inside slots are final, relative addresses (:class:`Urls`), since the
engine does not rewrite links in raw HTML.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import figures, grade, quotes
from .bibliography import DESIGNS, Bibliography, Entry
from .checks import computed_outcomes
from .claims import POPULATION_WORDS, TOPICS, Claim, EvidenceItem
from .csl import Formatted, Formatter
from .later import Later
from .mcid import Mcid
from .render import author_short, identifier_links
from .rob import RISK_LABELS, Judgement
from .safe import (
    REFERENCE_BOOST,
    Markup,
    block,
    claims_document,
    escape,
    front_matter,
    json_script,
    markdown_html,
    slot,
    title_text,
)
from .screening import Log, flow, merge_flows
from .urls import Urls

__all__ = [
    "VERDICT_LABELS", "Urls", "Appraisal", "claim_header", "claim_footer", "reference_page", "bibliography_page",
    "evidence_map_page", "topics_page", "claims_index_page", "search_record_page", "annotate_article",
    "claims_json", "changes_page", "codes_page", "cite_token", "handout", "key_evidence", "qr_svg", "NOT_ADVICE",
    "verdict_summary",
]

VERDICT_LABELS = {
    "supported": "Supported", "partly-supported": "Partly supported", "contested": "Contested",
    "not-supported": "Not supported", "untested": "Untested",
}
VERDICT_ICONS = {"supported": "✔", "partly-supported": "◐", "contested": "⇄", "not-supported": "✘", "untested": "?"}
CERTAINTY_LABELS = {"high": "High", "moderate": "Moderate", "low": "Low", "very-low": "Very low"}
CERTAINTY_SYMBOLS = {"high": "⊕⊕⊕⊕", "moderate": "⊕⊕⊕◯", "low": "⊕⊕◯◯", "very-low": "⊕◯◯◯"}
STANCE_LABELS = {"supports": "Supports", "contradicts": "Contradicts", "mixed": "Mixed", "context": "Context"}
STANCE_HEADINGS = {
    "supports": "Evidence for the claim", "contradicts": "Evidence against the claim",
    "mixed": "Mixed evidence", "context": "Background and context",
}
DESIGN_LABELS = {d: d.replace("-", " ").capitalize() for d in DESIGNS}
DESIGN_LABELS.update({"rct": "Randomised trial", "systematic-review": "Systematic review or meta-analysis"})
TOPIC_LABELS = {t: t.capitalize() for t in TOPICS}
STYLE_LABELS = {"american-medical-association": "AMA", "apa": "APA", "nlm-citation-sequence": "Vancouver"}
_CITE = "<!--ekb-cite:"


def cite_token(key: str) -> Markup:
    """A citation of ``key`` inside a slot: the Markdown extension numbers and renders it in
    document order, like ``[@key]`` in the text (the key is escaped, so it cannot end the comment)."""
    return Markup(f"{_CITE}{escape(key)}-->")


# --- what pages need to know of the appraisal -------------------------------------------

@dataclass
class Appraisal:
    """The records pages read besides the library and the claims."""

    rob: Mapping[str, Judgement] = field(default_factory=dict)
    mcid: Mapping[str, Mcid] = field(default_factory=dict)
    logs: Mapping[str, Log | None] = field(default_factory=dict)
    reference_pages: frozenset[str] | None = None  # keys with a page (None: every key)
    #: The site's formatter, through which the evidence tables' author names are memoised
    #: (and kept with its formatted entries between builds); None: worked out each time.
    names: Formatter | None = None

    def has_page(self, key: str) -> bool:
        return self.reference_pages is None or key in self.reference_pages


# --- small pieces ------------------------------------------------------------------------

def verdict_badge(verdict: str) -> Markup:
    return Markup(f'<span class="ekb-badge ekb-verdict ekb-verdict--{verdict}">'
                  f'<span aria-hidden="true">{VERDICT_ICONS[verdict]}</span> <span class="ekb-sr">Verdict: </span>'
                  f"{VERDICT_LABELS[verdict]}</span>")


def certainty_badge(certainty: str) -> Markup:
    return Markup(f'<span class="ekb-badge ekb-certainty ekb-certainty--{certainty}">'
                  f'<span class="ekb-symbols" aria-hidden="true">{CERTAINTY_SYMBOLS[certainty]}</span> '
                  f'{CERTAINTY_LABELS[certainty]} certainty</span>')


def _who(entry: Entry | None, key: str, ap: Appraisal) -> str:
    return f"{author_short(entry, narrative=True, formatter=ap.names)} ({entry.year})" if entry else key


def _design(entry: Entry | None) -> str:
    return DESIGN_LABELS.get(entry.design, entry.design or "—") if entry else "—"


def _rob_cell(j: Judgement | None) -> Markup:
    if j is None:
        return Markup('<span class="ekb-rob ekb-rob--none">Not judged</span>')
    return Markup(f'<span class="ekb-rob ekb-rob--{escape(j.risk)}">{escape(RISK_LABELS[j.risk])}</span>'
                  f'<span class="ekb-rob-tool">{escape(j.tool_name)}: {escape(j.summary)}</span>')


def _num(v: float) -> str:
    return f"{v:g}"


def effect_text(it: EvidenceItem, mcid: Mapping[str, Mcid]) -> list[str]:
    out = []
    for ef in it.effects:
        t = f"{ef.measure.replace('-', ' ')} {_num(ef.estimate)}{(' ' + ef.unit) if ef.unit else ''}"
        if ef.ci:
            t += f" (95% CI {_num(ef.ci[0])} to {_num(ef.ci[1])})"
        extra = [x for x in (ef.outcome, ef.timepoint, f"n = {ef.n}" if ef.n else "") if x]
        if extra:
            t += "; " + ", ".join(extra)
        m = mcid.get(ef.scale) if ef.scale else None
        if m is not None:
            t += f"; minimal important difference {_num(m.value)}{(' ' + m.unit) if m.unit else ''}"
        out.append(t)
    return out


def _directness(it: EvidenceItem) -> Markup:
    if it.directness.direct:
        return Markup('<span class="ekb-direct">Direct</span>')
    parts = ", ".join(it.directness.indirect_parts)
    return Markup(f'<span class="ekb-indirect">Indirect ({escape(parts)})</span>'
                  f'<span class="ekb-why">{escape(it.directness.reason)}</span>')


def _evidence_table(items: Sequence[EvidenceItem], c: Claim, bib: Bibliography, ap: Appraisal, urls: Urls,
                    here: str) -> Markup:
    """One row per study: who (with its citation), design, who took part, risk of bias,
    directness, stance, finding and effects. Below 960 px wide, rows become cards."""
    head = ("<thead><tr><th scope=\"col\">Study</th><th scope=\"col\">Design and people</th>"
            "<th scope=\"col\">Risk of bias</th><th scope=\"col\">Directness</th>"
            "<th scope=\"col\" class=\"ekb-col-finding\">Finding</th></tr></thead>")
    rows = []
    for it in items:
        entry = bib.get(it.ref)
        outcome = c.outcome(it.outcome)
        who = escape(_who(entry, it.ref, ap)) + Markup(" ") + (cite_token(it.ref) if entry else Markup(""))
        people = POPULATION_WORDS.get(it.population, "")
        design = Markup(f'<span class="ekb-design">{escape(_design(entry))}</span>')
        design += Markup(f'<span class="ekb-people">{escape(it.participants or people or "—")}</span>')
        design += Markup(f'<span class="ekb-n">n = {it.n}</span>') if it.n is not None else Markup("")
        finding = Markup(f'<span class="ekb-stance ekb-stance--{it.stance}">{STANCE_LABELS[it.stance]}</span>')
        if outcome is not None:
            finding += Markup(f'<span class="ekb-outcome">Outcome: {escape(outcome.name)}</span>')
        finding += Markup(f"<span class=\"ekb-finding\">{escape(it.finding)}</span>")
        for t in effect_text(it, ap.mcid):
            finding += Markup(f'<span class="ekb-effect">{escape(t)}</span>')
        if it.quote:
            finding += Markup(f'<span class="ekb-quote">“{escape(it.quote)}”</span>')
        rows.append(f'<tr><td data-label="Study">{who}</td><td data-label="Design and people">{design}</td>'
                    f'<td data-label="Risk of bias">{_rob_cell(ap.rob.get(it.ref))}</td>'
                    f'<td data-label="Directness">{_directness(it)}</td>'
                    f'<td data-label="Finding" class="ekb-col-finding">{finding}</td></tr>')
    return Markup(f'<div class="ekb-table ekb-evidence"><table>{head}<tbody>{"".join(rows)}</tbody></table></div>')


def _question(c: Claim) -> Markup:
    q = c.question
    rows = [("Population", q.population), ("Intervention or exposure", q.intervention),
            ("Comparison", q.comparison), ("Outcome", q.outcome)]
    items = "".join(f"<dt>{k}</dt><dd>{escape(v)}</dd>" for k, v in rows if v)
    return Markup(f'<dl class="ekb-pico">{items}</dl>')


def _searches(c: Claim, log: Log | None) -> Markup:
    rows = []
    for i, s in enumerate(c.searches, 1):
        when = escape(s.date) if s.date else Markup("<em>not yet run</em>")
        found = "—" if s.results is None else str(s.results)
        note = Markup(f'<span class="ekb-why">{escape(s.note)}</span>') if s.note else Markup("")
        rows.append(f"<tr><td>{i}</td><td>{escape(s.source.replace('-', ' '))}</td>"
                    f"<td><code>{escape(s.terms)}</code>{note}</td><td>{when}</td><td>{found}</td></tr>")
    table = (f'<div class="ekb-table"><table><thead><tr><th scope="col">#</th><th scope="col">Source</th>'
             f'<th scope="col">Search terms</th><th scope="col">Run on</th><th scope="col">Records</th></tr></thead>'
             f'<tbody>{"".join(rows)}</tbody></table></div>')
    return Markup(table)


def searched_line(c: Claim, log: Log | None) -> str:
    if log is None:
        return "No screening log is recorded for this claim."
    f = flow(log)
    when = f"Searched to {c.searched}" if c.searched else "Not yet searched"
    return f"{when}: {f.screened} records screened, {f.included} included."


def _sof(c: Claim, bib: Bibliography, ap: Appraisal) -> Markup:
    """GRADE summary of findings: one row per outcome, reasons for rating in footnotes."""
    computed = computed_outcomes(c, bib, ap.rob)
    notes: list[str] = []
    rows = []
    for o in c.outcomes:
        got = computed[o.id]
        body = c.body_of(o.id)
        marks = []
        for domain, levels, reason in got.steps:
            notes.append(f"{domain.replace('-', ' ').capitalize()} ({levels:+d}): {reason}")
            marks.append(chr(ord("a") + len(notes) - 1))
        studies = f"{got.studies} {'study' if got.studies == 1 else 'studies'}"
        people = f" ({got.participants} participants or specimens)" if got.participants else ""
        effects = [f"{_who(bib.get(it.ref), it.ref, ap)}: {t}" for it in body for t in effect_text(it, ap.mcid)]
        stance = Counter(it.stance for it in body)
        summary = ", ".join(f"{n} {STANCE_LABELS[s].lower()}" for s, n in stance.items()) or "no studies"
        effect_html = escape(summary)
        if effects:
            effect_html += Markup("<ul>") + Markup("").join(Markup(f"<li>{escape(x)}</li>") for x in effects) + Markup("</ul>")
        start = f"Starts {got.start.level.replace('-', ' ')}: {got.start.reason}." if got.start else "No studies."
        sup = Markup(f'<sup class="ekb-fn">{", ".join(marks)}</sup>') if marks else Markup("")
        crit = "" if o.critical else " (not critical)"
        rows.append(f'<tr><td data-label="Outcome">{escape(o.name)}{escape(crit)}</td>'
                    f'<td data-label="Studies">{escape(studies + people)}</td>'
                    f'<td data-label="Effect">{effect_html}</td>'
                    f'<td data-label="Certainty">{certainty_badge(o.certainty)}{sup}'
                    f'<span class="ekb-why">{escape(start)}</span></td></tr>')
    head = ('<thead><tr><th scope="col">Outcome</th><th scope="col">Studies</th><th scope="col">Effect</th>'
            '<th scope="col">Certainty (GRADE)</th></tr></thead>')
    foot = "".join(f"<li>{escape(n)}</li>" for n in notes)
    notes_html = f'<ol class="ekb-footnotes" type="a">{foot}</ol>' if notes else ""
    return Markup(f'<div class="ekb-table ekb-sof"><table>{head}'
                  f'<tbody>{"".join(rows)}</tbody></table></div>{notes_html}')


def _forests(c: Claim, bib: Bibliography, ap: Appraisal, urls: Urls, here: str) -> Markup:
    out = []
    for o in c.outcomes:
        groups: dict[tuple[str, str], list[figures.ForestRow]] = {}
        scales: dict[tuple[str, str], str] = {}
        for it in c.body_of(o.id):
            for ef in it.effects:
                if ef.ci is None:
                    continue
                key = (ef.measure, ef.unit)
                label = _who(bib.get(it.ref), it.ref, ap)
                href = urls.rel(here, urls.reference(it.ref)) if ap.has_page(it.ref) else f"#{it.ref}"
                groups.setdefault(key, []).append(figures.ForestRow(label, href, ef.estimate, ef.ci[0], ef.ci[1], ef.n))
                if ef.scale:
                    scales[key] = ef.scale
        for (measure, unit), rows in groups.items():
            if len(rows) < 2 or measure in ("mean", "median", "percentage", "proportion", "other"):
                continue
            m = ap.mcid.get(scales.get((measure, unit), ""))
            pooled = figures.pool(rows, measure)
            out.append(figures.forest(rows, measure, unit, f"{o.name}: {measure.replace('-', ' ')}",
                                      m.value if m else None, pooled))
    return Markup("").join(out)


def _how_judged(c: Claim, bib: Bibliography, ap: Appraisal) -> Markup:
    rule = grade.verdict_rule(c)
    computed = computed_outcomes(c, bib, ap.rob)
    allowed = ", ".join(VERDICT_LABELS[v] for v in rule.allowed)
    parts = [f"<p><strong>Verdict rule.</strong> {escape(rule.reason.capitalize())}: the direct evidence allows "
             f"{escape(allowed)}. The verdict is {escape(VERDICT_LABELS[c.verdict])}.</p>"]
    if c.override:
        parts.append(f'<p class="ekb-override"><strong>Override:</strong> {escape(c.override)}</p>')
    items = "".join(f"<li>{escape(o.name)}: {escape(computed[o.id].explain())}</li>" for o in c.outcomes)
    parts.append(f"<p><strong>Certainty.</strong> The claim's certainty is the lowest of its critical outcomes:</p>"
                 f"<ul>{items}</ul>")
    return Markup("".join(parts))


# --- claim pages ------------------------------------------------------------------------------

NOT_ADVICE = ("General information about research evidence, not medical advice. For your own situation, talk to a "
              "qualified health professional.")


def key_evidence(c: Claim, bib: Bibliography, limit: int = 3) -> list[str]:
    """The keys of a claim's key references, for the handout: evidence that counts for the
    verdict (direct) before indirect, the strongest design first, the largest study first."""
    def rank(it: EvidenceItem) -> tuple[int, int, int, int]:
        e = bib.entries.get(it.ref)
        design = DESIGNS.index(e.design) if e is not None and e.design in DESIGNS else len(DESIGNS)
        return (0 if it.counted else 1, 0 if it.directness.direct else 1, design, -(it.n or 0))

    keys = [it.ref for it in sorted(c.evidence, key=rank) if it.ref in bib.entries]
    return list(dict.fromkeys(keys))[:limit]


def qr_svg(url: str) -> Markup:
    """A QR code of ``url`` as inline SVG, made at build time, offline (segno)."""
    import io

    import segno

    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=1, border=2, xmldecl=False, svgns=True, omitsize=True,
                                     svgclass="ekb-qr", lineclass=None, title=f"QR code: {url}")
    return Markup(out.getvalue().decode("utf-8"))


def handout(c: Claim, site_name: str, url: str | None, references: Sequence[Formatted]) -> Markup:
    """The one-page client handout a claim page prints (and only this): the site, the claim,
    its bottom line, verdict and certainty, the words for clients, the key references in full,
    the review date, the page's address with a QR code, and that this is no medical advice.
    Hidden on screen; the print stylesheet shows it alone."""
    address = (Markup(f"<span>{escape(url)}</span>") if url else Markup("<span data-ekb-page-url>this page</span>"))
    qr = qr_svg(url) if url else Markup("")
    refs = Markup("").join(Markup(f"<li>{Markup(f.html)}</li>") for f in references)
    parts = [
        '<section class="ekb-handout" data-search-exclude>',
        f'<p class="ekb-handout-site">{escape(site_name)}</p>',
        f"<h2>{escape(c.heading)}</h2>",
        f'<p class="ekb-badges">{verdict_badge(c.verdict)} {certainty_badge(c.certainty)}</p>',
        f'<p class="ekb-bottom-line">{escape(c.bottom_line)}</p>',
        f"<p><strong>The claim:</strong> “{escape(c.quote)}”</p>",
    ]
    if c.clients:
        parts.append(f'<div class="ekb-handout-clients"><p><strong>For clients, in plain words</strong></p>'
                     f"{markdown_html(c.clients)}</div>")
    if refs:
        parts.append(f'<p><strong>Key research</strong></p><ol class="ekb-handout-refs">{refs}</ol>')
    parts.append(f'<div class="ekb-handout-foot">{qr}<p>Evidence reviewed {escape(c.reviewed)}. The full evidence, '
                 f"every reference and how the verdict was reached: {address}</p>"
                 f'<p class="ekb-handout-advice">{escape(NOT_ADVICE)}</p></div>')
    parts.append("</section>")
    return Markup("".join(parts))

def claim_header(c: Claim, bib: Bibliography, ap: Appraisal, urls: Urls, json_ld: Any = None,
                 printed: Markup | None = None) -> str:
    """Markdown placed above a claim page's own discussion: the bottom line, verdict, quote and
    client summary first, then how it was judged and the evidence. ``printed`` is the page's
    client handout (:func:`handout`), which alone is printed."""
    here = urls.claim(c.slug)
    log = ap.logs.get(c.slug)
    top = Markup(f"<h1>{escape(c.heading)}</h1>")
    if json_ld is not None:
        top += Markup(f'<script type="application/ld+json">{json_script(json_ld)}</script>')
    button = (Markup('<p class="ekb-no-print"><button type="button" class="md-button ekb-print-button" '
                     'data-ekb-print>Print a one-page handout for clients</button></p>') if printed else Markup(""))
    top += Markup(f'<div class="ekb-verdict-box"><p class="ekb-badges">{verdict_badge(c.verdict)} '
                  f'{certainty_badge(c.certainty)}</p><p class="ekb-bottom-line">{escape(c.bottom_line)}</p>'
                  f'<p class="ekb-searched ekb-no-print">{escape(searched_line(c, log))}</p>{button}</div>')
    article = urls.rel(here, urls.article, f"claim-{c.slug}")
    top += Markup(f'<blockquote class="ekb-claim-quote"><p>“{escape(c.quote)}”</p><p>— <a href="{escape(article)}">'
                  f"the article, claim in context</a></p></blockquote>")
    top += Markup(f"<p><strong>Claim, in our words:</strong> {escape(c.claim)}</p>")
    if c.clients:
        top += Markup('<div class="admonition clients"><p class="admonition-title">For clients, in plain words</p>'
                      f"{markdown_html(c.clients)}</div>")
    out = ([block(printed)] if printed else []) + [block(top)]
    if c.practice:
        out += ["## What it means in practice", block(markdown_html(c.practice))]
    out += ['<div class="ekb-detail" markdown>', "", "## How this was judged", "",
            block(Markup('<p class="ekb-question-intro">The question the evidence was searched for:</p>')
                  + _question(c) + _how_judged(c, bib, ap)),
            "### Summary of findings", block(_sof(c, bib, ap))]
    forests = _forests(c, bib, ap, urls, here)
    if forests:
        out += ["### Effects, study by study", block(forests)]
    out += ["### How the evidence was found",
            block(Markup(f"<p>{escape(searched_line(c, log))}</p>") + _searches(c, log)
                  + (figures.prisma(flow(log), "How the evidence for this claim was found", c.searched)
                     if log is not None else Markup("")))]
    counts = Counter(it.stance for it in c.evidence)
    out += ["## The evidence",
            block(Markup(f"<p>{counts['supports']} for, {counts['contradicts']} against, {counts['mixed']} mixed, "
                         f"{counts['context']} for context. Studies that are indirect for this question (another "
                         "population, intervention or outcome) can inform the discussion but not the verdict.</p>"))]
    for stance in ("supports", "contradicts", "mixed", "context"):
        items = [it for it in c.evidence if it.stance == stance]
        if stance in ("supports", "contradicts") or items:
            out.append(f"### {STANCE_HEADINGS[stance]} ({len(items)})")
            out.append(block(_evidence_table(items, c, bib, ap, urls, here) if items
                             else Markup("<p><em>None found.</em></p>")))
    out += ["## Discussion", ""]
    return "\n".join(out)


def reviewers_block(reviewers: Sequence[str]) -> str:
    """Who reviewed the evidence, as configured ("Name, role" each), for the methods page.
    With none configured it says so rather than leave the reader to guess."""
    if not reviewers:
        return block(Markup("<p class=\"ekb-reviewers\">No reviewer is named in this site's configuration "
                            "(<code>reviewers</code>).</p>"))
    items = Markup("").join(Markup(f"<li>{escape(r)}</li>") for r in reviewers)
    return block(Markup(f'<p>Reviewers:</p><ul class="ekb-reviewers">{items}</ul>'))


def claim_footer(c: Claim, cite_block: str = "", downloads: str = "", reviewers: Sequence[str] = ()) -> str:
    out = ["", "", "</div>", "", "## Review and history", ""]
    hist = Markup(f"<p>Reviewed: <strong>{escape(c.reviewed)}</strong>"
                  + (f" by {escape('; '.join(reviewers))}" if reviewers else "") + "</p>")
    if c.history:
        hist += Markup('<ul class="ekb-history">') + Markup("").join(
            Markup(f"<li><strong>{escape(h.date)}</strong>: {escape(h.change)}"
                   + (f" — {escape(h.reason)}" if h.reason else "") + "</li>") for h in c.history) + Markup("</ul>")
    out.append(block(hist))
    if cite_block or downloads:
        out += ['<div class="ekb-detail" markdown>', "", cite_block, "", downloads, "", "</div>", ""]
    out += ["<!-- references -->", ""]
    return "\n".join(out)


def _pre(text: str, cls: str = "", accessed: str = "") -> Markup:
    """Text in a code block, escaped, kept out of the search index; ``accessed`` (an ISO date
    the text gives as its access date) is replaced by the reader's date in the browser."""
    attr = f' data-ekb-accessed="{escape(accessed)}"' if accessed else ""
    return Markup(f'<pre class="ekb-copy{(" " + cls) if cls else ""}" data-search-exclude{attr}><code>'
                  f"{escape(text)}</code></pre>")


def tabs(texts: Mapping[str, str], accessed: str = "") -> str:
    """Tabs of copyable text (the theme's tabbed blocks; the text is in slots)."""
    out = []
    for label, text in texts.items():
        out += [f'=== "{re.sub(r"[^A-Za-z0-9 ]", "", label)}"', "", "    " + slot(_pre(text, accessed=accessed)), ""]
    return "\n".join(out)


def cite_this_block(texts: Mapping[str, str], heading: str = "Cite this page", accessed: str = "") -> str:
    """Copyable citations of a page (the page URL is filled in by the browser when unknown, and
    the access date, ``accessed`` in the texts, becomes the day the reader copies it)."""
    return "\n".join([f"## {heading}", "", tabs(texts, accessed)])


def downloads_block(prefix: str, counts: int | None = None, heading: str = "Download these references") -> str:
    n = f" ({counts} {'reference' if counts == 1 else 'references'})" if counts is not None else ""
    links = Markup("").join(
        Markup(f'<a class="md-button" href="{escape(prefix)}{ext}" download>{label}</a> ')
        for ext, label in ((".bib", "BibTeX"), (".json", "CSL-JSON"), (".ris", "RIS")))
    return "\n".join([f"## {heading}", "", block(Markup(f"<p>{links}</p><p>For Zotero, Mendeley, EndNote, pandoc "
                                                        f"and LaTeX{escape(n)}.</p>"))])


# --- reference pages ----------------------------------------------------------------------------

def _cited_by(entry: Entry, claims: Sequence[Claim]) -> list[tuple[Claim, EvidenceItem]]:
    return [(c, it) for c in claims for it in c.evidence if it.ref == entry.key]


def _rob_detail(j: Judgement | None) -> Markup:
    if j is None:
        return Markup("<p>No risk-of-bias judgement is recorded for this study.</p>")
    basis = {"abstract": "from its abstract", "full-text": "from its full text"}.get(j.basis, "")
    head = Markup(f"<p><strong>{escape(j.tool_name)}</strong>{(' (' + escape(basis) + ')') if basis else ''}: "
                  f"{escape(j.summary)}. {escape(RISK_LABELS[j.risk])}. {escape(j.reason)}</p>")
    if not j.items:
        return head
    rows = "".join(f'<tr><td>{escape(i.label)}</td><td>{escape(i.value.replace("-", " "))}</td>'
                   f"<td>{escape(i.reason) or '—'}</td></tr>" for i in j.items)
    return head + Markup(f'<div class="ekb-table"><table><thead><tr><th scope="col">Item</th>'
                         f'<th scope="col">Judgement</th><th scope="col">Reason</th></tr></thead>'
                         f"<tbody>{rows}</tbody></table></div>")


def reference_page(entry: Entry, bib: Bibliography, claims: Sequence[Claim], formatters: Mapping[str, Formatter],
                   ap: Appraisal, urls: Urls) -> str:
    """The page of one reference: formatted entry, design, identifiers, risk of bias, the claims
    citing it, copyable formats, abstract and BibTeX."""
    here = urls.reference(entry.key)
    title = entry.text("title") or entry.key
    main = next(iter(formatters.values()))
    head = Markup(f"<h1>{escape(title)}</h1>")
    head += Markup(f'<p class="ekb-formatted">{Markup(main.format(entry).html)}</p>')
    ids = Markup(identifier_links(entry)) or Markup("none recorded")
    head += Markup(f'<p><strong>Design:</strong> {escape(DESIGN_LABELS.get(entry.design, "Not recorded"))}<br>'
                   f"<strong>Identifiers:</strong> {ids}<br>"
                   f"<strong>Key:</strong> <code>{escape(entry.key)}</code></p>")
    # Reference pages rank below the claims in search: a reader searching a topic wants the claim.
    out = [front_matter(title=title_text(title), search={"boost": REFERENCE_BOOST}), block(head), "## Risk of bias", block(_rob_detail(ap.rob.get(entry.key)))]
    cited = _cited_by(entry, claims)
    out.append("## Cited by")
    if cited:
        rows = "".join(
            f'<tr><td><a href="{escape(urls.rel(here, urls.claim(c.slug)))}">{escape(c.heading)}</a></td>'
            f"<td>{verdict_badge(c.verdict)}</td><td>{STANCE_LABELS[it.stance]}</td>"
            f"<td>{escape(POPULATION_WORDS.get(it.population, '—'))}</td><td>{_directness(it)}</td></tr>"
            for c, it in cited)
        out.append(block(Markup(f'<div class="ekb-table"><table><thead><tr><th scope="col">Claim</th>'
                                f'<th scope="col">Verdict</th><th scope="col">This study\'s stance</th>'
                                f'<th scope="col">Population</th><th scope="col">Directness</th></tr></thead>'
                                f"<tbody>{rows}</tbody></table></div>")))
    else:
        out.append(block(Markup("<p>No claim page cites this reference yet.</p>")))
    out += ["## Copy the reference", "",
            tabs({STYLE_LABELS.get(name, name): f.format(entry).text for name, f in formatters.items()})]
    abstract = entry.html("abstract")
    if abstract:
        out += ["## Abstract", block(Markup(f'<div class="ekb-abstract" data-search-exclude><p>{Markup(abstract)}'
                                            "</p></div>"))]
    raw = entry.raw.strip() or f"@{entry.type}{{{entry.key}}}"
    out += ["## BibTeX", block(_pre(raw, "ekb-bibtex"))]
    return "\n".join(out) + "\n"


def bibliography_page(keys: Sequence[str], bib: Bibliography, formatter: Formatter, ap: Appraisal, urls: Urls,
                      later: Later | None = None) -> str:
    """All cited references, grouped by design, with a design filter. With ``later``, each
    group's list (its entries formatted and in their order) is made when the page is written."""
    here = "bibliography.md"
    by_design: dict[str, list[str]] = {}  # keys: an entry is read again when listed, not kept
    for k in keys:
        by_design.setdefault(bib[k].design or "unknown", []).append(k)
    order = [d for d in DESIGNS if d in by_design] + [d for d in by_design if d not in DESIGNS]
    buttons = ['<button type="button" class="md-button ekb-filter" data-design="all" aria-pressed="true">All</button>']
    for d in order:
        buttons.append(f'<button type="button" class="md-button ekb-filter" data-design="{escape(d)}" '
                       f'aria-pressed="false">{escape(DESIGN_LABELS.get(d, d))} ({len(by_design[d])})</button>')
    out = [block(Markup(f"<h1>Bibliography</h1><p>Every reference cited on this site ({len(keys)}), grouped by "
                        "study design. Use the buttons to show one design only.</p>"
                        '<div class="ekb-filters" role="group" aria-label="Filter by design">'
                        + " ".join(buttons) + "</div>"))]
    def listed(group: list[str]) -> str:
        # Each entry is read when it is needed, not all held at once: made as the page is
        # written, the list is made when the build holds the most.
        keys = sorted(group, key=lambda k: formatter.format(bib[k]).text.casefold())
        # An entry with a page of its own is found by search there; listed here too, a large
        # library's section would pass the search index's limit (Zensical stops the build).
        return "".join(
            f"<li{' data-search-exclude' if ap.has_page(k) else ''}>{Markup(formatter.format(bib[k]).html)} "
            + (f'<a href="{escape(urls.rel(here, urls.reference(k)))}">Details</a>' if ap.has_page(k) else "")
            + "</li>" for k in keys)

    for d in order:
        items = later.put(functools.partial(listed, by_design[d])) if later is not None else listed(by_design[d])
        out.append(f'<section class="ekb-design-group" data-design="{escape(d)}" markdown>')
        out += ["", f"## {DESIGN_LABELS.get(d, d) if d in DESIGN_LABELS else 'Design: ' + re.sub(r'[^A-Za-z0-9 -]', '', d)}",
                block(Markup(f"<ul>{items}</ul>")), "</section>", ""]
    return front_matter(title="Bibliography") + "\n".join(out)


# --- site-wide pages --------------------------------------------------------------------------------

def _claim_link(c: Claim, urls: Urls, here: str) -> Markup:
    return Markup(f'<a href="{escape(urls.rel(here, urls.claim(c.slug)))}">{escape(c.heading)}</a>')


def evidence_map_page(claims: Sequence[Claim], bib: Bibliography, ap: Appraisal, urls: Urls) -> str:
    here = "evidence-map.md"
    verdicts = Counter(c.verdict for c in claims)
    summary = ", ".join(f"{verdicts[v]} {VERDICT_LABELS[v].lower()}" for v in VERDICT_LABELS if verdicts[v])
    rows = []
    for c in claims:
        n = Counter(it.stance for it in c.evidence if it.directness.direct)
        ind = sum(1 for it in c.evidence if it.counted and not it.directness.direct)
        rows.append(f'<tr><td data-label="Claim">{_claim_link(c, urls, here)}</td>'
                    f'<td data-label="Verdict">{verdict_badge(c.verdict)}</td>'
                    f'<td data-label="Certainty">{certainty_badge(c.certainty)}</td>'
                    f'<td data-label="Direct: for / against / mixed">{n["supports"]} / {n["contradicts"]} / '
                    f'{n["mixed"]}</td><td data-label="Indirect">{ind}</td></tr>')
    table = Markup('<div class="ekb-table ekb-map"><table><thead><tr><th scope="col">Claim</th>'
                   '<th scope="col">Verdict</th><th scope="col">Certainty</th>'
                   '<th scope="col">Direct studies: for / against / mixed</th><th scope="col">Indirect</th>'
                   f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")
    chart = figures.bars([(c.heading, urls.rel(here, urls.claim(c.slug)),
                           dict(Counter(it.stance for it in c.evidence if it.counted))) for c in claims],
                         "Studies for, against and mixed, per claim")
    out = [block(Markup(f"<h1>Evidence map</h1><p>Every claim of the article at a glance. Across the site: "
                        f"{escape(summary)}.</p>") + verdict_summary(claims, "#every-claim")),
           "## At a glance", block(Markup(f'<figure class="ekb-figure ekb-bars">{chart}<figcaption>Studies for '
                                          "(green), against (red) and mixed (amber) per claim, direct and indirect."
                                          "</figcaption></figure>")),
           "## Every claim", block(table)]
    return front_matter(title="Evidence map") + "\n".join(out) + "\n"


def verdict_summary(claims: Sequence[Claim], map_link: str) -> Markup:
    """The verdicts across the site, counted, each with its badge (the home page and the map)."""
    verdicts = Counter(c.verdict for c in claims)
    items = Markup("").join(Markup(f"<li>{verdict_badge(v)} {verdicts[v]} "
                                   f"{'claim' if verdicts[v] == 1 else 'claims'}</li>")
                            for v in VERDICT_LABELS if verdicts[v])
    return Markup(f'<div class="ekb-summary"><p><strong>{len(claims)} claims checked.</strong> '
                  f'<a href="{escape(map_link)}">See them all on the evidence map.</a></p>'
                  f'<ul class="ekb-summary-list">{items}</ul></div>')


def claims_index_page(claims: Sequence[Claim], urls: Urls, intro: str = "") -> str:
    """Every claim with its badges and bottom line, in the article's order."""
    here = f"{urls.claims_dir}/index.md"
    items = "".join(
        f'<li class="ekb-claim-card"><p class="ekb-claim-card-title">{_claim_link(c, urls, here)}</p>'
        f"<p>{verdict_badge(c.verdict)} {certainty_badge(c.certainty)}</p>"
        f'<p class="ekb-bottom-line">{escape(c.bottom_line)}</p></li>' for c in claims)
    return block(Markup(f'<ol class="ekb-claim-list">{items}</ol>'))


def topics_page(claims: Sequence[Claim], urls: Urls) -> str:
    here = "topics.md"
    out = [block(Markup("<h1>Claims by topic</h1>"))]
    for t in TOPICS:
        group = [c for c in claims if c.topic == t]
        if not group:
            continue
        items = "".join(f"<li>{_claim_link(c, urls, here)} {verdict_badge(c.verdict)}</li>" for c in group)
        out += [f"## {TOPIC_LABELS[t]}", block(Markup(f"<ul>{items}</ul>"))]
    return front_matter(title="Claims by topic") + "\n".join(out) + "\n"


def search_record_page(claims: Sequence[Claim], ap: Appraisal, urls: Urls) -> str:
    """How the evidence was found, across the site: the flow of every log, and each claim's question."""
    here = "searches.md"
    logs = [lg for c in claims if (lg := ap.logs.get(c.slug)) is not None]
    total = merge_flows(logs)
    last = max((c.searched for c in claims if c.searched), default="")
    rows = []
    for c in claims:
        log = ap.logs.get(c.slug)
        f = flow(log) if log else None
        rows.append(f'<tr><td>{_claim_link(c, urls, here)}</td><td>{escape(c.question.population)}</td>'
                    f"<td>{len(c.searches)}</td><td>{escape(c.searched or '—')}</td>"
                    f"<td>{f.screened if f else '—'}</td><td>{f.included if f else '—'}</td></tr>")
    out = [block(Markup("<h1>How the evidence was found</h1><p>Each claim has its own question, searches and "
                        "screening log; this page adds them up. A study included for several claims counts once "
                        "among the included studies.</p>")),
           "## Across the site", block(figures.prisma(total, "How the evidence for every claim was found", last)),
           "## Claim by claim",
           block(Markup('<div class="ekb-table"><table><thead><tr><th scope="col">Claim</th><th scope="col">'
                        'Population</th><th scope="col">Searches</th><th scope="col">Searched to</th><th scope="col">'
                        f'Screened</th><th scope="col">Included</th></tr></thead><tbody>{"".join(rows)}</tbody>'
                        "</table></div>"))]
    return front_matter(title="How the evidence was found") + "\n".join(out) + "\n"


def annotate_article(markdown: str, claims: Sequence[Claim], claim_url: Callable[[str], str]) -> str:
    """Highlight and number each claim's quote in the article's Markdown, linking to its page.

    The article is the site's own text; what is added is built from validated slugs and
    the verdict vocabulary only."""
    spans: list[tuple[int, int, int, Claim]] = []
    for i, c in enumerate(claims, 1):
        found = quotes.find(c.quote, markdown) if c.quote else None
        if found:
            spans.append((found[0], found[1], i, c))
    spans.sort(key=lambda s: (s[0], -s[1]))
    out: list[str] = []
    pos = 0
    for start, end, n, c in spans:
        label = VERDICT_LABELS[c.verdict]
        overlaps = start < pos  # inside the previous quote: its marker alone, carrying the id links arrive at
        ident = f"#claim-{c.slug} " if overlaps else ""
        # A Markdown link (not raw HTML), so the engine resolves and checks it; icon, colour and words.
        marker = (f"[{VERDICT_ICONS[c.verdict]}&nbsp;claim&nbsp;{n}: {label}]({claim_url(c.slug)})"
                  f'{{: {ident}.ekb-claim-marker .ekb-verdict--{c.verdict} title="Claim {n}: {label}. Read the evidence."}}')
        if overlaps:
            out.append(" " + marker)
            continue
        out.append(markdown[pos:start])
        out.append(f'<mark class="ekb-claim ekb-claim--{c.verdict}" id="claim-{c.slug}">')
        out.append(markdown[start:end])
        out.append("</mark> " + marker)
        pos = end
    out.append(markdown[pos:])
    text = "".join(out)
    if not spans:
        return text
    legend = Markup('<div class="ekb-legend" role="note"><p><strong>Each highlighted passage is a claim</strong>, '
                    "tinted by its verdict; its label links to the evidence.</p><ul>") + Markup("").join(
        Markup(f'<li><span class="ekb-claim ekb-claim--{v}">{VERDICT_ICONS[v]} {escape(label)}</span></li>')
        for v, label in VERDICT_LABELS.items() if any(c.verdict == v for _, _, _, c in spans)) + Markup("</ul></div>")
    m = re.search(r"^# .*$", text, flags=re.M)  # after the title, or else first
    at = m.end() + 1 if m else 0
    return text[:at] + "\n" + block(legend) + "\n\n" + text[at:]


def claims_json(claims: Sequence[Claim], bib: Bibliography, formatter: Formatter, ap: Appraisal, urls: Urls,
                site_url: str = "") -> str:
    """Every claim record with its references and appraisal resolved (schema on the 'Data' page)."""
    records: list[dict[str, Any]] = []
    for c in claims:
        rule = grade.verdict_rule(c)
        computed = computed_outcomes(c, bib, ap.rob)
        log = ap.logs.get(c.slug)
        f = flow(log) if log else None
        evidence = []
        for it in c.evidence:
            entry = bib.get(it.ref)
            j = ap.rob.get(it.ref)
            evidence.append({
                "ref": it.ref, "outcome": it.outcome or None, "stance": it.stance,
                "population": it.population or None, "participants": it.participants or None, "n": it.n,
                "directness": {"population": it.directness.population, "intervention": it.directness.intervention,
                               "outcome": it.directness.outcome, "reason": it.directness.reason or None},
                "effects": [{"measure": ef.measure, "estimate": ef.estimate, "ci": list(ef.ci) if ef.ci else None,
                             "unit": ef.unit or None, "n": ef.n, "timepoint": ef.timepoint or None,
                             "outcome": ef.outcome or None, "scale": ef.scale or None} for ef in it.effects],
                "finding": it.finding, "quote": it.quote or None,
                "risk_of_bias": None if j is None else {"tool": j.tool, "summary": j.summary, "risk": j.risk,
                                                         "reason": j.reason},
                "reference": None if entry is None else {
                    "formatted": formatter.format(entry).text, "title": entry.text("title"),
                    "year": entry.year, "design": entry.design or None,
                    "doi": entry.fields.get("doi") or None, "pmid": entry.fields.get("pmid") or None,
                    "pmcid": entry.fields.get("pmcid") or None, "url": entry.fields.get("url") or None,
                },
            })
        records.append({
            "slug": c.slug, "url": site_url + urls.page(urls.claim(c.slug)), "claim": c.claim, "quote": c.quote,
            "topic": c.topic, "verdict": c.verdict, "certainty": c.certainty, "bottom_line": c.bottom_line,
            "allowed_verdicts": list(rule.allowed), "verdict_rule": rule.reason,
            "question": {"population": c.question.population, "intervention": c.question.intervention,
                         "comparison": c.question.comparison or None, "outcome": c.question.outcome},
            "searches": [{"source": s.source, "terms": s.terms, "date": s.date or None, "results": s.results}
                         for s in c.searches],
            "screening": None if f is None else {"identified": f.identified, "screened": f.screened,
                                                  "included": f.included, "excluded": dict(f.excluded)},
            "outcomes": [{"id": o.id, "name": o.name, "kind": o.kind, "critical": o.critical,
                          "certainty": o.certainty, "computed": computed[o.id].explain(),
                          "grade": {d: {"rating": r.rating, "reason": r.reason or None} for d, r in o.grade.items()}}
                         for o in c.outcomes],
            "override": c.override, "reviewed": c.reviewed, "clients": c.clients, "practice": c.practice,
            "history": [{"date": h.date, "change": h.change, "reason": h.reason} for h in c.history],
            "evidence": evidence,
        })
    return claims_document(records)


def changes_page(claims: Sequence[Claim], urls: Urls, limit: int = 50) -> str:
    """The latest dated changes across all claims, newest first."""
    here = "changes.md"
    rows = sorted(((h, c) for c in claims for h in c.history), key=lambda x: (x[0].date, x[1].slug), reverse=True)
    intro = Markup("<h1>What changed</h1><p>The latest changes to claim pages, newest first.</p>")
    if not rows:
        return front_matter(title="What changed") + block(intro + Markup("<p>No changes recorded yet.</p>"))
    body = "".join(f"<tr><td>{escape(h.date)}</td><td>{_claim_link(c, urls, here)}</td><td>{escape(h.change)}</td>"
                   f"<td>{escape(h.reason) or '—'}</td></tr>" for h, c in rows[:limit])
    return front_matter(title="What changed") + block(
        intro + Markup(f'<div class="ekb-table"><table><thead><tr><th scope="col">Date</th><th scope="col">Claim</th>'
                       f'<th scope="col">Change</th><th scope="col">Reason</th></tr></thead><tbody>{body}</tbody>'
                       "</table></div>"))


def codes_page() -> str:
    """Every diagnostic code, from the code's own table."""
    from .diagnostics import CODES

    rows = "".join(f"<tr><td><code>{escape(code)}</code></td><td>{severity.value}</td><td>{escape(meaning)}</td></tr>"
                   for code, (severity, meaning) in sorted(CODES.items()))
    return front_matter(title="Diagnostic codes") + block(Markup(
        "<h1>Diagnostic codes</h1><p>Every problem the build or <code>evidencekb check</code> reports carries one of "
        "these codes, as <code>path:line:col: severity code: message</code>. Errors fail a strict build; warnings are "
        "reported by <code>evidencekb check</code> (and fail it with <code>--strict</code>).</p>"
        '<div class="ekb-table"><table><thead><tr><th scope="col">Code</th><th scope="col">Severity</th>'
        f'<th scope="col">Meaning</th></tr></thead><tbody>{rows}</tbody></table></div>'))


def slug_title(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "claim"
