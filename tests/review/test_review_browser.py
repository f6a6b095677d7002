"""The review page in Debian's Chromium (Playwright): filter, reject, restore, edit, then a run
applies exactly those changes; provenance click-through; keyboard; no console errors; `<script>`
text in a record runs nothing. Screenshots go to the test's tmp folder."""

from __future__ import annotations

import json

import pytest

from tests.conftest import cli
from tests.headless import chromium_missing
from tests.review.conftest import make_run, needs_server

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = [needs_server, pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing()))]

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        yield b
        b.close()


def open_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("dialog", lambda d: d.accept())  # the bulk confirmation
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(url.split("?")[0].rstrip("/"))
            and not r.url.startswith("data:") else None)
    page.goto(url)
    page.wait_for_selector("nav .stage")
    return page, problems, outside


def search(page, text: str) -> None:
    page.fill("#q", text)
    page.press("#q", "Enter")
    page.wait_for_function("t => !document.body.dataset.busy && "
                           "document.querySelector('#detail').textContent.toLowerCase().includes(t)",
                           arg=text.lower())


def test_review_in_the_browser_then_run_applies_exactly_those_changes(tmp_path, serve, browser):
    recipe, run = make_run(tmp_path / "p")
    cli("run", str(recipe), "--out", str(run), check=True)
    before = [json.loads(x)["messages"] for x in (run / "export/dataset/train.jsonl").read_text().splitlines()]
    server = serve(run, "--reviewer", "ann")
    page, problems, outside = open_page(browser, server.url)
    shots = tmp_path / "shots"
    shots.mkdir()

    page.click("nav .stage[data-stage=filter]")
    page.click("button.kind[data-kind=rejected]")
    page.wait_for_selector("#facet-reason")
    page.select_option("#facet-reason", "response_too_short")
    page.wait_for_function("() => document.querySelector('#count').textContent === '1–1 of 1'")
    assert "Katze." in page.inner_text("#detail") and "1 words < 3" in page.inner_text("#detail .why")
    page.screenshot(path=str(shots / "rejected-filtered.png"), full_page=True)
    page.click("#do-accept")  # restore
    page.wait_for_selector("#list li .badge.accept")

    page.click("button.kind[data-kind=kept]")
    search(page, "primary colours")
    page.fill("#reason", "too obvious")
    page.click("#do-reject")
    page.wait_for_selector("#list li .badge.reject")

    search(page, "capital of France")
    page.keyboard.press("e")  # keyboard shortcut: edit
    page.fill("textarea[data-turn='1']", "Paris, on the Seine.")
    page.screenshot(path=str(shots / "editing.png"), full_page=True)
    page.click("#save-edit")
    page.wait_for_selector("#list li .badge.edit")

    search(page, "pwned")
    detail = page.inner_text("#detail")
    assert "<script>window.__pwned = 1</script>" in detail
    assert page.evaluate("() => window.__pwned === undefined && document.querySelectorAll('#detail script').length === 0")
    page.screenshot(path=str(shots / "script-record.png"), full_page=True)

    page.click("#clear")
    page.wait_for_function("() => document.querySelector('#count').textContent === '1–7 of 7'")
    page.keyboard.press("j")
    page.keyboard.press("k")
    page.keyboard.press("j")
    assert page.eval_on_selector("#list li.on", "li => [...li.parentNode.children].indexOf(li)") == 1
    page.click("#show-agreement")
    page.wait_for_selector("#agreement table")
    page.screenshot(path=str(shots / "page.png"), full_page=True)

    decisions = [json.loads(x) for x in (run / "reviews/filter.jsonl").read_text().splitlines()]
    assert [(d["action"], d["reviewer"]) for d in decisions] == [("accept", "ann"), ("reject", "ann"), ("edit", "ann")]
    assert decisions[1]["reason"] == "too obvious"

    proc = cli("run", str(recipe), "--out", str(run), check=True)
    assert "[filter] done, skipped" in proc.stderr
    after = [json.loads(x)["messages"] for x in (run / "export/dataset/train.jsonl").read_text().splitlines()]
    edited = [{"role": "user", "content": "What is the capital of France?"},
              {"role": "assistant", "content": "Paris, on the Seine."}]
    expected = [edited if m[0]["content"] == "What is the capital of France?" else m
                for m in before if m[0]["content"] != "Name three primary colours."]
    expected.append([{"role": "user", "content": "Translate 'cat' to German."}, {"role": "assistant", "content": "Katze."}])
    assert after == expected

    # provenance: the edited record in the review stage links to its parent in the filter stage
    page.reload()
    page.wait_for_selector("nav .stage[data-stage=review]")
    page.click("nav .stage[data-stage=review]")
    search(page, "capital of France")
    page.click("#detail a.parent")
    page.wait_for_selector("nav .stage.on[data-stage=filter]")
    page.wait_for_function("() => document.querySelector('#detail').textContent.includes('Paris is the capital of France.')")
    page.screenshot(path=str(shots / "parent.png"), full_page=True)
    assert problems == []
    assert outside == []


def test_add_a_system_message_and_bulk_flag_from_the_page(tmp_path, serve, browser):
    _, run = make_run(tmp_path / "p")
    before = {p for p in (tmp_path / "p").rglob("*") if run not in p.parents}
    server = serve(run, "--stage", "filter", "--reviewer", "bob")
    page, problems, outside = open_page(browser, server.url)
    page.wait_for_selector("nav .stage.on[data-stage=filter]")
    search(page, "sky blue")
    page.click("#do-edit")
    page.click("#add-system")
    page.fill("textarea[data-turn='0']", "You are a physics teacher.")
    page.click("#save-edit")
    page.wait_for_selector("#detail .edited")
    assert "You are a physics teacher." in page.inner_text("#detail .edited")
    page.click("#clear")
    page.select_option("#facet-source", "src_b")
    page.wait_for_function("() => !document.body.dataset.busy && document.querySelector('#count').textContent.endsWith('of 4')")
    page.select_option("#bulk-action", "flag")
    page.click("#bulk-apply")
    page.wait_for_function("() => document.querySelectorAll('#list li .badge.flag').length === 4")
    lines = [json.loads(x) for x in (run / "reviews" / "filter.jsonl").read_text().splitlines()]
    assert lines[0]["messages"][0] == {"role": "system", "content": "You are a physics teacher."}
    assert [x["action"] for x in lines[1:]] == ["flag"] * 4 and {x["reviewer"] for x in lines} == {"bob"}
    assert problems == [] and outside == []
    after = {p for p in (tmp_path / "p").rglob("*") if run not in p.parents}
    assert after == before  # the server wrote only under the run folder
