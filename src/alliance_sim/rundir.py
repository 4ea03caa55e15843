"""Run directories: everything a run produced, written atomically.

A run directory holds::

    results.nc      the results dataset (netCDF4/HDF5 via h5netcdf)
    summary.csv     the headline figures per ally
    observables.csv the observation model's quantities at the horizon per ally (favourable shares, export
                    shares, decision frequencies)
    manifest.json   what was run, with what, by whom and how long it took
    plots/*.png     the standard plots

It is built in a temporary sibling folder and moved into place with one ``os.replace`` by
:mod:`alliance_sim.writer`; on any error, signal or full disk the temporary folder is removed, so a run
directory either exists complete or not at all.  Reading checks that a file is a run's results, so a
damaged or foreign file is a one-line :class:`RunDirError`, not a traceback in a plot.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import shlex
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from alliance_sim.writer import OutputError, atomic_output, check_target, partials_of, pause_point

RESULTS = "results.nc"
SUMMARY = "summary.csv"
OBSERVABLES = "observables.csv"
MANIFEST = "manifest.json"
PLOTS = "plots"
DRIVERS = "drivers.csv"
#: Dataset attributes that are lists; netCDF has no list-of-strings attribute, so they are stored as JSON.
LIST_ATTRS = ("event_months", "event_labels")
#: Attributes that differ between otherwise identical runs (excluded when comparing results).
TIMING_ATTRS = ("wall_time_s", "created_utc")


RunDirError = OutputError  # the output folder cannot be used, or a results file is not readable (one line)


# --------------------------------------------------------------------------------- locations


def timestamp(now: _dt.datetime | None = None) -> str:
    return (now or _dt.datetime.now()).strftime("%Y%m%d-%H%M%S")


def default_out_dir(name: str, base: str | Path = "outputs", now: _dt.datetime | None = None) -> Path:
    """A new folder ``<base>/<name>-<YYYYmmdd-HHMMSS>``, with ``-2``, ``-3``… if that exists."""
    base = Path(base)
    stem = f"{_safe(name)[:120]}-{timestamp(now)}"
    out = base / stem
    n = 2
    while out.exists() or partials_of(out):
        out = base / f"{stem}-{n}"
        n += 1
    return out


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(name)) or "run"


def check_out_dir(out: str | Path) -> Path:
    """Check, without writing anything, that ``out`` can become a new run directory: absent (or an
    empty folder), a name the file system accepts, under a writable folder.  Raises
    :class:`RunDirError` with a one-line reason."""
    return check_target(Path(out))


def atomic_dir(out: str | Path, need_bytes: int | None = None):
    """Yield a temporary folder next to ``out``; on success move it to ``out``, on any error, signal or
    full disk delete it (see :func:`alliance_sim.writer.atomic_output`)."""
    return atomic_output(out, need_bytes=need_bytes)


def run_dir_bytes(ds: xr.Dataset, plots: bool = True) -> int:
    """Rough size of a run directory (uncompressed netCDF plus the PNGs), for the free-space check."""
    drivers_csv = 100 * int(ds["alignment_driver_mean"].size) if "alignment_driver_mean" in ds else 0
    return int(ds.nbytes) + 64 * 1024 + drivers_csv + (2 * 2**20 if plots else 0)


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


#: Results up to this size are encoded in memory and written with one plain ``write``: HDF5 writing
#: straight to a full disk can crash the process (exit 139) instead of raising ENOSPC.
IN_MEMORY_LIMIT = 1 << 30


def write_results(ds: xr.Dataset, path: str | Path) -> Path:
    path = Path(path)
    enc = encode_for_netcdf(ds)
    if ds.nbytes <= IN_MEMORY_LIMIT:
        view = enc.to_netcdf(engine="h5netcdf")
        data = bytes(view)
        if isinstance(view, memoryview):
            view.release()  # a view kept alive past its BytesIO crashes the interpreter at exit
        del view
        with open(path, "wb") as f:
            f.write(data)
    else:
        enc.to_netcdf(path, engine="h5netcdf")
    return path


def _required_names() -> tuple[set[str], set[str]]:
    """The variables and coordinates every run's results have (what plots and summaries read)."""
    from alliance_sim.summaries import DECISIONS, SERIES

    # the observation model's shares and the driver attribution are newer than some results files; plots and
    # tables draw them only where present
    optional = {"favourable_us", "favourable_china", "alignment_driver", "tie_driver"}
    names = {f"{s.name}_{k}" for s in SERIES if s.name not in optional
             for k in (("q", "mean") if s.bins else ("mean",))}
    names |= {f"{v}_freq" for v in DECISIONS}
    names |= {"p_crossed", "p_beijing_side", "first_cross_freq", "min_cohesion_q"}
    return names, {"month", "ally", "quantile", "first_cross_month"}


def check_results(ds: xr.Dataset, path: Path) -> None:
    """A one-line :class:`RunDirError` unless ``ds`` looks like a run's results (not a foreign netCDF)."""
    title = str(ds.attrs.get("title", ""))
    if not title.startswith("alliance-sim results"):
        raise RunDirError(f"{path}: not an alliance-sim results file (no 'alliance-sim results' title); "
                          "expected the results.nc of `alliance run`")
    names, coords = _required_names()
    missing = sorted((names - set(ds.data_vars)) | (coords - set(ds.coords)))
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise RunDirError(f"{path}: damaged or incomplete results file: missing {', '.join(missing[:3])}{more}")
    if ds.sizes.get("month", 0) < 1 or ds.sizes.get("ally", 0) < 1:
        raise RunDirError(f"{path}: damaged results file: no months or no allies")


def load_results(path: str | Path) -> xr.Dataset:
    """Read ``results.nc`` (a file, or a run directory containing one) fully into memory; a damaged or
    foreign file is a one-line :class:`RunDirError`."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS
    if not path.is_file():
        raise RunDirError(f"{path}: no such results file")
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            loaded = ds.load()
    except Exception as exc:  # noqa: BLE001 - h5py/h5netcdf raise many types for a damaged file
        detail = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise RunDirError(f"{path}: cannot read results, the file is damaged or not netCDF ({detail})") from None
    check_results(loaded, path)
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
    from alliance_sim.results import driver_table, headline_summary, observables_summary

    pause_point("writing")
    write_results(ds, folder / RESULTS)
    pause_point("results-written")
    headline_summary(ds).to_csv(folder / SUMMARY, float_format="%.4f")
    observables_summary(ds).to_csv(folder / OBSERVABLES, float_format="%.4f")
    if "alignment_driver_mean" in ds:
        driver_table(ds).to_csv(folder / DRIVERS, index=False, float_format="%.5f")
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, default=_json_default) + "\n", encoding="utf-8")
    if plots:
        from alliance_sim.plots import save_all

        pause_point("plots")
        save_all(ds, folder / PLOTS)


def write_run_dir(out: str | Path, ds: xr.Dataset, manifest: dict[str, Any], *, plots: bool = True) -> Path:
    """Write a complete run directory at ``out`` atomically; return its path."""
    out = Path(out)
    with atomic_dir(out, need_bytes=run_dir_bytes(ds, plots)) as tmp:
        write_into(tmp, ds, manifest, plots=plots)
    return out


def compare_runs(folder: str | Path) -> list[Path]:
    """The run folders of a compare folder (sub-folders holding a results file), in the order of its
    summary.csv (:func:`compare_order`); empty if ``folder`` is not a compare folder."""
    folder = Path(folder)
    runs = {d.name: d for d in sorted(folder.iterdir()) if d.is_dir() and (d / RESULTS).is_file()}
    return [runs[name] for name in compare_order(folder, list(runs))]


def compare_order(folder: str | Path, names: list[str]) -> list[str]:
    """Scenario order of a compare folder (the order of its summary.csv, which is the order given to
    `alliance compare`), else the order of ``names``."""
    import pandas as pd

    try:
        seen = list(dict.fromkeys(pd.read_csv(Path(folder) / SUMMARY)["scenario"].astype(str)))
    except (OSError, KeyError, ValueError):
        return list(names)
    ordered = [n for n in seen if n in names]
    return ordered + [n for n in names if n not in ordered]


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
    with atomic_output(target, replace=True, need_bytes=2 * 2**20) as tmp:
        pause_point("plots")
        paths = save_all(ds, tmp)
    return [target / p.name for p in paths]
