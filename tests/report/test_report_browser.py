"""The report in a real headless Chromium: no console error, no network request, every section
drawn, readable on a phone, screenshots taken (left in the test's tmp directory)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cdp_browser import Browser, chromium_path

from c2m_cli.report import run_report

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed (make browser)"),
]

SECTIONS_JS = """JSON.stringify([...document.querySelectorAll('section[data-section]')].map(s => ({
  id: s.id,
  height: s.getBoundingClientRect().height,
  charts: [...s.querySelectorAll('svg.chart')].map(c => Math.round(c.getBoundingClientRect().width)),
  missing: s.querySelectorAll('.missing').length,
})))"""


@pytest.fixture
def browser(tmp_path: Path):
    pytest.importorskip("websockets")
    driver = Browser(tmp_path / "profile")
    yield driver
    driver.close()


def test_report_opens_cleanly_and_every_section_renders(zh_world, browser, tmp_path):
    run_report(zh_world)
    page = zh_world.root / "report.html"
    url = page.as_uri()
    seconds = browser.open(url)
    assert seconds < 10
    assert browser.problems() == []
    assert browser.requests() == [url]  # the page itself, nothing else
    drawn = json.loads(browser.evaluate(SECTIONS_JS))
    assert [s["id"] for s in drawn] == [
        "overview", "consumers", "segments", "demand", "opportunities", "quantities", "audiences", "bundles", "scorecard",
    ]
    for section in drawn:
        assert section["height"] > 60, section
        assert section["missing"] == 0, section
        assert all(width > 200 for width in section["charts"]), section
    charts_per_section = {s["id"]: len(s["charts"]) for s in drawn}
    # overview trend; coverage, lifecycle, value; value share; 3 forecasts + festivals; trend + prices; audiences
    assert charts_per_section == {
        "overview": 1, "consumers": 3, "segments": 1, "demand": 4, "opportunities": 2,
        "quantities": 0, "audiences": 1, "bundles": 0, "scorecard": 0,
    }
    # the review with a <script> is shown as text, and nothing ran
    assert browser.evaluate("document.querySelectorAll('script').length") == 0
    assert "<script>alert('x')</script>键盘声音太吵了" in browser.evaluate("document.body.innerText")
    shot = tmp_path / "report-desktop.png"
    assert browser.screenshot(shot) > 20_000
    print(f"screenshot: {shot}")


def test_report_fits_a_phone_screen(zh_world, browser, tmp_path):
    run_report(zh_world)
    browser.open((zh_world.root / "report.html").as_uri(), width=390, height=844, mobile=True)
    assert browser.problems() == []
    # wide tables scroll inside their own box; the page itself never scrolls sideways
    assert browser.evaluate("document.documentElement.scrollWidth") <= 390
    assert browser.screenshot(tmp_path / "report-phone.png") > 10_000


def test_the_driver_sees_requests_and_errors(browser, tmp_path):
    """The checks above can fail: a page that fetches and throws is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<html><body><img src="http://127.0.0.1:9/pixel.png"><script>undefinedFunction()</script></body></html>',
        encoding="utf-8",
    )
    browser.open(bad.as_uri())
    assert "http://127.0.0.1:9/pixel.png" in browser.requests()
    assert any("undefinedFunction" in p or "exception" in p for p in browser.problems())
