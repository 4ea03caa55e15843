"""The report's figures, drawn from the results (not copied from plots/, which `--no-plots` leaves out)
and embedded as base64 PNG ``data:`` URIs, so the page loads nothing from anywhere."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

from matplotlib.figure import Figure as MplFigure

from alliance_sim import plots

DPI = 110


@dataclass(frozen=True)
class Figure:
    """One embedded figure: anchor id, heading, caption and the PNG."""

    id: str
    title: str
    caption: str
    png: bytes
    width: int
    height: int

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def png(fig: MplFigure, dpi: int = DPI) -> tuple[bytes, int, int]:
    """The figure as PNG bytes with its pixel size (Agg, no pyplot)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    data = buf.getvalue()
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")  # the IHDR chunk
    return data, width, height


def figure(id_: str, title: str, caption: str, fig: MplFigure) -> Figure:
    data, w, h = png(fig)
    return Figure(id_, title, caption, data, w, h)


def run_figures(report) -> list[Figure]:
    """Fan chart, crossing probability, decisions and (if present) drivers of one run."""
    run = report.first
    ds = run.dataset
    out = [
        figure("fig-alignment", "Alignment: where each ally ends up",
               "Median (line), 50 % and 90 % bands of each ally's alignment over all runs; +1 is Washington, "
               "−1 Beijing, the shaded area Beijing's side. Numbered dashed lines are the scenario's dated events "
               "(see the timeline).", plots.plot_alignment(ds)),
        figure("fig-crossing", "Chance of having crossed to Beijing's side",
               "Solid: share of runs in which the ally has been on Beijing's side (alignment below 0) at least "
               "once by each month. Dotted: share on Beijing's side in that month.", plots.plot_crossing(ds)),
        figure("fig-decisions", "What the agents decided",
               "Share of runs in which each agent took each decision, month by month (the rest held).",
               plots.plot_decisions(ds)),
    ]
    if run.drivers:
        out.append(drivers_figure(ds))
    return out


def drivers_figure(ds) -> Figure:
    """The standard drivers plot (``plots.plot_drivers``) where the package has it, else one line per group."""
    plotter = getattr(plots, "plot_drivers", None) or _driver_lines
    caption = ("Each driver group's mean share of the change of alignment since the start, month by month over "
               "all runs (the shares add up to the change).")
    return figure("fig-drivers", "Drivers of alignment", caption, plotter(ds))


def _driver_lines(ds) -> MplFigure:
    """Each driver group's share of the change since the start, one panel per ally (for results whose
    package has no drivers plot of its own)."""
    import matplotlib as mpl
    import numpy as np

    from alliance_sim.report.context import DRIVER_VARIABLE

    da = ds[DRIVER_VARIABLE]
    allies = [str(a) for a in da.ally.values]
    fig = MplFigure(figsize=(5.2 * len(allies) + 2.2, 4.2), dpi=DPI, layout="constrained")
    axes = fig.subplots(1, len(allies), sharey=True, squeeze=False)[0]
    x = np.arange(ds.sizes["month"])
    for i, (ax, ally) in enumerate(zip(axes, allies, strict=True)):
        ax.axhline(0, color="#888888", lw=0.8)
        for k, d in enumerate(str(v) for v in da.driver.values):
            ax.plot(x, da.sel(ally=ally, driver=d).values, color=mpl.colormaps["tab10"](k % 10), lw=1.8,
                    label=d.replace("_", " "))
        ax.set_title(plots.actor_name(ally), loc="left", fontweight="bold")
        plots.month_axis(ax, [str(m) for m in ds.month.values])
        ax.grid(axis="y", color="#e5e5e5", lw=0.6)
        if i == 0:
            ax.set_ylabel("share of the change since the start")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", frameon=False)
    fig.suptitle(plots.title_of(ds, "drivers of alignment"), fontsize=13, fontweight="bold")
    return fig


def compare_figures(report) -> list[Figure]:
    """Alignment and crossing probability of every scenario, overlaid per ally."""
    datasets = {r.label: r.dataset for r in report.runs}
    out = [
        figure("fig-compare-alignment", "Alignment by scenario",
               "Median and 50 % band of each ally's alignment under each scenario; all scenarios use the same "
               "random numbers, so differences come from the scenarios, not chance.", plots.plot_compare(datasets)),
        figure("fig-compare-crossing", "Chance of having crossed to Beijing's side, by scenario",
               "Share of runs in which the ally has been on Beijing's side at least once by each month, per "
               "scenario.", plots.plot_compare_crossing(datasets)),
    ]
    for r in report.runs:
        if r.drivers:
            f = drivers_figure(r.dataset)
            out.append(Figure(f"fig-drivers-{len(out)}", f"Drivers of alignment: {r.label}", f.caption, f.png,
                              f.width, f.height))
    return out
