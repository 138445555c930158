"""Updaters (optimizers), ND4J semantics.

An updater config is a small dataclass holding its hyper-parameters.  It
knows the names of its per-parameter state arrays and applies one step to a
flat parameter vector through a kernel in :mod:`numba_ae.kernels.updaters`.
The network keeps the state (one flat array per state name and layer, so it
can be saved per parameter) and the step counter ``t`` (from 1).

Defaults are ND4J's: Sgd(1e-3), Adam(1e-3, 0.9, 0.999, 1e-8),
Nesterovs(0.1, momentum 0.9), RmsProp(0.1, decay 0.95, eps 1e-8),
AdaGrad(0.1, eps 1e-6).
"""
import math
import numpy as np

from ._serial import ConfigBase, config_dataclass, set_field
from .kernels import updaters as _k
from .validation import check_choice, check_number


class Updater(ConfigBase):
    """Base class: subclasses define ``state_names`` and ``step``.

    ``state_names`` are the per-parameter state arrays (also their dataset names
    in model files); ``non_negative_states`` those of them that can only be >= 0
    (a model file with a negative value there is refused: it would give NaN).
    """

    state_names = ()
    non_negative_states = ()

    def init_state(self, n, dtype):
        """Zero state arrays ``{name: [n]}``."""
        return {name: np.zeros(n, dtype=dtype) for name in self.state_names}

    def step(self, p, g, state, t, kernels=_k):  # pragma: no cover - abstract
        """One step in place over the flat parameter slice ``p`` with gradient ``g`` and
        state arrays ``state`` (step number ``t`` >= 1); ``kernels`` is the device's
        updater kernel module (``numba_ae.kernels.updaters`` or its CUDA twin)."""
        raise NotImplementedError


@config_dataclass
class Sgd(Updater):
    """Plain SGD: ``p -= learning_rate * g``."""

    learning_rate: float = 1e-3

    def __post_init__(self):
        set_field(self, "learning_rate", check_number(self.learning_rate, "learning_rate", "Sgd", low=0.0))

    def step(self, p, g, state, t, kernels=_k):
        kernels.sgd_step(p, g, self.learning_rate)


@config_dataclass
class Adam(Updater):
    """Adam as ND4J: bias correction folded into the step size."""

    learning_rate: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    state_names = ("m", "v")
    non_negative_states = ("v",)

    def __post_init__(self):
        set_field(self, "learning_rate", check_number(self.learning_rate, "learning_rate", "Adam", low=0.0))
        set_field(self, "beta1", check_number(self.beta1, "beta1", "Adam", low=0.0, high=1.0, high_open=True))
        set_field(self, "beta2", check_number(self.beta2, "beta2", "Adam", low=0.0, high=1.0, high_open=True))
        set_field(self, "epsilon", check_number(self.epsilon, "epsilon", "Adam", low=0.0, low_open=True))

    def step(self, p, g, state, t, kernels=_k):
        alpha = self.learning_rate * math.sqrt(1.0 - self.beta2 ** t) / (1.0 - self.beta1 ** t)
        c = p.dtype.type
        kernels.adam_step_coeffs(p, g, state["m"], state["v"], c(alpha), c(self.beta1), c(1.0 - self.beta1),
                            c(self.beta2), c(1.0 - self.beta2), c(self.epsilon))


@config_dataclass
class Nesterovs(Updater):
    """Nesterov momentum as ND4J."""

    learning_rate: float = 0.1
    momentum: float = 0.9
    state_names = ("v",)

    def __post_init__(self):
        set_field(self, "learning_rate", check_number(self.learning_rate, "learning_rate", "Nesterovs", low=0.0))
        set_field(self, "momentum", check_number(self.momentum, "momentum", "Nesterovs", low=0.0, high=1.0,
                                                 high_open=True))

    def step(self, p, g, state, t, kernels=_k):
        kernels.nesterovs_step(p, g, state["v"], self.learning_rate, self.momentum)


@config_dataclass
class RmsProp(Updater):
    """RMSProp as ND4J."""

    learning_rate: float = 0.1
    rms_decay: float = 0.95
    epsilon: float = 1e-8
    state_names = ("cache",)
    non_negative_states = ("cache",)

    def __post_init__(self):
        set_field(self, "learning_rate", check_number(self.learning_rate, "learning_rate", "RmsProp", low=0.0))
        set_field(self, "rms_decay", check_number(self.rms_decay, "rms_decay", "RmsProp", low=0.0, high=1.0))
        set_field(self, "epsilon", check_number(self.epsilon, "epsilon", "RmsProp", low=0.0, low_open=True))

    def step(self, p, g, state, t, kernels=_k):
        kernels.rmsprop_step(p, g, state["cache"], self.learning_rate, self.rms_decay, self.epsilon)


@config_dataclass
class AdaGrad(Updater):
    """AdaGrad as ND4J."""

    learning_rate: float = 0.1
    epsilon: float = 1e-6
    state_names = ("history",)
    non_negative_states = ("history",)

    def __post_init__(self):
        set_field(self, "learning_rate", check_number(self.learning_rate, "learning_rate", "AdaGrad", low=0.0))
        set_field(self, "epsilon", check_number(self.epsilon, "epsilon", "AdaGrad", low=0.0, low_open=True))

    def step(self, p, g, state, t, kernels=_k):
        kernels.adagrad_step(p, g, state["history"], self.learning_rate, self.epsilon)


UPDATERS = {cls.__name__.lower(): cls for cls in (Sgd, Adam, Nesterovs, RmsProp, AdaGrad)}


def get(updater, field="updater"):
    """An :class:`Updater` from an instance or a name (``"adam"`` -> ``Adam()``)."""
    if isinstance(updater, Updater):
        return updater
    name = check_choice(updater, field, None, sorted(UPDATERS), ignore_case=True,
                        expected=f"an Updater ({', '.join(c.__name__ for c in UPDATERS.values())}) "
                                 f"or one of the names {sorted(UPDATERS)}")
    return UPDATERS[name]()
