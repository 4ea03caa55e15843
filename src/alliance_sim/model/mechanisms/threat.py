"""Balance of threat (Walt 1987): stochastic threat events feed a decaying perceived-threat stock.

Each process k (North Korean provocations, Chinese grey-zone incidents, Russia–North Korea
cooperation, …) has Poisson arrivals with rate λ_k(t) and an exponential severity with mean m_k; the
events of one process in one month share one severity draw.  Actor i perceives them with weight
w_ki.  The stock per (actor, source) decays with a half-life; perceived threat is 1 − exp(−stock).
"""

from __future__ import annotations

import numpy as np

from alliance_sim.model.rng import poisson_from_uniform


def stationary_stock(rates: np.ndarray, magnitudes: np.ndarray, weights: np.ndarray,
                     proc_source: np.ndarray, n_sources: int, retention: float) -> np.ndarray:
    """Expected stock per (actor, source) when rates stay at ``rates``: Σ_k w_ki λ_k m_k / (1 − ρ)."""
    flow = weights * (rates * magnitudes)[:, None]  # (K, n)
    out = np.zeros((weights.shape[1], n_sources))
    for k, s in enumerate(proc_source):
        out[:, s] += flow[k]
    return out / (1.0 - retention)


def event_severity(u_count: np.ndarray, u_size: np.ndarray, rates: np.ndarray,
                   magnitudes: np.ndarray) -> np.ndarray:
    """(R, K) total severity this month: Poisson count × m_k × Exp(1) severity."""
    counts = poisson_from_uniform(u_count, rates)
    return counts * magnitudes * (-np.log(u_size))


def add_events(severity: np.ndarray, weights: np.ndarray, proc_source: np.ndarray,
               n_sources: int) -> np.ndarray:
    """(R, n, S) additions to each actor's stock from each source, given (R, K) severities."""
    add = np.zeros((severity.shape[0], weights.shape[1], n_sources))
    for k, s in enumerate(proc_source):
        add[:, :, s] += severity[:, k:k + 1] * weights[k]
    return add


def decay_stock(stock: np.ndarray, retention: float, additions: np.ndarray) -> np.ndarray:
    """H ← max(ρ·H + additions, 0), with ρ = 2^(−1/half-life).

    The floor keeps perceived threat in [0, 1) when a scripted threat event has a negative magnitude
    (a détente), which may otherwise take the stock below zero."""
    return np.maximum(retention * stock + additions, 0.0)


def perceived_threat(stock: np.ndarray) -> np.ndarray:
    """Total perceived threat of each actor, 1 − exp(−Σ_s H_is), in [0, 1)."""
    return 1.0 - np.exp(-stock.sum(axis=-1))


def perceived_threat_by_source(stock: np.ndarray) -> np.ndarray:
    """Perceived threat from each source separately, 1 − exp(−H_is)."""
    return 1.0 - np.exp(-stock)
