"""Denoising corruption mask kernel."""
from numba import njit


@njit(cache=True, error_model="numpy")
def corrupt(x, u, level, out):
    """Zero each input value independently with probability ``level``.

    Parameters
    ----------
    x : [n, k] clean input.
    u : [n, k] uniform draws in [0, 1) supplied by the caller.
    level : corruption probability in [0, 1].
    out : [n, k], overwritten with ``x`` where ``u >= level`` and 0 elsewhere
        (no rescaling, as DL4J).
    """
    n, k = x.shape
    for i in range(n):
        for j in range(k):
            out[i, j] = x[i, j] if u[i, j] >= level else 0.0
