"""Input validation for feature and label matrices.

Every public entry point of ``numba_ae`` that accepts user data funnels it
through :func:`check_features` / :func:`check_labels`, so that bad input is
rejected early with a message that names the offending argument, says what was
expected and what was received.

Scalar arguments (``n_in``, ``n_out``, ``n_examples``) are checked by
:mod:`numba_ae.validation`, the package's one set of scalar checks.

This module depends on NumPy and :mod:`numba_ae.validation` only (it sits at
the bottom of the import graph).
"""

from __future__ import annotations

import numpy as np

from ..validation import check_int

__all__ = ["check_features", "check_labels"]


def _as_numeric_array(x, name):
    """Convert an array-like to an ndarray and check that it is real-numeric.

    Parameters
    ----------
    x : array_like
        Any shape.
    name : str
        Argument name used in error messages.

    Returns
    -------
    numpy.ndarray
        Same shape as ``x``; dtype kind is one of bool, int, uint or float.

    Raises
    ------
    TypeError
        If the data is not real-numeric (strings, objects, complex, None).
    ValueError
        If the data is ragged (rows of different lengths).
    """
    try:
        arr = np.asarray(x)
    except ValueError as exc:  # ragged nested sequences
        raise ValueError(
            f"'{name}' must be a rectangular numeric 2-D array; "
            f"could not convert it to an array ({exc})"
        ) from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"'{name}' must contain real numbers (bool, int or float); "
            f"got dtype {arr.dtype} (from {type(x).__name__})"
        )
    return arr


def _check_rank2(arr, name, what):
    """Check rank 2 and at least one row and one column.

    Parameters
    ----------
    arr : numpy.ndarray
        Any shape.
    name : str
        Argument name used in error messages.
    what : str
        Name of the second axis, e.g. ``"n_features"``.

    Raises
    ------
    ValueError
        If ``arr.ndim != 2`` or either dimension is zero.
    """
    if arr.ndim != 2:
        raise ValueError(
            f"'{name}' must be a 2-D array [n_examples, {what}]; "
            f"got shape {arr.shape} ({arr.ndim}-D)"
        )
    if arr.shape[0] == 0:
        raise ValueError(
            f"'{name}' must contain at least one example (row); got shape {arr.shape}"
        )
    if arr.shape[1] == 0:
        raise ValueError(
            f"'{name}' must have at least one column ({what} >= 1); got shape {arr.shape}"
        )


def _all_finite(arr):
    """Return True if a float array holds no NaN/Inf (allocation-free fast path).

    Parameters
    ----------
    arr : numpy.ndarray
        Any shape, non-empty, float dtype.

    Returns
    -------
    bool
    """
    # min/max propagate NaN and expose +-Inf without allocating a boolean mask.
    with np.errstate(invalid="ignore", over="ignore"):
        return bool(np.isfinite(arr.min()) and np.isfinite(arr.max()))


def _check_finite(arr, name, what="contains NaN or Inf values"):
    """Raise ``ValueError`` naming the first non-finite entry of a 2-D array.

    Parameters
    ----------
    arr : numpy.ndarray
        Shape [n_rows, n_cols].
    name : str
        Argument name used in error messages.
    what : str, optional
        Description of the problem used in the message.

    Raises
    ------
    ValueError
        If any entry is NaN or +-Inf.
    """
    if arr.dtype.kind != "f" or _all_finite(arr):
        return
    bad = np.argwhere(~np.isfinite(arr))
    r, c = (int(v) for v in bad[0])
    raise ValueError(f"'{name}' {what} (first at row {r}, column {c}: {float(arr[r, c])})")


def _finalize(arr, name, dtype):
    """Convert to the requested (or default float) dtype as a C-contiguous array.

    Parameters
    ----------
    arr : numpy.ndarray
        Shape [n_rows, n_cols], already checked finite.
    name : str
        Argument name used in error messages.
    dtype : numpy dtype-like or None
        Target dtype; ``None`` keeps float32/float64 and maps everything else
        (bool, int, uint, float16) to float32.

    Returns
    -------
    numpy.ndarray
        Shape [n_rows, n_cols], C-contiguous.
    """
    if dtype is None:
        target = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float32
    else:
        target = np.dtype(dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.ascontiguousarray(arr, dtype=target)
    # Narrowing float conversion (e.g. float64 -> float32) can overflow to Inf.
    if (
        out.dtype.kind == "f"
        and arr.dtype.kind == "f"
        and out.dtype.itemsize < arr.dtype.itemsize
    ):
        _check_finite(
            out, name,
            what=f"overflows to Inf when converted from {arr.dtype} to {out.dtype}",
        )
    return out


def check_features(x, name="features", n_in=None, dtype=None, expected_by="the network's first layer"):
    """Validate a feature matrix and return it as a C-contiguous float array.

    Parameters
    ----------
    x : array_like, shape [n_examples, n_features]
        Numeric (bool/int/uint/float) 2-D data with at least one row and
        one column and no NaN/Inf.
    name : str, default "features"
        Argument name used in error messages.
    n_in : int, optional
        If given, the required number of columns (the first layer's ``n_in``).
    dtype : numpy dtype-like, optional
        If given, the result is ``np.ascontiguousarray(x, dtype=dtype)``.
        Otherwise float32/float64 input keeps its dtype and everything else
        (bool, int, uint8, float16, ...) is converted to float32.
    expected_by : str
        Who requires ``n_in`` columns, for the error message.

    Returns
    -------
    numpy.ndarray, shape [n_examples, n_features]
        C-contiguous; no copy is made when ``x`` already qualifies.

    Raises
    ------
    TypeError
        If ``x`` is not real-numeric (strings, objects, complex, None).
    ValueError
        If ``x`` is ragged, not 2-D, has zero rows or columns, contains
        NaN/Inf, or has a column count different from ``n_in``.

    Examples
    --------
    >>> check_features([[0, 1], [2, 3]]).dtype
    dtype('float32')
    """
    arr = _as_numeric_array(x, name)
    _check_rank2(arr, name, "n_features")
    _check_finite(arr, name)
    if n_in is not None:
        n_in = check_int(n_in, "n_in", "check_features", low=1)
        if arr.shape[1] != n_in:
            raise ValueError(f"'{name}' has {arr.shape[1]} column(s) but {expected_by} expects n_in={n_in}")
    return _finalize(arr, name, dtype)


def check_labels(y, n_examples, name="labels", n_out=None, dtype=None, *,
                 features_name="features"):
    """Validate a label/target matrix against the number of feature rows.

    Parameters
    ----------
    y : array_like, shape [n_examples, n_labels]
        Numeric 2-D data (e.g. one-hot classes or regression targets) with no
        NaN/Inf.
    n_examples : int
        Number of rows of the matching feature matrix; ``y`` must have exactly
        this many rows.
    name : str, default "labels"
        Argument name used in error messages.
    n_out : int, optional
        If given, the required number of columns (the output layer's ``n_out``).
    dtype : numpy dtype-like, optional
        Target dtype; same rules as :func:`check_features`.
    features_name : str, default "features"
        Name of the matching feature argument, used in the row-count message.

    Returns
    -------
    numpy.ndarray, shape [n_examples, n_labels]
        C-contiguous.

    Raises
    ------
    TypeError
        If ``y`` is not real-numeric.
    ValueError
        If ``y`` is ragged, not 2-D, empty, contains NaN/Inf, its row count
        differs from ``n_examples`` or its column count differs from ``n_out``.
    """
    n_examples = check_int(n_examples, "n_examples", "check_labels", low=0)
    arr = _as_numeric_array(y, name)
    _check_rank2(arr, name, "n_labels")
    if arr.shape[0] != n_examples:
        raise ValueError(
            f"'{name}' has {arr.shape[0]} rows but '{features_name}' has {n_examples}"
        )
    _check_finite(arr, name)
    if n_out is not None:
        n_out = check_int(n_out, "n_out", "check_labels", low=1)
        if arr.shape[1] != n_out:
            raise ValueError(
                f"'{name}' has {arr.shape[1]} column(s) but the network's output "
                f"layer expects n_out={n_out}"
            )
    return _finalize(arr, name, dtype)


#: Losses whose targets must be probabilities; the last two also need rows summing to 1.
_PROBABILITY_LOSSES = ("xent", "mcxent", "negativeloglikelihood")


def check_loss_targets(y, loss, name="labels", owner=None):
    """Raise ``ValueError`` when targets ``y`` [n, k] are outside the domain of ``loss``.

    ``xent`` (binary cross-entropy) needs targets in [0, 1]; ``mcxent`` and
    ``negativeloglikelihood`` need rows of probabilities: values in [0, 1] and each row
    summing to 1 (within 1e-4).  Other losses accept any finite targets.  Outside their
    domain these losses have no minimum at the targets, so training would drive the score
    to meaningless negative values instead of failing.
    """
    if loss not in _PROBABILITY_LOSSES or y.size == 0:
        return
    where = f"{owner}: " if owner else ""
    lo, hi = float(np.min(y)), float(np.max(y))
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"{where}'{name}' must lie in [0, 1] for the {loss!r} loss; got values in "
                         f"[{lo:g}, {hi:g}]")
    if loss != "xent":
        sums = np.sum(y, axis=1, dtype=np.float64)
        bad = np.abs(sums - 1.0) > 1e-4
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"{where}each row of '{name}' must sum to 1 for the {loss!r} loss (one-hot or "
                             f"probabilities); row {i} sums to {sums[i]:g}")
