"""What a calibration writes: the posterior (every population's particles and weights) as netCDF, the
posterior predictive, diagnostics (CSV and JSON) and a per-parameter summary.

``posterior.nc`` dims: ``generation`` × ``particle`` (× ``parameter`` / ``statistic``); a population with
fewer particles than the largest is padded with NaN and weight 0.  ``predictive.nc`` holds, for draws
from the final population and from the prior, each observation's statistic and each observed series'
monthly path over the whole scenario.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from alliance_sim.calibration.config import Problem
from alliance_sim.calibration.simulate import Simulator


def weighted_quantile(x: np.ndarray, w: np.ndarray, q) -> np.ndarray:
    """Quantiles of ``x`` under weights ``w`` (the inverse of the weighted CDF at mid-steps)."""
    x, w = np.asarray(x, float), np.asarray(w, float)
    order = np.argsort(x)
    x, w = x[order], w[order]
    cdf = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(q, cdf, x)


def ess(w: np.ndarray) -> float:
    w = np.asarray(w, float)
    return float(w.sum() ** 2 / (w ** 2).sum()) if w.sum() > 0 else 0.0


def posterior_dataset(history, problem: Problem) -> xr.Dataset:
    """Every population of a pyabc history as labelled arrays."""
    names = problem.parameter_names
    stats = [o.key for o in problem.observations]
    pops = history.get_all_populations()
    pops = pops[pops.t >= 0].sort_values("t")
    G = len(pops)
    populations = [history.get_population(t=int(t)) for t in pops.t]
    N = max((len(p) for p in populations), default=0)
    theta = np.full((G, N, len(names)), np.nan)
    weight = np.zeros((G, N))
    dist = np.full((G, N), np.nan)
    sumstat = np.full((G, N, len(stats)), np.nan)
    for g, pop in enumerate(populations):
        for i, particle in enumerate(pop.particles):
            theta[g, i] = [particle.parameter[n] for n in names]
            weight[g, i] = particle.weight
            dist[g, i] = particle.distance
            sumstat[g, i] = [float(particle.sum_stat[s]) for s in stats]
        if weight[g].sum() > 0:
            weight[g] /= weight[g].sum()
    samples = pops.samples.to_numpy().astype(np.int64)
    particles = pops.particles.to_numpy().astype(np.int64)
    obs = problem.observations
    ds = xr.Dataset(
        {
            "theta": (("generation", "particle", "parameter"), theta, {"long_name": "Parameter values of particles"}),
            "weight": (("generation", "particle"), weight, {"long_name": "Importance weights (sum to 1)"}),
            "distance": (("generation", "particle"), dist, {"long_name": "ABC distance to the observed"}),
            "sumstat": (("generation", "particle", "statistic"), sumstat,
                        {"long_name": "Simulated statistics of the particles"}),
            "epsilon": (("generation",), pops.epsilon.to_numpy().astype(float),
                        {"long_name": "Acceptance threshold"}),
            "simulations": (("generation",), samples, {"long_name": "Simulations evaluated"}),
            "particles_accepted": (("generation",), particles),
            "acceptance_rate": (("generation",), particles / np.maximum(samples, 1)),
            "ess": (("generation",), np.array([ess(weight[g]) for g in range(G)]),
                    {"long_name": "Effective sample size of the weights"}),
            "observed": (("statistic",), np.array([o.value for o in obs])),
            "prior_low": (("parameter",), np.array([problem.bounds[n][0] for n in names])),
            "prior_high": (("parameter",), np.array([problem.bounds[n][1] for n in names])),
        },
        coords={"generation": pops.t.to_numpy().astype(np.int64), "particle": np.arange(N),
                "parameter": names, "statistic": stats,
                "statistic_scenario": ("statistic", [o.scenario for o in obs]),
                "statistic_variable": ("statistic", [o.variable for o in obs]),
                "statistic_ally": ("statistic", [o.ally for o in obs]),
                "statistic_period": ("statistic", [o.period for o in obs])},
        attrs={"title": f"alliance-sim calibration: {problem.spec.name or problem.source}",
               "definition_hash": problem.definition_hash(), "seed": problem.spec.abc.seed,
               "distance": problem.spec.abc.distance, "replicates": problem.spec.abc.replicates},
    )
    return ds


def final(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(theta (N, P), weights (N,)) of the last population, padding removed."""
    th = ds.theta.isel(generation=-1).values
    w = ds.weight.isel(generation=-1).values
    keep = ~np.isnan(th).any(axis=1)
    return th[keep], w[keep]


def particles_table(ds: xr.Dataset) -> pd.DataFrame:
    """The last population as a small table, ``weight`` then one column per parameter: the form a posterior is
    shipped in (``calibrations/particles/<name>.csv``) and read back by ``--posterior``."""
    th, w = final(ds)
    table = pd.DataFrame(th, columns=[str(n) for n in ds.parameter.values])
    table.insert(0, "weight", w)   # as stored (load_posterior normalises), so both forms draw the same particles
    return table


def _predict_one(sim: Simulator, theta: dict[str, float]):
    return sim.predictive(theta)


@dataclass
class Draws:
    kind: str
    theta: np.ndarray   # (D, P)


def draw_predictive(ds: xr.Dataset, problem: Problem, rng: np.random.Generator) -> list[Draws]:
    """Posterior draws (by weight, from the final population) and prior draws, ``abc.predictive_draws`` each."""
    from alliance_sim.calibration.priors import prior_rv

    D = problem.spec.abc.predictive_draws
    th, w = final(ds)
    idx = rng.choice(len(w), size=D, p=w / w.sum()) if D and len(w) else np.zeros(0, dtype=int)
    prior = np.column_stack([prior_rv(problem, n).ppf(rng.uniform(size=D)) for n in problem.parameter_names]) \
        if D else np.zeros((0, len(problem.parameter_names)))
    return [Draws("posterior", th[idx]), Draws("prior", prior)]


def predictive_dataset(problem: Problem, draws: list[Draws], client) -> xr.Dataset:
    """Simulate each draw over the whole scenario (on ``client``) and label the results."""
    spec = problem.spec.abc
    replicates = spec.predictive_replicates or spec.replicates
    sim = Simulator(problem, replicates, spec.seed + 1)   # fresh model draws, not the fit's
    names = problem.parameter_names
    groups = sim.series_groups()
    stats = [o.key for o in problem.observations]
    data: dict = {}
    coords: dict = {"parameter": names, "statistic": stats,
                    "group": [f"{s}:{v}:{a}" for s, v, a in groups],
                    "group_scenario_title": ("group", [problem.scenario_titles.get(s, s) for s, _, _ in groups])}
    for d in draws:
        futs = [client.submit(_predict_one, sim, dict(zip(names, map(float, row), strict=True)))
                for row in d.theta]
        res = [f.result() for f in futs]
        data[f"{d.kind}_theta"] = ((f"{d.kind}_draw", "parameter"), d.theta)
        data[f"{d.kind}_statistic"] = ((f"{d.kind}_draw", "statistic"),
                                       np.array([[r[0][s] for s in stats] for r in res]).reshape(len(res), len(stats)))
        for gi, g in enumerate(groups):
            labels = problem.scenario_labels[g[0]]
            coords[f"month_{gi}"] = labels
            arr = np.array([r[1][g] for r in res]).reshape(len(res), len(labels))
            data[f"{d.kind}_series_{gi}"] = ((f"{d.kind}_draw", f"month_{gi}"), arr,
                                             {"group": coords["group"][gi]})
    obs = problem.observations
    data["observed"] = (("statistic",), np.array([o.value for o in obs]))
    coords.update({"statistic_period": ("statistic", [o.period for o in obs]),
                   "statistic_group": ("statistic", [groups.index((o.scenario, o.variable, o.ally)) for o in obs]),
                   "statistic_first_month": ("statistic", [o.months[0] for o in obs]),
                   "statistic_last_month": ("statistic", [o.months[-1] for o in obs]),
                   "statistic_uncertain": ("statistic", [o.uncertain for o in obs])})
    return xr.Dataset(data, coords=coords, attrs={"replicates": replicates, "history": spec.predictive_history})


def coverage(pred: xr.Dataset, level: float = 0.9) -> pd.DataFrame:
    """Per observation: the posterior-predictive interval of its statistic and whether it covers the point."""
    a = (1 - level) / 2
    s = pred["posterior_statistic"]
    lo = s.quantile(a, dim="posterior_draw").values
    hi = s.quantile(1 - a, dim="posterior_draw").values
    med = s.quantile(0.5, dim="posterior_draw").values
    obs = pred["observed"].values
    return pd.DataFrame({"statistic": pred.statistic.values, "period": pred.statistic_period.values,
                         "observed": obs, "predictive_median": med, f"predictive_p{a * 100:02.0f}": lo,
                         f"predictive_p{(1 - a) * 100:.0f}": hi, "covered": (obs >= lo) & (obs <= hi)})


def diagnostics_table(ds: xr.Dataset) -> pd.DataFrame:
    return pd.DataFrame({"generation": ds.generation.values, "epsilon": ds.epsilon.values,
                         "particles": ds.particles_accepted.values, "simulations": ds.simulations.values,
                         "acceptance_rate": ds.acceptance_rate.values, "ess": ds.ess.values})


def parameter_summary(ds: xr.Dataset, problem: Problem) -> pd.DataFrame:
    """Per parameter: prior and posterior mean, median and 90 % interval (weighted, final population)."""
    from alliance_sim.calibration.priors import prior_rv

    th, w = final(ds)
    rows = []
    for j, n in enumerate(problem.parameter_names):
        rv = prior_rv(problem, n)
        grid = rv.ppf(np.linspace(0.0005, 0.9995, 2000))
        q05, q50, q95 = weighted_quantile(th[:, j], w, [0.05, 0.5, 0.95])
        rows.append({"parameter": n, "prior": _prior_text(problem, n),
                     "prior_mean": float(np.mean(grid)), "prior_p05": float(rv.ppf(0.05)),
                     "prior_p95": float(rv.ppf(0.95)),
                     "posterior_mean": float(np.average(th[:, j], weights=w)), "posterior_median": float(q50),
                     "posterior_p05": float(q05), "posterior_p95": float(q95),
                     "interval_ratio": float((q95 - q05) / max(rv.ppf(0.95) - rv.ppf(0.05), 1e-300))})
    return pd.DataFrame(rows)


def _prior_text(problem: Problem, name: str) -> str:
    p = next(x for x in problem.spec.parameters if x.name == name).prior
    lo, hi = problem.bounds[name]
    if p.kind == "uniform":
        return f"uniform({p.low:g}, {p.high:g})"
    if p.kind == "normal":
        return f"normal({p.mean:g}, {p.sd:g}) on [{lo:g}, {hi:g}]"
    return f"lognormal(median {p.median:g}, sigma {p.sigma:g}) on [{lo:g}, {hi:g}]"
