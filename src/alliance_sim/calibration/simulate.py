"""Parameters -> summary statistics at the observed months, with the compiled model.

One simulation of a parameter vector θ runs each target scenario once (θ applied as ``--set``
overrides) as a small ensemble of ``abc.replicates`` replicates, up to the last observed month only,
and reads each observation's results variable (``export_share_us_mean``, ...) for its ally, averaged
over the months of the observed period (a year's 12 months, a month, a poll's fieldwork months).

The model's seed is a hash of the calibration seed and θ, so a statistic is a deterministic function
of θ (the same particle gives the same numbers on any worker), while different particles get
independent draws.  It steps the Mesa ``AllianceModel`` (the compiled step) and
reads the same per-replicate values whose means the results dataset calls ``<series>_mean``, so any per-ally
series of ``summaries.SERIES`` can be a target, and so can ``p_beijing_side``/``p_crossed`` (the share of
replicates with alignment < 0 that month / at least once so far, as ``results.to_dataset`` counts them),
and, per pair, ``tie_mean`` and ``p_tie_negative`` (the share of replicates whose tie is negative);
see docs/calibration.md for what a kernel-level "observables at chosen months" driver would save.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from alliance_sim.calibration.config import Problem
from alliance_sim.model.calendar import month_offset

#: Results variables read per pair of actors (the others are per ally).
PER_PAIR = ("tie_mean", "p_tie_negative")


def _column(run: dict, variable: str, column: str) -> int:
    return (run["pairs"] if variable in PER_PAIR else run["allies"]).index(column)


def theta_seed(seed: int, theta: Mapping[str, float], names: list[str]) -> int:
    """A 63-bit model seed from the calibration seed and the parameter values (order of ``names``)."""
    h = hashlib.sha256(struct.pack("<q", int(seed)))
    for n in names:
        h.update(n.encode())
        h.update(struct.pack("<d", float(theta[n])))
    return int.from_bytes(h.digest()[:8], "little") >> 1


@dataclass
class Simulator:
    """A picklable ``θ -> {statistic: value}`` for pyabc (runs on dask workers as well)."""

    problem: Problem
    replicates: int
    seed: int

    def __post_init__(self):
        p = self.problem
        self.names = p.parameter_names
        # months each scenario must simulate: up to its last observed month
        self.horizon: dict[str, int] = {}
        for o in p.observations:
            start = p.scenario_labels[o.scenario][0]
            last = max(month_offset(start, m) for m in o.months) + 1
            self.horizon[o.scenario] = max(self.horizon.get(o.scenario, 1), last)

    def series(self, theta: Mapping[str, float], months: dict[str, int] | None = None,
               replicates: int | None = None, one_history: bool = False) -> dict[str, dict[str, np.ndarray]]:
        """``{scenario: {variable: (months, allies) replicate means}}`` at ``θ``: the model stepped with
        ``AllianceModel`` and only the observed series read each month (``summaries.series_values``, the
        values whose means ``results.to_dataset`` labels ``<series>_mean``) — no histograms, no dataset.
        ``one_history``: those series are the first replicate's values instead of the means (the shares of
        runs still count every replicate)."""
        from alliance_sim.model.model import AllianceModel
        from alliance_sim.overrides import apply_overrides
        from alliance_sim.summaries import series_values

        over = {n: float(theta[n]) for n in self.names}
        seed = theta_seed(self.seed, over, self.names)
        R = replicates or self.replicates
        out = {}
        for name, params in self.problem.scenarios.items():
            pars = apply_overrides(params, over, via="calibration")
            T = (months or self.horizon)[name]
            wanted = sorted({o.variable for o in self.problem.observations if o.scenario == name})
            model = AllianceModel(pars, replicate_ids=np.arange(R), seed=seed, months=T, collect=False)
            c = model.compiled
            got = {v: np.empty((T, len(c.pair_labels) if v in PER_PAIR else c.n_allies)) for v in wanted}
            ever = np.zeros((R, c.n_allies), dtype=bool)  # on Beijing's side at least once so far (p_crossed)
            for t in range(T):
                model.step()
                below = model.state.alignment < 0
                ever |= below
                for v in wanted:
                    if v == "p_beijing_side":
                        got[v][t] = below.mean(axis=0)
                    elif v == "p_crossed":
                        got[v][t] = ever.mean(axis=0)
                    elif v == "p_tie_negative":
                        got[v][t] = (series_values("tie", c, model.state) < 0).mean(axis=0)
                    elif one_history:
                        got[v][t] = series_values(v.removesuffix("_mean"), c, model.state)[0]
                    else:
                        got[v][t] = series_values(v.removesuffix("_mean"), c, model.state).mean(axis=0)
            model.state = model.sim = None
            out[name] = {"allies": list(c.allies), "pairs": list(c.pair_labels), "labels": list(c.month_labels[:T]),
                         **got}
        return out

    def statistics(self, runs) -> dict[str, float]:
        stats = {}
        for o in self.problem.observations:
            r = runs[o.scenario]
            rows = [r["labels"].index(m) for m in o.months]
            stats[o.key] = float(r[o.variable][rows, _column(r, o.variable, o.ally)].mean())
        return stats

    def __call__(self, theta: Mapping[str, float]) -> dict[str, float]:
        """The statistics at ``θ``; a ``θ`` that makes a scenario invalid (e.g. export shares summing past 1)
        gets infinite statistics, so its particle is rejected rather than the run stopped."""
        from alliance_sim.overrides import OverrideError

        try:
            return self.statistics(self.series(theta))
        except OverrideError:
            return {o.key: float("inf") for o in self.problem.observations}

    def observed(self) -> dict[str, float]:
        return {o.key: o.value for o in self.problem.observations}

    def series_groups(self) -> list[tuple[str, str, str]]:
        """(scenario, variable, ally) of the observations, in order of first appearance."""
        seen: list[tuple[str, str, str]] = []
        for o in self.problem.observations:
            g = (o.scenario, o.variable, o.ally)
            if g not in seen:
                seen.append(g)
        return seen

    def predictive(self, theta: Mapping[str, float]) -> tuple[dict[str, float], dict[tuple, np.ndarray]]:
        """(statistics, monthly series of each group over the whole scenario) at ``θ``."""
        full = {k: len(v) for k, v in self.problem.scenario_labels.items()}
        runs = self.series(theta, months=full, one_history=self.problem.spec.abc.predictive_history == "one")
        series = {g: runs[g[0]][g[1]][:, _column(runs[g[0]], g[1], g[2])].copy() for g in self.series_groups()}
        return self.statistics(runs), series
