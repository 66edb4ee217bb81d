"""Generated pages, built from the records alone. Pure: Markdown/HTML strings out.

Claim pages (header, evidence tables, client box, history), one page per
reference, the bibliography, the evidence map, topic pages, the annotated
article and ``claims.json``.
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from . import ceiling as ceil
from . import quotes
from .bibliography import DESIGNS, Bibliography, Entry
from .checks import claim_ceiling
from .claims import TOPICS, Claim, EvidenceItem
from .csl import Formatter
from .render import author_short, identifier_links

__all__ = [
    "VERDICT_LABELS", "claim_header", "claim_footer", "reference_page", "bibliography_page",
    "evidence_map_page", "topics_page", "annotate_article", "claims_json",
]

VERDICT_LABELS = {
    "supported": "Supported", "partly-supported": "Partly supported", "contested": "Contested",
    "not-supported": "Not supported", "untested": "Untested",
}
VERDICT_ICONS = {"supported": "✔", "partly-supported": "◐", "contested": "⇄", "not-supported": "✘", "untested": "?"}
CERTAINTY_LABELS = {"high": "High", "moderate": "Moderate", "low": "Low", "very-low": "Very low"}
STANCE_LABELS = {"supports": "Supports", "contradicts": "Contradicts", "mixed": "Mixed", "context": "Context"}
STANCE_HEADINGS = {
    "supports": "Evidence for the claim", "contradicts": "Evidence against the claim",
    "mixed": "Mixed evidence", "context": "Background and context",
}
DESIGN_LABELS = {d: d.replace("-", " ").capitalize() for d in DESIGNS}
DESIGN_LABELS.update({"rct": "Randomised trial", "systematic-review": "Systematic review or meta-analysis"})
TOPIC_LABELS = {t: t.capitalize() for t in TOPICS}

e = html.escape


def _cell(text: str) -> str:
    """Text for a Markdown table cell: no column breaks, and no '@' read as a citation."""
    return text.replace("|", "\\|").replace("\n", " ").replace("@", "\\@")


def verdict_badge(verdict: str) -> str:
    return (f'<span class="ekb-badge ekb-verdict ekb-verdict--{verdict}">'
            f'<span aria-hidden="true">{VERDICT_ICONS[verdict]}</span> Verdict: {VERDICT_LABELS[verdict]}</span>')


def certainty_badge(certainty: str) -> str:
    return (f'<span class="ekb-badge ekb-certainty ekb-certainty--{certainty}">'
            f'Certainty: {CERTAINTY_LABELS[certainty]}</span>')


def _evidence_table(items: list[EvidenceItem], bib: Bibliography) -> str:
    rows = ["| Reference | Design | Population | n | Stance | Finding |",
            "|---|---|---|---:|---|---|"]
    for it in items:
        entry = bib.get(it.ref)
        design = DESIGN_LABELS.get(entry.design, entry.design or "—") if entry else "—"
        n = "—" if it.n is None else str(it.n)
        finding = _cell(it.finding)
        if it.quote:
            finding += f' <span class="ekb-quote">“{e(_cell(it.quote))}”</span>'
        who = _cell(e(f"{author_short(entry, narrative=True)} ({entry.year})")) if entry else _cell(e(it.ref))
        rows.append(f"| {who} [@{it.ref}] | {e(design)} | {e(it.population or '—')} | {n} | "
                    f"{STANCE_LABELS[it.stance]} | {finding} |")
    return '<div class="ekb-table" markdown>\n\n' + "\n".join(rows) + "\n\n</div>"


def claim_header(c: Claim, bib: Bibliography, article_url: str, json_ld: str = "") -> str:
    """Markdown placed above a claim page's own discussion.

    The verdict, the quote, the client summary and what it means in practice come
    first: they make the printed handout. The evidence and the discussion follow in
    a block that print hides.
    """
    limit = claim_ceiling(c, bib)
    out = [f"# {c.heading}", ""]
    if json_ld:
        out += [f'<script type="application/ld+json">{json_ld}</script>', ""]
    out.append(f'<p class="ekb-print-only">Printed from <span data-ekb-page-url>this page</span>. '
               f"Evidence reviewed {c.reviewed}.</p>")
    out.append("")
    out.append('<div class="ekb-verdict-box" markdown>')
    out.append(f"{verdict_badge(c.verdict)} {certainty_badge(c.certainty)}")
    out.append("")
    out.append(f'<span class="ekb-ceiling">Strongest verdict the evidence allows (computed): '
               f'**{VERDICT_LABELS[limit.verdict]}**, certainty at most **{CERTAINTY_LABELS[limit.certainty]}**. '
               f'[How this is computed](../methods.md#the-verdict-ceiling)</span>')
    if c.override:
        out.append("")
        out.append(f"**Override:** {e(c.override)}")
    out.append("</div>")
    out.append("")
    out.append(f"> “{e(c.quote)}”")
    out.append(f">\n> — [the article, claim in context]({article_url}#claim-{c.slug})")
    out.append("")
    out.append(f"**Claim, in our words:** {e(c.claim)}")
    out.append("")
    if c.clients:
        out.append('!!! clients "For clients, in plain words"')
        out.append("")
        for line in c.clients.strip().splitlines():
            out.append(f"    {line}")
        out.append("")
    if c.practice:
        out += ["## What it means in practice", "", c.practice.strip(), ""]
    counts = Counter(it.stance for it in c.evidence)
    out.append('<div class="ekb-detail" markdown>')
    out.append("")
    out.append("## The evidence")
    out.append("")
    out.append(f"{counts['supports']} for, {counts['contradicts']} against, {counts['mixed']} mixed, "
               f"{counts['context']} for context. Each table can be sorted by clicking its headings.")
    out.append("")
    for stance in ("supports", "contradicts", "mixed", "context"):
        items = [it for it in c.evidence if it.stance == stance]
        if stance in ("supports", "contradicts") or items:
            out.append(f"### {STANCE_HEADINGS[stance]} ({len(items)})")
            out.append("")
            out.append(_evidence_table(items, bib) if items else "*None found.*")
            out.append("")
    out.append("## Discussion")
    out.append("")
    return "\n".join(out)


def claim_footer(c: Claim, cite_block: str = "", downloads: str = "") -> str:
    out = ["", "", "</div>", ""]
    out += ["## Review and history", "", f"Reviewed: **{c.reviewed}**", ""]
    if c.history:
        out.append('<div class="ekb-detail" markdown>')
        out.append("")
        for h in c.history:
            reason = f" — {e(h.reason)}" if h.reason else ""
            out.append(f"- **{h.date}**: {e(h.change)}{reason}")
        out += ["", "</div>", ""]
    if cite_block or downloads:
        out += ['<div class="ekb-detail" markdown>', "", cite_block, "", downloads, "", "</div>", ""]
    out += ["<!-- references -->", ""]
    return "\n".join(out)


def cite_this_block(texts: dict[str, str], heading: str = "Cite this page") -> str:
    """Tabs of copyable citations (the page URL is filled in by the browser when unknown)."""
    out = [f"## {heading}", ""]
    for label, text in texts.items():
        lang = "bibtex" if label == "BibTeX" else "text"
        out += [f'=== "{label}"', "", f"    ```{lang}"]
        out += [f"    {line}" for line in text.splitlines()]
        out += ["    ```", ""]
    return "\n".join(out)


def downloads_block(prefix: str, heading: str = "Download these references") -> str:
    return "\n".join([
        f"## {heading}", "",
        f"[BibTeX]({prefix}.bib){{ .md-button }} [CSL-JSON]({prefix}.json){{ .md-button }} "
        f"[RIS]({prefix}.ris){{ .md-button }}", "",
        "For Zotero, Mendeley, EndNote, pandoc and LaTeX.", ""])


def _cited_by(entry: Entry, claims: Sequence[Claim]) -> list[tuple[Claim, EvidenceItem]]:
    return [(c, it) for c in claims for it in c.evidence if it.ref == entry.key]


def reference_page(entry: Entry, bib: Bibliography, claims: Sequence[Claim],
                   formatters: dict[str, Formatter], claim_url: str = "../claims/{slug}.md") -> str:
    """The page of one reference: formatted entry, design, identifiers, abstract, BibTeX, cited by."""
    title = entry.text("title") or entry.key
    out = [f"# {e(title)}", ""]
    main = next(iter(formatters.values()))
    out.append(f'<p class="ekb-formatted">{main.format(entry).html}</p>')
    out.append("")
    design = DESIGN_LABELS.get(entry.design, "Not recorded")
    out.append(f"**Design:** {e(design)}  ")
    out.append(f"**Identifiers:** {identifier_links(entry) or 'none recorded'}  ")
    out.append(f"**Key:** `{entry.key}`")
    out.append("")
    cited = _cited_by(entry, claims)
    out.append("## Cited by")
    out.append("")
    if cited:
        out.append("| Claim | Verdict | This study's stance |")
        out.append("|---|---|---|")
        for c, it in cited:
            out.append(f"| [{_cell(e(c.heading))}]({claim_url.format(slug=c.slug)}) | "
                       f"{VERDICT_LABELS[c.verdict]} | {STANCE_LABELS[it.stance]} |")
    else:
        out.append("No claim page cites this reference yet.")
    out.append("")
    out.append("## Copy the reference")
    out.append("")
    for name, f in formatters.items():
        label = {"american-medical-association": "AMA", "apa": "APA", "nlm-citation-sequence": "Vancouver"}.get(name, name)
        out.append(f'=== "{label}"')
        out.append("")
        out.append("    ```text")
        out.append("    " + f.format(entry).text)
        out.append("    ```")
        out.append("")
    abstract = entry.html("abstract")
    if abstract:
        out.append('??? abstract "Abstract"')
        out.append("")
        out.append(f"    {abstract}")
        out.append("")
    out.append("## BibTeX")
    out.append("")
    raw = entry.raw.strip() or f"@{entry.type}{{{entry.key}}}"
    fence = "````" if "```" in raw else "```"
    out.append(f"{fence}bibtex")
    out.append(raw)
    out.append(fence)
    out.append("")
    return "\n".join(out)


def bibliography_page(keys: Sequence[str], bib: Bibliography, formatter: Formatter,
                      ref_url: str = "references/{key}.md") -> str:
    """All cited references, grouped by design, with a design filter."""
    out = ["# Bibliography", "",
           f"Every reference cited on this site ({len(keys)}), grouped by study design. "
           "Use the buttons to show one design only.", ""]
    by_design: dict[str, list[Entry]] = {}
    for k in keys:
        entry = bib[k]
        by_design.setdefault(entry.design or "unknown", []).append(entry)
    order = [d for d in DESIGNS if d in by_design] + [d for d in by_design if d not in DESIGNS]
    buttons = ['<button type="button" class="md-button ekb-filter" data-design="all" aria-pressed="true">All</button>']
    for d in order:
        buttons.append(f'<button type="button" class="md-button ekb-filter" data-design="{e(d)}" aria-pressed="false">'
                       f'{e(DESIGN_LABELS.get(d, d))} ({len(by_design[d])})</button>')
    out.append('<div class="ekb-filters" role="group" aria-label="Filter by design">' + " ".join(buttons) + "</div>")
    out.append("")
    for d in order:
        entries = sorted(by_design[d], key=lambda x: formatter.format(x).text.casefold())
        out.append(f'<section class="ekb-design-group" data-design="{e(d)}" markdown>')
        out.append("")
        out.append(f"## {e(DESIGN_LABELS.get(d, d))}")
        out.append("")
        for entry in entries:
            out.append(f'- {formatter.format(entry).html} [Details]({ref_url.format(key=entry.key)})')
        out.append("")
        out.append("</section>")
        out.append("")
    return "\n".join(out)


_BAR_COLOURS = {"supports": "#1b7a3a", "contradicts": "#b3261e", "mixed": "#8a5a00"}


def _svg_map(rows: list[tuple[Claim, Counter[str], ceil.Ceiling]]) -> str:
    """A compact bar chart, drawn at build time: for/against/mixed per claim."""
    h = 22
    width = 420
    scale = 18
    parts = [f'<svg class="ekb-map-svg" role="img" aria-labelledby="ekb-map-title" viewBox="0 0 {width} {h * len(rows) + 30}" '
             f'width="100%" xmlns="http://www.w3.org/2000/svg">',
             '<title id="ekb-map-title">Number of studies for, against and mixed, per claim</title>']
    for i, (c, counts, _) in enumerate(rows):
        y = i * h + 4
        parts.append(f'<text x="0" y="{y + 14}" font-size="12" fill="currentColor">{i + 1}</text>')
        x = 28
        for stance in ("supports", "contradicts", "mixed"):
            n = counts[stance]
            if n:
                parts.append(f'<rect x="{x}" y="{y + 2}" width="{n * scale}" height="{h - 8}" fill="{_BAR_COLOURS[stance]}">'
                             f'<title>Claim {i + 1}: {n} {STANCE_LABELS[stance].lower()}</title></rect>')
                parts.append(f'<text x="{x + 4}" y="{y + 14}" font-size="11" fill="#fff">{n}</text>')
                x += n * scale
    ly = h * len(rows) + 20
    lx = 28
    for stance in ("supports", "contradicts", "mixed"):
        parts.append(f'<rect x="{lx}" y="{ly - 10}" width="12" height="12" fill="{_BAR_COLOURS[stance]}"/>')
        parts.append(f'<text x="{lx + 16}" y="{ly}" font-size="12" fill="currentColor">{STANCE_LABELS[stance]}</text>')
        lx += 110
    parts.append("</svg>")
    return "".join(parts)


def evidence_map_page(claims: Sequence[Claim], bib: Bibliography, claim_url: str = "claims/{slug}.md") -> str:
    rows = []
    for c in claims:
        rows.append((c, Counter(it.stance for it in c.evidence), claim_ceiling(c, bib)))
    out = ["# Evidence map", "",
           "Every claim of the article at a glance: the verdict, the certainty of the evidence, how many "
           "studies support it, contradict it or are mixed, and the strongest study design among them.", ""]
    out.append('<div class="ekb-table" markdown>')
    out.append("")
    out.append("| # | Claim | Verdict | Certainty | For | Against | Mixed | Best design |")
    out.append("|---:|---|---|---|---:|---:|---:|---|")
    for i, (c, counts, _) in enumerate(rows, 1):
        designs = [bib[it.ref].design for it in c.evidence if it.ref in bib and it.stance != "context"]
        best = min(designs, key=lambda d: (-ceil.tier_of(d), DESIGNS.index(d) if d in DESIGNS else 99), default="")
        out.append(f"| {i} | [{_cell(e(c.heading))}]({claim_url.format(slug=c.slug)}) | {verdict_badge(c.verdict)} | "
                   f"{certainty_badge(c.certainty)} | {counts['supports']} | {counts['contradicts']} | "
                   f"{counts['mixed']} | {e(DESIGN_LABELS.get(best, '—'))} |")
    out.append("")
    out.append("</div>")
    out.append("")
    out.append("## At a glance")
    out.append("")
    out.append('<figure class="ekb-map">' + _svg_map(rows) +
               "<figcaption>Bars show the number of studies for (green), against (red) and mixed (amber) "
               "for each numbered claim in the table above.</figcaption></figure>")
    out.append("")
    return "\n".join(out)


def topics_page(claims: Sequence[Claim], claim_url: str = "claims/{slug}.md") -> str:
    out = ["# Claims by topic", ""]
    for t in TOPICS:
        group = [c for c in claims if c.topic == t]
        if not group:
            continue
        out += [f"## {TOPIC_LABELS[t]}", ""]
        for c in group:
            out.append(f"- [{e(c.heading)}]({claim_url.format(slug=c.slug)}) — {verdict_badge(c.verdict)}")
        out.append("")
    return "\n".join(out)


def annotate_article(markdown: str, claims: Sequence[Claim], claim_url: str = "claims/{slug}.md") -> str:
    """Highlight and number each claim's quote in the article's Markdown, linking to its page."""
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
        # A Markdown link (not raw HTML), so MkDocs resolves and checks it.
        marker = (f"[claim {n}: {label}]({claim_url.format(slug=c.slug)})"
                  f'{{: .ekb-claim-marker .ekb-verdict--{c.verdict} title="Claim {n}: {label}. Read the evidence."}}')
        if start < pos:  # overlaps the previous quote: add its marker only
            out.append(" " + marker)
            continue
        out.append(markdown[pos:start])
        out.append(f'<mark class="ekb-claim ekb-claim--{c.verdict}" id="claim-{c.slug}">')
        out.append(markdown[start:end])
        out.append("</mark> " + marker)
        pos = end
    out.append(markdown[pos:])
    return "".join(out)


def claims_json(claims: Sequence[Claim], bib: Bibliography, formatter: Formatter, site_url: str = "") -> str:
    """Every claim record with its references resolved (schema on the 'Data' page)."""
    records: list[dict[str, Any]] = []
    for c in claims:
        limit = claim_ceiling(c, bib)
        evidence = []
        for it in c.evidence:
            entry = bib.get(it.ref)
            evidence.append({
                "ref": it.ref, "stance": it.stance, "population": it.population or None, "n": it.n,
                "finding": it.finding, "quote": it.quote or None,
                "reference": None if entry is None else {
                    "formatted": formatter.format(entry).text, "title": entry.text("title"),
                    "year": entry.year, "design": entry.design or None,
                    "doi": entry.fields.get("doi") or None, "pmid": entry.fields.get("pmid") or None,
                    "pmcid": entry.fields.get("pmcid") or None, "url": entry.fields.get("url") or None,
                },
            })
        records.append({
            "slug": c.slug, "url": f"{site_url}claims/{c.slug}/", "claim": c.claim, "quote": c.quote,
            "topic": c.topic, "verdict": c.verdict, "certainty": c.certainty,
            "ceiling": {"verdict": limit.verdict, "certainty": limit.certainty, "reason": limit.reason},
            "override": c.override, "reviewed": c.reviewed, "clients": c.clients, "practice": c.practice,
            "history": [{"date": h.date, "change": h.change, "reason": h.reason} for h in c.history],
            "evidence": evidence,
        })
    return json.dumps({"version": 1, "claims": records}, ensure_ascii=False, indent=2)


def changes_page(claims: Sequence[Claim], limit: int = 50, claim_url: str = "claims/{slug}.md") -> str:
    """The latest dated changes across all claims, newest first."""
    rows = sorted(((h, c) for c in claims for h in c.history), key=lambda x: (x[0].date, x[1].slug), reverse=True)
    out = ["# What changed", "", "The latest changes to claim pages, newest first.", ""]
    if not rows:
        out.append("No changes recorded yet.")
    out += ["| Date | Claim | Change | Reason |", "|---|---|---|---|"] if rows else []
    for h, c in rows[:limit]:
        out.append(f"| {h.date} | [{_cell(e(c.heading))}]({claim_url.format(slug=c.slug)}) | "
                   f"{_cell(e(h.change))} | {_cell(e(h.reason)) or '—'} |")
    return "\n".join(out) + "\n"


def codes_page() -> str:
    """Every diagnostic code, from the code's own table."""
    from .diagnostics import CODES

    out = ["# Diagnostic codes", "",
           "Every problem the build or `evidencekb check` reports carries one of these codes, as "
           "`path:line:col: severity code: message`. Errors fail the build; warnings fail it only "
           "with `--strict`.", "", "| Code | Severity | Meaning |", "|---|---|---|"]
    for code, (severity, meaning) in sorted(CODES.items()):
        out.append(f"| `{code}` | {severity.value} | {_cell(e(meaning))} |")
    return "\n".join(out) + "\n"


def slug_title(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "claim"
