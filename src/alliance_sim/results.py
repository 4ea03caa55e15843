"""Labelled results: an ``xarray.Dataset`` of an ensemble, and the headline figures per ally.

Dimensions: ``month`` (calendar labels), ``ally``, ``pair``, ``quantile``, ``replicate`` (the kept
trajectories), and one option dimension per kind of decision.  Variables ending in ``_q`` are monthly
quantiles over *all* replicates (from the streaming histograms), ``_mean`` exact means; variables
without a suffix are per-replicate trajectories of the first ``keep_trajectories`` replicates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from alliance_sim import __version__
from alliance_sim.ensemble import EnsembleOutput
from alliance_sim.summaries import _FIXED, DECISIONS, QUANTILES, SERIES, histogram_quantiles

_DIM_COORD = {"ally": "ally", "pair": "pair", None: None}


def to_dataset(out: EnsembleOutput, name: str = "") -> xr.Dataset:
    """Build the results dataset of an ensemble run."""
    c, acc = out.compiled, out.summary
    coords = {
        "month": c.month_labels,
        "ally": c.allies,
        "pair": c.pair_labels,
        "quantile": list(QUANTILES),
        "replicate": out.kept_ids.astype(np.int64),
        "adversary": np.array([c.actors[i] for i in c.adversary_idx], dtype=str),
    }
    data = {}
    for spec in SERIES:
        dims = ("month",) + ((spec.dim,) if spec.dim else ())
        q = histogram_quantiles(acc.hist[spec.name], spec.lo, spec.hi)  # (Q, T, cols)
        mean = acc.sums[spec.name] / _FIXED / max(acc.n, 1)
        if spec.dim is None:
            q, mean = q[..., 0], mean[..., 0]
        attrs = {"units": spec.unit, "long_name": spec.description}
        data[f"{spec.name}_q"] = (("quantile",) + dims, q, attrs)
        data[f"{spec.name}_mean"] = (dims, mean, attrs)
        if spec.name in out.trajectories:
            tr = out.trajectories[spec.name]
            if spec.dim is None:
                tr = tr[..., 0]
            data[spec.name] = (("replicate",) + dims, tr, attrs)
    for var, (dim, opts) in DECISIONS.items():
        odim = f"{var.split('_')[0]}_option"
        coords[odim] = list(opts)
        counts = acc.decision_counts[var]
        data[f"{var}_freq"] = (("month", dim, odim), counts / max(acc.n, 1),
                               {"long_name": f"Share of replicates choosing each option ({var})"})
        if var in out.trajectories:
            data[var] = (("replicate", "month", dim), out.trajectories[var],
                         {"long_name": f"Option index chosen; see coordinate {odim}"})
    data["p_crossed"] = (("month", "ally"), acc.crossed_count / max(acc.n, 1),
                         {"long_name": "Probability the ally has been on Beijing's side (alignment < 0) "
                                       "at least once by this month"})
    data["p_beijing_side"] = (("month", "ally"), acc.below_count / max(acc.n, 1),
                              {"long_name": "Probability the ally is on Beijing's side this month"})
    coords["first_cross_month"] = c.month_labels + ["never"]
    data["first_cross_freq"] = (("first_cross_month", "ally"), acc.first_cross / max(acc.n, 1),
                                {"long_name": "Distribution of the month of first crossing"})
    data["min_cohesion_q"] = (("quantile",), histogram_quantiles(acc.min_cohesion, -1, 1)[:, 0],
                              {"long_name": "Quantiles over replicates of the minimum cohesion"})
    ds = xr.Dataset({k: xr.Variable(v[0], v[1], v[2] if len(v) > 2 else None) for k, v in data.items()},
                    coords=coords)
    ds.attrs.update({
        "title": f"alliance-sim results: {name}" if name else "alliance-sim results",
        "scenario": name, "seed": out.seed, "replicates": out.replicates,
        "start": c.month_labels[0], "months": c.months, "alliance_sim_version": __version__,
        "event_months": [c.month_labels[k] for k, _ in c.event_marks],
        "event_labels": [label for _, label in c.event_marks],
    })
    return ds


def first_cross_median(freq: np.ndarray, labels: list[str]) -> str:
    """Median month of first crossing over all replicates ('never' if fewer than half cross)."""
    cum = np.cumsum(freq)
    k = int(np.searchsorted(cum, 0.5 - 1e-12))
    return labels[min(k, len(labels) - 1)]


def headline_summary(ds: xr.Dataset) -> pd.DataFrame:
    """Per ally: median and 90 % band of final alignment, P(crossed by the horizon), median month of
    first crossing, and the median of the minimum trilateral cohesion."""
    rows = []
    last = ds.month.values[-1]
    labels = list(ds.first_cross_month.values)
    for ally in ds.ally.values:
        q = ds.alignment_q.sel(ally=ally, month=last)
        rows.append({
            "ally": str(ally),
            "final_alignment_median": float(q.sel(quantile=0.5)),
            "final_alignment_p05": float(q.sel(quantile=0.05)),
            "final_alignment_p95": float(q.sel(quantile=0.95)),
            "p_crossed_by_horizon": float(ds.p_crossed.sel(ally=ally, month=last)),
            "median_first_cross_month": first_cross_median(ds.first_cross_freq.sel(ally=ally).values, labels),
            "min_cohesion_median": float(ds.min_cohesion_q.sel(quantile=0.5)),
            "final_cohesion_median": float(ds.cohesion_q.sel(quantile=0.5, month=last)),
        })
    return pd.DataFrame(rows).set_index("ally")
