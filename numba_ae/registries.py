"""Name registries: activation names to :class:`~numba_ae.kernels.activations.Activation`
objects (built-ins and user-registered ones), loss names to kernel codes.

Names are lower-case ND4J names (``"relu"``, ``"leakyrelu"``, ``"xent"``,
``"negativeloglikelihood"``); ``get_*`` also accepts upper case and a few
common aliases, and raises ``ValueError`` listing the valid names.
"""
from .kernels import activations as _act
from .kernels import losses as _loss

#: name -> Activation (live: includes activations added by :func:`register_activation`).
ACTIVATIONS = _act.REGISTRY
LOSSES = {name: code for code, name in enumerate(_loss.NAMES)}

_ACTIVATION_ALIASES = {"linear": "identity", "leaky_relu": "leakyrelu", "hard_sigmoid": "hardsigmoid",
                       "hard_tanh": "hardtanh", "logistic": "sigmoid"}
_LOSS_ALIASES = {"binary_crossentropy": "xent", "binaryxent": "xent", "nll": "negativeloglikelihood",
                 "categorical_crossentropy": "mcxent", "squared_loss": "l2", "mean_squared_error": "mse"}


def _lookup(kind, table, aliases, name, field, hint=""):
    if not isinstance(name, str):
        raise TypeError(f"'{field}' must be a {kind} name (str); got {type(name).__name__} {name!r}")
    key = name.lower()
    key = aliases.get(key, key)
    if key not in table:
        raise ValueError(f"'{field}' must be one of {sorted(table)}; got {name!r}{hint}")
    return key


def activation_name(name, field="activation"):
    """Canonical activation name for ``name`` (case-insensitive, aliases allowed)."""
    return _lookup("activation", ACTIVATIONS, _ACTIVATION_ALIASES, name, field,
                   hint=" (a user-defined activation must be registered first with "
                        "numba_ae.register_activation(name, forward, derivative))")


def activation(name, field="activation"):
    """The :class:`~numba_ae.kernels.activations.Activation` called ``name``."""
    return ACTIVATIONS[activation_name(name, field)]


def register_activation(name, forward, derivative, *, needs_pre=True, overwrite=False):
    """Register a user-defined elementwise activation under ``name``.

    ``forward(pre) -> out`` and ``derivative(pre, out) -> d out / d pre`` are scalar
    functions that Numba compiles in nopython mode (``@njit`` functions, or plain
    functions that are wrapped in ``njit``).  The name then works everywhere a built-in
    name does (Dense, Output, AutoEncoder, VAE hidden layers, ``pzx_activation``,
    reconstruction distributions) and round-trips through configs and model files;
    a process loading such a file must register the same name first.  Pass
    ``needs_pre=False`` when ``derivative`` reads only ``out``.  Kernels of a
    user-defined activation compile once per process (no on-disk cache).

    Examples
    --------
    >>> import math
    >>> from numba import njit
    >>> @njit
    ... def softsign(v): return v / (1.0 + abs(v))
    >>> @njit
    ... def softsign_d(pre, out): return 1.0 / (1.0 + abs(pre)) ** 2
    >>> register_activation("softsign", softsign, softsign_d)      # doctest: +SKIP
    """
    if isinstance(name, str) and name.lower() in _ACTIVATION_ALIASES:
        raise ValueError(f"'name' {name!r} is an alias of the built-in activation "
                         f"{_ACTIVATION_ALIASES[name.lower()]!r}")
    return _act.register(name, forward, derivative, needs_pre=needs_pre, overwrite=overwrite)


def unregister_activation(name):
    """Remove a user-defined activation registered with :func:`register_activation`."""
    _act.unregister(name)


def loss_name(name, field="loss"):
    """Canonical loss name for ``name`` (case-insensitive, aliases allowed)."""
    return _lookup("loss", LOSSES, _LOSS_ALIASES, name, field)


def loss_code(name, field="loss"):
    """Kernel code of loss ``name``."""
    return LOSSES[loss_name(name, field)]
