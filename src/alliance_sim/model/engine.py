"""The ensemble state and one synchronous monthly transition over all replicates at once.

``EnsembleState`` holds arrays whose first axis is the replicate.  ``decide`` lets every agent choose
from the state at month t; ``transition`` applies all choices and this month's inputs and returns the
state at t+1 (docs/model.md §3 gives the order).  The Mesa model (``model.py``) calls these through
its agents; the ensemble runner (``alliance_sim.ensemble``) drives the Mesa model chunk by chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from alliance_sim.model import rng
from alliance_sim.model.compiled import (
    GROUP_APPEAL_SENSITIVITY,
    GROUP_BACKLASH_SENSITIVITY,
    GROUP_TARIFF_SENSITIVITY,
    GROUP_THREAT_SENSITIVITY,
    Compiled,
    group_mix,
)
from alliance_sim.model.mechanisms import burden, challenger, decisions, domestic, threat, ties, trade


@dataclass
class EnsembleState:
    """State of R replicates at the start of a month (arrays over replicates first)."""

    month: int
    keys: np.ndarray  # (R,) counter-RNG key of each replicate
    ties: np.ndarray  # (R, n, n)
    intercept: np.ndarray  # (R, n, n)
    stock: np.ndarray  # (R, n, S) perceived-threat stock per source
    tariff_offset: np.ndarray  # (R, A) behavioural change of the country rate
    demand_offset: np.ndarray  # (R, A)
    effort: np.ndarray  # (R, A) % GDP
    latent: np.ndarray  # (R, A) logit of reliability
    exports_us: np.ndarray  # (R, A) fraction of start-month exports
    exports_cn: np.ndarray  # (R, A)
    orientation: np.ndarray  # (R, A)
    chip_used: np.ndarray  # (R, A) bool
    bonus_left: np.ndarray  # (R, A) months of chip relief bonus left
    us_last: np.ndarray  # (R, A) int8 last decisions
    ally_last: np.ndarray
    china_last: np.ndarray
    adversary_last: np.ndarray  # (R, D)
    op_us: np.ndarray  # (R, A, N) citizens' favourability of the patron (N = 1 in aggregate mode)
    op_cn: np.ndarray
    anchor_us: np.ndarray
    anchor_cn: np.ndarray
    # Observables at this month (derived once per transition, read by agents and recorders).
    tariff: np.ndarray  # (R, A) effective tariff
    demand: np.ndarray  # (R, A)
    pain: np.ndarray  # (R, A) pp of GDP taxed
    gap: np.ndarray  # (R, A)
    threat: np.ndarray  # (R, n) perceived threat
    reliability: np.ndarray  # (R, A)
    public: np.ndarray  # (R, A) public stance
    stance: np.ndarray  # (R, A) leader stance
    alignment: np.ndarray  # (R, A)
    prev_alignment: np.ndarray  # (R, A)
    cohesion: np.ndarray  # (R,)

    @property
    def replicates(self) -> int:
        return self.keys.shape[0]

    def copy(self) -> EnsembleState:
        return EnsembleState(**{f.name: (v.copy() if isinstance(v := getattr(self, f.name), np.ndarray)
                                         else v) for f in fields(self)})

    def select(self, index) -> EnsembleState:
        """The sub-ensemble of replicates ``index`` (used by tests and the reference comparison)."""
        return EnsembleState(**{f.name: (v[index].copy() if isinstance(v := getattr(self, f.name),
                                                                      np.ndarray) else v)
                                for f in fields(self)})


@dataclass
class Decisions:
    """Choices of month t, (R, A) or (R, D) int8 option indices (see compiled.*_OPTIONS)."""

    us: np.ndarray
    ally: np.ndarray
    china: np.ndarray
    adversary: np.ndarray


# ------------------------------------------------------------------------------ helper quantities
# A parameter is a Python number, or in a batch of parameter points (alliance_sim.batch) an array of
# shape (R, 1) with one value per replicate row; these reshape it for operands of other ranks.


def _cube(x):
    """A parameter shaped to broadcast against (R, ·, ·) arrays."""
    return x.reshape(-1, 1, 1) if isinstance(x, np.ndarray) else x


def _flat(x):
    """A parameter shaped to broadcast against (R,) arrays."""
    return x.reshape(-1) if isinstance(x, np.ndarray) else x



def _tariff(c: Compiled, t: int, offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(country rate, effective tariff) in month t given the behavioural offset."""
    country = np.clip(c.country_rate[t] + offset, 0.0, 2.0)
    return country, trade.effective_tariff(country, c.sector_rate[t], c.country_weight)


def _cn_share(c: Compiled, s: EnsembleState) -> np.ndarray:
    return trade.china_share(s.exports_us, s.exports_cn, c.share_us0, c.share_cn0)


def tie_drivers(c: Compiled, ties_now: np.ndarray, threat_total: np.ndarray, stock: np.ndarray,
                reliability: np.ndarray, pain: np.ndarray, gap: np.ndarray, stance: np.ndarray,
                cn_share: np.ndarray) -> np.ndarray:
    """D_ij, the sum of all mechanism terms acting on each tie (symmetric, logit units)."""
    m = c.mech
    R, n = ties_now.shape[0], c.n
    ai, p, ch = c.ally_idx, c.patron, c.challenger
    C = np.zeros((R, n, n))
    entrap = burden.entrapment_fear(c.entrapment, ties_now[:, p, ch], ties_now[:, ai, p])
    C[:, ai, p] += (m.threat_weight * threat_total[:, ai] * reliability       # balance of threat
                    - m.tariff_weight * pain                                   # tariff strain
                    - m.burden_weight * gap                                    # burden friction
                    - m.entrapment_weight * entrap                             # entrapment
                    + m.leader_weight * stance)                                # domestic stance
    C[:, ai, ch] += m.china_trade_weight * cn_share - m.leader_weight * stance
    by_source = threat.perceived_threat_by_source(stock)
    for s, j in enumerate(c.source_actor):
        if j >= 0:
            C[:, :, j] -= m.source_threat_weight * by_source[:, :, s]
    for x in range(len(ai)):
        for y in range(x + 1, len(ai)):
            C[:, ai[x], ai[y]] += _flat(m.common_threat_weight) * np.minimum(threat_total[:, ai[x]],
                                                                      threat_total[:, ai[y]])
    idx = np.arange(n)
    C[:, idx, idx] = 0.0
    return C + np.swapaxes(C, 1, 2)


def _observe(c: Compiled, s: EnsembleState) -> None:
    """Fill the derived observables of ``s`` from its core state."""
    s.threat = threat.perceived_threat(s.stock)
    s.reliability = burden.logistic(s.latent)
    s.pain = trade.tariff_pain(c.exports_to_gdp, s.exports_us, s.tariff)
    s.gap = burden.burden_gap(s.demand, s.effort)
    s.public = domestic.public_alignment(s.op_us, s.op_cn)
    s.stance = domestic.leader_stance(s.orientation, s.public, c.latitude)
    s.alignment = ties.alignment(s.ties, c.ally_idx, c.patron, c.challenger)
    s.cohesion = ties.cohesion(s.ties, c.alliance_pairs)


# ------------------------------------------------------------------------------ initial state


def initial_citizens(c: Compiled, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Citizens' initial opinions: normal around 2f − 1 with the configured spread, clipped."""
    pop = c.pop
    R, A, N = keys.shape[0], c.n_allies, pop.size_per_ally
    mean_us = np.broadcast_to(domestic.opinion_from_share(c.fav_us0), (R, A))[..., None]
    mean_cn = np.broadcast_to(domestic.opinion_from_share(c.fav_cn0), (R, A))[..., None]
    if N == 0:
        return mean_us.copy(), mean_cn.copy()
    u = rng.uniforms(keys, 0, rng.STREAM_CITIZEN_INIT, 4 * A * N).reshape(R, 2, A, N, 2)
    z = rng.normals_from_uniforms(u[..., 0], u[..., 1])
    op_us = np.clip(mean_us + _cube(pop.opinion_spread) * z[:, 0], -1.0, 1.0)
    op_cn = np.clip(mean_cn + _cube(pop.opinion_spread) * z[:, 1], -1.0, 1.0)
    return op_us, op_cn


def initial_state(c: Compiled, replicate_ids: np.ndarray, seed: int) -> EnsembleState:
    """Start-month state of the replicates ``replicate_ids``; ties start at the equilibrium of its forces."""
    keys = rng.replicate_keys(seed, replicate_ids)
    R, A, n, D = keys.shape[0], c.n_allies, c.n, len(c.adversary_idx)
    ties0 = np.broadcast_to(c.initial_ties, (R, n, n)).copy()
    op_us, op_cn = initial_citizens(c, keys)
    zeros = np.zeros((R, A))
    country, tariff0 = _tariff(c, 0, zeros)
    s = EnsembleState(
        month=0, keys=keys, ties=ties0, intercept=np.zeros((R, n, n)),
        stock=np.broadcast_to(c.stock0, (R, n, len(c.sources))).copy(),
        tariff_offset=zeros.copy(), demand_offset=zeros.copy(),
        effort=np.broadcast_to(c.defense0, (R, A)).copy(),
        latent=np.broadcast_to(burden.logit(c.reliability0), (R, A)).copy(),
        exports_us=np.broadcast_to(c.share_us0, (R, A)).copy(),
        exports_cn=np.broadcast_to(c.share_cn0, (R, A)).copy(),
        orientation=np.broadcast_to(c.orientation0, (R, A)).copy(),
        chip_used=np.zeros((R, A), dtype=bool), bonus_left=np.zeros((R, A), dtype=np.int64),
        us_last=np.zeros((R, A), dtype=np.int8), ally_last=np.zeros((R, A), dtype=np.int8),
        china_last=np.zeros((R, A), dtype=np.int8), adversary_last=np.zeros((R, D), dtype=np.int8),
        op_us=op_us, op_cn=op_cn, anchor_us=op_us.copy(), anchor_cn=op_cn.copy(),
        tariff=np.broadcast_to(tariff0, (R, A)).copy(),
        demand=np.broadcast_to(c.demand[0], (R, A)).copy(),
        pain=zeros, gap=zeros, threat=np.zeros((R, n)), reliability=zeros, public=zeros,
        stance=zeros, alignment=zeros, prev_alignment=zeros, cohesion=np.zeros(R),
    )
    _observe(c, s)
    s.prev_alignment = s.alignment.copy()
    m = c.mech
    drivers0 = tie_drivers(c, s.ties, s.threat, s.stock, s.reliability, s.pain, s.gap, s.stance,
                           _cn_share(c, s))
    s.intercept = ties.calibrate_intercept(s.ties, ties.balance_pressure(s.ties), drivers0,
                                           _cube(m.balance_weight))
    return s


# ------------------------------------------------------------------------------ decisions


def decide_patron(c: Compiled, s: EnsembleState, t: int) -> np.ndarray:
    """The patron's choice per ally (R, A): hold / escalate / relieve / raise_demand."""
    R, A = s.replicates, c.n_allies
    pol = c.upol
    if pol.mode == "scripted":
        return np.zeros((R, A), dtype=np.int8)
    country, _ = _tariff(c, t, s.tariff_offset)
    util = decisions.patron_utilities(pol, s.gap, s.ally_last, s.tariff_offset, country,
                                      s.bonus_left > 0, c.chip_bonus)
    u = rng.uniforms(s.keys, t, rng.STREAM_DECISION_US, A)
    return rng.logit_choice(util, u).astype(np.int8)


def decide_ally(c: Compiled, s: EnsembleState, t: int, a: int) -> np.ndarray:
    """Ally ``a``'s choice (R,): hold / concede / hedge / retaliate / play_chip."""
    pol = c.apol
    col = slice(a, a + 1)  # keep a trailing axis so per-replicate parameters (R, 1) broadcast
    pain_rise = np.maximum(s.pain[:, col] - c.start_pain[..., col], 0.0)
    chip_ok = c.chip[a] & ~s.chip_used[:, col] & (t >= c.chip_from[a])
    util = decisions.ally_utilities(pol, s.threat[:, c.ally_idx[col]], s.reliability[:, col], pain_rise,
                                    s.stance[:, col], chip_ok, c.chip_base[..., col], c.chip_pain[..., col])
    u = rng.uniform_column(s.keys, t, rng.STREAM_DECISION_ALLY, a)
    return rng.logit_choice(util[:, 0], u).astype(np.int8)


def decide_challenger(c: Compiled, s: EnsembleState, t: int) -> np.ndarray:
    """The challenger's choice per ally (R, A): none / induce / coerce (scripted events force one)."""
    R, A = s.replicates, c.n_allies
    pol = c.cpol
    if pol.mode == "behavioural":
        util = decisions.challenger_utilities(pol, s.alignment - s.prev_alignment, s.alignment,
                                              s.ally_last)
        u = rng.uniforms(s.keys, t, rng.STREAM_DECISION_CHINA, A)
        choice = rng.logit_choice(util, u).astype(np.int8)
    else:
        choice = np.zeros((R, A), dtype=np.int8)
    choice = np.where(c.ev_induce[t], np.int8(1), choice)
    choice = np.where(c.ev_coerce[t], np.int8(2), choice).astype(np.int8)
    return choice


def decide_adversary(c: Compiled, s: EnsembleState, t: int, d: int) -> np.ndarray:
    """Adversary ``d``'s choice (R,): restrain / provoke."""
    util = decisions.adversary_utilities(c.advpol, s.cohesion, 1)[:, 0]
    u = rng.uniform_column(s.keys, t, rng.STREAM_DECISION_ADVERSARY, d)
    return rng.logit_choice(util, u).astype(np.int8)


def decide_all(c: Compiled, s: EnsembleState, t: int) -> Decisions:
    """All agents' choices from the state at month t (what the Mesa agents do one by one)."""
    R = s.replicates
    ally = np.stack([decide_ally(c, s, t, a) for a in range(c.n_allies)], axis=1) if c.n_allies \
        else np.zeros((R, 0), dtype=np.int8)
    adv = (np.stack([decide_adversary(c, s, t, d) for d in range(len(c.adversary_idx))], axis=1)
           if len(c.adversary_idx) else np.zeros((R, 0), dtype=np.int8))
    return Decisions(us=decide_patron(c, s, t), ally=ally, china=decide_challenger(c, s, t),
                     adversary=adv)


# ------------------------------------------------------------------------------ transition


def transition(c: Compiled, s: EnsembleState, t: int, d: Decisions) -> EnsembleState:
    """Apply month t's decisions and inputs to the state at t; return the state at t+1.

    The citizens' opinion arrays are updated in place (they are the largest arrays and copying them
    every month would cost as much as updating them): ``s`` must not be used afterwards.
    """
    p = c.params
    m, pop, upol, apol, cpol = c.mech, c.pop, c.upol, c.apol, c.cpol
    R, A, n = s.replicates, c.n_allies, c.n
    ai, pat, ch = c.ally_idx, c.patron, c.challenger
    new = replace(s, month=t + 1)

    # Patron: tariffs and demands.
    offset = s.tariff_offset + upol.tariff_step * ((d.us == 1).astype(float) - (d.us == 2))
    offset = np.minimum(offset, upol.max_tariff_offset)
    offset = np.maximum(offset, -c.country_rate[t])  # relief cannot take the rate below zero
    new.tariff_offset = offset
    new.demand_offset = s.demand_offset + upol.demand_step * (d.us == 3)
    _, new.tariff = _tariff(c, t, offset)
    new.demand = c.demand[t] + new.demand_offset

    # Allies: effort and bargaining chips.
    conceded, hedged, retaliated, chipped = (d.ally == 1), (d.ally == 2), (d.ally == 3), (d.ally == 4)
    new.effort = s.effort + apol.concede_effort_step * conceded + c.chip_effort * chipped
    new.chip_used = s.chip_used | chipped
    new.bonus_left = np.where(chipped, c.chip_months.astype(np.int64), np.maximum(s.bonus_left - 1, 0))

    # Challenger: inducement and coercion.
    induced, coerced = (d.china == 1), (d.china == 2)

    # Trade.
    ex_us, ex_cn = trade.export_update(s.exports_us, s.exports_cn, c.share_us0, c.share_cn0,
                                       new.tariff, c.start_tariff, m.trade_elasticity, m.diversion_to_china,
                                       m.trade_adjustment_rate)
    new.exports_us = ex_us
    new.exports_cn = np.maximum(ex_cn + challenger.market_access_change(
        induced, coerced, c.share_cn0, cpol.inducement_market_access, cpol.coercion_export_loss), 0.0)

    # Threat: stochastic events, scripted shocks, coercion.
    rates = np.broadcast_to(c.proc_rate[t], (R, c.proc_rate.shape[-1])).copy()
    for k, adv in enumerate(c.proc_adversary):
        if adv >= 0:
            rates[:, k] *= np.where(d.adversary[:, adv] == 1, c.provocation_multiplier[..., adv], 1.0)
    K = rates.shape[1]
    if K:
        u_count = rng.uniforms(s.keys, t, rng.STREAM_THREAT_COUNT, K)
        u_size = rng.uniforms(s.keys, t, rng.STREAM_THREAT_MAGNITUDE, K)
        severity = threat.event_severity(u_count, u_size, rates, c.proc_magnitude)
        add = threat.add_events(severity, c.proc_weights, c.proc_source, len(c.sources))
    else:
        add = np.zeros_like(s.stock)
    add = add + c.ev_threat[t]
    src_ch = c.sources.index(p.challenger)
    add[:, ai, src_ch] += cpol.coercion_threat * coerced
    new.stock = threat.decay_stock(s.stock, c.retention, add)
    new.threat = threat.perceived_threat(new.stock)
    threat_ch = threat.perceived_threat_by_source(new.stock[:, ai, src_ch])
    threat_ch_old = threat.perceived_threat_by_source(s.stock[:, ai, src_ch])

    # Burden and reliability.
    new.pain = trade.tariff_pain(c.exports_to_gdp, new.exports_us, new.tariff)
    new.gap = burden.burden_gap(new.demand, new.effort)
    target = burden.reliability_target(c.start_latent, new.pain, c.start_pain, new.gap, c.start_gap,
                                       m.reliability_tariff_sensitivity,
                                       m.reliability_demand_sensitivity)
    new.latent = burden.reliability_update(s.latent, target, m.reliability_adjustment_rate,
                                           c.ev_reassure[t])
    new.reliability = burden.logistic(new.latent)

    # Citizens: common shocks by group, then social influence and noise.
    # Signed changes: a tariff rise stirs nationalism and relief soothes it; a threat rise rallies
    # support for the patron and its fading relaxes it (so a stationary threat causes no drift).
    d_tariff = new.tariff - s.tariff
    d_threat = new.threat[:, ai] - s.threat[:, ai]
    d_threat_ch = threat_ch - threat_ch_old
    shock_us = (-_cube(pop.tariff_nationalism) * d_tariff[..., None] * GROUP_TARIFF_SENSITIVITY
                + _cube(pop.threat_rally) * d_threat[..., None] * GROUP_THREAT_SENSITIVITY)
    shock_cn = (-_cube(pop.coercion_backlash) * coerced[..., None] * GROUP_BACKLASH_SENSITIVITY
                + _cube(pop.inducement_appeal) * induced[..., None] * GROUP_APPEAL_SENSITIVITY
                - _cube(pop.threat_rally) * d_threat_ch[..., None] * GROUP_THREAT_SENSITIVITY)
    if pop.size_per_ally == 0:
        mix = group_mix(pop)
        domestic.update_aggregate(new.op_us, s.anchor_us, mix, shock_us, pop.stubbornness)
        domestic.update_aggregate(new.op_cn, s.anchor_cn, mix, shock_cn, pop.stubbornness)
    else:
        groups = c.citizen_group
        mkeys = rng.month_stream_keys(s.keys, t, rng.STREAM_CITIZEN_NOISE)
        means = np.empty((2, R, A))  # the kernel returns the new mean opinions (bit-equal to .mean(-1))
        for o, (op, anchor, shock) in enumerate(((new.op_us, s.anchor_us, shock_us),
                                                 (new.op_cn, s.anchor_cn, shock_cn))):
            domestic.update_citizens(op, anchor, groups, shock, mkeys, pop.conformity, pop.stubbornness,
                                     pop.opinion_noise_sd, o, mean_out=means[o])
    new.public = (domestic.public_alignment(new.op_us, new.op_cn) if pop.size_per_ally == 0
                  else 0.5 * (means[0] - means[1]))

    # Leaders: scripted changes, then elections.
    orient = np.where(np.isnan(c.ev_leader[t]), s.orientation, c.ev_leader[t])
    if c.election[t].any():
        u = rng.uniforms(s.keys, t, rng.STREAM_ELECTION, A)
        winner = domestic.election_winner(u, new.public, pop.election_public_weight, c.hawk,
                                          c.conciliatory)
        orient = np.where(c.election[t], winner, orient)
    new.orientation = orient
    new.stance = domestic.leader_stance(orient, new.public, c.latitude)

    # Ties: targets from the new fundamentals and today's ties, decision impulses, noise.
    drivers = tie_drivers(c, s.ties, new.threat, new.stock, new.reliability, new.pain, new.gap,
                          new.stance, trade.china_share(new.exports_us, new.exports_cn, c.share_us0,
                                                        c.share_cn0))
    tgt = ties.tie_target(s.intercept, ties.balance_pressure(s.ties), drivers, _cube(m.balance_weight))
    J = np.zeros((R, n, n))
    J[:, ai, pat] += (apol.concede_tie_impulse * conceded + apol.hedge_tie_impulse_us * hedged
                      + apol.retaliate_tie_impulse * retaliated + c.chip_tie * chipped
                      + coerced * challenger.coercion_patron_push(s.threat[:, ai],
                                                                  m.coercion_backfire_threat_level,
                                                                  m.coercion_intimidation))
    J[:, ai, ch] += (apol.hedge_tie_impulse_china * hedged + cpol.inducement_tie_impulse * induced
                     + cpol.coercion_tie_impulse * coerced)
    impulses = J + np.swapaxes(J, 1, 2)
    n_pairs = len(c.pairs)
    if np.any(np.asarray(m.tie_noise_sd) > 0) and n_pairs:
        u = rng.uniforms(s.keys, t, rng.STREAM_TIE_NOISE, 2 * n_pairs)
        z = rng.normals_from_uniforms(u[:, 0::2], u[:, 1::2])
        noise = ties.symmetric_noise(z, c.pair_i, c.pair_j, n, m.tie_noise_sd)
    else:
        noise = 0.0
    new.ties = ties.tie_step(s.ties, tgt, _cube(m.tie_adjustment_rate), impulses, noise)
    new.prev_alignment = s.alignment
    new.alignment = ties.alignment(new.ties, ai, pat, ch)
    new.cohesion = ties.cohesion(new.ties, c.alliance_pairs)
    new.us_last, new.ally_last, new.china_last, new.adversary_last = d.us, d.ally, d.china, d.adversary
    return new
