"""A user activation (softsign) for the tests that check user-registered activations in the
CUDA twins and their PTX: ``register_activation(name, softsign, softsign_d)``, and
:func:`registered` to have it under a name for the duration of a test module."""
import contextlib

from numba import njit

from numba_ae import register_activation, unregister_activation


@njit
def softsign(v):
    return v / (type(v)(1.0) + abs(v))


@njit
def softsign_d(pre, out):
    d = type(pre)(1.0) + abs(pre)
    return type(pre)(1.0) / (d * d)


@contextlib.contextmanager
def registered(name):
    """Softsign registered as activation ``name`` inside the ``with`` block."""
    register_activation(name, softsign, softsign_d)
    try:
        yield name
    finally:
        unregister_activation(name)
