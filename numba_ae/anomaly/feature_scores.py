"""Per-feature anomaly scores: which columns made a row anomalous.

* VAE: ``-log p(x_ij | z)`` per element, averaged over the same ``num_samples`` draws
  z_l ~ q(z|x) the scores use (``RowSharedNoise``), so a row's feature scores sum to minus
  its ``mean_log`` reconstruction log-probability (DL4J's estimator).  Computed in float64
  from the layer's parameters (the documented DL4J names) and the distribution's scalar
  element definitions (:meth:`Distribution.log_prob_elements`; a composite per slice).
* AutoEncoder network: the squared error ``(x_ij - r_ij)^2`` of the reconstruction, in
  the detector's preprocessed space; the row sums are the detector's anomaly scores.
"""
import numpy as np

from ..distributions import NoLogProbabilityError, build_distribution
from ..registries import activation
from .scoring import CHUNK, shared_noise

__all__ = ["vae_feature_scores", "squared_errors"]


def _dense(a, W, b, act):
    """``act(a @ W + b)`` in float64."""
    pre = a @ W.astype(np.float64) + b.astype(np.float64)
    if act.is_identity:
        return pre
    out = np.empty_like(pre)
    act.map(pre, out)
    return out


def _posterior(layer, x):
    """``(mean, logvar)`` [n, k] of q(z|x) in float64."""
    p = layer.params
    act, pzx = activation(layer.activation), activation(layer.conf.pzx_activation)
    h = x
    for i in range(len(layer.encoder_sizes)):
        h = _dense(h, p[f"e{i}W"], p[f"e{i}b"], act)
    return _dense(h, p["pZXMeanW"], p["pZXMeanb"], pzx), _dense(h, p["pZXLogStd2W"], p["pZXLogStd2b"], pzx)


def _decoder_pre(layer, z):
    """The decoder's pre-output (the distribution's input) [n, width] for ``z``, float64."""
    p = layer.params
    act = activation(layer.activation)
    h = z
    for i in range(len(layer.decoder_sizes)):
        h = _dense(h, p[f"d{i}W"], p[f"d{i}b"], act)
    return _dense(h, p["pXZW"], p["pXZb"], activation("identity"))


def vae_feature_scores(layer, x, num_samples=16, seed=0):
    """Per-element negative log-probability [n, n_in] (float64) of the VAE ``layer``,
    averaged over ``num_samples`` shared draws z_l ~ q(z|x) (the draws of the scores with
    the same ``seed``).

    Raises
    ------
    NoLogProbabilityError
        The layer's p(x|z) is a loss wrapper, or a distribution without element kernels.
    """
    dist = build_distribution(layer.conf.distribution, np.float64)
    out = np.empty(x.shape, dtype=np.float64)
    for s in range(0, x.shape[0], CHUNK):
        xb = np.ascontiguousarray(x[s:s + CHUNK], dtype=np.float64)
        n = xb.shape[0]
        # the draws the layer's scoring methods get from the same seed: [num_samples, n, k]
        eps = shared_noise(seed).standard_normal((num_samples, n, layer.n_out), dtype=layer.dtype)
        mean, logvar = _posterior(layer, xb)
        std = np.exp(0.5 * logvar)
        acc = np.zeros_like(xb)
        for e in eps:
            pre = np.ascontiguousarray(_decoder_pre(layer, mean + std * e.astype(np.float64)))
            try:
                acc -= dist.log_prob_elements(xb, pre)
            except NoLogProbabilityError as err:
                raise NoLogProbabilityError(f"feature scores need per-element log-probabilities: {err}") from None
        out[s:s + n] = acc / num_samples
    return out


def squared_errors(x, reconstruction):
    """``(x - reconstruction)^2`` [n, d] in float64."""
    d = np.asarray(x, dtype=np.float64) - np.asarray(reconstruction, dtype=np.float64)
    return d * d
