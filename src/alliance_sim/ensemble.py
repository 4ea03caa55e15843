"""Run an ensemble of replicates in chunks — in this process, in a process pool or on dask — and
return labelled results.

Chunks are fixed ranges of replicate ids; each is an ``AllianceModel`` stepped through the horizon
while a ``SummaryAccumulator`` folds every month into histograms and counts.  Trajectories are kept
only for the first ``keep_trajectories`` replicates, so memory is bounded by the chunk size, not by
the number of replicates.  Because every draw depends only on (seed, replicate, month) and summaries
merge by integer addition, the result is bit-identical for any chunk size or number of workers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context

import numpy as np

from alliance_sim.model.compiled import Compiled, compile_parameters
from alliance_sim.model.model import AllianceModel
from alliance_sim.model.parameters import Parameters
from alliance_sim.summaries import DECISIONS, SERIES, SummaryAccumulator, decision_values, series_values

Progress = Callable[[int, int], None]  # (replicate-months done, total)


@dataclass
class ChunkResult:
    """What one chunk sends back: its summaries and the trajectories of its kept replicates."""

    start: int
    stop: int
    summary: SummaryAccumulator
    kept_ids: np.ndarray
    trajectories: dict[str, np.ndarray] = field(default_factory=dict)


def run_chunk(params: Parameters, start: int, stop: int, seed: int, months: int, keep: int,
              progress: Progress | None = None, switched_off: tuple[str, ...] = (),
              posterior=None) -> ChunkResult:
    """Run replicates ``start..stop-1`` for ``months`` months; keep trajectories of ids < ``keep``.
    ``switched_off``: terms of ``step.TERM`` left out (knock-out counterfactuals); ``posterior``: each
    replicate's parameters are its particle's (``alliance_sim.posterior``)."""
    ids = np.arange(start, stop)
    batch = None
    if posterior is not None:
        from alliance_sim.posterior import compile_replicates

        batch = compile_replicates(params, posterior, seed, ids, months)
    model = AllianceModel(params, replicate_ids=ids, seed=seed, months=months, collect=False,
                          switched_off=tuple(switched_off), compiled=batch)
    c = model.compiled
    acc = SummaryAccumulator(c)
    kept = np.arange(start, min(stop, keep))
    rows = kept - start
    traj: dict[str, np.ndarray] = {}
    if len(kept):
        for spec in SERIES:
            cols = acc.columns[spec.name]
            traj[spec.name] = np.empty((len(kept), months, cols))
        for name, (dim, _) in DECISIONS.items():
            cols = c.n_allies if dim == "ally" else len(c.adversary_idx)
            traj[name] = np.empty((len(kept), months, cols), dtype=np.int8)
    R = stop - start
    for t in range(months):
        model.step()
        s, d = model.state, model.last_decisions
        acc.record(t, c, s, d)
        if len(kept):
            for spec in SERIES:
                traj[spec.name][:, t] = series_values(spec.name, c, s)[rows]
            for name in DECISIONS:
                traj[name][:, t] = decision_values(name, d)[rows]
        if progress is not None:
            progress(R, 0)
    acc.close()
    # Mesa models and their agents reference each other; the cyclic collector may not run for a long
    # time, so drop the (large) state now rather than let finished chunks pile up in memory.
    model.state = model.sim = None
    return ChunkResult(start, stop, acc, kept, traj)


def chunk_bounds(replicates: int, chunk_size: int) -> list[tuple[int, int]]:
    """Fixed ranges [start, stop) of replicate ids."""
    return [(a, min(a + chunk_size, replicates)) for a in range(0, replicates, chunk_size)]


@dataclass
class EnsembleOutput:
    """Merged summaries and kept trajectories of a whole ensemble, before labelling."""

    params: Parameters
    compiled: Compiled
    seed: int
    replicates: int
    summary: SummaryAccumulator
    kept_ids: np.ndarray
    trajectories: dict[str, np.ndarray]
    wall_time: float
    chunk_size: int
    workers: int


class _Merger:
    """Folds chunk results in as they arrive, so memory holds one merged summary, not one per chunk."""

    def __init__(self, compiled: Compiled):
        self.total = SummaryAccumulator(compiled)
        self.kept: list[ChunkResult] = []

    def add(self, r: ChunkResult) -> None:
        self.total += r.summary
        if len(r.kept_ids):
            self.kept.append(r)

    def output(self, params, compiled, seed, replicates, wall, chunk_size, workers) -> EnsembleOutput:
        kept = sorted(self.kept, key=lambda r: r.start)
        ids = np.concatenate([r.kept_ids for r in kept]) if kept else np.zeros(0, dtype=np.int64)
        traj = {k: np.concatenate([r.trajectories[k] for r in kept], axis=0) for k in kept[0].trajectories} \
            if kept else {}
        return EnsembleOutput(params, compiled, seed, replicates, self.total, ids, traj, wall, chunk_size, workers)


def run_ensemble(params: Parameters, *, replicates: int | None = None, seed: int | None = None,
                 months: int | None = None, chunk_size: int = 10_000, keep_trajectories: int = 1000,
                 workers: int = 1, progress: Progress | None = None, client=None,
                 switched_off: tuple[str, ...] = (), posterior=None) -> EnsembleOutput:
    """Run the scenario ``params`` as an ensemble (with the terms ``switched_off`` left out, if any; with
    each replicate's parameters drawn from ``posterior``, a ``posterior.Posterior``, if given).

    ``workers`` > 1 spreads chunks over a local process pool; ``client`` (a ``dask.distributed``
    Client) spreads them over a dask cluster.  Results are identical either way.
    ``progress(done, total)`` is called with replicate-months done.
    """
    sim = params.simulation
    R = int(replicates if replicates is not None else sim.replicates)
    seed = int(seed if seed is not None else sim.seed)
    T = int(months if months is not None else sim.months)
    if R < 1:
        raise ValueError(f"replicates: must be at least 1, got {R}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size: must be at least 1, got {chunk_size}")
    compiled = compile_parameters(params, T)
    if posterior is not None:
        from alliance_sim.posterior import check_posterior

        check_posterior(params, posterior)
    bounds = chunk_bounds(R, chunk_size)
    keep = min(keep_trajectories, R)
    total_work = R * T
    done = [0]

    def tick(n, _unused=0):
        done[0] += n
        if progress is not None:
            progress(done[0], total_work)

    t0 = time.perf_counter()
    merger = _Merger(compiled)
    if client is not None:
        futures = client.map(run_chunk, [params] * len(bounds), [a for a, _ in bounds],
                             [b for _, b in bounds], [seed] * len(bounds), [T] * len(bounds),
                             [keep] * len(bounds), pure=False, switched_off=tuple(switched_off),
                             posterior=posterior)
        from dask.distributed import as_completed as dask_completed

        for fut in dask_completed(futures, loop=client.loop):
            r = fut.result()
            fut.release()
            merger.add(r)
            tick((r.stop - r.start) * T)
    elif workers > 1 and len(bounds) > 1:
        n_proc = min(workers, len(bounds))
        with ProcessPoolExecutor(max_workers=n_proc, mp_context=get_context("spawn")) as pool:
            todo = list(bounds)
            running = set()
            while todo or running:
                while todo and len(running) < 2 * n_proc:  # a bounded window keeps memory bounded
                    a, b = todo.pop(0)
                    running.add(pool.submit(run_chunk, params, a, b, seed, T, keep,
                                            switched_off=tuple(switched_off), posterior=posterior))
                done_now, running = wait(running, return_when=FIRST_COMPLETED)
                for fut in done_now:
                    r = fut.result()
                    merger.add(r)
                    tick((r.stop - r.start) * T)
    else:
        for a, b in bounds:
            merger.add(run_chunk(params, a, b, seed, T, keep, progress=tick, switched_off=tuple(switched_off),
                                 posterior=posterior))
    wall = time.perf_counter() - t0
    return merger.output(params, compiled, seed, R, wall, chunk_size, workers)


def default_workers() -> int:
    """Processes to use by default: the machine's cores."""
    return max(1, os.cpu_count() or 1)
