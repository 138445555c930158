"""Vectorisable elementary functions for the ``@njit`` kernels.

Numba compiles ``math.exp``/``math.log`` to scalar libm calls (it vectorises them
only with Intel's SVML, which is not part of our stack), so a loop over
``exp`` runs one element at a time.  For **float32** the functions here are
branch-free polynomial forms (Cephes ``expf``/``logf``/``tanhf`` coefficients,
range reduction by exponent bit manipulation) that LLVM turns into SIMD code:
~5x faster per element, at most ~1 ulp (float32) from the correctly rounded
result, with IEEE behaviour at 0, +-inf, NaN and subnormals.  For **float64**
every function is the libm one (``math.exp`` etc.), so float64 results are
unchanged and stay as exact as libm.

Use them like ``math`` functions inside ``@njit`` code; the implementation is
picked by the argument's type at compile time and inlined into the caller::

    from .fastmath import fexp, sigmoid
    e = fexp(v)          # float32 v -> vectorisable float32 exp; float64 v -> math.exp

Arguments must be floats (float32 or float64); integer and mixed arguments are
not accepted, so a stray float64 literal cannot silently widen a float32 loop.
"""
import math
import warnings

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core.errors import NumbaIRAssumptionWarning
from numba.extending import intrinsic, overload

__all__ = ["fexp", "flog", "flog1p", "sigmoid", "softplus", "ftanh", "row_sum"]

_f32 = np.float32
_i32 = np.int32

# Everything here is inlined into the calling kernel's Numba IR (``inline="always"``):
# LLVM's own inliner gives up on a loop body holding both an ``exp`` and a ``log``
# polynomial, and the call left in the loop stops it vectorising (softplus went from
# ~4 to ~40 ns per element).  Numba's IR inliner on Python 3.11 then emits a spurious
# "internal pedantic check" warning for every conditional expression it inlines twice
# (numba/numba#9489; the compiled code is correct, see tests/test_fastmath.py).
# Silence exactly those warnings: the variable names carry this module's function names.
warnings.filterwarnings(
    "ignore",
    message=r".*variable '\S*(_exp_f32|_log_f32|_log1p_f32|_tanh_f32|_ol_(fexp|flog|flog1p|ftanh|sigmoid|softplus))",
    category=NumbaIRAssumptionWarning)


# ---------------------------------------------------------------------------
# bit casts (LLVM ``bitcast``: free, and vectorisable)
# ---------------------------------------------------------------------------
@intrinsic
def _i32_as_f32(typingctx, i):
    """Reinterpret the low 32 bits of an integer as a float32 (numba widens int32
    arithmetic to int64, so any integer width is accepted and truncated)."""
    if not isinstance(i, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        v = args[0]
        if i.bitwidth > 32:
            v = builder.trunc(v, ir.IntType(32))
        elif i.bitwidth < 32:
            v = builder.sext(v, ir.IntType(32)) if i.signed else builder.zext(v, ir.IntType(32))
        return builder.bitcast(v, ir.FloatType())

    return types.float32(i), codegen


@intrinsic
def _f32_as_i32(typingctx, x):
    """Reinterpret the bits of a float32 as an int32."""
    if x != types.float32:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return types.int32(types.float32), codegen


# ---------------------------------------------------------------------------
# float32 implementations
# ---------------------------------------------------------------------------
_LOG2E = _f32(1.44269504088896341)
_LN2_HI = _f32(0.693359375)          # Cody-Waite split of ln 2 (exact in float32)
_LN2_LO = _f32(-2.12194440e-4)
_EXP_P0 = _f32(1.9875691500e-4)
_EXP_P1 = _f32(1.3981999507e-3)
_EXP_P2 = _f32(8.3334519073e-3)
_EXP_P3 = _f32(4.1665795894e-2)
_EXP_P4 = _f32(1.6666665459e-1)
_EXP_P5 = _f32(5.0000001201e-1)
_EXP_LO = _f32(-104.0)               # exp(-104) < smallest subnormal / 2: rounds to 0
_EXP_HI = _f32(89.0)                 # exp(89) > FLT_MAX: overflows to inf


@njit(error_model="numpy", inline="always")
def _exp_f32(x):
    # x = k ln2 + r, |r| <= ln2/2; exp(r) by Cephes' degree-7 form; 2^k in two factors
    # so that k in [-150, 129] (subnormal results and overflow) needs no branch.
    xc = min(max(x, _EXP_LO), _EXP_HI)
    k = np.floor(xc * _LOG2E + _f32(0.5))
    r = xc - k * _LN2_HI
    r = r - k * _LN2_LO
    p = ((((_EXP_P0 * r + _EXP_P1) * r + _EXP_P2) * r + _EXP_P3) * r + _EXP_P4) * r + _EXP_P5
    y = p * (r * r) + r + _f32(1.0)
    ki = _i32(k)
    k1 = ki >> _i32(1)
    k2 = ki - k1
    y = y * _i32_as_f32((k1 + _i32(127)) << _i32(23))
    y = y * _i32_as_f32((k2 + _i32(127)) << _i32(23))
    return x if x != x else y          # NaN in, NaN out


_SQRTHF = _f32(0.707106781186547524)
_LOG_P0 = _f32(7.0376836292e-2)
_LOG_P1 = _f32(-1.1514610310e-1)
_LOG_P2 = _f32(1.1676998740e-1)
_LOG_P3 = _f32(-1.2420140846e-1)
_LOG_P4 = _f32(1.4249322787e-1)
_LOG_P5 = _f32(-1.6668057665e-1)
_LOG_P6 = _f32(2.0000714765e-1)
_LOG_P7 = _f32(-2.4999993993e-1)
_LOG_P8 = _f32(3.3333331174e-1)
_TWO23 = _f32(8388608.0)
_FLT_MIN = _f32(1.17549435e-38)
_INF32 = _f32(np.inf)
_NAN32 = _f32(np.nan)


@njit(error_model="numpy", inline="always")
def _log_f32(x):
    # x = m 2^e with m in [sqrt(1/2), sqrt(2)); log(m) by Cephes' logf polynomial in m - 1.
    sub = x < _FLT_MIN
    xs = x * _TWO23 if sub else x                      # normalise subnormals
    bits = _f32_as_i32(xs)
    e = ((bits >> _i32(23)) & _i32(0xFF)) - _i32(126)
    m = _i32_as_f32((bits & _i32(0x007FFFFF)) | _i32(0x3F000000))   # m in [0.5, 1)
    small = m < _SQRTHF
    e = e - _i32(1) if small else e
    f = (m + m if small else m) - _f32(1.0)
    fe = _f32(e) - (_f32(23.0) if sub else _f32(0.0))
    z = f * f
    y = _LOG_P0 * f + _LOG_P1
    y = y * f + _LOG_P2
    y = y * f + _LOG_P3
    y = y * f + _LOG_P4
    y = y * f + _LOG_P5
    y = y * f + _LOG_P6
    y = y * f + _LOG_P7
    y = y * f + _LOG_P8
    y = y * f * z
    y = y + fe * _LN2_LO
    y = y - _f32(0.5) * z
    r = f + y + fe * _LN2_HI
    r = -_INF32 if x == _f32(0.0) else r
    r = _NAN32 if x < _f32(0.0) else r
    return x if (x == _INF32 or x != x) else r         # +inf -> inf, NaN -> NaN


@njit(error_model="numpy", inline="always")
def _log1p_f32(x):
    # log(1 + x) = log(u) * x / (u - 1), u = fl(1 + x): the ratio corrects the rounding of u.
    u = x + _f32(1.0)
    d = u - _f32(1.0)
    r = _log_f32(u) * (x / d)
    r = x if d == _f32(0.0) else r
    return u if u == _INF32 else r


_TANH_P0 = _f32(-5.70498872745e-3)
_TANH_P1 = _f32(2.06390887954e-2)
_TANH_P2 = _f32(-5.37397155531e-2)
_TANH_P3 = _f32(1.33314422036e-1)
_TANH_P4 = _f32(-3.33332819422e-1)


@njit(error_model="numpy", inline="always")
def _tanh_f32(x):
    a = abs(x)
    z = x * x
    p = (((_TANH_P0 * z + _TANH_P1) * z + _TANH_P2) * z + _TANH_P3) * z + _TANH_P4
    small = p * z * x + x                              # |x| < 0.625: odd polynomial
    big = _f32(1.0) - _f32(2.0) / (_exp_f32(a + a) + _f32(1.0))
    big = big if x >= _f32(0.0) else -big
    return small if a < _f32(0.625) else big


# ---------------------------------------------------------------------------
# the dispatching functions
# ---------------------------------------------------------------------------
def _is32(x):
    return isinstance(x, types.Float) and x.bitwidth == 32


def _is64(x):
    return isinstance(x, types.Float) and x.bitwidth == 64


def fexp(x):
    """``exp(x)``: vectorisable for float32, ``math.exp`` for float64 (``@njit`` code only)."""
    return math.exp(x)


def flog(x):
    """``log(x)``: vectorisable for float32, ``math.log`` for float64 (``@njit`` code only)."""
    return math.log(x)


def flog1p(x):
    """``log(1 + x)``: vectorisable for float32, ``math.log1p`` for float64 (``@njit`` code only)."""
    return math.log1p(x)


def ftanh(x):
    """``tanh(x)``: vectorisable for float32, ``math.tanh`` for float64 (``@njit`` code only)."""
    return math.tanh(x)


def sigmoid(x):
    """Overflow-free logistic sigmoid ``1 / (1 + exp(-x))`` (``@njit`` code only)."""
    e = math.exp(-abs(x))
    r = 1.0 / (1.0 + e)
    return r if x >= 0 else e * r


def softplus(x):
    """Overflow-free ``log(1 + exp(x))`` (``@njit`` code only)."""
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


@overload(fexp, inline="always")
def _ol_fexp(x):
    if _is32(x):
        return lambda x: _exp_f32(x)
    if _is64(x):
        return lambda x: math.exp(x)


@overload(flog, inline="always")
def _ol_flog(x):
    if _is32(x):
        return lambda x: _log_f32(x)
    if _is64(x):
        return lambda x: math.log(x)


@overload(flog1p, inline="always")
def _ol_flog1p(x):
    if _is32(x):
        return lambda x: _log1p_f32(x)
    if _is64(x):
        return lambda x: math.log1p(x)


@overload(ftanh, inline="always")
def _ol_ftanh(x):
    if _is32(x):
        return lambda x: _tanh_f32(x)
    if _is64(x):
        return lambda x: math.tanh(x)


@overload(sigmoid, inline="always")
def _ol_sigmoid(x):
    # Branch-free in the exp (one exp(-|x|) then a select), which keeps loops pipelined.
    if _is32(x):
        def impl32(x):
            e = _exp_f32(-abs(x))
            r = _f32(1.0) / (_f32(1.0) + e)
            return r if x >= _f32(0.0) else e * r
        return impl32
    if _is64(x):
        def impl64(x):
            e = math.exp(-abs(x))
            r = 1.0 / (1.0 + e)
            return r if x >= 0.0 else e * r
        return impl64


@overload(softplus, inline="always")
def _ol_softplus(x):
    if _is32(x):
        return lambda x: max(x, _f32(0.0)) + _log1p_f32(_exp_f32(-abs(x)))
    if _is64(x):
        return lambda x: max(x, 0.0) + math.log1p(math.exp(-abs(x)))


@njit(fastmath={"reassoc"}, error_model="numpy")
def row_sum(a):
    """``sum(a)`` of a 1-D float array, accumulated in float64.

    A strict left-to-right float sum is a serial dependency chain that LLVM will
    not vectorise (and that also blocks vectorising any loop it sits in); this sum
    may be reassociated, so it runs as SIMD partial sums.  The order is fixed by the
    compiled code, so results are deterministic on a given machine.
    """
    s = 0.0
    for j in range(a.shape[0]):
        s += np.float64(a[j])
    return s
