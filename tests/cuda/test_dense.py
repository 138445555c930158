"""The CUDA dense kernels (``numba_ae.kernels.cuda.dense``) against their CPU twins in
``numba_ae.kernels.dense`` / ``kernels.vae.pzx_backward``, on the same inputs, with the
launches each call makes.  Norm-relative comparison (GEMM accumulation order differs):
1e-10 in float64, 1e-5 in float32.  Tiny shapes (the simulator runs each thread in Python),
including sizes past one 32x32 tile."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import cuda
from softsign import registered

from numba_ae.kernels import activations as ka
from numba_ae.kernels import dense as kd
from numba_ae.kernels import vae as kv
from numba_ae.kernels.cuda import _launch
from numba_ae.kernels.cuda import dense as cd

TOL = {np.float64: 1e-10, np.float32: 1e-5}
USER = "softsign_dense_t"



@pytest.fixture(scope="module", autouse=True)
def user_activation():
    """A user-registered activation, available to every test of this module."""
    with registered(USER):
        yield USER


ACTS = ["identity", "relu", "sigmoid", "tanh", "softmax", "gelu", USER]


def assert_close(got, ref, dtype):
    got = np.asarray(got, np.float64)
    ref = np.asarray(ref, np.float64)
    assert got.shape == ref.shape
    err = np.linalg.norm(got - ref)
    assert err <= TOL[dtype] * max(np.linalg.norm(ref), 1.0), f"norm error {err:.3g}"


class Launches:
    """Counts the kernel launches inside a ``with`` block."""

    def __enter__(self):
        self.start = _launch.launches()
        return self

    def __exit__(self, *exc):
        self.n = _launch.launches() - self.start


def dev(*arrays):
    return [cuda.to_device(a) for a in arrays]


def host(*arrays):
    return [a.copy_to_host() for a in arrays]


dtypes = st.sampled_from([np.float64, np.float32])
seeds = st.integers(0, 2 ** 32 - 1)
small = st.integers(1, 6)
# mostly inside one 32x32 tile, sometimes across its edge
wide = st.one_of(st.integers(1, 12), st.integers(33, 35))


@settings(max_examples=5, deadline=None)
@given(act=st.sampled_from(ACTS), dtype=dtypes, n=small, n_in=wide, n_out=wide, seed=seeds)
def test_forward_kernels_match_cpu(act, dtype, n, n_in, n_out, seed):
    rng = np.random.default_rng(seed)
    a = ka.get(act)
    x = rng.standard_normal((n, n_in)).astype(dtype)
    W = (rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(dtype)
    b = rng.standard_normal(n_out).astype(dtype)
    vb = rng.standard_normal(n_in).astype(dtype)
    # dense_forward with z = out, and with a separate z
    out_ref = np.empty((n, n_out), dtype)
    kd.dense_forward[act](x, W, b, out_ref, out_ref)
    dx, dW, db, dvb = dev(x, W, b, vb)
    out = cuda.device_array((n, n_out), dtype)
    with Launches() as L:
        cd.dense_forward[act](dx, dW, db, out, out)
    assert L.n == (2 if a.is_softmax else 1)
    assert_close(out.copy_to_host(), out_ref, dtype)
    z_ref, out_ref = np.empty((n, n_out), dtype), np.empty((n, n_out), dtype)
    kd.dense_forward[act](x, W, b, z_ref, out_ref)
    z, out = cuda.device_array((n, n_out), dtype), cuda.device_array((n, n_out), dtype)
    cd.dense_forward[act](dx, dW, db, z, out)
    assert_close(z.copy_to_host(), z_ref, dtype)
    assert_close(out.copy_to_host(), out_ref, dtype)
    # dense_forward_keep_z
    kd.dense_forward_keep_z[act](x, W, b, z_ref, out_ref)
    with Launches() as L:
        cd.dense_forward_keep_z[act](dx, dW, db, z, out)
    assert L.n == (2 if a.is_softmax else 1)
    assert_close(z.copy_to_host(), z_ref, dtype)
    assert_close(out.copy_to_host(), out_ref, dtype)
    # tied decode h @ W.T + vb
    h = out_ref
    zt_ref, ot_ref = np.empty((n, n_in), dtype), np.empty((n, n_in), dtype)
    kd.dense_transposed_forward_keep_z[act](h, W, vb, zt_ref, ot_ref)
    zt, ot = cuda.device_array((n, n_in), dtype), cuda.device_array((n, n_in), dtype)
    with Launches() as L:
        cd.dense_transposed_forward_keep_z[act](cuda.to_device(h), dW, dvb, zt, ot)
    assert L.n == (2 if a.is_softmax else 1)
    assert_close(zt.copy_to_host(), zt_ref, dtype)
    assert_close(ot.copy_to_host(), ot_ref, dtype)


@settings(max_examples=5, deadline=None)
@given(act=st.sampled_from(ACTS), dtype=dtypes, need_dx=st.booleans(), n=small, n_in=wide,
       n_out=wide, seed=seeds)
def test_dense_backward_matches_cpu(act, dtype, need_dx, n, n_in, n_out, seed):
    rng = np.random.default_rng(seed)
    a = ka.get(act)
    x = rng.standard_normal((n, n_in)).astype(dtype)
    W = rng.standard_normal((n_in, n_out)).astype(dtype)
    z = rng.standard_normal((n, n_out)).astype(dtype)
    out = np.empty_like(z)
    a.map(z, out)
    delta = rng.standard_normal((n, n_out)).astype(dtype)
    sentinel = np.full((n, n_in), 7.0, dtype)
    d_ref, dW_ref, db_ref, dx_ref = delta.copy(), np.empty_like(W), np.empty(n_out, dtype), sentinel.copy()
    kd.dense_backward[act](x, W, z, out, d_ref, dW_ref, db_ref, need_dx, dx_ref)
    gx, gW, gz, gout, gd, gsent = dev(x, W, z, out, delta, sentinel)
    gdW, gdb = cuda.device_array_like(W), cuda.device_array(n_out, dtype)
    with Launches() as L:
        cd.dense_backward[act](gx, gW, gz, gout, gd, gdW, gdb, need_dx, gsent)
    assert L.n == (1 if a.is_softmax else 0) + (3 if need_dx else 2)
    for got, ref in zip(host(gd, gdW, gdb, gsent), (d_ref, dW_ref, db_ref, dx_ref)):
        assert_close(got, ref, dtype)
    if not need_dx:
        assert (gsent.copy_to_host() == 7.0).all()
    # affine_backward on the same delta
    dW_ref, db_ref, dx_ref = np.empty_like(W), np.empty(n_out, dtype), sentinel.copy()
    kd.affine_backward(x, W, delta, dW_ref, db_ref, need_dx, dx_ref)
    gd, gsent = dev(delta, sentinel)
    with Launches() as L:
        cd.affine_backward(gx, gW, gd, gdW, gdb, need_dx, gsent)
    assert L.n == (3 if need_dx else 2)
    for got, ref in zip(host(gdW, gdb, gsent), (dW_ref, db_ref, dx_ref)):
        assert_close(got, ref, dtype)


@settings(max_examples=4, deadline=None)
@given(act=st.sampled_from(ACTS), dtype=dtypes, coef=st.sampled_from([0.0, 0.05]), n=small,
       n_in=wide, n_out=wide, seed=seeds)
def test_tied_autoencoder_backward_matches_cpu(act, dtype, coef, n, n_in, n_out, seed):
    rng = np.random.default_rng(seed)
    a = ka.get(act)
    W = rng.standard_normal((n_in, n_out)).astype(dtype)
    stack_in = rng.standard_normal((2 * n, n_in)).astype(dtype)
    zh = rng.standard_normal((n, n_out)).astype(dtype)
    stack_h = np.zeros((2 * n, n_out), dtype)
    a.map(zh, stack_h[n:])
    if not a.needs_pre:
        zh = stack_h[n:].copy()           # the layer passes the code itself as zh
    sh_ref, dW_ref, db_ref, dvb_ref = stack_h.copy(), np.empty_like(W), np.empty(n_out, dtype), np.empty(n_in, dtype)
    kd.tied_autoencoder_backward[act](stack_in, sh_ref, zh, W, coef, dW_ref, db_ref, dvb_ref)
    g_in, g_h, g_zh, gW = dev(stack_in, stack_h, zh, W)
    gdW, gdb, gdvb = cuda.device_array_like(W), cuda.device_array(n_out, dtype), cuda.device_array(n_in, dtype)
    with Launches() as L:
        cd.tied_autoencoder_backward[act](g_in, g_h, g_zh, gW, coef, gdW, gdb, gdvb)
    assert L.n == (4 + (coef != 0.0) if a.is_softmax else 3)
    for got, ref in zip(host(g_h, gdW, gdb, gdvb), (sh_ref, dW_ref, db_ref, dvb_ref)):
        assert_close(got, ref, dtype)


@settings(max_examples=4, deadline=None)
@given(dtype=dtypes, need_dh=st.booleans(), n=small, m=wide, k=st.integers(1, 12), seed=seeds)
def test_pzx_backward_matches_cpu(dtype, need_dh, n, m, k, seed):
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((n, m)).astype(dtype)
    mW, lW = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((m, k)).astype(dtype)
    dmean, dlogvar = rng.standard_normal((n, k)).astype(dtype), rng.standard_normal((n, k)).astype(dtype)
    sentinel = np.full((n, m), 3.0, dtype)
    refs = [np.empty((m, k), dtype), np.empty(k, dtype), np.empty((m, k), dtype), np.empty(k, dtype),
            sentinel.copy()]
    kv.pzx_backward(h, mW, lW, dmean, dlogvar, *refs[:4], need_dh, refs[4], np.empty((n, m), dtype))
    outs = [cuda.device_array((m, k), dtype), cuda.device_array(k, dtype), cuda.device_array((m, k), dtype),
            cuda.device_array(k, dtype), cuda.to_device(sentinel)]
    with Launches() as L:
        cd.pzx_backward(*dev(h, mW, lW, dmean, dlogvar), *outs[:4], need_dh, outs[4],
                        cuda.device_array((n, m), dtype))
    assert L.n == (5 if need_dh else 3)
    for got, ref in zip(host(*outs), refs):
        assert_close(got, ref, dtype)


@settings(max_examples=4, deadline=None)
@given(dtype=dtypes, n=st.integers(1, 10), k=wide, m=small, seed=seeds)
def test_small_helpers_match_cpu(dtype, n, k, m, seed):
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((n, k)).astype(dtype)
    h[0, 0] = 0.0
    delta = rng.standard_normal((n, k)).astype(dtype)
    # column_sums, add_l1_activity_grad, abs_row_sums
    db_ref = np.empty(k, dtype)
    kd.column_sums(delta, db_ref)
    gdb = cuda.device_array(k, dtype)
    with Launches() as L:
        cd.column_sums(cuda.to_device(delta), gdb)
    assert L.n == 1
    assert_close(gdb.copy_to_host(), db_ref, dtype)
    d_ref = delta.copy()
    kd.add_l1_activity_grad(h, 0.25, d_ref)
    gd = cuda.to_device(delta)
    cd.add_l1_activity_grad(cuda.to_device(h), 0.25, gd)
    assert_close(gd.copy_to_host(), d_ref, dtype)
    r_ref = np.empty(n, dtype)
    kd.abs_row_sums(h, r_ref)
    gr = cuda.device_array(n, dtype)
    with Launches() as L:
        cd.abs_row_sums(cuda.to_device(h), gr)
    assert L.n == 1
    assert_close(gr.copy_to_host(), r_ref, dtype)
    # dense_param_grads and matmul (all transpose modes)
    x = rng.standard_normal((n, m)).astype(dtype)
    dW_ref = np.empty((m, k), dtype)
    kd.dense_param_grads(x, delta, dW_ref, db_ref)
    gdW = cuda.device_array((m, k), dtype)
    with Launches() as L:
        cd.dense_param_grads(cuda.to_device(x), cuda.to_device(delta), gdW, gdb)
    assert L.n == 2
    assert_close(gdW.copy_to_host(), dW_ref, dtype)
    assert_close(gdb.copy_to_host(), db_ref, dtype)
    W = rng.standard_normal((k, m)).astype(dtype)
    ref = np.empty((n, m), dtype)
    kd.matmul(h, W, ref)
    for ta, tb in ((False, False), (True, False), (False, True)):
        a = cuda.to_device(np.ascontiguousarray(h.T) if ta else h)       # stored transposed
        b = cuda.to_device(np.ascontiguousarray(W.T) if tb else W)
        out = cuda.device_array((n, m), dtype)
        with Launches() as L:
            cd.matmul(a, b, out, trans_a=ta, trans_b=tb)
        assert L.n == 1
        assert_close(out.copy_to_host(), ref, dtype)
