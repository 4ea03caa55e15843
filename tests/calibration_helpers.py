"""Small calibration files for the tests (seconds, serial)."""

from __future__ import annotations

from pathlib import Path

TINY = """
name = "tiny"
[[parameters]]
name = "mechanisms.trade_elasticity"
prior = {{ kind = "uniform", low = 0.0, high = 5.0 }}

[[parameters]]
name = "mechanisms.diversion_to_china"
prior = {{ kind = "uniform", low = 0.0, high = 1.0 }}

[[targets]]
scenario = "present_2026"
series = {{ file = "trade_shares", where = {{ partner = "USA", period_type = "year" }} }}
ally = "JPN"
variable = "export_share_us"
years = [2025]

[[targets]]
scenario = "present_2026"
series = {{ file = "trade_shares", where = {{ partner = "CHN", period_type = "year" }} }}
ally = "KOR"
variable = "export_share_china"
years = [2025]

[abc]
population_size = {pop}
generations = {gens}
replicates = 2
seed = 5
predictive_draws = {draws}

[cluster]
workers = 0
"""


def write_tiny(folder: Path, pop: int = 12, gens: int = 2, draws: int = 6, name: str = "tiny.toml") -> Path:
    path = folder / name
    path.write_text(TINY.format(pop=pop, gens=gens, draws=draws))
    return path
