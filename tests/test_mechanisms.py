"""Each mechanism term of the model on its own: direction, bounds and known analytic cases.

One section per module of ``alliance_sim.model.mechanisms`` (ties, threat, trade, burden,
challenger, domestic, decisions), plus the engine-level check that the calibrated start is a
fixed point when nothing moves the drivers.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax

from alliance_sim.model import rng
from alliance_sim.model.compiled import compile_parameters
from alliance_sim.model.mechanisms import burden, challenger, decisions, domestic, threat, ties, trade
from alliance_sim.model.model import AllianceModel
from alliance_sim.model.parameters import (
    AllyPolicy,
    ChallengerPolicy,
    Parameters,
    PatronPolicy,
    TariffStep,
)

RNG = np.random.default_rng(12345)  # only for generating test inputs, never inside the model


def _sym(n, values):
    """Symmetric (1, n, n) tie matrix from {(i, j): value}."""
    t = np.zeros((1, n, n))
    for (i, j), v in values.items():
        t[0, i, j] = t[0, j, i] = v
    return t


def _random_ties(R, n, low=-0.999, high=0.999):
    t = RNG.uniform(low, high, (R, n, n))
    t = np.triu(t, 1)
    return t + np.swapaxes(t, 1, 2)


# ============================================================================ ties and balance


def test_balance_pressure_balanced_triad_is_positive():
    # + + + : every tie has a friend-of-a-friend, pressure keeps it positive.
    b = ties.balance_pressure(_sym(3, {(0, 1): 1.0, (0, 2): 1.0, (1, 2): 1.0}))
    off = b[0][~np.eye(3, dtype=bool)]
    np.testing.assert_allclose(off, 1.0)


def test_balance_pressure_unbalanced_triad_pushes_toward_balance():
    # + + − : 0–1 friends, 0–2 friends, 1–2 enemies.  The friend of my enemy is my enemy: pressure
    # on 0–1 is negative (T02·T21 = −1) and on 1–2 positive (T10·T02 = +1).
    b = ties.balance_pressure(_sym(3, {(0, 1): 1.0, (0, 2): 1.0, (1, 2): -1.0}))[0]
    assert b[0, 1] == pytest.approx(-1.0)
    assert b[0, 2] == pytest.approx(-1.0)
    assert b[1, 2] == pytest.approx(1.0)


def test_balance_pressure_enemy_of_enemy_is_friend():
    # − − ? : 0 and 1 share the enemy 2: pressure on 0–1 is positive.
    b = ties.balance_pressure(_sym(3, {(0, 2): -0.8, (1, 2): -0.5, (0, 1): 0.0}))[0]
    assert b[0, 1] == pytest.approx(0.4)


def test_balance_pressure_symmetric_bounded_zero_diagonal():
    t = _random_ties(200, 5)
    b = ties.balance_pressure(t)
    np.testing.assert_allclose(b, np.swapaxes(b, 1, 2))
    assert (np.abs(b) <= 1.0 + 1e-12).all()
    assert (b[:, np.arange(5), np.arange(5)] == 0).all()
    # Average over the n − 2 third parties: a 4-actor case by hand.
    t4 = _sym(4, {(0, 2): 0.5, (2, 1): 0.6, (0, 3): -0.4, (3, 1): 0.5})
    assert ties.balance_pressure(t4)[0, 0, 1] == pytest.approx((0.5 * 0.6 - 0.4 * 0.5) / 2)


def test_alignment_and_cohesion_formulas():
    # Actors: 0 patron, 1 challenger, 2 and 3 allies.
    t = _sym(4, {(0, 2): 0.8, (1, 2): -0.4, (0, 3): 0.6, (1, 3): 0.2, (2, 3): 0.1, (0, 1): -0.5})
    a = ties.alignment(t, np.array([2, 3]), 0, 1)
    np.testing.assert_allclose(a, [[0.6, 0.2]])
    coh = ties.cohesion(t, np.array([[0, 2], [0, 3], [2, 3]]))
    np.testing.assert_allclose(coh, [(0.8 + 0.6 + 0.1) / 3])
    # An ally closer to the challenger than to the patron is on Beijing's side (< 0).
    t2 = _sym(4, {(0, 2): 0.1, (1, 2): 0.5})
    assert ties.alignment(t2, np.array([2]), 0, 1)[0, 0] < 0


def test_alignment_and_cohesion_bounds():
    t = _random_ties(500, 4, -1.0, 1.0)
    a = ties.alignment(t, np.array([2, 3]), 0, 1)
    c = ties.cohesion(t, np.array([[0, 2], [0, 3], [2, 3]]))
    assert (np.abs(a) <= 1).all() and (np.abs(c) <= 1).all()
    # Extremes are reachable: fully with the patron, fully with the challenger.
    assert ties.alignment(_sym(3, {(0, 2): 1.0, (1, 2): -1.0}), np.array([2]), 0, 1)[0, 0] == 1.0
    assert ties.alignment(_sym(3, {(0, 2): -1.0, (1, 2): 1.0}), np.array([2]), 0, 1)[0, 0] == -1.0


def test_tie_target_bounded_and_monotone_in_drivers():
    c = np.zeros((1, 3, 3))
    b = np.zeros((1, 3, 3))
    d_lo, d_hi = np.full((1, 3, 3), -0.5), np.full((1, 3, 3), 0.5)
    lo, hi = ties.tie_target(c, b, d_lo, 0.5), ties.tie_target(c, b, d_hi, 0.5)
    assert (hi > lo).all()
    assert ties.tie_target(c, b, np.full((1, 3, 3), 1e6), 0.5).max() <= 1.0
    # More balance pressure, higher target; the weight scales it.
    assert (ties.tie_target(c, b + 0.2, d_lo, 0.5) > lo).all()
    np.testing.assert_allclose(ties.tie_target(c, b + 0.2, d_lo, 0.0), lo)


def test_calibrated_intercept_makes_start_ties_their_own_targets():
    t = _random_ties(50, 5, -0.95, 0.95)
    b = ties.balance_pressure(t)
    d = RNG.normal(0, 1, t.shape)
    d = d + np.swapaxes(d, 1, 2)
    c = ties.calibrate_intercept(t, b, d, 0.7)
    target = ties.tie_target(c, b, d, 0.7)
    off = ~np.eye(5, dtype=bool)
    np.testing.assert_allclose(target[:, off], t[:, off], atol=1e-12)
    # ... so one partial-adjustment step without impulses or noise leaves them where they are,
    nxt = ties.tie_step(t, target, 0.3, np.zeros_like(t), 0.0)
    np.testing.assert_allclose(nxt, t, atol=1e-12)
    # ... while a change of the drivers moves them in the driver's direction.
    moved = ties.tie_step(t, ties.tie_target(c, b, d + 0.3, 0.7), 0.3, np.zeros_like(t), 0.0)
    assert (moved[:, off] > t[:, off]).all()


def test_calibrate_intercept_finite_for_extreme_ties():
    t = _sym(3, {(0, 1): 1.0, (0, 2): -1.0, (1, 2): 0.0})
    c = ties.calibrate_intercept(t, ties.balance_pressure(t), np.zeros_like(t), 1.0)
    assert np.isfinite(c).all() and (np.diagonal(c, axis1=1, axis2=2) == 0).all()


@pytest.mark.parametrize("rate", [0.0, 0.15, 1.0])
def test_tie_step_partial_adjustment_and_bounds(rate):
    t = _random_ties(300, 4)
    target = _random_ties(300, 4, -1.0, 1.0)
    new = ties.tie_step(t, target, rate, np.zeros_like(t), 0.0)
    off = ~np.eye(4, dtype=bool)
    np.testing.assert_allclose(new[:, off], np.clip(t + rate * (target - t), -0.999, 0.999)[:, off])
    # Huge impulses and noise are clipped inside (-1, 1); the diagonal stays zero.
    wild = ties.tie_step(t, target, rate, _random_ties(300, 4, -50, 50), RNG.normal(0, 10, t.shape))
    assert (np.abs(wild) < 1.0).all()
    assert (wild[:, np.arange(4), np.arange(4)] == 0).all()


def test_symmetric_noise_places_each_pair_draw_twice():
    z = RNG.normal(size=(10, 3))
    out = ties.symmetric_noise(z, np.array([0, 0, 1]), np.array([1, 2, 2]), 3, 0.02)
    np.testing.assert_allclose(out, np.swapaxes(out, 1, 2))
    np.testing.assert_allclose(out[:, 0, 2], 0.02 * z[:, 1])
    assert (out[:, np.arange(3), np.arange(3)] == 0).all()


def _quiet_params() -> Parameters:
    """Everything stochastic or behavioural switched off, so the drivers stay at their start values."""
    p = Parameters()
    p.population.size_per_ally = 0
    p.mechanisms.tie_noise_sd = 0.0
    for proc in p.threats.values():
        proc.mean_magnitude = 0.0
    p.us_policy.mode = "scripted"
    p.china_policy.mode = "scripted"
    ap = p.ally_policy
    ap.concede_base_utility = ap.hedge_base_utility = ap.retaliate_base_utility = -20.0
    ap.concede_stance_weight = ap.hedge_stance_weight = 0.0
    ap.concede_protection_weight = ap.hedge_unreliability_weight = 0.0
    return p


def test_engine_calibrated_start_is_a_fixed_point():
    m = AllianceModel(_quiet_params(), replicate_ids=np.arange(8), seed=1, months=12, collect=False)
    t0 = m.state.ties.copy()
    for _ in range(12):
        m.step()
        assert (m.last_decisions.ally == 0).all()
    np.testing.assert_allclose(m.state.ties, t0, atol=1e-10)


def test_engine_tariff_moves_the_tie_with_the_patron_off_the_fixed_point():
    # The same quiet world with a 25 % tariff on Japan from month 1: only USA–JPN (and, through
    # balance, its neighbours) moves, and USA–JPN falls.
    p = _quiet_params()
    p.tariffs = [TariffStep(month="2025-08", target="JPN", rate=0.25)]
    m = AllianceModel(p, replicate_ids=np.arange(4), seed=1, months=12, collect=False)
    t0 = m.state.ties.copy()
    for _ in range(12):
        m.step()
    usa, jpn = m.compiled.actors.index("USA"), m.compiled.actors.index("JPN")
    assert (m.state.ties[:, usa, jpn] < t0[:, usa, jpn] - 0.02).all()


# ============================================================================ threat


def _one_process(rate=2.0, mag=0.05, weights=(1.0, 0.5)):
    return (np.array([rate]), np.array([mag]), np.array([list(weights)]), np.array([0]))


def test_stationary_stock_formula():
    rates, mags, w, src = _one_process()
    rho = 0.5 ** (1 / 6)
    s = threat.stationary_stock(rates, mags, w, src, 1, rho)
    np.testing.assert_allclose(s[:, 0], np.array([1.0, 0.5]) * 2.0 * 0.05 / (1 - rho))


def test_stationary_stock_is_limit_of_decay_with_constant_additions():
    rates = np.array([1.5, 3.0, 0.3])
    mags = np.array([0.05, 0.03, 0.08])
    w = np.array([[1.0, 0.8, 0.2], [0.4, 1.0, 0.0], [0.8, 0.6, 0.2]])
    src = np.array([0, 1, 0])
    rho = 0.5 ** (1 / 6)
    target = threat.stationary_stock(rates, mags, w, src, 2, rho)
    flow = np.zeros((3, 2))
    for k in range(3):
        flow[:, src[k]] += w[k] * rates[k] * mags[k]
    h = np.zeros((1, 3, 2))
    for _ in range(600):
        h = threat.decay_stock(h, rho, flow[None])
    np.testing.assert_allclose(h[0], target, rtol=1e-10)
    # ... and it is a fixed point of the decay.
    np.testing.assert_allclose(threat.decay_stock(target, rho, flow), target)


def test_stationary_stock_is_long_run_mean_of_stochastic_events():
    # Poisson counts × m × Exp(1) severities: expected addition λ·m per month, so the mean stock over
    # replicates and months equals the stationary stock (within Monte Carlo error).
    rates, mags, w, src = _one_process(rate=2.0, mag=0.05)
    rho = 0.5 ** (1 / 6)
    target = threat.stationary_stock(rates, mags, w, src, 1, rho)
    keys = rng.replicate_keys(7, np.arange(2000))
    h = np.broadcast_to(target, (2000, 2, 1)).copy()
    means = []
    for t in range(120):
        sev = threat.event_severity(rng.uniforms(keys, t, rng.STREAM_THREAT_COUNT, 1),
                                    rng.uniforms(keys, t, rng.STREAM_THREAT_MAGNITUDE, 1), rates, mags)
        h = threat.decay_stock(h, rho, threat.add_events(sev, w, src, 1))
        means.append(h.mean(axis=0))
    np.testing.assert_allclose(np.mean(means, axis=0), target, rtol=0.02)


def test_event_severity_zero_rate_zero_and_nonnegative():
    keys = rng.replicate_keys(3, np.arange(1000))
    u1 = rng.uniforms(keys, 0, rng.STREAM_THREAT_COUNT, 2)
    u2 = rng.uniforms(keys, 0, rng.STREAM_THREAT_MAGNITUDE, 2)
    sev = threat.event_severity(u1, u2, np.array([0.0, 3.0]), np.array([0.5, 0.5]))
    assert (sev[:, 0] == 0).all() and (sev >= 0).all() and np.isfinite(sev).all()
    assert abs(sev[:, 1].mean() - 1.5) < 0.2


def test_add_events_weights_and_sources():
    sev = np.array([[1.0, 2.0]])
    w = np.array([[1.0, 0.5], [0.0, 1.0]])
    add = threat.add_events(sev, w, np.array([1, 0]), 2)
    np.testing.assert_allclose(add[0], [[0.0, 1.0], [2.0, 0.5]])


def test_perceived_threat_monotone_in_stock_and_in_unit_interval():
    stock = np.linspace(0.0, 30.0, 3001)[:, None]
    p = threat.perceived_threat(stock)
    assert p[0] == 0.0
    assert (np.diff(p) > 0).all()  # strictly increasing while it can be told from 1 in float64
    assert (p >= 0).all() and (p < 1).all()
    # Total over sources; per source, each in [0, 1) as well.
    two = np.array([[[0.3, 0.7]]])
    assert threat.perceived_threat(two)[0, 0] == pytest.approx(1 - np.exp(-1.0))
    assert (threat.perceived_threat_by_source(two) < threat.perceived_threat(two)[..., None]).all()


# ============================================================================ trade


def test_effective_tariff_sector_shares_no_stacking():
    # Japan: 35 % of exports to the US are autos (25 %), 2 % steel (50 %), the rest pays 15 %.
    p = Parameters(tariffs=[TariffStep(month="2025-07", target="JPN", rate=0.15),
                            TariffStep(month="2025-07", target="JPN", sector="autos", rate=0.25),
                            TariffStep(month="2025-07", target="JPN", sector="steel", rate=0.5)])
    c = compile_parameters(p, months=3)
    j = c.allies.index("JPN")
    eff = trade.effective_tariff(c.country_rate[0], c.sector_rate[0], c.country_weight)
    assert eff[j] == pytest.approx(0.63 * 0.15 + 0.35 * 0.25 + 0.02 * 0.5)
    # No stacking: the effective rate is a weighted mean, between the lowest and the highest rate,
    # and not country + sector (0.15 + 0.25).
    assert 0.15 < eff[j] < 0.5
    # Same rate everywhere: the effective tariff is that rate.
    same = compile_parameters(Parameters(tariffs=[
        TariffStep(month="2025-07", target="JPN", rate=0.2),
        TariffStep(month="2025-07", target="JPN", sector="autos", rate=0.2),
        TariffStep(month="2025-07", target="JPN", sector="steel", rate=0.2)]), months=1)
    assert trade.effective_tariff(same.country_rate[0], same.sector_rate[0],
                                  same.country_weight)[j] == pytest.approx(0.2)
    # Korea has no tariff at all.
    assert eff[c.allies.index("KOR")] == 0.0


def test_tariff_pain_proportional_to_exposure_and_tariff():
    base = trade.tariff_pain(np.array([0.37]), np.array([0.187]), np.array([0.25]))
    assert base[0] == pytest.approx(100 * 0.37 * 0.187 * 0.25)
    assert trade.tariff_pain(np.array([0.74]), np.array([0.187]), np.array([0.25]))[0] == pytest.approx(2 * base[0])
    assert trade.tariff_pain(np.array([0.37]), np.array([0.374]), np.array([0.25]))[0] == pytest.approx(2 * base[0])
    assert trade.tariff_pain(np.array([0.37]), np.array([0.187]), np.array([0.5]))[0] == pytest.approx(2 * base[0])
    assert trade.tariff_pain(np.array([0.0]), np.array([0.187]), np.array([0.5]))[0] == 0.0


def test_export_update_tariff_rise_diverts_exports_to_china():
    s_us, s_cn = np.array([0.2]), np.array([0.18])
    args = dict(share_us0=s_us, share_cn0=s_cn, tariff0=np.array([0.0]), elasticity=1.5,
                diversion=0.3, rate=0.1)
    # No tariff change: a fixed point.
    us, cn = trade.export_update(s_us, s_cn, tariff=np.array([0.0]), **args)
    np.testing.assert_allclose([us[0], cn[0]], [0.2, 0.18])
    # A tariff rise: exports to the US fall, a share of the loss re-routes to China.
    us, cn = trade.export_update(s_us, s_cn, tariff=np.array([0.25]), **args)
    target_us = 0.2 * 1.25 ** -1.5
    assert us[0] == pytest.approx(0.2 + 0.1 * (target_us - 0.2))
    assert us[0] < 0.2 and cn[0] > 0.18
    assert cn[0] - 0.18 == pytest.approx(0.1 * 0.3 * (0.2 - us[0]))
    # Long run: exports to the US reach their tariff target, China gains diversion × the loss.
    us_, cn_ = s_us, s_cn
    for _ in range(400):
        us_, cn_ = trade.export_update(us_, cn_, tariff=np.array([0.25]), **args)
    assert us_[0] == pytest.approx(target_us)
    assert cn_[0] == pytest.approx(0.18 + 0.3 * (0.2 - target_us))
    # Higher tariff, lower exports to the US; higher elasticity, stronger fall.
    us_hi, _ = trade.export_update(s_us, s_cn, tariff=np.array([0.5]), **args)
    assert us_hi[0] < us[0]
    us_el, _ = trade.export_update(s_us, s_cn, tariff=np.array([0.25]), **{**args, "elasticity": 3.0})
    assert us_el[0] < us[0]
    # No diversion: China's exports do not move.
    _, cn0 = trade.export_update(s_us, s_cn, tariff=np.array([0.25]), **{**args, "diversion": 0.0})
    assert cn0[0] == pytest.approx(0.18)


def test_trade_shares():
    us, cn = np.array([0.1]), np.array([0.25])
    s_us0, s_cn0 = np.array([0.2]), np.array([0.18])
    other = 1 - 0.2 - 0.18
    assert trade.china_share(us, cn, s_us0, s_cn0)[0] == pytest.approx(0.25 / (0.35 + other))
    assert trade.us_share(us, cn, s_us0, s_cn0)[0] == pytest.approx(0.1 / (0.35 + other))
    assert trade.china_share(s_us0, s_cn0, s_us0, s_cn0)[0] == pytest.approx(0.18)


# ============================================================================ burden


def test_burden_gap_never_negative():
    demand = RNG.uniform(0, 15, 1000)
    effort = RNG.uniform(0, 15, 1000)
    gap = burden.burden_gap(demand, effort)
    assert (gap >= 0).all()
    np.testing.assert_allclose(gap, np.where(demand > effort, demand - effort, 0.0))


def test_reliability_target_falls_with_pain_and_gap():
    l0 = np.array([0.8])
    at_start = burden.reliability_target(l0, np.array([1.0]), np.array([1.0]), np.array([0.5]),
                                         np.array([0.5]), 0.3, 0.3)
    assert at_start[0] == pytest.approx(0.8)
    more_pain = burden.reliability_target(l0, np.array([2.0]), np.array([1.0]), np.array([0.5]),
                                          np.array([0.5]), 0.3, 0.3)
    more_gap = burden.reliability_target(l0, np.array([1.0]), np.array([1.0]), np.array([1.5]),
                                         np.array([0.5]), 0.3, 0.3)
    assert more_pain[0] == pytest.approx(0.8 - 0.3) and more_gap[0] == pytest.approx(0.8 - 0.3)
    pains = np.linspace(0, 10, 50)
    assert (np.diff(burden.reliability_target(l0, pains, 0.0, 0.0, 0.0, 0.3, 0.3)) < 0).all()


def test_reliability_update_moves_toward_target_and_reassurance_raises_it():
    latent = np.array([1.0, 1.0])
    new = burden.reliability_update(latent, np.array([0.0, 2.0]), 0.2, np.zeros(2))
    np.testing.assert_allclose(new, [0.8, 1.2])
    assert burden.reliability_update(latent, latent, 0.2, np.array([0.5, 0.0]))[0] == pytest.approx(1.5)
    r = burden.logistic(np.linspace(-30, 30, 101))
    assert (r > 0).all() and (r < 1).all() and (np.diff(r) > 0).all()
    np.testing.assert_allclose(burden.logit(burden.logistic(np.array([-3.0, 0.2]))), [-3.0, 0.2])


def test_entrapment_zero_when_patron_challenger_tie_nonnegative():
    sens = np.array([0.5, 0.6])
    ally_us = np.array([[0.8, 0.7], [0.8, 0.7]])
    e = burden.entrapment_fear(sens, np.array([0.2, 0.0]), ally_us)
    assert (e == 0).all()
    hostile = burden.entrapment_fear(sens, np.array([-0.5]), np.array([[0.8, -0.2]]))
    assert hostile[0, 0] == pytest.approx(0.5 * 0.5 * 0.8)
    assert hostile[0, 1] == 0.0  # an ally not close to the patron fears no entrapment
    # Deeper US–China conflict, more fear.
    deeper = burden.entrapment_fear(sens, np.array([-0.9]), np.array([[0.8, 0.7]]))
    assert (deeper > burden.entrapment_fear(sens, np.array([-0.5]), np.array([[0.8, 0.7]]))).all()


# ============================================================================ challenger


@pytest.mark.parametrize("level", [0.2, 0.5, 0.9])
def test_coercion_push_sign_flips_at_backfire_level(level):
    below = challenger.coercion_patron_push(np.array([level - 0.1]), level, 0.3)
    at = challenger.coercion_patron_push(np.array([level]), level, 0.3)
    above = challenger.coercion_patron_push(np.array([level + 0.1]), level, 0.3)
    assert below[0] < 0 < above[0]
    assert at[0] == 0.0
    assert above[0] == pytest.approx(0.03)
    threats = np.linspace(0, 1, 21)
    assert (np.diff(challenger.coercion_patron_push(threats, level, 0.3)) > 0).all()


def test_market_access_change_signs():
    s = np.array([0.2, 0.2, 0.2])
    ch = challenger.market_access_change(np.array([True, False, False]), np.array([False, True, False]), s,
                                         0.02, 0.03)
    np.testing.assert_allclose(ch, [0.2 * 0.02, -0.2 * 0.03, 0.0])


# ============================================================================ domestic


def _kernel(op, anchor=None, shock=None, conformity=0.1, stubbornness=0.0, noise=0.0, groups=None, month=0):
    R, A, N = op.shape
    groups = np.zeros(N, dtype=np.int64) if groups is None else groups
    anchor = op.copy() if anchor is None else anchor
    shock = np.zeros((R, A, 4)) if shock is None else shock
    keys = rng.month_stream_keys(rng.replicate_keys(5, np.arange(R)), month, rng.STREAM_CITIZEN_NOISE)
    return domestic.update_citizens(op.copy(), anchor, groups, shock, keys, conformity, stubbornness, noise, 0)


def test_citizens_conformity_pulls_toward_mean_and_conserves_it():
    op = RNG.uniform(-0.5, 0.5, (6, 2, 40))
    new = _kernel(op, conformity=0.25)
    # No noise, no shock, no stubbornness, nothing clipped: x ← x + γ(x̄ − x) keeps the mean ...
    np.testing.assert_allclose(new.mean(-1), op.mean(-1), atol=1e-12)
    # ... and shrinks every deviation by (1 − γ).
    np.testing.assert_allclose(new - new.mean(-1, keepdims=True),
                               0.75 * (op - op.mean(-1, keepdims=True)), atol=1e-12)


def test_citizens_stubbornness_pulls_toward_anchor():
    op = np.zeros((2, 1, 10))
    anchor = np.full((2, 1, 10), 0.5)
    new = _kernel(op, anchor=anchor, conformity=0.0, stubbornness=0.2)
    np.testing.assert_allclose(new, 0.1)


def test_citizens_shock_by_group():
    op = np.zeros((1, 1, 4))
    groups = np.array([0, 1, 2, 3])
    shock = np.array([[[0.1, -0.2, 0.3, 0.0]]])
    new = _kernel(op, shock=shock, groups=groups, conformity=0.0)
    np.testing.assert_allclose(new[0, 0], [0.1, -0.2, 0.3, 0.0])


def test_citizens_noise_has_configured_sd_and_is_reproducible():
    op = np.zeros((50, 2, 200))
    new = _kernel(op, conformity=0.0, noise=0.03)
    assert abs(new.std() - 0.03) < 0.001 and abs(new.mean()) < 0.001
    np.testing.assert_array_equal(new, _kernel(op, conformity=0.0, noise=0.03))
    assert not np.array_equal(new, _kernel(op, conformity=0.0, noise=0.03, month=1))


def test_citizens_stay_in_unit_interval_under_huge_shocks():
    op = RNG.uniform(-1, 1, (5, 2, 30))
    for s in (5.0, -5.0):
        new = _kernel(op, shock=np.full((5, 2, 4), s), noise=1.0, conformity=0.5, stubbornness=0.5)
        assert (np.abs(new) <= 1.0).all() and np.isfinite(new).all()


def test_aggregate_opinion_update():
    op = np.full((3, 2, 1), 0.2)
    anchor = np.full((3, 2, 1), 0.4)
    mix = np.array([0.25, 0.25, 0.2, 0.3])
    shock = np.zeros((3, 2, 4))
    shock[..., 1] = 0.4
    new = domestic.update_aggregate(op.copy(), anchor, mix, shock, 0.1)
    np.testing.assert_allclose(new[..., 0], 0.2 + 0.1 * 0.2 + 0.25 * 0.4)
    big = domestic.update_aggregate(op.copy(), anchor, mix, np.full((3, 2, 4), 9.0), 0.1)
    assert (big == 1.0).all()


def test_public_alignment():
    us = np.full((1, 1, 5), 0.4)
    cn = np.full((1, 1, 5), -0.6)
    assert domestic.public_alignment(us, cn)[0, 0] == pytest.approx(0.5)
    assert domestic.opinion_from_share(0.55) == pytest.approx(0.1)


def test_leader_stance_within_latitude_of_public():
    orient = RNG.uniform(-1, 1, 2000)
    public = RNG.uniform(-1, 1, 2000)
    lat = RNG.uniform(0, 2, 2000)
    s = domestic.leader_stance(orient, public, lat)
    assert (np.abs(s - public) <= lat + 1e-12).all()
    inside = np.abs(orient - public) <= lat
    np.testing.assert_array_equal(s[inside], orient[inside])
    # Outside the latitude the leader sits at its edge nearest to the own orientation.
    assert domestic.leader_stance(np.array([-0.8]), np.array([0.4]), np.array([0.5]))[0] == pytest.approx(-0.1)
    assert domestic.leader_stance(np.array([0.9]), np.array([0.0]), np.array([0.5]))[0] == pytest.approx(0.5)


@pytest.mark.parametrize("public", [-0.5, 0.0, 0.3])
def test_election_winner_probabilities(public):
    n = 100_000
    u = rng.uniforms(rng.replicate_keys(11, np.arange(n)), 0, rng.STREAM_ELECTION, 1)[:, 0]
    win = domestic.election_winner(u, np.full(n, public), 3.0, np.full(n, 0.7), np.full(n, -0.3))
    assert set(np.unique(win)) <= {0.7, -0.3}
    p = 1 / (1 + np.exp(-3.0 * public))
    assert abs(np.mean(win == 0.7) - p) < 5 * np.sqrt(p * (1 - p) / n)


def test_election_winner_public_weight_zero_is_coin_flip_and_hawkish_public_elects_hawks():
    n = 50_000
    u = rng.uniforms(rng.replicate_keys(12, np.arange(n)), 0, rng.STREAM_ELECTION, 1)[:, 0]
    lo = domestic.election_winner(u, np.full(n, -0.2), 3.0, np.full(n, 0.7), np.full(n, -0.3))
    hi = domestic.election_winner(u, np.full(n, 0.2), 3.0, np.full(n, 0.7), np.full(n, -0.3))
    assert np.mean(hi == 0.7) > np.mean(lo == 0.7) + 0.2
    flat = domestic.election_winner(u, np.full(n, 0.9), 0.0, np.full(n, 0.7), np.full(n, -0.3))
    assert abs(np.mean(flat == 0.7) - 0.5) < 0.01


# ============================================================================ decisions


def _choice_probs(util):
    return softmax(util, axis=-1)


def test_ally_unavailable_chip_has_zero_probability():
    pol = AllyPolicy()
    R = 10
    u = decisions.ally_utilities(pol, np.full(R, 0.7), np.full(R, 0.6), np.full(R, 5.0), np.zeros(R),
                                 np.zeros(R, dtype=bool), 20.0, 10.0)
    assert (_choice_probs(u)[..., 4] < 1e-100).all()
    ok = decisions.ally_utilities(pol, np.full(R, 0.7), np.full(R, 0.6), np.full(R, 5.0), np.zeros(R),
                                  np.ones(R, dtype=bool), -3.0, 0.5)
    np.testing.assert_allclose(ok[..., 4], -3.0 + 0.5 * 5.0)


def test_ally_tariff_pain_raises_concede_hedge_retaliate_utilities():
    pol = AllyPolicy()
    R = 4
    args = (np.full(R, 0.5), np.full(R, 0.6))
    lo = decisions.ally_utilities(pol, *args, np.zeros(R), np.zeros(R), np.zeros(R, dtype=bool), 0.0, 0.0)
    hi = decisions.ally_utilities(pol, *args, np.full(R, 2.0), np.zeros(R), np.zeros(R, dtype=bool), 0.0, 0.0)
    d = hi - lo
    np.testing.assert_allclose(d[:, 0], 0.0)  # hold is the reference option
    np.testing.assert_allclose(d[:, 1], 2.0 * pol.concede_pain_weight)
    np.testing.assert_allclose(d[:, 2], 2.0 * pol.hedge_pain_weight)
    np.testing.assert_allclose(d[:, 3], 2.0 * pol.retaliate_pain_weight)
    # ... so the probability of holding falls.
    assert (_choice_probs(hi)[:, 0] < _choice_probs(lo)[:, 0]).all()


def test_ally_threat_reliability_and_stance_directions():
    pol = AllyPolicy()
    no = np.zeros(1, dtype=bool)

    def u(threat_, rel, stance):
        return decisions.ally_utilities(pol, np.array([threat_]), np.array([rel]), np.zeros(1),
                                        np.array([stance]), no, 0.0, 0.0)[0]

    # Threat (with a reliable patron) raises concession and lowers retaliation (Snyder 1984).
    assert u(0.9, 0.7, 0)[1] > u(0.1, 0.7, 0)[1] and u(0.9, 0.7, 0)[3] < u(0.1, 0.7, 0)[3]
    # An unreliable patron invites hedging; a conciliatory leader hedges more, concedes less.
    assert u(0.5, 0.2, 0)[2] > u(0.5, 0.9, 0)[2]
    assert u(0.5, 0.7, -0.8)[2] > u(0.5, 0.7, 0.8)[2] and u(0.5, 0.7, -0.8)[1] < u(0.5, 0.7, 0.8)[1]


def test_patron_unavailable_options():
    pol = PatronPolicy()
    gap = np.full((3, 2), 1.0)
    last = np.zeros((3, 2), dtype=np.int8)
    # Offset at the cap: no escalation.  Country rate 0: no relief.
    offset = np.array([[pol.max_tariff_offset, 0.0]] * 3)
    rate = np.array([[0.1, 0.0]] * 3)
    u = decisions.patron_utilities(pol, gap, last, offset, rate, np.zeros((3, 2), dtype=bool), np.zeros(2))
    p = _choice_probs(u)
    assert (p[:, 0, 1] < 1e-100).all() and (p[:, 1, 2] < 1e-100).all()
    assert (p[:, 1, 1] > 0.001).all() and (p[:, 0, 2] > 0.001).all()


def test_patron_transactional_responses():
    pol = PatronPolicy()
    R = 1
    z = np.zeros((R, 1))
    rate = np.full((R, 1), 0.1)

    def u(gap=0.0, last=0, bonus=False):
        return decisions.patron_utilities(pol, np.full((R, 1), gap), np.full((R, 1), last, dtype=np.int8),
                                          z, rate, np.full((R, 1), bonus), np.array([2.0]))[0, 0]

    assert u(gap=2.0)[1] == pytest.approx(u()[1] + 2.0 * pol.escalate_gap_weight)  # burden gap → escalate
    assert u(last=3)[1] > u()[1]  # retaliation → escalate
    assert u(last=1)[2] > u()[2] and u(last=1)[3] > u()[3]  # concession → relief, and more demands
    assert u(bonus=True)[2] == pytest.approx(u()[2] + 2.0)  # a played chip buys relief


def test_challenger_utilities_reward_and_punish_drift():
    pol = ChallengerPolicy()

    def u(drift, align=0.3, last=0):
        return decisions.challenger_utilities(pol, np.array([drift]), np.array([align]),
                                              np.array([last], dtype=np.int8))[0]

    assert u(-0.05)[1] > u(0.0)[1] and u(-0.05)[2] == u(0.0)[2]  # drift toward China → induce
    assert u(0.05)[2] > u(0.0)[2] and u(0.05)[1] == u(0.0)[1]  # drift toward the US → coerce
    assert u(0.0, align=0.9)[2] > u(0.0, align=0.5)[2]
    assert u(0.0, last=2)[1] == pytest.approx(u(0.0)[1] + pol.induce_hedge_weight)


def test_adversary_provokes_more_when_alliance_divided():
    from alliance_sim.model.parameters import AdversaryPolicy

    u = decisions.adversary_utilities(AdversaryPolicy(), np.array([0.9, 0.1]), 2)
    assert u.shape == (2, 2, 2)
    assert u[1, 0, 1] > u[0, 0, 1]
