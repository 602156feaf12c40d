"""The whole page in a real headless Chromium (Debian's package, driven by Playwright).

One app, started as a user starts it, with its run log and review library under the home
directory (outside /tmp and the working directory, where a run log really lives). In order:
upload, Generate, the frames the model saw, the text growing, Stop; a recorded timeline run
opened in the review tab, a timestamp clicked and the player seeking; a rating and the
summary chart; every label walked in English; a 390-pixel phone screen; screenshots of both
tabs in both languages and of the phone (test-output/, or $CAPTIONER_TEST_OUTPUT)."""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
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
HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]")
# Gradio's own "loading" over a component while an event is pending, in the browser's language
# (the test browser's is Korean): there for a moment, not a string of ours
GRADIO_PENDING = {"로딩 중"}
TIMELINE = "0:01-0:02 토끼가 굴에서 나옵니다.\n0:03.5-0:05 나비를 봅니다. <4.2 seconds>"

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
def home_log():
    """A run log where it really lives: under the home directory's cache, not /tmp."""
    folder = Path.home() / ".cache" / f"captioner-browser-test-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    yield folder / "runs.sqlite3"
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def app(tiny_vl, tmp_path_factory, home_log):
    _require_browser()
    from appserver import running_app

    env = {"CAPTIONER_DB": str(home_log), "CAPTIONER_LIBRARY": str(home_log.parent / "videos")}
    with running_app(tiny_vl, tmp_path_factory.mktemp("uploads"), env=env) as (url, _):
        yield url


@pytest.fixture(scope="module")
def browser(app):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def page(browser, app):
    context = browser.new_context(locale="ko-KR", viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(app)
    page.locator("#generate").wait_for()
    yield page
    context.close()


def _text(page, elem_id: str) -> str:
    """The rendered Markdown of a component (not the progress overlay around it)."""
    return page.locator(f"#{elem_id} span.md").inner_text().strip()


def _shot(page, output_dir: Path, name: str) -> Path:
    shot = output_dir / name
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    return shot


def _tab(page, korean: str, english: str):
    page.get_by_role("tab", name=re.compile(f"^({korean}|{english})$")).click()


def test_caption_flow_frames_streaming_and_stop(page, output_dir):
    page.locator("#video input[type=file]").set_input_files(str(BBB))
    page.locator("#video video").wait_for()  # uploaded and shown in the player
    page.locator("#generate").click()
    # the frames the model saw, with their real times (Big Buck Bunny: 25 fps, 2 fps sampling)
    page.locator("#frames img").first.wait_for()
    captions = page.locator("#frames").inner_text()
    assert "0:00.0" in captions and "0:05.2" in captions  # frames 0 and 131 of 132
    page.wait_for_function(
        "(document.querySelector('#answer span.md')?.innerText || '').trim().length > 0"
    )
    first = _text(page, "answer")
    time.sleep(1.5)
    assert len(_text(page, "answer")) > len(first), "the answer should grow while streaming"
    page.locator("#stop").click()
    stopped = time.perf_counter()
    page.wait_for_function("document.querySelector('#status span.md').innerText.includes('중지됨')")
    assert time.perf_counter() - stopped < 5
    page.wait_for_function("document.querySelector('#metrics span.md').innerText.includes('토큰')")
    after_stop = _text(page, "answer")
    time.sleep(1.0)
    assert _text(page, "answer") == after_stop, "nothing streams after Stop"
    _shot(page, output_dir, "caption-ko.png")


def test_a_timestamp_in_an_answer_seeks_the_player(page, home_log, output_dir):
    """A recorded timeline run of the clip (the tiny model writes no times of its own) opened
    in the review tab: clicking "0:03.5" puts the run's video at 3.5 s."""
    from runlog.fakes import recorded

    from captioner import runlog

    with runlog.RunLog(home_log) as log:
        (kept,) = [r for r in log.query(access=runlog.Access.reviewer("x")) if r.video_sha256]
        run_id = recorded(log, answer=TIMELINE, clip=("bigbuckbunny.mp4", kept.video_sha256),
                          access=runlog.Access.reviewer("browser"))  # fmt: skip
    _tab(page, "리뷰", "Review")
    page.locator("#run_id input").fill(str(run_id))
    page.locator("#open_run").click()
    page.locator("#run_video video").wait_for()
    link = page.locator("#run_detail a.ts", has_text="0:03.5")
    link.wait_for()
    assert page.locator("#run_detail a.ts").count() == 5  # 0:01, 0:02, 0:03.5, 0:05, <4.2 s>
    link.click()
    page.wait_for_function(
        "Math.abs(document.querySelector('#run_video video').currentTime - 3.5) < 0.5"
    )
    page.locator("#run_detail a.ts", has_text="4.2 seconds").click()
    page.wait_for_function(
        "Math.abs(document.querySelector('#run_video video').currentTime - 4.2) < 0.5"
    )


def test_review_tab_rates_summarises_and_exports(page, output_dir):
    """Runs from the caption tab are in the log: open one, rate it, see the chart, export."""
    _tab(page, "리뷰", "Review")
    page.locator("#review_refresh").click()
    first_cell = page.locator('#runs_table [data-testid="cell-0-0"]')
    first_cell.wait_for()
    first_cell.click()
    page.wait_for_function("!['', '0'].includes(document.querySelector('#run_id input').value)")
    assert int(page.locator("#run_id input").input_value()) >= 1
    page.locator("#open_run").click()
    page.wait_for_function(
        "document.querySelector('#run_detail span.md').innerText.includes('정밀도')"
    )
    page.locator("#run_frames img").first.wait_for()  # the strip, rebuilt from the library
    page.locator("#score").get_by_text("5").click()
    page.locator("#rate").click()
    page.wait_for_function("document.querySelector('#review_msg span.md').innerText.includes('★5')")
    page.locator("#review_refresh").click()
    bars = page.locator("#rating_chart .captioner-bar")
    bars.first.wait_for()
    assert float(bars.first.get_attribute("data-mean")) > 0
    # on localhost the page is in local mode: the rater is named, and sees every run
    reviewer = page.locator("#reviewer").inner_text()
    assert reviewer.startswith("평가자:") and reviewer.endswith("모든 실행"), reviewer
    page.locator("#export").click()
    page.locator("#export_file a, #export_file [download]").first.wait_for()
    _shot(page, output_dir, "review-ko.png")


def _walk_text(page) -> list[str]:
    """Every piece of text the page shows, minus what may be Korean in English mode: answers,
    what a user typed, the Korean prompts sent to the model, gradio's own footer."""
    return page.evaluate(
        """() => {
          const skip = ['#answer', '#thinking', '#run_detail', '#left_output', '#right_output',
                        '#runs_table tbody', '#runs_table [data-testid^="cell-"]', '#examples td:nth-child(3)', 'footer', '#reviewer'];
          const out = [];
          const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
          while (walker.nextNode()) {
            const node = walker.currentNode, el = node.parentElement;
            if (!el || skip.some((s) => el.closest(s))) continue;
            if (!el.offsetParent && getComputedStyle(el).position !== 'fixed') continue;
            const text = node.nodeValue.trim();
            if (text) out.push(text);
          }
          for (const el of document.querySelectorAll('input[placeholder], textarea[placeholder]'))
            if (el.offsetParent && !el.closest('#system')) out.push(el.placeholder);
          return out;
        }"""
    )


def _korean_left(page, settle_s: float = 10.0) -> list[str]:
    """Korean text on the page in English mode; the switch names Korean in Korean, as language
    switches do. Only Gradio's pending-event "loading" is waited out (up to ``settle_s``): any
    other Korean text is returned at once."""
    deadline = time.monotonic() + settle_s
    while True:
        left = [text for text in _walk_text(page) if HANGUL.search(text) and text != "한국어"]
        if not set(left) <= GRADIO_PENDING or not left or time.monotonic() > deadline:
            return left
        time.sleep(0.25)


def test_english_is_complete(page, output_dir):
    page.locator("#language").get_by_text("English").click()
    page.wait_for_function("document.querySelector('#generate').innerText.includes('Generate')")
    page.wait_for_function(
        "document.querySelector('#active span.md').innerText.startsWith('Active')"
    )
    for korean, english in (("캡션", "Caption"), ("리뷰", "Review")):
        _tab(page, korean, english)
        for accordion in page.locator("button.label-wrap").all():  # open what is folded
            if accordion.is_visible() and accordion.get_attribute("aria-expanded") == "false":
                accordion.click()
        time.sleep(0.5)
        korean_left = _korean_left(page)
        assert korean_left == [], f"{english} tab, English mode: {korean_left}"
        _shot(page, output_dir, f"{english.lower()}-en.png")
    _tab(page, "캡션", "Caption")
    assert _text(page, "status") in ("Stopped", "Done") and "first token" in _text(page, "metrics")
    page.locator("#language").get_by_text("한국어").click()
    page.wait_for_function("document.querySelector('#generate').innerText.includes('생성')")


def test_a_phone_screen_shows_one_column(browser, app, output_dir):
    context = browser.new_context(locale="ko-KR", viewport={"width": 390, "height": 844},
                                  is_mobile=True, has_touch=True)  # fmt: skip
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(app)
    generate = page.locator("#generate")
    generate.wait_for()
    video_box = page.locator("#video").bounding_box()
    answer_box = page.locator("#answer").bounding_box()
    assert video_box["width"] > 300 and answer_box["width"] > 300  # full width, stacked
    assert answer_box["y"] > video_box["y"]
    generate.scroll_into_view_if_needed()
    assert generate.is_visible() and generate.bounding_box()["x"] >= 0
    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= 400, "nothing sticks out sideways"
    _shot(page, output_dir, "caption-phone.png")
    context.close()


def test_a_long_video_streams_windows_with_progress_and_stops(browser, app, output_dir,
                                                              tmp_path):  # fmt: skip
    """A 3-minute clip of distinct scenes: the CPU profile's 8 frames would see one frame every
    22 s, so the 긴 영상 switch appears, on; windows stream in under "구간 k/3", and Stop
    ends the run with the finished windows kept on the page."""
    import media

    clip = media.make_scenes_video(tmp_path / "scenes.mp4", [20.0, 45.0, 70.0, 100.0, 130.0,
                                                             150.0], 180.0)  # fmt: skip
    context = browser.new_context(locale="ko-KR", viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(app)
    page.locator("#generate").wait_for()
    page.locator("#video input[type=file]").set_input_files(str(clip))
    switch = page.locator("#long input[type=checkbox]")
    switch.wait_for()
    assert switch.is_checked()
    assert "3개 구간" in page.locator("#long").inner_text()
    page.locator("#generate").click()
    page.wait_for_function("/구간 \\d\\/3/.test(document.querySelector('#status').innerText)")
    # the first window's caption is on the page under its heading, then Stop
    page.wait_for_function("document.querySelector('#answer').innerText.includes('구간 1/3 ·')")
    page.locator("#stop").click()
    stopped = time.perf_counter()
    page.wait_for_function("document.querySelector('#status span.md').innerText.includes('중지됨')")
    assert time.perf_counter() - stopped < 10
    assert "구간 1/3 ·" in _text(page, "answer"), "finished windows stay on the page"
    _shot(page, output_dir, "caption-long-ko.png")
    context.close()


def test_a_bad_upload_is_said_before_generate(browser, app, tmp_path):
    """Gradio's own warning for an empty upload is English only ("Video not playable"); ours
    comes in the status at once, in the page's language; clearing the file clears it, and the
    prompt typed meanwhile stays."""
    empty = tmp_path / "빈 파일.mp4"
    empty.write_bytes(b"")
    context = browser.new_context(locale="ko-KR", viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(app)
    page.locator("#generate").wait_for()
    page.locator("#prompt textarea").fill("그대로 남아야 할 프롬프트")
    page.locator("#video input[type=file]").set_input_files(str(empty))
    page.wait_for_function("document.querySelector('#status').innerText.includes('비어 있습니다')")
    assert "(0 바이트)" in _text(page, "status")
    page.locator("#video button[aria-label='지우기']").click()  # gradio's clear, in Korean
    page.wait_for_function("document.querySelector('#status').innerText.trim() === '대기 중'")
    assert page.locator("#prompt textarea").input_value() == "그대로 남아야 할 프롬프트"
    context.close()
