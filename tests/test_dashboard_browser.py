"""The dashboard in a real browser: Debian's chromium driven by Playwright against
``alliance dashboard`` on 127.0.0.1 (no internet: every asset must come from the local install).

Screenshots go to ``outputs/browser-test/`` (git-ignored) for a person to look at.  Without chromium
or playwright the test is skipped locally but fails in CI (``CI=true``), where .ci/run installs both.
Timings are printed, never asserted.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHOTS = Path(os.environ.get("ALLIANCE_SCREENSHOTS", ROOT / "outputs" / "browser-test"))
IN_CI = os.environ.get("CI", "").lower() == "true"
START_TIMEOUT = 180  # seconds; the first start may compile the model's numba kernels


def _missing(reason: str):
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the browser test must run; .ci/run installs it)")
    pytest.skip(reason)


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    _missing("Debian's chromium is not installed (apt-get install -y chromium)")


def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[dev]')")
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    env = {**os.environ, "MPLBACKEND": "Agg"}
    SHOTS.mkdir(parents=True, exist_ok=True)
    log = open(SHOTS / "server.log", "w")  # noqa: SIM115  (closed after the server stops)
    proc = subprocess.Popen([sys.executable, "-m", "alliance_sim.cli", "dashboard", "tariff_shock_2025",
                             "--port", str(port), "--host", "127.0.0.1"], env=env, cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if proc.poll() is not None:
            pytest.fail(f"alliance dashboard exited with code {proc.returncode} before serving")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"alliance dashboard did not answer on {url} within {START_TIMEOUT} s")
        time.sleep(0.5)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    sync_playwright = _playwright()
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=executable, headless=True,
                               args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


class Visitor:
    """One browser context (a visitor) on the dashboard, recording console errors and failed requests."""

    def __init__(self, browser, url: str, name: str):
        self.name = name
        self.context = browser.new_context(viewport={"width": 1500, "height": 1100})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.errors.append(f"request failed: {r.url}"))
        self.page.goto(url, wait_until="domcontentloaded")
        self.page.wait_for_selector(".overview-chart img", state="visible", timeout=START_TIMEOUT * 1000)
        self.page.wait_for_selector(".network-chart img", state="visible", timeout=60_000)

    def chart(self) -> str:
        return self.page.get_attribute(".overview-chart img", "src") or ""

    def status(self) -> str:
        return self.page.inner_text(".status-line")

    def wait_chart_change(self, before: str, timeout: float = 60.0) -> float:
        """Seconds until the overview image differs from ``before``."""
        t0 = time.perf_counter()
        self.page.wait_for_function("(b) => { const i = document.querySelector('.overview-chart img');"
                                    " return i && i.src && i.src !== b && i.complete && i.naturalWidth > 0; }",
                                    arg=before, timeout=timeout * 1000, polling=10)
        return time.perf_counter() - t0

    def step(self) -> float:
        before = self.chart()
        self.page.click(".step-button")
        return self.wait_chart_change(before)

    def shot(self, what: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{self.name}-{what}.png"), full_page=True)

    def image_size(self) -> tuple[int, int]:
        return tuple(self.page.eval_on_selector(".overview-chart img", "i => [i.naturalWidth, i.naturalHeight]"))


def test_dashboard_in_chromium(server, browser):
    a = Visitor(browser, server, "a")
    a.shot("1-loaded")
    width, height = a.image_size()
    assert width > 400 and height > 200, "the chart image did not render"
    assert "month 0 of 24" in a.status()
    assert "Step one month" in a.page.inner_text("body")

    # Step: the chart changes; time from click to the new image (1,000 replicates)
    first = a.chart()
    times = [a.step() for _ in range(6)]
    assert a.chart() != first
    assert "month 6 of 24" in a.status()
    assert "What the agents decided in" in a.page.inner_text(".decision-log")
    ms = [round(t * 1000) for t in times]
    print(f"\nbrowser: one step of 1,000 replicates, click to new chart: median {statistics.median(ms):.0f} ms, "
          f"max {max(ms)} ms over {len(ms)} steps ({', '.join(map(str, ms))} ms)")
    a.shot("2-six-steps")

    # A slider: +10 pp tariff on Korea replays the six months with it, so the curves change
    before = a.chart()
    a.page.focus(".slider-tariff-KOR [role=slider]")
    a.page.keyboard.press("ArrowRight")
    a.page.keyboard.press("ArrowRight")
    a.wait_chart_change(before)
    a.shot("3-tariff-slider")
    a.page.wait_for_selector("text=+10 percentage points", timeout=30_000)
    assert "month 6 of 24" in a.status()
    assert a.chart() != before
    a.shot("3-tariff-slider")

    # Reset: back to the first month (a one-point chart), with the slider kept
    before = a.chart()
    a.page.click(".reset-button")
    a.wait_chart_change(before)
    assert "month 0 of 24" in a.status()

    # The scenario picker loads another scenario with its dated events
    a.page.click(".scenario-picker")
    a.page.click(".v-menu__content .v-list-item:has-text('present_2026')")
    a.page.wait_for_selector("text=Lee elected", timeout=60_000)
    assert "month 0 of 23" in a.status() and "Jan 2025" in a.status()
    a.step()
    a.shot("4-present_2026")

    # A second visitor has a model of their own: neither sees the other's steps
    b = Visitor(browser, server, "b")
    assert "month 0 of 24" in b.status(), "the second visitor did not start on a fresh model"
    a_status, a_chart = a.status(), a.chart()
    b.step()
    b.step()
    assert "month 2 of 24" in b.status()
    time.sleep(1.0)  # give a stray update to the first visitor time to arrive
    assert (a.status(), a.chart()) == (a_status, a_chart), "the first visitor's page moved with the second's"
    b_status, b_chart = b.status(), b.chart()
    a.step()
    assert "month 2 of 23" in a.status()
    time.sleep(1.0)
    assert (b.status(), b.chart()) == (b_status, b_chart), "the second visitor's page moved with the first's"
    b.shot("5-second-visitor")
    a.shot("6-first-visitor-after")

    for v in (a, b):
        assert v.errors == [], f"visitor {v.name}: " + "; ".join(v.errors)
        v.context.close()
