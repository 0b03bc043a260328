"""The practitioner's inputs (#15) in headless Debian Chromium against `streamlit run`: the
"Dataset given in" switch to tokens and a token slider moved with the keyboard, a throughput
giving the wall-clock lane, and "Read my log" with a real HF banner and with hostile text. The
cards are held against the core for the setup the page's own URL says; axe at 1280 and 390 px.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import pytest
from test_browser import expected_cards, full_screenshot, metric_texts, open_page, serious_violations, wait_idle

from epochsteps import urlstate as us
from epochsteps.readlog import read_log

pytestmark = pytest.mark.browser

LOGS = Path(__file__).parent / "data" / "logs"
TIMEOUT_MS = 60_000


def url_values(page) -> dict:
    """The controls' values the page's own URL holds (what a shared link would open)."""
    query = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)
    values, notices = us.parse_query(query)
    assert notices == []
    return values


def test_tokens_switch_and_a_token_slider_move(app_server, browser):
    page, errors = open_page(browser, app_server.url)
    page.get_by_role("radio", name="tokens", exact=True).click()
    slider = page.get_by_role("slider", name="Dataset size (tokens)")
    slider.wait_for(timeout=TIMEOUT_MS)
    wait_idle(page)
    assert page.get_by_role("slider", name="Dataset size (samples)").count() == 0  # the token slider took its place
    before = url_values(page)
    assert before["data_unit"] == "tokens"
    shown = metric_texts(page)
    assert "Tokens trained" in shown and shown == expected_cards(before)
    slider.focus()
    page.keyboard.press("ArrowRight")
    # a default is left out of the URL: wait for the slider's new value to be in it
    page.wait_for_function("() => /[?&]dataset_tokens=/.test(window.location.search)", timeout=TIMEOUT_MS)
    wait_idle(page)
    after = url_values(page)
    assert after["dataset_tokens"] > before["dataset_tokens"]
    assert metric_texts(page) == expected_cards(after)  # every card from the core, token cards included
    assert errors == []
    page.close()


def test_a_throughput_draws_the_wall_clock_lane(app_server, browser):
    page, errors = open_page(browser, f"{app_server.url}/?seconds_per_step=2.5&dataset_size=50000&batch_size=32&epochs=3")
    timeline = page.locator("[data-testid=stVegaLiteChart]").first
    texts = timeline.locator("svg text").evaluate_all("ts => ts.map(t => t.textContent)")  # SVG has no innerText
    assert "wall clock" in texts and {"1 h", "2 h", "3 h"} <= set(texts)  # 4,689 steps of 2.5 s: 3 h 15 min
    assert metric_texts(page) == expected_cards(url_values(page))
    assert errors == []
    page.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_read_my_log_opens_the_plan_and_refuses_garbage(app_server, browser, output_dir, width):
    text = (LOGS / "hf_info_accum_leftover.log").read_text()
    reading = read_log(text)
    page, errors = open_page(browser, app_server.url, width=width)
    page.get_by_text("Read my log: paste what your framework printed").click()
    box = page.get_by_role("textbox", name="The HF Trainer's “Running training” banner", exact=False)
    box.wait_for(timeout=TIMEOUT_MS)
    box.fill(text)
    page.get_by_role("button", name="Read").click()
    page.get_by_text("The page now shows this setup's plan.").wait_for(timeout=TIMEOUT_MS)
    wait_idle(page)
    assert metric_texts(page)["Total optimizer steps"] == f"{reading.plan.total_optimizer_steps:,}"
    assert url_values(page)["grad_accum"] == reading.plan.setup.grad_accum  # the page, its URL and all, is on the log's setup
    for printed in reading.printed:
        assert page.get_by_text(f"{printed.label} = {printed.value}", exact=False).count() >= 1
    full_screenshot(page, output_dir / f"read-log-{width}.png")
    found = serious_violations(page)
    assert found == [], "\n".join(found)
    box.fill('<img src=x onerror="window.__pwned=1"> [x](javascript:alert(1)) <script>window.__pwned=1</script>')
    page.get_by_role("button", name="Read").click()
    page.locator("[data-testid=stAlertContentWarning]").filter(has_text="not a log").wait_for(timeout=TIMEOUT_MS)
    assert page.evaluate("() => window.__pwned === undefined")
    assert page.locator("[data-testid=stMain] img[src=x]").count() == 0
    assert errors == []
    page.close()
