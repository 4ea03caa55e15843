"""Run many parameter points at once, each with the same replicates (common random numbers), and
reduce each point to its outcomes.  This is the unit of work of a sweep task.

Every point uses replicate ids 0..R-1 and the same seed, so differences between points come from the
parameters, not from different luck.  The outcomes of a point depend only on (base, overrides of the
point, R, seed, months), never on which other points share the task.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from alliance_sim.model.batching import StructureMismatch, compile_batch
from alliance_sim.model.compiled import compile_parameters
from alliance_sim.model.drivers import run_trajectories
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


def _reduce(final: dict[str, np.ndarray], n_points: int) -> dict[str, np.ndarray]:
    """Each point's outcomes from its rows' final alignment, cohesion, crossed flags, minimum cohesion,
    tariff, allies' threat and reliability (the keys returned by ``drivers.run_trajectories``)."""
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


def _run_block(params: list[Parameters], replicates: int, seed: int, months: int) -> dict[str, np.ndarray]:
    """Outcomes of points that share the model's structure: whole trajectories of all their rows in one call
    of the compiled step's trajectory driver (citizens included)."""
    compiled = compile_batch(params, replicates, months)
    ids = np.tile(np.arange(replicates), len(params))
    return _reduce(run_trajectories(compiled, ids, seed, months), len(params))


def _run_posterior_block(base: Parameters, points: list[dict[str, Any]], replicates: int, seed: int, months: int,
                         posterior) -> dict[str, np.ndarray]:
    """Outcomes of points whose replicate r carries the parameters of its particle of ``posterior`` (the same
    particle at every point: common parameters as well as common draws), the point's own overrides winning
    where a factor is also a parameter of the posterior."""
    from alliance_sim.posterior import particle_of

    used, position = np.unique(particle_of(posterior, seed, np.arange(replicates)), return_inverse=True)
    rows = []
    for overrides in points:
        for k in used:
            drawn = {n: v for n, v in posterior.overrides(int(k)).items() if n not in overrides}
            rows.append(apply_overrides(base, {**drawn, **overrides}, via="posterior", source=posterior.path))
    index = np.concatenate([j * len(used) + position for j in range(len(points))])
    compiled = compile_batch(rows, 1, months, index=index)
    ids = np.tile(np.arange(replicates), len(points))
    return _reduce(run_trajectories(compiled, ids, seed, months), len(points))


def run_points(base: Parameters, points: list[dict[str, Any]], replicates: int, seed: int | None = None,
               months: int | None = None, posterior=None) -> xr.Dataset:
    """Outcomes of each point (a dict of dotted-key overrides of ``base``) over ``replicates`` replicates.

    Points are run together as one batched ensemble when they share the model's structure, else one
    by one; either way a point's outcomes depend only on its own parameters, ``replicates``, ``seed``
    and ``months``.  With ``posterior`` (a ``posterior.Posterior``) replicate r of every point draws the
    parameters of the same particle (``posterior.particle_of``), so a sweep's bands carry parameter
    uncertainty as well as chance.  Returns a dataset with dims (point, ally, quantile).
    """
    seed = base.simulation.seed if seed is None else int(seed)
    T = base.simulation.months if months is None else int(months)
    allies = compile_parameters(base, 1).allies
    if points and posterior is not None:
        try:
            out = _run_posterior_block(base, points, replicates, seed, T, posterior)
        except StructureMismatch:
            each = [_run_posterior_block(base, [pt], replicates, seed, T, posterior) for pt in points]
            out = {k: np.concatenate([e[k] for e in each]) for k in each[0]}
    elif points:
        params = [apply_overrides(base, overrides) for overrides in points]
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
        arr = out[key] if points else np.zeros(tuple(sizes[x] for x in d))
        data[key] = xr.Variable(d, arr, {"long_name": OUTCOMES[key]})
    return xr.Dataset(data, coords={"point": np.arange(len(points)), "ally": allies,
                                    "quantile": list(QUANTILES)})
