"""Training listeners (DL4J ``TrainingListener``): called by the network.

Hooks, in order: ``on_train_start(net, phase, layer)`` once per ``fit`` call or per layer
of ``pretrain`` (``phase`` is ``"fit"`` or ``"pretrain"``, ``layer`` the pretrained layer's
index or None); per epoch ``on_epoch_start(net, epoch, n_batches)``, one
``iteration_done(net, iteration, epoch, score)`` per minibatch, then ``on_epoch_end(net,
epoch)`` with ``epoch = net.epoch_count`` (epochs completed) after the epoch's record was
appended to ``net.history``.  A listener ends the run after the current epoch by setting
``net.stop_training = True`` (the network resets it at the start of each run).
"""
import math
import os
import sys

from .validation import check_bool, check_int, check_number


class TrainingListener:
    """Base listener; override any hook."""

    def on_train_start(self, net, phase, layer):
        pass

    def on_epoch_start(self, net, epoch, n_batches):
        pass

    def iteration_done(self, net, iteration, epoch, score):
        pass

    def on_epoch_end(self, net, epoch):
        pass


class ScoreListener(TrainingListener):
    """Print the minibatch score every ``every_n`` iterations (DL4J ``ScoreIterationListener``)."""

    def __init__(self, every_n=10, printer=None):
        self.every_n = check_int(every_n, "every_n", "ScoreListener", low=1)
        self.printer = printer if printer is not None else (lambda s: print(s, file=sys.stdout, flush=True))
        self.history = []

    def iteration_done(self, net, iteration, epoch, score):
        if iteration % self.every_n == 0:
            self.history.append((iteration, score))
            self.printer(f"Score at iteration {iteration} (epoch {epoch}) is {score:.6g}")


class ProgressBarListener(TrainingListener):
    """A tqdm progress bar per epoch (needs the ``progress`` extra: ``pip install numba_ae[progress]``)."""

    def __init__(self, **tqdm_kwargs):
        try:
            import tqdm  # noqa: F401
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("ProgressBarListener needs tqdm: pip install 'numba_ae[progress]'") from e
        self._kwargs = tqdm_kwargs
        self._bar = None

    def on_epoch_start(self, net, epoch, n_batches):
        from tqdm import tqdm
        self._bar = tqdm(total=n_batches, desc=f"epoch {epoch}", **self._kwargs)

    def iteration_done(self, net, iteration, epoch, score):
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix(score=f"{score:.4g}", refresh=False)

    def on_epoch_end(self, net, epoch):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class EarlyStopping(TrainingListener):
    """Stop a run when the validation score has not improved for ``patience`` epochs.

    Watches ``net.history[-1]["val_score"]`` at each epoch end (lower is better; it needs
    ``validation=`` in ``fit``/``pretrain``, else ``ValueError`` at the first epoch end).  An
    epoch improves when its score is below the best so far by more than ``min_delta``.
    After ``patience`` epochs in a row without improvement it sets ``net.stop_training``
    and, with ``restore_best``, copies the parameters of the best epoch back (the updater
    state and counters stay as they are).  A run that ends without stopping keeps its last
    parameters.  The state is reset at each run (each ``fit`` call, each pretrained layer).

    Attributes
    ----------
    best_score, best_epoch : the best validation score of the current run and its epoch.
    stopped_epoch : the epoch at which the last run was stopped (None if it was not).
    """

    def __init__(self, patience=5, min_delta=0.0, restore_best=True):
        self.patience = check_int(patience, "patience", "EarlyStopping", low=0)
        self.min_delta = check_number(min_delta, "min_delta", "EarlyStopping", low=0.0)
        self.restore_best = check_bool(restore_best, "restore_best", "EarlyStopping")
        self._reset()
        self.stopped_epoch = None

    def _reset(self):
        self.best_score, self.best_epoch, self._best_params, self._wait = math.inf, None, None, 0

    def on_train_start(self, net, phase, layer):
        self._reset()
        self.stopped_epoch = None

    def on_epoch_end(self, net, epoch):
        val = net.history[-1]["val_score"] if net.history else None
        if val is None:
            raise ValueError("EarlyStopping watches the validation score: pass validation data, "
                             "e.g. net.fit(train, validation=(x_val, y_val))")
        if val < self.best_score - self.min_delta:
            self.best_score, self.best_epoch, self._wait = val, epoch, 0
            if self.restore_best:
                self._best_params = net.params()
            return
        self._wait += 1
        if self._wait >= self.patience:
            net.stop_training = True
            self.stopped_epoch = epoch
            if self.restore_best and self._best_params is not None:
                net.set_params(self._best_params)


class CheckpointListener(TrainingListener):
    """Save the network (``net.save``, atomic) every ``every_epochs`` epochs.

    ``path`` is formatted with the epoch (``net.epoch_count``): ``"ckpt-{epoch:04d}.h5"``; a
    path without an ``{epoch}`` field gets ``-{epoch:04d}`` before its suffix
    (``model.h5`` -> ``model-0003.h5``).  Only the ``keep_last`` newest checkpoints this
    listener wrote are kept (None: all).  ``saved`` lists the kept paths, oldest first.
    """

    def __init__(self, path, every_epochs=1, keep_last=3, save_updater=True, normalizer=None):
        path = os.fspath(path)
        if not isinstance(path, str):
            raise TypeError(f"CheckpointListener: 'path' must be a str or path; got {type(path).__name__}")
        if "{epoch" not in path:
            root, ext = os.path.splitext(path)
            esc = str.maketrans({"{": "{{", "}": "}}"})
            path = root.translate(esc) + "-{epoch:04d}" + ext.translate(esc)
        try:
            path.format(epoch=0)
        except (KeyError, IndexError, ValueError) as e:
            raise ValueError(f"CheckpointListener: 'path' must be formattable with only an epoch field; "
                             f"got {path!r} ({e})") from None
        self.path = path
        self.every_epochs = check_int(every_epochs, "every_epochs", "CheckpointListener", low=1)
        self.keep_last = check_int(keep_last, "keep_last", "CheckpointListener", low=1, allow_none=True)
        self.save_updater = check_bool(save_updater, "save_updater", "CheckpointListener")
        self.normalizer = normalizer
        self.saved = []

    def on_epoch_end(self, net, epoch):
        if epoch % self.every_epochs:
            return
        p = self.path.format(epoch=epoch)
        net.save(p, save_updater=self.save_updater, normalizer=self.normalizer)
        if p in self.saved:
            self.saved.remove(p)
        self.saved.append(p)
        while self.keep_last is not None and len(self.saved) > self.keep_last:
            old = self.saved.pop(0)
            try:
                os.remove(old)
            except FileNotFoundError:
                pass
