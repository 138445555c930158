"""Setup of the CUDA tests: they run on a real GPU or under the simulator
(``NUMBA_ENABLE_CUDASIM=1``); ``tests/conftest.py`` leaves this folder out otherwise.

Tests marked ``@pytest.mark.gpu`` need real hardware (real shapes, timing-free launch
counts) and are skipped with that reason under the simulator.
"""
import os
import sys
import threading
import traceback

import numpy as np
import pytest

SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
os.environ.setdefault("NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS", "0")


def _lock_simulator_shared_arrays():
    """Work around a race in numba-cuda's simulator (0.30): ``cuda.shared.array`` looks its
    block's array up by call site and creates it when missing, without a lock, so two threads
    of a block could each create their own "shared" array; a block reduction then read the
    other lanes' entries from uninitialised memory (seen once in CI as a wrong column sum of
    a 1x1 array, not reproducible).  The same lookup, under a lock."""
    from numba.core import types
    from numba.cuda.simulator import kernelapi
    from numba.np import numpy_support

    original = kernelapi.FakeCUDAShared.array
    lock = threading.Lock()

    def array(self, shape, dtype, alignment=None):
        if alignment is not None or shape == 0:
            return original(self, shape, dtype, alignment)
        if isinstance(dtype, types.Type):
            dtype = numpy_support.as_dtype(dtype)
        caller = traceback.extract_stack(sys._getframe())[-2][0:2]
        with lock:
            res = self._allocations.get(caller)
            if res is None:
                res = self._allocations[caller] = np.empty(shape, dtype)
        return res

    kernelapi.FakeCUDAShared.array = array


if SIMULATOR:
    _lock_simulator_shared_arrays()


def pytest_collection_modifyitems(config, items):
    if not SIMULATOR:
        return
    skip = pytest.mark.skip(reason="needs a real NVIDIA GPU (running under the CUDA simulator)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
