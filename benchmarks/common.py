"""Shared helpers of ``benchmarks/run.py``: cases, data, numba_ae step builders,
thread limits, analytic GEMM FLOP counts, sgemm peak and machine info.

Nothing here imports torch (see ``torch_models.py``) and numba_ae is imported
lazily, so a torch-only worker process never loads numba/llvmlite.
"""
import importlib.util
import math
import os
import platform
import sys
import time
import types
from dataclasses import dataclass

import numpy as np

N_IN = 784
AE_HIDDEN = 256
VAE_LATENT = 32
VAE_ENCODER = (512, 256)
VAE_DECODER = (256, 512)
CORRUPTION = 0.3
LR = 1e-3

#: Training examples the minibatches are cut from (cycled through).
TRAIN_POOL = 8192
ENCODE_BATCH = 4096
RLP_EXAMPLES = 1024
RLP_SAMPLES = 16


# ====================================================================== cases
@dataclass(frozen=True)
class Case:
    """One benchmark case.

    name : unique case name (``ae_pretrain``, ``vae_gauss_pretrain``, ``vae_encode``, ...).
    model : model kind (``ae_pretrain``, ``ae_fit``, ``vae_gauss``, ``vae_bern``).
    op : ``train_pretrain``, ``train_fit``, ``encode`` or ``rlp``.
    batch : examples per call.
    """

    name: str
    model: str
    op: str
    batch: int

    @property
    def label(self):
        return f"{self.name}@{self.batch}"

    @property
    def binarize(self):
        return self.model == "vae_bern"

    @property
    def is_training(self):
        return self.op.startswith("train")


def all_cases(batches=(16, 128, 512)):
    cases = []
    for name, model, op in (("ae_pretrain", "ae_pretrain", "train_pretrain"),
                            ("ae_fit", "ae_fit", "train_fit"),
                            ("vae_gauss_pretrain", "vae_gauss", "train_pretrain"),
                            ("vae_bern_pretrain", "vae_bern", "train_pretrain")):
        for b in batches:
            cases.append(Case(name, model, op, int(b)))
    cases.append(Case("vae_encode", "vae_gauss", "encode", ENCODE_BATCH))
    cases.append(Case("vae_gauss_rlp", "vae_gauss", "rlp", RLP_EXAMPLES))
    cases.append(Case("vae_bern_rlp", "vae_bern", "rlp", RLP_EXAMPLES))
    return cases


def find_case(name, batch):
    for c in all_cases(batches=(batch,)):
        if c.name == name and c.batch == batch:
            return c
    for c in all_cases():
        if c.name == name:
            return Case(c.name, c.model, c.op, int(batch))
    raise ValueError(f"unknown case {name!r}")


# ====================================================================== data
def mnist_arrays(**kw):
    """``numba_ae.data.mnist_arrays`` without importing the numba_ae package when
    it is not loaded yet (a torch-only worker must not pull in numba/llvmlite):
    ``numba_ae.data`` depends on NumPy only, so it is imported under a bare
    package module instead of ``numba_ae/__init__.py``."""
    if "numba_ae" not in sys.modules:
        spec = importlib.util.find_spec("numba_ae")
        pkg = types.ModuleType("numba_ae")
        pkg.__path__ = list(spec.submodule_search_locations)
        pkg.__file__ = spec.origin
        sys.modules["numba_ae"] = pkg  # a later ``import numba_ae`` would see this stub
        pkg.__benchmark_stub__ = True
    from numba_ae.data import mnist_arrays as _ma
    return _ma(**kw)


def case_data(case):
    """Pre-sliced contiguous float32 minibatches (features; labels = features).

    Training: ``TRAIN_POOL // batch`` (at least 1) consecutive batches cycled through.
    encode / rlp: one batch of ``case.batch`` rows.
    """
    if case.is_training:
        n_batches = max(1, TRAIN_POOL // case.batch)
        n = n_batches * case.batch
    else:
        n_batches, n = 1, case.batch
    x, _ = mnist_arrays(train=True, binarize=case.binarize, num_examples=n)
    return [np.ascontiguousarray(x[i * case.batch:(i + 1) * case.batch]) for i in range(n_batches)]


# ====================================================================== numba_ae
def numba_conf(model, seed=12345):
    import numba_ae as na
    if model in ("ae_pretrain", "ae_fit"):
        layers = [na.AutoEncoder(n_in=N_IN, n_out=AE_HIDDEN, activation="relu", corruption_level=CORRUPTION),
                  na.OutputLayer(n_in=AE_HIDDEN, n_out=N_IN, activation="sigmoid", loss="mse")]
    elif model in ("vae_gauss", "vae_bern"):
        dist = (na.GaussianReconstructionDistribution("identity") if model == "vae_gauss"
                else na.BernoulliReconstructionDistribution("sigmoid"))
        layers = [na.VariationalAutoencoder(
            n_in=N_IN, n_out=VAE_LATENT, encoder_layer_sizes=VAE_ENCODER, decoder_layer_sizes=VAE_DECODER,
            activation="leakyrelu", pzx_activation="identity", reconstruction_distribution=dist,
            num_samples=1)]
    else:
        raise ValueError(f"unknown model kind {model!r}")
    return na.NeuralNetConfiguration(seed=seed, updater=na.Adam(LR), layers=layers)


def numba_net(model, seed=12345):
    import numba_ae as na
    return na.MultiLayerNetwork(numba_conf(model, seed)).init()


def numba_pretrain_step(net, i=0):
    """The per-minibatch body of ``MultiLayerNetwork.pretrain_layer(i, iterator)``:
    ``net.pretrain_batch`` on a trusted batch (as ``pretrain_layer`` calls it)."""
    dtype = net.dtype

    def step(x, y=None):
        return net.pretrain_batch(i, np.ascontiguousarray(x, dtype=dtype))

    return step


def numba_op(case, net):
    """``f(x) -> anything``: one timed call of numba_ae for ``case``."""
    if case.op == "train_pretrain":
        step = numba_pretrain_step(net, 0)
        return lambda x: step(x)
    if case.op == "train_fit":
        return lambda x: net.fit_batch(x, x)
    if case.op == "encode":
        return lambda x: net.output(x)
    if case.op == "rlp":
        layer = net.get_layer(0)
        return lambda x: layer.reconstruction_log_probability(x, num_samples=RLP_SAMPLES)
    raise ValueError(case.op)


def torch_op(case, model):
    """``f(x) -> anything``: one timed call of the torch model for ``case``."""
    import torch
    import torch_models as tm
    if case.is_training:
        opt = tm.make_optimizer(model, LR)
        step = tm.make_train_step(model, opt)
        return lambda x: step(x, x)
    if case.op == "encode":
        def enc(x):
            with torch.no_grad():
                return model.encode_mean(x)
        return enc
    if case.op == "rlp":
        return lambda x: model.reconstruction_log_probability(x, RLP_SAMPLES)
    raise ValueError(case.op)


# ====================================================================== threads
def limit_threads(n, numba_side=True):
    """Limit BLAS/OpenMP pools (threadpoolctl, global for the process) and numba to ``n``.
    Call again after new native libraries got loaded (threadpoolctl only sees loaded ones)."""
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=n)
    except ImportError:  # pragma: no cover
        pass
    if numba_side and "numba" in sys.modules:
        import numba
        numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))


# ====================================================================== FLOPs
def _affine_maps(model):
    """``[(n_in, n_out, needs_dx)]`` of the GEMM-backed affine maps of a training step."""
    if model in ("ae_pretrain", "ae_fit"):
        return None
    d_out = 2 * N_IN if model == "vae_gauss" else N_IN
    enc = [N_IN, *VAE_ENCODER]
    maps = [(a, b, i > 0) for i, (a, b) in enumerate(zip(enc[:-1], enc[1:]))]
    maps += [(enc[-1], VAE_LATENT, True), (enc[-1], VAE_LATENT, True)]
    dec = [VAE_LATENT, *VAE_DECODER, d_out]
    maps += [(a, b, True) for a, b in zip(dec[:-1], dec[1:])]
    return maps


def gemm_flops(case):
    """Analytic GEMM FLOPs (2*m*n*k per matrix product) of one call of ``case``.

    Training: forward + backward (weight gradient for every affine map, input
    gradient for every map except the first encoder layer, whose input is the
    data).  The tied AE: x~W, hW^T, dr W, and dW = [x~; dr]^T [dh; h]
    (= 10*n*784*256); the supervised AE the same count.  Elementwise work
    (activations, losses, KL, Adam) is not counted.
    """
    n = case.batch
    if case.model in ("ae_pretrain", "ae_fit"):
        if case.is_training:
            return 10.0 * n * N_IN * AE_HIDDEN
        return 2.0 * n * N_IN * AE_HIDDEN
    maps = _affine_maps(case.model)
    if case.is_training:
        return float(sum(2 * n * a * b * (3 if dx else 2) for a, b, dx in maps))
    enc = [N_IN, *VAE_ENCODER]
    enc_fwd = sum(2 * n * a * b for a, b in zip(enc[:-1], enc[1:]))
    if case.op == "encode":
        return float(enc_fwd + 2 * n * enc[-1] * VAE_LATENT)
    if case.op == "rlp":
        d_out = 2 * N_IN if case.model == "vae_gauss" else N_IN
        dec = [VAE_LATENT, *VAE_DECODER, d_out]
        dec_fwd = sum(2 * n * a * b for a, b in zip(dec[:-1], dec[1:]))
        return float(enc_fwd + 2 * 2 * n * enc[-1] * VAE_LATENT + RLP_SAMPLES * dec_fwd)
    raise ValueError(case.op)


# ====================================================================== sgemm peak
def sgemm_peak(threads, size=2048, tries=7):
    """Best-of-``tries`` GFLOP/s of ``np.dot`` on float32 ``size x size`` matrices under ``threads``."""
    from threadpoolctl import threadpool_limits
    rng = np.random.default_rng(0)
    a = rng.random((size, size), dtype=np.float32)
    b = rng.random((size, size), dtype=np.float32)
    out = np.empty_like(a)
    best = math.inf
    with threadpool_limits(limits=threads):
        np.dot(a, b, out)
        for _ in range(tries):
            t = time.perf_counter()
            np.dot(a, b, out)
            best = min(best, time.perf_counter() - t)
    return 2.0 * size ** 3 / best / 1e9


# ====================================================================== machine
def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def loadavg():
    try:
        return os.getloadavg()[0]
    except OSError:  # pragma: no cover
        return float("nan")


def machine_info(threads, torch_version=None):
    import numba
    info = {"cpu": cpu_model(), "cores": os.cpu_count(), "threads": threads,
            "python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
            "torch": torch_version or "missing"}
    try:
        import scipy
        info["scipy"] = scipy.__version__
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_info
        info["blas"] = "; ".join(
            f"{d.get('internal_api')} {d.get('version') or ''} {d.get('architecture') or ''} "
            f"({os.path.basename(d.get('filepath', ''))})".replace("  ", " ")
            for d in threadpool_info())
    except ImportError:
        pass
    env = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS_", "OMP_", "MKL_", "NUMBA_"))}
    info["env"] = " ".join(f"{k}={v}" for k, v in sorted(env.items())) or "-"
    return info


def max_rss_mb():
    """Peak resident set size of this process in MB: ``(VmHWM, ru_maxrss)``.

    ``ru_maxrss`` (RUSAGE_SELF, KiB on Linux) survives ``execve``: a child that
    subprocess forked/vforked from a big parent reports at least the parent's
    peak.  ``VmHWM`` from /proc/self/status is the high-water mark of this
    process image only, so it is the number reported (ru_maxrss is kept in the
    worker's output for reference; they agree when the parent was smaller).
    """
    import resource
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ru = kb / 1024.0 if sys.platform != "darwin" else kb / 2 ** 20
    hwm = None
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) / 1024.0
                    break
    except OSError:
        pass
    return (hwm if hwm is not None else ru), ru


class CpuMeter:
    """CPU time used by *other* processes while a block runs (contention detector).

    ``share()`` after ``start()`` = (all busy CPU time from /proc/stat, steal
    included, minus this process's user+system time) / (wall time * cores);
    0 on an idle machine, ~0.5 when another process keeps one of 2 cores busy.
    Returns None where /proc/stat is missing.
    """

    def __init__(self):
        self.hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.cores = os.cpu_count() or 1

    @staticmethod
    def _busy_jiffies():
        try:
            with open("/proc/stat") as f:
                v = [int(t) for t in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        # user nice system idle iowait irq softirq steal [guest guest_nice: already in user]
        return v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)

    def start(self):
        t = os.times()
        self._b0, self._own0, self._w0 = self._busy_jiffies(), t.user + t.system, time.perf_counter()

    def share(self):
        b1 = self._busy_jiffies()
        t = os.times()
        wall = time.perf_counter() - self._w0
        if b1 is None or self._b0 is None or wall <= 0:
            return None
        foreign = (b1 - self._b0) / self.hz - (t.user + t.system - self._own0)
        return max(0.0, foreign / (wall * self.cores))


def wait_idle(max_wait=5.0, threshold=0.05, window=0.5):
    """Sleep in ``window`` steps until other processes use < ``threshold`` of the
    machine (or ``max_wait`` seconds passed); returns the last share seen."""
    m = CpuMeter()
    t_end = time.time() + max_wait
    share = None
    while True:
        m.start()
        time.sleep(window)
        share = m.share()
        if share is None or share < threshold or time.time() >= t_end:
            return share
