"""Weight initialisation schemes (DL4J names), drawn from a numpy Generator.

``xavier`` (DL4J default): N(0, 2/(n_in+n_out));  ``xavier_uniform``:
U(-s, s), s = sqrt(6/(n_in+n_out));  ``relu`` (He): N(0, 2/n_in);
``normal``: N(0, 1/n_in) (std 1/sqrt(n_in));  ``uniform``: U(-a, a),
a = 1/sqrt(n_in);  ``zero``: zeros.  Biases start at the constant ``bias_init``
(default 0; ``Layer.init_params``).
"""
import numpy as np

from .validation import check_choice

WEIGHT_INITS = ("xavier", "xavier_uniform", "relu", "normal", "uniform", "zero")


def weight_init_name(name, field="weight_init"):
    """Validate and canonicalise a weight-init name."""
    return check_choice(name, field, None, WEIGHT_INITS, ignore_case=True)


def init_weights(name, out, rng, fan_in, fan_out):
    """Fill ``out`` (any shape) in place with scheme ``name``.

    Draws in float64 from ``rng`` then casts, so float32 and float64 networks
    with the same seed start from the same values (up to rounding).
    """
    shape = out.shape
    if name == "xavier":
        vals = rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=shape)
    elif name == "xavier_uniform":
        s = np.sqrt(6.0 / (fan_in + fan_out))
        vals = rng.uniform(-s, s, size=shape)
    elif name == "relu":
        vals = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)
    elif name == "normal":
        vals = rng.normal(0.0, 1.0 / np.sqrt(fan_in), size=shape)
    elif name == "uniform":
        a = 1.0 / np.sqrt(fan_in)
        vals = rng.uniform(-a, a, size=shape)
    elif name == "zero":
        vals = 0.0
    else:
        raise ValueError(f"unknown weight_init {name!r}")
    out[...] = vals
