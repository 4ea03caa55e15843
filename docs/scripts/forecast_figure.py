"""The figure of docs/forecast.md from an `alliance compare` folder of forecast_2028 and its branches.

    .venv/bin/python docs/scripts/forecast_figure.py outputs/forecast_post docs/img/forecast_2028_branches.png

Left: the probability that South Korea has been on Beijing's side by each month, per branch (the branches
share random numbers and, under a posterior, parameters, so their gaps are the branches' effects). Right:
Korea's median alignment and 90 % band at November 2028 per branch, beside the same run at the defaults
when a second folder is given."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402

from alliance_sim.plots import ally_color  # noqa: E402


def main(folder: str, out: str, defaults: str | None = None) -> None:
    root = Path(folder)
    summary = pd.read_csv(root / "summary.csv")
    names = list(dict.fromkeys(summary.scenario))
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [1.6, 1]})
    colours = plt.get_cmap("tab10").colors
    for k, name in enumerate(names):
        with xr.open_dataset(root / name / "results.nc", engine="h5netcdf") as ds:
            p = ds.p_crossed.sel(ally="KOR").values * 100
            months = pd.to_datetime([str(m) for m in ds.month.values])
        base = k == 0   # the central path: black, dashed, on top (branches that change little hide under it)
        a.plot(months, p, color="black" if base else colours[k], lw=1.8, ls="--" if base else "-",
               zorder=3 if base else 2, label=f"{name} (central)" if base else name)
    a.axvline(pd.Timestamp("2026-07-01"), color="0.4", ls=":", lw=1)
    a.text(pd.Timestamp("2026-07-15"), a.get_ylim()[1] * 0.95, "end of the record", color="0.3", fontsize=9,
           va="top")
    a.set_ylabel("P(South Korea has crossed to Beijing's side), %")
    a.set_title("South Korea: crossed by each month, per branch")
    a.legend(fontsize=8, loc="upper left", frameon=False)
    a.grid(alpha=0.3)

    def bars(frame, offset, label, hatch=None):
        kor = frame[frame.ally == "KOR"].set_index("scenario").loc[names]
        y = np.arange(len(names)) + offset
        med = kor.final_alignment_median.values
        b.errorbar(med, y, xerr=[med - kor.final_alignment_p05.values, kor.final_alignment_p95.values - med],
                   fmt="o", color=ally_color("KOR") if hatch is None else "0.55", capsize=3, label=label)

    bars(summary, 0.0, "under the posterior" if defaults else "median, 90 % band")
    if defaults:
        bars(pd.read_csv(Path(defaults) / "summary.csv"), 0.28, "at the defaults", hatch="//")
    b.axvline(0, color="firebrick", lw=1)
    b.text(-0.01, len(names) - 0.75, "← Beijing's side", color="firebrick", fontsize=8, ha="right")
    b.set_yticks(np.arange(len(names)) + (0.14 if defaults else 0))
    b.set_yticklabels(names, fontsize=9)
    b.invert_yaxis()
    b.set_xlabel("alignment in Nov 2028 (−1 Beijing … +1 Washington)")
    b.set_title("Korea in Nov 2028: median, 90 % band")
    b.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    b.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main(*sys.argv[1:])
