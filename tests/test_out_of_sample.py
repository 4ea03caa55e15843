"""Out of sample (``alliance out-of-sample``, alliance_sim/calibration/out_of_sample.py): the fit file sees
nothing after 2022, persistence carries the last annual value before the forecast year, the error table has
its rows, and bad posteriors are one-line errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from typer.testing import CliRunner

from alliance_sim.calibration import out_of_sample as oos
from alliance_sim.calibration.config import load_calibration
from alliance_sim.cli import app
from alliance_sim.scenario import load_scenario

FIT = "calibrations/oos_fit_2022.toml"


def test_the_fit_file_uses_only_observations_of_2022_and_before():
    problem = load_calibration(FIT)
    assert problem.observations
    late = [o.key for o in problem.observations if int(max(o.months)[:4]) >= oos.FIRST_FORECAST_YEAR]
    assert late == [], f"observations of 2023 or later in {FIT}: {late}"
    for t in problem.spec.targets:   # every target names its years, all before the forecast years
        assert t.years and max(t.years) < oos.FIRST_FORECAST_YEAR and t.months is None
    # the scenarios the fit runs end before the forecast years too (no 2023 month is simulated)
    assert max(labels[-1] for labels in problem.scenario_labels.values()) < f"{oos.FIRST_FORECAST_YEAR}-01"


def _points(rows):
    return pd.DataFrame(rows, columns=["quantity", "ally", "year", "value"])


def test_persistence_is_the_last_annual_value_before_the_forecast_year():
    pts = _points([("favourable_us", "JPN", 2019, 0.5), ("favourable_us", "JPN", 2021, 0.6),
                   ("favourable_us", "JPN", 2023, 0.9), ("favourable_us", "KOR", 2022, 0.8)])
    assert oos.persistence(pts, "favourable_us", "JPN", 2023) == (0.6, 2021)   # not 2023's own value
    assert oos.persistence(pts, "favourable_us", "JPN", 2022) == (0.6, 2021)
    assert oos.persistence(pts, "favourable_us", "JPN", 2024) == (0.9, 2023)
    assert oos.persistence(pts, "favourable_us", "KOR", 2023) == (0.8, 2022)   # the ally's own series
    v, y = oos.persistence(pts, "favourable_us", "JPN", 2019)
    assert math.isnan(v) and y is None


def test_persistence_on_the_shipped_files():
    pts = oos.annual_points()
    assert set(pts.period_type) <= {"poll", "year"}   # no monthly or part-month shares
    assert oos.persistence(pts, "export_share_china", "JPN", 2024) == (0.22, 2020)  # 2021-2023 not in the files
    assert oos.persistence(pts, "favourable_us", "KOR", 2025) == (0.77, 2024)
    assert oos.persistence(pts, "export_share_china", "KOR", 2023) == (0.2279, 2022)


def _forecasts():
    rows = []
    for q in ("favourable_us", "favourable_china", "export_share_us", "export_share_china"):
        for a in ("JPN", "KOR"):
            for k, year in enumerate((2023, 2024)):
                obs, err = 0.5, 0.1 * (k + 1)
                rows.append({"quantity": q, "ally": a, "year": year, "observed": obs, "model_median": obs + err,
                             "model_p05": 0.0, "model_p95": 1.0, "inside_90": True, "persistence": obs - 0.05,
                             "persistence_year": year - 1, "model_error": err, "persistence_error": -0.05})
    rows.append({**rows[0], "year": 2025, "persistence": math.nan, "persistence_error": math.nan})  # not scored
    return pd.DataFrame(rows)


def test_the_error_table_has_a_row_per_series_observable_group_and_overall():
    err = oos.error_table(_forecasts())
    assert list(err.columns) == oos.ERROR_COLUMNS
    assert (err.group == "series").sum() == 8
    assert list(err[err.group == "observable"].quantity) == list(oos.OPINION + oos.TRADE)
    assert list(err.group[-5:]) == ["opinion", "trade", "year", "year", "overall"]
    years = err[err.group == "year"]
    assert list(years.year) == ["2023", "2024"] and list(years.mae_model) == pytest.approx([0.1, 0.2])
    overall = err[err.group == "overall"].iloc[0]
    assert overall.points == 16   # the point without persistence is left out of both
    assert overall.mae_model == pytest.approx(0.15) and overall.mae_persistence == pytest.approx(0.05)
    assert not overall.model_better and overall.model_minus_persistence == pytest.approx(0.10)
    assert (err[err.group == "opinion"].points == 8).all()


def test_the_markdown_tables_carry_the_csv_figures_in_points():
    fc = _forecasts()
    fc["uncertain"] = False
    fc.loc[1, "uncertain"] = True
    fc.loc[2, "inside_90"] = False
    md = oos.markdown_tables(fc, oos.error_table(fc)).splitlines()
    assert "| series | Japan, favourable to the US | 2 | 15.0 | 5.0 | 2/2 |" in md
    assert "|  | **overall** | 16 | **15.0** | **5.0** | 15/16 |" in md
    points = [line for line in md if line.startswith("| 20")]
    assert len(points) == len(fc)
    assert [int(line[2:6]) for line in points] == sorted(fc.year)      # ordered by year
    assert "| 2023 | Japan, favourable to the US | 50.0 | 60.0 [0.0, 100.0] | 45.0 (2022) |" in md
    assert "| 2024 | Japan, favourable to the US | 50.0 * | 70.0 [0.0, 100.0] | 45.0 (2023) |" in md
    assert "| 2023 | South Korea, favourable to the US | 50.0 | 60.0 [0.0, 100.0] ✗ | 45.0 (2022) |" in md
    assert "| 2025 | Japan, favourable to the US | 50.0 | 60.0 [0.0, 100.0] | – |" in md


def test_the_2024_scenario_starts_from_the_2023_data():
    sc = load_scenario("history/election_year_2024")
    p = sc.params
    assert (p.simulation.start, p.simulation.months) == ("2024-01", 12)
    assert "Sources:" in sc.header
    assert p.actors["KOR"].public.favorable_us_share == pytest.approx(0.79)   # Pew 2023
    assert p.actors["KOR"].export_share_china == pytest.approx(0.1973)       # KITA 2023
    assert p.actors["JPN"].export_share_china == pytest.approx(0.22)         # by hand: 2020, latest in the files
    ends = {w.year: load_scenario(w.scenario).params.simulation for w in oos.WINDOWS}
    from alliance_sim.model.calendar import month_labels

    for year, sim in ends.items():   # each window's run covers its whole year
        labels = list(month_labels(sim.start, sim.months))
        assert f"{year}-01" in labels and f"{year}-12" in labels


def test_the_2024_start_equals_the_observed_data_of_2023(monkeypatch):
    """The same check as for the other historical scenarios (tests/test_history.py), with 2023 as its data year."""
    import test_history

    monkeypatch.setitem(test_history.YEARS, "history/election_year_2024", 2023)
    test_history.test_start_equals_the_observed_data_of_its_year("history/election_year_2024")


def _posterior(path, periods):
    theta = np.array([[[0.05], [0.2]]])
    xr.Dataset({"theta": (("generation", "particle", "parameter"), theta),
                "weight": (("generation", "particle"), np.array([[0.5, 0.5]]))},
               coords={"generation": [0], "particle": [0, 1], "parameter": ["population.stubbornness"],
                       "statistic": [f"s{i}" for i in range(len(periods))],
                       "statistic_period": ("statistic", periods)}).to_netcdf(path, engine="h5netcdf")
    return path


def test_cli_writes_forecasts_errors_and_plot(tmp_path):
    post = _posterior(tmp_path / "posterior.nc", ["2017", "2021-03/05"])
    out = tmp_path / "oos"
    res = CliRunner().invoke(app, ["out-of-sample", str(post), "--out", str(out), "-n", "8"])
    assert res.exit_code == 0, res.output
    fc = pd.read_csv(out / "forecasts.csv")
    assert set(fc.year) == {2023, 2024, 2025} and set(fc.quantity) == set(oos.OPINION + oos.TRADE)
    assert (fc.persistence_year < fc.year).all()
    assert np.allclose(fc.persistence_error, fc.persistence - fc.observed)
    assert ((fc.model_p05 <= fc.model_median) & (fc.model_median <= fc.model_p95)).all()
    err = pd.read_csv(out / "errors.csv")
    assert err.group.iloc[-1] == "overall" and err.points.iloc[-1] == len(fc)
    tables = (out / "tables.md").read_text(encoding="utf-8")
    assert sum(line.startswith("| 20") for line in tables.splitlines()) == len(fc)
    assert (out / "out_of_sample.png").stat().st_size > 10_000
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["fitted_periods"] == ["2017", "2021-03/05"] and manifest["replicates"] == 8


def test_set_reaches_every_forecast_year_and_trade_shocks_widen_the_trade_bands(tmp_path):
    """The same posterior and seed with and without exogenous trade moves: every trade point's band widens
    (without them the shares move only with tariffs and China's choices)."""
    post = _posterior(tmp_path / "posterior.nc", ["2017"])
    widths = {}
    for label, extra in (("off", []), ("on", ["--set", "mechanisms.trade_shock_sd=0.007"])):
        out = tmp_path / label
        res = CliRunner().invoke(app, ["out-of-sample", str(post), "--out", str(out), "-n", "16", "--seed", "3",
                                       *extra])
        assert res.exit_code == 0, res.output
        fc = pd.read_csv(out / "forecasts.csv")
        widths[label] = fc.assign(width=fc.model_p95 - fc.model_p05)
        assert json.loads((out / "manifest.json").read_text())["overrides"] == extra[1:]
    off, on = widths["off"], widths["on"]
    trade = off.quantity.isin(oos.TRADE).to_numpy()
    assert (on.width.to_numpy()[trade] > off.width.to_numpy()[trade] + 0.005).all()  # half a point wider or more
    res = CliRunner().invoke(app, ["out-of-sample", str(post), "--out", str(tmp_path / "bad"), "-n", "4",
                                   "--set", "mechanisms.trade_shock_sdd=0.007"])
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code == 2 and len(lines) == 1 and "trade_shock_sdd" in lines[0], res.output
    assert not (tmp_path / "bad").exists()


def test_bad_posteriors_are_one_line_errors(tmp_path):
    in_sample = _posterior(tmp_path / "late.nc", ["2021", "2023-02/05"])
    for path, expected in ((in_sample, "fitted to observations of 2023-02/05"),
                           (tmp_path / "missing.nc", "no such file")):
        res = CliRunner().invoke(app, ["out-of-sample", str(path), "--out", str(tmp_path / "o"), "-n", "4"])
        assert res.exit_code == 2
        lines = [ln for ln in res.output.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], res.output
        assert not (tmp_path / "o").exists()


def test_the_shipped_particles_are_the_fit_files_posterior():
    from alliance_sim.posterior import load_posterior

    post = load_posterior("calibrations/particles/oos_fit_2022.csv")
    assert list(post.names) == load_calibration(FIT).parameter_names and post.theta.shape[0] >= 100
