"""``AutoEncoderAnomalyDetector``: a (denoising) autoencoder trained to reconstruct
(mostly) normal data; rows with a large reconstruction error are outliers."""
import numpy as np

from ..config import DenseLayer, NeuralNetConfiguration, OutputLayer
from ..data import ArrayDataSetIterator
from ..network import MultiLayerNetwork
from ..registries import activation_name
from ..updaters import Adam
from ..validation import check_number
from ._base import BaseDetector
from .feature_scores import squared_errors
from .vae import _sizes

__all__ = ["AutoEncoderAnomalyDetector"]


class AutoEncoderAnomalyDetector(BaseDetector):
    """Anomaly detector on a deep autoencoder; the score is the squared reconstruction
    error (in the preprocessed space), negated: higher = more normal.

    The network is ``DenseLayer`` encoder layers of ``hidden_layer_sizes`` (the last is
    the code), the mirrored decoder layers, and an identity ``OutputLayer`` with the
    ``mse`` loss, trained end to end with ``fit`` to reconstruct its input (Adam,
    minibatches shuffled each epoch).  With ``corruption_level > 0`` it is a denoising
    autoencoder: every epoch the inputs get a fresh masking noise (each value zeroed with
    that probability, DL4J's AutoEncoder corruption) and the target is the clean row.
    Same API as :class:`~numba_ae.anomaly.VAEAnomalyDetector`.

    Parameters
    ----------
    hidden_layer_sizes : sequence of int, default (128, 32)
        Encoder widths; the decoder mirrors all but the last (``(128, 32)`` gives
        d -> 128 -> 32 -> 128 -> d).
    activation : str, default "relu"
        Hidden-layer activation.
    corruption_level : float in [0, 1), default 0.0
    epochs, batch_size, learning_rate, contamination, preprocessing, random_state, verbose
        As for :class:`~numba_ae.anomaly.VAEAnomalyDetector`.

    Attributes
    ----------
    network_ : MultiLayerNetwork
    normalizer_, n_features_in_, offset_, decision_scores_, threshold_, labels_, seed_
        As for :class:`~numba_ae.anomaly.VAEAnomalyDetector`; ``decision_scores_`` are the
        training rows' sums of squared errors.
    """

    def __init__(self, hidden_layer_sizes=(128, 32), activation="relu", corruption_level=0.0, epochs=20,
                 batch_size=128, learning_rate=1e-3, contamination=0.1, preprocessing="standardize",
                 random_state=None, verbose=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.corruption_level = corruption_level
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.contamination = contamination
        self.preprocessing = preprocessing
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self, n_features=None):
        owner = type(self).__name__
        s = self._check_common()
        s.update(hidden_layer_sizes=_sizes(self.hidden_layer_sizes, "hidden_layer_sizes", owner),
                 activation=activation_name(self.activation, f"{owner}.activation"),
                 corruption_level=check_number(self.corruption_level, "corruption_level", owner, low=0.0,
                                               high=1.0, high_open=True))
        return s

    def _network_conf(self, settings, n_features, seed):
        """The network config ``fit`` trains for ``settings`` on ``n_features`` columns."""
        sizes = settings["hidden_layer_sizes"]
        act = settings["activation"]
        widths = list(sizes) + list(reversed(sizes[:-1]))
        layers = [DenseLayer(n_in=n_features if i == 0 else None, n_out=w, activation=act)
                  for i, w in enumerate(widths)]
        layers.append(OutputLayer(n_out=n_features, activation="identity", loss="mse"))
        return NeuralNetConfiguration(seed=seed, updater=Adam(settings["learning_rate"]), layers=layers)

    def _train(self, x, settings, net_seed, data_seed, listeners):
        net = MultiLayerNetwork(self._network_conf(settings, x.shape[1], net_seed)).init()
        net.set_listeners(*listeners)
        bs = min(settings["batch_size"], x.shape[0])
        level = settings["corruption_level"]
        if level == 0.0:
            net.fit(ArrayDataSetIterator(x, x, batch_size=bs, shuffle=True, seed=data_seed),
                    epochs=settings["epochs"])
            return net
        rng = np.random.default_rng(data_seed)
        for _ in range(settings["epochs"]):
            noisy = np.where(rng.random(x.shape) < level, np.float32(0.0), x)
            net.fit(ArrayDataSetIterator(noisy, x, batch_size=bs, shuffle=True,
                                         seed=int(rng.integers(0, 2 ** 63))), epochs=1)
        return net

    def _reconstruct(self, x):
        return self._scoring_network().output(x)

    def _scores(self, x):
        return -squared_errors(x, self._reconstruct(x)).sum(axis=1)

    def feature_scores(self, X):
        """Squared reconstruction error per feature [n_samples, n_features] (float64, in the
        preprocessed space): each row sums to its anomaly score (``-score_samples``)."""
        x = self._input(X)
        return squared_errors(x, self._reconstruct(x))
