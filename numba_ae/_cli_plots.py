"""``numba-ae sample | reconstruct | latent | score | evaluate``: pictures, per-example
scores and classifier metrics of a trained model (private: only ``numba_ae.cli`` imports
this module).

They read the model's first layer: a VariationalAutoencoder (sampling, reconstruction,
latent means, reconstruction log-probability or, for a loss-function wrapper, the
reconstruction error) or an AutoEncoder (reconstruction, codes, reconstruction error).
Pictures need the ``plot`` extra (matplotlib); CSV output does not.
"""
import os

import numpy as np

from ._cli_train import UsageError, _check_writable, _int_arg, load_checked


def _model(path, net=None):
    from .config import AutoEncoder, VariationalAutoencoder
    net = load_checked(path) if net is None else net
    first = net.get_layer(0)
    if not isinstance(first.conf, (AutoEncoder, VariationalAutoencoder)):
        raise UsageError(f"{path}: layer 0 is a {type(first.conf).__name__}; this command needs an AutoEncoder "
                         "or a VariationalAutoencoder as the first layer")
    return net, first


def _is_vae(layer):
    from .config import VariationalAutoencoder
    return isinstance(layer.conf, VariationalAutoencoder)


def _data(args, net):
    from .data.loading import load_data
    x, labels = load_data(args.data, features_key=args.features_key, labels_key=args.labels_key,
                          label_column=args.label_column, binarize_features=args.binarize, limit=args.limit)
    if x.shape[1] != net.n_in:
        raise UsageError(f"data {args.data}: {x.shape[1]} features per example but the model's input has "
                         f"n_in={net.n_in}")
    return x.astype(net.dtype), labels


def _classes(labels):
    """Integer class per example from 1-D classes or one-hot / probability rows."""
    if labels is None:
        return None
    labels = np.asarray(labels)
    return labels.astype(np.int64) if labels.ndim == 1 else np.argmax(labels, axis=1)


def _write_csv(path, header, columns):
    from .io.atomic import write_atomically
    rows = np.column_stack(columns)

    def write(tmp):
        np.savetxt(tmp, rows, delimiter=",", header=",".join(header), comments="", fmt="%.9g")
    write_atomically(os.fspath(path), write)


def draw_samples(net, path, n=64, seed=0, random=False, csv=False, title=None):
    """Decode ``n`` draws z ~ N(0, I) through the network's first layer (a VAE) into ``path``:
    an image grid for image-shaped data, else (or with ``csv``) a CSV of the values.
    Returns a one-line description."""
    from . import plotting
    layer = net.get_layer(0)
    if not _is_vae(layer):
        raise UsageError("sampling needs a VariationalAutoencoder as the first layer")
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, layer.n_out)).astype(net.dtype)
    x = layer.generate_random_given_z(z, rng=rng) if random else layer.generate_at_mean_given_z(z)
    if csv or plotting.image_shape_of(x.shape[1]) is None:
        _write_csv(path, [f"x{j}" for j in range(x.shape[1])], [x])
    else:
        plotting.save_image_grid(x, path, title=title)
    return (f"wrote {path} ({n} samples from z ~ N(0, I), "
            f"{'one draw of p(x|z)' if random else 'the mean of p(x|z)'})")


def cmd_sample(args, out):
    net, layer = _model(args.model)
    if not _is_vae(layer):
        raise UsageError(f"{args.model}: sampling needs a VariationalAutoencoder as the first layer")
    _check_writable(args.out)
    msg = draw_samples(net, args.out, args.n, args.seed, args.random, args.csv,
                       title=f"{args.n} samples of {os.path.basename(args.model)}")
    out.write(f"numba-ae: {msg}\n")
    return 0


def _reconstruct(layer, x):
    if _is_vae(layer):
        return layer.generate_at_mean_given_z(layer.activate(x))
    return layer.reconstruct(x)


def cmd_reconstruct(args, out):
    from . import plotting
    net, layer = _model(args.model)
    _check_writable(args.out)
    x, _ = _data(args, net)
    x = x[:args.n]
    r = _reconstruct(layer, x)
    if plotting.image_shape_of(x.shape[1]) is None:
        raise UsageError(f"rows of {x.shape[1]} values are not square images; use 'numba-ae score' for "
                         "per-example reconstruction quality")
    plotting.save_reconstructions(x, r, args.out)
    out.write(f"numba-ae: wrote {args.out} ({len(x)} originals over their reconstructions; "
              f"mean squared error {float(np.mean((r - x) ** 2)):.4g})\n")
    return 0


def cmd_latent(args, out):
    from . import plotting
    net, layer = _model(args.model)
    _check_writable(args.out)
    x, labels = _data(args, net)
    z = layer.activate(x) if _is_vae(layer) else layer.forward(x).copy()
    plotting.save_latent_scatter(z, args.out, labels=_classes(labels),
                                 title="latent means" if _is_vae(layer) else "codes")
    out.write(f"numba-ae: wrote {args.out} ({len(x)} examples, latent size {z.shape[1]})\n")
    return 0


def _score_detector(args, det, x):
    """``(scores, column names, description)`` of a saved anomaly detector on ``x``."""
    from .anomaly import VAEAnomalyDetector
    if args.score is not None:
        if not isinstance(det, VAEAnomalyDetector):
            raise UsageError(f"{args.model}: --score applies to VAE models; this is a {type(det).__name__}")
        det.set_params(score=args.score)
    s = det.score_samples(x)
    outlier = (s < det.offset_).astype(np.int64)
    name = det.get_params()["score"] if isinstance(det, VAEAnomalyDetector) else "negative_squared_error"
    what = (f"{type(det).__name__} {name} (low = anomalous), outlier = below its threshold "
            f"{det.offset_:.6g}: {int(outlier.sum())} of {len(s)}")
    return s, ["index", name, "outlier"], what, outlier


_SCORE_WORDS = {"reconstruction_log_probability": "reconstruction log-probability", "elbo": "ELBO",
                "iwae": "IWAE estimate of log p(x)"}


def _score_layer(args, layer, x):
    """``(scores, name, description)`` of a plain model's first layer on ``x`` (the scoring
    functions of :mod:`numba_ae.anomaly.scoring`)."""
    from .anomaly import scoring
    if _is_vae(layer) and not layer.conf.distribution.uses_loss_function():
        score = args.score or "reconstruction_log_probability"
        s = scoring.vae_scores(layer, x, score, num_samples=args.num_samples, seed=args.seed,
                               estimator=args.estimator)
        detail = f", {args.estimator}" if score == "reconstruction_log_probability" else ""
        return s, score, f"{_SCORE_WORDS[score]} ({args.num_samples} samples{detail}; low = anomalous)"
    if args.score is not None:
        raise UsageError(f"{args.model}: --score needs a VAE with a reconstruction distribution; this model "
                         "scores by reconstruction error")
    return scoring.reconstruction_error(layer, x), "reconstruction_error", "reconstruction error (high = anomalous)"


def _load_scored(path):
    """``(net, detector or None)`` from a model file (a one-line usage error when damaged)."""
    from .anomaly import is_detector_file
    from .anomaly._files import detector_from
    from .io import ModelFormatError, load_model_with_info
    try:
        net, info = load_model_with_info(path)
        return net, (detector_from(net, info, str(path)) if is_detector_file(info) else None)
    except ModelFormatError as e:
        raise UsageError(str(e)) from None


def cmd_score(args, out):
    net, det = _load_scored(args.model)
    if det is None:
        net, layer = _model(args.model, net)
    _check_writable(args.out)
    if args.plot:
        _check_writable(args.plot)
    x, _ = _data(args, net)
    if det is not None:
        s, header, what, outlier = _score_detector(args, det, x)
        columns = [np.arange(len(s)), s, outlier]
    else:
        s, name, what = _score_layer(args, layer, x)
        header, columns = ["index", name], [np.arange(len(s)), s]
    s = np.asarray(s, dtype=np.float64)
    _write_csv(args.out, header, columns)
    if args.plot:
        from . import plotting
        plotting.save_histogram(s, args.plot, xlabel=header[1])
    out.write(f"numba-ae: wrote {args.out} ({len(s)} rows: {what}; median {np.median(s):.4g})\n")
    return 0


def cmd_evaluate(args, out, stdout=None):
    import sys
    from .config import OutputLayer
    from .data.loading import as_targets
    net = load_checked(args.model)
    last = net.conf.layers[-1]
    if not isinstance(last, OutputLayer):
        raise UsageError(f"{args.model}: evaluate needs a classifier (an OutputLayer last); the last layer is a "
                         f"{type(last).__name__}")
    x, labels = _data(args, net)
    if labels is None:
        raise UsageError(f"data {args.data}: no labels to evaluate against (give --labels-key/--label-column)")
    y = as_targets(labels, last.n_out, what=f"data {args.data}: labels")
    ev = net.evaluate((x, y.astype(net.dtype)))
    (stdout or sys.stdout).write(ev.stats().rstrip() + "\n")
    return 0


COMMANDS = {"sample": cmd_sample, "reconstruct": cmd_reconstruct, "latent": cmd_latent, "score": cmd_score,
            "evaluate": cmd_evaluate}


def _data_args(p):
    p.add_argument("--data", metavar="DATA", required=True, help="mnist, mnist:test, or a .npz/.npy/.csv file")
    p.add_argument("--features-key", default="x", help=".npz array of the features (default x)")
    p.add_argument("--labels-key", default="y", help=".npz array of the labels (default y)")
    p.add_argument("--label-column", metavar="NAME|INDEX", help=".csv/.npy column holding the labels")
    p.add_argument("--binarize", action="store_true", help="features become x > 0.5 (as 0/1)")
    p.add_argument("--limit", type=_int_arg, metavar="N", help="use only the first N examples")


def add_parsers(sub):
    s = sub.add_parser("sample", help="draw samples of a VAE model as an image grid (or CSV)",
                       description="Decode z ~ N(0, I) through the model's first (VariationalAutoencoder) layer.")
    s.add_argument("model", metavar="MODEL")
    s.add_argument("--n", type=_int_arg, default=64, help="number of samples (default 64)")
    s.add_argument("--out", default="samples.png", help="PNG (image-shaped data) or CSV file")
    s.add_argument("--csv", action="store_true", help="write the sampled values as CSV")
    s.add_argument("--random", action="store_true", help="draw from p(x|z) instead of taking its mean")
    s.add_argument("--seed", type=_int_arg, default=0)
    r = sub.add_parser("reconstruct", help="originals over their reconstructions, as a PNG")
    r.add_argument("model", metavar="MODEL")
    _data_args(r)
    r.add_argument("--n", type=_int_arg, default=16)
    r.add_argument("--out", default="recon.png")
    la = sub.add_parser("latent", help="2-D scatter of the latent means (PCA past 2-D), coloured by label")
    la.add_argument("model", metavar="MODEL")
    _data_args(la)
    la.add_argument("--out", default="latent.png")
    sc = sub.add_parser("score", help="per-example reconstruction log-probability or error, as CSV",
                        description="Per-example scores of a model's first layer, or of a saved anomaly "
                                    "detector (numba_ae.anomaly; then also its outlier flags).")
    sc.add_argument("model", metavar="MODEL")
    _data_args(sc)
    sc.add_argument("--out", default="scores.csv")
    sc.add_argument("--plot", metavar="PNG", help="also draw a histogram of the scores")
    sc.add_argument("--num-samples", type=_int_arg, default=16)
    sc.add_argument("--seed", type=_int_arg, default=0)
    sc.add_argument("--score", choices=("reconstruction_log_probability", "elbo", "iwae"),
                    help="VAE score (default: reconstruction_log_probability; a detector: its own)")
    sc.add_argument("--estimator", choices=("mean_log", "log_mean_exp"), default="mean_log",
                    help="reconstruction log-probability estimator: mean of the logs (DL4J, default) "
                         "or log of the mean (An & Cho)")
    ev = sub.add_parser("evaluate", help="accuracy, precision, recall, F1 and confusion matrix of a classifier")
    ev.add_argument("model", metavar="MODEL")
    _data_args(ev)
    for p in (s, r, la, sc, ev):
        p.set_defaults(command=p.prog.split()[-1])
