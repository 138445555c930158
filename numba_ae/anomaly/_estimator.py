"""scikit-learn's estimator protocol without scikit-learn: ``get_params``/``set_params``
from the ``__init__`` signature, a parameter ``repr``, and ``__sklearn_tags__``, which
imports scikit-learn only when scikit-learn itself asks for the tags (so ``import
numba_ae`` never loads it).

Constructors store their arguments unchanged (validation happens in ``fit``), as
``sklearn.base.clone`` requires.
"""
import inspect

__all__ = ["EstimatorBase"]


class EstimatorBase:
    """``get_params``/``set_params``/``__repr__``/``__sklearn_tags__`` for an outlier
    detector whose ``__init__`` keywords are its parameters."""

    _estimator_type = "outlier_detector"

    @classmethod
    def _param_names(cls):
        sig = inspect.signature(cls.__init__)
        return sorted(p.name for p in sig.parameters.values()
                      if p.name != "self" and p.kind == p.POSITIONAL_OR_KEYWORD)

    def get_params(self, deep=True):
        """The constructor parameters, ``{name: value}`` (``deep`` is accepted for
        scikit-learn compatibility; no parameter is itself an estimator)."""
        return {name: self._param(name) for name in self._param_names()}

    def _param(self, name):
        """The stored value of parameter ``name`` (read from the instance, so that a class
        attribute of the same name -- the VAE detector's ``score`` method -- cannot hide it)."""
        d = vars(self)
        return d[name] if name in d else getattr(self, name)

    def set_params(self, **params):
        """Set constructor parameters (validated by the next ``fit``); returns self.

        Raises
        ------
        ValueError
            An unknown parameter name.
        """
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"Invalid parameter {name!r} for estimator {type(self).__name__}; valid "
                                 f"parameters are {valid}")
            setattr(self, name, value)
        return self

    def __repr__(self):
        sig = inspect.signature(type(self).__init__)
        shown = []
        for name in self._param_names():
            value = self._param(name) if name in vars(self) else None
            default = sig.parameters[name].default
            try:
                same = value is default or bool(value == default)
            except Exception:  # e.g. an array-valued comparison
                same = False
            if not same:
                shown.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    def __sklearn_tags__(self):
        """scikit-learn's tags: an outlier detector on dense 2-D float data, no ``y``
        (scikit-learn is imported here, when scikit-learn asks)."""
        from sklearn.utils import InputTags, Tags, TargetTags
        return Tags(estimator_type="outlier_detector", target_tags=TargetTags(required=False),
                    transformer_tags=None, regressor_tags=None, classifier_tags=None,
                    input_tags=InputTags(two_d_array=True, allow_nan=False, sparse=False))
