"""Configuration dataclasses: network and layers (the reconstruction distributions'
configs live in their own modules under :mod:`numba_ae.distributions` and are
re-exported here).

Configs are data (Keras ``get_config`` style): every class round-trips
exactly through ``to_dict()/from_dict()`` and ``to_json()/from_json()``, and
never holds learned arrays.  Invalid values raise ``ValueError``/``TypeError``
naming the field at construction; cross-layer checks (``n_in`` matching the
previous ``n_out``) happen in :class:`NeuralNetConfiguration` and name the
layer index.

Configs are immutable (frozen dataclasses; sequences are stored as tuples):
assigning a field raises ``dataclasses.FrozenInstanceError``.  Edit by
building a new one: ``layer.replace(corruption_level=0.5)``,
``conf.replace(seed=1)``, ``conf.replace_layer(0, n_out=64)``; each is
validated like the constructor.  A network keeps the config it was built
from, so that config always describes it (and its model files).

DL4J name mapping: ``nIn``/``nOut`` -> ``n_in``/``n_out``, ``corruptionLevel``
-> ``corruption_level``, ``encoderLayerSizes`` -> ``encoder_layer_sizes``,
``decoderLayerSizes`` -> ``decoder_layer_sizes``, ``pzxActivationFunction`` ->
``pzx_activation``, ``reconstructionDistribution`` ->
``reconstruction_distribution``, ``lossFunction(act, loss)`` ->
``loss_function=LossFunctionWrapper(act, loss)``, ``numSamples`` ->
``num_samples``, ``weightInit`` -> ``weight_init``, ``l1Bias``/``l2Bias`` ->
``l1_bias``/``l2_bias``, ``biasInit`` -> ``bias_init``, ``dropOut(retain)`` ->
``dropout=1 - retain`` (the probability of *dropping*), ``gradientNormalization`` /
``gradientNormalizationThreshold`` -> ``gradient_normalization`` /
``gradient_normalization_threshold``.
"""
from dataclasses import field
from typing import Optional

import numpy as np

from . import updaters as _updaters
from ._serial import ConfigBase, added_field, config_dataclass, set_field
from .distributions import (  # noqa: F401  (re-exported: the config classes of the distributions)
    BernoulliReconstructionDistribution,
    CategoricalReconstructionDistribution,
    CompositeReconstructionDistribution,
    ExponentialReconstructionDistribution,
    GaussianReconstructionDistribution,
    LossFunctionWrapper,
    ReconstructionDistribution,
)
from .gradient_normalization import gradient_normalization_name
from .registries import activation_name, loss_name
from .validation import check_choice, check_int, check_number, check_seed, check_str
from .weight_init import weight_init_name

DTYPES = ("float32", "float64")


# ============================================================================ layers

def _check_layer_params(conf, owner, allow_none):
    """Validate and normalise ``dropout``, ``bias_init``, ``gradient_normalization`` and its
    threshold of a layer config (``allow_none``: None = inherit) or of the network."""
    set_field(conf, "dropout", check_number(conf.dropout, "dropout", owner, low=0.0, high=1.0, high_open=True,
                                            allow_none=allow_none))
    b = check_number(conf.bias_init, "bias_init", owner, allow_none=allow_none)
    set_field(conf, "bias_init", None if b is None else b + 0.0)  # -0.0 -> 0.0: one way to write "zero"
    mode = gradient_normalization_name(conf.gradient_normalization, "gradient_normalization", owner)
    set_field(conf, "gradient_normalization", None if mode == "none" and not allow_none else mode)
    set_field(conf, "gradient_normalization_threshold",
              check_number(conf.gradient_normalization_threshold, "gradient_normalization_threshold", owner,
                           low=0.0, low_open=True, allow_none=allow_none))


@config_dataclass
class LayerConfig(ConfigBase):
    """Fields shared by every layer.  ``None`` means: inherit the network's value.

    ``n_in=None`` is inferred from the previous layer's ``n_out``.  The keyword-only
    ``dropout``, ``bias_init``, ``gradient_normalization`` and
    ``gradient_normalization_threshold`` override the network's values of the same name
    for this layer (see :class:`NeuralNetConfiguration`; ``gradient_normalization="none"``
    turns a network-wide mode off for this layer).
    """

    n_in: Optional[int] = None
    n_out: Optional[int] = None
    activation: Optional[str] = None
    weight_init: Optional[str] = None
    updater: Optional[_updaters.Updater] = None
    l1: Optional[float] = None
    l2: Optional[float] = None
    l1_bias: Optional[float] = None
    l2_bias: Optional[float] = None
    name: Optional[str] = None
    dropout: Optional[float] = added_field(None)
    bias_init: Optional[float] = added_field(None)
    gradient_normalization: Optional[str] = added_field(None)
    gradient_normalization_threshold: Optional[float] = added_field(None)

    pretrainable = False

    def __post_init__(self):
        owner = type(self).__name__
        set_field(self, "n_in", check_int(self.n_in, "n_in", owner, low=1, allow_none=True))
        if self.n_out is None:
            raise ValueError(f"{owner}: 'n_out' is required (an int >= 1)")
        set_field(self, "n_out", check_int(self.n_out, "n_out", owner, low=1))
        if self.activation is not None:
            set_field(self, "activation", activation_name(self.activation, f"{owner}.activation"))
        if self.weight_init is not None:
            set_field(self, "weight_init", weight_init_name(self.weight_init, f"{owner}.weight_init"))
        if self.updater is not None:
            set_field(self, "updater", _updaters.get(self.updater, f"{owner}.updater"))
        for f in ("l1", "l2", "l1_bias", "l2_bias"):
            set_field(self, f, check_number(getattr(self, f), f, owner, low=0.0, allow_none=True))
        set_field(self, "name", check_str(self.name, "name", owner, allow_none=True))
        _check_layer_params(self, owner, allow_none=True)


@config_dataclass
class DenseLayer(LayerConfig):
    """Fully connected layer ``f(x @ W + b)``; params ``W`` [n_in, n_out], ``b`` [n_out]."""


@config_dataclass
class OutputLayer(LayerConfig):
    """Dense layer with a loss (default ``mcxent`` as DL4J); the network's last layer."""

    loss: str = "mcxent"

    def __post_init__(self):
        super().__post_init__()
        set_field(self, "loss", loss_name(self.loss, "OutputLayer.loss"))


@config_dataclass
class AutoEncoder(LayerConfig):
    """Denoising autoencoder with tied weights; params ``W``, ``b``, ``vb``.

    Pretrain objective: ``loss(decode(encode(corrupt(x))), x)`` averaged over
    the minibatch plus ``sparsity * mean_over_batch(sum_j |h_j|)`` (an L1
    activity penalty on the hidden code; 0 turns it off).
    """

    corruption_level: float = 0.3
    sparsity: float = 0.0
    loss: str = "mse"

    pretrainable = True

    def __post_init__(self):
        super().__post_init__()
        set_field(self, "corruption_level", check_number(self.corruption_level, "corruption_level", "AutoEncoder",
                                                         low=0.0, high=1.0))
        set_field(self, "sparsity", check_number(self.sparsity, "sparsity", "AutoEncoder", low=0.0))
        set_field(self, "loss", loss_name(self.loss, "AutoEncoder.loss"))


@config_dataclass
class VariationalAutoencoder(LayerConfig):
    """Variational autoencoder layer (Kingma & Welling); ``n_out`` is the latent size.

    Exactly one of ``reconstruction_distribution`` or ``loss_function`` must be set.

    KL control (no DL4J equivalent; the defaults train exactly as DL4J's objective):

    * ``beta`` (float >= 0, default 1.0): weight on the KL term (beta-VAE).
    * ``kl_warmup_steps`` (int >= 0, default 0 = off): at the layer's pretrain step ``t``
      (its pretrain updater step count, from 0) the KL weight is
      ``beta * min(1, t / kl_warmup_steps)``.
    * ``free_bits`` (float >= 0, default 0.0 = off), in nats per latent dimension (Kingma
      et al. 2016): the KL term of a minibatch becomes ``sum_j max(free_bits, mean_i KL_ij)``.

    ``to_dict`` leaves these three fields out while they hold their defaults, so a config
    that does not use them serialises (and its model files re-save) exactly as before they
    existed; ``from_dict`` fills in the defaults.
    """

    encoder_layer_sizes: tuple = (100,)
    decoder_layer_sizes: tuple = (100,)
    pzx_activation: str = "identity"
    reconstruction_distribution: Optional[ReconstructionDistribution] = None
    loss_function: Optional[LossFunctionWrapper] = None
    num_samples: int = 1
    beta: float = 1.0
    kl_warmup_steps: int = 0
    free_bits: float = 0.0

    pretrainable = True
    #: Fields added after format 1.0's first files, omitted from ``to_dict`` at these defaults.
    _OMITTED_AT_DEFAULT = (("beta", 1.0), ("kl_warmup_steps", 0), ("free_bits", 0.0))

    def __post_init__(self):
        super().__post_init__()
        owner = "VariationalAutoencoder"
        for f in ("encoder_layer_sizes", "decoder_layer_sizes"):
            sizes = getattr(self, f)
            if isinstance(sizes, (int, np.integer)) and not isinstance(sizes, bool):
                sizes = (sizes,)
            if not isinstance(sizes, (list, tuple)) or len(sizes) == 0:
                raise ValueError(f"{owner}: '{f}' must be a non-empty sequence of ints >= 1; got {sizes!r}")
            set_field(self, f, tuple(check_int(s, f"{f}[{k}]", owner, low=1) for k, s in enumerate(sizes)))
        set_field(self, "pzx_activation", activation_name(self.pzx_activation, f"{owner}.pzx_activation"))
        set_field(self, "num_samples", check_int(self.num_samples, "num_samples", owner, low=1))
        # "+ 0.0" turns -0.0 into 0.0 (one representation of "off")
        set_field(self, "beta", check_number(self.beta, "beta", owner, low=0.0) + 0.0)
        set_field(self, "kl_warmup_steps", check_int(self.kl_warmup_steps, "kl_warmup_steps", owner, low=0))
        set_field(self, "free_bits", check_number(self.free_bits, "free_bits", owner, low=0.0) + 0.0)
        rd, lf = self.reconstruction_distribution, self.loss_function
        if (rd is None) == (lf is None):
            raise ValueError(f"{owner}: set exactly one of 'reconstruction_distribution' or "
                             f"'loss_function'; got {'both' if rd is not None else 'neither'}")
        if rd is not None and not isinstance(rd, ReconstructionDistribution):
            raise TypeError(f"{owner}: 'reconstruction_distribution' must be a ReconstructionDistribution; "
                            f"got {type(rd).__name__}")
        if lf is not None and not isinstance(lf, LossFunctionWrapper):
            raise TypeError(f"{owner}: 'loss_function' must be a LossFunctionWrapper; got {type(lf).__name__}")
        dist = self.distribution
        if isinstance(dist, CompositeReconstructionDistribution) and self.n_in is not None \
                and dist.data_width() != self.n_in:
            raise ValueError(f"{owner}: the CompositeReconstructionDistribution slice sizes sum to "
                             f"{dist.data_width()} but n_in={self.n_in}")

    def to_dict(self):
        """The constructor arguments as JSON-compatible data, without the KL-control fields
        that hold their defaults (see the class docstring)."""
        d = super().to_dict()
        for name, default in self._OMITTED_AT_DEFAULT:
            if d[name] == default:
                del d[name]
        return d

    @property
    def distribution(self):
        """The p(x|z) model: the reconstruction distribution or the loss wrapper."""
        return self.reconstruction_distribution if self.reconstruction_distribution is not None \
            else self.loss_function


LAYER_TYPES = (DenseLayer, OutputLayer, AutoEncoder, VariationalAutoencoder)


# ============================================================================ network

@config_dataclass
class NeuralNetConfiguration(ConfigBase):
    """A stack of layers plus network-wide defaults (DL4J's ``NeuralNetConfiguration.Builder().list()``).

    Defaults as DL4J: activation ``sigmoid``, weight init ``xavier``, updater
    ``Sgd(1e-3)``, no regularisation.  ``seed=None`` draws a seed at
    ``MultiLayerNetwork.init()`` (recorded on the network).

    Keyword-only layer parameters (network defaults; each layer config may override them):

    * ``dropout`` (default 0.0): probability in [0, 1) of *dropping* each input value of a
      layer during ``fit`` (inverted dropout: kept values are scaled by ``1/(1-p)``; masks
      from the network's seeded generator).  Never applied in inference (``output``,
      ``score``, ``feed_forward``, ...) nor in ``pretrain``.  DL4J's ``dropOut(x)`` takes
      the probability of *retaining*: ``dropOut(0.8)`` is ``dropout=0.2``.
    * ``bias_init`` (default 0.0): the initial value of every bias parameter (DL4J
      ``biasInit``; here also the AutoEncoder's ``vb`` and all VAE biases).
    * ``gradient_normalization`` (default None: off) and ``gradient_normalization_threshold``
      (default 1.0, > 0): DL4J's ``GradientNormalization`` modes, applied to each layer's
      averaged gradient before l1/l2 and the updater (see
      :mod:`numba_ae.gradient_normalization`).
    """

    layers: tuple = ()
    seed: Optional[int] = None
    updater: _updaters.Updater = field(default_factory=_updaters.Sgd)
    weight_init: str = "xavier"
    activation: str = "sigmoid"
    l1: float = 0.0
    l2: float = 0.0
    l1_bias: float = 0.0
    l2_bias: float = 0.0
    dtype: str = "float32"
    dropout: float = added_field(0.0)
    bias_init: float = added_field(0.0)
    gradient_normalization: Optional[str] = added_field(None)
    gradient_normalization_threshold: float = added_field(1.0)

    def __post_init__(self):
        owner = "NeuralNetConfiguration"
        _check_layer_params(self, owner, allow_none=False)
        set_field(self, "seed", check_seed(self.seed, "seed", owner))
        set_field(self, "updater", _updaters.get(self.updater, f"{owner}.updater"))
        set_field(self, "weight_init", weight_init_name(self.weight_init, f"{owner}.weight_init"))
        set_field(self, "activation", activation_name(self.activation, f"{owner}.activation"))
        for f in ("l1", "l2", "l1_bias", "l2_bias"):
            set_field(self, f, check_number(getattr(self, f), f, owner, low=0.0))
        set_field(self, "dtype", check_choice(self.dtype, "dtype", owner, DTYPES))
        if not isinstance(self.layers, (list, tuple)) or len(self.layers) == 0:
            raise ValueError(f"{owner}: 'layers' must be a non-empty sequence of layer configs")
        set_field(self, "layers", tuple(self.layers))
        prev = None
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, LayerConfig):
                raise TypeError(f"{owner}: layers[{i}] must be a layer config ({', '.join(c.__name__ for c in LAYER_TYPES)}); "
                                f"got {type(layer).__name__}")
            kind = type(layer).__name__
            if layer.n_in is None and prev is None:
                raise ValueError(f"{owner}: layers[0] ({kind}): 'n_in' is required for the first layer")
            if layer.n_in is not None and prev is not None and layer.n_in != prev:
                raise ValueError(f"{owner}: layers[{i}] ({kind}): 'n_in'={layer.n_in} does not match "
                                 f"the previous layer's n_out={prev}")
            if isinstance(layer, OutputLayer) and i != len(self.layers) - 1:
                raise ValueError(f"{owner}: layers[{i}] (OutputLayer) must be the last layer")
            n_in = layer.n_in if layer.n_in is not None else prev
            if isinstance(layer, VariationalAutoencoder):
                dist = layer.distribution
                if isinstance(dist, CompositeReconstructionDistribution) and dist.data_width() != n_in:
                    raise ValueError(f"{owner}: layers[{i}] (VariationalAutoencoder): the composite "
                                     f"distribution's sizes sum to {dist.data_width()} but n_in={n_in}")
            prev = layer.n_out

    def replace_layer(self, i, **changes):
        """A new config with ``layers[i].replace(**changes)`` in place of layer ``i``,
        validated as a whole (e.g. ``n_in`` against the neighbours); this one is unchanged."""
        layers = list(self.layers)
        layers[i] = layers[i].replace(**changes)
        return self.replace(layers=tuple(layers))

    # ---- effective per-layer settings --------------------------------------------------
    def n_in_of(self, i):
        """Effective ``n_in`` of layer ``i`` (inferred from the previous layer when None)."""
        layer = self.layers[i]
        return layer.n_in if layer.n_in is not None else self.layers[i - 1].n_out

    def resolved(self, i, field_name):
        """The layer's own value of ``field_name`` or the network default when it is None."""
        v = getattr(self.layers[i], field_name)
        return getattr(self, field_name) if v is None else v

    @property
    def np_dtype(self):
        return np.dtype(self.dtype)
