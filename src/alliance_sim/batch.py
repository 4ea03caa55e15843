"""Run many parameter points at once, each with the same replicates (common random numbers), and
reduce each point to its outcomes.  This is the unit of work of a sweep task.

Every point uses replicate ids 0..R-1 and the same seed, so differences between points come from the
parameters, not from different luck.  The outcomes of a point depend only on (base, overrides of the
point, R, seed, months), never on which other points share the task.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import xarray as xr

from alliance_sim.model.batching import StructureMismatch, compile_batch
from alliance_sim.model.compiled import compile_parameters
from alliance_sim.model.fused import run_fused
from alliance_sim.model.model import AllianceModel
from alliance_sim.model.parameters import Parameters
from alliance_sim.overrides import apply_overrides
from alliance_sim.summaries import QUANTILES

OUTCOMES = {
    "p_crossed": "Probability the ally has crossed to Beijing's side (alignment < 0) by the horizon",
    "p_beijing_side_final": "Probability the ally is on Beijing's side at the horizon",
    "final_alignment_mean": "Mean alignment at the horizon",
    "final_alignment_q": "Quantiles of alignment at the horizon",
    "final_cohesion_q": "Quantiles of trilateral cohesion at the horizon",
    "min_cohesion_q": "Quantiles of each replicate's minimum cohesion",
    "final_tariff_mean": "Mean effective US tariff at the horizon",
    "final_threat_mean": "Mean perceived threat at the horizon",
    "final_reliability_mean": "Mean perceived reliability of the patron at the horizon",
}


# Blocks of aggregate-opinion points (population.size_per_ally = 0) run with the fused numba kernel
# (model/fused.py), which computes the numpy engine's trajectories up to the last bits of libm results
# and is ~6x faster in a full Sobol sweep (benchmarks/bench_sweep.py).  Its first compilation takes about a
# minute and is cached; ALLIANCE_SIM_FUSED=0 selects the numpy engine instead.
FUSED_DEFAULT = os.environ.get("ALLIANCE_SIM_FUSED", "1").lower() in ("1", "true", "yes")


def step_to_horizon(model: AllianceModel, months: int) -> dict[str, np.ndarray]:
    """Step ``model`` to the horizon; per row: final alignment, cohesion, tariff, allies' threat and
    reliability, whether alignment ever went below 0 and the lowest cohesion (the keys of ``run_fused``)."""
    rows = model.state.replicates
    crossed = np.zeros((rows, model.compiled.n_allies), dtype=bool)
    min_coh = np.full(rows, np.inf)
    for _ in range(months):
        model.step()
        s = model.state
        crossed |= s.alignment < 0
        np.minimum(min_coh, s.cohesion, out=min_coh)
    s = model.state
    return {"alignment": s.alignment, "cohesion": s.cohesion, "crossed": crossed, "min_cohesion": min_coh,
            "tariff": s.tariff, "threat": s.threat[:, model.compiled.ally_idx], "reliability": s.reliability}


def _batch_outcomes(model: AllianceModel, months: int, n_points: int) -> dict[str, np.ndarray]:
    """Step ``model`` (n_points × R rows) to the horizon; reduce each point's rows to outcome arrays."""
    return _reduce(step_to_horizon(model, months), n_points)


def _reduce(final: dict[str, np.ndarray], n_points: int) -> dict[str, np.ndarray]:
    """Each point's outcomes from its rows' final alignment, cohesion, crossed flags, minimum cohesion,
    tariff, allies' threat and reliability (the keys returned by ``fused.run_fused``)."""
    rows = final["cohesion"].shape[0]
    R = rows // n_points
    q = np.array(QUANTILES)

    def per_point(x):
        return x.reshape((n_points, R) + x.shape[1:])

    align = per_point(final["alignment"])
    return {
        "p_crossed": per_point(final["crossed"]).mean(axis=1),
        "p_beijing_side_final": (align < 0).mean(axis=1),
        "final_alignment_mean": align.mean(axis=1),
        "final_alignment_q": np.moveaxis(np.quantile(align, q, axis=1), 0, 1),
        "final_cohesion_q": np.quantile(per_point(final["cohesion"]), q, axis=1).T,
        "min_cohesion_q": np.quantile(per_point(final["min_cohesion"]), q, axis=1).T,
        "final_tariff_mean": per_point(final["tariff"]).mean(axis=1),
        "final_threat_mean": per_point(final["threat"]).mean(axis=1),
        "final_reliability_mean": per_point(final["reliability"]).mean(axis=1),
    }


def _run_block(params: list[Parameters], replicates: int, seed: int, months: int,
               fused: bool | None = None) -> dict[str, np.ndarray]:
    """Outcomes of points that share the model's structure, in one batched ensemble.

    ``fused`` (default ``FUSED_DEFAULT``, from the environment variable ALLIANCE_SIM_FUSED) runs
    aggregate-opinion blocks with the fused numba kernel; citizens' populations use the numpy engine."""
    compiled = compile_batch(params, replicates, months)
    ids = np.tile(np.arange(replicates), len(params))
    fused = FUSED_DEFAULT if fused is None else fused
    if fused and all(p.population.size_per_ally == 0 for p in params):
        try:
            return _reduce(run_fused(compiled, ids, seed, months), len(params))
        except NotImplementedError:  # e.g. threat rates in the normal-approximation range
            pass
    model = AllianceModel(replicate_ids=ids, seed=seed, collect=False, compiled=compiled)
    out = _batch_outcomes(model, months, len(params))
    model.state = None  # the model-agent reference cycle would otherwise keep the state until a GC pass
    return out


def run_points(base: Parameters, points: list[dict[str, Any]], replicates: int, seed: int | None = None,
               months: int | None = None) -> xr.Dataset:
    """Outcomes of each point (a dict of dotted-key overrides of ``base``) over ``replicates`` replicates.

    Points are run together as one batched ensemble when they share the model's structure, else one
    by one; either way a point's outcomes depend only on its own parameters, ``replicates``, ``seed``
    and ``months``.  Returns a dataset with dims (point, ally, quantile).
    """
    seed = base.simulation.seed if seed is None else int(seed)
    T = base.simulation.months if months is None else int(months)
    allies = compile_parameters(base, 1).allies
    params = [apply_overrides(base, overrides) for overrides in points]
    if params:
        try:
            out = _run_block(params, replicates, seed, T)
        except StructureMismatch:
            each = [_run_block([p], replicates, seed, T) for p in params]
            out = {k: np.concatenate([e[k] for e in each]) for k in each[0]}
    data = {}
    dims = {"p_crossed": ("point", "ally"), "p_beijing_side_final": ("point", "ally"),
            "final_alignment_mean": ("point", "ally"), "final_alignment_q": ("point", "quantile", "ally"),
            "final_cohesion_q": ("point", "quantile"), "min_cohesion_q": ("point", "quantile"),
            "final_tariff_mean": ("point", "ally"), "final_threat_mean": ("point", "ally"),
            "final_reliability_mean": ("point", "ally")}
    for key, d in dims.items():
        sizes = {"point": 0, "ally": len(allies), "quantile": len(QUANTILES)}
        arr = out[key] if params else np.zeros(tuple(sizes[x] for x in d))
        data[key] = xr.Variable(d, arr, {"long_name": OUTCOMES[key]})
    return xr.Dataset(data, coords={"point": np.arange(len(points)), "ally": allies,
                                    "quantile": list(QUANTILES)})
