"""Helpers of the CUDA element-kernel tests (``tests/cuda/test_*_cuda.py``): device copies,
tiny hypothesis shapes and the oracle comparison of a twin's result with its CPU kernel.

Tolerances: float64 to 1e-10, float32 to 1e-5, relative to a magnitude: the value itself
by default, the largest ``|value|`` of the row for 2-D arrays (a gradient row is as exact
as its largest entry), or a caller's bound on the summands of a row sum (``mag``: a sum of
terms that cancel is only as exact as the terms).  Non-finite entries must match exactly
(same infinities, NaN where NaN).

Under the simulator, importing this module shortens the interpreter's thread switch
interval: the simulator runs every CUDA thread as a Python thread and its block manager
polls them, so each ``syncthreads`` costs a few switch intervals (5 ms by default); at
0.1 ms the reduction kernels run 3-5x faster.
"""
import os
import sys

import numpy as np
from hypothesis import strategies as st
from numba import cuda

if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
    sys.setswitchinterval(1e-4)

#: Relative tolerance per dtype.
RTOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-5}

dtypes = st.sampled_from([np.float64, np.float32])
rows = st.integers(1, 9)
cols = st.integers(1, 20)
seeds = st.integers(0, 2 ** 32 - 1)


def dev(*arrays):
    """Device copies of host arrays (one array: the copy, several: a list)."""
    out = [cuda.to_device(np.ascontiguousarray(a)) for a in arrays]
    return out[0] if len(out) == 1 else out


def host(a):
    """Host copy of a device array."""
    return a.copy_to_host()


def check(got, want, dtype, mag=None, what=""):
    """Assert ``got`` (host copy of a twin's output) matches the CPU kernel's ``want``.

    Parameters
    ----------
    got, want : arrays of one shape.
    dtype : the computation's dtype (selects the tolerance).
    mag : optional array broadcastable to ``want``: the error scale (see the module docstring).
    what : label for the failure message.
    """
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    fin = np.isfinite(want)
    assert np.array_equal(np.isnan(got), np.isnan(want)), (what, "NaN positions", got, want)
    assert np.array_equal(got[~fin & ~np.isnan(want)], want[~fin & ~np.isnan(want)]), (what, "infinities", got, want)
    assert np.all(np.isfinite(got[fin])), (what, "non-finite where the CPU kernel is finite", got, want)
    if mag is None:
        if want.ndim == 2:
            w = np.where(fin, np.abs(want), 0.0)
            mag = np.max(w, axis=1, keepdims=True) if want.shape[1] else 0.0
        else:
            mag = np.abs(want)
    mag = np.broadcast_to(np.asarray(mag, dtype=np.float64), want.shape)
    rtol = RTOL[np.dtype(dtype)]
    err = np.abs(got[fin] - want[fin])
    bound = rtol * np.maximum(mag[fin], np.abs(want[fin])) + 1e-300
    assert np.all(err <= bound), (what, "max error / bound", float(np.max(err / bound)), got, want)
