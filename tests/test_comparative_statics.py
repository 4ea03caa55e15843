"""Comparative statics with common random numbers (CRN).

Each test runs two scenarios that differ in one input, with the same seed and the same replicate
ids, so every replicate sees the same threat events, noise and decision uniforms until the
difference acts; the paired difference per replicate then has a small Monte Carlo error.  Every
assertion compares a paired mean difference with a margin well beyond that error (at least
``Z`` standard errors and a fixed size), so it fails if the model's direction is wrong.
"""

from __future__ import annotations

import numpy as np
import pytest

from alliance_sim.model.calendar import add_months
from alliance_sim.model.model import AllianceModel
from alliance_sim.model.parameters import DemandStep, Parameters, RateStep, ScriptedEvent, TariffStep

R = 300
MONTHS = 30
SEED = 8675309
START = "2025-07"
Z = 5.0  # standard errors


def base() -> Parameters:
    p = Parameters()
    p.population.size_per_ally = 20
    return p


def run(p: Parameters, months: int = MONTHS):
    """States after each month (index k = end of month k, k = 0 is the start)."""
    m = AllianceModel(p, replicate_ids=np.arange(R), seed=SEED, months=months, collect=False)
    states = [m.state.copy()]
    for _ in range(months):
        m.step()
        states.append(m.state.copy())
    return states


def paired(x_low: np.ndarray, x_high: np.ndarray) -> tuple[float, float]:
    """Mean and standard error of the per-replicate difference high − low."""
    d = np.asarray(x_high, dtype=float) - np.asarray(x_low, dtype=float)
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(d.size))


def assert_lower(x_a, x_b, margin, what=""):
    """Assert mean(x_b) < mean(x_a) by more than ``margin`` and Z standard errors of the paired difference."""
    diff, se = paired(x_a, x_b)
    assert diff < -max(margin, Z * se), f"{what}: paired difference {diff:+.4f} (SE {se:.4f})"
    return diff, se


def assert_higher(x_a, x_b, margin, what=""):
    diff, se = paired(x_a, x_b)
    assert diff > max(margin, Z * se), f"{what}: paired difference {diff:+.4f} (SE {se:.4f})"
    return diff, se


def ally_pos(p: Parameters, name: str) -> int:
    return p.allies.index(name)


def actor_pos(p: Parameters, name: str) -> int:
    return list(p.actors).index(name)


# ------------------------------------------------------------------------ (1) tariffs


@pytest.mark.parametrize("ally", ["JPN", "KOR"])
def test_higher_us_tariff_lowers_alignment_with_the_us(ally):
    # Why: a higher tariff raises tariff pain (100·exports/GDP·exports to US·τ), which strains the
    # tie with the US (tariff_weight) and lowers perceived reliability, so the threat pull toward the
    # US weakens; part of the lost exports re-route to China, pulling the China tie up.  All three push
    # alignment down.  Start is tariff-free; the step comes at month 2.
    out = {}
    for rate in (0.10, 0.25):
        p = base()
        p.tariffs = [TariffStep(month=add_months(START, 2), target=ally, rate=rate)]
        out[rate] = run(p)
    a = ally_pos(p, ally)
    low, high = out[0.10][-1], out[0.25][-1]
    assert_lower(low.alignment[:, a], high.alignment[:, a], 0.02, f"{ally} alignment at horizon")
    # The channels: more pain, lower reliability, more exports to China.
    assert_higher(low.pain[:, a], high.pain[:, a], 0.1, "pain")
    assert_lower(low.reliability[:, a], high.reliability[:, a], 0.01, "reliability")
    assert_higher(low.exports_cn[:, a], high.exports_cn[:, a], 1e-3, "exports to China")
    # Before the step the two scenarios are the same world (CRN): identical states.
    assert np.array_equal(out[0.10][2].ties, out[0.25][2].ties)


# ------------------------------------------------------------------------ (2) threat


def test_higher_north_korean_threat_raises_koreas_alignment():
    # Why (Walt 1987): more provocations raise Korea's perceived threat; with a reliable patron the
    # threat term threat_weight·P·reliability raises the target of the US tie, and PRK is not an actor
    # here, so nothing sours a tie of Korea's in return.
    out = {}
    for rate in (1.5, 6.0):
        p = base()
        p.threats["nk_provocations"].rate_schedule = [RateStep(month=add_months(START, 2), rate_per_month=rate)]
        out[rate] = run(p)
    k, kor = ally_pos(p, "KOR"), actor_pos(p, "KOR")
    low, high = out[1.5][-1], out[6.0][-1]
    assert_higher(low.threat[:, kor], high.threat[:, kor], 0.1, "KOR perceived threat")
    assert_higher(low.alignment[:, k], high.alignment[:, k], 0.03, "KOR alignment at horizon")


# ------------------------------------------------------------------------ (3) coercion backfire


def _coercion_runs(threat_scale: float, backfire_level: float | None):
    """Scripted China; one coercion of Korea at month 2 vs none.  Threat rates scaled by threat_scale."""
    out = {}
    for coerce in (False, True):
        p = base()
        p.china_policy.mode = "scripted"
        for proc in p.threats.values():
            proc.rate_per_month *= threat_scale
        if backfire_level is not None:
            p.mechanisms.coercion_backfire_threat_level = backfire_level
        if coerce:
            p.events = [ScriptedEvent(month=add_months(START, 2), kind="coercion", targets=["KOR"])]
        out[coerce] = run(p, months=12)
    return p, out


@pytest.mark.parametrize("threat_scale, backfire_level, backfires", [
    (0.0, None, False),   # no threat at all: perceived threat 0 < 0.5 → intimidation
    (3.0, None, True),    # three times the default rates: perceived threat ≈ 0.97 > 0.5 → backfire
    (1.0, 0.95, False),   # default threat (≈ 0.70) below a high backfire level
    (1.0, 0.20, True),    # default threat above a low backfire level
], ids=["no-threat", "high-threat", "default-threat-high-level", "default-threat-low-level"])
def test_coercion_backfires_only_above_the_threat_level(threat_scale, backfire_level, backfires):
    # Why: a coercion adds coercion_intimidation·(P − P_backfire) to the ally–US tie (THAAD 2017):
    # negative when the ally's perceived threat P is below the backfire level, positive above.  We
    # look at the tie one month after the event (month 3); the coercion's other effects (threat
    # added to the China stock, public backlash) are small within one month.
    p, out = _coercion_runs(threat_scale, backfire_level)
    usa, kor = actor_pos(p, "USA"), actor_pos(p, "KOR")
    level = p.mechanisms.coercion_backfire_threat_level
    threat_at_event = out[False][2].threat[:, kor]
    # The premise of the case holds in (almost) every replicate.
    assert np.mean((threat_at_event > level) == backfires) > 0.95
    assert np.array_equal(out[False][2].ties, out[True][2].ties)  # same world before the event
    after_none, after_coerced = out[False][3].ties[:, usa, kor], out[True][3].ties[:, usa, kor]
    if backfires:
        assert_higher(after_none, after_coerced, 0.03, "USA–KOR tie after coercion (backfire)")
    else:
        assert_lower(after_none, after_coerced, 0.03, "USA–KOR tie after coercion (intimidation)")
    # Either way coercion sours the China tie.
    ch = actor_pos(p, "CHN")
    assert_lower(out[False][3].ties[:, ch, kor], out[True][3].ties[:, ch, kor], 0.02, "CHN–KOR tie")


# ------------------------------------------------------------------------ (4) leader orientation


def _leader_runs(mode: str, tariff: float | None):
    out = {}
    for o in (-0.8, 0.8):
        p = base()
        if tariff is not None:
            p.tariffs = [TariffStep(month=add_months(START, 2), target="KOR", rate=tariff)]
        if mode == "start":
            p.actors["KOR"].leader_orientation = o
        else:
            p.events = [ScriptedEvent(month=add_months(START, 1), kind="leader", targets=["KOR"], orientation=o)]
        out[o] = run(p)
    return p, out


def _crossed(states, a):
    """Per replicate: has the ally's alignment been below 0 at some month?"""
    return np.stack([s.alignment[:, a] for s in states]).min(axis=0) < 0


@pytest.mark.parametrize("tariff", [None, 0.25])
def test_leader_change_to_conciliatory_drifts_toward_beijing(tariff):
    # Why: after the start the leader's stance enters the ties' drivers (leader_weight·stance on the US
    # tie, −leader_weight·stance on the China tie), so a conciliatory leader installed at month 1
    # lowers alignment relative to a hawkish one; conciliatory leaders also hedge more and concede less.
    p, out = _leader_runs("event", tariff)
    k = ally_pos(p, "KOR")
    dove, hawk = out[-0.8][-1], out[0.8][-1]
    assert_lower(hawk.alignment[:, k], dove.alignment[:, k], 0.1, "KOR alignment, dove vs hawk")
    assert np.mean(_crossed(out[-0.8], k)) >= np.mean(_crossed(out[0.8], k))


def test_conciliatory_leader_at_start_crosses_more_often_under_a_tariff_shock():
    # At the start the leader's stance is absorbed into the calibrated intercept, so orientation acts
    # through decisions (hedge vs concede) and through the latitude constraint.  Under a 25 % tariff on
    # Korea from month 2, the conciliatory leader's Korea crosses to Beijing's side (alignment < 0 at
    # some month) more often.
    p, out = _leader_runs("start", 0.25)
    k = ally_pos(p, "KOR")
    assert_higher(_crossed(out[0.8], k), _crossed(out[-0.8], k), 0.05, "crossing share, dove vs hawk")


def test_conciliatory_leader_at_start_has_lower_alignment_without_shocks():
    # Without a shock the start is an equilibrium for both leaders (their stance is absorbed into the
    # intercept); the difference comes from decisions (a conciliatory leader hedges more and concedes
    # less: hedge_stance_weight, concede_stance_weight) and from the latitude constraint.
    p, out = _leader_runs("start", None)
    k = ally_pos(p, "KOR")
    assert_lower(out[0.8][-1].alignment[:, k], out[-0.8][-1].alignment[:, k], 0.01, "KOR alignment, dove vs hawk")


# ------------------------------------------------------------------------ (5) burden demands


def test_burden_demand_step_raises_gap_and_lowers_reliability():
    # Why (Olson & Zeckhauser 1966; Snyder 1984): the demand rises above the ally's effort, so the gap
    # max(demand − effort, 0) opens (concessions close it only by 0.1 pp each), and perceived
    # reliability's target falls by reliability_demand_sensitivity per point of gap.
    out = {}
    for demand in (None, 5.0):
        p = base()
        if demand is not None:
            p.demands = [DemandStep(month=add_months(START, 2), target="KOR", defense_gdp=demand)]
        out[demand] = run(p)
    k = ally_pos(p, "KOR")
    none, step = out[None][-1], out[5.0][-1]
    assert_higher(none.gap[:, k], step.gap[:, k], 1.0, "KOR burden gap")
    assert_lower(none.reliability[:, k], step.reliability[:, k], 0.05, "KOR reliability")
    # ... and the friction lowers alignment with the US.
    assert_lower(none.alignment[:, k], step.alignment[:, k], 0.02, "KOR alignment")
    # Japan is not asked: its gap is unchanged in expectation (a small effect through balance only).
    j = ally_pos(p, "JPN")
    assert abs(paired(none.gap[:, j], step.gap[:, j])[0]) < 0.1
