"""Where one numba_ae training step spends its time, kernel by kernel.

    python benchmarks/profile_step.py vae_gauss_pretrain 128     # case name, batch
    python benchmarks/profile_step.py ae_fit 16 --steps 2000 --threads 1

Runs the benchmark case's step (``common.numba_op``) alone in this process (no
torch), then wraps every ``@njit`` kernel the layers call through their kernel
modules (``numba_ae.kernels.*``) in a timer and prints the milliseconds per step
of each, sorted, plus the rest ("python/other": Python glue, RNG draws, small
NumPy reductions).  Kernels called from inside other kernels are counted in their
caller.  The timers add ~1 us per call, so batch-16 rows read slightly high.
"""
import argparse
import collections
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numba_ae  # noqa: E402  (before common: the real package, not the data-only stub)
import common as C  # noqa: E402


def _wrap_kernels(totals, counts):
    """Replace the dispatchers in the kernel modules by timing wrappers (after warm-up):
    module-level kernels, the per-activation specialisations compiled so far
    (``kernel[act]``), and the array kernels of each activation."""
    from numba.core.registry import CPUDispatcher

    from numba_ae import distributions
    from numba_ae.kernels import activations, corruption, dense, losses, updaters, vae

    def timer(f, key):
        def timed(*args):
            t = time.perf_counter()
            r = f(*args)
            totals[key] += time.perf_counter() - t
            counts[key] += 1
            return r
        return timed

    for mod in (activations, corruption, dense, losses, updaters, vae):
        short = mod.__name__.rsplit(".", 1)[-1]
        for name, f in list(vars(mod).items()):
            if isinstance(f, CPUDispatcher):
                setattr(mod, name, timer(f, f"{short}.{name}"))
            elif isinstance(f, activations.per_activation):
                for act, k in list(f._compiled.items()):
                    f._compiled[act] = timer(k, f"{short}.{name}[{act.name}]")
    for mod in (distributions.gaussian, distributions.bernoulli, distributions.exponential):
        for ek in vars(mod).values():
            if isinstance(ek, distributions.ElementKernels):
                for name in ("log_prob", "nll_grad", "log_prob_and_grad", "mean", "sample"):
                    setattr(ek, name, timer(getattr(ek, name), f"distributions.{ek.tag}.{name}"))
    for act in activations.REGISTRY.values():
        for name in ("map", "bias_map", "bias_keep_z", "backward"):
            setattr(act, name, timer(getattr(act, name), f"activations.{name}[{act.name}]"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("case", help="benchmark case name, e.g. ae_pretrain, ae_fit, vae_bern_pretrain")
    ap.add_argument("batch", type=int)
    ap.add_argument("--steps", type=int, default=None, help="timed steps (default: ~20000 examples)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-nan-guard", action="store_true", help="turn the divergence guard off (nan_guard=False)")
    args = ap.parse_args(argv)

    case = C.find_case(args.case, args.batch)
    if not case.is_training:
        ap.error(f"{args.case} is not a training case")
    net = C.numba_net(case.model)
    if args.no_nan_guard:
        net.nan_guard = False
    op = C.numba_op(case, net)
    data = C.case_data(case)
    steps = args.steps or max(20, 20000 // args.batch)
    C.limit_threads(args.threads)
    for x in data[:5]:          # compile / load from cache, allocate workspaces
        op(x)
    totals, counts = collections.Counter(), collections.Counter()
    _wrap_kernels(totals, counts)
    for x in data[:5]:
        op(x)
    totals.clear()
    counts.clear()
    t = time.perf_counter()
    for k in range(steps):
        op(data[k % len(data)])
    per_step = (time.perf_counter() - t) / steps
    print(f"{case.label}: {per_step * 1e3:.3f} ms/step ({args.batch / per_step:,.0f} samples/s), "
          f"{steps} steps, {args.threads} thread(s)")
    kernel_total = 0.0
    for key, secs in totals.most_common():
        kernel_total += secs
        print(f"  {key:48s} {secs / steps * 1e3:8.3f} ms  x{counts[key] // steps}")
    print(f"  {'(python/other)':48s} {per_step * 1e3 - kernel_total / steps * 1e3:8.3f} ms")


if __name__ == "__main__":
    main()
