"""Exponential reconstruction distribution: the decoder outputs ``gamma = log(lambda)``
per column; ``log p(x) = gamma - exp(gamma) x`` for ``x >= 0``.

Element math in float64 (``exp(gamma)`` overflows float32 past gamma ~ 88.7); at
``x = 0`` the ``exp(gamma) x`` term is exactly 0, so a large gamma there gives the
finite log-probability ``gamma``, not ``inf * 0``.
"""
import math

import numpy as np

from .._serial import config_dataclass, set_field
from ..kernels.specialize import scalar
from ..registries import activation_name
from .base import Distribution, ElementKernels, ReconstructionDistribution


@config_dataclass
class ExponentialReconstructionDistribution(ReconstructionDistribution):
    """Independent exponentials; the decoder outputs gamma = log(lambda).

    DL4J: ``ExponentialReconstructionDistribution(Activation.X)``."""

    activation: str = "identity"

    def __post_init__(self):
        set_field(self, "activation",
                  activation_name(self.activation, "ExponentialReconstructionDistribution.activation"))


@scalar
def _element(x, g, unused, sc):
    gv, xv = np.float64(g), np.float64(x)
    ex = math.exp(gv) * xv if xv != 0.0 else 0.0
    return gv - ex, (ex - 1.0) * np.float64(sc), 0.0


@scalar
def _mean(g, unused):
    return math.exp(-np.float64(g))


@scalar
def _sample(g, unused, u):
    # inversion: -log(1 - u) / lambda
    return -math.log1p(-np.float64(u)) * math.exp(-np.float64(g))


KERNELS = ElementKernels("exponential", _element, _mean, _sample, wide=True)


class Exponential(Distribution):
    """Runtime exponential p(x|z): parameter ``gamma = act(pre)``."""

    kernels = KERNELS

    def check_data(self, x, name="x"):
        if x.size and np.min(x) < 0.0:
            raise ValueError(f"'{name}' must be >= 0 for an ExponentialReconstructionDistribution; "
                             f"got a minimum of {np.min(x):g}")
