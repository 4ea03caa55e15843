"""Exogenous trade moves (step.trade_shock_update, term ``trade_shocks``): analytic cases, the variance of the
export share against the exact recursion of the linear model.

Each export-share target carries an AR(1) deviation d ← ρ·d + σ·√12·(u − ½) (u uniform: innovation sd σ), and
the share follows its target at the adjustment rate r, so without tariffs the US share's deviation from its
start is a linear system whose covariance can be iterated exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from builders import trajectory

from alliance_sim.model.model import AllianceModel
from alliance_sim.model.parameters import Parameters
from alliance_sim.model.step import trade_shock_update

SD, RHO, RATE, MONTHS, R = 0.007, 0.99, 0.1, 36, 3000


def test_the_update_is_an_ar1_with_a_uniform_innovation():
    assert trade_shock_update(0.02, RHO, SD, 0.5) == pytest.approx(RHO * 0.02)  # a median draw: decay only
    assert trade_shock_update(0.02, RHO, 0.0, 0.99) == RHO * 0.02  # sd 0: no innovation
    half_range = SD * math.sqrt(12.0) / 2  # a uniform of sd σ spans ±σ√3
    assert trade_shock_update(0.0, RHO, SD, 1.0) == pytest.approx(half_range)
    assert trade_shock_update(0.0, RHO, SD, 0.0) == pytest.approx(-half_range)
    assert trade_shock_update(0.01, 0.0, SD, 0.5) == 0.0  # no persistence: last month forgotten


def _shares(sd: float) -> tuple[np.ndarray, float]:
    """Korea's export share to the US (replicates, months + 1) without tariffs, and its start value."""
    p = Parameters()
    p.population.size_per_ally = 0
    p.us_policy.mode = "scripted"
    p.china_policy.mode = "scripted"
    p.tariffs = []
    p.mechanisms.trade_shock_sd = sd
    p.mechanisms.trade_shock_persistence = RHO
    p.mechanisms.trade_adjustment_rate = RATE
    m = AllianceModel(p, replicate_ids=np.arange(R), months=MONTHS, collect=False, attribution=False)
    kor = m.compiled.allies.index("KOR")
    return trajectory(m, lambda s: s.exports_us[:, kor]), float(m.compiled.share_us0[kor])


def _exact_variance(months: int) -> np.ndarray:
    """Var of x(t) for (d, x)' = A (d, x) + b·e, A = [[ρ, 0], [rρ, 1 − r]], b = (1, r), Var e = σ²."""
    a = np.array([[RHO, 0.0], [RATE * RHO, 1.0 - RATE]])
    b = np.array([1.0, RATE])
    cov, out = np.zeros((2, 2)), [0.0]
    for _ in range(months):
        cov = a @ cov @ a.T + SD**2 * np.outer(b, b)
        out.append(cov[1, 1])
    return np.array(out)


def test_the_share_spreads_as_the_exact_recursion_says():
    """3000 replicates: a sample variance's relative error is about √(2/3000) ≈ 2.6 %; the margin is 10 %."""
    shares, start = _shares(SD)
    var = shares.var(axis=0)
    exact = _exact_variance(MONTHS)
    for t in (6, 12, 24, 36):
        assert var[t] == pytest.approx(exact[t], rel=0.10), t
    assert abs(shares[:, -1].mean() - start) < 4 * math.sqrt(exact[-1] / R)  # no drift: the shocks centre on 0


def test_without_shocks_the_share_stays_at_its_start():
    shares, start = _shares(0.0)
    assert np.all(shares == start)
