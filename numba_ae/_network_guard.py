"""The divergence guard of ``MultiLayerNetwork`` (a mixin of it; private: only
``numba_ae.network`` imports this module): after the gradients of a training step are
computed and before any of them is applied, a non-finite score or gradient stops
training with :class:`~numba_ae.errors.TrainingDivergedError`.

Cost: one vectorised pass over the gradients of the layers being trained
(``kernels.updaters.all_finite``); measured in the session note of the issue that added
it (about 5-10% of a training step at batch 16, 2-4% at batch 128 on a 2-core Xeon).
"""
import math

import numpy as np

from .errors import TrainingDivergedError


class _NetworkGuard:
    """Mixin of :class:`numba_ae.network.MultiLayerNetwork`: its divergence guard."""

    def _guard(self, score, layer_ids, x, y=None):
        """The divergence guard: raise :class:`TrainingDivergedError` when ``score`` or the
        gradient of the layers ``layer_ids`` is non-finite (before any update is applied)."""
        grads = self._flat_grad if len(layer_ids) == len(self.layers) else self._flat_grad[self._slices[layer_ids[0]]]
        if math.isfinite(score) and self._backend.updaters.all_finite(grads):
            return
        layer_i, param = layer_ids[-1], None
        for i in layer_ids:
            bad = [name for name, g in self.layers[i].grads.items() if not np.all(np.isfinite(g))]
            if bad:
                layer_i, param = i, bad[0]
                break
        x = self._to_host(x)
        y = None if y is None else self._to_host(y)
        input_bad = not np.all(np.isfinite(x)) or (y is not None and not np.all(np.isfinite(y)))
        layer = self.layers[layer_i]
        what = (f"non-finite gradient of {param!r} in layer {layer_i} ({type(layer.conf).__name__})"
                if param is not None else f"non-finite score ({score!r}) of layer {layer_i} "
                                          f"({type(layer.conf).__name__})")
        last = self._last_score
        msg = (f"training diverged at iteration {self.iteration_count}, epoch {self.epoch_count}: {what}"
               + ("; the input batch was non-finite (NaN or inf in its features or labels)" if input_bad else "")
               + f". The step was not applied: the network keeps the parameters and updater state of its "
                 f"last finite step (last finite score: {last!r}). Lower the learning rate or check the data; "
                 f"MultiLayerNetwork(conf, nan_guard=False) trains on regardless.")
        raise TrainingDivergedError(msg, layer=layer_i, parameter=param, iteration=self.iteration_count,
                                    epoch=self.epoch_count, last_score=last, input_non_finite=input_bad)
