"""Activations: one scalar definition each, every per-array kernel generated from it.

An activation is a pair of scalar ``@njit`` functions in :data:`REGISTRY`:

* ``forward(pre) -> out``
* ``derivative(pre, out) -> d out / d pre`` (it may use the pre-activation, the
  output, or both; ``needs_pre=False`` says it reads ``out`` only, so layers need
  not keep the pre-activation)

The per-array loops (bias fused or not, forward and backward) are *templates*:
plain Python functions whose activation is a global name (``_f``, ``_df``).
:class:`per_activation` compiles a template once per activation with those names
bound to that activation's functions (``kernel[act](...)``), so the activation is a
compile-time constant, the scalar body is inlined into the element loop and the
loop vectorises exactly as a hand-written one (no branch on an activation code).
Kernels in other modules that contain an activation step (``dense.dense_forward``,
``losses.loss_grad``, ...) are templates of the same kind and bind the activation's
array kernels (``_act_bias_map``, ``_act_backward``, ...).

Built-in specialisations are cached on disk (``cache=True``; each has its own
cache file, named by template and activation).  Activations registered at run time
by :func:`register` compile once per process (their source lives outside this
package, so an on-disk cache could not notice when it changes).

The scalar bodies use only ``math`` functions and the target-neutral elementary
functions of :mod:`.fastmath`, so GPU kernels can reuse them unchanged.  Softmax is
row-wise, not elementwise: it has hand-written array kernels with the same names.

(One module for one concept: the definitions, the registry and the kernel templates
of activations belong together; the generic compile-from-template mechanism is in
:mod:`.specialize`.)
"""
import math
import re

import numpy as np
from numba import njit
from numba.core.registry import CPUDispatcher

from .fastmath import fexp, ftanh, row_max, sigmoid, softplus
from .specialize import JIT_OPTIONS, scalar, specialize

__all__ = ["Activation", "REGISTRY", "NAMES", "get", "register", "unregister", "per_activation"]

LEAKY_ALPHA = 0.01
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_GELU_C = 0.7978845608028654      # sqrt(2 / pi)
_GELU_K = 0.044715
_INV_SQRT2 = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327


# ---- built-in scalar definitions ------------------------------------------------------------
# Constants are made in the argument's type (``t = type(v)``) so float32 code stays float32.

@scalar
def identity(v):
    return v


@scalar
def identity_d(pre, out):
    return type(out)(1.0)


@scalar
def relu(v):
    zero = type(v)(0.0)
    return v if v > zero else zero


@scalar
def relu_d(pre, out):
    t = type(out)
    return t(1.0) if out > t(0.0) else t(0.0)


@scalar
def leakyrelu(v):
    t = type(v)
    return v if v > t(0.0) else t(LEAKY_ALPHA) * v


@scalar
def leakyrelu_d(pre, out):
    t = type(out)
    return t(1.0) if out > t(0.0) else t(LEAKY_ALPHA)


@scalar
def tanh(v):
    return ftanh(v)


@scalar
def tanh_d(pre, out):
    return type(out)(1.0) - out * out


@scalar
def sigmoid_(v):
    return sigmoid(v)


@scalar
def sigmoid_d(pre, out):
    return out * (type(out)(1.0) - out)


@scalar
def elu(v):
    return v if v > type(v)(0.0) else math.expm1(v)


@scalar
def elu_d(pre, out):
    t = type(out)
    return t(1.0) if out > t(0.0) else out + t(1.0)


@scalar
def softplus_(v):
    return softplus(v)


@scalar
def softplus_d(pre, out):
    return -math.expm1(-out)


@scalar
def selu(v):
    t = type(v)
    return t(SELU_SCALE) * v if v > t(0.0) else t(SELU_SCALE * SELU_ALPHA) * math.expm1(v)


@scalar
def selu_d(pre, out):
    t = type(out)
    return t(SELU_SCALE) if out > t(0.0) else out + t(SELU_SCALE * SELU_ALPHA)


@scalar
def hardsigmoid(v):
    t = type(v)
    return min(t(1.0), max(t(0.0), t(0.2) * v + t(0.5)))


@scalar
def hardsigmoid_d(pre, out):
    t = type(out)
    return t(0.2) if (out > t(0.0) and out < t(1.0)) else t(0.0)


@scalar
def hardtanh(v):
    t = type(v)
    return min(t(1.0), max(t(-1.0), v))


@scalar
def hardtanh_d(pre, out):
    t = type(out)
    return t(1.0) if (out > t(-1.0) and out < t(1.0)) else t(0.0)


@scalar
def gelu(v):
    """GELU, tanh approximation: ``0.5 v (1 + tanh(sqrt(2/pi) (v + 0.044715 v^3)))``."""
    t = type(v)
    return t(0.5) * v * (t(1.0) + ftanh(t(_GELU_C) * (v + t(_GELU_K) * v * v * v)))


@scalar
def gelu_d(pre, out):
    t = type(pre)
    v = pre
    th = ftanh(t(_GELU_C) * (v + t(_GELU_K) * v * v * v))
    return t(0.5) * (t(1.0) + th) + t(0.5) * v * (t(1.0) - th * th) * t(_GELU_C) * (
        t(1.0) + t(3.0 * _GELU_K) * v * v)


@scalar
def gelu_exact(v):
    """GELU, exact form: ``v Phi(v) = 0.5 v (1 + erf(v / sqrt 2))``."""
    t = type(v)
    return t(0.5) * v * (t(1.0) + math.erf(v * t(_INV_SQRT2)))


@scalar
def gelu_exact_d(pre, out):
    t = type(pre)
    v = pre
    return t(0.5) * (t(1.0) + math.erf(v * t(_INV_SQRT2))) + v * t(_INV_SQRT_2PI) * fexp(t(-0.5) * v * v)


@scalar
def silu(v):
    """SiLU / swish: ``v sigmoid(v)``."""
    return v * sigmoid(v)


@scalar
def silu_d(pre, out):
    s = sigmoid(pre)
    return s * (type(pre)(1.0) + pre * (type(pre)(1.0) - s))


@scalar
def mish(v):
    """Mish: ``v tanh(softplus(v))``."""
    return v * ftanh(softplus(v))


@scalar
def mish_d(pre, out):
    th = ftanh(softplus(pre))
    return th + pre * (type(pre)(1.0) - th * th) * sigmoid(pre)


# ---- kernel templates ------------------------------------------------------------------------
# Globals bound per activation by ``specialize``: ``_f`` (forward), ``_df`` (derivative).

def _f(v):  # pragma: no cover - placeholder, replaced in every specialisation
    raise NotImplementedError("template global: bound by specialize()")


_df = _f


def map_(src, dst):
    """``dst = f(src)`` over [n, k] arrays (they may be the same array)."""
    n, k = src.shape
    for i in range(n):
        for j in range(k):
            dst[i, j] = _f(src[i, j])


def bias_map(src, b, dst):
    """``dst = f(src + b)`` with bias ``b`` [k] (``src`` and ``dst`` may be the same array)."""
    n, k = src.shape
    for i in range(n):
        for j in range(k):
            dst[i, j] = _f(src[i, j] + b[j])


def bias_keep_z(z, b, a):
    """``z += b; a = f(z)``: keeps the pre-activation ``z`` [n, k], output into ``a``."""
    n, k = z.shape
    for i in range(n):
        for j in range(k):
            v = z[i, j] + b[j]
            z[i, j] = v
            a[i, j] = _f(v)


def backward(z, a, delta):
    """``delta *= f'(z)`` in place, from the pre-activation ``z`` and output ``a`` [n, k]
    (an activation whose derivative reads only the output accepts ``z is a``)."""
    n, k = a.shape
    for i in range(n):
        for j in range(k):
            delta[i, j] *= _df(z[i, j], a[i, j])


# ---- softmax (row-wise): hand-written array kernels with the template names -------------------

@njit(cache=True, **JIT_OPTIONS)
def softmax_rows(z):
    """Row-wise softmax of ``z`` [n, k], in place, max-shifted for stability."""
    n, k = z.shape
    for i in range(n):
        m = row_max(z[i])
        s = 0.0
        for j in range(k):
            e = fexp(z[i, j] - m)
            z[i, j] = e
            s += e
        inv = 1.0 / s
        for j in range(k):
            z[i, j] *= inv


@njit(cache=True, **JIT_OPTIONS)
def softmax_map(src, dst):
    n, k = src.shape
    for i in range(n):
        for j in range(k):
            dst[i, j] = src[i, j]
    softmax_rows(dst)


@njit(cache=True, **JIT_OPTIONS)
def softmax_bias_map(src, b, dst):
    n, k = src.shape
    for i in range(n):
        for j in range(k):
            dst[i, j] = src[i, j] + b[j]
    softmax_rows(dst)


@njit(cache=True, **JIT_OPTIONS)
def softmax_bias_keep_z(z, b, a):
    n, k = z.shape
    for i in range(n):
        for j in range(k):
            z[i, j] += b[j]
            a[i, j] = z[i, j]
    softmax_rows(a)


@njit(cache=True, **JIT_OPTIONS)
def softmax_backward(z, a, delta):
    """Jacobian-vector product of softmax: ``delta = a * (delta - <delta, a>)`` per row."""
    n, k = a.shape
    for i in range(n):
        s = 0.0
        for j in range(k):
            s += delta[i, j] * a[i, j]
        for j in range(k):
            delta[i, j] = a[i, j] * (delta[i, j] - s)


# ---- specialisation ------------------------------------------------------------------------------

class per_activation:
    """A kernel template compiled once per activation: ``kernel[act](...)``.

    ``act`` is an :class:`Activation` or a registered name.  The template's global
    names listed in :meth:`Activation.bindings` are bound to the activation's scalar
    functions, array kernels and flags; a global naming another ``per_activation``
    template is bound to that template's kernel for the same activation.
    """

    def __init__(self, template):
        self.template = template
        self.__name__ = template.__name__
        self.__qualname__ = template.__qualname__
        self.__module__ = template.__module__
        self.__doc__ = template.__doc__
        self._compiled = {}

    def __getitem__(self, act):
        k = self._compiled.get(act)
        if k is not None:
            return k
        act = get(act) if isinstance(act, str) else act
        k = self._compiled.get(act)
        if k is None:
            b = act.bindings()
            g = self.template.__globals__
            for name in self.template.__code__.co_names:
                if isinstance(g.get(name), per_activation):
                    b[name] = g[name][act]
            k = specialize(self.template, act.tag, b, cache=act.builtin)
            self._compiled[act] = k
        return k

    def __repr__(self):
        return f"<per-activation kernel {self.__module__}.{self.__qualname__}>"


class Activation:
    """One registered activation: its scalar definitions and its array kernels.

    Attributes
    ----------
    name : registry name.
    forward, derivative : scalar ``@njit`` functions (None for softmax, which is row-wise).
    needs_pre : whether ``derivative`` reads the pre-activation (layers then keep it).
    builtin : defined in this module (its kernels are cached on disk).
    map, bias_map, bias_keep_z, backward : array kernels (see the templates above).
    """

    def __init__(self, name, forward, derivative, needs_pre, builtin=False, rowwise=None):
        self.name = name
        self.tag = name
        self.forward = forward
        self.derivative = derivative
        self.needs_pre = bool(needs_pre)
        self.builtin = builtin
        self.is_softmax = rowwise is not None
        self.is_sigmoid = name == "sigmoid"
        self.is_identity = name == "identity"
        if rowwise is not None:
            self.map, self.bias_map, self.bias_keep_z, self.backward = rowwise
        else:
            b = {"_f": forward, "_df": derivative}
            self.map, self.bias_map, self.bias_keep_z, self.backward = (
                specialize(t, self.tag, b, cache=builtin) for t in (map_, bias_map, bias_keep_z, backward))

    def bindings(self):
        """Global names a template may use for this activation."""
        return {"_f": self.forward, "_df": self.derivative, "_act_map": self.map,
                "_act_bias_map": self.bias_map, "_act_bias_keep_z": self.bias_keep_z,
                "_act_backward": self.backward, "_ACT_NEEDS_PRE": self.needs_pre,
                "_ACT_IS_SIGMOID": self.is_sigmoid, "_ACT_IS_SOFTMAX": self.is_softmax}

    def __reduce__(self):
        # pickles by name: the receiving process looks the activation up in its registry
        return get, (self.name,)

    def __repr__(self):
        return f"Activation({self.name!r})"


#: name -> :class:`Activation`, built-ins in the order of their historic codes.
REGISTRY = {}
_BUILTIN = (
    ("identity", identity, identity_d, False),
    ("relu", relu, relu_d, False),
    ("leakyrelu", leakyrelu, leakyrelu_d, False),
    ("tanh", tanh, tanh_d, False),
    ("sigmoid", sigmoid_, sigmoid_d, False),
    ("softmax", None, None, False),
    ("elu", elu, elu_d, False),
    ("softplus", softplus_, softplus_d, False),
    ("selu", selu, selu_d, False),
    ("hardsigmoid", hardsigmoid, hardsigmoid_d, False),
    ("hardtanh", hardtanh, hardtanh_d, False),
    ("gelu", gelu, gelu_d, True),
    ("gelu_exact", gelu_exact, gelu_exact_d, True),
    ("silu", silu, silu_d, True),
    ("mish", mish, mish_d, True),
)
for _name, _fw, _d, _pre in _BUILTIN:
    REGISTRY[_name] = Activation(
        _name, _fw, _d, _pre, builtin=True,
        rowwise=(softmax_map, softmax_bias_map, softmax_bias_keep_z, softmax_backward)
        if _name == "softmax" else None)

#: Built-in names.
NAMES = tuple(name for name, *_ in _BUILTIN)

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def get(name):
    """The :class:`Activation` registered as ``name`` (exact, lower-case name)."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; registered: {sorted(REGISTRY)}") from None


def register(name, forward, derivative, *, needs_pre=True, overwrite=False):
    """Register a user-defined elementwise activation.

    Parameters
    ----------
    name : str
        Lower-case identifier (``[a-z][a-z0-9_]*``), not a built-in name.
    forward : callable
        ``forward(pre) -> out``, an ``@njit`` function or a plain function Numba can
        compile in nopython mode (it is wrapped in ``njit`` then), scalar float in,
        scalar float out (same type).
    derivative : callable
        ``derivative(pre, out) -> d out / d pre``, same requirements.
    needs_pre : bool
        False when ``derivative`` reads only ``out`` (layers then skip keeping the
        pre-activation).
    overwrite : bool
        Replace an earlier registration of the same user name.

    Returns
    -------
    Activation
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise (TypeError if not isinstance(name, str) else ValueError)(
            f"'name' must be a lower-case identifier ([a-z][a-z0-9_]*); got {name!r}")
    if name in NAMES:
        raise ValueError(f"'name' {name!r} is a built-in activation and cannot be re-registered")
    if name in REGISTRY and not overwrite:
        raise ValueError(f"activation {name!r} is already registered (pass overwrite=True to replace it)")
    if not isinstance(needs_pre, (bool, np.bool_)):
        raise TypeError(f"'needs_pre' must be a bool; got {type(needs_pre).__name__} {needs_pre!r}")
    fns = []
    for arg, fn, nargs in (("forward", forward, 1), ("derivative", derivative, 2)):
        if not callable(fn):
            raise TypeError(f"'{arg}' must be a scalar function (an @njit function or one Numba can "
                            f"compile); got {type(fn).__name__} {fn!r}")
        fns.append(fn if isinstance(fn, CPUDispatcher) else njit(**JIT_OPTIONS)(fn))
    fw, d = fns
    for dtype in (np.float64, np.float32):
        try:
            v = dtype(0.5)
            out = fw(v)
            dv = d(v, out)
        except Exception as e:  # numba TypingError, or the function raising
            raise TypeError(f"activation {name!r}: 'forward(pre)' and 'derivative(pre, out)' must compile "
                            f"with Numba for a {np.dtype(dtype).name} scalar; got {type(e).__name__}: "
                            f"{str(e).splitlines()[0] if str(e) else ''}") from e
        if not (np.isscalar(out) and np.isscalar(dv)):
            raise TypeError(f"activation {name!r}: 'forward' and 'derivative' must return scalars; "
                            f"got {type(out).__name__} and {type(dv).__name__}")
    act = Activation(name, fw, d, needs_pre, builtin=False)
    REGISTRY[name] = act
    return act


def unregister(name):
    """Remove a user-defined activation (built-ins stay)."""
    if name in NAMES:
        raise ValueError(f"{name!r} is a built-in activation and cannot be removed")
    REGISTRY.pop(name, None)

