"""The vectorisable elementary functions of ``numba_ae.kernels.fastmath``.

float32: within a few ulp of the correctly rounded float64 reference over the
whole float32 range (random bit patterns, so every exponent is hit) and IEEE
special values; float64: exactly libm's result.
"""
import math
import platform
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit
from scipy import special

from numba_ae.kernels.fastmath import fexp, flog, flog1p, ftanh, sigmoid, softplus

FUNCS = {"exp": fexp, "log": flog, "log1p": flog1p, "tanh": ftanh, "sigmoid": sigmoid, "softplus": softplus}
REF = {"exp": np.exp, "log": np.log, "log1p": np.log1p, "tanh": np.tanh, "sigmoid": special.expit,
       "softplus": lambda z: np.logaddexp(0.0, z)}
LIBM64 = {"exp": math.exp, "log": math.log, "log1p": math.log1p, "tanh": math.tanh,
          "sigmoid": lambda v: (1.0 / (1.0 + math.exp(-abs(v)))) * (1.0 if v >= 0 else math.exp(-abs(v))),
          "softplus": lambda v: max(v, 0.0) + math.log1p(math.exp(-abs(v)))}
#: Max error in float32 ulps of the reference (measured 0.97, 0.78, 2.35, 1.27, 2.61, 2.57).
MAX_ULP = {"exp": 1.0, "log": 1.0, "log1p": 3.0, "tanh": 1.5, "sigmoid": 3.0, "softplus": 3.0}

_KERNELS = {}


def _kernel(name):
    if name not in _KERNELS:
        f = FUNCS[name]

        @njit(error_model="numpy")
        def apply(x, out):
            for i in range(x.shape[0]):
                out[i] = f(x[i])

        _KERNELS[name] = apply
    return _KERNELS[name]


def _apply(name, x):
    out = np.empty_like(x)
    _kernel(name)(x, out)
    return out


SPECIALS = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1.1754944e-38, -1.1754944e-38,
                     1e-8, -1e-8, 0.5, 0.625, -0.625, 1.0, -1.0, 88.72, 88.73, -87.3, -103.9, -104.0,
                     -150.0, 89.0, 200.0, -200.0, 3.4028235e38, -3.4028235e38], dtype=np.float32)


def _float32_sample(n=400_000, seed=0):
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2 ** 32, size=n, dtype=np.uint64).astype(np.uint32)
    dense = np.linspace(-110.0, 100.0, 200_001, dtype=np.float32)
    return np.concatenate([bits.view(np.float32), dense, SPECIALS])


def _check_float32(name, x):
    got = _apply(name, x)
    with np.errstate(all="ignore"):
        ref = REF[name](x.astype(np.float64))
        ref32 = ref.astype(np.float32)
    nan_ref = np.isnan(ref)
    np.testing.assert_array_equal(np.isnan(got), nan_ref, err_msg=f"{name}: NaN placement")
    inf_ref = np.isinf(ref32) & ~nan_ref
    np.testing.assert_array_equal(got[inf_ref], ref32[inf_ref], err_msg=f"{name}: overflow / infinities")
    fin = ~nan_ref & ~inf_ref
    if not fin.any():
        return
    with np.errstate(over="ignore"):  # spacing of FLT_MAX is inf in float32
        spacing = np.spacing(np.abs(ref32[fin])).astype(np.float64)
    spacing[spacing == 0] = np.spacing(np.float32(0.0))
    err = np.abs(got[fin].astype(np.float64) - ref[fin]) / spacing
    worst = int(np.argmax(err))
    assert err[worst] <= MAX_ULP[name], (f"{name}({x[fin][worst]!r}) = {got[fin][worst]!r}, "
                                         f"reference {ref[fin][worst]!r}: {err[worst]:.2f} ulp")


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_float32_accuracy_whole_range(name):
    _check_float32(name, _float32_sample())


@pytest.mark.parametrize("name", sorted(FUNCS))
@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(width=32, allow_nan=True, allow_infinity=True), min_size=1, max_size=64))
def test_float32_accuracy_property(name, values):
    _check_float32(name, np.array(values, dtype=np.float32))


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_float64_is_libm(name):
    lo = 1e-300 if name == "log" else (-0.999 if name == "log1p" else -700.0)
    x = np.concatenate([np.linspace(lo, 700.0, 2001), [1e-300, 0.5, 1.0, 2.0]])
    got = _apply(name, x)
    expected = np.array([LIBM64[name](float(v)) for v in x])
    np.testing.assert_array_equal(got, expected)


def test_float32_stays_float32():
    # the float32 forms are typed float32 (no silent widening to float64)
    x = np.float32(0.3)

    @njit
    def typed(v):
        return fexp(v), flog(v), flog1p(v), ftanh(v), sigmoid(v), softplus(v)

    typed(x)
    typed(0.3)
    returns = {str(sig.args[0]): str(sig.return_type) for sig in typed.nopython_signatures}
    assert returns["float32"] == "UniTuple(float32 x 6)"
    assert returns["float64"] == "UniTuple(float64 x 6)"


def test_float32_loop_vectorises():
    # the point of the module: a float32 exp loop compiles to SIMD code
    @njit(error_model="numpy")
    def sig_rows(z, out):
        for i in range(z.shape[0]):
            out[i] = sigmoid(z[i])

    z = np.linspace(-5, 5, 64, dtype=np.float32)
    out = np.empty_like(z)
    sig_rows(z, out)
    if platform.machine() in ("x86_64", "AMD64"):
        asm = sig_rows.inspect_asm(sig_rows.signatures[0])
        # packed-single arithmetic (scalar code would use the *ss forms only)
        assert re.search(r"\b(v?mulps|v?divps|vfn?m(add|sub)\w*ps)\b", asm), "float32 sigmoid loop is not SIMD"
    np.testing.assert_allclose(out, special.expit(z.astype(np.float64)), rtol=4e-7)
