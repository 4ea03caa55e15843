"""Policy search over the calibrated posterior: each uncertainty draw is a particle of ``alliance calibrate``'s
last generation, resampled by weight with the search's seed, beside any ranged uncertainties."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from alliance_sim.policy.spec import PolicyError, load_problem

SPEC = """
months = 3
replicates = 1
draws = 400
seed = 5
posterior = "posterior.nc"
[set]
"population.size_per_ally" = 0
[levers]
"mechanisms.tariff_weight" = { low = 0.0, high = 1.0 }
[uncertainties]
"mechanisms.threat_weight" = { low = 0.5, high = 1.5 }
[objectives.p]
output = "p_crossed.KOR"
direction = "minimize"
[search]
population = 2
generations = 1
"""


def _posterior(path, values, weights, name="mechanisms.trade_elasticity"):
    """A posterior.nc as `alliance calibrate` writes it: two generations, the last one weighted."""
    n = len(values)
    theta = np.stack([np.full((n, 1), 9.0), np.asarray(values, float)[:, None]])
    w = np.stack([np.full(n, 1.0 / n), np.asarray(weights, float) / np.sum(weights)])
    xr.Dataset({"theta": (("generation", "particle", "parameter"), theta),
                "weight": (("generation", "particle"), w),
                "prior_low": (("parameter",), [0.5]), "prior_high": (("parameter",), [4.0])},
               coords={"generation": [0, 1], "particle": np.arange(n), "parameter": [name]}).to_netcdf(
        path, engine="h5netcdf")


def test_draws_follow_the_posterior_weights_and_keep_the_ranged_uncertainties(tmp_path):
    _posterior(tmp_path / "posterior.nc", [1.0, 2.0, 3.0], [0.1, 0.1, 0.8])
    (tmp_path / "p.toml").write_text(SPEC)
    prob = load_problem(tmp_path / "p.toml")
    d = prob.draws
    assert d.factors == ["mechanisms.trade_elasticity", "mechanisms.threat_weight"]
    ela = np.array([row[0] for row in d.values])
    assert set(ela) <= {1.0, 2.0, 3.0}  # the last generation's particles, never the first's 9.0
    assert np.mean(ela == 3.0) == pytest.approx(0.8, abs=0.06)  # by weight (400 draws)
    thr = np.array([row[1] for row in d.values])
    assert thr.min() >= 0.5 and thr.max() <= 1.5 and len(set(thr)) > 300  # the Latin hypercube beside it
    assert all(o["mechanisms.trade_elasticity"] in (1.0, 2.0, 3.0) for o in d.overrides)
    again = load_problem(tmp_path / "p.toml").draws
    assert again.values == d.values  # seeded: the same draws every time


def test_posterior_errors_are_one_line(tmp_path):
    (tmp_path / "p.toml").write_text(SPEC)
    with pytest.raises(PolicyError, match="posterior: .*posterior.nc: no such file"):
        load_problem(tmp_path / "p.toml")
    (tmp_path / "posterior.nc").write_text("not netCDF")
    with pytest.raises(PolicyError, match="not a posterior of `alliance calibrate`"):
        load_problem(tmp_path / "p.toml")
    _posterior(tmp_path / "posterior.nc", [1.0, 2.0], [1.0, 1.0], name="mechanisms.threat_weight")
    with pytest.raises(PolicyError, match="posterior: parameter 'mechanisms.threat_weight' is also an uncertainty"):
        load_problem(tmp_path / "p.toml")
    _posterior(tmp_path / "posterior.nc", [1.0, 2.0], [1.0, 1.0], name="mechanisms.no_such_weight")
    with pytest.raises(PolicyError, match="no_such_weight"):
        load_problem(tmp_path / "p.toml")
