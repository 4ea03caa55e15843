"""Counter-based random numbers: every draw is a pure function of (seed, replicate, month, stream, index).

Why not ``numpy.random.Generator``: a generator's output depends on how many numbers were drawn
before, so the trajectory of replicate r would change with the chunk size, the number of processes or
the order of work.  Creating one Generator per replicate costs ~9 µs, too much for 10^6 replicates.
Hashing a counter (SplitMix64's finaliser, Steele et al. 2014) instead gives, for any split of the
replicates, the same bits for replicate r — and the reference model can ask for exactly the draws the
step used.  All functions work on numpy arrays and on scalars inside numba-compiled code.
"""

from __future__ import annotations

import numpy as np
from numba.extending import register_jitable
from scipy.special import ndtri

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53
_NORMAL_RATE = 500.0  # above this Poisson rate, e^-rate nears underflow: normal approximation

# Streams: each kind of draw has its own number so adding a draw never shifts another.
STREAM_THREAT_COUNT = 1
STREAM_THREAT_MAGNITUDE = 2
STREAM_TIE_NOISE = 3
STREAM_DECISION_US = 4
STREAM_DECISION_ALLY = 5
STREAM_DECISION_CHINA = 6
STREAM_DECISION_ADVERSARY = 7
STREAM_ELECTION = 8
STREAM_CITIZEN_INIT = 9
STREAM_CITIZEN_NOISE = 10
STREAM_POSTERIOR = 11  # which particle of a calibration's posterior a replicate's parameters are
STREAM_TRADE_SHOCK = 12  # the exogenous moves of each ally's export-share targets (step.trade_shock_update)


@register_jitable(inline="always")  # inlined where compiled: a call per draw would stop the lanes vectorising
def mix64(z):
    """SplitMix64 finaliser: a bijective avalanche of 64-bit integers (arrays or scalars)."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def replicate_keys(seed: int, replicates: np.ndarray) -> np.ndarray:
    """One 64-bit key per replicate, depending only on (seed, replicate index)."""
    r = np.asarray(replicates, dtype=np.uint64)
    with np.errstate(over="ignore"):
        seed_key = mix64(np.uint64(seed & 0xFFFFFFFFFFFFFFFF) + _GOLDEN)
        return mix64(seed_key ^ mix64(r * _GOLDEN + _GOLDEN))


def month_stream_keys(keys: np.ndarray, month: int, stream: int) -> np.ndarray:
    """Keys for one (month, stream) pair, derived from the replicate keys."""
    with np.errstate(over="ignore"):
        salt = mix64(np.uint64((month + 1) * 1_000_003 + stream) * _GOLDEN)
        return mix64(keys ^ salt)


def uniforms(keys: np.ndarray, month: int, stream: int, n: int) -> np.ndarray:
    """``(len(keys), n)`` uniforms in (0, 1): draw k of replicate r at (month, stream)."""
    base = month_stream_keys(keys, month, stream)
    k = np.arange(n, dtype=np.uint64) * _GOLDEN
    with np.errstate(over="ignore"):
        bits = mix64(base[:, None] + k[None, :])
    return ((bits >> _S11).astype(np.float64) + 0.5) * _TO_UNIT


def uniform_column(keys: np.ndarray, month: int, stream: int, index: int) -> np.ndarray:
    """(len(keys),) draw number ``index`` at (month, stream): the same value as ``uniforms(...)[:, index]``."""
    base = month_stream_keys(keys, month, stream)
    with np.errstate(over="ignore"):
        bits = mix64(base + np.uint64(index) * _GOLDEN)
    return ((bits >> _S11).astype(np.float64) + 0.5) * _TO_UNIT


@register_jitable(inline="always")
def uniform_from_key(key, index):
    """Scalar draw ``index`` of a (month, stream) key: the numba-friendly twin of :func:`uniforms`."""
    bits = mix64(key + np.uint64(index) * _GOLDEN)
    return (float(bits >> _S11) + 0.5) * _TO_UNIT


_LOW32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_TO_UNIT32 = 1.0 / 4294967296.0  # 2**-32


@register_jitable(inline="always")
def noise_uniform(key, index):
    """Draw ``index`` of a (month, stream) key with 32-bit resolution: draws 2k and 2k + 1 are the two halves
    of one hash, so the citizens' two opinions (patron, challenger) cost one hash a citizen and month."""
    bits = mix64(key + np.uint64(index >> 1) * _GOLDEN)
    half = (bits >> (np.uint64(index & 1) * _S32)) & _LOW32  # branch-free: the lanes stay vectorised
    return (float(half) + 0.5) * _TO_UNIT32


def normals_from_uniforms(u1: np.ndarray, u2: np.ndarray) -> np.ndarray:
    """Box–Muller transform: two independent uniforms give one standard normal."""
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def poisson_from_uniform(u: np.ndarray, rate: np.ndarray, max_count: int | None = None) -> np.ndarray:
    """Poisson counts by CDF inversion (the quantile function), vectorized.

    The inversion runs up to ``max_count`` (default: far enough in the tail of the largest rate,
    ≥ 30), so it is exact for every rate the parameters allow (≤ 50/month, ×20 when an adversary
    provokes).  Rates above ``_NORMAL_RATE`` (where e^−λ underflows) use the normal approximation
    with continuity correction, still a pure function of (u, λ).
    """
    rate = np.broadcast_to(np.asarray(rate, dtype=np.float64), u.shape)
    big = rate > _NORMAL_RATE
    small_rate = np.where(big, 0.0, rate) if big.any() else rate
    if max_count is None:
        top = float(small_rate.max()) if small_rate.size else 0.0
        max_count = max(30, int(np.ceil(top + 12.0 * np.sqrt(top) + 20.0)))
    p = np.exp(-small_rate)
    cdf = p.copy()
    count = np.zeros(u.shape, dtype=np.int64)
    for k in range(1, max_count + 1):
        below = u > cdf
        if not below.any():
            break
        count += below
        p = p * small_rate / k
        cdf = cdf + p
    if big.any():
        lam = rate[big]
        approx = np.floor(lam + np.sqrt(lam) * ndtri(u[big]) + 0.5)
        count[big] = np.maximum(approx, 0.0).astype(np.int64)
    return count


def logit_choice(utilities: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Multinomial-logit choice: index of the option chosen, given utilities ``(..., k)`` and a uniform.

    Choice probabilities are softmax(utilities); the uniform selects by inverse CDF, so the same
    uniform always picks the same option for the same utilities.
    """
    # Column by column rather than reductions over the short last axis (3.5x faster); the operations
    # and their order are those of max / exp / cumsum / divide / count, so the result is bit-identical.
    k = utilities.shape[-1]
    cols = [utilities[..., j] for j in range(k)]
    top = cols[0]
    for x in cols[1:]:
        top = np.maximum(top, x)
    total = np.exp(cols[0] - top)
    cdf = [total]
    for x in cols[1:]:
        total = total + np.exp(x - top)
        cdf.append(total)
    choice = np.zeros(np.shape(u), dtype=np.int64)
    for c in cdf:
        choice += u > c / total
    return np.minimum(choice, k - 1)
