"""PTX of the categorical CUDA kernels (``numba_ae.kernels.cuda.categorical``), compiled
without a GPU by ``numba.cuda.compile_ptx`` for sm_90: every kernel compiles for float32
and float64 arrays, and the float32 PTX holds no float64 instruction (constants in the
arrays' dtype, float32 elementary functions)."""
import re

import pytest

from numba import cuda, float32, float64
from numba.cuda.cudadrv.error import NvvmSupportError

from numba_ae.kernels.cuda import categorical as cc


def _sigs(t):
    m, v = t[:, :], t[:]
    return {"_log_prob_kernel": (m, m, v), "_nll_grad_kernel": (m, m, t, m),
            "_log_prob_and_grad_kernel": (m, m, t, v, m), "_mean_kernel": (m, m), "_sample_kernel": (m, m, m)}


def _ptx(name, t):
    try:
        ptx, _ = cuda.compile_ptx(getattr(cc, name), _sigs(t)[name], cc=(9, 0))
    except NvvmSupportError as e:  # only a missing toolchain is a reason to skip
        pytest.skip(f"the CUDA toolchain (NVVM) is missing, so compile_ptx cannot run: {e}")
    return ptx


KERNELS = sorted(_sigs(float32))
_F64 = re.compile(r"\.f64\b")


@pytest.mark.parametrize("name", KERNELS)
def test_float32_ptx_has_no_float64_instruction(name):
    ptx = _ptx(name, float32)
    assert ".entry" in ptx and ".f32" in ptx, f"{name}: no float32 kernel in the PTX"
    bad = [line.strip() for line in ptx.splitlines() if _F64.search(line)]
    assert not bad, f"{name}: float64 in the float32 PTX: {bad[:5]}"


@pytest.mark.parametrize("name", KERNELS)
def test_float64_ptx_compiles(name):
    ptx = _ptx(name, float64)
    assert ".entry" in ptx and _F64.search(ptx), f"{name}: no float64 kernel in the PTX"


def test_every_host_function_has_a_kernel():
    for host in cc.__all__:
        assert f"_{host}_kernel" in KERNELS, host
