"""Loading training data from a short spec: the bundled MNIST, ``.npz``, ``.npy`` or numeric ``.csv``.

Used by ``numba-ae train --data SPEC`` and usable on its own::

    from numba_ae.data.loading import load_data
    x, y = load_data("mnist:test", n_classes=10)     # float32 [10000, 784], one-hot [10000, 10]
    x, y = load_data("table.csv", label_column="class")

Specs
-----
``mnist`` / ``mnist:train``
    The training split of the bundled MNIST copy (pixels / 255 in [0, 1]); labels 0..9.
``mnist:test``
    The test split.
``PATH.npz``
    Features under ``features_key`` (default ``"x"``), labels under ``labels_key``
    (default ``"y"``; a missing labels key gives ``labels=None``).
``PATH.npy``
    A 2-D array of features (with ``label_column``: that column holds the labels).
``PATH.csv``
    Comma-separated numbers, one example per row; a first row that is not all
    numbers is taken as a header (column names).  ``label_column`` selects the
    label column by header NAME or by INDEX (an int; negative counts from the end);
    the other columns are the features.
"""
from __future__ import annotations

import os

import numpy as np

from .mnist import mnist_arrays, load_mnist, one_hot

__all__ = ["load_data", "one_hot", "as_targets", "binarize"]


def binarize(x, threshold=0.5):
    """``(x > threshold)`` as 0.0/1.0 float32 (MNIST's binarization for pixels scaled to [0, 1])."""
    return (np.asarray(x) > threshold).astype(np.float32)


def as_targets(labels, width, what="labels"):
    """Labels as a float32 ``[n, width]`` target matrix.

    1-D integer(-valued) labels are one-hot encoded with ``width`` classes
    (:func:`one_hot`; an out-of-range class raises ``ValueError``); 2-D labels
    must already have ``width`` columns.
    """
    arr = np.asarray(labels)
    if arr.ndim == 2 and arr.shape[1] == 1 and width != 1:
        arr = arr[:, 0]
    if arr.ndim == 1:
        try:
            return one_hot(arr, width)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{what}: cannot one-hot encode for {width} classes: {e}") from None
    if arr.ndim != 2:
        raise ValueError(f"{what} must be 1-D class indices or a 2-D [n, {width}] matrix; got shape {arr.shape}")
    if arr.shape[1] != width:
        raise ValueError(f"{what} have {arr.shape[1]} columns but the model's output has {width}")
    if arr.dtype.kind not in "iufb":
        raise ValueError(f"{what} must be numeric; got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float32)


def _features(x, source):
    x = np.asarray(x)
    if x.dtype.kind not in "iufb":
        raise ValueError(f"{source}: features must be numeric; got dtype {x.dtype}")
    if x.ndim == 1:
        raise ValueError(f"{source}: features must be 2-D [examples, features] (or more dims, flattened); "
                         f"got shape {x.shape}")
    if x.ndim > 2:
        x = x.reshape(x.shape[0], -1)
    if x.shape[0] == 0:
        raise ValueError(f"{source}: no examples")
    return np.ascontiguousarray(x, dtype=np.float32)


def _split_column(a, col, source):
    """Remove column ``col`` (index) from 2-D ``a``: ``(features, labels)``."""
    if a.ndim != 2:
        raise ValueError(f"{source}: a label column needs a 2-D array; got shape {a.shape}")
    n = a.shape[1]
    if not -n <= col < n:
        raise ValueError(f"{source}: label column index {col} is out of range for {n} columns")
    col %= n
    labels = a[:, col]
    feats = np.delete(a, col, axis=1)
    if feats.shape[1] == 0:
        raise ValueError(f"{source}: no feature columns left after taking the label column")
    return feats, labels


def _labels_1d(labels):
    """Integer-valued float label columns become int64 (so they are one-hot encoded)."""
    if labels.dtype.kind == "f" and np.all(np.isfinite(labels)) and np.all(labels == np.round(labels)):
        return labels.astype(np.int64)
    return labels


def _column_index(label_column, header, source):
    if isinstance(label_column, (int, np.integer)) and not isinstance(label_column, bool):
        return int(label_column)
    if not isinstance(label_column, str):
        raise TypeError(f"'label_column' must be a column name (str) or index (int); got {label_column!r}")
    if header is None:
        raise ValueError(f"{source}: label column {label_column!r} given by name but the file has no header row")
    if label_column not in header:
        raise ValueError(f"{source}: no column named {label_column!r} (columns: {', '.join(header)})")
    return header.index(label_column)


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def _read_csv(path, label_column):
    with open(path, newline="") as f:
        first = f.readline()
    if not first.strip():
        raise ValueError(f"{path}: empty CSV file")
    fields = [t.strip().strip('"') for t in first.rstrip("\r\n").split(",")]
    header = None if all(_is_number(t) for t in fields) else fields
    try:
        a = np.loadtxt(path, delimiter=",", skiprows=0 if header is None else 1, ndmin=2, dtype=np.float64)
    except ValueError as e:
        raise ValueError(f"{path}: not a numeric CSV file ({e})") from None
    if a.shape[0] == 0:
        raise ValueError(f"{path}: no data rows")
    if header is not None and len(header) != a.shape[1]:
        raise ValueError(f"{path}: the header has {len(header)} columns but the rows have {a.shape[1]}")
    if label_column is None:
        return a, None
    col = _column_index(label_column, header, path)
    feats, labels = _split_column(a, col, path)
    return feats, _labels_1d(labels)


def load_data(spec, features_key="x", labels_key="y", label_column=None, n_classes=None, binarize_features=False,
              limit=None):
    """Load ``(features, labels)`` from ``spec`` (see the module docstring).

    Parameters
    ----------
    spec : str or os.PathLike
        ``mnist``, ``mnist:train``, ``mnist:test``, or a ``.npz``/``.npy``/``.csv`` path.
    features_key, labels_key : str
        Array names in a ``.npz`` file.
    label_column : str or int, optional
        For ``.csv`` (header name or index) and ``.npy`` (index): the column holding the labels.
    n_classes : int, optional
        One-hot encode 1-D integer labels with this many classes (:func:`as_targets`).
    binarize_features : bool, default False
        Features become ``x > 0.5`` as 0.0/1.0.
    limit : int, optional
        Keep only the first ``limit`` examples.

    Returns
    -------
    features : numpy.ndarray, float32, shape [n, d]
    labels : numpy.ndarray or None
        As stored (1-D class indices or a 2-D matrix) unless ``n_classes`` is given
        (then float32 ``[n, n_classes]``); None when the data has no labels.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        Unknown spec / extension, missing keys or columns, non-numeric data,
        inconsistent lengths, out-of-range classes.
    """
    text = os.fspath(spec)
    labels = None
    if text in ("mnist", "mnist:train", "mnist:test"):
        train = text != "mnist:test"
        x, _ = mnist_arrays(train=train, num_examples=limit)
        y = load_mnist()[1 if train else 3]
        labels = np.asarray(y[:x.shape[0]], dtype=np.int64)
        if label_column is not None:
            raise ValueError("'label_column' does not apply to the bundled MNIST")
        features = x
    elif text.startswith("mnist:"):
        raise ValueError(f"unknown MNIST split {text!r} (use 'mnist', 'mnist:train' or 'mnist:test')")
    else:
        ext = os.path.splitext(text)[1].lower()
        if ext not in (".npz", ".npy", ".csv"):
            raise ValueError(f"unknown data spec {text!r}: expected 'mnist', 'mnist:test' or a .npz, .npy or "
                             ".csv file")
        if not os.path.exists(text):
            raise FileNotFoundError(f"data file not found: {text}")
        if os.path.isdir(text):
            raise ValueError(f"{text}: is a directory, not a data file")
        if ext == ".npz":
            try:
                npz = np.load(text, allow_pickle=False)
            except (OSError, ValueError) as e:
                raise ValueError(f"{text}: not a readable .npz file ({e})") from None
            with npz:
                keys = list(npz.files)
                if features_key not in keys:
                    raise ValueError(f"{text}: no array {features_key!r} (arrays: {', '.join(keys) or 'none'}); "
                                     "choose one with features_key / --features-key")
                features = npz[features_key]
                if labels_key is not None and labels_key in keys:
                    labels = npz[labels_key]
            if label_column is not None:
                features, labels = _split_column(np.asarray(features), _column_index(label_column, None, text),
                                                 text)
                labels = _labels_1d(labels)
        elif ext == ".npy":
            try:
                features = np.load(text, allow_pickle=False)
            except (OSError, ValueError) as e:
                raise ValueError(f"{text}: not a readable .npy file ({e})") from None
            if label_column is not None:
                features, labels = _split_column(np.asarray(features), _column_index(label_column, None, text),
                                                 text)
                labels = _labels_1d(labels)
        else:
            features, labels = _read_csv(text, label_column)
        features = _features(features, text)
        if labels is not None:
            labels = np.asarray(labels)
            if labels.dtype.kind not in "iufb":
                raise ValueError(f"{text}: labels must be numeric; got dtype {labels.dtype}")
            if labels.ndim == 0 or labels.shape[0] != features.shape[0]:
                raise ValueError(f"{text}: {features.shape[0]} examples but labels of shape {labels.shape}")
        if limit is not None:
            if int(limit) < 1:
                raise ValueError(f"'limit' must be >= 1; got {limit}")
            features = np.ascontiguousarray(features[:int(limit)])
            labels = None if labels is None else labels[:int(limit)]
    if binarize_features:
        features = binarize(features)
    if labels is not None and n_classes is not None:
        labels = as_targets(labels, n_classes)
    return features, labels
