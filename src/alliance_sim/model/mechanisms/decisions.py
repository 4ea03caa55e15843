"""Agents decide: logit utilities of each option (docs/model.md §7.7).

Every agent chooses from the state at month t (synchronous update).  Utilities are linear in a few
named features; the choice is multinomial logit drawn with a counter-based uniform, so each choice is
reproducible and recorded.  An unavailable option gets utility −1e9 (probability exp(−1e9) = 0).
"""

from __future__ import annotations

import numpy as np

NEG = -1e9  # utility of an unavailable option


def patron_utilities(pol, gap, ally_last, offset, country_rate, chip_bonus_active, chip_bonus):
    """(R, A, 4) utilities of hold / escalate / relieve / raise_demand for the patron, per ally."""
    conceded = (ally_last == 1) | (ally_last == 4)
    retaliated = ally_last == 3
    u = np.zeros(gap.shape + (4,))
    u[..., 1] = (pol.escalate_base_utility + pol.escalate_gap_weight * gap
                 + pol.escalate_retaliation_weight * retaliated)
    u[..., 1] = np.where(offset >= pol.max_tariff_offset - 1e-12, NEG, u[..., 1])
    u[..., 2] = (pol.relief_base_utility + pol.relief_concession_weight * conceded
                 + chip_bonus * chip_bonus_active)
    u[..., 2] = np.where(country_rate <= 1e-12, NEG, u[..., 2])
    u[..., 3] = pol.raise_demand_base_utility + pol.raise_demand_concession_weight * conceded
    return u


def ally_utilities(pol, threat, reliability, pain_rise, stance, chip_ok, chip_base, chip_pain):
    """(R, A, 5) utilities of hold / concede / hedge / retaliate / play_chip for each ally."""
    u = np.zeros(threat.shape + (5,))
    u[..., 1] = (pol.concede_base_utility + pol.concede_protection_weight * threat * reliability
                 + pol.concede_pain_weight * pain_rise + pol.concede_stance_weight * stance)
    u[..., 2] = (pol.hedge_base_utility + pol.hedge_unreliability_weight * (1.0 - reliability)
                 - pol.hedge_stance_weight * stance + pol.hedge_pain_weight * pain_rise)
    u[..., 3] = (pol.retaliate_base_utility + pol.retaliate_pain_weight * pain_rise
                 - pol.retaliate_threat_weight * threat)
    u[..., 4] = np.where(chip_ok, chip_base + chip_pain * pain_rise, NEG)
    return u


def challenger_utilities(pol, drift, alignment, ally_last):
    """(R, A, 3) utilities of none / induce / coerce: reward drift toward China, punish drift away."""
    u = np.zeros(drift.shape + (3,))
    u[..., 1] = (pol.induce_base_utility + pol.induce_drift_weight * np.maximum(-drift, 0.0)
                 + pol.induce_hedge_weight * (ally_last == 2))
    u[..., 2] = (pol.coerce_base_utility + pol.coerce_drift_weight * np.maximum(drift, 0.0)
                 + pol.coerce_alignment_weight * np.maximum(alignment - 0.5, 0.0))
    return u


def adversary_utilities(pol, cohesion, n_adversaries):
    """(R, D, 2) utilities of restrain / provoke: provoke when the alliance looks divided."""
    u = np.zeros((cohesion.shape[0], n_adversaries, 2))
    cohesion = cohesion.reshape(-1, 1)  # parameters may be per-row arrays of shape (R, 1)
    u[..., 1] = pol.provoke_base_utility + pol.provoke_cohesion_weight * (1.0 - cohesion)
    return u
