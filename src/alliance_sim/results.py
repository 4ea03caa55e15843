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
from alliance_sim.model.layout import DRIVER_GROUPS
from alliance_sim.summaries import _FIXED, DECISIONS, QUANTILES, SERIES, histogram_quantiles, series_dims, series_shape

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
        "driver": list(DRIVER_GROUPS),
    }
    data = {}
    T = c.months
    for spec in SERIES:
        dims = ("month",) + series_dims(spec)
        shape = series_shape(spec, c)
        mean = acc.sums[spec.name] / _FIXED / max(acc.n, 1)
        mean = mean.reshape((T,) + shape)
        attrs = {"units": spec.unit, "long_name": spec.description}
        if spec.bins:  # quantiles where the series keeps histograms
            q = histogram_quantiles(acc.hist[spec.name], spec.lo, spec.hi)  # (Q, T, cols)
            data[f"{spec.name}_q"] = (("quantile",) + dims, q.reshape((len(QUANTILES), T) + shape), attrs)
        data[f"{spec.name}_mean"] = (dims, mean, attrs)
        if spec.name in out.trajectories:
            tr = out.trajectories[spec.name]
            data[spec.name] = (("replicate",) + dims, tr.reshape(tr.shape[:2] + shape), attrs)
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


def driver_table(ds: xr.Dataset) -> pd.DataFrame:
    """drivers.csv: per month, ally and driver group, the mean and quantiles over replicates of the group's
    share of the change of alignment since the start (the means of a month add up to the mean change)."""
    if "alignment_driver_mean" not in ds:
        return pd.DataFrame(columns=["month", "ally", "driver", "mean"] + [f"q{round(q * 100):02d}" for q in QUANTILES])
    frame = ds.alignment_driver_mean.to_dataframe(name="mean")
    for q in QUANTILES:
        frame[f"q{round(q * 100):02d}"] = ds.alignment_driver_q.sel(quantile=q, drop=True).to_dataframe(name="v")["v"]
    return frame.reset_index()[["month", "ally", "driver", "mean"] + [f"q{round(q * 100):02d}" for q in QUANTILES]]


OBSERVABLES = (("favourable_us", "favourable to the US"), ("favourable_china", "favourable to China"),
               ("export_share_us", "exports to the US"), ("export_share_china", "exports to China"))


def observables_summary(ds: xr.Dataset) -> pd.DataFrame:
    """Per ally, at the horizon: median and 90 % band of the observation model's quantities (shares of
    citizens favourable to the US and to China, export shares), and the share of ally-months in which the
    ally conceded and hedged over the run (decision frequencies)."""
    rows = []
    last = ds.month.values[-1]
    for ally in ds.ally.values:
        row = {"ally": str(ally)}
        for name, _ in OBSERVABLES:
            var = f"{name}_q"
            if var not in ds:
                continue
            q = ds[var].sel(ally=ally, month=last)
            row[f"{name}_median"] = float(q.sel(quantile=0.5))
            row[f"{name}_p05"] = float(q.sel(quantile=0.05))
            row[f"{name}_p95"] = float(q.sel(quantile=0.95))
        freq = ds.ally_decision_freq.sel(ally=ally).mean("month")
        row["concede_rate"] = float(freq.sel(ally_option="concede"))
        row["hedge_rate"] = float(freq.sel(ally_option="hedge"))
        if "accommodate" in freq.ally_option.values:  # results written before the option existed lack it
            row["accommodate_rate"] = float(freq.sel(ally_option="accommodate"))
        rows.append(row)
    return pd.DataFrame(rows).set_index("ally")


def observed_comparison(ds: xr.Dataset, directory=None) -> pd.DataFrame:
    """Model against observation, one row per shipped observation that falls inside the run's months.

    Columns: quantity, ally, period (survey year, ``YYYY`` or ``YYYY-MM``), month (where the point is drawn),
    observed, model_median, model_p05, model_p95, model_mean, inside_90 (observed within the 90 % band),
    uncertain, source.  A poll is compared with the model's month of its fieldwork's end; a yearly export
    share with the average over that year's twelve months of the monthly median, band and mean (an
    approximation: the band of a yearly average is narrower than the average of monthly bands)."""
    from alliance_sim.observed_points import observed_points, within

    months = [str(m) for m in ds.month.values]
    pts = within(observed_points(tuple(str(a) for a in ds.ally.values), directory), months)
    rows = []
    for p in pts.itertuples(index=False):
        var = f"{p.quantity}_q"
        if var not in ds:
            continue
        sel = list(p.months)
        q = ds[var].sel(ally=p.ally, month=sel).mean("month")
        mean = float(ds[f"{p.quantity}_mean"].sel(ally=p.ally, month=sel).mean())
        lo, med, hi = (float(q.sel(quantile=k)) for k in (0.05, 0.5, 0.95))
        rows.append({"quantity": p.quantity, "ally": p.ally, "period": p.period, "month": p.month,
                     "observed": p.value, "model_median": med, "model_p05": lo, "model_p95": hi,
                     "model_mean": mean, "inside_90": bool(lo <= p.value <= hi), "uncertain": p.uncertain,
                     "source": p.source})
    cols = ["quantity", "ally", "period", "month", "observed", "model_median", "model_p05", "model_p95",
            "model_mean", "inside_90", "uncertain", "source"]
    return pd.DataFrame(rows, columns=cols)
