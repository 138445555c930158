"""Tests for the core kernels: activations, losses, dense layers, corruption,
updaters (kernels and ``numba_ae.updaters`` classes), regularisation.

Every kernel is checked against an independent NumPy / pure-Python reference,
and every derivative kernel against central finite differences in float64.
"""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import special

from numba_ae import updaters as upd
from harness import central_difference
from reference import assert_grad_close, SELU_ALPHA, SELU_SCALE, ref_act, ref_loss
from numba_ae.kernels import activations as ka
from numba_ae.kernels import corruption as kc
from numba_ae.kernels import dense as kd
from numba_ae.kernels import losses as kl
from numba_ae.kernels import updaters as ku

SETTINGS = settings(max_examples=20, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# Independently written constants (not imported from the module under test).

# Where each activation's derivative jumps; FD points stay 1e-4 away.
KINKS = {
    "relu": (0.0,), "leakyrelu": (0.0,), "elu": (0.0,), "selu": (0.0,),
    "hardsigmoid": (-2.5, 2.5), "hardtanh": (-1.0, 1.0),
}


# ============================================================================ helpers

def ref_dact(name, z):
    """NumPy reference of the elementwise derivative ``f'(z)`` (not softmax)."""
    if name == "identity":
        return np.ones_like(z)
    if name == "relu":
        return (z > 0).astype(np.float64)
    if name == "leakyrelu":
        return np.where(z > 0, 1.0, 0.01)
    if name == "tanh":
        return 1.0 - np.tanh(z) ** 2
    if name == "sigmoid":
        s = special.expit(z)
        return s * (1 - s)
    if name == "elu":
        return np.where(z > 0, 1.0, np.exp(np.minimum(z, 0.0)))
    if name == "softplus":
        return special.expit(z)
    if name == "selu":
        return SELU_SCALE * np.where(z > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(z, 0.0)))
    if name == "hardsigmoid":
        return np.where(np.abs(z) < 2.5, 0.2, 0.0)
    if name == "hardtanh":
        return np.where(np.abs(z) < 1.0, 1.0, 0.0)
    if name == "gelu":
        c = np.sqrt(2.0 / np.pi)
        t = np.tanh(c * (z + 0.044715 * z ** 3))
        return 0.5 * (1 + t) + 0.5 * z * (1 - t ** 2) * c * (1 + 3 * 0.044715 * z ** 2)
    if name == "gelu_exact":
        return special.ndtr(z) + z * np.exp(-0.5 * z ** 2) / np.sqrt(2 * np.pi)
    if name == "silu":
        s = special.expit(z)
        return s + z * s * (1 - s)
    if name == "mish":
        t = np.tanh(np.logaddexp(0.0, z))
        return t + z * (1 - t ** 2) * special.expit(z)
    raise KeyError(name)


def ref_backward(name, z, delta):
    """Reference gradient w.r.t. z given ``delta`` = gradient w.r.t. f(z)."""
    if name == "softmax":
        a = special.softmax(z, axis=1)
        return a * (delta - np.sum(delta * a, axis=1, keepdims=True))
    return delta * ref_dact(name, z)


def kernel_act(name, z):
    """Activation through the kernel, into a new array."""
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    ka.get(name).map(z, out)
    return out


def away_from(kinks):
    """Float strategy on [-4, 4] staying 1e-4 away from the given points."""
    return st.floats(-4.0, 4.0, allow_nan=False, allow_infinity=False).filter(
        lambda v: all(abs(v - k) > 1e-4 for k in kinks))


ACT_NAMES = list(ka.NAMES)


# ============================================================================ activations

def test_activation_registry():
    assert ka.NAMES == ("identity", "relu", "leakyrelu", "tanh", "sigmoid", "softmax",
                        "elu", "softplus", "selu", "hardsigmoid", "hardtanh",
                        "gelu", "gelu_exact", "silu", "mish")
    for name in ka.NAMES:
        act = ka.get(name)
        assert act.name == name and act.builtin and ka.REGISTRY[name] is act
    assert [n for n in ka.NAMES if ka.get(n).needs_pre] == ["gelu", "gelu_exact", "silu", "mish"]
    assert ka.get("softmax").is_softmax and ka.get("sigmoid").is_sigmoid and ka.get("identity").is_identity
    with pytest.raises(ValueError, match="unknown activation 'nope'"):
        ka.get("nope")


def test_per_activation_kernels_are_memoised_and_named():
    k1 = kd.dense_forward["relu"]
    assert kd.dense_forward[ka.get("relu")] is k1
    assert k1.py_func.__qualname__.startswith("dense_forward__relu_")
    assert kd.dense_forward["tanh"] is not k1


@pytest.mark.parametrize("name", ACT_NAMES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@SETTINGS
@given(data=st.data())
def test_activation_forward_matches_numpy(name, dtype, data):
    n = data.draw(st.integers(1, 5), label="n")
    k = data.draw(st.integers(1, 6), label="k")
    z = data.draw(arrays(np.float64, (n, k), elements=st.floats(-30, 30, allow_nan=False)), label="z")
    b = data.draw(arrays(np.float64, (k,), elements=st.floats(-3, 3, allow_nan=False)), label="b")
    zt, bt = z.astype(dtype), b.astype(dtype)
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else dict(rtol=2e-6, atol=1e-6)

    act = ka.get(name)
    expected = ref_act(name, zt.astype(np.float64))
    out = zt.copy()
    act.map(out, out)                     # in place
    assert out.dtype == dtype
    np.testing.assert_allclose(out, expected, **tol)
    out2 = np.full_like(zt, np.nan)
    act.map(zt, out2)                     # into another array, source untouched
    np.testing.assert_array_equal(out2, out)

    # fused bias + activation, in place
    expected_b = ref_act(name, zt.astype(np.float64) + bt.astype(np.float64))
    zb = zt.copy()
    act.bias_map(zb, bt, zb)
    np.testing.assert_allclose(zb, expected_b, **tol)

    # keep-z variant: z gets the bias, a the activation; consistent with the in-place one
    zk = zt.copy()
    a = np.full_like(zk, np.nan)
    act.bias_keep_z(zk, bt, a)
    np.testing.assert_array_equal(zk, zt + bt)
    np.testing.assert_allclose(a, expected_b, **tol)
    np.testing.assert_allclose(a, zb, rtol=1e-6 if dtype == np.float32 else 1e-15, atol=1e-7 if dtype == np.float32 else 0)


def test_activation_forward_spot_values():
    z = np.array([[-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0]])
    exp = {
        "relu": [0, 0, 0, 0, 0.5, 1, 3],
        "leakyrelu": [-0.03, -0.01, -0.005, 0, 0.5, 1, 3],
        "hardsigmoid": [0, 0.3, 0.4, 0.5, 0.6, 0.7, 1],
        "hardtanh": [-1, -1, -0.5, 0, 0.5, 1, 1],
        "elu": [math.expm1(-3), math.expm1(-1), math.expm1(-0.5), 0, 0.5, 1, 3],
        "selu": [SELU_SCALE * SELU_ALPHA * math.expm1(-3), SELU_SCALE * SELU_ALPHA * math.expm1(-1),
                 SELU_SCALE * SELU_ALPHA * math.expm1(-0.5), 0, SELU_SCALE * 0.5, SELU_SCALE, 3 * SELU_SCALE],
        "softplus": [math.log1p(math.exp(v)) for v in z[0]],
    }
    for name, e in exp.items():
        np.testing.assert_allclose(kernel_act(name, z)[0], e, rtol=1e-14, atol=1e-15)
    sm = kernel_act("softmax", np.array([[0.0, math.log(3.0)], [1000.0, 1000.0]]))
    np.testing.assert_allclose(sm, [[0.25, 0.75], [0.5, 0.5]], rtol=1e-14)


@pytest.mark.parametrize("name", ACT_NAMES)
@SETTINGS
@given(data=st.data())
def test_activation_backward_finite_difference(name, data):
    n = data.draw(st.integers(1, 4), label="n")
    k = data.draw(st.integers(1, 5), label="k")
    z = data.draw(arrays(np.float64, (n, k), elements=away_from(KINKS.get(name, ()))), label="z")
    c = data.draw(arrays(np.float64, (n, k), elements=st.floats(-2, 2, allow_nan=False)), label="c")

    a = kernel_act(name, z)
    delta = c.copy()
    ka.get(name).backward(z, a, delta)

    # d/dz of sum(c * f(z)): perturbing z[i, j] changes only row i (softmax) or only (i, j)
    num = np.zeros_like(z)
    for i in range(n):
        for j in range(k):
            num[i, j] = np.sum(c[i] * central_difference(lambda zz: kernel_act(name, zz)[i], z, (i, j)))
    assert_grad_close(delta, num, name)
    np.testing.assert_allclose(delta, ref_backward(name, z, c), rtol=1e-10, atol=1e-12)


# ============================================================================ losses

# (loss, activation) pairs: every loss with several activations, including the fused
# stable pairs, xent on a non-sigmoid output and mcxent/nll on non-softmax outputs.
LOSS_ACT = [
    ("mse", "identity"), ("mse", "tanh"), ("mse", "sigmoid"), ("mse", "softmax"), ("mse", "elu"),
    ("mse", "selu"), ("mse", "softplus"), ("mse", "leakyrelu"),
    ("l2", "identity"), ("l2", "tanh"), ("l2", "softmax"), ("l2", "softplus"), ("l2", "hardtanh"),
    ("l1", "identity"), ("l1", "tanh"), ("l1", "sigmoid"), ("l1", "softmax"), ("l1", "selu"),
    ("xent", "sigmoid"), ("xent", "softmax"), ("xent", "hardsigmoid"),
    ("mcxent", "softmax"), ("mcxent", "sigmoid"), ("mcxent", "softplus"),
    ("negativeloglikelihood", "softmax"), ("negativeloglikelihood", "sigmoid"),
]


def loss_targets(loss, rng, n, k, kind):
    if loss == "xent":
        return rng.uniform(0.0, 1.0, (n, k)) if kind == "soft" else rng.integers(0, 2, (n, k)).astype(float)
    if loss in ("mcxent", "negativeloglikelihood"):
        if kind == "soft":
            y = rng.uniform(0.05, 1.0, (n, k))
            return y / y.sum(axis=1, keepdims=True)
        return np.eye(k)[rng.integers(0, k, n)]
    return rng.normal(0.0, 1.0, (n, k))


def loss_inputs(loss, act, rng, n, k):
    z = rng.uniform(-3.0, 3.0, (n, k))
    kinks = KINKS.get(act, ())
    for kink in kinks:  # keep away from activation kinks
        near = np.abs(z - kink) < 1e-3
        z[near] += 2e-3
    return z


@pytest.mark.parametrize("loss,act", LOSS_ACT, ids=[f"{l}-{a}" for l, a in LOSS_ACT])
@SETTINGS
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(1, 4), k=st.integers(1, 5),
       kind=st.sampled_from(["soft", "hard"]), scale=st.sampled_from([1.0, 0.37, 0.25]))
def test_loss_score_and_grad(loss, act, seed, n, k, kind, scale):
    rng = np.random.default_rng(seed)
    lc = kl.NAMES.index(loss)
    z = loss_inputs(loss, act, rng, n, k)
    y = loss_targets(loss, rng, n, k, kind)
    a = kernel_act(act, z)
    if loss == "l1":
        # keep |a - y| away from the kink of |.|
        y = np.where(np.abs(a - y) < 1e-3, y + 1e-2, y)
    if loss == "xent" and act != "sigmoid":
        assume(np.all((a > 1e-6) & (a < 1 - 1e-6)))

    out = np.full(n, np.nan)
    kl.loss_score[act](y, a, z, lc, out)
    np.testing.assert_allclose(out, ref_loss(loss, y, ref_act(act, z)), rtol=1e-10, atol=1e-12)

    delta = np.full_like(z, np.nan)
    kl.loss_grad[act](y, a, z, lc, scale, delta)

    # the fused one-pass kernel gives the same score and gradient
    out2, delta2 = np.full(n, np.nan), np.full_like(z, np.nan)
    kl.loss_score_and_grad[act](y, a, z, lc, scale, out2, delta2)
    np.testing.assert_array_equal(out2, out)
    np.testing.assert_array_equal(delta2, delta)

    def row_score(zz, i):
        aa = kernel_act(act, zz)
        s = np.empty(n)
        kl.loss_score[act](y, aa, zz, lc, s)
        return s[i]

    num = np.zeros_like(z)
    for i in range(n):
        for j in range(k):
            num[i, j] = scale * central_difference(lambda zz: row_score(zz, i), z, (i, j))
    assert_grad_close(delta, num, f"{loss}/{act}")


def test_loss_names_and_codes():
    assert kl.NAMES == ("mse", "l1", "l2", "xent", "mcxent", "negativeloglikelihood")
    assert (kl.MSE, kl.L1, kl.L2, kl.XENT, kl.MCXENT, kl.NEGATIVELOGLIKELIHOOD) == (0, 1, 2, 3, 4, 5)


def test_loss_score_spot_values():
    y = np.array([[1.0, 0.0, 0.0]])
    a = np.array([[0.5, 0.25, 0.25]])
    z = np.log(a)  # softmax(z) == a
    out = np.empty(1)
    expect = {"mse": (0.25 + 0.0625 * 2) / 3, "l2": 0.25 + 0.0625 * 2, "l1": 1.0,
              "mcxent": math.log(2.0), "negativeloglikelihood": math.log(2.0),
              "xent": -(math.log(0.5) + 2 * math.log(0.75))}
    for loss, e in expect.items():
        act = "softmax" if loss in ("mcxent", "negativeloglikelihood") else "identity"
        kl.loss_score[act](y, a, z, kl.NAMES.index(loss), out)
        assert out[0] == pytest.approx(e, rel=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_losses_stable_at_large_logits(dtype):
    big = 1e4
    # xent + sigmoid: confident and wrong, confident and right
    z = np.array([[big, -big, big, -big, 0.0]], dtype=dtype)
    y = np.array([[0.0, 1.0, 1.0, 0.0, 1.0]], dtype=dtype)
    a = np.empty_like(z)
    zz = z.copy()
    ka.get("sigmoid").bias_keep_z(zz, np.zeros(5, dtype=dtype), a)
    out = np.empty(1, dtype=dtype)
    kl.loss_score["sigmoid"](y, a, zz, kl.XENT, out)
    assert np.isfinite(out).all()
    assert float(out[0]) == pytest.approx(2 * big + math.log(2.0), rel=1e-6)
    d = np.empty_like(z)
    kl.loss_grad["sigmoid"](y, a, zz, kl.XENT, 0.5, d)
    assert np.isfinite(d).all()
    np.testing.assert_allclose(d, 0.5 * np.array([[1.0, -1.0, 0.0, 0.0, -0.5]]), atol=1e-7)

    # mcxent / nll + softmax
    for loss in (kl.MCXENT, kl.NEGATIVELOGLIKELIHOOD):
        z = np.array([[big, -big, 0.0], [-big, -big, big]], dtype=dtype)
        y = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=dtype)
        a = np.empty_like(z)
        zz = z.copy()
        ka.get("softmax").bias_keep_z(zz, np.zeros(3, dtype=dtype), a)
        out = np.empty(2, dtype=dtype)
        kl.loss_score["softmax"](y, a, zz, loss, out)
        assert np.isfinite(out).all()
        assert float(out[0]) == pytest.approx(2 * big, rel=1e-6)
        assert float(out[1]) == pytest.approx(0.0, abs=1e-6)
        d = np.empty_like(z)
        kl.loss_grad["softmax"](y, a, zz, loss, 1.0, d)
        assert np.isfinite(d).all()
        np.testing.assert_allclose(d, [[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]], atol=1e-7)


# ============================================================================ dense kernels

@pytest.mark.parametrize("name", ACT_NAMES)
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(1, 5), n_in=st.integers(1, 6),
       n_out=st.integers(1, 6))
def test_dense_kernels_match_numpy(name, seed, n, n_in, n_out):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_in))
    W = rng.normal(size=(n_in, n_out))
    b = rng.normal(size=n_out)
    zref = x @ W + b
    aref = ref_act(name, zref)

    needs_pre = ka.get(name).needs_pre
    out = np.full((n, n_out), np.nan)
    zo = np.full((n, n_out), np.nan) if needs_pre else out
    kd.dense_forward[name](x, W, b, zo, out)
    np.testing.assert_allclose(out, aref, rtol=1e-12, atol=1e-13)
    if needs_pre:  # the pre-activation is kept for the derivative
        np.testing.assert_allclose(zo, zref, rtol=1e-12, atol=1e-13)

    z, a = np.full((n, n_out), np.nan), np.full((n, n_out), np.nan)
    kd.dense_forward_keep_z[name](x, W, b, z, a)
    np.testing.assert_allclose(z, zref, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(a, aref, rtol=1e-12, atol=1e-13)

    # tied decode: z = h @ W.T + vb
    h = rng.normal(size=(n, n_out))
    vb = rng.normal(size=n_in)
    zt, at = np.full((n, n_in), np.nan), np.full((n, n_in), np.nan)
    kd.dense_transposed_forward_keep_z[name](h, W, vb, zt, at)
    np.testing.assert_allclose(zt, h @ W.T + vb, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(at, ref_act(name, h @ W.T + vb), rtol=1e-12, atol=1e-13)

    # dense_backward: delta (w.r.t. a) -> w.r.t. z, dW, db, dx
    g = rng.normal(size=(n, n_out))
    dz = ref_backward(name, zref, g)
    for need_dx in (True, False):
        delta = g.copy()
        dW, db = np.full((n_in, n_out), np.nan), np.full(n_out, np.nan)
        dx = np.full((n, n_in), np.nan) if need_dx else np.empty((0, 0))
        kd.dense_backward[name](x, W, z if needs_pre else a, a, delta, dW, db, need_dx, dx)
        np.testing.assert_allclose(delta, dz, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dW, x.T @ dz, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(db, dz.sum(axis=0), rtol=1e-10, atol=1e-12)
        if need_dx:
            np.testing.assert_allclose(dx, dz @ W.T, rtol=1e-10, atol=1e-12)

    # affine_backward: delta already w.r.t. the affine output, left untouched
    for need_dx in (True, False):
        delta = g.copy()
        dW, db = np.full((n_in, n_out), np.nan), np.full(n_out, np.nan)
        dx = np.full((n, n_in), np.nan) if need_dx else np.empty((0, 0))
        kd.affine_backward(x, W, delta, dW, db, need_dx, dx)
        np.testing.assert_array_equal(delta, g)
        np.testing.assert_allclose(dW, x.T @ g, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(db, g.sum(axis=0), rtol=1e-12, atol=1e-13)
        if need_dx:
            np.testing.assert_allclose(dx, g @ W.T, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", ["identity", "tanh", "sigmoid", "softplus", "elu", "selu", "relu",
                                  "leakyrelu", "hardtanh", "softmax", "gelu", "silu"])
@pytest.mark.parametrize("sparsity_coef", [0.0, 0.3])
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(1, 5), n_in=st.integers(1, 6),
       n_out=st.integers(1, 6))
def test_tied_autoencoder_backward_matches_numpy(name, sparsity_coef, seed, n, n_in, n_out):
    rng = np.random.default_rng(seed)
    xt = rng.normal(size=(n, n_in))
    W = rng.normal(size=(n_in, n_out))
    b = rng.normal(size=n_out)
    zh = xt @ W + b
    h = ref_act(name, zh)
    dr = rng.normal(size=(n, n_in))

    stack_in = np.vstack([xt, dr])
    stack_h = np.vstack([np.full((n, n_out), np.nan), h])
    dW, db, dvb = np.full((n_in, n_out), np.nan), np.full(n_out, np.nan), np.full(n_in, np.nan)
    zh_buf = zh.copy() if ka.get(name).needs_pre else stack_h[n:]
    kd.tied_autoencoder_backward[name](stack_in, stack_h, zh_buf, W, sparsity_coef, dW, db, dvb)

    g_h = dr @ W + sparsity_coef * np.sign(h)
    dh = ref_backward(name, zh, g_h)
    np.testing.assert_allclose(stack_h[:n], dh, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(stack_h[n:], h)
    np.testing.assert_allclose(dW, xt.T @ dh + dr.T @ h, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(db, dh.sum(axis=0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dvb, dr.sum(axis=0), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m", [1, 16, kd.SMALL_M, kd.SMALL_M + 1, 40])
@pytest.mark.parametrize("k,n", [(kd.SMALL_M_MIN_DIM, 200), (300, kd.SMALL_M_MIN_DIM), (300, 40), (20, 300)])
def test_matmul_both_orientations_match_numpy(dtype, m, k, n):
    """``matmul`` takes the transposed product for small batches with large k, n (and the
    plain one otherwise); either way it is ``a @ b``, for plain, transposed and row-slice views."""
    rng = np.random.default_rng(m * 1000 + k + n)
    a_full = rng.normal(size=(m + 3, k)).astype(dtype)
    a = a_full[2:2 + m]                                  # a row-slice view
    W = rng.normal(size=(k, n)).astype(dtype)
    WT = np.ascontiguousarray(W.T)
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    ref = a.astype(np.float64) @ W.astype(np.float64)
    for b in (W, WT.T):                                  # C weight, and a transposed (F) view
        out = np.full((m, n), np.nan, dtype=dtype)
        kd.matmul(a, b, out)
        np.testing.assert_allclose(out, ref, **tol)
    # the dense kernels that use it: forward, tied decode and the dx of the backward pass
    bias = rng.normal(size=n).astype(dtype)
    out = np.full((m, n), np.nan, dtype=dtype)
    kd.dense_forward["relu"](a, W, bias, out, out)
    np.testing.assert_allclose(out, np.maximum(ref + bias, 0.0), **tol)
    z, r = np.full((m, k), np.nan, dtype=dtype), np.full((m, k), np.nan, dtype=dtype)
    h = rng.normal(size=(m, n)).astype(dtype)
    vb = rng.normal(size=k).astype(dtype)
    kd.dense_transposed_forward_keep_z["identity"](h, W, vb, z, r)
    np.testing.assert_allclose(z, h.astype(np.float64) @ W.T.astype(np.float64) + vb, **tol)
    dx = np.full((m, k), np.nan, dtype=dtype)
    dW, db = np.empty((k, n), dtype=dtype), np.empty(n, dtype=dtype)
    kd.affine_backward(a, W, h, dW, db, True, dx)
    np.testing.assert_allclose(dx, h.astype(np.float64) @ W.T.astype(np.float64), **tol)


def test_small_dense_helpers():
    h = np.array([[1.5, -2.0, 0.0], [0.0, 0.25, -0.5]])
    out = np.empty(2)
    kd.abs_row_sums(h, out)
    np.testing.assert_array_equal(out, [3.5, 0.75])
    delta = np.ones_like(h)
    kd.add_l1_activity_grad(h, 0.5, delta)
    np.testing.assert_array_equal(delta, [[1.5, 0.5, 1.0], [1.0, 1.5, 0.5]])
    db = np.full(3, np.nan)
    kd.column_sums(h, db)
    np.testing.assert_array_equal(db, [1.5, -1.75, -0.5])


# ============================================================================ corruption

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(1, 6), k=st.integers(1, 8),
       level=st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.999, 1.0]))
def test_corrupt_zeroes_exactly_where_u_below_level(dtype, seed, n, k, level):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 2.0, (n, k)).astype(dtype)  # no zeros, so every zero is the mask
    u = rng.random((n, k)).astype(dtype)
    u.flat[0] = dtype(level) if level < 1.0 else u.flat[0]  # u == level is kept
    out = np.full_like(x, np.nan)
    kc.corrupt(x, u, level, out)
    mask = u < level
    np.testing.assert_array_equal(out, np.where(mask, 0.0, x).astype(dtype))
    np.testing.assert_array_equal(out == 0, mask)
    if level == 0.0:
        np.testing.assert_array_equal(out, x)
    if level == 1.0:
        assert not out.any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(1, 6), k=st.integers(1, 8),
       level=st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.999, 1.0]))
def test_corrupt_bits_zeroes_exactly_where_bits_below_threshold(dtype, seed, n, k, level):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 2.0, (n, k)).astype(dtype)
    bits = rng.integers(0, 2 ** 32, n * k + 3, dtype=np.uint64).astype(np.uint32)  # longer is fine
    t = kc.bits_threshold(level)
    assert t == round(level * 2 ** 32)
    bits[0] = np.uint32(min(t, 2 ** 32 - 1))  # bits == threshold is kept (unless level == 1)
    out = np.full_like(x, np.nan)
    kc.corrupt_bits(x, bits, t, out)
    mask = (bits[:n * k].astype(np.int64) < t).reshape(n, k)
    np.testing.assert_array_equal(out, np.where(mask, 0.0, x).astype(dtype))
    if level == 0.0:
        np.testing.assert_array_equal(out, x)
    if level == 1.0:
        assert not out.any()


@pytest.mark.parametrize("level", [0.05, 0.3, 0.75])
def test_corrupt_bits_rate_matches_level(level):
    # the training path: raw PCG64 words -> each value zeroed with probability `level`
    rng = np.random.Generator(np.random.PCG64(7))
    n, k = 200, 500
    bits = rng.bit_generator.random_raw(n * k // 2).view(np.uint32)
    out = np.empty((n, k))
    kc.corrupt_bits(np.ones((n, k)), bits, kc.bits_threshold(level), out)
    rate = float(np.mean(out == 0.0))
    sd = (level * (1 - level) / (n * k)) ** 0.5
    assert abs(rate - level) < 5 * sd


# ============================================================================ updaters

def ref_updater(kind, p, grads, **hp):
    """Pure-Python ND4J update rules; returns the parameter vector after each step."""
    p = [float(v) for v in p]
    d = len(p)
    m, v, vel, cache, hist = [0.0] * d, [0.0] * d, [0.0] * d, [0.0] * d, [0.0] * d
    history = []
    for t, g in enumerate(grads, start=1):
        for i in range(d):
            gi = float(g[i])
            if kind == "sgd":
                p[i] = p[i] - hp["lr"] * gi
            elif kind == "adam":
                b1, b2 = hp["beta1"], hp["beta2"]
                m[i] = b1 * m[i] + (1 - b1) * gi
                v[i] = b2 * v[i] + (1 - b2) * gi * gi
                a_t = hp["lr"] * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
                p[i] = p[i] - a_t * m[i] / (math.sqrt(v[i]) + hp["eps"])
            elif kind == "nesterovs":
                mu = hp["momentum"]
                v_prev = vel[i]
                vel[i] = mu * v_prev - hp["lr"] * gi
                p[i] = p[i] - mu * v_prev + (1 + mu) * vel[i]
            elif kind == "rmsprop":
                cache[i] = hp["decay"] * cache[i] + (1 - hp["decay"]) * gi * gi
                p[i] = p[i] - hp["lr"] * gi / (math.sqrt(cache[i]) + hp["eps"])
            elif kind == "adagrad":
                hist[i] = hist[i] + gi * gi
                p[i] = p[i] - hp["lr"] * gi / (math.sqrt(hist[i]) + hp["eps"])
        history.append(list(p))
    return history


P0 = [0.5, -1.25, 2.0, 0.0, -0.75]
GRADS = [[0.1, -0.2, 0.3, 1.5, -0.05], [-0.4, 0.25, 0.3, -1.0, 0.0], [0.2, 0.2, -0.6, 0.5, 0.01]]

UPDATER_CASES = [
    ("sgd", upd.Sgd(learning_rate=0.05), dict(lr=0.05)),
    ("sgd-default", upd.Sgd(), dict(lr=1e-3)),
    ("adam", upd.Adam(learning_rate=0.01, beta1=0.8, beta2=0.95, epsilon=1e-6),
     dict(lr=0.01, beta1=0.8, beta2=0.95, eps=1e-6)),
    ("adam-default", upd.Adam(), dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8)),
    ("nesterovs", upd.Nesterovs(learning_rate=0.1, momentum=0.9), dict(lr=0.1, momentum=0.9)),
    ("nesterovs-2", upd.Nesterovs(learning_rate=0.03, momentum=0.5), dict(lr=0.03, momentum=0.5)),
    ("rmsprop", upd.RmsProp(learning_rate=0.1, rms_decay=0.95, epsilon=1e-8),
     dict(lr=0.1, decay=0.95, eps=1e-8)),
    ("rmsprop-2", upd.RmsProp(learning_rate=0.02, rms_decay=0.5, epsilon=1e-3),
     dict(lr=0.02, decay=0.5, eps=1e-3)),
    ("adagrad", upd.AdaGrad(learning_rate=0.1, epsilon=1e-6), dict(lr=0.1, eps=1e-6)),
    ("adagrad-2", upd.AdaGrad(learning_rate=0.5, epsilon=1e-2), dict(lr=0.5, eps=1e-2)),
]


def run_kernel(kind, p, grads, hp):
    out = []
    state = [np.zeros_like(p), np.zeros_like(p)]
    for t, g in enumerate(grads, start=1):
        g = np.array(g, dtype=p.dtype)
        if kind == "sgd":
            ku.sgd_step(p, g, hp["lr"])
        elif kind == "adam":
            ku.adam_step(p, g, state[0], state[1], hp["lr"], hp["beta1"], hp["beta2"], hp["eps"], t)
        elif kind == "nesterovs":
            ku.nesterovs_step(p, g, state[0], hp["lr"], hp["momentum"])
        elif kind == "rmsprop":
            ku.rmsprop_step(p, g, state[0], hp["lr"], hp["decay"], hp["eps"])
        elif kind == "adagrad":
            ku.adagrad_step(p, g, state[0], hp["lr"], hp["eps"])
        out.append(p.copy())
    return out


@pytest.mark.parametrize("case,updater,hp", UPDATER_CASES, ids=[c[0] for c in UPDATER_CASES])
def test_updater_kernels_and_classes_match_reference(case, updater, hp):
    kind = case.split("-")[0]
    ref = ref_updater(kind, P0, GRADS, **hp)
    # the three steps really move the parameters
    assert ref[0] != P0 and ref[1] != ref[0] and ref[2] != ref[1]

    # kernels directly
    got = run_kernel(kind, np.array(P0), GRADS, hp)
    for step, (g, r) in enumerate(zip(got, ref), start=1):
        np.testing.assert_allclose(g, r, rtol=1e-13, atol=1e-15, err_msg=f"{case} kernel step {step}")

    # the Updater class, float64 and float32
    for dtype, tol in ((np.float64, dict(rtol=1e-13, atol=1e-15)), (np.float32, dict(rtol=2e-5, atol=2e-6))):
        p = np.array(P0, dtype=dtype)
        state = updater.init_state(p.size, dtype)
        assert set(state) == set(updater.state_names)
        for name, arr in state.items():
            assert arr.shape == (p.size,) and arr.dtype == dtype and not arr.any()
        for t, (g, r) in enumerate(zip(GRADS, ref), start=1):
            updater.step(p, np.array(g, dtype=dtype), state, t)
            np.testing.assert_allclose(p, r, err_msg=f"{case} class {dtype.__name__} step {t}", **tol)


def test_updater_state_names_and_defaults():
    assert upd.Sgd().state_names == ()
    assert upd.Adam().state_names == ("m", "v")
    assert upd.Nesterovs().state_names == ("v",)
    assert upd.RmsProp().state_names == ("cache",)
    assert upd.AdaGrad().state_names == ("history",)
    assert upd.Adam() == upd.Adam(1e-3, 0.9, 0.999, 1e-8)
    assert upd.Nesterovs() == upd.Nesterovs(0.1, 0.9)
    assert upd.RmsProp() == upd.RmsProp(0.1, 0.95, 1e-8)
    assert upd.AdaGrad() == upd.AdaGrad(0.1, 1e-6)
    assert upd.get("adam") == upd.Adam()
    a = upd.Adam(0.5)
    assert upd.get(a) is a
    with pytest.raises(ValueError, match="updater"):
        upd.get("adamw")


def test_adam_first_step_is_sign_times_lr():
    # with bias correction, step 1 moves every non-zero-gradient entry by ~lr * sign(g)
    p = np.zeros(4)
    m, v = np.zeros(4), np.zeros(4)
    ku.adam_step(p, np.array([3.0, -0.01, 1e3, 0.0]), m, v, 0.1, 0.9, 0.999, 1e-8, 1)
    # |step| = lr / (1 + eps / (sqrt(1 - b2) |g|)): eps matters only for tiny gradients
    np.testing.assert_allclose(p, [-0.1, 0.1, -0.1, 0.0], rtol=5e-5)
    assert abs(p[1]) == pytest.approx(0.1 / (1 + 1e-8 / (math.sqrt(0.001) * 0.01)), rel=1e-12)


@settings(max_examples=25, deadline=None)
@given(p=arrays(np.float64, st.integers(1, 12), elements=st.floats(-5, 5, allow_nan=False)),
       g=st.floats(-3, 3, allow_nan=False), l1=st.sampled_from([0.0, 0.01, 0.5]),
       l2=st.sampled_from([0.0, 0.001, 0.7]))
def test_regularization_grad_and_score(p, g, l1, l2):
    grad = np.full_like(p, g)
    ku.add_regularization_grad(p, grad, l1, l2)
    np.testing.assert_allclose(grad, g + l2 * p + l1 * np.sign(p), rtol=1e-14, atol=1e-15)
    s = ku.regularization_score(p, l1, l2)
    assert isinstance(s, float)
    assert s == pytest.approx(0.5 * l2 * np.sum(p ** 2) + l1 * np.sum(np.abs(p)), rel=1e-12, abs=1e-15)
    # float32 parameters: the score is accumulated in float64
    p32 = p.astype(np.float32)
    s32 = ku.regularization_score(p32, l1, l2)
    p64 = p32.astype(np.float64)
    assert s32 == pytest.approx(0.5 * l2 * np.sum(p64 ** 2) + l1 * np.sum(np.abs(p64)), rel=1e-12, abs=1e-15)


def test_regularization_sign_at_zero():
    p = np.array([0.0, 2.0, -3.0])
    g = np.zeros(3)
    ku.add_regularization_grad(p, g, 0.5, 0.1)
    np.testing.assert_allclose(g, [0.0, 0.2 + 0.5, -0.3 - 0.5])
    assert ku.regularization_score(p, 0.5, 0.1) == pytest.approx(0.05 * 13 + 0.5 * 5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_decaying_updater_state_flushes_subnormals_to_zero(dtype):
    """Zero-gradient parameters: the state decays to 0 without ever holding a
    subnormal (they made every SIMD op of the step take a microcode assist)."""
    tiny = np.finfo(dtype).tiny
    n = 6
    g = np.zeros(n, dtype)
    p = np.linspace(-1, 1, n).astype(dtype)
    m = np.full(n, 1e-3, dtype)
    v = np.full(n, 1e-6, dtype)
    vel = np.full(n, 1e-3, dtype)
    cache = np.full(n, 1e-6, dtype)
    c = dtype
    for _ in range(8000):
        ku.adam_step_coeffs(p, g, m, v, c(1e-3), c(0.9), c(0.1), c(0.5), c(0.5), c(1e-8))
        ku.nesterovs_step(p, g, vel, 0.1, 0.9)
        ku.rmsprop_step(p, g, cache, 0.1, 0.5, 1e-8)
        for s in (m, v, vel, cache):
            assert not np.any((s != 0) & (np.abs(s) < tiny))
    assert not m.any() and not v.any() and not vel.any() and not cache.any()
    # normal-range state is untouched by the flush: one step equals the plain formula
    m1, v1, p1 = np.full(n, 1e-30, dtype), np.full(n, 1e-30, dtype), np.ones(n, dtype)
    g1 = np.full(n, 1e-20, dtype)
    ku.adam_step_coeffs(p1, g1, m1, v1, c(1e-3), c(0.9), c(0.1), c(0.999), c(0.001), c(1e-8))
    np.testing.assert_array_equal(m1, c(0.9) * c(1e-30) + c(0.1) * c(1e-20))
