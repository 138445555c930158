"""Where a network computes: the CPU (``@njit`` kernels over NumPy arrays) or an NVIDIA
GPU (``@cuda.jit`` twins over device arrays).

A backend is a namespace the layers, distributions and the network compute through, so
each layer's math is written once for both devices:

* kernel modules with the same function names on both devices: ``dense``, ``losses``,
  ``vae``, ``corruption``, ``updaters``, ``dropout``, ``gradient_normalization`` and
  ``activations`` (``map_[act]``, ``backward[act]``, ...);
* array helpers: ``empty``, ``zeros``, ``from_host`` (the one host-to-device copy of a
  minibatch), ``to_host``, ``copy``, ``fill``, ``add``, ``negate``, ``mean`` (float64
  sum of a vector, returned to the host), ``standard_normal`` (draws from the network's
  host generator, so a CUDA network sees the same noise as a CPU one).

:func:`get_backend` turns ``device="cpu" | "cuda" | "auto"`` into a backend.
``numba.cuda`` is imported only when a CUDA backend is asked for.
"""
import os

import numpy as np

from .kernels import corruption as _kc
from .kernels import dense as _kd
from .kernels import dropout as _kdrop
from .kernels import gradient_normalization as _kgn
from .kernels import losses as _kl
from .kernels import updaters as _ku
from .kernels import vae as _kv
from .kernels.activations import get as _get_activation

DEVICES = ("cpu", "cuda", "auto")


class DeviceUnavailableError(RuntimeError):
    """``device="cuda"`` was asked for where no usable CUDA device is (the message says why)."""


class _ActivationKernels:
    """``kernels[act]`` -> the CPU array kernel ``attr`` of activation ``act``."""

    def __init__(self, attr):
        self.attr = attr

    def __getitem__(self, act):
        return getattr(_get_activation(act) if isinstance(act, str) else act, self.attr)


class _CpuActivations:
    map_ = _ActivationKernels("map")
    bias_map = _ActivationKernels("bias_map")
    bias_keep_z = _ActivationKernels("bias_keep_z")
    backward = _ActivationKernels("backward")


class CpuBackend:
    """NumPy arrays and the ``@njit`` kernels."""

    name = "cpu"
    is_cuda = False
    simulator = False
    dense, losses, vae, corruption, updaters = _kd, _kl, _kv, _kc, _ku
    dropout, gradient_normalization = _kdrop, _kgn
    activations = _CpuActivations

    @staticmethod
    def is_device_array(a):
        return False

    @staticmethod
    def empty(shape, dtype):
        return np.empty(shape, dtype=dtype)

    @staticmethod
    def zeros(shape, dtype):
        return np.zeros(shape, dtype=dtype)

    @staticmethod
    def from_host(a, dtype=None):
        return np.ascontiguousarray(a, dtype=dtype)

    @staticmethod
    def to_host(a):
        return np.asarray(a)

    @staticmethod
    def copy(dst, src):
        dst[...] = src

    @staticmethod
    def fill(a, value):
        a[...] = value

    @staticmethod
    def add(a, b):
        a += b

    @staticmethod
    def negate(a):
        np.negative(a, out=a)

    @staticmethod
    def mean(v):
        return float(np.mean(v, dtype=np.float64))

    @staticmethod
    def standard_normal(rng, out):
        rng.standard_normal(out=out, dtype=out.dtype)

    def element_kernels(self, kernels):
        """The kernels of a distribution for this device (``ElementKernels``, or any object
        with the same five kernels; a ``cuda_twin()`` attribute gives its CUDA twin)."""
        return kernels

    def describe(self):
        return "cpu"

    def __reduce__(self):
        return get_backend, ("cpu",)

    def __repr__(self):
        return "CpuBackend()"


CPU = CpuBackend()


class CudaBackend:
    """numba-cuda device arrays and the ``@cuda.jit`` twins (:mod:`numba_ae.kernels.cuda`)."""

    name = "cuda"
    is_cuda = True

    def __init__(self):
        from numba import cuda

        from .kernels import cuda as kc
        from .kernels.cuda import activations, arrays, corruption, dense, dropout, gradient_normalization, losses
        from .kernels.cuda import reductions, updaters, vae

        self._cuda = cuda
        self._arrays = arrays
        self._reductions = reductions
        self.simulator = bool(getattr(cuda, "simulator_enabled", False)) or \
            os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
        self.dense, self.losses, self.vae, self.corruption, self.updaters = dense, losses, vae, corruption, updaters
        self.activations = activations
        self.dropout, self.gradient_normalization = dropout, gradient_normalization
        self._kc = kc
        self._element_cache = {}

    @staticmethod
    def is_device_array(a):
        # numba device arrays (and the simulator's) copy to the host; NumPy arrays do not
        return not isinstance(a, np.ndarray) and hasattr(a, "copy_to_host")

    def empty(self, shape, dtype):
        return self._cuda.device_array(shape, dtype=dtype)

    def zeros(self, shape, dtype):
        a = self._cuda.device_array(shape, dtype=dtype)
        self._arrays.fill(a, 0.0)
        return a

    def from_host(self, a, dtype=None):
        if self.is_device_array(a):
            return a
        return self._cuda.to_device(np.ascontiguousarray(a, dtype=dtype))

    def to_host(self, a):
        if self.is_device_array(a):
            return a.copy_to_host()
        return np.asarray(a)

    def copy(self, dst, src):
        if self.is_device_array(src):
            self._arrays.copy(src, dst)
        else:
            dst.copy_to_device(np.ascontiguousarray(src, dtype=dst.dtype))

    def fill(self, a, value):
        self._arrays.fill(a, value)

    def add(self, a, b):
        self._arrays.add(a, b)

    def negate(self, a):
        self._arrays.negate(a)

    def mean(self, v):
        return self._reductions.mean(v)

    def standard_normal(self, rng, out):
        host = rng.standard_normal(out.shape, dtype=out.dtype)
        out.copy_to_device(host)

    def element_kernels(self, kernels):
        k = self._element_cache.get(id(kernels))
        if k is None:
            from .kernels.cuda.distributions import CudaElementKernels
            twin = getattr(kernels, "cuda_twin", None)   # kernels that are not ElementKernels
            k = self._element_cache[id(kernels)] = (kernels, twin() if twin is not None
                                                    else CudaElementKernels.like(kernels))
        return k[1]

    def describe(self):
        if self.simulator:
            return "cuda (numba CUDA simulator)"
        dev = self._cuda.get_current_device()
        name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
        return f"cuda ({name})"

    def __reduce__(self):
        return get_backend, ("cuda",)

    def __repr__(self):
        return "CudaBackend()"


_CUDA = []


def _cuda_problem():
    """Why no CUDA backend can be made here (None when one can)."""
    try:
        from numba import cuda
    except ImportError as e:  # pragma: no cover - numba without its cuda module
        return f"numba.cuda cannot be imported ({e})"
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return None
    try:
        import numba_cuda  # noqa: F401
    except ImportError:
        return ("the numba-cuda package is not installed: pip install 'numba_ae[cuda]' "
                "(or 'numba_ae[cuda12]' for CUDA 12 drivers)")
    try:
        if not cuda.is_available():
            return ("no usable NVIDIA GPU or driver was found (numba.cuda.is_available() is False; "
                    "numba.cuda.detect() tells more); set NUMBA_ENABLE_CUDASIM=1 to run the CUDA code "
                    "on the CPU simulator for testing")
    except Exception as e:  # pragma: no cover - broken driver installs
        return f"the CUDA driver failed to initialise ({e})"
    return None


def cuda_available():
    """True when ``device="auto"`` would pick CUDA: a real GPU (never the simulator)."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return False
    return _cuda_problem() is None


def get_backend(device="cpu"):
    """The backend for ``device`` (``"cpu"``, ``"cuda"``, ``"auto"``, or a backend).

    ``"auto"`` is CUDA when a real GPU is usable, else the CPU.  ``"cuda"`` without a usable
    device raises :class:`DeviceUnavailableError` saying why; under the simulator
    (``NUMBA_ENABLE_CUDASIM=1``) ``"cuda"`` runs the CUDA code on the CPU (slowly: for tests).
    """
    if isinstance(device, (CpuBackend, CudaBackend)):
        return device
    if not isinstance(device, str):
        raise TypeError(f"'device' must be one of {DEVICES}; got {type(device).__name__}")
    if device not in DEVICES:
        raise ValueError(f"'device' must be one of {DEVICES}; got {device!r}")
    if device == "cpu" or (device == "auto" and not cuda_available()):
        return CPU
    if not _CUDA:
        problem = _cuda_problem()
        if problem is not None:
            raise DeviceUnavailableError(f"device='cuda' is not usable here: {problem}")
        _CUDA.append(CudaBackend())
    return _CUDA[0]
