"""``AllianceModel``: a Mesa model whose one ``step()`` advances R replicate worlds by one month.

It is a proper Mesa model — country agents are ``mesa.Agent`` objects in ``model.agents``, Mesa's
``DataCollector`` records ensemble statistics each step, and Mesa's SolaraViz (or the project's own
dashboard, ``alliance_sim.dashboard``) can display it —
while the state lives in the compiled step's arrays over replicates (``drivers.EnsembleSim``): each
agent's ``decide`` and the model's transition are compiled loops over all replicates at once.
"""

from __future__ import annotations

import mesa
import numpy as np

from alliance_sim.model.agents import AGENT_CLASSES
from alliance_sim.model.compiled import Compiled, compile_parameters
from alliance_sim.model.drivers import EnsembleSim
from alliance_sim.model.parameters import Parameters
from alliance_sim.model.state import Decisions, EnsembleState


class AllianceModel(mesa.Model):
    """An ensemble of alliance worlds.

    ``replicate_ids`` picks which replicates of the scenario this model runs (default 0..R-1): the
    trajectory of replicate r depends only on (parameters, seed, r), so any split of the ids across
    models, chunks or processes gives the same per-replicate results.
    """

    def __init__(self, params: Parameters | None = None, replicate_ids=None, seed: int | None = None,
                 months: int | None = None, collect: bool = True, compiled: Compiled | None = None,
                 switched_off: tuple[str, ...] = (), attribution: bool = True):
        if compiled is not None:  # a batch of parameter points (model/batching.py)
            params = compiled.params
        params = params if params is not None else Parameters()
        seed = params.simulation.seed if seed is None else int(seed)
        super().__init__(rng=seed)
        self.params = params
        self.seed = seed
        self.compiled = compiled if compiled is not None else compile_parameters(params, months)
        if replicate_ids is None:
            replicate_ids = np.arange(params.simulation.replicates)
        self.replicate_ids = np.asarray(replicate_ids, dtype=np.int64)
        # ``switched_off`` names terms of step.TERM to leave out (knock-out counterfactuals, mutation tests).
        # ``attribution``: account for each driver group's share of every tie's change (docs/model.md §8.1).
        self.sim = EnsembleSim(self.compiled, self.replicate_ids, seed, switched_off, attribution)
        self.state = EnsembleState(self.sim)
        self.last_decisions: Decisions | None = None
        for name, actor in params.actors.items():
            AGENT_CLASSES[actor.role](self, name)
        self.datacollector = mesa.DataCollector(model_reporters=self._reporters()) if collect else None
        if self.datacollector is not None:
            self.datacollector.collect(self)

    # -- Mesa plumbing -----------------------------------------------------------------------
    def _reporters(self) -> dict:
        reps = {"month": lambda m: m.compiled.month_labels[min(m.state.month, m.compiled.months - 1)],
                "cohesion_median": lambda m: float(np.median(m.state.cohesion))}
        for a, name in enumerate(self.compiled.allies):
            reps[f"alignment_median_{name}"] = (lambda m, a=a: float(np.median(m.state.alignment[:, a])))
            reps[f"share_crossed_{name}"] = (lambda m, a=a: float(np.mean(m.state.alignment[:, a] < 0)))
        return reps

    def agent(self, name: str):
        """The country agent called ``name``."""
        return next(a for a in self.agents if a.name == name)

    @property
    def finished(self) -> bool:
        return self.state.month >= self.compiled.months

    def decisions_from_agents(self) -> Decisions:
        """Gather the agents' choices of this month (after ``agents.do('decide')``)."""
        c, R = self.compiled, self.state.replicates
        ally = np.zeros((R, c.n_allies), dtype=np.int8)
        adv = np.zeros((R, len(c.adversary_idx)), dtype=np.int8)
        us = china = None
        for ag in self.agents:
            if ag.role == "patron":
                us = ag.last_decision
            elif ag.role == "challenger":
                china = ag.last_decision
            elif ag.role == "ally":
                ally[:, ag.ally_position] = ag.last_decision
            else:
                adv[:, ag.adversary_position] = ag.last_decision
        return Decisions(us=us, ally=ally, china=china, adversary=adv)

    def step(self) -> None:
        """One month for every replicate: all agents decide from month t, then t+1 is applied at once."""
        if self.finished:
            raise RuntimeError(f"the scenario has {self.compiled.months} months; no step left")
        self.sim.begin_month()
        self.agents.do("decide")
        self.last_decisions = self.decisions_from_agents()
        self.sim.transition()
        if self.datacollector is not None:
            self.datacollector.collect(self)
