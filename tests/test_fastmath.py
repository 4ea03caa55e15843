"""The fused kernel's exp and tanh (model/fastmath.py) against libm, in units in the last place."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest

from alliance_sim.model import fastmath


@numba.njit
def _exp_all(x):
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = fastmath.exp(x[i])
    return out


@numba.njit
def _tanh_all(x):
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = fastmath.tanh(x[i])
    return out


def ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance in representable doubles between same-signed finite a and b (0 where both are equal)."""
    ia = np.ascontiguousarray(a, dtype=np.float64).view(np.int64)
    ib = np.ascontiguousarray(b, dtype=np.float64).view(np.int64)
    return np.where(a == b, 0, np.abs(ia - ib))


def _arguments(lo: float, hi: float, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.uniform(lo, hi, n), rng.uniform(-1.0, 1.0, n) * 10.0 ** rng.uniform(-20, 0, n)])


def test_exp_within_one_ulp_over_the_double_range():
    x = _arguments(-745.0, 709.7, 500_000, 1)
    ours = _exp_all(x)
    ref = np.array([math.exp(v) for v in x])
    assert ulps(ours, ref).max() <= 1


def test_exp_near_overflow_and_in_the_subnormal_range():
    x = np.array([709.78, 709.7, 700.0, -708.0, -708.5, -720.0, -740.0, -745.0, -745.2, -800.0, 0.0, -0.0,
                  1e-300, -1e-300, 710.0, 1000.0, -np.inf, np.inf])
    ours = _exp_all(x)
    with np.errstate(over="ignore", under="ignore"):
        ref = np.exp(x)
    finite = np.isfinite(ref) & (ref > 1e-300)
    assert ulps(ours[finite], ref[finite]).max() <= 1
    sub = (ref > 0) & (ref <= 1e-300)
    assert np.all(np.abs(ours[sub] - ref[sub]) <= 2 * 5e-324 + 2.3e-16 * ref[sub])
    assert ours[x >= 710].tolist() == [np.inf] * 3 and ours[x <= -746].tolist() == [0.0, 0.0]
    assert np.isnan(_exp_all(np.array([np.nan])))[0]


def test_tanh_within_four_ulps_odd_and_saturating():
    x = np.concatenate([_arguments(-25.0, 25.0, 500_000, 2), [0.0, 1e-310, 0.3466, 0.35, 22.0, 30.0, np.inf]])
    ours = _tanh_all(x)
    ref = np.tanh(x)
    assert ulps(ours, ref).max() <= 4
    assert np.array_equal(_tanh_all(-x), -ours)
    assert np.isnan(_tanh_all(np.array([np.nan])))[0]


@pytest.mark.parametrize("v", [0.5, -3.0, 1e-8])
def test_exp_matches_math_exp_in_a_typical_case(v):
    assert _exp_all(np.array([v]))[0] == pytest.approx(math.exp(v), rel=2.3e-16)
