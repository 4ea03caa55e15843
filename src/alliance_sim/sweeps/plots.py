"""Figures of a sweep store (matplotlib, Agg): heatmaps over two factors, response curves with bands,
Sobol'/Morris bar charts with confidence intervals, and PRIM boxes with their coverage/density trade-off.

``plot_store`` draws what the store's design supports and returns the files it wrote.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402

from alliance_sim.sweeps.analysis import PrimResult, morris_indices, prim_box, sobol_indices  # noqa: E402
from alliance_sim.sweeps.design import SweepError  # noqa: E402
from alliance_sim.sweeps.outputs import output_values  # noqa: E402
from alliance_sim.sweeps.store import store_spec  # noqa: E402

LABELS = {
    "p_crossed": "P(crossed to Beijing's side)",
    "p_beijing_side_final": "P(on Beijing's side at horizon)",
    "final_alignment_mean": "mean final alignment",
    "final_alignment_q": "final alignment quantile",
    "final_cohesion_q": "final cohesion quantile",
    "min_cohesion_q": "minimum cohesion quantile",
}


def short(key: str) -> str:
    """A readable factor label: drop the top-level block of named parameters
    (``mechanisms.tariff_weight`` -> ``tariff_weight``); keep list positions (``tariffs.6.rate``)."""
    parts = key.split(".")
    if len(parts) > 1 and not parts[1].isdigit():
        return ".".join(parts[1:])
    return key


def output_label(output: str) -> str:
    var, _, rest = output.partition(".")
    name = LABELS.get(var, var)
    return f"{name} [{rest}]" if rest else name


def _title(ds: xr.Dataset) -> str:
    spec = store_spec(ds)
    name = spec.name or Path(ds.attrs.get("sweep_source", "sweep")).stem
    return (f"{name} — base {ds.attrs.get('base_name')}, {ds.attrs.get('n_points')} points × "
            f"{ds.attrs.get('replicates')} replicates, {ds.attrs.get('months')} months")


def _levels_or_bins(xs: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """(group index per point, group centre) by distinct values when few, else quantile bins."""
    uniq = np.unique(xs)
    if len(uniq) <= bins:
        return np.searchsorted(uniq, xs), uniq
    edges = np.linspace(xs.min(), xs.max(), bins + 1)
    idx = np.clip(np.searchsorted(edges, xs, side="right") - 1, 0, bins - 1)
    return idx, 0.5 * (edges[:-1] + edges[1:])


def heatmap(ds: xr.Dataset, output: str, fx: str, fy: str, ax=None, bins: int | None = None):
    """Mean of ``output`` over the (fx, fy) plane, averaged over the other factors (grids: per level;
    otherwise equal-width bins with about six points per cell)."""
    spec = store_spec(ds)
    names = spec.factor_names
    for f in (fx, fy):
        if f not in names:
            raise SweepError(f"heatmap: unknown factor '{f}'; expected one of {names}")
    y = output_values(ds, output)
    x = np.asarray(ds["x"].values, dtype=float)
    if spec.design.kind == "grid":
        bins = len(y)  # every level gets its own row/column
    elif bins is None:
        bins = int(np.clip(np.sqrt(len(y) / 6), 3, 12))
    ix, cx = _levels_or_bins(x[:, names.index(fx)], bins)
    iy, cy = _levels_or_bins(x[:, names.index(fy)], bins)
    grid = np.full((len(cy), len(cx)), np.nan)
    for a in range(len(cy)):
        for b in range(len(cx)):
            sel = (iy == a) & (ix == b) & ~np.isnan(y)
            if sel.any():
                grid[a, b] = y[sel].mean()
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 5.0))
    is_p = output.startswith("p_")
    im = ax.imshow(grid, origin="lower", aspect="auto", cmap="RdYlBu_r" if is_p else "viridis",
                   vmin=0 if is_p else None, vmax=1 if is_p else None)
    ax.set_xticks(range(len(cx)), [f"{v:.3g}" for v in cx], rotation=45 if len(cx) > 6 else 0)
    ax.set_yticks(range(len(cy)), [f"{v:.3g}" for v in cy])
    ax.set_xlabel(short(fx))
    ax.set_ylabel(short(fy))
    if grid.size <= 120:
        for a in range(len(cy)):
            for b in range(len(cx)):
                if not np.isnan(grid[a, b]):
                    v = grid[a, b]
                    dark = (v > 0.7 or v < 0.2) if is_p else False
                    ax.text(b, a, f"{v:.2f}", ha="center", va="center", fontsize=8,
                            color="white" if dark else "black")
    plt.colorbar(im, ax=ax, label=output_label(output))
    others = [short(n) for n in names if n not in (fx, fy)]
    ax.set_title(output_label(output) + (f"\n(averaged over {', '.join(others)})" if others else ""), fontsize=10)
    return ax


def response_curves(ds: xr.Dataset, output: str, factors: list[str] | None = None, bins: int = 8):
    """One panel per factor: mean of ``output`` over the points in each level or bin (the other
    factors vary), with 25–75 % and 5–95 % bands of those points."""
    spec = store_spec(ds)
    names = spec.factor_names
    factors = factors or names
    y = output_values(ds, output)
    x = np.asarray(ds["x"].values, dtype=float)
    if spec.design.kind == "grid":
        bins = len(y)
    n = len(factors)
    cols = min(n, 4)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 2.8 * rows), squeeze=False, sharey=True)
    for k, f in enumerate(factors):
        ax = axes[k // cols][k % cols]
        idx, centres = _levels_or_bins(x[:, names.index(f)], bins)
        stats = []
        for g in range(len(centres)):
            v = y[(idx == g) & ~np.isnan(y)]
            stats.append([*np.quantile(v, [0.05, 0.25, 0.75, 0.95]), v.mean()] if v.size else [np.nan] * 5)
        s = np.array(stats)
        ax.fill_between(centres, s[:, 0], s[:, 3], color="C0", alpha=0.15, lw=0, label="5–95 %")
        ax.fill_between(centres, s[:, 1], s[:, 2], color="C0", alpha=0.3, lw=0, label="25–75 %")
        ax.plot(centres, s[:, 4], "o-", color="C0", ms=3, label="mean")
        ax.set_xlabel(short(f), fontsize=9)
        ax.grid(alpha=0.3)
        if k % cols == 0:
            ax.set_ylabel(output_label(output), fontsize=9)
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    axes[0][0].legend(fontsize=7, loc="best")
    fig.suptitle(f"Response of {output_label(output)} (bands: spread over the other factors)", fontsize=10)
    fig.tight_layout()
    return fig


def sobol_bars(table: pd.DataFrame, output: str, ax=None):
    """First-order and total Sobol' indices with their confidence intervals, largest total first."""
    t = table.sort_values("ST", ascending=True)
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.45 * len(t) + 1.6))
    pos = np.arange(len(t))
    ax.barh(pos + 0.2, t["ST"], height=0.4, xerr=t["ST_conf"], color="C3", alpha=0.8, label="total (ST)",
            capsize=2)
    ax.barh(pos - 0.2, t["S1"], height=0.4, xerr=t["S1_conf"], color="C0", alpha=0.8, label="first order (S1)",
            capsize=2)
    ax.set_yticks(pos, [short(i) for i in t.index], fontsize=9)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("Sobol' index (bars: 95 % bootstrap CI)")
    ax.set_title(f"Sensitivity of {output_label(output)}", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    return ax


def morris_plot(table: pd.DataFrame, output: str):
    """Morris screening: μ* with confidence intervals (left) and the μ*–σ plane (right)."""
    t = table.sort_values("mu_star", ascending=True)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 0.4 * len(t) + 2.2))
    pos = np.arange(len(t))
    a1.barh(pos, t["mu_star"], xerr=t["mu_star_conf"], color="C2", capsize=2)
    a1.set_yticks(pos, [short(i) for i in t.index], fontsize=9)
    a1.set_xlabel("μ*: mean |change| over a full-range step (95 % CI)")
    a1.grid(axis="x", alpha=0.3)
    a2.scatter(table["mu_star"], table["sigma"], color="C2")
    big = float(table["mu_star"].max()) * 0.15
    for name, row in table.iterrows():
        if row["mu_star"] < big:  # the small ones are named in the bar chart
            continue
        a2.annotate(short(name), (row["mu_star"], row["sigma"]), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")
    lim = max(float(table["mu_star"].max()), float(table["sigma"].max()), 1e-12) * 1.1
    a2.plot([0, lim], [0, lim], "k--", lw=0.7, label="σ = μ* (non-linear / interacting above)")
    a2.set_xlim(0, lim)
    a2.set_ylim(0, lim)
    a2.set_xlabel("μ*")
    a2.set_ylabel("σ")
    a2.legend(fontsize=7)
    fig.suptitle(f"Morris screening of {output_label(output)}", fontsize=10)
    fig.tight_layout()
    return fig


def prim_box_plot(res: PrimResult):
    """The PRIM box: each restricted factor's limits drawn against its full range in the design."""
    rows = list(res.box.index) or list(res.ranges.index)
    fig, ax = plt.subplots(figsize=(7.5, 0.55 * len(rows) + 1.8))
    for k, f in enumerate(rows):
        lo, hi = res.ranges.loc[f, "low"], res.ranges.loc[f, "high"]
        span = hi - lo if hi > lo else 1.0
        blo = res.box.loc[f, "low"] if f in res.box.index else lo
        bhi = res.box.loc[f, "high"] if f in res.box.index else hi
        ax.barh(k, 1.0, left=0, color="0.88", height=0.6)
        ax.barh(k, (bhi - blo) / span, left=(blo - lo) / span, color="C1", height=0.6)
        ax.text(-0.02, k, f"{lo:.3g}", ha="right", va="center", fontsize=8)
        ax.text(1.02, k, f"{hi:.3g}", ha="left", va="center", fontsize=8)
        ax.text((blo - lo) / span + (bhi - blo) / span / 2, k, f"{blo:.3g} – {bhi:.3g}", ha="center",
                va="center", fontsize=8, color="black")
    ax.set_yticks(range(len(rows)), [short(r) for r in rows], fontsize=9)
    ax.set_xlim(-0.15, 1.15)
    ax.set_xticks([])
    st = res.stats
    ax.set_title(f"PRIM box where {res.rule}\ncoverage {st['coverage']:.2f}, density {st['density']:.2f}, "
                 f"mass {st['mass']:.2f} ({res.cases} of {res.n} points of interest)", fontsize=10)
    for s in ("top", "right", "bottom"):
        ax.spines[s].set_visible(False)
    fig.tight_layout()
    return fig


def prim_tradeoff(res: PrimResult):
    """Coverage against density along the peeling trajectory, coloured by restricted dimensions."""
    t = res.trajectory
    fig, ax = plt.subplots(figsize=(6.0, 4.6))
    from matplotlib.colors import BoundaryNorm

    top = int(t["res_dim"].max())
    norm = BoundaryNorm(np.arange(-0.5, top + 1.5), plt.get_cmap("viridis").N)
    sc = ax.scatter(t["coverage"], t["density"], c=t["res_dim"], cmap="viridis", norm=norm, s=22)
    ax.plot(t["coverage"], t["density"], color="0.6", lw=0.7, zorder=0)
    c = t.iloc[res.chosen]
    ax.scatter([c["coverage"]], [c["density"]], s=140, facecolors="none", edgecolors="C3", lw=2,
               label=f"chosen box (step {res.chosen})")
    plt.colorbar(sc, ax=ax, label="restricted dimensions", ticks=range(top + 1))
    ax.set_xlabel("coverage (share of cases of interest inside the box)")
    ax.set_ylabel("density (share of the box that is of interest)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title(f"PRIM peeling trajectory: {res.rule}", fontsize=10)
    fig.tight_layout()
    return fig


def feature_score_bars(scores: pd.DataFrame, title: str | None = None):
    """Grouped horizontal bars of feature scores: one group per factor, one bar per output."""
    names = [short(f) for f in scores.index]
    k = max(1, scores.shape[1])
    fig, ax = plt.subplots(figsize=(7.5, 0.5 * len(names) * max(1, k * 0.6) + 1.6))
    h = 0.8 / k
    y = np.arange(len(names))
    for j, col in enumerate(scores.columns):
        ax.barh(y + (j - (k - 1) / 2) * h, scores[col].to_numpy(), height=h, label=output_label(col))
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlabel("feature score (extra-trees importance; sums to 1 per output)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title or "Feature scores", fontsize=10)
    fig.tight_layout()
    return fig


def _save(fig, path: Path, title: str | None = None) -> Path:
    if title:
        fig.text(0.5, -0.01, title, ha="center", va="top", fontsize=7, color="0.4")
    fig.savefig(path, dpi=130, bbox_inches="tight")
    plt.close(fig)
    return path


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def plot_store(ds: xr.Dataset, out_dir: str | Path, outputs: list[str] | None = None) -> list[Path]:
    """Draw what the store's design supports into ``out_dir``; return the files written."""
    spec = store_spec(ds)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = outputs or spec.outputs
    title = _title(ds)
    files: list[Path] = []
    names = spec.factor_names
    kind = spec.design.kind
    for o in outputs:
        tag = _safe(o)
        if kind == "sobol":
            fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(names) + 1.6))
            sobol_bars(sobol_indices(ds, o), o, ax=ax)
            files.append(_save(fig, out_dir / f"sobol_{tag}.png", title))
        elif kind == "morris":
            files.append(_save(morris_plot(morris_indices(ds, o), o), out_dir / f"morris_{tag}.png", title))
        else:
            if len(names) >= 2:
                fig, ax = plt.subplots(figsize=(6.6, 5.2))
                heatmap(ds, o, names[0], names[1], ax=ax)
                files.append(_save(fig, out_dir / f"heatmap_{tag}.png", title))
            files.append(_save(response_curves(ds, o), out_dir / f"response_{tag}.png", title))
    if spec.prim is not None and kind in ("grid", "lhs"):
        p = spec.prim
        res = prim_box(ds, p.output, p.op, p.value, peel_alpha=p.peel_alpha, mass_min=p.mass_min)
        tag = _safe(p.output)
        files.append(_save(prim_box_plot(res), out_dir / f"prim_box_{tag}.png", title))
        files.append(_save(prim_tradeoff(res), out_dir / f"prim_tradeoff_{tag}.png", title))
    return files
