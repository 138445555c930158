"""CUDA twins of the dropout and gradient-normalization kernels against the CPU ones, and
a fit step with both on ``device="cuda"`` against the CPU network."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import cuda

from numba_ae.kernels import corruption as kc
from numba_ae.kernels import dropout as kd
from numba_ae.kernels import gradient_normalization as kg
from numba_ae.kernels.cuda import dropout as cd
from numba_ae.kernels.cuda import gradient_normalization as cg


@settings(max_examples=8)
@given(n=st.integers(1, 7), k=st.integers(1, 9), p=st.sampled_from([0.1, 0.5, 0.9]),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 100))
def test_dropout_twins(n, k, p, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, k)).astype(dtype)
    bits = rng.integers(0, 2 ** 32, n * k + 1, dtype=np.uint64).astype(np.uint32)
    th, scale = kc.bits_threshold(p), dtype(1.0 / (1.0 - p))
    out, mask = np.empty_like(x), np.empty_like(x)
    kd.dropout_forward(x, bits, th, scale, out, mask)
    dout, dmask = cuda.device_array_like(x), cuda.device_array_like(x)
    cd.dropout_forward(cuda.to_device(x), cuda.to_device(bits), th, scale, dout, dmask)
    np.testing.assert_array_equal(dout.copy_to_host(), out)
    np.testing.assert_array_equal(dmask.copy_to_host(), mask)
    delta = rng.normal(size=(n, k)).astype(dtype)
    ddelta = cuda.to_device(delta)
    kd.dropout_backward(delta, mask)
    cd.dropout_backward(ddelta, dmask)
    np.testing.assert_array_equal(ddelta.copy_to_host(), delta)


@settings(max_examples=10)
@given(m=st.integers(0, 600), scale=st.sampled_from([1e-3, 1.0, 50.0]), threshold=st.sampled_from([0.5, 2.0]),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 100))
def test_gradient_normalization_twins(m, scale, threshold, dtype, seed):
    g = (np.random.default_rng(seed).normal(size=m) * scale).astype(dtype)
    tol = dict(rtol=1e-10) if dtype == np.float64 else dict(rtol=1e-6)
    assert cg.sum_squares(cuda.to_device(g)) == pytest.approx(kg.sum_squares(g), rel=1e-12)
    for name, args in (("renormalize_l2", ()), ("clip_l2", (threshold,)), ("clip_element_wise", (threshold,))):
        h, d = g.copy(), cuda.to_device(g)
        r1, r2 = getattr(kg, name)(h, *args), getattr(cg, name)(d, *args)
        if r1 is not None:
            assert r2 == pytest.approx(r1, rel=1e-12)
        np.testing.assert_allclose(d.copy_to_host(), h, **tol)


@pytest.mark.parametrize("mode", ["renormalize_l2_per_layer", "clip_l2_per_param_type",
                                  "clip_element_wise_absolute_value"])
def test_fit_with_dropout_and_gradient_normalization_matches_cpu(mode):
    from numba_ae import MultiLayerNetwork, NeuralNetConfiguration
    from numba_ae import config as C
    from numba_ae.updaters import Sgd
    conf = NeuralNetConfiguration(seed=2, dtype="float64", updater=Sgd(0.1), dropout=0.3,
                                  gradient_normalization=mode, gradient_normalization_threshold=0.5,
                                  layers=[C.DenseLayer(n_in=5, n_out=4, activation="tanh"),
                                          C.OutputLayer(n_out=2, loss="mse", activation="identity")])
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 5)), rng.normal(size=(6, 2))
    cpu, gpu = MultiLayerNetwork(conf).init(), MultiLayerNetwork(conf, device="cuda").init()
    for net in (cpu, gpu):
        net.fit(x, y, epochs=2, batch_size=3)
    np.testing.assert_allclose(gpu.params(), cpu.params(), rtol=1e-9, atol=1e-11)


@settings(max_examples=8)
@given(n=st.integers(1, 6), k=st.integers(1, 5), fb=st.sampled_from([0.0, 0.3, 1.0]),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 100))
def test_free_bits_twins(n, k, fb, dtype, seed):
    from numba_ae.kernels import vae as kv
    from numba_ae.kernels.cuda import free_bits as cf
    rng = np.random.default_rng(seed)
    mean, logvar = rng.normal(size=(n, k)).astype(dtype), rng.normal(size=(n, k)).astype(dtype)
    dims = np.empty(k)
    kv.kl_normal_dim_means(mean, logvar, dims)
    ddims = cuda.device_array(k, dtype=np.float64)
    dm, dl = cuda.to_device(mean), cuda.to_device(logvar)
    cf.kl_normal_dim_means(dm, dl, ddims)
    np.testing.assert_allclose(ddims.copy_to_host(), dims, rtol=1e-12)
    assert cf.free_bits_kl(ddims, fb) == pytest.approx(kv.free_bits_kl(dims, fb), rel=1e-12)
    gm, gl = np.empty_like(mean), np.empty_like(mean)
    kv.free_bits_kl_grad(mean, logvar, dims, fb, 0.5, gm, gl)
    dgm, dgl = cuda.device_array_like(mean), cuda.device_array_like(mean)
    cf.free_bits_kl_grad(dm, dl, cuda.to_device(dims), fb, 0.5, dgm, dgl)
    tol = dict(rtol=1e-10) if dtype == np.float64 else dict(rtol=1e-6)
    np.testing.assert_allclose(dgm.copy_to_host(), gm, **tol)
    np.testing.assert_allclose(dgl.copy_to_host(), gl, **tol)
