"""Anomaly detection with autoencoders, in scikit-learn's and PyOD's conventions.

    from numba_ae.anomaly import VAEAnomalyDetector
    det = VAEAnomalyDetector(epochs=20, random_state=0).fit(x_train)
    det.predict(x_test)          # -1 = outlier, +1 = inlier
    det.score_samples(x_test)    # higher = more normal
    det.anomaly_score(x_test)    # higher = more abnormal (PyOD)
    det.feature_scores(x_test)   # which columns made each row anomalous
    det.save("det.h5"); VAEAnomalyDetector.load("det.h5")

Modules: :mod:`.vae` and :mod:`.autoencoder` (the two detectors), :mod:`._base` (their
shared API), :mod:`.scoring` (per-example scores of a trained layer, shared with
``numba-ae score``), :mod:`.feature_scores` (per-column scores), :mod:`._files` (model
files), :mod:`._input` and :mod:`._estimator` (scikit-learn's input and estimator
protocol, without importing scikit-learn).  See ``docs/anomaly-detection.md``.
"""
from ._files import is_detector_file, load_detector
from ._input import NotFittedError
from .autoencoder import AutoEncoderAnomalyDetector
from .vae import VAEAnomalyDetector

__all__ = ["VAEAnomalyDetector", "AutoEncoderAnomalyDetector", "load_detector", "is_detector_file",
           "NotFittedError"]
