"""China's inducement and coercion, and coercion's backfire (docs/model.md §7.5).

Coercion (economic sanctions as over THAAD in 2017, maritime pressure) intimidates the target away
from the patron when its perceived threat is low, but above a threat level it backfires and pushes
the target toward the patron: Δ T_ally,patron = κ_c · (P − P_backfire).
"""

from __future__ import annotations

import numpy as np


def coercion_patron_push(threat: np.ndarray, backfire_level: float, intimidation: float) -> np.ndarray:
    """Change in the tie with the patron caused by one coercion, given the target's perceived threat."""
    return intimidation * (threat - backfire_level)


def market_access_change(induced: np.ndarray, coerced: np.ndarray, share_cn0: np.ndarray,
                         access: float, loss: float) -> np.ndarray:
    """Impulse to exports to the challenger: + access when induced, − loss when coerced (× start share)."""
    return share_cn0 * (access * induced - loss * coerced)
