"""Run a sweep's tasks — serially or on dask.distributed — and write each task's outcomes to the store
as it completes.

A task is one call of ``alliance_sim.batch.run_points`` on a block of consecutive points.  Each point
uses the same replicates and seed (common random numbers) and its outcomes depend only on its own
parameters, so the store is bit-identical whatever the task size, the number of workers or the order
in which tasks finish, and a resumed sweep equals an uninterrupted one.

The client (this process) is the only writer: workers return outcomes, the client writes the task's
region and then its completion marker.  A task that fails is retried (dask ``retries=2``; the same on
the serial path); if it still fails its points are run one by one so the failing points can be
reported with their parameters (``<store>.failed_points.json`` and the store's attributes).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xarray as xr

from alliance_sim.batch import run_points
from alliance_sim.model.parameters import Parameters
from alliance_sim.sweeps.design import Sweep, SweepError
from alliance_sim.sweeps.outputs import check_outputs
from alliance_sim.sweeps.store import (
    Schema,
    TaskWriter,
    create_store,
    open_store,
    remove_store,
    run_hash,
    set_attrs,
    task_bounds,
    write_task,
)

TaskFn = Callable[[Parameters, list[dict[str, Any]], int, int, int], xr.Dataset]
RETRIES = 2


def run_task(base: Parameters, points: list[dict[str, Any]], replicates: int, seed: int,
             months: int) -> xr.Dataset:
    """The unit of work: outcomes of a block of points (a thin wrapper of ``run_points``)."""
    return run_points(base, points, replicates=replicates, seed=seed, months=months)


@dataclass
class FailedPoint:
    point: int
    overrides: dict[str, Any]
    error: str


@dataclass
class SweepReport:
    """What a run did."""

    store: Path
    n_points: int
    n_tasks: int
    tasks_run: int = 0
    tasks_skipped: int = 0
    points_run: int = 0
    wall_time: float = 0.0
    workers: int = 0
    failed: list[FailedPoint] = field(default_factory=list)
    complete: bool = False

    def failed_path(self) -> Path:
        return failed_points_path(self.store)


def failed_points_path(store: Path) -> Path:
    return store.with_name(store.name + ".failed_points.json")


def connect(scheduler: str, timeout: float = 5.0):
    """A dask Client on an existing scheduler; unreachable -> ``SweepError`` (one line)."""
    from distributed import Client

    try:
        return Client(scheduler, timeout=f"{timeout}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SweepError(f"cannot reach dask scheduler at {scheduler}: {msg}") from None


def local_cluster(workers: int):
    """A ``LocalCluster`` of single-threaded worker processes and its client."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR)
    return Client(cluster, set_as_default=False), cluster


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


class _Progress:
    """A rich progress bar over points (rate in points/s, ETA), or nothing."""

    def __init__(self, enabled: bool, total: int, done: int, label: str):
        self.bar = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("points"), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                            TextColumn("ETA"), TimeRemainingColumn(), console=Console(stderr=True))
        self.bar.start()
        self.task = self.bar.add_task(label, total=total, completed=done, rate="")
        self.t0 = time.perf_counter()
        self.new = 0

    def advance(self, n: int) -> None:
        if self.bar is None:
            return
        self.new += n
        rate = self.new / max(time.perf_counter() - self.t0, 1e-9)
        self.bar.update(self.task, advance=n, rate=f"{rate:,.1f} pt/s")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _status(enabled: bool, text: str):
    """A rich spinner with ``text`` while a slow first step runs, or nothing."""
    if not enabled:
        return contextlib.nullcontext()
    from rich.console import Console

    return Console(stderr=True).status(text)


def _one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".splitlines()
    return text[0] if text else type(exc).__name__


def run_sweep(sweep: Sweep, out: str | Path, *, scheduler: str | None = None, workers: int | None = None,
              resume: bool = False, task_size: int | None = None, progress: bool = False,
              max_tasks: int | None = None, task_fn: TaskFn = run_task, client=None,
              connect_timeout: float = 5.0) -> SweepReport:
    """Run ``sweep`` into the store ``out``.

    ``workers=0`` runs serially in this process; ``scheduler`` connects to a running dask cluster;
    ``client`` uses a given dask client; otherwise a ``LocalCluster`` of ``workers`` processes (default:
    the machine's cores) is started.  ``resume`` continues an existing store (its definition must match).
    ``max_tasks`` stops after that many tasks (for tests and for spreading a sweep over sessions).
    Bad inputs raise ``SweepError``; a new store is created under a temporary name and appears under
    ``out`` only once its first task is written (it is removed if the run fails before that).
    """
    out = Path(out)
    spec = sweep.spec
    n = sweep.n_points
    if resume:
        if not out.exists():
            raise SweepError(f"{out}: no store to resume")
        with open_store(out) as ds:
            if ds.attrs.get("sweep_hash") != run_hash(sweep):
                raise SweepError(f"{out}: store was made by a different sweep definition or base scenario "
                                 f"(hash {ds.attrs.get('sweep_hash')} != {run_hash(sweep)}); use a new --out")
            size = int(ds.attrs["task_size"])
            done = ds["task_done"].values.copy()
    else:
        if out.exists():
            raise SweepError(f"{out}: already exists; use --resume to continue it or choose another --out")
        size = int(task_size or spec.task_size)
        if size < 1:
            raise SweepError(f"task size must be at least 1, got {size}")
        done = None
    tasks = task_bounds(n, size)
    if done is None:
        import numpy as np

        done = np.zeros(len(tasks), dtype=bool)
    todo = [i for i in range(len(tasks)) if not done[i]]
    if max_tasks is not None:
        todo = todo[:max_tasks]
    report = SweepReport(out, n, len(tasks), tasks_skipped=int(done.sum()))

    own_client = own_cluster = None
    if client is None and workers != 0:
        if scheduler:
            own_client = connect(scheduler, connect_timeout)
        else:
            own_client, own_cluster = local_cluster(workers or default_workers())
        client = own_client
    report.workers = len(client.scheduler_info(n_workers=-1)["workers"]) if client is not None else 0

    target = out
    created = False
    try:
        if not resume:
            with _status(progress, "probing the outputs (the first sweep on a machine also compiles the "
                                   "model's step: about a minute, then cached)"):
                schema_ds = task_fn(sweep.base, [{}], 1, sweep.seed, 1)
            schema = Schema.from_dataset(schema_ds)
            check_outputs(schema_ds, spec.outputs, sweep.source)
            if spec.prim is not None:
                check_outputs(schema_ds, [spec.prim.output], sweep.source)
            target = out.with_name(f".{out.name}.partial-{os.getpid()}")
            remove_store(target)
            create_store(target, sweep, schema, size)
            created = True
        bar = _Progress(progress, n, sum(b - a for i, (a, b) in enumerate(tasks) if done[i]),
                        spec.name or Path(sweep.source).stem)
        t0 = time.perf_counter()
        try:
            state = {"target": target, "first": not resume}

            def written(i: int) -> None:
                a, b = tasks[i]
                report.tasks_run += 1
                report.points_run += b - a
                bar.advance(b - a)
                if state["first"]:  # the store appears under its name once a task is in it
                    os.replace(state["target"], out)
                    state["target"] = out
                    state["first"] = False

            writer = TaskWriter()

            def write(*args) -> None:
                write_task(state["target"], *args, writer=writer)

            if client is None:
                _run_serial(sweep, tasks, todo, task_fn, lambda: state["target"], write, written, report)
            else:
                _run_dask(client, sweep, tasks, todo, task_fn, lambda: state["target"], write, written, report)
            target = state["target"]
        finally:
            bar.close()
        report.wall_time = time.perf_counter() - t0
        if target != out:  # no task completed (nothing to do, or every task had failing points)
            if out.exists():
                remove_store(out)
            os.replace(target, out)
            target = out
        created = False
        _record_failures(out, report)
        with open_store(out) as ds:
            report.complete = bool(ds["task_done"].values.all())
        return report
    except BaseException:
        if created and target != out:
            remove_store(target)
        raise
    finally:
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()


def _points(sweep: Sweep, a: int, b: int) -> list[dict[str, Any]]:
    return sweep.points.overrides[a:b]


def _run_serial(sweep, tasks, todo, task_fn, target, write, written, report) -> None:
    spec = sweep.spec
    for i in todo:
        a, b = tasks[i]
        err = None
        for _ in range(RETRIES + 1):
            try:
                res = task_fn(sweep.base, _points(sweep, a, b), spec.replicates, sweep.seed, sweep.months)
                break
            except Exception as exc:  # noqa: BLE001 - reported below
                err = exc
        else:
            _isolate_serial(sweep, a, b, task_fn, target, report, err)
            continue
        write(a, b, i, res)
        written(i)


def _isolate_serial(sweep, a, b, task_fn, target, report, err) -> None:
    spec = sweep.spec
    for p in range(a, b):
        for _ in range(RETRIES + 1):
            try:
                res = task_fn(sweep.base, _points(sweep, p, p + 1), spec.replicates, sweep.seed, sweep.months)
                break
            except Exception as exc:  # noqa: BLE001
                err = exc
        else:
            report.failed.append(FailedPoint(p, _points(sweep, p, p + 1)[0], _one_line(err)))
            continue
        _write_points(target(), p, res)


def _write_points(path, p, res) -> None:
    """Write a single point's outcomes (its task is not marked done)."""
    body = xr.Dataset({k: (v.dims, v.values.astype("float64")) for k, v in res.data_vars.items()})
    body.to_zarr(path, region={"point": slice(p, p + 1)}, mode="r+", consolidated=False)


def _run_dask(client, sweep, tasks, todo, task_fn, target, write, written, report) -> None:
    from distributed import as_completed

    spec = sweep.spec
    nworkers = max(1, report.workers)
    window = 2 * nworkers + 2  # tasks in flight: bounds memory on workers and client
    base = client.scatter(sweep.base, broadcast=True)
    key = run_hash(sweep)
    queue = list(todo)
    meta: dict[Any, tuple[str, int]] = {}

    def submit(kind: str, i: int):
        if kind == "task":
            a, b = tasks[i]
        else:
            a, b = i, i + 1
        fut = client.submit(task_fn, base, _points(sweep, a, b), spec.replicates, sweep.seed, sweep.months,
                            retries=RETRIES, pure=False, key=f"alliance-sweep-{key}-{kind}-{i}-{time.time_ns()}")
        meta[fut] = (kind, i)
        return fut

    ac = as_completed([submit("task", queue.pop(0)) for _ in range(min(window, len(queue)))], loop=client.loop)
    for fut in ac:
        kind, i = meta.pop(fut)
        if fut.status == "finished":
            res = fut.result()
            if kind == "task":
                a, b = tasks[i]
                write(a, b, i, res)
                written(i)
            else:
                _write_points(target(), i, res)
        else:
            exc = fut.exception()
            if kind == "task":
                a, b = tasks[i]
                for p in range(a, b):
                    ac.add(submit("point", p))
            else:
                report.failed.append(FailedPoint(i, _points(sweep, i, i + 1)[0], _one_line(exc)))
        fut.release()
        if queue and sum(1 for k, _ in meta.values() if k == "task") < window:
            ac.add(submit("task", queue.pop(0)))


def _record_failures(out: Path, report: SweepReport) -> None:
    path = failed_points_path(out)
    if not report.failed:
        if path.exists():
            path.unlink()
        set_attrs(out, failed_points="[]")
        return
    rows = [{"point": f.point, "overrides": f.overrides, "error": f.error} for f in report.failed]
    path.write_text(json.dumps(rows, indent=1, default=str))
    set_attrs(out, failed_points=json.dumps(rows[:100], default=str))
