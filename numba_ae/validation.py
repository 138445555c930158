"""Validation of scalar arguments: the one definition used by every public entry point.

scikit-learn ``check_scalar`` style: each ``check_*`` function takes the
value, the argument's name and (optionally) its owner -- the class or
function whose argument it is -- and returns the value in canonical form
(``int``, ``float``, ``bool``, ``str``) or raises.

One rule everywhere:

* ``TypeError`` when the value has the wrong *type* (a ``str`` where a number
  belongs, ``None`` where it is not allowed, a ``float`` where an int belongs);
* ``ValueError`` when the type is right but the *value* is not (out of range,
  not finite, not one of the allowed names).

Type rules:

* ``bool`` (and ``numpy.bool_``) is neither an int nor a number: ``True`` as a
  layer size is a ``TypeError``.  Only :func:`check_bool` accepts it.
* NumPy integer scalars (``np.int64(3)``) are accepted as ints, NumPy
  integer and floating scalars as numbers; results are plain Python types.
* A float is never accepted where an int belongs, not even an integral one
  (``2.0``): no public entry point deliberately accepted integral floats for a
  scalar argument, so there is no exception to document.
* An index out of range stays an ``IndexError`` (``net.get_layer(5)``), as for
  a list; its type is checked here (``TypeError``).
* Entries of a compound argument such as a saved ``state`` dict are values of
  that one argument: their checks run under :func:`entries_of_one_argument`,
  which turns a wrong-typed entry into a ``ValueError``.

Messages name the owner and the argument, say what was expected and show the
received value with its type::

    ArrayDataSetIterator: 'batch_size' must be an int >= 1; got 'a' (str)

This module imports nothing from ``numba_ae`` (it is the bottom of the import
graph) and only NumPy besides the standard library.
"""

from __future__ import annotations

import contextlib
import math
import numbers

import numpy as np

__all__ = [
    "check_int",
    "check_number",
    "check_bool",
    "check_seed",
    "as_generator",
    "check_str",
    "check_choice",
    "entries_of_one_argument",
]

_MAX_REPR = 80


def describe(value):
    """``"<repr> (<type>)"`` of a received value, for error messages.

    NumPy scalars show their Python value and ``numpy.<type>``; long reprs
    are shortened.

    Examples
    --------
    >>> describe("a")
    "'a' (str)"
    >>> describe(np.float32(0.5))
    '0.5 (numpy.float32)'
    """
    if isinstance(value, np.generic):
        text, kind = repr(value.item()), f"numpy.{type(value).__name__}"
    else:
        text, kind = repr(value), type(value).__name__
    if len(text) > _MAX_REPR:
        text = text[:_MAX_REPR - 3] + "..."
    return f"{text} ({kind})"


def _fail(exc, owner, name, expected, value):
    prefix = f"{owner}: " if owner else ""
    shown = name if "'" in name else f"'{name}'"  # state['epoch'] reads better unquoted
    raise exc(f"{prefix}{shown} must be {expected}; got {describe(value)}") from None


def _is_bool(value):
    return isinstance(value, (bool, np.bool_))


def _bounds_text(low, high, low_open=False, high_open=False):
    """``" >= 1"``, ``" in [0.0, 1.0)"`` or ``""`` (nothing to say)."""
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low!r}, {high!r}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low!r}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high!r}"
    return ""


def _in_bounds(v, low, high, low_open, high_open):
    if low is not None and not (v > low if low_open else v >= low):
        return False
    if high is not None and not (v < high if high_open else v <= high):
        return False
    return True


def check_int(value, name, owner=None, *, low=None, high=None, allow_none=False):
    """Validate an integer argument (closed bounds ``low <= value <= high``).

    Parameters
    ----------
    value : object
        Python or NumPy integer; not bool, not float.
    name : str
        Argument name used in the message.
    owner : str, optional
        Class or function the argument belongs to (message prefix).
    low, high : int, optional
        Inclusive bounds.
    allow_none : bool, default False
        Accept (and return) ``None``.

    Returns
    -------
    int or None

    Raises
    ------
    TypeError
        If ``value`` is not an integer (bool and float included).
    ValueError
        If ``value`` is outside ``[low, high]``.

    Examples
    --------
    >>> check_int(np.int64(3), "n_out", "DenseLayer", low=1)
    3
    """
    if value is None and allow_none:
        return None
    expected = ("None or " if allow_none else "") + "an int" + _bounds_text(low, high)
    if _is_bool(value) or not isinstance(value, numbers.Integral):
        _fail(TypeError, owner, name, expected, value)
    v = int(value)
    if not _in_bounds(v, low, high, False, False):
        _fail(ValueError, owner, name, expected, value)
    return v


def check_number(value, name, owner=None, *, low=None, high=None, low_open=False, high_open=False,
                 allow_none=False, finite=True):
    """Validate a real-number argument; returns it as ``float``.

    Parameters
    ----------
    value : object
        Python int/float, NumPy integer/floating scalar, any ``numbers.Real``;
        not bool.
    name : str
        Argument name used in the message.
    owner : str, optional
        Class or function the argument belongs to (message prefix).
    low, high : float, optional
        Bounds; closed unless ``low_open`` / ``high_open``.
    low_open, high_open : bool, default False
        Exclude the bound itself.
    allow_none : bool, default False
        Accept (and return) ``None``.
    finite : bool, default True
        Reject NaN and +-Inf (ValueError).  With ``finite=False`` NaN still
        fails any bound.

    Returns
    -------
    float or None

    Raises
    ------
    TypeError
        If ``value`` is not a real number (str, None, bool, complex, ...).
    ValueError
        If it is not finite (when required) or outside the bounds.

    Examples
    --------
    >>> check_number(1, "beta1", "Adam", low=0.0, high=1.0, high_open=True)
    Traceback (most recent call last):
    ValueError: Adam: 'beta1' must be a finite number in [0.0, 1.0); got 1.0 (float)
    """
    if value is None and allow_none:
        return None
    expected = (("None or " if allow_none else "") + ("a finite number" if finite else "a number")
                + _bounds_text(low, high, low_open, high_open))
    if _is_bool(value) or not isinstance(value, numbers.Real):
        _fail(TypeError, owner, name, expected, value)
    try:
        v = float(value)
    except (OverflowError, ValueError):  # e.g. an int too large for a float
        _fail(ValueError, owner, name, expected, value)
    if (finite and not math.isfinite(v)) or not _in_bounds(v, low, high, low_open, high_open):
        _fail(ValueError, owner, name, expected, v)  # the type was right: show the value as a float
    return v


def check_bool(value, name, owner=None):
    """Validate a flag: ``True``/``False`` or ``numpy.bool_``; returns a Python bool.

    Raises
    ------
    TypeError
        For anything else (``0``, ``1``, ``"yes"``, ``None``).
    """
    if not _is_bool(value):
        _fail(TypeError, owner, name, "True or False", value)
    return bool(value)


def check_seed(value, name="seed", owner=None):
    """Validate an RNG seed: ``None`` or an integer >= 0.

    Returns
    -------
    int or None

    Raises
    ------
    TypeError
        If ``value`` is neither None nor an integer (bool and float included).
    ValueError
        If it is negative.
    """
    if value is None:
        return None
    expected = "None or a non-negative int"
    if _is_bool(value) or not isinstance(value, numbers.Integral):
        _fail(TypeError, owner, name, expected, value)
    if int(value) < 0:
        _fail(ValueError, owner, name, expected, value)
    return int(value)


def as_generator(value, name="rng", owner=None):
    """A ``numpy.random.Generator`` from an RNG argument.

    ``None`` gives a fresh, OS-seeded ``np.random.default_rng()``; an integer
    seed >= 0 (as :func:`check_seed`: not bool, not float) gives
    ``np.random.default_rng(seed)``; a ``Generator`` is returned as is.

    Raises
    ------
    TypeError
        For anything else (``np.random.RandomState``, ``SeedSequence``, str,
        float, bool, ...).
    ValueError
        If the seed is negative.

    Examples
    --------
    >>> as_generator(1.5, "rng", "VariationalAutoencoder")
    Traceback (most recent call last):
    TypeError: VariationalAutoencoder: 'rng' must be None, an int seed >= 0 or a numpy.random.Generator; got 1.5 (float)
    """
    if isinstance(value, np.random.Generator):
        return value
    if value is None:
        return np.random.default_rng()
    expected = "None, an int seed >= 0 or a numpy.random.Generator"
    if _is_bool(value) or not isinstance(value, numbers.Integral):
        _fail(TypeError, owner, name, expected, value)
    if int(value) < 0:
        _fail(ValueError, owner, name, expected, value)
    return np.random.default_rng(int(value))


def check_str(value, name, owner=None, *, allow_none=False, allow_empty=True):
    """Validate a string argument.

    Raises
    ------
    TypeError
        If ``value`` is not a ``str`` (or None when ``allow_none``).
    ValueError
        If it is empty and ``allow_empty`` is False.
    """
    if value is None and allow_none:
        return None
    expected = ("a str or None" if allow_none else "a str") + ("" if allow_empty else " (non-empty)")
    if not isinstance(value, str):
        _fail(TypeError, owner, name, expected, value)
    if not allow_empty and not value:
        _fail(ValueError, owner, name, expected, value)
    return value


def check_choice(value, name, owner=None, choices=(), *, ignore_case=False, expected=None):
    """Validate that ``value`` is one of ``choices``; returns the matching choice.

    Parameters
    ----------
    value : object
    name : str
        Argument name used in the message.
    owner : str, optional
        Class or function the argument belongs to (message prefix).
    choices : iterable
        Allowed values.  When they are all strings, a non-``str`` value is a
        ``TypeError``; otherwise any value not among them is a ``ValueError``.
    ignore_case : bool, default False
        Compare strings case-insensitively (``choices`` must then be lower
        case); the lower-case choice is returned.
    expected : str, optional
        Replaces ``"one of [...]"`` in the message.

    Raises
    ------
    TypeError
        If the choices are strings and ``value`` is not a ``str``.
    ValueError
        If ``value`` is not among ``choices``.

    Examples
    --------
    >>> check_choice("Adam", "updater", None, ("sgd", "adam"), ignore_case=True)
    'adam'
    """
    choices = tuple(choices)
    if expected is None:
        expected = f"one of {list(choices)}" + (" (any case)" if ignore_case else "")
    strings = bool(choices) and all(isinstance(c, str) for c in choices)
    if strings and not isinstance(value, str):
        _fail(TypeError, owner, name, expected, value)
    key = value.lower() if ignore_case and isinstance(value, str) else value
    for c in choices:
        try:
            same = bool(c == key) and _is_bool(c) == _is_bool(key)  # True is not the choice 1
        except (TypeError, ValueError):  # incomparable (e.g. an array)
            same = False
        if same:
            return c
    _fail(ValueError, owner, name, expected, value)


@contextlib.contextmanager
def entries_of_one_argument():
    """Context in which a ``TypeError`` raised by the checks becomes a ``ValueError``.

    For the entries of one compound argument (e.g. ``state['epoch']`` of a
    saved state dict): an entry of the wrong type is a wrong *value* of that
    argument, whose own type (a mapping) is right.

    Examples
    --------
    >>> with entries_of_one_argument():
    ...     check_int("3", "state['epoch']", low=0)
    Traceback (most recent call last):
    ValueError: state['epoch'] must be an int >= 0; got '3' (str)
    """
    try:
        yield
    except TypeError as exc:
        raise ValueError(str(exc)) from None
