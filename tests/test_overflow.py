"""Log-probabilities, KL and their gradients for logits and log-variances up to |1e4|, in
float32 and float64: finite where the true value is finite and representable, the
right +-inf where it is not, never NaN; agreeing with float64 references (scipy.stats
where its parameterisation is representable, the same formula evaluated in log space
otherwise)."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

from numba_ae.distributions import bernoulli, exponential, gaussian
from numba_ae.kernels import vae as kv

BIG = 1e4
SETTINGS = settings(max_examples=60, deadline=None)
wide = st.floats(-BIG, BIG, allow_nan=False)
LOG_MAX = {np.float32: math.log(np.finfo(np.float32).max), np.float64: math.log(np.finfo(np.float64).max)}


def _exp_times(r, logscale):
    """``r**2 * exp(logscale)`` without overflow in the intermediate (inf when the result is)."""
    if r == 0.0:
        return 0.0
    e = 2.0 * math.log(abs(r)) + logscale
    return math.inf if e > 709.0 else math.exp(e)


def _check(got, ref, mags, dtype, what):
    """``got`` (dtype) against the float64 ``ref``: equal infinities; else relative to the
    magnitudes of the terms that were summed (``mags``), 1e-5 (float32) / 1e-12 (float64)."""
    got = float(got)
    assert not math.isnan(got), f"{what}: NaN (reference {ref!r})"
    fmax = float(np.finfo(dtype).max)
    if math.isinf(ref) or abs(ref) > fmax:
        assert math.isinf(got) and (got > 0) == (ref > 0), f"{what}: {got!r}, reference {ref!r}"
        return
    tol = (1e-5 if dtype == np.float32 else 1e-12) * max(mags, 1e-30) + float(np.finfo(dtype).tiny)
    assert math.isfinite(got) and abs(got - ref) <= tol, f"{what}: {got!r}, reference {ref!r} (tol {tol:g})"


def _arr(v, dtype):
    return np.array([[v]], dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@SETTINGS
@given(x=st.floats(-50, 50), mu=wide, lv=wide)
def test_gaussian(dtype, x, mu, lv):
    x, mu, lv = (float(dtype(v)) for v in (x, mu, lv))
    a = np.array([[mu, lv]], dtype=dtype)
    xx = _arr(x, dtype)
    out, grad = np.empty(1, dtype), np.empty((1, 2), dtype)
    gaussian.KERNELS.log_prob_and_grad(xx, a, 1.0, out, grad)
    out2, grad2 = np.empty(1, dtype), np.empty((1, 2), dtype)
    gaussian.KERNELS.log_prob(xx, a, out2)
    gaussian.KERNELS.nll_grad(xx, a, 1.0, grad2)
    r = x - mu
    q = _exp_times(r, -lv)
    c = 0.5 * math.log(2 * math.pi)
    ref = -c - 0.5 * lv - 0.5 * q
    if abs(lv) < 1000 and q < 1e300:
        ref = stats.norm.logpdf(x, mu, math.exp(0.5 * lv))
    mags = c + abs(0.5 * lv) + 0.5 * q
    for o in (out[0], out2[0]):
        if math.isinf(o) and o < 0 and ref < -float(np.finfo(dtype).max) / 8:
            continue   # documented: exp(-logvar) overflows before r^2 exp(-logvar) would; -inf then
        _check(o, ref, mags, dtype, "log N")
    le = math.log(abs(r)) - lv if r != 0 else -math.inf
    gmu = 0.0 if r == 0 else -math.copysign(math.inf if le > 709 else math.exp(le), r)
    glv = 0.5 - 0.5 * q
    for g in (grad, grad2):
        _check(g[0, 0], gmu, abs(gmu), dtype, "d/dmean")
        _check(g[0, 1], glv, 0.5 + 0.5 * q, dtype, "d/dlogvar")
    # the same density through the latent-space kernel (IWAE)
    dens = np.empty(1, dtype)
    kv.normal_log_density(xx, _arr(mu, dtype), _arr(lv, dtype), dens)
    _check(dens[0], ref, mags, dtype, "normal_log_density")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@SETTINGS
@given(x=st.sampled_from([0.0, 1.0, 0.3]), z=wide)
def test_bernoulli_logits(dtype, x, z):
    z = float(dtype(z))
    xx, a = _arr(x, dtype), _arr(z, dtype)
    out, grad = np.empty(1, dtype), np.empty((1, 1), dtype)
    bernoulli.LOGIT_KERNELS.log_prob_and_grad(xx, a, 1.0, out, grad)
    ref = x * z - np.logaddexp(0.0, z)
    if x in (0.0, 1.0):
        ref_scipy = stats.bernoulli.logpmf(int(x), special.expit(z))
        if np.isfinite(ref_scipy) and abs(z) < 15:   # log(1 - expit(z)) cancels past ~15
            assert ref == pytest.approx(ref_scipy, rel=1e-7, abs=1e-12)
    _check(out[0], ref, abs(x * z) + abs(np.logaddexp(0.0, z)), dtype, "log Bernoulli")
    _check(grad[0, 0], special.expit(z) - x, 1.0, dtype, "d/dlogit")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@SETTINGS
@given(x=st.one_of(st.just(0.0), st.floats(0.0, 100.0)), g=wide)
def test_exponential(dtype, x, g):
    x, g = float(dtype(x)), float(dtype(g))
    xx, a = _arr(x, dtype), _arr(g, dtype)
    out, grad = np.empty(1, dtype), np.empty((1, 1), dtype)
    exponential.KERNELS.log_prob_and_grad(xx, a, 1.0, out, grad)
    ex = 0.0 if x == 0.0 else (math.inf if g + math.log(x) > 709 else math.exp(g + math.log(x)))
    ref = g - ex
    if abs(g) < 700 and x > 0:   # scipy agrees (it rounds log(1/scale): absolute error ~1e-16)
        assert ref == pytest.approx(stats.expon.logpdf(x, scale=math.exp(-g)), rel=1e-12, abs=1e-13)
    _check(out[0], ref, abs(g) + ex, dtype, "log Exponential")
    _check(grad[0, 0], ex - 1.0, ex + 1.0, dtype, "d/dgamma")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@SETTINGS
@given(mu=wide, lv=wide)
def test_kl(dtype, mu, lv):
    mu, lv = float(dtype(mu)), float(dtype(lv))
    m, l = _arr(mu, dtype), _arr(lv, dtype)
    out = np.empty(1, dtype)
    kv.kl_normal(m, l, out)
    e = math.inf if lv > 709 else math.exp(lv)
    ref = 0.5 * (e + mu * mu - 1.0 - lv)
    _check(out[0], ref, 0.5 * (e + mu * mu + 1.0 + abs(lv)), dtype, "KL")
    gm, gl = np.empty_like(m), np.empty_like(l)
    kv.kl_normal_grad(m, l, 1.0, gm, gl)
    _check(gm[0, 0], mu, abs(mu), dtype, "dKL/dmean")
    _check(gl[0, 0], 0.5 * (e - 1.0), 0.5 * (e + 1.0), dtype, "dKL/dlogvar")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zero_residual_at_huge_precision_is_not_nan(dtype):
    """x == mean with logvar = -1e4: 0 * exp(1e4) is 0, so log N = -log(2 pi)/2 + 5000."""
    a = np.array([[1.5, -BIG]], dtype=dtype)
    out, grad = np.empty(1, dtype), np.empty((1, 2), dtype)
    gaussian.KERNELS.log_prob_and_grad(_arr(1.5, dtype), a, 1.0, out, grad)
    assert float(out[0]) == pytest.approx(-0.5 * math.log(2 * math.pi) + 0.5 * BIG, rel=1e-6)
    np.testing.assert_array_equal(grad, [[0.0, 0.5]])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("dist", ["gaussian", "bernoulli", "exponential"])
def test_vae_methods_with_huge_posterior_logvar_are_not_nan(dist, dtype):
    """A pzx log-variance of 200 (exp(100) ~ 2.7e43, beyond float32): the VAE's
    log-probability, score and IWAE estimate are numbers, not NaN (they were NaN)."""
    from harness import make_net
    from numba_ae import (BernoulliReconstructionDistribution, ExponentialReconstructionDistribution,
                          GaussianReconstructionDistribution, VariationalAutoencoder)
    d = {"gaussian": GaussianReconstructionDistribution("identity"),
         "bernoulli": BernoulliReconstructionDistribution(),
         "exponential": ExponentialReconstructionDistribution()}[dist]
    net = make_net([VariationalAutoencoder(n_in=5, n_out=2, encoder_layer_sizes=(4,), decoder_layer_sizes=(4,),
                                           activation="tanh", reconstruction_distribution=d)], dtype=dtype)
    vae = net.get_layer(0)
    vae.params["pZXLogStd2W"][...] = 0.0
    vae.params["pZXLogStd2b"][...] = 200.0
    x = np.random.default_rng(0).uniform(0, 1, (3, 5)).round()
    for v in (vae.reconstruction_log_probability(x, 2, rng=np.random.default_rng(0)),
              vae.log_likelihood_estimate(x, 3, rng=np.random.default_rng(0)),
              np.array([vae.score(x, rng=np.random.default_rng(0))])):
        assert not np.any(np.isnan(v)), v
    # in float32 the values are those of the same network in float64 (the rows are redone there)
    if dtype == "float32":
        net64 = make_net(net.conf.layers, dtype="float64")
        net64.set_params(net.params().astype(np.float64))
        v32 = vae.reconstruction_log_probability(x, 2, rng=np.random.default_rng(0))
        eps = np.random.default_rng(0).standard_normal((2, 3, 2), dtype=np.float32).astype(np.float64)
        v64 = net64.get_layer(0)._log_probs_given_eps(x, eps, False).mean(axis=0)
        np.testing.assert_allclose(v32, v64, rtol=1e-12)
