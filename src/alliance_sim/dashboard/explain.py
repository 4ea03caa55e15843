"""Why the agents decided what they did this month: each option's utility split into named terms.

The model's agents choose by multinomial logit over linear utilities (the ``decide_*`` phases of
:mod:`alliance_sim.model.step`); "hold" has utility 0, so an option's terms say how
far each feature pushed it above or below doing nothing.  The terms here are the same features and
weights as the compiled step's decisions (``model/step.py``; ``tests/test_dashboard.py`` checks that
the choice probabilities they imply are the shares of the choices the model makes), computed from the
state at the start of the month, before the step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alliance_sim.model.compiled import ADVERSARY_OPTIONS, ALLY_OPTIONS, CHINA_OPTIONS, US_OPTIONS, Compiled

Terms = dict[str, dict[str, np.ndarray]]  # option -> term name -> (R,) values
BASE = "base appeal"


def _relief_chance(c: Compiled, s, a: int, conceded: float) -> np.ndarray:
    """The patron's chance of relief toward ally ``a`` under its rule (step.patron_utilities, hold is 0), had
    the ally conceded (1) or held (0): what a forward-looking ally forecasts."""
    pol = c.upol
    offset = s.tariff_offset[:, a]
    escalate = np.where(offset >= pol.max_tariff_offset - 1e-12, -np.inf,
                        pol.escalate_base_utility + pol.escalate_gap_weight * s.gap[:, a])
    country = np.clip(np.asarray(c.country_rate)[s.month, a] + offset, 0.0, 2.0)
    relieve = np.where(country <= 1e-12, -np.inf,
                       pol.relief_base_utility + pol.relief_concession_weight * conceded
                       + float(np.asarray(c.chip_bonus)[..., a]) * (s.bonus_left[:, a] > 0))
    demand = pol.raise_demand_base_utility + pol.raise_demand_concession_weight * conceded
    u = np.stack([np.zeros_like(escalate), escalate, relieve, np.broadcast_to(demand, escalate.shape)], axis=1)
    p = np.exp(u - u.max(axis=1, keepdims=True))
    return p[:, 2] / p.sum(axis=1)


def ally_terms(c: Compiled, s, a: int) -> Terms:
    """Utility terms of ally ``a``'s options (hold is 0), as in ``decisions.ally_utilities``."""
    pol = c.apol
    threat = s.threat[:, c.ally_idx[a]]
    rel = s.reliability[:, a]
    pain_rise = np.maximum(s.pain[:, a] - s.pain0[:, a], 0.0)
    stance = s.stance[:, a]
    relief_gain = np.maximum(_relief_chance(c, s, a, 1.0) - _relief_chance(c, s, a, 0.0), 0.0)
    other = 1.0 - c.share_us0[a] - c.share_cn0[a]
    china_share = s.exports_cn[:, a] / (s.exports_us[:, a] + s.exports_cn[:, a] + other)
    terms: Terms = {
        "concede": {"base appeal": np.full_like(rel, pol.concede_base_utility),
                    "protection needed (threat × reliability)": pol.concede_protection_weight * threat * rel,
                    "tariff pain": pol.concede_pain_weight * pain_rise,
                    "leader's stance": pol.concede_stance_weight * stance,
                    "relief it expects to buy": pol.concede_expected_relief_weight * relief_gain * pain_rise},
        "hedge": {"base appeal": np.full_like(rel, pol.hedge_base_utility),
                  "doubts about Washington": pol.hedge_unreliability_weight * (1.0 - rel),
                  "leader's stance": -pol.hedge_stance_weight * stance,
                  "tariff pain": pol.hedge_pain_weight * pain_rise},
        "retaliate": {"base appeal": np.full_like(rel, pol.retaliate_base_utility),
                      "tariff pain": pol.retaliate_pain_weight * pain_rise,
                      "threat (needs Washington)": -pol.retaliate_threat_weight * threat},
        "accommodate": {"base appeal": np.full_like(rel, pol.accommodate_base_utility),
                        "China coerced last month": pol.accommodate_coercion_weight * (s.china_last[:, a] == 2),
                        "exports going to China": pol.accommodate_dependence_weight * china_share,
                        "leader's stance": -pol.accommodate_stance_weight * stance},
    }
    if c.chip[a]:
        chip_ok = ~s.chip_used[:, a] & (s.month >= c.chip_from[a])
        if chip_ok.any():
            terms["play_chip"] = {"base appeal": np.where(chip_ok, float(np.asarray(c.chip_base)[..., a]), np.nan),
                                  "tariff pain": np.where(chip_ok, float(np.asarray(c.chip_pain)[..., a]) * pain_rise,
                                                          np.nan)}
    return terms


def patron_terms(c: Compiled, s, a: int) -> Terms:
    """Utility terms of the patron's options toward ally ``a``, as in ``decisions.patron_utilities``."""
    pol = c.upol
    gap = s.gap[:, a]
    last = s.ally_last[:, a]
    conceded = ((last == 1) | (last == 4)).astype(float)
    retaliated = (last == 3).astype(float)
    return {
        "escalate_tariff": {"base appeal": np.full_like(gap, pol.escalate_base_utility),
                            "burden gap": pol.escalate_gap_weight * gap,
                            "ally retaliated": pol.escalate_retaliation_weight * retaliated},
        "relieve_tariff": {"base appeal": np.full_like(gap, pol.relief_base_utility),
                           "ally conceded": pol.relief_concession_weight * conceded,
                           "bargaining chip": float(np.asarray(c.chip_bonus)[..., a]) * (s.bonus_left[:, a] > 0)},
        "raise_demand": {"base appeal": np.full_like(gap, pol.raise_demand_base_utility),
                         "ally conceded": pol.raise_demand_concession_weight * conceded},
    }


def challenger_terms(c: Compiled, s, a: int) -> Terms:
    """Utility terms of China's options toward ally ``a``, as in ``decisions.challenger_utilities``."""
    pol = c.cpol
    drift = s.alignment[:, a] - s.prev_alignment[:, a]
    return {
        "induce": {"base appeal": np.full_like(drift, pol.induce_base_utility),
                   "ally drifting toward Beijing": pol.induce_drift_weight * np.maximum(-drift, 0.0),
                   "ally hedged": pol.induce_hedge_weight * (s.ally_last[:, a] == 2)},
        "coerce": {"base appeal": np.full_like(drift, pol.coerce_base_utility),
                   "ally drifting toward Washington": pol.coerce_drift_weight * np.maximum(drift, 0.0),
                   "ally firmly with Washington": pol.coerce_alignment_weight * np.maximum(s.alignment[:, a] - 0.5,
                                                                                          0.0),
                   "ally accommodated Beijing": -pol.coerce_accommodation_weight * (s.ally_last[:, a] == 5)},
    }


def adversary_terms(c: Compiled, s) -> Terms:
    """Utility terms of an adversary's options, as in ``decisions.adversary_utilities``."""
    pol = c.advpol
    return {"provoke": {"base appeal": np.full_like(s.cohesion, pol.provoke_base_utility),
                        "alliance looks divided (1 − cohesion)": pol.provoke_cohesion_weight * (1.0 - s.cohesion)}}


@dataclass
class Entry:
    """One line of the log: who, the shares of their choices, and the largest terms of the top choice."""

    actor: str  # e.g. "South Korea" or "United States → Japan"
    shares: list[tuple[str, float]]  # (option, share of replicates), largest first, quiet options left out
    option: str | None  # the most frequent active option
    reasons: list[tuple[str, float]]  # (term, median value among replicates that chose it), largest |value| first

    def text(self) -> str:
        if self.option is None:
            return f"{self.actor}: held in every run."
        shares = ", ".join(f"{o.replace('_', ' ')} {p:.0%}" for o, p in self.shares)
        why = ", ".join(name if np.isnan(v) else f"{name} {v:+.2f}" for name, v in self.reasons)
        return f"{self.actor}: {shares} of runs. Why {self.option.replace('_', ' ')}: {why or 'chance'}."


def _entry(actor: str, options: tuple[str, ...], choice: np.ndarray, terms: Terms, top: int = 2,
           scripted: tuple[str, ...] = ()) -> Entry:
    quiet = options[0]
    counts = np.bincount(choice.astype(np.int64), minlength=len(options)) / max(len(choice), 1)
    shares = sorted(((options[k], float(p)) for k, p in enumerate(counts) if p > 0 and options[k] != quiet),
                    key=lambda x: -x[1])
    if not shares:
        return Entry(actor, [], None, [])
    option = shares[0][0]
    chose = choice == options.index(option)
    if option in scripted:
        return Entry(actor, shares[:3], option, [("scripted in the scenario this month", float("nan"))])
    medians = [(name, float(np.nanmedian(v[chose]))) for name, v in terms.get(option, {}).items()]
    # the base appeal is the same every month: the reasons are the terms that moved, then the base
    moved = sorted(((n, v) for n, v in medians if n != BASE and abs(v) >= 0.005), key=lambda x: -abs(x[1]))
    base = [(n, v) for n, v in medians if n == BASE]
    return Entry(actor, shares[:3], option, moved[:top] + base)


def explain(c: Compiled, before, decisions, names) -> list[Entry]:
    """The log of one month: ``before`` is the state the agents decided from, ``decisions`` what they
    chose (``AllianceModel.last_decisions``), ``names`` maps actor ids to display names."""
    out: list[Entry] = []
    patron = names(c.actors[c.patron])
    china = names(c.actors[c.challenger])
    for a, ally in enumerate(c.allies):
        out.append(_entry(f"{patron} → {names(ally)}", US_OPTIONS, decisions.us[:, a], patron_terms(c, before, a)))
    for a, ally in enumerate(c.allies):
        out.append(_entry(names(ally), ALLY_OPTIONS, decisions.ally[:, a], ally_terms(c, before, a)))
    t = before.month
    for a, ally in enumerate(c.allies):
        scripted = tuple(o for o, flag in (("induce", c.ev_induce[t, a]), ("coerce", c.ev_coerce[t, a])) if flag)
        if c.cpol.mode != "behavioural":
            scripted = CHINA_OPTIONS
        out.append(_entry(f"{china} → {names(ally)}", CHINA_OPTIONS, decisions.china[:, a],
                          challenger_terms(c, before, a), scripted=scripted))
    for d, k in enumerate(c.adversary_idx):
        out.append(_entry(names(c.actors[k]), ADVERSARY_OPTIONS, decisions.adversary[:, d], adversary_terms(c, before)))
    return out
