"""Burden-sharing and the alliance security dilemma (Snyder 1984; Olson & Zeckhauser 1966).

The gap between the patron's demand and the ally's effort creates friction; perceived reliability of
the patron (the opposite of fear of abandonment) falls with tariff pain and the gap and rises with
reassurance; fear of entrapment grows with closeness to a patron in conflict with the challenger.
"""

from __future__ import annotations

import numpy as np


def burden_gap(demand: np.ndarray, effort: np.ndarray) -> np.ndarray:
    """Points of GDP the ally falls short of the patron's demand (never negative)."""
    return np.maximum(demand - effort, 0.0)


def reliability_target(latent0: np.ndarray, pain: np.ndarray, pain0: np.ndarray, gap: np.ndarray,
                       gap0: np.ndarray, tariff_sensitivity: float,
                       demand_sensitivity: float) -> np.ndarray:
    """ℓ* = ℓ_0 − a_τ·(pain − pain_0) − a_d·(gap − gap_0): reliability the ally would come to believe."""
    return latent0 - tariff_sensitivity * (pain - pain0) - demand_sensitivity * (gap - gap0)


def reliability_update(latent: np.ndarray, target: np.ndarray, rate: float,
                       reassurance: np.ndarray) -> np.ndarray:
    """ℓ ← ℓ + rate·(ℓ* − ℓ) + reassurance; reliability = logistic(ℓ)."""
    return latent + rate * (target - latent) + reassurance


def logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1.0 - p))


def entrapment_fear(sensitivity: np.ndarray, patron_challenger_tie: np.ndarray,
                    ally_patron_tie: np.ndarray) -> np.ndarray:
    """E = ε · max(0, −T_patron,challenger) · max(0, T_ally,patron)."""
    return (sensitivity * np.maximum(-patron_challenger_tie, 0.0)[:, None]
            * np.maximum(ally_patron_tie, 0.0))
