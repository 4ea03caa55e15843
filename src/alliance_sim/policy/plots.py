"""Figures of a policy search (matplotlib, Agg): the Pareto front (every pair of objectives), parallel
coordinates of levers and objectives, and the regret of each Pareto policy."""

from __future__ import annotations

import itertools
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LinearSegmentedColormap  # noqa: E402

from alliance_sim.policy.search import SearchResult  # noqa: E402
from alliance_sim.sweeps.plots import short  # noqa: E402


def _label(res: SearchResult, k: int) -> str:
    name = res.problem.objective_names[k]
    o = res.problem.spec.objectives[name]
    what = o.label or (o.output if o.kind == "output" else "relief cost (%GDP·months)")
    arrow = "↓" if o.direction == "minimize" else "↑"
    stat = f"{o.stat} over draws, " if o.kind == "output" else ""
    return f"{what} ({stat}{arrow} better)"


def _title(res: SearchResult) -> str:
    p = res.problem
    return (f"{p.spec.name or Path(p.source).stem}: {len(res.policies)} policies × {len(p.draws)} draws × "
            f"{p.spec.replicates} replicates, {p.months} months; {int(res.pareto.sum())} on the front")


def save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=130, bbox_inches="tight")
    plt.close(fig)
    return path


def pareto_plot(res: SearchResult):
    """Every pair of objectives: all evaluated policies (grey, by generation) and the front (red)."""
    k = res.objectives.shape[1]
    pairs = list(itertools.combinations(range(k), 2)) or [(0, 0)]
    cols = min(3, len(pairs))
    rows = int(np.ceil(len(pairs) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.4 * rows), squeeze=False)
    front = res.pareto
    greys = LinearSegmentedColormap.from_list("later_darker", ["0.85", "0.05"])
    for ax, (i, j) in zip(axes.flat, pairs, strict=False):
        y = res.objectives[:, j] if i != j else res.generation
        sc = ax.scatter(res.objectives[~front, i], y[~front], c=res.generation[~front], cmap=greys, vmin=0,
                        vmax=max(1, res.generation.max()), s=14, label="evaluated")
        ax.scatter(res.objectives[front, i], y[front], c="tab:red", s=30, edgecolor="k", lw=0.5, label="Pareto")
        if k == 2:  # with more objectives a pair is a projection of the front, not a curve
            order = np.argsort(res.objectives[front, i])
            ax.plot(res.objectives[front, i][order], y[front][order], color="tab:red", lw=0.6, alpha=0.5)
        ax.set_xlabel(_label(res, i), fontsize=8)
        ax.set_ylabel(_label(res, j) if i != j else "generation", fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(pairs):]:
        ax.set_visible(False)
    fig.colorbar(sc, ax=axes, shrink=0.6, label="generation (darker = later)")
    fig.suptitle("Pareto front — " + _title(res), fontsize=9)
    return fig


def parallel_plot(res: SearchResult):
    """Parallel coordinates: levers then objectives, each scaled to its range (lever bounds; objectives
    over all evaluated policies); front policies coloured by the first objective."""
    p = res.problem
    levs = list(p.spec.levers.items())
    cols, data = [], []
    for k, lev in levs:
        lo, hi = lev.bounds()
        vals = np.array([lev.as_number(pol[k]) for pol in res.policies])
        data.append((vals - lo) / (hi - lo if hi > lo else 1.0))
        cols.append(f"{_wrap(short(k))}\n[{_fmt(lo, lev, True)} – {_fmt(hi, lev, False)}]")
    for k, name in enumerate(p.objective_names):
        v = res.objectives[:, k]
        lo, hi = float(v.min()), float(v.max())
        data.append((v - lo) / (hi - lo if hi > lo else 1.0))
        o = p.spec.objectives[name]
        cols.append(f"{name} {'↓' if o.direction == 'minimize' else '↑'}\n[{lo:.3g} – {hi:.3g}]")
    m = np.stack(data, axis=1)
    fig, ax = plt.subplots(figsize=(max(7.0, 1.6 * len(cols)), 4.8))
    x = np.arange(len(cols))
    for row in m[~res.pareto]:
        ax.plot(x, row, color="0.8", lw=0.5, zorder=1)
    cmap = plt.get_cmap("viridis")
    f = res.objectives[res.pareto, 0]
    span = (f.max() - f.min()) or 1.0
    for row, v in zip(m[res.pareto], f, strict=True):
        ax.plot(x, row, color=cmap((v - f.min()) / span), lw=1.6, zorder=2)
    for xi in x:
        ax.axvline(xi, color="k", lw=0.6)
    ax.axvline(len(levs) - 0.5, color="tab:blue", ls="--", lw=0.8)
    ax.set_xticks(x, cols, fontsize=7)
    ax.set_yticks([0, 1], ["low", "high"])
    ax.set_ylim(-0.05, 1.05)
    ax.set_title("Levers | objectives — grey: evaluated, coloured: Pareto (by "
                 f"{p.objective_names[0]}) — " + _title(res), fontsize=8)
    return fig


def _wrap(name: str, width: int = 16) -> str:
    """A long dotted key over several lines, broken after its dots."""
    lines, cur = [], ""
    for part in name.split("."):
        piece = part if not cur else "." + part
        if cur and len(cur) + len(piece) > width:
            lines.append(cur + ".")
            cur = part
        else:
            cur += piece
    return "\n".join([*lines, cur])


def _fmt(v: float, lev, low: bool) -> str:
    if lev.is_month:
        return lev.first if low else lev.last
    if lev.levels is not None and not lev.numeric_levels:
        return str(lev.levels[int(v)])
    return f"{v:g}"


def regret_plot(res: SearchResult):
    """Per objective, each Pareto policy's regret over the draws: 90th percentile (bar) and max (dot)."""
    p = res.problem
    front = res.front
    stats = res.regret_stats()
    k = len(p.objective_names)
    fig, axes = plt.subplots(1, k, figsize=(4.6 * k, 0.28 * len(front) + 2.2), squeeze=False)
    order = front[np.argsort(res.objectives[front, 0])]
    labels = [res.names[i] for i in order]
    y = np.arange(len(order))
    for j, ax in enumerate(axes.flat):
        ax.barh(y, stats["p90"][order, j], color="tab:orange", label="90th percentile")
        ax.scatter(stats["max"][order, j], y, color="k", s=12, zorder=3, label="max")
        ax.set_yticks(y, labels if j == 0 else [""] * len(y), fontsize=7)
        ax.invert_yaxis()
        name = p.objective_names[j]
        ax.set_xlabel(f"regret in {name}\n(shortfall vs best front policy in each draw)", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
        if j == 0:
            ax.legend(fontsize=7)
    fig.suptitle("Regret of the Pareto policies (sorted by " + p.objective_names[0] + ") — " + _title(res),
                 fontsize=8)
    fig.tight_layout()
    return fig
