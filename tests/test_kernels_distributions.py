"""Tests for the reconstruction distributions' kernels (generated from their element definitions)
and the latent Gaussian kernels (KL, densities, reparameterisation, log-sum-exp)."""

import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import special, stats

from harness import fd_directional, fd_grad_rows
from reference import assert_grad_close
from numba_ae.distributions import bernoulli, categorical, exponential, gaussian
from numba_ae.kernels import vae as kv

GAUSS, EXPO = gaussian.KERNELS, exponential.KERNELS
LOGIT, PROB = bernoulli.LOGIT_KERNELS, bernoulli.PROB_KERNELS
CAT = categorical.KERNELS

SCALE = 0.37
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
dims = st.integers(1, 6)


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def fmat(shape, lo, hi):
    """Strategy for a bounded, finite float64 matrix."""
    return arrays(
        np.float64,
        shape,
        elements=st.floats(lo, hi, allow_nan=False, allow_infinity=False),
    )


def bmat(shape):
    """Strategy for a {0, 1} float64 matrix."""
    return arrays(np.float64, shape, elements=st.sampled_from([0.0, 1.0]))


def row_out(n, dtype=np.float64):
    return np.full(n, np.nan, dtype=dtype)


def flat(m):
    """(n, d) -> (n*d, 1): one independent single-feature problem per entry."""
    return np.ascontiguousarray(m).reshape(-1, 1)


# ---------------------------------------------------------------------------
# log-probabilities vs scipy.stats
# ---------------------------------------------------------------------------


@SETTINGS
@given(data=st.data())
def test_gaussian_log_prob_vs_scipy(data):
    n, d = data.draw(dims), data.draw(dims)
    x = data.draw(fmat((n, d), -10, 10))
    mu = data.draw(fmat((n, d), -5, 5))
    lv = data.draw(fmat((n, d), -4, 4))
    a = np.hstack([mu, lv])
    out = row_out(n)
    GAUSS.log_prob(x, a, out)
    expected = stats.norm.logpdf(x, mu, np.exp(0.5 * lv)).sum(axis=1)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)

    mean = np.full((n, d), np.nan)
    GAUSS.mean(a, mean)
    np.testing.assert_array_equal(mean, mu)


@SETTINGS
@given(data=st.data())
def test_bernoulli_logit_log_prob_vs_scipy(data):
    n, d = data.draw(dims), data.draw(dims)
    x = data.draw(bmat((n, d)))
    pre = data.draw(fmat((n, d), -8, 8))
    out = row_out(n)
    LOGIT.log_prob(x, pre, out)
    expected = stats.bernoulli.logpmf(x, special.expit(pre)).sum(axis=1)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)

    mean = np.full((n, d), np.nan)
    LOGIT.mean(pre, mean)
    np.testing.assert_allclose(mean, special.expit(pre), rtol=1e-14, atol=0)


@SETTINGS
@given(data=st.data())
def test_bernoulli_log_prob_vs_scipy(data):
    n, d = data.draw(dims), data.draw(dims)
    x = data.draw(bmat((n, d)))
    p = data.draw(fmat((n, d), 1e-6, 1 - 1e-6))
    out = row_out(n)
    PROB.log_prob(x, p, out)
    expected = stats.bernoulli.logpmf(x, p).sum(axis=1)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)


@SETTINGS
@given(data=st.data())
def test_exponential_log_prob_vs_scipy(data):
    n, d = data.draw(dims), data.draw(dims)
    x = data.draw(fmat((n, d), 0, 10))
    g = data.draw(fmat((n, d), -3, 3))
    out = row_out(n)
    EXPO.log_prob(x, g, out)
    expected = stats.expon.logpdf(x, scale=np.exp(-g)).sum(axis=1)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)

    mean = np.full((n, d), np.nan)
    EXPO.mean(g, mean)
    np.testing.assert_allclose(mean, stats.expon.mean(scale=np.exp(-g)), rtol=1e-14)


def ohmat(n, d):
    """Strategy for an [n, d] float64 matrix of one-hot rows."""
    return arrays(np.int64, (n,), elements=st.integers(0, d - 1)).map(lambda k: np.eye(d)[k])


@SETTINGS
@given(data=st.data())
def test_categorical_log_prob_vs_scipy(data):
    n, d = data.draw(dims), data.draw(dims)
    x = data.draw(ohmat(n, d))
    pre = data.draw(fmat((n, d), -8, 8))
    out = row_out(n)
    CAT.log_prob(x, pre, out)
    p = special.softmax(pre, axis=1)
    expected = np.array([stats.multinomial.logpmf(x[i], 1, p[i]) for i in range(n)])
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)

    mean = np.full((n, d), np.nan)
    CAT.mean(pre, mean)
    np.testing.assert_allclose(mean, p, rtol=1e-13, atol=1e-300)


@SETTINGS
@given(data=st.data())
def test_kl_normal_closed_form(data):
    n, k = data.draw(dims), data.draw(dims)
    mean = data.draw(fmat((n, k), -5, 5))
    lv = data.draw(fmat((n, k), -4, 4))
    out = row_out(n)
    kv.kl_normal(mean, lv, out)
    # KL(N(m, s^2) || N(0, 1)) = log(1/s) + (s^2 + m^2)/2 - 1/2, per dimension
    s = np.exp(0.5 * lv)
    expected = (-np.log(s) + 0.5 * (s**2 + mean**2) - 0.5).sum(axis=1)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)
    assert np.all(out >= -1e-12)


def test_kl_normal_monte_carlo():
    rng = np.random.default_rng(1234)
    n, k, S = 3, 4, 200_000
    mean = rng.uniform(-1.5, 1.5, (n, k))
    lv = rng.uniform(-1.5, 1.0, (n, k))
    out = row_out(n)
    kv.kl_normal(mean, lv, out)

    sigma = np.exp(0.5 * lv)
    z = mean + sigma * rng.standard_normal((S, n, k))
    log_ratio = (
        stats.norm.logpdf(z, mean, sigma) - stats.norm.logpdf(z)
    ).sum(axis=2)  # (S, n)
    est = log_ratio.mean(axis=0)
    se = log_ratio.std(axis=0) / np.sqrt(S)
    assert np.all(np.abs(est - out) < 5 * se + 1e-3), (est, out, se)


@SETTINGS
@given(data=st.data())
def test_normal_log_density_vs_scipy(data):
    n, k = data.draw(dims), data.draw(dims)
    z = data.draw(fmat((n, k), -10, 10))
    mean = data.draw(fmat((n, k), -5, 5))
    lv = data.draw(fmat((n, k), -4, 4))
    out = row_out(n)
    kv.normal_log_density(z, mean, lv, out)
    expected = stats.norm.logpdf(z, mean, np.exp(0.5 * lv)).sum(axis=1)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)

    out0 = row_out(n)
    kv.std_normal_log_density(z, out0)
    np.testing.assert_allclose(out0, stats.norm.logpdf(z).sum(axis=1), rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------------------
# gradients vs central finite differences of the log_prob / kl kernels
# ---------------------------------------------------------------------------


@SETTINGS
@given(data=st.data())
def test_gaussian_nll_grad_fd(data):
    n, d = data.draw(dims), data.draw(dims)
    x = data.draw(fmat((n, d), -10, 10))
    mu = data.draw(fmat((n, d), -5, 5))
    lv = data.draw(fmat((n, d), -4, 4))
    grad = np.full((n, 2 * d), np.nan)
    GAUSS.nll_grad(x, np.hstack([mu, lv]), SCALE, grad)

    xf = flat(x)

    def nll(m, v):
        out = row_out(xf.shape[0])
        GAUSS.log_prob(xf, np.hstack([m, v]), out)
        return -out

    params = [flat(mu), flat(lv)]
    assert_grad_close(grad[:, :d], SCALE * fd_grad_rows(nll, params, 0))
    assert_grad_close(grad[:, d:], SCALE * fd_grad_rows(nll, params, 1))


@SETTINGS
@given(data=st.data())
def test_bernoulli_logit_nll_grad_fd(data):
    n, d = data.draw(dims), data.draw(dims)
    x = data.draw(bmat((n, d)))
    pre = data.draw(fmat((n, d), -30, 30))
    grad = np.full((n, d), np.nan)
    LOGIT.nll_grad(x, pre, SCALE, grad)

    xf = flat(x)

    def nll(z):
        out = row_out(xf.shape[0])
        LOGIT.log_prob(xf, z, out)
        return -out

    assert_grad_close(grad, SCALE * fd_grad_rows(nll, [flat(pre)], 0))


@SETTINGS
@given(data=st.data())
def test_bernoulli_nll_grad_fd(data):
    n, d = data.draw(dims), data.draw(dims)
    x = data.draw(bmat((n, d)))
    p = data.draw(fmat((n, d), 0.01, 0.99))  # keep p +- h away from the clamps
    grad = np.full((n, d), np.nan)
    PROB.nll_grad(x, p, SCALE, grad)

    xf = flat(x)

    def nll(q):
        out = row_out(xf.shape[0])
        PROB.log_prob(xf, q, out)
        return -out

    assert_grad_close(grad, SCALE * fd_grad_rows(nll, [flat(p)], 0))


@SETTINGS
@given(data=st.data())
def test_exponential_nll_grad_fd(data):
    n, d = data.draw(dims), data.draw(dims)
    x = data.draw(fmat((n, d), 0, 10))
    g = data.draw(fmat((n, d), -3, 3))
    grad = np.full((n, d), np.nan)
    EXPO.nll_grad(x, g, SCALE, grad)

    xf = flat(x)

    def nll(q):
        out = row_out(xf.shape[0])
        EXPO.log_prob(xf, q, out)
        return -out

    assert_grad_close(grad, SCALE * fd_grad_rows(nll, [flat(g)], 0))


@SETTINGS
@given(data=st.data())
def test_kl_normal_grad_fd(data):
    n, k = data.draw(dims), data.draw(dims)
    mean = data.draw(fmat((n, k), -5, 5))
    lv = data.draw(fmat((n, k), -4, 4))
    gm = np.full((n, k), np.nan)
    gl = np.full((n, k), np.nan)
    kv.kl_normal_grad(mean, lv, SCALE, gm, gl)

    def kl(m, v):
        out = row_out(m.shape[0])
        kv.kl_normal(m, v, out)
        return out

    params = [flat(mean), flat(lv)]
    assert_grad_close(gm, SCALE * fd_grad_rows(kl, params, 0))
    assert_grad_close(gl, SCALE * fd_grad_rows(kl, params, 1))


def test_full_row_gradient_directional_derivative():
    """Whole-array check: <grad, v> matches the FD of sum(nll) along v."""
    rng = np.random.default_rng(7)
    n, d = 5, 4
    x = rng.uniform(-2, 2, (n, d))
    a = np.hstack([rng.uniform(-1, 1, (n, d)), rng.uniform(-1, 1, (n, d))])
    v = rng.standard_normal(a.shape)
    grad = np.full_like(a, np.nan)
    GAUSS.nll_grad(x, a, 1.0, grad)

    def total(aa):
        out = row_out(n)
        GAUSS.log_prob(x, aa, out)
        return -out.sum()

    fd = fd_directional(total, a, v)
    assert abs(fd - np.sum(grad * v)) < 1e-6 * max(1.0, abs(fd))


# ---------------------------------------------------------------------------
# numerical stability
# ---------------------------------------------------------------------------

EXTREME = np.array([-1e4, -700.0, -88.0, 0.0, 88.0, 700.0, 1e4])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xv", [0.0, 1.0])
def test_bernoulli_logit_extreme_logits(dtype, xv):
    pre = EXTREME.astype(dtype).reshape(-1, 1)  # one problem per row
    x = np.full_like(pre, xv)
    m = pre.shape[0]

    out = np.full(m, np.nan, dtype=dtype)
    LOGIT.log_prob(x, pre, out)
    assert np.all(np.isfinite(out))
    # exact: x*z - softplus(z); for |z| >= 88 the log1p(exp(-|z|)) term is < 1e-38
    z = EXTREME
    expected = xv * z - np.maximum(z, 0.0) - np.log1p(np.exp(-np.abs(z)))
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)
    if xv == 1.0:
        assert out[0] == dtype(-1e4)  # x=1, pre=-1e4 -> -1e4
    else:
        assert out[-1] == dtype(-1e4)  # x=0, pre=+1e4 -> -1e4
    assert out[3] == pytest.approx(-np.log(2.0), rel=tol)

    grad = np.full_like(pre, np.nan)
    LOGIT.nll_grad(x, pre, SCALE, grad)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(
        grad[:, 0], (special.expit(z) - xv) * SCALE, rtol=tol, atol=tol
    )

    mean = np.full_like(pre, np.nan)
    LOGIT.mean(pre, mean)
    assert np.all(np.isfinite(mean))
    assert np.all((mean >= 0) & (mean <= 1))
    assert mean[0, 0] == 0.0 and mean[-1, 0] == 1.0 and mean[3, 0] == 0.5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bernoulli_prob_at_zero_and_one(dtype):
    # rows: (x, p) = (1, 0), (1, 1), (0, 0), (0, 1)
    x = np.array([[1.0], [1.0], [0.0], [0.0]], dtype=dtype)
    p = np.array([[0.0], [1.0], [0.0], [1.0]], dtype=dtype)
    out = np.full(4, np.nan, dtype=dtype)
    PROB.log_prob(x, p, out)
    assert np.all(np.isfinite(out))
    le = np.log(1e-12)
    np.testing.assert_allclose(out, [le, 0.0, 0.0, le], rtol=1e-6, atol=1e-12)

    grad = np.full_like(p, np.nan)
    PROB.nll_grad(x, p, SCALE, grad)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(
        grad[:, 0], np.array([-1e12, -1.0, 1.0, 1e12]) * SCALE, rtol=1e-6
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gaussian_extreme_logvar_finite(dtype):
    n, d = 2, 3
    x = np.array([[-10.0, 0.0, 10.0], [3.0, -3.0, 0.5]], dtype=dtype)
    mu = np.array([[5.0, 0.0, -5.0], [0.0, 1.0, 0.5]], dtype=dtype)
    lv = np.array([[30.0, -30.0, 30.0], [-30.0, 30.0, -30.0]], dtype=dtype)
    a = np.hstack([mu, lv])

    out = np.full(n, np.nan, dtype=dtype)
    GAUSS.log_prob(x, a, out)
    assert np.all(np.isfinite(out))
    expected = stats.norm.logpdf(
        x.astype(np.float64), mu.astype(np.float64), np.exp(0.5 * lv.astype(np.float64))
    ).sum(axis=1)
    np.testing.assert_allclose(out, expected, rtol=1e-6)

    grad = np.full((n, 2 * d), np.nan, dtype=dtype)
    GAUSS.nll_grad(x, a, SCALE, grad)
    assert np.all(np.isfinite(grad))

    eps = np.ones((n, d), dtype=dtype)
    samp = np.full((n, d), np.nan, dtype=dtype)
    GAUSS.sample(a, eps, samp)
    assert np.all(np.isfinite(samp))

    for fn, args in [
        (kv.kl_normal, (mu, lv)),
        (kv.normal_log_density, (x, mu, lv)),
    ]:
        o = np.full(n, np.nan, dtype=dtype)
        fn(*args, o)
        assert np.all(np.isfinite(o))
    gm = np.full((n, d), np.nan, dtype=dtype)
    gl = np.full((n, d), np.nan, dtype=dtype)
    kv.kl_normal_grad(mu, lv, SCALE, gm, gl)
    assert np.all(np.isfinite(gm)) and np.all(np.isfinite(gl))


# ---------------------------------------------------------------------------
# every kernel: float32, memory layouts, overwrite semantics
# ---------------------------------------------------------------------------


def make_cases(rng, n, d):
    """(name, inputs, scale or None, output shapes) for every kernel."""
    x = rng.uniform(-3, 3, (n, d))
    xb = (rng.random((n, d)) < 0.5).astype(np.float64)
    xe = rng.exponential(1.0, (n, d))
    xc = np.eye(d)[rng.integers(0, d, n)]
    mu, lv = rng.uniform(-2, 2, (n, d)), rng.uniform(-2, 2, (n, d))
    a = np.hstack([mu, lv])
    pre = rng.uniform(-6, 6, (n, d))
    p = rng.uniform(0.02, 0.98, (n, d))
    g = rng.uniform(-2, 2, (n, d))
    eps = rng.standard_normal((n, d))
    u = rng.random((n, d))
    lw = rng.uniform(-50, 5, (n, d))
    r, m, m2 = (n,), (n, d), (n, 2 * d)
    return [
        ("gaussian_log_prob", (x, a), None, (r,)),
        ("gaussian_nll_grad", (x, a), SCALE, (m2,)),
        ("gaussian_mean", (a,), None, (m,)),
        ("gaussian_sample", (a, eps), None, (m,)),
        ("bernoulli_logit_log_prob", (xb, pre), None, (r,)),
        ("bernoulli_logit_nll_grad", (xb, pre), SCALE, (m,)),
        ("bernoulli_logit_mean", (pre,), None, (m,)),
        ("bernoulli_log_prob", (xb, p), None, (r,)),
        ("bernoulli_nll_grad", (xb, p), SCALE, (m,)),
        ("bernoulli_sample", (p, u), None, (m,)),
        ("exponential_log_prob", (xe, g), None, (r,)),
        ("exponential_nll_grad", (xe, g), SCALE, (m,)),
        ("exponential_mean", (g,), None, (m,)),
        ("exponential_sample", (g, u), None, (m,)),
        ("categorical_log_prob", (xc, pre), None, (r,)),
        ("categorical_nll_grad", (xc, pre), SCALE, (m,)),
        ("categorical_log_prob_and_grad", (xc, pre), SCALE, (r, m)),
        ("categorical_mean", (pre,), None, (m,)),
        ("categorical_sample", (pre, u), None, (m,)),
        ("kl_normal", (mu, lv), None, (r,)),
        ("kl_normal_grad", (mu, lv), SCALE, (m, m)),
        ("normal_log_density", (x, mu, lv), None, (r,)),
        ("std_normal_log_density", (x,), None, (r,)),
        ("reparameterize", (mu, lv, eps), None, (m,)),
        ("logsumexp_rows", (lw,), None, (r,)),
    ]


def relayout(arr, layout):
    """Same values, different memory layout (always a fresh buffer or view)."""
    if layout == "C":
        return np.ascontiguousarray(arr).copy()
    if layout == "F":
        return np.asfortranarray(arr).copy()
    if layout == "slice":  # column slice of a wider array, e.g. pre[:, 3:3+d]
        if arr.ndim == 1:
            big = np.full(arr.shape[0] + 5, -7.0, dtype=arr.dtype)
            big[2 : 2 + arr.shape[0]] = arr
            return big[2 : 2 + arr.shape[0]]
        big = np.full((arr.shape[0], arr.shape[1] + 7), -7.0, dtype=arr.dtype)
        big[:, 3 : 3 + arr.shape[1]] = arr
        return big[:, 3 : 3 + arr.shape[1]]
    if layout == "step":  # strided in both axes
        if arr.ndim == 1:
            big = np.full(2 * arr.shape[0], -7.0, dtype=arr.dtype)
            big[::2] = arr
            return big[::2]
        big = np.full((2 * arr.shape[0], 3 * arr.shape[1]), -7.0, dtype=arr.dtype)
        big[::2, ::3] = arr
        return big[::2, ::3]
    raise ValueError(layout)


#: case name -> kernel (the historic flat names of the distribution kernels)
KERNELS_BY_NAME = {
    "gaussian_log_prob": GAUSS.log_prob, "gaussian_nll_grad": GAUSS.nll_grad,
    "gaussian_log_prob_and_grad": GAUSS.log_prob_and_grad, "gaussian_mean": GAUSS.mean,
    "gaussian_sample": GAUSS.sample, "bernoulli_logit_log_prob": LOGIT.log_prob,
    "bernoulli_logit_nll_grad": LOGIT.nll_grad, "bernoulli_logit_log_prob_and_grad": LOGIT.log_prob_and_grad,
    "bernoulli_logit_mean": LOGIT.mean, "bernoulli_log_prob": PROB.log_prob, "bernoulli_nll_grad": PROB.nll_grad,
    "bernoulli_sample": PROB.sample, "exponential_log_prob": EXPO.log_prob, "exponential_nll_grad": EXPO.nll_grad,
    "exponential_mean": EXPO.mean, "exponential_sample": EXPO.sample, "categorical_log_prob": CAT.log_prob,
    "categorical_nll_grad": CAT.nll_grad, "categorical_log_prob_and_grad": CAT.log_prob_and_grad,
    "categorical_mean": CAT.mean, "categorical_sample": CAT.sample, "kl_normal": kv.kl_normal,
    "kl_normal_grad": kv.kl_normal_grad, "normal_log_density": kv.normal_log_density,
    "std_normal_log_density": kv.std_normal_log_density, "reparameterize": kv.reparameterize,
    "logsumexp_rows": kv.logsumexp_rows,
}


def run_case(name, ins, scale, out_shapes, dtype, layout):
    ins = [relayout(q.astype(dtype), layout) for q in ins]
    outs = [relayout(np.full(s, np.nan, dtype=dtype), layout) for s in out_shapes]
    args = list(ins) + ([scale] if scale is not None else []) + outs
    KERNELS_BY_NAME[name](*args)
    return [np.array(o) for o in outs]


CASE_NAMES = [c[0] for c in make_cases(np.random.default_rng(0), 2, 2)]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_layouts_and_float32(name):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    n, d = 4, 5
    case = next(c for c in make_cases(rng, n, d) if c[0] == name)
    _, ins, scale, shapes = case

    ref = run_case(name, ins, scale, shapes, np.float64, "C")
    for o in ref:
        assert np.all(np.isfinite(o)), "output not fully (over)written"

    # non-contiguous inputs AND outputs give bit-identical results
    for layout in ("F", "slice", "step"):
        got = run_case(name, ins, scale, shapes, np.float64, layout)
        for g_, r_ in zip(got, ref):
            np.testing.assert_array_equal(g_, r_, err_msg=layout)

    # float32: compare against float64 on the same (float32-rounded) values
    ins32 = [q.astype(np.float32) for q in ins]
    ref32 = run_case(name, [q.astype(np.float64) for q in ins32], scale, shapes, np.float64, "C")
    for layout in ("C", "slice"):
        got = run_case(name, ins32, scale, shapes, np.float32, layout)
        for g_, r_ in zip(got, ref32):
            assert g_.dtype == np.float32
            np.testing.assert_allclose(g_, r_, rtol=1e-5, atol=1e-7, err_msg=layout)
    # ... and against float64 on the original values, to loose accuracy
    got = run_case(name, ins32, scale, shapes, np.float32, "C")
    if name not in ("bernoulli_sample", "categorical_sample"):  # a draw may flip on rounding; exact check above
        for g_, r_ in zip(got, ref):
            np.testing.assert_allclose(g_, r_, rtol=1e-4, atol=1e-4)


def test_grad_overwrites_not_accumulates():
    rng = np.random.default_rng(3)
    x = (rng.random((3, 4)) < 0.5).astype(np.float64)
    pre = rng.standard_normal((3, 4))
    g1 = np.zeros((3, 4))
    g2 = np.full((3, 4), 123.0)
    LOGIT.nll_grad(x, pre, SCALE, g1)
    LOGIT.nll_grad(x, pre, SCALE, g2)
    LOGIT.nll_grad(x, pre, SCALE, g2)
    np.testing.assert_array_equal(g1, g2)


# ---------------------------------------------------------------------------
# samplers and logsumexp
# ---------------------------------------------------------------------------

N_DRAWS = 200_000


def test_gaussian_sample_and_reparameterize():
    rng = np.random.default_rng(11)
    mu = np.array([-1.0, 0.0, 2.5])
    lv = np.array([-2.0, 0.0, 1.5])
    sigma = np.exp(0.5 * lv)
    a = np.tile(np.concatenate([mu, lv]), (N_DRAWS, 1))
    eps = rng.standard_normal((N_DRAWS, 3))
    out = np.full((N_DRAWS, 3), np.nan)
    GAUSS.sample(a, eps, out)
    np.testing.assert_allclose(out, mu + sigma * eps, rtol=1e-14, atol=1e-14)
    assert np.all(np.abs(out.mean(axis=0) - mu) < 5 * sigma / np.sqrt(N_DRAWS))
    np.testing.assert_allclose(out.std(axis=0), sigma, rtol=0.01)

    out2 = np.full((N_DRAWS, 3), np.nan)
    kv.reparameterize(a[:, :3], a[:, 3:], eps, out2)  # column-slice views
    np.testing.assert_array_equal(out2, out)


def test_bernoulli_sample_frequency():
    rng = np.random.default_rng(12)
    pv = np.array([0.0, 0.1, 0.5, 0.9, 1.0])
    p = np.tile(pv, (N_DRAWS, 1))
    u = rng.random(p.shape)
    out = np.full(p.shape, np.nan)
    PROB.sample(p, u, out)
    np.testing.assert_array_equal(out, (u < p).astype(np.float64))
    assert set(np.unique(out)) <= {0.0, 1.0}
    freq = out.mean(axis=0)
    assert freq[0] == 0.0 and freq[-1] == 1.0
    assert np.all(np.abs(freq - pv) <= 5 * np.sqrt(pv * (1 - pv) / N_DRAWS))


def test_exponential_sample_mean():
    rng = np.random.default_rng(13)
    gv = np.array([-1.0, 0.0, 2.0])
    g = np.tile(gv, (N_DRAWS, 1))
    u = rng.random(g.shape)
    out = np.full(g.shape, np.nan)
    EXPO.sample(g, u, out)
    assert np.all(out >= 0)
    scale = np.exp(-gv)
    assert np.all(np.abs(out.mean(axis=0) - scale) < 5 * scale / np.sqrt(N_DRAWS))
    for j in range(3):
        assert stats.kstest(out[:, j], "expon", args=(0, scale[j])).pvalue > 1e-3

    # edge uniforms: u = 0 -> 0, u just below 1 -> large but finite
    edge_u = np.array([[0.0, np.nextafter(1.0, 0.0)]])
    edge = np.full((1, 2), np.nan)
    EXPO.sample(np.zeros((1, 2)), edge_u, edge)
    assert edge[0, 0] == 0.0
    assert np.isfinite(edge[0, 1]) and edge[0, 1] == pytest.approx(53 * np.log(2))


@SETTINGS
@given(data=st.data())
def test_logsumexp_rows_vs_scipy(data):
    n, k = data.draw(dims), data.draw(dims)
    elem = st.one_of(
        st.floats(-1000, 1000, allow_nan=False, allow_infinity=False),
        st.just(-np.inf),
    )
    a = data.draw(arrays(np.float64, (n, k), elements=elem))
    a[0, :] = -np.inf  # always include a row of -inf
    out = row_out(n)
    kv.logsumexp_rows(a, out)
    with np.errstate(divide="ignore"):
        expected = special.logsumexp(a, axis=1)
    assert out[0] == -np.inf
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_logsumexp_rows_special_rows():
    a = np.array(
        [
            [1000.0, 1000.0, -np.inf],
            [-1000.0, -1000.0, -1000.0],
            [-np.inf, -np.inf, -np.inf],
            [np.inf, 0.0, 1.0],
            [0.0, np.nan, 1.0],
        ]
    )
    out = row_out(5)
    kv.logsumexp_rows(a, out)
    assert out[0] == pytest.approx(1000.0 + np.log(2.0), rel=1e-15)
    assert out[1] == pytest.approx(-1000.0 + np.log(3.0), rel=1e-15)
    assert out[2] == -np.inf
    assert out[3] == np.inf
    assert np.isnan(out[4])

    # float32 and a strided view
    a32 = np.array([[88.0, 0.0, 88.0, 0.0]], dtype=np.float32)
    o32 = np.full(1, np.nan, dtype=np.float32)
    kv.logsumexp_rows(a32[:, ::2], o32)
    assert o32[0] == pytest.approx(88.0 + np.log(2.0), rel=1e-6)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 6), d=st.integers(1, 6), seed=st.integers(0, 2**31 - 1),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_bernoulli_fused_log_prob_and_grad_matches_separate_kernels(n, d, seed, dtype):
    rng = np.random.default_rng(seed)
    x = (rng.random((n, d)) < 0.5).astype(dtype)
    pre = (rng.normal(size=(n, d)) * rng.choice([1.0, 30.0, 1e4], size=(n, d))).astype(dtype)
    lp, lp2 = np.empty(n, dtype), np.empty(n, dtype)
    g, g2 = np.empty((n, d), dtype), np.empty((n, d), dtype)
    LOGIT.log_prob(x, pre, lp)
    LOGIT.nll_grad(x, pre, 0.37, g)
    LOGIT.log_prob_and_grad(x, pre, 0.37, lp2, g2)
    assert np.all(np.isfinite(lp2)) and np.all(np.isfinite(g2))
    np.testing.assert_array_equal(lp2, lp)
    np.testing.assert_allclose(g2, g, rtol=1e-6 if dtype == np.float32 else 1e-14, atol=0)
