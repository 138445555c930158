"""The CUDA twins of the categorical kernels (``numba_ae.kernels.cuda.categorical``)
against the CPU kernels (``numba_ae.kernels.categorical``), on a GPU or under the
simulator: float64 to 1e-10 and float32 to 1e-5 relative, on Hypothesis-chosen tiny
shapes (1-9 rows, 1-7 classes) with logits up to |1e4|."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numba import cuda

from numba_ae.kernels import categorical as cpu
from numba_ae.kernels.cuda import categorical as gpu

SCALE = 0.37
#: (rtol, atol) per dtype; the atol only covers results that underflow towards subnormals
TOL = {np.float64: (1e-10, 1e-300), np.float32: (1e-5, 1e-35)}


@st.composite
def problems(draw):
    """(x one-hot [n, d], logits a [n, d], uniforms u [n, d], dtype)."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    n, d = draw(st.integers(1, 9)), draw(st.integers(1, 7))
    mag = draw(st.sampled_from([1.0, 30.0, 1e4]))
    a = draw(arrays(np.float64, (n, d), elements=st.floats(-1.0, 1.0, allow_nan=False))) * mag
    hot = draw(arrays(np.int64, (n,), elements=st.integers(0, d - 1)))
    u = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1))).random((n, d))
    return np.eye(d)[hot].astype(dtype), a.astype(dtype), u.astype(dtype), dtype


def on_device(*arrays_):
    return [cuda.to_device(np.ascontiguousarray(v)) for v in arrays_]


def close(got, want, dtype, what):
    rtol, atol = TOL[dtype]
    assert got.dtype == dtype, what
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=what)


SET = settings(max_examples=30, deadline=None)


@SET
@given(problems())
def test_log_prob_nll_grad_and_fused_match_the_cpu(p):
    x, a, _, dtype = p
    n, d = x.shape
    out, grad = np.full(n, np.nan, dtype), np.full((n, d), np.nan, dtype)
    cpu.log_prob(x, a, out)
    cpu.nll_grad(x, a, SCALE, grad)

    dx, da = on_device(x, a)
    dout, dgrad = cuda.device_array(n, dtype), cuda.device_array((n, d), dtype)
    gpu.log_prob(dx, da, dout)
    close(dout.copy_to_host(), out, dtype, "log_prob")
    gpu.nll_grad(dx, da, SCALE, dgrad)
    close(dgrad.copy_to_host(), grad, dtype, "nll_grad")

    dout2, dgrad2 = cuda.device_array(n, dtype), cuda.device_array((n, d), dtype)
    gpu.log_prob_and_grad(dx, da, SCALE, dout2, dgrad2)
    close(dout2.copy_to_host(), out, dtype, "log_prob_and_grad: log_prob")
    close(dgrad2.copy_to_host(), grad, dtype, "log_prob_and_grad: grad")
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(grad))


@SET
@given(problems())
def test_mean_and_sample_match_the_cpu(p):
    _, a, u, dtype = p
    n, d = a.shape
    mean, samp = np.full((n, d), np.nan, dtype), np.full((n, d), np.nan, dtype)
    cpu.mean(a, mean)
    cpu.sample(a, u, samp)

    da, du = on_device(a, u)
    dmean, dsamp = cuda.device_array((n, d), dtype), cuda.device_array((n, d), dtype)
    gpu.mean(da, dmean)
    close(dmean.copy_to_host(), mean, dtype, "mean")
    gpu.sample(da, du, dsamp)
    got = dsamp.copy_to_host()
    np.testing.assert_array_equal(got.sum(axis=1), np.ones(n))
    assert set(np.unique(got)) <= {0.0, 1.0}
    # the Gumbel-max winner is the same class, unless the two best keys are so close that
    # the targets' log functions (a few ulp apart) may order them differently
    keys = a.astype(np.float64) - np.log(-np.log(u.astype(np.float64)))
    top2 = np.sort(keys, axis=1)[:, -2:] if d > 1 else np.concatenate([keys - 1.0, keys], axis=1)
    near_tie = (top2[:, 1] - top2[:, 0]) <= 1e-4 * np.maximum(1.0, np.abs(top2[:, 1]))
    same = np.all(got == samp, axis=1)
    assert np.all(same | near_tie), (got, samp)


def test_empty_batch_launches_nothing_and_wide_batch_covers_every_row():
    rng = np.random.default_rng(5)
    x0, a0 = np.zeros((0, 3)), np.zeros((0, 3))
    out0 = cuda.device_array(0)
    gpu.log_prob(*on_device(x0, a0), out0)  # no launch, no error
    # more rows than one block of a small launch: every row written
    n, d = 70, 3
    a = rng.normal(size=(n, d))
    x = np.eye(d)[rng.integers(0, d, n)]
    out = np.full(n, np.nan)
    cpu.log_prob(x, a, out)
    dout = cuda.to_device(np.full(n, np.nan))
    gpu.log_prob(*on_device(x, a), dout)
    np.testing.assert_allclose(dout.copy_to_host(), out, rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scale_is_passed_in_the_arrays_dtype(dtype):
    x = np.eye(3, dtype=dtype)
    a = np.arange(9, dtype=dtype).reshape(3, 3)
    want = np.empty((3, 3), dtype)
    cpu.nll_grad(x, a, 2.5, want)
    got = cuda.device_array((3, 3), dtype)
    gpu.nll_grad(*on_device(x, a), 2.5, got)
    close(got.copy_to_host(), want, dtype, "nll_grad, scale 2.5")
