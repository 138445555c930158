"""Vectorisable elementary functions for the ``@njit`` kernels.

Numba compiles ``math.exp``/``math.log`` to scalar libm calls (it vectorises them
only with Intel's SVML, which is not part of our stack), so a loop over
``exp`` runs one element at a time.  For **float32** the functions here are
branch-free polynomial forms (Cephes ``expf``/``logf``/``tanhf`` coefficients,
range reduction by exponent bit manipulation) that LLVM turns into SIMD code:
~5x faster per element, within 1-3 ulp (float32) of the correctly rounded
result, with IEEE behaviour at 0, +-inf, NaN and subnormals.  For **float64**
every function is the libm one (``math.exp`` etc.), so float64 results are
unchanged and stay as exact as libm.

Use them like ``math`` functions inside ``@njit`` code; the implementation is
picked by the target and the argument's type at compile time (they are
target-neutral stubs with a typing + lowering per target: the CPU one writes the
IR below at the call site; called from Python they use ``math``)::

    from .fastmath import fexp, sigmoid
    e = fexp(v)          # float32 v -> vectorisable float32 exp; float64 v -> math.exp

Arguments must be floats (float32 or float64); integer and mixed arguments are
not accepted, so a stray float64 literal cannot silently widen a float32 loop.

How: each float32 function writes its LLVM IR straight into the caller at the
call site (llvmlite ``IRBuilder``).  Written as ``@njit`` helpers instead, LLVM's
inliner left a scalar call per element in loops holding both an ``exp`` and a
``log`` (softplus ~40 ns per element instead of ~4), and inlining them at Numba-IR
level cost ~1-2 s of compile time per use site.
"""
import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core.imputils import lower_builtin
from numba.extending import type_callable

__all__ = ["fexp", "flog", "flog1p", "sigmoid", "softplus", "ftanh", "row_sum", "row_max",
           "row_logsumexp"]

_F32 = ir.FloatType()
_I32 = ir.IntType(32)


def _c(v):
    """A float32 IR constant (the value rounded to float32 first)."""
    return ir.Constant(_F32, float(np.float32(v)))


def _ci(v):
    return ir.Constant(_I32, int(v))


# Cephes expf: x = k ln2 + r, |r| <= ln2/2, exp(r) = 1 + r + r^2 P(r)
_LOG2E = _c(1.44269504088896341)
_LN2_HI = _c(0.693359375)            # Cody-Waite split of ln 2 (exact in float32)
_LN2_LO = _c(-2.12194440e-4)
_EXP_P = [_c(v) for v in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3,
                          4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1)]
_EXP_LO = _c(-104.0)                  # exp(-104) < smallest subnormal / 2: rounds to 0
_EXP_HI = _c(89.0)                    # exp(89) > FLT_MAX: overflows to inf
# Cephes logf: x = m 2^e, m in [sqrt(1/2), sqrt(2)), log(m) = f - f^2/2 + f^3 P(f), f = m - 1
_SQRTHF = _c(0.707106781186547524)
_LOG_P = [_c(v) for v in (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
                          1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1,
                          3.3333331174e-1)]
_TWO23 = _c(8388608.0)
_FLT_MIN = _c(1.17549435e-38)
# Cephes tanhf: |x| < 0.625: x + x^3 P(x^2); else sign(x) (1 - 2 / (exp(2|x|) + 1))
_TANH_P = [_c(v) for v in (-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2,
                           1.33314422036e-1, -3.33332819422e-1)]
_ZERO, _HALF, _ONE, _TWO = _c(0.0), _c(0.5), _c(1.0), _c(2.0)
_INF, _NAN = ir.Constant(_F32, float("inf")), ir.Constant(_F32, float("nan"))


def _intrinsic_call(builder, name, x):
    fn = builder.module.declare_intrinsic(name, [x.type])
    return builder.call(fn, [x])


def _horner(b, coeffs, x):
    y = coeffs[0]
    for c in coeffs[1:]:
        y = b.fadd(b.fmul(y, x), c)
    return y


def _fabs(b, x):
    return _intrinsic_call(b, "llvm.fabs", x)


def _emit_exp(b, x):
    # 2^k is applied as two factors 2^(k>>1) 2^(k - k>>1) so that k in [-150, 129]
    # (subnormal results and overflow) needs no branch.  NaN flows through the
    # polynomial; k is zeroed for NaN so the float->int conversion stays defined.
    xc = b.select(b.fcmp_ordered("<", x, _EXP_LO), _EXP_LO, x)
    xc = b.select(b.fcmp_ordered(">", xc, _EXP_HI), _EXP_HI, xc)
    k = _intrinsic_call(b, "llvm.floor", b.fadd(b.fmul(xc, _LOG2E), _HALF))
    r = b.fsub(xc, b.fmul(k, _LN2_HI))
    r = b.fsub(r, b.fmul(k, _LN2_LO))
    p = _horner(b, _EXP_P, r)
    y = b.fadd(b.fadd(b.fmul(p, b.fmul(r, r)), r), _ONE)
    ki = b.fptosi(b.select(b.fcmp_ordered("==", k, k), k, _ZERO), _I32)
    k1 = b.ashr(ki, _ci(1))
    k2 = b.sub(ki, k1)
    y = b.fmul(y, b.bitcast(b.shl(b.add(k1, _ci(127)), _ci(23)), _F32))
    return b.fmul(y, b.bitcast(b.shl(b.add(k2, _ci(127)), _ci(23)), _F32))


def _emit_log(b, x):
    sub = b.fcmp_ordered("<", x, _FLT_MIN)
    xs = b.select(sub, b.fmul(x, _TWO23), x)                  # normalise subnormals
    bits = b.bitcast(xs, _I32)
    e = b.sub(b.and_(b.lshr(bits, _ci(23)), _ci(0xFF)), _ci(126))
    m = b.bitcast(b.or_(b.and_(bits, _ci(0x007FFFFF)), _ci(0x3F000000)), _F32)  # [0.5, 1)
    small = b.fcmp_ordered("<", m, _SQRTHF)
    e = b.select(small, b.sub(e, _ci(1)), e)
    f = b.fsub(b.select(small, b.fadd(m, m), m), _ONE)
    fe = b.fsub(b.sitofp(e, _F32), b.select(sub, _c(23.0), _ZERO))
    z = b.fmul(f, f)
    y = b.fmul(b.fmul(_horner(b, _LOG_P, f), f), z)
    y = b.fadd(y, b.fmul(fe, _LN2_LO))
    y = b.fsub(y, b.fmul(_HALF, z))
    r = b.fadd(b.fadd(f, y), b.fmul(fe, _LN2_HI))
    r = b.select(b.fcmp_ordered("==", x, _ZERO), ir.Constant(_F32, float("-inf")), r)
    r = b.select(b.fcmp_ordered("<", x, _ZERO), _NAN, r)
    special = b.or_(b.fcmp_ordered("==", x, _INF), b.fcmp_unordered("uno", x, x))
    return b.select(special, x, r)                            # +inf -> inf, NaN -> NaN


def _emit_log1p(b, x):
    # log(1 + x) = log(u) * x / (u - 1), u = fl(1 + x): the ratio corrects the rounding of u.
    u = b.fadd(x, _ONE)
    d = b.fsub(u, _ONE)
    r = b.fmul(_emit_log(b, u), b.fdiv(x, d))
    r = b.select(b.fcmp_ordered("==", d, _ZERO), x, r)
    return b.select(b.fcmp_ordered("==", u, _INF), u, r)


def _emit_tanh(b, x):
    a = _fabs(b, x)
    z = b.fmul(x, x)
    small = b.fadd(b.fmul(b.fmul(_horner(b, _TANH_P, z), z), x), x)
    big = b.fsub(_ONE, b.fdiv(_TWO, b.fadd(_emit_exp(b, b.fadd(a, a)), _ONE)))
    big = b.select(b.fcmp_ordered(">=", x, _ZERO), big, b.fneg(big))
    return b.select(b.fcmp_ordered("<", a, _c(0.625)), small, big)


def _emit_sigmoid(b, x):
    # one exp(-|x|) then a select: no branch, no overflow
    e = _emit_exp(b, b.fneg(_fabs(b, x)))
    r = b.fdiv(_ONE, b.fadd(_ONE, e))
    return b.select(b.fcmp_ordered(">=", x, _ZERO), r, b.fmul(e, r))


def _emit_softplus(b, x):
    # max(x, 0) + log1p(exp(-|x|))
    mx = b.select(b.fcmp_ordered(">", x, _ZERO), x, _ZERO)
    mx = b.select(b.fcmp_unordered("uno", x, x), x, mx)
    return b.fadd(mx, _emit_log1p(b, _emit_exp(b, b.fneg(_fabs(b, x)))))


# float64: what numba compiles for the ``math`` form (libm)
def _f64_exp(x):
    return math.exp(x)


def _f64_log(x):
    return math.log(x)


def _f64_log1p(x):
    return math.log1p(x)


def _f64_tanh(x):
    return math.tanh(x)


def _f64_sigmoid(x):
    e = math.exp(-abs(x))
    r = 1.0 / (1.0 + e)
    return r if x >= 0.0 else e * r


def _f64_softplus(x):
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


# ---- target-neutral stubs ---------------------------------------------------------------------
# Kernel code calls these names; each target registers its implementation as typing +
# lowering in its own registries: the CPU one below writes the float32 forms' IR at the call
# site (so loops still vectorise), ``kernels/cuda/_fastmath.py`` lowers them for the GPU.  Called from Python (the CUDA
# simulator runs kernels as Python) they compute in the argument's type with ``math``.

def _py(fn):
    def stub(x):
        return type(x)(fn(float(x)))
    return stub


def _py_sigmoid(x):
    e = math.exp(-abs(x))
    return 1.0 / (1.0 + e) if x >= 0 else e / (1.0 + e)


def _py_softplus(x):
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _stub(name, py, emit32, impl64, doc):
    fn = _py(py)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc

    # The CPU implementation is registered as typing + lowering in the CPU target's
    # registries (not as an ``overload``): an overload's compiled implementation is cached
    # on its typing template for every target, so once a float32 CPU kernel had used a
    # stub, a CUDA kernel calling it was handed the CPU code (NVVM: ERROR_INVALID_IR).
    @type_callable(fn)
    def _typer(context):
        def typer(x):
            if isinstance(x, types.Float) and x.bitwidth in (32, 64):
                return x
            return None
        return typer

    @lower_builtin(fn, types.float32)
    def _lower32(context, builder, sig, args):
        return emit32(builder, args[0])

    @lower_builtin(fn, types.float64)
    def _lower64(context, builder, sig, args):
        return context.compile_internal(builder, impl64, sig, args)

    return fn


fexp = _stub("fexp", math.exp, _emit_exp, _f64_exp,
             "``exp(x)``: vectorisable for float32, ``math.exp`` for float64 in ``@njit`` code.")
flog = _stub("flog", math.log, _emit_log, _f64_log,
             "``log(x)``: vectorisable for float32, ``math.log`` for float64 in ``@njit`` code.")
flog1p = _stub("flog1p", math.log1p, _emit_log1p, _f64_log1p,
               "``log(1 + x)``: vectorisable for float32, ``math.log1p`` for float64 in ``@njit`` code.")
ftanh = _stub("ftanh", math.tanh, _emit_tanh, _f64_tanh,
              "``tanh(x)``: vectorisable for float32, ``math.tanh`` for float64 in ``@njit`` code.")
sigmoid = _stub("sigmoid", _py_sigmoid, _emit_sigmoid, _f64_sigmoid,
                "Overflow-free logistic sigmoid ``1 / (1 + exp(-x))``.")
softplus = _stub("softplus", _py_softplus, _emit_softplus, _f64_softplus,
                 "Overflow-free ``log(1 + exp(x))``.")


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


@njit(error_model="numpy")
def row_max(a):
    """Maximum of a 1-D float array in its dtype; ``-inf`` when empty; NaN is sticky
    (a NaN anywhere gives NaN)."""
    m = a.dtype.type(-np.inf)
    for j in range(a.shape[0]):
        v = a[j]
        if v > m or v != v:
            m = v
    return m


@njit(error_model="numpy")
def row_logsumexp(a):
    """Stable ``log(sum(exp(a)))`` of a 1-D float array (float64 result):
    ``m + log(sum exp(a - m))`` with ``m`` the row maximum; ``-inf`` for an empty or
    all ``-inf`` row, ``+inf`` when ``+inf`` is present, NaN when NaN is."""
    m = row_max(a)
    if m == -np.inf or m == np.inf:
        return np.float64(m)
    s = 0.0
    for j in range(a.shape[0]):
        s += fexp(a[j] - m)
    return m + math.log(s)
