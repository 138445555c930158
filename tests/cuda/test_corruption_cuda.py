"""CUDA corruption twins (:mod:`numba_ae.kernels.cuda.corruption`) against
:mod:`numba_ae.kernels.corruption`: the masks are exact, level boundaries included."""
import numpy as np
from cuda_elem_helpers import cols, dev, dtypes, host, rows, seeds
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import cuda

from numba_ae.kernels import corruption as cpu
from numba_ae.kernels.cuda import corruption as gpu

levels = st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 0.1, 0.3, 1.0 / 3.0, 0.5, 1.0]))


@settings(max_examples=12)
@given(dtype=dtypes, n=rows, k=cols, seed=seeds, level=levels, on_boundary=st.booleans())
def test_corrupt(dtype, n, k, seed, level, on_boundary):
    """``u`` equal to ``level`` rounded either way to the dtype (with ``on_boundary``) must
    compare as the CPU kernel's float64 comparison does."""
    r = np.random.default_rng(seed)
    x = r.standard_normal((n, k)).astype(dtype)
    u = r.random((n, k)).astype(dtype)
    if on_boundary:
        lo = dtype(level)
        near = [lo, np.nextafter(lo, dtype(-1.0)), np.nextafter(lo, dtype(2.0))]
        u.flat[r.integers(0, n * k, min(3, n * k))] = near[: min(3, n * k)]
    out = np.empty_like(x)
    cpu.corrupt(x, u, level, out)
    g = cuda.device_array_like(x)
    gpu.corrupt(*dev(x, u), level, g)
    assert np.array_equal(host(g), out)


@settings(max_examples=10)
@given(dtype=dtypes, n=rows, k=cols, seed=seeds, level=levels, extra=st.integers(0, 3))
def test_corrupt_bits(dtype, n, k, seed, level, extra):
    """``bits`` may be longer than ``n * k`` (row-major use of the first words); words at the
    threshold and just below it included."""
    r = np.random.default_rng(seed)
    x = r.standard_normal((n, k)).astype(dtype)
    bits = r.integers(0, 2 ** 32, n * k + extra, dtype=np.uint32)
    th = gpu.bits_threshold(level)
    assert th == cpu.bits_threshold(level)
    edge = [w for w in (th, th - 1) if 0 <= w < 2 ** 32]
    bits[: len(edge)] = edge[: n * k + extra]
    out = np.empty_like(x)
    cpu.corrupt_bits(x, bits, th, out)
    g = cuda.device_array_like(x)
    gpu.corrupt_bits(*dev(x, bits), th, g)
    assert np.array_equal(host(g), out)
