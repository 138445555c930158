"""Register-tiled shared-memory GEMM kernels with fused epilogues (CUDA).

One kernel template computes ``out = op(a) @ op(b)`` with ``op`` the identity or the
transpose (``trans_a``/``trans_b``: ``a.T @ b`` for weight gradients, ``a @ b.T`` for
backprop and tied decoders: a device array's ``.T`` launches a copy, so transposes are
expressed by these flags), followed by an epilogue applied to each output element
``v = acc`` while it is still in a register:

* forward: ``v += out`` (``accumulate``), ``z = v`` (``z_mode="pre"``), ``v += bias``,
  ``z = v`` (``z_mode="post"``), ``out = f(v)`` (activation ``f``; none = identity);
* backward (``grad=act``): ``v += coef * sign(h)`` (``l1``), then
  ``out = v * f'(z, h)``: the gradient through an activation whose output is ``h`` and
  pre-activation ``z`` (``z`` may be ``h`` when the derivative reads only the output).

Tiling.  A block computes a ``BM x BN`` tile of ``out``, stepping through ``k`` in slabs of
``BK``: each slab of ``op(a)`` and ``op(b)`` is loaded into shared memory (coalesced along
the operand's contiguous axis, zero-padded past the edges, so any sizes work), then each
thread accumulates a ``TM x TN`` register tile as ``TM + TN`` shared loads feeding
``TM * TN`` FMAs per ``k``.  Thread ``(tx, ty)`` owns rows ``ty + i * TY`` and columns
``tx + j * TX`` (strided, not a contiguous sub-block): a warp's shared-memory reads are then
broadcasts or consecutive words (no bank conflicts) and its global stores are coalesced.
The shared tiles are stored ``[BK, BM + 1]``: the pad makes the transposing stores of
``k``-contiguous operands conflict-free.

Two tiles, both 4x4 per thread: 16 accumulators + 8 fragments, twice that in float64
registers; 8x8 or 8x4 per thread would double the float64 register file again and, with
our small matrices, leave most SMs idle.  ptxas (sm_90) gives the 64x64 kernels 96
(float32) / 128 (float64) registers, the 32x32 ones 158-176 (64-thread blocks, so 5+
blocks per SM still fit), no spills or stack in either (the register tile is read in the
epilogue through :func:`_tile_reader`; ``tests/test_cuda_ptx.py`` checks it).  Not yet
timed on a GPU.

* ``"64x64"``: 256 threads, 64x64 outputs per block (``BK = 16``; 8.5 KB shared in float32,
  17 KB in float64); half the operand traffic per FMA of the small tile.
* ``"32x32"``: 64 threads, 32x32 outputs per block; four times the blocks.  Our GEMMs are
  small (128x784 @ 784x512 gives 16 blocks of 64x64 on a GPU of 132 SMs), so the small tile
  is chosen unless the 64x64 grid already has :data:`LARGE_TILE_MIN_BLOCKS` blocks.

Kernels are compiled lazily, one per :class:`GemmSpec` (transpose modes, epilogue flags,
activation, tile), and cached; the argument dtypes (float32, float64) are dispatched by
numba-cuda.  Constants are made in the operands' dtype, so float32 kernels hold no float64
instruction (``tests/test_cuda_ptx.py`` checks the PTX).
"""
import math
from collections import namedtuple

import numpy as np
from numba import cuda, types

from .. import activations as _acts
from . import _fastmath
from ._launch import jit_kernel, launch_2d
from .activations import device_function, device_scalar, dummy_vec

__all__ = ["TILES", "GemmSpec", "Tile", "gemm", "gemm_grad", "kernel_for", "pick_tile", "ptx_cases"]


class Tile(namedtuple("Tile", "name bm bn bk tm tn")):
    """A block tile: ``bm x bn`` outputs per block, ``bk``-deep shared slabs, ``tm x tn``
    outputs per thread; the block is ``(bn // tn, bm // tm)`` threads."""

    @property
    def block(self):
        return (self.bn // self.tn, self.bm // self.tm)

    @property
    def threads(self):
        return (self.bn // self.tn) * (self.bm // self.tm)


#: The tiles :func:`gemm` chooses from (see the module docstring).
TILES = {t.name: t for t in (Tile("64x64", 64, 64, 16, 4, 4), Tile("32x32", 32, 32, 16, 4, 4))}
#: 64x64 blocks needed before the 64x64 tile is used (two per SM of a 132-SM GPU).
LARGE_TILE_MIN_BLOCKS = 264

_Z_MODES = (None, "pre", "post")


class GemmSpec(namedtuple("GemmSpec", "trans_a trans_b act has_bias z_mode accumulate grad l1 tile")):
    """What one compiled GEMM kernel does (the cache key of :func:`kernel_for`).

    Attributes
    ----------
    trans_a, trans_b : bool, transpose modes.
    act : Activation or None; forward epilogue activation (None: identity, no call).
    has_bias : bool; add ``bias[col]``.
    z_mode : None, "pre" or "post"; store ``v`` into ``z`` before or after the bias.
    accumulate : bool; ``v += out`` first.
    grad : Activation or None; backward epilogue ``out = v * f'(z, h)`` (``act`` then None).
    l1 : bool; backward epilogue adds ``coef * sign(h)`` before the derivative.
    tile : :class:`Tile` name.
    """


def _make_pyfunc(spec):
    """The plain Python kernel function of ``spec`` (for ``cuda.jit`` or ``cuda.compile_ptx``).

    Kernel arguments: ``(a, b, out, bias, z, h, coef)``; ``bias`` [n], ``z``/``h`` [m, n]
    and the scalar ``coef`` are read only when ``spec`` says so (dummies otherwise).
    """
    tile = TILES[spec.tile]
    BM, BN, BK, TM, TN = tile.bm, tile.bn, tile.bk, tile.tm, tile.tn
    TX, TY = tile.block
    NT = tile.threads
    if (BM * BK) % NT or (BN * BK) % NT:
        raise ValueError(f"tile {tile}: shared slabs must be a multiple of the block size")
    LOADS_A, LOADS_B = BM * BK // NT, BN * BK // NT
    SA_W, SB_W = BM + 1, BN + 1        # padded rows (shapes must be literal constants)
    TA, TB = bool(spec.trans_a), bool(spec.trans_b)
    HAS_BIAS, ACCUM, L1 = bool(spec.has_bias), bool(spec.accumulate), bool(spec.l1)
    Z_PRE, Z_POST = spec.z_mode == "pre", spec.z_mode == "post"
    GRAD = spec.grad is not None
    APPLY_F = spec.act is not None and not spec.act.is_identity
    ident = _acts.get("identity")
    f = device_scalar(spec.act.forward if APPLY_F else ident.forward)
    df = device_scalar(spec.grad.derivative if GRAD else ident.derivative)

    def store(v, r, c, out, bias, z, h, coef):
        # one output element: the epilogue on the accumulated value v
        if ACCUM:
            v += out[r, c]
        if GRAD:
            hv = h[r, c]
            if L1:
                if hv > type(v)(0.0):
                    v += coef
                elif hv < type(v)(0.0):
                    v -= coef
            out[r, c] = v * df(z[r, c], hv)
        else:
            if Z_PRE:
                z[r, c] = v
            if HAS_BIAS:
                v += bias[c]
            if Z_POST:
                z[r, c] = v
            out[r, c] = f(v) if APPLY_F else v

    store = device_function(store)
    read = _tile_reader(TM, TN)

    def gemm_kernel(a, b, out, bias, z, h, coef):
        m = out.shape[0]
        n = out.shape[1]
        kd = a.shape[0] if TA else a.shape[1]
        sa = cuda.shared.array((BK, SA_W), a.dtype)
        sb = cuda.shared.array((BK, SB_W), a.dtype)
        acc = cuda.local.array((TM, TN), a.dtype)
        af = cuda.local.array(TM, a.dtype)
        bf = cuda.local.array(TN, a.dtype)
        zero = a.dtype.type(0.0)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        t = ty * TX + tx
        r0 = cuda.blockIdx.y * BM
        c0 = cuda.blockIdx.x * BN
        for i in range(TM):
            for j in range(TN):
                acc[i, j] = zero
        for k0 in range(0, kd, BK):
            for q in range(LOADS_A):
                e = t + q * NT
                if TA:                      # a is [k, m]: coalesced along m
                    kk = e // BM
                    r = e % BM
                    gk = k0 + kk
                    gr = r0 + r
                    sa[kk, r] = a[gk, gr] if (gk < kd and gr < m) else zero
                else:                       # a is [m, k]: coalesced along k
                    r = e // BK
                    kk = e % BK
                    gk = k0 + kk
                    gr = r0 + r
                    sa[kk, r] = a[gr, gk] if (gk < kd and gr < m) else zero
            for q in range(LOADS_B):
                e = t + q * NT
                if TB:                      # b is [n, k]: coalesced along k
                    c = e // BK
                    kk = e % BK
                    gk = k0 + kk
                    gc = c0 + c
                    sb[kk, c] = b[gc, gk] if (gk < kd and gc < n) else zero
                else:                       # b is [k, n]: coalesced along n
                    kk = e // BN
                    c = e % BN
                    gk = k0 + kk
                    gc = c0 + c
                    sb[kk, c] = b[gk, gc] if (gk < kd and gc < n) else zero
            cuda.syncthreads()
            for kk in range(BK):
                for i in range(TM):
                    af[i] = sa[kk, ty + i * TY]
                for j in range(TN):
                    bf[j] = sb[kk, tx + j * TX]
                for i in range(TM):
                    for j in range(TN):
                        acc[i, j] += af[i] * bf[j]
            cuda.syncthreads()
        for i in range(TM):
            r = r0 + ty + i * TY
            if r < m:
                for j in range(TN):
                    c = c0 + tx + j * TX
                    if c < n:
                        store(read(acc, i, j), r, c, out, bias, z, h, coef)

    gemm_kernel.__name__ = gemm_kernel.__qualname__ = "gemm_" + _tag(spec)
    return gemm_kernel


def _tile_reader(tm, tn):
    """A helper ``read(acc, i, j)`` returning ``acc[i, j]`` of a ``tm x tn`` register tile
    through a branch on ``(i, j)`` whose every arm reads ``acc`` at literal indices.

    The epilogue loops over the tile; LLVM unrolls such a loop only while its body is
    small.  With a costly activation inlined (mish in float64) the loop stayed rolled and
    indexed ``acc`` at run time, which moved the whole register tile to local memory.
    Read through this branch, the tile stays in registers whether or not the loop is
    unrolled (unrolled, the branches fold away), and the activation is compiled once,
    not once per element of the tile.
    """
    lines = ["def read(acc, i, j):"]
    for i in range(tm):
        lines.append(f"    if i == {i}:")
        for j in range(tn - 1):
            lines.append(f"        if j == {j}:")
            lines.append(f"            return acc[{i}, {j}]")
        lines.append(f"        return acc[{i}, {tn - 1}]")
    lines.append(f"    return acc[{tm - 1}, {tn - 1}]")
    ns = {}
    exec(compile("\n".join(lines) + "\n", f"<gemm tile reader {tm}x{tn}>", "exec"), ns)
    return device_function(ns["read"])


def _tag(spec):
    parts = ["t" if spec.trans_a else "n", "t" if spec.trans_b else "n", spec.tile]
    if spec.act is not None:
        parts.append(spec.act.name)
    if spec.has_bias:
        parts.append("bias")
    if spec.z_mode:
        parts.append("z" + spec.z_mode)
    if spec.accumulate:
        parts.append("acc")
    if spec.grad is not None:
        parts.append("grad_" + spec.grad.name)
    if spec.l1:
        parts.append("l1")
    return "_".join(parts)


_kernels = {}


def kernel_for(spec):
    """The ``cuda.jit`` kernel of ``spec``, compiled on first launch and cached."""
    k = _kernels.get(spec)
    if k is None:
        k = _kernels[spec] = jit_kernel(_make_pyfunc(spec))
    return k


def argtypes(dtype, layout="C"):
    """Numba argument types of a GEMM kernel for operands of ``dtype`` (PTX tests)."""
    dt = types.float32 if np.dtype(dtype) == np.float32 else types.float64
    a2 = types.Array(dt, 2, layout)
    return (a2, a2, a2, types.Array(dt, 1, "C"), a2, a2, dt)


def pick_tile(m, n):
    """Tile name for an ``m x n`` output: ``"64x64"`` once its grid has
    :data:`LARGE_TILE_MIN_BLOCKS` blocks, else ``"32x32"`` (more blocks for small outputs)."""
    big = TILES["64x64"]
    if math.ceil(m / big.bm) * math.ceil(n / big.bn) >= LARGE_TILE_MIN_BLOCKS:
        return "64x64"
    return "32x32"


def _act(act):
    if act is None:
        return None
    act = _acts.get(act) if isinstance(act, str) else act
    if act.is_softmax:
        raise ValueError("the GEMM epilogue applies elementwise activations only; softmax is "
                         "row-wise (numba_ae.kernels.cuda.activations has its row kernels)")
    return act


def _check(a, b, out, trans_a, trans_b):
    if a.ndim != 2 or b.ndim != 2 or out.ndim != 2:
        raise ValueError("gemm operands must be 2-D device arrays")
    m, ka = (a.shape[1], a.shape[0]) if trans_a else a.shape
    kb, n = (b.shape[1], b.shape[0]) if trans_b else b.shape
    if ka != kb or out.shape != (m, n):
        raise ValueError(f"gemm shapes do not match: op(a) {(m, ka)} @ op(b) {(kb, n)} -> out {out.shape}")
    if not (a.dtype == b.dtype == out.dtype) or out.dtype not in (np.float32, np.float64):
        raise ValueError(f"gemm operands must share one float dtype (float32 or float64); "
                         f"got {a.dtype}, {b.dtype}, {out.dtype}")
    return m, n


def _same_dtype(out, **arrays):
    for name, arr in arrays.items():
        if arr is not None and arr.dtype != out.dtype:
            raise ValueError(f"{name} must have the operands' dtype {out.dtype}; got {arr.dtype}")


def _launch(spec, a, b, out, bias, z, h, coef):
    m, n = out.shape
    t = TILES[spec.tile]
    grid = (max(1, math.ceil(n / t.bn)), max(1, math.ceil(m / t.bm)))
    launch_2d(kernel_for(spec), grid, t.block, a, b, out, bias, z, h, coef)


def gemm(a, b, out, trans_a=False, trans_b=False, *, bias=None, act=None, z=None, z_mode=None,
         accumulate=False, tile=None):
    """``out = f(op(a) @ op(b) [+ out] + bias)`` in one launch.

    Parameters
    ----------
    a, b : device arrays, [m, k] and [k, n] (transposed storage with ``trans_a``/``trans_b``:
        ``a`` [k, m], ``b`` [n, k]); any strides.
    out : device array [m, n], overwritten (read first with ``accumulate``).
    trans_a, trans_b : bool
        Use ``a.T`` / ``b.T`` (no copy).
    bias : device array [n] or None
        Row vector added to every row.
    act : Activation, registered name or None
        Elementwise activation of the epilogue (None or identity: none); not softmax.
    z : device array [m, n] or None
        Receives the pre-activation: with ``z_mode="post"`` (the default when ``z`` is
        given) ``op(a) @ op(b) [+ out] + bias``, with ``z_mode="pre"`` the value before the bias.
    accumulate : bool
        ``out += ...`` instead of ``out = ...`` (``op(a) @ op(b)`` is added to ``out``'s
        old value before the bias and activation).
    tile : "64x64", "32x32" or None (chosen by :func:`pick_tile`).
    """
    m, n = _check(a, b, out, trans_a, trans_b)
    act = _act(act)
    if z is not None and z_mode is None:
        z_mode = "post"
    if z_mode not in _Z_MODES or (z_mode is not None and z is None):
        raise ValueError(f"z_mode must be one of {_Z_MODES} and needs z; got {z_mode!r}")
    if z is not None and z.shape != out.shape:
        raise ValueError(f"z must have out's shape {out.shape}; got {z.shape}")
    if bias is not None and bias.shape != (n,):
        raise ValueError(f"bias must have shape ({n},); got {bias.shape}")
    _same_dtype(out, bias=bias, z=z)
    spec = GemmSpec(bool(trans_a), bool(trans_b), None if act is None or act.is_identity else act,
                    bias is not None, z_mode, bool(accumulate), None, False, tile or pick_tile(m, n))
    _launch(spec, a, b, out, dummy_vec(out.dtype) if bias is None else bias,
            out if z is None else z, out, out.dtype.type(0.0))


def gemm_grad(a, b, out, act, z, h, trans_a=False, trans_b=False, *, l1_coef=0.0, accumulate=False,
              tile=None):
    """``out = (op(a) @ op(b) [+ out] + l1_coef * sign(h)) * f'(z, h)`` in one launch: the
    gradient w.r.t. the pre-activation of a layer ``h = f(z)`` given the GEMM that brings the
    gradient w.r.t. ``h``.

    Parameters
    ----------
    a, b, out, trans_a, trans_b, accumulate, tile : as :func:`gemm`.
    act : Activation or registered name (elementwise; identity makes it a plain GEMM).
    z, h : device arrays [m, n]: pre-activation (or ``h`` again when the derivative reads
        only the output) and output of the activation.
    l1_coef : float; coefficient of an L1 activity penalty on ``h`` (0: off).
    """
    m, n = _check(a, b, out, trans_a, trans_b)
    act = _act(act)
    if z.shape != out.shape or h.shape != out.shape:
        raise ValueError(f"z and h must have out's shape {out.shape}; got {z.shape}, {h.shape}")
    _same_dtype(out, z=z, h=h)
    l1 = l1_coef != 0.0
    spec = GemmSpec(bool(trans_a), bool(trans_b), None, False, None, bool(accumulate),
                    None if (act.is_identity and not l1) else act, l1, tile or pick_tile(m, n))
    _launch(spec, a, b, out, dummy_vec(out.dtype), z, h, out.dtype.type(l1_coef))


def ptx_cases(acts=("identity", "relu", "gelu", "mish")):
    """``(name, pyfunc, argtypes)`` of representative GEMM kernels for the PTX tests: every
    transpose mode and tile with each epilogue kind, float32 and float64."""
    cases = []
    acts = [_acts.get(a) for a in acts]
    for tile in TILES:
        for ta in (False, True):
            for tb in (False, True):
                if ta and tb:
                    continue
                specs = [GemmSpec(ta, tb, None, False, None, False, None, False, tile),
                         GemmSpec(ta, tb, None, False, None, True, None, False, tile)]
                for act in acts:
                    specs.append(GemmSpec(ta, tb, act, True, "post", False, None, False, tile))
                    specs.append(GemmSpec(ta, tb, None, False, None, False, act, True, tile))
                specs.append(GemmSpec(ta, tb, acts[-1], True, "pre", True, None, False, tile))
                for spec in specs:
                    for dt in (np.float32, np.float64):
                        cases.append((f"{_tag(spec)}[{np.dtype(dt).name}]", _make_pyfunc(spec), argtypes(dt)))
    return cases
