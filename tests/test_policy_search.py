"""Robust policy search: the optimiser finds an analytic front, every policy sees the same draws and
seed (common random numbers), regret is >= 0 and zero for each draw's best, the result is reproducible
by seed whatever the task size, relief cost matches its formula, and the CLI writes its folder."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from policy_helpers import ANALYTIC, X1, X2, Recorder, U, analytic_problem, analytic_task
from typer.testing import CliRunner

from alliance_sim.cli import app
from alliance_sim.policy.evaluate import relief_cost, scheduled_tariff
from alliance_sim.policy.search import SearchResult, pareto_mask, regret, run_search
from alliance_sim.policy.spec import make_problem, parse_policy
from alliance_sim.scenario import load_scenario


@pytest.fixture(scope="module")
def analytic_result() -> SearchResult:
    return run_search(analytic_problem(), task_fn=analytic_task)


def test_front_spans_the_analytic_optimum(analytic_result):
    res = analytic_result
    front = [res.policies[i] for i in res.front]
    x1 = np.array([p[X1] for p in front])
    x2 = np.array([p[X2] for p in front])
    assert len(front) >= 5
    assert x1.min() < 0.05 and x1.max() > 0.95      # both extremes of the trade-off are on the front
    assert np.all(x2 < 0.1)                         # the lever that only hurts sits at its best bound
    # the front's objectives are the analytic ones: a = x1 + E[u]/10, b = (1-x1)^2 + x2 + E[u]/10
    u_mean = np.mean([d[U] for d in res.problem.draws.overrides])
    k = res.front
    assert np.allclose(res.objectives[k, 0], x1 + u_mean / 10)
    assert np.allclose(res.objectives[k, 1], (1 - x1) ** 2 + x2 + u_mean / 10)


def test_maximised_objective_pushes_the_lever_to_its_top():
    obj = {"a": {"output": "a", "direction": "maximize"}, "b": {"output": "b", "direction": "maximize",
                                                                "stat": "p90"}}
    res = run_search(analytic_problem(objectives=obj), task_fn=analytic_task)
    front = [res.policies[i] for i in res.front]
    assert max(p[X1] for p in front) > 0.95 and min(p[X1] for p in front) < 0.1
    assert np.median([p[X2] for p in front]) > 0.9   # the lever that only helps b sits near its top


def test_common_random_numbers():
    rec = Recorder()
    p = analytic_problem(search={"population": 6, "generations": 3}, task_size=7)
    res = run_search(p, task_fn=rec)
    calls = rec.calls[1:]  # the first call is the one-month probe of the outputs
    assert {(r, s, m) for _, r, s, m in calls} == {(3, 11, 4)}  # one seed, replicates, horizon for all
    cells = [pt for pts, *_ in calls for pt in pts]
    assert len(cells) == len(res.policies) * len(p.draws)
    draws = p.draws.overrides
    for i in range(len(res.policies)):
        block = cells[i * len(draws):(i + 1) * len(draws)]
        assert [{U: c[U]} for c in block] == draws                     # the same draws, in the same order
        assert all({X1: c[X1], X2: c[X2]} == res.policies[i] for c in block)
    assert len({json.dumps(d) for d in draws}) == len(draws)         # and they are distinct draws


def test_regret_nonnegative_and_zero_for_each_draws_best(analytic_result):
    res = analytic_result
    r = res.regret[res.front]
    assert np.all(r >= 0)
    assert np.allclose(r.min(axis=0), 0.0)                           # the best front policy in each draw
    assert np.all(np.isnan(res.regret[~res.pareto]))
    st = res.regret_stats()
    assert np.all(st["max"][res.front] >= st["p90"][res.front])


def test_regret_orients_maximised_objectives():
    p = analytic_problem(objectives={"a": {"output": "a", "direction": "maximize"}})
    cells = np.array([[[1.0], [5.0]], [[3.0], [2.0]]])               # (policy, draw, objective)
    r = regret(p, cells, np.array([True, True]))
    assert np.allclose(r[:, :, 0], [[2.0, 0.0], [0.0, 3.0]])


def test_pareto_mask():
    costs = np.array([[1, 5], [2, 2], [5, 1], [3, 3], [2, 2], [6, 6]], dtype=float)
    assert pareto_mask(costs).tolist() == [True, True, True, False, False, False]


def test_reproducible_by_seed_whatever_the_task_size(analytic_result):
    again = run_search(analytic_problem(task_size=3), task_fn=analytic_task)
    assert again.policies == analytic_result.policies
    assert np.array_equal(again.cells, analytic_result.cells)
    assert np.array_equal(again.pareto, analytic_result.pareto)
    other = run_search(analytic_problem(seed=12), task_fn=analytic_task)
    assert other.policies != analytic_result.policies


def test_reference_policy_is_evaluated_first():
    res = run_search(analytic_problem(policies={"corner": {X1: 1.0, X2: 0.0}},
                                      search={"population": 4, "generations": 1}), task_fn=analytic_task)
    assert res.names[0] == "corner" and res.policies[0] == {X1: 1.0, X2: 0.0}


def test_relief_cost_formula():
    base = load_scenario("tariff_shock_2025").params
    spec = parse_policy({"months": 30, "draws": 1, "replicates": 1,
                         "add": {"tariffs": [{"month": "2026-01", "target": "KOR", "sector": "country",
                                              "rate": 0.25, "label": "relief"}]},
                         "levers": {"tariffs.relief.rate": {"low": 0.0, "high": 0.25},
                                    "tariffs.relief.month": {"first": "2025-09", "last": "2027-06"}},
                         "objectives": {"c": {"kind": "relief_cost", "direction": "minimize", "allies": ["KOR"]}}})
    p = make_problem(spec, base=base)
    from alliance_sim.overrides import apply_overrides

    pol = apply_overrides(p.base, {"tariffs.relief.rate": 0.10, "tariffs.relief.month": "2026-07"})
    kor = base.actors["KOR"]
    weight = 1.0 - sum(kor.sector_shares.values())
    expected = 100 * kor.exports_to_gdp * kor.export_share_us * weight * (0.25 - 0.10) * (30 - 12)
    assert relief_cost(pol, p.base, 30, ["KOR"]) == pytest.approx(expected)
    assert relief_cost(p.base, p.base, 30, ["KOR"]) == 0.0
    tau = scheduled_tariff(pol, "KOR", 30)
    assert tau[11] - tau[12] == pytest.approx(weight * 0.15)            # the cut lands in 2026-07 (step 12)


TINY_REAL = """
base = "{base}"
months = 4
replicates = 2
draws = 3
seed = 5
task_size = 5
[set]
"population.size_per_ally" = 0
[[add.tariffs]]
month = "2026-01"
target = "KOR"
sector = "country"
rate = 0.25
label = "KOR relief"
[levers]
"tariffs.KOR relief.month" = {{ first = "2025-08", last = "2025-10" }}
"tariffs.KOR relief.rate" = {{ low = 0.0, high = 0.25 }}
[uncertainties]
"mechanisms.tariff_weight" = {{ low = 0.5, high = 1.5 }}
[objectives.p]
output = "p_crossed.KOR"
direction = "minimize"
[objectives.cohesion]
output = "min_cohesion_q.0.5"
direction = "maximize"
[objectives.cost]
kind = "relief_cost"
direction = "minimize"
[search]
population = 4
generations = 2
"""


def _real_file(tmp_path):
    from pathlib import Path

    base = Path(__file__).resolve().parents[1] / "scenarios" / "tariff_shock_2025.toml"
    f = tmp_path / "tiny_policy.toml"
    f.write_text(TINY_REAL.format(base=base.as_posix()))
    return f


def test_cli_writes_the_results_folder(tmp_path):
    f = _real_file(tmp_path)
    out = tmp_path / "res"
    r = CliRunner().invoke(app, ["policy-search", str(f), "--out", str(out), "--workers", "0", "-q"])
    assert r.exit_code == 0, r.output
    names = {p.name for p in out.iterdir()}
    assert names == {"pareto.csv", "policies.csv", "draws.csv", "results.nc", "summary.json", "pareto_front.png",
                     "parallel_coordinates.png", "regret.png"}
    summary = json.loads((out / "summary.json").read_text())
    front = pd.read_csv(out / "pareto.csv")
    allp = pd.read_csv(out / "policies.csv")
    assert summary["draws"] == 3 and summary["policies_evaluated"] == len(allp) <= 8
    assert len(front) == summary["pareto_policies"] == int(allp["pareto"].sum()) >= 1
    assert set(allp["tariffs.KOR relief.month"]) <= {"2025-08", "2025-09", "2025-10"}
    assert (front.filter(like="regret_").to_numpy() >= 0).all()
    ds = xr.open_dataset(out / "results.nc", engine="h5netcdf")
    assert ds["objective_by_draw"].shape == (len(allp), 3, 3)
    ds.close()
    assert "Pareto policies" in r.output
    again = CliRunner().invoke(app, ["policy-search", str(f), "--out", str(out), "--workers", "0", "-q"])
    assert again.exit_code == 2 and "not empty" in again.output


def test_dask_equals_serial(tmp_path):
    from alliance_sim.policy.spec import load_problem
    from alliance_sim.sweeps.runner import local_cluster

    p = load_problem(_real_file(tmp_path))
    serial = run_search(p)
    client, cluster = local_cluster(1)
    try:
        on_dask = run_search(p, client=client)
    finally:
        client.close()
        cluster.close()
    assert on_dask.workers == 1
    assert on_dask.policies == serial.policies
    assert np.array_equal(on_dask.cells, serial.cells)


def test_policies_differ_through_the_levers_only(tmp_path):
    """On the real model: the same policy twice gives identical per-draw outcomes (common random numbers)."""
    from alliance_sim.policy.evaluate import Evaluator
    from alliance_sim.policy.spec import load_problem

    p = load_problem(_real_file(tmp_path))
    ev = Evaluator(p)
    none = {"tariffs.KOR relief.month": "2025-08", "tariffs.KOR relief.rate": 0.25}
    deep = {"tariffs.KOR relief.month": "2025-08", "tariffs.KOR relief.rate": 0.0}
    out = ev.outputs([none, deep, none])
    assert out.shape == (3, 3, 2)
    assert np.array_equal(out[0], out[2])
    assert np.all(out[1, :, 1] >= out[0, :, 1]) and np.any(out[1, :, 1] > out[0, :, 1])  # relief: more cohesion


def test_analytic_spec_is_valid():
    assert parse_policy(ANALYTIC).search.population == 16
