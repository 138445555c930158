"""Gradient normalization modes (DL4J ``GradientNormalization``): names, validation, and
the per-layer driver over the kernels of :mod:`numba_ae.kernels.gradient_normalization`.

A layer's gradient is normalized after minibatch averaging and before its l1/l2 gradient
is added and the updater runs, in ``fit`` and ``pretrain`` steps alike (DL4J's
``BaseMultiLayerUpdater.preApply``).  With ``g`` a layer's whole gradient (``*_per_layer``)
or each parameter's gradient on its own (``*_per_param_type``: ``W``, ``b``, ``vb``, each
VAE parameter), and ``t`` the threshold:

* ``renormalize_l2_per_layer`` / ``renormalize_l2_per_param_type``: ``g / ||g||_2``
  (``t`` unused; a zero norm divides by 1e-5);
* ``clip_l2_per_layer`` / ``clip_l2_per_param_type``: ``g * t / ||g||_2`` when
  ``||g||_2 > t``, else ``g``;
* ``clip_element_wise_absolute_value``: each entry clamped to ``[-t, t]``;
* ``none`` (or ``None``): unchanged.

DL4J's enum spellings (``RenormalizeL2PerLayer``, ``ClipElementWiseAbsoluteValue``, ...)
are accepted and stored as the snake-case names.
"""
from .kernels import gradient_normalization as _k
from .validation import check_choice

#: The modes, as stored in configs (``"none"``: explicitly off, e.g. for one layer).
GRADIENT_NORMALIZATIONS = ("none", "renormalize_l2_per_layer", "renormalize_l2_per_param_type",
                           "clip_element_wise_absolute_value", "clip_l2_per_layer", "clip_l2_per_param_type")

_BY_KEY = {m.replace("_", ""): m for m in GRADIENT_NORMALIZATIONS}

#: mode -> (kernel name, whether it takes the threshold, per parameter rather than per layer)
_DRIVERS = {
    "renormalize_l2_per_layer": ("renormalize_l2", False, False),
    "renormalize_l2_per_param_type": ("renormalize_l2", False, True),
    "clip_element_wise_absolute_value": ("clip_element_wise", True, False),
    "clip_l2_per_layer": ("clip_l2", True, False),
    "clip_l2_per_param_type": ("clip_l2", True, True),
}


def gradient_normalization_name(value, field="gradient_normalization", owner=None, allow_none=True):
    """Validate a mode name (snake case or DL4J's enum spelling, any case); returns the
    snake-case name, or None for None when ``allow_none``.

    Raises
    ------
    TypeError
        ``value`` is not a str (or None when allowed).
    ValueError
        ``value`` is not one of :data:`GRADIENT_NORMALIZATIONS`.
    """
    if value is None and allow_none:
        return None
    expected = ("None or " if allow_none else "") + f"one of {list(GRADIENT_NORMALIZATIONS)}"
    if isinstance(value, str) and value.replace("_", "").lower() in _BY_KEY:
        return _BY_KEY[value.replace("_", "").lower()]
    return check_choice(value, field, owner, GRADIENT_NORMALIZATIONS, expected=expected)  # raises


def normalize_gradient(mode, threshold, flat, views, kernels=_k):
    """Apply ``mode`` in place to one layer's gradient.

    Parameters
    ----------
    mode : str or None
        A name of :data:`GRADIENT_NORMALIZATIONS` (``None``/``"none"``: nothing is done).
    threshold : float
        ``t`` of the clipping modes (> 0).
    flat : 1-D array
        The layer's whole gradient (the per-layer modes).
    views : iterable of 1-D arrays
        Each parameter's gradient, views into ``flat`` (the per-param-type modes).
    kernels : the device's kernel module (this one's CPU kernels or their CUDA twins).
    """
    if mode is None or mode == "none":
        return
    name, thresholded, per_param = _DRIVERS[mode]
    kernel = getattr(kernels, name)
    args = (threshold,) if thresholded else ()
    for g in (views if per_param else (flat,)):
        kernel(g, *args)
