"""The model's monthly step, written once: every mechanism as a compiled term, composed in the order of
docs/model.md §3.

Everything here works on one *block*: ``Z`` (state rows, lanes), a few replicates side by side (see
``layout``).  The ensemble driver (``drivers.EnsembleSim``, behind ``AllianceModel.step``) calls these
functions block by block, month by month; the trajectory driver (``drivers.run_trajectories``, behind
sweeps) calls the very same functions on a block it keeps in local memory for the whole horizon.  So the
Mesa model, ``alliance run``, ``compare``, the dashboard and sweeps all run this code.

Each mechanism is a small named function of one lane's numbers (``@term``, inlined into the phase that uses
it) and is multiplied by its switch ``on[TERM.x]`` (1 normally).  Switching a term off is what the mutation
test does (tests/test_step_terms.py: every term must matter to the differential test against the reference)
and what a knock-out counterfactual does.

Draws are counter-based (``rng``): a lane's numbers depend only on (seed, replicate, month, stream, index),
never on the other lanes, so results are identical however replicates are split into blocks, chunks,
threads, processes or dask tasks.

numba's on-disk cache of this code is stamped with all of the model's sources (``numba_cache``), so an edit to
this file, ``fastmath``, ``rng`` or ``layout`` recompiles everything that inlines it.
"""

from __future__ import annotations

import math
from collections import namedtuple
from enum import IntEnum

import numba
import numpy as np

from alliance_sim.model import fastmath, rng
from alliance_sim.model.layout import (
    DRV,
    FORCE_GROUPS,
    LANES,
    N_DRIVERS,
    TIE_FORCE_GROUPS,
    VEC,
    F,
    transition_scratch_rows,
)
from alliance_sim.model.rng import _GOLDEN, mix64, uniform_from_key

# ---------------------------------------------------------------------------------------------- constants
NEG = -1e9  # utility of an unavailable option: exp(NEG − max) = 0
TIE_LIMIT = 0.999  # ties stay inside (−1, 1) so that atanh stays finite
NORMAL_RATE = 500.0  # Poisson rates above this use the normal approximation (e^−rate would underflow)
SQRT12 = math.sqrt(12.0)  # a uniform's spread scaled to unit variance
TINY = 1e-12  # "at the cap" / "no tariff left" tolerance of the patron's options

# Option indices of the four decision rules (names in compiled.*_OPTIONS).
US_HOLD, US_ESCALATE, US_RELIEVE, US_RAISE_DEMAND = 0, 1, 2, 3
ALLY_HOLD, ALLY_CONCEDE, ALLY_HEDGE, ALLY_RETALIATE, ALLY_CHIP, ALLY_ACCOMMODATE = 0, 1, 2, 3, 4, 5
CN_NONE, CN_INDUCE, CN_COERCE = 0, 1, 2
ADV_RESTRAIN, ADV_PROVOKE = 0, 1

# Switchable terms (all on by default): one entry per mechanism of docs/model.md §7.
TERM = IntEnum("TERM", [
    "threat_protection", "tariff_strain", "burden_friction", "entrapment", "leader_pull", "china_trade_pull",
    "source_threat", "common_threat", "balance", "tie_noise", "concession_impulse", "hedge_impulse",
    "retaliation_impulse", "chip_impulse", "coercion_push", "inducement_impulse", "coercion_impulse",
    "trade_diversion", "market_access", "coercion_threat", "reliability_drift", "reassurance",
    "citizen_conformity", "citizen_anchor", "citizen_noise", "tariff_nationalism", "threat_rally",
    "coercion_backlash", "inducement_appeal", "elections", "leader_events", "threat_events", "quasi_alliance",
    "tie_events", "concession_relief", "trust_memory", "accommodation_impulse", "accommodation_relief",
    "trade_shocks", "tie_event_memory",
], start=0)

# The structure of the model (actor indices, which sources are actors, group sensitivities, modes …).
Structure = namedtuple("Structure", [
    "ai", "pat", "ch", "alliance_pairs", "source_actor", "proc_source", "proc_weights", "proc_adversary",
    "src_ch", "election", "chip", "chip_from", "mix", "g_tariff", "g_threat", "g_backlash", "g_appeal", "groups",
    "citizens", "patron_behavioural", "challenger_behavioural", "on", "attribution"])

term = numba.njit(cache=True, error_model="numpy", inline="always")
phase = numba.njit(cache=True, error_model="numpy")


# ================================================================================ terms: ties and balance
@term
def balance_pressure(Z, o, n, i, j, m):
    """B_ij = Σ_k T_ik T_kj / (n − 2): "the friend of my friend" (Heider; Marvel et al. 2011)."""
    acc = 0.0
    for k in range(n):
        acc += Z[o + i * n + k, m] * Z[o + k * n + j, m]
    return acc / max(n - 2, 1)


@term
def tie_target(intercept, balance_weight, balance, drivers):
    """T*_ij = tanh(c_ij + κ·B_ij + D_ij): where the tie would settle if today's forces persisted."""
    return fastmath.tanh(intercept + balance_weight * balance + drivers)


@term
def tie_event_memory(memory, heal_rate, persistent_share, event):
    """M ← (1 − h)·M + s·(this month's direct events): what a pair keeps of its disputes and summits, added
    to the tie's target, so that a dispute outlasts its month instead of relaxing away."""
    return (1.0 - heal_rate) * memory + persistent_share * event


@term
def tie_update(tie, rate, target, impulse, noise):
    """T ← clip(T + rate·(T* − T) + impulses + noise): partial adjustment plus this month's shocks."""
    return min(max(tie + rate * (target - tie) + impulse + noise, -TIE_LIMIT), TIE_LIMIT)


@term
def alignment(tie_patron, tie_challenger):
    """(T_ally,patron − T_ally,challenger) / 2 in [−1, 1]; below 0 is Beijing's side."""
    return 0.5 * (tie_patron - tie_challenger)


# ================================================================================ terms: forces on ties
@term
def threat_protection(weight, threat, reliability):
    """Balance of threat (Walt 1987): threat × the patron's reliability pulls the ally toward it."""
    return weight * threat * reliability


@term
def tariff_strain(weight, pain):
    return -weight * pain


@term
def burden_friction(weight, gap):
    return -weight * gap


@term
def entrapment_fear(weight, sensitivity, tie_patron_challenger, tie_ally_patron):
    """Snyder (1984): E = ε · max(0, −T_patron,challenger) · max(0, T_ally,patron), weighted."""
    return -weight * sensitivity * max(-tie_patron_challenger, 0.0) * max(tie_ally_patron, 0.0)


@term
def leader_pull(weight, stance):
    return weight * stance


@term
def china_trade_pull(weight, china_share):
    return weight * china_share


@term
def source_threat_push(weight, threat_from_source):
    """An actor that threatens me is pushed away: −w · (1 − e^−H_i,source)."""
    return -weight * threat_from_source


@term
def quasi_alliance(weight, reliability_x, reliability_y):
    """Cha (1999): two allies draw together when both fear abandonment by the patron (1 − reliability) and
    drift apart when its commitment is firm."""
    return weight * min(1.0 - reliability_x, 1.0 - reliability_y)


@term
def common_threat(weight, threat_x, threat_y):
    """Two allies facing a common threat draw together (Cha 1999's quasi-alliance in its threat form)."""
    return weight * min(threat_x, threat_y)


# ================================================================================ terms: threat
@term
def threat_of_stock(x):
    """Perceived threat 1 − e^−stock in [0, 1); exactly 0 for no stock."""
    return 0.0 if x == 0.0 else 1.0 - fastmath.exp(-x)


@term
def decay_stock(retention, stock, additions):
    """H ← max(ρ·H + additions, 0): the floor keeps threat in [0, 1) after a scripted détente."""
    return max(retention * stock + additions, 0.0)


@term
def ndtri(p):
    """The standard normal quantile (Acklam's rational approximation, refined by one Halley step)."""
    a = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
         -3.066479806614716e+01, 2.506628277459239e+00)
    b = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
         -1.328068155288572e+01)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
         4.374664141464968e+00, 2.938163982698783e+00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00)
    if p < 0.02425:
        q = math.sqrt(-2.0 * math.log(p))
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0)
    elif p > 1.0 - 0.02425:
        q = math.sqrt(-2.0 * math.log(1.0 - p))
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0)
    else:
        q = p - 0.5
        r = q * q
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / \
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0)
    e = 0.5 * math.erfc(-x / math.sqrt(2.0)) - p
    u = e * math.sqrt(2.0 * math.pi) * math.exp(x * x / 2.0)
    return x - u / (1.0 + x * u / 2.0)


@term
def poisson_count(u, rate, p0):
    """Poisson(rate) count by CDF inversion (the recurrence of rng.poisson_from_uniform; p0 = e^−rate);
    above NORMAL_RATE the normal approximation with continuity correction."""
    if rate > NORMAL_RATE:
        return max(math.floor(rate + math.sqrt(rate) * ndtri(u) + 0.5), 0.0)
    max_count = max(30, int(math.ceil(rate + 12.0 * math.sqrt(rate) + 20.0)))
    p = p0
    cdf = p0
    count = 0
    while count < max_count and u > cdf:
        count += 1
        p = p * rate / count
        cdf = cdf + p
    return float(count)


# ================================================================================ terms: trade and tariffs
@term
def effective_tariff(country_weight, country_rate, sector_contribution):
    """Trade-weighted tariff: goods outside Section-232 sectors pay the country rate (no stacking)."""
    return country_weight * country_rate + sector_contribution


@term
def tariff_pain(exports_to_gdp, exports_us, tariff):
    """Percentage points of GDP taxed: 100 · (exports/GDP) · (exports to the patron) · τ."""
    return 100.0 * exports_to_gdp * exports_us * tariff


@term
def trade_shock_update(shock, persistence, sd, u):
    """d ← ρ·d + σ·√12·(u − ½): an AR(1) move of an export-share target that no modelled driver explains
    (foreign demand, the chip cycle, exchange rates), so trade bands carry the year-to-year moves the record
    shows (docs/model.md §7.3)."""
    return persistence * shock + sd * SQRT12 * (u - 0.5)


@term
def export_share(exports, exports_us, exports_cn, share_us0, share_cn0):
    """Current share of ``exports`` in the total (other destinations held at their start level)."""
    return exports / (exports_us + exports_cn + (1.0 - share_us0 - share_cn0))


# ================================================================================ terms: burden, reliability
@term
def burden_gap(demand, effort):
    return max(demand - effort, 0.0)


@term
def reliability_target(latent0, pain, pain0, gap, gap0, tariff_sensitivity, demand_sensitivity):
    """ℓ* = ℓ_0 − a_τ·(pain − pain_0) − a_d·(gap − gap_0): the reliability the ally would come to believe."""
    return latent0 - tariff_sensitivity * (pain - pain0) - demand_sensitivity * (gap - gap0)


@term
def trust_scar_update(scar, heal_rate, persistent_share, latent0, target):
    """Memory of a breach of trust (logit units): a share of the current loss ℓ_0 − ℓ* is kept, and what is kept
    heals at ``heal_rate`` per month; the larger of the two, so the worst recent loss is what is remembered."""
    return max((1.0 - heal_rate) * scar, persistent_share * max(latent0 - target, 0.0))


@term
def remembered_reliability_target(target, latent0, scar):
    """The reliability target once the scar is counted: the scar binds only where it exceeds today's loss, so it
    adds nothing while a shock lasts and keeps trust below the start after the shock is lifted (hysteresis)."""
    return target - max(scar - max(latent0 - target, 0.0), 0.0)


@term
def logistic(x):
    return 1.0 / (1.0 + fastmath.exp(-x))


# ================================================================================ terms: China
@term
def coercion_patron_push(intimidation, threat, backfire_level):
    """Coercion intimidates below the backfire threat level and pushes toward the patron above it."""
    return intimidation * (threat - backfire_level)


# ================================================================================ terms: domestic politics
@term
def leader_stance(orientation, public, latitude):
    """The leader acts on their orientation but cannot stray more than ``latitude`` from the public."""
    return min(max(orientation, public - latitude), public + latitude)


@term
def p_hawk(weight, public):
    """Probability that an election brings a hawk: logistic(weight · public stance)."""
    return 1.0 / (1.0 + fastmath.exp(-weight * public))


# ================================================================================ terms: bargaining
@term
def patron_utilities(P, Z, Ly, a, m, country, conceded, retaliated, bonus):
    """The patron's (escalate, relieve, raise_demand) utilities toward ally ``a`` (hold is 0), given whether the
    ally conceded or retaliated last: the one statement of the rule that decide_patron acts on and the ally's
    forecast of it reads.  An option that cannot be taken (escalation at the cap, relief of a zero tariff) is
    NEG."""
    offset = Z[Ly.tariff_offset + a, m]
    u1 = (P[F.escalate_base_utility, m] + P[F.escalate_gap_weight, m] * Z[Ly.gap + a, m]
          + P[F.escalate_retaliation_weight, m] * retaliated)
    u1 = NEG if offset >= P[F.max_tariff_offset, m] - TINY else u1
    u2 = P[F.relief_base_utility, m] + P[F.relief_concession_weight, m] * conceded + bonus
    u2 = NEG if country <= TINY else u2
    u3 = P[F.raise_demand_base_utility, m] + P[F.raise_demand_concession_weight, m] * conceded
    return u1, u2, u3


@term
def accommodation_utility(base, coercion_weight, coerced, dependence_weight, china_share, stance_weight, stance):
    """Accommodating Beijing (yielding to its security demands, as Seoul's "Three Nos" of October 2017 under the
    THAAD sanctions): likelier while China coerces, the more the ally sells to China, and under a conciliatory
    leader.  Distinct from hedging, which diversifies toward Beijing without yielding to it."""
    return base + coercion_weight * coerced + dependence_weight * china_share - stance_weight * stance


@term
def patron_country_rate(Z, Ly, sch, prow, t, a, m):
    """The country tariff in force on ally ``a``: the schedule plus the patron's own offset, in [0, 2]."""
    return min(max(sch.country_rate[srow(sch.varies, 0, prow[m]), t, a] + Z[Ly.tariff_offset + a, m], 0.0), 2.0)


@term
def chip_relief_bonus(Z, Ly, V, a, m):
    """The extra appeal of relief while a played bargaining chip's bonus months last."""
    return V[VEC.chip_bonus, a, m] * (1.0 if Z[Ly.bonus_left + a, m] > 0 else 0.0)


@term
def relief_probability(u_escalate, u_relief, u_raise):
    """The patron's chance of choosing relief under its logit rule (hold has utility 0)."""
    top = max(max(0.0, u_escalate), max(u_relief, u_raise))
    e0, e1 = fastmath.exp(-top), fastmath.exp(u_escalate - top)
    e2, e3 = fastmath.exp(u_relief - top), fastmath.exp(u_raise - top)
    return e2 / (e0 + e1 + e2 + e3)


@term
def expected_concession_relief(weight, p_relief_if_conceded, p_relief_otherwise, pain_at_stake):
    """Forward-looking bargaining: a concession is worth the rise in the chance of tariff relief it buys, times
    the tariff pain (pp of GDP above the start) that relief would lift."""
    return weight * max(p_relief_if_conceded - p_relief_otherwise, 0.0) * pain_at_stake


# ================================================================================ helpers
@term
def stream_key(key, month, stream):
    """rng.month_stream_keys for one key."""
    salt = mix64(np.uint64((month + 1) * 1_000_003 + stream) * _GOLDEN)
    return mix64(key ^ salt)


@term
def cos_2pi(u):
    """cos(2π·u) for 0 < u < 1, reduced exactly to an argument in [0, π/4]."""
    w = u if u <= 0.5 else 1.0 - u
    if w <= 0.125:
        return math.cos(2.0 * math.pi * w)
    if w <= 0.375:
        return math.sin(2.0 * math.pi * (0.25 - w))
    return -math.cos(2.0 * math.pi * (0.5 - w))


@phase
def logit_choices(U, k, Dr, urow, Z, out_row, W):
    """Multinomial-logit choice of every lane (rng.logit_choice): utilities ``U`` (options, lanes), uniforms in
    ``Dr[urow]``; the option whose softmax CDF first exceeds the uniform goes to ``Z[out_row]``.  max / exp /
    running sum / divide / count in numpy's order, lanes innermost and branch-free, so the lanes vectorise (an
    unavailable option's utility NEG gives exp(NEG − max) = 0).  ``W`` is scratch of at least k + 3 rows."""
    L = Z.shape[1]
    check_scratch(W, k + 3)
    top, total, count, cdf = W[0], W[1], W[2], W[3:3 + k]
    for m in range(L):
        count[m] = 0.0
    for m in range(L):
        top[m] = U[0, m]
    for j in range(1, k):
        for m in range(L):
            top[m] = max(top[m], U[j, m])
    for m in range(L):
        total[m] = 0.0
    for j in range(k):
        for m in range(L):
            total[m] = (total[m] + fastmath.exp(U[j, m] - top[m])) if j > 0 else fastmath.exp(U[0, m] - top[m])
            cdf[j, m] = total[m]
    for j in range(k - 1):  # the last ratio is exactly 1 > u
        for m in range(L):
            count[m] += 1.0 if Dr[urow, m] > cdf[j, m] / total[m] else 0.0
    for m in range(L):
        Z[out_row, m] = count[m]


@term
def check_scratch(W, rows):
    """Scratch rows are views of one buffer the driver allocates once (``layout.scratch_rows``): an allocation
    per phase call would cost more than the decision itself.  Too few rows is a bug, caught before any write."""
    if W.shape[0] < rows:
        raise ValueError("scratch buffer too small for this phase (layout.scratch_rows)")


@term
def srow(sch_varies, which, prow_m):
    """Row of a schedule for a lane: its parameter point's row if the schedule varies between points."""
    return prow_m if sch_varies[which] else 0


# ================================================================================ draws
@phase
def fill_draws(key, t, A, D, K, n_pairs, out, m):
    """Every month-t draw of one replicate that the step reads from a table, into column m of ``out``."""
    o_al, o_cn, o_adv, o_cnt, o_mag, o_el, o_tie = A, 2 * A, 3 * A, 3 * A + D, 3 * A + D + K, 3 * A + D + 2 * K, \
        4 * A + D + 2 * K
    k_us = stream_key(key, t, rng.STREAM_DECISION_US)
    k_al = stream_key(key, t, rng.STREAM_DECISION_ALLY)
    k_cn = stream_key(key, t, rng.STREAM_DECISION_CHINA)
    k_el = stream_key(key, t, rng.STREAM_ELECTION)
    for a in range(A):
        out[a, m] = uniform_from_key(k_us, a)
        out[o_al + a, m] = uniform_from_key(k_al, a)
        out[o_cn + a, m] = uniform_from_key(k_cn, a)
        out[o_el + a, m] = uniform_from_key(k_el, a)
    k_adv = stream_key(key, t, rng.STREAM_DECISION_ADVERSARY)
    for d in range(D):
        out[o_adv + d, m] = uniform_from_key(k_adv, d)
    k_cnt = stream_key(key, t, rng.STREAM_THREAT_COUNT)
    k_mag = stream_key(key, t, rng.STREAM_THREAT_MAGNITUDE)
    for k in range(K):
        out[o_cnt + k, m] = uniform_from_key(k_cnt, k)
        out[o_mag + k, m] = -math.log(uniform_from_key(k_mag, k))
    k_tie = stream_key(key, t, rng.STREAM_TIE_NOISE)
    for p in range(n_pairs):
        u1 = uniform_from_key(k_tie, 2 * p)
        u2 = uniform_from_key(k_tie, 2 * p + 1)
        out[o_tie + p, m] = math.sqrt(-2.0 * math.log(u1)) * cos_2pi(u2)


# ================================================================================ derived quantities
@phase
def tie_drivers(Z, Ly, sz, P, V, st, out, threat_row):
    """The mechanism terms acting on each tie (symmetric, logit units), summed by force group into rows
    ``g·n² + i·n + j`` of ``out`` for the first TIE_FORCE_GROUPS groups of ``layout.DRIVER_GROUPS`` (their
    sum is the tie's driver D_ij).  ``threat_row`` is where the allies' total threat is read.  The patron's
    protection w·threat·reliability is split into its part at the start's reliability (threat) and the rest
    (reliability), so that falling reliability is a driver of its own.  Kept apart whether or not the step
    accounts for them, so that attribution never changes a result."""
    n, A, S = sz.n, sz.A, sz.S
    L = LANES  # a compile-time constant: the lane loops unroll and vectorise
    on = st.on
    ai, pat, ch = st.ai, st.pat, st.ch
    T = Ly.ties
    nn = n * n
    stride = nn  # rows between force groups
    g_trade, g_burden = DRV.tariffs_trade * stride, DRV.burden_reliability * stride
    g_threat, g_domestic = DRV.threat * stride, DRV.domestic_politics * stride
    for q in range(TIE_FORCE_GROUPS * nn):
        for m in range(L):
            out[q, m] = 0.0
    for a in range(A):
        i = ai[a]
        for m in range(L):
            thr = Z[threat_row + i, m]
            rel = Z[Ly.reliability + a, m]
            stance = Z[Ly.stance + a, m]
            share = export_share(Z[Ly.exports_cn + a, m], Z[Ly.exports_us + a, m], Z[Ly.exports_cn + a, m],
                                 V[VEC.share_us0, a, m], V[VEC.share_cn0, a, m])
            protection = on[TERM.threat_protection] * threat_protection(P[F.threat_weight, m], thr, rel)
            protection0 = on[TERM.threat_protection] * threat_protection(P[F.threat_weight, m], thr,
                                                                           V[VEC.reliability0, a, m])
            lead = on[TERM.leader_pull] * leader_pull(P[F.leader_weight, m], stance)
            out[g_threat + i * n + pat, m] += protection0
            out[g_trade + i * n + pat, m] += on[TERM.tariff_strain] * tariff_strain(P[F.tariff_weight, m],
                                                                                   Z[Ly.pain + a, m])
            out[g_burden + i * n + pat, m] += (
                on[TERM.burden_friction] * burden_friction(P[F.burden_weight, m], Z[Ly.gap + a, m])
                + on[TERM.entrapment] * entrapment_fear(P[F.entrapment_weight, m], V[VEC.entrapment, a, m],
                                                        Z[T + pat * n + ch, m], Z[T + i * n + pat, m])
                + (protection - protection0))
            out[g_domestic + i * n + pat, m] += lead
            out[g_trade + i * n + ch, m] += on[TERM.china_trade_pull] * china_trade_pull(
                P[F.china_trade_weight, m], share)
            out[g_domestic + i * n + ch, m] -= lead
    for s in range(S):
        j = st.source_actor[s]
        if j >= 0:
            for i in range(n):
                for m in range(L):
                    out[g_threat + i * n + j, m] += on[TERM.source_threat] * source_threat_push(
                        P[F.source_threat_weight, m], threat_of_stock(Z[Ly.stock + i * S + s, m]))
    for x in range(A):
        for y in range(x + 1, A):
            for m in range(L):
                out[g_threat + ai[x] * n + ai[y], m] += on[TERM.common_threat] * common_threat(
                    P[F.common_threat_weight, m], Z[threat_row + ai[x], m], Z[threat_row + ai[y], m])
                out[g_burden + ai[x] * n + ai[y], m] += on[TERM.quasi_alliance] * quasi_alliance(
                    P[F.quasi_alliance_weight, m], Z[Ly.reliability + x, m], Z[Ly.reliability + y, m])
    for g in range(TIE_FORCE_GROUPS):
        o = g * nn
        for i in range(n):
            for m in range(L):
                out[o + i * n + i, m] = 0.0
        for i in range(n):  # symmetrise: D = C + Cᵀ
            for j in range(i + 1, n):
                for m in range(L):
                    v = out[o + i * n + j, m] + out[o + j * n + i, m]
                    out[o + i * n + j, m] = v
                    out[o + j * n + i, m] = v


@phase
def tie_forces(Z, Ly, sz, P, V, st, drv, drv_groups):
    """The tie drivers by force group into ``drv_groups`` (TIE_FORCE_GROUPS·n², lanes) and their sum D into
    ``drv`` (n², lanes): the sum the step uses is the sum the accounting splits."""
    nn = sz.n * sz.n
    tie_drivers(Z, Ly, sz, P, V, st, drv_groups, Ly.threat)
    for q in range(nn):
        for m in range(LANES):
            acc = 0.0
            for g in range(TIE_FORCE_GROUPS):
                acc += drv_groups[g * nn + q, m]
            drv[q, m] = acc


@term
def cohesion(Z, T, n, pairs, m):
    """Trilateral cohesion: the mean tie among the patron and its allies."""
    acc = 0.0
    for q in range(pairs.shape[0]):
        acc += Z[T + pairs[q, 0] * n + pairs[q, 1], m]
    return acc / pairs.shape[0]


# ================================================================================ driver attribution
@term
def attribute_tie_change(Z, Ly, drv_groups, ij, nn, p, m, rate, balance_now, target, remembered, old, own, china,
                         event, noise, new):
    """Each group's share of pair p's change since the start, updated for one month (docs/model.md §8.1).

    The tie follows T' = T + r(T* − T) + impulses + noise, linear in T: so with T = T0 + Σ_g d_g each group's
    share obeys the same relaxation, d_g' = (1 − r)·d_g + (its push this month), and the shares add up to
    T − T0 exactly.  The target's move since the start, T* − T*0, is split among the force groups in
    proportion to each group's change of force since the start (exact for one group, a secant split for
    several: interactions are shared out pro rata; knock-outs measure them), except its part ``remembered``
    that the pair's memory of direct events adds, which is theirs.  The noise group also takes the
    ±TIE_LIMIT clip and any gap between the start tie and its target."""
    keep = 1.0 - rate
    sh = Ly.driver_share + p * N_DRIVERS
    f0 = Ly.force0 + p * FORCE_GROUPS
    total = 0.0
    for g in range(TIE_FORCE_GROUPS):
        total += drv_groups[g * nn + ij, m] - Z[f0 + g, m]
    total += balance_now - Z[f0 + DRV.balance, m]
    target0 = Z[Ly.target0 + p, m]
    move = target - remembered - target0
    # a vanishing total change of force: the slope of tanh at the start (the split of a move of ~0)
    ratio = move / total if abs(total) > 1e-9 else 1.0 - target0 * target0
    for g in range(TIE_FORCE_GROUPS):
        Z[sh + g, m] = keep * Z[sh + g, m] + rate * ratio * (drv_groups[g * nn + ij, m] - Z[f0 + g, m])
    Z[sh + DRV.balance, m] = keep * Z[sh + DRV.balance, m] + rate * ratio * (balance_now - Z[f0 + DRV.balance, m])
    Z[sh + DRV.china, m] = keep * Z[sh + DRV.china, m] + china
    Z[sh + DRV.ally_choices, m] = keep * Z[sh + DRV.ally_choices, m] + own
    Z[sh + DRV.direct_events, m] = keep * Z[sh + DRV.direct_events, m] + event + rate * remembered
    raw = old + rate * (target - old) + (own + china + event) + noise
    rest = rate * (move - ratio * total) + rate * (target0 - Z[Ly.tie0 + p, m]) + (new - raw)
    Z[sh + DRV.noise, m] = keep * Z[sh + DRV.noise, m] + noise + rest


# ================================================================================ initial state
@phase
def initial_state(Z, Ly, sz, P, V, keys, prow, ties0, stock0, sch, st, W):
    """Start-month state of every lane; ties start at the equilibrium of the start-month forces."""
    n, A, S, K, N = sz.n, sz.A, sz.S, sz.K, sz.N
    L = LANES  # a compile-time constant: the lane loops unroll and vectorise
    T = Ly.ties
    check_scratch(W, (1 + TIE_FORCE_GROUPS) * n * n)
    drv = W[0:n * n]
    drv_groups = W[n * n:(1 + TIE_FORCE_GROUPS) * n * n]
    for q in range(Z.shape[0]):
        for m in range(L):
            Z[q, m] = 0.0
    for m in range(L):
        r = prow[m]
        for i in range(n):
            for j in range(n):
                Z[T + i * n + j, m] = ties0[r, i, j]
            for s in range(S):
                Z[Ly.stock + i * S + s, m] = stock0[r, i, s]
        for a in range(A):
            rs = srow(sch.varies, 0, r)
            country0 = min(max(sch.country_rate[rs, 0, a], 0.0), 2.0)
            tariff0 = effective_tariff(V[VEC.country_weight, a, m], country0,
                                       sch.sector_rate[srow(sch.varies, 1, r), 0, a])
            demand0 = sch.demand[srow(sch.varies, 2, r), 0, a]
            Z[Ly.effort + a, m] = V[VEC.defense0, a, m]
            rel0 = V[VEC.reliability0, a, m]
            Z[Ly.latent0 + a, m] = math.log(rel0 / (1.0 - rel0))
            Z[Ly.latent + a, m] = Z[Ly.latent0 + a, m]
            Z[Ly.trust_scar + a, m] = 0.0
            Z[Ly.exports_us + a, m] = V[VEC.share_us0, a, m]
            Z[Ly.exports_cn + a, m] = V[VEC.share_cn0, a, m]
            Z[Ly.trade_shock_us + a, m] = 0.0
            Z[Ly.trade_shock_cn + a, m] = 0.0
            Z[Ly.orientation + a, m] = V[VEC.orientation0, a, m]
            Z[Ly.tariff0 + a, m] = tariff0
            Z[Ly.tariff + a, m] = tariff0
            Z[Ly.demand + a, m] = demand0
            Z[Ly.pain0 + a, m] = tariff_pain(V[VEC.exports_to_gdp, a, m], V[VEC.share_us0, a, m], tariff0)
            Z[Ly.pain + a, m] = Z[Ly.pain0 + a, m]
            Z[Ly.gap0 + a, m] = burden_gap(demand0, V[VEC.defense0, a, m])
            Z[Ly.gap + a, m] = Z[Ly.gap0 + a, m]
            Z[Ly.reliability + a, m] = logistic(Z[Ly.latent + a, m])
            Z[Ly.pow_ratio + a, m] = np.nan
            Z[Ly.alignment + a, m] = alignment(Z[T + st.ai[a] * n + st.pat, m], Z[T + st.ai[a] * n + st.ch, m])
            Z[Ly.prev_alignment + a, m] = Z[Ly.alignment + a, m]
        for k in range(K):
            Z[Ly.pois_rate + k, m] = np.nan
        Z[Ly.min_cohesion, m] = np.inf
        # Citizens: normal around 2f − 1 with the configured spread, clipped (aggregate: the mean itself).
        ikey = stream_key(keys[m], 0, rng.STREAM_CITIZEN_INIT)
        for a in range(A):
            mean_us = 2.0 * V[VEC.fav_us0, a, m] - 1.0
            mean_cn = 2.0 * V[VEC.fav_cn0, a, m] - 1.0
            acc_us = 0.0
            acc_cn = 0.0
            for i in range(N):
                x_us, x_cn = mean_us, mean_cn
                if st.citizens > 0:
                    spread = P[F.opinion_spread, m]
                    b_us = ((0 * A + a) * N + i) * 2
                    b_cn = ((1 * A + a) * N + i) * 2
                    z_us = math.sqrt(-2.0 * math.log(uniform_from_key(ikey, b_us))) * \
                        math.cos(2.0 * math.pi * uniform_from_key(ikey, b_us + 1))
                    z_cn = math.sqrt(-2.0 * math.log(uniform_from_key(ikey, b_cn))) * \
                        math.cos(2.0 * math.pi * uniform_from_key(ikey, b_cn + 1))
                    x_us = min(max(mean_us + spread * z_us, -1.0), 1.0)
                    x_cn = min(max(mean_cn + spread * z_cn, -1.0), 1.0)
                Z[Ly.op_us + a * N + i, m] = x_us
                Z[Ly.op_cn + a * N + i, m] = x_cn
                Z[Ly.anchor_us + a * N + i, m] = x_us
                Z[Ly.anchor_cn + a * N + i, m] = x_cn
                acc_us += x_us
                acc_cn += x_cn
            public = 0.5 * (acc_us / N - acc_cn / N)
            Z[Ly.public + a, m] = public
            Z[Ly.stance + a, m] = leader_stance(Z[Ly.orientation + a, m], public, V[VEC.latitude, a, m])
        for i in range(n):
            acc = 0.0
            for s in range(S):
                acc += Z[Ly.stock + i * S + s, m]
            Z[Ly.threat + i, m] = 0.0 if acc == 0.0 else 1.0 - fastmath.exp(-acc)
        Z[Ly.cohesion, m] = cohesion(Z, T, n, st.alliance_pairs, m)
    # The intercepts that make the start-month ties the targets of the start-month forces.
    tie_forces(Z, Ly, sz, P, V, st, drv, drv_groups)
    for m in range(L):
        bw = P[F.balance_weight, m] * st.on[TERM.balance]
        for i in range(n):
            for j in range(n):
                if i == j:
                    continue
                t0 = min(max(Z[T + i * n + j, m], -TIE_LIMIT), TIE_LIMIT)
                Z[Ly.intercept + i * n + j, m] = (math.atanh(t0) - bw * balance_pressure(Z, T, n, i, j, m)
                                                  - drv[i * n + j, m])
    if st.attribution:  # the start of the accounting: the forces, tie and target each group's share is measured from
        nn = n * n
        for m in range(L):
            bw = P[F.balance_weight, m] * st.on[TERM.balance]
            p = 0
            for i in range(n):
                for j in range(i + 1, n):
                    b = bw * balance_pressure(Z, T, n, i, j, m)
                    for g in range(TIE_FORCE_GROUPS):
                        Z[Ly.force0 + p * FORCE_GROUPS + g, m] = drv_groups[g * nn + i * n + j, m]
                    Z[Ly.force0 + p * FORCE_GROUPS + DRV.balance, m] = b
                    Z[Ly.tie0 + p, m] = Z[T + i * n + j, m]
                    Z[Ly.target0 + p, m] = tie_target(Z[Ly.intercept + i * n + j, m], bw,
                                                      balance_pressure(Z, T, n, i, j, m), drv[i * n + j, m])
                    p += 1


# ================================================================================ decisions (month t)
@phase
def decide_patron(Z, Ly, sz, P, V, Dr, prow, sch, st, t, W):
    """The patron's choice per ally: hold / escalate / relieve / raise_demand (scripted mode: hold)."""
    A, L = sz.A, LANES
    U = W[0:4]
    for a in range(A):
        if not st.patron_behavioural:
            for m in range(L):
                Z[Ly.us_choice + a, m] = US_HOLD
            continue
        for m in range(L):
            last = Z[Ly.ally_last + a, m]
            conceded = 1.0 if (last == ALLY_CONCEDE or last == ALLY_CHIP) else 0.0
            retaliated = 1.0 if last == ALLY_RETALIATE else 0.0
            u1, u2, u3 = patron_utilities(P, Z, Ly, a, m, patron_country_rate(Z, Ly, sch, prow, t, a, m), conceded,
                                          retaliated, chip_relief_bonus(Z, Ly, V, a, m))
            U[0, m] = 0.0
            U[1, m] = u1
            U[2, m] = u2
            U[3, m] = u3
        logit_choices(U, 4, Dr, a, Z, Ly.us_choice + a, W[4:])


@phase
def decide_ally(Z, Ly, sz, P, V, Dr, prow, sch, st, t, a, W):
    """Ally a's choice: hold / concede / hedge / retaliate / play its bargaining chip / accommodate Beijing
    (yield to the challenger's security demands, likelier under its coercion).  A concession is also
    weighed by the relief the ally expects it to buy: it forecasts the patron's answer next month with the
    patron's own rule, as if it conceded and as if it held."""
    A, L = sz.A, LANES
    U = W[0:6]
    chip_ok0 = st.chip[a] and t >= st.chip_from[a]
    i = st.ai[a]
    on = st.on
    for m in range(L):
        pain_rise = max(Z[Ly.pain + a, m] - Z[Ly.pain0 + a, m], 0.0)
        chip_ok = chip_ok0 and Z[Ly.chip_used + a, m] == 0.0
        th = Z[Ly.threat + i, m]
        rel = Z[Ly.reliability + a, m]
        stance = Z[Ly.stance + a, m]
        country = patron_country_rate(Z, Ly, sch, prow, t, a, m)
        bonus = chip_relief_bonus(Z, Ly, V, a, m)
        e1, r1, d1 = patron_utilities(P, Z, Ly, a, m, country, 1.0, 0.0, bonus)
        e0, r0, d0 = patron_utilities(P, Z, Ly, a, m, country, 0.0, 0.0, bonus)
        relief = on[TERM.concession_relief] * expected_concession_relief(
            P[F.concede_expected_relief_weight, m], relief_probability(e1, r1, d1), relief_probability(e0, r0, d0),
            pain_rise)
        U[0, m] = 0.0
        U[1, m] = (P[F.concede_base_utility, m] + P[F.concede_protection_weight, m] * th * rel
                   + P[F.concede_pain_weight, m] * pain_rise + P[F.concede_stance_weight, m] * stance + relief)
        U[2, m] = (P[F.hedge_base_utility, m] + P[F.hedge_unreliability_weight, m] * (1.0 - rel)
                   - P[F.hedge_stance_weight, m] * stance + P[F.hedge_pain_weight, m] * pain_rise)
        U[3, m] = (P[F.retaliate_base_utility, m] + P[F.retaliate_pain_weight, m] * pain_rise
                   - P[F.retaliate_threat_weight, m] * th)
        U[4, m] = V[VEC.chip_base, a, m] + V[VEC.chip_pain, a, m] * pain_rise if chip_ok else NEG
        share = export_share(Z[Ly.exports_cn + a, m], Z[Ly.exports_us + a, m], Z[Ly.exports_cn + a, m],
                             V[VEC.share_us0, a, m], V[VEC.share_cn0, a, m])
        U[5, m] = accommodation_utility(P[F.accommodate_base_utility, m], P[F.accommodate_coercion_weight, m],
                                        1.0 if Z[Ly.china_last + a, m] == CN_COERCE else 0.0,
                                        P[F.accommodate_dependence_weight, m], share,
                                        P[F.accommodate_stance_weight, m], stance)
    logit_choices(U, 6, Dr, A + a, Z, Ly.ally_choice + a, W[6:])


@phase
def decide_challenger(Z, Ly, sz, P, Dr, prow, sch, st, t, W):
    """The challenger's choice per ally: none / induce / coerce; scripted events force one.  An ally that
    accommodated last month is spared coercion (its demands were met)."""
    A, L = sz.A, LANES
    on = st.on
    U = W[0:3]
    for a in range(A):
        row = Ly.china_choice + a
        if st.challenger_behavioural:
            for m in range(L):
                align = Z[Ly.alignment + a, m]
                drift = align - Z[Ly.prev_alignment + a, m]
                U[0, m] = 0.0
                U[1, m] = (P[F.induce_base_utility, m] + P[F.induce_drift_weight, m] * max(-drift, 0.0)
                           + P[F.induce_hedge_weight, m] * (1.0 if Z[Ly.ally_last + a, m] == ALLY_HEDGE else 0.0))
                accommodated = 1.0 if Z[Ly.ally_last + a, m] == ALLY_ACCOMMODATE else 0.0
                U[2, m] = (P[F.coerce_base_utility, m] + P[F.coerce_drift_weight, m] * max(drift, 0.0)
                           + P[F.coerce_alignment_weight, m] * max(align - 0.5, 0.0)
                           - on[TERM.accommodation_relief] * P[F.coerce_accommodation_weight, m] * accommodated)
            logit_choices(U, 3, Dr, 2 * A + a, Z, row, W[3:])
        else:
            for m in range(L):
                Z[row, m] = CN_NONE
        for m in range(L):
            if sch.ev_induce[srow(sch.varies, 5, prow[m]), t, a] != 0.0:
                Z[row, m] = CN_INDUCE
            if sch.ev_coerce[srow(sch.varies, 6, prow[m]), t, a] != 0.0:
                Z[row, m] = CN_COERCE


@phase
def decide_adversary(Z, Ly, sz, P, Dr, t, d, W):
    """Adversary d's choice: restrain / provoke (provoke when the alliance looks divided)."""
    L = LANES  # a compile-time constant: the lane loops unroll and vectorise
    U = W[0:2]
    for m in range(L):
        U[0, m] = 0.0
        U[1, m] = P[F.provoke_base_utility, m] + P[F.provoke_cohesion_weight, m] * (1.0 - Z[Ly.cohesion, m])
    logit_choices(U, 2, Dr, 3 * sz.A + d, Z, Ly.adversary_choice + d, W[2:])


@phase
def decide_all(Z, Ly, sz, P, V, Dr, prow, sch, st, t, W):
    """Every agent's choice from the state at month t (what the Mesa agents do one by one)."""
    decide_patron(Z, Ly, sz, P, V, Dr, prow, sch, st, t, W)
    for a in range(sz.A):
        decide_ally(Z, Ly, sz, P, V, Dr, prow, sch, st, t, a, W)
    decide_challenger(Z, Ly, sz, P, Dr, prow, sch, st, t, W)
    for d in range(sz.D):
        decide_adversary(Z, Ly, sz, P, Dr, t, d, W)


# ================================================================================ transition (t → t+1)
@phase
def transition(Z, Ly, sz, P, V, MK, MD, Dr, keys, prow, sch, st, t, W, Wk):
    """Apply month t's choices and inputs to the state at t; the state becomes that of t+1.

    Every loop runs over the lanes innermost: the lanes are independent replicates, so the compiler
    interleaves or vectorises them where one replicate's chain of dependent operations would stall."""
    n, A, S, K, D, N = sz.n, sz.A, sz.S, sz.K, sz.D, sz.N
    G = st.mix.shape[0]
    L = LANES  # a compile-time constant: the lane loops unroll and vectorise
    on = st.on
    ai, pat, ch, src_ch = st.ai, st.pat, st.ch, st.src_ch
    T = Ly.ties
    n_pairs = n * (n - 1) // 2
    o_cnt, o_mag, o_el, o_tie = 3 * A + D, 3 * A + D + K, 3 * A + D + 2 * K, 4 * A + D + 2 * K
    vs = sch.varies
    # Temporaries: views of the driver's scratch rows (layout.scratch_rows), keys in Wk.
    check_scratch(W, transition_scratch_rows(sz, G))
    w = 0
    old_tariff = W[w:w + A]
    w += A
    old_threat = W[w:w + n]
    w += n
    old_thch = W[w:w + A]
    w += A
    add = W[w:w + n * S]
    w += n * S
    drv = W[w:w + n * n]
    w += n * n
    drv_groups = W[w:w + TIE_FORCE_GROUPS * n * n]
    w += TIE_FORCE_GROUPS * n * n
    B = W[w:w + n * n]
    w += n * n
    J = W[w:w + n * n]  # impulses of the allies' own choices
    w += n * n
    Jc = W[w:w + n * n]  # impulses of China's choices
    w += n * n
    shock_us = W[w:w + G]
    w += G
    shock_cn = W[w:w + G]
    w += G
    acc, acc2, mean, mean2, gamma, beta, scale, public = W[w], W[w + 1], W[w + 2], W[w + 3], W[w + 4], \
        W[w + 5], W[w + 6], W[w + 7]
    mkey = Wk

    # ---- the patron: tariffs and demands; the ally: effort and chips; trade
    for m in range(L):
        mkey[m] = stream_key(keys[m], t, rng.STREAM_TRADE_SHOCK)
    for a in range(A):
        for m in range(L):
            r = prow[m]
            us = Z[Ly.us_choice + a, m]
            rate_t = sch.country_rate[srow(vs, 0, r), t, a]
            step = (1.0 if us == US_ESCALATE else 0.0) - (1.0 if us == US_RELIEVE else 0.0)
            o = Z[Ly.tariff_offset + a, m] + P[F.tariff_step, m] * step
            o = min(o, P[F.max_tariff_offset, m])
            o = max(o, -rate_t)  # relief cannot take the rate below zero
            Z[Ly.tariff_offset + a, m] = o
            Z[Ly.demand_offset + a, m] += P[F.demand_step, m] * (1.0 if us == US_RAISE_DEMAND else 0.0)
            old_tariff[a, m] = Z[Ly.tariff + a, m]
            country = min(max(rate_t + o, 0.0), 2.0)
            Z[Ly.tariff + a, m] = effective_tariff(V[VEC.country_weight, a, m], country,
                                                   sch.sector_rate[srow(vs, 1, r), t, a])
            Z[Ly.demand + a, m] = sch.demand[srow(vs, 2, r), t, a] + Z[Ly.demand_offset + a, m]
        for m in range(L):
            al = Z[Ly.ally_choice + a, m]
            conceded = 1.0 if al == ALLY_CONCEDE else 0.0
            chipped = al == ALLY_CHIP
            Z[Ly.effort + a, m] += (P[F.concede_effort_step, m] * conceded
                                    + V[VEC.chip_effort, a, m] * (1.0 if chipped else 0.0))
            Z[Ly.chip_used + a, m] = 1.0 if chipped else Z[Ly.chip_used + a, m]
            Z[Ly.bonus_left + a, m] = V[VEC.chip_months, a, m] if chipped else max(Z[Ly.bonus_left + a, m] - 1.0,
                                                                                    0.0)
        for m in range(L):
            ratio = (1.0 + Z[Ly.tariff + a, m]) / (1.0 + Z[Ly.tariff0 + a, m])
            if ratio != Z[Ly.pow_ratio + a, m]:  # the tariff moves rarely: pow only when it does
                Z[Ly.pow_ratio + a, m] = ratio
                Z[Ly.pow_value + a, m] = ratio ** (-P[F.trade_elasticity, m])
        for m in range(L):
            d_us = trade_shock_update(Z[Ly.trade_shock_us + a, m], P[F.trade_shock_persistence, m],
                                      P[F.trade_shock_sd, m], uniform_from_key(mkey[m], 2 * a))
            d_cn = trade_shock_update(Z[Ly.trade_shock_cn + a, m], P[F.trade_shock_persistence, m],
                                      P[F.trade_shock_sd, m], uniform_from_key(mkey[m], 2 * a + 1))
            Z[Ly.trade_shock_us + a, m] = d_us
            Z[Ly.trade_shock_cn + a, m] = d_cn
            s_us0, s_cn0 = V[VEC.share_us0, a, m], V[VEC.share_cn0, a, m]
            rate = P[F.trade_adjustment_rate, m]
            ex_us = Z[Ly.exports_us + a, m]
            new_us = max(ex_us + rate * (s_us0 * Z[Ly.pow_value + a, m] + on[TERM.trade_shocks] * d_us - ex_us),
                         0.0)
            target_cn = (s_cn0 + on[TERM.trade_diversion] * P[F.diversion_to_china, m] * (s_us0 - new_us)
                         + on[TERM.trade_shocks] * d_cn)
            new_cn = max(Z[Ly.exports_cn + a, m] + rate * (target_cn - Z[Ly.exports_cn + a, m]), 0.0)
            Z[Ly.exports_us + a, m] = new_us
            cn = Z[Ly.china_choice + a, m]
            induced = 1.0 if cn == CN_INDUCE else 0.0
            coerced = 1.0 if cn == CN_COERCE else 0.0
            access = s_cn0 * (P[F.inducement_market_access, m] * induced - P[F.coercion_export_loss, m] * coerced)
            Z[Ly.exports_cn + a, m] = max(new_cn + on[TERM.market_access] * access, 0.0)

    # ---- threat: stochastic events, scripted shocks, coercion
    for i in range(n):
        for m in range(L):
            old_threat[i, m] = Z[Ly.threat + i, m]
    for a in range(A):
        for m in range(L):
            old_thch[a, m] = threat_of_stock(Z[Ly.stock + ai[a] * S + src_ch, m])
    for q in range(n * S):
        for m in range(L):
            add[q, m] = 0.0
    for k in range(K):
        s = st.proc_source[k]
        adv = st.proc_adversary[k]
        for m in range(L):
            rate = sch.proc_rate[srow(vs, 7, prow[m]), t, k]
            if adv >= 0 and Z[Ly.adversary_choice + adv, m] == ADV_PROVOKE:
                rate = rate * MD[adv, m]
            if rate != Z[Ly.pois_rate + k, m]:  # rates change rarely: e^−rate only when they do
                Z[Ly.pois_rate + k, m] = rate
                Z[Ly.pois_p0 + k, m] = math.exp(-rate)
            count = poisson_count(Dr[o_cnt + k, m], rate, Z[Ly.pois_p0 + k, m])
            sev = count * MK[k, m] * Dr[o_mag + k, m]
            sev = 0.0 if count == 0.0 and math.isfinite(MK[k, m]) else sev  # no event: exactly 0
            acc[m] = on[TERM.threat_events] * sev
        for i in range(n):
            w = st.proc_weights[k, i]
            for m in range(L):
                add[i * S + s, m] += acc[m] * w
    for i in range(n):
        for s in range(S):
            for m in range(L):
                add[i * S + s, m] = add[i * S + s, m] + sch.ev_threat[srow(vs, 8, prow[m]), t, i, s]
    for a in range(A):
        for m in range(L):
            add[ai[a] * S + src_ch, m] += (on[TERM.coercion_threat] * P[F.coercion_threat, m]
                                           * (1.0 if Z[Ly.china_choice + a, m] == CN_COERCE else 0.0))
    for i in range(n):
        for m in range(L):
            acc[m] = 0.0
        for s in range(S):
            q = Ly.stock + i * S + s
            for m in range(L):
                Z[q, m] = decay_stock(P[F.retention, m], Z[q, m], add[i * S + s, m])
                acc[m] += Z[q, m]
        for m in range(L):
            Z[Ly.threat + i, m] = 0.0 if acc[m] == 0.0 else 1.0 - fastmath.exp(-acc[m])

    # ---- burden and reliability
    for a in range(A):
        for m in range(L):
            pain = tariff_pain(V[VEC.exports_to_gdp, a, m], Z[Ly.exports_us + a, m], Z[Ly.tariff + a, m])
            gap = burden_gap(Z[Ly.demand + a, m], Z[Ly.effort + a, m])
            Z[Ly.pain + a, m] = pain
            Z[Ly.gap + a, m] = gap
            target = reliability_target(Z[Ly.latent0 + a, m], pain, Z[Ly.pain0 + a, m], gap, Z[Ly.gap0 + a, m],
                                        P[F.reliability_tariff_sensitivity, m],
                                        P[F.reliability_demand_sensitivity, m])
            latent0 = Z[Ly.latent0 + a, m]
            scar = on[TERM.trust_memory] * trust_scar_update(
                Z[Ly.trust_scar + a, m], P[F.trust_heal_rate, m], P[F.trust_persistent_share, m], latent0, target)
            Z[Ly.trust_scar + a, m] = scar
            target = remembered_reliability_target(target, latent0, scar)
            latent = Z[Ly.latent + a, m]
            latent = (latent + on[TERM.reliability_drift] * P[F.reliability_adjustment_rate, m] * (target - latent)
                      + on[TERM.reassurance] * sch.ev_reassure[srow(vs, 3, prow[m]), t, a])
            Z[Ly.latent + a, m] = latent
        for m in range(L):
            Z[Ly.reliability + a, m] = logistic(Z[Ly.latent + a, m])

    # ---- citizens: common shocks by group, then social influence and noise; leaders and elections
    for m in range(L):
        mkey[m] = stream_key(keys[m], t, rng.STREAM_CITIZEN_NOISE)
    for a in range(A):
        i = ai[a]
        for g in range(G):
            for m in range(L):
                # Signed changes: a tariff rise stirs nationalism and relief soothes it; a threat rise rallies
                # support for the patron and its fading relaxes it (a stationary threat causes no drift).
                d_tariff = Z[Ly.tariff + a, m] - old_tariff[a, m]
                d_threat = Z[Ly.threat + i, m] - old_threat[i, m]
                d_threat_ch = threat_of_stock(Z[Ly.stock + i * S + src_ch, m]) - old_thch[a, m]
                cn = Z[Ly.china_choice + a, m]
                coerced = 1.0 if cn == CN_COERCE else 0.0
                induced = 1.0 if cn == CN_INDUCE else 0.0
                shock_us[g, m] = (
                    -on[TERM.tariff_nationalism] * P[F.tariff_nationalism, m] * d_tariff * st.g_tariff[g]
                    + on[TERM.threat_rally] * P[F.threat_rally, m] * d_threat * st.g_threat[g])
                shock_cn[g, m] = (
                    -on[TERM.coercion_backlash] * P[F.coercion_backlash, m] * coerced * st.g_backlash[g]
                    + on[TERM.inducement_appeal] * P[F.inducement_appeal, m] * induced * st.g_appeal[g]
                    - on[TERM.threat_rally] * P[F.threat_rally, m] * d_threat_ch * st.g_threat[g])
        if st.citizens == 0:  # aggregate opinion: x ← clip(x + β(x_0 − x) + Σ_g share_g·shock_g)
            q = a * N
            for m in range(L):
                anchor_pull = on[TERM.citizen_anchor] * P[F.stubbornness, m]
                dot_us = 0.0
                dot_cn = 0.0
                for g in range(G):
                    dot_us += shock_us[g, m] * st.mix[g]
                    dot_cn += shock_cn[g, m] * st.mix[g]
                x_us = Z[Ly.op_us + q, m]
                x_cn = Z[Ly.op_cn + q, m]
                Z[Ly.op_us + q, m] = min(max(x_us + anchor_pull * (Z[Ly.anchor_us + q, m] - x_us) + dot_us, -1.0),
                                         1.0)
                Z[Ly.op_cn + q, m] = min(max(x_cn + anchor_pull * (Z[Ly.anchor_cn + q, m] - x_cn) + dot_cn, -1.0),
                                         1.0)
                public[m] = 0.5 * (Z[Ly.op_us + q, m] - Z[Ly.op_cn + q, m])
        else:  # Friedkin–Johnsen: x_i ← clip(x_i + γ(x̄ − x_i) + β(x_i,0 − x_i) + s_g(i)·shock + σ·ξ_i)
            for m in range(L):
                gamma[m] = on[TERM.citizen_conformity] * P[F.conformity, m]
                beta[m] = on[TERM.citizen_anchor] * P[F.stubbornness, m]
                scale[m] = on[TERM.citizen_noise] * P[F.opinion_noise_sd, m] * SQRT12
                acc[m] = 0.0
                acc2[m] = 0.0
            for c in range(N):
                q = a * N + c
                for m in range(L):
                    acc[m] += Z[Ly.op_us + q, m]
                    acc2[m] += Z[Ly.op_cn + q, m]
            for m in range(L):
                mean[m] = acc[m] / N
                mean2[m] = acc2[m] / N
                acc[m] = 0.0
                acc2[m] = 0.0
            for c in range(N):  # both opinions of a citizen in one pass: their draws are one hash's halves
                q = a * N + c
                g = st.groups[c]
                for m in range(L):
                    x = Z[Ly.op_us + q, m]
                    x = (x + gamma[m] * (mean[m] - x) + beta[m] * (Z[Ly.anchor_us + q, m] - x) + shock_us[g, m]
                         + scale[m] * (rng.noise_uniform(mkey[m], 2 * q) - 0.5))
                    x = min(max(x, -1.0), 1.0)
                    Z[Ly.op_us + q, m] = x
                    acc[m] += x
                    y = Z[Ly.op_cn + q, m]
                    y = (y + gamma[m] * (mean2[m] - y) + beta[m] * (Z[Ly.anchor_cn + q, m] - y) + shock_cn[g, m]
                         + scale[m] * (rng.noise_uniform(mkey[m], 2 * q + 1) - 0.5))
                    y = min(max(y, -1.0), 1.0)
                    Z[Ly.op_cn + q, m] = y
                    acc2[m] += y
            for m in range(L):
                public[m] = 0.5 * (acc[m] / N - acc2[m] / N)
        for m in range(L):
            Z[Ly.public + a, m] = public[m]
            lead = sch.ev_leader[srow(vs, 4, prow[m]), t, a]
            o = Z[Ly.orientation + a, m] if (math.isnan(lead) or on[TERM.leader_events] == 0.0) else lead
            if st.election[t, a] and on[TERM.elections] != 0.0:
                o = (V[VEC.hawk, a, m] if Dr[o_el + a, m] < p_hawk(P[F.election_public_weight, m], public[m])
                     else V[VEC.conciliatory, a, m])
            Z[Ly.orientation + a, m] = o
            Z[Ly.stance + a, m] = leader_stance(o, public[m], V[VEC.latitude, a, m])

    # ---- ties: targets from the new fundamentals and today's ties, decision impulses, noise
    tie_forces(Z, Ly, sz, P, V, st, drv, drv_groups)
    for i in range(n):
        for j in range(i + 1, n):
            for m in range(L):
                B[i * n + j, m] = balance_pressure(Z, T, n, i, j, m)
    for q in range(n * n):
        for m in range(L):
            J[q, m] = 0.0
            Jc[q, m] = 0.0
    for a in range(A):
        i = ai[a]
        for m in range(L):
            al = Z[Ly.ally_choice + a, m]
            cn = Z[Ly.china_choice + a, m]
            conc = 1.0 if al == ALLY_CONCEDE else 0.0
            hedg = 1.0 if al == ALLY_HEDGE else 0.0
            reta = 1.0 if al == ALLY_RETALIATE else 0.0
            chpd = 1.0 if al == ALLY_CHIP else 0.0
            acco = 1.0 if al == ALLY_ACCOMMODATE else 0.0
            induced = 1.0 if cn == CN_INDUCE else 0.0
            coerced = 1.0 if cn == CN_COERCE else 0.0
            push = coercion_patron_push(P[F.coercion_intimidation, m], old_threat[i, m],
                                        P[F.coercion_backfire_threat_level, m])
            J[i * n + pat, m] += (on[TERM.concession_impulse] * P[F.concede_tie_impulse, m] * conc
                                  + on[TERM.hedge_impulse] * P[F.hedge_tie_impulse_us, m] * hedg
                                  + on[TERM.retaliation_impulse] * P[F.retaliate_tie_impulse, m] * reta
                                  + on[TERM.chip_impulse] * V[VEC.chip_tie, a, m] * chpd
                                  + on[TERM.accommodation_impulse] * P[F.accommodate_tie_impulse_us, m] * acco)
            Jc[i * n + pat, m] += on[TERM.coercion_push] * coerced * push
            J[i * n + ch, m] += (on[TERM.hedge_impulse] * P[F.hedge_tie_impulse_china, m] * hedg
                                 + on[TERM.accommodation_impulse] * P[F.accommodate_tie_impulse_china, m] * acco)
            Jc[i * n + ch, m] += (on[TERM.inducement_impulse] * P[F.inducement_tie_impulse, m] * induced
                                  + on[TERM.coercion_impulse] * P[F.coercion_tie_impulse, m] * coerced)
    p = 0
    for i in range(n):
        for j in range(i + 1, n):
            for m in range(L):
                sd = on[TERM.tie_noise] * P[F.tie_noise_sd, m]
                noise = sd * Dr[o_tie + p, m] if (sd > 0 and n_pairs > 0) else 0.0
                bw = on[TERM.balance] * P[F.balance_weight, m]
                own = J[i * n + j, m] + J[j * n + i, m]
                china = Jc[i * n + j, m] + Jc[j * n + i, m]
                event = on[TERM.tie_events] * sch.ev_tie[srow(vs, 9, prow[m]), t, i, j]
                mem = tie_event_memory(Z[Ly.tie_memory + p, m], P[F.tie_event_heal_rate, m],
                                       on[TERM.tie_event_memory] * P[F.tie_event_persistent_share, m], event)
                Z[Ly.tie_memory + p, m] = mem
                tgt = tie_target(Z[Ly.intercept + i * n + j, m] + mem, bw, B[i * n + j, m], drv[i * n + j, m])
                old = Z[T + i * n + j, m]
                rate = P[F.tie_adjustment_rate, m]
                x = tie_update(old, rate, tgt, own + china + event, noise)
                Z[T + i * n + j, m] = x
                Z[T + j * n + i, m] = x
                if st.attribution:
                    remembered = tgt - tie_target(Z[Ly.intercept + i * n + j, m], bw, B[i * n + j, m],
                                                  drv[i * n + j, m])
                    attribute_tie_change(Z, Ly, drv_groups, i * n + j, n * n, p, m, rate, bw * B[i * n + j, m],
                                         tgt, remembered, old, own, china, event, noise, x)
            p += 1

    # ---- what the month leaves: alignment, cohesion, crossing, the choices as last month's
    for a in range(A):
        for m in range(L):
            Z[Ly.prev_alignment + a, m] = Z[Ly.alignment + a, m]
            al = alignment(Z[T + ai[a] * n + pat, m], Z[T + ai[a] * n + ch, m])
            Z[Ly.alignment + a, m] = al
            Z[Ly.crossed + a, m] = 1.0 if al < 0 else Z[Ly.crossed + a, m]
            Z[Ly.us_last + a, m] = Z[Ly.us_choice + a, m]
            Z[Ly.ally_last + a, m] = Z[Ly.ally_choice + a, m]
            Z[Ly.china_last + a, m] = Z[Ly.china_choice + a, m]
    for d in range(D):
        for m in range(L):
            Z[Ly.adversary_last + d, m] = Z[Ly.adversary_choice + d, m]
    for m in range(L):
        coh = cohesion(Z, T, n, st.alliance_pairs, m)
        Z[Ly.cohesion, m] = coh
        Z[Ly.min_cohesion, m] = min(Z[Ly.min_cohesion, m], coh)
