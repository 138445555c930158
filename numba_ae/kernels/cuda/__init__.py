"""CUDA twins of the CPU kernels (numba-cuda).

Importing this package imports ``numba.cuda``; nothing else in ``numba_ae`` imports it
at import time, so ``import numba_ae`` stays free of GPU libraries until a CUDA network
is asked for (``MultiLayerNetwork(conf, device="cuda")``).

Layout: one module per CPU kernel module, same function names and positional signatures
(``kernels/dense.py`` <-> ``kernels/cuda/dense.py``, ...), taking numba device arrays and
writing into preallocated device outputs on the default stream, with no host
synchronisation except where the CPU twin returns a host value (``all_finite``,
``regularization_score``).  Per-activation kernels are indexed the same way
(``dense.dense_forward[act](...)``) and compile lazily per activation, user-registered
activations included: the scalar definitions are plain Numba functions that the CUDA
target compiles too.  :mod:`._fastmath` gives the target-neutral elementary functions of
:mod:`numba_ae.kernels.fastmath` their CUDA implementations.

Tests run every twin against its CPU kernel, on a GPU or under the simulator
(``NUMBA_ENABLE_CUDASIM=1``).
"""
from . import _fastmath
