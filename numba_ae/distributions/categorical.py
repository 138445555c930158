"""Categorical reconstruction distribution: one categorical variable over a one-hot
slice of ``d`` columns (``d`` = the number of classes), with a softmax over the slice.

DL4J has no categorical reconstruction distribution; this one fills the gap for one-hot
encoded columns (a class label, a discretised feature) that a Bernoulli per column models
badly (it ignores that exactly one column is 1).  Inside a
:class:`~numba_ae.CompositeReconstructionDistribution` several categorical slices of
different widths sit beside other distributions, e.g.
``CompositeReconstructionDistribution([(3, CategoricalReconstructionDistribution()),
(784, BernoulliReconstructionDistribution()), (5, CategoricalReconstructionDistribution())])``.

Its row-wise kernels are in :mod:`numba_ae.kernels.categorical` (their CUDA twins in
:mod:`numba_ae.kernels.cuda.categorical`).
"""
from types import SimpleNamespace

import numpy as np

from .._serial import config_dataclass
from ..kernels import categorical as _kc
from .base import Distribution, ReconstructionDistribution


@config_dataclass
class CategoricalReconstructionDistribution(ReconstructionDistribution):
    """One categorical variable over a one-hot slice: ``log p(x) = sum_j x_j log softmax(a)_j``.

    The decoder outputs one logit per class (pre-output width = data width) and they are
    used as they are: there is no ``activation`` field.  The softmax is the distribution's
    own link, computed stably as a log-softmax of the logits (finite for logits of any
    size); an activation before it would be redundant (identity), apply softmax twice
    (``"softmax"``), or only squash the logits (``"tanh"``, ``"sigmoid"`` cap the
    probabilities the model can express), so none is offered.

    Data must be one-hot rows (entries 0 or 1, exactly one 1 per row; ``ValueError``
    otherwise).  Mean: the softmax probabilities; a sample: one class per row, as a
    one-hot row.  No DL4J equivalent.
    """


def _cuda_twin():
    """The CUDA kernels (``numba_ae.kernels.cuda.categorical``: the same five functions)."""
    from ..kernels.cuda import categorical
    return categorical


#: The array kernels (row-wise, see :mod:`numba_ae.kernels.categorical`), with the
#: attributes :class:`~numba_ae.distributions.base.Distribution` uses.
KERNELS = SimpleNamespace(tag="categorical", two_params=False, log_prob=_kc.log_prob, nll_grad=_kc.nll_grad,
                          log_prob_and_grad=_kc.log_prob_and_grad, log_prob_elements=_kc.log_prob_elements,
                          mean=_kc.mean, sample=_kc.sample, cuda_twin=_cuda_twin)

#: Most entries of an offending row an error message shows.
_SHOW = 10


class Categorical(Distribution):
    """Runtime categorical p(x|z): the parameters are the logits ``pre`` themselves;
    sampling draws one uniform per column (Gumbel-max)."""

    kernels = KERNELS

    def _params(self, pre):
        return pre

    def check_data(self, x, name="x"):
        """Raise ``ValueError`` naming ``name``, the first offending row and its values
        unless every row of ``x`` [n, d] is one-hot (0/1 entries summing to 1)."""
        if x.size == 0:
            return
        ok = np.all((x == 0) | (x == 1), axis=1) & (np.sum(x, axis=1) == 1)
        if ok.all():
            return
        bad = np.flatnonzero(~ok)
        row = x[bad[0]]
        shown = ", ".join(f"{v:g}" for v in row[:_SHOW]) + (", ..." if row.shape[0] > _SHOW else "")
        raise ValueError(
            f"'{name}' must hold one-hot rows for a CategoricalReconstructionDistribution (entries 0 or 1, "
            f"exactly one 1 per row, width = the number of classes {x.shape[1]}); row {bad[0]} is "
            f"[{shown}] (sum {np.sum(row):g}); {bad.shape[0]} of {x.shape[0]} rows are not one-hot")
