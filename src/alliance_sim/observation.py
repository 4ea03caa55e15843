"""The observation model: what the model's state says a poll or a customs office would report.

Why: the model's opinion state is two continuous favourability scores per citizen, ``op_us`` and
``op_cn`` in [−1, 1] (docs/model.md §7.6), but polls report the *share* of respondents favourable to a
country, and the calibration compares the two.  The rule that links them is defined once, here:

* **With citizens** (``population.size_per_ally`` > 0): a citizen is favourable to the US when
  ``op_us > 0`` and to China when ``op_cn > 0`` (Pew's "very" + "somewhat favourable"); the reported share
  is the fraction of the ally's citizens for whom that holds.
* **Aggregate population** (one opinion ``x`` per ally): the citizens it stands for would be spread around
  ``x`` with the dispersion of the initial opinions, σ = ``population.opinion_spread``, so the share is
  ``Φ(x / σ)`` (Φ the standard normal distribution function).  With σ = 0 the share is 1 if x > 0, else 0.
* **The inverse** maps a poll share ``f`` to the mean opinion that reproduces it: ``x = σ·Φ⁻¹(f)``
  (clipped to [−1, 1]).  The model's start uses it (``model/compiled.py``), so that a scenario's
  ``actors.<ID>.public.favorable_*_share`` is the share the model reports at month 0: the initial
  opinions are normal around ``x`` with SD σ and clipped to [−1, 1], and clipping keeps the sign, so
  the expected share with citizens is exactly Φ(x/σ) = f.

Export shares to the US and China are already outputs (``export_share_us``/``export_share_china``,
from ``step.export_share``) and decision frequencies are ``*_decision_freq``; :func:`export_shares`
restates the first for use on raw state arrays.

Pure functions, no I/O: numpy in, numpy out.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

#: Shares are kept inside (EPS, 1 − EPS) before Φ⁻¹ so that a poll of 0 % or 100 % maps to a finite opinion.
EPS = 1e-6


def share_from_mean(x, sigma):
    """Φ(x / σ): the favourable share of a population spread normally (SD σ) around mean opinion x.

    ``sigma`` may be an array broadcasting against ``x`` (one σ per row of a batch of parameter points)."""
    x = np.asarray(x, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = ndtr(x / np.where(sigma > 0, sigma, 1.0))
    return np.where(sigma > 0, phi, (x > 0).astype(np.float64))


def mean_from_share(f, sigma: float):
    """σ·Φ⁻¹(f), clipped to [−1, 1]: the mean opinion whose population has favourable share f.

    With σ = 0 no mean reproduces a share strictly between 0 and 1; the linear rule 2f − 1 (the model's
    rule before the observation model) is returned instead, so a degenerate population keeps its old start."""
    f = np.asarray(f, dtype=np.float64)
    if sigma <= 0:
        return 2.0 * f - 1.0
    return np.clip(sigma * ndtri(np.clip(f, EPS, 1.0 - EPS)), -1.0, 1.0)


def favourable_share(opinions: np.ndarray, sigma, citizens: bool) -> np.ndarray:
    """Share favourable per (replicate, ally) from opinions shaped (R, A, N).

    ``citizens``: count ``opinion > 0`` over the N citizens; otherwise (N = 1, aggregate mode) Φ(x/σ)."""
    op = np.asarray(opinions, dtype=np.float64)
    if op.ndim == 2:
        op = op[..., None]
    if citizens:
        return (op > 0).mean(axis=-1)
    return share_from_mean(op[..., 0], sigma)


def export_shares(exports_us: np.ndarray, exports_cn: np.ndarray, share_us0: np.ndarray,
                  share_cn0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(share to the US, share to China) of total exports, as ``step.export_share`` computes them:
    exports to third countries stay at their start-month level, 1 − s_US,0 − s_CN,0."""
    rest = 1.0 - share_us0 - share_cn0
    total = exports_us + exports_cn + rest
    return exports_us / total, exports_cn / total
