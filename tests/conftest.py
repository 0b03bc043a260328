"""Shared fixtures: the real app under `streamlit run`, and a headless Debian Chromium."""

from __future__ import annotations

import gc
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "test-output"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


LAB_WORKER = "epochsteps-lab"  # app.py's lab_pool: the training lab's one background worker
_lab_pools: weakref.WeakSet[ThreadPoolExecutor] = weakref.WeakSet()


def lab_pools() -> list[ThreadPoolExecutor]:
    """The page's lab worker pools in this process (AppTest runs the page here), found once."""
    threads = {t for t in threading.enumerate() if t.name.startswith(LAB_WORKER)}
    if not threads:
        return []
    if not threads <= {t for pool in _lab_pools for t in pool._threads}:
        for o in gc.get_objects():
            if isinstance(o, ThreadPoolExecutor) and o._thread_name_prefix == LAB_WORKER:
                _lab_pools.add(o)
    return list(_lab_pools)


@pytest.fixture(autouse=True)
def lab_worker_idle():
    """Each test ends with the lab's worker idle. An AppTest session never closes, so the lab
    charts a test's page asked for last stay wanted; with one worker for the process, first
    come first served, they would still be training when the next test's page asks for its own."""
    yield
    for pool in lab_pools():
        try:
            pool.submit(int).result(timeout=120)  # one thread: done once everything queued before it is
        except RuntimeError:  # shut down
            pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not become healthy in {timeout:.0f} s")


class Server:
    """`streamlit run <script>` on a free 127.0.0.1 port; stop() ends it (and only it)."""

    def __init__(self, script: Path, extra: list[str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = OUTPUT / f"streamlit-{script.stem}.log"  # the latest run of each script
        OUTPUT.mkdir(exist_ok=True)
        cmd = [
            sys.executable, "-m", "streamlit", "run", str(script),
            "--server.port", str(self.port), "--server.address", "127.0.0.1", "--server.headless", "true",
            "--browser.gatherUsageStats", "false", *(extra or []),
        ]  # fmt: skip
        self._log = open(self.log, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd, cwd=script.parent, stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        try:
            wait_healthy(self.url, self.proc)
        except Exception:
            self.stop()
            raise

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@pytest.fixture(scope="session")
def app_server():
    server = Server(ROOT / "app.py")
    yield server
    server.stop()


def chromium_path() -> str | None:
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def browser():
    if chromium_path() is None:
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT
