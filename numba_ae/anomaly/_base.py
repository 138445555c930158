"""What both anomaly detectors share: the fit template, scikit-learn's outlier-detector
API (``score_samples``, ``decision_function``, ``predict``, ``fit_predict``, ``offset_``),
PyOD's conveniences (``decision_scores_``, ``threshold_``, ``labels_``,
``anomaly_score``), preprocessing, and saving through the model files.

Conventions (scikit-learn's IsolationForest / LocalOutlierFactor): ``score_samples`` is
higher for more normal rows; ``offset_`` is the ``contamination`` quantile of the
training rows' ``score_samples``; ``decision_function = score_samples - offset_`` is
negative for outliers; ``predict`` is -1 (outlier) where it is negative, else +1.  PyOD's
side is the same numbers flipped: ``anomaly_score = -score_samples`` (higher = more
abnormal), ``threshold_ = -offset_``, ``labels_ = decision_scores_ > threshold_`` (1 =
outlier) on the training rows.
"""
import sys

import numpy as np

from ..data import NormalizerMinMaxScaler, NormalizerStandardize
from ..listeners import TrainingListener
from ..network import MultiLayerNetwork
from ..validation import check_bool, check_choice, check_int, check_number
from ._estimator import EstimatorBase
from ._input import check_fitted, check_random_state_arg, check_X

__all__ = ["BaseDetector", "PREPROCESSING"]

#: ``preprocessing`` names and the normalizer each fits (None: the data as given).
PREPROCESSING = {"standardize": NormalizerStandardize, "minmax": NormalizerMinMaxScaler, None: None}


class _EpochPrinter(TrainingListener):
    """``verbose=True``: one line per epoch with its mean training score."""

    def __init__(self, owner):
        self.owner = owner

    def on_epoch_end(self, net, epoch):
        rec = net.history[-1]
        print(f"{self.owner}: epoch {epoch} score {rec['score']:.6g} ({rec['seconds']:.2f} s)",
              file=sys.stdout, flush=True)


class BaseDetector(EstimatorBase):
    """Base of :class:`~numba_ae.anomaly.VAEAnomalyDetector` and
    :class:`~numba_ae.anomaly.AutoEncoderAnomalyDetector` (subclasses define
    ``_check_params``, ``_train`` and ``_scores``)."""

    # ------------------------------------------------------------------ parameters
    def _check_common(self):
        """Validate the parameters both detectors have; returns them canonical."""
        owner = type(self).__name__
        return {
            "epochs": check_int(self.epochs, "epochs", owner, low=1),
            "batch_size": check_int(self.batch_size, "batch_size", owner, low=1),
            "learning_rate": check_number(self.learning_rate, "learning_rate", owner, low=0.0, low_open=True),
            "contamination": check_number(self.contamination, "contamination", owner, low=0.0, high=0.5,
                                          low_open=True),
            "preprocessing": check_choice(self.preprocessing, "preprocessing", owner, tuple(PREPROCESSING),
                                          expected="'standardize', 'minmax' or None"),
            "verbose": check_bool(self.verbose, "verbose", owner),
        }

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None):
        """Train the network on ``X`` (assumed mostly normal) and set the threshold.

        Parameters
        ----------
        X : array_like [n_samples, n_features]
            Training data (real numbers, finite).
        y : ignored
            Accepted for scikit-learn's API.

        Returns
        -------
        self

        Raises
        ------
        TypeError, ValueError
            A bad parameter (named) or bad ``X``.
        """
        owner = type(self).__name__
        settings = self._check_params()
        X = check_X(X, owner)
        seed = check_random_state_arg(self.random_state, owner)
        normalizer = self._make_normalizer(settings["preprocessing"], X)
        xt = self._training_input(self._preprocess(normalizer, X))
        net_seed, data_seed = (int(s) for s in np.random.SeedSequence(seed).generate_state(2, dtype=np.uint64)
                               % np.uint64(2 ** 63))
        listeners = [_EpochPrinter(owner)] if settings["verbose"] else []
        network = self._train(xt, settings, net_seed, data_seed, listeners)
        network.set_listeners()
        self.network_ = network
        self.normalizer_ = normalizer
        self.n_features_in_ = int(X.shape[1])
        self.seed_ = seed
        self._set_threshold(self.score_samples(X), settings["contamination"])
        return self

    @staticmethod
    def _make_normalizer(name, X):
        cls = PREPROCESSING[name]
        return None if cls is None else cls().fit(X)

    @staticmethod
    def _preprocess(normalizer, X):
        """``X`` (checked float64) preprocessed (float64)."""
        return X if normalizer is None else np.ascontiguousarray(normalizer.transform(X))

    def _training_input(self, x):
        """Preprocessed ``x`` as the float32 input the network trains on."""
        with np.errstate(over="ignore"):
            out = np.ascontiguousarray(x, dtype=np.float32)
        if not np.isfinite(out).all():
            raise ValueError(f"{type(self).__name__}: 'X' overflows float32 after preprocessing "
                             f"(preprocessing={self.preprocessing!r}); rescale it")
        return out

    def _scoring_network(self):
        """A float64 copy of ``network_`` (same parameters) that computes the scores: in
        float32 the GEMMs round differently for different batch sizes (~1e-7 relative), so a
        row's score would depend on how many rows are scored with it; in float64 that is
        ~1e-16, and no float32 overflow can occur."""
        net = self.network_
        return MultiLayerNetwork(net.conf.replace(dtype="float64")).init(params=net.params())

    def _set_threshold(self, scores, contamination):
        """``offset_`` and the PyOD attributes from the training rows' ``score_samples``."""
        self.offset_ = float(np.percentile(scores, 100.0 * contamination))
        self.decision_scores_ = -scores
        self.threshold_ = -self.offset_
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)

    def _input(self, X):
        """Checked, preprocessed (float64) input for a fitted detector."""
        check_fitted(self)
        X = check_X(X, type(self).__name__, n_features=self.n_features_in_)
        return self._preprocess(self.normalizer_, X)

    # ------------------------------------------------------------------ scikit-learn API
    def score_samples(self, X):
        """Normality score of each row [n_samples] (float64): higher = more normal.

        Parameters
        ----------
        X : array_like [n_samples, n_features_in_]

        Returns
        -------
        ndarray [n_samples], float64
        """
        return self._scores(self._input(X))

    def decision_function(self, X):
        """``score_samples(X) - offset_`` [n_samples]: negative for outliers."""
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """-1 for outliers (``decision_function < 0``), +1 for inliers [n_samples] (int64)."""
        return np.where(self.decision_function(X) < 0, -1, 1).astype(np.int64)

    def score(self, X, y=None):
        """Mean of ``score_samples(X)`` (float; scikit-learn's ``score(X, y)`` of unsupervised
        models, e.g. the mean log-likelihood estimate of a VAE detector; ``y`` is ignored)."""
        return float(np.mean(self.score_samples(X)))

    def fit_predict(self, X, y=None):
        """``fit(X).predict(X)`` [n_samples] (int64, -1 = outlier)."""
        return self.fit(X).predict(X)

    # ------------------------------------------------------------------ PyOD API
    def anomaly_score(self, X):
        """Anomaly score of each row [n_samples] (float64): higher = more abnormal
        (``-score_samples``; compare with ``threshold_``)."""
        return -self.score_samples(X)

    # ------------------------------------------------------------------ model files
    def save(self, path):
        """Save the fitted detector (network, normalizer, settings, threshold and training
        scores) to an HDF5 model file, atomically; read it back with :meth:`load` or
        :func:`numba_ae.anomaly.load_detector`."""
        from ._files import save_detector
        save_detector(self, path)

    @classmethod
    def load(cls, path):
        """The detector saved in ``path`` by :meth:`save` (a ``ModelFormatError`` when the
        file holds another kind of model)."""
        from ._files import load_detector
        return load_detector(path, expected=cls)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "network_")
