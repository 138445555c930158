"""Gaussian reconstruction distribution: independent normals, the decoder outputs the
mean and the log-variance of each column (pre-output width ``2 d``).

Its per-element log-density and gradient are the latent Gaussian's
(:func:`numba_ae.kernels.vae.normal_logp_grad`), sampling is the reparameterisation
(:func:`numba_ae.kernels.vae.reparam`): one definition for both uses.
"""

from .._serial import config_dataclass, set_field
from ..kernels.specialize import scalar
from ..kernels.vae import normal_logp_grad, reparam
from ..registries import activation_name
from .base import Distribution, ElementKernels, ReconstructionDistribution


@config_dataclass
class GaussianReconstructionDistribution(ReconstructionDistribution):
    """Independent Gaussians; the decoder outputs mean and log(sigma^2) (width 2n).

    DL4J: ``GaussianReconstructionDistribution(Activation.X)``."""

    activation: str = "identity"

    def __post_init__(self):
        set_field(self, "activation",
                  activation_name(self.activation, "GaussianReconstructionDistribution.activation"))

    def input_width(self, n_data):
        return 2 * n_data


@scalar
def _mean(mu, logvar):
    return mu


KERNELS = ElementKernels("gaussian", normal_logp_grad, _mean, reparam, two_params=True)


class Gaussian(Distribution):
    """Runtime Gaussian p(x|z): parameters ``act(pre) = [mean | logvar]``."""

    kernels = KERNELS

    def _noise(self, rng, shape):
        return rng.standard_normal(shape, dtype=self.dtype)
