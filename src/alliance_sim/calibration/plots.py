"""Figures of a calibration: weighted posterior marginals and pairs against the prior, epsilon and
acceptance per generation, and posterior-predictive bands against the observed points, dated."""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from alliance_sim.calibration.outputs import final, weighted_quantile
from alliance_sim.plots import _RC, actor_name, ally_color, month_axis, percent_formatter

POSTERIOR = "#2b5c9e"
PRIOR = "#9a9a9a"
OBSERVED = "#d1495b"


def _rc(func):
    import functools

    import matplotlib as mpl

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with mpl.rc_context(_RC):
            return func(*args, **kwargs)

    return wrapper


def _short(name: str) -> str:
    return name.split(".")[-1]


def _kde(x: np.ndarray, w: np.ndarray, grid: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Weighted Gaussian KDE reflected at the support's ends (no density leaks past a bound)."""
    from scipy.stats import gaussian_kde

    if len(x) < 2 or np.ptp(x) == 0:
        return np.zeros_like(grid)
    k = gaussian_kde(x, weights=w)
    y = k(grid)
    if np.isfinite(lo):
        y = y + k(2 * lo - grid)
    if np.isfinite(hi):
        y = y + k(2 * hi - grid)
    return y


@_rc
def plot_marginals(post: xr.Dataset, prior_pdfs: dict) -> Figure:
    """One panel per parameter: the final population's weighted density and 90 % interval, the prior."""
    names = [str(n) for n in post.parameter.values]
    th, w = final(post)
    fig = Figure(figsize=(4.2 * len(names), 3.4), dpi=110, layout="constrained")
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for j, (ax, n) in enumerate(zip(axes, names, strict=True)):
        lo, hi = float(post.prior_low.values[j]), float(post.prior_high.values[j])
        grid = np.linspace(lo, hi, 400)
        pdf = prior_pdfs[n](grid)
        ax.plot(grid, pdf, color=PRIOR, lw=1.5, ls="--", label="prior")
        y = _kde(th[:, j], w, grid, lo, hi)
        ax.fill_between(grid, y, color=POSTERIOR, alpha=0.25, lw=0)
        ax.plot(grid, y, color=POSTERIOR, lw=2, label="posterior")
        q05, q50, q95 = weighted_quantile(th[:, j], w, [0.05, 0.5, 0.95])
        ax.axvspan(q05, q95, color=POSTERIOR, alpha=0.08, label="90% interval")
        ax.axvline(q50, color=POSTERIOR, lw=1)
        ax.set_title(f"{_short(n)}\nmedian {q50:.3g} [{q05:.3g}, {q95:.3g}]")
        ax.set_xlabel(n, fontsize=8)
        ax.set_yticks([])
        ax.set_xlim(lo, hi)
        if j == 0:
            ax.legend(loc="upper right")
    fig.suptitle(f"Posterior marginals (generation {int(post.generation.values[-1])}, "
                 f"{len(w)} particles, weighted)")
    return fig


@_rc
def plot_pairs(post: xr.Dataset) -> Figure:
    """Pairs of the final population, marker area proportional to weight; marginal histograms on the diagonal."""
    names = [str(n) for n in post.parameter.values]
    th, w = final(post)
    P = len(names)
    fig = Figure(figsize=(2.9 * P + 0.6, 2.9 * P), dpi=110, layout="constrained")
    axes = fig.subplots(P, P, squeeze=False)
    for i in range(P):
        for j in range(P):
            ax = axes[i, j]
            lo_j, hi_j = float(post.prior_low.values[j]), float(post.prior_high.values[j])
            if i == j:
                ax.hist(th[:, j], bins=20, range=(lo_j, hi_j), weights=w, color=POSTERIOR, alpha=0.7)
                ax.set_yticks([])
            elif i > j:
                ax.scatter(th[:, j], th[:, i], s=8 + 400 * w / w.max() * 0.2, color=POSTERIOR, alpha=0.5, lw=0)
                ax.set_ylim(float(post.prior_low.values[i]), float(post.prior_high.values[i]))
            else:
                ax.set_axis_off()
                continue
            ax.set_xlim(lo_j, hi_j)
            if i == P - 1:
                ax.set_xlabel(_short(names[j]))
            if j == 0 and i != 0:
                ax.set_ylabel(_short(names[i]))
    fig.suptitle("Posterior pairs (final population; marker size ∝ weight)")
    return fig


@_rc
def plot_generations(post: xr.Dataset) -> Figure:
    """Epsilon, acceptance rate and effective sample size per generation."""
    g = post.generation.values
    fig = Figure(figsize=(10, 3.2), dpi=110, layout="constrained")
    a, b, c = fig.subplots(1, 3)
    a.plot(g, post.epsilon.values, "o-", color=POSTERIOR)
    a.set_title("acceptance threshold ε")
    a.set_yscale("log")
    b.plot(g, post.acceptance_rate.values, "o-", color=POSTERIOR)
    b.set_title("acceptance rate")
    b.set_ylim(0, 1.05)
    c.plot(g, post.ess.values, "o-", color=POSTERIOR)
    c.plot(g, post.particles_accepted.values, ":", color=PRIOR, label="particles")
    c.set_title("effective sample size")
    c.set_ylim(0, None)
    c.legend()
    for ax in (a, b, c):
        ax.set_xlabel("generation")
        ax.set_xticks(g)
    if post.attrs.get("distance") == "adaptive":
        a.text(0.02, 0.97, "adaptive distance: its scales change\nevery generation", transform=a.transAxes,
               fontsize=8, color="#555555", va="top")
    fig.suptitle("ABC-SMC generations")
    return fig


_VARIABLE_TITLES = {"export_share_us_mean": "share of exports to the US",
                    "export_share_china_mean": "share of exports to China",
                    "favourable_us_mean": "share favourable to the US",
                    "favourable_china_mean": "share favourable to China",
                    "p_beijing_side": "share of runs on Beijing's side",
                    "p_crossed": "share of runs that have crossed to Beijing's side",
                    "tie_mean": "mean tie",
                    "p_tie_negative": "share of runs with a hostile tie"}


@_rc
def plot_predictive(pred: xr.Dataset, level: float = 0.9) -> Figure:
    """One panel per observed series: posterior-predictive (and prior-predictive) bands of the monthly
    path, each observation's statistic interval, and the observed points over their periods."""
    groups = [str(g) for g in pred.group.values]
    n = len(groups)
    cols = min(n, 2)
    rows = -(-n // cols)
    fig = Figure(figsize=(6.2 * cols, 3.6 * rows), dpi=110, layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    a = (1 - level) / 2
    for gi, (ax, g) in enumerate(zip(axes, groups, strict=False)):
        scen, var, ally = g.split(":")
        months = [str(m) for m in pred[f"month_{gi}"].values]
        x = np.arange(len(months))
        for kind, color, alpha in (("prior", PRIOR, 0.18), ("posterior", POSTERIOR, 0.3)):
            key = f"{kind}_series_{gi}"
            if key not in pred or pred[key].shape[0] == 0:
                continue
            s = pred[key].values
            lo, hi = np.quantile(s, [a, 1 - a], axis=0)
            ax.fill_between(x, lo, hi, color=color, alpha=alpha, lw=0,
                            label=f"{kind} predictive {level:.0%}")
            if kind == "posterior":
                ax.plot(x, np.median(s, axis=0), color=color, lw=1.8, label="posterior median")
        sel = np.flatnonzero(pred.statistic_group.values == gi)
        stat = pred["posterior_statistic"].values
        for k in sel:
            m0, m1 = months.index(str(pred.statistic_first_month.values[k])), \
                months.index(str(pred.statistic_last_month.values[k]))
            mid = 0.5 * (m0 + m1)
            obs = float(pred.observed.values[k])
            unc = bool(pred.statistic_uncertain.values[k])
            if m1 > m0:
                ax.hlines(obs, m0, m1, color=OBSERVED, lw=2.2)
            ax.plot(mid, obs, "o", color=OBSERVED, mfc="white" if unc else OBSERVED, ms=7, zorder=5)
            if stat.shape[0]:
                lo, hi = np.quantile(stat[:, k], [a, 1 - a])
                ax.errorbar(mid + 0.35, 0.5 * (lo + hi), yerr=[[0.5 * (hi - lo)]], color="#222222", lw=1.2,
                            capsize=3, zorder=4)
        ax.plot([], [], "o-", color=OBSERVED, label="observed (line: its period)")
        ax.errorbar([], [], yerr=[], color="#222222", capsize=3, label=f"statistic's {level:.0%} interval")
        month_axis(ax, months)
        who = " – ".join(actor_name(a) for a in ally.split("-"))   # an ally, or a pair 'JPN-KOR'
        if "group_scenario_title" in pred.coords:   # files written before the titles were stored show the key
            scen = str(pred.group_scenario_title.values[gi])
        title = f"{who}: {_VARIABLE_TITLES.get(var, var)}"
        ax.set_title(f"{title}{' ' if len(title) + len(scen) < 58 else chr(10)}({scen})")
        ax.yaxis.set_major_formatter(_percent_if_share(var))
        if var in _SHARE_OF_RUNS:  # a share of runs: the whole range, so that 0 % reads as 0 % of runs
            ax.set_ylim(-0.03, 1.03)
        if gi == 0:
            ax.legend(loc="best", fontsize=8)
    for ax in axes[n:]:
        ax.set_axis_off()
    reps = int(pred.attrs.get("replicates", 0))
    per = f"{reps} replicate{'' if reps == 1 else 's'} per simulation"
    if pred.attrs.get("history") == "one" and reps > 1:
        per = f"one simulated history per draw; shares of runs over {reps} replicates"
    head, tail = "Posterior predictive vs observed", f"({per}; open circles: uncertain observations)"
    fig.suptitle(f"{head} {tail}" if len(head) + len(tail) < 50 * cols else f"{head}\n{tail}")
    return fig


_SHARE_OF_RUNS = ("p_beijing_side", "p_crossed", "p_tie_negative")


def _percent_if_share(var: str):
    from matplotlib.ticker import FuncFormatter

    if "share" in var or "favourable" in var or var in _SHARE_OF_RUNS:
        return percent_formatter()
    return FuncFormatter(lambda v, _: f"{v:g}")


_OOS_TITLES = {"favourable_us": "Favourable view of the US (Pew)", "favourable_china": "Favourable view of China (Pew)",
               "export_share_us": "Goods-export share to the US", "export_share_china": "Goods-export share to China"}


@_rc
def plot_out_of_sample(forecasts, history, first_year: int = 2016) -> Figure:
    """Out of sample (``alliance out-of-sample``): one panel per observable, both allies.  The observed annual
    series (the fit's years and before on a line, the forecast years as large markers), the model's
    posterior-predictive median and 90 % band at each forecast point, and persistence (the last value before
    the forecast year) as a cross; the forecast years shaded."""
    quantities = list(_OOS_TITLES)
    fig = Figure(figsize=(12.5, 8.2), dpi=100, layout="constrained")
    axes = fig.subplots(2, 2).ravel()
    years = sorted(int(y) for y in forecasts.year.unique()) if len(forecasts) else []
    side = {"JPN": -1, "KOR": 1}   # Japan's model and persistence left of the year, Korea's right
    last = max([*years, int(history.year.max()) if len(history) else first_year])
    for ax, q in zip(axes, quantities, strict=True):
        if years:
            ax.axvspan(min(years) - 0.5, max(years) + 0.5, color="#efefef", lw=0, zorder=0)
            ax.text(0.5 * (min(years) + max(years)), 1.0, "predicted", transform=ax.get_xaxis_transform(),
                    ha="center", va="top", fontsize=9, color="#666666")
        for pos, ally in enumerate(("JPN", "KOR")):
            color = ally_color(ally, pos)
            h = history[(history.quantity == q) & (history.ally == ally) & (history.year >= first_year)]
            past = h[h.year < (min(years) if years else last + 1)]
            ax.plot(past.year, past.value, "o-", color=color, lw=1.4, ms=4, label=f"{actor_name(ally)} observed")
            f = forecasts[(forecasts.quantity == q) & (forecasts.ally == ally)]
            if f.empty:
                continue
            if len(past):   # join the last fitted-era point to the forecast-era points
                ax.plot([past.year.iloc[-1], *f.year], [past.value.iloc[-1], *f.observed], ":", color=color, lw=1)
            for r in f.itertuples(index=False):
                ax.plot(r.year, r.observed, "o", color=color, mfc="white" if r.uncertain else color, ms=9,
                        mew=2, zorder=5)
            x = f.year.to_numpy() + 0.16 * side[ally]
            ax.errorbar(x, f.model_median, yerr=[f.model_median - f.model_p05, f.model_p95 - f.model_median],
                        fmt="D", color="#222222", mfc=color, ms=6, capsize=3, lw=1.2, zorder=6)
            ax.plot(f.year.to_numpy() + 0.32 * side[ally], f.persistence, "x", color=color, ms=8, mew=2, zorder=6)
        ax.set_title(_OOS_TITLES[q])
        ax.set_xlim(first_year - 0.5, last + 0.5)
        ax.set_xticks(range(first_year, last + 1, 1 if last - first_year <= 10 else 2))
        ax.yaxis.set_major_formatter(percent_formatter())
        ax.grid(axis="y", color="#dddddd", lw=0.6)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="o", color=ally_color(a, i), lw=1.4, ms=4, label=f"{actor_name(a)}, observed")
               for i, a in enumerate(("JPN", "KOR"))]
    handles += [Line2D([], [], marker="o", ls="", color="#555555", ms=8, mew=2,
                       label="observed in a forecast year (open: marked uncertain)"),
                Line2D([], [], marker="D", ls="-", color="#222222", mfc="#999999", ms=6,
                       label="model: posterior-predictive median, 90 % band"),
                Line2D([], [], marker="x", ls="", color="#555555", ms=8, mew=2,
                       label="persistence: last value before the year")]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=9.5, frameon=False)
    span = f"{min(years)}–{max(years)}" if years else ""
    fig.suptitle(f"Out of sample: parameters fitted to data up to {min(years) - 1 if years else ''}, "
                 f"{span} predicted (shaded), against persistence")
    return fig
