"""The training lab and the teacher panels in headless Debian Chromium against `streamlit run`:
the lab trains when asked and its charts draw, a move while it keeps training shows a bar and
then its charts in one rerun and is never lost, the Share panel shows the link and the iframe,
an export is made on click and is a real PNG, a saved setup loads back (a bad one says why),
and the new sections pass axe at 1280 and 390 px. Screenshots go to test-output/ for a person to look at.
"""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest

from epochsteps import controls as ctl
from epochsteps import explain, exports
from epochsteps import urlstate as us

pytestmark = pytest.mark.browser

CHART = "[data-testid=stVegaLiteChart]"
LAB = ".st-key-see_it_train"  # the training lab's section


def total_steps(query: dict) -> str:
    """The total card's value for a link, from the core."""
    plan = ctl.values_to_setup(us.parse_query(query)[0]).plan
    return next(c.value for c in explain.metric_cards(plan) if c.label == "Total optimizer steps")


# moved to batch 1, the lab's heaviest corner: one-sample batches in windows of 150, at the work budget (~0.13 s a run)
SLOW_LAB = {"dataset_size": "50000", "batch_size": "64", "epochs": "60", "framework": "lightning", "grad_accum": "150", "seed": "41"}
TOTAL_1 = total_steps({**SLOW_LAB, "batch_size": "1"})
TIMEOUT_MS = 90_000


def wait_idle(page) -> None:
    """Until the script has finished, the lab is no longer training and every chart has drawn."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=stStatusWidget]') && "
        "!document.querySelector('.st-key-see_it_train [data-testid=stProgress]') && "
        "Array.from(document.querySelectorAll('[data-testid=stVegaLiteChart]')).every(c => c.querySelector('svg, canvas'))",
        timeout=TIMEOUT_MS,
    )


def open_page(browser, url: str, width: int = 1280, heading: str = "See it train"):
    page = browser.new_page(viewport={"width": width, "height": 900}, accept_downloads=True)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.get_by_role("heading", name=heading).wait_for(timeout=TIMEOUT_MS)
    wait_idle(page)
    return page, errors


# A lazy panel is written by the rerun its opening starts: wait for its content, not just an idle page.
PANEL_FILLED = """(label) => {
  const box = Array.from(document.querySelectorAll('[data-testid=stExpander]')).find(e => e.innerText.includes(label));
  const details = box && box.querySelector('[data-testid=stExpanderDetails]');
  return !!details && details.innerText.trim().length > 0;
}"""


def open_expander(page, label: str) -> None:
    page.get_by_text(label).first.click()
    page.wait_for_function(PANEL_FILLED, arg=label, timeout=TIMEOUT_MS)
    wait_idle(page)


def train(page) -> None:
    """Press the lab's Train button and wait for its two charts."""
    page.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_function(LAB_DRAWN, arg=LAB, timeout=TIMEOUT_MS)


def test_the_lab_charts_and_the_share_panel_render(app_server, browser):
    page, errors = open_page(browser, f"{app_server.url}/?seed=5&batch_size=64")
    assert page.locator(LAB).locator(CHART).count() == 0  # nothing trains until asked
    train(page)
    lab = page.locator(CHART).filter(has_text="See it train: the loss at every optimizer step")
    lab.locator("svg path").first.wait_for(timeout=TIMEOUT_MS)  # the loss line is drawn
    assert lab.count() == 1
    assert page.locator(CHART).count() == 6
    assert page.get_by_text("Two batch sizes, same epochs").count() == 1
    assert page.get_by_text("Over the same 10 epochs, batch 16 made").count() == 1
    open_expander(page, "Share: a link")
    codes = page.locator("[data-testid=stCode]").all_inner_texts()
    link = next(c for c in codes if c.strip().startswith("http://127.0.0.1"))
    assert "seed=5" in link and "batch_size=64" in link
    iframe = next(c for c in codes if c.strip().startswith("<iframe"))
    assert "embed=true" in iframe and "batch_size=64" in iframe and 'height="' in iframe
    assert any(c.strip().startswith('<a href="http://127.0.0.1') and "step_timeline.png" in c for c in codes)
    assert page.locator("[data-testid=stException]").count() == 0
    assert errors == []
    page.close()


# The lab's "still training" bars as they come and go (ms, text; "" once none is shown).
WATCH_LAB = """(LAB) => {
  window.__lab = [];
  new MutationObserver(() => {
    const lab = document.querySelector(LAB);
    const text = lab ? Array.from(lab.querySelectorAll('[data-testid=stProgress]')).map(p => p.innerText.trim()).join('|') : '';
    const last = window.__lab.length ? window.__lab[window.__lab.length - 1][1] : '';
    if (text !== last) window.__lab.push([Math.round(performance.now()), text]);
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""
# The total card's text as it changes (ms, text).
WATCH_TOTAL = """() => {
  window.__total = [];
  new MutationObserver(() => {
    const card = Array.from(document.querySelectorAll('[data-testid=stMetric]')).find(e => e.innerText.startsWith('Total optimizer steps'));
    const text = card ? card.innerText.trim() : '';
    const last = window.__total.length ? window.__total[window.__total.length - 1][1] : '';
    if (text !== last) window.__total.push([Math.round(performance.now()), text]);
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""
LAB_DRAWN = """(LAB) => {
  const lab = document.querySelector(LAB);
  const charts = lab ? Array.from(lab.querySelectorAll('[data-testid=stVegaLiteChart]')) : [];
  return charts.length === 2 && charts.every(c => c.querySelector('svg, canvas'))
    && !lab.querySelector('[data-testid=stProgress]') && !document.querySelector('[data-testid=stStatusWidget]');
}"""


def test_a_move_while_the_lab_trains_shows_its_bar_then_charts_and_is_never_lost(app_server, browser):
    """With "keep training" on, a slider move draws the rest of the page at once, a bar where
    the lab's charts go, then the charts, in one rerun of the page per move; a second move made
    while the lab trains is never lost (the page ends on it, lab and all)."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    sent: list[tuple[float, str]] = []

    def record(payload) -> None:
        msg = BackMsg()
        msg.ParseFromString(payload if isinstance(payload, bytes) else payload.encode())
        rerun = msg.rerun_script if msg.WhichOneof("type") == "rerun_script" else None
        sent.append((time.monotonic(), "fragment" if rerun and rerun.fragment_id else "page" if rerun else "other"))

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("websocket", lambda ws: ws.on("framesent", record))
    page.goto(f"{app_server.url}/?{urllib.parse.urlencode(SLOW_LAB)}")
    page.get_by_role("heading", name="See it train").wait_for(timeout=TIMEOUT_MS)
    wait_idle(page)
    page.get_by_text("Keep training as I change the setup").click()
    page.wait_for_function(LAB_DRAWN, arg=LAB, timeout=TIMEOUT_MS)
    page.evaluate(WATCH_LAB, LAB)
    page.evaluate(WATCH_TOTAL)
    page.get_by_role("slider", name="Batch size (per device)").focus()
    moved = time.monotonic()
    page.keyboard.press("Home")  # 64 -> 1: runs nobody has made yet
    page.wait_for_function(
        "() => window.__lab.some(([t, text]) => text.startsWith('Training the lab model on this setup'))", timeout=TIMEOUT_MS
    )
    page.wait_for_function(
        f"() => window.__lab.length >= 2 && window.__lab.at(-1)[1] === '' && ({LAB_DRAWN})({json.dumps(LAB)})", timeout=TIMEOUT_MS
    )
    drawn = time.monotonic()
    # the new total was on the page while the lab still trained (the bar and the card may land in one frame)
    training_from = page.evaluate("() => window.__lab.find(([t, text]) => text.startsWith('Training the lab model'))[0]")
    trained_at = page.evaluate(f"() => window.__lab.find(([t, text]) => t > {training_from} && text === '')[0]")
    total_at = page.evaluate(f"() => (window.__total.find(([t, text]) => text.endsWith({json.dumps(TOTAL_1)})) || [null])[0]")
    assert total_at is not None and total_at < trained_at, (total_at, training_from, trained_at)
    page.wait_for_timeout(3000)  # Playwright delivers the websocket events while it waits
    reruns = [kind for t, kind in sent if t > moved]
    assert reruns == ["page"], f"one move, one rerun of the page: {reruns}"
    assert [kind for t, kind in sent if t > drawn] == []
    # a move made as soon as the lab starts training: the page ends on it
    page.evaluate(WATCH_LAB, LAB)
    page.get_by_role("slider", name="Batch size (per device)").focus()
    page.keyboard.press("ArrowRight")  # 1 -> 2: trains
    page.wait_for_function("() => window.__lab.some(([t, text]) => text.startsWith('Training'))", timeout=TIMEOUT_MS)
    page.keyboard.press("ArrowRight")  # 2 -> 4, while 2's runs train
    want = total_steps({**SLOW_LAB, "batch_size": "4"})
    page.wait_for_function(
        f"() => window.__total.at(-1)[1].endsWith({json.dumps(want)}) && ({LAB_DRAWN})({json.dumps(LAB)})", timeout=TIMEOUT_MS
    )
    wait_idle(page)
    assert page.get_by_role("slider", name="Batch size (per device)").get_attribute("aria-valuetext") in ("4", None)
    assert page.get_by_role("spinbutton", name="Batch size (per device): exact").input_value() == "4"
    assert page.locator(LAB).locator(CHART).filter(has_text="See it train: the loss at every optimizer step").count() == 1
    assert page.locator("[data-testid=stException]").count() == 0
    assert errors == []
    page.close()


def uploader(page):
    # a rerun can briefly show the old uploader next to the new one
    page.wait_for_function("() => document.querySelectorAll('[data-testid=stFileUploader]').length === 1", timeout=TIMEOUT_MS)
    return page.locator("[data-testid=stFileUploader] input[type=file]")


def test_an_export_is_made_on_click_and_a_setup_loads_back(app_server, browser, tmp_path):
    page, errors = open_page(browser, app_server.url)
    open_expander(page, "Export: charts")
    with page.expect_download(timeout=TIMEOUT_MS) as info:
        page.get_by_role("button", name="PNG", exact=True).click()
    png = info.value.path().read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and info.value.suggested_filename == "step_timeline.png"
    # a setup.json saved by the page loads back into the controls
    values = ctl.preset_values("MNIST")
    good = tmp_path / "setup.json"
    good.write_text(exports.setup_json(ctl.values_to_setup(values).setup))
    uploader(page).set_input_files(str(good))
    page.wait_for_function("() => location.search.includes('batch_size=64')", timeout=TIMEOUT_MS)
    wait_idle(page)
    assert "dataset_size=60000" in page.url
    assert page.get_by_role("spinbutton", name="Batch size (per device): exact").input_value() == "64"
    assert page.get_by_text("Setup loaded.").count() == 1
    # anything else says what is wrong, and changes nothing
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"dataset_size": "many", "batch_size": 1}))
    uploader(page).set_input_files(str(bad))
    page.get_by_text("That file could not be loaded").wait_for(timeout=TIMEOUT_MS)
    assert "batch_size=64" in page.url
    assert page.locator("[data-testid=stException]").count() == 0
    assert errors == []
    page.close()


# the sections this feature adds (keyed containers); the rest of the page has its own axe test
NEW_SECTIONS = [".st-key-lesson_box", ".st-key-see_it_train", ".st-key-quiz_open", ".st-key-share_panel", ".st-key-export_open"]


def serious_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    assert all(page.locator(s).count() == 1 for s in NEW_SECTIONS)
    results = Axe().run(page, context={"include": [[s] for s in NEW_SECTIONS]})
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("width", [1280, 390])
def test_new_sections_screenshots_and_accessibility(app_server, browser, output_dir, width):
    page, errors = open_page(browser, f"{app_server.url}/?lesson=steps-per-epoch", width=width, heading="Lesson: Steps per epoch and drop_last")
    assert page.get_by_role("heading", name="See it train").count() == 0  # hidden until the task is answered
    page.get_by_label("Your answer (a number)").first.fill("16")
    page.get_by_label("Your answer (a number)").first.press("Enter")
    page.get_by_text("Right: 16 optimizer steps.").wait_for(timeout=TIMEOUT_MS)
    page.get_by_role("heading", name="See it train").wait_for(timeout=TIMEOUT_MS)
    wait_idle(page)
    train(page)
    for label in ("Questions about your setup", "Share: a link", "Export: charts"):
        open_expander(page, label)
    height = page.evaluate("() => document.querySelector('[data-testid=stMainBlockContainer]').scrollHeight")
    page.set_viewport_size({"width": width, "height": int(height) + 120})
    wait_idle(page)
    page.screenshot(path=str(output_dir / f"teach-{width}.png"), full_page=True)
    found = serious_violations(page)
    assert found == [], "\n".join(found)
    assert errors == []
    page.close()
