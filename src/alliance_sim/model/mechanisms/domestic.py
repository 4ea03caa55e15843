"""Domestic politics (two-level game, Putnam 1988): citizens' opinions, the leader's stance, elections.

Citizens (per ally, per replicate) hold favourability toward the patron (u) and the challenger (c) in
[-1, 1].  Each month (Friedkin–Johnsen social influence with common shocks):

    x_i ← clip(x_i + γ·(x̄ − x_i) + β·(x_i,0 − x_i) + s_g(i)·shock + σ·ξ_i, −1, 1)

where x̄ is the population mean at t, g(i) the citizen's group (exporters, security-minded,
nationalists, general) and ξ_i a unit-variance uniform draw.  The loop over citizens is compiled with
numba (the engine's hot spot); each draw is a counter-based hash of (replicate, month, ally, citizen),
so results do not depend on threads or chunks.  Size 0 replaces the citizens by one aggregate opinion.
"""

from __future__ import annotations

import os

import numba
import numpy as np

from alliance_sim.model.rng import uniform_from_key

_SQRT12 = np.sqrt(12.0)

# numba's built-in "workqueue" threading layer is fork-safe (GNU OpenMP is not: a process pool that forks
# after the kernel ran, such as EMA Workbench's MultiprocessingEvaluator, would abort).  A user's own
# NUMBA_THREADING_LAYER wins.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"


def set_kernel_threads(n: int) -> None:
    """Threads for the citizens' kernel; worker processes use 1 so that P processes use P cores."""
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))


@numba.njit(cache=True, fastmath=False)
def _block_sum(a, lo, n):
    """numpy's pairwise-summation leaf (n <= 128): sequential below 8, else 8 interleaved accumulators."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - (n % 8):
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@numba.njit(cache=True, fastmath=False)
def _pairwise_sum(a, n):
    """Sum of a[:n] in exactly numpy's pairwise order, so that a mean computed inside the kernel is
    bit-identical to ``op.mean(axis=-1)``.  numpy halves blocks above 128 recursively; this walks the
    same tree with an explicit stack (numba's cache mishandles recursive functions)."""
    if n <= 128:
        return _block_sum(a, 0, n)
    los = np.empty(64, np.int64)
    lens = np.empty(64, np.int64)
    phase = np.zeros(64, np.int64)
    vals = np.empty(64)
    top, nv = 0, 0
    los[0], lens[0] = 0, n
    while top >= 0:
        lo, m = los[top], lens[top]
        if m <= 128:
            vals[nv] = _block_sum(a, lo, m)
            nv += 1
            top -= 1
            continue
        half = m // 2
        half -= half % 8
        if phase[top] == 0:  # left half first
            phase[top] = 1
            top += 1
            los[top], lens[top], phase[top] = lo, half, 0
        elif phase[top] == 1:  # then the right half
            phase[top] = 2
            top += 1
            los[top], lens[top], phase[top] = lo + half, m - half, 0
        else:  # both done: left + right
            vals[nv - 2] = vals[nv - 2] + vals[nv - 1]
            nv -= 1
            top -= 1
    return vals[0]


@numba.njit(cache=True, parallel=True, fastmath=False)
def _citizens_kernel(op, anchor, groups, shock, keys, conformity, stubbornness, noise_sd, opinion, mean_out):
    R, A, N = op.shape
    for r in numba.prange(R):
        key = keys[r]
        gamma, beta, scale = conformity[r], stubbornness[r], noise_sd[r] * _SQRT12
        for a in range(A):
            mean = 0.0
            for i in range(N):
                mean += op[r, a, i]
            mean /= N
            for i in range(N):
                x = op[r, a, i]
                idx = ((a * N + i) * 2 + opinion)
                u = uniform_from_key(key, idx)
                x = (x + gamma * (mean - x) + beta * (anchor[r, a, i] - x)
                     + shock[r, a, groups[i]] + scale * (u - 0.5))
                if x > 1.0:
                    x = 1.0
                elif x < -1.0:
                    x = -1.0
                op[r, a, i] = x
            # The new mean while the row is still in cache (saves a pass over memory for the public).
            mean_out[r, a] = _pairwise_sum(op[r, a], N) / N


def _per_row(x, R: int) -> np.ndarray:
    """A parameter (a number, or one value per replicate row) as a contiguous (R,) float array."""
    return np.ascontiguousarray(np.broadcast_to(np.asarray(x, dtype=np.float64).reshape(-1), (R,)))


def update_citizens(op: np.ndarray, anchor: np.ndarray, groups: np.ndarray, shock: np.ndarray,
                    month_keys: np.ndarray, conformity: float, stubbornness: float, noise_sd: float,
                    opinion: int, mean_out: np.ndarray | None = None) -> np.ndarray:
    """Update one opinion (0 = patron, 1 = challenger) of every citizen in place; returns ``op``.

    ``groups`` is each citizen's group index (N,); ``shock`` is per replicate, ally and group (R, A, G).
    ``mean_out`` (R, A), if given, receives the updated mean opinion, equal bit for bit to
    ``op.mean(axis=-1)``.
    """
    R = op.shape[0]
    if mean_out is None:
        mean_out = np.empty(op.shape[:2])
    _citizens_kernel(op, anchor, groups, np.ascontiguousarray(shock, dtype=np.float64), month_keys,
                     _per_row(conformity, R), _per_row(stubbornness, R), _per_row(noise_sd, R), int(opinion),
                     mean_out)
    return op


def update_aggregate(op: np.ndarray, anchor: np.ndarray, group_mix: np.ndarray, shock: np.ndarray,
                     stubbornness: float) -> np.ndarray:
    """Aggregate mode (size 0): x ← clip(x + β(x_0 − x) + Σ_g share_g·shock_g, −1, 1), no noise."""
    x = op[..., 0] + stubbornness * (anchor[..., 0] - op[..., 0]) + shock @ group_mix
    op[..., 0] = np.clip(x, -1.0, 1.0)
    return op


def public_alignment(op_us: np.ndarray, op_cn: np.ndarray) -> np.ndarray:
    """Public stance (R, A): (mean favourability of patron − of challenger) / 2, in [-1, 1]."""
    return 0.5 * (op_us.mean(axis=-1) - op_cn.mean(axis=-1))


def leader_stance(orientation: np.ndarray, public: np.ndarray, latitude: np.ndarray) -> np.ndarray:
    """The leader acts on their orientation but cannot stray more than ``latitude`` from the public."""
    return np.clip(orientation, public - latitude, public + latitude)


def election_winner(u: np.ndarray, public: np.ndarray, weight: float, hawk: np.ndarray,
                    conciliatory: np.ndarray) -> np.ndarray:
    """New orientation: hawkish with probability logistic(weight · public stance), else conciliatory."""
    p_hawk = 1.0 / (1.0 + np.exp(-weight * public))
    return np.where(u < p_hawk, hawk, conciliatory)


def opinion_from_share(share):
    """Map a favourable share f in [0, 1] to a mean opinion 2f − 1 in [-1, 1]."""
    return 2.0 * np.asarray(share) - 1.0
