"""The report page in a real browser: Debian's chromium driven by Playwright, opening the HTML file as a
person would (``file://``).  The page must show its content (a blank page fails), every image must have
decoded, nothing may be requested but the file itself and its ``data:`` images, the console must stay
clean (a stylesheet the Content-Security-Policy refused would be an error there), and every internal link
must lead to an element of the page.

Screenshots go to ``outputs/browser-test/`` (git-ignored).  Without chromium or playwright the test is
skipped locally but fails in CI (``CI=true``), where .ci/run installs both.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from report_helpers import make_compare, make_run

from alliance_sim.report import make_report

ROOT = Path(__file__).resolve().parents[1]
SHOTS = Path(os.environ.get("ALLIANCE_SCREENSHOTS", ROOT / "outputs" / "browser-test"))
IN_CI = os.environ.get("CI", "").lower() == "true"


def _missing(reason: str):
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the browser test must run; .ci/run installs it)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """The report of a run folder and of a compare folder (HTML files)."""
    base = tmp_path_factory.mktemp("report-browser")
    return {"run": make_report(make_run(base))[0], "compare": make_report(make_compare(base))[0]}


@pytest.fixture(scope="module")
def browser():
    executable = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else shutil.which("chromium")
    if not executable:
        _missing("Debian's chromium is not installed (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=executable, headless=True,
                               args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-background-networking",
                                     "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()


@pytest.mark.parametrize("kind", ["run", "compare"])
def test_report_in_a_browser(pages, browser, kind):
    path = pages[kind]
    url = path.resolve().as_uri()
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning")
            else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url[:80]} {r.failure}"))
    page.on("request", lambda r: requests.append(r.url))
    try:
        response = page.goto(url, wait_until="load")
        assert response is not None and response.ok
        page.wait_for_function("Array.from(document.images).every(i => i.complete)")

        # it shows its content: a title, the question, one headline row per ally, the charts
        assert page.locator("h1").inner_text().strip()
        assert page.locator("#question blockquote").inner_text().strip().endswith("?")
        allies = page.locator("td [data-col='p_crossed_by_horizon']")
        assert allies.count() == (2 if kind == "run" else 4)
        assert all(t.strip().endswith("%") for t in allies.all_inner_texts())
        body_height = page.evaluate("document.body.scrollHeight")
        assert body_height > 2500, body_height

        # every image decoded, at its own size, and drawn on screen
        images = page.evaluate("Array.from(document.images).map(i => [i.naturalWidth, i.naturalHeight, "
                               "i.getBoundingClientRect().width, i.src.slice(0, 22)])")
        assert len(images) >= (3 if kind == "run" else 2)
        for w, h, shown, src in images:
            assert w > 0 and h > 0 and shown > 300, (w, h, shown)
            assert src == "data:image/png;base64,"

        # the inline stylesheet applied (the policy allowed it by its hash)
        assert page.evaluate("getComputedStyle(document.body).maxWidth") == "930px"
        assert page.evaluate("getComputedStyle(document.querySelector('header.top')).borderBottomStyle") == "solid"

        # only the file itself and its data: images were requested
        others = [u for u in requests if not (u == url or u.startswith("data:"))]
        assert others == [], others

        # every internal link resolves; following one scrolls its target into view
        hrefs = page.evaluate("Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'))")
        assert len(hrefs) >= 6
        for href in hrefs:
            assert href.startswith("#"), href
            assert page.evaluate("id => document.getElementById(id) !== null", href[1:]), href
        page.click("nav.toc a[href='#figures']")  # mid-page: scrolled to the top of the window
        page.wait_for_function("location.hash === '#figures'")
        assert abs(page.evaluate("document.getElementById('figures').getBoundingClientRect().top")) < 5
        assert page.evaluate("window.scrollY") > 500
        page.evaluate("window.scrollTo(0, 0)")
        page.click("nav.toc a[href='#provenance']")  # the last section: in view at the bottom of the page
        page.wait_for_function("location.hash === '#provenance'")
        top = page.evaluate("document.getElementById('provenance').getBoundingClientRect().top")
        assert 0 <= top < 900, top

        assert problems == [], problems
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(SHOTS / f"report-{kind}.png"), full_page=True)
    finally:
        context.close()
