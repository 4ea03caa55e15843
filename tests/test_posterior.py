"""Posterior ensembles (``alliance run --posterior``): each replicate's parameters are one particle of a
calibration's posterior, chosen by weight with a draw of (seed, replicate) alone."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

from alliance_sim.cli import app
from alliance_sim.ensemble import run_ensemble
from alliance_sim.posterior import PosteriorError, check_posterior, load_posterior, particle_of
from alliance_sim.results import to_dataset
from alliance_sim.scenario import load_scenario

TW = "mechanisms.tariff_weight"


def _write(path, values, weights, name=TW):
    n = len(values)
    theta = np.stack([np.full((n, 1), 0.5), np.asarray(values, float)[:, None]])
    w = np.stack([np.full(n, 1.0 / n), np.asarray(weights, float) / np.sum(weights)])
    xr.Dataset({"theta": (("generation", "particle", "parameter"), theta),
                "weight": (("generation", "particle"), w)},
               coords={"generation": [0, 1], "particle": np.arange(n), "parameter": [name]}).to_netcdf(
        path, engine="h5netcdf")
    return path


def test_particles_follow_the_weights_and_do_not_depend_on_the_split(tmp_path):
    post = load_posterior(_write(tmp_path / "p.nc", [0.2, 0.8, 1.4], [0.2, 0.3, 0.5]))
    ids = np.arange(20_000)
    k = particle_of(post, 11, ids)
    assert np.bincount(k, minlength=3) / len(ids) == pytest.approx([0.2, 0.3, 0.5], abs=0.015)
    assert np.array_equal(particle_of(post, 11, ids[5000:5100]), k[5000:5100])
    assert not np.array_equal(particle_of(post, 12, ids), k)  # the seed matters


@pytest.fixture(scope="module")
def shock():
    p = load_scenario("tariff_shock_2025").params.model_copy(deep=True)
    p.population.size_per_ally = 0
    return p


def test_each_replicate_runs_its_particles_parameters(shock, tmp_path):
    """Differential: replicate r of the posterior ensemble is bit-identical to replicate r of a plain run at
    its particle's parameters."""
    post = load_posterior(_write(tmp_path / "p.nc", [0.2, 1.4], [0.5, 0.5]))
    R, T, seed = 40, 12, 3
    mixed = to_dataset(run_ensemble(shock, replicates=R, seed=seed, months=T, keep_trajectories=R, chunk_size=16,
                                    posterior=post))
    k = particle_of(post, seed, np.arange(R))
    assert 5 < k.sum() < R - 5
    for j, value in enumerate((0.2, 1.4)):
        p = shock.model_copy(deep=True)
        p.mechanisms.tariff_weight = value
        plain = to_dataset(run_ensemble(p, replicates=R, seed=seed, months=T, keep_trajectories=R))
        rows = np.flatnonzero(k == j)
        assert np.array_equal(mixed.alignment.values[rows], plain.alignment.values[rows])
    assert float(mixed.alignment.isel(month=-1).std("replicate").sel(ally="KOR")) > 0


def test_posterior_runs_are_split_independent(shock, tmp_path):
    post = load_posterior(_write(tmp_path / "p.nc", [0.2, 0.8, 1.4], [0.2, 0.3, 0.5]))
    a = to_dataset(run_ensemble(shock, replicates=50, seed=4, months=8, chunk_size=7, keep_trajectories=0,
                                posterior=post))
    b = to_dataset(run_ensemble(shock, replicates=50, seed=4, months=8, chunk_size=50, keep_trajectories=0,
                                posterior=post))
    for v in ("alignment_q", "alignment_mean", "p_crossed", "alignment_driver_mean"):
        assert np.array_equal(a[v].values, b[v].values), v


def test_bad_posteriors_are_one_line_errors(shock, tmp_path):
    with pytest.raises(PosteriorError, match="no such file"):
        load_posterior(tmp_path / "missing.nc")
    (tmp_path / "junk.nc").write_text("junk")
    with pytest.raises(PosteriorError, match="not a posterior of `alliance calibrate`"):
        load_posterior(tmp_path / "junk.nc")
    post = load_posterior(_write(tmp_path / "typo.nc", [0.2], [1.0], name="mechanisms.tarif_weight"))
    with pytest.raises(PosteriorError, match="tarif_weight"):
        check_posterior(shock, post)
    post = load_posterior(_write(tmp_path / "neg.nc", [-1.0], [1.0]))
    with pytest.raises(PosteriorError, match="particle 0"):
        check_posterior(shock, post)


def test_cli_run_with_a_posterior(tmp_path):
    path = _write(tmp_path / "posterior.nc", [0.2, 1.4], [0.5, 0.5])
    out = tmp_path / "run"
    r = CliRunner().invoke(app, ["run", "tariff_shock_2025", "-n", "32", "--months", "6", "--no-plots",
                                 "--set", "population.size_per_ally=0", "--posterior", str(path), "--out", str(out)])
    assert r.exit_code == 0, r.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["posterior"] == str(path) and len(manifest["posterior_sha256"]) == 64
    assert manifest["posterior_parameters"] == [TW]
    bad = CliRunner().invoke(app, ["run", "tariff_shock_2025", "-n", "8", "--posterior", str(tmp_path / "no.nc"),
                                   "--out", str(tmp_path / "run2")])
    assert bad.exit_code != 0 and "no such file" in bad.output
    assert len([ln for ln in bad.output.strip().splitlines() if ln.strip()]) == 1
    assert not (tmp_path / "run2").exists()


def test_a_shipped_particles_csv_draws_exactly_what_its_posterior_nc_draws(shock, tmp_path):
    """The CSV form (``particles.csv``, how calibrations ship their posterior) is the netCDF's last generation:
    same particles, same weights, so the same seed gives bit-identical ensembles."""
    from alliance_sim.calibration.outputs import particles_table

    nc = _write(tmp_path / "p.nc", [0.2, 0.8, 1.4], [0.2, 0.3, 0.5])
    with xr.open_dataset(nc, engine="h5netcdf") as ds:
        particles_table(ds.load()).to_csv(tmp_path / "particles.csv", index=False, float_format="%.17g")
    a, b = load_posterior(nc), load_posterior(tmp_path / "particles.csv")
    assert a.names == b.names and np.array_equal(a.theta, b.theta) and np.array_equal(a.weights, b.weights)
    assert a.digest == b.digest
    ra = to_dataset(run_ensemble(shock, replicates=24, seed=5, months=6, keep_trajectories=0, posterior=a))
    rb = to_dataset(run_ensemble(shock, replicates=24, seed=5, months=6, keep_trajectories=0, posterior=b))
    assert np.array_equal(ra.alignment_q.values, rb.alignment_q.values)


def test_bad_particles_csv_are_one_line_errors(tmp_path):
    (tmp_path / "noweight.csv").write_text(f"w,{TW}\n1,0.3\n")
    with pytest.raises(PosteriorError, match="expected a 'weight' column"):
        load_posterior(tmp_path / "noweight.csv")
    (tmp_path / "text.csv").write_text(f"weight,{TW}\n1,high\n")
    with pytest.raises(PosteriorError, match=f"{TW}: expected numbers"):
        load_posterior(tmp_path / "text.csv")
    (tmp_path / "zero.csv").write_text(f"weight,{TW}\n0,0.3\n")
    with pytest.raises(PosteriorError, match="no weighted particle"):
        load_posterior(tmp_path / "zero.csv")
    with pytest.raises(PosteriorError, match="no such file"):
        load_posterior(tmp_path / "missing.csv")


def test_compare_under_a_posterior_gives_each_replicate_the_same_particle_in_every_scenario(shock, tmp_path):
    """Common random numbers extend to the parameters: the same scenario twice is identical under the
    posterior (each replicate's particle depends on the seed and the replicate alone)."""
    import alliance_sim as al

    post = load_posterior(_write(tmp_path / "p.nc", [0.0, 1.4], [0.5, 0.5]))
    res = al.compare([shock, shock.model_copy(deep=True)], replicates=30, seed=9, months=8, keep_trajectories=30,
                     posterior=post)
    a, b = (r.dataset for r in res.values())
    assert np.array_equal(a.alignment.values, b.alignment.values)
    plain = to_dataset(run_ensemble(shock, replicates=30, seed=9, months=8, keep_trajectories=30))
    assert not np.array_equal(a.alignment.values, plain.alignment.values)   # the posterior was used
    assert a.attrs.get("posterior") == str(tmp_path / "p.nc")
