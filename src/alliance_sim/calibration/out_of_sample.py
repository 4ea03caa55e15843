"""Out of sample: parameters fitted to 2022 and before, 2023-2025 predicted, scored against persistence.

``alliance out-of-sample POSTERIOR`` takes a posterior of ``alliance calibrate`` (``calibrations/oos_fit_2022.toml``
fits one to observations of 2017-2021 only) and runs, with each replicate's parameters drawn from it, the
historical scenario of each forecast year (:data:`WINDOWS`).  Each starts from the observed data of the year
before its first month (``[initial_conditions]``), so the model knows what a forecaster at the start would know.

The points predicted are the annual observations of the four observables (:mod:`alliance_sim.observed_points`):
Pew's favourable views of the US and of China, by the Japanese and Korean publics, and the yearly goods-export
shares to the US and to China.  Monthly and part-month shares are left out, as persistence has no monthly
series to carry.  For each point the model's posterior-predictive median and 90 % band (as
:func:`alliance_sim.results.observed_comparison` reads them: the poll's last fieldwork month, a yearly share's
twelve months) stand beside **persistence**: the latest annual observation of the same series in a year before
the forecast year, carried forward.  :func:`error_table` gives the mean absolute errors of both, per series,
per observable, for opinion and trade, and overall.

No plotting here (``alliance_sim.calibration.plots.plot_out_of_sample``); no model code.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from alliance_sim.observed_points import QUANTITIES, observed_points

#: The first year that must not be in the fit.
FIRST_FORECAST_YEAR = 2023
OPINION = ("favourable_us", "favourable_china")
TRADE = ("export_share_us", "export_share_china")


@dataclass(frozen=True)
class Window:
    """A forecast year and the historical scenario whose run covers it."""

    year: int
    scenario: str


#: 2023: the last twelve months of the run-up to Camp David (from the 2022 data); 2024: the year between Camp
#: David and the tariffs (from the 2023 data); 2025: the present from the 2024 data.
WINDOWS = (Window(2023, "history/camp_david_2023"), Window(2024, "history/election_year_2024"),
           Window(2025, "history/present_2025_2026"))

FORECAST_COLUMNS = ["quantity", "ally", "year", "scenario", "observed", "model_median", "model_p05", "model_p95",
                    "inside_90", "persistence", "persistence_year", "model_error", "persistence_error",
                    "uncertain", "source"]
ERROR_COLUMNS = ["group", "quantity", "ally", "year", "points", "mae_model", "mae_persistence",
                 "model_minus_persistence", "model_better", "inside_90"]


class OutOfSampleError(ValueError):
    """A posterior or option that cannot be used for the out-of-sample check (one line)."""


def annual_points(directory=None) -> pd.DataFrame:
    """The observed points with one value per series and year: Pew's spring polls and yearly export shares,
    with an integer ``year`` column."""
    pts = observed_points(("JPN", "KOR"), directory)
    pts = pts[pts.period_type.isin(["poll", "year"])].copy()
    pts["year"] = pts.period.str[:4].astype(int)
    return pts.sort_values(["quantity", "ally", "year"]).reset_index(drop=True)


def persistence(points: pd.DataFrame, quantity: str, ally: str, year: int) -> tuple[float, int | None]:
    """(value, its year) of the latest annual observation of ``quantity`` by ``ally`` in a year before ``year``;
    (nan, None) if there is none."""
    prior = points[(points.quantity == quantity) & (points.ally == ally) & (points.year < year)]
    if prior.empty:
        return math.nan, None
    last = prior.sort_values("year").iloc[-1]
    return float(last.value), int(last.year)


def fitted_periods(path: str | Path) -> list[str] | None:
    """The observed periods a ``posterior.nc`` was fitted to (``statistic_period``); None for a particles CSV,
    which does not record them."""
    import xarray as xr

    path = Path(path)
    if path.suffix.lower() == ".csv":
        return None
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            if "statistic_period" not in ds.coords:
                return None
            return [str(p) for p in ds.statistic_period.values]
    except (OSError, ValueError):
        return None  # load_posterior phrases the error


def check_out_of_sample(path: str | Path, first_year: int = FIRST_FORECAST_YEAR) -> list[str] | None:
    """Refuse a posterior fitted to any observation of ``first_year`` or later (it would not be out of sample)."""
    periods = fitted_periods(path)
    if periods is None:
        return None
    late = sorted({p for p in periods if int(p[:4]) >= first_year})
    if late:
        raise OutOfSampleError(f"{path}: statistic_period: fitted to observations of {', '.join(late)}; an "
                               f"out-of-sample check needs a posterior fitted to {first_year - 1} and before "
                               "(calibrations/oos_fit_2022.toml)")
    return periods


def forecast_table(runs: dict[int, object], points: pd.DataFrame | None = None,
                   windows: Iterable[Window] = WINDOWS) -> pd.DataFrame:
    """One row per annual observation of a window's year: the model (``runs[year]``, a results dataset) and
    persistence against it."""
    from alliance_sim.results import observed_comparison

    points = annual_points() if points is None else points
    rows = []
    for w in windows:
        if w.year not in runs:
            continue
        comp = observed_comparison(runs[w.year])
        comp = comp[(comp.period.str.len() == 4) & (comp.period == str(w.year))]
        for r in comp.itertuples(index=False):
            if r.quantity not in QUANTITIES:
                continue
            if points[(points.quantity == r.quantity) & (points.ally == r.ally) & (points.year == w.year)].empty:
                continue  # a monthly point, not an annual one
            pv, py = persistence(points, r.quantity, r.ally, w.year)
            rows.append({"quantity": r.quantity, "ally": r.ally, "year": w.year, "scenario": w.scenario,
                         "observed": r.observed, "model_median": r.model_median, "model_p05": r.model_p05,
                         "model_p95": r.model_p95, "inside_90": bool(r.inside_90), "persistence": pv,
                         "persistence_year": py, "model_error": r.model_median - r.observed,
                         "persistence_error": pv - r.observed, "uncertain": bool(r.uncertain), "source": r.source})
    return pd.DataFrame(rows, columns=FORECAST_COLUMNS)


def error_table(forecasts: pd.DataFrame) -> pd.DataFrame:
    """Mean absolute errors of the model's median and of persistence: per series (observable and ally), per
    observable, for opinion and for trade, per forecast year, and overall.  Points without a persistence value
    are left out of both, so the two are always scored on the same points."""
    f = forecasts[np.isfinite(forecasts.persistence.astype(float))]
    rows = []

    def add(group: str, quantity: str, ally: str, sel: pd.DataFrame, year: str = "all") -> None:
        if sel.empty:
            return
        m = float(sel.model_error.abs().mean())
        p = float(sel.persistence_error.abs().mean())
        rows.append({"group": group, "quantity": quantity, "ally": ally, "year": year, "points": int(len(sel)),
                     "mae_model": m,
                     "mae_persistence": p, "model_minus_persistence": m - p, "model_better": bool(m < p),
                     "inside_90": int(sel.inside_90.sum())})

    for q in QUANTITIES:
        for a in ("JPN", "KOR"):
            add("series", q, a, f[(f.quantity == q) & (f.ally == a)])
    for q in QUANTITIES:
        add("observable", q, "all", f[f.quantity == q])
    add("opinion", "all", "all", f[f.quantity.isin(OPINION)])
    add("trade", "all", "all", f[f.quantity.isin(TRADE)])
    for y in sorted(f.year.unique()):
        add("year", "all", "all", f[f.year == y], str(int(y)))
    add("overall", "all", "all", f)
    return pd.DataFrame(rows, columns=ERROR_COLUMNS)


def run_windows(posterior, replicates: int = 400, seed: int | None = None, windows: Iterable[Window] = WINDOWS,
                progress: Callable[[str], None] | None = None, overrides: Sequence[str] = ()) -> dict[int, object]:
    """``{year: results dataset}``: each window's scenario run with replicate parameters from ``posterior``
    (a path or a loaded ``Posterior``), every month of the scenario.  ``overrides`` (``KEY=VALUE``, as
    ``--set``) apply to every window, e.g. a parameter the fit held fixed; all are checked before any run."""
    from alliance_sim.api import run
    from alliance_sim.posterior import Posterior, load_posterior
    from alliance_sim.scenario import load_scenario

    post = posterior if isinstance(posterior, Posterior) else load_posterior(posterior)
    windows = tuple(windows)
    scenarios = {w.year: load_scenario(w.scenario, list(overrides)) for w in windows}
    out = {}
    for w in windows:
        if progress is not None:
            progress(f"{w.scenario} ({w.year})")
        out[w.year] = run(scenarios[w.year], replicates=replicates, seed=seed, posterior=post,
                          keep_trajectories=0).dataset
    return out


@dataclass
class OutOfSampleResult:
    forecasts: pd.DataFrame
    errors: pd.DataFrame
    history: pd.DataFrame       # every annual observation (the plot's context)
    fitted: list[str] | None    # the posterior's fitted periods, when recorded


def out_of_sample(posterior, replicates: int = 400, seed: int | None = None,
                  windows: Iterable[Window] = WINDOWS, progress=None,
                  overrides: Sequence[str] = ()) -> OutOfSampleResult:
    """Check the posterior (a path or a loaded ``Posterior``, read once) is out of sample, run the windows and
    score model and persistence."""
    from alliance_sim.posterior import Posterior, load_posterior

    post = posterior if isinstance(posterior, Posterior) else load_posterior(posterior)
    windows = tuple(windows)
    fitted = check_out_of_sample(post.path, min(w.year for w in windows))
    points = annual_points()
    runs = run_windows(post, replicates, seed, windows, progress, overrides)
    fc = forecast_table(runs, points, windows)
    return OutOfSampleResult(fc, error_table(fc), points, fitted)


_QUANTITY_LABELS = {"favourable_us": "favourable to the US", "favourable_china": "favourable to China",
                    "export_share_us": "exports to the US", "export_share_china": "exports to China"}


def _series_label(quantity: str, ally: str) -> str:
    from alliance_sim.plots import actor_name

    what = _QUANTITY_LABELS.get(quantity, quantity)
    return what if ally == "all" else f"{actor_name(ally)}, {what}"


def markdown_tables(forecasts: pd.DataFrame, errors: pd.DataFrame) -> str:
    """The error table and the point-by-point table as Markdown, in percentage points, so that
    docs/validation.md is pasted from a run rather than typed from one (``tables.md``)."""
    lines = ["**Mean absolute error**, percentage points (`errors.csv`; \"in 90 %\": points inside the model's "
             "band):", "", "| group | series | points | model | persistence | in 90 % |", "|---|---|---|---|---|---|"]
    for e in errors.itertuples(index=False):
        if e.group in ("series", "observable"):
            group, label, bold = e.group, _series_label(e.quantity, e.ally), False
        elif e.group == "year":
            group, label, bold = "year", str(e.year), False
        else:
            group, label, bold = "", str(e.group), True
        m, p = f"{100 * e.mae_model:.1f}", f"{100 * e.mae_persistence:.1f}"
        if bold:
            label, m, p = f"**{label}**", f"**{m}**", f"**{p}**"
        lines.append(f"| {group} | {label} | {e.points} | {m} | {p} | {e.inside_90}/{e.points} |")
    lines += ["", "Point by point (`forecasts.csv`; * marked uncertain in the data files; ✗ outside the model's "
              "90 % band):", "", "| year | series | observed | model median [90 %] | persistence (its year) |",
              "|---|---|---|---|---|"]
    order = {q: i for i, q in enumerate(QUANTITIES)}
    forecasts = forecasts.assign(_q=forecasts.quantity.map(order)).sort_values(["year", "_q", "ally"], kind="stable")
    for f in forecasts.itertuples(index=False):
        star = " *" if f.uncertain else ""
        miss = "" if f.inside_90 else " ✗"
        pers = "–" if not np.isfinite(float(f.persistence)) else \
            f"{100 * f.persistence:.1f} ({int(f.persistence_year)})"
        lines.append(f"| {f.year} | {_series_label(f.quantity, f.ally)} | {100 * f.observed:.1f}{star} | "
                     f"{100 * f.model_median:.1f} [{100 * f.model_p05:.1f}, {100 * f.model_p95:.1f}]{miss} | "
                     f"{pers} |")
    return "\n".join(lines) + "\n"


def write(result: OutOfSampleResult, out: str | Path, manifest: dict) -> list[Path]:
    """``forecasts.csv``, ``errors.csv``, ``tables.md``, ``out_of_sample.png`` and ``manifest.json`` into a new
    folder ``out`` (written atomically: all or nothing)."""
    import json

    from alliance_sim.calibration.plots import plot_out_of_sample
    from alliance_sim.writer import atomic_output

    out = Path(out)
    with atomic_output(out) as tmp:
        result.forecasts.to_csv(tmp / "forecasts.csv", index=False, float_format="%.6g")
        result.errors.to_csv(tmp / "errors.csv", index=False, float_format="%.6g")
        (tmp / "tables.md").write_text(markdown_tables(result.forecasts, result.errors), encoding="utf-8")
        fig = plot_out_of_sample(result.forecasts, result.history)
        fig.savefig(tmp / "out_of_sample.png")
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, default=str))
    return [out / n for n in ("forecasts.csv", "errors.csv", "tables.md", "out_of_sample.png", "manifest.json")]
