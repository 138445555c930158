"""Reconstruction distributions p(x|z) of the VAE, as plugins: one module per
distribution holds its config class, its runtime object and its kernels (its scalar
element definitions, compiled into array kernels by :mod:`.base`), and
:data:`DISTRIBUTIONS` below is the one table that lists them.

Adding a distribution: write its module (config dataclass deriving from
:class:`ReconstructionDistribution`, scalar ``element``/``mean``/``sample`` and an
:class:`ElementKernels`, a runtime class deriving from :class:`Distribution`), add one
line to :data:`DISTRIBUTIONS`, and add it to the parametrized distribution tests.
"""
from .base import Distribution, ElementKernels, NoLogProbabilityError, ReconstructionDistribution
from .bernoulli import Bernoulli, BernoulliReconstructionDistribution
from .categorical import Categorical, CategoricalReconstructionDistribution
from .composite import Composite, CompositeReconstructionDistribution
from .exponential import Exponential, ExponentialReconstructionDistribution
from .gaussian import Gaussian, GaussianReconstructionDistribution
from .loss_wrapper import LossFunctionWrapper, LossWrapper

#: config class -> runtime class: the registry of reconstruction distributions.
DISTRIBUTIONS = {
    GaussianReconstructionDistribution: Gaussian,
    BernoulliReconstructionDistribution: Bernoulli,
    ExponentialReconstructionDistribution: Exponential,
    CategoricalReconstructionDistribution: Categorical,
    LossFunctionWrapper: LossWrapper,
    CompositeReconstructionDistribution: Composite,
}


def build_distribution(conf, dtype, backend=None):
    """The runtime distribution for a distribution config (computing on ``backend``,
    default the CPU)."""
    cls = DISTRIBUTIONS.get(type(conf))
    if cls is None:
        raise TypeError(f"no runtime distribution for {type(conf).__name__}; registered: "
                        f"{sorted(c.__name__ for c in DISTRIBUTIONS)}")
    d = cls(conf, dtype)
    return d if backend is None else d.use_backend(backend)


__all__ = ["DISTRIBUTIONS", "build_distribution", "Distribution", "ElementKernels", "NoLogProbabilityError",
           "ReconstructionDistribution", "GaussianReconstructionDistribution", "Gaussian",
           "BernoulliReconstructionDistribution", "Bernoulli", "ExponentialReconstructionDistribution",
           "Exponential", "CategoricalReconstructionDistribution", "Categorical", "LossFunctionWrapper",
           "LossWrapper", "CompositeReconstructionDistribution", "Composite"]
