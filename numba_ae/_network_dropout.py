"""Dropout and gradient normalization of ``MultiLayerNetwork`` (a mixin of it; private:
only ``numba_ae.network`` imports this module).

* Dropout (``dropout`` > 0 for a layer, resolved from the layer config or the network
  default): in ``fit`` only, the input of that layer is replaced by an inverted-dropout copy
  (``kernels.dropout``) in a buffer of this mixin, so the caller's array and the layer
  below's output stay untouched; the layer's own forward then sees the dropped-out input (its
  weight gradient uses it), and backward multiplies the gradient handed to the layer below by
  the same mask.  Masks are raw 32-bit words of the network's generator (``self._rng``),
  drawn layer by layer in forward order; with dropout 0 nothing is drawn.
* Gradient normalization (``gradient_normalization`` for a layer): applied to the layer's
  averaged gradient before the l1/l2 gradient is added (``numba_ae.gradient_normalization``).
"""
from collections import OrderedDict

import numpy as np

from .gradient_normalization import normalize_gradient
from .kernels import corruption as _kc

#: Batch sizes whose dropout buffers are kept per layer (an epoch's last, smaller batch
#: does not evict the regular size).
_MAX_SIZES = 3


class _NetworkDropout:
    """Mixin of :class:`numba_ae.network.MultiLayerNetwork`: dropout and gradient normalization."""

    def _init_layer_params(self):
        """Per-layer resolved dropout / gradient-normalization settings (called by ``init``)."""
        conf = self.conf
        n = len(conf.layers)
        self._dropout = [conf.resolved(i, "dropout") for i in range(n)]
        self._dropout_thresholds = [_kc.bits_threshold(p) for p in self._dropout]
        self._dropout_ws = [OrderedDict() for _ in range(n)]
        self._dropout_mask = [None] * n  # the mask of the current fit step, per layer (or None)
        self._grad_norm = [(conf.resolved(i, "gradient_normalization"),
                            conf.resolved(i, "gradient_normalization_threshold")) for i in range(n)]

    def _dropout_buffers(self, i, shape):
        cache = self._dropout_ws[i]
        ws = cache.get(shape[0])
        if ws is None:
            ws = (self._backend.empty(shape, self.dtype), self._backend.empty(shape, self.dtype))
            cache[shape[0]] = ws
            while len(cache) > _MAX_SIZES:
                cache.popitem(last=False)
        return ws

    def _dropout_forward(self, i, a):
        """The input of layer ``i`` for a fit step: ``a`` itself without dropout, else a
        dropped-out copy (a buffer) whose mask is kept for :meth:`_dropout_backward`."""
        p = self._dropout[i]
        if p == 0.0:
            self._dropout_mask[i] = None
            return a
        out, mask = self._dropout_buffers(i, a.shape)
        bits = self._rng.bit_generator.random_raw((a.size + 1) // 2).view(np.uint32)
        self._backend.dropout.dropout_forward(a, self._backend.from_host(bits), self._dropout_thresholds[i],
                                              self.dtype.type(1.0 / (1.0 - p)), out, mask)
        self._dropout_mask[i] = mask
        return out

    def _dropout_backward(self, i, delta):
        """``delta`` (gradient w.r.t. layer ``i``'s dropped-out input; overwritten) as the
        gradient w.r.t. the output of layer ``i - 1``."""
        mask = self._dropout_mask[i]
        if mask is not None:
            self._backend.dropout.dropout_backward(delta, mask)
        return delta

    def _normalize_gradient(self, i):
        """Apply layer ``i``'s gradient normalization (if any) to its gradient, in place."""
        mode, threshold = self._grad_norm[i]
        if mode is None or mode == "none":
            return
        layer = self.layers[i]
        normalize_gradient(mode, threshold, self._flat_grad[self._slices[i]],
                           [g.reshape(-1) for g in layer._grads.values()], self._backend.gradient_normalization)
