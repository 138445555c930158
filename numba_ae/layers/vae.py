"""VariationalAutoencoder layer (Kingma & Welling 2013), DL4J semantics.

Encoder ``h = f(... f(x e0W + e0b) ...)``; q(z|x) heads
``mean = g(h pZXMeanW + pZXMeanb)``, ``logvar = g(h pZXLogStd2W + pZXLogStd2b)``
(``g`` = ``pzx_activation``, ``logvar`` = log sigma^2); ``z = mean + exp(logvar/2) eps``
with ``num_samples`` draws per example; decoder ``f`` layers then the affine
``pXZ`` map to the distribution's pre-output.

Pretrain objective (DL4J score, the negative ELBO, with the defaults): over a minibatch
of n examples, ``mean_i NLL_i + w * KL`` where ``NLL_i = -mean_over_samples log p(x_i|z)``
(a loss wrapper's loss replaces ``-log p``) and, with KL_ij the closed-form
``KL(q(z_j|x_i) || N(0, 1))`` of latent dimension j,

* ``KL = mean_i sum_j KL_ij`` (``free_bits = 0``, DL4J), or
  ``KL = sum_j max(free_bits, mean_i KL_ij)`` (free bits, Kingma et al. 2016);
* ``w = beta * min(1, t / kl_warmup_steps)`` at the layer's pretrain step t (its pretrain
  updater step count, from 0; the network passes it to :meth:`pretrain_step`), ``w = beta``
  without warm-up.  The defaults ``beta=1, kl_warmup_steps=0, free_bits=0`` run exactly
  DL4J's objective (the same kernels, bitwise).

Outside training the weight is the full ``beta`` (the warm-up is a training schedule):
:meth:`example_scores_unsupervised` (so ``net.score(data)`` and ``pretrain_score``) is the
per-example ``NLL_i + beta * sum_j KL_ij`` (free bits are defined over a minibatch, not an
example, so the per-example scores have no floor); :meth:`score` is the objective above on
``x`` as one minibatch at ``w = beta``, free bits included (equal to the mean of the
per-example scores when ``free_bits = 0``).  :meth:`elbo` is the true ELBO (weight 1, no
floor), for comparing models trained with different settings.

The ``num_samples`` draws are stacked sample-major into one ``[L*n, k]`` batch so the
decoder runs as single GEMMs.  In the network's supervised pass the layer is its encoder:
output = latent mean, backprop through the encoder and pZXMean only.
"""
import copy

import numpy as np

from ..data import check_features
from ..distributions import NoLogProbabilityError, build_distribution
from ..backends import CPU
from ..kernels import vae as _kv
from ..registries import activation
from ..validation import as_generator, check_choice, check_int
from .base import Layer


class VariationalAutoencoder(Layer):
    """Runtime VAE layer; see the module docstring for the math."""

    pretrainable = True

    def __init__(self, conf, index, net_conf):
        super().__init__(conf, index, net_conf)
        self.encoder_sizes = tuple(conf.encoder_layer_sizes)
        self.decoder_sizes = tuple(conf.decoder_layer_sizes)
        self.pzx = activation(conf.pzx_activation)
        self._identity = activation("identity")
        self.num_samples = conf.num_samples
        self.beta = conf.beta
        self.kl_warmup_steps = conf.kl_warmup_steps
        self.free_bits = conf.free_bits
        self.distribution = build_distribution(conf.distribution, self.dtype, self.backend)
        self.dist_width = self.distribution.input_width(self.n_in)
        self._rng_source = None

    def use_backend(self, backend):
        super().use_backend(backend)
        if getattr(self, "distribution", None) is not None:
            self.distribution.use_backend(backend)

    # ---- parameters ----------------------------------------------------------------------
    def param_specs(self):
        specs = []
        prev = self.n_in
        for i, s in enumerate(self.encoder_sizes):
            specs += [(f"e{i}W", (prev, s), False), (f"e{i}b", (s,), True)]
            prev = s
        k = self.n_out
        specs += [("pZXMeanW", (prev, k), False), ("pZXMeanb", (k,), True),
                  ("pZXLogStd2W", (prev, k), False), ("pZXLogStd2b", (k,), True)]
        prev = k
        for i, s in enumerate(self.decoder_sizes):
            specs += [(f"d{i}W", (prev, s), False), (f"d{i}b", (s,), True)]
            prev = s
        specs += [("pXZW", (prev, self.dist_width), False), ("pXZb", (self.dist_width,), True)]
        return specs

    def _unused_in_fit(self):
        used = {f"e{i}{p}" for i in range(len(self.encoder_sizes)) for p in "Wb"} | {"pZXMeanW", "pZXMeanb"}
        return [name for name, _, _ in self.param_specs() if name not in used]

    # ---- workspaces ------------------------------------------------------------------------
    def _allocate(self, n, key):
        e = self._empty
        k = self.n_out
        if key == "decode":
            dec = [e(n, s) for s in self.decoder_sizes]
            return {"dec": dec, "dec_z": [self._pre(d) for d in dec], "pre": e(n, self.dist_width)}
        enc, mean = [e(n, s) for s in self.encoder_sizes], e(n, k)
        ws = {"enc": enc, "enc_z": [self._pre(a) for a in enc],
              "enc_dx": [e(n, s) for s in self.encoder_sizes],
              "mean": mean, "zmean": self._pre(mean, self.pzx), "dmean": e(n, k), "dx": e(n, self.n_in)}
        if key == "pretrain":
            L = self.num_samples
            m = self.encoder_sizes[-1]
            logvar = e(n, k)
            dec = [e(L * n, s) for s in self.decoder_sizes]
            ws.update({"logvar": logvar, "zlogvar": self._pre(logvar, self.pzx), "dlogvar": e(n, k),
                       "kl": e(n), "kl_dims": self.backend.empty((k,), np.float64),
                       "eps": e(L * n, k), "z": e(L * n, k), "dz": e(L * n, k),
                       "dec": dec, "dec_z": [self._pre(d) for d in dec],
                       "dec_dx": [e(L * n, s) for s in self.decoder_sizes],
                       "pre": e(L * n, self.dist_width), "dpre": e(L * n, self.dist_width),
                       "nll": e(L * n), "tmp": e(n, m),
                       "xrep": e(L * n, self.n_in) if L > 1 else None})
        return ws

    # ---- shared pieces -----------------------------------------------------------------------
    def _encode(self, x, ws):
        """Encoder hidden layers into ``ws.enc``; returns the last activation."""
        p = self._params
        a = x
        for i in range(len(self.encoder_sizes)):
            self.kd.dense_forward[self.act](a, p[f"e{i}W"], p[f"e{i}b"], ws.enc_z[i], ws.enc[i])
            a = ws.enc[i]
        return a

    def _encoder_backward(self, x, ws, dh, need_dx):
        """Backprop ``dh`` (gradient w.r.t. the last encoder activation) to the encoder params."""
        p, g = self._params, self._grads
        for i in range(len(self.encoder_sizes) - 1, -1, -1):
            inp = x if i == 0 else ws.enc[i - 1]
            want = i > 0 or need_dx
            dx = (ws.enc_dx[i - 1] if i > 0 else ws.dx) if want else self._dummy
            self.kd.dense_backward[self.act](inp, p[f"e{i}W"], ws.enc_z[i], ws.enc[i], dh,
                              g[f"e{i}W"], g[f"e{i}b"], want, dx)
            dh = dx
        return ws.dx if need_dx else None

    def _decode(self, z, dec, dec_z, pre):
        """Decoder layers into ``dec`` (pre-activations into ``dec_z``) then the pXZ
        affine map into ``pre``."""
        p = self._params
        a = z
        for i in range(len(self.decoder_sizes)):
            self.kd.dense_forward[self.act](a, p[f"d{i}W"], p[f"d{i}b"], dec_z[i], dec[i])
            a = dec[i]
        self.kd.dense_forward[self._identity](a, p["pXZW"], p["pXZb"], pre, pre)

    def _rng(self, rng):
        """The Generator for a public method's ``rng`` argument: None (the network's generator
        when attached, else a fresh one), an int seed >= 0 or a ``np.random.Generator``."""
        if rng is None and self._rng_source is not None:
            return self._rng_source()
        return as_generator(rng, "rng", "VariationalAutoencoder")

    # ---- supervised protocol (encoder only) ------------------------------------------------------
    def forward(self, x, training=False, rng=None):
        ws = self._workspace(x.shape[0])
        h = self._encode(x, ws)
        self.kd.dense_forward[self.pzx](h, self._params["pZXMeanW"], self._params["pZXMeanb"], ws.zmean, ws.mean)
        self._x, self._last = x, ws
        return ws.mean

    def backward(self, delta, need_dx):
        ws = self._last
        for name in self._unused_in_fit():
            self.backend.fill(self._grads[name], 0.0)
        h = ws.enc[-1]
        dh = ws.enc_dx[-1]
        self.kd.dense_backward[self.pzx](h, self._params["pZXMeanW"], ws.zmean, ws.mean, delta,
                          self._grads["pZXMeanW"], self._grads["pZXMeanb"], True, dh)
        return self._encoder_backward(self._x, ws, dh, need_dx)

    # ---- pretraining ---------------------------------------------------------------------------
    def _posterior(self, x, ws):
        h = self._encode(x, ws)
        p = self._params
        self.kd.dense_forward[self.pzx](h, p["pZXMeanW"], p["pZXMeanb"], ws.zmean, ws.mean)
        self.kd.dense_forward[self.pzx](h, p["pZXLogStd2W"], p["pZXLogStd2b"], ws.zlogvar, ws.logvar)
        return h

    def kl_weight(self, step=None):
        """The weight on the KL term at pretrain step ``step`` (float).

        Parameters
        ----------
        step : int >= 0 or None
            The layer's pretrain updater step count before the step (from 0):
            ``beta * min(1, step / kl_warmup_steps)`` (``beta`` without warm-up).  None:
            the full weight ``beta`` (evaluation, outside the training schedule).
        """
        if step is None:
            return self.beta
        step = check_int(step, "step", "VariationalAutoencoder.kl_weight", low=0)
        if self.kl_warmup_steps == 0:
            return self.beta
        return self.beta * min(1.0, step / self.kl_warmup_steps)

    def pretrain_step(self, x, rng, eps=None, step=None):
        """Gradients of the pretrain objective (see the module docstring) into ``grads``;
        returns it (float).

        Parameters
        ----------
        x : [n, n_in] data.
        rng : numpy Generator for the reparameterisation noise.
        eps : optional [num_samples*n, n_out] standard normals (sample-major) fixing the noise.
        step : int >= 0 or None
            The layer's pretrain updater step count before this step (``net.pretrain`` passes
            it), which sets the KL warm-up weight (:meth:`kl_weight`); None: the full ``beta``.
        """
        w = self.kl_weight(step)
        x = self._input(x, lambda h: self.distribution.check_data(h, "features"))  # no copy for own batches
        n = x.shape[0]
        L = self.num_samples
        ws = self._workspace(n, "pretrain")
        p, g = self._params, self._grads
        h = self._posterior(x, ws)
        # (w = 1.0, the default: w / n is 1.0 / n and w * kl_term is kl_term, exactly: DL4J's objective)
        if self.free_bits > 0.0:
            self.kv.kl_normal_dim_means(ws.mean, ws.logvar, ws.kl_dims)
            kl_term = self.kv.free_bits_kl(ws.kl_dims, self.free_bits)
            self.kv.free_bits_kl_grad(ws.mean, ws.logvar, ws.kl_dims, self.free_bits, w / n, ws.dmean, ws.dlogvar)
        else:
            self.kv.kl_normal(ws.mean, ws.logvar, ws.kl)
            kl_term = self.backend.mean(ws.kl)
            self.kv.kl_normal_grad(ws.mean, ws.logvar, w / n, ws.dmean, ws.dlogvar)
        if eps is None:
            self.backend.standard_normal(rng, ws.eps)
        else:
            self.backend.copy(ws.eps, eps)
        self.kv.reparameterize(ws.mean, ws.logvar, ws.eps, ws.z)
        self._decode(ws.z, ws.dec, ws.dec_z, ws.pre)
        xr = x
        if L > 1:
            self.kv.tile_rows(x, L, ws.xrep)
            xr = ws.xrep
        self.distribution.nll_and_grad(xr, ws.pre, 1.0 / (n * L), ws.nll, ws.dpre)
        score = float((w * kl_term if w else 0.0) + self.backend.mean(ws.nll))
        # decoder backward
        nd = len(self.decoder_sizes)
        top = ws.dec[-1]
        self.kd.affine_backward(top, p["pXZW"], ws.dpre, g["pXZW"], g["pXZb"], True, ws.dec_dx[-1])
        for i in range(nd - 1, -1, -1):
            inp = ws.z if i == 0 else ws.dec[i - 1]
            dx = ws.dz if i == 0 else ws.dec_dx[i - 1]
            self.kd.dense_backward[self.act](inp, p[f"d{i}W"], ws.dec_z[i], ws.dec[i], ws.dec_dx[i],
                              g[f"d{i}W"], g[f"d{i}b"], True, dx)
        self.kv.reparameterize_backward(ws.dz, ws.eps, ws.logvar, ws.dmean, ws.dlogvar)
        self.ka.backward[self.pzx](ws.zmean, ws.mean, ws.dmean)
        self.ka.backward[self.pzx](ws.zlogvar, ws.logvar, ws.dlogvar)
        dh = ws.enc_dx[-1]
        self.kv.pzx_backward(h, p["pZXMeanW"], p["pZXLogStd2W"], ws.dmean, ws.dlogvar,
                        g["pZXMeanW"], g["pZXMeanb"], g["pZXLogStd2W"], g["pZXLogStd2b"], True, dh, ws.tmp)
        self._encoder_backward(x, ws, dh, False)
        return score

    # ---- public API (DL4J layer methods) ----------------------------------------------------------
    def _check_x(self, x, name="x"):
        return check_features(x, name=name, n_in=self.n_in, dtype=self.dtype)

    def has_loss_function(self):
        """True when p(x|z) is a loss wrapper (no log-probabilities then)."""
        return self.distribution.has_loss_function()

    def activate(self, x):
        """Latent mean ``pzx_act(h pZXMeanW + pZXMeanb)`` [n, n_out] (a new array)."""
        x = self._check_x(x)
        a = self.forward(self._input(x))
        return a.copy() if not self.backend.is_cuda else self.backend.to_host(a)

    def _check_z(self, z):
        return check_features(z, name="z", n_in=self.n_out, dtype=self.dtype)

    def _pre_given_z(self, z, reuse=False):
        """Decoder pre-output for ``z``: a new array, or (``reuse``) a cached workspace
        buffer that the next call overwrites."""
        n = z.shape[0]
        if reuse:
            ws = self._workspace(n, "decode")
            dec, dec_z, pre = ws.dec, ws.dec_z, ws.pre
        else:
            dec = [self._empty(n, s) for s in self.decoder_sizes]
            dec_z = [self._pre(d) for d in dec]
            pre = self._empty(n, self.dist_width)
        self._decode(z, dec, dec_z, pre)
        return pre

    def generate_at_mean_given_z(self, z):
        """Mean of p(x|z) [n, n_in] (Gaussian: mean; Bernoulli: p; Exponential: 1/lambda;
        loss wrapper: activation output; Composite: per slice)."""
        return self.distribution.mean(self._pre_given_z(self._input(self._check_z(z))))

    def generate_random_given_z(self, z, rng=None):
        """One sample of p(x|z) [n, n_in] per row of ``z``."""
        return self.distribution.sample(self._pre_given_z(self._input(self._check_z(z))), self._rng(rng))

    def _require_log_prob(self, what):
        if self.conf.distribution.uses_loss_function():
            raise NoLogProbabilityError(
                f"{what} is undefined for layer {self.index}: its reconstruction model is a loss function "
                "(LossFunctionWrapper), which has no probability; use reconstruction_error instead")

    def _checked_draws(self, x, num_samples, rng):
        """``x`` checked (width, dtype, the distribution's support) and ``num_samples``
        blocks of standard normals [num_samples, n, n_out] drawn for it."""
        num_samples = check_int(num_samples, "num_samples", "VariationalAutoencoder", low=1)
        x = self._check_x(x)
        self.distribution.check_data(x, "x")
        rng = self._rng(rng)
        return x, rng.standard_normal((num_samples, x.shape[0], self.n_out), dtype=self.dtype)

    def _sample_log_probs(self, x, num_samples, rng, with_prior=False):
        """[num_samples, n] of log p(x|z_l) (+ log p(z_l) - log q(z_l|x) when ``with_prior``)."""
        x, eps = self._checked_draws(x, num_samples, rng)
        out = self._log_probs_given_eps(x, eps, with_prior)
        return self._redo_non_finite_in_float64(
            out, x, eps, lambda layer, xb, eb: layer._log_probs_given_eps(xb, eb, with_prior))

    def _log_probs_given_eps(self, x, eps, with_prior):
        """:meth:`_sample_log_probs` for the standard-normal draws ``eps`` [num_samples, n, k]
        (host arrays; ``x`` checked)."""
        x = self._input(x)
        n = x.shape[0]
        ws = SimpleWs(self, n)
        self._posterior(x, ws)
        out = np.empty((eps.shape[0], n), dtype=np.float64)
        z = self._empty(n, self.n_out)
        nll = self._empty(n)
        dens = self._empty(n)
        host = self.backend.to_host
        for s in range(eps.shape[0]):
            self.kv.reparameterize(ws.mean, ws.logvar, self.backend.from_host(eps[s]), z)
            self.distribution.nll(x, self._pre_given_z(z, reuse=True), nll)
            out[s] = -host(nll)
            if with_prior:
                self.kv.std_normal_log_density(z, dens)
                out[s] += host(dens)
                self.kv.normal_log_density(z, ws.mean, ws.logvar, dens)
                out[s] -= host(dens)
        return out

    def _redo_non_finite_in_float64(self, out, x, eps, compute):
        """Examples (last axis of ``out``) whose float32 result is inf or NaN, recomputed by
        ``compute(layer, x_rows, eps_rows)`` on a float64 copy of this layer with the same
        draws: a posterior log-variance past ~177 makes ``exp(logvar / 2)`` overflow
        float32, and the decoder then turns the infinite z into NaN, where in float64 the
        result is a finite number (or the right +-inf)."""
        bad = ~np.isfinite(out)
        if out.ndim == 2:
            bad = bad.any(axis=0)
        if self.dtype == np.float64 or not bad.any():
            return out
        wide = self._float64_copy()
        out[..., bad] = compute(wide, x[bad].astype(np.float64), eps[:, bad].astype(np.float64))
        return out

    def _float64_copy(self):
        """An inference-only float64 copy of this layer (parameters cast, not shared)."""
        wide = copy.copy(self)
        wide.dtype = np.dtype(np.float64)
        params = {k: self.backend.to_host(v).astype(np.float64) for k, v in self._params.items()}
        wide.use_backend(CPU)    # the float64 redo runs on the host
        wide._params = params
        wide._grads = {}
        wide.distribution = build_distribution(self.conf.distribution, np.float64)
        return wide

    def reconstruction_log_probability(self, x, num_samples=1, estimator="mean_log", rng=None):
        """Per-example reconstruction log-probability [n] (float64).

        ``estimator="mean_log"`` (DL4J): mean over ``num_samples`` draws z ~ q(z|x) of
        log p(x|z).  ``"log_mean_exp"``: log of the mean of p(x|z) (An & Cho's Monte-Carlo
        reconstruction probability), by log-sum-exp.
        """
        self._require_log_prob("reconstruction_log_probability")
        check_choice(estimator, "estimator", "VariationalAutoencoder", ("mean_log", "log_mean_exp"))
        lp = self._sample_log_probs(x, num_samples, rng)
        if estimator == "mean_log":
            return lp.mean(axis=0)
        return _log_mean_exp(lp)

    def reconstruction_probability(self, x, num_samples=1, estimator="mean_log", rng=None):
        """``exp(reconstruction_log_probability(...))`` [n]."""
        return np.exp(self.reconstruction_log_probability(x, num_samples, estimator, rng))

    def log_likelihood_estimate(self, x, num_samples=50, rng=None):
        """Importance-weighted (IWAE) estimate of ``log p(x)`` [n]:
        ``log mean_k p(x|z_k) p(z_k) / q(z_k|x)``, z_k ~ q(z|x); a lower bound that
        tightens as ``num_samples`` grows (Burda et al. 2016)."""
        self._require_log_prob("log_likelihood_estimate")
        return _log_mean_exp(self._sample_log_probs(x, num_samples, rng, with_prior=True))

    def elbo(self, x, num_samples=None, rng=None):
        """The evidence lower bound per example [n] (float64):
        ``mean_over_samples log p(x|z) - KL(q(z|x) || N(0, I))``, z ~ q(z|x), whatever
        ``beta``, ``kl_warmup_steps`` and ``free_bits`` the layer trains with (weight 1, no
        floor), so models trained with different KL settings compare on one scale.
        ``log_likelihood_estimate`` is the tighter IWAE bound.

        Parameters
        ----------
        x : [n, n_in] data in the distribution's support.
        num_samples : int >= 1 or None (default: the layer's ``num_samples``).
        rng : None, int seed or ``np.random.Generator`` (as the other sampling methods).

        Raises
        ------
        NoLogProbabilityError
            For a loss-function wrapper (no probability, hence no ELBO).
        """
        self._require_log_prob("elbo")
        x, eps = self._checked_draws(x, self.num_samples if num_samples is None else num_samples, rng)
        neg = self._redo_non_finite_in_float64(self._neg_elbo_given_eps(x, eps, 1.0), x, eps,
                                               lambda layer, xb, eb: layer._neg_elbo_given_eps(xb, eb, 1.0))
        return -neg

    def reconstruction_error(self, x):
        """Per-example loss [n] between ``x`` and the reconstruction at the latent mean
        (loss-function wrapper only, as DL4J)."""
        if not self.distribution.has_loss_function():
            raise ValueError(f"reconstruction_error needs a LossFunctionWrapper on layer {self.index}; "
                             "this layer has a probabilistic reconstruction distribution "
                             "(use reconstruction_log_probability)")
        x = self._check_x(x)
        self.distribution.check_data(x, "x")
        x = self._input(x)
        mean = self._empty(x.shape[0], self.n_out)
        self.backend.copy(mean, self.forward(x))
        out = self._empty(x.shape[0])
        self.distribution.nll(x, self._pre_given_z(mean), out)
        return self.backend.to_host(out)

    def example_scores_unsupervised(self, x, rng=None):
        """Per-example score [n] (float64): ``beta * KL - mean_over_samples log p(x|z)``
        (the negative ELBO with the defaults).  The full weight ``beta`` (no warm-up: that is
        a training schedule) and no free-bits floor (free bits are defined over a minibatch;
        :meth:`score` applies them)."""
        if not self.backend.is_device_array(x):
            self.distribution.check_data(x, "x")
        rng = self._rng(rng)
        eps = rng.standard_normal((self.num_samples, x.shape[0], self.n_out), dtype=self.dtype)
        return self._neg_elbo_redone(x, eps, self.beta)

    def _neg_elbo_redone(self, x, eps, kl_weight):
        """:meth:`_neg_elbo_given_eps` with non-finite float32 examples redone in float64."""
        return self._redo_non_finite_in_float64(self._neg_elbo_given_eps(x, eps, kl_weight), x, eps,
                                                lambda layer, xb, eb: layer._neg_elbo_given_eps(xb, eb, kl_weight))

    def _neg_elbo_given_eps(self, x, eps, kl_weight):
        """Per-example ``kl_weight * KL - mean_over_samples log p(x|z)`` [n] (float64) for
        the draws ``eps`` [num_samples, n, k]; ``kl_weight`` None or 0: the NLL term alone."""
        x = self._input(x)
        n = x.shape[0]
        ws = SimpleWs(self, n)
        self._posterior(x, ws)
        if not kl_weight:   # None or 0: the NLL term alone (no 0 * inf = NaN for an infinite KL)
            total = np.zeros(n, dtype=np.float64)
        else:
            kl = self._empty(n)
            self.kv.kl_normal(ws.mean, ws.logvar, kl)
            total = self.backend.to_host(kl).astype(np.float64) * kl_weight   # exact for the default 1.0
        L = eps.shape[0]
        z = self._empty(n, self.n_out)
        nll = self._empty(n)
        for s in range(L):
            self.kv.reparameterize(ws.mean, ws.logvar, self.backend.from_host(eps[s]), z)
            self.distribution.nll(x, self._pre_given_z(z, reuse=True), nll)
            total += self.backend.to_host(nll) / L
        return total

    def score(self, x, rng=None):
        """The pretrain objective (no regularisation) on ``x`` as one minibatch, at the full
        KL weight ``beta`` (float): ``mean_i NLL_i + beta * sum_j max(free_bits, mean_i KL_ij)``;
        without free bits the mean of :meth:`example_scores_unsupervised` (the negative ELBO
        with the defaults)."""
        x = self._check_x(x)
        if self.free_bits == 0.0:
            return float(np.mean(self.example_scores_unsupervised(x, rng)))
        self.distribution.check_data(x, "x")
        rng = self._rng(rng)
        eps = rng.standard_normal((self.num_samples, x.shape[0], self.n_out), dtype=self.dtype)
        nll = self._neg_elbo_redone(x, eps, None)
        ws = SimpleWs(self, x.shape[0])
        self._posterior(self._input(x), ws)
        dims = self.backend.empty((self.n_out,), np.float64)
        self.kv.kl_normal_dim_means(ws.mean, ws.logvar, dims)
        return float(np.mean(nll) + self.beta * self.kv.free_bits_kl(dims, self.free_bits))


class SimpleWs:
    """Fresh (uncached) encoder/posterior buffers for inference-time methods."""

    def __init__(self, layer, n):
        e = layer._empty
        self.enc = [e(n, s) for s in layer.encoder_sizes]
        self.enc_z = [layer._pre(a) for a in self.enc]
        self.mean = e(n, layer.n_out)
        self.logvar = e(n, layer.n_out)
        self.zmean = layer._pre(self.mean, layer.pzx)
        self.zlogvar = layer._pre(self.logvar, layer.pzx)


def _log_mean_exp(lp):
    """``log mean_s exp(lp[s])`` per column of ``lp`` [S, n] (float64)."""
    out = np.empty(lp.shape[1], dtype=np.float64)
    _kv.logsumexp_rows(np.ascontiguousarray(lp.T), out)
    return out - np.log(lp.shape[0])
