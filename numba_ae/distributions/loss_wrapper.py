"""Loss-function wrapper: a deterministic loss on ``activation(pXZ pre-output)`` in place
of a probability model (DL4J ``lossFunction(activation, loss)``).  It has no
log-probability; its kernels are the output layer's loss kernels."""

import numpy as np

from .._serial import config_dataclass, set_field
from ..data import check_loss_targets
from ..registries import activation_name, loss_code, loss_name
from .base import Distribution, ReconstructionDistribution


@config_dataclass
class LossFunctionWrapper(ReconstructionDistribution):
    """A deterministic loss on ``activation(pXZ pre-output)`` instead of a distribution.

    DL4J: ``.lossFunction(Activation.X, LossFunctions.LossFunction.Y)``."""

    activation: str = "identity"
    loss: str = "mse"

    def __post_init__(self):
        set_field(self, "activation", activation_name(self.activation, "LossFunctionWrapper.activation"))
        set_field(self, "loss", loss_name(self.loss, "LossFunctionWrapper.loss"))

    def has_loss_function(self):
        return True


class LossWrapper(Distribution):
    """Runtime loss wrapper: "nll" is the per-example loss, its gradient the loss gradient."""

    def __init__(self, conf, dtype):
        super().__init__(conf, dtype)
        self.loss_code = loss_code(conf.loss)

    def check_data(self, x, name="x"):
        check_loss_targets(x, self.conf.loss, name, f"LossFunctionWrapper(loss={self.conf.loss!r})")

    def nll_and_grad(self, x, pre, scale, out, dpre):
        a = self._params(pre)
        self._nll(x, pre, a, out)
        self._grad(x, pre, a, scale, dpre)

    def _nll(self, x, pre, a, out):
        self.backend.losses.loss_score[self.act](x, a, pre, self.loss_code, out)

    def _grad(self, x, pre, a, scale, dpre):
        self.backend.losses.loss_grad[self.act](x, a, pre, self.loss_code, scale, dpre)

    def mean(self, pre):
        if self.backend.is_cuda:
            return self._on_host().mean(self.backend.to_host(pre))
        return np.array(self._activated(pre), copy=True)

    def sample(self, pre, rng):
        # deterministic: the "sample" of a loss wrapper is its output (DL4J does the same)
        return self.mean(pre)
