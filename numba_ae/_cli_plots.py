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


def _model(path):
    from .config import AutoEncoder, VariationalAutoencoder
    net = load_checked(path)
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


def cmd_score(args, out):
    net, layer = _model(args.model)
    _check_writable(args.out)
    if args.plot:
        _check_writable(args.plot)
    x, _ = _data(args, net)
    if _is_vae(layer) and not layer.conf.distribution.uses_loss_function():
        s = layer.reconstruction_log_probability(x, num_samples=args.num_samples, rng=args.seed)
        what = f"reconstruction log-probability ({args.num_samples} samples; low = anomalous)"
        name = "reconstruction_log_probability"
    elif _is_vae(layer):
        s = layer.reconstruction_error(x)
        what, name = "reconstruction error (high = anomalous)", "reconstruction_error"
    else:
        s = layer.example_scores_unsupervised(x)
        what, name = "reconstruction error (high = anomalous)", "reconstruction_error"
    s = np.asarray(s, dtype=np.float64)
    _write_csv(args.out, ["index", name], [np.arange(len(s)), s])
    if args.plot:
        from . import plotting
        plotting.save_histogram(s, args.plot, xlabel=name)
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
    sc = sub.add_parser("score", help="per-example reconstruction log-probability or error, as CSV")
    sc.add_argument("model", metavar="MODEL")
    _data_args(sc)
    sc.add_argument("--out", default="scores.csv")
    sc.add_argument("--plot", metavar="PNG", help="also draw a histogram of the scores")
    sc.add_argument("--num-samples", type=_int_arg, default=16)
    sc.add_argument("--seed", type=_int_arg, default=0)
    ev = sub.add_parser("evaluate", help="accuracy, precision, recall, F1 and confusion matrix of a classifier")
    ev.add_argument("model", metavar="MODEL")
    _data_args(ev)
    for p in (s, r, la, sc, ev):
        p.set_defaults(command=p.prog.split()[-1])
