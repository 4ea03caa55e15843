"""Evaluate candidate policies over the uncertainty draws with common random numbers.

Every policy is run on every draw (``{**levers, **draw}`` overrides of the base), each (policy, draw)
cell with the same replicate ids 0..R-1 and the same seed, through the batched compiled kernel the
sweeps use (``batch.run_points``).  Differences between policies therefore come from the levers, not
from different luck or different draws, and a cell's outcome depends only on its own overrides: the
result is the same however cells are grouped into tasks or spread over dask workers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from alliance_sim.model.calendar import month_offset
from alliance_sim.model.parameters import Parameters
from alliance_sim.overrides import apply_overrides
from alliance_sim.policy.spec import PolicyError, Problem
from alliance_sim.sweeps.outputs import output_values

TaskFn = Callable[[Parameters, list[dict[str, Any]], int, int, int], xr.Dataset]


def cell_task(base: Parameters, points: list[dict[str, Any]], replicates: int, seed: int, months: int,
              outputs: list[str], task_fn: TaskFn | None = None) -> np.ndarray:
    """The unit of work: the ``outputs`` of a block of (policy, draw) cells, shape (cells, outputs).
    Only these numbers travel back from a worker."""
    if task_fn is None:
        from alliance_sim.sweeps.runner import run_task as task_fn
    ds = task_fn(base, points, replicates, seed, months)
    if not outputs:
        return np.zeros((len(points), 0))
    return np.stack([output_values(ds, o) for o in outputs], axis=1)


def cells(problem: Problem, policies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Override dicts of every (policy, draw) cell, policy-major: the same draws, in the same order, for
    every policy (common random numbers)."""
    return [{**pol, **draw} for pol in policies for draw in problem.draws.overrides]


class Evaluator:
    """Runs cells serially (``client=None``) or on a dask client, in blocks of ``task_size`` cells;
    ``advance(n)`` is called as cells finish (a progress bar)."""

    def __init__(self, problem: Problem, *, client=None, task_size: int | None = None,
                 task_fn: TaskFn | None = None, advance: Callable[[int], None] | None = None):
        self.problem = problem
        self.client = client
        self.task_size = int(task_size or problem.spec.task_size)
        self.task_fn = task_fn
        self.advance = advance or (lambda n: None)
        self._base = None
        self.cells_run = 0

    def outputs(self, policies: list[dict[str, Any]]) -> np.ndarray:
        """Model outputs of each policy in each draw: shape (policies, draws, outputs)."""
        p = self.problem
        todo = cells(p, policies)
        n_out = len(p.outputs)
        blocks = [(a, min(a + self.task_size, len(todo))) for a in range(0, len(todo), self.task_size)]
        args = (p.spec.replicates, p.seed, p.months)
        results: list[np.ndarray | None] = [None] * len(blocks)
        if self.client is None:
            for i, (a, b) in enumerate(blocks):
                results[i] = cell_task(p.base, todo[a:b], *args, p.outputs, self.task_fn)
                self.advance(b - a)
        else:
            from distributed import as_completed

            if self._base is None:
                self._base = self.client.scatter(p.base, broadcast=True)
            futs = {self.client.submit(cell_task, self._base, todo[a:b], *args, p.outputs, self.task_fn,
                                       retries=2, pure=False): i for i, (a, b) in enumerate(blocks)}
            for fut in as_completed(list(futs), loop=self.client.loop):
                i = futs[fut]
                results[i] = fut.result()
                a, b = blocks[i]
                self.advance(b - a)
                fut.release()
        self.cells_run += len(todo)
        flat = np.concatenate(results, axis=0) if results else np.zeros((0, n_out))
        return flat.reshape(len(policies), len(p.draws), n_out)


# --------------------------------------------------------------------------- relief cost


def scheduled_tariff(params: Parameters, ally: str, months: int) -> np.ndarray:
    """The scheduled (scenario-file) effective tariff on ``ally`` in each simulated month: the country
    rate on goods outside the Section 232 sectors plus each sector's rate times its share, as the model
    weighs them; the transactional patron's own offsets are not part of the schedule."""
    actor = params.actors[ally]
    start = params.simulation.start
    shares = dict(actor.sector_shares)
    weights = {"country": 1.0 - sum(shares.values()), **shares}
    total = np.zeros(months)
    for sector, w in weights.items():
        steps = sorted(((month_offset(start, s.month), s.rate) for s in params.tariffs
                        if s.target == ally and s.sector == sector), key=lambda t: t[0])
        rate = np.zeros(months)
        for off, r in steps:  # later entries take over from their month on (entries before start apply)
            rate[max(off, 0):] = r
        total += w * rate
    return total


def relief_cost(params: Parameters, reference: Parameters, months: int, allies: list[str]) -> float:
    """Scheduled tariff pain given up against ``reference``: for each ally,
    sum over simulated months of 100 · (exports/GDP) · (US share of exports) · (τ_ref(t) − τ_policy(t)),
    with the scheduled effective tariffs τ and the start-month trade shares — percentage points of the
    ally's GDP times months, the units of the model's tariff pain (a proxy of US tariff revenue
    foregone; negative if the policy raises tariffs)."""
    cost = 0.0
    for a in allies:
        act = reference.actors[a]
        gap = scheduled_tariff(reference, a, months) - scheduled_tariff(params, a, months)
        cost += float(100.0 * act.exports_to_gdp * act.export_share_us * gap.sum())
    return cost


def policy_params(problem: Problem, policy: dict[str, Any]) -> Parameters:
    try:
        return apply_overrides(problem.base, policy, via="")
    except Exception as exc:  # noqa: BLE001 - a lever combination the parameters reject
        raise PolicyError(f"{problem.source}: policy {policy}: {exc}") from None


def objective_cells(problem: Problem, policies: list[dict[str, Any]], outputs: np.ndarray) -> np.ndarray:
    """Each objective of each policy in each draw, shape (policies, draws, objectives), in the
    objectives' own units and directions (relief cost is the same in every draw)."""
    from alliance_sim.policy.spec import compile_allies

    n_d = len(problem.draws)
    out = np.empty((len(policies), n_d, len(problem.spec.objectives)))
    allies = compile_allies(problem.base)
    for k, obj in enumerate(problem.spec.objectives.values()):
        if obj.kind == "output":
            out[:, :, k] = outputs[:, :, problem.outputs.index(obj.output)]
        else:
            for i, pol in enumerate(policies):
                out[i, :, k] = relief_cost(policy_params(problem, pol), problem.base, problem.months,
                                           obj.allies or allies)
    return out


def summarise(values: np.ndarray, stat: str) -> np.ndarray:
    """Each row's summary over the draws (axis 1) of (policies, draws) values."""
    fn = {"mean": np.mean, "median": np.median, "min": np.min, "max": np.max}
    if stat in fn:
        return fn[stat](values, axis=1)
    return np.quantile(values, {"p10": 0.1, "p90": 0.9}[stat], axis=1)
