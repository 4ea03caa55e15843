"""ABC-SMC with pyabc: priors, distance, the seeded dask sampler, and a generation loop with progress.

The run's state lives in pyabc's sqlite database (``abc.db`` in the output folder), written after every
generation, so a killed run continues with ``resume=True`` from its last complete generation.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from alliance_sim.calibration.config import CalibrationError, Problem
from alliance_sim.calibration.priors import prior_distribution
from alliance_sim.calibration.sampler import SeededDaskSampler, SerialClient
from alliance_sim.calibration.simulate import Simulator

DB_NAME = "abc.db"


@dataclass
class Generation:
    t: int
    epsilon: float
    particles: int
    simulations: int
    acceptance_rate: float
    ess: float
    wall_time: float


@dataclass
class FitReport:
    db: Path
    abc_id: int
    generations: list[Generation] = field(default_factory=list)
    resumed_from: int = -1   # last generation found in the database at the start (-1: none)
    workers: int = 0
    wall_time: float = 0.0


def distance_function(problem: Problem):
    import pyabc

    kind = problem.spec.abc.distance
    if kind == "adaptive":
        return pyabc.AdaptivePNormDistance(p=2)
    if kind == "euclidean":
        return pyabc.PNormDistance(p=2)
    return pyabc.PNormDistance(p=2, fixed_weights={o.key: 1.0 / o.sd for o in problem.observations})


def _make_abc(problem: Problem, sampler):
    import pyabc

    spec = problem.spec.abc
    model = Simulator(problem, spec.replicates, spec.seed)
    return pyabc.ABCSMC(model, prior_distribution(problem), distance_function(problem),
                        population_size=spec.population_size, sampler=sampler), model


@contextlib.contextmanager
def cluster_client(problem: Problem, workers: int | None = None, scheduler: str | None = None):
    """A dask client: an existing scheduler's, a new LocalCluster's, or the serial stand-in (workers=0)."""
    from alliance_sim.sweeps.runner import SweepError, connect, default_workers, local_cluster

    scheduler = scheduler or problem.spec.cluster.scheduler
    workers = problem.spec.cluster.workers if workers is None else workers
    if scheduler:
        try:
            client = connect(scheduler)
        except SweepError as exc:
            raise CalibrationError(str(exc)) from None
        try:
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.close()
        return
    if workers == 0:
        yield SerialClient()
        return
    import warnings

    with warnings.catch_warnings():  # "Port 8787 is already in use": the scheduler's HTTP port, not needed
        warnings.simplefilter("ignore", UserWarning)
        client, cluster = local_cluster(workers or default_workers())
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.close()
        with contextlib.suppress(Exception):
            cluster.close()


def _db_url(db: Path) -> str:
    return f"sqlite:///{db.absolute()}"


def completed_generations(db: Path, abc_id: int = 1) -> int:
    """Number of complete generations in an existing database (0 if none)."""
    import pyabc

    try:
        t = pyabc.History(_db_url(db), _id=abc_id).max_t
    except Exception:  # noqa: BLE001 - a database still being created by another process
        return 0
    return 0 if t is None else int(t) + 1


def run_abc(problem: Problem, db: Path, *, client, resume: bool = False,
            on_generation: Callable[[Generation, int], None] | None = None,
            on_evaluated: Callable[[int, int, int, int], None] | None = None,
            generations: int | None = None) -> FitReport:
    """Run (or continue) ABC-SMC into ``db`` until ``abc.generations`` generations exist in it, epsilon
    falls below ``abc.minimum_epsilon``, the acceptance rate below ``abc.min_acceptance_rate`` or the
    simulation budget is spent."""
    from pyabc.weighted_statistics import effective_sample_size

    logging.getLogger("ABC").setLevel(logging.WARNING)
    spec = problem.spec.abc
    target = spec.generations if generations is None else generations
    sampler = SeededDaskSampler(client, seed=spec.seed)
    sampler.on_evaluated = on_evaluated
    abc, model = _make_abc(problem, sampler)
    report = FitReport(db, 1)
    np.random.seed(np.random.SeedSequence([spec.seed, 0]).generate_state(4))
    if resume:
        abc.load(_db_url(db), 1)
        report.resumed_from = int(abc.history.max_t)
    else:
        abc.new(_db_url(db), model.observed())
    done = int(abc.history.max_t) + 1
    report.workers = sum(client.ncores().values())
    t_start = time.perf_counter()
    if done >= target:
        return report
    try:
        t0 = abc.initialize_components_before_run(
            minimum_epsilon=spec.minimum_epsilon, max_nr_populations=target - done,
            min_acceptance_rate=spec.min_acceptance_rate,
            max_total_nr_simulations=spec.max_simulations or np.inf, max_walltime=None, min_eps_diff=0.0)
        t = t0
        while True:
            g0 = time.perf_counter()
            eps = float(abc.eps(t))
            ret = abc.run_generation(t=t)
            if not ret["successful"]:
                break
            w = abc.history.get_weighted_distances(t)["w"].to_numpy()
            pops = abc.history.get_all_populations()
            row = pops[pops.t == t].iloc[0]
            gen = Generation(t, eps, len(w), int(row.samples), float(ret["acceptance_rate"]),
                             float(effective_sample_size(w)), time.perf_counter() - g0)
            report.generations.append(gen)
            if on_generation is not None:
                on_generation(gen, target)
            if abc.check_terminate(t=t, acceptance_rate=ret["acceptance_rate"]):
                break
            t += 1
    finally:
        abc.history.done()
        report.wall_time = time.perf_counter() - t_start
    return report
