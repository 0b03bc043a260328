"""Shared fixtures: the real app under `streamlit run`, and a headless Debian Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
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


def headings(at) -> list[str]:
    """An AppTest page's section titles in page order: st.header's, and the "## " line a
    section's markdown opens with (a title and its text are one element, see page.sections.heading)."""

    def walk(node):
        for child in getattr(node, "children", {}).values():
            kind, value = getattr(child, "type", ""), getattr(child, "value", None)
            if kind == "header":
                yield value
            elif kind == "markdown" and value.startswith("## "):
                yield value.split("\n", 1)[0][3:]
            yield from walk(child)

    return list(walk(at._tree))
