"""Sweep designs: sizes, bounds, stratification, determinism and one-line errors for bad definitions."""

from __future__ import annotations

import numpy as np
import pytest
from sweeps_helpers import tiny_spec, tiny_sweep

from alliance_sim.model.parameters import Parameters
from alliance_sim.sweeps.design import SweepError, build_points, expected_size, make_sweep, parse_sweep

THREE = {"mechanisms.tariff_weight": {"low": 0.1, "high": 1.5},
         "mechanisms.threat_weight": {"low": 0.5, "high": 3.0},
         "population.size_per_ally": {"low": 0, "high": 5, "integer": True}}


def test_grid_is_the_product_of_levels():
    spec = tiny_spec({"kind": "grid", "resolution": 3},
                     {"mechanisms.tariff_weight": {"low": 0.0, "high": 1.0},
                      "threats.nk_provocations.rate_per_month": {"levels": [0.5, 1.0, 2.0, 4.0]},
                      "population.size_per_ally": {"low": 0, "high": 1, "integer": True}})
    pts = build_points(spec, 1)
    assert len(pts) == expected_size(spec) == 3 * 4 * 2
    combos = {tuple(r) for r in pts.values}
    assert len(combos) == 24
    assert {r[0] for r in pts.values} == {0.0, 0.5, 1.0}
    assert {r[2] for r in pts.values} == {0, 1}
    assert all(isinstance(r[2], int) for r in pts.values)


@pytest.mark.parametrize("second", [False, True])
def test_sobol_is_saltelli_sized_and_in_bounds(second):
    spec = tiny_spec({"kind": "sobol", "n": 16, "calc_second_order": second}, THREE)
    pts = build_points(spec, 3)
    D = 3
    assert len(pts) == expected_size(spec) == 16 * (2 * D + 2 if second else D + 2)
    x = pts.numeric(spec)
    assert (x[:, 0] >= 0.1).all() and (x[:, 0] <= 1.5).all()
    assert (x[:, 1] >= 0.5).all() and (x[:, 1] <= 3.0).all()
    assert set(np.unique(x[:, 2])) <= set(range(6))
    assert np.array_equal(pts.unit, build_points(spec, 3).unit)  # deterministic for a seed
    assert not np.array_equal(pts.unit, build_points(spec, 4).unit)


def test_morris_has_r_times_d_plus_1_points_on_levels():
    spec = tiny_spec({"kind": "morris", "trajectories": 6, "levels": 4}, THREE)
    pts = build_points(spec, 1)
    assert len(pts) == expected_size(spec) == 6 * (3 + 1)
    assert set(np.round(np.unique(pts.unit), 6)) <= {0.0, round(1 / 3, 6), round(2 / 3, 6), 1.0}
    # consecutive points of a trajectory differ in exactly one factor
    u = pts.unit.reshape(6, 4, 3)
    assert ((np.abs(np.diff(u, axis=1)) > 1e-12).sum(axis=2) == 1).all()


def test_lhs_is_stratified_in_every_factor():
    n = 40
    spec = tiny_spec({"kind": "lhs", "samples": n}, THREE)
    pts = build_points(spec, 5)
    assert len(pts) == n
    for j in range(3):
        strata = np.floor(pts.unit[:, j] * n).astype(int)
        assert sorted(strata) == list(range(n))  # one point in each of the n equal strata
    x = pts.numeric(spec)
    assert x[:, 0].min() >= 0.1 and x[:, 0].max() <= 1.5


def test_points_are_override_dicts_that_apply():
    sw = tiny_sweep({"kind": "lhs", "samples": 5})
    assert sw.n_points == 5
    assert set(sw.points.overrides[0]) == {"mechanisms.tariff_weight", "threats.nk_provocations.rate_per_month"}
    assert {p["threats.nk_provocations.rate_per_month"] for p in sw.points.overrides} <= {0.5, 4.0}
    assert sw.base.population.size_per_ally == 0


@pytest.mark.parametrize("data, expected", [
    ({"design": {"kind": "latin"}, "factors": {"mechanisms.tariff_weight": {"low": 0, "high": 1}}},
     "design: Input tag 'latin'"),
    ({"design": {"kind": "lhs", "samples": 3}, "factors": {"mechanisms.tariff_weight": {"low": 2, "high": 1}}},
     "low (2) must not exceed high (1)"),
    ({"design": {"kind": "lhs", "samples": 3}, "factors": {"mechanisms.tariff_weight": {"low": 0}}},
     "give low and high"),
    ({"design": {"kind": "lhs", "samples": 3}, "factors": {}}, "factors"),
    ({"design": {"kind": "lhs", "samples": 3}, "factors": {"mechanisms.tariff_weight": {"low": 0, "high": 1}},
      "replicate": 3}, "replicate: unknown key; did you mean 'replicates'?"),
])
def test_bad_definitions_are_one_line_errors(data, expected):
    with pytest.raises(SweepError) as err:
        parse_sweep(data, "bad.toml")
    msg = str(err.value)
    assert msg.startswith("bad.toml: ") and expected in msg and "\n" not in msg


@pytest.mark.parametrize("factor, expected", [
    ({"mechanisms.tarif_weight": {"low": 0, "high": 1}}, "factor 'mechanisms.tarif_weight'"),
    ({"mechanisms.tariff_weight": {"low": 0, "high": 100}}, "must be between 0 and 20, got 100"),
    ({"actors.KOR.leader_orientation": {"levels": [0.0, 2.0]}}, "actors.KOR.leader_orientation"),
])
def test_factors_are_validated_against_the_parameter_tree(factor, expected):
    spec = parse_sweep({"design": {"kind": "lhs", "samples": 3}, "factors": factor}, "bad.toml")
    with pytest.raises(SweepError) as err:
        make_sweep(spec, source="bad.toml", base=Parameters())
    assert str(err.value).startswith("bad.toml: factor ") and expected in str(err.value)
    assert "\n" not in str(err.value)


def test_definition_hash_ignores_task_size_only():
    a = tiny_spec({"kind": "lhs", "samples": 5})
    b = tiny_spec({"kind": "lhs", "samples": 5}, task_size=99)
    c = tiny_spec({"kind": "lhs", "samples": 6})
    assert a.definition_hash() == b.definition_hash() != c.definition_hash()
