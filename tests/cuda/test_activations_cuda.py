"""The CUDA activation array kernels (``numba_ae.kernels.cuda.activations``) against the
CPU kernels of ``numba_ae.kernels.activations`` on the same inputs: float64 to 1e-10,
float32 to 1e-5 (relative; column sums norm-relative, their order differs)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import cuda
from softsign import registered

from numba_ae.kernels import activations as ka
from numba_ae.kernels import dense as kd
from numba_ae.kernels.cuda import _launch
from numba_ae.kernels.cuda import activations as ca

TOL = {np.float64: 1e-10, np.float32: 1e-5}
USER = "softsign_act_t"



@pytest.fixture(scope="module", autouse=True)
def user_activation():
    """A user-registered activation, available to every test of this module."""
    with registered(USER):
        yield USER


ACTS = ["identity", "relu", "sigmoid", "tanh", "softmax", "gelu", USER]


def assert_close(got, ref, dtype):
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(ref, np.float64),
                               rtol=TOL[dtype], atol=TOL[dtype])


def assert_norm_close(got, ref, dtype):
    err = np.linalg.norm(np.asarray(got, np.float64) - np.asarray(ref, np.float64))
    assert err <= TOL[dtype] * max(np.linalg.norm(np.asarray(ref, np.float64)), 1.0)


def counted(fn, *args):
    """Call ``fn(*args)`` and return the number of kernel launches it made."""
    before = _launch.launches()
    fn(*args)
    return _launch.launches() - before


@settings(max_examples=7, deadline=None)
@given(act=st.sampled_from(ACTS), dtype=st.sampled_from([np.float64, np.float32]),
       n=st.integers(1, 17), k=st.integers(1, 40), seed=st.integers(0, 2 ** 32 - 1))
def test_array_kernels_match_cpu(act, dtype, n, k, seed):
    rng = np.random.default_rng(seed)
    cpu = ka.get(act)
    src = (2.0 * rng.standard_normal((n, k))).astype(dtype)
    b = rng.standard_normal(k).astype(dtype)
    # map_
    ref = np.empty_like(src)
    cpu.map(src, ref)
    dst = cuda.device_array((n, k), dtype)
    assert counted(ca.map_[act], cuda.to_device(src), dst) == 1
    assert_close(dst.copy_to_host(), ref, dtype)
    # bias_map, in place (src is dst)
    ref = src.copy()
    cpu.bias_map(ref, b, ref)
    d_src = cuda.to_device(src)
    assert counted(ca.bias_map[act], d_src, cuda.to_device(b), d_src) == 1
    assert_close(d_src.copy_to_host(), ref, dtype)
    # bias_keep_z
    z_ref, a_ref = src.copy(), np.empty_like(src)
    cpu.bias_keep_z(z_ref, b, a_ref)
    z, a = cuda.to_device(src), cuda.device_array((n, k), dtype)
    assert counted(ca.bias_keep_z[cpu], z, cuda.to_device(b), a) == 1
    assert_close(z.copy_to_host(), z_ref, dtype)
    assert_close(a.copy_to_host(), a_ref, dtype)
    # backward, and backward fused with the column sums
    delta = rng.standard_normal((n, k)).astype(dtype)
    d_ref = delta.copy()
    cpu.backward(z_ref, a_ref, d_ref)
    db_ref = np.empty(k, dtype)
    kd.column_sums(d_ref, db_ref)
    dd = cuda.to_device(delta)
    assert counted(ca.backward[act], z, a, dd) == 1
    assert_close(dd.copy_to_host(), d_ref, dtype)
    dd = cuda.to_device(delta)
    db = cuda.device_array(k, dtype)
    assert counted(ca.backward_column_sums[act], z, a, dd, db) == (2 if cpu.is_softmax else 1)
    assert_close(dd.copy_to_host(), d_ref, dtype)
    assert_norm_close(db.copy_to_host(), db_ref, dtype)


def test_softmax_is_stable_and_nan_sticky():
    """Large logits do not overflow (max-subtracted); a NaN in a row makes that row NaN."""
    z = np.array([[1000.0, 1001.0, 999.0], [1.0, np.nan, 2.0], [-1e4, 0.0, 1e4]])
    ref = z.copy()
    ka.softmax_map(z, ref)
    out = cuda.device_array(z.shape)
    ca.map_["softmax"](cuda.to_device(z), out)
    got = out.copy_to_host()
    np.testing.assert_allclose(got[[0, 2]], ref[[0, 2]], rtol=1e-12, atol=1e-300)
    assert np.isnan(got[1]).all() and np.isnan(ref[1]).all()


def test_per_activation_compiles_once_per_activation():
    assert ca.map_["relu"] is ca.map_[ka.get("relu")]
    assert ca.map_["relu"] is not ca.map_["tanh"]
    with pytest.raises(ValueError, match="unknown activation"):
        ca.map_["not_registered_anywhere"]
