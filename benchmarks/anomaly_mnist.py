"""MNIST one-class anomaly detection: ROC AUC of the numba_ae.anomaly detectors.

For each digit k: train on the training images of every *other* digit (normal data),
score the whole test set, and count the test images of digit k as the anomalies.  The
table gives the ROC AUC of ``anomaly_score`` (sklearn.metrics.roc_auc_score) for

* **AE**: ``AutoEncoderAnomalyDetector`` 784-128-32-128-784 (relu, identity output,
  mse), pixel intensities in [0, 1], score = squared reconstruction error;
* **VAE**: ``VAEAnomalyDetector`` 784-[256, 128]-16-[128, 256]-784 (leakyrelu), Bernoulli
  reconstruction distribution on binarized images, score = reconstruction
  log-probability (log-mean-exp over ``--num-samples`` draws);
* **IWAE**: the same fitted VAE scored with the importance-weighted bound on log p(x)
  (``set_params(score="iwae")``: no refit);

with the fit times (the VAE's serves both VAE columns).  Both use ``preprocessing=None``
(MNIST is already in [0, 1]; standardizing near-constant border pixels would blow their
errors up), Adam(1e-3), batch 128, ``random_state=k``.

Usage::

    python benchmarks/anomaly_mnist.py --epochs 10 [--train-limit 20000] [--digits 0 1 2]
"""
import argparse
import platform
import time

import numpy as np

import common
from numba_ae.anomaly import AutoEncoderAnomalyDetector, VAEAnomalyDetector
from numba_ae.data import load_mnist


def _data(train_limit, test_limit):
    x_train, y_train, x_test, y_test = load_mnist()
    x_train = x_train.reshape(len(x_train), -1).astype(np.float32) / np.float32(255.0)
    x_test = x_test.reshape(len(x_test), -1).astype(np.float32) / np.float32(255.0)
    if test_limit is not None:
        x_test, y_test = x_test[:test_limit], y_test[:test_limit]
    return x_train, np.asarray(y_train), x_test, np.asarray(y_test), train_limit


def run_digit(k, data, args):
    """``dict`` of the AUCs and fit times for anomaly digit ``k``."""
    from sklearn.metrics import roc_auc_score
    x_train, y_train, x_test, y_test, limit = data
    normal = x_train[y_train != k]
    if limit is not None:
        normal = normal[np.random.default_rng(k).permutation(len(normal))[:limit]]
    is_anomaly = (y_test == k).astype(int)
    binary = lambda x: (x > 0.5).astype(np.float32)  # noqa: E731

    ae = AutoEncoderAnomalyDetector(hidden_layer_sizes=(128, 32), epochs=args.epochs, preprocessing=None,
                                    random_state=k)
    t0 = time.perf_counter()
    ae.fit(normal)
    ae_fit = time.perf_counter() - t0
    auc_ae = roc_auc_score(is_anomaly, ae.anomaly_score(x_test))

    vae = VAEAnomalyDetector(reconstruction_distribution="bernoulli", epochs=args.epochs, preprocessing=None,
                             num_samples=args.num_samples, random_state=k)
    t0 = time.perf_counter()
    vae.fit(binary(normal))
    vae_fit = time.perf_counter() - t0
    xb = binary(x_test)
    t0 = time.perf_counter()
    auc_vae = roc_auc_score(is_anomaly, vae.anomaly_score(xb))
    vae_score = time.perf_counter() - t0
    auc_iwae = roc_auc_score(is_anomaly, vae.set_params(score="iwae").anomaly_score(xb))
    return {"k": k, "n_train": len(normal), "ae": auc_ae, "vae": auc_vae, "iwae": auc_iwae,
            "ae_fit": ae_fit, "vae_fit": vae_fit, "vae_score": vae_score}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--train-limit", type=int, default=None,
                    help="subsample this many normal training images per digit (default: all)")
    ap.add_argument("--test-limit", type=int, default=None, help="score only the first N test images")
    ap.add_argument("--num-samples", type=int, default=16, help="latent draws per test image")
    ap.add_argument("--digits", type=int, nargs="+", default=list(range(10)))
    args = ap.parse_args(argv)
    data = _data(args.train_limit, args.test_limit)
    print(f"# host: {common.cpu_model()}, {platform.python_version()}; epochs={args.epochs} "
          f"train_limit={args.train_limit} test_limit={args.test_limit} num_samples={args.num_samples}", flush=True)
    print("| anomaly digit | normal train images | AE AUC | VAE AUC | IWAE AUC | AE fit (s) | VAE fit (s) |")
    print("|---|---|---|---|---|---|---|", flush=True)
    rows = []
    for k in args.digits:
        r = run_digit(k, data, args)
        rows.append(r)
        print(f"| {k} | {r['n_train']} | {r['ae']:.3f} | {r['vae']:.3f} | {r['iwae']:.3f} | {r['ae_fit']:.1f} | "
              f"{r['vae_fit']:.1f} |", flush=True)
    mean = {key: np.mean([r[key] for r in rows]) for key in ("ae", "vae", "iwae", "ae_fit", "vae_fit")}
    print(f"| mean | | {mean['ae']:.3f} | {mean['vae']:.3f} | {mean['iwae']:.3f} | {mean['ae_fit']:.1f} | "
          f"{mean['vae_fit']:.1f} |", flush=True)
    print(f"# VAE scoring of the test set (reconstruction log-probability): {np.mean([r['vae_score'] for r in rows]):.1f} s",
          flush=True)


if __name__ == "__main__":
    main()
