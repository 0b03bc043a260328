"""Memory soak: 1,000 distinct settings through one `streamlit run app.py` server.

    python scripts/memory_soak.py                       # 1,000 settings, 4 pages at a time
    python scripts/memory_soak.py --settings 100 --json out.json

Starts its own server on 127.0.0.1 (a free port). A few headless Chromium pages, reused,
each open one distinct query URL after another (a new Streamlit session per URL, as a class
of students opening links would) and wait until the page has finished drawing. The server's
resident memory (RSS) is read:
  cold      before any session;
  warm      after a warm-up of distinct settings that fills every bounded cache, once the
            warm-up sessions have expired;
  end       right after the measured settings;
  settled   once their sessions have expired too (closed tabs are dropped after
            --session-ttl seconds; Streamlit's default is 120, shorter here so the run ends sooner).
Growth = settled - warm, and the trend over the run (last readings minus first); the target
for both is under 50 MB (exit code 1 otherwise, or on any error). `--mix heavy` makes every
link ask for close to the page's limit of 10^6 evaluations (the abuse case).
The run has a deadline and always stops the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadtest import CHART, CHROMIUM_ARGS, MemorySampler, Server, chromium  # noqa: E402

from epochsteps.conventions import CONVENTIONS  # noqa: E402

TARGET_MB = 50.0
FRAMEWORKS = tuple(CONVENTIONS)

# JS: the page has finished a run (numbers or an explanation, every chart drawn).
DONE = f"""() => !document.querySelector('[data-testid=stStatusWidget]') &&
  (document.querySelectorAll('[data-testid=stMetric]').length > 0 || document.querySelector('[data-testid=stAlert]')) &&
  Array.from(document.querySelectorAll('{CHART}')).every(c => c.querySelector('svg, canvas'))"""


def log_int(rng: random.Random, low: int, high: int) -> int:
    return int(round(math.exp(rng.uniform(math.log(low), math.log(high)))))


def one_setting(rng: random.Random) -> dict[str, str]:
    """A random page state as a query string: sizes on a log scale and the advanced knobs."""
    fw = rng.choice(FRAMEWORKS)
    owns = CONVENTIONS[fw].owns
    q = {
        "framework": fw,
        "dataset_size": log_int(rng, 1, 10**9),
        "batch_size": log_int(rng, 1, 4096),
        "epochs": log_int(rng, 1, 10**4),
        "grad_accum": rng.choice((1, 1, 2, 4, 8)),
    }
    if "devices" in owns:
        q["drop_last"] = rng.choice(("true", "false"))
        q["devices"] = rng.choice((1, 1, 2, 8))
        if rng.random() < 0.2:
            q["max_steps"] = log_int(rng, 1, 10**6)
    if rng.random() < 0.4:
        q["early_stopping"] = "true"
        q["patience"] = rng.randint(0, 10)
        q["seed"] = rng.randint(0, 10**6)
        if "eval_every_steps" in owns:
            q["eval_every_steps"] = log_int(rng, 1, 10**5)
    if rng.random() < 0.4:
        q["lr_schedule"] = rng.choice(CONVENTIONS[fw].lr_schedules)
        q["warmup_steps"] = rng.choice((0, 10, 100))
    return {k: str(v) for k, v in q.items()}


def heavy_setting(rng: random.Random) -> dict[str, str]:
    """The abuse case: close to the page's limit of 1,000,000 evaluations in one run."""
    fw = rng.choice(("pytorch", "pytorch-flush", "hf", "lightning"))
    q = {"framework": fw, "dataset_size": rng.randint(500_000, 1_000_000), "batch_size": 1, "epochs": 1}
    if fw == "lightning":
        q.update(val_check_interval=1, check_val_every_n_epoch="none")
    else:
        q["eval_every_steps"] = 1
    if rng.random() < 0.5:
        q.update(early_stopping="true", patience=10_000, seed=rng.randint(0, 10**6))
    if rng.random() < 0.5:
        q.update(lr_schedule="cosine", warmup_steps=100)
    return {k: str(v) for k, v in q.items()}


def distinct_settings(n: int, seed: int, avoid: set[str] | None = None, mix: str = "random") -> list[str]:
    """n distinct query strings (none of them in `avoid`)."""
    rng, seen, out = random.Random(seed), set(avoid or ()), []
    make = heavy_setting if mix == "heavy" else one_setting
    while len(out) < n:
        query = urlencode(make(rng))
        if query not in seen:
            seen.add(query)
            out.append(query)
    return out


class Progress:
    def __init__(self, server: Server, total: int, every: int):
        self.server, self.total, self.every = server, total, every
        self.done = 0
        self.errors: list[str] = []
        self.curve: list[tuple[int, float]] = []  # (settings done, RSS MB)
        self.bytes: list[int] = []  # what each session received (websocket driver)
        self.started = time.perf_counter()

    def tick(self) -> None:
        self.done += 1
        if self.done % self.every == 0 or self.done == self.total:
            rss = self.server.rss_mb()
            self.curve.append((self.done, round(rss, 1)))
            rate = self.done / (time.perf_counter() - self.started)
            print(f"  {self.done:>5,}/{self.total:,} settings, server RSS {rss:.1f} MB, {rate:.1f} settings/s", flush=True)


async def worker(browser, url: str, queue: asyncio.Queue, progress: Progress, timeout_ms: int, wid: int) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    current = {"query": ""}

    def on_pageerror(err) -> None:
        progress.errors.append(f"page {wid} ?{current['query'][:120]}: page error: {str(err)[:200]}")

    page.on("pageerror", on_pageerror)
    try:
        while True:
            try:
                query = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            current["query"] = query
            try:
                await page.goto(f"{url}/?{query}", timeout=timeout_ms)
                await page.wait_for_function(DONE, timeout=timeout_ms, polling=100)
                if await page.locator("[data-testid=stException]").count():
                    progress.errors.append(f"?{query[:160]}: a Streamlit exception is on the page")
            except Exception as error:
                progress.errors.append(f"?{query[:160]}: {type(error).__name__}: {str(error)[:160]}")
            progress.tick()
    finally:
        await context.close()


async def ws_session(url: str, query: str, timeout_s: float, collect: list | None = None) -> tuple[int, list[str]]:
    """One Streamlit session over its websocket, as the browser opens it: connect, ask for a
    run with the link's query string, read until the script has finished. Returns the bytes
    received and any problem; `collect` receives every ForwardMsg."""
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    problems, received = [], 0
    ws_url = url.replace("http://", "ws://") + "/_stcore/stream"
    async with asyncio.timeout(timeout_s):
        async with websockets.connect(ws_url, subprotocols=["streamlit"], max_size=2**26) as ws:
            back = BackMsg()
            back.rerun_script.query_string = query
            back.rerun_script.page_script_hash = ""
            await ws.send(back.SerializeToString())
            while True:
                data = await ws.recv()
                received += len(data)
                msg = ForwardMsg()
                msg.ParseFromString(data)
                if collect is not None:
                    collect.append(msg)
                kind = msg.WhichOneof("type")
                if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                    if msg.delta.new_element.WhichOneof("type") == "exception":
                        problems.append(f"exception on the page: {msg.delta.new_element.exception.message[:160]}")
                if kind == "script_finished":
                    if msg.script_finished != ForwardMsg.FINISHED_SUCCESSFULLY:
                        problems.append(f"script finished with status {msg.script_finished}")
                    return received, problems


async def ws_worker(url: str, queue: asyncio.Queue, progress: Progress, timeout_ms: int) -> None:
    while True:
        try:
            query = queue.get_nowait()
        except asyncio.QueueEmpty:
            return
        try:
            received, problems = await ws_session(url, query, timeout_ms / 1000)
            progress.bytes.append(received)
            progress.errors += [f"?{query[:160]}: {p}" for p in problems]
        except Exception as error:
            progress.errors.append(f"?{query[:160]}: {type(error).__name__}: {str(error)[:160]}")
        progress.tick()


async def drive(url: str, queries: list[str], pages: int, server: Server, timeout_ms: int, every: int, driver: str) -> Progress:
    queue: asyncio.Queue = asyncio.Queue()
    for q in queries:
        queue.put_nowait(q)
    progress = Progress(server, len(queries), every)
    if driver == "ws":
        await asyncio.gather(*(ws_worker(url, queue, progress, timeout_ms) for _ in range(pages)))
        return progress
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            await asyncio.gather(*(worker(browser, url, queue, progress, timeout_ms, w) for w in range(pages)))
        finally:
            await browser.close()
    return progress


def settle(server: Server, seconds: float) -> float:
    """Wait for closed sessions to expire, then read RSS (the lowest of a few readings)."""
    print(f"  waiting {seconds:.0f} s for closed sessions to expire ...", flush=True)
    time.sleep(seconds)
    readings = []
    for _ in range(5):
        readings.append(server.rss_mb())
        time.sleep(0.5)
    return min(readings)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--settings", type=int, default=1000, help="distinct settings measured")
    ap.add_argument("--warmup", type=int, default=80, help="distinct settings before the baseline (fills the 64-entry caches)")
    ap.add_argument("--driver", choices=("ws", "browser"), default="ws", help="websocket sessions (fast) or Chromium pages")
    ap.add_argument("--pages", type=int, default=4, help="concurrent sessions (browser pages or websockets)")
    ap.add_argument(
        "--session-ttl", type=float, default=20, help="seconds a closed tab's session is kept (server.disconnectedSessionTTL)"
    )
    ap.add_argument("--deadline", type=float, default=1800, help="seconds for the whole run; then it stops")
    ap.add_argument("--page-timeout", type=float, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mix", choices=("random", "heavy"), default="random", help="random settings, or each near 10^6 evaluations")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    warm_queries = distinct_settings(args.warmup, seed=args.seed + 10_000, mix=args.mix)
    queries = distinct_settings(args.settings, seed=args.seed, avoid=set(warm_queries), mix=args.mix)
    settle_s = args.session_ttl + 15  # Streamlit sweeps expired sessions periodically
    deadline = time.monotonic() + args.deadline
    server = Server(extra=["--server.disconnectedSessionTTL", str(int(args.session_ttl))])
    report: dict = {
        "url": server.url,
        "driver": args.driver,
        "settings": args.settings,
        "warmup": args.warmup,
        "pages": args.pages,
        "session_ttl_s": args.session_ttl,
    }
    errors: list[str] = []
    try:
        time.sleep(1)
        report["rss_cold_mb"] = round(server.rss_mb(), 1)
        print(
            f"server {server.url} (pid {server.proc.pid}), RSS cold {report['rss_cold_mb']} MB; warm-up {args.warmup} settings",
            flush=True,
        )
        sampler = MemorySampler(server, every=0.5)
        sampler.start()

        def run(queries: list[str], every: int) -> Progress:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            return asyncio.run(
                asyncio.wait_for(
                    drive(server.url, queries, args.pages, server, int(args.page_timeout * 1000), every, args.driver), left
                )
            )

        try:
            warm = run(warm_queries, every=max(1, args.warmup))
            errors += warm.errors
            report["rss_warm_mb"] = round(settle(server, settle_s), 1)
            print(f"RSS warm {report['rss_warm_mb']} MB; now {args.settings:,} distinct settings", flush=True)
            started = time.perf_counter()
            soak = run(queries, every=max(1, args.settings // 10))
            report["drive_s"] = round(time.perf_counter() - started, 1)
            errors += soak.errors
            report["settings_done"] = soak.done
            if soak.bytes:
                report["session_bytes_max"] = max(soak.bytes)
                report["session_bytes_median"] = sorted(soak.bytes)[len(soak.bytes) // 2]
            report["rss_curve_mb"] = soak.curve
            report["rss_end_mb"] = round(server.rss_mb(), 1)
            report["rss_settled_mb"] = round(settle(server, settle_s), 1)
        except TimeoutError:
            errors.append(f"the run did not finish within the deadline of {args.deadline:.0f} s")
        report["rss_peak_mb"] = round(sampler.stop(), 1)
    finally:
        server.stop()

    report["errors"] = len(errors)
    report["error_messages"] = errors[:50]
    ok = not errors and "rss_settled_mb" in report
    if "rss_settled_mb" in report:
        report["growth_mb"] = round(report["rss_settled_mb"] - report["rss_warm_mb"], 1)
        report["growth_unsettled_mb"] = round(report["rss_end_mb"] - report["rss_warm_mb"], 1)
        # RSS moves with what the bounded caches happen to hold; the trend over the run says
        # whether anything accumulates: median of the last three readings minus the first three.
        curve = [rss for _, rss in report.get("rss_curve_mb", [])]
        if len(curve) >= 6:
            report["trend_mb"] = round(sorted(curve[-3:])[1] - sorted(curve[:3])[1], 1)
        ok = ok and report["growth_mb"] < TARGET_MB and report.get("trend_mb", 0) < TARGET_MB
        print(
            f"{report['settings_done']:,} distinct settings in {report['drive_s']} s ({args.pages} {args.driver} sessions at a time): server RSS "
            f"cold {report['rss_cold_mb']} MB, warm {report['rss_warm_mb']} MB, end {report['rss_end_mb']} MB, "
            f"settled {report['rss_settled_mb']} MB, peak {report['rss_peak_mb']} MB; growth {report['growth_mb']} MB, "
            f"trend over the run {report.get('trend_mb', 'n/a')} MB "
            f"(target < {TARGET_MB:.0f} MB); errors {report['errors']}"
        )
    for line in errors[:20]:
        print("  error:", line)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
