"""``VAEAnomalyDetector``: a variational autoencoder trained on (mostly) normal data; rows
it explains badly are outliers (An & Cho, 2015)."""
import numpy as np

from ..config import NeuralNetConfiguration, VariationalAutoencoder
from ..data import ArrayDataSetIterator
from ..distributions import build_distribution
from ..network import MultiLayerNetwork
from ..registries import activation_name
from ..updaters import Adam
from ..validation import check_choice, check_int
from ._base import BaseDetector
from ._distributions import resolve_distribution
from .feature_scores import vae_feature_scores
from .scoring import VAE_SCORES, vae_scores

__all__ = ["VAEAnomalyDetector"]


def _sizes(value, name, owner):
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (list, tuple)) or not value:
        raise TypeError(f"{owner}: '{name}' must be a non-empty sequence of ints >= 1; got {value!r}")
    return tuple(check_int(v, f"{name}[{k}]", owner, low=1) for k, v in enumerate(value))


class VAEAnomalyDetector(BaseDetector):
    """Anomaly detector on a :class:`~numba_ae.VariationalAutoencoder`.

    ``fit`` pretrains one VAE layer (Adam, minibatches shuffled each epoch) on the
    preprocessed data; ``score_samples`` is a per-row log-probability, higher = more normal.
    scikit-learn outlier-detector API (``fit``/``score_samples``/``decision_function``/
    ``predict``/``fit_predict``, ``offset_``; ``get_params``/``set_params``/``clone``) and
    PyOD's (``decision_scores_``, ``threshold_``, ``labels_``, ``anomaly_score``).

    Parameters
    ----------
    encoder_layer_sizes : sequence of int, default (256, 128)
    latent_size : int, default 16
    decoder_layer_sizes : sequence of int or None, default None
        None mirrors the encoder (``(128, 256)`` for the default encoder).
    activation : str, default "leakyrelu"
        Hidden-layer activation (any registered name).
    reconstruction_distribution : str or ReconstructionDistribution, default "gaussian"
        A name ("gaussian", "bernoulli", "exponential", "categorical", ... every
        distribution of :data:`numba_ae.distributions.DISTRIBUTIONS` with a log-probability
        and default settings) or a distribution config (a composite included).  Bernoulli
        needs data in [0, 1] and exponential data >= 0 after preprocessing.
    epochs, batch_size, learning_rate : training settings (Adam).
    contamination : float in (0, 0.5], default 0.1
        Expected fraction of outliers in the training data: ``offset_`` is that quantile
        of the training scores.
    num_samples : int, default 16
        Latent draws per row for the scores.
    score : {"reconstruction_log_probability", "elbo", "iwae"}
        ``log mean_l p(x | z_l)`` over z_l ~ q(z|x) (An & Cho's reconstruction probability,
        log-mean-exp estimator), the per-example ELBO, or the importance-weighted (IWAE)
        bound on ``log p(x)``.
    preprocessing : {"standardize", "minmax", None}, default "standardize"
        Normalizer fitted on the training data and applied to every input (kept in the
        detector and its file).
    random_state : None, int, numpy Generator or RandomState
        Seeds the weights, the minibatch order and the scoring draws.  After ``fit`` the
        scores are deterministic (every row gets the same draws, so a row's score does
        not depend on the rows scored with it).
    verbose : bool, default False
        Print the training score after each epoch.

    Attributes
    ----------
    network_ : MultiLayerNetwork
        One VariationalAutoencoder layer (``network_.get_layer(0)``).
    normalizer_ : NormalizerStandardize, NormalizerMinMaxScaler or None
    n_features_in_ : int
    offset_ : float
    decision_scores_ : ndarray [n_train]
        Training anomaly scores (``-score_samples``; higher = more abnormal).
    threshold_ : float
        ``-offset_``: anomaly scores above it are outliers.
    labels_ : ndarray [n_train] of {0, 1}
        1 for the training rows above ``threshold_``.
    seed_ : int
        The root seed drawn from ``random_state``.
    """

    def __init__(self, encoder_layer_sizes=(256, 128), latent_size=16, decoder_layer_sizes=None,
                 activation="leakyrelu", reconstruction_distribution="gaussian", epochs=20, batch_size=128,
                 learning_rate=1e-3, contamination=0.1, num_samples=16, score="reconstruction_log_probability",
                 preprocessing="standardize", random_state=None, verbose=False):
        self.encoder_layer_sizes = encoder_layer_sizes
        self.latent_size = latent_size
        self.decoder_layer_sizes = decoder_layer_sizes
        self.activation = activation
        self.reconstruction_distribution = reconstruction_distribution
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.contamination = contamination
        self.num_samples = num_samples
        self.score = score
        self.preprocessing = preprocessing
        self.random_state = random_state
        self.verbose = verbose

    def _set_score_param(self, value):
        vars(self)["score"] = value

    #: The ``score`` *parameter* is stored in the instance (``get_params()["score"]``,
    #: ``set_params(score=...)``); the attribute ``detector.score`` is scikit-learn's
    #: ``score(X, y=None)`` method (the mean of ``score_samples``), which scikit-learn's
    #: estimator checks and pipelines call.
    score = property(lambda self: BaseDetector.score.__get__(self), _set_score_param,
                     doc="scikit-learn's ``score(X, y=None)``: the mean of ``score_samples(X)``; "
                         "the parameter's value is ``get_params()['score']``.")

    # ------------------------------------------------------------------ parameters
    def _check_params(self, n_features=None):
        owner = type(self).__name__
        s = self._check_common()
        enc = _sizes(self.encoder_layer_sizes, "encoder_layer_sizes", owner)
        dec = tuple(reversed(enc)) if self.decoder_layer_sizes is None else \
            _sizes(self.decoder_layer_sizes, "decoder_layer_sizes", owner)
        s.update(encoder_layer_sizes=enc, decoder_layer_sizes=dec,
                 latent_size=check_int(self.latent_size, "latent_size", owner, low=1),
                 activation=activation_name(self.activation, f"{owner}.activation"),
                 num_samples=check_int(self.num_samples, "num_samples", owner, low=1),
                 score=check_choice(self._param("score"), "score", owner, VAE_SCORES),
                 distribution=resolve_distribution(self.reconstruction_distribution, n_features, owner))
        return s

    def _network_conf(self, settings, n_features, seed):
        """The network config ``fit`` trains for ``settings`` on ``n_features`` columns."""
        layer = VariationalAutoencoder(
            n_in=n_features, n_out=settings["latent_size"], encoder_layer_sizes=settings["encoder_layer_sizes"],
            decoder_layer_sizes=settings["decoder_layer_sizes"], activation=settings["activation"],
            pzx_activation="identity", reconstruction_distribution=settings["distribution"])
        return NeuralNetConfiguration(seed=seed, updater=Adam(settings["learning_rate"]), layers=[layer])

    # ------------------------------------------------------------------ training
    def _train(self, x, settings, net_seed, data_seed, listeners):
        settings = self._check_params(x.shape[1])   # the composite's width against X
        self._check_support(settings["distribution"], x)
        net = MultiLayerNetwork(self._network_conf(settings, x.shape[1], net_seed)).init()
        net.set_listeners(*listeners)
        it = ArrayDataSetIterator(x, None, batch_size=min(settings["batch_size"], x.shape[0]), shuffle=True,
                                  seed=data_seed)
        net.pretrain(it, epochs=settings["epochs"])
        return net

    def _check_support(self, dist_conf, x):
        try:
            build_distribution(dist_conf, x.dtype).check_data(x, "X")
        except ValueError as e:
            raise ValueError(f"{type(self).__name__}: {e} (after preprocessing={self.preprocessing!r})") from None

    # ------------------------------------------------------------------ scores
    @property
    def _noise_seed(self):
        return int(np.random.SeedSequence(self.seed_).generate_state(3, dtype=np.uint64)[2] % np.uint64(2 ** 63))

    def _scores(self, x):
        layer = self._scoring_network().get_layer(0)
        self._check_support(layer.conf.distribution, x)
        return vae_scores(layer, x, self._param("score"), self.num_samples, self._noise_seed)

    def feature_scores(self, X):
        """Per-feature negative log-probability [n_samples, n_features] (float64): how badly
        each column of each row is explained, ``-log p(x_ij | z)`` averaged over the
        ``num_samples`` draws z_l ~ q(z|x) of the scores (so each row sums to minus its
        reconstruction log-probability with DL4J's mean-of-logs estimator).  High values
        point at the columns that made a row anomalous."""
        x = self._input(X)
        layer = self._scoring_network().get_layer(0)
        self._check_support(layer.conf.distribution, x)
        return vae_feature_scores(layer, x, self.num_samples, self._noise_seed)
