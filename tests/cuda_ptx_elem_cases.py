"""The PTX cases of ``tests/test_cuda_ptx_elem.py``: every kernel of the CUDA element
twins (see that module for what is asserted), compiled by ``cuda.compile_ptx`` (cc 9.0) in
worker processes.

A case is named ``"<module>.<kernel>"`` (``"losses.loss_grad[relu]"``, ``"gaussian.mean"``)
and compiled for ``"float32"`` or ``"float64"`` arguments.  :func:`compile_all` runs the
compiles in a process pool (spawned workers import this module by name: ``tests/`` is on
their ``sys.path``) and falls back to compiling in this process where a pool cannot start.
"""
import concurrent.futures
import multiprocessing
import os
import re

from numba import types

from numba_ae.distributions import bernoulli, exponential, gaussian
from numba_ae.kernels import activations
from numba_ae.kernels.cuda import corruption, losses, reductions, updaters, vae
from numba_ae.kernels.cuda.distributions import CudaElementKernels

CC = (9, 0)
#: activations whose loss kernels differ in structure: the fused sigmoid and softmax forms,
#: the generic form, and (score-and-gradient) a derivative reading the pre-activation
STRUCTURAL = ("identity", "sigmoid", "softmax", "gelu")
DISTRIBUTIONS = [CudaElementKernels.like(k) for k in
                 (gaussian.KERNELS, bernoulli.LOGIT_KERNELS, bernoulli.PROB_KERNELS, exponential.KERNELS)]
FLOAT_TYPES = {"float32": types.float32, "float64": types.float64}
_OPCODE = re.compile(r"^(?:@!?%p\d+\s+)?([a-z][\w.]*)")


def cases(ft):
    """``[(name, python function, argument types, f64 use)]`` for the float type name ``ft``.

    Every module kernel in both dtypes; the loss gradient kernel for every built-in
    activation in float32 (the activation's derivative is inlined there), the score
    kernel (one per sigmoid/softmax flag pair) and the score-and-gradient kernel for the
    structural variants; in float64 the loss kernels of the three flag variants."""
    t = FLOAT_TYPES[ft]
    out = []
    for mod in (reductions, corruption, updaters, vae):
        out += mod.ptx_cases(t)
    for d in DISTRIBUTIONS:
        out += d.ptx_cases(t)
    for name in (activations.NAMES if ft == "float32" else STRUCTURAL[:3]):
        score, grad, both = losses.ptx_cases(t, name)
        out.append(grad)
        if name in STRUCTURAL[:3]:
            out.append(score)
        if name in STRUCTURAL:
            out.append(both)
    return out


def case_uses(ft):
    """``[(name, f64 use)]`` of :func:`cases`."""
    return [(c[0], c[3]) for c in cases(ft)]


def opcodes(ptx):
    """The instruction opcodes of a PTX text (directives, labels and comments left out)."""
    ops = []
    for line in ptx.splitlines():
        line = line.strip()
        if not line or line.startswith(("//", ".", "{", "}", ")", "(")) or line.endswith(":"):
            continue
        m = _OPCODE.match(line)
        if m:
            ops.append(m.group(1))
    return ops


def compile_cases(keys):
    """``{(name, ft): opcodes}`` of the cases ``keys`` compiled here, a compile error as its
    text instead of the opcodes."""
    from numba import cuda

    by_ft = {}
    for name, ft in keys:
        by_ft.setdefault(ft, set()).add(name)
    out = {}
    for ft, names in by_ft.items():
        for name, fn, argtypes, _ in cases(ft):
            if name in names:
                try:
                    ptx, _ = cuda.compile_ptx(fn, argtypes, cc=CC)
                    out[(name, ft)] = opcodes(ptx)
                except Exception as e:  # reported by the test (skip where NVVM is missing)
                    out[(name, ft)] = f"{type(e).__name__}: {e}"
    return out


def compile_all(keys):
    """:func:`compile_cases` of ``keys`` spread over a pool of spawned workers (one per
    core, at most 4)."""
    keys = list(keys)
    workers = max(1, min(4, os.cpu_count() or 1))
    if workers == 1:
        return compile_cases(keys)
    chunks = [keys[i::workers] for i in range(workers)]
    try:
        ctx = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            out = {}
            for part in pool.map(compile_cases, chunks):
                out.update(part)
            return out
    except (OSError, concurrent.futures.process.BrokenProcessPool):
        return compile_cases(keys)
