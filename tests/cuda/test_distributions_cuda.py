"""CUDA twins of the reconstruction distributions' element kernels
(:class:`numba_ae.kernels.cuda.distributions.CudaElementKernels`) against the CPU
:class:`~numba_ae.distributions.base.ElementKernels` they are built like: the Gaussian,
both Bernoulli forms (logits for ``sigmoid``, probabilities for ``hardsigmoid``) and the
exponential, with the float64 redo of float32 rows that overflow.

The loss-function wrapper has no element kernels (it runs the loss kernels, tested in
``test_losses_cuda.py``).
"""
import numpy as np
import pytest
from cuda_elem_helpers import check, cols, dev, dtypes, host, rows, seeds
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import cuda

from numba_ae.distributions import bernoulli, exponential, gaussian
from numba_ae.kernels.cuda.distributions import CudaElementKernels

CPU = {k.tag: k for k in (gaussian.KERNELS, bernoulli.LOGIT_KERNELS, bernoulli.PROB_KERNELS, exponential.KERNELS)}
GPU = {tag: CudaElementKernels.like(k) for tag, k in CPU.items()}
overflow_ok = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")


def _params(tag, n, d, dtype, rng, extreme):
    """Data ``x`` in the support and decoder outputs ``a``; ``extreme``: parameters where
    float32 ``exp`` overflows (Gaussian ``logvar = -90`` next to its mean, so the true
    log-density is finite in float32; logits and log-rates of +-90)."""
    x = rng.random((n, d))
    if tag == "gaussian":
        a = np.concatenate([rng.standard_normal((n, d)), rng.standard_normal((n, d)) * 2.0], axis=1)
        if extreme:
            i, j = np.arange(n), rng.integers(0, d, n)
            a[i, d + j] = -90.0
            x[i, j] = a[i, j] + 1e-3
    elif tag == "bernoulli_logit":
        a = rng.standard_normal((n, d)) * 4.0
        x = (x < 0.5).astype(np.float64)
        if extreme:
            a[np.arange(n), rng.integers(0, d, n)] = rng.choice([-90.0, 90.0], n)
    elif tag == "bernoulli_prob":
        a = rng.random((n, d))
        if extreme:
            a[np.arange(n), rng.integers(0, d, n)] = rng.choice([0.0, 1.0], n)
    else:
        a = rng.standard_normal((n, d)) * 3.0
        if extreme:
            a[np.arange(n), rng.integers(0, d, n)] = 88.0
    return x.astype(dtype), a.astype(dtype)


def _lp_mag(tag, x, a, d):
    """Sum of the absolute summands of each row's log-probability."""
    x, a = x.astype(np.float64), a.astype(np.float64)
    if tag == "gaussian":
        m, lv = a[:, :d], a[:, d:]
        return (0.92 + 0.5 * np.abs(lv) + 0.5 * (x - m) ** 2 * np.exp(-lv)).sum(axis=1)
    if tag == "bernoulli_logit":
        return (np.abs(x * a) + np.logaddexp(0.0, a)).sum(axis=1)
    if tag == "bernoulli_prob":
        return np.full(x.shape[0], 0.0)
    return (np.abs(a) + np.exp(a) * x).sum(axis=1)


def _grad_mag(tag, x, a, d, scale):
    """Elementwise bound on the absolute summands of each gradient entry."""
    x, a = x.astype(np.float64), a.astype(np.float64)
    if tag == "gaussian":
        m, lv = a[:, :d], a[:, d:]
        rv = np.abs(x - m) * np.exp(-lv)
        return scale * np.concatenate([rv, 0.5 + 0.5 * np.abs(x - m) * rv], axis=1)
    if tag == "bernoulli_logit":
        return scale * (1.0 + np.abs(x))
    if tag == "bernoulli_prob":
        return scale * (x / np.maximum(a, 1e-12) + (1 - x) / np.maximum(1 - a, 1e-12))
    return scale * (np.exp(a) * x + 1.0)


@overflow_ok
@settings(max_examples=16)
@given(tag=st.sampled_from(sorted(CPU)), dtype=dtypes, n=rows, d=cols, seed=seeds, extreme=st.booleans(),
       scale=st.floats(0.05, 2.0))
def test_log_prob_kernels_match_cpu(tag, dtype, n, d, seed, extreme, scale):
    cpu, gpu = CPU[tag], GPU[tag]
    x, a = _params(tag, n, d, dtype, np.random.default_rng(seed), extreme)
    out, grad = np.empty(n, dtype), np.empty_like(a)
    lmag, gmag = _lp_mag(tag, x, a, d), _grad_mag(tag, x, a, d, scale)
    dx, da = dev(x, a)
    g_out, g_grad = cuda.device_array(n, dtype), cuda.device_array_like(a)
    label = f"{tag}/{np.dtype(dtype).name}"

    cpu.log_prob(x, a, out)
    gpu.log_prob(dx, da, g_out)
    check(host(g_out), out, dtype, mag=lmag, what="log_prob " + label)
    cpu.nll_grad(x, a, scale, grad)
    gpu.nll_grad(dx, da, scale, g_grad)
    check(host(g_grad), grad, dtype, mag=gmag, what="nll_grad " + label)
    cpu.log_prob_and_grad(x, a, scale, out, grad)
    gpu.log_prob_and_grad(dx, da, scale, g_out, g_grad)
    check(host(g_out), out, dtype, mag=lmag, what="log_prob_and_grad log_prob " + label)
    check(host(g_grad), grad, dtype, mag=gmag, what="log_prob_and_grad grad " + label)


@overflow_ok
def test_gaussian_float32_rows_are_redone_in_float64():
    """``exp(-logvar)`` overflows float32 while the log-density and its gradient are finite
    float32 numbers: the redone rows hold them (not -inf), as on the CPU."""
    cpu, gpu = CPU["gaussian"], GPU["gaussian"]
    x, a = _params("gaussian", 3, 4, np.float32, np.random.default_rng(2), True)
    out, grad = np.empty(3, np.float32), np.empty_like(a)
    g_out, g_grad = cuda.device_array(3, np.float32), cuda.device_array_like(a)
    cpu.log_prob_and_grad(x, a, 0.5, out, grad)
    gpu.log_prob_and_grad(*dev(x, a), 0.5, g_out, g_grad)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(grad))
    check(host(g_out), out, np.float32, mag=_lp_mag("gaussian", x, a, 4), what="redo log_prob")
    check(host(g_grad), grad, np.float32, mag=_grad_mag("gaussian", x, a, 4, 0.5), what="redo grad")
    gpu.nll_grad(*dev(x, a), 0.5, g_grad)
    check(host(g_grad), grad, np.float32, mag=_grad_mag("gaussian", x, a, 4, 0.5), what="redo nll_grad")


@overflow_ok
@settings(max_examples=10)
@given(tag=st.sampled_from(sorted(CPU)), dtype=dtypes, n=rows, d=cols, seed=seeds)
def test_mean_and_sample_match_cpu(tag, dtype, n, d, seed):
    cpu, gpu = CPU[tag], GPU[tag]
    rng = np.random.default_rng(seed)
    _, a = _params(tag, n, d, dtype, rng, False)
    u = (rng.standard_normal((n, d)) if tag == "gaussian" else rng.random((n, d))).astype(dtype)
    out = np.empty((n, d), dtype)
    g = cuda.device_array((n, d), dtype)
    cpu.mean(a, out)
    gpu.mean(dev(a), g)
    check(host(g), out, dtype, mag=np.abs(out), what=f"mean {tag}")
    cpu.sample(a, u, out)
    gpu.sample(*dev(a, u), g)
    if tag == "gaussian":
        m, lv = a[:, :d].astype(np.float64), a[:, d:].astype(np.float64)
        mag = np.abs(m) + np.exp(0.5 * lv) * np.abs(u)
    else:
        mag = np.abs(out)
    check(host(g), out, dtype, mag=mag, what=f"sample {tag}")


def test_like_copies_the_definitions():
    for tag, cpu in CPU.items():
        gpu = GPU[tag]
        assert (gpu.tag, gpu.two_params, gpu.wide) == (cpu.tag, cpu.two_params, cpu.wide)
        assert set(gpu.python_kernels) == {"log_prob", "nll_grad", "log_prob_and_grad", "mean", "sample"}
