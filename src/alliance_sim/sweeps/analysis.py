"""Analysis of a sweep store: Sobol' indices, Morris screening, PRIM and CART scenario discovery and
feature scoring.

Every function takes the store's dataset (``store.open_store``), so the analysis of a sweep run here,
on a cluster, or resumed over several sessions is the same code.  Outputs are named as in the sweep
file (``p_crossed.KOR``, ``min_cohesion_q.0.5``; see ``outputs``).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from alliance_sim.sweeps.design import SweepError, SweepSpec
from alliance_sim.sweeps.outputs import output_values
from alliance_sim.sweeps.store import store_spec

OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


def _complete_values(ds: xr.Dataset, output: str) -> np.ndarray:
    y = output_values(ds, output)
    missing = int(np.isnan(y).sum())
    if missing:
        raise SweepError(f"output '{output}': {missing} of {y.size} points have no result yet "
                         f"(resume the sweep with --resume first)")
    return y


def analysis_x(ds: xr.Dataset, spec: SweepSpec) -> np.ndarray:
    """The design in SALib's coordinates: unit cube scaled to each factor's analysis bounds."""
    unit = np.asarray(ds["unit"].values, dtype=float)
    b = np.array([f.analysis_bounds() for f in spec.factors.values()])
    return b[:, 0] + unit * (b[:, 1] - b[:, 0])


def sobol_indices(ds: xr.Dataset, output: str, *, conf_level: float = 0.95, num_resamples: int = 1000,
                  seed: int = 0) -> pd.DataFrame:
    """First-order (S1) and total (ST) Sobol' indices with bootstrap confidence half-widths.

    Needs a ``sobol`` design (Saltelli sample, in its order).  Columns: S1, S1_conf, ST, ST_conf."""
    from SALib.analyze import sobol

    spec = store_spec(ds)
    if spec.design.kind != "sobol":
        raise SweepError(f"Sobol indices need a 'sobol' design; this store has '{spec.design.kind}'")
    y = _complete_values(ds, output)
    if np.ptp(y) == 0:
        zeros = np.zeros(len(spec.factors))
        return pd.DataFrame({"S1": zeros, "S1_conf": zeros, "ST": zeros, "ST_conf": zeros},
                            index=pd.Index(spec.factor_names, name="factor"))
    res = sobol.analyze(spec.salib_problem(), y, calc_second_order=spec.design.calc_second_order,
                        num_resamples=num_resamples, conf_level=conf_level, seed=seed)
    return pd.DataFrame({k: np.asarray(res[k]) for k in ("S1", "S1_conf", "ST", "ST_conf")},
                        index=pd.Index(spec.factor_names, name="factor"))


def morris_indices(ds: xr.Dataset, output: str, *, conf_level: float = 0.95, num_resamples: int = 1000,
                   seed: int = 0) -> pd.DataFrame:
    """Morris elementary effects: mu, mu_star (with confidence half-width) and sigma per factor.

    Effects are per full range of each factor (the design's unit cube), so factors with different
    units compare directly: mu_star = mean |change of the output| when the factor moves across its
    whole range."""
    from SALib.analyze import morris

    spec = store_spec(ds)
    if spec.design.kind != "morris":
        raise SweepError(f"Morris indices need a 'morris' design; this store has '{spec.design.kind}'")
    y = _complete_values(ds, output)
    D = len(spec.factors)
    problem = {"num_vars": D, "names": spec.factor_names, "bounds": [[0.0, 1.0]] * D}
    unit = np.asarray(ds["unit"].values, dtype=float)
    res = morris.analyze(problem, unit, y, num_resamples=num_resamples,
                         conf_level=conf_level, num_levels=spec.design.levels, seed=seed)
    return pd.DataFrame({k: np.asarray(res[k], dtype=float) for k in ("mu", "mu_star", "mu_star_conf", "sigma")},
                        index=pd.Index(spec.factor_names, name="factor"))


@dataclass
class PrimResult:
    """A PRIM box: its limits per factor, the factors' full ranges, the peeling trajectory and the
    chosen step on it."""

    output: str
    rule: str
    box: pd.DataFrame            # index: factor; columns: low, high (restricted factors only)
    ranges: pd.DataFrame         # index: factor; columns: low, high (the whole design)
    trajectory: pd.DataFrame     # coverage, density, mass, res_dim per peeling step
    chosen: int
    cases: int
    n: int

    @property
    def stats(self) -> dict:
        row = self.trajectory.iloc[self.chosen]
        return {k: float(row[k]) for k in ("coverage", "density", "mass", "res_dim")}


def prim_box(ds: xr.Dataset, output: str, op: str = ">", value: float = 0.5, *, peel_alpha: float = 0.05,
             mass_min: float = 0.05, min_density: float = 0.8) -> PrimResult:
    """Scenario discovery (ema_workbench PRIM): the box of factor values where ``output op value``.

    The chosen box is the step of the peeling trajectory with the highest coverage among those with
    density >= ``min_density`` (the densest step if none reaches it)."""
    import logging
    import warnings

    with warnings.catch_warnings():  # ema_workbench warns about optional ipyparallel on import
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim

    if op not in OPS:
        raise SweepError(f"PRIM: op must be one of {list(OPS)}, got {op!r}")
    spec = store_spec(ds)
    y = _complete_values(ds, output)
    hits = OPS[op](y, value)
    rule = f"{output} {op} {value:g}"
    if not hits.any():
        raise SweepError(f"PRIM: no point has {rule} (max {np.nanmax(y):.3g}, min {np.nanmin(y):.3g})")
    x = pd.DataFrame(np.asarray(ds["x"].values, dtype=float), columns=spec.factor_names)
    logging.getLogger("EMA").setLevel(logging.WARNING)
    with warnings.catch_warnings():  # pandas deprecations inside ema_workbench
        warnings.simplefilter("ignore")
        p = prim.Prim(x, hits, peel_alpha=peel_alpha, mass_min=mass_min)
        box = p.find_box()
    traj = box.peeling_trajectory.reset_index(drop=True)
    dense = traj.index[traj["density"] >= min_density]
    chosen = int(traj.loc[dense, "coverage"].idxmax()) if len(dense) else int(traj["density"].idxmax())
    lims = box.box_lims[chosen]
    init = box.box_lims[0]
    restricted = [c for c in lims.columns if not np.allclose(lims[c].values, init[c].values)]
    table = pd.DataFrame({"low": [float(lims[c].iloc[0]) for c in restricted],
                          "high": [float(lims[c].iloc[1]) for c in restricted]},
                         index=pd.Index(restricted, name="factor"))
    ranges = pd.DataFrame({"low": [float(init[c].iloc[0]) for c in init.columns],
                           "high": [float(init[c].iloc[1]) for c in init.columns]},
                          index=pd.Index(list(init.columns), name="factor"))
    return PrimResult(output, rule, table, ranges, traj[["coverage", "density", "mass", "res_dim"]].astype(float),
                      chosen, int(hits.sum()), int(hits.size))


def summary_table(ds: xr.Dataset, outputs: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """The analysis the store's design supports, per output: Sobol for ``sobol``, Morris for
    ``morris``, per-factor means of the output for ``grid`` and ``lhs``."""
    spec = store_spec(ds)
    outputs = outputs or spec.outputs
    out = {}
    for o in outputs:
        if spec.design.kind == "sobol":
            out[o] = sobol_indices(ds, o)
        elif spec.design.kind == "morris":
            out[o] = morris_indices(ds, o)
        else:
            out[o] = main_effects(ds, o)
    return out


def main_effects(ds: xr.Dataset, output: str, bins: int = 5) -> pd.DataFrame:
    """Range of the binned mean of ``output`` along each factor (a crude main effect for grids and LHS)."""
    spec = store_spec(ds)
    y = _complete_values(ds, output)
    x = np.asarray(ds["x"].values, dtype=float)
    rows = []
    for j, name in enumerate(spec.factor_names):
        xs = x[:, j]
        levels = np.unique(xs)
        if len(levels) <= bins:
            means = [y[xs == v].mean() for v in levels]
        else:
            edges = np.quantile(xs, np.linspace(0, 1, bins + 1))
            idx = np.clip(np.searchsorted(edges, xs, side="right") - 1, 0, bins - 1)
            means = [y[idx == k].mean() for k in range(bins) if (idx == k).any()]
        rows.append({"factor": name, "min_mean": float(np.min(means)), "max_mean": float(np.max(means)),
                     "effect_range": float(np.max(means) - np.min(means))})
    return pd.DataFrame(rows).set_index("factor")


def _ema_quiet():
    """ema_workbench's analysis modules, imported without their optional-dependency warnings."""
    import logging
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import cart, feature_scoring
    logging.getLogger("EMA").setLevel(logging.WARNING)
    return cart, feature_scoring


def _design_frame(ds: xr.Dataset, spec: SweepSpec) -> pd.DataFrame:
    return pd.DataFrame(np.asarray(ds["x"].values, dtype=float), columns=spec.factor_names)


@dataclass
class CartResult:
    """CART boxes (ema_workbench ``CART``, binary mode) for the rule ``output op value``: one row per
    leaf, with its limits per factor (NaN where the leaf does not restrict the factor) and its
    coverage, density and mass."""

    rule: str
    boxes: pd.DataFrame          # index: box; columns: <factor>_low, <factor>_high, coverage, density, mass, res_dim
    ranges: pd.DataFrame         # index: factor; columns: low, high
    cases: int
    n: int

    def text(self) -> str:
        """Each leaf in words, densest first: ``box 3 (density 0.91, coverage 0.80, mass 0.22): a <= x < b``."""
        lines = [f"CART boxes where {self.rule} ({self.cases} of {self.n} points)"]
        for i, row in self.boxes.sort_values("density", ascending=False).iterrows():
            conds = []
            for f in self.ranges.index:
                lo, hi = row[f"{f}_low"], row[f"{f}_high"]
                if np.isnan(lo) and np.isnan(hi):
                    continue
                conds.append(f"{lo:.4g} <= {f} <= {hi:.4g}")
            lines.append(f"box {i} (density {row['density']:.2f}, coverage {row['coverage']:.2f}, "
                         f"mass {row['mass']:.2f}): " + (" and ".join(conds) or "everywhere"))
        return "\n".join(lines)


def cart_boxes(ds: xr.Dataset, output: str, op: str = ">", value: float = 0.5, *,
               mass_min: float = 0.05) -> CartResult:
    """Scenario discovery by a classification tree (ema_workbench CART) on the same rule as PRIM.

    CART partitions the whole design into leaves; the leaves dense in points of interest are
    alternative boxes to PRIM's single peeled box (several regions can lead to the same outcome)."""
    import warnings

    cart, _ = _ema_quiet()
    if op not in OPS:
        raise SweepError(f"CART: op must be one of {list(OPS)}, got {op!r}")
    spec = store_spec(ds)
    y = _complete_values(ds, output)
    hits = OPS[op](y, value)
    rule = f"{output} {op} {value:g}"
    if not hits.any():
        raise SweepError(f"CART: no point has {rule} (max {np.nanmax(y):.3g}, min {np.nanmin(y):.3g})")
    x = _design_frame(ds, spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = cart.CART(x, hits, mass_min=mass_min)
        c.build_tree()
        boxes, stats = c.boxes, c.stats
    init = x.agg(["min", "max"])
    rows = []
    for lims, st in zip(boxes, stats, strict=True):
        row: dict[str, float] = {}
        for f in spec.factor_names:
            lo, hi = float(lims[f].iloc[0]), float(lims[f].iloc[1])
            restricted = not (np.isclose(lo, init[f].iloc[0]) and np.isclose(hi, init[f].iloc[1]))
            row[f"{f}_low"] = lo if restricted else np.nan
            row[f"{f}_high"] = hi if restricted else np.nan
        row.update(coverage=float(st["coverage"]), density=float(st["density"]), mass=float(st["mass"]),
                   res_dim=float(st["res dim"]))
        rows.append(row)
    table = pd.DataFrame(rows, index=pd.Index(range(len(rows)), name="box"))
    ranges = pd.DataFrame({"low": init.loc["min"].values, "high": init.loc["max"].values},
                          index=pd.Index(spec.factor_names, name="factor"))
    return CartResult(rule, table, ranges, int(hits.sum()), int(hits.size))


def feature_scores(ds: xr.Dataset, outputs: list[str] | None = None, *, seed: int = 0,
                   trees: int = 200, max_points: int = 20_000) -> pd.DataFrame:
    """Feature scores (ema_workbench ``get_ex_feature_scores``: extra-trees regression importances,
    summing to 1 per output) of every factor for each output; index: factor, one column per output.

    A model-free screen that works on any design (grid, LHS, Sobol', Morris) and catches interactions
    a main-effect range misses.  Designs larger than ``max_points`` are scored on a seeded random
    subset of that size (the trees' cost grows with the points; the ranking settles long before)."""
    import warnings

    _, fs = _ema_quiet()
    spec = store_spec(ds)
    outputs = outputs or spec.outputs
    x = _design_frame(ds, spec)
    keep = np.arange(len(x))
    if len(x) > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(len(x), max_points, replace=False))
        x = x.iloc[keep].reset_index(drop=True)
    cols = {}
    for o in outputs:
        y = _complete_values(ds, o)[keep]
        if np.ptp(y) == 0:
            cols[o] = np.zeros(len(spec.factor_names))
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores, _ = fs.get_ex_feature_scores(x, y, mode=fs.RuleInductionType.REGRESSION, nr_trees=trees,
                                                 random_state=seed)
        cols[o] = scores.iloc[:, 0].reindex(spec.factor_names).to_numpy(dtype=float)
    return pd.DataFrame(cols, index=pd.Index(spec.factor_names, name="factor"))
