"""Name registries: activation and loss names to kernel codes.

Names are lower-case ND4J names (``"relu"``, ``"leakyrelu"``, ``"xent"``,
``"negativeloglikelihood"``); ``get_*`` also accepts upper case and a few
common aliases, and raises ``ValueError`` listing the valid names.
"""
from .kernels import activations as _act
from .kernels import losses as _loss

ACTIVATIONS = {name: code for code, name in enumerate(_act.NAMES)}
LOSSES = {name: code for code, name in enumerate(_loss.NAMES)}

_ACTIVATION_ALIASES = {"linear": "identity", "leaky_relu": "leakyrelu", "hard_sigmoid": "hardsigmoid",
                       "hard_tanh": "hardtanh", "logistic": "sigmoid"}
_LOSS_ALIASES = {"binary_crossentropy": "xent", "binaryxent": "xent", "nll": "negativeloglikelihood",
                 "categorical_crossentropy": "mcxent", "squared_loss": "l2", "mean_squared_error": "mse"}


def _lookup(kind, table, aliases, name, field):
    if not isinstance(name, str):
        raise TypeError(f"'{field}' must be a {kind} name (str); got {type(name).__name__} {name!r}")
    key = name.lower()
    key = aliases.get(key, key)
    if key not in table:
        raise ValueError(f"'{field}' must be one of {sorted(table)}; got {name!r}")
    return key


def activation_name(name, field="activation"):
    """Canonical activation name for ``name`` (case-insensitive, aliases allowed)."""
    return _lookup("activation", ACTIVATIONS, _ACTIVATION_ALIASES, name, field)


def activation_code(name, field="activation"):
    """Kernel code of activation ``name``."""
    return ACTIVATIONS[activation_name(name, field)]


def loss_name(name, field="loss"):
    """Canonical loss name for ``name`` (case-insensitive, aliases allowed)."""
    return _lookup("loss", LOSSES, _LOSS_ALIASES, name, field)


def loss_code(name, field="loss"):
    """Kernel code of loss ``name``."""
    return LOSSES[loss_name(name, field)]
