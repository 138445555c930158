"""Tests of HDF5 model files (``numba_ae.io``): exact round trip, exact resume,
atomic save, interchange with bare h5py, and rejection of bad files.

What is checked, and against what:

* round trip: for hypothesis-generated networks (every layer kind and VAE
  distribution, every updater, float32/float64), trained so the updater state
  is non-zero, ``load(save(net))`` has bitwise the same params, updater state,
  counters, RNG state, ``output``, ``score``;
* resume: training N steps, saving, loading and training M more equals training
  N+M steps without the save, bitwise (AE corruption and VAE sampling make the
  RNG state matter);
* atomic save: a failure injected mid-write leaves an existing file
  byte-identical and no temp file;
* interchange: a function using only h5py/json/numpy recomputes the network
  output / the VAE latent mean from the file;
* bad files: each defect gives ``ModelFormatError`` naming the file and the
  exact problem; random byte flips / truncation only ever give
  ``ModelFormatError`` or a successful, usable (and unchanged) load.
"""
import json
import os
import pickle
import stat

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from numba_ae import (
    AdaGrad,
    Adam,
    ArrayDataSetIterator,
    AutoEncoder,
    BernoulliReconstructionDistribution,
    CompositeReconstructionDistribution,
    DenseLayer,
    ExponentialReconstructionDistribution,
    GaussianReconstructionDistribution,
    LossFunctionWrapper,
    MultiLayerNetwork,
    NeuralNetConfiguration,
    Nesterovs,
    OutputLayer,
    RmsProp,
    Sgd,
    VariationalAutoencoder,
)
from numba_ae.data import NormalizerMinMaxScaler, NormalizerStandardize
from numba_ae.io import FORMAT, FORMAT_VERSION, ModelFormatError, atomic, load_model, load_normalizer, save_model
from numba_ae.io import format as io_format

HSET = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                       HealthCheck.function_scoped_fixture])


# ============================================================================ helpers

def bits(a):
    a = np.asarray(a)
    return a.dtype.str, a.shape, a.tobytes()


def assert_same_net(a, b, x, y=None):
    """Bitwise equality of everything that determines the network's future."""
    assert a.conf.to_json() == b.conf.to_json()
    assert bits(a.params()) == bits(b.params())
    assert a.training_state() == b.training_state()
    for i in range(len(a.layers)):
        for pretrain in (False, True) if a.layers[i].pretrainable else (False,):
            sa, sb = a.updater_state(i, pretrain=pretrain), b.updater_state(i, pretrain=pretrain)
            assert sa.keys() == sb.keys()
            for name in sa:
                assert sa[name].keys() == sb[name].keys()
                for k in sa[name]:
                    assert bits(sa[name][k]) == bits(sb[name][k])
    assert bits(a.output(x)) == bits(b.output(x))
    if a._last_score is not None:
        assert a.score() == b.score()


def small_net(dtype="float32", updater=None, seed=3, corruption=0.3):
    conf = NeuralNetConfiguration(seed=seed, dtype=dtype, updater=updater or Adam(1e-2), layers=[
        AutoEncoder(n_in=5, n_out=4, corruption_level=corruption, activation="tanh"),
        OutputLayer(n_out=3, activation="softmax", loss="mcxent")])
    return MultiLayerNetwork(conf).init()


def data(n=6, n_in=5, n_out=3, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, n_in)).astype(dtype)
    y = np.eye(n_out, dtype=dtype)[rng.integers(0, n_out, n)]
    return x, y


def trained_small(tmp_path, name="model.h5", **kw):
    net = small_net(**kw)
    x, y = data()
    net.pretrain(x, batch_size=3)
    net.fit(x, y, batch_size=3)
    path = str(tmp_path / name)
    net.save(path)
    return net, path, x, y


# ============================================================================ hypothesis networks

# small learning rates: two steps must not diverge (a VAE with identity activations is touchy)
UPDATERS = st.one_of(
    st.builds(Sgd, learning_rate=st.floats(1e-3, 0.05)),
    st.builds(Adam, learning_rate=st.floats(1e-3, 0.01), beta1=st.floats(0.5, 0.95),
              beta2=st.floats(0.9, 0.9999)),
    st.builds(Nesterovs, learning_rate=st.floats(1e-3, 0.05), momentum=st.floats(0.0, 0.95)),
    st.builds(RmsProp, learning_rate=st.floats(1e-3, 0.01), rms_decay=st.floats(0.5, 0.99)),
    st.builds(AdaGrad, learning_rate=st.floats(1e-3, 0.05)),
)
ACTS = st.sampled_from(["sigmoid", "tanh", "relu", "identity", "softplus"])


@st.composite
def distributions(draw, n_in, bounded_input):
    """A VAE reconstruction model for ``n_in`` columns; support-restricted ones only
    when the input lies in [0, 1]."""
    kinds = ["gaussian", "loss"] + (["bernoulli", "exponential", "composite"] if bounded_input else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "gaussian":
        return {"reconstruction_distribution":
                GaussianReconstructionDistribution(draw(st.sampled_from(["identity", "tanh"])))}
    if kind == "loss":
        return {"loss_function": LossFunctionWrapper(draw(st.sampled_from(["sigmoid", "identity"])), "mse")}
    if kind == "bernoulli":
        return {"reconstruction_distribution": BernoulliReconstructionDistribution()}
    if kind == "exponential":
        return {"reconstruction_distribution": ExponentialReconstructionDistribution()}
    if n_in == 1:
        return {"reconstruction_distribution": GaussianReconstructionDistribution()}
    a = draw(st.integers(1, n_in - 1))
    return {"reconstruction_distribution": CompositeReconstructionDistribution(
        ((a, GaussianReconstructionDistribution()), (n_in - a, BernoulliReconstructionDistribution())))}


@st.composite
def networks(draw):
    dtype = draw(st.sampled_from(["float32", "float64"]))
    n_in = draw(st.integers(1, 5))
    n_layers = draw(st.integers(1, 3))
    supervised = draw(st.booleans())
    layers = []
    prev, bounded = n_in, True  # x is drawn in [0, 1)
    for i in range(n_layers):
        last = i == n_layers - 1
        # the last layer is trainable: an OutputLayer (fit) or a pretrainable one
        kinds = ["output"] if (last and supervised) else (["ae", "vae"] if last else ["dense", "ae", "vae"])
        kind = draw(st.sampled_from(kinds))
        n_out = draw(st.integers(2 if kind == "output" else 1, 4))  # softmax over 1 unit has no gradient
        common = dict(n_in=n_in if i == 0 else None, n_out=n_out, updater=draw(st.one_of(st.none(), UPDATERS)),
                      l2=draw(st.sampled_from([None, 0.0, 1e-3])), l1_bias=draw(st.sampled_from([None, 1e-3])))
        if kind == "dense":
            act = draw(st.sampled_from(["sigmoid", "tanh", "relu"]))
            layers.append(DenseLayer(activation=act, **common))
            bounded = act == "sigmoid"
        elif kind == "ae":
            act = draw(st.sampled_from(["sigmoid", "tanh"]))
            layers.append(AutoEncoder(activation=act, corruption_level=draw(st.sampled_from([0.0, 0.3])),
                                      sparsity=draw(st.sampled_from([0.0, 0.1])), **common))
            bounded = act == "sigmoid"
        elif kind == "vae":
            pzx = draw(st.sampled_from(["identity", "sigmoid"]))
            layers.append(VariationalAutoencoder(
                activation=draw(ACTS), pzx_activation=pzx,
                encoder_layer_sizes=draw(st.lists(st.integers(1, 4), min_size=1, max_size=2)),
                decoder_layer_sizes=draw(st.lists(st.integers(1, 4), min_size=1, max_size=2)),
                num_samples=draw(st.integers(1, 2)), **draw(distributions(prev, bounded)), **common))
            bounded = pzx == "sigmoid"
        else:
            if draw(st.booleans()):
                layers.append(OutputLayer(activation="softmax", loss="mcxent", **common))
            else:
                layers.append(OutputLayer(activation="sigmoid", loss="mse", **common))
        prev = n_out
    conf = NeuralNetConfiguration(layers=layers, dtype=dtype, updater=draw(UPDATERS),
                                  seed=draw(st.integers(0, 2 ** 40)))
    return conf, n_in, draw(st.integers(0, 2 ** 31))


def train_a_little(net, x, y):
    """Two minibatches per pretrainable layer, then two supervised steps when possible."""
    for i, layer in enumerate(net.layers):
        if layer.pretrainable:
            net.pretrain_layer(i, x, batch_size=3)
    if isinstance(net.conf.layers[-1], OutputLayer):
        net.fit(x, y, batch_size=3)


def make_data(net, n_in, seed):
    rng = np.random.default_rng(seed)
    x = rng.random((6, n_in)).astype(net.dtype)
    last = net.conf.layers[-1]
    y = None
    if isinstance(last, OutputLayer):
        if last.loss == "mcxent":
            y = np.eye(last.n_out, dtype=net.dtype)[rng.integers(0, last.n_out, 6)]
        else:
            y = rng.random((6, last.n_out)).astype(net.dtype)
    return x, y


@HSET
@given(spec=networks(), save_updater=st.booleans())
def test_round_trip_is_exact_for_generated_networks(tmp_path, spec, save_updater):
    conf, n_in, seed = spec
    for i, lc in enumerate(conf.layers):
        event(f"{type(lc).__name__} / {type(conf.resolved(i, 'updater')).__name__} / {conf.dtype}")
        if isinstance(lc, VariationalAutoencoder):
            event(f"VAE {type(lc.distribution).__name__}")
    net = MultiLayerNetwork(conf).init()
    x, y = make_data(net, n_in, seed)
    train_a_little(net, x, y)
    assume(np.all(np.isfinite(net.params())))  # (training diverged: nothing to save)
    # the updater state is really exercised: the last layer always gets a gradient (hidden
    # relu units may die), so its state is non-zero when its updater has state
    for i, layer in enumerate(net.layers):
        arrays = [arr for states in net.updater_state(i).values() for arr in states.values()]
        if layer.pretrainable:  # pretrain keeps its own updater state
            arrays += [arr for states in net.updater_state(i, pretrain=True).values()
                       for arr in states.values()]
        assert all(arr.dtype == net.dtype for arr in arrays)
        if arrays and i == len(net.layers) - 1:
            assert any(np.any(arr != 0) for arr in arrays)
    path = tmp_path / f"net_{save_updater}.h5"
    save_model(net, path, save_updater=save_updater)
    loaded = load_model(path)
    assert type(loaded) is MultiLayerNetwork
    if save_updater:
        assert_same_net(net, loaded, x, y)
    else:
        # parameters, counters and RNG exact; updater state fresh
        assert bits(loaded.params()) == bits(net.params())
        ts, lts = net.training_state(), loaded.training_state()
        steps = ("updater_steps", "pretrain_updater_steps")
        assert lts["updater_steps"] == lts["pretrain_updater_steps"] == [0] * len(net.layers)
        assert {k: v for k, v in ts.items() if k not in steps} == \
               {k: v for k, v in lts.items() if k not in steps}
        for i in range(len(loaded.layers)):
            for pretrain in (False, True) if loaded.layers[i].pretrainable else (False,):
                for states in loaded.updater_state(i, pretrain=pretrain).values():
                    for arr in states.values():
                        assert not np.any(arr)
        assert bits(loaded.output(x)) == bits(net.output(x))
    # score on data (a VAE last layer samples from the restored RNG)
    if y is not None:
        assert loaded.score(x, y) == net.score(x, y)
    else:
        assert loaded.score(x) == net.score(x)
    with h5py.File(path, "r") as f:
        assert ("updater" in f) == save_updater
        for i, layer in enumerate(net.layers):
            g = f[f"params/layer_{i}"]
            assert list(g.keys()) == [n for n, _, _ in layer.param_specs()]  # creation order kept
            assert g.attrs["layer_type"].decode() == type(layer.conf).__name__
            assert int(g.attrs["n_params"]) == layer.num_params()
            for name, shape, _ in layer.param_specs():
                assert g[name].shape == shape and g[name].dtype == net.dtype
                assert bits(g[name][()]) == bits(layer.params[name])


VAE_DISTS = {
    "gaussian": dict(reconstruction_distribution=GaussianReconstructionDistribution("tanh")),
    "bernoulli": dict(reconstruction_distribution=BernoulliReconstructionDistribution()),
    "exponential": dict(reconstruction_distribution=ExponentialReconstructionDistribution()),
    "composite": dict(reconstruction_distribution=CompositeReconstructionDistribution(
        ((2, GaussianReconstructionDistribution()), (1, ExponentialReconstructionDistribution()),
         (2, BernoulliReconstructionDistribution())))),
    "loss_wrapper": dict(loss_function=LossFunctionWrapper("sigmoid", "xent")),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("dist", sorted(VAE_DISTS))
def test_round_trip_vae_each_distribution(tmp_path, dist, dtype):
    conf = NeuralNetConfiguration(seed=8, dtype=dtype, updater=RmsProp(0.01), layers=[
        VariationalAutoencoder(n_in=5, n_out=2, encoder_layer_sizes=(4, 3), decoder_layer_sizes=(3,),
                               num_samples=2, updater=Adam(0.01), **VAE_DISTS[dist]),
        AutoEncoder(n_out=2, corruption_level=0.5)])
    net = MultiLayerNetwork(conf).init()
    x, _ = data(dtype=dtype)
    net.pretrain(x, batch_size=4)
    path = tmp_path / "vae.h5"
    net.save(path)
    loaded = load_model(path)
    assert_same_net(net, loaded, x)
    assert net.get_layer(0).score(x) == loaded.get_layer(0).score(x)  # samples from the restored RNG
    net.pretrain(x, batch_size=4)
    loaded.pretrain(x, batch_size=4)
    assert_same_net(net, loaded, x)
    with h5py.File(path, "r") as f:
        assert list(f["updater/layer_0/pXZW"].keys()) == ["m", "v"]
        assert list(f["updater/layer_1/W"].keys()) == ["cache"]


def test_round_trip_of_a_network_without_config_seed(tmp_path):
    """``seed=None`` draws a seed at init: the file records it and the RNG state."""
    conf = NeuralNetConfiguration(updater=Adam(0.01), layers=[
        VariationalAutoencoder(n_in=5, n_out=2, encoder_layer_sizes=(3,), decoder_layer_sizes=(3,),
                               reconstruction_distribution=BernoulliReconstructionDistribution())])
    net = MultiLayerNetwork(conf).init()
    x, _ = data()
    net.pretrain(x, batch_size=3)
    net.save(tmp_path / "s.h5")
    loaded = load_model(tmp_path / "s.h5")
    assert loaded.conf.seed is None and loaded.seed == net.seed
    assert_same_net(net, loaded, x)
    net.pretrain(x)
    loaded.pretrain(x)
    assert_same_net(net, loaded, x)


def test_save_is_deterministic_and_records_the_header(tmp_path):
    net, path, x, y = trained_small(tmp_path)
    path2 = str(tmp_path / "again.h5")
    net.save(path2)
    with open(path, "rb") as a, open(path2, "rb") as b:
        assert a.read() == b.read()
    from numba_ae._version import __version__
    with h5py.File(path, "r") as f:
        assert f.attrs["format"].decode() == FORMAT == "numba_ae"
        assert f.attrs["format_version"].decode() == FORMAT_VERSION == "1.0"
        assert f.attrs["library_version"].decode() == __version__
        assert json.loads(f.attrs["config"]) == json.loads(net.conf.to_json())
        ts = json.loads(f.attrs["training_state"])
        assert ts["iteration_count"] == 4 and ts["epoch_count"] == 2 and ts["updater_steps"] == [2, 2] \
            and ts["pretrain_updater_steps"] == [2, 0]
        assert ts["rng_state"] == net.training_state()["rng_state"]
        g = f["updater/layer_0"]
        assert json.loads(g.attrs["updater"]) == {"class_name": "Adam", "config": Adam(1e-2).to_dict()}
        assert int(g.attrs["step"]) == 2
        assert sorted(g.keys()) == ["W", "b", "vb"] and list(g["W"].keys()) == ["m", "v"]
        assert bits(g["W/v"][()]) == bits(net.updater_state(0)["W"]["v"])
        assert g["W/m"].fletcher32
        # the separate pretrain state: pretrainable layers only
        assert list(f["pretrain_updater"].keys()) == ["layer_0"]
        pg = f["pretrain_updater/layer_0"]
        assert int(pg.attrs["step"]) == 2
        assert bits(pg["W/m"][()]) == bits(net.updater_state(0, pretrain=True)["W"]["m"])
        assert bits(pg["W/m"][()]) != bits(g["W/m"][()])


def test_save_without_updater_is_smaller_and_restarts_updater(tmp_path):
    net, path, x, y = trained_small(tmp_path)
    p2 = tmp_path / "noupd.h5"
    net.save(p2, save_updater=False)
    assert os.path.getsize(p2) < os.path.getsize(path)
    loaded = MultiLayerNetwork.load(p2)
    assert loaded.training_state()["updater_steps"] == [0, 0]
    assert loaded.iteration_count == net.iteration_count == 4
    # continuing differs from the exact resume (Adam restarts) but is finite and deterministic
    exact = MultiLayerNetwork.load(path)
    exact.fit(x, y)
    loaded.fit(x, y)
    net.fit(x, y)
    assert bits(exact.params()) == bits(net.params())
    assert not np.array_equal(loaded.params(), net.params())
    assert np.all(np.isfinite(loaded.params()))


def test_load_classmethod_builds_the_subclass_and_path_types(tmp_path):
    class MyNet(MultiLayerNetwork):
        pass

    net, path, x, y = trained_small(tmp_path)
    loaded = MyNet.load(path)
    assert type(loaded) is MyNet
    assert_same_net(net, loaded, x, y)
    import pathlib
    assert bits(load_model(pathlib.Path(path)).params()) == bits(net.params())
    with pytest.raises(TypeError, match="network_class"):
        load_model(path, network_class=dict)


def test_save_argument_errors(tmp_path):
    with pytest.raises(TypeError, match="MultiLayerNetwork"):
        save_model(object(), tmp_path / "a.h5")
    net = MultiLayerNetwork(small_net().conf)
    with pytest.raises(RuntimeError, match="init"):
        net.save(tmp_path / "a.h5")
    net = small_net()
    with pytest.raises(TypeError, match="save_updater"):
        net.save(tmp_path / "a.h5", save_updater="yes")
    with pytest.raises(TypeError, match="normalizer"):
        net.save(tmp_path / "a.h5", normalizer={"mean": 0})
    with pytest.raises(ValueError, match="not fitted"):
        net.save(tmp_path / "a.h5", normalizer=NormalizerStandardize())
    with pytest.raises(ValueError, match="3 feature column.*n_in is 5"):
        net.save(tmp_path / "a.h5", normalizer=NormalizerStandardize().fit(np.ones((4, 3))))
    net.layers[0].params["W"][0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        net.save(tmp_path / "a.h5")
    assert os.listdir(tmp_path) == []


# ============================================================================ exact resume

def _copy_state(it):
    return json.loads(json.dumps(it.get_state()))


@pytest.mark.parametrize("updater", [Adam(0.02), Sgd(0.1), Nesterovs(0.05), RmsProp(0.01), AdaGrad(0.05)],
                         ids=lambda u: type(u).__name__)
def test_resume_dense_output_is_exact(tmp_path, updater):
    conf = NeuralNetConfiguration(seed=11, updater=updater, dtype="float32", layers=[
        DenseLayer(n_in=5, n_out=4, activation="tanh"), DenseLayer(n_out=4, activation="relu"),
        OutputLayer(n_out=3, activation="softmax")])
    x, y = data(n=20)

    def it():
        return ArrayDataSetIterator(x, y, batch_size=6, shuffle=True, seed=5)

    straight = MultiLayerNetwork(conf).init()
    it_s = it()
    straight.fit(it_s, epochs=3)

    a = MultiLayerNetwork(conf).init()
    it_a = it()
    a.fit(it_a, epochs=1)
    a.save(tmp_path / "ckpt.h5")
    (tmp_path / "iter.json").write_text(json.dumps(it_a.get_state()))
    del a, it_a
    b = MultiLayerNetwork.load(tmp_path / "ckpt.h5")
    it_b = it()
    it_b.set_state(json.loads((tmp_path / "iter.json").read_text()))
    b.fit(it_b, epochs=2)
    assert_same_net(straight, b, x, y)


def test_resume_denoising_autoencoder_mid_epoch_is_exact(tmp_path):
    """Corruption masks come from the network RNG: the resume must restore it."""
    conf = NeuralNetConfiguration(seed=7, updater=Adam(0.01), dtype="float64", layers=[
        AutoEncoder(n_in=6, n_out=5, corruption_level=0.4, sparsity=0.05, activation="sigmoid"),
        AutoEncoder(n_out=3, corruption_level=0.2, activation="tanh"),
        OutputLayer(n_out=2, activation="sigmoid", loss="xent")])
    rng = np.random.default_rng(1)
    x = rng.random((30, 6))
    y = (rng.random((30, 2)) > 0.5).astype(np.float64)
    batches = [(x[k:k + 5], y[k:k + 5]) for k in range(0, 30, 5)]

    def run(net, steps):
        for xb, yb in steps:
            net.pretrain_layer(0, xb)
            net.pretrain_layer(1, xb)
            net.fit(xb, yb)

    straight = MultiLayerNetwork(conf).init()
    run(straight, batches)
    a = MultiLayerNetwork(conf).init()
    run(a, batches[:4])
    save_model(a, tmp_path / "ae.h5")
    b = load_model(tmp_path / "ae.h5")
    run(b, batches[4:])
    assert_same_net(straight, b, x, y)
    # without restoring the RNG the corruption masks (and so the result) would differ
    c = load_model(tmp_path / "ae.h5")
    c._rng = np.random.Generator(np.random.PCG64(123))
    run(c, batches[4:])
    assert not np.array_equal(c.params(), straight.params())


@pytest.mark.parametrize("dist", ["gaussian", "bernoulli"])
def test_resume_vae_is_exact(tmp_path, dist):
    rd = GaussianReconstructionDistribution() if dist == "gaussian" else BernoulliReconstructionDistribution()
    conf = NeuralNetConfiguration(seed=5, updater=Adam(0.01), dtype="float32", layers=[
        VariationalAutoencoder(n_in=8, n_out=2, encoder_layer_sizes=(6, 5), decoder_layer_sizes=(5,),
                               activation="tanh", num_samples=2, reconstruction_distribution=rd),
        OutputLayer(n_out=3, activation="softmax")])
    x, y = data(n=24, n_in=8)

    def it():
        return ArrayDataSetIterator(x, y, batch_size=5, shuffle=True, seed=9)

    straight = MultiLayerNetwork(conf).init()
    its = it()
    straight.pretrain(its, epochs=3)
    straight.fit(its, epochs=1)

    a = MultiLayerNetwork(conf).init()
    ita = it()
    a.pretrain(ita, epochs=2)
    # mid-epoch: two more batches by hand, then the iterator continues where it stopped
    gen = iter(ita)
    for _ in range(2):
        a.pretrain_layer(0, next(gen).features)
    state = _copy_state(ita)
    a.save(tmp_path / "vae.h5")
    b = MultiLayerNetwork.load(tmp_path / "vae.h5")
    itb = it()
    itb.set_state(state)
    b.pretrain_layer(0, itb, epochs=1)
    # the hand-driven batches counted as extra "epochs"; align the counter with the straight run
    b.epoch_count = straight.epoch_count - 1
    b.fit(itb, epochs=1)
    assert bits(b.params()) == bits(straight.params())
    for i in range(2):
        for name, states in straight.updater_state(i).items():
            for k, arr in states.items():
                assert bits(b.updater_state(i)[name][k]) == bits(arr)
    assert b.training_state()["rng_state"] == straight.training_state()["rng_state"]
    assert b.training_state()["updater_steps"] == straight.training_state()["updater_steps"]
    assert b.score() == straight.score()
    assert bits(b.output(x)) == bits(straight.output(x))


# ============================================================================ atomic save

def _fail_after(monkeypatch, n_calls, exc=RuntimeError("disk full (injected)")):
    real = io_format.write_array
    calls = {"n": 0}

    def flaky(group, name, arr):
        if calls["n"] >= n_calls:
            raise exc
        calls["n"] += 1
        return real(group, name, arr)

    monkeypatch.setattr(io_format, "write_array", flaky)
    return calls


@pytest.mark.parametrize("exc", [RuntimeError("disk full (injected)"), KeyboardInterrupt()],
                         ids=["error", "interrupt"])
def test_failed_save_leaves_existing_file_untouched(tmp_path, monkeypatch, exc):
    net, path, x, y = trained_small(tmp_path)
    before = open(path, "rb").read()
    other = small_net(seed=99)
    n_params = sum(len(layer.param_specs()) for layer in other.layers)
    calls = _fail_after(monkeypatch, n_params // 2, exc)
    with pytest.raises(type(exc)):
        other.save(path)
    assert calls["n"] == n_params // 2  # it really failed half-way through the params
    assert open(path, "rb").read() == before
    assert sorted(os.listdir(tmp_path)) == ["model.h5"]
    monkeypatch.undo()
    assert_same_net(net, load_model(path), x, y)


def test_failed_save_to_new_path_leaves_nothing(tmp_path, monkeypatch):
    net = small_net()
    _fail_after(monkeypatch, 1)
    with pytest.raises(RuntimeError, match="injected"):
        save_model(net, tmp_path / "new.h5")
    assert os.listdir(tmp_path) == []


def test_failed_replace_cleans_the_temp_file(tmp_path, monkeypatch):
    net, path, x, y = trained_small(tmp_path)
    before = open(path, "rb").read()

    def boom(src, dst):
        assert os.path.dirname(os.path.abspath(src)) == str(tmp_path)  # temp file in the same folder
        raise OSError("replace failed (injected)")

    monkeypatch.setattr(atomic.os, "replace", boom)
    with pytest.raises(OSError, match="injected"):
        net.save(path)
    assert open(path, "rb").read() == before
    assert os.listdir(tmp_path) == ["model.h5"]


def test_save_errors_for_missing_folder_and_keeps_permissions(tmp_path):
    net, path, x, y = trained_small(tmp_path)
    with pytest.raises(FileNotFoundError):
        net.save(tmp_path / "no" / "such" / "dir.h5")
    os.chmod(path, 0o640)
    net.save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    old = os.umask(0o027)
    try:
        net.save(tmp_path / "fresh.h5")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "fresh.h5").st_mode) == 0o640
    with pytest.raises(IsADirectoryError):
        net.save(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["fresh.h5", "model.h5"]
    # saving through a symlink replaces the target and keeps the link
    os.symlink("model.h5", tmp_path / "latest.h5")
    other = small_net(seed=42)
    other.save(tmp_path / "latest.h5")
    assert os.path.islink(tmp_path / "latest.h5")
    assert bits(load_model(path).params()) == bits(other.params())
    assert sorted(os.listdir(tmp_path)) == ["fresh.h5", "latest.h5", "model.h5"]


# ============================================================================ interchange (bare h5py)

def _bare_forward_ae_dense(path, x):
    """Network output recomputed with h5py + json + numpy only (no numba_ae)."""
    import json as _json

    import h5py as _h5py
    import numpy as _np
    acts = {"sigmoid": lambda z: 1 / (1 + _np.exp(-z)), "tanh": _np.tanh, "relu": lambda z: _np.maximum(z, 0),
            "identity": lambda z: z,
            "softmax": lambda z: _np.exp(z - z.max(1, keepdims=True)) / _np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)}
    with _h5py.File(path, "r") as f:
        conf = _json.loads(f.attrs["config"])["config"]
        a = _np.asarray(x, dtype=_np.float64)
        for i, layer in enumerate(conf["layers"]):
            lc = layer["config"]
            act = lc["activation"] or conf["activation"]
            W = f[f"params/layer_{i}/W"][()].astype(_np.float64)
            b = f[f"params/layer_{i}/b"][()].astype(_np.float64)
            a = acts[act](a @ W + b)  # AutoEncoder / Dense / Output alike: the encoder in the forward pass
    return a


def _bare_vae_latent_mean(path, x):
    """VAE encoder -> pZXMean recomputed with h5py + json + numpy only (no numba_ae)."""
    import json as _json

    import h5py as _h5py
    import numpy as _np
    acts = {"sigmoid": lambda z: 1 / (1 + _np.exp(-z)), "tanh": _np.tanh, "relu": lambda z: _np.maximum(z, 0),
            "identity": lambda z: z, "softplus": lambda z: _np.logaddexp(0, z)}
    with _h5py.File(path, "r") as f:
        root = _json.loads(f.attrs["config"])
        assert root["class_name"] == "NeuralNetConfiguration"
        conf = root["config"]
        vae = conf["layers"][0]
        assert vae["class_name"] == "VariationalAutoencoder"
        lc = vae["config"]
        act = acts[lc["activation"] or conf["activation"]]
        g = f["params/layer_0"]
        a = _np.asarray(x, dtype=_np.float64)
        for i in range(len(lc["encoder_layer_sizes"])):
            a = act(a @ g[f"e{i}W"][()].astype(_np.float64) + g[f"e{i}b"][()])
        return acts[lc["pzx_activation"]](a @ g["pZXMeanW"][()].astype(_np.float64) + g["pZXMeanb"][()])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bare_h5py_reader_reproduces_autoencoder_dense_output(tmp_path, dtype):
    conf = NeuralNetConfiguration(seed=2, dtype=dtype, updater=Adam(0.05), layers=[
        AutoEncoder(n_in=6, n_out=5, activation="relu"), DenseLayer(n_out=4),
        OutputLayer(n_out=3, activation="softmax")])
    net = MultiLayerNetwork(conf).init()
    x, y = data(n=10, n_in=6, dtype=dtype)
    net.pretrain(x)
    net.fit(x, y, epochs=3)
    net.save(tmp_path / "m.h5")
    ref = _bare_forward_ae_dense(str(tmp_path / "m.h5"), x)
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(net.output(x), ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype,pzx,act", [("float32", "identity", "tanh"), ("float64", "sigmoid", "softplus")])
def test_bare_h5py_reader_reproduces_vae_latent_mean(tmp_path, dtype, pzx, act):
    conf = NeuralNetConfiguration(seed=4, dtype=dtype, updater=Adam(0.05), activation=act, layers=[
        VariationalAutoencoder(n_in=7, n_out=3, encoder_layer_sizes=(6, 5), decoder_layer_sizes=(5, 6),
                               pzx_activation=pzx, reconstruction_distribution=GaussianReconstructionDistribution())])
    net = MultiLayerNetwork(conf).init()
    x, _ = data(n=9, n_in=7, dtype=dtype)
    net.pretrain(x, epochs=3)
    net.save(tmp_path / "vae.h5")
    ref = _bare_vae_latent_mean(str(tmp_path / "vae.h5"), x)
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(net.get_layer(0).activate(x), ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(net.output(x), ref, rtol=tol, atol=tol)


# ============================================================================ bad files

def _mut(fn):
    """Apply ``fn(h5py.File)`` to the file in r+ mode."""
    def apply(path):
        with h5py.File(path, "r+") as f:
            fn(f)
    return apply


def _replace_ds(name, arr):
    def fn(f):
        del f[name]
        f.create_dataset(name, data=arr)
    return _mut(fn)


def _set_attr(obj, key, value):
    def fn(f):
        f[obj].attrs[key] = value
    return _mut(fn)


def _del_attr(obj, key):
    def fn(f):
        del f[obj].attrs[key]
    return _mut(fn)


def _edit_json(obj, key, edit):
    def fn(f):
        d = json.loads(f[obj].attrs[key])
        edit(d)
        f[obj].attrs[key] = json.dumps(d)
    return _mut(fn)


def _write_bytes(fn_bytes):
    def apply(path):
        with open(path, "rb") as fh:
            raw = fh.read()
        with open(path, "wb") as fh:
            fh.write(fn_bytes(raw))
    return apply


def _cfg_layer1(key, value):
    def edit(d):
        d["config"]["layers"][1]["config"][key] = value
    return edit


def _set_ts(key, value):
    def edit(d):
        d[key] = value
    return edit


def _del_ts(key):
    def edit(d):
        del d[key]
    return edit


def _nan_at(name, idx, value=np.nan):
    def fn(f):
        arr = f[name][()]
        arr[idx] = value
        f[name][...] = arr
    return _mut(fn)


def _soft_link(f):
    del f["params/layer_1/b"]
    f["params/layer_1/b"] = h5py.SoftLink("/params/layer_0/b")


def _external_link(f):
    del f["params/layer_1/b"]
    f["params/layer_1/b"] = h5py.ExternalLink("other.h5", "/x")


def _external_storage(f):
    path = os.path.join(os.path.dirname(f.filename), "raw.bin")
    np.zeros(3, np.float32).tofile(path)
    del f["params/layer_1/b"]
    f.create_dataset("params/layer_1/b", shape=(3,), dtype=np.float32, external=[(path, 0, 12)])


def _lzf(f):
    del f["params/layer_1/W"]
    f.create_dataset("params/layer_1/W", data=np.zeros((4, 3), np.float32), compression="lzf")


def _unwritten(f):
    del f["params/layer_1/W"]
    f.create_dataset("params/layer_1/W", shape=(4, 3), dtype=np.float32, chunks=(2, 3))


def _plain_hdf5():
    import io
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.create_dataset("model_weights", data=np.zeros(3))
        f.attrs["keras_version"] = "2.15"
    return buf.getvalue()


BAD_FILES = {
    "not_hdf5": (_write_bytes(lambda raw: b"this is not an HDF5 file\n" * 10), "is not an HDF5 file"),
    "empty": (_write_bytes(lambda raw: b""), "is empty"),
    "truncated": (_write_bytes(lambda raw: raw[: len(raw) // 2]), "truncated"),
    "truncated_tail": (_write_bytes(lambda raw: raw[:-100]), "truncated"),
    "wrong_format": (_set_attr("/", "format", "keras"), "root attribute 'format' is 'keras', expected 'numba_ae'"),
    "format_not_string": (_set_attr("/", "format", 3), "attribute 'format' must be a scalar string"),
    "missing_format": (_del_attr("/", "format"), "is an HDF5 file but not a numba_ae model file (the root group "
                                                "is missing the attribute 'format')"),
    "other_hdf5": (_write_bytes(lambda raw: _plain_hdf5()), "is an HDF5 file but not a numba_ae model file"),
    "newer_major": (_set_attr("/", "format_version", "2.0"),
                    "format_version 2.0 is newer than this library supports (1.x)"),
    "bad_version": (_set_attr("/", "format_version", "one"), "'format_version' is 'one'; expected 'major.minor'"),
    "old_major": (_set_attr("/", "format_version", "0.9"), "format_version 0.9 is not supported"),
    "missing_library_version": (_del_attr("/", "library_version"), "missing the attribute 'library_version'"),
    "config_not_json": (_set_attr("/", "config", "{not json"), "attribute 'config' is not valid JSON"),
    "config_nan": (_set_attr("/", "config", '{"a": NaN}'), "attribute 'config' is not valid JSON"),
    "config_invalid": (_edit_json("/", "config", _cfg_layer1("n_out", -3)),
                       "the config does not validate: NeuralNetConfiguration: OutputLayer: "),
    "config_invalid_detail": (_edit_json("/", "config", _cfg_layer1("n_out", -3)), "'n_out' must be an int >= 1; got -3"),
    "config_unknown_class": (_edit_json("/", "config", lambda d: d.update(class_name="Evil")),
                             "the config does not validate: unknown config class 'Evil'"),
    "config_wrong_class": (_set_attr("/", "config", Adam().to_json()),
                           "attribute 'config' holds a Adam, not a NeuralNetConfiguration"),
    "config_mismatch_shape": (_edit_json("/", "config", _cfg_layer1("n_out", 7)),
                              "params/layer_1/W has shape (4, 3) but the config expects (4, 7)"),
    "training_state_not_json": (_set_attr("/", "training_state", "[1, 2"),
                                "attribute 'training_state' is not valid JSON"),
    "training_state_missing_key": (_edit_json("/", "training_state", _del_ts("rng_state")),
                                   "'training_state' is missing 'rng_state'"),
    "training_state_bad_counter": (_edit_json("/", "training_state", _set_ts("iteration_count", -1)),
                                   "'iteration_count' must be an int >= 0; got -1"),
    "training_state_bool_counter": (_edit_json("/", "training_state", _set_ts("epoch_count", True)),
                                    "'epoch_count' must be an int >= 0; got True"),
    "training_state_bad_steps": (_edit_json("/", "training_state", _set_ts("updater_steps", [1])),
                                 "'updater_steps' must be a list of 2 ints >= 0"),
    "training_state_bad_rng": (_edit_json("/", "training_state", _set_ts("rng_state", {"bit_generator": "MT19937"})),
                               "'rng_state' is not a valid PCG64 state"),
    "training_state_bad_score": (_edit_json("/", "training_state", _set_ts("last_score", "high")),
                                 "'last_score' must be a number or null"),
    "seed_mismatch": (_edit_json("/", "training_state", _set_ts("seed", 4)),
                      "training_state seed 4 differs from the config seed 3"),
    "missing_params_group": (_mut(lambda f: f.__delitem__("params")), "params is missing"),
    "params_is_dataset": (_mut(lambda f: (f.__delitem__("params"), f.create_dataset("params", data=[1.0]))),
                          "params is not a group"),
    "missing_layer_group": (_mut(lambda f: f.__delitem__("params/layer_1")), "params/layer_1 is missing"),
    "extra_layer_group": (_mut(lambda f: f.create_group("params/layer_2")),
                          "params has unexpected member(s) ['layer_2']"),
    "missing_param": (_mut(lambda f: f.__delitem__("params/layer_0/W")), "params/layer_0/W is missing"),
    "extra_param": (_mut(lambda f: f.create_dataset("params/layer_0/X", data=np.zeros(3, np.float32))),
                    "params/layer_0 has unexpected member(s) ['X']"),
    "wrong_shape": (_replace_ds("params/layer_0/W", np.zeros((3, 4), np.float32)),
                    "params/layer_0/W has shape (3, 4) but the config expects (5, 4)"),
    "wrong_dtype": (_replace_ds("params/layer_0/W", np.zeros((5, 4), np.float64)),
                    "params/layer_0/W has dtype float64 but the config expects float32"),
    "int_dtype": (_replace_ds("params/layer_0/b", np.zeros(4, np.int32)),
                  "params/layer_0/b has dtype int32 but the config expects float32"),
    "nan_param": (_nan_at("params/layer_0/W", (1, 2)),
                  "params/layer_0/W contains non-finite values (first at index (1, 2): nan)"),
    "inf_param": (_nan_at("params/layer_1/b", (0,), np.inf),
                  "params/layer_1/b contains non-finite values (first at index (0,): inf)"),
    "wrong_layer_type": (_set_attr("params/layer_0", "layer_type", "DenseLayer"),
                         "params/layer_0 attribute 'layer_type' is 'DenseLayer' but the config's layer 0 is AutoEncoder"),
    "wrong_n_params": (_set_attr("params/layer_0", "n_params", np.int64(3)),
                       "params/layer_0 attribute 'n_params' is 3 but the config gives 29"),
    "float_n_params": (_set_attr("params/layer_0", "n_params", 29.0),
                       "params/layer_0 attribute 'n_params' must be an integer scalar"),
    "wrong_param_names": (_set_attr("params/layer_0", "param_names", '["b", "W", "vb"]'),
                          "params/layer_0 attribute 'param_names' is ['b', 'W', 'vb'] but the config expects ['W', 'b', 'vb']"),
    "soft_link": (_mut(_soft_link), "params/layer_1/b is a SoftLink; only ordinary (hard-linked) objects are allowed"),
    "external_link": (_mut(_external_link), "params/layer_1/b is a ExternalLink"),
    "external_storage": (_mut(_external_storage), "params/layer_1/b stores its data in external file(s)"),
    "plugin_filter": (_mut(_lzf), "params/layer_1/W uses HDF5 filter id 32000"),
    "unwritten_data": (_mut(_unwritten), "params/layer_1/W has only 0 bytes of stored data for 48 bytes"),
    "updater_mismatch": (_set_attr("updater/layer_0", "updater", Sgd(0.1).to_json()),
                         "updater/layer_0 attribute 'updater' ({\"class_name\": \"Sgd\""),
    "updater_invalid_where": (_set_attr("updater/layer_1", "updater", '{"class_name": "Adam", "config": {"beta1": 2}}'),
                              "updater/layer_1 attribute 'updater' does not validate: Adam: "),
    "updater_not_json": (_set_attr("updater/layer_1", "updater", "Adam("),
                         "updater/layer_1 attribute 'updater' is not valid JSON"),
    "updater_invalid": (_set_attr("updater/layer_1", "updater", '{"class_name": "Adam", "config": {"beta1": 2}}'),
                        "'beta1' must be a finite number in [0.0, 1.0); got 2.0"),
    "step_mismatch": (_set_attr("updater/layer_0", "step", np.int64(7)),
                      "updater/layer_0 attribute 'step' is 7 but training_state.updater_steps[0] is 2"),
    "missing_step": (_del_attr("updater/layer_0", "step"), "updater/layer_0 is missing the attribute 'step'"),
    "missing_state": (_mut(lambda f: f.__delitem__("updater/layer_0/W/m")), "updater/layer_0/W/m is missing"),
    "extra_state": (_mut(lambda f: f.create_dataset("updater/layer_0/W/cache", data=np.zeros((5, 4), np.float32))),
                    "updater/layer_0/W has unexpected member(s) ['cache']"),
    "missing_updater_layer": (_mut(lambda f: f.__delitem__("updater/layer_1")), "updater/layer_1 is missing"),
    "state_wrong_shape": (_replace_ds("updater/layer_1/W/v", np.zeros((3, 4), np.float32)),
                          "updater/layer_1/W/v has shape (3, 4) but the config expects (4, 3)"),
    "state_nan": (_nan_at("updater/layer_1/W/m", (0, 1)), "updater/layer_1/W/m contains non-finite values"),
    "state_negative_v": (_nan_at("updater/layer_0/b/v", (2,), -1.0),
                         "updater/layer_0/b/v has negative values; Adam state 'v' must be >= 0"),
    "utf8": (_mut(lambda f: f.attrs.create("library_version", np.bytes_(b"\xff\xfe"), dtype="S2")),
             "attribute 'library_version' is not valid UTF-8 text"),
    "bad_normalizer_type": (_mut(lambda f: f.create_group("normalizer").attrs.__setitem__("type", "Pickle")),
                            "the normalizer group is invalid: unknown normalizer type 'Pickle'"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_raises_model_format_error_naming_file_and_problem(tmp_path, case):
    corrupt, expected = BAD_FILES[case]
    net, path, x, y = trained_small(tmp_path)
    corrupt(path)
    with pytest.raises(ModelFormatError) as info:
        load_model(path)
    e = info.value
    assert isinstance(e, ValueError)
    assert str(e).startswith(f"{path}: ")
    assert expected in str(e), str(e)
    assert e.path == path and expected in e.problem
    if case in ("not_hdf5", "empty", "truncated", "wrong_format", "newer_major"):
        with pytest.raises(ModelFormatError, match="^" + str(path).replace("\\", "\\\\")):
            load_normalizer(path)


def test_newer_minor_version_and_unknown_extras_are_accepted(tmp_path):
    net, path, x, y = trained_small(tmp_path)
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = "1.7"
        f.attrs["future_attribute"] = "something new"
        f.create_group("future_group").create_dataset("z", data=[1, 2, 3])
    assert_same_net(net, load_model(path), x, y)


def test_files_written_by_other_tools_load(tmp_path):
    """Variable-length string attrs, contiguous big-endian datasets, gzip: all accepted."""
    net, path, x, y = trained_small(tmp_path)
    with h5py.File(path, "r+") as f:
        for key in ("format", "format_version", "config", "training_state"):
            f.attrs[key] = f.attrs[key].decode()
        w = f["params/layer_0/W"][()]
        del f["params/layer_0/W"]
        f.create_dataset("params/layer_0/W", data=w.astype(">f4"))
        b = f["params/layer_1/b"][()]
        del f["params/layer_1/b"]
        f.create_dataset("params/layer_1/b", data=b, compression="gzip", shuffle=True)
        del f["updater"]  # inference-only file from elsewhere
        del f["pretrain_updater"]
    loaded = load_model(path)
    assert bits(loaded.params()) == bits(net.params())
    assert loaded.training_state()["updater_steps"] == [0, 0]


def test_missing_path_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "nope.h5")
    with pytest.raises(FileNotFoundError):
        load_normalizer(tmp_path / "nope.h5")
    with pytest.raises(ModelFormatError, match="is not a regular file"):
        load_model(tmp_path)


def test_model_format_error_pickles_and_is_exported():
    import numba_ae.io as io
    e = ModelFormatError("m.h5", "params is missing")
    assert str(e) == "m.h5: params is missing"
    e2 = pickle.loads(pickle.dumps(e))
    assert type(e2) is ModelFormatError and str(e2) == str(e) and e2.problem == e.problem
    assert io.ModelFormatError is ModelFormatError
    assert set(io.__all__) >= {"save_model", "load_model", "load_normalizer", "ModelFormatError"}


def test_nonfinite_last_score_round_trips(tmp_path):
    net, path, x, y = trained_small(tmp_path)
    for value in (np.inf, -np.inf):
        net._last_score = value
        net.save(path)
        with h5py.File(path, "r") as f:
            json.loads(f.attrs["training_state"], parse_constant=lambda c: 1 / 0)  # strict JSON
        assert load_model(path).score() == value
    net._last_score = np.nan
    net.save(path)
    assert np.isnan(load_model(path).score())


# ---- fuzz -----------------------------------------------------------------------------------

_FUZZ = {}


def _fuzz_source(tmp_dir):
    if "raw" not in _FUZZ:
        conf = NeuralNetConfiguration(seed=1, updater=Adam(0.01), layers=[
            AutoEncoder(n_in=4, n_out=3), OutputLayer(n_out=2, activation="softmax")])
        net = MultiLayerNetwork(conf).init()
        x, y = data(n=4, n_in=4, n_out=2)
        net.fit(x, y)
        p = os.path.join(tmp_dir, "src.h5")
        norm = NormalizerMinMaxScaler().fit(x)
        net.save(p, normalizer=norm)
        with open(p, "rb") as fh:
            _FUZZ.update(raw=fh.read(), net=net, x=x, norm=norm)
    return _FUZZ["raw"], _FUZZ["net"], _FUZZ["x"], _FUZZ["norm"]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(edit=st.one_of(
    st.tuples(st.just("truncate"), st.floats(0.0, 1.0, exclude_max=True)),
    st.tuples(st.just("flip"), st.lists(st.tuples(st.floats(0.0, 1.0, exclude_max=True), st.integers(1, 255)),
                                        min_size=1, max_size=4))))
def test_fuzzed_files_only_raise_model_format_error(tmp_path, edit):
    raw, net, x, norm = _fuzz_source(str(tmp_path))
    b = bytearray(raw)
    kind, arg = edit
    if kind == "truncate":
        b = b[: int(arg * len(b))]
    else:
        for pos, mask in arg:
            b[int(pos * len(b))] ^= mask
    path = tmp_path / "fuzz.h5"
    path.write_bytes(bytes(b))
    try:
        assert load_normalizer(path) == norm
    except ModelFormatError as e:
        assert str(e).startswith(f"{path}: ")
    try:
        loaded = load_model(path)
    except ModelFormatError as e:
        assert str(e).startswith(f"{path}: ")
        return
    # loaded: the damage was in unused space (HDF5 metadata and our datasets are checksummed)
    out = loaded.output(x)
    assert out.shape == (4, 2) and np.all(np.isfinite(out))
    assert bits(loaded.params()) == bits(net.params())
    assert loaded.training_state() == net.training_state()
