"""CPU Numba kernels for VAE reconstruction distributions and the KL term.

Every function here is a module-level ``@njit(cache=True, error_model="numpy")`` kernel over 2-D
arrays.  Conventions shared by all kernels:

* ``n`` is the number of examples (rows), ``d`` the number of data columns,
  ``k`` the number of latent columns.
* Outputs are preallocated by the caller and passed in; kernels only write to
  them (gradient kernels OVERWRITE ``grad``, they never accumulate).
* Inputs may be any 2-D layout (C, Fortran or non-contiguous views such as
  ``pre[:, 0:10]``); nothing requires C-contiguity.
* float32 and float64 arrays are both supported.  The Gaussian and
  logit-Bernoulli kernels do per-element arithmetic in the arrays' dtype with
  the vectorisable ``exp``/``log`` of :mod:`.fastmath` (float32 within 1-3 ulp;
  float64 is libm's); the others (KL, Exponential, probability-Bernoulli,
  densities) in float64.  Per-row sums
  always use float64 accumulators; results are cast to the output array's
  dtype on store.
* "log_prob" kernels return ``log p(x | params)`` summed over the feature
  axis, one value per example.  "nll_grad" kernels write
  ``d(nll_sum)/d(param) * scale`` where ``nll_sum = -sum_ij log p_ij``.
* No input validation is done here; the Python layer is responsible for it.
"""

import math

import numpy as np
from numba import njit

from .fastmath import fexp, flog1p, row_sum, sigmoid, softplus

__all__ = [
    "EPS",
    "gaussian_log_prob",
    "gaussian_nll_grad",
    "gaussian_log_prob_and_grad",
    "gaussian_mean",
    "gaussian_sample",
    "bernoulli_logit_log_prob",
    "bernoulli_logit_nll_grad",
    "bernoulli_logit_log_prob_and_grad",
    "bernoulli_logit_mean",
    "bernoulli_log_prob",
    "bernoulli_nll_grad",
    "bernoulli_sample",
    "exponential_log_prob",
    "exponential_nll_grad",
    "exponential_mean",
    "exponential_sample",
    "kl_normal",
    "kl_normal_grad",
    "normal_log_density",
    "std_normal_log_density",
    "reparameterize",
    "logsumexp_rows",
]

#: Lower clamp for the arguments of ``log`` and for denominators in the
#: probability-parameterised Bernoulli kernels.
EPS = 1e-12

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


# ---------------------------------------------------------------------------
# scalar helpers
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Gaussian, parameters a = [mean | logvar]
# ---------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def gaussian_log_prob(x, a, out):
    """Diagonal Gaussian log-likelihood, summed over features.

    ``out[i] = sum_j [-0.5 log(2 pi) - 0.5 logvar_ij
    - 0.5 (x_ij - mu_ij)^2 exp(-logvar_ij)]``.

    Parameters
    ----------
    x : ndarray, shape (n, d)
        Data.
    a : ndarray, shape (n, 2*d)
        Activated distribution parameters: ``a[:, :d]`` is the mean,
        ``a[:, d:]`` is ``log(sigma^2)``.
    out : ndarray, shape (n,)
        Output, overwritten with the per-example log-probability.

    Returns
    -------
    None
    """
    n, d = x.shape
    t = a.dtype.type
    c, h = t(_HALF_LOG_2PI), t(0.5)
    terms = np.empty(d, dtype=a.dtype)
    for i in range(n):
        for j in range(d):
            lv = a[i, d + j]
            r = x[i, j] - a[i, j]
            terms[j] = -c - h * lv - h * r * r * fexp(-lv)
        out[i] = row_sum(terms)


@njit(cache=True, error_model="numpy")
def gaussian_nll_grad(x, a, scale, grad):
    """Gradient of the Gaussian negative log-likelihood w.r.t. ``a``.

    ``grad[:, :d] = -(x - mu) exp(-logvar) * scale`` and
    ``grad[:, d:] = 0.5 (1 - (x - mu)^2 exp(-logvar)) * scale``.

    Parameters
    ----------
    x : ndarray, shape (n, d)
        Data.
    a : ndarray, shape (n, 2*d)
        Activated parameters ``[mean | logvar]``.
    scale : float
        Multiplier applied to every gradient entry (e.g. ``1 / N``).
    grad : ndarray, shape (n, 2*d)
        Output, overwritten.

    Returns
    -------
    None
    """
    n, d = x.shape
    t = a.dtype.type
    sc, hs = t(scale), t(0.5 * scale)
    for i in range(n):
        for j in range(d):
            lv = a[i, d + j]
            r = x[i, j] - a[i, j]
            rv = r * fexp(-lv)
            grad[i, j] = -rv * sc
            grad[i, d + j] = hs - hs * r * rv


@njit(cache=True, error_model="numpy")
def gaussian_log_prob_and_grad(x, a, scale, out, grad):
    """``gaussian_log_prob`` and ``gaussian_nll_grad`` in one pass sharing one
    ``exp(-logvar)`` per element (the training step needs both).

    Parameters
    ----------
    x : ndarray, shape (n, d)
        Data.
    a : ndarray, shape (n, 2*d)
        Activated parameters ``[mean | logvar]``.
    scale : float
        Multiplier of the gradient.
    out : ndarray, shape (n,)
        Overwritten with the per-example log-probability.
    grad : ndarray, shape (n, 2*d)
        Overwritten with the gradient of the NLL w.r.t. ``a`` times ``scale``.
    """
    n, d = x.shape
    t = a.dtype.type
    c, h = t(_HALF_LOG_2PI), t(0.5)
    sc, hs = t(scale), t(0.5 * scale)
    terms = np.empty(d, dtype=a.dtype)
    for i in range(n):
        for j in range(d):
            lv = a[i, d + j]
            r = x[i, j] - a[i, j]
            rv = r * fexp(-lv)
            terms[j] = -c - h * lv - h * r * rv
            grad[i, j] = -rv * sc
            grad[i, d + j] = hs - hs * r * rv
        out[i] = row_sum(terms)


@njit(cache=True, error_model="numpy")
def gaussian_mean(a, out):
    """Mean of the diagonal Gaussian, i.e. the first half of ``a``.

    Parameters
    ----------
    a : ndarray, shape (n, 2*d)
        Activated parameters ``[mean | logvar]``.
    out : ndarray, shape (n, d)
        Output, overwritten with ``a[:, :d]``.

    Returns
    -------
    None
    """
    n, d = out.shape
    for i in range(n):
        for j in range(d):
            out[i, j] = a[i, j]


@njit(cache=True, error_model="numpy")
def gaussian_sample(a, eps, out):
    """Draw from the diagonal Gaussian given standard-normal noise.

    ``out = mu + exp(0.5 logvar) * eps``.

    Parameters
    ----------
    a : ndarray, shape (n, 2*d)
        Activated parameters ``[mean | logvar]``.
    eps : ndarray, shape (n, d)
        Standard normal draws supplied by the caller.
    out : ndarray, shape (n, d)
        Output, overwritten with the samples.

    Returns
    -------
    None
    """
    n, d = out.shape
    for i in range(n):
        for j in range(d):
            out[i, j] = float(a[i, j]) + math.exp(0.5 * float(a[i, d + j])) * float(eps[i, j])


# ---------------------------------------------------------------------------
# Bernoulli parameterised by logits (sigmoid activation)
# ---------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def bernoulli_logit_log_prob(x, pre, out):
    """Bernoulli log-likelihood from logits, summed over features.

    ``out[i] = sum_j [x_ij pre_ij - softplus(pre_ij)]`` with the stable
    ``softplus(z) = max(z, 0) + log1p(exp(-|z|))``, finite for any finite logit
    (vectorised for float32 by :mod:`.fastmath`).

    Parameters
    ----------
    x : ndarray, shape (n, d)
        Data, normally in ``{0, 1}`` (values in ``[0, 1]`` are accepted).
    pre : ndarray, shape (n, d)
        Pre-activations (logits) of the sigmoid output layer.
    out : ndarray, shape (n,)
        Output, overwritten with the per-example log-probability.
    """
    n, d = x.shape
    terms = np.empty(d, dtype=pre.dtype)
    for i in range(n):
        for j in range(d):
            z = pre[i, j]
            terms[j] = x[i, j] * z - softplus(z)
        out[i] = row_sum(terms)


@njit(cache=True, error_model="numpy")
def bernoulli_logit_log_prob_and_grad(x, pre, scale, out, grad):
    """``bernoulli_logit_log_prob`` and ``bernoulli_logit_nll_grad`` in one pass
    sharing one ``exp(-|z|)`` per element (the training step needs both).

    Parameters
    ----------
    x, pre : ndarray, shape (n, d)
        Data and logits.
    scale : float
        Multiplier of the gradient.
    out : ndarray, shape (n,)
        Overwritten with the per-example log-probability.
    grad : ndarray, shape (n, d)
        Overwritten with ``(sigmoid(pre) - x) * scale``.
    """
    n, d = x.shape
    t = pre.dtype.type
    zero, one, sc = t(0.0), t(1.0), t(scale)
    terms = np.empty(d, dtype=pre.dtype)
    for i in range(n):
        for j in range(d):
            z = pre[i, j]
            xv = x[i, j]
            e = fexp(-abs(z))
            terms[j] = xv * z - (max(z, zero) + flog1p(e))
            r = one / (one + e)
            sig = r if z >= zero else e * r
            grad[i, j] = (sig - xv) * sc
        out[i] = row_sum(terms)


@njit(cache=True, error_model="numpy")
def bernoulli_logit_nll_grad(x, pre, scale, grad):
    """Gradient of the logit-Bernoulli NLL w.r.t. the logits.

    ``grad = (sigmoid(pre) - x) * scale`` with a stable sigmoid.

    Parameters
    ----------
    x : ndarray, shape (n, d)
        Data.
    pre : ndarray, shape (n, d)
        Logits.
    scale : float
        Multiplier applied to every gradient entry.
    grad : ndarray, shape (n, d)
        Output, overwritten.

    Returns
    -------
    None
    """
    n, d = x.shape
    for i in range(n):
        for j in range(d):
            grad[i, j] = (sigmoid(pre[i, j]) - x[i, j]) * scale


@njit(cache=True, error_model="numpy")
def bernoulli_logit_mean(pre, out):
    """Bernoulli mean from logits: ``out = sigmoid(pre)``.

    Parameters
    ----------
    pre : ndarray, shape (n, d)
        Logits.
    out : ndarray, shape (n, d)
        Output, overwritten with probabilities in ``[0, 1]``.

    Returns
    -------
    None
    """
    n, d = out.shape
    for i in range(n):
        for j in range(d):
            out[i, j] = sigmoid(pre[i, j])


# ---------------------------------------------------------------------------
# Bernoulli parameterised by probabilities (e.g. hardsigmoid activation)
# ---------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def bernoulli_log_prob(x, p, out):
    """Bernoulli log-likelihood from probabilities, summed over features.

    ``out[i] = sum_j [x log(max(p, EPS)) + (1 - x) log(max(1 - p, EPS))]``
    with ``EPS = 1e-12``, so ``p`` exactly 0 or 1 gives finite values.
    (``log(1 - p)`` is evaluated as ``log1p(-p)`` when unclamped.)

    Parameters
    ----------
    x : ndarray, shape (n, d)
        Data, normally in ``{0, 1}``.
    p : ndarray, shape (n, d)
        Activated probabilities in ``[0, 1]``.
    out : ndarray, shape (n,)
        Output, overwritten with the per-example log-probability.

    Returns
    -------
    None
    """
    n, d = x.shape
    log_eps = math.log(EPS)
    for i in range(n):
        acc = 0.0
        for j in range(d):
            pv = float(p[i, j])
            xv = float(x[i, j])
            lp = math.log(pv) if pv > EPS else log_eps
            lq = math.log1p(-pv) if 1.0 - pv > EPS else log_eps
            acc += xv * lp + (1.0 - xv) * lq
        out[i] = acc


@njit(cache=True, error_model="numpy")
def bernoulli_nll_grad(x, p, scale, grad):
    """Gradient of the probability-Bernoulli NLL w.r.t. ``p``.

    ``grad = (-x / max(p, EPS) + (1 - x) / max(1 - p, EPS)) * scale``.

    Parameters
    ----------
    x : ndarray, shape (n, d)
        Data.
    p : ndarray, shape (n, d)
        Activated probabilities in ``[0, 1]``.
    scale : float
        Multiplier applied to every gradient entry.
    grad : ndarray, shape (n, d)
        Output, overwritten.

    Returns
    -------
    None
    """
    n, d = x.shape
    for i in range(n):
        for j in range(d):
            pv = float(p[i, j])
            xv = float(x[i, j])
            grad[i, j] = (-xv / max(pv, EPS) + (1.0 - xv) / max(1.0 - pv, EPS)) * scale


@njit(cache=True, error_model="numpy")
def bernoulli_sample(p, u, out):
    """Draw Bernoulli samples given uniform noise.

    ``out = 1 if u < p else 0``.

    Parameters
    ----------
    p : ndarray, shape (n, d)
        Probabilities in ``[0, 1]``.
    u : ndarray, shape (n, d)
        Uniform ``[0, 1)`` draws supplied by the caller.
    out : ndarray, shape (n, d)
        Output, overwritten with 0/1 values.

    Returns
    -------
    None
    """
    n, d = out.shape
    for i in range(n):
        for j in range(d):
            out[i, j] = 1.0 if u[i, j] < p[i, j] else 0.0


# ---------------------------------------------------------------------------
# Exponential, parameter gamma = log(lambda)
# ---------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def exponential_log_prob(x, g, out):
    """Exponential log-likelihood, summed over features.

    ``out[i] = sum_j [gamma_ij - exp(gamma_ij) x_ij]`` with
    ``gamma = log(lambda)``.

    Parameters
    ----------
    x : ndarray, shape (n, d)
        Non-negative data.
    g : ndarray, shape (n, d)
        Activated parameter ``gamma = log(lambda)``.
    out : ndarray, shape (n,)
        Output, overwritten with the per-example log-probability.

    Returns
    -------
    None
    """
    n, d = x.shape
    for i in range(n):
        acc = 0.0
        for j in range(d):
            gv = float(g[i, j])
            acc += gv - math.exp(gv) * float(x[i, j])
        out[i] = acc


@njit(cache=True, error_model="numpy")
def exponential_nll_grad(x, g, scale, grad):
    """Gradient of the exponential NLL w.r.t. ``gamma``.

    ``grad = (x exp(gamma) - 1) * scale``.

    Parameters
    ----------
    x : ndarray, shape (n, d)
        Non-negative data.
    g : ndarray, shape (n, d)
        Activated parameter ``gamma = log(lambda)``.
    scale : float
        Multiplier applied to every gradient entry.
    grad : ndarray, shape (n, d)
        Output, overwritten.

    Returns
    -------
    None
    """
    n, d = x.shape
    for i in range(n):
        for j in range(d):
            grad[i, j] = (float(x[i, j]) * math.exp(float(g[i, j])) - 1.0) * scale


@njit(cache=True, error_model="numpy")
def exponential_mean(g, out):
    """Exponential mean ``1 / lambda = exp(-gamma)``.

    Parameters
    ----------
    g : ndarray, shape (n, d)
        Activated parameter ``gamma = log(lambda)``.
    out : ndarray, shape (n, d)
        Output, overwritten.

    Returns
    -------
    None
    """
    n, d = out.shape
    for i in range(n):
        for j in range(d):
            out[i, j] = math.exp(-float(g[i, j]))


@njit(cache=True, error_model="numpy")
def exponential_sample(g, u, out):
    """Draw exponential samples by inversion given uniform noise.

    ``out = -log(1 - u) / lambda = -log1p(-u) exp(-gamma)``.

    Parameters
    ----------
    g : ndarray, shape (n, d)
        Activated parameter ``gamma = log(lambda)``.
    u : ndarray, shape (n, d)
        Uniform ``[0, 1)`` draws supplied by the caller.
    out : ndarray, shape (n, d)
        Output, overwritten with the samples (``>= 0``).

    Returns
    -------
    None
    """
    n, d = out.shape
    for i in range(n):
        for j in range(d):
            out[i, j] = -math.log1p(-float(u[i, j])) * math.exp(-float(g[i, j]))


# ---------------------------------------------------------------------------
# KL( N(mean, exp(logvar)) || N(0, I) )
# ---------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def kl_normal(mean, logvar, out):
    """KL divergence of a diagonal Gaussian from the standard normal.

    ``out[i] = 0.5 sum_j (exp(logvar_ij) + mean_ij^2 - 1 - logvar_ij)``.

    Parameters
    ----------
    mean : ndarray, shape (n, k)
        Posterior means.
    logvar : ndarray, shape (n, k)
        Posterior log-variances.
    out : ndarray, shape (n,)
        Output, overwritten with the per-example KL (``>= 0``).

    Returns
    -------
    None
    """
    n, k = mean.shape
    for i in range(n):
        acc = 0.0
        for j in range(k):
            m = float(mean[i, j])
            lv = float(logvar[i, j])
            acc += math.exp(lv) + m * m - 1.0 - lv
        out[i] = 0.5 * acc


@njit(cache=True, error_model="numpy")
def kl_normal_grad(mean, logvar, scale, grad_mean, grad_logvar):
    """Gradient of the summed KL term w.r.t. mean and logvar.

    ``grad_mean = mean * scale``,
    ``grad_logvar = 0.5 (exp(logvar) - 1) * scale``.

    Parameters
    ----------
    mean : ndarray, shape (n, k)
        Posterior means.
    logvar : ndarray, shape (n, k)
        Posterior log-variances.
    scale : float
        Multiplier applied to every gradient entry.
    grad_mean : ndarray, shape (n, k)
        Output, overwritten.
    grad_logvar : ndarray, shape (n, k)
        Output, overwritten.

    Returns
    -------
    None
    """
    n, k = mean.shape
    for i in range(n):
        for j in range(k):
            grad_mean[i, j] = float(mean[i, j]) * scale
            grad_logvar[i, j] = 0.5 * math.expm1(float(logvar[i, j])) * scale


# ---------------------------------------------------------------------------
# Helpers for the importance-weighted (IWAE) estimator
# ---------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def normal_log_density(z, mean, logvar, out):
    """Diagonal Gaussian log-density, summed over features.

    ``out[i] = sum_j log N(z_ij; mean_ij, exp(logvar_ij))``.

    Parameters
    ----------
    z : ndarray, shape (n, k)
        Points at which to evaluate the density.
    mean : ndarray, shape (n, k)
        Means.
    logvar : ndarray, shape (n, k)
        Log-variances.
    out : ndarray, shape (n,)
        Output, overwritten.

    Returns
    -------
    None
    """
    n, k = z.shape
    for i in range(n):
        acc = 0.0
        for j in range(k):
            lv = float(logvar[i, j])
            r = float(z[i, j]) - float(mean[i, j])
            acc += -_HALF_LOG_2PI - 0.5 * lv - 0.5 * r * r * math.exp(-lv)
        out[i] = acc


@njit(cache=True, error_model="numpy")
def std_normal_log_density(z, out):
    """Standard normal log-density, summed over features.

    ``out[i] = sum_j log N(z_ij; 0, 1)``.

    Parameters
    ----------
    z : ndarray, shape (n, k)
        Points at which to evaluate the density.
    out : ndarray, shape (n,)
        Output, overwritten.

    Returns
    -------
    None
    """
    n, k = z.shape
    for i in range(n):
        acc = 0.0
        for j in range(k):
            zv = float(z[i, j])
            acc += -_HALF_LOG_2PI - 0.5 * zv * zv
        out[i] = acc


@njit(cache=True, error_model="numpy")
def reparameterize(mean, logvar, eps, out):
    """Reparameterised Gaussian draw ``out = mean + exp(0.5 logvar) * eps``.

    Parameters
    ----------
    mean : ndarray, shape (n, k)
        Means.
    logvar : ndarray, shape (n, k)
        Log-variances.
    eps : ndarray, shape (n, k)
        Standard normal draws supplied by the caller.
    out : ndarray, shape (n, k)
        Output, overwritten.

    Returns
    -------
    None
    """
    n, k = out.shape
    for i in range(n):
        for j in range(k):
            out[i, j] = float(mean[i, j]) + math.exp(0.5 * float(logvar[i, j])) * float(eps[i, j])


@njit(cache=True, error_model="numpy")
def logsumexp_rows(a, out):
    """Row-wise stable log-sum-exp.

    ``out[i] = log(sum_j exp(a_ij))``, computed as
    ``m + log(sum_j exp(a_ij - m))`` with ``m`` the row maximum.  A row whose
    maximum is ``-inf`` (all ``-inf``, or ``k == 0``) gives ``-inf``; a row
    containing ``+inf`` gives ``+inf``; a NaN anywhere in a row gives NaN.

    Parameters
    ----------
    a : ndarray, shape (n, k)
        Input values (e.g. log importance weights).
    out : ndarray, shape (n,)
        Output, overwritten.

    Returns
    -------
    None
    """
    n, k = a.shape
    for i in range(n):
        m = -np.inf
        for j in range(k):
            v = float(a[i, j])
            if v > m or v != v:  # NaN is sticky so that it propagates
                m = v
        if m == -np.inf or m == np.inf:
            out[i] = m
            continue
        s = 0.0
        for j in range(k):
            s += math.exp(float(a[i, j]) - m)
        out[i] = m + math.log(s)
