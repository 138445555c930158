"""The tiled GEMM kernels of ``numba_ae.kernels.cuda.gemm`` against the CPU kernels.

Oracle: the CPU product (``kernels.dense.matmul``, i.e. ``np.dot``) followed by the CPU
activation array kernels (``bias_keep_z``, ``add_l1_activity_grad``, ``backward``) on the
same inputs.  Shapes are tiny (the simulator runs every thread in Python) but cross the
edges of both tiles (32 and 64 outputs per side, 16-deep slabs).  GEMM results are
compared norm-relative (the accumulation order differs from BLAS): 1e-10 in float64,
1e-5 in float32.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import cuda
from softsign import registered

from numba_ae.kernels import activations as ka
from numba_ae.kernels import dense as kd
from numba_ae.kernels.cuda import _launch
from numba_ae.kernels.cuda import gemm as g

TOL = {np.float64: 1e-10, np.float32: 1e-5}
USER = "softsign_gemm_t"



@pytest.fixture(scope="module", autouse=True)
def user_activation():
    """A user-registered activation, available to every test of this module."""
    with registered(USER):
        yield USER


ACTS = ["identity", "relu", "sigmoid", "tanh", "gelu", USER]


def assert_close(got, ref, dtype):
    """Norm-relative comparison ``||got - ref|| <= tol * max(||ref||, 1)``."""
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape
    err = np.linalg.norm(got - ref)
    assert err <= TOL[dtype] * max(np.linalg.norm(ref), 1.0), f"norm error {err:.3g}"


def operands(rng, m, k, n, trans_a, trans_b, dtype):
    """Host ``A`` [m, k], ``B`` [k, n] and their device copies in the storage the flags say."""
    A = rng.standard_normal((m, k)).astype(dtype)
    B = rng.standard_normal((k, n)).astype(dtype)
    a = cuda.to_device(np.ascontiguousarray(A.T) if trans_a else A)
    b = cuda.to_device(np.ascontiguousarray(B.T) if trans_b else B)
    return A, B, a, b


def cpu_product(A, B, dtype):
    out = np.empty((A.shape[0], B.shape[1]), dtype=dtype)
    kd.matmul(A, B, out)
    return out


dims = st.integers(1, 40)
modes = st.sampled_from([(False, False), (True, False), (False, True)])
dtypes = st.sampled_from([np.float64, np.float32])
tiles = st.sampled_from(sorted(g.TILES))


@settings(max_examples=8, deadline=None)
@given(m=dims, k=dims, n=dims, mode=modes, dtype=dtypes, tile=tiles,
       act=st.sampled_from(ACTS), seed=st.integers(0, 2 ** 32 - 1))
def test_gemm_bias_activation_epilogue_matches_cpu(m, k, n, mode, dtype, tile, act, seed):
    rng = np.random.default_rng(seed)
    A, B, a, b = operands(rng, m, k, n, *mode, dtype)
    bias = rng.standard_normal(n).astype(dtype)
    z_ref = cpu_product(A, B, dtype)
    out_ref = np.empty_like(z_ref)
    ka.get(act).bias_keep_z(z_ref, bias, out_ref)
    z = cuda.device_array((m, n), dtype)
    out = cuda.device_array((m, n), dtype)
    before = _launch.launches()
    g.gemm(a, b, out, *mode, bias=cuda.to_device(bias), act=act, z=z, tile=tile)
    assert _launch.launches() - before == 1
    assert_close(z.copy_to_host(), z_ref, dtype)
    assert_close(out.copy_to_host(), out_ref, dtype)


@settings(max_examples=8, deadline=None)
@given(m=dims, k=dims, n=dims, mode=modes, dtype=dtypes, tile=tiles, seed=st.integers(0, 2 ** 32 - 1))
def test_plain_accumulate_and_pre_bias_z(m, k, n, mode, dtype, tile, seed):
    rng = np.random.default_rng(seed)
    A, B, a, b = operands(rng, m, k, n, *mode, dtype)
    prod = cpu_product(A, B, dtype)
    out = cuda.device_array((m, n), dtype)
    g.gemm(a, b, out, *mode, tile=tile)
    assert_close(out.copy_to_host(), prod, dtype)
    # out += A @ B, z receives the sum before the bias, out = sum + bias
    old = rng.standard_normal((m, n)).astype(dtype)
    bias = rng.standard_normal(n).astype(dtype)
    out = cuda.to_device(old)
    z = cuda.device_array((m, n), dtype)
    g.gemm(a, b, out, *mode, bias=cuda.to_device(bias), z=z, z_mode="pre", accumulate=True, tile=tile)
    assert_close(z.copy_to_host(), old + prod, dtype)
    assert_close(out.copy_to_host(), old + prod + bias, dtype)


@settings(max_examples=7, deadline=None)
@given(m=dims, k=dims, n=dims, mode=modes, dtype=dtypes, tile=tiles,
       act=st.sampled_from(ACTS), l1=st.sampled_from([0.0, 0.3]), seed=st.integers(0, 2 ** 32 - 1))
def test_gemm_grad_epilogue_matches_cpu(m, k, n, mode, dtype, tile, act, l1, seed):
    rng = np.random.default_rng(seed)
    A, B, a, b = operands(rng, m, k, n, *mode, dtype)
    zh = rng.standard_normal((m, n)).astype(dtype)
    zh[0, 0] = 0.0                       # sign(0) = 0 for the L1 term
    h = np.empty_like(zh)
    ka.get(act).map(zh, h)
    ref = cpu_product(A, B, dtype)
    if l1:
        kd.add_l1_activity_grad(h, dtype(l1), ref)
    ka.get(act).backward(zh, h, ref)
    out = cuda.device_array((m, n), dtype)
    before = _launch.launches()
    g.gemm_grad(a, b, out, act, cuda.to_device(zh), cuda.to_device(h), *mode, l1_coef=l1, tile=tile)
    assert _launch.launches() - before == 1
    assert_close(out.copy_to_host(), ref, dtype)


def test_strided_views_and_tile_choice(rng):
    """Non-contiguous device views (row and column slices) are read through their strides."""
    A = rng.standard_normal((9, 14))
    B = rng.standard_normal((20, 11))
    a = cuda.to_device(A)[1:8, ::2]          # [7, 7], column stride 2
    b = cuda.to_device(B)[3:10, 2:]          # [7, 9]
    out = cuda.device_array((7, 9))
    g.gemm(a, b, out)
    assert_close(out.copy_to_host(), A[1:8, ::2] @ B[3:10, 2:], np.float64)
    assert g.pick_tile(128, 512) == "32x32"
    assert g.pick_tile(4096, 784) == "64x64"


def test_rejects_bad_operands():
    a = cuda.device_array((3, 4))
    b = cuda.device_array((5, 2))
    out = cuda.device_array((3, 2))
    with pytest.raises(ValueError, match="shapes do not match"):
        g.gemm(a, b, out)
    with pytest.raises(ValueError, match="one float dtype"):
        g.gemm(a, cuda.device_array((4, 2), np.float32), out)
    with pytest.raises(ValueError, match="softmax"):
        g.gemm(a, cuda.device_array((4, 2)), out, act="softmax")
    with pytest.raises(ValueError, match="bias"):
        g.gemm(a, cuda.device_array((4, 2)), out, bias=cuda.device_array(3))
    with pytest.raises(ValueError, match="dtype"):
        g.gemm(a, cuda.device_array((4, 2)), out, bias=cuda.device_array(2, np.float32))
