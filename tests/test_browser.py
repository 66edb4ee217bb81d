"""The site in a real browser (headless Chromium): content, tooltips, search, no outside hosts,
accessibility (axe-core) in both palettes, and internal links (linkchecker)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
from conftest import ARGS, CHROMIUM, ROOT, need  # noqa: F401 (browser fixture in conftest)

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture(scope="module")
def first_claim(built_site: Path) -> dict[str, str]:
    data = json.loads((built_site / "claims.json").read_text(encoding="utf-8"))
    claim = data["claims"][0]
    return {"slug": claim["slug"], "claim": claim["claim"], "ref": claim["evidence"][0]["ref"]}


def _pages(first_claim: dict[str, str]) -> dict[str, tuple[str, str]]:
    """name -> (path, text that must be visible)."""
    return {
        "home": ("", "IT band"),
        "claim": (f"claims/{first_claim['slug']}/", "Verdict:"),
        "reference": (f"references/{first_claim['ref']}/", "Cited by"),
        "evidence-map": ("evidence-map/", "Evidence map"),
        "article": ("article/", "WHAT THE IT BAND ACTUALLY IS"),
    }


def _open(browser, url: str, dark: bool = False, width: int = 1280, wait: str = "load"):  # type: ignore[no-untyped-def]
    """A new page at ``url``, once it has loaded (its scripts have run); ``wait="networkidle"``
    also waits for the requests that scripts make after it, at half a second a page."""
    context = browser.new_context(color_scheme="dark" if dark else "light",
                                  viewport={"width": width, "height": 900 if width > 600 else 844})
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(url, wait_until=wait)  # type: ignore[arg-type]
    return context, page, requests


@pytest.mark.parametrize("name", ["home", "claim", "reference", "evidence-map", "article"])
def test_page_shows_key_content_and_loads_nothing_from_outside(browser, served_site: str, first_claim, name: str) -> None:  # type: ignore[no-untyped-def]
    path, text = _pages(first_claim)[name]
    context, page, requests = _open(browser, served_site + path, wait="networkidle")  # every request made
    try:
        assert any(m.is_visible() for m in page.locator("article").get_by_text(text, exact=False).all())
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        hosts = {urlparse(u).hostname for u in requests if urlparse(u).scheme in ("http", "https")}
        assert hosts == {"127.0.0.1"}, requests
    finally:
        context.close()


def test_hovering_a_citation_shows_its_reference(browser, served_site: str, first_claim) -> None:  # type: ignore[no-untyped-def]
    context, page, _ = _open(browser, served_site + f"claims/{first_claim['slug']}/")
    try:
        link = page.locator("a.citation-link").first
        expected = link.get_attribute("data-md-tooltip-title") or link.get_attribute("title") or ""
        link.hover()
        tip = page.locator(".md-tooltip2, .md-tooltip, [role=tooltip]").filter(has_text=expected[:30])
        tip.first.wait_for(state="visible", timeout=5000)
        assert len(expected) > 40  # a full reference, not just a number
    finally:
        context.close()


def test_search_finds_a_claim_from_a_word_of_its_text(browser, served_site: str) -> None:  # type: ignore[no-untyped-def]
    context, page, _ = _open(browser, served_site)
    try:
        box = page.locator("input.md-search__input")
        box.click()
        # Wait for the search worker to load its index, then type as a person would.
        page.locator(".md-search-result__meta").filter(has_text="Type to start searching").wait_for(timeout=15000)
        box.press_sequentially("condyle", delay=40)
        results = page.locator(".md-search-result__item")
        results.first.wait_for(state="visible", timeout=10000)
        texts = [results.nth(i).inner_text().lower() for i in range(results.count())]
        assert any("condyle" in t for t in texts), texts
        links = [results.nth(i).locator("a").first.get_attribute("href") or "" for i in range(results.count())]
        assert any("claims/" in h for h in links), links
    finally:
        context.close()


@pytest.mark.parametrize(("query", "slug_word"), [("foam rolling", "foam"), ("gluteus medius", "gluteus")])
def test_search_for_a_claims_topic_returns_the_claim_first(browser, served_site: str, query: str, slug_word: str) -> None:  # type: ignore[no-untyped-def]
    """Claim pages rank first for their topics, above the reference pages whose abstracts and
    titles share the words."""
    context, page, _ = _open(browser, served_site)
    try:
        box = page.locator("input.md-search__input")
        box.click()
        page.locator(".md-search-result__meta").filter(has_text="Type to start searching").wait_for(timeout=15000)
        box.press_sequentially(query, delay=40)
        results = page.locator(".md-search-result__item")
        results.first.wait_for(state="visible", timeout=10000)
        first = results.first.locator("a").first.get_attribute("href") or ""
        assert "/claims/" in first and slug_word in first, first
    finally:
        context.close()


def _axe(page) -> list[dict]:  # type: ignore[no-untyped-def]
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("name", ["home", "claim", "reference", "evidence-map", "article"])
def test_no_serious_accessibility_violations(browser, served_site: str, first_claim, name: str, dark: bool) -> None:  # type: ignore[no-untyped-def]
    path, _ = _pages(first_claim)[name]
    context, page, _ = _open(browser, served_site + path, dark=dark)
    try:
        bad = _axe(page)
        assert bad == [], [(v["id"], [n["target"] for n in v["nodes"]][:5]) for v in bad]
    finally:
        context.close()


def test_axe_catches_a_missing_alt_text(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context()
    page = context.new_page()
    try:
        page.set_content('<html lang="en"><head><title>t</title></head><body><main><img src="data:image/png;base64,'
                         'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=">'
                         "</main></body></html>")
        assert "image-alt" in {v["id"] for v in _axe(page)}
    finally:
        context.close()


def _linkchecker(url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("linkchecker") or str(Path(sys.executable).with_name("linkchecker"))
    need(Path(exe).exists(), "linkchecker is not installed (pip install -e '.[test]')")
    rc = tmp_path / "linkcheckerrc"
    rc.write_text("[filtering]\nignore=\n  ^mailto:\n[AnchorCheck]\n", encoding="utf-8")
    return subprocess.run([exe, "--config", str(rc), "--no-status", "--no-warnings", "-r", "4", url],
                          capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_linkchecker_finds_no_broken_link_in_a_sample_site(tmp_path: Path) -> None:
    """LinkChecker, crawling a small built site over HTTP (the whole real site is checked
    statically, and much faster, in test_site.py)."""
    from conftest import ROOTS, build_site, serve

    site, _ = build_site(ROOTS / "claims", tmp_path)
    base, server = serve(site)
    try:
        proc = _linkchecker(base, tmp_path)
        assert proc.returncode == 0, proc.stdout[-4000:]
    finally:
        server.shutdown()


def test_linkchecker_catches_a_broken_link(tmp_path: Path) -> None:
    import functools
    import http.server
    import threading

    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text(
        '<html><body><a href="missing.html">x</a> <a href="#nowhere">y</a></body></html>', encoding="utf-8")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "site")))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        proc = _linkchecker(f"http://127.0.0.1:{server.server_address[1]}/", tmp_path)
        assert proc.returncode != 0 and "missing.html" in proc.stdout
    finally:
        server.shutdown()


@pytest.mark.slow
def test_claim_page_prints_as_a_one_page_client_handout(browser, served_site: str, built_site: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Every claim page prints its handout alone, on exactly one page of A4 and of Letter: the
    site, the claim, its bottom line, verdict, certainty, the words for clients, key references,
    review date, public address with a QR code, and the not-medical-advice line; nothing for
    therapists or screens."""
    from conftest import PUBLIC_URL
    from pypdf import PdfReader

    from evidencekb.pages import CERTAINTY_LABELS, NOT_ADVICE, VERDICT_LABELS

    claims = json.loads((built_site / "claims.json").read_text(encoding="utf-8"))["claims"]
    context, page, _ = _open(browser, "about:blank")
    try:
        for claim in claims:
            page.emulate_media(media="screen")
            page.goto(served_site + f"claims/{claim['slug']}/", wait_until="load")
            assert page.locator("[data-ekb-print]").is_visible()  # the print button, on screen
            assert not page.locator(".ekb-handout").is_visible()  # the handout is for paper only
            page.emulate_media(media="print")
            assert page.locator(".ekb-handout svg.ekb-qr").is_visible()
            refs = page.locator(".ekb-handout-refs li").count()
            assert 1 <= refs <= 3, claim["slug"]
            for paper in ("A4", "Letter"):
                pdf = tmp_path / f"{claim['slug']}-{paper}.pdf"
                page.pdf(path=str(pdf), format=paper, print_background=True)
                reader = PdfReader(str(pdf))
                flat = " ".join(" ".join((p.extract_text() or "") for p in reader.pages).split())
                assert len(reader.pages) == 1, (claim["slug"], paper, len(reader.pages))
                required = ["IT Band Evidence", VERDICT_LABELS[claim["verdict"]], CERTAINTY_LABELS[claim["certainty"]],
                            "For clients", "Key research", claim["reviewed"], " ".join(NOT_ADVICE.split()[:6])]
                for part in required:
                    assert part in flat, (claim["slug"], paper, part)
                assert " ".join(claim["bottom_line"].split()[:6]) in flat, claim["slug"]
                assert f"{PUBLIC_URL}claims/{claim['slug']}/" in flat.replace(" ", ""), claim["slug"]
                for excluded in ("What it means in practice", "How this was judged", "The evidence", "Table of contents",
                                 "Search", "Cite this page", "Print a one-page handout", "Discussion"):
                    assert excluded not in flat, (claim["slug"], paper, excluded)
                if claim["slug"] == claims[0]["slug"]:
                    ARTIFACTS.mkdir(parents=True, exist_ok=True)
                    (ARTIFACTS / f"handout-{paper}.pdf").write_bytes(pdf.read_bytes())
    finally:
        context.close()


# What pokes out of the content column, unless it sits in something that scrolls sideways.
_OVERFLOW = """() => {
  const col = document.querySelector('article.md-content__inner').getBoundingClientRect();
  const out = [];
  for (const el of document.querySelectorAll('article.md-content__inner *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= col.right + 1) continue;
    // The theme's own scrollers (tab strip, table wrapper) reach into the column's padding by design.
    if (el.closest('.tabbed-labels, .tabbed-control, .md-typeset__scrollwrap')) continue;
    let scroller = false;
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if ((o === 'auto' || o === 'scroll') && p.getBoundingClientRect().right <= col.right + 1) { scroller = true; break; }
    }
    if (!scroller) out.push(el.tagName + '.' + el.className + ' ' + Math.round(r.right - col.right) + 'px');
  }
  return out.slice(0, 5);
}"""


@pytest.fixture(scope="module")
def forest_site(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from conftest import ROOTS, build_site, serve

    site, _ = build_site(ROOTS / "forest", tmp_path_factory.mktemp("forest"))
    base, server = serve(site)
    yield base
    server.shutdown()


@pytest.mark.parametrize("width", [1280, 390])
def test_evidence_pages_fit_the_column(browser, served_site: str, forest_site: str, width: int) -> None:  # type: ignore[no-untyped-def]
    """Summary-of-findings tables, evidence tables, forest plots and flow diagrams stay inside the
    content column at desktop and phone widths (tables scroll inside it if they must)."""
    urls = [served_site + p for p in ("", "article/", "claims/weak-gluteus-medius-causes-itbs/", "claims/itb-is-fascia/",
                                      "searches/", "evidence-map/", "references/grau2008/", "claims/",
                                      "bibliography/")]
    urls.append(forest_site + "claims/band-stretch/")
    context, page, _ = _open(browser, "about:blank", width=width)
    try:
        for url in urls:
            page.goto(url, wait_until="load")
            assert page.evaluate(_OVERFLOW) == [], url
            if width == 1280:  # at desktop width nothing needs scrolling sideways to be seen
                hidden = page.evaluate("""() => [...document.querySelectorAll('.ekb-map, .ekb-evidence')]
                    .filter(t => t.scrollWidth > t.clientWidth + 1).map(t => t.className)""")
                assert hidden == [], (url, hidden)
            if "band-stretch" in url:
                assert page.locator(".ekb-forest-svg").is_visible() and page.locator(".ekb-prisma-svg").is_visible()
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            name = urlparse(url).path.strip("/").rsplit("/", 1)[-1] or "home"
            page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
    finally:
        context.close()


def test_the_overflow_check_finds_a_wide_element(browser, served_site: str) -> None:  # type: ignore[no-untyped-def]
    context, page, _ = _open(browser, served_site + "claims/", width=390)
    try:
        page.evaluate("document.querySelector('article.md-content__inner p').style.width = '2000px'")
        assert page.evaluate(_OVERFLOW) != []
    finally:
        context.close()


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_forest_and_flow_figures_pass_axe(browser, forest_site: str, dark: bool) -> None:  # type: ignore[no-untyped-def]
    context, page, _ = _open(browser, forest_site + "claims/band-stretch/", dark=dark)
    try:
        bad = _axe(page)
        assert bad == [], [(v["id"], [n["target"] for n in v["nodes"]][:5]) for v in bad]
    finally:
        context.close()
