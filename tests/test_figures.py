"""Figures drawn at build time: PRISMA flow, forest plots with random-effects pooling, evidence bars."""

from __future__ import annotations

import math

import pytest

from evidencekb import figures
from evidencekb.screening import Flow

ROWS = [figures.ForestRow("Trialist (2021)", "../a/", -12, -20, -4, 40),
        figures.ForestRow("Tester (2022)", "../b/", -6, -11, -1, 60)]


def _dersimonian_laird(effects: list[float], ses: list[float]) -> tuple[float, float, float]:
    w = [1 / s**2 for s in ses]
    fixed = sum(wi * e for wi, e in zip(w, effects)) / sum(w)
    q = sum(wi * (e - fixed) ** 2 for wi, e in zip(w, effects))
    c = sum(w) - sum(wi**2 for wi in w) / sum(w)
    tau2 = max(0.0, (q - (len(effects) - 1)) / c)
    wr = [1 / (s**2 + tau2) for s in ses]
    est = sum(wi * e for wi, e in zip(wr, effects)) / sum(wr)
    se = math.sqrt(1 / sum(wr))
    return est, est - 1.959964 * se, est + 1.959964 * se


def _need_statsmodels() -> None:
    """Skip where the stats extra is not installed; in CI, which installs it, fail."""
    import importlib.util

    from conftest import need

    need(importlib.util.find_spec("statsmodels") is not None, "statsmodels (pip install -e '.[stats]') pools effects")


def test_pooled_estimate_is_dersimonian_laird() -> None:
    _need_statsmodels()
    pooled = figures.pool(ROWS, "mean-difference")
    assert pooled is not None
    ses = [(r.high - r.low) / (2 * 1.959964) for r in ROWS]
    est, lo, hi = _dersimonian_laird([r.estimate for r in ROWS], ses)
    assert (pooled.estimate, pooled.low, pooled.high) == pytest.approx((est, lo, hi), abs=1e-6)
    assert pooled.i2 == pytest.approx(35.7, abs=0.5)


def test_ratios_are_pooled_on_the_log_scale() -> None:
    _need_statsmodels()
    rows = [figures.ForestRow("A", "#", 0.5, 0.25, 1.0), figures.ForestRow("B", "#", 0.5, 0.3, 0.833)]
    pooled = figures.pool(rows, "risk-ratio")
    assert pooled is not None and pooled.estimate == pytest.approx(0.5, rel=1e-3)
    assert pooled.low < 0.5 < pooled.high


def test_one_study_or_no_interval_is_not_pooled() -> None:
    assert figures.pool(ROWS[:1], "mean-difference") is None
    flat = [figures.ForestRow("A", "#", 1, 1, 1), figures.ForestRow("B", "#", 2, 2, 2)]
    assert figures.pool(flat, "mean-difference") is None


def test_forest_plot_draws_no_effect_line_mcid_and_a_table() -> None:
    html = str(figures.forest(ROWS, "mean-difference", "mm", "Pain <b>", mcid=10, pooled=None))
    assert html.count('class="ekb-fig-mcid"') == 2 and 'class="ekb-fig-null"' in html
    assert "<title" in html and "Pain &lt;b&gt;" in html and "<b>" not in html
    assert '<a href="../a/">Trialist (2021)</a>' in html and "-20 to -4" in html
    assert "Not pooled: shown study by study." in html and "ekb-fig-diamond" not in html
    assert "<a" not in html.split("<svg", 1)[1].split("</svg>", 1)[0]  # no links inside the picture


def test_prisma_counts_and_text_equivalent() -> None:
    flow = Flow(12, 2, 9, (("wrong-population", 4), ("not-retrievable", 2)), 3, 1)
    html = str(figures.prisma(flow, "Flow", "2026-12-01"))
    assert "Records identified by searches: 12" in html and "Records excluded: 6" in html
    assert "<li>Records excluded: 6 (wrong population 4, not retrievable or not verifiable 2)</li>" in html
    assert "<summary>The counts, as text</summary>" in html
    assert "searched to 2026-12-01" in html and 'role="img"' in html and "<desc" in html


def test_bars_label_claims_and_escape() -> None:
    html = str(figures.bars([("A <claim>", "x/", {"supports": 2, "contradicts": 1})], "Bars"))
    assert "A &lt;claim&gt;" in html and html.count("ekb-bar--for") >= 2 and "<a" not in html
