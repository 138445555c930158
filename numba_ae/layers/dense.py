"""Dense and Output layers."""
from ..data import check_loss_targets
from ..registries import loss_code
from .base import Layer


class DenseLayer(Layer):
    """``a = f(x @ W + b)``; params ``W`` [n_in, n_out], ``b`` [n_out]."""

    def param_specs(self):
        return [("W", (self.n_in, self.n_out), False), ("b", (self.n_out,), True)]

    def _allocate(self, n, key):
        a = self._empty(n, self.n_out)
        return {"a": a, "z": self._pre(a), "dx": self._empty(n, self.n_in)}

    def forward(self, x, training=False, rng=None):
        ws = self._workspace(x.shape[0])
        self.kd.dense_forward[self.act](x, self._params["W"], self._params["b"], ws.z, ws.a)
        self._x, self._last = x, ws
        return ws.a

    def backward(self, delta, need_dx):
        ws = self._last
        self.kd.dense_backward[self.act](self._x, self._params["W"], ws.z, ws.a, delta,
                          self._grads["W"], self._grads["b"], need_dx, ws.dx if need_dx else self._dummy)
        return ws.dx if need_dx else None


class OutputLayer(DenseLayer):
    """Dense layer with a loss; keeps the pre-activation for the stable fused forms."""

    def __init__(self, conf, index, net_conf):
        super().__init__(conf, index, net_conf)
        self.loss = conf.loss
        self.loss_code = loss_code(conf.loss)

    def _allocate(self, n, key):
        return {"a": self._empty(n, self.n_out), "z": self._empty(n, self.n_out),
                "delta": self._empty(n, self.n_out), "dx": self._empty(n, self.n_in),
                "scores": self._empty(n)}

    def forward(self, x, training=False, rng=None):
        ws = self._workspace(x.shape[0])
        self.kd.dense_forward_keep_z[self.act](x, self._params["W"], self._params["b"], ws.z, ws.a)
        self._x, self._last = x, ws
        return ws.a

    def check_targets(self, y, name="labels"):
        """Raise ``ValueError`` when ``y`` is outside the loss's domain (e.g. ``xent`` labels
        outside [0, 1], ``mcxent`` rows not summing to 1)."""
        check_loss_targets(y, self.loss, name, f"layer {self.index} (OutputLayer, loss={self.loss!r})")

    def example_scores(self, y):
        """Per-example loss [n] of the last forward pass against labels ``y`` (on the
        layer's device; a reused buffer)."""
        y = self._input(y, self.check_targets)
        ws = self._last
        self.kl.loss_score[self.act](y, ws.a, ws.z, self.loss_code, ws.scores)
        return ws.scores

    def backward_from_labels(self, y, need_dx):
        """Gradients of the minibatch-mean loss; returns dLoss/dx (or None)."""
        y = self._input(y, self.check_targets)
        ws = self._last
        self.kl.loss_grad[self.act](y, ws.a, ws.z, self.loss_code, 1.0 / y.shape[0], ws.delta)
        return self._affine_backward(ws, need_dx)

    def score_and_backward(self, y, need_dx):
        """:meth:`example_scores` and :meth:`backward_from_labels` in one pass over the
        output (a training step needs both); returns ``(scores [n], dLoss/dx or None)``."""
        y = self._input(y, self.check_targets)
        ws = self._last
        self.kl.loss_score_and_grad[self.act](y, ws.a, ws.z, self.loss_code, 1.0 / y.shape[0],
                                         ws.scores, ws.delta)
        return ws.scores, self._affine_backward(ws, need_dx)

    def _affine_backward(self, ws, need_dx):
        self.kd.affine_backward(self._x, self._params["W"], ws.delta, self._grads["W"], self._grads["b"],
                           need_dx, ws.dx if need_dx else self._dummy)
        return ws.dx if need_dx else None
