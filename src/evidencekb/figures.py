"""Figures drawn at build time as inline SVG, each with a text equivalent. Pure.

A PRISMA 2020 flow diagram, a forest plot and per-claim evidence bars. No
script, nothing loaded from elsewhere; every text is escaped. Each figure is
a ``<figure>`` whose SVG has a title and description, with the same facts in
text (a list or a table) for screen readers and for print.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

from .safe import Markup, escape
from .screening import REASON_LABELS, Flow

__all__ = ["prisma", "ForestRow", "Pooled", "forest", "pool", "bars"]

def _id(prefix: str, title: str) -> str:
    """An id for a figure's parts, the same in every build (from its title)."""
    return f"{prefix}-{hashlib.sha1(title.encode()).hexdigest()[:10]}"


def _box(x: int, y: int, w: int, h: int, lines: Sequence[str], cls: str = "ekb-fig-box") -> str:
    parts = [f'<rect class="{cls}" x="{x}" y="{y}" width="{w}" height="{h}" rx="6"/>']
    for i, line in enumerate(lines):
        parts.append(f'<text x="{x + 10}" y="{y + 20 + 17 * i}">{escape(line)}</text>')
    return "".join(parts)


def _arrow(x1: int, y1: int, x2: int, y2: int, marker: str) -> str:
    return f'<line class="ekb-fig-arrow" x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" marker-end="url(#{marker})"/>'


def prisma(flow: Flow, title: str, searched: str = "") -> Markup:
    """A PRISMA 2020-style flow diagram of a screening log, with its text equivalent."""
    fid = _id("ekb-prisma", title)
    reasons = [f"{REASON_LABELS[r]}: {n}" for r, n in flow.excluded] or ["none"]
    h_excl = 30 + 17 * (len(reasons) + 1)
    height = 90 + 80 + max(80, h_excl) + 100
    y1, y2 = 10, 120
    y3 = y2 + max(80, h_excl) + 30
    svg = [f'<svg class="ekb-fig ekb-prisma-svg" viewBox="0 0 620 {height}" role="img" '
           f'aria-labelledby="{fid}-t {fid}-d" xmlns="http://www.w3.org/2000/svg">',
           f'<title id="{fid}-t">{escape(title)}</title>',
           f'<desc id="{fid}-d">{escape(_prisma_text(flow, searched))}</desc>',
           f'<defs><marker id="{fid}-a" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="currentColor"/></marker></defs>',
           _box(10, y1, 320, 80, ["Identification",
                                  f"Records identified by searches: {flow.identified}",
                                  f"Duplicates removed: {flow.duplicates}"]),
           _box(10, y2, 320, 80, ["Screening",
                                  f"Records screened: {flow.screened}",
                                  f"Not yet screened: {flow.unscreened}"]),
           _box(360, y2, 250, h_excl, [f"Records excluded: {flow.excluded_total}"] + reasons),
           _box(10, y3, 320, 60, ["Included", f"Studies included: {flow.included}"], "ekb-fig-box ekb-fig-box--in"),
           _arrow(170, y1 + 80, 170, y2 - 2, f"{fid}-a"), _arrow(330, y2 + 40, 358, y2 + 40, f"{fid}-a"),
           _arrow(170, y2 + 80, 170, y3 - 2, f"{fid}-a"),
           "</svg>"]
    caption = f"How the evidence was found{' (searched to ' + searched + ')' if searched else ''}."
    items = "".join(f"<li>{escape(x)}</li>" for x in _prisma_lines(flow))
    return Markup(f'<figure class="ekb-figure ekb-prisma">{"".join(svg)}'
                  f'<figcaption>{escape(caption)}</figcaption></figure>'
                  f'<details class="ekb-fig-text"><summary>The counts, as text</summary><ul>{items}</ul></details>')


def _prisma_lines(flow: Flow) -> list[str]:
    excl = ", ".join(f"{REASON_LABELS[r].lower()} {n}" for r, n in flow.excluded) or "none"
    return [f"Records identified: {flow.identified}", f"Duplicates removed: {flow.duplicates}",
            f"Records screened: {flow.screened}" + (f" ({flow.unscreened} not yet screened)" if flow.unscreened else ""),
            f"Records excluded: {flow.excluded_total} ({excl})", f"Studies included: {flow.included}"]


def _prisma_text(flow: Flow, searched: str) -> str:
    return "; ".join(_prisma_lines(flow)) + (f"; searched to {searched}." if searched else ".")


@dataclass(frozen=True)
class ForestRow:
    label: str
    href: str
    estimate: float
    low: float
    high: float
    n: int | None = None


@dataclass(frozen=True)
class Pooled:
    estimate: float
    low: float
    high: float
    method: str
    i2: float | None = None


_RATIO = {"risk-ratio", "odds-ratio", "hazard-ratio"}


def pool(rows: Sequence[ForestRow], measure: str) -> Pooled | None:
    """A random-effects (DerSimonian–Laird) pooled estimate, with statsmodels; None when
    it is not installed or fewer than two studies report an interval."""
    if len(rows) < 2:
        return None
    try:
        import numpy as np
        from statsmodels.stats.meta_analysis import combine_effects
    except ImportError:
        return None
    log = measure in _RATIO
    if log and any(v <= 0 for r in rows for v in (r.estimate, r.low, r.high)):
        return None
    f = (lambda v: math.log(v)) if log else (lambda v: v)
    eff = np.array([f(r.estimate) for r in rows])
    se = np.array([(f(r.high) - f(r.low)) / (2 * 1.959964) for r in rows])
    if (se <= 0).any():
        return None
    with np.errstate(all="ignore"):
        res = combine_effects(eff, se ** 2, method_re="dl")
        ci = res.conf_int(alpha=0.05)  # (fixed, random, fixed WLS, random WLS), each (low, high)
        if not res.tau2 > 1e-12:  # no heterogeneity: the random-effects model is the fixed one
            est, (lo, hi), i2 = float(res.mean_effect_fe), (float(v) for v in ci[0]), 0.0
        else:
            est, (lo, hi) = float(res.mean_effect_re), (float(v) for v in ci[1])
            i2 = max(0.0, float(res.i2) * 100)
    if not all(math.isfinite(v) for v in (est, lo, hi)):
        return None
    back = (lambda v: math.exp(v)) if log else (lambda v: v)
    return Pooled(back(est), back(lo), back(hi), "random-effects model (DerSimonian–Laird)", i2)


def _fmt(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".") if abs(v) < 100 else f"{v:.0f}"


def forest(rows: Sequence[ForestRow], measure: str, unit: str, title: str,
           mcid: float | None = None, pooled: Pooled | None = None) -> Markup:
    """A forest plot: estimates and intervals, the line of no effect, the minimal important
    difference when known, and a pooled diamond when given; with a table of the numbers."""
    fid = _id("ekb-forest", title)
    log = measure in _RATIO
    null = 1.0 if log else 0.0
    values = [v for r in rows for v in (r.low, r.high)] + [null]
    if pooled:
        values += [pooled.low, pooled.high]
    if mcid is not None and not log:
        values += [mcid, -mcid]
    tr = (lambda v: math.log(v)) if log else (lambda v: v)
    lo, hi = min(tr(v) for v in values), max(tr(v) for v in values)
    pad = (hi - lo) * 0.08 or 1.0
    lo, hi = lo - pad, hi + pad
    x0, x1 = 230, 600

    def x(v: float) -> float:
        return x0 + (tr(v) - lo) / (hi - lo) * (x1 - x0)

    row_h = 26
    n_rows = len(rows) + (1 if pooled else 0)
    height = 40 + row_h * n_rows + 40
    svg = [f'<svg class="ekb-fig ekb-forest-svg" viewBox="0 0 640 {height}" role="img" '
           f'aria-labelledby="{fid}-t" xmlns="http://www.w3.org/2000/svg">',
           f'<title id="{fid}-t">{escape(title)}</title>']
    top, bottom = 20, 30 + row_h * n_rows
    svg.append(f'<line class="ekb-fig-null" x1="{x(null):.1f}" y1="{top}" x2="{x(null):.1f}" y2="{bottom}"/>')
    if mcid is not None and not log:
        for m in (mcid, -mcid):
            svg.append(f'<line class="ekb-fig-mcid" x1="{x(m):.1f}" y1="{top}" x2="{x(m):.1f}" y2="{bottom}"/>')
    for i, r in enumerate(rows):
        y = 40 + row_h * i
        label = escape(r.label)
        svg.append(f'<text x="10" y="{y + 5}">{label}</text>')  # the table below links each study
        svg.append(f'<line class="ekb-fig-ci" x1="{x(r.low):.1f}" y1="{y}" x2="{x(r.high):.1f}" y2="{y}"/>')
        svg.append(f'<rect class="ekb-fig-point" x="{x(r.estimate) - 5:.1f}" y="{y - 5}" width="10" height="10"/>')
    if pooled:
        y = 40 + row_h * len(rows)
        pts = f"{x(pooled.low):.1f},{y} {x(pooled.estimate):.1f},{y - 7} {x(pooled.high):.1f},{y} {x(pooled.estimate):.1f},{y + 7}"
        svg.append(f'<text x="10" y="{y + 5}">Pooled (random effects)</text>')
        svg.append(f'<polygon class="ekb-fig-diamond" points="{pts}"/>')
    axis_y = bottom + 18
    for v in sorted({values[0], null, values[-1]} | ({mcid} if mcid is not None and not log else set())):
        svg.append(f'<text class="ekb-fig-axis" x="{x(v):.1f}" y="{axis_y}" text-anchor="middle">{escape(_fmt(v))}</text>')
    svg.append("</svg>")
    head = ("<tr><th scope=\"col\">Study</th><th scope=\"col\">Estimate</th><th scope=\"col\">95% CI</th>"
            "<th scope=\"col\">n</th></tr>")
    body = "".join(f'<tr><td><a href="{escape(r.href)}">{escape(r.label)}</a></td><td>{escape(_fmt(r.estimate))}</td>'
                   f"<td>{escape(_fmt(r.low))} to {escape(_fmt(r.high))}</td><td>{r.n if r.n else '—'}</td></tr>"
                   for r in rows)
    if pooled:
        het = f"; I² {pooled.i2:.0f}%" if pooled.i2 is not None else ""
        body += (f"<tr><td>Pooled, {escape(pooled.method)}{escape(het)}</td><td>{escape(_fmt(pooled.estimate))}</td>"
                 f"<td>{escape(_fmt(pooled.low))} to {escape(_fmt(pooled.high))}</td><td>—</td></tr>")
    notes = [f"Measure: {measure.replace('-', ' ')}" + (f" ({unit})" if unit else "") + "."]
    notes.append("The solid line marks no effect" + (f"; dashed lines mark the minimal important difference (±{_fmt(mcid)})"
                                                      if mcid is not None and not log else "") + ".")
    notes.append(f"Pooled with a {pooled.method}." if pooled else "Not pooled: shown study by study.")
    return Markup(f'<figure class="ekb-figure ekb-forest">{"".join(svg)}<figcaption>{escape(title)}. '
                  f'{escape(" ".join(notes))}</figcaption><div class="ekb-fig-table"><table>'
                  f"<caption>{escape(title)}: the numbers</caption><thead>{head}</thead><tbody>{body}</tbody>"
                  f"</table></div></figure>")


_BAR = {"supports": "ekb-bar--for", "contradicts": "ekb-bar--against", "mixed": "ekb-bar--mixed"}


def bars(rows: Sequence[tuple[str, str, dict[str, int]]], title: str) -> Markup:
    """Horizontal bars of studies for, against and mixed, one per claim, labelled by title.

    ``rows``: (label, href, counts by stance)."""
    fid = _id("ekb-bars", title)
    row_h = 30
    scale = 16
    width = 640
    height = 20 + row_h * len(rows) + 30
    svg = [f'<svg class="ekb-fig ekb-bars-svg" viewBox="0 0 {width} {height}" role="img" aria-labelledby="{fid}-t" '
           'xmlns="http://www.w3.org/2000/svg">', f'<title id="{fid}-t">{escape(title)}</title>']
    for i, (label, _href, counts) in enumerate(rows):
        y = 10 + row_h * i
        short = label if len(label) <= 44 else label[:43] + "…"
        svg.append(f'<text x="0" y="{y + 17}">{escape(short)}</text>')  # a picture: the table links the claims
        bx = 330
        for stance, cls in _BAR.items():
            n = counts.get(stance, 0)
            if n:
                w = min(n * scale, width - bx)
                svg.append(f'<rect class="{cls}" x="{bx}" y="{y + 4}" width="{w}" height="18"><title>'
                           f"{escape(label)}: {n} {stance}</title></rect>")
                svg.append(f'<text class="ekb-bar-n" x="{bx + 4}" y="{y + 17}">{n}</text>')
                bx += w
    ly = height - 10
    for i, (stance, cls) in enumerate(_BAR.items()):
        lx = 330 + 100 * i
        svg.append(f'<rect class="{cls}" x="{lx}" y="{ly - 11}" width="12" height="12"/>')
        svg.append(f'<text x="{lx + 16}" y="{ly}">{ {"supports": "For", "contradicts": "Against", "mixed": "Mixed"}[stance]}</text>')
    svg.append("</svg>")
    return Markup("".join(svg))
