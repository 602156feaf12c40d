"""The whole page in a real headless Chromium (Debian's package, driven by Playwright):
upload the clip, Generate, watch the text grow, Stop, switch the language, screenshot."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
BBB = ROOT / "assets" / "bigbuckbunny.mp4"
CHROMIUM = os.environ.get("CAPTIONER_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]

pytestmark = pytest.mark.browser


def _require_browser():
    missing = not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = True
    if missing:
        if os.environ.get("CI"):
            pytest.fail("CI must have Debian's chromium and playwright (.ci/run installs them)")
        pytest.skip("needs Debian's chromium (apt-get install chromium) and playwright")


@pytest.fixture(scope="module")
def output_dir() -> Path:
    folder = Path(os.environ.get("CAPTIONER_TEST_OUTPUT", ROOT / "test-output"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def page(tiny_vl, tmp_path_factory):
    _require_browser()
    from appserver import running_app
    from playwright.sync_api import sync_playwright

    with running_app(tiny_vl, tmp_path_factory.mktemp("uploads")) as (url, _):
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            context = browser.new_context(locale="ko-KR", viewport={"width": 1400, "height": 1100})
            page = context.new_page()
            page.set_default_timeout(60_000)
            page.goto(url)
            page.locator("#generate").wait_for()
            yield page
            browser.close()


def _text(page, elem_id: str) -> str:
    """The rendered Markdown of a component (not the progress overlay around it)."""
    return page.locator(f"#{elem_id} span.md").inner_text().strip()


def _answer_text(page) -> str:
    return _text(page, "answer")


def test_full_flow_in_chromium(page, output_dir):
    page.locator("#video input[type=file]").set_input_files(str(BBB))
    page.locator("#video video").wait_for()  # uploaded and shown in the player
    page.locator("#generate").click()
    page.wait_for_function(
        "(document.querySelector('#answer span.md')?.innerText || '').trim().length > 0"
    )
    first = _answer_text(page)
    time.sleep(1.5)
    later = _answer_text(page)
    assert len(later) > len(first), "the answer should grow while streaming"
    page.locator("#stop").click()
    stopped = time.perf_counter()
    page.wait_for_function("document.querySelector('#status span.md').innerText.includes('중지됨')")
    assert time.perf_counter() - stopped < 5
    page.wait_for_function("document.querySelector('#metrics span.md').innerText.includes('토큰')")
    after_stop = _answer_text(page)
    time.sleep(1.0)
    assert _answer_text(page) == after_stop, "nothing streams after Stop"

    page.locator("#language").get_by_text("English").click()
    page.wait_for_function("document.querySelector('#generate').innerText.includes('Generate')")
    assert "Stop" in page.locator("#stop").inner_text()
    page.wait_for_function(
        "document.querySelector('#active span.md').innerText.startsWith('Active')"
    )
    shot = output_dir / "browser-flow.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"\nscreenshot: {shot}")
    assert shot.stat().st_size > 10_000


def test_review_tab_rates_and_exports(page, output_dir):
    """Runs from the caption tab are in the log: open one, rate it, export the list."""
    page.get_by_role("tab", name=re.compile("^(리뷰|Review)$")).click()
    page.locator("#review_refresh").click()
    first_cell = page.locator('#runs_table [data-testid="cell-0-0"]')
    first_cell.wait_for()
    first_cell.click()
    run_input = page.locator("#run_id input")
    page.wait_for_function("!['', '0'].includes(document.querySelector('#run_id input').value)")
    run_id = run_input.input_value()
    assert int(run_id) >= 1
    page.locator("#open_run").click()
    page.wait_for_function(
        "document.querySelector('#run_detail span.md').innerText.includes('Precision') || document.querySelector('#run_detail span.md').innerText.includes('정밀도')"
    )
    page.locator("#score").get_by_text("5").click()
    page.locator("#rate").click()
    page.wait_for_function("document.querySelector('#review_msg span.md').innerText.includes('★5')")
    page.locator("#export").click()
    page.locator("#export_file a, #export_file [download]").first.wait_for()
    shot = output_dir / "browser-review.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"\nscreenshot: {shot}")
