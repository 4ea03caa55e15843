"""Shared helpers of the policy-search tests: analytic stand-ins for the model (fast, exact answers)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from alliance_sim.overrides import get_value
from alliance_sim.policy.spec import make_problem, parse_policy

X1, X2, U = "mechanisms.tariff_weight", "mechanisms.burden_weight", "mechanisms.threat_weight"


def analytic_task(base, points, replicates, seed, months):
    """a = x1 + u/10 and b = (1 - x1)^2 + x2 + u/10 (both minimised): every x1 in [0, 1] with x2 = 0 is
    Pareto-optimal, so the front spans x1 = 0 .. 1 and holds x2 at its lower bound."""
    x1 = np.array([p.get(X1, get_value(base, X1)) for p in points], dtype=float)
    x2 = np.array([p.get(X2, get_value(base, X2)) for p in points], dtype=float)
    u = np.array([p.get(U, get_value(base, U)) for p in points], dtype=float)
    return xr.Dataset({"a": (("point",), x1 + u / 10), "b": (("point",), (1 - x1) ** 2 + x2 + u / 10)})


class Recorder:
    """A task function that records every call (points, replicates, seed, months)."""

    def __init__(self):
        self.calls = []

    def __call__(self, base, points, replicates, seed, months):
        self.calls.append((list(points), replicates, seed, months))
        return analytic_task(base, points, replicates, seed, months)


ANALYTIC = {
    "replicates": 3, "months": 4, "draws": 5, "seed": 11,
    "levers": {X1: {"low": 0.0, "high": 1.0}, X2: {"low": 0.0, "high": 1.0}},
    "uncertainties": {U: {"low": 0.0, "high": 1.0}},
    "objectives": {"a": {"output": "a", "direction": "minimize"}, "b": {"output": "b", "direction": "minimize"}},
    "search": {"population": 16, "generations": 12},
}


def analytic_problem(**kw):
    return make_problem(parse_policy({**ANALYTIC, **kw}))
