"""The search: optuna's NSGA-II proposes a generation of policies, the evaluator runs the whole
generation over the uncertainty draws as one batch, and the objectives (summarised over the draws)
are told back; then the Pareto front of everything evaluated and each front policy's regret.

Why optuna (docs/policy_search.md): its ask-and-tell interface hands over a whole generation at once,
so a generation is one batch of (policy × draw) cells for the compiled kernel and the dask cluster;
its NSGA-II sampler is seeded (same file and seed -> same policies); and it is a small, maintained
pure-Python dependency.  EMA Workbench's ``optimize`` runs platypus through EMA's own evaluators, one
experiment per model call, with no dask evaluator.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from alliance_sim.overrides import get_value
from alliance_sim.policy.evaluate import Evaluator, objective_cells, summarise
from alliance_sim.policy.spec import PolicyError, Problem


@dataclass
class SearchResult:
    """Everything evaluated: the policies (lever values), their generation, the per-draw objectives and
    their summaries, the Pareto mask and the regret of each Pareto policy."""

    problem: Problem
    policies: list[dict[str, Any]]
    names: list[str]                     # "g3-p07", or a reference policy's name
    generation: np.ndarray               # (policies,)
    cells: np.ndarray                    # (policies, draws, objectives), objectives' own units
    objectives: np.ndarray               # (policies, objectives): the summary over the draws
    pareto: np.ndarray                   # (policies,) bool
    regret: np.ndarray                   # (policies, draws, objectives): NaN off the front
    wall_time: float = 0.0
    workers: int = 0
    cells_run: int = 0

    @property
    def front(self) -> np.ndarray:
        return np.flatnonzero(self.pareto)

    def regret_stats(self) -> dict[str, np.ndarray]:
        """Max and 90th percentile over the draws of each policy's regret, (policies, objectives)."""
        with np.errstate(all="ignore"):
            return {"max": np.max(self.regret, axis=1), "p90": np.quantile(self.regret, 0.9, axis=1)}


def oriented(problem: Problem, values: np.ndarray) -> np.ndarray:
    """Values with maximised objectives negated (lower is better everywhere); last axis = objectives."""
    signs = np.array([o.sign for o in problem.spec.objectives.values()])
    return values * signs


def pareto_mask(costs: np.ndarray) -> np.ndarray:
    """Non-dominated rows of ``costs`` (minimise every column); of identical rows only the first is kept."""
    n = costs.shape[0]
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        if not keep[i]:
            continue
        dominated = np.all(costs <= costs[i], axis=1) & np.any(costs < costs[i], axis=1)
        same = np.all(costs == costs[i], axis=1)
        same[: i + 1] = False
        keep[same] = False
        if dominated.any():
            keep[i] = False
    return keep


def regret(problem: Problem, cells: np.ndarray, among: np.ndarray) -> np.ndarray:
    """Regret of each policy in ``among`` in each draw and objective: how much worse it does than the
    best of the ``among`` policies in that draw (>= 0, 0 for the draw's best); NaN for the others."""
    c = oriented(problem, cells)
    out = np.full(cells.shape, np.nan)
    if among.any():
        best = np.min(c[among], axis=0)
        out[among] = c[among] - best
    return out


def _key(policy: dict[str, Any]) -> str:
    return repr(sorted(policy.items()))


def run_search(problem: Problem, *, client=None, task_size: int | None = None, task_fn=None,
               progress=None) -> SearchResult:
    """Search the levers.  ``client``: a dask client (None: serial in this process).  ``progress``:
    an object with ``advance(n)`` (cells), e.g. the sweep runner's progress bar."""
    try:
        import optuna
    except ImportError:
        raise PolicyError("policy search needs optuna: pip install 'alliance-sim[policy]'") from None

    spec = problem.spec
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("optuna").setLevel(logging.WARNING)
    dists = {f"x{j}": lev.distribution() for j, lev in enumerate(spec.levers.values())}
    levers = list(spec.levers.items())
    sampler = optuna.samplers.NSGAIISampler(population_size=spec.search.population, seed=problem.seed % 2**32,
                                            crossover_prob=spec.search.crossover_prob,
                                            mutation_prob=spec.search.mutation_prob)
    study = optuna.create_study(directions=[o.direction for o in spec.objectives.values()], sampler=sampler)
    for pname, pol in spec.policies.items():
        study.enqueue_trial({f"x{j}": lev.encode(pol[k] if k in pol else get_value(problem.base, k),
                                                 f"{problem.source}: policies.{pname}.{k}")
                             for j, (k, lev) in enumerate(levers)})
    _check_objective_outputs(problem, task_fn)
    ev = Evaluator(problem, client=client, task_size=task_size, task_fn=task_fn,
                   advance=progress.advance if progress is not None else None)
    ref_names = list(spec.policies)
    seen: dict[str, int] = {}
    policies: list[dict[str, Any]] = []
    names: list[str] = []
    gens: list[int] = []
    cells_list: list[np.ndarray] = []
    t0 = time.perf_counter()
    for g in range(spec.search.generations):
        trials = [study.ask(dists) for _ in range(spec.search.population)]
        batch = [{k: lev.decode(t.params[f"x{j}"]) for j, (k, lev) in enumerate(levers)} for t in trials]
        new = []
        for pol in batch:
            if _key(pol) not in seen and _key(pol) not in {_key(q) for q in new}:
                new.append(pol)
        if new:
            outs = ev.outputs(new)
            vals = objective_cells(problem, new, outs)
            for i, pol in enumerate(new):
                seen[_key(pol)] = len(policies)
                policies.append(pol)
                n = len(policies) - 1
                names.append(ref_names.pop(0) if g == 0 and ref_names and n < len(spec.policies)
                             else f"g{g}-p{n:04d}")
                gens.append(g)
                cells_list.append(vals[i])
        if progress is not None and len(new) < len(batch):
            progress.advance((len(batch) - len(new)) * len(problem.draws))
        for t, pol in zip(trials, batch, strict=True):
            idx = seen[_key(pol)]
            summary = [float(summarise(cells_list[idx][None, :, k], o.stat)[0])
                       for k, o in enumerate(spec.objectives.values())]
            if not np.all(np.isfinite(summary)):
                raise PolicyError(f"{problem.source}: policy {pol} gave a non-finite objective {summary}")
            study.tell(t, summary)
    cells = np.stack(cells_list)
    objectives = np.stack([summarise(cells[:, :, k], o.stat) for k, o in enumerate(spec.objectives.values())],
                          axis=1)
    front = pareto_mask(oriented(problem, objectives))
    return SearchResult(problem, policies, names, np.array(gens), cells, objectives, front,
                        regret(problem, cells, front), wall_time=time.perf_counter() - t0,
                        workers=len(client.scheduler_info(n_workers=-1)["workers"]) if client is not None else 0,
                        cells_run=ev.cells_run)


def _check_objective_outputs(problem: Problem, task_fn) -> None:
    """Every objective's output must name a model output (one line otherwise), checked on a one-month,
    one-replicate probe before the search starts."""
    from alliance_sim.sweeps.design import SweepError
    from alliance_sim.sweeps.outputs import parse_output

    if task_fn is None:
        from alliance_sim.sweeps.runner import run_task as task_fn
    ds = task_fn(problem.base, [{}], 1, problem.seed, 1)
    for name, o in problem.spec.objectives.items():
        if o.kind == "output":
            try:
                parse_output(ds, o.output)
            except SweepError as exc:
                raise PolicyError(f"{problem.source}: objectives.{name}.output: {exc}") from None
