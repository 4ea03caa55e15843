"""`alliance run --scheduler`: an ensemble spread over a dask cluster gives the same results.nc data as
a local run (every draw depends only on (seed, replicate, month), and summaries merge by integer sums)."""

import xarray as xr
from typer.testing import CliRunner

from alliance_sim.cli import app


def _data(path):
    with xr.open_dataset(path / "results.nc", engine="h5netcdf") as ds:
        return ds.load()


def test_run_on_a_dask_cluster_matches_local(tmp_path):
    from distributed import LocalCluster

    runner = CliRunner()
    args = ["run", "tariff_shock_2025", "-n", "90", "--months", "8", "--chunk-size", "25", "--keep", "30",
            "--no-plots", "--set", "population.size_per_ally=10"]
    local = runner.invoke(app, args + ["--out", str(tmp_path / "local")])
    assert local.exit_code == 0, local.output
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = runner.invoke(app, args + ["--out", str(tmp_path / "dask"), "--scheduler", cluster.scheduler_address])
    assert remote.exit_code == 0, remote.output
    a, b = _data(tmp_path / "local"), _data(tmp_path / "dask")
    assert a.data_vars.keys() == b.data_vars.keys()
    for name in a.data_vars:
        assert a[name].equals(b[name]), name


def test_unreachable_scheduler_is_one_line_and_writes_nothing(tmp_path):
    result = CliRunner().invoke(app, ["run", "baseline_2025", "-n", "10", "--months", "2", "--out",
                                      str(tmp_path / "never"), "--scheduler", "tcp://127.0.0.1:9"])
    assert result.exit_code == 2
    assert "cannot reach dask scheduler" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "never").exists()
