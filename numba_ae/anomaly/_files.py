"""Detector model files: the network's HDF5 model file (:func:`numba_ae.io.save_model`)
with the fitted normalizer in ``/normalizer`` and the detector in one ``/metadata`` entry,
``anomaly_detector``: JSON text with the detector's class, its parameters (a
distribution config as its ``{"class_name", "config"}`` dict), ``seed_``, ``offset_``,
``n_features_in_`` and the training scores ``decision_scores_`` (floats written by
``repr``, so they read back exactly).

Loading trusts nothing: the JSON is parsed strictly, the parameters are validated by the
detector, and the stored network must be exactly the one those parameters and ``seed_``
build; any mismatch is a :class:`~numba_ae.io.ModelFormatError`.
"""
import json
import math

import numpy as np

from .._serial import deserialize, serialize
from ..distributions import ReconstructionDistribution
from ..io import ModelFormatError, load_model_with_info, save_model
from ._base import PREPROCESSING
from ._input import check_fitted

__all__ = ["save_detector", "load_detector", "is_detector_file", "METADATA_KEY", "FORMAT_VERSION"]

#: The ``/metadata`` entry holding the detector.
METADATA_KEY = "anomaly_detector"
#: Version of the detector entry's layout.
FORMAT_VERSION = 1


def _classes():
    from .autoencoder import AutoEncoderAnomalyDetector
    from .vae import VAEAnomalyDetector
    return {c.__name__: c for c in (VAEAnomalyDetector, AutoEncoderAnomalyDetector)}


def _encode_param(name, value):
    if isinstance(value, ReconstructionDistribution):
        return serialize(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, (np.random.Generator, np.random.RandomState)):
        return None       # the drawn seed_ is what the file needs to reproduce the scores
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _decode_param(name, value):
    if isinstance(value, dict):
        return deserialize(value)
    if isinstance(value, list):
        return tuple(value)
    return value


def save_detector(detector, path):
    """Write the fitted ``detector`` to ``path`` (atomically)."""
    check_fitted(detector)
    params = {k: _encode_param(k, v) for k, v in detector.get_params().items()}
    entry = {"class": type(detector).__name__, "version": FORMAT_VERSION, "params": params,
             "seed": int(detector.seed_), "offset": float(detector.offset_),
             "n_features_in": int(detector.n_features_in_),
             "decision_scores": [float(v) for v in detector.decision_scores_]}
    try:
        text = json.dumps(entry, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{type(detector).__name__}: the parameters cannot be saved ({e})") from None
    save_model(detector.network_, path, save_updater=False, normalizer=detector.normalizer_,
               metadata={METADATA_KEY: text})


def is_detector_file(info):
    """Whether a model file's ``info`` (from :func:`numba_ae.io.load_model_with_info`) holds a detector."""
    return METADATA_KEY in info.get("metadata", {})


def _finite_float(value, what, fail):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        fail(f"{what} must be a finite number; got {value!r:.80}")
    return float(value)


def detector_from(net, info, label, expected=None):
    """The detector held by a loaded model (``net``, ``info``); ``label`` names the file."""
    def fail(problem):
        raise ModelFormatError(label, problem)

    text = info.get("metadata", {}).get(METADATA_KEY)
    if text is None:
        fail("holds a network but no anomaly detector (no metadata entry 'anomaly_detector')")
    try:
        entry = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    except (ValueError, RecursionError) as e:
        fail(f"metadata 'anomaly_detector' is not valid JSON ({e})")
    where = "metadata 'anomaly_detector'"
    if not isinstance(entry, dict):
        fail(f"{where} must be a JSON object")
    missing = {"class", "version", "params", "seed", "offset", "n_features_in", "decision_scores"} - set(entry)
    if missing:
        fail(f"{where} is missing {sorted(missing)}")
    classes = _classes()
    cls = classes.get(entry["class"]) if isinstance(entry["class"], str) else None
    if cls is None:
        fail(f"{where}: unknown detector class {entry['class']!r:.80}; known: {sorted(classes)}")
    if expected is not None and cls is not expected:
        fail(f"holds a {cls.__name__}, not a {expected.__name__}")
    if entry["version"] != FORMAT_VERSION:
        fail(f"{where}: version {entry['version']!r:.20} is not supported (this library reads {FORMAT_VERSION})")
    params = entry["params"]
    if not isinstance(params, dict) or set(params) != set(cls._param_names()):
        fail(f"{where}: 'params' must hold exactly the parameters {cls._param_names()}")
    try:
        det = cls(**{k: _decode_param(k, v) for k, v in params.items()})
        settings = det._check_params(net.n_in)
    except (TypeError, ValueError) as e:
        fail(f"{where}: the parameters do not validate: {e}")
    seed = entry["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        fail(f"{where}: 'seed' must be an int >= 0; got {seed!r:.80}")
    offset = _finite_float(entry["offset"], f"{where}: 'offset'", fail)
    n_features = entry["n_features_in"]
    if n_features != net.n_in:
        fail(f"{where}: 'n_features_in' is {n_features!r:.20} but the network's n_in is {net.n_in}")
    scores = entry["decision_scores"]
    if not isinstance(scores, list) or not scores:
        fail(f"{where}: 'decision_scores' must be a non-empty list of numbers")
    scores = np.array([_finite_float(v, f"{where}: 'decision_scores' entries", fail) for v in scores])
    net_seed = int(np.random.SeedSequence(seed).generate_state(2, dtype=np.uint64)[0] % np.uint64(2 ** 63))
    want = det._network_conf(settings, net.n_in, net_seed)
    if net.conf != want:
        fail(f"{where}: the stored network is not the one the detector's parameters and seed build")
    preprocessing = settings["preprocessing"]
    norm = info.get("normalizer")
    want_norm = PREPROCESSING[preprocessing]
    if (norm is None) != (want_norm is None) or (norm is not None and type(norm) is not want_norm):
        fail(f"{where}: preprocessing={preprocessing!r} but the file's normalizer is "
             f"{type(norm).__name__ if norm is not None else 'missing'}")
    det.network_ = net
    det.normalizer_ = norm
    det.n_features_in_ = int(n_features)
    det.seed_ = seed
    det.offset_ = offset
    det.decision_scores_ = scores
    det.threshold_ = -offset
    det.labels_ = (scores > det.threshold_).astype(np.int64)
    return det


def load_detector(path, expected=None):
    """The anomaly detector saved in ``path`` (a
    :class:`~numba_ae.anomaly.VAEAnomalyDetector` or
    :class:`~numba_ae.anomaly.AutoEncoderAnomalyDetector`).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ModelFormatError
        Not a valid model file, no detector in it, or (``expected``) another detector class.
    """
    net, info = load_model_with_info(path)
    return detector_from(net, info, str(path), expected)
