"""CUDA twins of the latent-Gaussian kernels (:mod:`numba_ae.kernels.cuda.vae`) against
:mod:`numba_ae.kernels.vae`, float32 overflow redo cases included."""
import math

import numpy as np
import pytest
from cuda_elem_helpers import check, cols, dev, dtypes, host, rows, seeds
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import cuda

from numba_ae.kernels import vae as cpu
from numba_ae.kernels.cuda import vae as gpu

reps = st.integers(1, 3)
#: float32 exp(89) overflows (FLT_MAX ~ exp(88.72)); half of it, or a scaled gradient, does not
OVERFLOW_LV = 89.0
#: the simulator computes float32 kernels with NumPy scalars, which warn where float32 overflows
overflow_ok = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")


def _gauss(n, k, dtype, seed, reps=1):
    rng = np.random.default_rng(seed)
    mean = rng.standard_normal((n, k)).astype(dtype)
    logvar = (rng.standard_normal((n, k)) * 2.0).astype(dtype)
    eps = rng.standard_normal((reps * n, k)).astype(dtype)
    return rng, mean, logvar, eps


@settings(max_examples=6)
@given(dtype=dtypes, n=rows, k=cols, L=reps, seed=seeds)
def test_tile_rows_and_reparameterize(dtype, n, k, L, seed):
    _, mean, logvar, eps = _gauss(n, k, dtype, seed, L)
    out = np.empty((L * n, k), dtype)
    cpu.tile_rows(mean, L, out)
    g = cuda.device_array((L * n, k), dtype)
    gpu.tile_rows(dev(mean), L, g)
    assert np.array_equal(host(g), out)
    cpu.reparameterize(mean, logvar, eps, out)
    gpu.reparameterize(*dev(mean, logvar, eps), g)
    mag = np.abs(np.tile(mean, (L, 1))) + np.abs(np.exp(0.5 * np.tile(logvar, (L, 1)).astype(np.float64)) * eps)
    check(host(g), out, dtype, mag=mag, what="reparameterize")


@settings(max_examples=6)
@given(dtype=dtypes, n=rows, k=cols, seed=seeds)
def test_log_densities(dtype, n, k, seed):
    rng, mean, logvar, _ = _gauss(n, k, dtype, seed)
    z = rng.standard_normal((n, k)).astype(dtype)
    out = np.empty(n, np.float64)
    g = cuda.device_array(n, np.float64)
    cpu.normal_log_density(z, mean, logvar, out)
    gpu.normal_log_density(*dev(z, mean, logvar), g)
    r = z.astype(np.float64) - mean
    lv = logvar.astype(np.float64)
    mag = (cpu.HALF_LOG_2PI + 0.5 * np.abs(lv) + 0.5 * r * r * np.exp(-lv)).sum(axis=1)
    check(host(g), out, dtype, mag=mag, what="normal_log_density")
    cpu.std_normal_log_density(z, out)
    gpu.std_normal_log_density(dev(z), g)
    check(host(g), out, dtype, what="std_normal_log_density")


@overflow_ok
@settings(max_examples=8)
@given(dtype=dtypes, n=rows, k=cols, seed=seeds, overflow=st.booleans(), scale=st.floats(0.01, 1.0))
def test_kl_normal_and_grad(dtype, n, k, seed, overflow, scale):
    """With ``overflow`` one element per row has float32 ``exp(logvar)`` past FLT_MAX: the
    float32 pass is infinite, the float64 redo gives the finite (float32-representable)
    half-sum and gradient."""
    rng, mean, logvar, _ = _gauss(n, k, dtype, seed)
    if overflow:
        logvar[np.arange(n), rng.integers(0, k, n)] = OVERFLOW_LV
    out = np.empty(n, dtype)
    cpu.kl_normal(mean, logvar, out)
    g = cuda.device_array(n, dtype)
    gpu.kl_normal(*dev(mean, logvar), g)
    m, lv = mean.astype(np.float64), logvar.astype(np.float64)
    check(host(g), out, dtype, mag=0.5 * (np.exp(lv) + m * m + 1.0 + np.abs(lv)).sum(axis=1), what="kl_normal")
    if overflow and dtype == np.float32:
        assert np.all(np.isfinite(host(g)))   # the redo happened (the float32 pass overflowed)
    gm, gl = np.empty_like(mean), np.empty_like(mean)
    cpu.kl_normal_grad(mean, logvar, scale, gm, gl)
    dgm, dgl = cuda.device_array_like(mean), cuda.device_array_like(mean)
    gpu.kl_normal_grad(*dev(mean, logvar), scale, dgm, dgl)
    check(host(dgm), gm, dtype, mag=np.abs(gm), what="kl_normal_grad mean")
    check(host(dgl), gl, dtype, mag=np.abs(gl), what="kl_normal_grad logvar")
    if overflow and dtype == np.float32:
        assert np.all(np.isfinite(host(dgl)))


@overflow_ok
def test_kl_normal_float32_row_redo_value():
    """The redone row is the float64 value, not the float32 infinity."""
    mean = np.zeros((2, 3), np.float32)
    logvar = np.zeros((2, 3), np.float32)
    logvar[1, 1] = OVERFLOW_LV
    g = cuda.device_array(2, np.float32)
    gpu.kl_normal(*dev(mean, logvar), g)
    want = 0.5 * (math.exp(OVERFLOW_LV) - 1.0 - OVERFLOW_LV)
    assert host(g)[0] == 0.0
    assert math.isclose(float(host(g)[1]), want, rel_tol=1e-6)


@settings(max_examples=6)
@given(dtype=dtypes, n=rows, k=cols, seed=seeds, special=st.booleans())
def test_logsumexp_rows(dtype, n, k, seed, special):
    """Random rows, and with ``special`` an all ``-inf`` row, a row holding ``+inf`` and one
    holding NaN (as :func:`numba_ae.kernels.fastmath.row_logsumexp`)."""
    rng = np.random.default_rng(seed)
    a = (rng.standard_normal((n, k)) * 10.0).astype(dtype)
    if special:
        a[0] = -np.inf
        if n > 1:
            a[1, rng.integers(0, k)] = np.inf
        if n > 2:
            a[2, rng.integers(0, k)] = np.nan
    out = np.empty(n, np.float64)
    cpu.logsumexp_rows(a, out)
    g = cuda.device_array(n, np.float64)
    gpu.logsumexp_rows(dev(a), g)
    fin = np.where(np.isfinite(a), np.abs(a), 0.0)
    check(host(g), out, dtype, mag=fin.max(axis=1) + math.log(k) + 1.0, what="logsumexp_rows")


@settings(max_examples=6)
@given(dtype=dtypes, n=rows, k=cols, L=reps, seed=seeds)
def test_reparameterize_backward(dtype, n, k, L, seed):
    rng, _, logvar, eps = _gauss(n, k, dtype, seed, L)
    dz = rng.standard_normal((L * n, k)).astype(dtype)
    dmean = rng.standard_normal((n, k)).astype(dtype)
    dlogvar = rng.standard_normal((n, k)).astype(dtype)
    gdm, gdl = dev(dmean, dlogvar)
    gpu.reparameterize_backward(*dev(dz, eps, logvar), gdm, gdl)
    m0, l0 = dmean.astype(np.float64), dlogvar.astype(np.float64)
    cpu.reparameterize_backward(dz, eps, logvar, dmean, dlogvar)
    adz = np.abs(dz.astype(np.float64)).reshape(L, n, k)
    s = 0.5 * np.exp(0.5 * logvar.astype(np.float64))
    check(host(gdm), dmean, dtype, mag=np.abs(m0) + adz.sum(axis=0), what="reparameterize_backward dmean")
    check(host(gdl), dlogvar, dtype, mag=np.abs(l0) + (adz * np.abs(eps).reshape(L, n, k)).sum(axis=0) * s,
          what="reparameterize_backward dlogvar")


@overflow_ok
def test_reparameterize_backward_float32_factor_overflow():
    """``0.5 exp(logvar / 2)`` past FLT_MAX with a zero upstream gradient: 0 as on the CPU
    (float64 factor), not ``0 * inf = NaN``."""
    logvar = np.full((1, 2), 180.0, np.float32)
    dz = np.zeros((1, 2), np.float32)
    eps = np.ones((1, 2), np.float32)
    dm, dl = np.zeros((1, 2), np.float32), np.zeros((1, 2), np.float32)
    gdm, gdl = dev(dm, dl)
    gpu.reparameterize_backward(*dev(dz, eps, logvar), gdm, gdl)
    cpu.reparameterize_backward(dz, eps, logvar, dm, dl)
    assert np.array_equal(host(gdl), dl) and np.array_equal(host(gdm), dm)
