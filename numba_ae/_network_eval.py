"""The epoch loop, validation history and classification metrics of ``MultiLayerNetwork``
(a mixin of it; private: only ``numba_ae.network`` imports this module).

* ``_run_epochs``: the epoch loop of ``fit`` and ``pretrain_layer``: each minibatch is
  checked and stepped; at each epoch end the validation score is computed (when
  validation data was given), a record is appended to ``net.history``, the listeners'
  ``on_epoch_end`` run, and the loop ends early when ``net.stop_training`` was set (by a
  listener such as :class:`~numba_ae.listeners.EarlyStopping`).
* ``predict`` / ``evaluate``: class predictions and :class:`~numba_ae.evaluation.Evaluation`.
* ``pretrain_score``: the pretrain objective of one layer on data (the validation score
  of ``pretrain``).

Validation never changes training: the network's RNG state is saved before the
validation pass and restored after it, so a run with validation trains bitwise like
one without.
"""
import time

import numpy as np

from ._network_data import _safe_len
from .config import OutputLayer as _OutputConf
from .data import DataSetIterator
from .evaluation import Evaluation

#: Rows per chunk of the validation/evaluation passes.
_CHUNK = 4096


class _NetworkEval:
    """Mixin of :class:`numba_ae.network.MultiLayerNetwork`: epoch loop, history, metrics."""

    # ================================================================== epoch loop
    def _run_epochs(self, it, epochs, need_labels, step, validation=None, phase="fit", layer=None):
        """``epochs`` passes over ``it``: validate/convert each batch, ``step(x, y)`` (returns
        the minibatch score), listeners; one ``history`` record per epoch; stops early when
        ``stop_training`` is set during an epoch (it is reset here, at the start)."""
        trusted = isinstance(it, DataSetIterator)
        self.stop_training = False
        for ls in self.listeners:
            ls.on_train_start(self, phase, layer)
        for _ in range(epochs):
            t0 = time.perf_counter()
            self._notify_epoch_start(self.epoch_count, _safe_len(it))
            total, n = 0.0, 0
            for k, ds in enumerate(it):
                total += step(*self._batch(ds, need_labels, trusted, it, k))
                n += 1
            self.epoch_count += 1
            val = None if validation is None else self._validation_score(validation, layer)
            rec = {"phase": phase, "epoch": self.epoch_count, "score": total / n if n else None,
                   "val_score": val, "seconds": time.perf_counter() - t0}
            if phase == "pretrain":
                rec["layer"] = layer
            self.history.append(rec)
            self._notify_epoch_end()
            if self.stop_training:
                break

    def _validation_source(self, validation, layer=None):
        """``validation`` checked once, up front, as a re-iterable of DataSet (None stays None)."""
        if validation is None:
            return None
        supervised = layer is None and isinstance(self.layers[-1].conf, _OutputConf)
        return self._as_iterator(validation, None, _CHUNK, need_labels=supervised)

    def _validation_score(self, val, layer):
        """``score(val)`` (fit) or ``pretrain_score(layer, val)`` (pretrain), leaving the RNG as it was."""
        state = self._rng.bit_generator.state
        try:
            return self.score(val) if layer is None else self.pretrain_score(layer, val)
        finally:
            self._rng.bit_generator.state = state

    def pretrain_score(self, i, data):
        """The pretrain objective of pretrainable layer ``i`` on ``data`` (features; labels are
        ignored): the mean over examples of the layer's objective on its input (the inference
        output of the layers below; for an AutoEncoder the uncorrupted loss, for a VAE the
        negative ELBO) plus layer ``i``'s l1/l2 terms: the score ``pretrain`` trains on, and
        its ``val_score``.  Equals ``score(data)`` when ``i`` is the last layer and no other
        layer has l1/l2."""
        self._check_init()
        layer = self.get_layer(i)
        i = layer.index
        if not layer.pretrainable:
            raise ValueError(f"layer {i} ({type(layer.conf).__name__}) is not pretrainable")
        it = self._as_iterator(data, None, _CHUNK, need_labels=False)
        return self._mean_example_score(it, False, i) + self.regularization_score(layers=[i])

    # ================================================================== classification
    def _check_classifier(self, what):
        self._check_init()
        if not isinstance(self.layers[-1].conf, _OutputConf):
            raise ValueError(f"{what} needs an OutputLayer as the last layer (class = argmax of its "
                             f"output); the last layer is {type(self.layers[-1].conf).__name__}")

    def predict(self, x):
        """Predicted class of each row of ``x`` [n, n_in]: the argmax of the output layer
        (int64 array [n]; ties go to the lowest class)."""
        self._check_classifier("predict")
        x = self._features(x, name="x")
        out = np.empty(x.shape[0], dtype=np.int64)
        for s in range(0, x.shape[0], _CHUNK):
            out[s:s + _CHUNK] = np.argmax(self._to_host(self._forward(x[s:s + _CHUNK])), axis=1)
        return out

    def evaluate(self, data, labels=None):
        """Classification metrics of the network on labelled ``data``.

        Parameters
        ----------
        data : what ``fit`` accepts: a DataSetIterator or iterable of DataSet, a DataSet, a
            ``(features, labels)`` tuple, or a features array with ``labels=``.  Labels are
            one-hot or probability rows (true class = argmax of the row), or, in the tuple
            and array forms, a 1-D integer array of class indices.

        Returns
        -------
        numba_ae.Evaluation
        """
        self._check_classifier("evaluate")
        k = self.layers[-1].n_out
        y = labels if not isinstance(data, tuple) or len(data) != 2 else data[1]
        if isinstance(y, (np.ndarray, list)) and np.ndim(y) == 1:
            if labels is not None and isinstance(data, tuple):
                raise ValueError("'labels' must be None when 'data' is a tuple (it holds its own labels)")
            y = np.asarray(y)
            if not np.issubdtype(y.dtype, np.integer):
                raise TypeError(f"1-D labels must be integer class indices; got a {y.dtype} array")
            x = data[0] if isinstance(data, tuple) else data
            pred = self.predict(x)
            if y.shape[0] != pred.shape[0]:
                raise ValueError(f"'labels' has {y.shape[0]} entries but the features have {pred.shape[0]} rows")
            return Evaluation(y, pred, k)
        it = self._as_iterator(data, labels, _CHUNK, need_labels=True)
        trusted = isinstance(it, DataSetIterator)
        true, pred = [], []
        for b, ds in enumerate(it):
            x, yb = self._batch(ds, True, trusted, it, b)
            pred.append(np.argmax(self._to_host(self._forward(x)), axis=1))
            true.append(np.argmax(yb, axis=1))
        if not true:
            raise ValueError("'data' holds no examples")
        return Evaluation(np.concatenate(true), np.concatenate(pred), k)
