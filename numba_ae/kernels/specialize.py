"""Compiling kernels from templates: the one mechanism behind every generated kernel.

A *template* is a plain Python function whose free global names (``_f``, ``_elem``,
``_act_backward``, ...) stand for functions or constants chosen later;
:func:`specialize` compiles it with those names bound, so the bound functions are
compile-time constants that Numba inlines into the loops (no runtime dispatch, loops
vectorise as hand-written ones).  :mod:`.activations` builds per-activation kernels this
way, :mod:`numba_ae.distributions.base` per-distribution kernels.  A scalar definition
that templates bind is decorated with :func:`scalar`.
"""
import hashlib
import os
import types as _pytypes

from numba import njit
from numba.core.dispatcher import Dispatcher

#: Keyword arguments of every kernel in the package.
JIT_OPTIONS = {"error_model": "numpy"}


def scalar(fn):
    """Decorator of a scalar definition: an ``@njit(inline="always")`` function (no cache
    of its own: it is inlined at Numba-IR level into each kernel that uses it; left to
    LLVM's inliner, bodies holding two transcendentals (softplus) stayed a scalar call per
    element and ran ~9x slower)."""
    return njit(inline="always", **JIT_OPTIONS)(fn)


def _sources(value):
    """Source files whose code a compiled kernel embeds (for cache invalidation)."""
    s = getattr(value, "_numba_ae_sources", None)
    if s is not None:
        return s
    if isinstance(value, Dispatcher):
        return frozenset((value.py_func.__code__.co_filename,))
    return frozenset()


def specialize(template, tag, bindings, cache=True, inline=False):
    """Compile ``template`` with its global names in ``bindings`` replaced.

    The result is an ``@njit`` dispatcher named ``<template>__<tag>`` (with ``cache``:
    its own on-disk cache file).  Numba's cache checks only the template's own source
    file, so the cached name also carries a stamp of every source file the bound
    functions come from: editing a scalar definition in another module then compiles
    anew instead of loading a stale kernel.  The template's module globals are copied,
    so the template itself is untouched.  ``inline=True`` makes a helper template that
    other templates call: inlined at Numba-IR level into them (as :func:`scalar`), not
    cached on its own.
    """
    g = dict(template.__globals__)
    g.update(bindings)
    sources = frozenset((template.__code__.co_filename,)).union(*(_sources(v) for v in bindings.values()))
    name = f"{template.__name__}__{tag}"
    qualname = f"{template.__qualname__}__{tag}"
    if cache:
        stamp = repr(sorted((f, os.stat(f).st_mtime_ns, os.stat(f).st_size) for f in sources))
        qualname += "_" + hashlib.sha1(stamp.encode()).hexdigest()[:8]
    fn = _pytypes.FunctionType(template.__code__, g, name, template.__defaults__, template.__closure__)
    fn.__qualname__ = qualname
    fn.__module__ = template.__module__
    fn.__doc__ = template.__doc__
    k = njit(inline="always", **JIT_OPTIONS)(fn) if inline else njit(cache=cache, **JIT_OPTIONS)(fn)
    k._numba_ae_sources = sources
    return k
