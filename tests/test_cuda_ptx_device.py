"""PTX of the device helpers the backend and the network use (array helpers, dropout,
gradient normalization): compiled without a GPU by ``numba.cuda.compile_ptx``; float32
kernels must contain no float64 instructions except the float64 accumulations the
gradient-normalization kernels perform on purpose."""
import os
import re

import pytest

if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
    pytest.skip("PTX is compiled by the real CUDA toolchain, not the simulator", allow_module_level=True)

cuda = pytest.importorskip("numba.cuda", reason="numba-cuda is not installed")
from numba import float32, float64, int64, uint32  # noqa: E402

F64_OP = re.compile(r"^\s*[a-z][\w.]*\.f64\b", re.M)


def _ptx(fn, sig):
    try:
        ptx, _ = cuda.compile_ptx(fn, sig, cc=(9, 0))
    except Exception as e:  # pragma: no cover - toolchain missing
        if "NVVM" in str(e) or "libnvvm" in str(e) or "nvrtc" in str(e).lower():
            pytest.skip(f"the CUDA toolchain (NVVM) is missing: {e}")
        raise
    return ptx


def test_array_helpers_stay_in_float32():
    from numba_ae.kernels.cuda import arrays
    for name, (k1, k2) in arrays.KERNELS.items():
        for fn, nd in ((k1, 1), (k2, 2)):
            arr = float32[:] if nd == 1 else float32[:, :]
            sig = {"fill": (arr, float32), "copy": (arr, arr), "add": (arr, arr), "negate": (arr,)}[name]
            assert not F64_OP.search(_ptx(fn, sig)), name


def test_dropout_stays_in_float32():
    from numba_ae.kernels.cuda import dropout
    a = float32[:, :]
    assert not F64_OP.search(_ptx(dropout.KERNELS["dropout_forward"], (a, uint32[:], int64, float32, a, a)))
    assert not F64_OP.search(_ptx(dropout.KERNELS["dropout_backward"], (a, a)))


def test_gradient_normalization_ptx():
    from numba_ae.kernels.cuda import gradient_normalization as g
    assert not F64_OP.search(_ptx(g.KERNELS["clip"], (float32[:], float32)))
    # sum_squares and scale accumulate / scale in float64 on purpose (as the CPU kernels):
    assert F64_OP.search(_ptx(g.KERNELS["sum_squares"], (float32[:], float64[:])))
    assert ".local" not in _ptx(g.KERNELS["sum_squares"], (float32[:], float64[:]))


def test_stubs_compiled_for_the_cpu_first_still_compile_for_the_gpu():
    # A float32 CPU kernel using the fastmath stubs, then a CUDA kernel calling the same stubs:
    # the GPU build must get the CUDA lowering, not the CPU code (NVVM rejected that once).
    import numpy as np
    from numba import njit

    import numba_ae.kernels.cuda  # noqa: F401  (registers the CUDA lowering)
    from numba_ae.kernels.fastmath import fexp, flog1p, ftanh, sigmoid, softplus

    @njit
    def on_cpu(v):
        return ftanh(v) + fexp(v) + sigmoid(v) + softplus(v) + flog1p(v)

    assert np.isfinite(on_cpu(np.float32(0.5)))

    def kernel(a, b):
        i = cuda.grid(1)
        if i < a.size:
            a[i] = ftanh(b[i]) + fexp(b[i]) + sigmoid(b[i]) + softplus(b[i]) + flog1p(b[i])

    assert not F64_OP.search(_ptx(kernel, (float32[:], float32[:])))
