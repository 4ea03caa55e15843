"""Fault injection: signals at named stages of a run and a sweep, a full file system, damaged results and
stores.  Every case checks the promise of docs/reliability.md: one ``error:`` line, the documented exit
code, and either the complete output or nothing (no temporaries left), and that the next command
recovers.

A subprocess runs with ``ALLIANCE_SIM_PAUSE_AT=<stage>``: it prints ``paused at <stage>`` and waits, the
test sends the signal, then (for the resumed cases) SIGUSR1.  The runs are tiny (20 replicates, 6
months, aggregate opinion, the numpy engine) so the suite takes a few minutes, mostly interpreter start.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN = ["run", "tariff_shock_2025", "-n", "20", "-m", "6", "--keep", "5", "--set", "population.size_per_ally=0"]
SWEEP_TOML = """
replicates = 4
months = 6
seed = 7
outputs = ["p_crossed.KOR"]
task_size = 2
[set]
"population.size_per_ally" = 0
[design]
kind = "lhs"
samples = 6
[factors]
"mechanisms.tariff_weight" = { low = 0.0, high = 3.0 }
"""


def _env(pause: str | None = None) -> dict:
    env = {**os.environ, "MPLBACKEND": "Agg", "ALLIANCE_SIM_PAUSE_SECONDS": "60",
           "COLUMNS": "120"}
    env.pop("ALLIANCE_SIM_PAUSE_AT", None)
    if pause:
        env["ALLIANCE_SIM_PAUSE_AT"] = pause
    return env


def alliance(*args, cwd: Path, pause: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "alliance_sim.cli", *map(str, args)], cwd=cwd, env=_env(pause),
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)


class _Result:
    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def inproc(*args, monkeypatch) -> _Result:
    """The command in this process (no signals involved): faster than a subprocess for damaged files."""
    from typer.testing import CliRunner

    from alliance_sim.cli import app

    r = CliRunner().invoke(app, [str(a) for a in args])
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    return _Result(r.exit_code, r.stdout, r.stderr)


def start(*args, cwd: Path, pause: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "alliance_sim.cli", *map(str, args)], cwd=cwd, env=_env(pause),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)


def wait_paused(proc: subprocess.Popen, stage: str, timeout: float = 400) -> list[str]:
    """Read stderr until the process says it paused at ``stage``; return the lines read."""
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            out, err = proc.communicate()
            pytest.fail(f"process ended (exit {proc.returncode}) before pausing at {stage}: {err[-2000:]}")
        lines.append(line)
        if f"paused at {stage}" in line:
            return lines
    proc.kill()
    pytest.fail(f"did not pause at {stage}")


def finish(proc: subprocess.Popen) -> tuple[int, list[str]]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("paused at")]


def error_line(lines: list[str]) -> str:
    errors = [ln for ln in lines if not ln.startswith("note:")]
    assert len(errors) == 1 and errors[0].startswith("error: "), lines
    assert "Traceback" not in "\n".join(lines)
    return errors[0]


def debris(folder: Path) -> list[str]:
    """Temporaries left in ``folder`` (and one level down)."""
    found = [p.name for p in folder.iterdir() if ".partial-" in p.name or ".old-" in p.name or ".tmp-" in p.name]
    for sub in folder.iterdir():
        if sub.is_dir() and not sub.name.endswith(".zarr"):
            found += [f"{sub.name}/{p.name}" for p in sub.iterdir() if ".partial-" in p.name or ".old-" in p.name]
    return found


# ----------------------------------------------------------------------------- signals in a run

RUN_CASES = [
    ("simulated", signal.SIGINT, 130, "interrupted (SIGINT); nothing was written"),
    ("writing", signal.SIGTERM, 143, "interrupted (SIGTERM); nothing was written"),
    ("results-written", signal.SIGTERM, 143, "interrupted (SIGTERM); nothing was written"),
    ("plots", signal.SIGINT, 130, "interrupted (SIGINT); nothing was written"),
    ("before-commit", signal.SIGHUP, 129, "interrupted (SIGHUP); nothing was written"),
]


@pytest.mark.parametrize("stage, sig, code, message", RUN_CASES, ids=[c[0] for c in RUN_CASES])
def test_signal_during_run_leaves_nothing(tmp_path, stage, sig, code, message):
    proc = start(*RUN, "--out", "out", cwd=tmp_path, pause=stage)
    wait_paused(proc, stage)
    proc.send_signal(sig)
    rc, lines = finish(proc)
    assert rc == code, lines
    assert error_line(lines) == f"error: {message}"
    assert not (tmp_path / "out").exists()
    assert debris(tmp_path) == []


def test_second_ctrl_c_during_cleanup_does_not_stop_it(tmp_path):
    proc = start(*RUN, "--out", "out", cwd=tmp_path, pause="plots,cleanup")
    wait_paused(proc, "plots")
    proc.send_signal(signal.SIGINT)
    wait_paused(proc, "cleanup")
    proc.send_signal(signal.SIGINT)  # ignored while the temporary is removed
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    proc.send_signal(signal.SIGUSR1)
    rc, lines = finish(proc)
    assert rc == 130, lines
    assert error_line(lines) == "error: interrupted (SIGINT); nothing was written"
    assert not (tmp_path / "out").exists() and debris(tmp_path) == []


def test_kill_9_leaves_a_temporary_that_the_next_run_removes(tmp_path):
    proc = start(*RUN, "--out", "out", cwd=tmp_path, pause="plots")
    wait_paused(proc, "plots")
    proc.kill()
    proc.communicate()
    left = debris(tmp_path)
    assert len(left) == 1 and left[0].startswith(".out.partial-"), left
    r = alliance(*RUN, "--out", "out", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"note: out: removed {left[0]}, left by an interrupted run" in r.stderr
    assert debris(tmp_path) == [] and sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "drivers.csv", "manifest.json", "observables.csv", "plots", "results.nc", "summary.csv"]


def test_signal_while_compare_writes_leaves_nothing(tmp_path):
    proc = start("compare", "baseline_2025", "tariff_shock_2025", *RUN[2:], "--out", "cmp", cwd=tmp_path,
                 pause="results-written")
    wait_paused(proc, "results-written")
    proc.send_signal(signal.SIGTERM)
    rc, lines = finish(proc)
    assert rc == 143 and error_line(lines) == "error: interrupted (SIGTERM); nothing was written"
    assert not (tmp_path / "cmp").exists() and debris(tmp_path) == []


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("run")
    r = alliance(*RUN, "--out", "out", cwd=d)
    assert r.returncode == 0, r.stderr
    return d / "out"


def test_signal_while_plots_are_redrawn_keeps_the_old_plots(run_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    before = {p.name: p.read_bytes() for p in (run / "plots").iterdir()}
    proc = start("plot", run, cwd=tmp_path, pause="plots")
    wait_paused(proc, "plots")
    proc.send_signal(signal.SIGTERM)
    rc, lines = finish(proc)
    assert rc == 143 and error_line(lines) == "error: interrupted (SIGTERM); nothing was written"
    assert {p.name: p.read_bytes() for p in (run / "plots").iterdir()} == before
    assert debris(run) == []


# --------------------------------------------------------------------------- damaged results


def _damage_truncate(p: Path) -> None:
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 3])


def _damage_garbage(p: Path) -> None:
    p.write_bytes(b"\x89HDF\r\n\x1a\n" + os.urandom(4000))


def _damage_foreign(p: Path) -> None:
    import xarray as xr

    p.unlink()
    xr.Dataset({"temperature": (("time",), np.arange(4.0))}).to_netcdf(p, engine="h5netcdf")


def _damage_missing_variable(p: Path) -> None:
    import xarray as xr

    with xr.open_dataset(p, engine="h5netcdf") as ds:
        ds = ds.load()
    p.unlink()
    ds.drop_vars(["alignment_q"]).to_netcdf(p, engine="h5netcdf")


DAMAGES = {"truncated": (_damage_truncate, "cannot read results"),
           "garbage": (_damage_garbage, "cannot read results"),
           "foreign netCDF": (_damage_foreign, "not an alliance-sim results file"),
           "missing variable": (_damage_missing_variable, "damaged or incomplete results file: missing alignment_q")}


@pytest.mark.parametrize("kind", sorted(DAMAGES))
def test_plot_of_a_damaged_results_file_is_one_line(run_dir, tmp_path, kind, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    damage, message = DAMAGES[kind]
    damage(run / "results.nc")
    r = inproc("plot", run, monkeypatch=monkeypatch)
    assert r.returncode == 2, r.stderr
    line = error_line(r.stderr.splitlines())
    assert message in line and len(line) < 400, line


# ---------------------------------------------------------------------------- signals in a sweep


@pytest.fixture()
def sweep_file(tmp_path) -> Path:
    f = tmp_path / "s.toml"
    f.write_text(SWEEP_TOML)
    return f


SWEEP = ["--workers", "0", "-q"]


def _points(store: Path) -> np.ndarray:
    import xarray as xr

    with xr.open_zarr(store, consolidated=False) as ds:
        return ds["p_crossed"].values.copy()


@pytest.fixture(scope="module")
def reference_store(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("ref")
    (d / "s.toml").write_text(SWEEP_TOML)
    r = alliance("sweep", "s.toml", "--out", "ref.zarr", *SWEEP, cwd=d)
    assert r.returncode == 0, r.stderr
    return d / "ref.zarr"


@pytest.mark.parametrize("stage", ["store-created", "task-outcomes-written"])
def test_signal_before_the_first_task_leaves_no_store(tmp_path, sweep_file, stage):
    proc = start("sweep", sweep_file, "--out", tmp_path / "s.zarr", *SWEEP, cwd=tmp_path, pause=stage)
    wait_paused(proc, stage)
    proc.send_signal(signal.SIGTERM)
    rc, lines = finish(proc)
    assert rc == 143 and error_line(lines).startswith("error: interrupted (SIGTERM); nothing was written"), lines
    assert not (tmp_path / "s.zarr").exists() and debris(tmp_path) == []


def test_signal_mid_sweep_keeps_done_tasks_and_resume_finishes(tmp_path, sweep_file, reference_store):
    proc = start("sweep", sweep_file, "--out", "s.zarr", *SWEEP, cwd=tmp_path, pause="task-committed")
    wait_paused(proc, "task-committed")
    proc.send_signal(signal.SIGINT)
    rc, lines = finish(proc)
    assert rc == 130
    assert "continue with --resume" in error_line(lines)
    r = alliance("sweep-analyze", "s.zarr", cwd=tmp_path)
    assert r.returncode == 2 and "incomplete store (2 of 3 tasks not done)" in error_line(r.stderr.splitlines())
    r = alliance("sweep-plot", "s.zarr", cwd=tmp_path)
    assert r.returncode == 2 and "incomplete store (2 of 3 tasks not done)" in error_line(r.stderr.splitlines())
    r = alliance("sweep", sweep_file, "--out", "s.zarr", "--resume", *SWEEP, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "(1 already done)" in r.stdout
    assert np.array_equal(_points(tmp_path / "s.zarr"), _points(reference_store))
    assert debris(tmp_path) == []


def test_sigterm_mid_sweep_on_a_local_dask_cluster(tmp_path, sweep_file, reference_store):
    """The client is interrupted while its worker processes run: they are shut down, the store keeps
    its finished tasks, and --resume finishes it bit-identically."""
    proc = start("sweep", sweep_file, "--out", "s.zarr", "--workers", "1", "-q", cwd=tmp_path,
                 pause="task-committed")
    wait_paused(proc, "task-committed")
    proc.send_signal(signal.SIGTERM)
    rc, lines = finish(proc)
    assert rc == 143, lines
    assert "continue with --resume" in error_line([ln for ln in lines if "distributed" not in ln])
    r = alliance("sweep", sweep_file, "--out", "s.zarr", "--resume", *SWEEP, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert np.array_equal(_points(tmp_path / "s.zarr"), _points(reference_store))
    assert debris(tmp_path) == []


@pytest.mark.parametrize("then", ["resume", "fresh"])
def test_kill_9_before_the_first_task_is_recovered(tmp_path, sweep_file, reference_store, then):
    proc = start("sweep", sweep_file, "--out", "s.zarr", *SWEEP, cwd=tmp_path, pause="task-outcomes-written")
    wait_paused(proc, "task-outcomes-written")
    proc.kill()
    proc.communicate()
    left = debris(tmp_path)
    assert len(left) == 1 and left[0].startswith(".s.zarr.partial-"), left
    extra = ["--resume"] if then == "resume" else []
    r = alliance("sweep", sweep_file, "--out", "s.zarr", *extra, *SWEEP, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    note = "resuming the store an interrupted sweep left" if then == "resume" else "left by an interrupted"
    assert note in r.stderr
    assert debris(tmp_path) == []
    assert np.array_equal(_points(tmp_path / "s.zarr"), _points(reference_store))


# ---------------------------------------------------------------------------------- damaged stores


def _chunk_files(store: Path, var: str) -> list[Path]:
    return sorted(p for p in (store / var).rglob("*") if p.is_file() and p.name != "zarr.json")


def _delete_chunk(store: Path) -> None:
    _chunk_files(store, "p_crossed")[1].unlink()


def _garble_chunk(store: Path) -> None:
    p = _chunk_files(store, "final_alignment_mean")[0]
    p.write_bytes(os.urandom(p.stat().st_size))


def _change_value(store: Path) -> None:
    import zarr

    g = zarr.open_group(str(store), mode="r+", zarr_format=3)
    v = g["min_cohesion_q"][4]
    v[0] += 1e-9
    g["min_cohesion_q"][4] = v


STORE_DAMAGE = {"deleted chunk": _delete_chunk, "garbled chunk": _garble_chunk, "changed value": _change_value}


@pytest.mark.parametrize("kind", sorted(STORE_DAMAGE))
def test_damaged_store_is_refused_then_repaired_by_resume(tmp_path, sweep_file, reference_store, kind,
                                                         monkeypatch):
    store = tmp_path / "s.zarr"
    shutil.copytree(reference_store, store)
    STORE_DAMAGE[kind](store)
    for cmd in ("sweep-analyze", "sweep-plot"):
        r = inproc(cmd, store, monkeypatch=monkeypatch)
        assert r.returncode == 2, (cmd, r.stdout, r.stderr)
        assert "incomplete store (1 damaged" in error_line(r.stderr.splitlines())
    r = inproc("sweep", sweep_file, "--out", store, "--resume", *SWEEP, monkeypatch=monkeypatch)
    assert r.returncode == 0, r.stderr
    assert "1 task(s) marked done have damaged or missing data; recomputing them" in r.stderr
    assert np.array_equal(_points(store), _points(reference_store))
    r = inproc("sweep-analyze", store, monkeypatch=monkeypatch)
    assert r.returncode == 0, r.stderr


def _break_metadata(store: Path) -> None:
    (store / "zarr.json").write_text("{not json")


def _drop_markers(store: Path) -> None:
    shutil.rmtree(store / "task_done")


def _drop_definition(store: Path) -> None:
    meta = json.loads((store / "zarr.json").read_text())
    meta["attributes"]["sweep"] = "{"
    (store / "zarr.json").write_text(json.dumps(meta))


def _foreign(store: Path) -> None:
    shutil.rmtree(store)
    store.mkdir()
    (store / "zarr.json").write_text(json.dumps({"zarr_format": 3, "node_type": "group", "attributes": {}}))


BROKEN = {"metadata": (_break_metadata, "damaged sweep store"), "markers": (_drop_markers, "damaged sweep store"),
          "definition": (_drop_definition, "damaged sweep store"),
          "foreign": (_foreign, "not an alliance-sim sweep store")}


@pytest.mark.parametrize("kind", sorted(BROKEN))
@pytest.mark.parametrize("cmd", ["sweep-analyze", "sweep-plot", "resume"])
def test_broken_store_is_one_line(tmp_path, sweep_file, reference_store, kind, cmd, monkeypatch):
    store = tmp_path / "s.zarr"
    shutil.copytree(reference_store, store)
    damage, message = BROKEN[kind]
    damage(store)
    args = ["sweep", sweep_file, "--out", store, "--resume", *SWEEP] if cmd == "resume" else [cmd, store]
    r = inproc(*args, monkeypatch=monkeypatch)
    assert r.returncode == 2, (r.stdout, r.stderr)
    line = error_line(r.stderr.splitlines())
    assert message in line and len(line) < 400, line


# ------------------------------------------------------------------------------------- full disk

needs_root = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("mount"),
                                reason="mounting a small tmpfs needs root (CI runs as root)")


@pytest.fixture()
def tiny_fs(tmp_path):
    """A 4 MB tmpfs, unmounted afterwards."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(mnt: Path, leave: int) -> None:
    free = shutil.disk_usage(mnt).free
    with open(mnt / "filler", "wb") as f:
        f.write(b"\0" * max(0, free - leave))


@needs_root
def test_run_on_a_full_disk_is_refused_up_front(tiny_fs, tmp_path):
    _fill(tiny_fs, 200_000)
    r = alliance(*RUN, "--out", tiny_fs / "out", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "not enough disk space" in error_line(r.stderr.splitlines())
    assert sorted(p.name for p in tiny_fs.iterdir()) == ["filler"]


@needs_root
@pytest.mark.parametrize("leave", [0, 60_000])
def test_disk_filling_while_a_run_writes_is_one_line(tiny_fs, tmp_path, leave):
    proc = start(*RUN, "--out", tiny_fs / "out", cwd=tmp_path, pause="writing")
    wait_paused(proc, "writing")
    _fill(tiny_fs, leave)
    proc.send_signal(signal.SIGUSR1)
    rc, lines = finish(proc)
    assert rc == 2, lines
    assert "disk full while writing; nothing was written" in error_line(lines)
    assert sorted(p.name for p in tiny_fs.iterdir()) == ["filler"]


@needs_root
def test_disk_filling_during_a_sweep_keeps_done_tasks(tiny_fs, tmp_path, sweep_file, reference_store):
    store = tiny_fs / "s.zarr"
    proc = start("sweep", sweep_file, "--out", store, *SWEEP, cwd=tmp_path, pause="task-committed")
    wait_paused(proc, "task-committed")
    _fill(tiny_fs, 0)
    proc.send_signal(signal.SIGUSR1)
    rc, lines = finish(proc)
    assert rc == 2, lines
    assert "disk full while writing; the 1 tasks done so far are kept" in error_line(lines)
    (tiny_fs / "filler").unlink()
    r = alliance("sweep", sweep_file, "--out", store, "--resume", *SWEEP, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert np.array_equal(_points(store), _points(reference_store))


@needs_root
def test_sweep_on_a_full_disk_is_refused_up_front(tiny_fs, tmp_path, sweep_file):
    _fill(tiny_fs, 100_000)
    r = alliance("sweep", sweep_file, "--out", tiny_fs / "s.zarr", *SWEEP, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "not enough disk space" in error_line(r.stderr.splitlines())
    assert sorted(p.name for p in tiny_fs.iterdir()) == ["filler"]
