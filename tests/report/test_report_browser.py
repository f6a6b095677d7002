"""The report page in headless Chromium: it renders (screenshot), logs no console error, and
hostile record text stays text: no script runs, no element is injected."""

from __future__ import annotations

from tests.headless import Browser, skip_without_chromium
from tests.report.conftest import XSS

pytestmark = skip_without_chromium()

OPEN_ALL = "document.querySelectorAll('details').forEach(d => d.open = true); true"


def test_quickstart_report_renders_without_console_errors(quickstart_run, quickstart_html, tmp_path):
    with Browser() as browser:
        browser.open((quickstart_run / "report.html").resolve().as_uri())
        browser.evaluate(OPEN_ALL)
        shot = browser.screenshot(tmp_path / "quickstart-report.png")
        assert browser.evaluate("document.title") == "Run report: quickstart"
        assert browser.evaluate("document.querySelectorAll('svg.chart').length") >= 9
        assert browser.evaluate("document.querySelectorAll('section').length") == 7
        height = browser.evaluate("document.documentElement.scrollHeight")
        assert browser.problems() == []
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(png[20:24], "big") == height > 3000


def test_script_in_a_record_shows_as_text_and_never_runs(crafted_run, crafted_html, tmp_path):
    with Browser() as browser:
        browser.open((crafted_run / "report.html").resolve().as_uri())
        browser.evaluate(OPEN_ALL)
        browser.screenshot(tmp_path / "crafted-report.png")
        assert browser.evaluate("document.title") == "Run report: crafted"
        assert browser.evaluate("document.scripts.length") == 0
        assert browser.evaluate("document.images.length") == 0
        assert browser.evaluate(f"document.body.innerText.includes({XSS!r})") is True
        assert browser.evaluate("document.body.innerText.includes(\"onerror=\\\"document.title='pwned'\\\"\")")
        assert browser.problems() == []
        assert not [e for e in browser.events if e.get("method") == "Page.javascriptDialogOpening"]
