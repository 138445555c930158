"""numba_ae on an NVIDIA GPU vs PyTorch CUDA eager: training steps per second for the
seed's AutoEncoder and VAEs, and kernel launches per numba_ae step.

    python benchmarks/run.py --device cuda                 # batches 128, 1024, 4096
    python benchmarks/run.py --device cuda --batches 1024 --cases 'vae*'

Both sides train on host minibatches (one host-to-device copy per step each) and end
every step with its score on the host (numba_ae's ``pretrain_batch``/``fit_batch``
return a float; the torch loop calls ``loss.item()``), so a step's time includes its
synchronisation.  Timings are interleaved A/B pairs; the table reports medians.
Under the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) only ``--smoke`` makes sense: it
checks that the script runs, on tiny shapes, and prints no speed.
"""
import statistics
import time

import numpy as np

CASES = ("ae_pretrain", "ae_fit", "vae_gauss_pretrain", "vae_bern_pretrain")
MODEL = {"ae_pretrain": "ae_pretrain", "ae_fit": "ae_fit", "vae_gauss_pretrain": "vae_gauss",
         "vae_bern_pretrain": "vae_bern"}


def _numba_step(net, case):
    if case == "ae_fit":
        return lambda x: net.fit_batch(x, x)
    return lambda x: net.pretrain_batch(0, x)


def _launches_per_step(step, x):
    from numba_ae.kernels.cuda import _launch
    step(x)
    before = _launch.launches()
    step(x)
    return _launch.launches() - before


def _time(step, xs, steps):
    t = time.perf_counter()
    for k in range(steps):
        step(xs[k % len(xs)])
    return (time.perf_counter() - t) / steps


def run(args):
    import fnmatch

    import common
    import numba_ae as na
    from numba_ae.backends import get_backend

    backend = get_backend("cuda")
    print("=" * 96)
    print(f"device: {backend.describe()}   host CPU: {common.cpu_model()}")
    torch = tm = None
    if not args.no_torch and not backend.simulator:
        try:
            import torch
            import torch_models as tm
            if not torch.cuda.is_available():
                print("PyTorch has no CUDA device here: numba_ae alone")
                torch = tm = None
            else:
                print(f"torch {torch.__version__} on {torch.cuda.get_device_name(0)}")
        except ImportError:
            print("PyTorch is not installed: numba_ae alone")
    batches = [int(b) for b in (args.batches_given or "128,1024,4096").split(",")]
    pats = args.cases.split(",")
    cases = [c for c in CASES if any(fnmatch.fnmatch(c, p) for p in pats)]
    if args.smoke:
        batches = [3]
    rows = []
    for case in cases:
        for b in batches:
            conf = common.numba_conf(MODEL[case])
            if args.smoke:
                conf = _tiny(conf)
            net = na.MultiLayerNetwork(conf, device="cuda").init()
            n_in = conf.n_in_of(0)
            rng = np.random.default_rng(0)
            xs = [(rng.random((b, n_in)) < 0.5).astype(np.float32) for _ in range(4)]
            step = _numba_step(net, case)
            launches = _launches_per_step(step, xs[0])
            if args.smoke:
                rows.append((case, b, launches, None, None))
                continue
            tstep = None
            if torch is not None:
                model = tm.build(MODEL[case])
                tm.load_numba_params(model, net)
                model = model.cuda()
                opt = tm.make_optimizer(model, common.LR)
                body = tm.make_train_step(model, opt)
                tstep = lambda x, body=body: body(torch.from_numpy(x).cuda(non_blocking=False))  # noqa: E731
            for _ in range(3):
                step(xs[0])
                if tstep is not None:
                    tstep(xs[0])
            steps = args.steps or max(5, min(200, int(20000 / b)))
            nt, tt = [], []
            for _ in range(args.repeats):
                nt.append(_time(step, xs, steps))
                if tstep is not None:
                    tt.append(_time(tstep, xs, steps))
            n_med = statistics.median(nt)
            t_med = statistics.median(tt) if tt else None
            rows.append((case, b, launches, b / n_med, None if t_med is None else b / t_med))
            print(f"  {case}@{b}: numba_ae {b / n_med:,.0f} samples/s" +
                  ("" if t_med is None else f", torch {b / t_med:,.0f} samples/s"), flush=True)
    print()
    print(f"{'case':<22}{'batch':>7}{'launches/step':>15}{'numba_ae samples/s':>21}{'torch samples/s':>18}"
          f"{'ratio':>8}")
    for case, b, launches, ns, ts in rows:
        fmt = (lambda v: "-" if v is None else f"{v:,.0f}")
        ratio = "-" if ns is None or ts is None else f"{ns / ts:.2f}"
        print(f"{case:<22}{b:>7}{launches:>15}{fmt(ns):>21}{fmt(ts):>18}{ratio:>8}")
    return 0


def _tiny(conf):
    """The same network at toy sizes, layer for layer (so launches per step are those of the
    real one), for ``--smoke`` under the simulator."""
    import numba_ae as na
    first = conf.layers[0]
    if isinstance(first, na.VariationalAutoencoder):
        enc = tuple(4 + i for i in range(len(first.encoder_layer_sizes)))
        dec = tuple(4 + i for i in range(len(first.decoder_layer_sizes)))
        return conf.replace(layers=[first.replace(n_in=5, n_out=2, encoder_layer_sizes=enc, decoder_layer_sizes=dec)])
    return conf.replace(layers=[first.replace(n_in=5, n_out=3), conf.layers[1].replace(n_in=3, n_out=5)])
