"""Shared helpers of the sweep tests: tiny sweeps on the default parameters (no citizens, few months)."""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from alliance_sim.overrides import get_value
from alliance_sim.sweeps.design import make_sweep, parse_sweep
from alliance_sim.sweeps.store import open_store

TINY = {"replicates": 4, "months": 6, "seed": 7, "set": {"population.size_per_ally": 0},
        "outputs": ["p_crossed.KOR", "final_alignment_mean.KOR", "min_cohesion_q.0.5"]}


def tiny_spec(design: dict, factors: dict | None = None, **kw):
    factors = factors or {"mechanisms.tariff_weight": {"low": 0.0, "high": 3.0},
                          "threats.nk_provocations.rate_per_month": {"levels": [0.5, 4.0]}}
    return parse_sweep({**TINY, "design": design, "factors": factors, **kw})


def tiny_sweep(design: dict | None = None, **kw):
    return make_sweep(tiny_spec(design or {"kind": "lhs", "samples": 7}, **kw))


def point_data(path) -> xr.Dataset:
    """The per-point variables of a store, loaded (task bookkeeping dropped)."""
    with open_store(path) as ds:
        keep = [v for v in ds.data_vars if "point" in ds[v].dims]
        return ds[keep].load()


def assert_same(a, b) -> None:
    a, b = point_data(a), point_data(b)
    assert sorted(a.data_vars) == sorted(b.data_vars)
    for v in a.data_vars:
        assert np.array_equal(a[v].values, b[v].values, equal_nan=True), v
    assert not any(np.isnan(a[v].values).any() for v in a.data_vars)


ISHIGAMI_KEYS = ["mechanisms.threat_weight", "mechanisms.tariff_weight", "mechanisms.burden_weight"]


def ishigami_task(base, points, replicates, seed, months):
    """A task function whose single outcome is the Ishigami function of three factors in [0, 2π]
    (shifted to [-π, π])."""
    x = np.array([[p.get(k, get_value(base, k)) for k in ISHIGAMI_KEYS] for p in points], dtype=float) - math.pi
    y = np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])
    return xr.Dataset({"ishigami": (("point",), y)})
