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

import numba
import numpy as np

from alliance_sim.model.rng import uniform_from_key

_SQRT12 = np.sqrt(12.0)


@numba.njit(cache=True, parallel=True, fastmath=False)
def _citizens_kernel(op, anchor, groups, shock, keys, conformity, stubbornness, noise_sd, opinion):
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


def _per_row(x, R: int) -> np.ndarray:
    """A parameter (a number, or one value per replicate row) as a contiguous (R,) float array."""
    return np.ascontiguousarray(np.broadcast_to(np.asarray(x, dtype=np.float64).reshape(-1), (R,)))


def update_citizens(op: np.ndarray, anchor: np.ndarray, groups: np.ndarray, shock: np.ndarray,
                    month_keys: np.ndarray, conformity: float, stubbornness: float, noise_sd: float,
                    opinion: int) -> np.ndarray:
    """Update one opinion (0 = patron, 1 = challenger) of every citizen in place; returns ``op``.

    ``groups`` is each citizen's group index (N,); ``shock`` is per replicate, ally and group (R, A, G).
    """
    R = op.shape[0]
    _citizens_kernel(op, anchor, groups, np.ascontiguousarray(shock, dtype=np.float64), month_keys,
                     _per_row(conformity, R), _per_row(stubbornness, R), _per_row(noise_sd, R), int(opinion))
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
