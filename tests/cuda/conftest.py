"""Setup of the CUDA tests: they run on a real GPU or under the simulator
(``NUMBA_ENABLE_CUDASIM=1``); ``tests/conftest.py`` leaves this folder out otherwise.

Tests marked ``@pytest.mark.gpu`` need real hardware (real shapes, timing-free launch
counts) and are skipped with that reason under the simulator.
"""
import os

import pytest

SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
os.environ.setdefault("NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS", "0")


def pytest_collection_modifyitems(config, items):
    if not SIMULATOR:
        return
    skip = pytest.mark.skip(reason="needs a real NVIDIA GPU (running under the CUDA simulator)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
