"""Signed ties, triadic balance pressure, alignment and trilateral cohesion (docs/model.md §7.1).

Structural balance (Heider 1946) in the continuous form of Marvel et al. (2011): the pressure on tie
i–j is the mean over third parties k of T_ik·T_kj — "the friend of my friend is my friend".
"""

from __future__ import annotations

import numpy as np

TIE_LIMIT = 0.999  # ties are kept inside (-1, 1) so that atanh stays finite


def balance_pressure(ties: np.ndarray) -> np.ndarray:
    """B_ij = Σ_k T_ik T_kj / (n - 2); the diagonal of T is zero, so k ≠ i, j automatically."""
    n = ties.shape[-1]
    b = np.matmul(ties, ties) / max(n - 2, 1)
    idx = np.arange(n)
    b[..., idx, idx] = 0.0
    return b


def alignment(ties: np.ndarray, ally_idx: np.ndarray, patron: int, challenger: int) -> np.ndarray:
    """Alignment of each ally: (T_ally,patron − T_ally,challenger) / 2, in [-1, 1]; < 0 = Beijing's side."""
    return 0.5 * (ties[:, ally_idx, patron] - ties[:, ally_idx, challenger])


def cohesion(ties: np.ndarray, alliance_pairs: np.ndarray) -> np.ndarray:
    """Trilateral cohesion: mean tie among the patron and its allies, in [-1, 1]."""
    return ties[:, alliance_pairs[:, 0], alliance_pairs[:, 1]].mean(axis=-1)


def tie_target(intercept: np.ndarray, balance: np.ndarray, drivers: np.ndarray,
               balance_weight: float) -> np.ndarray:
    """T*_ij = tanh(c_ij + κ·B_ij + D_ij): where the tie would settle if today's forces persisted."""
    return np.tanh(intercept + balance_weight * balance + drivers)


def calibrate_intercept(ties0: np.ndarray, balance0: np.ndarray, drivers0: np.ndarray,
                        balance_weight: float) -> np.ndarray:
    """c_ij such that the start-month ties are the targets of the start-month forces (equilibrium start)."""
    t = np.clip(ties0, -TIE_LIMIT, TIE_LIMIT)
    c = np.arctanh(t) - balance_weight * balance0 - drivers0
    n = ties0.shape[-1]
    idx = np.arange(n)
    c[..., idx, idx] = 0.0
    return c


def tie_step(ties: np.ndarray, target: np.ndarray, rate: float, impulses: np.ndarray,
             noise: np.ndarray) -> np.ndarray:
    """T ← clip(T + rate·(T* − T) + impulses + noise): partial adjustment plus this month's shocks."""
    new = ties + rate * (target - ties) + impulses + noise
    np.clip(new, -TIE_LIMIT, TIE_LIMIT, out=new)
    n = ties.shape[-1]
    idx = np.arange(n)
    new[..., idx, idx] = 0.0
    return new


def symmetric_noise(z_pairs: np.ndarray, pairs_i: np.ndarray, pairs_j: np.ndarray, n: int,
                    sd: float) -> np.ndarray:
    """Place one normal draw per pair into a symmetric (R, n, n) matrix scaled by ``sd``."""
    out = np.zeros((z_pairs.shape[0], n, n))
    out[:, pairs_i, pairs_j] = sd * z_pairs
    out[:, pairs_j, pairs_i] = sd * z_pairs
    return out
