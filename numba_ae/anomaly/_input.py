"""Input checks of the anomaly detectors, with the messages scikit-learn's estimator
checks look for (the package itself never imports scikit-learn).

``X`` becomes a C-contiguous float64 matrix; anything else raises ``TypeError`` (not
numbers, sparse matrices) or ``ValueError`` (complex, not 2-D, empty, NaN/Inf, a feature
count other than the fitted one) naming the argument and the detector.
"""
import numbers
import sys

import numpy as np

__all__ = ["NotFittedError", "check_X", "check_fitted", "check_random_state_arg"]


class NotFittedError(ValueError, AttributeError):
    """A detector method that needs a fitted detector was called before ``fit`` (a
    ``ValueError`` and an ``AttributeError``, as scikit-learn's ``NotFittedError``).

    When scikit-learn is imported in the process, the error raised is also an instance of
    ``sklearn.exceptions.NotFittedError`` (a subclass of both is made then), so code that
    catches scikit-learn's error catches it too; ``import numba_ae`` never imports
    scikit-learn."""


_BOTH = {}


def _not_fitted_error():
    """:class:`NotFittedError`, or a subclass of it and of scikit-learn's NotFittedError when
    scikit-learn has been imported (it is not imported here)."""
    sk = sys.modules.get("sklearn.exceptions")
    base = getattr(sk, "NotFittedError", None)
    if base is None:
        return NotFittedError
    cls = _BOTH.get(base)
    if cls is None:
        cls = _BOTH[base] = type("NotFittedError", (NotFittedError, base), {"__module__": __name__})
    return cls


def _is_sparse(x):
    mod = type(x).__module__ or ""
    return mod.startswith("scipy.sparse") or (hasattr(x, "tocsr") and hasattr(x, "nnz"))


def check_X(X, owner, n_features=None, name="X"):
    """``X`` as a C-contiguous float64 array [n_samples, n_features] (never written to:
    no copy when it is one already).

    Parameters
    ----------
    X : array_like [n_samples, n_features]
        Real numbers (bool, int, float, or an object array of numbers), finite.
    owner : str
        The detector's class name, for the messages.
    n_features : int, optional
        The fitted feature count the columns must match.
    name : str, default "X"

    Raises
    ------
    TypeError
        Sparse input, or values that are not real numbers.
    ValueError
        Complex values, not 2-D, no samples or no features, NaN/Inf, or a column count
        other than ``n_features``.
    """
    if _is_sparse(X):
        raise TypeError(f"{owner}: sparse input is not supported for '{name}'; pass a dense array "
                        f"({name}.toarray())")
    arr = np.asarray(X)
    if arr.dtype.kind == "c":
        raise ValueError(f"{owner}: Complex data not supported in '{name}'; got dtype {arr.dtype}")
    if arr.dtype.kind not in "biuf":
        if arr.dtype.kind == "O":
            try:
                arr = arr.astype(np.float64)
            except (TypeError, ValueError) as e:
                raise TypeError(f"{owner}: '{name}' must hold real numbers: {e}") from None
        else:
            raise TypeError(f"{owner}: '{name}' must hold real numbers (bool, int or float); got dtype {arr.dtype}")
    if arr.ndim != 2:
        hint = (". Reshape your data either using X.reshape(-1, 1) if it has a single feature or "
                "X.reshape(1, -1) if it contains a single sample") if arr.ndim == 1 else ""
        raise ValueError(f"{owner}: '{name}' must be a 2-D array [n_samples, n_features]; got shape "
                         f"{arr.shape}{hint}")
    if arr.shape[0] == 0:
        raise ValueError(f"{owner}: '{name}' has 0 sample(s) (shape={arr.shape}) while a minimum of 1 is "
                         "required.")
    if arr.shape[1] == 0:
        raise ValueError(f"{owner}: '{name}' has 0 feature(s) (shape={arr.shape}) while a minimum of 1 is "
                         "required.")
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(f"X has {arr.shape[1]} features, but {owner} is expecting {n_features} features "
                         f"as input ('{name}' has the wrong column count)")
    out = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.isfinite(out).all():
        r, c = (int(v) for v in np.argwhere(~np.isfinite(out))[0])
        raise ValueError(f"{owner}: '{name}' contains NaN or inf values (first at row {r}, column {c}: "
                         f"{out[r, c]})")
    return out


def check_fitted(detector):
    """Raise :class:`NotFittedError` unless ``detector`` has been fitted."""
    if not hasattr(detector, "network_"):
        raise _not_fitted_error()(f"This {type(detector).__name__} instance is not fitted yet; call fit(X) before "
                             "using it")


def check_random_state_arg(random_state, owner):
    """The root seed (int) for ``random_state``: None (fresh entropy), an int >= 0, or a
    ``numpy.random.Generator`` / ``RandomState`` (one draw from it)."""
    if random_state is None:
        return int(np.random.SeedSequence().entropy % (2 ** 63))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2 ** 63))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2 ** 31 - 1))
    if isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral):
        raise TypeError(f"{owner}: 'random_state' must be None, an int >= 0, a numpy.random.Generator or a "
                        f"RandomState; got {random_state!r} ({type(random_state).__name__})")
    if int(random_state) < 0:
        raise ValueError(f"{owner}: 'random_state' must be None, an int >= 0, a numpy.random.Generator or a "
                         f"RandomState; got {random_state!r}")
    return int(random_state)
