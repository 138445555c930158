"""Throughput of data-parallel VAE pretraining with ``numba_ae.distributed.DaskTrainer``.

Trains the bundled VAE (``numba_ae/examples/configs/vae_bernoulli_mnist.json`` by default:
784-[256]-32-[256], Bernoulli, Adam, float32) on the first ``--rows`` binarized MNIST training
images, one epoch per run, on ``LocalCluster``s of 1 and 2 worker processes (one thread
each, loopback TCP), for each ``--freqs`` averaging frequency, and in this process alone
(``net.pretrain``, BLAS limited to one thread, as each worker is) for reference.  Runs are
interleaved (every repeat visits every setting once, in turn), so the slow drifts of a
shared machine hit all settings alike; the table shows medians over the repeats.

Columns: samples/s (rows / wall time of ``trainer.pretrain``, partitioning and validation
included), rounds per epoch, the median per-round overhead (round wall time minus its
longest task's training time: state broadcast, scheduling, loading the state into the
worker's network, sending the result back, averaging), the median task time, and the
epoch's mean minibatch score (``net.history[-1]["score"]``: one worker trains exactly as
one process does, so those two agree).

::

    python benchmarks/distributed.py                       # ~2 min on a 2-core machine
    python benchmarks/distributed.py --rows 4096 --freqs 5 --repeats 2
    python benchmarks/distributed.py --config vae_gaussian_mnist --batch-size 64
"""
import argparse
import json
import os
import pickle
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# This file's name would shadow the ``distributed`` package for imports made from here.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
sys.path.insert(0, os.path.dirname(HERE))

from numba_ae import MultiLayerNetwork, NeuralNetConfiguration  # noqa: E402
from numba_ae.data.mnist import mnist_arrays  # noqa: E402

CONFIG_DIR = os.path.join(os.path.dirname(HERE), "numba_ae", "examples", "configs")


def load_example(name):
    """``(conf, binarize)`` of a bundled example config."""
    with open(os.path.join(CONFIG_DIR, name + ".json")) as f:
        d = json.load(f)
    return NeuralNetConfiguration.from_dict(d["network"]), bool(d.get("data", {}).get("binarize", False))


def one_run(conf, x, client, n_workers, k, batch_size):
    from numba_ae.distributed import DaskTrainer
    net = MultiLayerNetwork(conf).init()
    trainer = DaskTrainer(net, client, averaging_frequency=k, batch_size=batch_size, collect_scores=False)
    t0 = time.perf_counter()
    trainer.pretrain(x, epochs=1, n_partitions=n_workers)
    wall = time.perf_counter() - t0
    over = [h["seconds"] - h["task_seconds"] for h in trainer.history]
    task = [h["task_seconds"] for h in trainer.history]
    return {"sps": x.shape[0] / wall, "rounds": len(trainer.history), "overhead": statistics.median(over),
            "task": statistics.median(task), "score": net.history[-1]["score"]}


def single_process(conf, x, batch_size):
    from threadpoolctl import threadpool_limits
    net = MultiLayerNetwork(conf).init()
    with threadpool_limits(1):
        t0 = time.perf_counter()
        net.pretrain(x, batch_size=batch_size)
        wall = time.perf_counter() - t0
    return {"sps": x.shape[0] / wall, "rounds": None, "overhead": None, "task": None,
            "score": net.history[-1]["score"]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="vae_bernoulli_mnist", help="bundled example config name")
    ap.add_argument("--rows", type=int, default=8192, help="MNIST training rows (default 8192)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--freqs", default="5,20,100", help="averaging frequencies, comma-separated")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats (default 3)")
    args = ap.parse_args(argv)
    from distributed import Client, LocalCluster

    conf, binarize = load_example(args.config)
    x, _ = mnist_arrays(train=True, binarize=binarize, num_examples=args.rows)
    freqs = [int(f) for f in args.freqs.split(",")]
    net = MultiLayerNetwork(conf).init()
    state_mb = len(pickle.dumps((net.params(), [net.updater_state(0, pretrain=True)]))) / 1e6
    print(f"# {args.config}: {net.num_params():,} params ({state_mb:.1f} MB broadcast per round), "
          f"{args.rows} rows, batch {args.batch_size}, {os.cpu_count()} CPUs, {args.repeats} interleaved repeats")

    clusters, clients = {}, {}
    try:
        for n in (1, 2):
            clusters[n] = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=":0")
            clients[n] = Client(clusters[n])
            one_run(conf, x[:n * 4 * args.batch_size], clients[n], n, 2, args.batch_size)  # compile/load kernels
        single_process(conf, x[:4 * args.batch_size], args.batch_size)
        settings = [("1 process", 0, None)] + [(f"{n} worker{'s' * (n > 1)}", n, k) for k in freqs for n in (1, 2)]
        results = {s: [] for s in settings}
        for rep in range(args.repeats):
            for s in settings:
                name, n, k = s
                r = single_process(conf, x, args.batch_size) if n == 0 else \
                    one_run(conf, x, clients[n], n, k, args.batch_size)
                results[s].append(r)
            print(f"# repeat {rep + 1}/{args.repeats} done", flush=True)
    finally:
        for n in clients:
            clients[n].close()
            clusters[n].close()

    def med(rs, key, scale=1.0, fmt="{:.0f}"):
        vals = [r[key] for r in rs if r[key] is not None]
        return fmt.format(statistics.median(vals) * scale) if vals else "-"

    rows = [("setting", "averaging_frequency", "samples/s", "rounds", "overhead ms/round", "task ms/round",
             "epoch score")]
    for s in settings:
        name, n, k = s
        rs = results[s]
        rows.append((name, "-" if k is None else str(k), med(rs, "sps"), med(rs, "rounds"),
                     med(rs, "overhead", 1e3, "{:.1f}"), med(rs, "task", 1e3, "{:.1f}"),
                     med(rs, "score", 1.0, "{:.2f}")))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    print("| " + " | ".join(v.ljust(w) for v, w in zip(rows[0], widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows[1:]:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(r, widths)) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
