"""Reconstruction distributions by name, from the registry
(:data:`numba_ae.distributions.DISTRIBUTIONS`): every registered distribution whose
config builds with its defaults and has a log-probability is available by its short name
(``GaussianReconstructionDistribution`` -> ``"gaussian"``), so a distribution registered
later is a name here at once."""
from .. import distributions as _dists
from ..distributions import CompositeReconstructionDistribution, ReconstructionDistribution

__all__ = ["distribution_names", "resolve_distribution"]

_SUFFIX = "ReconstructionDistribution"


def _config_class(key, value):
    for c in (key, value):
        if isinstance(c, type) and issubclass(c, ReconstructionDistribution):
            return c
    return None


def distribution_names():
    """``{name: config class}`` of the distributions available by name."""
    out = {}
    for key, value in _dists.DISTRIBUTIONS.items():
        cls = _config_class(key, value)
        if cls is None:
            continue
        name = key if isinstance(key, str) else cls.__name__
        if name.endswith(_SUFFIX):
            name = name[:-len(_SUFFIX)]
        try:
            default = cls()
        except (TypeError, ValueError):  # needs arguments (a composite)
            continue
        if not default.uses_loss_function():
            out[name.lower()] = cls
    return out


def resolve_distribution(value, n_features, owner):
    """The reconstruction distribution config for the ``reconstruction_distribution``
    parameter: a name (its config with default settings) or a config (checked: it must
    have a log-probability, and a composite must cover ``n_features`` columns)."""
    if isinstance(value, str):
        names = distribution_names()
        cls = names.get(value.lower())
        if cls is None:
            raise ValueError(f"{owner}: 'reconstruction_distribution' must be one of {sorted(names)} or a "
                             f"ReconstructionDistribution config; got {value!r}")
        return cls()
    if not isinstance(value, ReconstructionDistribution):
        raise TypeError(f"{owner}: 'reconstruction_distribution' must be a name or a ReconstructionDistribution "
                        f"config; got {value!r} ({type(value).__name__})")
    if value.uses_loss_function():
        raise ValueError(f"{owner}: 'reconstruction_distribution' {type(value).__name__} is (or holds) a loss "
                         "function, which has no log-probability to score with; use a probabilistic "
                         "distribution, or AutoEncoderAnomalyDetector for a reconstruction error")
    if isinstance(value, CompositeReconstructionDistribution) and n_features is not None \
            and value.data_width() != n_features:
        raise ValueError(f"{owner}: the composite 'reconstruction_distribution' covers {value.data_width()} "
                         f"column(s) but X has {n_features}")
    return value
