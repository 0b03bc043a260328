"""The real page in headless Debian Chromium against `streamlit run app.py`.

Runs whenever `chromium` is installed (CI installs it); skipped only without it.
Screenshots go to test-output/ (gitignored) for a person to look at.
"""

from __future__ import annotations

import pytest

from epochsteps import controls as ctl
from epochsteps import explain
from epochsteps import urlstate as us

pytestmark = pytest.mark.browser

CHART = "[data-testid=stVegaLiteChart]"
CHART_DRAWN = f"{CHART} svg, {CHART} canvas"
TIMEOUT_MS = 60_000


def open_page(browser, url: str, width: int = 1280):
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector(CHART_DRAWN, timeout=TIMEOUT_MS)
    wait_idle(page)
    return page, errors


def wait_idle(page) -> None:
    """Until the script has finished and every chart has drawn."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=stStatusWidget]') && "
        "Array.from(document.querySelectorAll('[data-testid=stVegaLiteChart]')).every(c => c.querySelector('svg, canvas'))",
        timeout=TIMEOUT_MS,
    )


def metric_texts(page) -> dict[str, str]:
    cards = page.evaluate("() => Array.from(document.querySelectorAll('[data-testid=stMetric]')).map(e => e.innerText)")
    out = {}
    for text in cards:
        label, *rest = [t for t in text.split("\n") if t.strip()]
        out[label.strip()] = rest[-1].strip()
    return out


def expected_cards(values: dict) -> dict[str, str]:
    return {c.label: c.value for c in explain.metric_cards(ctl.values_to_setup(values).plan)}


def full_screenshot(page, path) -> None:
    """Streamlit scrolls inside its own container: grow the viewport to the content first."""
    width = page.viewport_size["width"]
    height = page.evaluate("() => document.querySelector('[data-testid=stMainBlockContainer]').scrollHeight")
    page.set_viewport_size({"width": width, "height": int(height) + 120})
    page.wait_for_timeout(500)
    wait_idle(page)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": width, "height": 900})


def serious_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_page_renders_without_errors(app_server, browser, output_dir):
    page, errors = open_page(browser, app_server.url)
    assert page.locator("[data-testid=stException]").count() == 0
    assert page.locator(CHART).count() == 4  # the training lab trains only when asked
    assert metric_texts(page) == expected_cards(ctl.DEFAULTS)
    page.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=stVegaLiteChart]').length === 6", timeout=TIMEOUT_MS)
    wait_idle(page)  # the lab's loss chart and the two batch sizes
    assert page.locator("[data-testid=stException]").count() == 0
    assert errors == []
    page.close()


def test_keyboard_moves_batch_size_and_the_page_follows(app_server, browser):
    page, errors = open_page(browser, app_server.url)
    slider = page.get_by_role("slider", name="Batch size (per device)")
    timeline = page.locator(f"{CHART} svg").first
    before_chart = timeline.inner_html()
    before = metric_texts(page)
    slider.focus()
    page.keyboard.press("ArrowRight")  # 100 -> the next stop, 128
    after_values = {**ctl.DEFAULTS, "batch_size": ctl.BATCH_STOPS[ctl.BATCH_STOPS.index(100) + 1]}
    want = expected_cards(after_values)["Batches per epoch"]
    page.wait_for_function(
        "(want) => Array.from(document.querySelectorAll('[data-testid=stMetric]')).some(e => e.innerText.startsWith('Batches per epoch') && e.innerText.trim().endsWith(want))",
        arg=want,
        timeout=TIMEOUT_MS,
    )
    page.wait_for_function(
        "(b) => { const svg = document.querySelector('[data-testid=stVegaLiteChart] svg'); return svg !== null && svg.innerHTML !== b; }",
        arg=before_chart, timeout=TIMEOUT_MS,
    )
    wait_idle(page)
    after = metric_texts(page)
    assert after != before and after == expected_cards(after_values)
    assert page.get_by_role("spinbutton", name="Batch size (per device): exact").input_value() == "128"
    assert "batch_size=128" in page.url  # the link follows the controls
    assert page.locator("[data-testid=stException]").count() == 0
    assert errors == []
    page.close()


def test_charts_draw_without_vega_warnings(app_server, browser):
    """Vega logs what it had to guess (an empty table's infinite extent, conflicting legends)
    as console warnings: none on setups with and without evaluations, marks and aggregation."""
    links = [
        "",
        "early_stopping=true&framework=hf",
        "early_stopping=true&metric_source=lab&framework=hf",
        "dataset_size=1281167&batch_size=256&epochs=90&max_steps=50000",
        "dataset_size=103&batch_size=10&drop_last=true&devices=3",
    ]
    for query in links:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        warnings: list[str] = []
        page.on("console", lambda m, seen=warnings: seen.append(m.text) if m.type in ("warning", "error") else None)
        page.goto(f"{app_server.url}/?{query}")
        page.wait_for_selector(CHART_DRAWN, timeout=TIMEOUT_MS)
        wait_idle(page)
        page.get_by_text("Keep training as I change the setup").click()  # the lab's charts too, on every move
        page.wait_for_timeout(300)
        wait_idle(page)
        page.get_by_role("slider", name="Batch size (per device)").press("ArrowRight")  # new tables in the same charts
        page.wait_for_timeout(300)
        wait_idle(page)
        assert page.locator(CHART).count() >= 5
        assert warnings == [], (query, warnings)
        page.close()


def test_a_shared_link_opens_on_its_values(app_server, browser):
    values = ctl.preset_values("MNIST")
    query = "&".join(f"{k}={v}" for k, v in us.to_query(values).items())
    page, errors = open_page(browser, f"{app_server.url}/?{query}")
    assert page.get_by_role("spinbutton", name="Dataset size (samples): exact").input_value() == "60000"
    assert page.get_by_role("spinbutton", name="Batch size (per device): exact").input_value() == "64"
    assert metric_texts(page) == expected_cards(values)
    assert page.locator("[data-testid=stAlertContentWarning]").count() == 0
    assert errors == []
    page.close()


def test_a_hostile_link_shows_what_it_changed(app_server, browser):
    page, errors = open_page(browser, f"{app_server.url}/?batch_size=-5&epochs=1e400&junk=%3Cscript%3Ealert(1)%3C/script%3E")
    warning = page.locator("[data-testid=stAlertContentWarning]").first.inner_text()
    assert "batch_size=-5 is below 1: using 1" in warning
    assert "epochs=1e400 is above 10,000" in warning
    assert page.locator("[data-testid=stException]").count() == 0
    assert "batch_size=1" in page.url and "junk" not in page.url
    assert errors == []
    page.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_screenshots_and_accessibility(app_server, browser, output_dir, width):
    page, errors = open_page(browser, app_server.url, width=width)
    full_screenshot(page, output_dir / f"page-{width}.png")
    # the early-stopping chart and an open Advanced panel are checked too
    page.get_by_role("button", name="Turn on early stopping").click()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=stVegaLiteChart]').length === 5", timeout=TIMEOUT_MS)
    wait_idle(page)
    page.get_by_text("Advanced: framework").click()
    page.get_by_role("combobox", name="Framework convention").wait_for(timeout=TIMEOUT_MS)  # drawn by the rerun the opening starts
    wait_idle(page)
    page.get_by_text("The five conventions side by side").click()  # the translator's table and code, drawn when opened
    page.locator("[data-testid=stDataFrame]").first.wait_for(timeout=TIMEOUT_MS)
    wait_idle(page)
    full_screenshot(page, output_dir / f"page-{width}-early-stopping.png")
    found = serious_violations(page)
    assert found == [], "\n".join(found)
    assert errors == []
    page.close()
