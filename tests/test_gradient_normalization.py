"""Gradient normalization (DL4J ``GradientNormalization``): each mode against a NumPy
reference of DL4J's formula (``BaseMultiLayerUpdater.preApply``), and training steps
(``fit`` and ``pretrain``) whose applied gradient is the reference applied by hand to the
raw averaged gradient, before the l1/l2 gradient is added."""
import numpy as np
import pytest

from harness import make_net
from numba_ae import (AutoEncoder, DenseLayer, GaussianReconstructionDistribution, OutputLayer, Sgd,
                      VariationalAutoencoder)
from numba_ae.gradient_normalization import GRADIENT_NORMALIZATIONS, normalize_gradient
from numba_ae.kernels import gradient_normalization as kg

MODES = [m for m in GRADIENT_NORMALIZATIONS if m != "none"]


def ref_one(mode, g, t):
    """DL4J's formula on one gradient array (float64)."""
    g = np.asarray(g, dtype=np.float64)
    norm = np.sqrt(np.sum(g * g))
    if mode.startswith("renormalize"):
        return g / (norm if norm != 0.0 else 1e-5)
    if mode.startswith("clip_l2"):
        return g * (t / norm) if norm > t else g.copy()
    assert mode == "clip_element_wise_absolute_value"
    return np.clip(g, -t, t)


def ref_layer(mode, grads, t):
    """``{name: normalized gradient}`` of one layer: ``*_per_layer`` / element-wise over the
    layer's concatenated gradient, ``*_per_param_type`` per parameter."""
    names = list(grads)
    if mode is None or mode == "none":
        return {k: np.asarray(v, dtype=np.float64).copy() for k, v in grads.items()}
    if mode.endswith("per_param_type"):
        return {k: ref_one(mode, grads[k], t) for k in names}
    flat = ref_one(mode, np.concatenate([np.ravel(grads[k]) for k in names]), t)
    out, off = {}, 0
    for k in names:
        n = np.size(grads[k])
        out[k] = flat[off:off + n].reshape(np.shape(grads[k]))
        off += n
    return out


# ============================================================================ kernels and driver

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("scale", [0.0, 1e-3, 1.0, 50.0])
@pytest.mark.parametrize("mode", MODES)
def test_driver_matches_dl4j_formula(mode, scale, dtype):
    rng = np.random.default_rng(1)
    t = 0.7
    grads = {"W": (scale * rng.normal(size=(6, 4))).astype(dtype), "b": (scale * rng.normal(size=4)).astype(dtype),
             "vb": (0.1 * scale * rng.normal(size=6)).astype(dtype)}
    flat = np.concatenate([g.ravel() for g in grads.values()])
    want = ref_layer(mode, grads, t)
    views, off = [], 0
    for g in grads.values():
        views.append(flat[off:off + g.size])
        off += g.size
    normalize_gradient(mode, t, flat, views)
    assert flat.dtype == dtype
    got = np.concatenate([np.ravel(v) for v in want.values()])
    tol = dict(rtol=1e-12, atol=1e-300) if dtype == np.float64 else dict(rtol=2e-6, atol=1e-30)
    np.testing.assert_allclose(flat, got, **tol)
    assert np.all(np.isfinite(flat))


def test_kernel_edge_cases():
    g = np.zeros(5)
    assert kg.renormalize_l2(g) == 0.0 and not g.any()           # zero norm: 0 / 1e-5, no NaN
    g = np.array([3.0, 4.0])
    assert kg.clip_l2(g, 5.0) == 5.0 and list(g) == [3.0, 4.0]   # at the threshold: unchanged
    assert kg.clip_l2(g, 1.0) == 5.0 and np.allclose(g, [0.6, 0.8])
    g = np.array([np.inf, -np.inf, np.nan, 0.5, -2.0], dtype=np.float32)
    kg.clip_element_wise(g, 1.0)
    assert g[0] == 1.0 and g[1] == -1.0 and np.isnan(g[2]) and g[3] == np.float32(0.5) and g[4] == -1.0
    g = np.array([1.0, np.inf])
    kg.clip_l2(g, 1.0)
    assert not np.all(np.isfinite(g))  # an infinite gradient stays non-finite: the divergence guard sees it
    big = np.full(10, 3e38, dtype=np.float32)   # squares overflow float32, not the float64 sum
    kg.renormalize_l2(big)
    np.testing.assert_allclose(big, np.full(10, 1 / np.sqrt(10)), rtol=1e-6)


def test_none_is_a_no_op():
    flat = np.arange(4.0)
    for mode in (None, "none"):
        normalize_gradient(mode, 1.0, flat, [flat])
    assert list(flat) == [0.0, 1.0, 2.0, 3.0]


# ============================================================================ training steps

def layers_fit():
    return [DenseLayer(n_in=5, n_out=4, activation="tanh"), AutoEncoder(n_out=3, activation="sigmoid"),
            OutputLayer(n_out=2, activation="identity", loss="l2")]


def grads_of(net):
    return [{k: v.copy() for k, v in layer.grads.items()} for layer in net.layers]


def expected(raw_net, net, raw, i, mode, t):
    """The reference normalization of layer i's raw gradient plus its l1/l2 gradient at the
    parameters before the step (``raw_net``'s: it has no l1/l2 and the same parameters)."""
    conf = net.conf
    l1, l2 = conf.resolved(i, "l1"), conf.resolved(i, "l2")
    l1b, l2b = conf.resolved(i, "l1_bias"), conf.resolved(i, "l2_bias")
    out = ref_layer(mode, raw[i], t)
    for name, _, is_bias in net.layers[i].param_specs():
        p = raw_net.layers[i].params[name]
        a1, a2 = (l1b, l2b) if is_bias else (l1, l2)
        out[name] = out[name] + a2 * p + a1 * np.sign(p)
    return out


def assert_step(net, raw_net, p0, layer_ids, modes, t):
    raw = grads_of(raw_net)
    for i in layer_ids:
        want = expected(raw_net, net, raw, i, modes[i], t)
        for name, g in net.layers[i].grads.items():
            np.testing.assert_allclose(g, want[name], rtol=1e-12, atol=1e-15, err_msg=f"layer {i} {name}")
    # Sgd(1.0): the parameters moved by exactly minus the gradient the updater was given
    np.testing.assert_array_equal(net.params(), p0 - net._flat_grad)


@pytest.mark.parametrize("mode", MODES)
def test_fit_step_applies_the_mode_before_l1_l2(mode):
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(7, 5)), 5.0 * rng.normal(size=(7, 2))
    t = 0.05   # below the raw norms: the clipping modes clip
    net = make_net(layers_fit(), seed=3, l2=0.1, l1_bias=0.01, gradient_normalization=mode,
                   gradient_normalization_threshold=t)
    raw_net = make_net(layers_fit(), seed=3, updater=Sgd(0.0))  # keeps its parameters: p0
    p0 = net.params()
    assert np.array_equal(p0, raw_net.params())
    raw_net.fit((x, y))
    net.fit((x, y))
    assert_step(net, raw_net, p0, range(3), [mode] * 3, t)
    if mode.startswith("clip_l2") and mode.endswith("layer"):
        assert np.sqrt(np.sum(raw_net._flat_grad[net._slices[0]] ** 2)) > t


def test_per_layer_overrides():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(6, 5)), rng.normal(size=(6, 2))
    layers = layers_fit()
    layers[1] = layers[1].replace(gradient_normalization="none")
    layers[2] = layers[2].replace(gradient_normalization="clip_element_wise_absolute_value",
                                  gradient_normalization_threshold=0.01)
    net = make_net(layers, seed=5, gradient_normalization="renormalize_l2_per_param_type",
                   gradient_normalization_threshold=7.0)
    raw_net = make_net(layers_fit(), seed=5, updater=Sgd(0.0))
    p0 = net.params()
    raw_net.fit((x, y))
    net.fit((x, y))
    raw = grads_of(raw_net)
    modes = ["renormalize_l2_per_param_type", "none", "clip_element_wise_absolute_value"]
    for i, t in zip(range(3), (7.0, 7.0, 0.01)):
        want = expected(raw_net, net, raw, i, modes[i], t)
        for name, g in net.layers[i].grads.items():
            np.testing.assert_allclose(g, want[name], rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(net.params(), p0 - net._flat_grad)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["autoencoder", "vae"])
def test_pretrain_step_applies_the_mode(kind, mode):
    rng = np.random.default_rng(6)
    x = rng.uniform(size=(8, 5))
    if kind == "autoencoder":
        def layers():
            return [AutoEncoder(n_in=5, n_out=3, activation="sigmoid", corruption_level=0.3)]
    else:
        def layers():
            return [VariationalAutoencoder(n_in=5, n_out=2, encoder_layer_sizes=(4,), decoder_layer_sizes=(3,),
                                           reconstruction_distribution=GaussianReconstructionDistribution())]
    t = 0.02
    net = make_net(layers(), seed=7, l2=0.05, updater=Sgd(1.0), gradient_normalization=mode,
                   gradient_normalization_threshold=t)
    raw_net = make_net(layers(), seed=7, updater=Sgd(0.0))
    p0 = net.params()
    raw_net.pretrain_batch(0, x)   # same seed: the same corruption / VAE noise
    net.pretrain_batch(0, x)
    assert_step(net, raw_net, p0, [0], [mode], t)


def test_default_is_off_bitwise():
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(6, 5)), rng.normal(size=(6, 2))
    a = make_net(layers_fit(), seed=9, gradient_normalization="none", gradient_normalization_threshold=3.0)
    b = make_net(layers_fit(), seed=9)
    for n in (a, b):
        n.fit((x, y), epochs=2, batch_size=4)
    assert a.params().tobytes() == b.params().tobytes()
