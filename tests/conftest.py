"""Shared pytest setup of the test suite.

* ``tests/`` is importable: the helper modules (``harness``, ``reference``,
  ``strategies``, ``vae_reference``, ``io_helpers``) are imported as top-level modules
  (pytest's default rootdir/prepend import mode does this too; this keeps it working
  under ``--import-mode=importlib``).
* Hypothesis profiles: ``default`` (no deadline: the first call of a test compiles Numba
  kernels) and ``thorough`` (5x the examples of the default where a test does not fix
  its own ``max_examples``); select with ``HYPOTHESIS_PROFILE=thorough``.
* ``tests/cuda/`` (CUDA kernels against their CPU twins, CUDA networks) is collected only
  when its kernels can run: under the simulator (``NUMBA_ENABLE_CUDASIM=1``, CI's second
  pytest invocation, see README) or on a machine with a GPU.  The CPU invocation leaves
  it out rather than reporting it as skipped.
* Fixtures: ``rng``, a seeded NumPy generator (the same stream in every test).
"""
import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)



def _cuda_runnable():
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return True
    try:
        from numba import cuda
        return cuda.is_available()
    except Exception:  # numba-cuda missing or broken: no CUDA tests
        return False


if not _cuda_runnable():
    collect_ignore = ["cuda"]

settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", parent=settings.get_profile("default"), max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def rng():
    """A seeded ``numpy.random.Generator`` (seed 0)."""
    return np.random.default_rng(0)
