"""Dropout (``dropout`` of the network and of each layer): inverted dropout of a layer's
input during ``fit`` only.

Oracles: the kernels against NumPy; the fit gradient against central differences of the
loss with the step's masks held fixed (the generator state is restored before each
evaluation, so every evaluation draws the same masks); the training loss against a NumPy
forward pass whose masks are rebuilt from the documented rule (raw 32-bit words of the
network's generator, dropped where a word is below ``round(p * 2**32)``, layer by layer);
bitwise equality with a dropout-free network wherever dropout must not act (inference,
``pretrain``, ``dropout=0``).
"""
import os

import numpy as np
import pytest

from harness import fd_grad, make_net, param_names, random_params
from reference import assert_grad_close, ref_act
from numba_ae import (AutoEncoder, DenseLayer, GaussianReconstructionDistribution, MultiLayerNetwork,
                      OutputLayer, Sgd, VariationalAutoencoder)
from numba_ae.kernels import dropout as kd


def bits(a):
    a = np.asarray(a)
    return a.dtype.str, a.shape, a.tobytes()


def raw_words(gen, size):
    """``size`` uniform uint32 words as the network draws them for one mask."""
    return gen.bit_generator.random_raw((size + 1) // 2).view(np.uint32)[:size]


def ref_mask(words, p, shape, dtype=np.float64):
    """The documented mask: 0 where the word is below round(p * 2**32), else 1/(1-p)."""
    keep = words.astype(np.int64) >= np.int64(round(p * 2.0 ** 32))
    return np.where(keep, dtype(1.0 / (1.0 - p)), dtype(0.0)).astype(dtype).reshape(shape)


# ============================================================================ kernels

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.9])
def test_kernels_match_numpy(dtype, p):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(7, 5)).astype(dtype)
    words = rng.integers(0, 2 ** 32, size=x.size, dtype=np.uint32)
    out, mask = np.empty_like(x), np.empty_like(x)
    x0 = x.copy()
    kd.dropout_forward(x, words, np.int64(round(p * 2.0 ** 32)), dtype(1.0 / (1.0 - p)), out, mask)
    want = ref_mask(words, p, x.shape, dtype)
    assert bits(mask) == bits(want)
    assert bits(out) == bits(x * want)
    assert bits(x) == bits(x0)
    delta = rng.normal(size=x.shape).astype(dtype)
    expect = delta * want
    kd.dropout_backward(delta, mask)
    assert bits(delta) == bits(expect)


def test_mask_drops_the_configured_fraction():
    rng = np.random.default_rng(2)
    n, k, p = 400, 250, 0.3
    words = rng.integers(0, 2 ** 32, size=n * k, dtype=np.uint32)
    x = np.ones((n, k))
    out, mask = np.empty_like(x), np.empty_like(x)
    kd.dropout_forward(x, words, np.int64(round(p * 2.0 ** 32)), 1.0 / (1.0 - p), out, mask)
    dropped = np.mean(out == 0.0)
    assert abs(dropped - p) < 0.01           # 100k draws: sd ~ 0.0015
    assert np.all(out[out != 0.0] == 1.0 / (1.0 - p))
    assert abs(out.mean() - 1.0) < 0.02      # inverted dropout keeps the expectation


# ============================================================================ gradient checks

def masked_loss(net, x, y, state):
    """``f(flat)``: the fit loss (mean example loss + l1/l2) at parameters ``flat`` with the
    dropout masks that the generator state ``state`` gives."""
    def f(q):
        net.set_params(q)
        net._rng.bit_generator.state = state
        net._forward(x, training=True, dropout=True)
        return float(np.mean(net.layers[-1].example_scores(y))) + net.regularization_score()
    return f


def check_dropout_gradient(net, x, y, rng, what):
    p = random_params(net, rng)
    net.set_params(p)
    state = net._rng.bit_generator.state
    net.fit((x, y))                                  # Sgd(1.0): p - p_after is the gradient
    g = p - net.params()
    assert net._rng.bit_generator.state != state, f"{what}: fit drew no dropout mask"
    num = fd_grad(masked_loss(net, x, y, state), p)
    assert np.any(g != 0)
    assert_grad_close(g, num, what, names=param_names(net))


NETS = {
    "dense": lambda: [DenseLayer(n_in=5, n_out=4, activation="tanh", dropout=0.3),
                      DenseLayer(n_out=3, activation="sigmoid", dropout=0.5),
                      OutputLayer(n_out=2, activation="identity", loss="mse", dropout=0.25)],
    "network_default": lambda: [DenseLayer(n_in=5, n_out=4, activation="softplus"),
                                OutputLayer(n_out=3, activation="softmax", loss="mcxent")],
    "autoencoder": lambda: [AutoEncoder(n_in=5, n_out=4, activation="sigmoid", dropout=0.4),
                            OutputLayer(n_out=2, activation="identity", loss="mse", dropout=0.2)],
    "vae": lambda: [VariationalAutoencoder(n_in=5, n_out=2, encoder_layer_sizes=(4,), decoder_layer_sizes=(3,),
                                           activation="tanh", dropout=0.35,
                                           reconstruction_distribution=GaussianReconstructionDistribution()),
                    OutputLayer(n_out=2, activation="identity", loss="mse", dropout=0.3)],
}


@pytest.mark.parametrize("kind", sorted(NETS))
def test_fit_gradient_with_fixed_masks(kind):
    rng = np.random.default_rng(3)
    kw = {"dropout": 0.4, "l2": 0.05} if kind == "network_default" else {"l1": 0.01}
    net = make_net(NETS[kind](), seed=4, **kw)
    x = rng.normal(size=(6, 5))
    if kind == "network_default":
        y = rng.dirichlet(np.ones(3), size=6)
    else:
        y = rng.normal(size=(6, 2))
    check_dropout_gradient(net, x, y, rng, f"{kind} fit with dropout")


def test_training_loss_matches_numpy_forward_with_rebuilt_masks():
    """Which inputs are dropped, in which order the masks are drawn, and the 1/(1-p) scale."""
    rng = np.random.default_rng(5)
    ps = [0.2, 0.0, 0.6]
    net = make_net([DenseLayer(n_in=6, n_out=5, activation="tanh", dropout=ps[0]),
                    DenseLayer(n_out=4, activation="sigmoid"),            # inherits 0.0
                    OutputLayer(n_out=3, activation="identity", loss="mse", dropout=ps[2])], seed=6)
    x, y = rng.normal(size=(8, 6)), rng.normal(size=(8, 3))
    x0 = x.copy()
    gen = np.random.Generator(np.random.PCG64())
    gen.bit_generator.state = net._rng.bit_generator.state
    layers = [{k: v.copy() for k, v in layer.params.items()} for layer in net.layers]
    score = net.fit_batch(x, y)
    a = x
    for p, params, layer in zip(ps, layers, net.layers):
        if p > 0:
            a = a * ref_mask(raw_words(gen, a.size), p, a.shape)
        a = ref_act(layer.activation, a @ params["W"] + params["b"])
    want = np.mean(np.mean((a - y) ** 2, axis=1))
    assert score == pytest.approx(want, rel=1e-12)
    assert net._rng.bit_generator.state == gen.bit_generator.state   # exactly those words were drawn
    assert bits(x) == bits(x0)                                        # the caller's array is untouched


# ============================================================================ where dropout must not act

def twin_nets(layers_fn, **kw):
    """A network with the given dropout settings and one without, same seed (same init)."""
    with_d = make_net(layers_fn(), seed=7, **kw)
    plain = make_net([lc.replace(dropout=None) for lc in layers_fn()], seed=7,
                     **{k: v for k, v in kw.items() if k != "dropout"})
    assert bits(with_d.params()) == bits(plain.params())
    return with_d, plain


def test_inference_never_drops_and_draws_nothing():
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(9, 5)), rng.normal(size=(9, 2))
    net, plain = twin_nets(NETS["dense"], dropout=0.5)
    net.fit((x, y))
    plain.set_params(net.params())
    state = net._rng.bit_generator.state
    for training in (False, True):
        assert bits(net.output(x, training=training)) == bits(plain.output(x, training=training))
        for a, b in zip(net.feed_forward(x, training=training), plain.feed_forward(x, training=training)):
            assert bits(a) == bits(b)
    assert net.score((x, y)) == plain.score((x, y))
    assert net._rng.bit_generator.state == state


def test_pretrain_never_drops():
    rng = np.random.default_rng(9)
    x = rng.uniform(size=(10, 5))
    for layers_fn in (NETS["autoencoder"], NETS["vae"]):
        net, plain = twin_nets(layers_fn, dropout=0.5, updater=Sgd(0.05))
        for n in (net, plain):
            n.pretrain(x, epochs=2, batch_size=4)
        assert bits(net.params()) == bits(plain.params())
        assert net._rng.bit_generator.state == plain._rng.bit_generator.state
        assert net.pretrain_score(0, x) == plain.pretrain_score(0, x)


@pytest.mark.parametrize("where", ["network", "layers"])
def test_dropout_zero_trains_bitwise_as_before(where):
    rng = np.random.default_rng(10)
    x, y = rng.normal(size=(12, 5)), rng.normal(size=(12, 2))
    layers = NETS["dense"]()
    if where == "network":
        zero = make_net([lc.replace(dropout=None) for lc in layers], seed=11, dropout=0.0)
    else:
        zero = make_net([lc.replace(dropout=0.0) for lc in layers], seed=11, dropout=0.5)
    plain = make_net([lc.replace(dropout=None) for lc in layers], seed=11)
    for n in (zero, plain):
        n.fit((x, y), epochs=3, batch_size=5)
    assert bits(zero.params()) == bits(plain.params())
    assert zero._rng.bit_generator.state == plain._rng.bit_generator.state


def test_layer_override_turns_the_network_default_off():
    net = make_net([DenseLayer(n_in=4, n_out=3, dropout=0.0), OutputLayer(n_out=2, loss="mse")],
                   seed=12, dropout=0.5)
    assert net._dropout == [0.0, 0.5]
    net.fit((np.ones((3, 4)), np.zeros((3, 2))))
    assert net._dropout_mask[0] is None and net._dropout_mask[1] is not None


# ============================================================================ reproducibility, files, float32

def test_seeded_dropout_training_is_reproducible_and_resumes_from_a_file(tmp_path):
    rng = np.random.default_rng(13)
    x, y = rng.normal(size=(20, 5)), rng.normal(size=(20, 2))
    a, b = (make_net(NETS["dense"](), seed=14, updater=Sgd(0.1)) for _ in range(2))
    for n in (a, b):
        n.fit((x, y), epochs=2, batch_size=8)
    assert bits(a.params()) == bits(b.params())
    path = os.path.join(tmp_path, "m.h5")
    a.save(path)
    c = MultiLayerNetwork.load(path)
    assert c.conf == a.conf and [lc.dropout for lc in c.conf.layers] == [0.3, 0.5, 0.25]
    for n in (a, c):
        n.fit((x, y), epochs=1, batch_size=8)
    assert bits(c.params()) == bits(a.params())


def test_float32_dropout_training_stays_float32_and_finite():
    rng = np.random.default_rng(15)
    x, y = rng.normal(size=(16, 5)).astype(np.float32), rng.normal(size=(16, 2)).astype(np.float32)
    net = make_net(NETS["dense"](), seed=16, dtype="float32", updater=Sgd(0.05))
    net.fit((x, y), epochs=3, batch_size=8)
    assert net.params().dtype == np.float32 and np.all(np.isfinite(net.params()))
    assert net._dropout_mask[0].dtype == np.float32
