"""Bernoulli reconstruction distribution: independent binary columns.

With the ``sigmoid`` activation (the default) the decoder outputs logits and every
quantity is computed from them in the stable form ``-log p = softplus(z) - x z``
(finite for logits of any size); with ``hardsigmoid`` the activation gives the
probabilities directly and their logs are clamped at ``EPS``.  Other activations
cannot give probabilities and are rejected.
"""
import math

import numpy as np

from .._serial import config_dataclass, set_field
from ..kernels.specialize import scalar
from ..kernels.fastmath import fexp, flog1p, sigmoid
from ..registries import activation_name
from ..validation import check_choice
from .base import Distribution, ElementKernels, ReconstructionDistribution

#: Lower clamp for the arguments of ``log`` and for denominators (probability form).
EPS = 1e-12
_LOG_EPS = math.log(EPS)


@config_dataclass
class BernoulliReconstructionDistribution(ReconstructionDistribution):
    """Independent Bernoullis; ``sigmoid`` (default, stable logit form) or ``hardsigmoid``.

    DL4J: ``BernoulliReconstructionDistribution(Activation.X)``."""

    activation: str = "sigmoid"

    def __post_init__(self):
        set_field(self, "activation",
                  activation_name(self.activation, "BernoulliReconstructionDistribution.activation"))
        check_choice(self.activation, "activation", "BernoulliReconstructionDistribution",
                     ("sigmoid", "hardsigmoid"),
                     expected="'sigmoid' or 'hardsigmoid' (it must give probabilities in [0, 1])")


# ---- logits (sigmoid) ---------------------------------------------------------------------------

@scalar
def _logit_element(x, z, unused, sc):
    # one exp(-|z|) serves softplus(z) and sigmoid(z)
    t = type(z)
    zero, one = t(0.0), t(1.0)
    e = fexp(-abs(z))
    r = one / (one + e)
    sig = r if z >= zero else e * r
    return x * z - (max(z, zero) + flog1p(e)), (sig - x) * sc, zero


@scalar
def _logit_mean(z, unused):
    return sigmoid(z)


@scalar
def _logit_sample(z, unused, u):
    t = type(z)
    return t(1.0) if u < sigmoid(z) else t(0.0)


# ---- probabilities (hardsigmoid) -------------------------------------------------------------------

@scalar
def _prob_element(x, p, unused, sc):
    pv, xv = np.float64(p), np.float64(x)
    lp = math.log(pv) if pv > EPS else _LOG_EPS
    lq = math.log1p(-pv) if 1.0 - pv > EPS else _LOG_EPS
    g = (-xv / max(pv, EPS) + (1.0 - xv) / max(1.0 - pv, EPS)) * np.float64(sc)
    return xv * lp + (1.0 - xv) * lq, g, 0.0


@scalar
def _prob_mean(p, unused):
    return p


@scalar
def _prob_sample(p, unused, u):
    t = type(p)
    return t(1.0) if u < p else t(0.0)


LOGIT_KERNELS = ElementKernels("bernoulli_logit", _logit_element, _logit_mean, _logit_sample)
PROB_KERNELS = ElementKernels("bernoulli_prob", _prob_element, _prob_mean, _prob_sample, wide=True)


class Bernoulli(Distribution):
    """Runtime Bernoulli p(x|z): logits ``pre`` (sigmoid) or probabilities ``act(pre)``."""

    def __init__(self, conf, dtype):
        super().__init__(conf, dtype)
        self.logits = conf.activation == "sigmoid"
        self.kernels = LOGIT_KERNELS if self.logits else PROB_KERNELS

    def check_data(self, x, name="x"):
        if x.size and (np.min(x) < 0.0 or np.max(x) > 1.0):
            raise ValueError(f"'{name}' must lie in [0, 1] for a BernoulliReconstructionDistribution; "
                             f"got values in [{np.min(x):g}, {np.max(x):g}]")

    def _params(self, pre):
        return pre if self.logits else self._activated(pre)
