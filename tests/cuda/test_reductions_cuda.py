"""Device reductions (:mod:`numba_ae.kernels.cuda.reductions`): float64 means and row sums
against NumPy in float64, deterministic across calls, and the block-level helpers on rows
wider than a block."""
import math

import numpy as np
from cuda_elem_helpers import RTOL, check, cols, dev, dtypes, host, rows, seeds
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import cuda

from numba_ae.kernels.cuda import _launch, reductions


@settings(max_examples=10)
@given(dtype=dtypes, n=st.integers(1, 60), seed=seeds)
def test_mean(dtype, n, seed):
    v = (np.random.default_rng(seed).standard_normal(n) * 10.0).astype(dtype)
    dv = dev(v)
    before = _launch.launches()
    got = reductions.mean(dv)
    assert _launch.launches() - before == 1
    assert isinstance(got, float)
    want = math.fsum(v.astype(np.float64)) / n
    assert abs(got - want) <= RTOL[np.dtype(np.float64)] * float(np.mean(np.abs(v.astype(np.float64))))
    assert reductions.mean(dv) == got


def test_mean_of_an_empty_vector_is_nan():
    assert math.isnan(reductions.mean(cuda.device_array(0, np.float64)))


def test_mean_strides_past_the_grid(monkeypatch):
    monkeypatch.setattr(_launch, "MAX_BLOCKS_1D", 2)
    v = np.arange(1.0, 101.0)
    assert reductions.mean(dev(v)) == 50.5


@settings(max_examples=8)
@given(dtype=dtypes, n=rows, k=cols, seed=seeds)
def test_row_sums(dtype, n, k, seed):
    a = np.random.default_rng(seed).standard_normal((n, k)).astype(dtype)
    out = cuda.device_array(n, np.float64)
    reductions.row_sums(dev(a), out)
    a64 = a.astype(np.float64)
    check(host(out), a64.sum(axis=1), np.float64, mag=np.abs(a64).sum(axis=1), what="row_sums")


def test_threads_for_is_a_power_of_two_in_range():
    for n in range(0, 600, 7):
        t = reductions.threads_for(n)
        assert t & (t - 1) == 0
        assert reductions.MIN_THREADS <= t <= reductions.CAP_THREADS
        assert t >= min(n, reductions.CAP_THREADS)
