"""Driver attribution (docs/model.md §8.1): each driver group's share of every tie's change, kept by the step.

* The identity: the shares add up to the change of every tie (and of every ally's alignment) since the start,
  in every replicate and month — aggregate population, citizens, an extra actor.
* Each group holds its own mechanisms: with only one group's terms switched on, that group's share is the
  whole change (which is material) and every other share is zero.
* The accounting never changes a result (attribution on and off give bit-identical trajectories).
* Directions with common random numbers, and the plumbing into results.nc, drivers.csv and the plot.
"""

from __future__ import annotations

import numpy as np
import pytest

from alliance_sim.ensemble import run_ensemble
from alliance_sim.model.layout import DRIVER_GROUPS, DRV
from alliance_sim.model.model import AllianceModel
from alliance_sim.model.step import TERM
from alliance_sim.results import driver_table, to_dataset
from alliance_sim.scenario import load_scenario
from alliance_sim.summaries import alignment_shares

R = 32
MONTHS = 30


def _params(name: str, citizens: int = 0):
    p = load_scenario(name).params
    if citizens:
        p = p.model_copy(deep=True)
        p.population.size_per_ally = citizens
    return p


def _trajectory(params, *, switched_off=(), attribution=True, replicates=R, months=MONTHS):
    """Per month: (ties of all pairs, shares (R, pairs, groups), alignment) after the step, and the start."""
    m = AllianceModel(params, replicate_ids=np.arange(replicates), months=months, collect=False,
                      switched_off=switched_off, attribution=attribution)
    c = m.compiled
    s = m.state
    start = (s.ties[:, c.pair_i, c.pair_j].copy(), s.alignment.copy())
    out = []
    while not m.finished:
        m.step()
        out.append((s.ties[:, c.pair_i, c.pair_j].copy(), s.driver_share.copy(), s.alignment.copy()))
    return c, start, out


CASES = {
    "aggregate": lambda: _params("tariff_shock_2025"),
    "citizens": lambda: _params("tariff_shock_2025", citizens=40),
    "north_korea_actor": lambda: _params("north_korea_actor"),
    "china_behavioural": lambda: _params("china_charm_offensive"),
    "present_2026": lambda: _params("present_2026"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_shares_add_up_to_the_change_of_every_tie_and_alignment(case):
    c, (ties0, align0), months = _trajectory(CASES[case]())
    moved = 0.0
    for ties, shares, align in months:
        assert shares.shape == ties.shape + (len(DRIVER_GROUPS),)
        np.testing.assert_allclose(shares.sum(-1), ties - ties0, rtol=0, atol=1e-12)
        np.testing.assert_allclose(alignment_shares(c, shares).sum(-1), align - align0, rtol=0, atol=1e-12)
        moved = max(moved, float(np.abs(ties - ties0).max()))
    assert moved > 0.01  # the identity is tested on ties that really moved


def test_attribution_never_changes_a_result():
    p = _params("tariff_shock_2025", citizens=20)
    _, _, on = _trajectory(p, attribution=True)
    _, _, off = _trajectory(p, attribution=False)
    for (t_on, _, a_on), (t_off, sh_off, a_off) in zip(on, off, strict=True):
        assert np.array_equal(t_on, t_off) and np.array_equal(a_on, a_off)
        assert not sh_off.any()
    assert np.abs(on[-1][1]).max() > 0.01


# (scenario, the only terms left on, the group that must hold the whole change)
SINGLE_GROUP = {
    "tariffs_trade": ("tariff_shock_2025", ("tariff_strain",)),
    "burden_reliability": ("burden_sharing_squeeze", ("burden_friction", "threat_protection", "reliability_drift",
                                                      "threat_events")),
    "domestic_politics": ("tariff_shock_2025", ("leader_pull", "tariff_nationalism", "elections", "leader_events")),
    "balance": ("tariff_shock_2025", ("balance", "tariff_strain")),
    "china": ("china_charm_offensive", ("inducement_impulse", "coercion_impulse")),
    "ally_choices": ("tariff_shock_2025", ("concession_impulse", "hedge_impulse", "retaliation_impulse")),
    "noise": ("tariff_shock_2025", ("tie_noise",)),
}


@pytest.mark.parametrize("group", list(SINGLE_GROUP))
def test_each_group_holds_its_own_mechanisms(group):
    scenario, kept = SINGLE_GROUP[group]
    off = tuple(t.name for t in TERM if t.name not in kept)
    c, (ties0, _), months = _trajectory(_params(scenario), switched_off=off)
    ties, shares, _ = months[-1]
    g = DRV[group]
    others = [k for k in range(len(DRIVER_GROUPS)) if k != g]
    if group in ("burden_reliability", "balance"):
        # protection at the start's reliability is the threat group's; balance needs something to balance
        others = [k for k in others if k not in (DRV.threat, DRV.tariffs_trade)]
        np.testing.assert_allclose(shares.sum(-1), ties - ties0, rtol=0, atol=1e-12)
    else:
        np.testing.assert_allclose(shares[..., g], ties - ties0, rtol=0, atol=1e-12)
    assert np.abs(shares[..., others]).max() < 1e-12
    assert np.abs(shares[..., g]).max() > 1e-3, f"{group}: its mechanisms did not move any tie"


def test_tariffs_drive_korea_further_under_the_tariff_shock_than_in_the_baseline():
    """Common random numbers: the same replicates of both scenarios; per-replicate difference of KOR's
    tariffs-and-trade share at the horizon, well beyond its Monte Carlo error."""
    diffs = []
    for name in ("tariff_shock_2025", "baseline_2025"):
        c, _, months = _trajectory(_params(name), replicates=96, months=24)
        kor = c.allies.index("KOR")
        diffs.append(alignment_shares(c, months[-1][1])[:, kor, DRV.tariffs_trade])
    d = diffs[0] - diffs[1]
    assert d.mean() < -5 * d.std(ddof=1) / np.sqrt(len(d)) and d.mean() < -0.02


@pytest.fixture(scope="module")
def small_run():
    p = _params("tariff_shock_2025")
    out = run_ensemble(p, replicates=64, seed=3, months=18, keep_trajectories=8, chunk_size=24)
    return p, to_dataset(out, "attribution_test")


def test_results_carry_the_shares_and_they_add_up(small_run):
    p, ds = small_run
    assert ds.alignment_driver_mean.dims == ("month", "ally", "driver")
    assert list(ds.driver.values) == list(DRIVER_GROUPS)
    assert ds.tie_driver_mean.dims == ("month", "pair", "driver") and "tie_driver_q" not in ds  # means only
    # means are exact (fixed point): month-to-month changes of the summed shares equal those of alignment
    total = ds.alignment_driver_mean.sum("driver")
    np.testing.assert_allclose((total - total.isel(month=0)).values,
                               (ds.alignment_mean - ds.alignment_mean.isel(month=0)).values, atol=1e-7)
    # kept trajectories: the shares add up to each replicate's change from its start
    start = AllianceModel(p, replicate_ids=ds.replicate.values, seed=3, months=18, collect=False).state.alignment
    np.testing.assert_allclose(ds.alignment_driver.sum("driver").values,
                               ds.alignment.values - start[:, None, :], atol=1e-9)
    q = ds.alignment_driver_q.sel(ally="KOR", driver="tariffs_trade").isel(month=-1)
    assert float(q.sel(quantile=0.05)) <= float(q.sel(quantile=0.5)) <= float(q.sel(quantile=0.95)) < 0


def test_driver_table_and_plot(small_run, tmp_path):
    from alliance_sim import plots

    _, ds = small_run
    table = driver_table(ds)
    assert len(table) == ds.sizes["month"] * ds.sizes["ally"] * ds.sizes["driver"]
    last = table[(table.month == ds.month.values[-1]) & (table.ally == "KOR")].set_index("driver")
    assert last["mean"].sum() == pytest.approx(
        float(ds.alignment_mean.sel(ally="KOR").isel(month=-1)
              - (ds.alignment_mean.sel(ally="KOR").isel(month=0) - ds.alignment_driver_mean.sel(ally="KOR")
                 .isel(month=0).sum())), abs=1e-6)
    assert (last["q05"] <= last["q95"]).all()
    fig = plots.plot_drivers(ds)
    waterfall = fig.axes[1]
    assert [t.get_text() for t in waterfall.get_yticklabels()][0] == "start"
    assert len(waterfall.patches) == len(DRIVER_GROUPS) + 2  # start, one bar per group, horizon
    path = plots.save_figure(fig, tmp_path / "drivers.png")
    assert path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 20_000


def test_quasi_alliance_draws_the_allies_together_when_both_fear_abandonment():
    """Cha (1999), with common random numbers: under the tariff shock the patron's reliability falls in both
    allies' eyes, so with the quasi-alliance weight on, the Japan–Korea tie ends higher than without it (per
    replicate, beyond Monte Carlo error), and the accounting puts the gain under burden & reliability."""
    ends = {}
    for weight in (0.0, 2.0):
        p = _params("tariff_shock_2025").model_copy(deep=True)
        p.mechanisms.quasi_alliance_weight = weight
        c, (ties0, _), months = _trajectory(p, replicates=64, months=24)
        q = c.pairs.index(tuple(sorted((c.actors.index("JPN"), c.actors.index("KOR")))))
        ends[weight] = months[-1][0][:, q] - ties0[:, q]
        if weight:
            shares = months[-1][1][:, q, :]
            assert shares[:, DRV.burden_reliability].mean() > 0.01
    d = ends[2.0] - ends[0.0]
    assert d.mean() > 5 * d.std(ddof=1) / np.sqrt(len(d)) and d.mean() > 0.01


def test_a_direct_event_moves_its_tie_and_is_accounted_as_such():
    """A Japan–Korea dispute (export controls, 2019-style): with common random numbers the tie drops by about
    the event's size that month and recovers only gradually; the accounting holds it under direct events."""
    from alliance_sim.model.parameters import ScriptedEvent

    runs = {}
    for size in (0.0, -0.3):
        p = _params("baseline_2025").model_copy(deep=True)
        p.events = list(p.events) + [ScriptedEvent(month="2025-09", kind="tie", targets=["JPN", "KOR"],
                                                   magnitude=size, label="dispute")]
        p = p.model_validate(p.model_dump())
        c, _, months = _trajectory(p, replicates=48, months=18)
        q = c.pairs.index(tuple(sorted((c.actors.index("JPN"), c.actors.index("KOR")))))
        runs[size] = (np.array([tm[:, q] for tm, _, _ in months]), np.array([sh[:, q, DRV.direct_events]
                                                                             for _, sh, _ in months]))
    k = c.month_labels.index("2025-09")
    gap = runs[-0.3][0] - runs[0.0][0]  # (months, replicates)
    assert gap[k].mean() == pytest.approx(-0.3, abs=0.05)
    assert gap[k - 1].mean() == pytest.approx(0.0, abs=1e-12)  # nothing before the event
    assert gap[k].mean() < gap[k + 6].mean() < -0.02  # recovers gradually
    np.testing.assert_allclose(runs[-0.3][1][k], -0.3, atol=1e-12)  # that month's share is the event itself
    assert np.abs(runs[0.0][1]).max() == 0.0


def test_tie_event_needs_two_actors_and_a_size_within_a_tie():
    from alliance_sim.model.parameters import Parameters, ScriptedEvent

    for targets, size, msg in ((["JPN"], -0.2, "two different actors"), (["JPN", "JPN"], -0.2, "two different"),
                               (["JPN", "KOR"], -1.5, "moves a tie by -1..1")):
        p = Parameters()
        with pytest.raises(ValueError, match=msg):
            p.events = [ScriptedEvent(month="2025-09", kind="tie", targets=targets, magnitude=size)]
            Parameters.model_validate(p.model_dump())


def test_results_from_before_attribution_still_load_and_plot(small_run, tmp_path):
    from alliance_sim import plots
    from alliance_sim.rundir import load_results, write_results

    _, ds = small_run
    old = ds.drop_vars([v for v in ds.data_vars if "_driver" in v]).drop_vars("driver")
    path = write_results(old, tmp_path / "results.nc")
    back = load_results(path)
    assert "alignment_driver_mean" not in back
    assert "drivers" not in plots.plots_of(back) and "drivers" in plots.plots_of(ds)
    assert driver_table(back).empty
