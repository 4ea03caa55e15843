"""The progress display says why a run is slow to start (a first run compiles the step) and then gives way
to the bar."""

from __future__ import annotations

import io
import time

from rich.console import Console

from alliance_sim.api import progress_bar


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=120), out


def test_a_slow_start_is_explained_then_the_bar_takes_over():
    console, out = _console()
    with progress_bar("tariff_shock_2025", enabled=True, delay=0.05, console=console) as tick:
        time.sleep(0.4)  # nothing done yet: as while numba compiles
        tick(10, 100)
        time.sleep(0.1)
        tick(100, 100)
    text = out.getvalue()
    assert "compiles the model's step" in text
    assert "repl-months/s" in text or "100%" in text


def test_no_message_when_work_starts_at_once():
    console, out = _console()
    with progress_bar("quick", enabled=True, delay=0.3, console=console) as tick:
        tick(1, 2)
        time.sleep(0.5)
        tick(2, 2)
    assert "compiles" not in out.getvalue()
