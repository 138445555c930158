"""Hypothesis strategies for configurations, shared by the config tests
(``tests/test_config.py``) and the model-file tests (``tests/test_io_roundtrip.py``).

Every strategy takes ``trainable``:

* ``trainable=False`` (the default): broad coverage of the configuration fields (every
  registered activation/loss/weight init and their aliases, every updater with any valid
  hyperparameters, composites of any leaf distribution, ``None`` for inherited fields,
  tuple/list/int spellings) -- for round trips of the config objects;
* ``trainable=True``: thin wrappers over the public strategies of
  :mod:`numba_ae.testing.strategies` (networks that train a step without diverging,
  support-restricted distributions only on input in their support, a trainable last
  layer, the first layer's ``n_in`` set) -- for model-file round trips of trained
  networks.  Their data in [0, 1) with one-hot labels for mcxent/negativeloglikelihood
  fits every config they generate (``datasets_for`` generates valid data in general).

The broad ``trainable=False`` strategies stay here: the public ones are restricted to
trainable configs.
"""
from hypothesis import strategies as st

from numba_ae import (
    AdaGrad,
    Adam,
    AutoEncoder,
    BernoulliReconstructionDistribution,
    CompositeReconstructionDistribution,
    DenseLayer,
    ExponentialReconstructionDistribution,
    GaussianReconstructionDistribution,
    LossFunctionWrapper,
    Nesterovs,
    NeuralNetConfiguration,
    OutputLayer,
    RmsProp,
    Sgd,
    VariationalAutoencoder,
)
from numba_ae.gradient_normalization import GRADIENT_NORMALIZATIONS
from numba_ae.registries import ACTIVATIONS, LOSSES
from numba_ae.testing import strategies as nst
from numba_ae.weight_init import WEIGHT_INITS

ACT_NAMES = sorted(ACTIVATIONS)
LOSS_NAMES = sorted(LOSSES)


def finite(lo, hi, **kw):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, **kw)


# ============================================================================ building blocks

sizes = st.integers(1, 12)
activations = st.sampled_from(ACT_NAMES + ["LINEAR", "ReLU", "leaky_relu", "logistic"])
losses = st.sampled_from(LOSS_NAMES + ["MSE", "nll", "binary_crossentropy"])
lrs = finite(0.0, 10.0)
epsilons = finite(1e-12, 1.0)
reg = st.one_of(st.none(), finite(0.0, 1.0), st.integers(0, 3))
dropouts = finite(0.0, 1.0, exclude_max=True)
bias_inits = finite(-10.0, 10.0)
grad_norms = st.sampled_from(list(GRADIENT_NORMALIZATIONS) + ["ClipL2PerLayer", "RenormalizeL2PerParamType"])
grad_norm_thresholds = finite(0.0, 100.0, exclude_min=True)

def updaters(trainable=False):
    """Any updater (objects with any valid hyperparameters, or names); with ``trainable``
    the public ``nst.updaters()`` (small learning rates: steps must not diverge)."""
    if trainable:
        return nst.updaters()
    return st.one_of(
        st.builds(Sgd, learning_rate=lrs),
        st.builds(Adam, learning_rate=lrs, beta1=finite(0.0, 1.0, exclude_max=True),
                  beta2=finite(0.0, 1.0, exclude_max=True), epsilon=epsilons),
        st.builds(Nesterovs, learning_rate=lrs, momentum=finite(0.0, 1.0, exclude_max=True)),
        st.builds(RmsProp, learning_rate=lrs, rms_decay=finite(0.0, 1.0), epsilon=epsilons),
        st.builds(AdaGrad, learning_rate=lrs, epsilon=epsilons),
        st.sampled_from(["sgd", "adam", "nesterovs", "rmsprop", "adagrad"]),
    )


def common_fields():
    return st.fixed_dictionaries({
        "activation": st.one_of(st.none(), activations),
        "weight_init": st.one_of(st.none(), st.sampled_from(list(WEIGHT_INITS) + ["XAVIER"])),
        "updater": st.one_of(st.none(), updaters()),
        "l1": reg, "l2": reg, "l1_bias": reg, "l2_bias": reg,
        "name": st.one_of(st.none(), st.text(max_size=8)),
        "dropout": st.one_of(st.none(), dropouts),
        "bias_init": st.one_of(st.none(), bias_inits),
        "gradient_normalization": st.one_of(st.none(), grad_norms),
        "gradient_normalization_threshold": st.one_of(st.none(), grad_norm_thresholds),
    })


leaf_distributions = st.one_of(
    st.builds(GaussianReconstructionDistribution, activation=activations),
    st.builds(BernoulliReconstructionDistribution, activation=st.sampled_from(["sigmoid", "hardsigmoid"])),
    st.builds(ExponentialReconstructionDistribution, activation=activations),
    st.builds(LossFunctionWrapper, activation=activations, loss=losses),
)


# ============================================================================ distributions


@st.composite
def distributions(draw, n_in, trainable=False, bounded_input=True):
    """A reconstruction distribution for ``n_in`` data columns (composites sum to it).
    ``trainable``: support-restricted ones (Bernoulli, Exponential, composites of them)
    only when the input lies in [0, 1] (``bounded_input``)."""
    if not trainable:  # (the public strategy with trainable)
        if n_in >= 2 and draw(st.booleans()):
            cuts = sorted(draw(st.sets(st.integers(1, n_in - 1), min_size=1, max_size=min(3, n_in - 1))))
            bounds = [0] + cuts + [n_in]
            parts = [(bounds[i + 1] - bounds[i], draw(leaf_distributions)) for i in range(len(bounds) - 1)]
            return CompositeReconstructionDistribution(parts)
        return draw(leaf_distributions)
    return draw(nst.reconstruction_distributions(n_in, data_range="unit" if bounded_input else "real"))


def vae_distribution_kwargs(dist):
    """The VAE keyword for ``dist``: ``loss_function`` for a loss wrapper, else
    ``reconstruction_distribution``."""
    key = "loss_function" if isinstance(dist, LossFunctionWrapper) else "reconstruction_distribution"
    return {key: dist}


# ============================================================================ layers


LAYER_KINDS = ["dense", "autoencoder", "vae"]


@st.composite
def layer_configs(draw, kind, n_in, n_in_effective, n_out, trainable=False, bounded_input=True):
    """A layer config of ``kind`` (``dense``, ``output``, ``autoencoder``, ``vae``) with the
    given ``n_in`` (``None``: inferred) and ``n_out``; ``n_in_effective`` is its input width."""
    if trainable:
        layer = draw(nst.layer_configs(n_in_effective, n_out, kinds=(kind,),
                                       data_range="unit" if bounded_input else "real"))
        return layer if n_in is not None else layer.replace(n_in=None)
    kw = draw(common_fields())
    kw.update(n_in=n_in, n_out=n_out)
    if kind == "dense":
        return DenseLayer(**kw)
    if kind == "output":
        return OutputLayer(loss=draw(losses), **kw)
    if kind == "autoencoder":
        return AutoEncoder(corruption_level=draw(finite(0.0, 1.0)), sparsity=draw(finite(0.0, 5.0)),
                           loss=draw(losses), **kw)
    assert kind == "vae"
    enc = draw(st.lists(sizes, min_size=1, max_size=3))
    dec = draw(st.lists(sizes, min_size=1, max_size=3))
    if draw(st.booleans()):
        kw["reconstruction_distribution"] = draw(distributions(n_in_effective))
    else:
        kw["loss_function"] = draw(st.builds(LossFunctionWrapper, activation=activations, loss=losses))
    return VariationalAutoencoder(
        encoder_layer_sizes=draw(st.sampled_from([tuple(enc), list(enc), enc[0]])),
        decoder_layer_sizes=tuple(dec), pzx_activation=draw(activations),
        num_samples=draw(st.integers(1, 4)), **kw)


# ============================================================================ networks


@st.composite
def network_configs(draw, trainable=False):
    """A ``NeuralNetConfiguration`` of 1-4 layers (broad), or with ``trainable`` the public
    ``nst.network_configs()`` (1-4 trainable layers; input of width ``conf.layers[0].n_in``)."""
    if trainable:
        return draw(nst.network_configs())
    n_layers = draw(st.integers(1, 4))
    prev = draw(sizes)
    layers = []
    for i in range(n_layers):
        last = i == n_layers - 1
        kind = draw(st.sampled_from(LAYER_KINDS + (["output"] if last else [])))
        n_in = prev if i == 0 else draw(st.sampled_from([None, prev]))
        n_out = draw(sizes)
        layers.append(draw(layer_configs(kind, n_in, prev, n_out)))
        prev = n_out
    return NeuralNetConfiguration(
        layers=draw(st.sampled_from([layers, tuple(layers)])),
        seed=draw(st.one_of(st.none(), st.integers(0, 2 ** 64))),
        updater=draw(updaters()),
        weight_init=draw(st.sampled_from(WEIGHT_INITS)),
        activation=draw(activations),
        l1=draw(finite(0.0, 1.0)), l2=draw(finite(0.0, 1.0)),
        l1_bias=draw(finite(0.0, 1.0)), l2_bias=draw(finite(0.0, 1.0)),
        dtype=draw(st.sampled_from(["float32", "float64"])),
        dropout=draw(dropouts), bias_init=draw(bias_inits),
        gradient_normalization=draw(st.one_of(st.none(), grad_norms)),
        gradient_normalization_threshold=draw(grad_norm_thresholds),
    )
