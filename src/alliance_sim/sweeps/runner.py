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
import functools
import gc
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
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
    store_spec,
    task_bounds,
    verify_store,
    write_task,
)
from alliance_sim.writer import (
    OutputError,
    check_name,
    check_space,
    disk_error,
    partial_path,
    pause_point,
    raise_if_signalled,
    remove_stale,
    signals_as_exceptions,
    signals_deferred,
    signals_ignored,
    stale_partials,
)

TaskFn = Callable[[Parameters, list[dict[str, Any]], int, int, int], xr.Dataset]
RETRIES = 2


def run_task(base: Parameters, points: list[dict[str, Any]], replicates: int, seed: int,
             months: int, posterior=None) -> xr.Dataset:
    """The unit of work: outcomes of a block of points (a thin wrapper of ``run_points``)."""
    return run_points(base, points, replicates=replicates, seed=seed, months=months, posterior=posterior)


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
    damaged: int = 0  # tasks found damaged by --resume (and recomputed)

    def failed_path(self) -> Path:
        return failed_points_path(self.store)


def failed_points_path(store: Path) -> Path:
    return store.with_name(store.name + ".failed_points.json")


def check_address(scheduler: str) -> None:
    """A scheduler address dask can parse (``tcp://host:8786``, ``host:8786``), else one line."""
    from distributed.comm import parse_address

    try:
        scheme, loc = parse_address(scheduler)
        host, _, port = loc.rpartition(":")
        ok = bool(loc) and (scheme not in ("tcp", "tls") or (host and port.isdigit()))
    except (ValueError, TypeError):
        ok = False
    if not ok:
        raise SweepError(f"--scheduler {scheduler!r}: not a scheduler address; expected e.g. tcp://host:8786")


def connect(scheduler: str, timeout: float = 5.0):
    """A dask Client on an existing scheduler; a bad or unreachable address -> ``SweepError`` (one line,
    without the "Exception ignored" noise of a half-built client being collected)."""
    from distributed import Client

    check_address(scheduler)
    hook = sys.unraisablehook
    sys.unraisablehook = lambda *_: None
    try:
        return Client(scheduler, timeout=f"{timeout}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SweepError(f"cannot reach dask scheduler at {scheduler}: {msg[:200]}") from None
    finally:
        gc.collect()
        sys.unraisablehook = hook


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


def store_bytes(schema: Schema, n_points: int, n_tasks: int) -> int:
    """Upper bound of a store's size on disk (uncompressed outcomes plus a block per chunk file)."""
    per_point = sum(int(np.prod(shape)) for _, shape, _ in schema.variables.values()) + 2 * 8
    return 8 * per_point * n_points + 4096 * n_tasks * (len(schema.variables) + 2) + 2**20


def _adopt_partial(out: Path, sweep: Sweep) -> bool:
    """``--resume`` of a store that never got its first task in: a temporary left by a killed sweep of
    the same definition becomes the store (one of another definition is removed, and said so)."""
    stale, busy = stale_partials(out)
    if busy:
        raise SweepError(f"{out}: another sweep is writing it ({busy[0]})")
    for p in sorted(stale, key=lambda q: q.stat().st_mtime, reverse=True):
        try:
            with open_store(p) as ds:
                same = ds.attrs.get("sweep_hash") == run_hash(sweep)
        except SweepError:
            same = False
        if same and not out.exists():
            os.replace(p, out)
            _note(f"{out}: resuming the store an interrupted sweep left as {p.name}")
        else:
            remove_store(p)
            _note(f"{out}: removed {p.name}, left by an interrupted sweep")
    return out.exists()


def _note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr, flush=True)


def run_sweep(sweep: Sweep, out: str | Path, *, scheduler: str | None = None, workers: int | None = None,
              resume: bool = False, task_size: int | None = None, progress: bool = False,
              max_tasks: int | None = None, task_fn: TaskFn = run_task, client=None,
              connect_timeout: float = 5.0) -> SweepReport:
    """Run ``sweep`` into the store ``out``.

    ``workers=0`` runs serially in this process; ``scheduler`` connects to a running dask cluster;
    ``client`` uses a given dask client; otherwise a ``LocalCluster`` of ``workers`` processes (default:
    the machine's cores) is started.  ``resume`` continues an existing store (its definition must match):
    it verifies every task marked done against its checksum and recomputes the damaged ones with the
    missing ones.  ``max_tasks`` stops after that many tasks (for tests and for spreading a sweep over
    sessions).  Bad inputs raise ``SweepError``; a new store is created under a temporary name and
    appears under ``out`` only once its first task is written (it is removed if the run fails or is
    signalled before that; a kill -9 leaves it for the next run to remove or ``--resume`` to adopt).
    """
    if sweep.posterior is not None and task_fn is run_task:   # the tasks carry the particles to the workers
        task_fn = functools.partial(run_task, posterior=sweep.posterior)
    with signals_as_exceptions():
        return _run_sweep(sweep, Path(out), scheduler=scheduler, workers=workers, resume=resume,
                          task_size=task_size, progress=progress, max_tasks=max_tasks, task_fn=task_fn,
                          client=client, connect_timeout=connect_timeout)


def _run_sweep(sweep: Sweep, out: Path, *, scheduler, workers, resume, task_size, progress, max_tasks, task_fn,
               client, connect_timeout) -> SweepReport:
    spec = sweep.spec
    n = sweep.n_points
    try:
        check_name(out)
    except OutputError as exc:
        raise SweepError(str(exc)) from None
    damaged: list[int] = []
    if resume:
        if not out.exists() and not _adopt_partial(out, sweep):
            raise SweepError(f"{out}: no store to resume")
        with open_store(out) as ds:
            store_spec(ds, out)  # a store whose definition is damaged cannot be analysed: do not "finish" it
            if ds.attrs.get("sweep_hash") != run_hash(sweep):
                raise SweepError(f"{out}: store was made by a different sweep definition or base scenario "
                                 f"(hash {ds.attrs.get('sweep_hash')} != {run_hash(sweep)}); use a new --out")
            size = int(ds.attrs["task_size"])
            status = verify_store(out, ds)
        done = status.ok.copy()
        damaged = status.damaged
        if damaged:
            _note(f"{out}: {len(damaged)} task(s) marked done have damaged or missing data; recomputing them")
    else:
        if out.exists():
            raise SweepError(f"{out}: already exists; use --resume to continue it or choose another --out")
        try:
            remove_stale(out, say=_note)
        except OutputError as exc:
            raise SweepError(str(exc)) from None
        size = int(task_size or spec.task_size)
        if size < 1:
            raise SweepError(f"task size must be at least 1, got {size}")
        done = None
    tasks = task_bounds(n, size)
    if done is None:
        done = np.zeros(len(tasks), dtype=bool)
    todo = [i for i in range(len(tasks)) if not done[i]]
    if max_tasks is not None:
        todo = todo[:max_tasks]
    report = SweepReport(out, n, len(tasks), tasks_skipped=int(done.sum()), damaged=len(damaged))

    own_client = own_cluster = None
    target = out
    created = False
    try:
        if client is None and workers != 0:
            if scheduler:
                own_client = connect(scheduler, connect_timeout)
            else:
                own_client, own_cluster = local_cluster(workers or default_workers())
            client = own_client
        report.workers = len(client.scheduler_info(n_workers=-1)["workers"]) if client is not None else 0
        if not resume:
            with _status(progress, "probing the outputs (the first sweep on a machine also compiles the "
                                   "model's step: about a minute, then cached)"):
                schema_ds = task_fn(sweep.base, [{}], 1, sweep.seed, 1)
            schema = Schema.from_dataset(schema_ds)
            check_outputs(schema_ds, spec.outputs, sweep.source)
            if spec.prim is not None:
                check_outputs(schema_ds, [spec.prim.output], sweep.source)
            try:
                check_space(out, store_bytes(schema, n, len(tasks)))
            except OutputError as exc:
                raise SweepError(str(exc)) from None
            target = partial_path(out)
            remove_store(target)
            created = True
            create_store(target, sweep, schema, size)
            pause_point("store-created")
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
                    with signals_deferred():
                        os.replace(state["target"], out)
                        state["target"] = out
                        state["first"] = False
                    raise_if_signalled()
                pause_point("task-committed")

            writer = TaskWriter()

            def write(*args) -> None:
                write_task(state["target"], *args, writer=writer)

            if client is None:
                _run_serial(sweep, tasks, todo, task_fn, lambda: state["target"], write, written, report)
            else:
                _run_dask(client, sweep, tasks, todo, task_fn, lambda: state["target"], write, written, report)
        finally:
            target = state["target"] if "state" in locals() else target
            bar.close()
        report.wall_time = time.perf_counter() - t0
        if target != out:  # no task completed (nothing to do, or every task had failing points)
            with signals_deferred():
                if out.exists():
                    remove_store(out)
                os.replace(target, out)
                target = out
        created = False
        _record_failures(out, report)
        report.complete = verify_store(out).complete
        return report
    except BaseException as exc:
        with signals_ignored():
            pause_point("cleanup")
            if created and target != out:
                remove_store(target)
        if isinstance(exc, Exception) and not isinstance(exc, SweepError) and disk_error(exc, out) is not None:
            if target == out and out.exists():
                raise SweepError(f"{out}: disk full while writing; the {report.tasks_skipped + report.tasks_run} "
                                 "tasks done so far are kept; free some space and continue with --resume") from None
            raise SweepError(f"{out}: disk full while writing; nothing was written") from None
        raise
    finally:
        with signals_ignored():
            if own_client is not None:
                with contextlib.suppress(Exception):
                    own_client.close()
            if own_cluster is not None:
                with contextlib.suppress(Exception):
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
