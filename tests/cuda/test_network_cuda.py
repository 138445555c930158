"""End to end on ``device="cuda"`` (the simulator in CI, a GPU where there is one):
the same seed trains to the same parameters as on the CPU, up to rounding; the VAE
layer methods agree; models save, load and resume on either device.

Tiny networks: the simulator runs every GPU thread as Python."""
import numpy as np
import pytest

from numba_ae import MultiLayerNetwork, NeuralNetConfiguration
from numba_ae import config as C
from numba_ae.updaters import Adam, Nesterovs, Sgd

TOL = {"float64": dict(rtol=1e-9, atol=1e-11), "float32": dict(rtol=2e-4, atol=2e-5)}


def _pair(layers, dtype="float64", updater=None, **kw):
    conf = NeuralNetConfiguration(seed=7, dtype=dtype, layers=layers, updater=updater or Adam(1e-2), **kw)
    return MultiLayerNetwork(conf).init(), MultiLayerNetwork(conf, device="cuda").init()


def _data(n=6, d=5, seed=0, kind="unit"):
    rng = np.random.default_rng(seed)
    if kind == "binary":
        return (rng.random((n, d)) < 0.5).astype(np.float64)
    if kind == "positive":
        return rng.exponential(1.0, (n, d))
    if kind == "real":
        return rng.normal(size=(n, d))
    return rng.random((n, d))


def _same(cpu, gpu, dtype="float64"):
    assert gpu.device == "cuda" and cpu.device == "cpu"
    np.testing.assert_allclose(gpu.params(), cpu.params(), **TOL[dtype])


def test_initial_parameters_are_the_cpu_ones():
    cpu, gpu = _pair([C.DenseLayer(n_in=5, n_out=4), C.OutputLayer(n_out=3, loss="mcxent", activation="softmax")])
    np.testing.assert_array_equal(gpu.params(), cpu.params())
    assert "cuda" in gpu.summary()
    assert isinstance(gpu.get_layer(0).params["W"], np.ndarray)


@pytest.mark.parametrize("dtype, updater", [("float64", Sgd(0.1)), ("float32", Adam(1e-2)),
                                            ("float64", Nesterovs(0.05, 0.9))], ids=["sgd64", "adam32", "nesterovs64"])
def test_supervised_fit_matches_cpu(dtype, updater):
    layers = [C.DenseLayer(n_in=5, n_out=4, activation="tanh"), C.OutputLayer(n_out=3, loss="mcxent", activation="softmax")]
    cpu, gpu = _pair(layers, dtype=dtype, updater=updater, l2=1e-3)
    x = _data()
    y = np.eye(3)[np.arange(6) % 3]
    for net in (cpu, gpu):
        net.fit(x, y, epochs=2, batch_size=3)
    _same(cpu, gpu, dtype)
    np.testing.assert_allclose(gpu.output(x), cpu.output(x), **TOL[dtype])
    np.testing.assert_allclose(gpu.score((x, y)), cpu.score((x, y)), **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_autoencoder_pretrain_and_fit_match_cpu(dtype):
    layers = [C.AutoEncoder(n_in=5, n_out=3, corruption_level=0.3, sparsity=0.1, loss="xent"),
              C.OutputLayer(n_out=2, loss="xent", activation="sigmoid")]
    cpu, gpu = _pair(layers, dtype=dtype)
    x = _data()
    y = (x[:, :2] > 0.5).astype(float)
    for net in (cpu, gpu):
        net.pretrain(x, epochs=2, batch_size=3)
        net.fit(x, y, epochs=1, batch_size=3)
    _same(cpu, gpu, dtype)
    np.testing.assert_allclose(gpu.get_layer(0).reconstruct(x), cpu.get_layer(0).reconstruct(x), **TOL[dtype])


DISTS = {
    "gaussian": (lambda: C.GaussianReconstructionDistribution(activation="identity"), "real"),
    "bernoulli": (lambda: C.BernoulliReconstructionDistribution(), "binary"),
    "exponential": (lambda: C.ExponentialReconstructionDistribution(activation="identity"), "positive"),
    "composite": (lambda: C.CompositeReconstructionDistribution(
        [(2, C.BernoulliReconstructionDistribution()), (3, C.GaussianReconstructionDistribution())]), "unit"),
    "categorical": (lambda: C.CompositeReconstructionDistribution(
        [(3, C.CategoricalReconstructionDistribution()), (2, C.BernoulliReconstructionDistribution())]), "onehot"),
}


def _vae(dist=None, loss=None, num_samples=2):
    kw = {"reconstruction_distribution": dist} if dist is not None else {"loss_function": loss}
    return C.VariationalAutoencoder(n_in=5, n_out=2, encoder_layer_sizes=(4,), decoder_layer_sizes=(3,),
                                    activation="tanh", num_samples=num_samples, **kw)


@pytest.mark.parametrize("name", sorted(DISTS))
def test_vae_pretrain_matches_cpu(name):
    make, kind = DISTS[name]
    if name == "composite":
        x = np.hstack([_data(d=2, kind="binary"), _data(d=3, kind="real")])
    elif name == "categorical":
        x = np.hstack([np.eye(3)[np.arange(6) % 3], _data(d=2, kind="binary")])
    else:
        x = _data(kind=kind)
    cpu, gpu = _pair([_vae(make(), num_samples=1 if name != "gaussian" else 2)])
    for net in (cpu, gpu):
        net.pretrain(x, epochs=1, batch_size=3)
    _same(cpu, gpu)
    a, b = cpu.get_layer(0), gpu.get_layer(0)
    np.testing.assert_allclose(b.activate(x), a.activate(x), **TOL["float64"])
    z = np.random.default_rng(1).normal(size=(4, 2))
    np.testing.assert_allclose(b.generate_at_mean_given_z(z), a.generate_at_mean_given_z(z), **TOL["float64"])
    np.testing.assert_allclose(b.generate_random_given_z(z, rng=3), a.generate_random_given_z(z, rng=3),
                               **TOL["float64"])
    methods = (("reconstruction_log_probability", {"num_samples": 2, "rng": 5}),
               ("log_likelihood_estimate", {"num_samples": 2, "rng": 5}),
               ("elbo", {"num_samples": 1, "rng": 5}))
    # every method once (on two distributions: the simulator is slow), the score on all
    for method, kw in (methods if name in ("gaussian", "categorical") else methods[:1]):
        np.testing.assert_allclose(getattr(b, method)(x, **kw), getattr(a, method)(x, **kw), **TOL["float64"])
    np.testing.assert_allclose(gpu.score(x), cpu.score(x), **TOL["float64"])


def test_vae_loss_wrapper_and_float32_match_cpu():
    x = _data()
    layers = [_vae(loss=C.LossFunctionWrapper(activation="sigmoid", loss="mse"), num_samples=1)]
    cpu, gpu = _pair(layers, dtype="float32")
    for net in (cpu, gpu):
        net.pretrain(x, epochs=2, batch_size=3)
    _same(cpu, gpu, "float32")
    np.testing.assert_allclose(gpu.get_layer(0).reconstruction_error(x), cpu.get_layer(0).reconstruction_error(x),
                               **TOL["float32"])


def test_vae_classifier_fit_matches_cpu():
    x = _data(kind="binary")
    y = np.eye(2)[np.arange(6) % 2]
    layers = [_vae(C.BernoulliReconstructionDistribution(), num_samples=1), C.OutputLayer(n_out=2, loss="mcxent", activation="softmax")]
    cpu, gpu = _pair(layers)
    for net in (cpu, gpu):
        net.pretrain(x, epochs=1, batch_size=3)
        net.fit(x, y, epochs=1, batch_size=3)
    _same(cpu, gpu)


def test_user_activation_runs_on_the_device():
    from numba_ae import register_activation, unregister_activation
    from numba_ae.kernels.specialize import scalar

    @scalar
    def cube(v):
        return v * v * v

    @scalar
    def cube_d(pre, out):
        return type(pre)(3.0) * pre * pre

    register_activation("cube_cuda_test", cube, cube_d, needs_pre=True)
    try:
        layers = [C.DenseLayer(n_in=5, n_out=3, activation="cube_cuda_test"), C.OutputLayer(n_out=2, loss="mse",
                                                                                            activation="identity")]
        cpu, gpu = _pair(layers, updater=Sgd(0.05))
        x, y = _data(), _data(d=2, seed=1)
        for net in (cpu, gpu):
            net.fit(x, y, epochs=2, batch_size=3)
        _same(cpu, gpu)
    finally:
        unregister_activation("cube_cuda_test")


def test_move_between_devices_and_resume(tmp_path):
    x = _data(kind="binary")
    cpu, gpu = _pair([_vae(C.BernoulliReconstructionDistribution(), num_samples=1)])
    for net in (cpu, gpu):
        net.pretrain(x, epochs=1, batch_size=3)
    path = str(tmp_path / "m.h5")
    gpu.save(path)
    on_cpu = MultiLayerNetwork.load(path)
    on_gpu = MultiLayerNetwork.load(path, device="cuda")
    assert on_cpu.device == "cpu" and on_gpu.device == "cuda"
    np.testing.assert_array_equal(on_cpu.params(), gpu.params())
    np.testing.assert_array_equal(on_gpu.params(), gpu.params())
    # the loaded GPU model continues exactly like the one that was saved
    for net in (gpu, on_gpu):
        net.pretrain(x, epochs=1, batch_size=3)
    np.testing.assert_array_equal(on_gpu.params(), gpu.params())
    # to("cpu") and back keeps parameters and updater state bitwise
    moved = on_cpu.to("cuda").to("cpu").to("cuda")
    assert moved is on_cpu and moved.device == "cuda"
    before = moved.updater_state(0, pretrain=True)
    back = moved.to("cpu")
    after = back.updater_state(0, pretrain=True)
    for name in before:
        for k in before[name]:
            np.testing.assert_array_equal(after[name][k], before[name][k])


def test_copies_of_a_cuda_network_stay_on_the_device():
    import copy
    import pickle
    cpu, gpu = _pair([C.DenseLayer(n_in=5, n_out=3), C.OutputLayer(n_out=2, loss="mse", activation="identity")])
    for clone in (copy.deepcopy(gpu), pickle.loads(pickle.dumps(gpu))):
        assert clone.device == "cuda"
        np.testing.assert_array_equal(clone.params(), gpu.params())
