"""The observation model: favourable shares from the opinion state, the Φ rule and its inverse, the start
that reproduces the surveyed shares, the streamed series in results.nc, the summary table, the plot of the
observables against the record and the model-vs-observed rows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from matplotlib.image import imread

from alliance_sim import observation
from alliance_sim.ensemble import run_ensemble
from alliance_sim.model.compiled import compile_parameters
from alliance_sim.model.drivers import EnsembleSim
from alliance_sim.model.model import AllianceModel
from alliance_sim.model.parameters import Parameters
from alliance_sim.observed_points import observed_points, within
from alliance_sim.plots import plot_observables, save_figure
from alliance_sim.results import observables_summary, observed_comparison, to_dataset
from alliance_sim.scenario import load_scenario

ALLIES = ("JPN", "KOR")


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


# ------------------------------------------------------------------------------------- analytic cases

@pytest.mark.parametrize("sigma", [0.15, 0.4, 1.0])
def test_phi_round_trip(sigma):
    x = np.linspace(-1, 1, 39) * min(0.95, 4 * sigma)  # within 4 σ: shares inside the clip at 1e-6 of 0 and 1
    np.testing.assert_allclose(observation.mean_from_share(observation.share_from_mean(x, sigma), sigma), x,
                               atol=1e-9)
    f = observation.share_from_mean(np.array([-0.9, 0.9]) * min(1.0, 4 * sigma), sigma)
    shares = np.linspace(f[0], f[1], 25)
    np.testing.assert_allclose(observation.share_from_mean(observation.mean_from_share(shares, sigma), sigma),
                               shares, atol=1e-12)


def test_phi_known_values_and_degenerate_spread():
    assert observation.share_from_mean(0.0, 0.4) == pytest.approx(0.5)
    assert observation.share_from_mean(0.4, 0.4) == pytest.approx(_phi(1.0), abs=1e-12)  # 0.8413
    assert observation.share_from_mean(-0.8, 0.4) == pytest.approx(_phi(-2.0), abs=1e-12)
    assert observation.mean_from_share(0.5, 0.4) == pytest.approx(0.0, abs=1e-12)
    assert observation.mean_from_share(0.8413447460685429, 0.4) == pytest.approx(0.4, abs=1e-9)
    # a poll of 0 % or 100 % maps to a finite opinion, clipped to the opinion range
    assert observation.mean_from_share(0.0, 0.4) == -1.0 and observation.mean_from_share(1.0, 0.4) == 1.0
    # σ = 0: a point mass: the share is a step, the inverse the linear rule 2f − 1
    np.testing.assert_array_equal(observation.share_from_mean(np.array([-0.1, 0.0, 0.1]), 0.0), [0, 0, 1])
    assert observation.mean_from_share(0.75, 0.0) == pytest.approx(0.5)
    # one σ per row (a batch of parameter points) broadcasts
    got = observation.share_from_mean(np.array([[0.2, 0.2], [0.2, 0.2]]), np.array([[0.2], [0.0]]))
    np.testing.assert_allclose(got, [[_phi(1.0), _phi(1.0)], [1.0, 1.0]])


def test_share_of_a_known_population():
    op = np.zeros((2, 2, 10))
    op[0, 0, :3] = 0.5       # 3 of 10 favourable
    op[0, 1, :] = -0.2       # none
    op[1, 0, :] = 0.01       # all
    op[1, 1, :7] = 1.0       # 7 of 10 (exactly 0 is not favourable)
    np.testing.assert_allclose(observation.favourable_share(op, 0.4, citizens=True), [[0.3, 0.0], [1.0, 0.7]])
    agg = np.array([[[0.0], [0.4]]])
    np.testing.assert_allclose(observation.favourable_share(agg, 0.4, citizens=False), [[0.5, _phi(1.0)]])


def test_export_shares_match_the_steps_rule():
    us, cn = observation.export_shares(np.array([0.2, 0.1]), np.array([0.2, 0.3]), np.array([0.2, 0.2]),
                                       np.array([0.2, 0.2]))
    np.testing.assert_allclose(us, [0.2, 0.1 / 1.0])
    np.testing.assert_allclose(cn, [0.2, 0.3])
    np.testing.assert_allclose(us + cn + 0.6 / np.array([1.0, 1.0]), 1.0)


# ------------------------------------------------------------------------------ the start equals the data

def _fav(p: Parameters) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([p.actors[a].public.favorable_us_share for a in ALLIES]),
            np.array([p.actors[a].public.favorable_china_share for a in ALLIES]))


def test_aggregate_start_reproduces_the_surveyed_shares_exactly():
    p = Parameters()
    p.population.size_per_ally = 0
    sim = EnsembleSim(compile_parameters(p, 2), np.arange(4), 1)
    fus, fcn = _fav(p)
    sigma = p.population.opinion_spread
    np.testing.assert_allclose(sim.field("op_us")[:, :, 0], np.broadcast_to(sigma * _ndtri(fus), (4, 2)),
                               atol=1e-12)
    np.testing.assert_allclose(observation.favourable_share(sim.field("op_us"), sigma, False),
                               np.broadcast_to(fus, (4, 2)), atol=1e-12)
    np.testing.assert_allclose(observation.favourable_share(sim.field("op_cn"), sigma, False),
                               np.broadcast_to(fcn, (4, 2)), atol=1e-12)


def _ndtri(f):
    from statistics import NormalDist

    return np.array([NormalDist().inv_cdf(float(v)) for v in f])


def test_citizen_start_reproduces_the_surveyed_shares_within_sampling_error():
    p = Parameters()
    p.population.size_per_ally = 500
    R = 32
    sim = EnsembleSim(compile_parameters(p, 2), np.arange(R), 7)
    fus, fcn = _fav(p)
    n = R * 500
    for field, f in (("op_us", fus), ("op_cn", fcn)):
        got = (sim.field(field) > 0).mean(axis=(0, 2))
        se = np.sqrt(f * (1 - f) / n)
        assert (np.abs(got - f) < 4 * se).all(), (field, got, f)
    # the old linear rule 2f − 1 would have started Japan at Φ(0.1/0.4) = 60 % favourable to the US, not 55 %
    assert abs(_phi((2 * fus[0] - 1) / p.population.opinion_spread) - fus[0]) > 8 * np.sqrt(0.25 / n)


def test_scenario_start_equals_its_shares_for_a_historical_year():
    scn = load_scenario("history/thaad_2016")
    p = scn.params
    sim = EnsembleSim(compile_parameters(p, 2), np.arange(4), 1)
    sigma = p.population.opinion_spread
    mean_us = sim.field("anchor_us")  # the anchors are the initial opinions
    x = observation.mean_from_share(_fav(p)[0], sigma)
    # citizens are normal around σ·Φ⁻¹(f): their mean (before clipping) is within sampling error of it
    assert (np.abs(mean_us.mean(axis=(0, 2)) - x) < 4 * sigma / np.sqrt(mean_us.shape[0] * mean_us.shape[2])).all()


# ----------------------------------------------------------------------------------- results.nc series

@pytest.fixture(scope="module", params=[60, 0], ids=["citizens", "aggregate"])
def run(request):
    p = Parameters()
    p.population.size_per_ally = request.param
    out = run_ensemble(p, replicates=24, months=8, keep_trajectories=24, chunk_size=10)
    return p, out, to_dataset(out, "obs")


def test_shares_in_results_are_fractions_and_match_a_direct_count(run):
    p, out, ds = run
    for name, field in (("favourable_us", "op_us"), ("favourable_china", "op_cn")):
        tr = ds[name].values  # (replicate, month, ally)
        assert np.isfinite(tr).all() and (tr >= 0).all() and (tr <= 1).all()
        for v in (f"{name}_q", f"{name}_mean"):
            assert ds[v].min() >= 0 and ds[v].max() <= 1
        # the streamed mean is the mean of every replicate's share (all replicates are kept here)
        np.testing.assert_allclose(ds[f"{name}_mean"].values, tr.mean(axis=0), atol=1e-8)
        q = ds[f"{name}_q"]
        assert (q.sel(quantile=0.05) <= q.sel(quantile=0.5) + 1e-12).all()
        med = q.sel(quantile=0.5)
        assert (med >= tr.min(axis=0) - 1e-3).all() and (med <= tr.max(axis=0) + 1e-3).all()
        # a direct count: step the same replicates and count citizens with a favourable opinion
        model = AllianceModel(p, replicate_ids=np.arange(24), seed=out.seed, months=8, collect=False)
        sigma = p.population.opinion_spread
        for t in range(8):
            model.step()
            op = getattr(model.state, field)
            direct = (op > 0).mean(axis=-1) if p.population.size_per_ally else np.vectorize(_phi)(op[..., 0] / sigma)
            np.testing.assert_allclose(tr[:, t, :], direct, atol=1e-12)


def test_export_shares_are_in_results(run):
    _, _, ds = run
    for name in ("export_share_us", "export_share_china"):
        assert name + "_q" in ds and ds[name + "_q"].attrs["units"] == "fraction of exports"
        assert 0 < float(ds[name + "_mean"].min()) and float(ds[name + "_mean"].max()) < 1


def test_observables_summary_at_the_horizon(run):
    _, _, ds = run
    obs = observables_summary(ds)
    assert list(obs.index) == list(ALLIES)
    last = ds.month.values[-1]
    for ally in ALLIES:
        assert obs.loc[ally, "favourable_us_median"] == pytest.approx(
            float(ds.favourable_us_q.sel(ally=ally, month=last, quantile=0.5)))
        assert obs.loc[ally, "favourable_china_p05"] <= obs.loc[ally, "favourable_china_p95"]
        freq = ds.ally_decision_freq.sel(ally=ally, ally_option="concede").values.mean()
        assert obs.loc[ally, "concede_rate"] == pytest.approx(freq)


# --------------------------------------------------------------------------- the record, the plot, the rows

@pytest.fixture(scope="module")
def present():
    scn = load_scenario("present_2026")
    out = run_ensemble(scn.params, replicates=32, keep_trajectories=4)
    return to_dataset(out, scn.name)


def test_observed_comparison_rows(present):
    rows = observed_comparison(present)
    months = set(str(m) for m in present.month.values)
    assert len(rows) >= 6 and set(rows.month) <= months
    assert set(rows.quantity) >= {"favourable_us", "export_share_us", "export_share_china"}
    for col in ("observed", "model_median", "model_p05", "model_p95", "model_mean"):
        assert rows[col].between(0, 1).all(), col
    assert (rows.model_p05 <= rows.model_median + 1e-12).all() and (rows.model_median <= rows.model_p95 + 1e-12).all()
    assert (rows.inside_90 == ((rows.observed >= rows.model_p05) & (rows.observed <= rows.model_p95))).all()
    pew = rows[(rows.quantity == "favourable_us") & (rows.ally == "KOR") & (rows.period == "2025")]
    assert len(pew) == 1 and pew.observed.iloc[0] == pytest.approx(0.61) and pew.month.iloc[0] == "2025-04"
    med = float(present.favourable_us_q.sel(ally="KOR", month="2025-04", quantile=0.5))
    assert pew.model_median.iloc[0] == pytest.approx(med)
    # a yearly export share is compared with the average over its twelve months
    year = rows[(rows.quantity == "export_share_us") & (rows.ally == "KOR") & (rows.period == "2025")]
    months25 = [f"2025-{m:02d}" for m in range(1, 13)]
    want = float(present.export_share_us_mean.sel(ally="KOR", month=months25).mean())
    assert year.model_mean.iloc[0] == pytest.approx(want)
    # nothing from outside the run
    assert not (rows.period == "2024").any()


def test_observed_points_are_dated_fractions():
    pts = observed_points()
    assert pts.value.between(0, 1).all() and len(pts) > 40
    kor25 = pts[(pts.quantity == "favourable_us") & (pts.ally == "KOR") & (pts.period == "2025")]
    assert kor25.month.iloc[0] == "2025-04"  # fielded 2025-01/04: the end of fieldwork
    assert set(within(pts, ["2025-04"]).period_type) <= {"poll", "month", "partial_month"}


def _is_blank(png) -> bool:
    img = imread(png)[..., :3]
    return float(img.std()) < 0.01 or float((img < 0.95).mean()) < 0.01


def test_observables_plot_is_drawn_with_the_observations(present, tmp_path):
    fig = plot_observables(present)
    axes = fig.axes
    observed_markers = [ln for ax in axes for ln in ax.get_lines() if ln.get_gid() == "observed"]
    pts = within(observed_points(), [str(m) for m in present.month.values])
    assert len(observed_markers) == len(pts) > 0
    # each marker sits at its observation's value and month
    ys = sorted(float(ln.get_ydata()[0]) for ln in observed_markers)
    np.testing.assert_allclose(ys, sorted(pts.value))
    medians = [ln for ax in axes for ln in ax.get_lines() if ln.get_label().startswith("model:")]
    assert len(medians) == 4 * present.sizes["ally"]
    png = save_figure(fig, tmp_path / "observables.png")
    assert png.stat().st_size > 20_000 and not _is_blank(png)


def test_blank_check_fails_on_a_blank_image(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 3))
    fig.add_subplot().set_axis_off()
    assert _is_blank(save_figure(fig, tmp_path / "blank.png"))


def test_run_directory_has_observables(present, tmp_path):
    from alliance_sim.rundir import OBSERVABLES, PLOTS, write_run_dir

    out = write_run_dir(tmp_path / "run", present, {"scenario": "present_2026"})
    table = (out / OBSERVABLES).read_text(encoding="utf-8").splitlines()
    assert table[0].startswith("ally,favourable_us_median") and len(table) == 3
    assert (out / PLOTS / "observables.png").is_file()
