"""Load test: N concurrent headless Chromium sessions against `streamlit run app.py`.

    python scripts/loadtest.py                 # 10 sessions x 20 control changes
    python scripts/loadtest.py --short         # 3 x 3, what CI runs (tests/test_loadtest.py)
    python scripts/loadtest.py --json out.json

Starts its own server on 127.0.0.1 (a free port), opens every session at once, and in each
one moves the batch-size then the epochs slider with the keyboard, one stop at a time. A
change counts as done when the script has finished, the "Total optimizer steps" card shows
the core's number for the new setting and the step-timeline chart has been redrawn; the
time from the key press to that moment is measured in the page's own clock. Errors (page
errors, console errors, Streamlit exceptions, wrong numbers, timeouts) must be 0: the exit
code is 1 otherwise. The whole run has a deadline; the server is always stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from epochsteps import explain  # noqa: E402
from epochsteps import urlstate as us  # noqa: E402

HOST = "127.0.0.1"  # never another address
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
CHART = "[data-testid=stVegaLiteChart]"
TOTAL = "Total optimizer steps"

# -- the server ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """`streamlit run app.py` on 127.0.0.1 and a free port; stop() ends this process only."""

    def __init__(self, extra: list[str] | None = None, log: Path | None = None):
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log_path = log or ROOT / "test-output" / f"loadtest-server-{self.port}.log"
        self.log_path.parent.mkdir(exist_ok=True)
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        cmd = [
            sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
            "--server.address", HOST, "--server.port", str(self.port), "--server.headless", "true",
            "--browser.gatherUsageStats", "false", *(extra or []),
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        try:
            self._wait_healthy(60)
        except BaseException:
            self.stop()
            raise

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {self.proc.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.url} was not healthy within {timeout:.0f} s")

    def rss_mb(self) -> float:
        return rss_mb(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def rss_mb(pid: int) -> float:
    """Resident memory of one process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class MemorySampler(threading.Thread):
    """The server's RSS every `every` seconds, for the peak."""

    def __init__(self, server: Server, every: float = 0.25):
        super().__init__(daemon=True)
        self.server, self.every = server, every
        self.samples: list[float] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self.samples.append(self.server.rss_mb())
            except (OSError, RuntimeError):
                return
            self._halt.wait(self.every)

    def stop(self) -> float:
        self._halt.set()
        self.join(timeout=5)
        return max(self.samples, default=float("nan"))


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        raise SystemExit("Debian chromium is not installed (apt-get install -y chromium)")
    return path


# -- what each session does -------------------------------------------------------------------------

LABELS = {"batch_size": us.CONTROLS["batch_size"].label, "epochs": us.CONTROLS["epochs"].label}


def session_start(i: int) -> dict:
    """A distinct starting point per session, so sessions do not share cached results."""
    return {**us.DEFAULTS, "dataset_size": 50_000 + 1_237 * i, "batch_size": 1, "epochs": 10}


def change_plan(start: dict, n: int) -> list[tuple[str, dict]]:
    """n single-stop moves: the batch-size slider to the right, then the epochs slider."""
    out, values = [], dict(start)
    for k in range(n):
        key = "batch_size" if k < (n + 1) // 2 else "epochs"
        stops = us.CONTROLS[key].stops
        nxt = next(s for s in stops if s > values[key])
        values = {**values, key: nxt}
        out.append((key, dict(values)))
    return out


def expected_total(values: dict) -> str:
    cards = explain.metric_cards(us.values_to_setup(values).plan)
    return next(c.value for c in cards if c.label == TOTAL)


# JS: the page has finished a rerun with the expected total and a redrawn timeline chart.
MARK = f"() => {{ const s = document.querySelector('{CHART} svg, {CHART} canvas'); window.__before = s ? s.outerHTML : ''; return performance.now(); }}"
DONE = f"""(want) => {{
  if (document.querySelector('[data-testid=stStatusWidget]')) return false;
  const total = Array.from(document.querySelectorAll('[data-testid=stMetric]')).find(e => e.innerText.startsWith('{TOTAL}'));
  if (!total || !total.innerText.trim().endsWith(want)) return false;
  const charts = Array.from(document.querySelectorAll('{CHART}'));
  if (!charts.length || !charts.every(c => c.querySelector('svg, canvas'))) return false;
  const s = charts[0].querySelector('svg, canvas');
  if (s.outerHTML === window.__before) return false;
  return performance.now();
}}"""
LOADED = f"""() => !document.querySelector('[data-testid=stStatusWidget]') &&
  document.querySelectorAll('[data-testid=stMetric]').length > 0 &&
  Array.from(document.querySelectorAll('{CHART}')).length > 0 &&
  Array.from(document.querySelectorAll('{CHART}')).every(c => c.querySelector('svg, canvas'))"""


@dataclass
class Result:
    latencies_ms: list[float] = field(default_factory=list)
    load_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    changes_done: int = 0


async def run_session(browser, url: str, i: int, changes: int, timeout_ms: int, result: Result) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    live = {"on": True}

    def on_console(msg) -> None:
        if live["on"] and msg.type == "error":
            result.errors.append(f"session {i}: console error: {msg.text[:200]}")

    def on_pageerror(err) -> None:
        if live["on"]:
            result.errors.append(f"session {i}: page error: {str(err)[:200]}")

    page.on("console", on_console)
    page.on("pageerror", on_pageerror)
    start = session_start(i)
    query = "&".join(f"{k}={v}" for k, v in us.to_query(start).items())
    try:
        t0 = time.perf_counter()
        await page.goto(f"{url}/?{query}", timeout=timeout_ms)
        await page.wait_for_function(LOADED, timeout=timeout_ms)
        result.load_ms.append((time.perf_counter() - t0) * 1000)
        for n, (key, values) in enumerate(change_plan(start, changes), 1):
            want = expected_total(values)
            slider = page.get_by_role("slider", name=LABELS[key])
            try:
                before = await page.evaluate(MARK)
                await slider.press("ArrowRight")
                handle = await page.wait_for_function(DONE, arg=want, timeout=timeout_ms, polling="raf")
                result.latencies_ms.append(float(await handle.json_value()) - float(before))
                result.changes_done += 1
            except Exception as error:  # a timeout or a wrong number: counted, the session goes on
                shown = await _total_shown(page)
                result.errors.append(
                    f"session {i} change {n} ({key}={values[key]}): expected {TOTAL} {want}, page shows {shown}: {type(error).__name__}"
                )
            if await page.locator("[data-testid=stException]").count():
                result.errors.append(f"session {i} change {n}: a Streamlit exception is on the page")
    except Exception as error:
        result.errors.append(f"session {i}: {type(error).__name__}: {str(error)[:200]}")
    finally:
        live["on"] = False  # closing the page drops the websocket; that is not an error
        await context.close()


async def _total_shown(page) -> str:
    try:
        return await page.evaluate(
            f"() => (Array.from(document.querySelectorAll('[data-testid=stMetric]')).find(e => e.innerText.startsWith('{TOTAL}')) || {{innerText: '?'}}).innerText.split('\\n').pop()"
        )
    except Exception:
        return "?"


async def drive(url: str, sessions: int, changes: int, timeout_ms: int) -> Result:
    from playwright.async_api import async_playwright

    result = Result()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            await asyncio.gather(*(run_session(browser, url, i, changes, timeout_ms, result) for i in range(sessions)))
        finally:
            await browser.close()
    return result


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--changes", type=int, default=20, help="control changes per session (at most 30)")
    ap.add_argument("--short", action="store_true", help="3 sessions x 3 changes (CI)")
    ap.add_argument("--deadline", type=float, default=900, help="seconds for the whole run; then it stops")
    ap.add_argument("--change-timeout", type=float, default=60, help="seconds one change may take before it counts as an error")
    ap.add_argument("--json", type=Path, help="write the figures here too")
    args = ap.parse_args(argv)
    if args.short:
        args.sessions, args.changes = 3, 3
    if not 1 <= args.changes <= 30 or args.sessions < 1:
        ap.error("--sessions must be at least 1 and --changes between 1 and 30")

    server = Server()
    report: dict = {"sessions": args.sessions, "changes_per_session": args.changes, "url": server.url, "cpus": os.cpu_count()}
    try:
        time.sleep(1)
        report["rss_before_mb"] = server.rss_mb()
        sampler = MemorySampler(server)
        sampler.start()
        cpu_before = cpu_seconds(server.proc.pid)
        started = time.perf_counter()
        try:
            result = asyncio.run(
                asyncio.wait_for(drive(server.url, args.sessions, args.changes, int(args.change_timeout * 1000)), args.deadline)
            )
        except TimeoutError:
            result = Result(errors=[f"the run did not finish within the deadline of {args.deadline:.0f} s"])
        report["wall_s"] = round(time.perf_counter() - started, 1)
        report["load_average_1min"] = os.getloadavg()[0]  # the machine may be shared: latencies depend on it
        report["rss_peak_mb"] = sampler.stop()
        report["rss_after_mb"] = server.rss_mb()
        report["server_cpu_s"] = round(cpu_seconds(server.proc.pid) - cpu_before, 1)
    finally:
        server.stop()

    lat = result.latencies_ms
    report.update(
        changes_measured=len(lat),
        changes_expected=args.sessions * args.changes,
        errors=len(result.errors),  # each missed change is recorded as one
        error_messages=result.errors[:50],
        p50_ms=round(percentile(lat, 50), 1),
        p95_ms=round(percentile(lat, 95), 1),
        max_ms=round(max(lat), 1) if lat else float("nan"),
        page_load_p50_ms=round(percentile(result.load_ms, 50), 1),
    )
    # The server's own CPU per change (page loads included): what a class costs the host,
    # apart from the browsers, which share this machine's CPUs here but not in real use.
    report["server_cpu_ms_per_change"] = round(1000 * report["server_cpu_s"] / max(1, len(lat)), 1)
    for key in ("rss_before_mb", "rss_peak_mb", "rss_after_mb"):
        report[key] = round(report[key], 1)
    print(
        f"{report['sessions']} sessions x {report['changes_per_session']} changes in {report['wall_s']} s: "
        f"errors {report['errors']}, change -> updated chart p50 {report['p50_ms']} ms, p95 {report['p95_ms']} ms "
        f"(max {report['max_ms']} ms; page load p50 {report['page_load_p50_ms']} ms); server RSS "
        f"{report['rss_before_mb']} MB before, {report['rss_peak_mb']} MB peak, {report['rss_after_mb']} MB after; "
        f"server CPU {report['server_cpu_s']} s ({report['server_cpu_ms_per_change']} ms per change) "
        f"(load average {report['load_average_1min']:.1f} on {report['cpus']} CPUs)"
    )
    for line in result.errors[:20]:
        print("  error:", line)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    return 0 if report["errors"] == 0 and report["changes_measured"] == report["changes_expected"] else 1


if __name__ == "__main__":
    sys.exit(main())
