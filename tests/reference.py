"""NumPy references shared by the test modules (independent of numba_ae's kernels)."""
import numpy as np
from scipy import special

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def ref_act(name, z):
    """NumPy reference of activation ``name`` (softmax row-wise)."""
    z = np.asarray(z, dtype=np.float64)
    if name == "identity":
        return z.copy()
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leakyrelu":
        return np.where(z > 0, z, 0.01 * z)
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return special.expit(z)
    if name == "softmax":
        return special.softmax(z, axis=1)
    if name == "elu":
        return np.where(z > 0, z, np.expm1(np.minimum(z, 0.0)))
    if name == "softplus":
        return np.logaddexp(0.0, z)
    if name == "selu":
        return SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * np.expm1(np.minimum(z, 0.0)))
    if name == "hardsigmoid":
        return np.clip(0.2 * z + 0.5, 0.0, 1.0)
    if name == "hardtanh":
        return np.clip(z, -1.0, 1.0)
    if name == "gelu":
        return 0.5 * z * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (z + 0.044715 * z ** 3)))
    if name == "gelu_exact":
        return z * special.ndtr(z)
    if name == "silu":
        return z * special.expit(z)
    if name == "mish":
        return z * np.tanh(np.logaddexp(0.0, z))
    raise KeyError(name)


def ref_loss(loss, y, a):
    """NumPy reference of ND4J's per-example losses [n]."""
    if loss == "mse":
        return np.mean((a - y) ** 2, axis=1)
    if loss == "l2":
        return np.sum((a - y) ** 2, axis=1)
    if loss == "l1":
        return np.sum(np.abs(a - y), axis=1)
    if loss == "xent":
        return -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a), axis=1)
    if loss in ("mcxent", "negativeloglikelihood"):
        return -np.sum(y * np.log(a), axis=1)
    raise KeyError(loss)


def assert_grad_close(analytic, numeric, what="", names=None):
    """The gradient-check pass rule shared by the test modules: elementwise, relative error
    ``|a-b| / max(|a|, |b|) < 1e-6`` OR absolute error ``< 1e-8``.

    The absolute floor (as DL4J's GradientCheckUtil ``minAbsoluteError``) is needed where
    the true gradient is (near) zero: there the central difference is pure round-off,
    ~ulp(f)/h ~ 1e-10.  ``names`` (one label per flat entry) makes failures readable.
    """
    a = np.asarray(analytic, dtype=np.float64).ravel()
    b = np.asarray(numeric, dtype=np.float64).ravel()
    assert a.shape == b.shape
    err = np.abs(a - b)
    den = np.maximum(np.abs(a), np.abs(b))
    rel = np.divide(err, den, out=np.zeros_like(err), where=den > 0)
    ok = (rel < 1e-6) | (err < 1e-8)
    if not ok.all():
        bad = np.flatnonzero(~ok)[:8]
        rows = "\n".join(f"  {names[i] if names is not None else 'entry'}[{i}]: analytic {a[i]!r} "
                          f"numeric {b[i]!r} (abs {err[i]:.3g}, rel {rel[i]:.3g})" for i in bad)
        raise AssertionError(f"{what}: {int((~ok).sum())} of {a.size} gradient entries off:\n{rows}")
