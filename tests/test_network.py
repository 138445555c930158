"""Tests for MultiLayerNetwork: whole-network finite-difference gradient checks
(supervised fit and AutoEncoder pretraining), reproducibility, parameter views,
pretrain/fit scope, score semantics, summary/feed_forward/listeners/iterators,
and input validation before any training step."""
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy import special

from harness import check_fit_gradient, fd_grad, fit_grad, make_net, random_params, score_fn
from reference import assert_grad_close, ref_act, ref_loss
from numba_ae import (
    Adam,
    ArrayDataSetIterator,
    AsyncDataSetIterator,
    AutoEncoder,
    DataSet,
    DenseLayer,
    MultiLayerNetwork,
    Nesterovs,
    NeuralNetConfiguration,
    OutputLayer,
    ScoreListener,
    Sgd,
    TrainingListener,
)


# ============================================================================ helpers

def np_forward(net, x):
    """NumPy forward pass from the layer parameter views: (pre-activations, activations)."""
    zs, a = [], x
    for layer in net.layers:
        z = a @ layer.params["W"] + layer.params["b"]
        zs.append(z)
        a = ref_act(layer.activation, z)
    return zs, a


def targets(loss, rng, n, k):
    if loss == "xent":
        return rng.uniform(0.0, 1.0, (n, k))
    if loss in ("mcxent", "negativeloglikelihood"):
        y = rng.uniform(0.05, 1.0, (n, k))
        return y / y.sum(axis=1, keepdims=True)
    return rng.normal(0.0, 1.0, (n, k))


# ============================================================================ gradient checks: fit

SMOOTH = ["identity", "tanh", "sigmoid", "softplus", "elu", "selu", "softmax"]
KINKED_AT_0 = {"elu", "selu"}
OUT_PAIRS = ([("mse", a) for a in SMOOTH] + [("l2", a) for a in SMOOTH] + [("l1", a) for a in SMOOTH]
             + [("xent", "sigmoid"), ("xent", "softmax"), ("mcxent", "softmax"), ("mcxent", "sigmoid"),
                ("mcxent", "softplus"), ("negativeloglikelihood", "softmax"),
                ("negativeloglikelihood", "sigmoid")])


@pytest.mark.parametrize("loss,act", [("mse", "identity"), ("l2", "tanh"), ("xent", "sigmoid"),
                                      ("mcxent", "softmax"), ("negativeloglikelihood", "softmax"),
                                      ("mcxent", "sigmoid"), ("xent", "softmax")])
@pytest.mark.parametrize("reg", [dict(), dict(l2=0.3, l1=0.05, l2_bias=0.2, l1_bias=0.1)])
def test_gradient_single_output_layer(loss, act, reg):
    rng = np.random.default_rng(11)
    net = make_net([OutputLayer(n_in=4, n_out=3, activation=act, loss=loss)], **reg)
    x = rng.normal(size=(5, 4))
    y = targets(loss, rng, 5, 3)
    check_fit_gradient(net, x, y, rng, f"output {loss}/{act}")


@pytest.mark.parametrize("hidden", ["tanh", "sigmoid", "softplus", "softmax", "identity"])
def test_gradient_dense_plus_output(hidden):
    rng = np.random.default_rng(12)
    net = make_net([DenseLayer(n_in=3, n_out=4, activation=hidden),
                    OutputLayer(n_out=2, activation="softmax", loss="mcxent")], l2=0.1, l1=0.02)
    x = rng.normal(size=(6, 3))
    y = np.eye(2)[rng.integers(0, 2, 6)]
    check_fit_gradient(net, x, y, rng, f"dense({hidden})+output")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.filter_too_much])
@given(sizes=st.lists(st.integers(1, 6), min_size=4, max_size=4),
       n=st.integers(1, 5),
       acts=st.lists(st.sampled_from(SMOOTH), min_size=2, max_size=2),
       out=st.sampled_from(OUT_PAIRS),
       l1=st.sampled_from([0.0, 0.03]), l2=st.sampled_from([0.0, 0.2]),
       l1_bias=st.sampled_from([0.0, 0.05]), l2_bias=st.sampled_from([0.0, 0.1]),
       seed=st.integers(0, 2 ** 32 - 1))
def test_gradient_three_layer_network(sizes, n, acts, out, l1, l2, l1_bias, l2_bias, seed):
    loss, out_act = out
    n_in, h1, h2, n_out = sizes
    if out_act == "softmax" and loss == "xent":
        assume(n_out >= 2)
    rng = np.random.default_rng(seed)
    net = make_net([DenseLayer(n_in=n_in, n_out=h1, activation=acts[0]),
                    DenseLayer(n_out=h2, activation=acts[1]),
                    OutputLayer(n_out=n_out, activation=out_act, loss=loss)],
                   seed=seed, l1=l1, l2=l2, l1_bias=l1_bias, l2_bias=l2_bias)
    x = rng.uniform(-1.5, 1.5, (n, n_in))
    y = targets(loss, rng, n, n_out)
    p = random_params(net, rng)
    net.set_params(p)
    zs, a = np_forward(net, x)
    for z, act in zip(zs, acts + [out_act]):
        if act in KINKED_AT_0:
            assume(np.min(np.abs(z)) > 1e-4)
    if loss == "l1":
        assume(np.min(np.abs(a - y)) > 1e-4)
    if loss == "xent":
        assume(np.all((a > 1e-6) & (a < 1 - 1e-6)))
    # the network's score is the NumPy loss plus the penalties
    reg = sum(0.5 * l2 * np.sum(layer.params["W"] ** 2) + l1 * np.sum(np.abs(layer.params["W"]))
              + 0.5 * l2_bias * np.sum(layer.params["b"] ** 2) + l1_bias * np.sum(np.abs(layer.params["b"]))
              for layer in net.layers)
    assert net.score((x, y)) == pytest.approx(np.mean(ref_loss(loss, y, a)) + reg, rel=1e-10, abs=1e-12)

    g = fit_grad(net, p, x, y)
    num = fd_grad(score_fn(net, (x, y)), p)
    assert_grad_close(g, num, f"3-layer {sizes} {acts} {out}")


@pytest.mark.parametrize("pretrain_first", [False, True])
def test_gradient_autoencoder_first_layer_in_fit_mode(pretrain_first):
    """In fit mode an AutoEncoder is its encoder: vb gets only its penalty gradient,
    also after a pretrain step has used the shared gradient buffer."""
    rng = np.random.default_rng(13)
    net = make_net([AutoEncoder(n_in=5, n_out=4, activation="tanh", corruption_level=0.3, sparsity=0.1),
                    DenseLayer(n_out=3, activation="sigmoid"),
                    OutputLayer(n_out=2, activation="softmax", loss="mcxent")], l2=0.2, l2_bias=0.1)
    x = rng.uniform(0, 1, (6, 5))
    y = np.eye(2)[rng.integers(0, 2, 6)]
    if pretrain_first:
        net.pretrain((x,))
    p, g = check_fit_gradient(net, x, y, rng, "autoencoder in fit mode")
    vb = net.get_layer(0).params["vb"]
    n_w, n_b = 5 * 4, 4
    g_vb = g[n_w + n_b:n_w + n_b + 5]
    np.testing.assert_allclose(g_vb, 0.1 * p[n_w + n_b:n_w + n_b + 5], rtol=1e-9)
    assert vb.shape == (5,)


# ============================================================================ gradient checks: pretrain

def ae_objective(x, u, level, W, b, vb, act, loss, sparsity):
    xt = x if u is None else np.where(u < level, 0.0, x)
    h = ref_act(act, xt @ W + b)
    r = ref_act(act, h @ W.T + vb)
    return float(np.mean(ref_loss(loss, x, r)) + sparsity * np.mean(np.sum(np.abs(h), axis=1))), h, r


AE_CASES = [
    ("sigmoid", "mse", 0.0, 0.0), ("sigmoid", "mse", 0.5, 0.0), ("sigmoid", "mse", 0.5, 0.3),
    ("sigmoid", "xent", 0.0, 0.3), ("sigmoid", "xent", 0.2, 0.0), ("sigmoid", "l2", 0.3, 0.4),
    ("sigmoid", "l1", 0.1, 0.3), ("softplus", "mse", 0.4, 0.2), ("softplus", "l2", 0.0, 0.0),
    ("tanh", "mse", 0.0, 0.3), ("tanh", "l2", 0.0, 0.0), ("identity", "mse", 0.0, 0.5),
    ("elu", "l2", 0.0, 0.2), ("softmax", "mcxent", 0.2, 0.3), ("softmax", "negativeloglikelihood", 0.0, 0.0),
]


@pytest.mark.parametrize("act,loss,sparsity,level", AE_CASES)
def test_gradient_autoencoder_pretrain_step(act, loss, sparsity, level):
    rng = np.random.default_rng(14)
    n, n_in, n_out = 5, 6, 4
    net = make_net([AutoEncoder(n_in=n_in, n_out=n_out, activation=act, loss=loss, sparsity=sparsity,
                                corruption_level=level)])
    layer = net.get_layer(0)
    if loss in ("mcxent", "negativeloglikelihood"):
        x = rng.uniform(0.05, 1, (n, n_in))
        x /= x.sum(axis=1, keepdims=True)
    else:
        x = rng.uniform(0.05, 0.95, (n, n_in))
    u = rng.random((n, n_in)) if level > 0 else None
    if u is not None:
        assert (u < level).any() and (u >= level).any()
    p = random_params(net, rng)

    def objective(q):
        net.set_params(q)
        return layer.pretrain_step(x, np.random.default_rng(0), u=u)

    s = objective(p)
    g = np.concatenate([layer.grads[k].ravel() for k in ("W", "b", "vb")])
    ref, h, r = ae_objective(x, u, level, layer.params["W"], layer.params["b"], layer.params["vb"],
                             act, loss, sparsity)
    assert s == pytest.approx(ref, rel=1e-12)
    if act in KINKED_AT_0:
        zh = (x if u is None else np.where(u < level, 0.0, x)) @ layer.params["W"] + layer.params["b"]
        assert np.min(np.abs(zh)) > 1e-4 and np.min(np.abs(h @ layer.params["W"].T + layer.params["vb"])) > 1e-4
    if loss == "l1":
        assert np.min(np.abs(r - x)) > 1e-4
    if sparsity > 0:
        assert np.min(np.abs(h)) > 1e-4
    num = fd_grad(objective, p)
    assert_grad_close(g, num, f"pretrain {act}/{loss}/sparsity={sparsity}/level={level}")


@pytest.mark.parametrize("loss", ["mse", "xent", "l2"])
def test_gradient_network_pretrain_with_regularisation(loss):
    """net.pretrain with Sgd(1.0) and no corruption: the step is the gradient of
    net.score((x,)) = uncorrupted pretrain objective + l1/l2 terms."""
    rng = np.random.default_rng(15)
    net = make_net([AutoEncoder(n_in=5, n_out=3, activation="sigmoid", loss=loss, sparsity=0.2,
                                corruption_level=0.0)], l2=0.3, l1=0.02, l2_bias=0.1)
    x = rng.uniform(0.05, 0.95, (7, 5))
    p = random_params(net, rng)
    net.set_params(p)
    s_before = net.score((x,))
    net.pretrain((x,))
    assert net.score() == pytest.approx(s_before, rel=1e-12)
    g = p - net.params()
    assert_grad_close(g, fd_grad(score_fn(net, (x,)), p), f"network pretrain {loss}")


def test_gradient_pretrain_second_layer_only():
    """pretrain_layer(1) trains the AutoEncoder on layer 0's output; layer 0 is untouched."""
    rng = np.random.default_rng(16)
    net = make_net([DenseLayer(n_in=4, n_out=5, activation="tanh"),
                    AutoEncoder(n_out=3, activation="sigmoid", corruption_level=0.0, loss="l2")], l2=0.1)
    x = rng.normal(size=(6, 4))
    p = random_params(net, rng)
    net.set_params(p)
    net.pretrain_layer(1, (x,))
    g = p - net.params()
    n0 = 4 * 5 + 5
    assert not g[:n0].any()
    f = score_fn(net, (x,))

    def f1(q1):  # objective as a function of layer 1's slice only
        return f(np.concatenate([p[:n0], q1]))

    assert_grad_close(g[n0:], fd_grad(f1, p[n0:].copy()), "pretrain layer 1")


# ============================================================================ reproducibility & params

def ae_net(seed, dtype="float32", updater=None):
    return make_net([AutoEncoder(n_in=8, n_out=6, activation="relu", corruption_level=0.3),
                     DenseLayer(n_out=5, activation="tanh"),
                     OutputLayer(n_out=3, activation="softmax", loss="mcxent")],
                    seed=seed, dtype=dtype, updater=updater if updater is not None else Adam(1e-2))


def toy_data(n=40, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (n, 8)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, n)]
    return x, y


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_seeded_training_is_bitwise_reproducible(dtype):
    x, y = toy_data()
    nets = [ae_net(123, dtype), ae_net(123, dtype)]
    for net in nets:
        net.pretrain(ArrayDataSetIterator(x, batch_size=8, shuffle=True, seed=1), epochs=2)
    assert np.array_equal(nets[0].params(), nets[1].params())
    for net in nets:
        net.fit(ArrayDataSetIterator(x, y, batch_size=8, shuffle=True, seed=2), epochs=2)
    assert np.array_equal(nets[0].params(), nets[1].params())
    assert nets[0].score() == nets[1].score()
    assert np.array_equal(nets[0].output(x), nets[1].output(x))

    other = ae_net(124, dtype)
    assert not np.array_equal(other.params(), ae_net(123, dtype).params())
    other.pretrain(ArrayDataSetIterator(x, batch_size=8, shuffle=True, seed=1), epochs=2)
    other.fit(ArrayDataSetIterator(x, y, batch_size=8, shuffle=True, seed=2), epochs=2)
    assert not np.array_equal(other.params(), nets[0].params())


def test_corruption_mask_depends_on_seed_only():
    """Same init params, different seeds: pretraining with corruption diverges."""
    x, _ = toy_data()
    a, b = ae_net(1), ae_net(2)
    b.set_params(a.params())
    a.pretrain((x,))
    b.pretrain((x,))
    assert not np.array_equal(a.params(), b.params())


def test_params_copy_views_and_round_trip():
    net = ae_net(5)
    p = net.params()
    assert p.dtype == np.float32 and p.ndim == 1 and p.size == net.num_params()
    assert net.num_params() == (8 * 6 + 6 + 8) + (6 * 5 + 5) + (5 * 3 + 3)
    # params() is a copy
    p[:] = 0.0
    assert net.params().any()
    # layer params are views with DL4J names and shapes, in flattening order
    l0, l1, l2 = (net.get_layer(i) for i in range(3))
    assert list(l0.params) == ["W", "b", "vb"] and list(l1.params) == ["W", "b"]
    assert l0.params["W"].shape == (8, 6) and l0.params["b"].shape == (6,) and l0.params["vb"].shape == (8,)
    assert l1.params["W"].shape == (6, 5) and l2.params["W"].shape == (5, 3) and l2.params["b"].shape == (3,)
    assert net.get_layer(-1) is l2
    flat = net.params()
    np.testing.assert_array_equal(flat[:48].reshape(8, 6), l0.params["W"])
    np.testing.assert_array_equal(flat[48:54], l0.params["b"])
    np.testing.assert_array_equal(flat[54:62], l0.params["vb"])
    np.testing.assert_array_equal(flat[62:92].reshape(6, 5), l1.params["W"])
    l1.params["W"][2, 3] = 42.0
    assert net.params()[62 + 2 * 5 + 3] == 42.0
    l0.params["vb"][...] = 7.0
    np.testing.assert_array_equal(net.params()[54:62], 7.0)
    # biases start at zero, weights are xavier-ish
    fresh = ae_net(5)
    assert not fresh.get_layer(0).params["b"].any() and not fresh.get_layer(0).params["vb"].any()
    assert fresh.get_layer(0).params["W"].std() == pytest.approx(np.sqrt(2 / 14), rel=0.35)
    # set_params(params()) round-trips
    q = net.params()
    other = ae_net(99)
    other.set_params(q)
    np.testing.assert_array_equal(other.params(), q)
    x, _ = toy_data()
    np.testing.assert_array_equal(other.output(x), net.output(x))
    # init(params=...)
    third = MultiLayerNetwork(net.conf).init(params=q)
    np.testing.assert_array_equal(third.params(), q)
    with pytest.raises(IndexError):
        net.get_layer(3)


def layer_slices(net):
    out, off = [], 0
    for layer in net.layers:
        out.append(slice(off, off + layer.num_params()))
        off += layer.num_params()
    return out


def test_pretrain_changes_only_pretrainable_layers_and_fit_changes_all():
    x, y = toy_data()
    net = ae_net(7)
    sl = layer_slices(net)
    p0 = net.params()
    net.pretrain(ArrayDataSetIterator(x, batch_size=10))
    p1 = net.params()
    assert not np.array_equal(p1[sl[0]], p0[sl[0]])
    np.testing.assert_array_equal(p1[sl[1]], p0[sl[1]])
    np.testing.assert_array_equal(p1[sl[2]], p0[sl[2]])
    assert net.iteration_count == 4 and net.epoch_count == 1

    fresh = ae_net(7)
    fresh.fit((x, y), batch_size=10)
    p2 = fresh.params()
    for i, s in enumerate(sl):
        for name in ("W", "b"):
            before = MultiLayerNetwork(fresh.conf).init(params=p0).get_layer(i).params[name]
            assert not np.array_equal(fresh.get_layer(i).params[name], before), (i, name)
    # the visible bias plays no part in the supervised pass: zero gradient, unchanged
    np.testing.assert_array_equal(fresh.get_layer(0).params["vb"], 0.0)
    assert not np.array_equal(p2[sl[2]], p0[sl[2]])


def test_fit_after_pretrain_leaves_visible_bias_alone_with_sgd():
    x, y = toy_data()
    net = ae_net(8, updater=Sgd(0.5))
    net.pretrain((x,))
    vb = net.get_layer(0).params["vb"].copy()
    assert vb.any()
    net.fit((x, y), batch_size=10, epochs=2)
    np.testing.assert_array_equal(net.get_layer(0).params["vb"], vb)


# ============================================================================ score

def test_score_matches_numpy_and_last_minibatch():
    rng = np.random.default_rng(17)
    net = make_net([DenseLayer(n_in=4, n_out=5, activation="tanh"),
                    OutputLayer(n_out=3, activation="softmax", loss="mcxent")],
                   l2=0.05, l1=0.01, l2_bias=0.2, updater=Nesterovs(0.1, 0.9))
    x = rng.normal(size=(9, 4))
    y = np.eye(3)[rng.integers(0, 3, 9)]
    with pytest.raises(ValueError, match="no minibatch"):
        net.score()
    W0, b0 = net.get_layer(0).params["W"], net.get_layer(0).params["b"]
    W1, b1 = net.get_layer(1).params["W"], net.get_layer(1).params["b"]
    b0[...] = rng.normal(size=5)  # non-zero biases so l2_bias counts
    b1[...] = rng.normal(size=3)

    def by_hand():
        a = special.softmax(np.tanh(x @ W0 + b0) @ W1 + b1, axis=1)
        loss = np.mean(-np.sum(y * np.log(a), axis=1))
        reg = sum(0.5 * 0.05 * np.sum(W ** 2) + 0.01 * np.sum(np.abs(W)) + 0.5 * 0.2 * np.sum(b ** 2)
                  for W, b in ((W0, b0), (W1, b1)))
        return loss + reg

    s0 = by_hand()
    assert net.score((x, y)) == pytest.approx(s0, rel=1e-12)
    assert net.score(DataSet(x, y)) == pytest.approx(s0, rel=1e-12)
    assert net.score(x, labels=y) == pytest.approx(s0, rel=1e-12)
    assert net.score(ArrayDataSetIterator(x, y, batch_size=4)) == pytest.approx(s0, rel=1e-12)
    ret = net.fit_batch(x, y)
    assert ret == pytest.approx(s0, rel=1e-12)
    assert net.score() == ret
    # the step moved the parameters; score((x, y)) follows them
    assert by_hand() != pytest.approx(s0, rel=1e-6)
    assert net.score((x, y)) == pytest.approx(by_hand(), rel=1e-12)
    # regularization_score alone
    assert net.regularization_score() == pytest.approx(
        sum(0.5 * 0.05 * np.sum(W ** 2) + 0.01 * np.sum(np.abs(W)) + 0.5 * 0.2 * np.sum(b ** 2)
            for W, b in ((W0, b0), (W1, b1))), rel=1e-12)


def test_score_of_autoencoder_net_is_uncorrupted_objective():
    rng = np.random.default_rng(18)
    net = make_net([AutoEncoder(n_in=6, n_out=3, activation="sigmoid", corruption_level=0.5, sparsity=0.1,
                                loss="l2")])
    x = rng.uniform(0, 1, (10, 6))
    layer = net.get_layer(0)
    ref, _, _ = ae_objective(x, None, 0.0, layer.params["W"], layer.params["b"], layer.params["vb"],
                             "sigmoid", "l2", 0.1)
    assert net.score((x,)) == pytest.approx(ref, rel=1e-12)
    np.testing.assert_allclose(layer.reconstruct(x),
                               special.expit(special.expit(x @ layer.params["W"] + layer.params["b"])
                                             @ layer.params["W"].T + layer.params["vb"]), rtol=1e-12)


# ============================================================================ summary, outputs, listeners, iterators

def test_summary_feed_forward_and_output():
    net = ae_net(9)
    s = net.summary()
    for word in ("AutoEncoder", "DenseLayer", "OutputLayer", "relu", "tanh", "softmax",
                 "W[8, 6]", "vb[8]", f"{net.num_params():,}", "float32"):
        assert word in s, word
    assert f"Total parameters: {net.num_params():,}" in s
    big = MultiLayerNetwork(NeuralNetConfiguration(layers=[
        AutoEncoder(n_in=784, n_out=256, activation="relu"),
        OutputLayer(n_out=784, activation="sigmoid", loss="mse")])).init()
    assert "Total parameters: 403,232" in big.summary()
    assert big.num_params() == 784 * 256 + 256 + 784 + 256 * 784 + 784

    x, _ = toy_data(7)
    acts = net.feed_forward(x)
    assert len(acts) == net.n_layers + 1 == 4
    np.testing.assert_array_equal(acts[0], x)
    assert [a.shape for a in acts] == [(7, 8), (7, 6), (7, 5), (7, 3)]
    out = net.output(x)
    np.testing.assert_array_equal(out, acts[-1])
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-6)
    # the arrays are fresh: another forward does not change them
    keep = out.copy()
    net.output(x[::-1].copy())
    np.testing.assert_array_equal(out, keep)
    # against NumPy
    l0, l1, l2 = net.layers
    h = np.maximum(x @ l0.params["W"] + l0.params["b"], 0)
    np.testing.assert_allclose(acts[1], h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out, special.softmax(np.tanh(h @ l1.params["W"] + l1.params["b"])
                                                    @ l2.params["W"] + l2.params["b"], axis=1),
                               rtol=1e-5, atol=1e-6)
    assert repr(net) == f"MultiLayerNetwork(3 layers, {net.num_params():,} params)"


class Recorder(TrainingListener):
    def __init__(self):
        self.events = []

    def on_epoch_start(self, net, epoch, n_batches):
        self.events.append(("start", epoch, n_batches))

    def iteration_done(self, net, iteration, epoch, score):
        self.events.append(("iter", iteration, epoch, score))

    def on_epoch_end(self, net, epoch):
        self.events.append(("end", epoch))


def test_score_listener_prints_every_n_iterations():
    x, y = toy_data(40)
    net = ae_net(10)
    lines = []
    sl = ScoreListener(3, printer=lines.append)
    rec = Recorder()
    net.set_listeners(sl, rec)
    net.fit(ArrayDataSetIterator(x, y, batch_size=4), epochs=1)  # 10 iterations
    iters = [e for e in rec.events if e[0] == "iter"]
    assert [e[1] for e in iters] == list(range(1, 11))
    assert rec.events[0] == ("start", 0, 10) and rec.events[-1] == ("end", 1)
    assert [it for it, _ in sl.history] == [3, 6, 9]
    assert len(lines) == 3
    for line, (it, score) in zip(lines, sl.history):
        assert line.startswith(f"Score at iteration {it} (epoch 0) is ")
        assert float(line.rsplit(" ", 1)[1]) == pytest.approx(score, rel=1e-5)
        assert score == iters[it - 1][3]
    # pretraining notifies too
    lines.clear()
    net.pretrain(ArrayDataSetIterator(x, batch_size=20))
    assert len(lines) == 1 and lines[0].startswith("Score at iteration 12 ")
    with pytest.raises(TypeError):
        net.add_listener(print)
    with pytest.raises(ValueError):
        ScoreListener(0)


def test_async_and_array_iterators_train_identically():
    x, y = toy_data(50)
    a, b, c = ae_net(11), ae_net(11), ae_net(11)
    a.fit(ArrayDataSetIterator(x, y, batch_size=8, shuffle=True, seed=4), epochs=2)
    b.fit(AsyncDataSetIterator(ArrayDataSetIterator(x, y, batch_size=8, shuffle=True, seed=4), prefetch=3),
          epochs=2)
    assert np.array_equal(a.params(), b.params())
    assert a.iteration_count == b.iteration_count == 14 and a.epoch_count == b.epoch_count == 2
    c.fit((x, y), batch_size=8, epochs=2)  # arrays: no shuffle, so a different path
    assert c.iteration_count == 14
    assert not np.array_equal(a.params(), c.params())
    # async pretraining
    d, e = ae_net(12), ae_net(12)
    d.pretrain(AsyncDataSetIterator(ArrayDataSetIterator(x, batch_size=16)))
    e.pretrain(ArrayDataSetIterator(x, batch_size=16))
    assert np.array_equal(d.params(), e.params())
    # a plain list of DataSet works too
    f, g = ae_net(13), ae_net(13)
    f.fit([DataSet(x[:25], y[:25]), DataSet(x[25:], y[25:])])
    g.fit(ArrayDataSetIterator(x, y, batch_size=25))
    assert np.array_equal(f.params(), g.params())


def test_training_reduces_loss():
    x, y = toy_data(60)
    y = np.eye(3, dtype=np.float32)[(x[:, 0] > 0.5).astype(int) + (x[:, 1] > 0.5).astype(int)]
    net = ae_net(14)
    s0 = net.score((x, y))
    net.fit(ArrayDataSetIterator(x, y, batch_size=10, shuffle=True, seed=0), epochs=30)
    assert net.score((x, y)) < 0.7 * s0


# ============================================================================ validation before training

def _bad_inputs():
    x, y = toy_data(12)
    nan = x.copy()
    nan[3, 2] = np.nan
    inf = x.copy()
    inf[0, 0] = np.inf
    ae_only = lambda: make_net([AutoEncoder(n_in=8, n_out=4)], dtype="float32")  # noqa: E731
    dense_only = lambda: make_net([DenseLayer(n_in=8, n_out=4), OutputLayer(n_out=3)], dtype="float32")  # noqa: E731
    return [
        ("nan features", None, lambda n: n.fit((nan, y)), ValueError, "NaN or Inf"),
        ("inf features", None, lambda n: n.fit(inf, labels=y), ValueError, "NaN or Inf"),
        ("nan pretrain", None, lambda n: n.pretrain((nan,)), ValueError, "NaN or Inf"),
        ("rank-1 features", None, lambda n: n.fit((x[0], y[:1])), ValueError, "2-D"),
        ("rank-3 features", None, lambda n: n.fit((x.reshape(12, 2, 4), y)), ValueError, "2-D"),
        ("rank-3 pretrain", None, lambda n: n.pretrain((x.reshape(3, 4, 8),)), ValueError, "2-D"),
        ("wrong width", None, lambda n: n.fit((x[:, :5], y)), ValueError, "n_in=8"),
        ("wrong width iterator", None, lambda n: n.fit(ArrayDataSetIterator(x[:, :7], y)), ValueError, "n_in=8"),
        ("wrong width pretrain", None, lambda n: n.pretrain((np.hstack([x, x[:, :1]]),)), ValueError, "n_in=8"),
        ("label count", None, lambda n: n.fit((x, y[:11])), ValueError, "rows"),
        ("label width", None, lambda n: n.fit((x, y[:, :2])), ValueError, "n_out=3"),
        ("label width iterator", None, lambda n: n.fit(ArrayDataSetIterator(x, y[:, :2], batch_size=4)),
         ValueError, "n_out=3"),
        ("nan labels", None, lambda n: n.fit((x, np.full_like(y, np.nan))), ValueError, "NaN or Inf"),
        ("no labels", None, lambda n: n.fit(x), ValueError, "labels"),
        ("no labels tuple", None, lambda n: n.fit((x,)), ValueError, "labels"),
        ("no labels iterator", None, lambda n: n.fit(ArrayDataSetIterator(x)), ValueError, "labels"),
        ("no labels list", None, lambda n: n.fit([DataSet(x)]), ValueError, "labels"),
        ("fit without output layer", ae_only, lambda n: n.fit((x, y)), ValueError, "OutputLayer"),
        ("pretrain without pretrainable", dense_only, lambda n: n.pretrain((x,)), ValueError, "pretrainable"),
        ("pretrain_layer not pretrainable", None, lambda n: n.pretrain_layer(1, (x,)), ValueError,
         "not pretrainable"),
        ("epochs 0", None, lambda n: n.fit((x, y), epochs=0), ValueError, "epochs"),
        ("epochs 0 pretrain", None, lambda n: n.pretrain((x,), epochs=0), ValueError, "epochs"),
        ("epochs float", None, lambda n: n.fit((x, y), epochs=1.5), TypeError, "epochs"),
        ("set_params length", None, lambda n: n.set_params(np.zeros(n.num_params() - 1)), ValueError, "length"),
        ("set_params 2-D", None, lambda n: n.set_params(np.zeros((1, n.num_params()))), ValueError, "1-D"),
        ("set_params nan", None, lambda n: n.set_params(np.full(n.num_params(), np.nan)), ValueError, "finite"),
        ("labels with iterator", None, lambda n: n.fit(ArrayDataSetIterator(x, y), labels=y), ValueError,
         "labels"),
        ("bad data type", None, lambda n: n.fit(42), TypeError, "data"),
        ("string features", None, lambda n: n.fit((np.array([["a"] * 8]), y[:1])), TypeError, "real numbers"),
        ("output wrong width", None, lambda n: n.output(x[:, :3]), ValueError, "n_in=8"),
    ]


@pytest.mark.parametrize("case", _bad_inputs(), ids=lambda c: c[0])
def test_bad_input_raises_before_training(case):
    _, make, call, exc, match = case
    net = make() if make is not None else ae_net(15)
    p0 = net.params()
    with pytest.raises(exc, match=match):
        call(net)
    np.testing.assert_array_equal(net.params(), p0)
    assert net.iteration_count == 0
    with pytest.raises(ValueError, match="no minibatch"):
        net.score()


def test_uninitialised_network_and_bad_conf():
    net = MultiLayerNetwork(NeuralNetConfiguration(layers=[OutputLayer(n_in=2, n_out=2)]))
    with pytest.raises(RuntimeError, match="init"):
        net.params()
    with pytest.raises(RuntimeError, match="init"):
        net.fit((np.zeros((1, 2)), np.zeros((1, 2))))
    with pytest.raises(TypeError, match="NeuralNetConfiguration"):
        MultiLayerNetwork({"layers": []})
    assert repr(net) == "MultiLayerNetwork(1 layers, not initialised)"


def test_pretrain_and_fit_keep_separate_updater_state():
    """DL4J pretrains a layer through its own solver: fit starts from fresh Adam moments,
    and fit with zero gradients (AutoEncoder vb) leaves those parameters exactly unchanged."""
    from numba_ae import Adam, AutoEncoder, MultiLayerNetwork, NeuralNetConfiguration, OutputLayer
    rng = np.random.default_rng(0)
    x = rng.random((8, 5))
    y = np.eye(3)[rng.integers(0, 3, 8)]
    net = MultiLayerNetwork(NeuralNetConfiguration(seed=1, dtype="float64", updater=Adam(1e-2), layers=[
        AutoEncoder(n_in=5, n_out=4, activation="tanh"),
        OutputLayer(n_out=3, activation="softmax", loss="mcxent")])).init()
    net.pretrain((x,), epochs=3, batch_size=4)
    ts = net.training_state()
    assert ts["pretrain_updater_steps"] == [6, 0] and ts["updater_steps"] == [0, 0]
    assert np.any(net.updater_state(0, pretrain=True)["W"]["m"] != 0)
    assert not np.any(net.updater_state(0)["W"]["m"])
    vb = net.get_layer(0).params["vb"].copy()
    net.fit(x, y, batch_size=4)
    assert net.training_state()["updater_steps"] == [2, 2]
    assert np.array_equal(net.get_layer(0).params["vb"], vb)
    with pytest.raises(ValueError, match="not pretrainable"):
        net.updater_state(1, pretrain=True)


def test_score_with_a_dense_last_layer_is_a_clear_error():
    net = make_net([DenseLayer(n_in=3, n_out=2, activation="tanh")])
    with pytest.raises(ValueError, match="score\\(data\\) needs an OutputLayer"):
        net.score(np.zeros((2, 3)))
