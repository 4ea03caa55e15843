"""Sweeps under a calibration's posterior: replicate r of every point draws the same particle, a point's
outcomes equal a plain posterior ensemble at that point, the store does not depend on the task split, and
bad combinations are one-line errors before anything runs."""

from __future__ import annotations

import numpy as np
import pytest
from sweeps_helpers import assert_same, point_data, tiny_spec

from alliance_sim.ensemble import run_ensemble
from alliance_sim.overrides import apply_overrides
from alliance_sim.posterior import load_posterior
from alliance_sim.results import to_dataset
from alliance_sim.sweeps.design import SweepError, make_sweep
from alliance_sim.sweeps.runner import run_sweep
from alliance_sim.sweeps.store import open_store

FACTORS = {"threats.nk_provocations.rate_per_month": {"levels": [0.5, 4.0]},
           "mechanisms.tariff_weight": {"levels": [0.1, 2.0]}}


@pytest.fixture()
def particles(tmp_path):
    path = tmp_path / "particles.csv"
    path.write_text("weight,mechanisms.leader_weight,mechanisms.tariff_weight\n"
                    "1,0.0,0.0\n2,1.5,3.0\n1,0.8,1.0\n")
    return path


def _sweep(tmp_path, particles, **kw):
    spec = tiny_spec({"kind": "grid"}, FACTORS, posterior=str(particles), replicates=24, **kw)
    return make_sweep(spec, sweep_dir=tmp_path)


def test_each_point_is_the_posterior_ensemble_at_that_point(tmp_path, particles):
    """Differential: a point's stored outcomes equal `alliance run --posterior` at the point's overrides,
    the factor (tariff weight) replacing the particle's value for the same parameter."""
    sweep = _sweep(tmp_path, particles)
    store = tmp_path / "s.zarr"
    assert run_sweep(sweep, store, workers=0).complete
    data = point_data(store)
    post = load_posterior(particles)
    for j in (0, sweep.n_points - 1):
        params = apply_overrides(sweep.base, sweep.points.overrides[j])
        # the factor wins: a posterior without the factor's column, applied at the point
        keep = [i for i, n in enumerate(post.names) if n != "mechanisms.tariff_weight"]
        sub = type(post)(post.path, tuple(post.names[i] for i in keep), post.theta[:, keep], post.weights,
                         post.digest)
        ds = to_dataset(run_ensemble(params, replicates=24, seed=sweep.seed, months=sweep.months,
                                     keep_trajectories=24, posterior=sub))
        final = ds.alignment.isel(month=-1).sel(ally="KOR").values
        assert data.final_alignment_mean.sel(ally="KOR").values[j] == pytest.approx(final.mean(), abs=1e-12)
        assert data.p_crossed.sel(ally="KOR").values[j] == pytest.approx(
            float(ds.p_crossed.isel(month=-1).sel(ally="KOR")), abs=1e-12)
    with open_store(store) as ds:
        assert ds.attrs["posterior"] == str(particles) and len(ds.attrs["posterior_sha256"]) == 64


def test_the_posterior_changes_the_outcomes_and_the_split_does_not(tmp_path, particles):
    with_post = _sweep(tmp_path, particles, task_size=1)
    a, b, plain = tmp_path / "a.zarr", tmp_path / "b.zarr", tmp_path / "plain.zarr"
    run_sweep(with_post, a, workers=0)
    run_sweep(_sweep(tmp_path, particles, task_size=4), b, workers=0)
    assert_same(a, b)
    run_sweep(make_sweep(tiny_spec({"kind": "grid"}, FACTORS, replicates=24), sweep_dir=tmp_path), plain,
              workers=0)
    assert not np.array_equal(point_data(a).final_alignment_mean.values,
                              point_data(plain).final_alignment_mean.values)


def test_bad_posteriors_in_a_sweep_are_one_line_errors(tmp_path, particles):
    with pytest.raises(SweepError, match="posterior: .*no such file"):
        _sweep(tmp_path, tmp_path / "missing.csv")
    both = tiny_spec({"kind": "grid"}, FACTORS, posterior=str(particles),
                     set={"population.size_per_ally": 0, "mechanisms.leader_weight": 0.3})
    with pytest.raises(SweepError) as info:
        make_sweep(both, sweep_dir=tmp_path)
    assert "set.mechanisms.leader_weight" in str(info.value) and "\n" not in str(info.value)
    (tmp_path / "neg.csv").write_text("weight,mechanisms.leader_weight\n1,-2\n")
    with pytest.raises(SweepError, match="particle 0"):
        _sweep(tmp_path, tmp_path / "neg.csv")
