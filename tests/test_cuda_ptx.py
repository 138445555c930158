"""PTX of the CUDA GEMM, activation and dense kernels (``numba_ae.kernels.cuda.gemm``,
``.activations``, ``.dense``), compiled for sm_90 without a GPU (``cuda.compile_ptx``; a
normal run, not the simulator):

* float32 kernels contain no float64 instruction (a stray float64 constant would widen a
  float32 kernel; the simulator cannot see it);
* the GEMM kernels keep their register tiles in registers: no ``.local`` memory in the
  PTX, and, where the toolkit's ``ptxas`` is installed, no spill stores or stack frame in
  the machine code.

Every kernel template of the three modules is compiled for both dtypes (the elementwise
ones for every built-in activation in float32, the dtype the check is about); the GEMM for
every transpose mode and tile with each epilogue kind.  Skipped, with the reason, only when
NVVM (the CUDA compiler library) is missing or under the simulator (``NUMBA_ENABLE_CUDASIM=1``
replaces the CUDA target; the normal invocation runs these).
"""
import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from numba import njit

cuda = pytest.importorskip("numba.cuda", reason="numba-cuda is not installed")

from softsign import registered

from numba_ae.kernels.activations import get as get_activation
from numba_ae.kernels.cuda import activations as ca
from numba_ae.kernels.cuda import dense as cd
from numba_ae.kernels.cuda import gemm as cg
from numba_ae.kernels.fastmath import fexp, ftanh

pytestmark = pytest.mark.skipif(
    os.environ.get("NUMBA_ENABLE_CUDASIM") == "1",
    reason="the CUDA simulator replaces the CUDA target (no compile_ptx); these checks run in "
           "the normal, non-simulator invocation")

CC = (9, 0)
_F64 = re.compile(r"\.f64\b")
_LOCAL = re.compile(r"\.local\b|ld\.local|st\.local")


def _gemm_cases():
    # The register tile's fate depends on the tile and the epilogue; the loads on the mode.
    # Every tile x mode with the plain epilogue; every tile with each epilogue kind (mish:
    # the costliest activation); the derivative epilogue in every mode; both dtypes.
    keep = []
    for name, fn, at in cg.ptx_cases(acts=("mish",)):
        parts = name.split("[")[0].split("_")       # e.g. n_t_64x64_grad_mish_l1
        mode, rest = parts[0] + parts[1], parts[3:]
        if not rest or mode == "nn" or "grad" in rest:
            keep.append((name, fn, at))
    return keep


def _act_cases():
    # The scalar definitions enter map_ and backward: every activation in float32 there;
    # every template for a few activations, and the row/column kernels, in both dtypes.
    keep = ("[relu]", "[gelu]", "[mish]", "column_sums", "softmax")
    return [c for c in ca.ptx_cases()
            if any(k in c[0] for k in keep) or (c[0].startswith(("map_", "backward[")) and "float32" in c[0])]


GEMM = {name: (fn, at) for name, fn, at in _gemm_cases()}
OTHER = {name: (fn, at) for name, fn, at in _act_cases() + cd.ptx_cases()}
_ptx = {}


def ptx_of(name):
    """PTX of case ``name`` (compiled once per test session)."""
    if name not in _ptx:
        fn, argtypes = GEMM[name] if name in GEMM else OTHER[name]
        try:
            _ptx[name] = cuda.compile_ptx(fn, argtypes, cc=CC)[0]
        except Exception as e:   # NVVM missing: say so; anything else is a failure
            if type(e).__name__ in ("NvvmSupportError", "NvvmError") and "libnvvm" in str(e).lower():
                pytest.skip(f"NVVM (libnvvm) is not available, cannot compile PTX: {e}")
            raise
    return _ptx[name]


def instructions(ptx):
    """The PTX without comments."""
    return "\n".join(line.split("//")[0] for line in ptx.splitlines())


@pytest.mark.parametrize("name", sorted(OTHER) + sorted(GEMM))
def test_float32_kernels_have_no_float64_instruction(name):
    body = instructions(ptx_of(name))
    assert ".entry" in body
    if "float32" in name:
        assert not _F64.findall(body), f"{name}: float64 instructions in a float32 kernel"


@pytest.mark.parametrize("name", sorted(GEMM))
def test_gemm_register_tiles_stay_in_registers(name):
    body = instructions(ptx_of(name))
    assert not _LOCAL.findall(body), f"{name}: local memory (register tile not in registers)"


def _ptxas(ptx):
    """``ptxas -v`` report of ``ptx`` for sm_90, lowering the PTX ISA version when the
    installed ptxas is older than the NVVM that wrote it (the kernels use no newer feature)."""
    exe = shutil.which("ptxas")
    if exe is None:
        pytest.skip("ptxas (CUDA toolkit) is not on PATH: machine-code spill check not possible")
    for _ in range(2):
        r = subprocess.run([exe, "-arch=sm_90", "-v", "-", "-o", "/dev/null"], input=ptx,
                           capture_output=True, text=True, check=False)
        m = re.search(r"Unsupported \.version (\S+); current version is '(\S+)'", r.stderr)
        if m is None:
            break
        ptx = re.sub(r"^\.version \S+", f".version {m.group(2)}", ptx, count=1, flags=re.MULTILINE)
    assert r.returncode == 0, r.stderr
    return r.stderr


@pytest.mark.parametrize("name", [n for n in sorted(GEMM)
                                  if "mish" in n or n.endswith(("x64[float64]", "x32[float64]"))])
def test_gemm_machine_code_has_no_spills(name):
    report = _ptxas(ptx_of(name))
    m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", report)
    assert m is not None, report
    assert m.groups() == ("0", "0", "0"), f"{name}: {m.group(0)}"


def test_user_activation_kernels_compile_to_float32_ptx():
    """A user-registered activation (a plain ``@njit`` pair) compiles into the elementwise
    and GEMM kernels without a GPU, and its float32 kernels stay float32."""
    with registered("softsign_ptx_t"):
        act = get_activation("softsign_ptx_t")
        cases = [c for c in ca.ptx_cases(acts=["softsign_ptx_t"]) if c[0].startswith(("map_", "backward["))]
        for spec in (cg.GemmSpec(False, False, act, True, "post", False, None, False, "32x32"),
                     cg.GemmSpec(False, True, None, False, None, False, act, True, "64x64")):
            cases += [(f"{cg._tag(spec)}[{np.dtype(dt).name}]", cg._make_pyfunc(spec), cg.argtypes(dt))
                      for dt in (np.float32, np.float64)]
        assert len(cases) == 8
        for name, fn, argtypes in cases:
            body = instructions(cuda.compile_ptx(fn, argtypes, cc=CC)[0])
            assert ".entry" in body
            if "float32" in name:
                assert not _F64.findall(body), f"{name}: float64 instructions in a float32 kernel"
            if name.startswith(("n_n", "n_t")):
                assert not _LOCAL.findall(body), f"{name}: local memory"


def test_kernels_compile_after_the_cpu_compiled_the_scalar_functions():
    """Regression: once a scalar activation function or a fastmath stub (``ftanh``) has been
    compiled for the CPU in float32 (a call from Python, a CPU kernel), a CUDA kernel calling
    the same function got the CPU implementation linked in and NVVM rejected it
    (``ERROR_INVALID_IR``); the CUDA kernels call private copies bound to the CUDA
    implementations of the stubs."""
    act = get_activation("gelu")
    x = np.float32(0.5)
    act.derivative(x, act.forward(x))              # compiles gelu, gelu_d and ftanh for the CPU
    njit(lambda v: ftanh(v) + fexp(v))(x)
    spec = cg.GemmSpec(False, True, None, False, None, False, act, True, "32x32")
    _, a2, a1 = ca._ptx_types(np.float32)
    cases = [("backward", ca._backward_pyfunc(ca.device_scalar(act.derivative)), (a2, a2, a2)),
             ("gemm_grad", cg._make_pyfunc(spec), cg.argtypes(np.float32)),
             ("softmax", ca._softmax_pyfunc(True, True), (a2, a1, a2, a2))]
    for name, fn, argtypes in cases:
        body = instructions(cuda.compile_ptx(fn, argtypes, cc=CC)[0])
        assert ".entry" in body and not _F64.findall(body), name
