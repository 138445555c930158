"""Composite reconstruction distribution: contiguous column slices, each with its own
distribution (DL4J ``CompositeReconstructionDistribution.Builder().addDistribution(size, d)``).
It has no kernels of its own: it slices and delegates."""

import numpy as np

from .._serial import config_dataclass, set_field
from ..validation import check_int
from .base import Distribution, ReconstructionDistribution


@config_dataclass
class CompositeReconstructionDistribution(ReconstructionDistribution):
    """Contiguous column slices, each with its own distribution.

    ``distributions`` is a sequence of ``(size, distribution)`` pairs, applied
    in order (DL4J ``addDistribution(size, dist)``).
    """

    distributions: tuple = ()

    def __post_init__(self):
        parts = []
        if not isinstance(self.distributions, (list, tuple)) or not self.distributions:
            raise ValueError("CompositeReconstructionDistribution: 'distributions' must be a non-empty "
                             f"sequence of (size, distribution) pairs; got {self.distributions!r}")
        for k, item in enumerate(self.distributions):
            if not isinstance(item, (list, tuple)) or len(item) != 2:
                raise ValueError(f"CompositeReconstructionDistribution: distributions[{k}] must be a "
                                 f"(size, distribution) pair; got {item!r}")
            size = check_int(item[0], f"distributions[{k}].size", "CompositeReconstructionDistribution", low=1)
            dist = item[1]
            if not isinstance(dist, ReconstructionDistribution):
                raise TypeError(f"CompositeReconstructionDistribution: distributions[{k}] must hold a "
                                f"ReconstructionDistribution; got {type(dist).__name__}")
            parts.append((size, dist))
        set_field(self, "distributions", tuple(parts))

    def add(self, size, distribution):
        """A new composite with ``(size, distribution)`` appended (builder style)."""
        return CompositeReconstructionDistribution(self.distributions + ((size, distribution),))

    def data_width(self):
        """Sum of the slice sizes."""
        return sum(s for s, _ in self.distributions)

    def input_width(self, n_data):
        return sum(d.input_width(s) for s, d in self.distributions)

    def has_loss_function(self):
        return all(d.has_loss_function() for _, d in self.distributions)

    def uses_loss_function(self):
        return any(d.uses_loss_function() for _, d in self.distributions)


class Composite(Distribution):
    """Runtime composite: one runtime distribution per slice."""

    def __init__(self, conf, dtype):
        from . import build_distribution  # the package's registry (it imports this module)
        super().__init__(conf, dtype)
        self.parts = []
        xo = po = 0
        for size, dconf in conf.distributions:
            w = dconf.input_width(size)
            self.parts.append((slice(xo, xo + size), slice(po, po + w), build_distribution(dconf, dtype)))
            xo += size
            po += w

    def use_backend(self, backend):
        super().use_backend(backend)
        for _, _, d in self.parts:
            d.use_backend(backend)
        return self

    def check_data(self, x, name="x"):
        for xs, _, d in self.parts:
            d.check_data(x[:, xs], name=f"{name}[:, {xs.start}:{xs.stop}]")

    def nll(self, x, pre, out):
        tmp = self._buf("tmp", out.shape)
        self.backend.fill(out, 0.0)
        for xs, ps, d in self.parts:
            d.nll(x[:, xs], pre[:, ps], tmp)
            self.backend.add(out, tmp)

    def nll_grad(self, x, pre, scale, dpre):
        for xs, ps, d in self.parts:
            d.nll_grad(x[:, xs], pre[:, ps], scale, dpre[:, ps])

    def nll_and_grad(self, x, pre, scale, out, dpre):
        tmp = self._buf("tmp", out.shape)
        self.backend.fill(out, 0.0)
        for xs, ps, d in self.parts:
            d.nll_and_grad(x[:, xs], pre[:, ps], scale, tmp, dpre[:, ps])
            self.backend.add(out, tmp)

    def mean(self, pre):
        if self.backend.is_cuda:
            return self._on_host().mean(self.backend.to_host(pre))
        return np.concatenate([d.mean(np.ascontiguousarray(pre[:, ps])) for _, ps, d in self.parts], axis=1)

    def sample(self, pre, rng):
        if self.backend.is_cuda:
            return self._on_host().sample(self.backend.to_host(pre), rng)
        return np.concatenate([d.sample(np.ascontiguousarray(pre[:, ps]), rng) for _, ps, d in self.parts],
                              axis=1)
