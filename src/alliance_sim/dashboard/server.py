"""Serve the dashboard with Solara, offline.

Solara's page loads its JavaScript, CSS and fonts from a CDN unless its asset proxy is on and the
files are in the proxy's cache folder (``<venv>/share/solara/cdn``); the ``solara-assets`` package
(a dependency of the ``viz`` extra) installs exactly that folder.  This module checks the files the
page needs are there before starting, turns Solara's CDN fetch into an error (nothing is ever fetched
from the internet at run time) and switches off Solara's usage telemetry and version check.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

APP = "alliance_sim.dashboard.page"


class DashboardError(Exception):
    """The dashboard cannot start (one-line message)."""


def _offline_environment(scenario: str) -> None:
    os.environ["ALLIANCE_DASHBOARD_SCENARIO"] = scenario
    os.environ["SOLARA_ASSETS_PROXY"] = "true"  # serve assets from the local folder, not the CDN
    os.environ["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "false"  # no usage reports to the internet
    os.environ.setdefault("MPLBACKEND", "Agg")


def check_stack() -> None:
    """Raise :class:`DashboardError` unless Solara and a Vue 2 ipyvue/ipyvuetify are installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        for pkg in ("solara", "solara-assets", "ipyvue", "ipyvuetify"):
            version(pkg)
    except PackageNotFoundError as exc:
        raise DashboardError(f"{exc.args[0]} is not installed; install the dashboard with "
                             "pip install -e '.[viz]'") from None
    for pkg in ("ipyvue", "ipyvuetify"):
        if int(version(pkg).split(".")[0]) >= 2:
            raise DashboardError(f"{pkg} {version(pkg)} is a Vue 3 build whose page assets solara-assets does not "
                                 "ship; install the pinned versions with pip install -e '.[viz]'")


def needed_assets() -> list[str]:
    """The CDN paths (package@version/...) of the Vue 2 page template, as the browser requests them."""
    import solara.server
    import solara.server.settings as settings

    template = Path(solara.server.__file__).parent / "templates" / "solara.html.j2"
    text = template.read_text(encoding="utf-8")
    found = set(re.findall(r"\{\{cdn\}\}/((?:@[\w.-]+/)?[\w.-]+@[\w.-]+)/", text))
    found.add(settings.assets.fontawesome_path.strip("/").split("/")[0])  # {{cdn}}{{assets.fontawesome_path}}
    return sorted(p for p in found if "vuetify3" not in p)  # the Vue 3 app is not used with ipyvuetify 1.x


def check_assets() -> Path:
    """The local asset folder, after checking the page's packages are in it."""
    import solara.server.settings as settings

    folder = Path(settings.assets.proxy_cache_dir)
    missing = [p for p in needed_assets() if not (folder / p).is_dir()]
    if missing:
        raise DashboardError(f"{folder}: missing Solara assets {', '.join(missing)}; the installed solara and "
                             "solara-assets do not match (reinstall with pip install -e '.[viz]')")
    return folder


def forbid_cdn() -> None:
    """Make any asset not in the local folder a logged error instead of an internet request."""
    from solara.server import cdn_helper

    def refuse(url):
        raise RuntimeError(f"asset {url} is not installed locally and the dashboard never uses the internet")

    cdn_helper.fetch_from_cdn = refuse


def warm_up() -> None:
    """Compile the model's numba kernels in the background, so a visitor's first Step is not slow."""

    def run():
        from alliance_sim.dashboard.session import Session, Settings
        from alliance_sim.scenario import load_scenario

        Session(load_scenario("baseline_2025"), Settings(replicates=4)).step()

    threading.Thread(target=run, daemon=True, name="dashboard-warm-up").start()


def serve(scenario: str, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Check everything, then serve the page until interrupted."""
    from alliance_sim.scenario import load_scenario

    load_scenario(scenario)  # a bad scenario is a one-line error before anything starts
    if not 0 < port < 65536:
        raise DashboardError(f"--port: expected 1 to 65535, got {port}")
    check_stack()
    _offline_environment(scenario)
    check_assets()
    forbid_cdn()
    warm_up()
    from solara.__main__ import run

    run.main(args=[APP, "--host", host, "--port", str(port), "--production", "--no-open", "--no-check-version",
                   "--log-level", "warning", "--log-level-uvicorn", "warning"], standalone_mode=False)
