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
