"""PTX of the CUDA element-kernel twins (losses, corruption, vae, updaters, reductions,
distributions), compiled without a GPU (``cuda.compile_ptx``, cc 9.0) for float32 and
float64 arguments: float32 kernels must not compute in float64.

Each module's ``ptx_cases(ft)`` lists its kernels with their float64 use, and this test
asserts exactly that use on the float32 PTX:

``"none"``
    no float64 instruction except reading a float64 scalar argument and rounding it to
    float32 (``ld.param.f64``, ``cvt.rn.f32.f64``: ``scale``, ``lr``... arrive as Python
    floats and are cast inside the kernel).
``"accumulate"``
    float64 only for sums and their bookkeeping (the row sums of the losses and
    log-densities, the block reductions): loads, stores, moves, conversions, additions,
    subtractions, comparisons and selects; no float64 multiply, divide, fma or
    transcendental.
``"redo"``
    a float32 first pass plus a float64 recomputation of what came out non-finite
    (``kl_normal``, ``kl_normal_grad``, ``reparameterize_backward``, the Gaussian and
    logit-Bernoulli log-probability kernels): both float32 and float64 arithmetic present.
``"wide"``
    float64 arithmetic by design (``regularization_score`` squares in float64 like the CPU
    kernel; the probability-Bernoulli and exponential element definitions compute in
    float64).
``"definition"``
    ``mean``/``sample`` of a distribution whose definitions compute in float64: they do what
    the scalar definition does, listed in :data:`DEFINITION_USE` (the exponential's mean and
    inversion sample compute ``exp``/``log1p`` in float64; the probability Bernoulli's mean
    is ``p`` and its sample a float32 comparison).

Float64 kernels must contain no float32 arithmetic (libdevice's float64 ``exp``/``log``
test the range on the high word reinterpreted as float32, ``abs.f32`` + ``setp.f32``: those
two are allowed).  Per-activation loss kernels: the
gradient kernels compile for every built-in activation in float32; the score kernel is one
kernel per sigmoid/softmax flag pair, and the score-and-gradient kernel runs the same code
for every elementwise activation, so those compile for the structural variants (identity,
sigmoid, softmax, and gelu for an activation whose derivative reads the pre-activation).

The cases compile in a pool of worker processes (one per core, at most 4; each compile
takes 0.5-4 s, ~110 of them), see :mod:`cuda_ptx_elem_cases`.

Skipped, with the reason, under the CUDA simulator (it replaces the CUDA target, so there
is no PTX) or where ``compile_ptx`` fails because NVVM is missing.
"""
import os

import pytest

if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
    pytest.skip("the CUDA simulator replaces the CUDA target: PTX is compiled in the normal test run",
                allow_module_level=True)

pytest.importorskip("numba.cuda", reason="numba-cuda is not installed")

import cuda_ptx_elem_cases as cases

from numba_ae.kernels.cuda import corruption, updaters, vae

#: float64 use of the ``mean``/``sample`` kernels of float64 ("wide") definitions
DEFINITION_USE = {"bernoulli_prob.mean": "none", "bernoulli_prob.sample": "none",
                  "exponential.mean": "wide", "exponential.sample": "wide"}

ACCUMULATE_OPS = {"ld", "st", "mov", "cvt", "add", "sub", "setp", "selp"}
ARITH_OPS = {"add", "sub", "mul", "fma", "div", "rcp", "sqrt", "ex2", "lg2", "neg", "abs", "min", "max"}
#: float32 instructions of libdevice's float64 functions (a range test on the high word)
LIBDEVICE_F32 = {"abs", "setp"}

KEYS = [(name, ft) for ft in ("float32", "float64") for name, use in cases.case_uses(ft)]
USES = {(name, ft): use for ft in ("float32", "float64") for name, use in cases.case_uses(ft)}


@pytest.fixture(scope="module")
def opcodes():
    """``(case, dtype) -> opcodes`` (or the compile error's text) of every case."""
    return cases.compile_all(KEYS)


def _f32(ops):
    return [op for op in ops if ".f32" in op]


def _f64(ops):
    return [op for op in ops if ".f64" in op]


def _arith(ops, suffix):
    return [op for op in ops if suffix in op and op.split(".")[0] in ARITH_OPS]


@pytest.mark.parametrize("name,ft", KEYS, ids=[f"{n}-{ft}" for n, ft in KEYS])
def test_ptx_float_widths(opcodes, name, ft):
    ops = opcodes[(name, ft)]
    if isinstance(ops, str):
        low = ops.lower()
        if "nvvm" in low and any(w in low for w in ("not found", "missing", "cannot", "could not")):
            pytest.skip(f"cuda.compile_ptx needs NVVM, which is missing here: {ops}")
        pytest.fail(f"compile_ptx failed: {ops}")
    assert ops, "no instructions parsed"
    if ft == "float64":
        bad = [op for op in _f32(ops) if op.split(".")[0] not in LIBDEVICE_F32]
        assert not bad, f"float32 arithmetic in a float64 kernel: {sorted(set(bad))}"
        return
    use = USES[(name, ft)]
    if use == "definition":
        use = DEFINITION_USE[name]
    f64 = _f64(ops)
    if use == "none":
        assert set(f64) <= {"ld.param.f64", "cvt.rn.f32.f64"}, sorted(set(f64))
    elif use == "accumulate":
        assert {op.split(".")[0] for op in f64} <= ACCUMULATE_OPS, sorted(set(f64))
        assert {"add.f64", "add.rn.f64", "selp.f64"} & set(f64), sorted(set(f64))
    elif use == "redo":
        assert _arith(ops, ".f32"), "no float32 first pass"
        assert _arith(ops, ".f64"), "no float64 redo"
    else:
        assert use == "wide", use
        assert _arith(ops, ".f64"), "no float64 arithmetic"


def test_every_module_lists_its_kernels():
    """Each host function of the modules has its kernel among the PTX cases."""
    names = {name for name, _ in cases.case_uses("float32")}
    for mod in (corruption, updaters, vae):
        for fn in mod.__all__:
            if fn in ("bits_threshold", "adam_step"):   # host-only / a wrapper of adam_step_coeffs
                continue
            assert f"{mod.__name__.rsplit('.', 1)[1]}.{fn}" in names, fn
    for d in cases.DISTRIBUTIONS:
        assert {f"{d.tag}.{k}" for k in d.python_kernels} <= names
    assert {"reductions.mean", "reductions.row_sums"} <= names
    for twin in ("loss_score", "loss_grad", "loss_score_and_grad"):
        assert {f"losses.{twin}[{a}]" for a in ("identity", "sigmoid", "softmax")} <= names
    assert {f"losses.loss_grad[{a}]" for a in cases.activations.NAMES} <= names
