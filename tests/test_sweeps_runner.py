"""Sweep runner and store: identical results for any split of the work (serial, 1 and 2 dask workers,
any task size), resume after an interruption, failures reported with their parameters, and nothing
half-written on bad input or an unreachable scheduler."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sweeps_helpers import assert_same, point_data, tiny_sweep

from alliance_sim.sweeps import runner
from alliance_sim.sweeps.design import SweepError
from alliance_sim.sweeps.runner import run_sweep, run_task
from alliance_sim.sweeps.store import done_tasks, open_store


@pytest.fixture(scope="module")
def sweep():
    return tiny_sweep({"kind": "lhs", "samples": 7}, task_size=3)


@pytest.fixture(scope="module")
def reference(sweep, tmp_path_factory):
    path = tmp_path_factory.mktemp("ref") / "ref.zarr"
    rep = run_sweep(sweep, path, workers=0)
    assert rep.complete and rep.points_run == 7 and rep.tasks_run == 3 and not rep.failed
    return path


def test_store_layout_and_attributes(sweep, reference):
    with open_store(reference) as ds:
        assert ds.sizes["point"] == 7 and ds.sizes["task"] == 3
        assert list(ds["factor"].values) == sweep.points.factors
        assert ds["task_done"].values.all()
        assert json.loads(ds.attrs["sweep"])["design"]["kind"] == "lhs"
        for key in ("sweep_hash", "base_hash", "design", "seed", "alliance_sim_version", "replicates", "months"):
            assert key in ds.attrs
        assert ds.attrs["seed"] == 7 and ds.attrs["months"] == 6
        np.testing.assert_allclose(ds["x"].values[:, 0], [p["mechanisms.tariff_weight"]
                                                           for p in sweep.points.overrides])


def test_store_equals_run_points_directly(sweep, reference):
    direct = run_task(sweep.base, sweep.points.overrides, 4, 7, 6)
    data = point_data(reference)
    for v in direct.data_vars:
        assert np.array_equal(direct[v].values, data[v].values), v


@pytest.mark.parametrize("task_size", [1, 7])
def test_any_task_size_gives_identical_results(sweep, reference, tmp_path, task_size):
    run_sweep(sweep, tmp_path / "s.zarr", workers=0, task_size=task_size)
    assert_same(reference, tmp_path / "s.zarr")


def test_dask_one_and_two_workers_identical_to_serial(sweep, reference, tmp_path):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as c1, \
            Client(c1, set_as_default=False) as client:
        run_sweep(sweep, tmp_path / "one.zarr", client=client, task_size=2)
    assert_same(reference, tmp_path / "one.zarr")
    rep = run_sweep(sweep, tmp_path / "two.zarr", workers=2)  # LocalCluster of 2 processes
    assert rep.workers == 2 and rep.complete
    assert_same(reference, tmp_path / "two.zarr")


def test_resume_after_task_limit_equals_uninterrupted(sweep, reference, tmp_path):
    out = tmp_path / "r.zarr"
    rep = run_sweep(sweep, out, workers=0, max_tasks=1)
    assert not rep.complete and rep.tasks_run == 1
    assert list(done_tasks(out)) == [True, False, False]
    assert np.isnan(point_data(out)["p_crossed"].values[3:]).all()
    rep = run_sweep(sweep, out, workers=0, resume=True)
    assert rep.tasks_run == 2 and rep.tasks_skipped == 1 and rep.complete
    assert_same(reference, out)


class Killed(BaseException):
    """Stands for a kill: not an Exception, so nothing retries or catches it."""


def test_kill_between_region_and_marker_is_not_marked_done(sweep, reference, tmp_path, monkeypatch):
    out = tmp_path / "k.zarr"
    real = runner.write_task
    calls = []

    def write_then_die(path, start, stop, task, outcomes, **kw):
        calls.append(task)
        if len(calls) == 2:  # the region is written, the process dies before the marker
            outcomes.to_zarr  # noqa: B018
            body = outcomes.drop_vars([c for c in outcomes.coords])
            body.to_zarr(path, region={"point": slice(start, stop)}, mode="r+", consolidated=False)
            raise Killed()
        real(path, start, stop, task, outcomes, **kw)

    monkeypatch.setattr(runner, "write_task", write_then_die)
    with pytest.raises(Killed):
        run_sweep(sweep, out, workers=0)
    monkeypatch.setattr(runner, "write_task", real)
    assert list(done_tasks(out)) == [True, False, False]
    rep = run_sweep(sweep, out, workers=0, resume=True)
    assert rep.tasks_run == 2 and rep.complete
    assert_same(reference, out)


def test_interrupted_before_first_task_leaves_nothing(sweep, tmp_path):
    def die(*a):
        raise Killed()

    calls = []

    def probe_then_die(base, points, *a):
        calls.append(1)
        if len(calls) == 1:  # the schema probe
            return run_task(base, points, *a)
        raise Killed()

    with pytest.raises(Killed):
        run_sweep(sweep, tmp_path / "n.zarr", workers=0, task_fn=probe_then_die)
    assert list(tmp_path.iterdir()) == []


def test_resume_refuses_a_different_definition(sweep, reference, tmp_path):
    other = tiny_sweep({"kind": "lhs", "samples": 8}, task_size=3)
    with pytest.raises(SweepError, match="different sweep definition"):
        run_sweep(other, reference, workers=0, resume=True)
    with pytest.raises(SweepError, match="already exists; use --resume"):
        run_sweep(sweep, reference, workers=0)
    with pytest.raises(SweepError, match="no store to resume"):
        run_sweep(sweep, tmp_path / "none.zarr", workers=0, resume=True)


BAD_POINT = 4


def flaky_task(base, points, replicates, seed, months):
    """Fails whenever point BAD_POINT's parameters are in the block."""
    bad = tiny_sweep({"kind": "lhs", "samples": 7}, task_size=3).points.overrides[BAD_POINT]
    if bad in points:
        raise RuntimeError("engine blew up\nsecond line")
    return run_task(base, points, replicates, seed, months)


@pytest.mark.parametrize("mode", ["serial", "dask"])
def test_failing_point_is_reported_not_dropped(sweep, reference, tmp_path, mode):
    out = tmp_path / "f.zarr"
    if mode == "serial":
        rep = run_sweep(sweep, out, workers=0, task_fn=flaky_task)
    else:
        from distributed import Client, LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as c, \
                Client(c, set_as_default=False) as client:
            rep = run_sweep(sweep, out, client=client, task_fn=flaky_task)
    assert [f.point for f in rep.failed] == [BAD_POINT]
    assert rep.failed[0].error == "RuntimeError: engine blew up"
    assert not rep.complete
    saved = json.loads((tmp_path / "f.zarr.failed_points.json").read_text())
    assert saved[0]["point"] == BAD_POINT and saved[0]["overrides"] == sweep.points.overrides[BAD_POINT]
    with open_store(out) as ds:
        assert json.loads(ds.attrs["failed_points"])[0]["point"] == BAD_POINT
        assert list(ds["task_done"].values) == [True, False, True]
    data, ref = point_data(out), point_data(reference)
    good = [p for p in range(7) if p != BAD_POINT]  # the other points of the failing task are kept
    assert np.array_equal(data["p_crossed"].values[good], ref["p_crossed"].values[good])
    assert np.isnan(data["p_crossed"].values[BAD_POINT]).all()
    rep = run_sweep(sweep, out, workers=0, resume=True)  # once the cause is fixed, resume completes it
    assert rep.complete and not rep.failed and not (tmp_path / "f.zarr.failed_points.json").exists()
    assert_same(reference, out)


def test_unreachable_scheduler_is_a_one_line_error_and_writes_nothing(sweep, tmp_path):
    with pytest.raises(SweepError) as err:
        run_sweep(sweep, tmp_path / "u.zarr", scheduler="tcp://127.0.0.1:1", connect_timeout=1)
    assert str(err.value).startswith("cannot reach dask scheduler at tcp://127.0.0.1:1")
    assert "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == []
