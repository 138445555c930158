"""Loading the MNIST copy shipped with the package (``numba_ae/data/mnist.npz``)."""

from __future__ import annotations

import os
import threading

import numpy as np

from ..validation import check_int

__all__ = ["load_mnist", "mnist_arrays", "one_hot", "DEFAULT_MNIST_PATH"]

#: Path of the MNIST copy shipped with the package.
DEFAULT_MNIST_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mnist.npz")

_KEYS = ("x_train", "y_train", "x_test", "y_test")
_CACHE = {}
_CACHE_LOCK = threading.Lock()


def _resolve(path):
    """Absolute path of the npz file to load.

    Parameters
    ----------
    path : str, os.PathLike or None
        ``None`` selects :data:`DEFAULT_MNIST_PATH`.

    Returns
    -------
    str
    """
    if path is None:
        return DEFAULT_MNIST_PATH
    return os.path.abspath(os.fspath(path))


def load_mnist(path=None):
    """Load the raw MNIST arrays (cached per path, returned read-only).

    Parameters
    ----------
    path : str or os.PathLike, optional
        An ``.npz`` file with keys ``x_train``, ``y_train``, ``x_test``,
        ``y_test``. Default: the copy shipped in ``numba_ae/data/mnist.npz``.

    Returns
    -------
    x_train : numpy.ndarray, shape [60000, 28, 28], uint8
    y_train : numpy.ndarray, shape [60000], uint8
    x_test : numpy.ndarray, shape [10000, 28, 28], uint8
    y_test : numpy.ndarray, shape [10000], uint8
        (Shapes for the shipped file.) All four arrays are shared between
        calls and have ``flags.writeable == False``; copy before modifying.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If a required key is missing, or the arrays are inconsistent
        (image size != 784 pixels, or image/label counts differ).
    """
    full = _resolve(path)
    with _CACHE_LOCK:
        cached = _CACHE.get(full)
        if cached is not None:
            return cached
        if not os.path.isfile(full):
            raise FileNotFoundError(f"MNIST file not found: '{full}' (argument 'path')")
        with np.load(full, allow_pickle=False) as npz:
            for key in _KEYS:
                if key not in npz.files:
                    raise ValueError(
                        f"MNIST file '{full}' is missing the key '{key}' "
                        f"(expected keys {list(_KEYS)}; found {sorted(npz.files)})"
                    )
            arrays = tuple(np.asarray(npz[key]) for key in _KEYS)
        for split, (x, y) in (("train", arrays[0:2]), ("test", arrays[2:4])):
            if x.ndim < 2 or int(np.prod(x.shape[1:])) != 784:
                raise ValueError(
                    f"MNIST file '{full}': 'x_{split}' must have shape [n, 28, 28] or "
                    f"[n, 784]; got {x.shape}"
                )
            if y.ndim != 1 or y.shape[0] != x.shape[0]:
                raise ValueError(
                    f"MNIST file '{full}': 'y_{split}' must have shape [{x.shape[0]}] "
                    f"to match 'x_{split}'; got {y.shape}"
                )
        for a in arrays:
            a.flags.writeable = False
        _CACHE[full] = arrays
        return arrays


def one_hot(labels, n_classes):
    """One-hot encode integer class labels.

    Parameters
    ----------
    labels : array_like of int, shape [n]
        Class indices in ``[0, n_classes)``.
    n_classes : int
        Number of classes (>= 1).

    Returns
    -------
    numpy.ndarray, shape [n, n_classes], float32
        Row ``i`` is 1 at column ``labels[i]`` and 0 elsewhere.

    Raises
    ------
    TypeError
        If ``labels`` is not of an int/uint/float dtype, or ``n_classes`` is
        not an int.
    ValueError
        If ``labels`` is not 1-D, holds a non-integral float, ``n_classes``
        is < 1, or a label is out of range.

    Examples
    --------
    >>> one_hot([0, 2], 3)
    array([[1., 0., 0.],
           [0., 0., 1.]], dtype=float32)
    """
    n_classes = check_int(n_classes, "n_classes", "one_hot", low=1)
    arr = np.asarray(labels)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"'labels' must contain integer class indices; got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"'labels' must be a 1-D array [n]; got shape {arr.shape}")
    if arr.dtype.kind == "f" and arr.size:
        integral = np.isfinite(arr) & (arr == np.round(arr))
        if not integral.all():
            i = int(np.argmin(integral))
            raise ValueError(
                f"'labels' must contain integer class indices; got {float(arr[i])} at index {i}"
            )
    arr = arr.astype(np.int64, copy=False)
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi >= n_classes:
            bad = lo if lo < 0 else hi
            raise ValueError(
                f"'labels' must lie in [0, {n_classes}) for n_classes={n_classes}; "
                f"found {bad}"
            )
    out = np.zeros((arr.shape[0], n_classes), dtype=np.float32)
    out[np.arange(arr.shape[0]), arr] = 1.0
    return out


def mnist_arrays(train=True, binarize=False, path=None, num_examples=None):
    """MNIST as training-ready float32 matrices.

    Parameters
    ----------
    train : bool, default True
        Training split (60000 examples) if True, else test split (10000).
    binarize : bool, default False
        If True, features are ``(x / 255 > 0.5)`` as 0.0/1.0; otherwise
        ``x / 255`` in [0, 1].
    path : str or os.PathLike, optional
        npz file passed to :func:`load_mnist`.
    num_examples : int, optional
        Keep only the first ``num_examples`` examples (1 <= n <= split size).

    Returns
    -------
    features : numpy.ndarray, shape [n, 784], float32
        C-contiguous, freshly allocated (writeable).
    labels : numpy.ndarray, shape [n, 10], float32
        One-hot class labels.

    Raises
    ------
    TypeError
        If ``num_examples`` is not None or an int.
    ValueError
        If ``num_examples`` is not in [1, split size].
    FileNotFoundError
        If ``path`` does not exist.
    """
    x_train, y_train, x_test, y_test = load_mnist(path)
    x, y = (x_train, y_train) if train else (x_test, y_test)
    total = x.shape[0]
    if num_examples is None:
        n = total
    else:
        n = check_int(num_examples, "num_examples", "mnist_arrays", low=1)
        if n > total:
            raise ValueError(
                f"'num_examples' must be <= {total} (size of the "
                f"{'train' if train else 'test'} split); got {n}"
            )
    x = x[:n].reshape(n, -1)
    if binarize:
        # For uint8, x/255 > 0.5  <=>  x > 127.5  <=>  x >= 128.
        if x.dtype.kind in "iu":
            features = (x > 127).astype(np.float32)
        else:
            features = (x.astype(np.float32) / np.float32(255.0) > 0.5).astype(np.float32)
    else:
        features = x.astype(np.float32)
        features /= np.float32(255.0)
    labels = one_hot(y[:n], 10)
    return np.ascontiguousarray(features), labels
