"""Run directories: everything a run produced, written atomically.

A run directory holds::

    results.nc      the results dataset (netCDF4/HDF5 via h5netcdf)
    summary.csv     the headline figures per ally
    manifest.json   what was run, with what, by whom and how long it took
    plots/*.png     the standard plots

It is built in a temporary sibling folder (``<out>.tmp-<pid>``) and moved into place with one
``os.replace``; on any error, or Ctrl-C, the temporary folder is removed, so a run directory either
exists complete or not at all.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
import shlex
import shutil
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

RESULTS = "results.nc"
SUMMARY = "summary.csv"
MANIFEST = "manifest.json"
PLOTS = "plots"
#: Dataset attributes that are lists; netCDF has no list-of-strings attribute, so they are stored as JSON.
LIST_ATTRS = ("event_months", "event_labels")
#: Attributes that differ between otherwise identical runs (excluded when comparing results).
TIMING_ATTRS = ("wall_time_s", "created_utc")


class RunDirError(Exception):
    """The output folder cannot be used (one-line message)."""


# --------------------------------------------------------------------------------- locations


def timestamp(now: _dt.datetime | None = None) -> str:
    return (now or _dt.datetime.now()).strftime("%Y%m%d-%H%M%S")


def default_out_dir(name: str, base: str | Path = "outputs", now: _dt.datetime | None = None) -> Path:
    """A new folder ``<base>/<name>-<YYYYmmdd-HHMMSS>``, with ``-2``, ``-3``… if that exists."""
    base = Path(base)
    stem = f"{_safe(name)}-{timestamp(now)}"
    out = base / stem
    n = 2
    while out.exists() or _tmp_sibling_exists(out):
        out = base / f"{stem}-{n}"
        n += 1
    return out


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(name)) or "run"


def _tmp_sibling_exists(out: Path) -> bool:
    return out.parent.is_dir() and any(out.parent.glob(f"{out.name}.tmp-*"))


def check_out_dir(out: str | Path) -> Path:
    """Check, without writing anything, that ``out`` can become a new run directory.

    It must not exist (or be an empty folder), and its nearest existing ancestor must be a writable
    folder.  Raises :class:`RunDirError` with a one-line reason."""
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise RunDirError(f"{out}: exists and is not a folder")
        if any(out.iterdir()):
            raise RunDirError(f"{out}: folder exists and is not empty; choose a new --out folder")
    ancestor = out.parent
    while not ancestor.exists():
        if ancestor == ancestor.parent:
            break
        ancestor = ancestor.parent
    if ancestor.exists() and not ancestor.is_dir():
        raise RunDirError(f"{out}: cannot create folder: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise RunDirError(f"{out}: cannot create folder: {ancestor} is not writable")
    return out


@contextlib.contextmanager
def atomic_dir(out: str | Path) -> Iterator[Path]:
    """Yield a temporary folder next to ``out``; on success move it to ``out``, on any error or
    interrupt delete it (and any parent folders this call created)."""
    out = Path(out)
    check_out_dir(out)
    created: list[Path] = []
    parent = out.parent
    missing = []
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    tmp = out.parent / f"{out.name}.tmp-{os.getpid()}"
    try:
        try:
            for p in reversed(missing):
                p.mkdir()
                created.append(p)
            if tmp.exists():
                shutil.rmtree(tmp)
            tmp.mkdir()
        except OSError as exc:
            raise RunDirError(f"{out}: cannot create folder ({exc.strerror or exc})") from None
        yield tmp
        if out.exists():  # an empty folder (checked above) is replaced
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for p in reversed(created):
            with contextlib.suppress(OSError):
                p.rmdir()
        raise


# ------------------------------------------------------------------------------- the dataset


def encode_for_netcdf(ds: xr.Dataset) -> xr.Dataset:
    """A copy of ``ds`` whose attributes netCDF can store: list attributes as JSON strings, booleans as
    ints, ``None`` dropped; string coordinates as fixed-width unicode."""
    out = ds.copy()
    out.attrs = _encode_attrs(ds.attrs)
    for name in out.variables:
        out[name].attrs = _encode_attrs(out[name].attrs)
    return out


def _encode_attrs(attrs: dict) -> dict:
    res: dict[str, Any] = {}
    for k, v in attrs.items():
        if v is None:
            continue
        if isinstance(v, bool | np.bool_):
            res[k] = int(v)
        elif isinstance(v, list | tuple) or (isinstance(v, np.ndarray) and v.dtype.kind in "OUS"):
            res[k] = json.dumps([x.item() if isinstance(x, np.generic) else x for x in v])
        elif isinstance(v, dict):
            res[k] = json.dumps(v)
        else:
            res[k] = v
    return res


def decode_from_netcdf(ds: xr.Dataset) -> xr.Dataset:
    """Undo :func:`encode_for_netcdf`: JSON list attributes back to lists, numpy scalars to Python."""
    attrs: dict[str, Any] = {}
    for k, v in ds.attrs.items():
        if isinstance(v, np.generic):
            v = v.item()
        if k in LIST_ATTRS:
            if isinstance(v, str):
                try:
                    v = json.loads(v)
                except ValueError:
                    v = [v]
            elif isinstance(v, np.ndarray):
                v = [str(x) for x in v.tolist()]
        attrs[k] = v
    ds.attrs = attrs
    return ds


def write_results(ds: xr.Dataset, path: str | Path) -> Path:
    path = Path(path)
    encode_for_netcdf(ds).to_netcdf(path, engine="h5netcdf")
    return path


def load_results(path: str | Path) -> xr.Dataset:
    """Read ``results.nc`` (a file, or a run directory containing one) fully into memory."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS
    if not path.is_file():
        raise RunDirError(f"{path}: no such results file")
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            loaded = ds.load()
    except (OSError, ValueError) as exc:
        raise RunDirError(f"{path}: cannot read results ({' '.join(str(exc).split())})") from None
    return decode_from_netcdf(loaded)


# -------------------------------------------------------------------------------- the manifest


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def environment() -> dict[str, Any]:
    """Versions of this package, its main dependencies and Python."""
    from alliance_sim import __version__

    return {
        "alliance_sim": __version__,
        **{name: _version(dist) for name, dist in (("numpy", "numpy"), ("mesa", "mesa"), ("xarray", "xarray"),
                                                  ("numba", "numba"), ("pydantic", "pydantic"),
                                                  ("h5netcdf", "h5netcdf"), ("matplotlib", "matplotlib"))},
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def command_line(argv: list[str] | None = None) -> str:
    argv = sys.argv if argv is None else argv
    if argv:
        argv = [Path(argv[0]).name if argv[0].endswith(("alliance", "alliance.exe")) else argv[0], *argv[1:]]
    return shlex.join(argv)


def build_manifest(*, scenario_name: str, resolved: dict | None, scenario_hash: str | None, scenario_path: Any,
                   seed: int, replicates: int, months: int, chunk_size: int, workers: int, keep_trajectories: int,
                   wall_time_s: float, command: str | None = None, extra: dict | None = None) -> dict[str, Any]:
    manifest = {
        "scenario": scenario_name,
        "scenario_path": None if scenario_path is None else str(scenario_path),
        "scenario_hash": scenario_hash,
        "seed": int(seed),
        "replicates": int(replicates),
        "months": int(months),
        "chunk_size": int(chunk_size),
        "workers": int(workers),
        "keep_trajectories": int(keep_trajectories),
        "versions": environment(),
        "command": command_line() if command is None else command,
        "wall_time_s": round(float(wall_time_s), 3),
        "created_utc": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resolved_scenario": resolved or {},
    }
    if extra:
        manifest.update(extra)
    return manifest


def _json_default(o: Any):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, _dt.date | _dt.datetime | _dt.time):
        return o.isoformat()
    if isinstance(o, Path):
        return str(o)
    return str(o)


# ------------------------------------------------------------------------------------ writing


def write_into(folder: Path, ds: xr.Dataset, manifest: dict[str, Any], *, plots: bool = True) -> None:
    """Write results, summary, manifest and plots into an existing (temporary) folder."""
    from alliance_sim.results import headline_summary

    write_results(ds, folder / RESULTS)
    headline_summary(ds).to_csv(folder / SUMMARY, float_format="%.4f")
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, default=_json_default) + "\n", encoding="utf-8")
    if plots:
        from alliance_sim.plots import save_all

        save_all(ds, folder / PLOTS)


def write_run_dir(out: str | Path, ds: xr.Dataset, manifest: dict[str, Any], *, plots: bool = True) -> Path:
    """Write a complete run directory at ``out`` atomically; return its path."""
    out = Path(out)
    with atomic_dir(out) as tmp:
        write_into(tmp, ds, manifest, plots=plots)
    return out


def redraw_plots(run_dir: str | Path) -> list[Path]:
    """Re-draw ``plots/*.png`` of a run directory from its ``results.nc`` (atomically replacing the folder)."""
    from alliance_sim.plots import save_all

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: no such run folder")
    if not (run_dir / RESULTS).is_file():
        raise RunDirError(f"{run_dir}: no {RESULTS} in this folder; expected a folder written by `alliance run`")
    ds = load_results(run_dir / RESULTS)
    target = run_dir / PLOTS
    tmp = run_dir / f"{PLOTS}.tmp-{os.getpid()}"
    old = run_dir / f"{PLOTS}.old-{os.getpid()}"
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        paths = save_all(ds, tmp)
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not target.exists():
            os.replace(old, target)
        raise
    return [target / p.name for p in paths]
