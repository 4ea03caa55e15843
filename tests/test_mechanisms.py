"""Each mechanism of the compiled monthly step on its own: direction, bounds and known analytic cases.

The named terms of ``alliance_sim.model.step`` (scalar functions of one lane's numbers) are called
directly.  What lives inside a phase (exports, reliability, threat events, citizens, elections,
decisions) is checked through ``drivers.EnsembleSim`` on states written with ``_write``: one transition
from a written state, or choice frequencies of ``decide_*`` over many replicates, compared with margins
far beyond Monte Carlo error.  Sections: ties and balance, threat, trade, burden, challenger, domestic,
decisions; plus the check that the calibrated start is a fixed point when nothing moves the drivers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from builders import with_north_korea
from scipy.special import ndtri as scipy_ndtri
from scipy.special import softmax

from alliance_sim.model import rng, step
from alliance_sim.model.compiled import (
    GROUP_APPEAL_SENSITIVITY,
    GROUP_TARIFF_SENSITIVITY,
    compile_parameters,
    group_mix,
    stationary_stock,
)
from alliance_sim.model.drivers import EnsembleSim, draw_offsets_of
from alliance_sim.model.layout import F
from alliance_sim.model.model import AllianceModel
from alliance_sim.model.parameters import (
    BargainingChip,
    Parameters,
    ScriptedEvent,
    TariffStep,
    ThreatProcess,
)

RNG = np.random.default_rng(12345)  # only for generating test inputs, never inside the model
ACTORS = ("USA", "CHN", "JPN", "KOR")  # the default scenario's actor order
USA, CHN, JPN, KOR = range(4)
JPN_A, KOR_A = 0, 1  # ally positions


def _v(term):
    """A compiled scalar term applied elementwise to arrays."""
    return np.vectorize(term, otypes=[float])


def _z(t):
    """A one-lane block holding the (n, n) tie matrix ``t`` at row 0 (what balance_pressure reads)."""
    t = np.asarray(t, dtype=np.float64)
    return np.ascontiguousarray(t.reshape(-1, 1))


def _sym(n, values):
    """Symmetric (n, n) tie matrix from {(i, j): value}."""
    t = np.zeros((n, n))
    for (i, j), v in values.items():
        t[i, j] = t[j, i] = v
    return t


def _random_ties(n, low=-0.999, high=0.999):
    t = np.triu(RNG.uniform(low, high, (n, n)), 1)
    return t + t.T


def _balance(t):
    """step.balance_pressure for every ordered pair of ``t`` (diagonal left 0: the step never reads it)."""
    n = t.shape[0]
    z = _z(t)
    return np.array([[step.balance_pressure(z, 0, n, i, j, 0) if i != j else 0.0 for j in range(n)]
                     for i in range(n)])


def _quiet_params(citizens: int = 0) -> Parameters:
    """Everything stochastic or behavioural switched off, so the drivers stay at their start values."""
    p = Parameters()
    p.population.size_per_ally = citizens
    p.mechanisms.tie_noise_sd = 0.0
    for proc in p.threats.values():
        proc.mean_magnitude = 0.0
    p.us_policy.mode = "scripted"
    p.china_policy.mode = "scripted"
    ap = p.ally_policy
    ap.concede_base_utility = ap.hedge_base_utility = ap.retaliate_base_utility = -20.0
    ap.concede_stance_weight = ap.hedge_stance_weight = 0.0
    ap.concede_protection_weight = ap.hedge_unreliability_weight = 0.0
    ap.accommodate_base_utility = -20.0
    ap.accommodate_dependence_weight = ap.accommodate_stance_weight = 0.0
    return p


def _sim(p: Parameters | None = None, R: int = 16, months: int = 3, seed: int = 1, compiled=None) -> EnsembleSim:
    c = compiled if compiled is not None else compile_parameters(p if p is not None else Parameters(), months)
    assert tuple(c.actors[:4]) == ACTORS  # the indices USA, CHN, JPN, KOR below
    return EnsembleSim(c, np.arange(R), seed)


def _put(sim: EnsembleSim, name: str, values) -> None:
    """Write state variable ``name`` of every replicate (``values`` broadcast to its (R, ...) shape)."""
    shape = sim.field(name).shape
    sim._write(name, np.broadcast_to(np.asarray(values, dtype=np.float64), shape).reshape(shape[0], -1).copy())


def _put_at(sim: EnsembleSim, name: str, index, values) -> None:
    """Write part of a state variable: ``field[:, index] = values``, the rest unchanged."""
    x = sim.field(name)
    x[(slice(None),) + (index if isinstance(index, tuple) else (index,))] = values
    _put(sim, name, x)


def _param(sim: EnsembleSim, name: str, value) -> None:
    """Set packed parameter ``name`` for every lane (values outside the scenario's validated ranges allowed)."""
    sim.P[:, F[name], :] = value


def _draws(sim: EnsembleSim, row: int) -> np.ndarray:
    """Row ``row`` of this month's draw table, one value per replicate (R,)."""
    return sim.Dr[:, row, :].reshape(-1)[: sim.R]


def _month(sim: EnsembleSim) -> None:
    """One month with the choices as written (no decisions taken): draws, then the transition."""
    sim.begin_month()
    sim.transition()


def _assert_frequencies(choices, probs) -> None:
    """Choice frequencies equal ``probs`` (k,) within 5 standard errors (options with p = 0 never chosen)."""
    R = choices.shape[0]
    probs = np.asarray(probs)
    freq = np.bincount(choices.astype(np.int64), minlength=probs.size)[: probs.size] / R
    assert np.bincount(choices.astype(np.int64)).size <= probs.size
    se = np.sqrt(probs * (1 - probs) / R)
    assert (np.abs(freq - probs) <= 5 * se + 1e-12).all(), (freq, probs)


def _more_often(hi, lo, option) -> None:
    """Option ``option`` is chosen more often in ``hi`` than in ``lo``, by more than 6 standard errors."""
    f_hi, f_lo = np.mean(hi == option), np.mean(lo == option)
    se = math.sqrt((f_hi * (1 - f_hi) + f_lo * (1 - f_lo)) / hi.shape[0])
    assert f_hi - f_lo > 6 * se and f_hi > f_lo, (f_hi, f_lo)


def _odds_higher(hi, lo, option, reference=0) -> None:
    """The odds of ``option`` against ``reference`` are higher in ``hi`` than in ``lo``, by more than
    6 standard errors of the log odds ratio (the utility of ``option`` rose relative to the reference's)."""
    counts = [(np.sum(x == option), np.sum(x == reference)) for x in (hi, lo)]
    (a, b), (c, d) = counts
    assert min(a, b, c, d) > 0, counts
    log_ratio = math.log(a / b) - math.log(c / d)
    assert log_ratio > 6 * math.sqrt(1 / a + 1 / b + 1 / c + 1 / d), (log_ratio, counts)


# ============================================================================ ties and balance


def test_balance_pressure_balanced_triad_is_positive():
    # + + + : every tie has a friend-of-a-friend, pressure keeps it positive.
    b = _balance(_sym(3, {(0, 1): 1.0, (0, 2): 1.0, (1, 2): 1.0}))
    np.testing.assert_allclose(b[~np.eye(3, dtype=bool)], 1.0)


def test_balance_pressure_unbalanced_triad_pushes_toward_balance():
    # + + − : 0–1 friends, 0–2 friends, 1–2 enemies.  The friend of my enemy is my enemy: pressure
    # on 0–1 is negative (T02·T21 = −1) and on 1–2 positive (T10·T02 = +1).
    b = _balance(_sym(3, {(0, 1): 1.0, (0, 2): 1.0, (1, 2): -1.0}))
    assert b[0, 1] == pytest.approx(-1.0)
    assert b[0, 2] == pytest.approx(-1.0)
    assert b[1, 2] == pytest.approx(1.0)


def test_balance_pressure_enemy_of_enemy_is_friend():
    # − − ? : 0 and 1 share the enemy 2: pressure on 0–1 is positive.
    b = _balance(_sym(3, {(0, 2): -0.8, (1, 2): -0.5, (0, 1): 0.0}))
    assert b[0, 1] == pytest.approx(0.4)


def test_balance_pressure_symmetric_bounded_and_averaged_over_third_parties():
    for _ in range(100):
        b = _balance(_random_ties(5))
        np.testing.assert_allclose(b, b.T, rtol=0, atol=1e-14)
        assert (np.abs(b) <= 1.0 + 1e-12).all()
    # Average over the n − 2 third parties: a 4-actor case by hand.
    t4 = _sym(4, {(0, 2): 0.5, (2, 1): 0.6, (0, 3): -0.4, (3, 1): 0.5})
    assert _balance(t4)[0, 1] == pytest.approx((0.5 * 0.6 - 0.4 * 0.5) / 2)
    # The step keeps the tie matrix symmetric with a zero diagonal (what the sum over k relies on).
    sim = _sim(R=4)
    _month(sim)
    t = sim.field("ties")
    np.testing.assert_array_equal(t, np.swapaxes(t, 1, 2))
    assert (t[:, np.arange(4), np.arange(4)] == 0).all()


def test_alignment_and_cohesion_formulas():
    # Actors: 0 patron, 1 challenger, 2 and 3 allies.
    t = _sym(4, {(0, 2): 0.8, (1, 2): -0.4, (0, 3): 0.6, (1, 3): 0.2, (2, 3): 0.1, (0, 1): -0.5})
    assert step.alignment(t[2, 0], t[2, 1]) == pytest.approx(0.6)
    assert step.alignment(t[3, 0], t[3, 1]) == pytest.approx(0.2)
    pairs = np.array([[0, 2], [0, 3], [2, 3]], dtype=np.int64)
    assert step.cohesion(_z(t), 0, 4, pairs, 0) == pytest.approx((0.8 + 0.6 + 0.1) / 3)
    # An ally closer to the challenger than to the patron is on Beijing's side (< 0).
    assert step.alignment(0.1, 0.5) < 0
    # The step's own observables follow these formulas from its ties.
    sim = _sim(R=8)
    _month(sim)
    t = sim.field("ties")
    np.testing.assert_allclose(sim.field("alignment"), 0.5 * (t[:, [JPN, KOR], USA] - t[:, [JPN, KOR], CHN]),
                               atol=1e-14)
    np.testing.assert_allclose(sim.field("cohesion"), (t[:, USA, JPN] + t[:, USA, KOR] + t[:, JPN, KOR]) / 3,
                               atol=1e-14)


def test_alignment_and_cohesion_bounds():
    pairs = np.array([[0, 2], [0, 3], [2, 3]], dtype=np.int64)
    for _ in range(500):
        t = _random_ties(4, -1.0, 1.0)
        assert abs(step.alignment(t[2, 0], t[2, 1])) <= 1
        assert abs(step.cohesion(_z(t), 0, 4, pairs, 0)) <= 1
    # Extremes are reachable: fully with the patron, fully with the challenger.
    assert step.alignment(1.0, -1.0) == 1.0
    assert step.alignment(-1.0, 1.0) == -1.0


def test_tie_target_bounded_and_monotone_in_drivers():
    target = _v(step.tie_target)
    d = np.linspace(-3, 3, 61)
    lo = target(0.0, 0.5, 0.0, d)
    assert (np.diff(lo) > 0).all()
    assert (np.abs(lo) < 1).all()
    assert target(0.0, 0.5, 0.0, 1e6) <= 1.0 and target(0.0, 0.5, 0.0, -1e6) >= -1.0
    # More balance pressure, higher target; the weight scales it (weight 0: no effect).
    assert (target(0.0, 0.5, 0.2, d) > lo).all()
    np.testing.assert_array_equal(target(0.0, 0.0, 0.2, d), lo)
    assert step.tie_target(0.3, 0.5, 0.4, -0.1) == pytest.approx(math.tanh(0.3 + 0.5 * 0.4 - 0.1), abs=1e-15)


def test_calibrated_intercept_makes_start_ties_their_own_targets():
    # A batch whose rows start from different random ties: the intercepts initial_state calibrates make
    # every start tie its own target, so with full adjustment (rate 1) and nothing moving, one transition
    # returns exactly the start ties ...
    R = 48
    p = _quiet_params()
    p.mechanisms.tie_adjustment_rate = 1.0
    c = compile_parameters(p, 3)
    c.initial_ties = np.stack([_random_ties(4, -0.95, 0.95) for _ in range(R)])
    sim = _sim(compiled=c, R=R)
    t0 = sim.field("ties")
    np.testing.assert_array_equal(t0, c.initial_ties)
    _month(sim)
    np.testing.assert_allclose(sim.field("ties"), t0, atol=1e-12)
    # ... and so does partial adjustment (rate 0.3) ...
    sim = _sim(compiled=c, R=R)
    _param(sim, "tie_adjustment_rate", 0.3)
    _month(sim)
    np.testing.assert_allclose(sim.field("ties"), t0, atol=1e-12)
    # ... while a change of the drivers moves them in the driver's direction: a more pro-patron leader
    # (stance up) pulls ally–patron ties up and ally–challenger ties down, and nothing else moves at once.
    sim = _sim(compiled=c, R=R)
    _param(sim, "tie_adjustment_rate", 0.3)
    _put(sim, "orientation", 0.4)
    _month(sim)
    t1 = sim.field("ties")
    assert (t1[:, [JPN, KOR], USA] > t0[:, [JPN, KOR], USA] + 1e-4).all()
    assert (t1[:, [JPN, KOR], CHN] < t0[:, [JPN, KOR], CHN] - 1e-4).all()
    np.testing.assert_allclose(t1[:, USA, CHN], t0[:, USA, CHN], atol=1e-12)
    np.testing.assert_allclose(t1[:, JPN, KOR], t0[:, JPN, KOR], atol=1e-12)


def test_calibrate_intercept_finite_for_extreme_ties():
    p = _quiet_params()
    p.ties = {"USA-JPN": 1.0, "USA-KOR": -1.0, "JPN-KOR": 0.0, "USA-CHN": -1.0, "CHN-JPN": 1.0, "CHN-KOR": 0.0}
    p.mechanisms.tie_adjustment_rate = 1.0
    sim = _sim(p, R=4)
    c = sim.field("intercept")
    assert np.isfinite(c).all() and (c[:, np.arange(4), np.arange(4)] == 0).all()
    # Ties of ±1 are held at the edge of the open interval, where atanh is finite.
    _month(sim)
    t = sim.field("ties")
    assert np.isfinite(t).all()
    np.testing.assert_allclose(t[:, USA, JPN], step.TIE_LIMIT, atol=1e-12)
    np.testing.assert_allclose(t[:, USA, KOR], -step.TIE_LIMIT, atol=1e-12)


@pytest.mark.parametrize("rate", [0.0, 0.15, 1.0])
def test_tie_step_partial_adjustment_and_bounds(rate):
    update = _v(step.tie_update)
    t = RNG.uniform(-0.999, 0.999, 2000)
    target = RNG.uniform(-1.0, 1.0, 2000)
    np.testing.assert_allclose(update(t, rate, target, 0.0, 0.0),
                               np.clip(t + rate * (target - t), -0.999, 0.999), rtol=0, atol=1e-14)
    # Huge impulses and noise are clipped inside (-1, 1).
    wild = update(t, rate, target, RNG.uniform(-50, 50, 2000), RNG.normal(0, 10, 2000))
    assert (np.abs(wild) < 1.0).all()
    assert (np.abs(wild) == step.TIE_LIMIT).mean() > 0.9


def test_symmetric_noise_places_each_pair_draw_twice():
    # The quiet world is a fixed point, so one month's tie change is exactly sd × that pair's normal draw,
    # placed at (i, j) and (j, i); the diagonal stays zero.
    p = _quiet_params()
    p.mechanisms.tie_noise_sd = 0.02
    sim = _sim(p, R=400)
    t0 = sim.field("ties")
    _month(sim)
    dt = sim.field("ties") - t0
    np.testing.assert_array_equal(dt, np.swapaxes(dt, 1, 2))
    assert (dt[:, np.arange(4), np.arange(4)] == 0).all()
    o_tie = draw_offsets_of(sim.c)[6]
    z = np.stack([_draws(sim, o_tie + q) for q in range(6)], axis=1)
    for q, (i, j) in enumerate(sim.c.pairs):
        np.testing.assert_allclose(dt[:, i, j], 0.02 * z[:, q], atol=1e-12)
    # The draws are standard normals, independent across pairs.
    assert abs(z.mean()) < 0.1 and abs(z.std() - 1) < 0.1
    assert abs(np.corrcoef(z[:, 0], z[:, 1])[0, 1]) < 0.2


def test_engine_calibrated_start_is_a_fixed_point():
    m = AllianceModel(_quiet_params(), replicate_ids=np.arange(8), seed=1, months=12, collect=False)
    t0 = m.state.ties.copy()
    for _ in range(12):
        m.step()
        assert (m.last_decisions.ally == 0).all()
    np.testing.assert_allclose(m.state.ties, t0, atol=1e-10)


def test_engine_tariff_moves_the_tie_with_the_patron_off_the_fixed_point():
    # The same quiet world with a 25 % tariff on Japan from month 1: USA–JPN falls.
    p = _quiet_params()
    p.tariffs = [TariffStep(month="2025-08", target="JPN", rate=0.25)]
    m = AllianceModel(p, replicate_ids=np.arange(4), seed=1, months=12, collect=False)
    t0 = m.state.ties.copy()
    for _ in range(12):
        m.step()
    usa, jpn = m.compiled.actors.index("USA"), m.compiled.actors.index("JPN")
    assert (m.state.ties[:, usa, jpn] < t0[:, usa, jpn] - 0.02).all()


def test_forces_on_ties_have_their_documented_signs():
    assert step.threat_protection(1.5, 0.4, 0.7) == pytest.approx(1.5 * 0.4 * 0.7)
    assert step.threat_protection(1.5, 0.0, 0.7) == 0.0
    assert step.tariff_strain(0.4, 2.0) == pytest.approx(-0.8)
    assert step.burden_friction(0.1, 3.0) == pytest.approx(-0.3)
    assert step.leader_pull(0.35, -0.5) == pytest.approx(-0.175)
    assert step.china_trade_pull(3.0, 0.2) == pytest.approx(0.6)
    assert step.source_threat_push(1.0, 0.3) == pytest.approx(-0.3)
    # A common threat draws allies together by the smaller of their threats.
    assert step.common_threat(0.8, 0.3, 0.6) == pytest.approx(0.8 * 0.3)
    assert step.common_threat(0.8, 0.6, 0.3) == step.common_threat(0.8, 0.3, 0.6)


# ============================================================================ threat


def test_stationary_stock_formula():
    rho = 0.5 ** (1 / 6)
    s = stationary_stock(np.array([2.0]), np.array([0.05]), np.array([[1.0, 0.5]]), np.array([0]), 1, rho)
    np.testing.assert_allclose(s[:, 0], np.array([1.0, 0.5]) * 2.0 * 0.05 / (1 - rho))


def test_stationary_stock_is_limit_of_decay_with_constant_additions():
    rates = np.array([1.5, 3.0, 0.3])
    mags = np.array([0.05, 0.03, 0.08])
    w = np.array([[1.0, 0.8, 0.2], [0.4, 1.0, 0.0], [0.8, 0.6, 0.2]])
    src = np.array([0, 1, 0])
    rho = 0.5 ** (1 / 6)
    target = stationary_stock(rates, mags, w, src, 2, rho)
    flow = np.zeros((3, 2))
    for k in range(3):
        flow[:, src[k]] += w[k] * rates[k] * mags[k]
    decay = _v(step.decay_stock)
    h = np.zeros((3, 2))
    for _ in range(600):
        h = decay(rho, h, flow)
    np.testing.assert_allclose(h, target, rtol=1e-10)
    # ... and it is a fixed point of the decay; the floor keeps a stock non-negative after a détente.
    np.testing.assert_allclose(decay(rho, target, flow), target, rtol=1e-14)
    assert step.decay_stock(rho, 0.2, -5.0) == 0.0


def test_stationary_stock_is_long_run_mean_of_stochastic_events():
    # Poisson counts × m × Exp(1) severities: expected addition λ·m per month, so the mean stock over
    # replicates and months equals the stationary stock the run starts at (within Monte Carlo error).
    p = Parameters()
    p.population.size_per_ally = 0
    p.threats = {"one": ThreatProcess(source="PRK", rate_per_month=2.0, mean_magnitude=0.05,
                                      targets={"JPN": 1.0, "KOR": 0.5})}
    sim = _sim(p, R=1000, months=120, seed=7)
    s = sim.c.sources.index("PRK")
    target = sim.c.stock0[:, s]
    np.testing.assert_allclose(target[[JPN, KOR]], np.array([1.0, 0.5]) * 2.0 * 0.05 / (1 - sim.c.retention))
    means = []
    for _ in range(120):
        _month(sim)
        means.append(sim.field("stock")[:, :, s].mean(axis=0))
    np.testing.assert_allclose(np.mean(means, axis=0)[[JPN, KOR]], target[[JPN, KOR]], rtol=0.02)
    assert (np.array(means)[:, [USA, CHN]] == 0).all()


def test_event_severity_zero_rate_zero_and_nonnegative():
    keys = rng.replicate_keys(3, np.arange(1000))
    u1 = rng.uniforms(keys, 0, rng.STREAM_THREAT_COUNT, 1)[:, 0]
    u2 = rng.uniforms(keys, 0, rng.STREAM_THREAT_MAGNITUDE, 1)[:, 0]
    count = _v(step.poisson_count)
    assert (count(u1, 0.0, 1.0) == 0).all()
    n = count(u1, 3.0, math.exp(-3.0))
    assert (n >= 0).all() and (n == np.round(n)).all()
    sev = n * 0.5 * -np.log(u2)
    assert (sev >= 0).all() and np.isfinite(sev).all()
    assert abs(sev.mean() - 1.5) < 0.2
    # In the step: a process with rate 0 adds nothing, so the stock only decays.
    p = Parameters()
    p.population.size_per_ally = 0
    for proc in p.threats.values():
        proc.rate_per_month = 0.0
    sim = _sim(p, R=16)
    _put(sim, "stock", 0.4)
    _month(sim)
    np.testing.assert_array_equal(sim.field("stock"), step.decay_stock(sim.c.retention, 0.4, 0.0))


def test_poisson_count_mean_and_variance_and_normal_quantile():
    u = (np.arange(20000) + 0.5) / 20000  # a uniform grid: the counts' distribution, not a sample
    count = _v(step.poisson_count)
    for rate in (0.3, 3.0, 40.0, 800.0):  # 800: the normal approximation
        n = count(u, rate, math.exp(-rate))
        assert n.mean() == pytest.approx(rate, rel=0.01, abs=0.01)
        assert n.var() == pytest.approx(rate, rel=0.03)
    p = np.array([1e-10, 0.001, 0.02, 0.3, 0.5, 0.8, 0.99])
    np.testing.assert_allclose(_v(step.ndtri)(p), scipy_ndtri(p), rtol=1e-12, atol=1e-14)
    # Far in the upper tail the Halley step's residual Φ(x) − p cancels (about 1e-16 / (1 − p) relative).
    p = np.array([1 - 1e-6, 1 - 1e-9])
    np.testing.assert_allclose(_v(step.ndtri)(p), scipy_ndtri(p), rtol=1e-9)


def test_add_events_weights_and_sources():
    # Two processes from two sources: one event severity per process and month, added to each target's
    # stock of that process's source in proportion to its perception weight.
    p = Parameters()
    p.population.size_per_ally = 0
    p.threats = {"a": ThreatProcess(source="PRK", rate_per_month=6.0, mean_magnitude=0.1,
                                    targets={"JPN": 1.0, "KOR": 0.5}),
                 "b": ThreatProcess(source="RUS", rate_per_month=6.0, mean_magnitude=0.1, targets={"KOR": 1.0})}
    sim = _sim(p, R=64)
    _put(sim, "stock", 0.0)
    _month(sim)
    st = sim.field("stock")
    prk, rus, chn = (sim.c.sources.index(s) for s in ("PRK", "RUS", "CHN"))
    assert (st[:, JPN, prk] > 0).mean() > 0.9
    np.testing.assert_array_equal(st[:, KOR, prk], 0.5 * st[:, JPN, prk])
    assert (st[:, JPN, rus] == 0).all() and (st[:, KOR, rus] > 0).mean() > 0.9
    assert (st[:, [USA, CHN]] == 0).all() and (st[:, :, chn] == 0).all()
    # Different sources' draws: KOR's RUS stock is not a copy of JPN's PRK stock.
    assert not np.array_equal(st[:, KOR, rus], st[:, JPN, prk])


def test_perceived_threat_monotone_in_stock_and_in_unit_interval():
    threat = _v(step.threat_of_stock)
    x = np.linspace(0.0, 30.0, 3001)
    p = threat(x)
    assert p[0] == 0.0
    assert (np.diff(p) > 0).all()  # strictly increasing while it can be told from 1 in float64
    assert (p >= 0).all() and (p < 1).all()
    # The step's threat is the total over sources; each source alone is below it.
    sim = _sim(R=32)
    for _ in range(2):
        _month(sim)
    stock, total = sim.field("stock"), sim.field("threat")
    np.testing.assert_allclose(total, 1 - np.exp(-stock.sum(-1)), rtol=1e-14, atol=0)
    per_source = threat(stock)
    assert (per_source <= total[..., None]).all()
    several = (stock > 0).sum(-1) > 1
    assert several.any()
    assert (per_source.max(-1)[several] < total[several]).all()


# ============================================================================ trade


def test_effective_tariff_sector_shares_no_stacking():
    # Japan: 35 % of exports to the US are autos (25 %), 2 % steel (50 %), the rest pays 15 %.
    p = Parameters(tariffs=[TariffStep(month="2025-07", target="JPN", rate=0.15),
                            TariffStep(month="2025-07", target="JPN", sector="autos", rate=0.25),
                            TariffStep(month="2025-07", target="JPN", sector="steel", rate=0.5)])
    c = compile_parameters(p, months=3)
    j = c.allies.index("JPN")
    eff = step.effective_tariff(c.country_weight[j], c.country_rate[0, j], c.sector_rate[0, j])
    assert eff == pytest.approx(0.63 * 0.15 + 0.35 * 0.25 + 0.02 * 0.5)
    # No stacking: the effective rate is a weighted mean, between the lowest and the highest rate,
    # and not country + sector (0.15 + 0.25).
    assert 0.15 < eff < 0.5
    # The step starts from it, and Korea has no tariff at all.
    sim = _sim(compiled=c, R=2)
    np.testing.assert_allclose(sim.field("tariff")[:, j], eff, rtol=1e-15)
    assert (sim.field("tariff")[:, c.allies.index("KOR")] == 0.0).all()
    # Same rate everywhere: the effective tariff is that rate.
    same = compile_parameters(Parameters(tariffs=[
        TariffStep(month="2025-07", target="JPN", rate=0.2),
        TariffStep(month="2025-07", target="JPN", sector="autos", rate=0.2),
        TariffStep(month="2025-07", target="JPN", sector="steel", rate=0.2)]), months=1)
    assert step.effective_tariff(same.country_weight[j], same.country_rate[0, j],
                                 same.sector_rate[0, j]) == pytest.approx(0.2)


def test_tariff_pain_proportional_to_exposure_and_tariff():
    base = step.tariff_pain(0.37, 0.187, 0.25)
    assert base == pytest.approx(100 * 0.37 * 0.187 * 0.25)
    assert step.tariff_pain(0.74, 0.187, 0.25) == pytest.approx(2 * base)
    assert step.tariff_pain(0.37, 0.374, 0.25) == pytest.approx(2 * base)
    assert step.tariff_pain(0.37, 0.187, 0.5) == pytest.approx(2 * base)
    assert step.tariff_pain(0.0, 0.187, 0.5) == 0.0


def _export_world(elasticity=None, diversion=None, months=3):
    """Quiet world, replicates taxed by Japan's country tariff offsets 0 / 0.25 / 0.5 from month 0."""
    sim = _sim(_quiet_params(), R=3, months=months)
    if elasticity is not None:
        _param(sim, "trade_elasticity", elasticity)
    if diversion is not None:
        _param(sim, "diversion_to_china", diversion)
    _put_at(sim, "tariff_offset", JPN_A, [0.0, 0.25, 0.5])
    return sim


def test_export_update_tariff_rise_diverts_exports_to_china():
    c = compile_parameters(_quiet_params(), 3)
    s_us, s_cn = c.share_us0[JPN_A], c.share_cn0[JPN_A]
    mech = c.params.mechanisms
    rate, el, div = mech.trade_adjustment_rate, mech.trade_elasticity, mech.diversion_to_china
    sim = _export_world()
    _month(sim)
    tau = sim.field("tariff")[:, JPN_A]
    us, cn = sim.field("exports_us")[:, JPN_A], sim.field("exports_cn")[:, JPN_A]
    assert tau[0] == 0 and 0 < tau[1] < tau[2]
    # No tariff change: a fixed point.
    assert us[0] == pytest.approx(s_us, abs=1e-15) and cn[0] == pytest.approx(s_cn, abs=1e-15)
    # A tariff rise: exports to the US fall toward s_US·(1 + τ)^−ε, a share of the loss re-routes to China.
    target_us = s_us * (1 + tau[1]) ** -el
    assert us[1] == pytest.approx(s_us + rate * (target_us - s_us))
    assert us[1] < s_us and cn[1] > s_cn
    assert cn[1] - s_cn == pytest.approx(rate * div * (s_us - us[1]))
    # Higher tariff, lower exports to the US.
    assert us[2] < us[1]
    # Long run: exports to the US reach their tariff target, China gains diversion × the loss.
    long = _export_world(months=250)
    for _ in range(250):
        _month(long)
    assert long.field("exports_us")[1, JPN_A] == pytest.approx(target_us, rel=1e-9)
    assert long.field("exports_cn")[1, JPN_A] == pytest.approx(s_cn + div * (s_us - target_us), rel=1e-9)
    # Higher elasticity, stronger fall.
    elastic = _export_world(elasticity=3.0)
    _month(elastic)
    assert elastic.field("exports_us")[1, JPN_A] < us[1]
    # No diversion: China's exports do not move.
    flat = _export_world(diversion=0.0)
    _month(flat)
    np.testing.assert_allclose(flat.field("exports_cn")[:, JPN_A], s_cn, rtol=1e-15)


def test_trade_shares():
    us, cn = 0.1, 0.25
    s_us0, s_cn0 = 0.2, 0.18
    other = 1 - 0.2 - 0.18
    assert step.export_share(cn, us, cn, s_us0, s_cn0) == pytest.approx(0.25 / (0.35 + other))
    assert step.export_share(us, us, cn, s_us0, s_cn0) == pytest.approx(0.1 / (0.35 + other))
    assert step.export_share(s_cn0, s_us0, s_cn0, s_us0, s_cn0) == pytest.approx(0.18)


# ============================================================================ burden


def test_burden_gap_never_negative():
    demand = RNG.uniform(0, 15, 1000)
    effort = RNG.uniform(0, 15, 1000)
    gap = _v(step.burden_gap)(demand, effort)
    assert (gap >= 0).all()
    np.testing.assert_allclose(gap, np.where(demand > effort, demand - effort, 0.0))


def test_reliability_target_falls_with_pain_and_gap():
    assert step.reliability_target(0.8, 1.0, 1.0, 0.5, 0.5, 0.3, 0.3) == pytest.approx(0.8)
    assert step.reliability_target(0.8, 2.0, 1.0, 0.5, 0.5, 0.3, 0.3) == pytest.approx(0.8 - 0.3)
    assert step.reliability_target(0.8, 1.0, 1.0, 1.5, 0.5, 0.3, 0.3) == pytest.approx(0.8 - 0.3)
    pains = np.linspace(0, 10, 50)
    assert (np.diff(_v(step.reliability_target)(0.8, pains, 0.0, 0.0, 0.0, 0.3, 0.3)) < 0).all()


def test_reliability_update_moves_toward_target_and_reassurance_raises_it():
    # Quiet world: the target is the start's latent reliability; written offsets of ∓1 close by the rate.
    p = _quiet_params()
    sim = _sim(p, R=2)
    rel0 = np.array([p.actors["JPN"].initial_reliability, p.actors["KOR"].initial_reliability])
    np.testing.assert_allclose(sim.field("reliability")[0], rel0, rtol=1e-15)  # logit, then logistic
    l0 = sim.field("latent0")
    np.testing.assert_allclose(l0[0], np.log(rel0 / (1 - rel0)))
    _put(sim, "latent", l0 + np.array([[-1.0, 0.0], [1.0, 0.0]]))
    _month(sim)
    rate = p.mechanisms.reliability_adjustment_rate
    lat = sim.field("latent")
    np.testing.assert_allclose(lat[:, 0], l0[:, 0] + np.array([-1.0, 1.0]) * (1 - rate), atol=1e-14)
    np.testing.assert_allclose(lat[:, 1], l0[:, 1], atol=1e-14)
    np.testing.assert_allclose(sim.field("reliability"), 1 / (1 + np.exp(-lat)), rtol=1e-14)
    # A reassurance event raises the latent reliability by its magnitude.
    p.events = [ScriptedEvent(month="2025-07", kind="reassurance", targets=["JPN"], magnitude=0.5)]
    sim = _sim(p, R=2)
    _month(sim)
    np.testing.assert_allclose(sim.field("latent")[:, 0], l0[:, 0] + 0.5, atol=1e-14)
    r = _v(step.logistic)(np.linspace(-30, 30, 101))
    assert (r > 0).all() and (r < 1).all() and (np.diff(r) > 0).all()


def test_entrapment_zero_when_patron_challenger_tie_nonnegative():
    fear = _v(step.entrapment_fear)
    assert (fear(0.5, np.array([0.5, 0.6]), np.array([0.2, 0.0]), np.array([0.8, 0.7])) == 0).all()
    assert step.entrapment_fear(1.0, 0.5, -0.5, 0.8) == pytest.approx(-0.5 * 0.5 * 0.8)
    assert step.entrapment_fear(1.0, 0.5, -0.5, -0.2) == 0.0  # an ally not close to the patron fears none
    assert step.entrapment_fear(0.5, 0.5, -0.5, 0.8) == pytest.approx(0.5 * -0.5 * 0.5 * 0.8)  # weighted
    # Deeper US–China conflict, more fear (a stronger push away from the patron).
    assert step.entrapment_fear(1.0, 0.5, -0.9, 0.7) < step.entrapment_fear(1.0, 0.5, -0.5, 0.7) < 0


# ============================================================================ challenger


@pytest.mark.parametrize("level", [0.2, 0.5, 0.9])
def test_coercion_push_sign_flips_at_backfire_level(level):
    below = step.coercion_patron_push(0.3, level - 0.1, level)
    at = step.coercion_patron_push(0.3, level, level)
    above = step.coercion_patron_push(0.3, level + 0.1, level)
    assert below < 0 < above
    assert at == 0.0
    assert above == pytest.approx(0.03)
    threats = np.linspace(0, 1, 21)
    assert (np.diff(_v(step.coercion_patron_push)(0.3, threats, level)) > 0).all()


def test_market_access_change_signs():
    # Quiet world (exports at their fixed point): induce / coerce / nothing toward both allies.
    p = _quiet_params()
    sim = _sim(p, R=3)
    _put(sim, "china_choice", np.array([[step.CN_INDUCE] * 2, [step.CN_COERCE] * 2, [step.CN_NONE] * 2]))
    _month(sim)
    s_cn0 = sim.c.share_cn0
    cp = p.china_policy
    expect = s_cn0 * (1 + np.array([[cp.inducement_market_access], [-cp.coercion_export_loss], [0.0]]))
    np.testing.assert_allclose(sim.field("exports_cn"), expect, rtol=1e-14)


# ============================================================================ domestic


def _citizens(N=40, R=6, conformity=0.0, stubbornness=0.0, noise=0.0, months=3, **pop):
    p = _quiet_params(citizens=N)
    p.population.conformity = conformity
    p.population.stubbornness = stubbornness
    p.population.opinion_noise_sd = noise
    for k, v in pop.items():
        setattr(p.population, k, v)
    return _sim(p, R=R, months=months)


def test_citizens_conformity_pulls_toward_mean_and_conserves_it():
    sim = _citizens(conformity=0.25)
    ops = {name: RNG.uniform(-0.5, 0.5, (6, 2, 40)) for name in ("op_us", "op_cn")}
    for name, op in ops.items():
        _put(sim, name, op)
    _month(sim)
    for name, op in ops.items():
        new = sim.field(name)
        # No noise, no shock, no stubbornness, nothing clipped: x ← x + γ(x̄ − x) keeps the mean ...
        np.testing.assert_allclose(new.mean(-1), op.mean(-1), atol=1e-14)
        # ... and shrinks every deviation by (1 − γ).
        np.testing.assert_allclose(new - new.mean(-1, keepdims=True), 0.75 * (op - op.mean(-1, keepdims=True)),
                                   atol=1e-14)


def test_citizens_stubbornness_pulls_toward_anchor():
    sim = _citizens(N=10, R=2, stubbornness=0.2)
    for name in ("op_us", "op_cn"):
        _put(sim, name, 0.0)
        _put(sim, name.replace("op", "anchor"), 0.5)
    _month(sim)
    np.testing.assert_allclose(sim.field("op_us"), 0.1, atol=1e-14)
    np.testing.assert_allclose(sim.field("op_cn"), 0.1, atol=1e-14)


def test_citizens_shock_by_group():
    # A tariff rise on Japan stirs nationalism against the patron (op_US falls) and an inducement toward
    # Korea appeals (op_CN rises), each citizen by the sensitivity of its group.
    sim = _citizens(N=20, R=2, opinion_spread=0.0)  # nobody at a bound
    groups = sim.c.citizen_group
    assert set(groups) == {0, 1, 2, 3}
    _put_at(sim, "tariff_offset", JPN_A, 0.2)
    _put_at(sim, "china_choice", KOR_A, step.CN_INDUCE)
    tau0 = sim.field("tariff")
    before = {name: sim.field(name) for name in ("op_us", "op_cn")}
    _month(sim)
    d_tariff = sim.field("tariff") - tau0
    assert d_tariff[0, JPN_A] > 0.1 and d_tariff[0, KOR_A] == 0
    pop = sim.c.params.population
    d_us = sim.field("op_us") - before["op_us"]
    d_cn = sim.field("op_cn") - before["op_cn"]
    np.testing.assert_allclose(d_us[:, JPN_A], -pop.tariff_nationalism * d_tariff[:, [JPN_A]]
                               * GROUP_TARIFF_SENSITIVITY[groups], atol=1e-14)
    np.testing.assert_allclose(d_cn[:, KOR_A], np.broadcast_to(pop.inducement_appeal
                                                               * GROUP_APPEAL_SENSITIVITY[groups], (2, 20)),
                               atol=1e-14)
    assert (d_us[:, KOR_A] == 0).all() and (d_cn[:, JPN_A] == 0).all()


def test_citizens_noise_has_configured_sd_and_is_reproducible():
    def increments(months=1):
        sim = _citizens(N=200, R=50, noise=0.03, opinion_spread=0.0)  # nobody at a bound
        out = []
        for _ in range(months):
            before = sim.field("op_us"), sim.field("op_cn")
            _month(sim)
            out.append(np.stack([sim.field("op_us") - before[0], sim.field("op_cn") - before[1]]))
        return out

    first, second = increments(2)
    assert abs(first.std() - 0.03) < 0.001 and abs(first.mean()) < 0.001
    # Uniform noise: within ±√3·sd.
    assert np.abs(first).max() <= math.sqrt(3) * 0.03 + 1e-12
    np.testing.assert_array_equal(first, increments(1)[0])
    assert not np.array_equal(first, second)


def test_citizens_stay_in_unit_interval_under_huge_shocks():
    for offset in (0.5, -0.5):
        p = _quiet_params(citizens=30)
        p.tariffs = [TariffStep(month="2025-07", target="JPN", rate=0.5)]
        sim = _sim(p, R=5)
        _param(sim, "opinion_noise_sd", 1.0)
        _param(sim, "conformity", 0.5)
        _param(sim, "stubbornness", 0.5)
        _param(sim, "tariff_nationalism", 1e3)
        _param(sim, "inducement_appeal", -1e3 * offset)
        _put(sim, "china_choice", step.CN_INDUCE)
        _put_at(sim, "tariff_offset", JPN_A, offset)
        for name in ("op_us", "op_cn", "anchor_us", "anchor_cn"):
            _put(sim, name, RNG.uniform(-1, 1, (5, 2, 30)))
        _month(sim)
        for name in ("op_us", "op_cn"):
            new = sim.field(name)
            assert (np.abs(new) <= 1.0).all() and np.isfinite(new).all()
            assert (np.abs(new) == 1.0).mean() > 0.4  # the shocks did hit the bounds
        assert (np.abs(sim.field("public")) <= 1.0).all()


def test_aggregate_opinion_update():
    p = _quiet_params()
    p.population.stubbornness = 0.1
    sim = _sim(p, R=3)
    for name, v in (("op_us", 0.2), ("anchor_us", 0.4), ("op_cn", -0.1), ("anchor_cn", -0.1)):
        _put(sim, name, v)
    _put_at(sim, "tariff_offset", JPN_A, 0.2)
    tau0 = sim.field("tariff")
    _month(sim)
    d_tariff = (sim.field("tariff") - tau0)[:, JPN_A]
    mix = group_mix(p.population)
    shock = -p.population.tariff_nationalism * d_tariff * (mix @ GROUP_TARIFF_SENSITIVITY)
    op = sim.field("op_us")
    np.testing.assert_allclose(op[:, JPN_A, 0], 0.2 + 0.1 * 0.2 + shock, atol=1e-14)
    np.testing.assert_allclose(op[:, KOR_A, 0], 0.2 + 0.1 * 0.2, atol=1e-14)  # no tariff, no shock
    np.testing.assert_allclose(sim.field("op_cn"), -0.1, atol=1e-14)
    # A huge shock is clipped to the bound.
    sim = _sim(p, R=3)
    _param(sim, "tariff_nationalism", 1e3)
    _put_at(sim, "tariff_offset", JPN_A, 0.2)
    _month(sim)
    assert (sim.field("op_us")[:, JPN_A] == -1.0).all()


def test_public_alignment():
    # Aggregate opinion starts at σ·Φ⁻¹(f) of the surveyed favourable shares (the observation model's inverse,
    # so that the month-0 share Φ(x/σ) is the surveyed one; it was 2f − 1 before the observation model); the
    # public stance is half the difference of favourability of the patron and of the challenger.
    from scipy.special import ndtri

    p = _quiet_params()
    sim = _sim(p, R=2)
    sigma = p.population.opinion_spread
    fav_us = np.array([p.actors[a].public.favorable_us_share for a in ("JPN", "KOR")])
    fav_cn = np.array([p.actors[a].public.favorable_china_share for a in ("JPN", "KOR")])
    np.testing.assert_allclose(sim.field("op_us")[0, :, 0], sigma * ndtri(fav_us), atol=1e-12)
    np.testing.assert_allclose(sim.field("op_cn")[0, :, 0], sigma * ndtri(fav_cn), atol=1e-12)
    assert sim.field("op_us")[0, JPN_A, 0] == pytest.approx(0.4 * 0.12566, abs=1e-5)  # 55 % favourable
    np.testing.assert_allclose(sim.field("public")[0], 0.5 * sigma * (ndtri(fav_us) - ndtri(fav_cn)), atol=1e-12)
    # With citizens: the same of the population means, after any month.
    sim = _citizens(N=30, R=4, conformity=0.1, noise=0.03)
    _month(sim)
    np.testing.assert_allclose(sim.field("public"),
                               0.5 * (sim.field("op_us").mean(-1) - sim.field("op_cn").mean(-1)), atol=1e-14)


def test_leader_stance_within_latitude_of_public():
    orient = RNG.uniform(-1, 1, 2000)
    public = RNG.uniform(-1, 1, 2000)
    lat = RNG.uniform(0, 2, 2000)
    s = _v(step.leader_stance)(orient, public, lat)
    assert (np.abs(s - public) <= lat + 1e-12).all()
    inside = np.abs(orient - public) <= lat
    np.testing.assert_array_equal(s[inside], orient[inside])
    # Outside the latitude the leader sits at its edge nearest to the own orientation.
    assert step.leader_stance(-0.8, 0.4, 0.5) == pytest.approx(-0.1)
    assert step.leader_stance(0.9, 0.0, 0.5) == pytest.approx(0.5)
    # The step's stance is this rule applied to its orientation and public.
    sim = _sim(R=4)
    _put(sim, "orientation", 0.95)
    _month(sim)
    lat_v = np.array([sim.c.params.actors[a].leader_latitude for a in ("JPN", "KOR")])
    np.testing.assert_allclose(sim.field("stance"), np.minimum(0.95, sim.field("public") + lat_v), atol=1e-14)


def _election(public, weight=3.0, R=20_000):
    """Japan's orientation after an election in month 0 with the public at ``public`` (aggregate opinion)."""
    p = _quiet_params()
    p.actors["JPN"].elections = ["2025-07"]
    p.population.election_public_weight = weight
    sim = _sim(p, R=R, seed=11)
    for name, v in (("op_us", public), ("anchor_us", public), ("op_cn", -public), ("anchor_cn", -public)):
        _put(sim, name, v)
    _month(sim)
    np.testing.assert_allclose(sim.field("public"), public, atol=1e-14)
    kor = sim.field("orientation")[:, KOR_A]
    assert (kor == p.actors["KOR"].leader_orientation).all()  # no election in Korea
    return sim.field("orientation")[:, JPN_A], p.actors["JPN"]


@pytest.mark.parametrize("public", [-0.5, 0.0, 0.3])
def test_election_winner_probabilities(public):
    win, jpn = _election(public)
    assert set(np.unique(win)) <= {jpn.hawk_orientation, jpn.conciliatory_orientation}
    p = 1 / (1 + np.exp(-3.0 * public))
    assert step.p_hawk(3.0, public) == pytest.approx(p)
    n = win.shape[0]
    assert abs(np.mean(win == jpn.hawk_orientation) - p) < 5 * np.sqrt(p * (1 - p) / n)


def test_election_winner_public_weight_zero_is_coin_flip_and_hawkish_public_elects_hawks():
    lo, jpn = _election(-0.2)
    hi, _ = _election(0.2)
    hawk = jpn.hawk_orientation
    assert np.mean(hi == hawk) > np.mean(lo == hawk) + 0.2
    # Same draws: everyone a dovish public elects as a hawk, a hawkish public elects too.
    assert (hi[lo == hawk] == hawk).all()
    flat, _ = _election(0.9, weight=0.0)
    assert abs(np.mean(flat == hawk) - 0.5) < 5 * 0.5 / np.sqrt(flat.shape[0])


# ============================================================================ decisions


def _choices(util: np.ndarray, u: np.ndarray) -> np.ndarray:
    """step.logit_choices with one lane per uniform, every lane with the utilities ``util``."""
    U = np.ascontiguousarray(np.repeat(util[:, None], len(u), axis=1))
    out = np.zeros((1, len(u)))
    step.logit_choices(U, len(util), np.ascontiguousarray(u[None, :]), 0, out, 0, np.empty((len(util) + 3, len(u))))
    return out[0].astype(np.int64)


def test_logit_choice_follows_softmax_and_never_picks_unavailable():
    # On an even grid of uniforms the share of each option is its softmax probability (to 1/n).
    n = 20_000
    u = (np.arange(n) + 0.5) / n
    for util in ([0.0, 1.0], [0.0, -1.0, 0.5], [0.3, step.NEG, -0.2, 1.0], [0.0, -3.0, 2.0, 0.1, step.NEG]):
        k = len(util)
        picks = _choices(np.array(util), u)
        freq = np.bincount(picks, minlength=k) / n
        assert freq.size == k
        np.testing.assert_allclose(freq, softmax(np.array(util)), atol=2.0 / n)
        for j in np.flatnonzero(np.array(util) == step.NEG):
            assert (picks != j).all()
        # The CDF inversion: choices are non-decreasing in u.
        assert (np.diff(picks) >= 0).all()
    # Even an option far above the rest is never chosen when the others are NEG, and vice versa.
    assert set(_choices(np.array([step.NEG, 50.0, step.NEG]), u[::97])) == {1}


def _ally_world(R=8000, chip=None, **policy):
    p = Parameters()
    p.population.size_per_ally = 0
    # The relief a concession is expected to buy is tested in test_bargaining.py: off here, so the
    # utilities below are the myopic ones of docs/model.md §7.4.
    policy.setdefault("concede_expected_relief_weight", 0.0)
    for k, v in policy.items():
        setattr(p.ally_policy, k, v)
    if chip is not None:
        p.actors["KOR"].bargaining_chip = chip
    sim = _sim(p, R=R, seed=5)
    sim.begin_month()
    return sim


def _ally_state(sim, threat=0.0, rel=0.7, pain_rise=0.0, stance=0.0, chip_used=0.0):
    _put_at(sim, "threat", KOR, threat)
    _put_at(sim, "reliability", KOR_A, rel)
    _put_at(sim, "pain", KOR_A, sim.field("pain0")[:, KOR_A] + pain_rise)
    _put_at(sim, "stance", KOR_A, stance)
    _put_at(sim, "chip_used", KOR_A, chip_used)
    return sim.decide_ally(KOR_A)


def _ally_probs(pol, threat, rel, pain_rise, stance, chip_u=step.NEG, china_share=None):
    """Choice probabilities of docs/model.md's ally utilities (hold is the reference option, utility 0);
    Korea uncoerced last month, selling ``china_share`` (default: its start share) of its exports to China."""
    if china_share is None:
        china_share = Parameters().actors["KOR"].export_share_china
    u = [0.0,
         pol.concede_base_utility + pol.concede_protection_weight * threat * rel
         + pol.concede_pain_weight * pain_rise + pol.concede_stance_weight * stance,
         pol.hedge_base_utility + pol.hedge_unreliability_weight * (1 - rel) - pol.hedge_stance_weight * stance
         + pol.hedge_pain_weight * pain_rise,
         pol.retaliate_base_utility + pol.retaliate_pain_weight * pain_rise - pol.retaliate_threat_weight * threat,
         chip_u,
         pol.accommodate_base_utility + pol.accommodate_dependence_weight * china_share
         - pol.accommodate_stance_weight * stance]
    return softmax(np.array(u))


def test_ally_unavailable_chip_is_never_chosen():
    # A chip so attractive it would nearly always be played: never before it is available, never twice.
    later = BargainingChip(available_from="2026-01", base_utility=20.0)
    assert (_ally_state(_ally_world(chip=later)) != step.ALLY_CHIP).all()
    now = BargainingChip(available_from="2025-07", base_utility=20.0)
    sim = _ally_world(chip=now)
    assert (_ally_state(sim, chip_used=1.0) != step.ALLY_CHIP).all()
    assert np.mean(_ally_state(sim, chip_used=0.0) == step.ALLY_CHIP) > 0.99
    # No chip at all: never chosen either, whatever else.
    assert (_ally_state(_ally_world(), pain_rise=10.0) != step.ALLY_CHIP).all()
    # Available: utility base + weight × pain rise, against the other options.
    chip = BargainingChip(available_from="2025-07", base_utility=-3.0, tariff_pain_weight=0.5)
    sim = _ally_world(chip=chip)
    choices = _ally_state(sim, threat=0.3, pain_rise=5.0)
    _assert_frequencies(choices, _ally_probs(sim.c.params.ally_policy, 0.3, 0.7, 5.0, 0.0, -3.0 + 0.5 * 5.0))


def test_ally_tariff_pain_raises_concede_hedge_retaliate_utilities():
    sim = _ally_world()
    pol = sim.c.params.ally_policy
    lo = _ally_state(sim, threat=0.5, rel=0.6, pain_rise=0.0)
    hi = _ally_state(sim, threat=0.5, rel=0.6, pain_rise=4.0)
    # Each option's utility rises by its pain weight × the pain rise (hold is the reference) ...
    _assert_frequencies(lo, _ally_probs(pol, 0.5, 0.6, 0.0, 0.0))
    _assert_frequencies(hi, _ally_probs(pol, 0.5, 0.6, 4.0, 0.0))
    # ... so the probability of holding falls and each other option gains against it.
    _more_often(lo, hi, step.ALLY_HOLD)
    for option in (step.ALLY_CONCEDE, step.ALLY_HEDGE, step.ALLY_RETALIATE):
        _odds_higher(hi, lo, option)
    # A fall of pain below its start level is no relief: the rise is floored at 0.
    np.testing.assert_array_equal(_ally_state(sim, threat=0.5, rel=0.6, pain_rise=-2.0), lo)


def test_ally_threat_reliability_and_stance_directions():
    sim = _ally_world(concede_base_utility=-1.0, hedge_base_utility=-1.0, retaliate_base_utility=-1.0)

    def u(threat_, rel, stance):
        return _ally_state(sim, threat=threat_, rel=rel, stance=stance)

    # Each utility against holding's (the odds against hold), so that one option's change is not
    # confused with the others' through the softmax's normalisation.
    # Threat (with a reliable patron) raises concession and lowers retaliation (Snyder 1984).
    _odds_higher(u(0.9, 0.7, 0), u(0.1, 0.7, 0), step.ALLY_CONCEDE)
    _odds_higher(u(0.1, 0.7, 0), u(0.9, 0.7, 0), step.ALLY_RETALIATE)
    _more_often(u(0.9, 0.7, 0), u(0.1, 0.7, 0), step.ALLY_CONCEDE)
    # An unreliable patron invites hedging; a conciliatory leader hedges more, concedes less.
    _odds_higher(u(0.5, 0.2, 0), u(0.5, 0.9, 0), step.ALLY_HEDGE)
    _odds_higher(u(0.5, 0.7, -0.8), u(0.5, 0.7, 0.8), step.ALLY_HEDGE)
    _odds_higher(u(0.5, 0.7, 0.8), u(0.5, 0.7, -0.8), step.ALLY_CONCEDE)


def _patron_world(R=8000, **policy):
    p = Parameters()
    p.population.size_per_ally = 0
    p.tariffs = [TariffStep(month="2025-07", target="JPN", rate=0.1)]
    p.actors["KOR"].bargaining_chip = BargainingChip(us_relief_bonus=2.0)
    for k, v in policy.items():
        setattr(p.us_policy, k, v)
    sim = _sim(p, R=R, seed=9)
    sim.begin_month()
    return sim


def _patron_state(sim, gap=0.0, last=step.ALLY_HOLD, bonus=0.0, offset=0.1):
    """Choices (R, A) with both allies in the same state; the default offset leaves relief available."""
    _put(sim, "gap", gap)
    _put(sim, "ally_last", last)
    _put(sim, "bonus_left", bonus)
    _put(sim, "tariff_offset", offset)
    return sim.decide_patron()


def test_patron_unavailable_options():
    # Escalation and relief so attractive they would usually be chosen: no escalation for Japan with its
    # offset at the cap, no relief for Korea, which pays no tariff.
    sim = _patron_world(escalate_base_utility=3.0, relief_base_utility=3.0)
    cap = sim.c.params.us_policy.max_tariff_offset
    choice = _patron_state(sim, offset=np.array([cap, 0.0]))
    assert (choice[:, JPN_A] != step.US_ESCALATE).all() and (choice[:, KOR_A] != step.US_RELIEVE).all()
    assert np.mean(choice[:, KOR_A] == step.US_ESCALATE) > 0.5
    assert np.mean(choice[:, JPN_A] == step.US_RELIEVE) > 0.5
    # Relief that would take the rate to zero: none left to give.
    choice = _patron_state(sim, offset=np.array([-0.1, 0.0]))
    assert (choice[:, JPN_A] != step.US_RELIEVE).all()


def test_patron_transactional_responses():
    sim = _patron_world(escalate_base_utility=-1.0, relief_base_utility=-1.0, raise_demand_base_utility=-1.0)
    pol = sim.c.params.us_policy
    base = _patron_state(sim)
    # The analytic case: utilities of hold / escalate / relieve / raise demand with a burden gap.
    u = np.array([0.0, -1.0 + 2.0 * pol.escalate_gap_weight, -1.0, -1.0])
    _assert_frequencies(_patron_state(sim, gap=2.0)[:, KOR_A], softmax(u))
    _more_often(_patron_state(sim, gap=2.0)[:, KOR_A], base[:, KOR_A], step.US_ESCALATE)  # burden gap → escalate
    retaliated = _patron_state(sim, last=step.ALLY_RETALIATE)
    _more_often(retaliated[:, KOR_A], base[:, KOR_A], step.US_ESCALATE)  # retaliation → escalate
    for conceding in (step.ALLY_CONCEDE, step.ALLY_CHIP):  # a played chip is a concession
        conceded = _patron_state(sim, last=conceding)
        _more_often(conceded[:, JPN_A], base[:, JPN_A], step.US_RELIEVE)  # concession → relief ...
        _odds_higher(conceded[:, KOR_A], base[:, KOR_A], step.US_RAISE_DEMAND)  # ... and more demands
        u = np.array([0.0, -1.0, -1.0 + pol.relief_concession_weight, -1.0 + pol.raise_demand_concession_weight])
        _assert_frequencies(conceded[:, JPN_A], softmax(u))
    # A played chip's bonus buys relief while it lasts (Korea's chip; Japan has none).
    with_bonus = _patron_state(sim, bonus=3.0)
    without = _patron_state(sim, bonus=0.0)
    _more_often(with_bonus[:, KOR_A], without[:, KOR_A], step.US_RELIEVE)
    np.testing.assert_array_equal(with_bonus[:, JPN_A], without[:, JPN_A])
    u = np.array([0.0, -1.0, -1.0 + 2.0, -1.0])
    _assert_frequencies(with_bonus[:, KOR_A], softmax(u))


def _challenger_world(R=8000):
    p = Parameters()
    p.population.size_per_ally = 0
    p.china_policy.induce_base_utility = p.china_policy.coerce_base_utility = -1.0
    sim = _sim(p, R=R, seed=13)
    sim.begin_month()
    return sim, p.china_policy


def _challenger_state(sim, drift, align=0.3, last=step.ALLY_HOLD):
    _put(sim, "alignment", align)
    _put(sim, "prev_alignment", align - drift)
    _put(sim, "ally_last", last)
    return sim.decide_challenger()[:, JPN_A]


def _challenger_probs(pol, drift, align=0.3, hedged=0.0):
    u = [0.0,
         pol.induce_base_utility + pol.induce_drift_weight * max(-drift, 0) + pol.induce_hedge_weight * hedged,
         pol.coerce_base_utility + pol.coerce_drift_weight * max(drift, 0)
         + pol.coerce_alignment_weight * max(align - 0.5, 0)]
    return softmax(np.array(u))


def test_challenger_utilities_reward_and_punish_drift():
    sim, pol = _challenger_world()
    still = _challenger_state(sim, 0.0)
    # Drift toward China → induce (and the coercion utility is unchanged) ...
    toward = _challenger_state(sim, -0.05)
    _more_often(toward, still, step.CN_INDUCE)
    _assert_frequencies(toward, _challenger_probs(pol, -0.05))
    # ... drift toward the US → coerce (and the inducement utility is unchanged).
    away = _challenger_state(sim, 0.05)
    _more_often(away, still, step.CN_COERCE)
    _assert_frequencies(away, _challenger_probs(pol, 0.05))
    # An ally far on the patron's side invites coercion; a hedging ally invites inducement.
    _more_often(_challenger_state(sim, 0.0, align=0.9), _challenger_state(sim, 0.0, align=0.5), step.CN_COERCE)
    _assert_frequencies(_challenger_state(sim, 0.0, align=0.9), _challenger_probs(pol, 0.0, align=0.9))
    hedged = _challenger_state(sim, 0.0, last=step.ALLY_HEDGE)
    _more_often(hedged, still, step.CN_INDUCE)
    _assert_frequencies(hedged, _challenger_probs(pol, 0.0, hedged=1.0))


def test_adversary_provokes_more_when_alliance_divided():
    p = with_north_korea(Parameters())
    p.population.size_per_ally = 0
    sim = _sim(p, R=8000, seed=17)
    sim.begin_month()
    choices = {}
    for coh in (0.9, 0.1):
        _put(sim, "cohesion", coh)
        choices[coh] = sim.decide_adversary(0)
    _more_often(choices[0.1], choices[0.9], step.ADV_PROVOKE)
    pol = p.adversary_policy
    for coh, ch in choices.items():
        assert set(np.unique(ch)) <= {step.ADV_RESTRAIN, step.ADV_PROVOKE}
        _assert_frequencies(ch, softmax([0.0, pol.provoke_base_utility + pol.provoke_cohesion_weight * (1 - coh)]))
