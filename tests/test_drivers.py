"""The two drivers of the one compiled step agree bit for bit, row by row.

The trajectory driver (sweeps: whole trajectories, draws from a shared table) and the ensemble driver (the
Mesa model: month by month, agents deciding in turn) call the same step functions with the same draws, so
every outcome must be *equal* — for aggregate opinion and for citizens, for single points and batches, for
any subset of replicates and any blocking of the draw table.
"""

from __future__ import annotations

import numpy as np
import pytest
from builders import with_north_korea

from alliance_sim.model import drivers
from alliance_sim.model.batching import compile_batch
from alliance_sim.model.compiled import compile_parameters
from alliance_sim.model.drivers import run_trajectories
from alliance_sim.model.model import AllianceModel
from alliance_sim.model.parameters import (
    BargainingChip,
    Parameters,
    ScriptedEvent,
    TariffStep,
)

MONTHS = 36
REPLICATES = 128
SEED = 424242
KEYS = ("alignment", "cohesion", "crossed", "min_cohesion", "tariff", "threat", "reliability")


def _base(citizens: int = 0) -> Parameters:
    p = Parameters()
    p.population.size_per_ally = citizens
    return p


def chip_params() -> Parameters:
    p = _base()
    p.actors["KOR"].bargaining_chip = BargainingChip(available_from="2025-10", base_utility=-1.0)
    p.tariffs = [TariffStep(month="2025-08", target="KOR", rate=0.25)]
    return p


def adversary_params() -> Parameters:
    return with_north_korea(_base())


def events_params() -> Parameters:
    p = _base()
    p.events = [
        ScriptedEvent(month="2025-09", kind="threat", targets=["KOR", "JPN"], magnitude=0.6, source="PRK"),
        ScriptedEvent(month="2025-10", kind="threat", targets=["JPN"], magnitude=0.3),
        ScriptedEvent(month="2025-11", kind="reassurance", targets=["KOR"], magnitude=0.8),
        ScriptedEvent(month="2026-01", kind="leader", targets=["JPN"], orientation=0.9),
        ScriptedEvent(month="2026-02", kind="coercion", targets=["KOR"]),
        ScriptedEvent(month="2026-03", kind="inducement", targets=["JPN"]),
        ScriptedEvent(month="2026-05", kind="threat", targets=["KOR"], magnitude=0.4, source="CHN"),
        ScriptedEvent(month="2026-07", kind="threat", targets=["JPN"], magnitude=-0.5, source="CHN"),
    ]
    return p


def elections_params() -> Parameters:
    p = _base()
    p.actors["KOR"].elections = ["2026-06"]
    p.actors["JPN"].elections = ["2025-12", "2027-01"]
    return p


def scripted_params() -> Parameters:
    p = _base()
    p.us_policy.mode = "scripted"
    p.china_policy.mode = "scripted"
    p.tariffs = [TariffStep(month="2025-08", target="JPN", rate=0.25)]
    p.events = [ScriptedEvent(month="2025-12", kind="coercion", targets=["JPN", "KOR"])]
    return p


def citizens_params() -> Parameters:
    p = events_params()
    p.population.size_per_ally = 20
    p.actors["KOR"].elections = ["2026-06"]
    return p


SCENARIOS = {"default": _base, "chip": chip_params, "adversary": adversary_params, "events": events_params,
             "elections": elections_params, "scripted": scripted_params, "citizens": citizens_params,
             "citizens_adversary": lambda: with_north_korea(_base(7))}


def batch_points() -> list[Parameters]:
    """Five points differing in mechanism, actor, threat, policy and schedule values."""
    points = []
    for k in range(5):
        p = chip_params()
        p.mechanisms.threat_weight = 0.6 + 0.2 * k
        p.mechanisms.tie_noise_sd = [0.0, 0.02, 0.05, 0.03, 0.01][k]
        p.mechanisms.threat_half_life_months = 4.0 + 2.0 * k
        p.actors["KOR"].exports_to_gdp = 0.3 + 0.05 * k
        p.actors["JPN"].leader_latitude = 0.1 + 0.05 * k
        p.threats["china_grey_zone"].rate_per_month = 2.0 + k
        p.threats["china_grey_zone"].mean_magnitude = 0.02 + 0.01 * k
        p.us_policy.tariff_step = 0.03 + 0.01 * k
        p.tariffs = [TariffStep(month="2025-08", target="KOR", rate=0.1 + 0.05 * k)]
        points.append(p)
    return points


def ensemble_outcomes(compiled, ids, seed: int, months: int) -> dict[str, np.ndarray]:
    """The keys of run_trajectories, from the Mesa model stepped month by month (agents deciding in turn)."""
    model = AllianceModel(replicate_ids=ids, seed=seed, collect=False, compiled=compiled)
    rows = len(ids)
    crossed = np.zeros((rows, compiled.n_allies), dtype=bool)
    min_coh = np.full(rows, np.inf)
    for _ in range(months):
        model.step()
        s = model.state
        crossed |= s.alignment < 0
        np.minimum(min_coh, s.cohesion, out=min_coh)
    s = model.state
    return {"alignment": s.alignment, "cohesion": s.cohesion, "crossed": crossed, "min_cohesion": min_coh,
            "tariff": s.tariff, "threat": s.threat[:, compiled.ally_idx], "reliability": s.reliability}


def rows_differing(a: dict, b: dict, rows: int) -> np.ndarray:
    bad = np.zeros(rows, dtype=bool)
    for k in KEYS:
        x = np.asarray(a[k], dtype=float).reshape(rows, -1)
        y = np.asarray(b[k], dtype=float).reshape(rows, -1)
        bad |= ~(x == y).all(axis=1)
    return bad


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_trajectory_driver_equals_ensemble_driver(name):
    c = compile_parameters(SCENARIOS[name](), MONTHS)
    ids = np.arange(REPLICATES)
    traj = run_trajectories(c, ids, SEED, MONTHS)
    bad = rows_differing(ensemble_outcomes(c, ids, SEED, MONTHS), traj, REPLICATES)
    assert bad.sum() == 0, f"{bad.sum()} of {REPLICATES} rows differ"
    # The comparison means something only if the trajectories move and differ between replicates.
    assert np.std(traj["alignment"][:, 1]) > 1e-3


def test_batch_rows_equal_their_points_alone():
    points = batch_points()
    c = compile_batch(points, REPLICATES, MONTHS)
    ids = np.tile(np.arange(REPLICATES), len(points))
    traj = run_trajectories(c, ids, SEED, MONTHS)
    bad = rows_differing(ensemble_outcomes(c, ids, SEED, MONTHS), traj, len(ids))
    assert bad.sum() == 0, f"{bad.sum()} of {len(ids)} rows differ"
    # A row's result does not depend on the other rows: each point alone, and a subset of replicates.
    for k, p in enumerate(points):
        alone = run_trajectories(compile_parameters(p, MONTHS), np.arange(REPLICATES), SEED, MONTHS)
        for key in KEYS:
            assert np.array_equal(alone[key], traj[key][k * REPLICATES:(k + 1) * REPLICATES]), (k, key)
    sub = np.arange(3, 40, 5)
    part = run_trajectories(compile_parameters(points[2], MONTHS), sub, SEED, MONTHS)
    for key in KEYS:
        assert np.array_equal(part[key], traj[key][2 * REPLICATES + sub]), key
    # The points really differ (else equality across the batch would prove little).
    means = traj["alignment"][:, 1].reshape(len(points), REPLICATES).mean(axis=1)
    assert np.ptp(means) > 0.01


def test_draw_table_blocks_do_not_change_results(monkeypatch):
    """Rows whose replicate keys do not fit one draw table run in blocks of keys: the same numbers."""
    points = batch_points()[:3]
    c = compile_batch(points, 40, 24)
    ids = np.tile(np.arange(40), len(points))
    whole = run_trajectories(c, ids, SEED, 24)
    monkeypatch.setattr(drivers, "_DRAW_TABLE_BYTES", 7 * 24 * drivers.draw_width(c) * 8)  # 7 keys a block: 6 blocks
    blocked = run_trajectories(c, ids, SEED, 24)
    for key in KEYS:
        assert np.array_equal(whole[key], blocked[key]), key


@pytest.mark.parametrize("citizens", [0, 30])
def test_memory_estimate_is_what_the_ensemble_holds(citizens):
    """api's memory check reads the state layout: it equals the bytes of the arrays an EnsembleSim holds."""
    p = with_north_korea(_base(citizens))
    c = compile_parameters(p, 3)
    sim = drivers.EnsembleSim(c, np.arange(64), SEED)
    held = sum(a.nbytes for a in (sim.Z, sim.Dr, sim.P, sim.V, sim.MK, sim.MD, sim.keys, sim.prow))
    assert held == 64 * drivers.ensemble_bytes_per_replicate(c)
