"""numba_ae vs PyTorch (CPU) benchmark: training/inference throughput, peak RSS,
fraction of the machine's sgemm peak, and time to the first training step.

    python benchmarks/run.py                 # full run (~2.5 min on an idle 2-core machine)
    python benchmarks/run.py --quick         # smoke run (< 2 min)
    python benchmarks/run.py --cases 'vae_gauss*' --batches 16,512 --skip-rss --skip-ttfs
    python benchmarks/run.py --device cuda   # numba_ae vs torch CUDA eager (benchmarks/gpu.py)

See benchmarks/README.md for what each column means and how FLOPs are counted.
Only the standard library is imported at module level, so the worker mode
(``--worker rss|ttfs``, used for fresh subprocesses) measures its own imports.
"""
import argparse
import csv
import fnmatch
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

_T0 = time.time()  # process start as seen by this script (before numpy/numba/torch imports)
HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
RESULT_MARK = "@@RESULT "
RLP_SAMPLES = 16  # keep in sync with common.RLP_SAMPLES (common imports numpy)
TRAINING_CASE_NAMES = ("ae_pretrain", "ae_fit", "vae_gauss_pretrain", "vae_bern_pretrain")


# ====================================================================== arguments
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2, help="threads for BLAS/OpenMP/numba/torch (default 2)")
    p.add_argument("--repeats", type=int, default=None, help="interleaved A/B timing pairs per case (default 5; quick 2)")
    p.add_argument("--steps", type=int, default=None,
                   help="calls per timing (default: calibrated so the slower framework takes ~--target-time)")
    p.add_argument("--target-time", type=float, default=None,
                   help="seconds per timing when --steps is not given (default 0.5; quick 0.12)")
    p.add_argument("--warmup", type=int, default=None, help="untimed calls per framework before timing (default 3; quick 2)")
    p.add_argument("--quick", action="store_true", help="fast smoke run: batch 128 only, fewer repeats, one TTFS case")
    p.add_argument("--cases", default="*",
                   help="comma-separated fnmatch patterns on case names or name@batch "
                        "(ae_pretrain, ae_fit, vae_gauss_pretrain, vae_bern_pretrain, vae_encode, "
                        "vae_gauss_rlp, vae_bern_rlp); default all")
    p.add_argument("--batches", default=None, help="training batch sizes (default 16,128,512; quick 128)")
    p.add_argument("--ttfs-batch", type=int, default=128, help="batch size of the time-to-first-step runs")
    p.add_argument("--ttfs-cases", default=None,
                   help="training cases for time-to-first-step (default all four; quick vae_gauss_pretrain)")
    p.add_argument("--skip-rss", action="store_true", help="skip the peak-RSS subprocesses")
    p.add_argument("--skip-ttfs", action="store_true", help="skip the time-to-first-step subprocesses")
    p.add_argument("--skip-check", action="store_true", help="skip the numba_ae/torch loss+gradient agreement check")
    p.add_argument("--settle", type=float, default=0.3,
                   help="seconds of idle before each timing block, so the other framework's spinning "
                        "worker threads park (default 0.3)")
    p.add_argument("--busy-threshold", type=float, default=0.10,
                   help="redo a timing pair when other processes used more than this share of the machine "
                        "during it (default 0.10; see README)")
    p.add_argument("--max-retries", type=int, default=3, help="redos per contaminated pair (default 3)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="cpu: this table (numba_ae vs torch on the CPU); cuda: benchmarks/gpu.py "
                        "(numba_ae vs torch CUDA eager, batches 128,1024,4096 by default)")
    p.add_argument("--smoke", action="store_true", help="with --device cuda: toy shapes, launch counts only "
                                                        "(runs under NUMBA_ENABLE_CUDASIM=1)")
    p.add_argument("--no-torch", action="store_true", help="benchmark numba_ae alone even if torch is installed")
    p.add_argument("--out", default=os.path.join(HERE, "results"), help="output folder (default benchmarks/results)")
    # worker mode (internal)
    p.add_argument("--worker", choices=("rss", "ttfs", "timer"), help=argparse.SUPPRESS)
    p.add_argument("--isolate", action="store_true",
                   help="time each framework in its own persistent worker process (blocks still "
                        "interleaved) instead of both in this process; a cross-check, see README")
    p.add_argument("--framework", choices=("numba_ae", "torch", "numpy"), help=argparse.SUPPRESS)
    p.add_argument("--case", help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    p.add_argument("--t-spawn", type=float, default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    q = a.quick
    a.batches_given = a.batches  # benchmarks/gpu.py has its own default batches
    a.repeats = a.repeats if a.repeats is not None else (2 if q else 5)
    a.target_time = a.target_time if a.target_time is not None else (0.12 if q else 0.5)
    a.warmup = a.warmup if a.warmup is not None else (2 if q else 3)
    a.batches = tuple(int(b) for b in (a.batches or ("128" if q else "16,128,512")).split(",") if b.strip())
    a.ttfs_cases = tuple(s for s in (a.ttfs_cases or ("vae_gauss_pretrain" if q else ",".join(TRAINING_CASE_NAMES))).split(",") if s)
    if a.threads < 1 or a.repeats < 1 or (a.steps is not None and a.steps < 1):
        p.error("--threads, --repeats and --steps must be >= 1")
    return a


def select_cases(args):
    import common
    pats = [s.strip() for s in args.cases.split(",") if s.strip()] or ["*"]
    return [c for c in common.all_cases(args.batches)
            if any(fnmatch.fnmatch(c.name, p) or fnmatch.fnmatch(c.label, p) for p in pats)]


def thread_env(threads, extra=None):
    env = dict(os.environ)
    for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(threads)
    env.update(extra or {})
    return env


# ====================================================================== worker (fresh subprocess)
def worker(args):
    """Runs one framework+case in this fresh process; prints a JSON line after RESULT_MARK."""
    import common
    t_numpy = time.time()
    res = {"framework": args.framework, "case": args.case, "batch": args.batch}
    if args.framework == "numba_ae":
        import numba_ae  # noqa: F401  (the full package: numba, llvmlite, kernels)
    elif args.framework == "torch":
        import torch
        import torch_models  # noqa: F401
        torch.set_num_threads(args.threads)
    t_import = time.time()
    common.limit_threads(args.threads, numba_side=args.framework == "numba_ae")
    if args.case == "baseline":
        case = common.Case("baseline", "vae_gauss", "train_pretrain", 128)
        batches = common.case_data(case)
        res["maxrss_mb"], res["ru_maxrss_mb"] = common.max_rss_mb()
        print(RESULT_MARK + json.dumps(res), flush=True)
        return
    case = common.find_case(args.case, args.batch)
    batches = common.case_data(case)
    t_data = time.time()
    if args.framework == "numba_ae":
        net = common.numba_net(case.model)
        f = common.numba_op(case, net)
        xs = batches
    else:
        import torch
        import torch_models as tm
        xs = [torch.from_numpy(b) for b in batches]
        model = tm.build(case.model)
        f = common.torch_op(case, model)
    f(xs[0])
    t_first = time.time()
    if args.worker == "timer":
        _timer_loop(f, xs, args)
        return
    if args.worker == "rss":
        for k in range(1, (args.steps or 5) + 1):
            f(xs[k % len(xs)])
        res["maxrss_mb"], res["ru_maxrss_mb"] = common.max_rss_mb()
    else:
        t_spawn = args.t_spawn if args.t_spawn is not None else _T0
        res.update({"total_s": t_first - t_spawn, "startup_s": _T0 - t_spawn,
                    "import_s": t_import - _T0, "numpy_import_s": t_numpy - _T0,
                    "data_s": t_data - t_import, "init_to_first_step_s": t_first - t_data})
    print(RESULT_MARK + json.dumps(res), flush=True)


def _timer_loop(f, xs, args):
    """Serve timing requests on stdin: ``run STEPS START SETTLE`` -> ``T SECONDS SHARE``."""
    import common
    for k in range(1, max(1, args.warmup)):
        f(xs[k % len(xs)])
    meter = common.CpuMeter()
    print("READY", flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        steps, start, settle = int(cmd[1]), int(cmd[2]), float(cmd[3])
        t = run_block(f, xs, steps, start, meter, settle)
        share = meter.share()
        print(f"T {t!r} {-1.0 if share is None else share!r}", flush=True)


class TimerWorker:
    """A persistent subprocess that times one framework's case on request."""

    def __init__(self, framework, case, args):
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", "timer", "--framework", framework,
               "--case", case.name, "--batch", str(case.batch), "--threads", str(args.threads),
               "--warmup", str(args.warmup if case.is_training else max(1, args.warmup - 1))]
        self.p = subprocess.Popen(cmd, env=thread_env(args.threads), stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, cwd=os.path.dirname(HERE))
        line = self.p.stdout.readline()
        while line and not line.startswith("READY"):
            line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"timer worker {framework}/{case.label} failed to start")

    def run(self, steps, start, settle):
        self.p.stdin.write(f"run {steps} {start} {settle}\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        while line and not line.startswith("T "):
            line = self.p.stdout.readline()
        _, t, share = line.split()
        share = float(share)
        return float(t), (None if share < 0 else share)

    def close(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.close()
        except OSError:
            pass
        self.p.wait(timeout=30)


def time_case_isolated(case, args, common, have_torch):
    """Like :func:`time_case`, but each framework runs in its own persistent process, so
    neither inherits the other's thread pools or libraries; blocks still alternate."""
    wa = TimerWorker("numba_ae", case, args)
    wb = TimerWorker("torch", case, args) if have_torch else None
    try:
        return interleave(case, args, common, wa.run, wb.run if wb else None)
    finally:
        wa.close()
        if wb:
            wb.close()


def run_worker(mode, framework, case, batch, args, extra_env=None, timeout=600):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", mode, "--framework", framework,
           "--case", case, "--batch", str(batch), "--threads", str(args.threads)]
    if args.steps:
        cmd += ["--steps", str(min(args.steps, 10))]
    t_spawn = time.time()
    cmd += ["--t-spawn", repr(t_spawn)]
    p = subprocess.run(cmd, env=thread_env(args.threads, extra_env), capture_output=True, text=True,
                       timeout=timeout, cwd=os.path.dirname(HERE))
    for line in reversed(p.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK):])
    sys.stderr.write(f"worker {framework}/{case}@{batch} failed (rc={p.returncode}):\n{p.stderr[-2000:]}\n")
    return None


# ====================================================================== equivalence check
def check_equivalence(torch, tm, common, tol=2e-3):
    """Same params + same noise: numba_ae and torch losses and gradients must agree."""
    import numpy as np
    x, _ = common.mnist_arrays(train=True, num_examples=64)
    xb, _ = common.mnist_arrays(train=True, binarize=True, num_examples=64)
    rows = []
    for model in ("ae_pretrain", "ae_fit", "vae_gauss", "vae_bern"):
        data = xb if model == "vae_bern" else x
        net = common.numba_net(model, seed=7)
        tmod = tm.build(model)
        tm.load_numba_params(tmod, net)
        rng = np.random.default_rng(3)
        tx = torch.from_numpy(data)
        if model == "ae_pretrain":
            u = rng.random(data.shape, dtype=np.float32)
            s_nb = net.layers[0].pretrain_step(data, net._rng, u=u)
            loss = tmod.loss(tx, u=torch.from_numpy(u))
        elif model == "ae_fit":
            a = data
            for layer in net.layers:
                a = layer.forward(a, training=True, rng=net._rng)
            s_nb = float(np.mean(net.layers[-1].example_scores(data), dtype=np.float64))
            delta = net.layers[-1].backward_from_labels(data, need_dx=True)
            net.layers[0].backward(delta, need_dx=False)
            loss = tmod.loss(tx, tx)
        else:
            eps = rng.standard_normal((data.shape[0], common.VAE_LATENT), dtype=np.float32)
            s_nb = net.layers[0].pretrain_step(data, net._rng, eps=eps)
            loss = tmod.loss(tx, eps=torch.from_numpy(eps))
        loss.backward()
        g_t = tm.numba_layout_grads(tmod)
        worst, where = 0.0, ""
        for (li, name), gt in g_t.items():
            gn = net.layers[li].grads[name]
            err = float(np.max(np.abs(gn - gt)) / max(float(np.max(np.abs(gn))), 1e-30))
            if err > worst:
                worst, where = err, f"{li}:{name}"
        s_t = float(loss.detach())
        lerr = abs(s_nb - s_t) / max(abs(s_nb), 1e-30)
        ok = lerr < tol and worst < tol
        rows.append((model, s_nb, s_t, lerr, worst, where, ok))
    print("Agreement check (same params and noise, batch 64): loss and max |grad diff| / max |grad|")
    for model, a, b, lerr, gerr, where, ok in rows:
        print(f"  {model:12s} loss numba_ae {a:12.6f} torch {b:12.6f}  rel {lerr:.1e}  "
              f"grad rel {gerr:.1e} ({where})  {'ok' if ok else 'MISMATCH'}")
    return all(r[-1] for r in rows)


# ====================================================================== timing
def run_block(f, xs, steps, start, meter=None, settle=0.0):
    n = len(xs)
    if settle:
        # let the other framework's worker threads (OpenBLAS, OpenMP) stop spinning: a
        # block started right after the other framework's block otherwise shares the
        # cores with its busy-waiting threads
        time.sleep(settle)
    if meter is not None:
        meter.start()
    t = time.perf_counter()
    for k in range(start, start + steps):
        f(xs[k % n])
    return time.perf_counter() - t


def time_case(case, args, common, torch, tm):
    """Interleaved A (numba_ae) / B (torch) timings in this process; returns a result dict."""
    batches = common.case_data(case)
    net = common.numba_net(case.model)
    f_nb = common.numba_op(case, net)
    f_t = None
    if torch is not None:
        model = tm.build(case.model)
        tm.load_numba_params(model, net)  # identical starting weights
        tbatches = [torch.from_numpy(b) for b in batches]
        f_t = common.torch_op(case, model)
    warm = args.warmup if case.is_training else max(1, args.warmup - 1)
    for k in range(warm):
        f_nb(batches[k % len(batches)])
        if f_t is not None:
            f_t(tbatches[k % len(tbatches)])
    common.limit_threads(args.threads)  # now every BLAS/OpenMP library is loaded
    meter = common.CpuMeter()

    def block(f, xs):
        def run(steps, start, settle):
            t = run_block(f, xs, steps, start, meter, settle)
            return t, meter.share()
        return run

    return interleave(case, args, common, block(f_nb, batches),
                      block(f_t, tbatches) if f_t is not None else None)


def interleave(case, args, common, run_a, run_b):
    """Calibrate, then ``--repeats`` pairs of timing blocks in alternating order (A B, B A, ...);
    ``run_x(steps, start, settle) -> (seconds, busy share)``.  Returns the result dict."""
    if args.steps:
        steps = args.steps
    else:
        # min over 3 probes of 2 calls: a probe slowed by another process must not shrink the
        # timing blocks (short blocks also make the busy% reading coarse: /proc/stat ticks are 10 ms)
        t_a = min(run_a(2, 0, 0.0)[0] for _ in range(3)) / 2
        t_b = min(run_b(2, 0, 0.0)[0] for _ in range(3)) / 2 if run_b else 0.0
        steps = int(min(2000, max(2, math.ceil(args.target_time / max(t_a, t_b, 1e-6)))))
    nb_sps, t_sps, ratios, busy = [], [], [], []
    pos, retried = 0, 0
    for rep in range(args.repeats):
        for attempt in range(args.max_retries + 1):
            tb = sb = None
            if run_b and rep % 2 == 1:  # A B, B A, A B, ...: neither always goes first
                tb, sb = run_b(steps, pos, args.settle)
            ta, sa = run_a(steps, pos, args.settle)
            if run_b and rep % 2 == 0:
                tb, sb = run_b(steps, pos, args.settle)
            pos += steps
            share = max(v for v in (sa, sb, 0.0) if v is not None)
            if share <= args.busy_threshold or attempt == args.max_retries:
                break
            retried += 1
            common.wait_idle(max_wait=3.0, threshold=args.busy_threshold)
        busy.append(share)
        nb_sps.append(steps * case.batch / ta)
        if tb is not None:
            t_sps.append(steps * case.batch / tb)
            ratios.append(nb_sps[-1] / t_sps[-1])
    med = statistics.median
    return {"case": case.name, "batch": case.batch, "op": case.op, "steps": steps, "repeats": args.repeats,
            "numba_sps": med(nb_sps), "numba_sps_all": nb_sps,
            "torch_sps": med(t_sps) if t_sps else None, "torch_sps_all": t_sps,
            "ratio": med(ratios) if ratios else None,
            "ratio_min": min(ratios) if ratios else None, "ratio_max": max(ratios) if ratios else None,
            "gflop_per_call": common.gemm_flops(case) / 1e9,
            "busy_max": max(busy) if busy else None, "retried_pairs": retried}


# ====================================================================== reporting
def fmt(v, spec):
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


BUSY_NOTE = 0.10


def print_table(results, peak):
    hdr = ("case", "batch", "numba_ae/s", "torch/s", "ratio", "[min-max]", "RSS nb MB", "RSS pt MB",
           "GFLOP/call", "nb GFLOP/s", "nb %peak", "pt %peak", "busy%")
    rows = [hdr]
    for r in results:
        rows.append((r["case"], str(r["batch"]), fmt(r["numba_sps"], ",.0f"), fmt(r["torch_sps"], ",.0f"),
                     fmt(r["ratio"], ".2f"),
                     "-" if r["ratio"] is None else f"{r['ratio_min']:.2f}-{r['ratio_max']:.2f}",
                     fmt(r.get("numba_rss_mb"), ".0f"), fmt(r.get("torch_rss_mb"), ".0f"),
                     fmt(r["gflop_per_call"], ".3f"), fmt(r["numba_gflops"], ".1f"),
                     fmt(None if r["numba_frac_peak"] is None else 100 * r["numba_frac_peak"], ".1f"),
                     fmt(None if r["torch_frac_peak"] is None else 100 * r["torch_frac_peak"], ".1f"),
                     fmt(None if r.get("busy_max") is None else 100 * r["busy_max"], ".0f")))
    w = [max(len(row[i]) for row in rows) for i in range(len(hdr))]
    line = "-" * (sum(w) + 2 * (len(w) - 1))
    print(line)
    for k, row in enumerate(rows):
        print("  ".join(v.ljust(w[i]) if i == 0 else v.rjust(w[i]) for i, v in enumerate(row)))
        if k == 0:
            print(line)
    print(line)
    print(f"samples/s = examples per second (rlp: examples/s, each with {RLP_SAMPLES} posterior samples); "
          f"ratio = median over pairs of numba_ae/torch samples/s (>1: numba_ae faster); "
          f"%peak = GEMM GFLOP/s over the measured sgemm peak {peak:.1f} GFLOP/s; busy% = max CPU share "
          f"other processes took during a kept timing pair (> {100 * BUSY_NOTE:.0f}%: treat the row as noisy)")


def write_csv(path, rows, fields):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in fields})


def plot(results, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no throughput.png")
        return
    import numpy as np
    labels = [f"{r['case']}\n@{r['batch']}" for r in results]
    nb = [r["numba_sps"] for r in results]
    pt = [r["torch_sps"] if r["torch_sps"] is not None else 0.0 for r in results]
    x = np.arange(len(results))
    fig, ax = plt.subplots(figsize=(max(8, 0.9 * len(results) + 2), 5))
    ax.bar(x - 0.2, nb, 0.4, label="numba_ae")
    if any(pt):
        ax.bar(x + 0.2, pt, 0.4, label="torch")
    ax.set_yscale("log")
    ax.set_ylabel("samples / s (log)")
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=8)
    ax.set_title("numba_ae vs PyTorch CPU throughput")
    ax.legend()
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


# ====================================================================== main
def main(args):
    if args.device == "cuda":
        import gpu   # (not "cuda.py": that name would hide the cuda-python package)
        return gpu.run(args)
    t_begin = time.time()
    import numpy as np
    import numba_ae  # noqa: F401  (full package before common.mnist_arrays)
    import common
    torch = tm = None
    if not args.no_torch:
        try:
            import torch
            import torch_models as tm
            torch.set_num_threads(args.threads)
        except ImportError:
            torch = tm = None
            print("PyTorch is not installed: reporting numba_ae alone (torch columns show '-').")
    try:
        import scipy.linalg.cython_blas  # noqa: F401  (the BLAS numba's np.dot calls; load it before limiting)
    except ImportError:
        pass
    common.limit_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    global BUSY_NOTE
    BUSY_NOTE = args.busy_threshold
    cases = select_cases(args)
    if not cases:
        print("no case matches --cases/--batches")
        return 1

    load0 = common.loadavg()
    info = common.machine_info(args.threads, torch.__version__ if torch is not None else None)
    print("=" * 100)
    print(f"CPU: {info['cpu']}   cores: {info['cores']}   threads used: {args.threads}")
    print(f"python {info['python']}  numpy {info['numpy']}  numba {info['numba']}  "
          f"scipy {info.get('scipy', '-')}  torch {info['torch']}")
    print(f"BLAS: {info.get('blas', '?')}")
    print(f"env: {info['env']}")
    common.wait_idle(max_wait=10.0, threshold=args.busy_threshold)
    meter = common.CpuMeter()
    meter.start()
    peak = common.sgemm_peak(args.threads, tries=3 if args.quick else 7)
    peak_busy = meter.share()
    if peak_busy is not None and peak_busy > args.busy_threshold:
        print(f"WARNING: other processes used {100 * peak_busy:.0f}% of the machine while the sgemm peak was "
              "measured: the peak is underestimated and %peak overestimated.")
    print(f"sgemm peak (np.dot float32 2048x2048, {args.threads} threads, best of "
          f"{3 if args.quick else 7}): {peak:.1f} GFLOP/s")
    if torch is not None:
        a = torch.rand(2048, 2048)
        b = torch.rand(2048, 2048)
        torch.mm(a, b)
        best = min(_timed(lambda: torch.mm(a, b)) for _ in range(3 if args.quick else 5))
        print(f"  (for reference, torch.mm on the same shape: {2 * 2048 ** 3 / best / 1e9:.1f} GFLOP/s)")
    if load0 > 1.0:
        print(f"WARNING: 1-min load average is {load0:.2f} before starting: other processes compete for "
              "the cores; absolute numbers will be low/noisy (ratios are interleaved and fairer).")
    print("=" * 100)

    if torch is not None and not args.skip_check:
        ok = check_equivalence(torch, tm, common)
        if not ok:
            print("WARNING: numba_ae and torch models disagree; the comparison may not be like for like.")

    # ---- phase 1: interleaved throughput -------------------------------------------
    print(f"\n[1/3] throughput: {len(cases)} case(s), {args.repeats} interleaved numba_ae/torch pair(s) each")
    results = []
    for case in cases:
        t = time.time()
        common.wait_idle(max_wait=5.0, threshold=args.busy_threshold)
        r = (time_case_isolated(case, args, common, torch is not None) if args.isolate
             else time_case(case, args, common, torch, tm))
        gf = r["gflop_per_call"]
        r["numba_gflops"] = gf * r["numba_sps"] / case.batch
        r["numba_frac_peak"] = r["numba_gflops"] / peak
        r["torch_gflops"] = gf * r["torch_sps"] / case.batch if r["torch_sps"] else None
        r["torch_frac_peak"] = r["torch_gflops"] / peak if r["torch_gflops"] else None
        r["sgemm_peak_gflops"] = peak
        r["threads"] = args.threads
        results.append(r)
        print(f"  {case.label:26s} steps={r['steps']:5d}  numba_ae {r['numba_sps']:10,.0f}/s  "
              f"torch {fmt(r['torch_sps'], '10,.0f')}/s  ratio {fmt(r['ratio'], '.2f')}  "
              f"busy {fmt(100 * r['busy_max'] if r['busy_max'] is not None else None, '.0f')}%"
              f"{' (redone pairs: %d)' % r['retried_pairs'] if r['retried_pairs'] else ''}  "
              f"({time.time() - t:.1f}s)", flush=True)

    # ---- phase 2: peak RSS in fresh processes --------------------------------------------
    baselines = {}
    if not args.skip_rss:
        fws = ["numba_ae"] + (["torch"] if torch is not None else [])
        print(f"\n[2/3] peak RSS: fresh subprocess per framework and case", flush=True)
        for fw in ["numpy"] + fws:
            r = run_worker("rss", fw, "baseline", 0, args)
            baselines[fw] = r["maxrss_mb"] if r else None
        print("  baselines (import + MNIST slice, no model): " +
              ", ".join(f"{k} {fmt(v, '.0f')} MB" for k, v in baselines.items()))
        for r in results:
            for fw in fws:
                w = run_worker("rss", fw, r["case"], r["batch"], args)
                r[("numba" if fw == "numba_ae" else "torch") + "_rss_mb"] = w["maxrss_mb"] if w else None
        print("  done", flush=True)

    # ---- phase 3: time to first training step -------------------------------------------
    ttfs = []
    if not args.skip_ttfs:
        names = [n for n in args.ttfs_cases if n in TRAINING_CASE_NAMES]
        print(f"\n[3/3] time to first training step (batch {args.ttfs_batch}): {', '.join(names)}", flush=True)
        for name in names:
            for fw, cache in (("numba_ae", "warm"), ("numba_ae", "cold"), ("torch", "n/a")):
                if fw == "torch" and torch is None:
                    continue
                if cache == "cold":
                    d = tempfile.mkdtemp(prefix="numba_cold_")
                    try:
                        w = run_worker("ttfs", fw, name, args.ttfs_batch, args, {"NUMBA_CACHE_DIR": d})
                    finally:
                        shutil.rmtree(d, ignore_errors=True)
                else:
                    run_worker("ttfs", fw, name, args.ttfs_batch, args)   # first run: fills caches
                    w = run_worker("ttfs", fw, name, args.ttfs_batch, args)
                if w:
                    w["cache"] = cache
                    ttfs.append(w)
                    print(f"  {fw:8s} {name:20s} cache={cache:4s} total {w['total_s']:6.2f}s  "
                          f"imports {w['import_s']:5.2f}s  init->first step end {w['init_to_first_step_s']:6.2f}s",
                          flush=True)

    # ---- report ---------------------------------------------------------------------------
    print()
    print_table(results, peak)
    if baselines:
        print("RSS baselines (python + imports + MNIST slice, no model): " +
              ", ".join(f"{k} {fmt(v, '.0f')} MB" for k, v in baselines.items()))
    if ttfs:
        print("\nTime to first training step (fresh process; numba warm = 2nd run with the default cache, "
              "cold = empty NUMBA_CACHE_DIR; torch = 2nd run)")
        print(f"  {'framework':9s} {'case':20s} {'cache':5s} {'total s':>8s} {'startup':>8s} {'imports':>8s} "
              f"{'data':>6s} {'init->1st step':>15s}")
        for w in ttfs:
            print(f"  {w['framework']:9s} {w['case']:20s} {w['cache']:5s} {w['total_s']:8.2f} {w['startup_s']:8.2f} "
                  f"{w['import_s']:8.2f} {w['data_s']:6.2f} {w['init_to_first_step_s']:15.2f}")
    fields = ["case", "batch", "op", "steps", "repeats", "numba_sps", "torch_sps", "ratio", "ratio_min",
              "ratio_max", "numba_rss_mb", "torch_rss_mb", "gflop_per_call", "numba_gflops", "numba_frac_peak",
              "torch_gflops", "torch_frac_peak", "sgemm_peak_gflops", "threads", "busy_max", "retried_pairs"]
    write_csv(os.path.join(args.out, "results.csv"), results, fields)
    print(f"\nwrote {os.path.join(args.out, 'results.csv')}")
    if ttfs:
        write_csv(os.path.join(args.out, "ttfs.csv"), ttfs,
                  ["framework", "case", "batch", "cache", "total_s", "startup_s", "import_s", "data_s",
                   "init_to_first_step_s"])
        print(f"wrote {os.path.join(args.out, 'ttfs.csv')}")
    plot(results, os.path.join(args.out, "throughput.png"))
    load1 = common.loadavg()
    print(f"load average (1 min) at start {load0:.2f}, at end {load1:.2f}; total {time.time() - t_begin:.0f}s")
    return 0


def _timed(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


if __name__ == "__main__":
    _args = parse_args()
    if _args.worker:
        worker(_args)
    else:
        sys.exit(main(_args))
