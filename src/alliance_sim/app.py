"""Kept for ``solara run src/alliance_sim/app.py``: the dashboard's page (``alliance_sim.dashboard``).

Prefer ``alliance dashboard [SCENARIO]``, which also checks that Solara's assets are installed
locally, refuses any CDN request and turns Solara's telemetry off, so the page works offline.
(This used to be a Mesa SolaraViz page; its Vue 2 grid layout stays blank under ipyvue 3, and all
visitors shared one model built at import.)
"""

from alliance_sim.dashboard.page import Page  # noqa: F401  (what solara serves)
