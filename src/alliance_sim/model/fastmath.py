"""exp and tanh for the compiled step, written in plain IEEE arithmetic so that they inline.

Why not ``math.exp``/``math.tanh``: in the compiled step those are calls into libm — about a third of
the kernel's time, each call spilling every live register — and they cannot be vectorised across
rows.  These versions are a handful of multiplies and adds with no branches and no tables: the
compiler inlines them and interleaves (or vectorises) the independent rows of a lane group.  They do
not depend on the C library, so they give the same bits on every machine.

Accuracy (``tests/test_fastmath.py`` checks it against libm on 10^6 arguments): ``exp`` within 1 ulp
over the whole double range, with libm's overflow to inf and underflow to 0; ``tanh`` within 4 ulp.

Method (Cody & Waite 1980; Muller, *Elementary Functions*, 3rd ed., ch. 11): exp(x) = 2^k · e^r with
k = round(x / ln 2) and r = x − k·ln 2 computed in two parts (|r| ≤ ln 2 / 2, exact reduction for
|k| < 2^21); e^r − 1 by its Taylor series to degree 13 (truncation < 5e-18); 2^k assembled from its
exponent bits, in two factors so that results near overflow and subnormal results are rounded once.
tanh(x) = (e^{2|x|} − 1) / (e^{2|x|} + 1) with the sign of x, using e^r − 1 directly when k = 0 so
that small arguments keep their relative accuracy.

numba would cache compiled code by the file of the jitted caller, not of what it inlines; ``numba_cache``
stamps the model's cache with all of its sources, so editing this file recompiles the step.
"""

from __future__ import annotations

import numba
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

_INV_LN2 = 1.4426950408889634
_SHIFT = 6755399441055744.0  # 1.5 * 2**52: adding and subtracting it rounds to the nearest integer
_LN2_HI = 6.93147180369123816490e-01  # ln 2 with 21 trailing zero bits (fdlibm): k * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10  # ln 2 - _LN2_HI
# 1/n! for n = 2..13
_C2, _C3, _C4, _C5 = 0.5, 1.0 / 6.0, 1.0 / 24.0, 1.0 / 120.0
_C6, _C7, _C8, _C9 = 1.0 / 720.0, 1.0 / 5040.0, 1.0 / 40320.0, 1.0 / 362880.0
_C10, _C11, _C12, _C13 = 1.0 / 3628800.0, 1.0 / 39916800.0, 1.0 / 479001600.0, 1.0 / 6227020800.0


@intrinsic
def _bits_to_float(typingctx, bits):
    """Reinterpret an int64 as the float64 with those bits."""
    if bits != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def _float_to_bits(typingctx, x):
    """Reinterpret a float64 as the int64 with those bits."""
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


_SHIFT_BITS = 0x4338000000000000  # the bits of _SHIFT: bits(_SHIFT + k) - _SHIFT_BITS == k for |k| < 2**51


@numba.njit(cache=True, error_model="numpy", inline="always")
def _pow2(k):
    """2.0**k for -1022 <= k <= 1023."""
    return _bits_to_float((k + 1023) << 52)


@numba.njit(cache=True, error_model="numpy", inline="always")
def _reduce(x):
    """(e^r − 1, k) with x = k·ln 2 + r, for -746 <= x <= 710."""
    shifted = x * _INV_LN2 + _SHIFT
    kd = shifted - _SHIFT
    r = (x - kd * _LN2_HI) - kd * _LN2_LO
    q = _C13
    q = q * r + _C12
    q = q * r + _C11
    q = q * r + _C10
    q = q * r + _C9
    q = q * r + _C8
    q = q * r + _C7
    q = q * r + _C6
    q = q * r + _C5
    q = q * r + _C4
    q = q * r + _C3
    q = q * r + _C2
    # k from the bits of the shifted sum, not int(kd): AVX2 has no vector double -> int64 conversion.
    return r + (r * r) * q, _float_to_bits(shifted) - _SHIFT_BITS


@numba.njit(cache=True, error_model="numpy", inline="always")
def exp(x):
    """e**x within 1 ulp; inf above 709.78, 0 below -745.13, NaN for NaN."""
    xc = min(max(x, -746.0), 710.0)
    em1, k = _reduce(xc)
    k_hi = min(max(k, -1022), 1023)  # two factors: 2^k_hi normal and finite, 2^(k - k_hi) in [2^-53, 2]
    y = ((1.0 + em1) * _pow2(k_hi)) * _pow2(k - k_hi)
    return y if x == x else x


@numba.njit(cache=True, error_model="numpy", inline="always")
def tanh(x):
    """tanh(x) within 4 ulp; ±1 beyond |x| = 22, NaN for NaN."""
    a = min(abs(x), 22.0)
    series, k = _reduce(2.0 * a)
    # e^{2a} − 1: from e^{2a} when k > 0; for 2a < ln 2 / 2 (k = 0) the series value itself, which keeps
    # small arguments' relative accuracy.  Both are computed and one selected: no branch, so lanes vectorise.
    via_exp = (1.0 + series) * _pow2(k) - 1.0
    em1 = series if k == 0 else via_exp
    t = em1 / (em1 + 2.0)
    t = -t if x < 0.0 else t
    return t if x == x else x
