"""A fused numba kernel for whole trajectories of the aggregate-opinion model (population size 0).

``run_fused`` computes, for every row of a ``Compiled`` (one point, or a batch from
``batching.compile_batch``), the whole trajectory in one ``prange`` loop, months inside, with the state
in small local arrays.  It applies the rules of ``engine`` (decide_* and ``transition``) in the same
order and takes the same counter-based draws (stream, month, index), so a row's results equal the numpy
engine's up to the last bits of exp and tanh (``fastmath``, within a few ulp of libm) and of BLAS
summation order (tests/test_fused.py: within 1e-9 after 36 months).  A row's result does not depend
on the other rows of the batch, nor on the machine.

Where the speed comes from (benchmarks/bench_sweep.py):

* draws depend only on (replicate, month, stream, index), and every point of a sweep uses the same
  replicates, so each replicate's draws are computed once into a table shared by all its rows;
* rows advance in groups of ``LANES`` in lockstep — each row's arithmetic is unchanged, but independent
  rows fill the pipeline and vectorise, which one row's dependency chains cannot;
* exp and tanh are inlined (``fastmath``) instead of libm calls, and choices are branch-free.

Parameters reach the kernel packed as float arrays with a row axis: one (R, n_scalar) matrix of the
scalar fields of the parameter blocks (columns named by ``F``), one (R, n_vec, A) array of the per-ally
vectors (``V``), and month schedules as (1 or R, T, ...) arrays.

numba caches a compiled function by its own file: after editing ``fastmath`` or ``rng``, touch this file
(or remove its ``__pycache__``) so that the kernel is recompiled.
"""

from __future__ import annotations

import math
from enum import IntEnum

import numba
import numpy as np

from alliance_sim.model import fastmath, rng
from alliance_sim.model.compiled import (
    GROUP_APPEAL_SENSITIVITY,
    GROUP_BACKLASH_SENSITIVITY,
    GROUP_TARIFF_SENSITIVITY,
    GROUP_THREAT_SENSITIVITY,
    Compiled,
    group_mix,
)
from alliance_sim.model.rng import _GOLDEN, mix64, uniform_from_key

# Scalar fields of the parameter blocks read by the kernel: one column each of the packed matrix.
_BLOCK_FIELDS = {
    "mech": ("tie_adjustment_rate", "balance_weight", "threat_weight", "source_threat_weight",
             "common_threat_weight", "tariff_weight", "burden_weight", "entrapment_weight", "leader_weight",
             "china_trade_weight", "tie_noise_sd", "reliability_adjustment_rate",
             "reliability_tariff_sensitivity", "reliability_demand_sensitivity", "trade_elasticity",
             "trade_adjustment_rate", "diversion_to_china", "coercion_backfire_threat_level",
             "coercion_intimidation"),
    "pop": ("stubbornness", "tariff_nationalism", "threat_rally", "coercion_backlash", "inducement_appeal",
            "election_public_weight"),
    "upol": ("escalate_base_utility", "escalate_gap_weight", "escalate_retaliation_weight",
             "relief_base_utility", "relief_concession_weight", "raise_demand_base_utility",
             "raise_demand_concession_weight", "tariff_step", "max_tariff_offset", "demand_step"),
    "apol": ("concede_base_utility", "concede_protection_weight", "concede_pain_weight",
             "concede_stance_weight", "hedge_base_utility", "hedge_unreliability_weight", "hedge_stance_weight",
             "hedge_pain_weight", "retaliate_base_utility", "retaliate_pain_weight", "retaliate_threat_weight",
             "concede_effort_step", "concede_tie_impulse", "hedge_tie_impulse_china", "hedge_tie_impulse_us",
             "retaliate_tie_impulse"),
    "cpol": ("induce_base_utility", "induce_drift_weight", "induce_hedge_weight", "coerce_base_utility",
             "coerce_drift_weight", "coerce_alignment_weight", "inducement_tie_impulse",
             "inducement_market_access", "coercion_tie_impulse", "coercion_export_loss", "coercion_threat"),
    "advpol": ("provoke_base_utility", "provoke_cohesion_weight"),
}
F = IntEnum("F", [f for block in _BLOCK_FIELDS.values() for f in block], start=0)
# Per-ally vectors of Compiled, (A,) or (R, A) in a batch.
V = IntEnum("V", ["exports_to_gdp", "share_us0", "share_cn0", "defense0", "reliability0", "entrapment",
                  "orientation0", "hawk", "conciliatory", "latitude", "fav_us0", "fav_cn0", "chip_base",
                  "chip_pain", "chip_effort", "chip_tie", "chip_bonus", "chip_months", "country_weight"], start=0)
# Month schedules of Compiled, (T, A) or (T, R, A) in a batch.
_SCHEDULES = ("country_rate", "sector_rate", "demand", "ev_reassure", "ev_leader", "ev_induce", "ev_coerce")

NEG = -1e9
TIE_LIMIT = 0.999
_NORMAL_RATE = 500.0
# Rows advanced together by one kernel iteration ("lanes"): each row's arithmetic is unchanged, but
# independent rows interleave, which fills the pipeline that one row's dependency chains leave idle.
LANES = 16
_DRAW_TABLE_BYTES = 32 * 2**20  # largest draw table per kernel call (~1,300 replicates × 120 months)


@numba.njit(cache=True, error_model="numpy", inline="always")
def _stream_key(key, month, stream):
    salt = mix64(np.uint64((month + 1) * 1_000_003 + stream) * _GOLDEN)
    return mix64(key ^ salt)


@numba.njit(cache=True, error_model="numpy", inline="always")
def _choice(U, k, u, out, top, cdf, total):
    """rng.logit_choice for every lane: ``U`` (options, LANES) utilities, ``u`` (LANES,) uniforms, option
    chosen into ``out`` (LANES,).  max / exp / running sum / divide / count, in numpy's order; no branches,
    so the lanes vectorise (an unavailable option's utility NEG gives exp(NEG − top) = 0)."""
    for m in range(LANES):
        top[m] = U[0, m]
    for j in range(1, k):
        for m in range(LANES):
            top[m] = max(top[m], U[j, m])
    for m in range(LANES):
        total[m] = fastmath.exp(U[0, m] - top[m])
        cdf[0, m] = total[m]
    for j in range(1, k):
        for m in range(LANES):
            total[m] = total[m] + fastmath.exp(U[j, m] - top[m])
            cdf[j, m] = total[m]
    # Count the j < k − 1 with u > cdf_j / total (the last ratio is exactly 1 > u).
    for m in range(LANES):
        out[m] = 0
    for j in range(k - 1):
        for m in range(LANES):
            out[m] += 1 if u[m] > cdf[j, m] / total[m] else 0


_BELOW_EVERY_U = 1.0 - 2.0 ** -54  # the largest uniform is 1 − 2^-54: no u exceeds a CDF term ≥ this


@numba.njit(cache=True, error_model="numpy")
def _poisson_cdf(tab, k, m, rate):
    """Fill ``tab[k, :, m]`` with the Poisson(rate) CDF terms that rng.poisson_from_uniform compares u with
    (the same recurrence, so the same count for every u), then 2.0 to the end; return the number of terms
    a count can pass: up to its max_count, and no further than the first term no uniform exceeds."""
    cap = tab.shape[1]
    max_count = max(30, int(math.ceil(rate + 12.0 * math.sqrt(rate) + 20.0)))
    p = math.exp(-rate)  # libm: rare, the start of the CDF
    tab[k, 0, m] = p
    n = 1
    while n < min(max_count, cap) and tab[k, n - 1, m] < _BELOW_EVERY_U:
        p = p * rate / n
        tab[k, n, m] = tab[k, n - 1, m] + p
        n += 1
    for j in range(n, cap):
        tab[k, j, m] = 2.0
    return n


@numba.njit(cache=True, error_model="numpy", inline="always")
def _cos_2pi(u):
    """cos(2π·u) for 0 < u < 1, reduced exactly (Sterbenz) to an argument in [0, π/4], libm's fast path.

    Equal to math.cos(2.0 * math.pi * u) up to the rounding of the argument (a few 1e-16)."""
    w = u if u <= 0.5 else 1.0 - u
    if w <= 0.125:
        return math.cos(2.0 * math.pi * w)
    if w <= 0.375:
        return math.sin(2.0 * math.pi * (0.25 - w))
    return -math.cos(2.0 * math.pi * (0.5 - w))


@numba.njit(cache=True, error_model="numpy", inline="always")
def _clip(x, lo, hi):
    return min(max(x, lo), hi)


@numba.njit(cache=True, error_model="numpy", inline="always")
def _drivers(out, C, T, thr, sx, rel, pain, gap, stance, cn_share, ent_v, P, ai, pat, ch, source_actor, neg_pc):
    """engine.tie_drivers for each lane into ``out`` (n, n, L); ``sx`` from ``_source_threat``."""
    n, A, S = T.shape[0], ai.shape[0], sx.shape[1]
    for i in range(n):
        for j in range(n):
            for m in range(LANES):
                C[i, j, m] = 0.0
    for m in range(LANES):
        neg_pc[m] = max(-T[pat, ch, m], 0.0)
    for a in range(A):
        i = ai[a]
        for m in range(LANES):
            entrap = ent_v[a, m] * neg_pc[m] * max(T[i, pat, m], 0.0)
            C[i, pat, m] += (P[F.threat_weight, m] * thr[i, m] * rel[a, m] - P[F.tariff_weight, m] * pain[a, m]
                             - P[F.burden_weight, m] * gap[a, m] - P[F.entrapment_weight, m] * entrap
                             + P[F.leader_weight, m] * stance[a, m])
            C[i, ch, m] += P[F.china_trade_weight, m] * cn_share[a, m] - P[F.leader_weight, m] * stance[a, m]
    for s in range(S):
        j = source_actor[s]
        if j >= 0:
            for i in range(n):
                for m in range(LANES):
                    C[i, j, m] -= P[F.source_threat_weight, m] * sx[i, s, m]
    for x in range(A):
        for y in range(x + 1, A):
            for m in range(LANES):
                C[ai[x], ai[y], m] += P[F.common_threat_weight, m] * min(thr[ai[x], m], thr[ai[y], m])
    for i in range(n):
        for m in range(LANES):
            C[i, i, m] = 0.0
    for i in range(n):
        for j in range(n):
            for m in range(LANES):
                out[i, j, m] = C[i, j, m] + C[j, i, m]


@numba.njit(cache=True, error_model="numpy", inline="always")
def _balance(out, T, acc):
    """B_ij = Σ_k T_ik T_kj / (n − 2) for each lane (k ascending, as the engine's matmul of one row)."""
    n = T.shape[0]
    d = max(n - 2, 1)
    # x / d equals x · (1/d) exactly when d is a power of two (four actors: d = 2): a multiply, not a divide.
    scale = 1.0 / d if d & (d - 1) == 0 else 0.0
    for i in range(n):
        for m in range(LANES):
            out[i, i, m] = 0.0
        for j in range(i + 1, n):  # T is symmetric, so B is too (the same products in the same order)
            for m in range(LANES):
                acc[m] = 0.0
            for k in range(n):
                for m in range(LANES):
                    acc[m] += T[i, k, m] * T[k, j, m]
            for m in range(LANES):
                out[i, j, m] = acc[m] * scale if scale != 0.0 else acc[m] / d
                out[j, i, m] = out[i, j, m]


@numba.njit(cache=True, error_model="numpy", inline="always")
def _threat_total(out, stock, ai, acc):
    """Total threat 1 − e^−(sum of stocks) of the allies (the only actors whose total threat is read)."""
    S = stock.shape[1]
    for a in range(ai.shape[0]):
        i = ai[a]
        for m in range(LANES):
            acc[m] = 0.0
        for s in range(S):
            for m in range(LANES):
                acc[m] += stock[i, s, m]
        for m in range(LANES):
            out[i, m] = 0.0 if acc[m] == 0.0 else 1.0 - fastmath.exp(-acc[m])  # 1 − e^−0 = 0 exactly


@numba.njit(cache=True, error_model="numpy", inline="always")
def _source_threat(sx, stock, source_actor):
    """1 − e^−stock per (actor, source) for the sources that are actors (the only ones read)."""
    n, S = stock.shape[0], stock.shape[1]
    for s in range(S):
        if source_actor[s] >= 0:
            for i in range(n):
                for m in range(LANES):
                    x = stock[i, s, m]
                    sx[i, s, m] = 0.0 if x == 0.0 else 1.0 - fastmath.exp(-x)


@numba.njit(cache=True, error_model="numpy", inline="always")
def _cohesion(out, T, pairs):
    for m in range(LANES):
        acc = 0.0
        for q in range(pairs.shape[0]):
            acc += T[pairs[q, 0], pairs[q, 1], m]
        out[m] = acc / pairs.shape[0]


@numba.njit(cache=True, error_model="numpy", inline="always")
def _draw_offsets(A, D, K, n_pairs):
    """Column offsets of one (key, month) row of the draw table: US, ally, China and adversary choice
    uniforms, threat-count uniforms, −log of threat-magnitude uniforms, election uniforms, tie-noise
    normals; and the row width."""
    o_al = A
    o_cn = 2 * A
    o_adv = 3 * A
    o_cnt = 3 * A + D
    o_mag = o_cnt + K
    o_el = o_mag + K
    o_tie = o_el + A
    return o_al, o_cn, o_adv, o_cnt, o_mag, o_el, o_tie, o_tie + n_pairs


@numba.njit(cache=True, parallel=True, error_model="numpy")
def _draw_table(keys, months, A, D, K, n_pairs, out):
    """Every draw of the aggregate model for each replicate key and month, into ``out`` (U, months, W).

    Draws depend only on (replicate key, month, stream, index), never on parameters, so the rows of a
    sweep task that share a replicate (common random numbers across points) share these values: hashing
    and the Box–Muller transform run once per replicate instead of once per (point, replicate).  The
    values are computed exactly as the engine computes them, so results do not change."""
    o_al, o_cn, o_adv, o_cnt, o_mag, o_el, o_tie, _ = _draw_offsets(A, D, K, n_pairs)
    for u in numba.prange(keys.shape[0]):
        key = keys[u]
        for t in range(months):
            row = out[u, t]
            k_us = _stream_key(key, t, rng.STREAM_DECISION_US)
            k_al = _stream_key(key, t, rng.STREAM_DECISION_ALLY)
            k_cn = _stream_key(key, t, rng.STREAM_DECISION_CHINA)
            k_el = _stream_key(key, t, rng.STREAM_ELECTION)
            for a in range(A):
                row[a] = uniform_from_key(k_us, a)
                row[o_al + a] = uniform_from_key(k_al, a)
                row[o_cn + a] = uniform_from_key(k_cn, a)
                row[o_el + a] = uniform_from_key(k_el, a)
            k_adv = _stream_key(key, t, rng.STREAM_DECISION_ADVERSARY)
            for d in range(D):
                row[o_adv + d] = uniform_from_key(k_adv, d)
            k_cnt = _stream_key(key, t, rng.STREAM_THREAT_COUNT)
            k_mag = _stream_key(key, t, rng.STREAM_THREAT_MAGNITUDE)
            for k in range(K):
                row[o_cnt + k] = uniform_from_key(k_cnt, k)
                row[o_mag + k] = -math.log(uniform_from_key(k_mag, k))
            k_tie = _stream_key(key, t, rng.STREAM_TIE_NOISE)
            for p in range(n_pairs):
                u1 = uniform_from_key(k_tie, 2 * p)
                u2 = uniform_from_key(k_tie, 2 * p + 1)
                row[o_tie + p] = math.sqrt(-2.0 * math.log(u1)) * _cos_2pi(u2)


@numba.njit(cache=True, parallel=True, error_model="numpy")
def _kernel(rows, krow, draws, months, P_all, V_all, ties0_all, stock0_all, retention_all, mag_all, provmult_all,
            country_rate, sector_rate, demand_s, ev_reassure, ev_leader, ev_induce, ev_coerce,
            proc_rate, ev_threat, ai, pat, ch, alliance_pairs, source_actor, proc_source, proc_weights,
            proc_adversary, src_ch, election, chip, chip_from, mix, g_tariff, g_threat, g_backlash, g_appeal,
            patron_behavioural, challenger_behavioural, pois_cap,
            out_align, out_coh, out_crossed, out_min_coh, out_tariff, out_threat, out_rel):
    A = ai.shape[0]
    n = ties0_all.shape[1]
    S = stock0_all.shape[2]
    K = proc_weights.shape[0]
    D = provmult_all.shape[1]
    G = mix.shape[0]
    NF = P_all.shape[1]
    NV = V_all.shape[1]
    n_pairs = n * (n - 1) // 2
    o_al, o_cn, o_adv, o_cnt, o_mag, o_el, o_tie, _ = _draw_offsets(A, D, K, n_pairs)
    n_rows = rows.shape[0]
    for grp in numba.prange((n_rows + LANES - 1) // LANES):
        # ---- the group's rows, one per lane (a short last group repeats its last row; not written back)
        rl = np.empty(LANES, dtype=np.int64)
        kl = np.empty(LANES, dtype=np.int64)
        for m in range(LANES):
            q = min(grp * LANES + m, n_rows - 1)
            rl[m] = rows[q]
            kl[m] = krow[q]
        P = np.empty((NF, LANES))
        for f in range(NF):
            for m in range(LANES):
                P[f, m] = P_all[rl[m], f]
        Vr = np.empty((NV, A, LANES))
        for v in range(NV):
            for a in range(A):
                for m in range(LANES):
                    Vr[v, a, m] = V_all[rl[m], v, a]
        e2g, s_us0, s_cn0, def0, rel0 = Vr[V.exports_to_gdp], Vr[V.share_us0], Vr[V.share_cn0], \
            Vr[V.defense0], Vr[V.reliability0]
        cw, lat, ent_v = Vr[V.country_weight], Vr[V.latitude], Vr[V.entrapment]
        rs = np.zeros(LANES, dtype=np.int64)
        rsec = np.zeros(LANES, dtype=np.int64)
        rdem = np.zeros(LANES, dtype=np.int64)
        rrea = np.zeros(LANES, dtype=np.int64)
        rlea = np.zeros(LANES, dtype=np.int64)
        rind = np.zeros(LANES, dtype=np.int64)
        rcoe = np.zeros(LANES, dtype=np.int64)
        rpr = np.zeros(LANES, dtype=np.int64)
        rev = np.zeros(LANES, dtype=np.int64)
        retention = np.empty(LANES)
        mag = np.empty((K, LANES))
        provmult = np.empty((D, LANES))
        for m in range(LANES):
            r = rl[m]
            rs[m] = r if country_rate.shape[0] > 1 else 0
            rsec[m] = r if sector_rate.shape[0] > 1 else 0
            rdem[m] = r if demand_s.shape[0] > 1 else 0
            rrea[m] = r if ev_reassure.shape[0] > 1 else 0
            rlea[m] = r if ev_leader.shape[0] > 1 else 0
            rind[m] = r if ev_induce.shape[0] > 1 else 0
            rcoe[m] = r if ev_coerce.shape[0] > 1 else 0
            rpr[m] = r if proc_rate.shape[0] > 1 else 0
            rev[m] = r if ev_threat.shape[0] > 1 else 0
            retention[m] = retention_all[r]
            for k in range(K):
                mag[k, m] = mag_all[r, k]
            for d in range(D):
                provmult[d, m] = provmult_all[r, d]

        # ---- initial state
        T = np.empty((n, n, LANES))
        stock = np.empty((n, S, LANES))
        for m in range(LANES):
            for i in range(n):
                for j in range(n):
                    T[i, j, m] = ties0_all[rl[m], i, j]
                for s in range(S):
                    stock[i, s, m] = stock0_all[rl[m], i, s]
        offset = np.zeros((A, LANES))
        doffset = np.zeros((A, LANES))
        effort = def0.copy()
        latent = np.empty((A, LANES))
        ex_us = s_us0.copy()
        ex_cn = s_cn0.copy()
        orient = Vr[V.orientation0].copy()
        chip_used = np.zeros((A, LANES), dtype=np.bool_)
        bonus_left = np.zeros((A, LANES), dtype=np.int64)
        ally_last = np.zeros((A, LANES), dtype=np.int64)
        op_us = np.empty((A, LANES))
        op_cn = np.empty((A, LANES))
        anchor_us = np.empty((A, LANES))
        anchor_cn = np.empty((A, LANES))
        tariff = np.empty((A, LANES))
        tariff0 = np.empty((A, LANES))
        pain0 = np.empty((A, LANES))
        gap0 = np.empty((A, LANES))
        latent0 = np.empty((A, LANES))
        demand = np.empty((A, LANES))
        pain = np.empty((A, LANES))
        gap = np.empty((A, LANES))
        thr = np.zeros((n, LANES))
        rel = np.empty((A, LANES))
        public = np.empty((A, LANES))
        stance = np.empty((A, LANES))
        align = np.empty((A, LANES))
        prev_align = np.empty((A, LANES))
        cn_share = np.empty((A, LANES))
        for a in range(A):
            for m in range(LANES):
                op_us[a, m] = 2.0 * Vr[V.fav_us0, a, m] - 1.0
                op_cn[a, m] = 2.0 * Vr[V.fav_cn0, a, m] - 1.0
                anchor_us[a, m] = op_us[a, m]
                anchor_cn[a, m] = op_cn[a, m]
                latent0[a, m] = math.log(rel0[a, m] / (1.0 - rel0[a, m]))
                latent[a, m] = latent0[a, m]
                country0 = _clip(country_rate[rs[m], 0, a], 0.0, 2.0)
                tariff0[a, m] = cw[a, m] * country0 + sector_rate[rsec[m], 0, a]
                tariff[a, m] = tariff0[a, m]
                pain0[a, m] = 100.0 * e2g[a, m] * s_us0[a, m] * tariff0[a, m]
                gap0[a, m] = max(demand_s[rdem[m], 0, a] - def0[a, m], 0.0)
                demand[a, m] = demand_s[rdem[m], 0, a]
                rel[a, m] = 1.0 / (1.0 + fastmath.exp(-latent[a, m]))
                pain[a, m] = 100.0 * e2g[a, m] * ex_us[a, m] * tariff[a, m]
                gap[a, m] = max(demand[a, m] - effort[a, m], 0.0)
                public[a, m] = 0.5 * (op_us[a, m] - op_cn[a, m])
                stance[a, m] = _clip(orient[a, m], public[a, m] - lat[a, m], public[a, m] + lat[a, m])
                align[a, m] = 0.5 * (T[ai[a], pat, m] - T[ai[a], ch, m])
                prev_align[a, m] = align[a, m]
                cn_share[a, m] = ex_cn[a, m] / (ex_us[a, m] + ex_cn[a, m] + (1.0 - s_us0[a, m] - s_cn0[a, m]))
        acc = np.empty(LANES)
        neg_pc = np.empty(LANES)
        _threat_total(thr, stock, ai, acc)
        sx = np.zeros((n, S, LANES))
        _source_threat(sx, stock, source_actor)
        ch_is_actor = source_actor[src_ch] >= 0
        coh = np.empty(LANES)
        _cohesion(coh, T, alliance_pairs)
        drv = np.empty((n, n, LANES))
        Cs = np.empty((n, n, LANES))
        B = np.empty((n, n, LANES))
        _drivers(drv, Cs, T, thr, sx, rel, pain, gap, stance, cn_share, ent_v, P, ai, pat, ch, source_actor,
                 neg_pc)
        _balance(B, T, acc)
        intercept = np.empty((n, n, LANES))
        for i in range(n):
            for j in range(n):
                for m in range(LANES):
                    intercept[i, j, m] = (math.atanh(_clip(T[i, j, m], -TIE_LIMIT, TIE_LIMIT))
                                          - P[F.balance_weight, m] * B[i, j, m] - drv[i, j, m])
            for m in range(LANES):
                intercept[i, i, m] = 0.0

        crossed = np.zeros((A, LANES), dtype=np.bool_)
        thch_old = np.empty((A, LANES))
        for a in range(A):
            for m in range(LANES):
                thch_old[a, m] = 1.0 - fastmath.exp(-stock[ai[a], src_ch, m])
        last_rate = np.full((K, LANES), np.nan)
        pois_tab = np.empty((K, pois_cap, LANES))
        pois_len = np.zeros((K, LANES), dtype=np.int64)
        cnt = np.zeros(LANES, dtype=np.int64)
        last_ratio = np.full((A, LANES), np.nan)
        last_pow = np.empty((A, LANES))
        old_tariff = np.empty((A, LANES))
        min_coh = np.full(LANES, np.inf)
        us = np.zeros((A, LANES), dtype=np.int64)
        al = np.zeros((A, LANES), dtype=np.int64)
        cn = np.zeros((A, LANES), dtype=np.int64)
        adv = np.zeros((D, LANES), dtype=np.int64)
        U = np.empty((5, LANES))  # choice utilities, then the running sums of their exponentials
        cdf = np.empty((5, LANES))
        uv = np.empty(LANES)
        top = np.empty(LANES)
        total = np.empty(LANES)
        add = np.empty((n, S, LANES))
        new_stock = np.empty((n, S, LANES))
        new_thr = np.zeros((n, LANES))
        J = np.zeros((n, n, LANES))
        noise = np.zeros((n, n, LANES))
        new_T = np.empty((n, n, LANES))
        shock_us = np.empty(G)
        shock_cn = np.empty(G)
        sd = np.empty(LANES)
        any_sd = False
        for m in range(LANES):
            sd[m] = P[F.tie_noise_sd, m]
            any_sd = any_sd or sd[m] > 0

        for t in range(months):
            # ---- decisions from the state at t
            if patron_behavioural:
                for a in range(A):
                    for m in range(LANES):
                        country = _clip(country_rate[rs[m], t, a] + offset[a, m], 0.0, 2.0)
                        conceded = 1.0 if (ally_last[a, m] == 1 or ally_last[a, m] == 4) else 0.0
                        retaliated = 1.0 if ally_last[a, m] == 3 else 0.0
                        U[0, m] = 0.0
                        u1 = (P[F.escalate_base_utility, m] + P[F.escalate_gap_weight, m] * gap[a, m]
                              + P[F.escalate_retaliation_weight, m] * retaliated)
                        U[1, m] = NEG if offset[a, m] >= P[F.max_tariff_offset, m] - 1e-12 else u1
                        u2 = (P[F.relief_base_utility, m] + P[F.relief_concession_weight, m] * conceded
                              + Vr[V.chip_bonus, a, m] * (1.0 if bonus_left[a, m] > 0 else 0.0))
                        U[2, m] = NEG if country <= 1e-12 else u2
                        U[3, m] = (P[F.raise_demand_base_utility, m]
                                   + P[F.raise_demand_concession_weight, m] * conceded)
                        uv[m] = draws[kl[m], t, a]
                    _choice(U, 4, uv, us[a], top, cdf, total)
            for a in range(A):
                chip_ok0 = chip[a] and t >= chip_from[a]
                for m in range(LANES):
                    pain_rise = max(pain[a, m] - pain0[a, m], 0.0)
                    chip_ok = chip_ok0 and not chip_used[a, m]
                    th = thr[ai[a], m]
                    U[0, m] = 0.0
                    U[1, m] = (P[F.concede_base_utility, m] + P[F.concede_protection_weight, m] * th * rel[a, m]
                               + P[F.concede_pain_weight, m] * pain_rise + P[F.concede_stance_weight, m] * stance[a, m])
                    U[2, m] = (P[F.hedge_base_utility, m] + P[F.hedge_unreliability_weight, m] * (1.0 - rel[a, m])
                               - P[F.hedge_stance_weight, m] * stance[a, m] + P[F.hedge_pain_weight, m] * pain_rise)
                    U[3, m] = (P[F.retaliate_base_utility, m] + P[F.retaliate_pain_weight, m] * pain_rise
                               - P[F.retaliate_threat_weight, m] * th)
                    U[4, m] = Vr[V.chip_base, a, m] + Vr[V.chip_pain, a, m] * pain_rise if chip_ok else NEG
                    uv[m] = draws[kl[m], t, o_al + a]
                _choice(U, 5, uv, al[a], top, cdf, total)
            if challenger_behavioural:
                for a in range(A):
                    for m in range(LANES):
                        drift = align[a, m] - prev_align[a, m]
                        U[0, m] = 0.0
                        U[1, m] = (P[F.induce_base_utility, m] + P[F.induce_drift_weight, m] * max(-drift, 0.0)
                                   + P[F.induce_hedge_weight, m] * (1.0 if ally_last[a, m] == 2 else 0.0))
                        U[2, m] = (P[F.coerce_base_utility, m] + P[F.coerce_drift_weight, m] * max(drift, 0.0)
                                   + P[F.coerce_alignment_weight, m] * max(align[a, m] - 0.5, 0.0))
                        uv[m] = draws[kl[m], t, o_cn + a]
                    _choice(U, 3, uv, cn[a], top, cdf, total)
            else:
                for a in range(A):
                    for m in range(LANES):
                        cn[a, m] = 0
            for a in range(A):
                for m in range(LANES):
                    if ev_induce[rind[m], t, a] != 0.0:
                        cn[a, m] = 1
                    if ev_coerce[rcoe[m], t, a] != 0.0:
                        cn[a, m] = 2
            for d in range(D):
                for m in range(LANES):
                    U[0, m] = 0.0
                    U[1, m] = P[F.provoke_base_utility, m] + P[F.provoke_cohesion_weight, m] * (1.0 - coh[m])
                    uv[m] = draws[kl[m], t, o_adv + d]
                _choice(U, 2, uv, adv[d], top, cdf, total)

            # ---- transition
            for a in range(A):
                for m in range(LANES):
                    step = (1.0 if us[a, m] == 1 else 0.0) - (1.0 if us[a, m] == 2 else 0.0)
                    o = offset[a, m] + P[F.tariff_step, m] * step
                    o = min(o, P[F.max_tariff_offset, m])
                    o = max(o, -country_rate[rs[m], t, a])
                    offset[a, m] = o
                    doffset[a, m] = doffset[a, m] + P[F.demand_step, m] * (1.0 if us[a, m] == 3 else 0.0)
                    old_tariff[a, m] = tariff[a, m]
            for a in range(A):
                for m in range(LANES):
                    country = _clip(country_rate[rs[m], t, a] + offset[a, m], 0.0, 2.0)
                    tariff[a, m] = cw[a, m] * country + sector_rate[rsec[m], t, a]
                    demand[a, m] = demand_s[rdem[m], t, a] + doffset[a, m]
                    conceded = al[a, m] == 1
                    chipped = al[a, m] == 4
                    effort[a, m] = (effort[a, m] + P[F.concede_effort_step, m] * (1.0 if conceded else 0.0)
                                    + Vr[V.chip_effort, a, m] * (1.0 if chipped else 0.0))
                    chip_used[a, m] = chip_used[a, m] or chipped
                    if chipped:
                        bonus_left[a, m] = np.int64(Vr[V.chip_months, a, m])
                    else:
                        bonus_left[a, m] = max(bonus_left[a, m] - 1, 0)
                    # Trade.
                    ratio = (1.0 + tariff[a, m]) / (1.0 + tariff0[a, m])
                    if ratio != last_ratio[a, m]:  # the tariff moves rarely: pow only when it does
                        last_ratio[a, m] = ratio
                        last_pow[a, m] = ratio ** (-P[F.trade_elasticity, m])
                    target_us = s_us0[a, m] * last_pow[a, m]
                    new_us = ex_us[a, m] + P[F.trade_adjustment_rate, m] * (target_us - ex_us[a, m])
                    target_cn = s_cn0[a, m] + P[F.diversion_to_china, m] * (s_us0[a, m] - new_us)
                    new_cn = max(ex_cn[a, m] + P[F.trade_adjustment_rate, m] * (target_cn - ex_cn[a, m]), 0.0)
                    ex_us[a, m] = new_us
                    induced = 1.0 if cn[a, m] == 1 else 0.0
                    coerced = 1.0 if cn[a, m] == 2 else 0.0
                    ex_cn[a, m] = max(new_cn + s_cn0[a, m] * (P[F.inducement_market_access, m] * induced
                                                              - P[F.coercion_export_loss, m] * coerced), 0.0)

            # Threat.
            for i in range(n):
                for s in range(S):
                    for m in range(LANES):
                        add[i, s, m] = 0.0
            for k in range(K):
                s = proc_source[k]
                for m in range(LANES):
                    rate = proc_rate[rpr[m], t, k]
                    if proc_adversary[k] >= 0 and adv[proc_adversary[k], m] == 1:
                        rate = rate * provmult[proc_adversary[k], m]
                    if rate != last_rate[k, m]:  # rates change rarely: the CDF only when they do
                        last_rate[k, m] = rate
                        pois_len[k, m] = _poisson_cdf(pois_tab, k, m, rate)
                    uv[m] = draws[kl[m], t, o_cnt + k]
                    cnt[m] = 0
                top_len = 0
                for m in range(LANES):
                    top_len = max(top_len, pois_len[k, m])
                for j in range(top_len):  # branch-free count of CDF terms below u (shorter columns end in 2.0)
                    for m in range(LANES):
                        cnt[m] += 1 if uv[m] > pois_tab[k, j, m] else 0
                for m in range(LANES):
                    # cnt · m · (−log u), and exactly 0 for no event (even for an infinite magnitude)
                    sev = cnt[m] * mag[k, m] * draws[kl[m], t, o_mag + k]
                    sev = 0.0 if cnt[m] == 0 and math.isfinite(mag[k, m]) else sev
                    for i in range(n):
                        add[i, s, m] += sev * proc_weights[k, i]
            for i in range(n):
                for s in range(S):
                    for m in range(LANES):
                        add[i, s, m] = add[i, s, m] + ev_threat[rev[m], t, i, s]
            for a in range(A):
                for m in range(LANES):
                    add[ai[a], src_ch, m] += P[F.coercion_threat, m] * (1.0 if cn[a, m] == 2 else 0.0)
            for i in range(n):
                for s in range(S):
                    for m in range(LANES):
                        new_stock[i, s, m] = max(retention[m] * stock[i, s, m] + add[i, s, m], 0.0)
            _threat_total(new_thr, new_stock, ai, acc)
            _source_threat(sx, new_stock, source_actor)

            # Burden and reliability.
            for a in range(A):
                for m in range(LANES):
                    pain[a, m] = 100.0 * e2g[a, m] * ex_us[a, m] * tariff[a, m]
                    gap[a, m] = max(demand[a, m] - effort[a, m], 0.0)
                    target = (latent0[a, m] - P[F.reliability_tariff_sensitivity, m] * (pain[a, m] - pain0[a, m])
                              - P[F.reliability_demand_sensitivity, m] * (gap[a, m] - gap0[a, m]))
                    latent[a, m] = (latent[a, m] + P[F.reliability_adjustment_rate, m] * (target - latent[a, m])
                                    + ev_reassure[rrea[m], t, a])
                for m in range(LANES):  # a loop of its own (no gathers), so that it vectorises
                    rel[a, m] = 1.0 / (1.0 + fastmath.exp(-latent[a, m]))

            # Citizens (aggregate opinion).
            any_election = False
            for a in range(A):
                if election[t, a]:
                    any_election = True
            for a in range(A):
                i = ai[a]
                for m in range(LANES):
                    d_tariff = tariff[a, m] - old_tariff[a, m]
                    d_threat = new_thr[i, m] - thr[i, m]
                    th_ch = sx[i, src_ch, m] if ch_is_actor else 1.0 - fastmath.exp(-new_stock[i, src_ch, m])
                    d_threat_ch = th_ch - thch_old[a, m]
                    thch_old[a, m] = th_ch
                    coerced = 1.0 if cn[a, m] == 2 else 0.0
                    induced = 1.0 if cn[a, m] == 1 else 0.0
                    for g in range(G):
                        shock_us[g] = (-P[F.tariff_nationalism, m] * d_tariff * g_tariff[g]
                                       + P[F.threat_rally, m] * d_threat * g_threat[g])
                        shock_cn[g] = (-P[F.coercion_backlash, m] * coerced * g_backlash[g]
                                       + P[F.inducement_appeal, m] * induced * g_appeal[g]
                                       - P[F.threat_rally, m] * d_threat_ch * g_threat[g])
                    dot_us = 0.0
                    dot_cn = 0.0
                    for g in range(G):
                        dot_us += shock_us[g] * mix[g]
                        dot_cn += shock_cn[g] * mix[g]
                    op_us[a, m] = _clip(op_us[a, m] + P[F.stubbornness, m] * (anchor_us[a, m] - op_us[a, m])
                                        + dot_us, -1.0, 1.0)
                    op_cn[a, m] = _clip(op_cn[a, m] + P[F.stubbornness, m] * (anchor_cn[a, m] - op_cn[a, m])
                                        + dot_cn, -1.0, 1.0)
                    public[a, m] = 0.5 * (op_us[a, m] - op_cn[a, m])
                    # Leaders.
                    lead = ev_leader[rlea[m], t, a]
                    o = orient[a, m] if math.isnan(lead) else lead
                    if any_election and election[t, a]:
                        p_hawk = 1.0 / (1.0 + fastmath.exp(-P[F.election_public_weight, m] * public[a, m]))
                        o = Vr[V.hawk, a, m] if draws[kl[m], t, o_el + a] < p_hawk else Vr[V.conciliatory, a, m]
                    orient[a, m] = o
                    stance[a, m] = _clip(o, public[a, m] - lat[a, m], public[a, m] + lat[a, m])
                    cn_share[a, m] = ex_cn[a, m] / (ex_us[a, m] + ex_cn[a, m] + (1.0 - s_us0[a, m] - s_cn0[a, m]))

            # Ties.
            _drivers(drv, Cs, T, new_thr, sx, rel, pain, gap, stance, cn_share, ent_v, P, ai, pat, ch,
                     source_actor, neg_pc)
            _balance(B, T, acc)
            for i in range(n):
                for j in range(n):
                    for m in range(LANES):
                        J[i, j, m] = 0.0
            for a in range(A):
                i = ai[a]
                for m in range(LANES):
                    conc = 1.0 if al[a, m] == 1 else 0.0
                    hedg = 1.0 if al[a, m] == 2 else 0.0
                    reta = 1.0 if al[a, m] == 3 else 0.0
                    chpd = 1.0 if al[a, m] == 4 else 0.0
                    induced = 1.0 if cn[a, m] == 1 else 0.0
                    coerced = 1.0 if cn[a, m] == 2 else 0.0
                    push = P[F.coercion_intimidation, m] * (thr[i, m] - P[F.coercion_backfire_threat_level, m])
                    J[i, pat, m] += (P[F.concede_tie_impulse, m] * conc + P[F.hedge_tie_impulse_us, m] * hedg
                                     + P[F.retaliate_tie_impulse, m] * reta + Vr[V.chip_tie, a, m] * chpd
                                     + coerced * push)
                    J[i, ch, m] += (P[F.hedge_tie_impulse_china, m] * hedg + P[F.inducement_tie_impulse, m] * induced
                                    + P[F.coercion_tie_impulse, m] * coerced)
            if any_sd and n_pairs:
                p = 0
                for i in range(n):
                    for j in range(i + 1, n):
                        for m in range(LANES):
                            if sd[m] > 0:
                                z = draws[kl[m], t, o_tie + p]
                                noise[i, j, m] = sd[m] * z
                                noise[j, i, m] = sd[m] * z
                        p += 1
            for i in range(n):  # every term is symmetric in (i, j): compute each pair once
                for m in range(LANES):
                    new_T[i, i, m] = 0.0
                for j in range(i + 1, n):
                    for m in range(LANES):
                        tgt = fastmath.tanh(intercept[i, j, m] + P[F.balance_weight, m] * B[i, j, m] + drv[i, j, m])
                        x = (T[i, j, m] + P[F.tie_adjustment_rate, m] * (tgt - T[i, j, m])
                             + (J[i, j, m] + J[j, i, m]) + noise[i, j, m])
                        new_T[i, j, m] = _clip(x, -TIE_LIMIT, TIE_LIMIT)
                        new_T[j, i, m] = new_T[i, j, m]
            # Explicit copies: slice assignment costs an overlap check and a generic strided loop.
            for i in range(n):
                for m in range(LANES):
                    thr[i, m] = new_thr[i, m]
                for j in range(n):
                    for m in range(LANES):
                        T[i, j, m] = new_T[i, j, m]
                for s in range(S):
                    for m in range(LANES):
                        stock[i, s, m] = new_stock[i, s, m]
            for a in range(A):
                for m in range(LANES):
                    prev_align[a, m] = align[a, m]
                    align[a, m] = 0.5 * (T[ai[a], pat, m] - T[ai[a], ch, m])
                    if align[a, m] < 0:
                        crossed[a, m] = True
                    ally_last[a, m] = al[a, m]
            _cohesion(coh, T, alliance_pairs)
            for m in range(LANES):
                min_coh[m] = min(min_coh[m], coh[m])

        for m in range(LANES):
            if grp * LANES + m < n_rows:
                r = rl[m]
                for a in range(A):
                    out_align[r, a] = align[a, m]
                    out_crossed[r, a] = crossed[a, m]
                    out_tariff[r, a] = tariff[a, m]
                    out_threat[r, a] = thr[ai[a], m]
                    out_rel[r, a] = rel[a, m]
                out_coh[r] = coh[m]
                out_min_coh[r] = min_coh[m]


def draw_width(c: Compiled) -> int:
    """Draws per (replicate, month) in the draw table of ``c``'s structure (the last of ``_draw_offsets``)."""
    return int(_draw_offsets(c.n_allies, len(c.adversary_idx), len(c.proc_source), c.n * (c.n - 1) // 2)[-1])


def _rows(x, R: int, shape: tuple) -> np.ndarray:
    """A parameter (number or per-point array, or one per row) as a contiguous float (R,) + shape array."""
    arr = np.asarray(x, dtype=np.float64)
    arr = arr.reshape(shape) if arr.size == int(np.prod(shape)) else arr.reshape((R,) + shape)
    out = np.empty((R,) + shape)  # a fresh writable C array: one kernel signature for points and batches
    out[...] = arr
    return out


def pack(c: Compiled, R: int) -> dict:
    """The kernel's parameter arrays for the R rows of ``c``."""
    A, n, S = c.n_allies, c.n, len(c.sources)
    K, D = len(c.proc_source), len(c.adversary_idx)
    scalars = np.empty((R, len(F)))
    for attr, names in _BLOCK_FIELDS.items():
        block = getattr(c, attr)
        for name in names:
            scalars[:, F[name]] = _rows(getattr(block, name), R, ())
    vectors = np.empty((R, len(V), A))
    for v in V:
        vectors[:, v, :] = _rows(getattr(c, v.name), R, (A,))
    out = {"P_all": scalars, "V_all": vectors,
           "ties0_all": _rows(c.initial_ties, R, (n, n)), "stock0_all": _rows(c.stock0, R, (n, S)),
           "retention_all": _rows(c.retention, R, ()),
           "mag_all": _rows(c.proc_magnitude, R, (K,)), "provmult_all": _rows(c.provocation_multiplier, R, (D,))}
    # Schedules: a batch stacks per-row schedules on axis 1 (T, R, ...); a single point has (T, ...).
    # The kernel reads them as (R or 1, T, ...), so that one row's months are contiguous in memory.
    base_ndim = {"proc_rate": 2, "ev_threat": 3}
    for name in _SCHEDULES + ("proc_rate", "ev_threat"):
        arr = np.asarray(getattr(c, name), dtype=np.float64)
        per_row = arr.ndim > base_ndim.get(name, 2)
        out[name] = np.array(np.moveaxis(arr, 1, 0) if per_row else arr[None], order="C")
    return out


def run_fused(c: Compiled, replicate_ids, seed: int, months: int | None = None) -> dict[str, np.ndarray]:
    """Final outcomes of every row of ``c`` after ``months`` months (default: ``c.months``).

    Returns alignment (R, A), cohesion (R,), crossed (R, A) bool — alignment < 0 at any month end —,
    min_cohesion (R,), tariff (R, A), threat (R, A) of the allies and reliability (R, A).
    """
    if c.pop.size_per_ally != 0:
        raise NotImplementedError("the fused kernel covers the aggregate-opinion population (size_per_ally = 0)")
    T = c.months if months is None else int(months)
    if T > c.months:
        raise ValueError(f"compiled for {c.months} months, asked for {T}")
    keys = rng.replicate_keys(seed, np.asarray(replicate_ids))
    R, A = keys.shape[0], c.n_allies
    arrays = pack(c, R)
    top_rate = float(np.max(c.proc_rate[:T])) if c.proc_rate.size else 0.0
    top_mult = max(1.0, float(np.max(arrays["provmult_all"]))) if arrays["provmult_all"].size else 1.0
    if top_rate * top_mult > _NORMAL_RATE:
        raise NotImplementedError("threat rates above 500/month (normal approximation) are not in the fused kernel")
    out = {"alignment": np.empty((R, A)), "cohesion": np.empty(R), "crossed": np.zeros((R, A), dtype=np.bool_),
           "min_cohesion": np.empty(R), "tariff": np.empty((R, A)), "threat": np.empty((R, A)),
           "reliability": np.empty((R, A))}
    pop = c.pop
    K, D, n = len(c.proc_source), len(c.adversary_idx), c.n
    n_pairs = n * (n - 1) // 2
    width = draw_width(c)
    static = (np.asarray(c.ally_idx, dtype=np.int64), int(c.patron), int(c.challenger),
              np.ascontiguousarray(c.alliance_pairs, dtype=np.int64), np.asarray(c.source_actor, dtype=np.int64),
              np.asarray(c.proc_source, dtype=np.int64).reshape(-1),
              np.ascontiguousarray(c.proc_weights, dtype=np.float64).reshape(K, n),
              np.asarray(c.proc_adversary, dtype=np.int64).reshape(-1), c.sources.index(c.params.challenger),
              np.ascontiguousarray(c.election, dtype=np.bool_), np.asarray(c.chip, dtype=np.bool_),
              np.asarray(c.chip_from, dtype=np.int64), group_mix(pop), GROUP_TARIFF_SENSITIVITY,
              GROUP_THREAT_SENSITIVITY, GROUP_BACKLASH_SENSITIVITY, GROUP_APPEAL_SENSITIVITY,
              c.upol.mode != "scripted", c.cpol.mode == "behavioural",
              max(30, int(math.ceil(top_rate * top_mult + 12.0 * math.sqrt(top_rate * top_mult) + 20.0))))
    outputs = (out["alignment"], out["cohesion"], out["crossed"], out["min_cohesion"], out["tariff"],
               out["threat"], out["reliability"])
    # Rows sharing a replicate key share its draws: one table per block of distinct keys, the block
    # sized so that the table stays within _DRAW_TABLE_BYTES (memory bounded for any number of rows).
    uniq, inverse = np.unique(keys, return_inverse=True)
    per_block = max(1, _DRAW_TABLE_BYTES // (max(T, 1) * width * 8))
    for b0 in range(0, uniq.shape[0], per_block):
        block = uniq[b0:b0 + per_block]
        rows = np.arange(R) if block.shape[0] == uniq.shape[0] else \
            np.flatnonzero((inverse >= b0) & (inverse < b0 + block.shape[0]))
        draws = np.empty((block.shape[0], T, width))
        _draw_table(block, T, A, D, K, n_pairs, draws)
        _kernel(rows.astype(np.int64), (inverse[rows] - b0).astype(np.int64), draws, T, arrays["P_all"],
                arrays["V_all"], arrays["ties0_all"], arrays["stock0_all"], arrays["retention_all"],
                arrays["mag_all"], arrays["provmult_all"], *(arrays[name] for name in _SCHEDULES),
                arrays["proc_rate"], arrays["ev_threat"], *static, *outputs)
    return out
