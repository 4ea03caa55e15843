"""Priors as pyabc random variables: uniform, and normal / log-normal truncated to the parameter's bounds.

pyabc samples priors and checks proposals against them (a proposal with zero prior density is drawn
again), so truncation keeps every particle inside the parameter's declared range.  The classes are
module-level so they pickle to dask workers.
"""

from __future__ import annotations

import math

import numpy as np
import pyabc
import scipy.stats as st
from pyabc.random_variables import RVBase

from alliance_sim.calibration.config import Problem


class TruncatedRV(RVBase):
    """A scipy distribution (by name and arguments) restricted to [low, high] and renormalised."""

    def __init__(self, name: str, args: tuple, kwargs: dict, low: float, high: float):
        self.name, self.args, self.kwargs, self.low, self.high = name, tuple(args), dict(kwargs), low, high
        self._init()

    def _init(self) -> None:
        self.dist = getattr(st, self.name)(*self.args, **self.kwargs)
        self.c_lo = float(self.dist.cdf(self.low)) if math.isfinite(self.low) else 0.0
        self.c_hi = float(self.dist.cdf(self.high)) if math.isfinite(self.high) else 1.0
        self.mass = self.c_hi - self.c_lo

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "dist"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._init()

    def copy(self) -> TruncatedRV:
        return TruncatedRV(self.name, self.args, self.kwargs, self.low, self.high)

    def rvs(self, *args, **kwargs) -> float:
        u = np.random.uniform(self.c_lo, self.c_hi)
        return float(np.clip(self.dist.ppf(u), self.low, self.high))

    def pdf(self, x, *args, **kwargs) -> float:
        if not self.low <= x <= self.high:
            return 0.0
        return float(self.dist.pdf(x)) / self.mass

    def pmf(self, x, *args, **kwargs) -> float:
        return 0.0

    def cdf(self, x, *args, **kwargs) -> float:
        if x <= self.low:
            return 0.0
        if x >= self.high:
            return 1.0
        return (float(self.dist.cdf(x)) - self.c_lo) / self.mass

    def ppf(self, q: np.ndarray) -> np.ndarray:
        return np.clip(self.dist.ppf(self.c_lo + np.asarray(q) * self.mass), self.low, self.high)

    def __repr__(self) -> str:
        return f"<TruncatedRV {self.name}{self.args} on [{self.low:g}, {self.high:g}]>"


def prior_rv(problem: Problem, name: str) -> TruncatedRV:
    spec = next(p for p in problem.spec.parameters if p.name == name).prior
    lo, hi = problem.bounds[name]
    if spec.kind == "uniform":
        return TruncatedRV("uniform", (spec.low, spec.high - spec.low), {}, lo, hi)
    if spec.kind == "normal":
        return TruncatedRV("norm", (spec.mean, spec.sd), {}, lo, hi)
    return TruncatedRV("lognorm", (spec.sigma,), {"scale": spec.median}, lo, hi)


def prior_distribution(problem: Problem) -> pyabc.Distribution:
    return pyabc.Distribution(**{n: prior_rv(problem, n) for n in problem.parameter_names})


def prior_mass_check(problem: Problem) -> None:
    """A truncated prior that keeps (almost) no mass inside its bounds is a mistake in the file."""
    from alliance_sim.calibration.config import CalibrationError

    for j, n in enumerate(problem.parameter_names):
        rv = prior_rv(problem, n)
        if rv.mass < 1e-6:
            raise CalibrationError(f"{problem.source}: parameters.{j}.prior: keeps {rv.mass:.1e} of its mass "
                                   f"inside [{rv.low:g}, {rv.high:g}]; centre it within the bounds")
