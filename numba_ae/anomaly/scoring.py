"""Per-example anomaly scores of a trained first layer: the functions the detectors and
``numba-ae score`` share.

VAE scores (float64 [n], higher = more normal):

* ``"reconstruction_log_probability"``: ``log mean_l p(x | z_l)``, z_l ~ q(z|x) (An & Cho's
  Monte-Carlo reconstruction probability; ``estimator="mean_log"`` gives DL4J's mean of the
  logs instead);
* ``"elbo"``: the evidence lower bound ``E_q[log p(x|z)] - KL(q(z|x) || p(z))``;
* ``"iwae"``: the importance-weighted bound on ``log p(x)`` (Burda et al.).

Reconstruction error (float64 [n], higher = more anomalous): a loss-wrapper VAE's
``reconstruction_error``, an AutoEncoder layer's uncorrupted pretrain objective.

Noise: :class:`RowSharedNoise` gives every row the same ``num_samples`` latent draws
(common random numbers), so a row's score depends on the row only -- not on the other
rows scored with it, nor on its position -- and a seed makes scores reproducible.
"""
import numpy as np

from ..validation import check_choice, check_int

__all__ = ["VAE_SCORES", "RowSharedNoise", "shared_noise", "reconstruction_log_probability", "elbo", "iwae",
           "vae_scores", "reconstruction_error", "CHUNK"]

#: Rows per call into the layer (bounds the memory of the ``[num_samples, rows, k]`` draws).
CHUNK = 4096

#: The VAE score names of :func:`vae_scores`.
VAE_SCORES = ("reconstruction_log_probability", "elbo", "iwae")


class RowSharedNoise(np.random.Generator):
    """A PCG64 ``Generator`` whose normal draws are shared by all rows of a request.

    ``standard_normal(size=(..., n, k))`` (and ``out=`` of that shape) draws one
    ``(..., 1, k)`` block and repeats it along the row axis (the second-to-last, where
    the VAE layer's scoring methods put the examples of their ``[num_samples, n, k]``
    noise).  Other draws are ordinary.
    """

    def standard_normal(self, size=None, dtype=np.float64, out=None):
        shape = out.shape if out is not None else (() if size is None else tuple(np.atleast_1d(size)))
        if len(shape) < 2:
            return super().standard_normal(size, dtype=dtype, out=out)
        block = super().standard_normal(shape[:-2] + (1, shape[-1]), dtype=dtype)
        if out is None:
            return np.ascontiguousarray(np.broadcast_to(block, shape))
        out[...] = block
        return out


def shared_noise(seed):
    """A fresh :class:`RowSharedNoise` seeded with ``seed`` (an int >= 0)."""
    return RowSharedNoise(np.random.PCG64(seed))


def _chunked(fn, x):
    """``fn(rows)`` over chunks of :data:`CHUNK` rows of ``x``, concatenated (float64)."""
    if x.shape[0] <= CHUNK:
        return np.asarray(fn(x), dtype=np.float64)
    return np.concatenate([np.asarray(fn(x[s:s + CHUNK]), dtype=np.float64)
                           for s in range(0, x.shape[0], CHUNK)])


def reconstruction_log_probability(layer, x, num_samples=16, seed=0, estimator="log_mean_exp"):
    """Reconstruction log-probability [n] of the VAE ``layer`` (float64; higher = better
    explained).

    Parameters
    ----------
    layer : numba_ae.layers.VariationalAutoencoder
        With a reconstruction distribution (not a loss wrapper).
    x : ndarray [n, n_in]
        Checked data in the layer's dtype.
    num_samples : int
        Latent draws per example.
    seed : int
        Seed of the shared draws (each chunk of rows restarts it, so every row gets the
        same draws).
    estimator : {"log_mean_exp", "mean_log"}
        ``log mean_l p(x|z_l)`` (An & Cho) or ``mean_l log p(x|z_l)`` (DL4J).
    """
    return _chunked(lambda xb: layer.reconstruction_log_probability(
        xb, num_samples=num_samples, estimator=estimator, rng=shared_noise(seed)), x)


def elbo(layer, x, num_samples=16, seed=0):
    """Per-example ELBO [n] (float64): ``layer.elbo`` with ``num_samples`` draws z ~ q(z|x),
    ``mean_l log p(x|z_l) - KL(q(z|x) || N(0, I))`` (weight 1, no free bits, whatever KL
    settings the layer trained with)."""
    return _chunked(lambda xb: layer.elbo(xb, num_samples=num_samples, rng=shared_noise(seed)), x)


def iwae(layer, x, num_samples=16, seed=0):
    """Importance-weighted estimate of ``log p(x)`` [n] (float64) with ``num_samples``
    draws: ``layer.log_likelihood_estimate``."""
    return _chunked(lambda xb: layer.log_likelihood_estimate(xb, num_samples=num_samples,
                                                             rng=shared_noise(seed)), x)


def vae_scores(layer, x, score="reconstruction_log_probability", num_samples=16, seed=0,
               estimator="log_mean_exp"):
    """The VAE score ``score`` (one of :data:`VAE_SCORES`) of every row of ``x`` [n]
    (float64; higher = more normal).  ``estimator`` applies to the reconstruction
    log-probability only."""
    score = check_choice(score, "score", "vae_scores", VAE_SCORES)
    num_samples = check_int(num_samples, "num_samples", "vae_scores", low=1)
    if score == "reconstruction_log_probability":
        return reconstruction_log_probability(layer, x, num_samples, seed, estimator)
    if score == "elbo":
        return elbo(layer, x, num_samples, seed)
    return iwae(layer, x, num_samples, seed)


def reconstruction_error(layer, x):
    """Per-example reconstruction error [n] (float64; higher = more anomalous) of a
    loss-wrapper VAE (``reconstruction_error``: the loss at the latent mean) or an
    AutoEncoder layer (its pretrain objective without corruption)."""
    if hasattr(layer, "reconstruction_error"):
        return _chunked(layer.reconstruction_error, x)
    return _chunked(layer.example_scores_unsupervised, x)
