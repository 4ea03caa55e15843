"""A resumable results store for a sweep: one zarr (v3) directory written region by region.

Layout (dims ``point``, ``factor``, ``task`` and the outcome dims such as ``ally``, ``quantile``):

* ``x`` (point, factor): each point's factor values (listed non-numeric levels as their index),
  ``unit`` (point, factor): the same point in the unit cube the design was drawn in;
* one variable per outcome of ``run_points``, pre-allocated with NaN and chunked by task, so each
  task fills exactly its own chunks;
* ``task_sum`` (task): a checksum (blake2b, 8 bytes) of the task's outcome values, and
  ``task_done`` (task): a completion marker per task, one chunk each, written in that order only AFTER
  the task's outcomes, so a kill between the writes never marks a task done, and a chunk damaged or
  deleted later is found by :func:`verify_store` (``--resume`` recomputes it; analysis refuses it);
* attributes: the sweep definition (JSON), its hash, the base scenario's name and hash, the design,
  seed, months, replicates, task size and the package version.

The store is created up-front with the full shape (metadata only: outcome chunks are written by the
tasks), so memory never holds more than one task's outcomes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import dask.array as da
import numpy as np
import xarray as xr

import alliance_sim
from alliance_sim.sweeps.design import Sweep, SweepError, SweepSpec, parse_sweep
from alliance_sim.writer import pause_point

FORMAT = "alliance-sim-sweep/1"
#: Variables of a store that are not outcomes.
BOOKKEEPING = ("x", "unit", "task_done", "task_sum", "task_start", "task_stop")


def checksum(values: dict[str, np.ndarray]) -> int:
    """Checksum of one task's outcomes (name and float64 bytes of each, in name order), as an int64."""
    h = hashlib.blake2b(digest_size=8)
    for name in sorted(values):
        h.update(name.encode())
        h.update(np.ascontiguousarray(values[name], dtype="<f8").tobytes())
    return int.from_bytes(h.digest(), "little", signed=True)


def run_hash(sweep: Sweep) -> str:
    """Hash of everything that determines the stored numbers (not the task size)."""
    key = {"spec": sweep.spec.definition_hash(), "base": sweep.base_hash, "seed": sweep.seed,
           "months": sweep.months, "points": sweep.n_points}
    if getattr(sweep, "posterior", None) is not None:   # the particles, not only the file's name
        key["posterior"] = sweep.posterior.digest
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def task_bounds(n_points: int, task_size: int) -> list[tuple[int, int]]:
    """Consecutive blocks [start, stop) of points, one per task."""
    return [(a, min(a + task_size, n_points)) for a in range(0, n_points, task_size)]


@dataclass
class Schema:
    """Outcome variables: name -> (dims after ``point``, shape after ``point``, attrs); plus coords."""

    variables: dict[str, tuple[tuple[str, ...], tuple[int, ...], dict]]
    coords: dict[str, np.ndarray]

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> Schema:
        variables = {}
        for name, v in ds.data_vars.items():
            if v.dims[0] != "point":
                raise SweepError(f"outcome {name}: first dimension must be 'point', got {v.dims}")
            variables[name] = (tuple(v.dims[1:]), tuple(v.shape[1:]), dict(v.attrs))
        coords = {k: np.asarray(c.values) for k, c in ds.coords.items() if k != "point"}
        return cls(variables, coords)


def create_store(path: str | Path, sweep: Sweep, schema: Schema, task_size: int) -> None:
    """Write a new store's metadata, coordinates, point table and empty markers (fails if it exists)."""
    path = Path(path)
    n = sweep.n_points
    tasks = task_bounds(n, task_size)
    chunk = min(task_size, max(n, 1))
    data = {}
    for name, (dims, shape, attrs) in schema.variables.items():
        arr = da.full((n, *shape), np.nan, dtype="float64", chunks=(chunk, *shape))
        data[name] = xr.Variable(("point", *dims), arr, attrs)
    pts = sweep.points
    data["x"] = xr.Variable(("point", "factor"), pts.numeric(sweep.spec),
                            {"long_name": "factor values (non-numeric levels as their index)"})
    data["unit"] = xr.Variable(("point", "factor"), pts.unit, {"long_name": "unit-cube design coordinates"})
    data["task_done"] = xr.Variable(("task",), np.zeros(len(tasks), dtype=bool),
                                    {"long_name": "task outcomes written"})
    data["task_sum"] = xr.Variable(("task",), np.zeros(len(tasks), dtype=np.int64),
                                   {"long_name": "checksum of the task's outcomes (see store.checksum)"})
    data["task_start"] = xr.Variable(("task",), np.array([a for a, _ in tasks], dtype=np.int64))
    data["task_stop"] = xr.Variable(("task",), np.array([b for _, b in tasks], dtype=np.int64))
    coords = {"point": np.arange(n), "factor": np.array(pts.factors, dtype=str), "task": np.arange(len(tasks))}
    coords.update(schema.coords)
    ds = xr.Dataset(data, coords=coords)
    spec = sweep.spec
    ds.attrs.update({
        "format": FORMAT,
        "sweep": spec.model_dump_json(),
        "sweep_source": sweep.source,
        "sweep_hash": run_hash(sweep),
        "base_name": sweep.base_name,
        "base_hash": sweep.base_hash,
        "design": spec.design.kind,
        "seed": int(sweep.seed),
        "months": int(sweep.months),
        "replicates": int(spec.replicates),
        "task_size": int(task_size),
        "n_points": int(n),
        "outputs": json.dumps(spec.outputs),
        "outcome_vars": json.dumps(sorted(schema.variables)),
        "alliance_sim_version": alliance_sim.__version__,
        **({} if getattr(sweep, "posterior", None) is None else
           {"posterior": sweep.posterior.path, "posterior_sha256": sweep.posterior.digest}),
    })
    encoding = {"task_done": {"chunks": (1,)}, "task_sum": {"chunks": (1,)}}
    ds.to_zarr(path, mode="w-", compute=False, zarr_format=3, consolidated=False, encoding=encoding)


def open_store(path: str | Path) -> xr.Dataset:
    """Open a store lazily (outcomes not yet computed read as NaN); a damaged or foreign folder is a
    one-line ``SweepError``."""
    path = Path(path)
    if not path.is_dir():
        raise SweepError(f"{path}: no such sweep store")
    if not (path / "zarr.json").exists():
        raise SweepError(f"{path}: not a sweep store (no zarr.json)")
    try:
        ds = xr.open_zarr(path, consolidated=False, zarr_format=3)
    except Exception as exc:  # noqa: BLE001 - zarr/json raise many types for damaged metadata
        raise SweepError(f"{path}: damaged sweep store, its metadata cannot be read ({_detail(exc)})") from None
    if ds.attrs.get("format") != FORMAT:
        raise SweepError(f"{path}: not an alliance-sim sweep store")
    missing = [v for v in ("x", "unit", "task_done", "task_start", "task_stop") if v not in ds.variables]
    if missing or "sweep" not in ds.attrs:
        raise SweepError(f"{path}: damaged sweep store (missing {', '.join(missing) or 'its sweep definition'})")
    return ds


def _detail(exc: BaseException) -> str:
    return (" ".join(str(exc).split())[:160]) or type(exc).__name__


@dataclass
class StoreStatus:
    """What a store holds, checked: tasks whose outcomes match their checksum, tasks marked done whose
    data is damaged or missing, tasks never finished, and points that failed."""

    path: Path
    n_tasks: int
    n_points: int
    ok: np.ndarray  # bool per task: done and verified
    damaged: list[int] = field(default_factory=list)
    failed_points: int = 0

    @property
    def missing(self) -> list[int]:
        return [i for i in range(self.n_tasks) if not self.ok[i] and i not in self.damaged]

    @property
    def complete(self) -> bool:
        return bool(self.ok.all())

    def describe(self) -> str:
        """'12 of 94 tasks not done, 2 damaged (3 failed points)' — or 'complete'."""
        if self.complete:
            return f"complete ({self.n_tasks} tasks verified)"
        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} of {self.n_tasks} tasks not done")
        if self.damaged:
            parts.append(f"{len(self.damaged)} damaged (data changed or deleted since written)")
        if self.failed_points:
            parts.append(f"{self.failed_points} failed points")
        return ", ".join(parts)


def verify_store(path: str | Path, ds: xr.Dataset | None = None) -> StoreStatus:
    """Check every task marked done against its checksum (stores without checksums: against NaNs)."""
    path = Path(path)
    own = ds is None
    ds = open_store(path) if own else ds
    try:
        try:
            done = np.asarray(ds["task_done"].values, dtype=bool)
            starts = np.asarray(ds["task_start"].values)
            stops = np.asarray(ds["task_stop"].values)
            names = json.loads(ds.attrs.get("outcome_vars", "null")) or [
                str(v) for v in ds.data_vars if v not in BOOKKEEPING and "point" in ds[v].dims]
            sums = np.asarray(ds["task_sum"].values) if "task_sum" in ds.variables else None
        except Exception as exc:  # noqa: BLE001
            raise SweepError(f"{path}: damaged sweep store, its task markers cannot be read ({_detail(exc)})") \
                from None
        values: dict[str, np.ndarray] = {}
        unreadable: set[str] = set()
        for name in names:
            try:
                values[name] = np.asarray(ds[name].values, dtype="float64")
            except Exception:  # noqa: BLE001 - a damaged chunk: verify task by task below
                unreadable.add(name)
        ok = np.zeros(done.shape, dtype=bool)
        damaged = []
        for i in np.flatnonzero(done):
            a, b = int(starts[i]), int(stops[i])
            region = {}
            try:
                for name in names:
                    region[name] = (values[name][a:b] if name not in unreadable
                                    else np.asarray(ds[name].isel(point=slice(a, b)).values, dtype="float64"))
            except Exception:  # noqa: BLE001
                damaged.append(int(i))
                continue
            good = (checksum(region) == int(sums[i])) if sums is not None else \
                all(not np.isnan(v).any() for v in region.values())
            if good:
                ok[i] = True
            else:
                damaged.append(int(i))
        failed = len(json.loads(ds.attrs.get("failed_points", "[]") or "[]"))
        return StoreStatus(path, len(done), int(ds.sizes.get("point", 0)), ok, damaged, failed)
    finally:
        if own:
            ds.close()


def require_complete(path: str | Path, ds: xr.Dataset, what: str) -> StoreStatus:
    """The status of a store that must be complete for ``what`` (analysis, plots); else one line."""
    status = verify_store(path, ds)
    if not status.complete:
        raise SweepError(f"{path}: incomplete store ({status.describe()}); {what} needs every point; "
                         "finish it with `alliance sweep <sweep file> --out <store> --resume`")
    return status


def store_spec(ds: xr.Dataset, path: str | Path | None = None) -> SweepSpec:
    """The sweep definition saved in a store (damaged: one line naming ``path``)."""
    try:
        data = json.loads(ds.attrs["sweep"])
    except (KeyError, TypeError, ValueError) as exc:
        raise SweepError(f"{path or 'store'}: damaged sweep store: its sweep definition cannot be read "
                         f"({_detail(exc)}); run the sweep again into a new --out") from None
    return parse_sweep(data, "store")


def done_tasks(path: str | Path) -> np.ndarray:
    """The completion markers (bool per task)."""
    with open_store(path) as ds:
        return ds["task_done"].values.copy()


class TaskWriter:
    """Writes tasks' outcomes into a store with zarr directly, keeping its arrays open between tasks.

    xarray's region writes re-open the group and re-read every variable's metadata on each call: about
    0.1 s of the client's CPU per task, taken from the workers on a two-core machine.  The bytes written
    are the same (whole float64 chunks, then the marker)."""

    def __init__(self) -> None:
        self.path: Path | None = None
        self.arrays: dict = {}

    def _array(self, path: Path, name: str):
        if path != self.path:  # a new store, or the same one renamed: re-open
            import zarr

            self.group = zarr.open_group(str(path), mode="r+", zarr_format=3)
            self.path, self.arrays = path, {}
        if name not in self.arrays:
            self.arrays[name] = self.group[name]
        return self.arrays[name]

    def write(self, path: str | Path, start: int, stop: int, task: int, outcomes: xr.Dataset) -> None:
        path = Path(path)
        if outcomes.sizes.get("point", 0) != stop - start:
            raise SweepError(f"task {task}: got {outcomes.sizes.get('point', 0)} points, expected {stop - start}")
        for name, v in outcomes.data_vars.items():
            arr = self._array(path, name)
            dims = tuple(arr.metadata.dimension_names or ())
            if dims != v.dims:
                raise SweepError(f"task {task}: outcome {name} has dims {v.dims}, the store has {dims}")
            arr[start:stop] = np.asarray(v.values, dtype="float64")
        pause_point("task-outcomes-written")
        if "task_sum" in self.group:
            self._array(path, "task_sum")[task] = checksum(
                {name: np.asarray(v.values, dtype="float64") for name, v in outcomes.data_vars.items()})
        self._array(path, "task_done")[task] = True
        pause_point("task-done")


def write_task(path: str | Path, start: int, stop: int, task: int, outcomes: xr.Dataset,
               writer: TaskWriter | None = None) -> None:
    """Write one task's outcomes into its region, then (only then) its completion marker."""
    (writer or TaskWriter()).write(path, start, stop, task, outcomes)


def set_attrs(path: str | Path, **attrs) -> None:
    """Update the store's attributes (e.g. failed points)."""
    import zarr

    group = zarr.open_group(str(path), mode="r+", zarr_format=3)
    group.attrs.update(attrs)


def remove_store(path: str | Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
