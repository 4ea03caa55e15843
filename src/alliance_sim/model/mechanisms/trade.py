"""Trade exposure and tariffs: effective tariff, tariff pain, and trade diversion (docs/model.md §7.3).

Exports are measured as fractions of the ally's start-month total exports.  Exports to the patron
move toward s_US,0·((1+τ)/(1+τ_0))^(−σ); a share of what is lost re-routes to the challenger.
"""

from __future__ import annotations

import numpy as np


def effective_tariff(country_rate: np.ndarray, sector_contribution: np.ndarray,
                     country_weight: np.ndarray) -> np.ndarray:
    """Trade-weighted tariff: goods outside Section-232 sectors pay the country rate (no stacking)."""
    return country_weight * country_rate + sector_contribution


def tariff_pain(exports_to_gdp: np.ndarray, exports_us: np.ndarray, tariff: np.ndarray) -> np.ndarray:
    """Percentage points of GDP taxed: 100 · (exports/GDP) · (exports to the patron) · τ."""
    return 100.0 * exports_to_gdp * exports_us * tariff


def export_update(exports_us: np.ndarray, exports_cn: np.ndarray, share_us0: np.ndarray,
                  share_cn0: np.ndarray, tariff: np.ndarray, tariff0: np.ndarray, elasticity: float,
                  diversion: float, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Partial adjustment of exports to the patron and the challenger toward their tariff-driven targets."""
    target_us = share_us0 * ((1.0 + tariff) / (1.0 + tariff0)) ** (-elasticity)
    new_us = exports_us + rate * (target_us - exports_us)
    target_cn = share_cn0 + diversion * (share_us0 - new_us)
    new_cn = exports_cn + rate * (target_cn - exports_cn)
    return new_us, np.maximum(new_cn, 0.0)


def china_share(exports_us: np.ndarray, exports_cn: np.ndarray, share_us0: np.ndarray,
                share_cn0: np.ndarray) -> np.ndarray:
    """Current share of exports going to the challenger (other destinations held at their start level)."""
    other = 1.0 - share_us0 - share_cn0
    return exports_cn / (exports_us + exports_cn + other)


def us_share(exports_us, exports_cn, share_us0, share_cn0):
    """Current share of exports going to the patron."""
    other = 1.0 - share_us0 - share_cn0
    return exports_us / (exports_us + exports_cn + other)
