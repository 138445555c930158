"""CUDA loss twins (:mod:`numba_ae.kernels.cuda.losses`) against the CPU kernels of
:mod:`numba_ae.kernels.losses`, every loss code, the fused sigmoid/softmax forms, every
built-in activation and a user-registered one."""
import numpy as np
import pytest
from cuda_elem_helpers import check, cols, dev, dtypes, host, rows, seeds
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import cuda

from numba_ae.kernels import activations
from numba_ae.kernels import losses as cpu
from numba_ae.kernels.cuda import _launch, reductions
from numba_ae.kernels.cuda import losses as gpu

LOSSES = range(len(cpu.NAMES))


def _data(act, n, k, dtype, seed, zscale):
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal((n, k)) * zscale).astype(dtype)
    a = np.empty_like(z)
    activations.get(act).map(z, a) if isinstance(act, str) else act.map(z, a)
    y = rng.random((n, k)).astype(dtype)
    return y, a, z


def _score_mag(y, a, z, loss, act):
    """Sum of the absolute summands of each row's loss (the error scale of a float32 sum)."""
    y, a, z = (np.asarray(v, dtype=np.float64) for v in (y, a, z))
    k = a.shape[1]
    eps = cpu.LOG_EPS
    if loss in (cpu.MSE, cpu.L2):
        return ((a - y) ** 2).sum(axis=1) / (k if loss == cpu.MSE else 1)
    if loss == cpu.L1:
        return np.abs(a - y).sum(axis=1)
    if loss == cpu.XENT:
        if act.is_sigmoid:
            return (np.logaddexp(0.0, z) + np.abs(y * z)).sum(axis=1)
        return (np.abs(y * np.log(np.maximum(a, eps))) + np.abs((1 - y) * np.log(np.maximum(1 - a, eps)))).sum(axis=1)
    if act.is_softmax:
        lse = np.log(np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True)) + z.max(axis=1, keepdims=True)
        return (np.abs(y) * (np.abs(z) + np.abs(lse))).sum(axis=1)
    return np.abs(y * np.log(np.maximum(a, eps))).sum(axis=1)


def _grad_mag(y, a, z, loss, act, scale):
    """Elementwise bound on the absolute summands of each gradient entry (a float32 entry
    that cancels, as ``a (d - <d, a>)`` of the softmax backward, is only as exact as them)."""
    dtype = a.dtype
    y, a = np.asarray(y, dtype=np.float64), np.asarray(a, dtype=np.float64)
    eps = cpu.LOG_EPS
    c = abs(scale) * (2.0 / a.shape[1] if loss == cpu.MSE else 2.0 if loss == cpu.L2 else 1.0)
    mc = loss in (cpu.MCXENT, cpu.NEGATIVELOGLIKELIHOOD)
    if act.is_sigmoid and loss == cpu.XENT:
        return c * (np.abs(a) + np.abs(y))
    if act.is_softmax and mc:
        return c * (np.abs(a) * np.abs(y).sum(axis=1, keepdims=True) + np.abs(y))
    if loss in (cpu.MSE, cpu.L2):
        d = c * np.abs(a - y)
    elif loss == cpu.L1:
        d = np.full_like(a, c)
    elif loss == cpu.XENT:
        d = c * (np.abs(y) / np.maximum(a, eps) + np.abs(1 - y) / np.maximum(1 - a, eps))
    else:
        d = c * np.abs(y) / np.maximum(a, eps)
    if act.is_softmax:
        return np.abs(a) * (d + (d * np.abs(a)).sum(axis=1, keepdims=True))
    df = np.ones(a.shape, dtype=dtype)
    act.backward(np.asarray(z, dtype=dtype), a.astype(dtype), df)
    return d * np.abs(df)


def _run_and_check(act, loss, y, a, z, scale, which=("score", "grad", "both")):
    act = activations.get(act) if isinstance(act, str) else act
    dtype = a.dtype
    n, k = a.shape
    out = np.empty(n, dtype)
    delta = np.empty_like(a)
    cpu.loss_score[act](y, a, z, loss, out)
    cpu.loss_grad[act](y, a, z, loss, scale, delta)
    mag = _score_mag(y, a, z, loss, act)
    gmag = _grad_mag(y, a, z, loss, act, scale)
    dy, da, dz = dev(y, a, z)
    label = f"{act.name}/{cpu.NAMES[loss]}/{np.dtype(dtype).name}"
    if "score" in which:
        g_out = cuda.device_array(n, dtype)
        gpu.loss_score[act](dy, da, dz, loss, g_out)
        check(host(g_out), out, dtype, mag=mag, what="loss_score " + label)
    if "grad" in which:
        g_delta = cuda.device_array((n, k), dtype)
        gpu.loss_grad[act](dy, da, dz, loss, scale, g_delta)
        check(host(g_delta), delta, dtype, mag=gmag, what="loss_grad " + label)
    if "both" in which:
        g_out = cuda.device_array(n, dtype)
        g_delta = cuda.device_array((n, k), dtype)
        before = _launch.launches()
        gpu.loss_score_and_grad[act](dy, da, dz, loss, scale, g_out, g_delta)
        assert _launch.launches() - before == 1
        check(host(g_out), out, dtype, mag=mag, what="loss_score_and_grad score " + label)
        check(host(g_delta), delta, dtype, mag=gmag, what="loss_score_and_grad grad " + label)


@settings(max_examples=14)
@given(act=st.sampled_from(activations.NAMES), loss=st.sampled_from(LOSSES), dtype=dtypes, n=rows, k=cols,
       seed=seeds, zscale=st.sampled_from([1.0, 6.0]), scale=st.floats(0.01, 3.0))
def test_twins_match_cpu(act, loss, dtype, n, k, seed, zscale, scale):
    """Every twin against its CPU kernel: random built-in activation, loss code, dtype, shape."""
    y, a, z = _data(act, n, k, dtype, seed, zscale)
    _run_and_check(act, loss, y, a, z, scale)


@pytest.mark.parametrize("act", ["identity", "sigmoid", "softmax"])
@pytest.mark.parametrize("loss", LOSSES)
def test_fused_and_generic_forms(act, loss):
    """Each loss code on the three code paths of the kernels (sigmoid-fused xent,
    softmax-fused mcxent/nll, the generic form), large logits included, in one launch."""
    for dtype, (n, k) in ((np.float32, (3, 7)), (np.float64, (2, 17))):
        y, a, z = _data(act, n, k, dtype, 1000 + loss, 12.0)
        _run_and_check(act, loss, y, a, z, 0.25, which=("both",))


def test_one_hot_softmax_mcxent_rows_wider_than_a_block():
    """One-hot targets (the classification case) on rows wider than a block (the columns
    stride over the block's threads)."""
    n, k = 2, 3 * reductions.CAP_THREADS + 1
    rng = np.random.default_rng(7)
    z = rng.standard_normal((n, k)).astype(np.float32)
    a = np.empty_like(z)
    activations.get("softmax").map(z, a)
    y = np.zeros_like(z)
    y[np.arange(n), rng.integers(0, k, n)] = 1.0
    _run_and_check("softmax", cpu.MCXENT, y, a, z, 0.5, which=("both",))


def test_rows_stride_past_the_grid(monkeypatch):
    """More rows than blocks: every block strides over several rows."""
    monkeypatch.setattr(reductions, "MAX_ROW_BLOCKS", 2)
    y, a, z = _data("tanh", 5, 6, np.float64, 3, 1.0)
    _run_and_check("tanh", cpu.MSE, y, a, z, 0.5, which=("both",))


def test_user_registered_activation():
    """A runtime-registered activation compiles its own twins (its derivative reads the
    pre-activation)."""
    act = activations.register("cuda_elem_square", lambda v: v * v, lambda pre, out: (pre + pre),
                               needs_pre=True, overwrite=True)
    try:
        y, a, z = _data(act, 3, 5, np.float64, 11, 1.0)
        _run_and_check(act, cpu.L2, y, a, z, 0.5, which=("both",))
    finally:
        activations.unregister("cuda_elem_square")


def test_indexing_by_name_and_activation():
    """``twin[name]`` and ``twin[Activation]`` give the same compiled function; an unknown
    name is refused as on the CPU."""
    assert gpu.loss_grad["relu"] is gpu.loss_grad[activations.get("relu")]
    assert gpu.loss_score["relu"] is not gpu.loss_grad["relu"]
    with pytest.raises(ValueError, match="unknown activation"):
        gpu.loss_score["no_such_activation"]
