"""CUDA implementations of :mod:`numba_ae.kernels.fastmath`'s target-neutral functions.

On the GPU ``math.exp`` & co. compile to libdevice calls in the argument's precision
(``expf`` for float32), which are already fast, so each stub lowers to the ``math``
function.  Sigmoid and softplus use the same overflow-free forms as the CPU versions.

They are registered as typing + lowering in the CUDA target's registries
(``type_callable`` / ``lower_builtin``), not as ``overload``: an overload compiles a
device function, which asks the driver for the current device's compute capability
and so fails in ``cuda.compile_ptx`` on a machine without a GPU (where CI checks the
PTX).  Importing this module registers them (``numba_ae.kernels.cuda`` does it once).
"""
import math

from numba import types
from numba.cuda.extending import lower_builtin, type_callable

from .. import fastmath as _fm


def _exp(x):
    return math.exp(x)


def _log(x):
    return math.log(x)


def _log1p(x):
    return math.log1p(x)


def _tanh(x):
    return math.tanh(x)


def _sigmoid(x):
    e = math.exp(-abs(x))
    one = type(x)(1.0)
    return one / (one + e) if x >= type(x)(0.0) else e / (one + e)


def _softplus(x):
    zero = type(x)(0.0)
    return max(x, zero) + math.log1p(math.exp(-abs(x)))


def _register(stub, pyfunc):
    @type_callable(stub)
    def _typer(context):
        def typer(x):
            if isinstance(x, types.Float) and x.bitwidth in (32, 64):
                return x
            return None
        return typer

    for ty in (types.float32, types.float64):
        @lower_builtin(stub, ty)
        def _lower(context, builder, sig, args):
            return context.compile_internal(builder, pyfunc, sig, args)


for _stub, _impl in ((_fm.fexp, _exp), (_fm.flog, _log), (_fm.flog1p, _log1p),
                     (_fm.ftanh, _tanh), (_fm.sigmoid, _sigmoid), (_fm.softplus, _softplus)):
    _register(_stub, _impl)
