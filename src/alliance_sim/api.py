"""The notebook interface: load a scenario, run it, look at it, compare scenarios.

>>> import alliance_sim as al
>>> shock = al.load("tariff_shock_2025")
>>> res = al.run(shock, replicates=2000)
>>> res.summary()                       # headline figures per ally (a DataFrame)
>>> res.plot_alignment()                # fan chart of each ally's alignment (a Figure)
>>> res.save("outputs/shock")           # results.nc, summary.csv, manifest.json, plots/
>>> cmp = al.compare(["baseline_2025", "tariff_shock_2025", "negotiated_deal_2025"], replicates=2000)
>>> cmp.plot_compare()

Overrides use the dotted keys of ``--set``: ``al.load("nk_escalation", **{"mechanisms.threat_weight": 2.0})``
or, as Python identifiers, with ``__`` for the dots: ``al.load("nk_escalation", mechanisms__threat_weight=2.0)``.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alliance_sim.model.drivers import ensemble_bytes_per_replicate
from alliance_sim.model.parameters import Parameters

if TYPE_CHECKING:  # keep `import alliance_sim.api` free of matplotlib
    import pandas as pd
    import xarray as xr
    from matplotlib.figure import Figure

    from alliance_sim.scenario import Scenario

MAX_REPLICATES = 10**9
MAX_MONTHS = 1200
MAX_WORKERS = 1024
DEFAULT_CHUNK_SIZE = 10_000
DEFAULT_KEEP = 1000


class RunArgumentError(ValueError):
    """A run argument out of range (one-line message naming the option)."""


# ------------------------------------------------------------------------------------ loading


def _dotted(overrides: Mapping[str, Any]) -> dict[str, Any]:
    return {(k if "." in k else k.replace("__", ".")): v for k, v in overrides.items()}


def load(name_or_path: str | Path, overrides: Mapping[str, Any] | Iterable[str] | None = None,
         **kw_overrides: Any) -> Scenario:
    """Load a scenario by shipped name (``"tariff_shock_2025"``) or path, with optional overrides
    (``{"actors.KOR.export_share_us": 0.15}``, ``["mechanisms.tariff_weight=0.6"]``, or keyword
    arguments with ``__`` for dots)."""
    from alliance_sim.scenario import load_scenario, parse_overrides

    merged = dict(parse_overrides(overrides or {}))
    merged.update(_dotted(kw_overrides))
    return load_scenario(name_or_path, merged)


def with_overrides(scenario: Scenario, overrides: Mapping[str, Any] | Iterable[str] | None = None,
                   **kw_overrides: Any) -> Scenario:
    """The same scenario file re-loaded with its overrides plus new ones."""
    from alliance_sim.scenario import parse_overrides

    merged = dict(getattr(scenario, "overrides", {}) or {})
    merged.update(parse_overrides(overrides or {}))
    merged.update(_dotted(kw_overrides))
    return load(scenario.path, merged)


# ----------------------------------------------------------------------------- argument checks


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def bytes_per_replicate(params: Parameters) -> int:
    """Working memory of one replicate inside a chunk, from the compiled step's state layout and the
    summaries' per-replicate arrays (``summaries.bytes_per_replicate``)."""
    from alliance_sim.model.compiled import compile_parameters
    from alliance_sim.summaries import bytes_per_replicate as summary_bytes

    c = compile_parameters(params, 1)
    return ensemble_bytes_per_replicate(c) + summary_bytes(c)


def bytes_per_kept_replicate(params: Parameters, months: int) -> int:
    """Memory of one kept trajectory: every recorded series and decision, every month."""
    from alliance_sim.model.compiled import compile_parameters
    from alliance_sim.summaries import kept_bytes_per_month

    return kept_bytes_per_month(compile_parameters(params, 1)) * months


def check_run_arguments(params: Parameters, replicates: int, months: int, chunk_size: int, workers: int,
                        keep_trajectories: int) -> None:
    """Raise :class:`RunArgumentError` (one line) for out-of-range or memory-insane arguments."""

    def whole(name: str, value: Any, lo: int, hi: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise RunArgumentError(f"{name}: expected a whole number, got {value!r}")
        if not lo <= value <= hi:
            raise RunArgumentError(f"{name}: must be between {lo:,} and {hi:,}, got {value:,}")
        return value

    whole("replicates", replicates, 1, MAX_REPLICATES)
    whole("months", months, 1, MAX_MONTHS)
    whole("workers", workers, 1, MAX_WORKERS)
    whole("chunk_size", chunk_size, 1, MAX_REPLICATES)
    whole("keep_trajectories", keep_trajectories, 0, MAX_REPLICATES)
    budget = _physical_memory() // 2
    per = bytes_per_replicate(params)
    effective_chunk = min(chunk_size, replicates)
    parallel = min(workers, -(-replicates // effective_chunk))
    need = per * effective_chunk * parallel
    if need > budget:
        fit = max(1, budget // (per * parallel))
        raise RunArgumentError(f"chunk_size: {chunk_size:,} replicates per chunk x {parallel} worker(s) need "
                               f"about {need / 2**30:.1f} GiB, more than half this machine's memory; use at most "
                               f"{fit:,}")
    kept = min(keep_trajectories, replicates) * bytes_per_kept_replicate(params, months)
    if kept > budget:
        fit = max(0, budget // bytes_per_kept_replicate(params, months))
        raise RunArgumentError(f"keep_trajectories: keeping {min(keep_trajectories, replicates):,} trajectories "
                               f"needs about {kept / 2**30:.1f} GiB; use at most {fit:,}")


def resolve_run_arguments(params: Parameters, replicates: int | None, seed: int | None, months: int | None,
                          chunk_size: int = DEFAULT_CHUNK_SIZE, workers: int = 1,
                          keep_trajectories: int = DEFAULT_KEEP) -> tuple[int, int, int]:
    """(replicates, seed, months): the given values or the scenario's ``[simulation]`` ones, checked
    (:class:`RunArgumentError`, one line) before anything runs."""
    sim = params.simulation
    R = sim.replicates if replicates is None else replicates
    S = sim.seed if seed is None else seed
    T = sim.months if months is None else months
    check_run_arguments(params, R, T, chunk_size, workers, keep_trajectories)
    if isinstance(S, bool) or not isinstance(S, int) or not 0 <= S < 2**63:
        raise RunArgumentError(f"seed: expected a whole number between 0 and 2**63-1, got {S!r}")
    return R, S, T


def unique_labels(names: Iterable[str]) -> list[str]:
    """Names made distinct for a comparison: a repeated ``x`` becomes ``x-2``, ``x-3``…"""
    out: list[str] = []
    for name in names:
        label, n = name, 2
        while label in out:
            label, n = f"{name}-{n}", n + 1
        out.append(label)
    return out


# ---------------------------------------------------------------------------------- progress


@contextlib.contextmanager
def progress_bar(description: str = "simulating", *, enabled: bool | None = None, delay: float = 1.0,
                 console=None) -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` callback drawing a rich progress bar (rate and ETA) once the work
    has taken longer than ``delay`` seconds.  Disabled (a no-op) when not on a terminal, unless
    ``enabled=True``."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = console or Console(stderr=True)
    if enabled is None:
        enabled = console.is_terminal
    if not enabled:
        yield lambda done, total: None
        return
    import threading

    t0 = time.perf_counter()
    state: dict[str, Any] = {"progress": None, "task": None, "status": None}
    lock = threading.Lock()

    def waiting() -> None:
        """No progress after ``delay``: say why the start is slow (numba compiles the step on a first run)."""
        with lock:
            if state["progress"] is None and state["status"] is None:
                state["status"] = console.status(f"[bold]{description}[/]: starting (the first run on a machine "
                                                 "compiles the model's step: about a minute, then cached)")
                state["status"].start()

    timer = threading.Timer(delay, waiting)
    timer.daemon = True
    timer.start()

    def stop_status() -> None:
        timer.cancel()
        with lock:
            if state["status"] is not None:
                state["status"].stop()
                state["status"] = None

    def update(done: int, total: int) -> None:
        if state["progress"] is None:
            stop_status()
            if time.perf_counter() - t0 < delay or done >= total:
                return
            prog = Progress(TextColumn("[bold]{task.description}"), BarColumn(bar_width=30), TaskProgressColumn(),
                            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
                            TimeRemainingColumn(), console=console, transient=False)
            prog.start()
            state["progress"], state["task"] = prog, prog.add_task(description, total=total, rate="")
        elapsed = max(time.perf_counter() - t0, 1e-9)
        state["progress"].update(state["task"], completed=done, total=total,
                                 rate=f"{done / elapsed / 1e3:,.0f}k repl-months/s")

    try:
        yield update
    finally:
        stop_status()
        if state["progress"] is not None:
            state["progress"].stop()


# ------------------------------------------------------------------------------------ results


@dataclass
class RunResult:
    """An ensemble's results: the dataset plus how it was made."""

    dataset: xr.Dataset
    name: str
    params: Parameters
    scenario: Scenario | None = None
    seed: int = 0
    replicates: int = 0
    months: int = 0
    chunk_size: int = DEFAULT_CHUNK_SIZE
    workers: int = 1
    keep_trajectories: int = DEFAULT_KEEP
    wall_time: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Per ally: final alignment (median, 5 %, 95 %), P(crossed by the horizon), median month of
        first crossing, minimum and final cohesion."""
        from alliance_sim.results import headline_summary

        return headline_summary(self.dataset)

    def plot_alignment(self) -> Figure:
        from alliance_sim.plots import plot_alignment

        return plot_alignment(self.dataset)

    def plot_cohesion(self) -> Figure:
        from alliance_sim.plots import plot_cohesion

        return plot_cohesion(self.dataset)

    def plot_crossing(self) -> Figure:
        from alliance_sim.plots import plot_crossing

        return plot_crossing(self.dataset)

    def plot_ties(self) -> Figure:
        from alliance_sim.plots import plot_ties

        return plot_ties(self.dataset)

    def plot_decisions(self) -> Figure:
        from alliance_sim.plots import plot_decisions

        return plot_decisions(self.dataset)

    def manifest(self, command: str | None = None) -> dict[str, Any]:
        from alliance_sim.rundir import build_manifest
        from alliance_sim.scenario import params_hash

        sc = self.scenario
        resolved = sc.resolved if sc is not None else self.params.model_dump(mode="json")
        return build_manifest(
            scenario_name=self.name, resolved=resolved,
            scenario_hash=sc.hash if sc is not None else params_hash(self.params),
            scenario_path=sc.path if sc is not None else None, seed=self.seed, replicates=self.replicates,
            months=self.months, chunk_size=self.chunk_size, workers=self.workers,
            keep_trajectories=self.keep_trajectories, wall_time_s=self.wall_time, command=command,
            extra={"overrides": dict(getattr(sc, "overrides", {}) or {}),
                   # what the scenario is for, in its author's words (`alliance report` quotes them)
                   "scenario_description": sc.description if sc is not None else "",
                   "scenario_notes": sc.header if sc is not None else "",
                   **self.extra})

    def save(self, out_dir: str | Path | None = None, *, plots: bool = True, command: str | None = None) -> Path:
        """Write the run directory (results.nc, summary.csv, manifest.json, plots/) atomically; the
        default is a new folder ``outputs/<name>-<timestamp>``."""
        from alliance_sim.rundir import default_out_dir, write_run_dir

        out = Path(out_dir) if out_dir is not None else default_out_dir(self.name)
        return write_run_dir(out, self.dataset, self.manifest(command), plots=plots)

    def _repr_html_(self) -> str:  # pragma: no cover - notebook display
        return (f"<b>{self.name}</b>: {self.replicates:,} replicates x {self.months} months, seed {self.seed}"
                + self.summary()._repr_html_())


class CompareResult(dict):
    """``name -> RunResult`` of scenarios run with common random numbers, plus comparison helpers."""

    def datasets(self) -> dict[str, xr.Dataset]:
        return {name: r.dataset for name, r in self.items()}

    def summary(self) -> pd.DataFrame:
        import pandas as pd

        return pd.concat({name: r.summary() for name, r in self.items()}, names=["scenario"])

    def plot_compare(self) -> Figure:
        from alliance_sim.plots import plot_compare

        return plot_compare(self.datasets())

    def save(self, out_dir: str | Path | None = None, *, plots: bool = True, command: str | None = None) -> Path:
        """One folder: a run directory per scenario, ``compare.png`` and ``summary.csv`` of all."""
        from alliance_sim.plots import save_figure
        from alliance_sim.rundir import atomic_dir, default_out_dir, run_dir_bytes, write_into

        out = Path(out_dir) if out_dir is not None else default_out_dir("compare-" + "-".join(self)[:60])
        need = sum(run_dir_bytes(r.dataset, plots) for r in self.values()) + 2**20
        with atomic_dir(out, need_bytes=need) as tmp:
            for name, r in self.items():
                (tmp / name).mkdir()
                write_into(tmp / name, r.dataset, r.manifest(command), plots=plots)
            self.summary().to_csv(tmp / "summary.csv", float_format="%.4f")
            if plots:
                save_figure(self.plot_compare(), tmp / "compare.png")
        return out


# -------------------------------------------------------------------------------------- running


def _as_params(scenario_or_params: Any) -> tuple[Parameters, Scenario | None, str]:
    if isinstance(scenario_or_params, Parameters):
        return scenario_or_params, None, "custom"
    if isinstance(scenario_or_params, (str, Path)):
        sc = load(scenario_or_params)
        return sc.params, sc, sc.name
    params = getattr(scenario_or_params, "params", None)
    if isinstance(params, Parameters):
        return params, scenario_or_params, str(getattr(scenario_or_params, "name", "scenario"))
    raise TypeError(f"expected a Scenario, Parameters or a scenario name/path, got {type(scenario_or_params).__name__}")


def run(scenario_or_params: Any, replicates: int | None = None, seed: int | None = None, months: int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE, workers: int = 1, keep_trajectories: int = DEFAULT_KEEP,
        progress: bool | Callable[[int, int], None] = False, client=None, name: str | None = None,
        posterior: Any = None) -> RunResult:
    """Run a scenario (a loaded ``Scenario``, ``Parameters``, or a shipped name / path) as an ensemble.

    ``replicates``, ``seed`` and ``months`` default to the scenario's ``[simulation]`` values.
    ``progress=True`` shows a progress bar; a callable receives ``(done, total)`` replicate-months.
    ``posterior``: a ``posterior.nc`` of ``alliance calibrate`` (path or ``posterior.Posterior``): each
    replicate's parameters are drawn from it (``alliance_sim.posterior``)."""
    from alliance_sim.ensemble import run_ensemble
    from alliance_sim.results import to_dataset

    post = None
    if posterior is not None:
        from alliance_sim.posterior import Posterior, load_posterior

        post = posterior if isinstance(posterior, Posterior) else load_posterior(posterior)
    params, sc, default_name = _as_params(scenario_or_params)
    R, S, T = resolve_run_arguments(params, replicates, seed, months, chunk_size, workers, keep_trajectories)
    label = name or default_name
    with contextlib.ExitStack() as stack:
        if callable(progress):
            callback = progress
        elif progress:
            callback = stack.enter_context(progress_bar(label, enabled=None))
        else:
            callback = None
        out = run_ensemble(params, replicates=R, seed=S, months=T, chunk_size=chunk_size,
                           keep_trajectories=keep_trajectories, workers=workers, progress=callback, client=client,
                           posterior=post)
    ds = to_dataset(out, label)
    extra = {} if post is None else {"posterior": post.path, "posterior_sha256": post.digest,
                                     "posterior_parameters": list(post.names)}
    if post is not None:
        ds.attrs["posterior"] = post.path
    return RunResult(dataset=ds, name=label, params=params, scenario=sc, seed=S, replicates=R, months=T,
                     chunk_size=chunk_size, workers=workers, keep_trajectories=keep_trajectories,
                     wall_time=out.wall_time, extra=extra)


def compare(scenarios: Iterable[Any], replicates: int | None = None, seed: int | None = None,
            months: int | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE, workers: int = 1,
            keep_trajectories: int = DEFAULT_KEEP, progress: bool | Callable[[int, int], None] = False,
            client=None, posterior: Any = None) -> CompareResult:
    """Run several scenarios with common random numbers (one seed, one number of replicates and
    months — the first scenario's unless given), so differences come from the scenarios, not chance.

    ``posterior`` (as for :func:`run`): replicate r of every scenario draws the same particle (the draw
    depends on the seed and r alone), so the parameters are common to the scenarios as well."""
    items = [_as_params(s) for s in scenarios]
    if len(items) < 2:
        raise RunArgumentError(f"compare: expected two or more scenarios, got {len(items)}")
    R, S, T = resolve_run_arguments(items[0][0], replicates, seed, months, chunk_size, workers, keep_trajectories)
    for params, _, _ in items[1:]:  # check everything before running anything
        resolve_run_arguments(params, R, S, T, chunk_size, workers, keep_trajectories)
    results = CompareResult()
    for (params, sc, _), label in zip(items, unique_labels(name for _, _, name in items), strict=True):
        target = sc if sc is not None else params
        results[label] = run(target, replicates=R, seed=S, months=T, chunk_size=chunk_size, workers=workers,
                             keep_trajectories=keep_trajectories, progress=progress, client=client, name=label,
                             posterior=posterior)
    return results
