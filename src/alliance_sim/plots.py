"""Standard plots of an ensemble's results, made to be dropped into a briefing.

Every function takes the results dataset (:func:`alliance_sim.results.to_dataset`, or one read back
from ``results.nc``) — or, for :func:`plot_compare`, a dict ``name -> dataset`` — and returns a
``matplotlib.figure.Figure``.  Figures are built without ``pyplot`` (no global state, no GUI
backend: PNGs are rendered by Agg), and they display inline in a notebook.

Conventions: the x axis is the simulated month (calendar labels), the suptitle names the scenario
and the number of replicates, scripted events are dashed vertical lines with short labels, and the
area below zero alignment is shaded as "Beijing's side".  Artists carry labels ("median",
"50% band", "90% band", "Beijing's side") so tests and users can find them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

ACTOR_NAMES = {"USA": "United States", "JPN": "Japan", "KOR": "South Korea", "CHN": "China",
               "PRK": "North Korea", "RUS": "Russia", "TWN": "Taiwan", "AUS": "Australia", "PHL": "Philippines"}
ALLY_COLORS = {"JPN": "#2b5c9e", "KOR": "#1b8a6b"}
_FALLBACK = ["#7b4fa0", "#c77c0e", "#5a6e7f", "#a0522d", "#2f8fbf"]
SCENARIO_COLORS = ["#2b5c9e", "#d1495b", "#1b8a6b", "#edae49", "#7b4fa0", "#5a6e7f", "#c77c0e", "#00798c"]
BEIJING_FILL = "#f6dede"
BEIJING_TEXT = "#a33a3a"
OPTION_COLORS = {
    "escalate_tariff": "#d1495b", "relieve_tariff": "#66a182", "raise_demand": "#edae49",
    "concede": "#2b5c9e", "hedge": "#edae49", "retaliate": "#d1495b", "play_chip": "#7b4fa0",
    "accommodate": "#a33a3a",
    "induce": "#66a182", "coerce": "#d1495b", "provoke": "#d1495b", "restrain": "#dddddd",
    "hold": "#eeeeee", "none": "#eeeeee",
}
QUIET_OPTIONS = ("hold", "none", "restrain")
STANDARD_PLOTS = ("alignment", "cohesion", "crossing", "ties", "decisions", "observables")

_RC = {"font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "legend.fontsize": 9.5,
       "xtick.labelsize": 9.5, "ytick.labelsize": 9.5}


# ----------------------------------------------------------------------------------- helpers


def escape_mathtext(text: str) -> str:
    """``text`` with dollar signs escaped, so matplotlib prints "$550 bn" instead of reading
    "$550 bn / $" as mathtext (italics, spaces dropped)."""
    return str(text).replace("\\$", "$").replace("$", r"\$")


def actor_name(code: str) -> str:
    """Display name of an actor id ('KOR' -> 'South Korea'); unknown ids are shown as they are."""
    return ACTOR_NAMES.get(str(code), str(code))


def percent_formatter() -> FuncFormatter:
    """Tick labels for a share in [0, 1] as percentages with the decimals the tick needs and no more
    ("2.5%", "20%"): rounding to whole percent would label 2.5 % steps "3%", "5%", "8%"."""
    return FuncFormatter(lambda v, _pos: f"{round(100 * v, 2):g}%")


def ally_color(ally: str, position: int = 0) -> str:
    return ALLY_COLORS.get(str(ally), _FALLBACK[position % len(_FALLBACK)])


def _attr_list(ds: xr.Dataset, key: str) -> list[str]:
    """A list-of-strings attribute, whether in memory (list), read back from netCDF (array) or
    stored JSON-encoded (see :mod:`alliance_sim.rundir`)."""
    value = ds.attrs.get(key, [])
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = [value] if value else []
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, list | tuple):
        value = [value]
    return [str(v) for v in value]


def scenario_name(ds: xr.Dataset) -> str:
    return str(ds.attrs.get("scenario") or "scenario")


def replicates(ds: xr.Dataset) -> int:
    return int(ds.attrs.get("replicates", 0))


def title_of(ds: xr.Dataset, what: str) -> str:
    """'tariff_shock_2025 — <what> (1,000 replicates)'."""
    return escape_mathtext(f"{scenario_name(ds)} — {what} ({replicates(ds):,} replicates)")


_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def month_tick_label(label: str) -> str:
    """'2025-07' -> 'Jul 2025'."""
    try:
        year, month = str(label).split("-")
        return f"{_MONTH_NAMES[int(month) - 1]} {year}"
    except (ValueError, IndexError):
        return str(label)


def event_marks(ds: xr.Dataset) -> list[tuple[int, str]]:
    """(month index, short label) of each month with scripted events; labels of one month are joined."""
    months = [str(m) for m in ds.month.values]
    by_month: dict[int, list[str]] = {}
    for m, label in zip(_attr_list(ds, "event_months"), _attr_list(ds, "event_labels"), strict=False):
        if m in months and label:
            labels = by_month.setdefault(months.index(m), [])
            if label not in labels:
                labels.append(label)
    return [(k, " / ".join(_shorten(x) for x in v)) for k, v in sorted(by_month.items())]


def _shorten(label: str, width: int = 60) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def month_axis(ax, months: list[str], max_ticks: int = 6) -> None:
    """Calendar labels on the x axis of a monthly series: about ``max_ticks`` of them, every 6 or 12 months
    once the horizon is long, so that they never overlap (the CLI plots and the dashboard share this)."""
    n = len(months)
    step = max(1, math.ceil(n / max_ticks))
    if 3 < step < 6:
        step = 6
    elif 6 < step <= 12:
        step = 12
    ticks = list(range(0, n, step))
    ax.set_xticks(ticks, [month_tick_label(months[i]) for i in ticks], rotation=0)
    ax.set_xlim(-0.5, n - 0.5)


def _month_axis(ax, ds: xr.Dataset) -> None:
    month_axis(ax, [str(m) for m in ds.month.values])


def _mark_events(ax, ds: xr.Dataset, *, numbers: bool = True) -> None:
    """Dashed vertical lines at scripted events, numbered at the top; :func:`_event_key` explains them."""
    for n, (k, _label) in enumerate(event_marks(ds), start=1):
        ax.axvline(k, color="#555555", lw=0.9, ls="--", alpha=0.7, zorder=1, gid="event")
        if numbers:
            ax.text(k, 0.975, str(n), transform=ax.get_xaxis_transform(), ha="center", va="top", fontsize=7.5,
                    color="white", fontweight="bold", zorder=6, gid="event_number",
                    bbox={"boxstyle": "circle,pad=0.25", "fc": "#555555", "ec": "none"})


def event_key(ds: xr.Dataset) -> str:
    """'1 Aug 2025: 25% letter tariff   2 Jan 2026: …' — the key to the numbered event lines."""
    months = [str(m) for m in ds.month.values]
    return "     ".join(f"({n}) {month_tick_label(months[k])}: {label}"
                        for n, (k, label) in enumerate(event_marks(ds), start=1))


def _event_key(fig: Figure, ds: xr.Dataset, prefix: str = "") -> None:
    key = event_key(ds)
    if key:
        key = prefix + key
        # ~13 characters of 9-pt text per inch: wrap to the figure's width so no line is cut off
        width = max(60, int(fig.get_figwidth() * 13))
        fig.supxlabel(escape_mathtext(_wrap(key, width)), fontsize=9, color="#333333")


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width=width, break_long_words=False))


def _top_legend(ax, handles, labels, ncols: int | None = None) -> None:
    """A borderless legend in one row just above the axes, right-aligned (clear of the data)."""
    ax.legend(handles, labels, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=ncols or len(labels),
              frameon=False, borderaxespad=0.2, handlelength=1.6, columnspacing=1.2)


def _beijing_side(ax, ymin: float = -1.0, *, label: bool = True) -> None:
    """Zero line labelled "Beijing's side" with the area below it shaded."""
    ax.axhspan(ymin, 0, color=BEIJING_FILL, zorder=0, lw=0, label="Beijing's side")
    ax.axhline(0, color=BEIJING_TEXT, lw=1.0, zorder=1, gid="zero")
    if label:
        ax.text(0.01, -0.03, "Beijing's side", transform=ax.get_yaxis_transform(), va="top", ha="left",
                fontsize=9, color=BEIJING_TEXT, style="italic")


def _bands(ax, x, q: xr.DataArray, color: str, *, median_label: str = "median", alpha50: float = 0.35,
           alpha90: float = 0.15, show90: bool = True, lw: float = 2.2):
    """90 % and 50 % bands and the median line of a (quantile, month) array."""
    if show90:
        ax.fill_between(x, q.sel(quantile=0.05).values, q.sel(quantile=0.95).values, color=color,
                        alpha=alpha90, lw=0, label="90% band")
    ax.fill_between(x, q.sel(quantile=0.25).values, q.sel(quantile=0.75).values, color=color,
                    alpha=alpha50, lw=0, label="50% band")
    (line,) = ax.plot(x, q.sel(quantile=0.5).values, color=color, lw=lw, label=median_label)
    return line


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    return fig


def _with_rc(func):
    """Draw with the module's font sizes without touching the user's global rcParams."""
    import functools

    import matplotlib as mpl

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with mpl.rc_context(_RC):
            return func(*args, **kwargs)

    return wrapper


# ------------------------------------------------------------------------------------ plots


@_with_rc
def plot_alignment(ds: xr.Dataset) -> Figure:
    """Fan chart of each ally's alignment (+1 Washington .. -1 Beijing): median, 50 % and 90 % bands."""
    allies = [str(a) for a in ds.ally.values]
    fig = _new_figure(5.2 * len(allies) + 0.6, 4.6)
    axes = fig.subplots(1, len(allies), sharey=True, squeeze=False)[0]
    x = np.arange(ds.sizes["month"])
    for i, (ax, ally) in enumerate(zip(axes, allies, strict=True)):
        q = ds.alignment_q.sel(ally=ally)
        _beijing_side(ax)
        _bands(ax, x, q, ally_color(ally, i))
        _mark_events(ax, ds)
        ax.set_title(actor_name(ally), loc="left", fontweight="bold")
        _month_axis(ax, ds)
        ax.set_ylim(-1, 1)
        ax.grid(axis="y", color="#e5e5e5", lw=0.6)
        if i == 0:
            ax.set_ylabel("alignment  (−1 Beijing … +1 Washington)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", frameon=False)
    _event_key(fig, ds)
    fig.suptitle(title_of(ds, "alignment"), fontsize=13, fontweight="bold")
    return fig


@_with_rc
def plot_cohesion(ds: xr.Dataset) -> Figure:
    """Trilateral cohesion (mean tie among the patron and its allies): median with 50 % and 90 % bands."""
    fig = _new_figure(8.0, 4.4)
    ax = fig.subplots()
    x = np.arange(ds.sizes["month"])
    ax.axhline(0, color="#888888", lw=0.8)
    _bands(ax, x, ds.cohesion_q, "#5a4e8c")
    _mark_events(ax, ds)
    _month_axis(ax, ds)
    lo = float(min(ds.cohesion_q.min(), 0.0))
    ax.set_ylim(max(-1.0, lo - 0.05), 1)
    ax.set_ylabel("cohesion  (mean allied tie, −1 … 1)")
    ax.grid(axis="y", color="#e5e5e5", lw=0.6)
    if "min_cohesion_q" in ds:
        ax.text(0.99, 0.02, f"median of each run's lowest cohesion: {float(ds.min_cohesion_q.sel(quantile=0.5)):.2f}",
                transform=ax.transAxes, ha="right", va="bottom", fontsize=9, color="#444444")
    handles, labels = ax.get_legend_handles_labels()
    _top_legend(ax, handles, labels)
    _event_key(fig, ds)
    fig.suptitle(title_of(ds, "trilateral cohesion"), fontsize=13, fontweight="bold")
    return fig


@_with_rc
def plot_crossing(ds: xr.Dataset) -> Figure:
    """Probability that each ally has crossed to Beijing's side (alignment < 0) at least once by each month."""
    fig = _new_figure(9.0, 4.8)
    ax = fig.subplots()
    x = np.arange(ds.sizes["month"])
    for i, ally in enumerate(str(a) for a in ds.ally.values):
        color = ally_color(ally, i)
        y = ds.p_crossed.sel(ally=ally).values
        ax.plot(x, y, color=color, lw=2.4, label=f"{actor_name(ally)}: has crossed", drawstyle="default")
        if "p_beijing_side" in ds:
            ax.plot(x, ds.p_beijing_side.sel(ally=ally).values, color=color, lw=1.3, ls=":",
                    label=f"{actor_name(ally)}: on Beijing's side that month")
        ax.annotate(f"{y[-1]:.0%}", (x[-1], y[-1]), xytext=(4, 0), textcoords="offset points",
                    va="center", fontsize=10, color=color, fontweight="bold")
    _mark_events(ax, ds)
    _month_axis(ax, ds)
    ax.set_xlim(-0.5, len(x) - 0.5 + max(1.0, 0.06 * len(x)))
    top = float(ds.p_crossed.max()) if ds.p_crossed.size else 0.0
    ax.set_ylim(0, max(0.1, min(1.0, top * 1.15 + 0.02)))
    ax.yaxis.set_major_formatter(percent_formatter())
    ax.set_ylabel("probability")
    ax.grid(axis="y", color="#e5e5e5", lw=0.6)
    handles, labels = ax.get_legend_handles_labels()
    _top_legend(ax, handles, labels, ncols=2)
    _event_key(fig, ds)
    fig.suptitle(title_of(ds, "chance of having crossed to Beijing's side"), fontsize=13, fontweight="bold")
    return fig


@_with_rc
def plot_compare_crossing(results: Mapping[str, xr.Dataset]) -> Figure:
    """One panel per ally with each scenario's probability of having crossed to Beijing's side by each month."""
    if not results:
        raise ValueError("plot_compare_crossing: no scenarios given")
    names = list(results)
    first = results[names[0]]
    allies = [str(a) for a in first.ally.values]
    fig = _new_figure(5.4 * len(allies) + 0.6, 4.4)
    axes = fig.subplots(1, len(allies), sharey=True, squeeze=False)[0]
    n = first.sizes["month"]
    top = max(float(ds.p_crossed.max()) for ds in results.values() if ds.p_crossed.size)
    for i, (ax, ally) in enumerate(zip(axes, allies, strict=True)):
        for k, name in enumerate(names):
            ds = results[name]
            if ally not in [str(a) for a in ds.ally.values]:
                continue
            color = SCENARIO_COLORS[k % len(SCENARIO_COLORS)]
            y = ds.p_crossed.sel(ally=ally).values
            xs = np.arange(ds.sizes["month"])
            ax.plot(xs, y, color=color, lw=2.2, label=name)
            ax.annotate(f"{y[-1]:.0%}", (xs[-1], y[-1]), xytext=(4, 0), textcoords="offset points", va="center",
                        fontsize=9.5, color=color, fontweight="bold")
        _mark_events(ax, first)
        ax.set_title(actor_name(ally), loc="left", fontweight="bold")
        _month_axis(ax, first)
        ax.set_xlim(-0.5, n - 0.5 + max(1.5, 0.1 * n))
        ax.set_ylim(0, max(0.1, min(1.0, top * 1.15 + 0.02)))
        ax.yaxis.set_major_formatter(percent_formatter())
        ax.grid(axis="y", color="#e5e5e5", lw=0.6)
        if i == 0:
            ax.set_ylabel("probability of having crossed")
    handles = [ln for ln in axes[0].lines if ln.get_label() in names]
    fig.legend(handles, [escape_mathtext(h.get_label()) for h in handles], loc="outside right center",
               frameon=False)
    _event_key(fig, first, prefix=f"events of {names[0]}:  " if len(names) > 1 else "")
    fig.suptitle("Chance of having crossed to Beijing's side, by scenario (same random numbers)", fontsize=12.5,
                 fontweight="bold")
    return fig


def tie_matrix(ds: xr.Dataset, month: str | None = None, quantile: float = 0.5) -> tuple[list[str], np.ndarray]:
    """Actors and the symmetric matrix of the ``quantile`` of each tie at ``month`` (default: the
    horizon); the diagonal is NaN."""
    month = str(ds.month.values[-1]) if month is None else month
    pairs = [str(p) for p in ds.pair.values]
    actors: list[str] = []
    for p in pairs:
        for a in p.split("-"):
            if a not in actors:
                actors.append(a)
    m = np.full((len(actors), len(actors)), np.nan)
    values = ds.tie_q.sel(quantile=quantile, month=month).values
    for p, v in zip(pairs, values, strict=True):
        a, b = p.split("-")
        i, j = actors.index(a), actors.index(b)
        m[i, j] = m[j, i] = float(v)
    return actors, m


@_with_rc
def plot_ties(ds: xr.Dataset) -> Figure:
    """Heatmap of the median tie between every pair of actors at the horizon."""
    actors, m = tie_matrix(ds)
    n = len(actors)
    fig = _new_figure(1.25 * n + 3.2, 1.1 * n + 1.8)
    ax = fig.subplots()
    im = ax.imshow(np.ma.masked_invalid(m), cmap="RdBu", norm=TwoSlopeNorm(vcenter=0.0, vmin=-1.0, vmax=1.0))
    names = [actor_name(a) for a in actors]
    ax.set_xticks(range(n), names, rotation=30, ha="right")
    ax.set_yticks(range(n), names)
    ax.set_facecolor("#f2f2f2")
    for i in range(n):
        for j in range(n):
            if np.isfinite(m[i, j]):
                ax.text(j, i, f"{m[i, j]:+.2f}", ha="center", va="center", fontsize=11,
                        color="white" if abs(m[i, j]) > 0.55 else "#222222", fontweight="bold")
    ax.tick_params(length=0)
    for s in ax.spines.values():
        s.set_visible(False)
    cbar = fig.colorbar(im, ax=ax, shrink=0.85)
    cbar.set_label("tie  (−1 hostile … +1 close)")
    month = month_tick_label(str(ds.month.values[-1]))
    fig.suptitle(title_of(ds, f"median ties, {month}"), fontsize=12, fontweight="bold")
    return fig


@_with_rc
def plot_decisions(ds: xr.Dataset) -> Figure:
    """Share of replicates taking each decision, month by month: one row per agent (US, ally, China,
    adversaries), one column per ally; 'hold'/'none'/'restrain' are the blank remainder."""
    allies = [str(a) for a in ds.ally.values]
    rows: list[tuple[str, list[tuple[str, xr.DataArray]], str]] = []  # (row name, panels, option dim)
    for var, fmt in (("us_decision_freq", "US toward {}"), ("ally_decision_freq", "{} decides"),
                     ("china_decision_freq", "China toward {}")):
        if var in ds:
            odim = [d for d in ds[var].dims if d.endswith("_option")][0]
            rows.append((var, [(fmt.format(actor_name(a)), ds[var].sel(ally=a)) for a in allies], odim))
    adversaries = [str(a) for a in ds.adversary.values] if "adversary" in ds.dims else []
    if adversaries and "adversary_decision_freq" in ds:
        var = "adversary_decision_freq"
        odim = [d for d in ds[var].dims if d.endswith("_option")][0]
        rows.append((var, [(f"{actor_name(a)} decides", ds[var].sel(adversary=a)) for a in adversaries], odim))
    ncols = max(len(panels) for _, panels, _ in rows)
    fig = _new_figure(4.6 * ncols + 2.4, 2.4 * len(rows) + 0.9)
    axes = fig.subplots(len(rows), ncols, squeeze=False, sharex=True)
    x = np.arange(ds.sizes["month"])
    for r, (_, panels, odim) in enumerate(rows):
        options = [str(o) for o in ds[odim].values if str(o) not in QUIET_OPTIONS]
        colors = [OPTION_COLORS.get(o, "#999999") for o in options]
        labels = [o.replace("_", " ") for o in options]
        top = max(float(np.max(sum(da.sel({odim: o}).values for o in options))) for _, da in panels) if options else 0
        for c in range(ncols):
            ax = axes[r][c]
            if c >= len(panels):
                ax.set_visible(False)
                continue
            title, da = panels[c]
            ax.stackplot(x, *[da.sel({odim: o}).values for o in options], colors=colors, labels=labels,
                         alpha=0.9, lw=0)
            ax.set_ylim(0, max(0.05, min(1.0, top * 1.15 + 0.01)))
            ax.yaxis.set_major_formatter(percent_formatter())
            ax.set_title(title, loc="left", fontsize=10.5, fontweight="bold")
            ax.grid(axis="y", color="#e5e5e5", lw=0.6)
            _mark_events(ax, ds, numbers=(r == 0))
            _month_axis(ax, ds)
            if c == 0:
                ax.set_ylabel("share of runs")
            if c == len(panels) - 1:
                handles, names = ax.get_legend_handles_labels()
                ax.legend(handles[::-1], names[::-1], loc="upper left", bbox_to_anchor=(1.02, 1.0),
                          frameon=False, fontsize=9)
    for c in range(ncols):  # month labels under the lowest panel of each column (sharex hides the others)
        shown = [axes[r][c] for r in range(len(rows)) if axes[r][c].get_visible()]
        if shown:
            shown[-1].tick_params(labelbottom=True)
    _event_key(fig, ds)
    fig.suptitle(title_of(ds, "decisions (share of runs; the rest hold)"), fontsize=13, fontweight="bold")
    return fig


@_with_rc
def plot_compare(results: Mapping[str, xr.Dataset]) -> Figure:
    """One panel per ally with every scenario's median alignment and 50 % band overlaid."""
    if not results:
        raise ValueError("plot_compare: no scenarios given")
    names = list(results)
    first = results[names[0]]
    allies = [str(a) for a in first.ally.values]
    fig = _new_figure(5.4 * len(allies) + 0.6, 4.8)
    axes = fig.subplots(1, len(allies), sharey=True, squeeze=False)[0]
    x = np.arange(first.sizes["month"])
    for i, (ax, ally) in enumerate(zip(axes, allies, strict=True)):
        _beijing_side(ax)
        for k, name in enumerate(names):
            ds = results[name]
            if ally not in [str(a) for a in ds.ally.values]:
                continue
            q = ds.alignment_q.sel(ally=ally)
            xs = np.arange(ds.sizes["month"])
            _bands(ax, xs, q, SCENARIO_COLORS[k % len(SCENARIO_COLORS)], median_label=name, show90=False,
                   alpha50=0.18)
        _mark_events(ax, first)
        ax.set_title(actor_name(ally), loc="left", fontweight="bold")
        _month_axis(ax, first)
        ax.set_xlim(-0.5, len(x) - 0.5)
        ax.set_ylim(-1, 1)
        ax.grid(axis="y", color="#e5e5e5", lw=0.6)
        if i == 0:
            ax.set_ylabel("alignment  (−1 Beijing … +1 Washington)")
    handles = [ln for ln in axes[0].lines if ln.get_label() in names]
    fig.legend(handles, [escape_mathtext(h.get_label()) for h in handles], loc="outside right center",
               frameon=False)
    _event_key(fig, first, prefix=f"events of {names[0]}:  " if len(names) > 1 else "")
    reps = sorted({replicates(ds) for ds in results.values()})
    rep_text = f"{reps[0]:,} replicates each" if len(reps) == 1 else "replicates: " + ", ".join(f"{r:,}" for r in reps)
    fig.suptitle(f"Alignment by scenario: median and 50% band ({rep_text}, same random numbers)", fontsize=12.5,
                 fontweight="bold")
    return fig


DRIVER_LABELS = {
    "tariffs_trade": "tariffs & trade", "burden_reliability": "burden & US reliability", "threat": "threat",
    "domestic_politics": "public & leaders", "balance": "balance of the other ties",
    "china": "China's inducement & coercion", "ally_choices": "the ally's own choices",
    "direct_events": "dated events between two actors", "noise": "noise & limits",
}
DRIVER_COLORS = {
    "tariffs_trade": "#d1495b", "burden_reliability": "#edae49", "threat": "#2b5c9e", "domestic_politics": "#7b4fa0",
    "balance": "#5a6e7f", "china": "#8c564b", "ally_choices": "#1b8a6b", "direct_events": "#e377c2",
    "noise": "#bbbbbb",
}


def _stacked_signed(ax, x, parts: dict[str, np.ndarray]) -> None:
    """Stack the positive parts of each series upward from 0 and the negative parts downward, so that a
    month's bars show what pushed up and what pushed down (their sum is the net change)."""
    up = np.zeros(len(x))
    down = np.zeros(len(x))
    for name, y in parts.items():
        pos, neg = np.clip(y, 0, None), np.clip(y, None, 0)
        color = DRIVER_COLORS.get(name, "#999999")
        ax.fill_between(x, up, up + pos, color=color, lw=0, alpha=0.9, label=DRIVER_LABELS.get(name, name))
        ax.fill_between(x, down + neg, down, color=color, lw=0, alpha=0.9)
        up, down = up + pos, down + neg


@_with_rc
def plot_drivers(ds: xr.Dataset) -> Figure:
    """What moved each ally's alignment: the mean share of each driver group in the change since the start,
    stacked over time (left), and a waterfall from the start to the horizon (right).  The shares add up to
    the mean change of alignment (docs/model.md §8.1)."""
    allies = [str(a) for a in ds.ally.values]
    drivers = [str(d) for d in ds.driver.values]
    fig = _new_figure(14.5, 3.9 * len(allies) + 0.8)
    axes = fig.subplots(len(allies), 2, squeeze=False, width_ratios=[1.9, 1.0])
    x = np.arange(ds.sizes["month"])
    months = [str(m) for m in ds.month.values]
    shares = ds.alignment_driver_mean
    for row, ally in enumerate(allies):
        ax, wf = axes[row]
        sh = shares.sel(ally=ally)
        total = sh.sum("driver").values
        _stacked_signed(ax, x, {d: sh.sel(driver=d).values for d in drivers})
        ax.plot(x, total, color="black", lw=2.0, label="net change (mean)")
        ax.axhline(0, color="#666666", lw=0.8)
        _mark_events(ax, ds)
        _month_axis(ax, ds)
        ax.set_title(f"{actor_name(ally)}: what moved its alignment", loc="left", fontweight="bold")
        ax.set_ylabel("change since the start")
        ax.grid(axis="y", color="#e5e5e5", lw=0.6)
        # waterfall: start → each driver's share at the horizon → horizon
        final = sh.isel(month=-1).values
        end = float(ds.alignment_mean.sel(ally=ally).isel(month=-1))
        start = end - float(final.sum())
        order = sorted(range(len(drivers)), key=lambda k: -abs(final[k]))
        labels = ["start"] + [DRIVER_LABELS.get(drivers[k], drivers[k]) for k in order] + [month_tick_label(months[-1])]
        level = start
        wf.barh(0, start, color="#888888", height=0.6)
        for pos, k in enumerate(order, start=1):
            v = float(final[k])
            wf.barh(pos, v, left=level, color=DRIVER_COLORS.get(drivers[k], "#999999"), height=0.6)
            wf.text(level + v + (0.004 if v >= 0 else -0.004), pos, f"{v:+.3f}", va="center",
                    ha="left" if v >= 0 else "right", fontsize=8.5, color="#333333")
            level += v
        wf.barh(len(order) + 1, end, color=ally_color(ally, row), height=0.6)
        wf.text(start, 0, f" {start:+.2f}", va="center", ha="left" if start >= 0 else "right", fontsize=8.5)
        wf.text(end, len(order) + 1, f" {end:+.2f}", va="center", ha="left" if end >= 0 else "right", fontsize=8.5)
        wf.set_yticks(range(len(labels)), labels)
        wf.invert_yaxis()
        wf.axvline(0, color=BEIJING_TEXT, lw=0.9)
        lo = min(0.0, start, end, *(start + np.cumsum(final[order])))
        hi = max(0.0, start, end, *(start + np.cumsum(final[order])))
        pad = 0.18 * max(hi - lo, 0.05)
        wf.set_xlim(lo - pad, hi + pad)
        wf.set_xlabel("mean alignment  (+1 Washington)")
        wf.set_title("from the start to the horizon", loc="left", fontsize=11)
        wf.grid(axis="x", color="#e5e5e5", lw=0.6)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.suptitle(title_of(ds, "drivers of alignment"), fontsize=13, fontweight="bold")
    fig.legend(handles, labels, loc="outside right center", frameon=False)
    _event_key(fig, ds)
    return fig


@_with_rc
def plot_observables(ds: xr.Dataset, points=None) -> Figure:
    """The observation model against the record: per ally, the model's median and 50 %/90 % bands of the
    shares of citizens favourable to the US and to China (top) and of the export shares to the US and to
    China (bottom), with the shipped observations that fall inside the run (Pew polls; customs export
    shares, yearly ones drawn at mid-year with a bar over their twelve months).  ``points``: a table like
    :func:`alliance_sim.observed_points.observed_points` (default: the shipped data)."""
    from alliance_sim.observed_points import observed_points, within

    allies = [str(a) for a in ds.ally.values]
    months = [str(m) for m in ds.month.values]
    if points is None:
        try:
            points = observed_points(tuple(allies))
        except Exception:  # noqa: BLE001 - a damaged data folder must not cost the run its plots
            points = None
    pts = within(points, months) if points is not None else None
    fig = _new_figure(5.2 * len(allies) + 0.6, 7.4)
    axes = fig.subplots(2, len(allies), sharex=True, squeeze=False)
    x = np.arange(len(months))
    rows = ((("favourable_us", "US", "#2b5c9e"), ("favourable_china", "China", "#d1495b")),
            (("export_share_us", "US", "#2b5c9e"), ("export_share_china", "China", "#d1495b")))
    ylabels = ("share of citizens favourable", "share of exports")
    for r, row in enumerate(rows):
        for i, ally in enumerate(allies):
            ax = axes[r][i]
            for name, who, color in row:
                if f"{name}_q" not in ds:
                    continue
                _bands(ax, x, ds[f"{name}_q"].sel(ally=ally), color, median_label=f"model: {who}", lw=1.8)
                if pts is None:
                    continue
                mine = pts[(pts.quantity == name) & (pts.ally == ally)]
                for p in mine.itertuples(index=False):
                    k = months.index(p.month) if p.month in months else None
                    if k is None:
                        continue
                    span = [months.index(m) for m in p.months]
                    if len(span) > 1:
                        ax.hlines(p.value, min(span), max(span), color=color, lw=1.2, alpha=0.8, gid="observed_span")
                    ax.plot([k], [p.value], marker="o" if p.period_type == "poll" else "s", ms=6.5, color="white",
                            mec=color, mew=1.8, ls="none", zorder=5, gid="observed",
                            label=f"observed: {who}")
            _mark_events(ax, ds, numbers=(r == 0))
            ax.set_ylim(0, 1 if r == 0 else 0.4)  # export shares sit near 20 %: a 0–40 % axis shows them
            ax.yaxis.set_major_formatter(percent_formatter())
            ax.grid(axis="y", color="#e5e5e5", lw=0.6)
            if r == 0:
                ax.set_title(actor_name(ally), loc="left", fontweight="bold")
            if i == 0:
                ax.set_ylabel(ylabels[r])
            _month_axis(ax, ds)
    handles, labels = [], []
    for ax in axes.ravel():
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels and lab not in ("50% band", "90% band"):
                handles.append(h)
                labels.append(lab)
    h0, l0 = axes[0][0].get_legend_handles_labels()
    for h, lab in zip(h0, l0, strict=True):
        if lab in ("50% band", "90% band") and lab not in labels:
            handles.append(h)
            labels.append(lab)
    fig.legend(handles, labels, loc="outside right center", frameon=False)
    n_obs = 0 if pts is None else int(pts.quantity.isin([n for row in rows for n, _, _ in row]).sum())
    note = (f"{n_obs} observations inside the run (circles: Pew polls at the end of fieldwork; squares: export "
            "shares, yearly ones at mid-year with a bar over the year)" if n_obs else
            "no shipped observation falls inside this run's months")
    key = event_key(ds)
    text = note + (".     " + key if key else ".")
    fig.supxlabel(escape_mathtext(_wrap(text, max(60, int(fig.get_figwidth() * 13)))), fontsize=9, color="#333333")
    fig.suptitle(title_of(ds, "observables against the record"), fontsize=13, fontweight="bold")
    return fig


PLOTTERS = {"alignment": plot_alignment, "cohesion": plot_cohesion, "crossing": plot_crossing,
            "ties": plot_ties, "decisions": plot_decisions, "observables": plot_observables, "drivers": plot_drivers}


def save_figure(fig: Figure, path: str | Path, dpi: int = 110) -> Path:
    path = Path(path)
    fig.savefig(path, dpi=dpi, facecolor="white")
    return path


def save_all(ds: xr.Dataset, folder: str | Path) -> list[Path]:
    """Write the standard set (alignment, cohesion, crossing, ties, decisions, observables, and drivers when the
    results have them) as PNGs into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return [save_figure(PLOTTERS[name](ds), folder / f"{name}.png") for name in plots_of(ds)]


def plots_of(ds: xr.Dataset) -> tuple[str, ...]:
    """The standard plots a dataset can draw: the drivers plot needs driver attribution (results of 0.1
    runs before it, or runs without it, have none)."""
    return STANDARD_PLOTS + (("drivers",) if "alignment_driver_mean" in ds else ())


@_with_rc
def plot_explain(table, ds: xr.Dataset) -> Figure:
    """The accounting beside the knock-outs, per ally: each driver group's share of the change of alignment
    by the horizon (the step's exact linear split) and the change its mechanisms make in total (baseline −
    knock-out with common random numbers, ±2 standard errors), with the crossing probability without it."""
    allies = list(dict.fromkeys(table["ally"]))
    fig = _new_figure(6.6 * len(allies) + 0.4, 0.55 * table["driver"].nunique() + 2.4)
    axes = fig.subplots(1, len(allies), squeeze=False, sharey=True)[0]
    horizon = month_tick_label(str(ds.month.values[-1]))
    for i, (ax, ally) in enumerate(zip(axes, allies, strict=True)):
        t = table[table["ally"] == ally].reset_index(drop=True)
        y = np.arange(len(t))
        ax.barh(y - 0.2, t["accounting_share"], height=0.38, color=[DRIVER_COLORS.get(d, "#999") for d in t["driver"]],
                label="share of the change (accounting)")
        ax.barh(y + 0.2, t["knockout_effect"], height=0.38, color="white", edgecolor="#333333", lw=1.0,
                xerr=2 * t["knockout_effect_se"], error_kw={"ecolor": "#333333", "lw": 0.9, "capsize": 2},
                label="effect of its mechanisms (knock-out, ±2 s.e.)")
        ax.axvline(0, color="#666666", lw=0.8)
        lo = float(min(0.0, t["accounting_share"].min(), (t["knockout_effect"] - 2 * t["knockout_effect_se"]).min()))
        hi = float(max(0.0, t["accounting_share"].max(), (t["knockout_effect"] + 2 * t["knockout_effect_se"]).max()))
        pad = 0.35 * max(hi - lo, 0.02)
        ax.set_xlim(lo - 0.15 * pad, hi + pad)
        for k, row in t.iterrows():
            ax.text(hi + 0.1 * pad, k, f"P(cross) {row.p_crossed:.0%} → {row.p_crossed_without:.0%}", va="center",
                    fontsize=8.5, color="#333333")
        ax.set_yticks(y, [DRIVER_LABELS.get(d, d) for d in t["driver"]])
        if i == 0:  # the y axis is shared: invert it once
            ax.invert_yaxis()
        ax.set_title(f"{actor_name(ally)}: change of alignment by {horizon} {t['change_of_alignment'].iloc[0]:+.3f}",
                     loc="left", fontweight="bold")
        ax.set_xlabel("alignment units  (+ toward Washington)")
        ax.grid(axis="x", color="#e5e5e5", lw=0.6)
        if i == 0:
            handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False)
    fig.suptitle(title_of(ds, "what drives it: accounting and knock-outs"), fontsize=13, fontweight="bold")
    return fig
