"""Denoising AutoEncoder layer (tied weights)."""
import numpy as np

from ..data import check_loss_targets
from ..kernels import corruption as kc
from ..registries import loss_code
from .dense import DenseLayer


class AutoEncoder(DenseLayer):
    """Denoising autoencoder: encode ``h = f(x~ @ W + b)``, decode ``r = f(h @ W.T + vb)``.

    In the network's supervised pass it is its encoder (no corruption, no decode).
    :meth:`pretrain_step` minimises ``mean_n loss(r, x) + sparsity * mean_n sum_j |h_j|``
    with ``x~`` = ``x`` with each value zeroed with probability ``corruption_level``.
    This is the true gradient of that objective (DL4J's hand-written one ignores
    the configured loss).
    """

    pretrainable = True

    def __init__(self, conf, index, net_conf):
        super().__init__(conf, index, net_conf)
        self.corruption_level = conf.corruption_level
        self._threshold = kc.bits_threshold(conf.corruption_level)
        self.sparsity = conf.sparsity
        self.loss = conf.loss
        self.loss_code = loss_code(conf.loss)

    def param_specs(self):
        return [("W", (self.n_in, self.n_out), False), ("b", (self.n_out,), True),
                ("vb", (self.n_in,), True)]

    def _allocate(self, n, key):
        if key != "pretrain":
            return super()._allocate(n, key)
        # Rows [0, n) of `stack_in` hold the corrupted input and rows [n, 2n) the decoder
        # delta; rows [0, n) of `stack_h` hold the hidden delta and [n, 2n) the code h, so
        # the tied-weight gradient x~^T dh + dr^T h is one GEMM: stack_in^T @ stack_h.
        stack_h = self._empty(2 * n, self.n_out)
        return {"stack_in": self._empty(2 * n, self.n_in),
                "stack_h": stack_h, "zh": self._pre(stack_h[n:]), "zr": self._empty(n, self.n_in),
                "r": self._empty(n, self.n_in), "scores": self._empty(n),
                "act": self._empty(n)}

    def backward(self, delta, need_dx):
        # The supervised pass does not use vb: its gradient is zero (as DL4J's
        # backpropGradient), not whatever the last pretrain_step left in the buffer.
        self.backend.fill(self._grads["vb"], 0.0)
        return super().backward(delta, need_dx)

    def _reconstruct(self, x):
        """``(h, z, r)``: code, decoder pre-activation and reconstruction of ``x`` without
        corruption (new arrays)."""
        h = self._empty(x.shape[0], self.n_out)
        self.kd.dense_forward[self.act](x, self._params["W"], self._params["b"], self._pre(h), h)
        z = self._empty(*x.shape)
        r = self._empty(*x.shape)
        self.kd.dense_transposed_forward_keep_z[self.act](h, self._params["W"], self._params["vb"], z, r)
        return h, z, r

    def reconstruct(self, x):
        """Decode(encode(x)) without corruption; returns a new host array [n, n_in]."""
        return self.backend.to_host(self._reconstruct(self._input(x))[2])

    def pretrain_step(self, x, rng, u=None, step=None):
        """Gradients of the pretrain objective into ``grads``; returns the objective (float).

        Parameters
        ----------
        x : [n, n_in] clean input.
        rng : numpy Generator for the corruption mask.
        u : optional [n, n_in] uniform draws fixing the mask (value zeroed where ``u < level``).
        step : the layer's pretrain step count (the network passes it); unused: the objective
            has no schedule.
        """
        x = self._input(x, self.check_targets)  # no copy for the network's own batches
        if u is not None:
            u = self.backend.from_host(u, self.dtype)
        n = x.shape[0]
        ws = self._workspace(n, "pretrain")
        W, b, vb = self._params["W"], self._params["b"], self._params["vb"]
        xt, dr = ws.stack_in[:n], ws.stack_in[n:]
        h = ws.stack_h[n:]
        if u is not None:
            self.kc.corrupt(x, u, self.corruption_level, xt)
        elif self.corruption_level > 0.0:
            # raw 32-bit words: ~2.5x cheaper than uniform floats from the Generator
            bits = rng.bit_generator.random_raw((n * self.n_in + 1) // 2).view(np.uint32)
            self.kc.corrupt_bits(x, self.backend.from_host(bits), self._threshold, xt)
        else:
            self.backend.copy(xt, x)
        act = self.act
        self.kd.dense_forward[act](xt, W, b, ws.zh, h)
        self.kd.dense_transposed_forward_keep_z[act](h, W, vb, ws.zr, ws.r)
        self.kl.loss_score_and_grad[act](x, ws.r, ws.zr, self.loss_code, 1.0 / n, ws.scores, dr)
        score = self.backend.mean(ws.scores)
        if self.sparsity > 0.0:
            self.kd.abs_row_sums(h, ws.act)
            score += self.sparsity * self.backend.mean(ws.act)
        self.kd.tied_autoencoder_backward[act](ws.stack_in, ws.stack_h, ws.zh, W, self.sparsity / n,
                                          self._grads["W"], self._grads["b"], self._grads["vb"])
        return score

    def check_targets(self, x, name="features"):
        """Raise ``ValueError`` when the data (the reconstruction targets) are outside the
        loss's domain (``xent`` needs values in [0, 1])."""
        check_loss_targets(x, self.loss, name, f"layer {self.index} (AutoEncoder, loss={self.loss!r})")

    def example_scores_unsupervised(self, x, rng=None):
        """Per-example pretrain objective without corruption: ``loss(r, x) + sparsity * sum|h|``
        [n] (a host array)."""
        x = self._input(x, self.check_targets)
        n = x.shape[0]
        h, z, r = self._reconstruct(x)
        s = self._empty(n)
        self.kl.loss_score[self.act](x, r, z, self.loss_code, s)
        s = self.backend.to_host(s)
        if self.sparsity > 0.0:
            a = self._empty(n)
            self.kd.abs_row_sums(h, a)
            s += self.sparsity * self.backend.to_host(a)
        return s
