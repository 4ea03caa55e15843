"""Forward-looking concessions (step.expected_concession_relief): analytic cases of the term and its parts, and
the direction it pushes with common random numbers.

The ally weighs a concession by the rise in the patron's chance of relief it buys (forecast with the patron's
own rule, step.patron_utilities) times the tariff pain above the start.  With weight 0 the ally is myopic.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from alliance_sim.model.model import AllianceModel
from alliance_sim.model.step import NEG, expected_concession_relief, relief_probability
from alliance_sim.scenario import load_scenario


def _softmax_relief(u1, u2, u3):
    w = [math.exp(u) if u > NEG / 2 else 0.0 for u in (0.0, u1, u2, u3)]
    return w[2] / sum(w)


@pytest.mark.parametrize("u", [(-3.5, -3.5, -4.0), (-3.5, -0.5, -1.0), (2.0, 1.0, -30.0), (NEG, 0.3, 0.3)])
def test_relief_probability_is_the_softmax_share_of_relief(u):
    assert relief_probability(*u) == pytest.approx(_softmax_relief(*u), rel=1e-12)


def test_no_relief_option_means_no_expected_relief():
    """A zero tariff cannot be relieved (utility NEG): conceding buys nothing, whatever the weight."""
    p1, p0 = relief_probability(-3.5, NEG, -1.0), relief_probability(-3.5, NEG, -4.0)
    assert p1 == 0.0 and p0 == 0.0
    assert expected_concession_relief(20.0, p1, p0, 3.0) == 0.0


def test_expected_relief_is_weight_times_probability_gain_times_pain():
    p1, p0 = relief_probability(-3.5, -0.5, -1.0), relief_probability(-3.5, -3.5, -4.0)
    assert p1 > p0
    assert expected_concession_relief(4.0, p1, p0, 1.5) == pytest.approx(4.0 * (p1 - p0) * 1.5, rel=1e-12)
    assert expected_concession_relief(4.0, p1, p0, 0.0) == 0.0  # no pain above the start: nothing at stake
    assert expected_concession_relief(0.0, p1, p0, 1.5) == 0.0  # the myopic ally
    assert expected_concession_relief(4.0, p0, p1, 1.5) == 0.0  # never a reason *not* to concede


def _korea(weight: float, replicates: int = 160, months: int = 24):
    """Per replicate: Korea's months conceding and its alignment at the horizon (tariff_shock_2025)."""
    p = load_scenario("tariff_shock_2025").params.model_copy(deep=True)
    p.ally_policy.concede_expected_relief_weight = weight
    m = AllianceModel(p, replicate_ids=np.arange(replicates), months=months, collect=False, attribution=False)
    kor = m.compiled.allies.index("KOR")
    conceded = np.zeros(replicates)
    while not m.finished:
        m.step()
        conceded += m.last_decisions.ally[:, kor] == 1
    return conceded, m.state.alignment[:, kor].copy()


def test_expecting_relief_makes_korea_concede_more_and_stay_closer_to_washington():
    """Common random numbers (the same replicates and draws): the forward-looking ally concedes more often under
    the tariff shock and ends better aligned with the patron, by more than 5 standard errors."""
    c0, a0 = _korea(0.0)
    c1, a1 = _korea(8.0)
    dc, da = c1 - c0, a1 - a0
    n = len(dc)
    assert dc.mean() > 5 * dc.std(ddof=1) / np.sqrt(n) and dc.mean() > 1.0
    assert da.mean() > 5 * da.std(ddof=1) / np.sqrt(n) and da.mean() > 0.01


# ------------------------------------------------------------------------------ accommodating Beijing
def test_accommodation_is_likelier_under_coercion_with_dependence_and_a_dovish_leader():
    from alliance_sim.model.step import accommodation_utility

    base = accommodation_utility(-5.0, 3.0, 0.0, 3.0, 0.2, 1.0, 0.3)
    assert base == pytest.approx(-5.0 + 0.6 - 0.3)
    assert accommodation_utility(-5.0, 3.0, 1.0, 3.0, 0.2, 1.0, 0.3) == pytest.approx(base + 3.0)  # coerced
    assert accommodation_utility(-5.0, 3.0, 0.0, 3.0, 0.4, 1.0, 0.3) > base  # more dependent on China
    assert accommodation_utility(-5.0, 3.0, 0.0, 3.0, 0.2, 1.0, -0.3) > base  # a conciliatory leader


def _china_coercion(switched_off=(), replicates=320, months=24):
    """Per replicate: months China coerced Korea and months Korea accommodated, under frequent coercion."""
    p = load_scenario("tariff_shock_2025").params.model_copy(deep=True)
    p.china_policy.mode = "behavioural"
    p.china_policy.coerce_base_utility = -1.5
    p.ally_policy.accommodate_base_utility = -3.5
    m = AllianceModel(p, replicate_ids=np.arange(replicates), months=months, collect=False, attribution=False,
                      switched_off=switched_off)
    kor = m.compiled.allies.index("KOR")
    coerced, accommodated = np.zeros(replicates), np.zeros(replicates)
    while not m.finished:
        m.step()
        coerced += m.last_decisions.china[:, kor] == 2
        accommodated += m.last_decisions.ally[:, kor] == 5
    return coerced, accommodated


def test_an_accommodating_ally_is_spared_coercion():
    """Common random numbers: with the relief term on, China coerces Korea less often than with it off (its
    demand was met), by more than 5 standard errors; Korea does accommodate under coercion."""
    on_c, on_a = _china_coercion()
    off_c, _ = _china_coercion(switched_off=("accommodation_relief",))
    d = on_c - off_c
    assert on_a.mean() > 0.3  # accommodation happens under frequent coercion
    assert d.mean() < -5 * d.std(ddof=1) / np.sqrt(len(d))
