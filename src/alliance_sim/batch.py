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

from alliance_sim.model.compiled import compile_parameters
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


def _point_outcomes(model: AllianceModel, months: int) -> dict[str, np.ndarray]:
    """Step ``model`` to the horizon and reduce its replicates to outcome arrays."""
    R = model.state.replicates
    crossed = np.zeros((R, model.compiled.n_allies), dtype=bool)
    min_coh = np.full(R, np.inf)
    for _ in range(months):
        model.step()
        s = model.state
        crossed |= s.alignment < 0
        np.minimum(min_coh, s.cohesion, out=min_coh)
    s = model.state
    q = np.array(QUANTILES)
    return {
        "p_crossed": crossed.mean(axis=0),
        "p_beijing_side_final": (s.alignment < 0).mean(axis=0),
        "final_alignment_mean": s.alignment.mean(axis=0),
        "final_alignment_q": np.quantile(s.alignment, q, axis=0),
        "final_cohesion_q": np.quantile(s.cohesion, q),
        "min_cohesion_q": np.quantile(min_coh, q),
        "final_tariff_mean": s.tariff.mean(axis=0),
        "final_threat_mean": s.threat[:, model.compiled.ally_idx].mean(axis=0),
        "final_reliability_mean": s.reliability.mean(axis=0),
    }


def run_points(base: Parameters, points: list[dict[str, Any]], replicates: int, seed: int | None = None,
               months: int | None = None) -> xr.Dataset:
    """Outcomes of each point (a dict of dotted-key overrides of ``base``) over ``replicates`` replicates.

    Returns a dataset with dims (point, ally, quantile).
    """
    seed = base.simulation.seed if seed is None else int(seed)
    T = base.simulation.months if months is None else int(months)
    allies = compile_parameters(base, 1).allies
    per_point = []
    for overrides in points:
        params = apply_overrides(base, overrides)
        model = AllianceModel(params, replicate_ids=np.arange(replicates), seed=seed, months=T, collect=False)
        per_point.append(_point_outcomes(model, T))
    data = {}
    dims = {"p_crossed": ("point", "ally"), "p_beijing_side_final": ("point", "ally"),
            "final_alignment_mean": ("point", "ally"), "final_alignment_q": ("point", "quantile", "ally"),
            "final_cohesion_q": ("point", "quantile"), "min_cohesion_q": ("point", "quantile"),
            "final_tariff_mean": ("point", "ally"), "final_threat_mean": ("point", "ally"),
            "final_reliability_mean": ("point", "ally")}
    for key, d in dims.items():
        arr = np.stack([p[key] for p in per_point]) if per_point else np.zeros((0,))
        data[key] = xr.Variable(d, arr, {"long_name": OUTCOMES[key]})
    return xr.Dataset(data, coords={"point": np.arange(len(points)), "ally": allies,
                                    "quantile": list(QUANTILES)})
