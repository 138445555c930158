"""Training listeners (DL4J ``TrainingListener``): called by the network."""
import sys

from .validation import check_int


class TrainingListener:
    """Base listener; override any hook."""

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
