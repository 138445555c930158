"""``numba-ae train`` and ``numba-ae examples`` (wired into :mod:`numba_ae.cli`).

Training plan
-------------
A config's *phases*, in order: ``pretrain`` of each pretrainable layer
(AutoEncoder, VariationalAutoencoder), then ``fit`` when the last layer is an
OutputLayer.  ``--epochs N`` means N epochs of every phase, run phase after
phase (DL4J's ``pretrain`` then ``fit``).  Epoch ``e`` of phase ``p`` shuffles
its minibatches with the seed ``SeedSequence([net.seed, p, e])``, so an epoch
does not depend on how the run was split into processes.

Checkpoints and progress
------------------------
Before the first epoch and after every epoch the network is saved (atomically,
with the updater state) to ``--out`` and the plan's progress to the JSON
sidecar ``<out>.progress.json`` (also atomic)::

    {"format": "numba-ae-train-progress", "version": 1,
     "phases": [{"phase": "pretrain", "layer": 0, "epochs_done": 2},
                {"phase": "fit", "epochs_done": 1}],
     "iteration_count": 123, "epoch_count": 3}

(``iteration_count``/``epoch_count`` tie the sidecar to its checkpoint; the
model file format has no room for it.)  ``--resume PATH`` loads the checkpoint
and its sidecar and runs each phase up to ``--epochs``: resuming an interrupted
run gives bitwise the parameters of an uninterrupted one, and so does
extending a finished single-phase run (``--epochs 1`` then ``--epochs 2
--resume``).  Extending a finished multi-phase run trains the earlier phase
again after the later one (a note says so); that is not what a fresh
``--epochs 2`` run does.  A checkpoint without a sidecar can be resumed only
for a single-phase config (epochs done = the file's ``epoch_count``).

On Ctrl-C (KeyboardInterrupt) the checkpoint of the last completed epoch is kept
(the interrupted epoch's steps are dropped, which keeps the resume exact), the
command prints how to resume and exits with status 130.
"""
import json
import os
import shlex
import time

import numpy as np

CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "examples", "configs")
PROGRESS_FORMAT = "numba-ae-train-progress"


class UsageError(Exception):
    """A user error: printed as one line ``numba-ae: error: ...``, exit status 2."""


# ============================================================================ examples / configs

def example_names():
    """Names of the bundled example configs (``numba_ae/examples/configs/*.json``)."""
    return sorted(f[:-5] for f in os.listdir(CONFIG_DIR) if f.endswith(".json"))


def example_path(name):
    return os.path.join(CONFIG_DIR, name + ".json")


def load_config(spec):
    """``(conf, description, data_hint)`` from a JSON file (the bundled format
    ``{"description", "network", "data"}`` or a bare NeuralNetConfiguration JSON)
    or a bundled example name."""
    from .config import NeuralNetConfiguration
    if os.path.isfile(spec):
        path = spec
    elif os.sep not in spec and not spec.endswith(".json") and spec in example_names():
        path = example_path(spec)
    elif spec.endswith(".json") or os.sep in spec or os.path.exists(spec):
        raise UsageError(f"config file not found: {spec}" if not os.path.exists(spec)
                         else f"{spec}: not a regular file")
    else:
        raise UsageError(f"unknown example {spec!r} and no such file (examples: {', '.join(example_names())})")
    try:
        with open(path) as f:
            d = json.load(f)
    except json.JSONDecodeError as e:
        raise UsageError(f"{path}: not valid JSON ({e})") from None
    except OSError as e:
        raise UsageError(f"{path}: {e.strerror or e}") from None
    if not isinstance(d, dict):
        raise UsageError(f"{path}: expected a JSON object")
    if "network" in d:
        net_d, desc, hint = d["network"], d.get("description", ""), d.get("data") or {}
        unknown = set(d) - {"network", "description", "data"}
        if unknown:
            raise UsageError(f"{path}: unknown top-level keys {sorted(unknown)} (expected network, description, data)")
        if not isinstance(hint, dict):
            raise UsageError(f"{path}: 'data' must be an object")
        bad = set(hint) - {"dataset", "binarize", "targets"}
        if bad:
            raise UsageError(f"{path}: unknown 'data' keys {sorted(bad)} (expected dataset, binarize, targets)")
    else:
        net_d, desc, hint = d, "", {}
    try:
        if isinstance(net_d, dict) and "class_name" in net_d:  # the to_json() form
            conf = NeuralNetConfiguration.from_json(json.dumps(net_d))
        else:  # the to_dict() form
            conf = NeuralNetConfiguration.from_dict(net_d)
        if not isinstance(conf, NeuralNetConfiguration):
            raise TypeError(f"expected a NeuralNetConfiguration; got {type(conf).__name__}")
    except (TypeError, ValueError, KeyError) as e:
        raise UsageError(f"{path}: invalid network configuration: {e}") from None
    return conf, desc, hint


def cmd_examples(out):
    names = example_names()
    width = max(len(n) for n in names)
    for name in names:
        _, desc, _ = load_config(example_path(name))
        out.write(f"{name.ljust(width)}  {desc}\n")
    return 0


# ============================================================================ plan / progress

def phases_of(conf):
    from .config import OutputLayer
    ph = [{"phase": "pretrain", "layer": i} for i, lc in enumerate(conf.layers) if type(lc).pretrainable]
    if isinstance(conf.layers[-1], OutputLayer):
        ph.append({"phase": "fit"})
    return ph


def _phase_label(p):
    return f"pretrain[layer {p['layer']}]" if p["phase"] == "pretrain" else "fit"


def progress_path(out):
    return os.fspath(out) + ".progress.json"


def _write_json_atomically(path, obj):
    from .io.atomic import write_atomically

    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=1)
    write_atomically(path, write)


def read_progress(path, net, phases):
    """Epochs done per phase for the checkpoint ``path`` (see the module docstring)."""
    side = progress_path(path)
    if not os.path.exists(side):
        if len(phases) == 1:
            return [int(net.epoch_count)]
        raise UsageError(f"{path}: no progress file {side}; a checkpoint of a multi-phase config "
                         "cannot be resumed without it")
    try:
        with open(side) as f:
            d = json.load(f)
        if d.get("format") != PROGRESS_FORMAT:
            raise ValueError("not a numba-ae progress file")
        stored = [{k: v for k, v in p.items() if k != "epochs_done"} for p in d["phases"]]
        done = [int(p["epochs_done"]) for p in d["phases"]]
        it, ep = int(d["iteration_count"]), int(d["epoch_count"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UsageError(f"{side}: unreadable progress file ({e})") from None
    if stored != phases:
        raise UsageError(f"{side}: the progress file's phases do not match the config")
    if it != net.iteration_count or ep != net.epoch_count:
        raise UsageError(f"{side}: does not match {path} (iteration {it} vs {net.iteration_count}); "
                         "the checkpoint and its progress file are from different runs")
    return done


def write_checkpoint(net, out, phases, done):
    net.save(out)
    _write_json_atomically(progress_path(out), {
        "format": PROGRESS_FORMAT, "version": 1,
        "phases": [dict(p, epochs_done=int(k)) for p, k in zip(phases, done)],
        "iteration_count": int(net.iteration_count), "epoch_count": int(net.epoch_count)})


# ============================================================================ reporting

_COMPILE_NOTICE_DONE = False


class _EpochReporter:
    """Listener: per-epoch line (epoch, phase, mean minibatch score, samples/s) on stderr;
    a tqdm bar per epoch when tqdm is installed and stderr is a terminal."""

    def __init__(self, stream, n_examples):
        from .listeners import TrainingListener
        self.stream = stream
        self.n = n_examples
        self.label = ""
        self.bar = None
        self.first_step_t = None
        try:
            import tqdm  # noqa: F401
            self.use_tqdm = hasattr(stream, "isatty") and stream.isatty()
        except ImportError:
            self.use_tqdm = False
        self.listener = type("_L", (TrainingListener,), {
            "on_epoch_start": lambda _s, net, epoch, nb: self.start(nb),
            "iteration_done": lambda _s, net, i, e, score: self.step(score)})()

    def start(self, n_batches):
        self.scores = []
        self.t0 = time.perf_counter()
        if self.use_tqdm:
            from tqdm import tqdm
            self.bar = tqdm(total=n_batches, desc=self.label, file=self.stream, leave=False)

    def step(self, score):
        if self.first_step_t is None:
            self.first_step_t = time.perf_counter() - self.t0
        self.scores.append(score)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(score=f"{score:.4g}", refresh=False)

    def end(self, epoch_text):
        dt = time.perf_counter() - self.t0
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        score = float(np.mean(self.scores)) if self.scores else float("nan")
        self.stream.write(f"epoch {epoch_text}  {self.label}  score {score:.6g}  "
                          f"{self.n / dt if dt > 0 else float('inf'):,.0f} samples/s  ({dt:.2f} s)\n")
        self.stream.flush()


# ============================================================================ train

def _int_arg(text):
    return int(text)


def _resume_command(argv, out):
    args, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--resume":
            skip = True
            continue
        if a.startswith("--resume="):
            continue
        args.append(a)
    return "numba-ae " + shlex.join(args + ["--resume", out])


def load_checked(path):
    """``load_model(path)``; a damaged or foreign file is a one-line usage error."""
    from .io import ModelFormatError, load_model
    try:
        return load_model(path)
    except ModelFormatError as e:
        raise UsageError(str(e)) from None


def _check_writable(out):
    d = os.path.dirname(os.path.abspath(out)) or "."
    if os.path.isdir(out):
        raise UsageError(f"--out {out}: is a directory")
    if not os.path.isdir(d):
        raise UsageError(f"--out {out}: directory {d} does not exist")
    if not os.access(d, os.W_OK) or (os.path.exists(out) and not os.access(out, os.W_OK)):
        raise UsageError(f"--out {out}: not writable")


def cmd_train(args, argv, err):
    from .data import ArrayDataSetIterator
    from .data.loading import as_targets, load_data
    from .network import MultiLayerNetwork

    conf, _desc, hint = load_config(args.config)
    if args.epochs < 1:
        raise UsageError(f"--epochs must be >= 1; got {args.epochs}")
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1; got {args.batch_size}")
    if args.seed is not None and args.seed < 0:
        raise UsageError(f"--seed must be >= 0; got {args.seed}")
    from .backends import DeviceUnavailableError, get_backend
    try:
        backend = get_backend(args.device)
    except DeviceUnavailableError as e:
        raise UsageError(f"--device {args.device}: {e}; use --device cpu or auto") from None
    if args.patience is not None and args.patience < 1:
        raise UsageError(f"--patience must be >= 1; got {args.patience}")
    out = args.out if args.out is not None else (args.resume if args.resume is not None else "model.h5")
    _check_writable(out)
    if args.samples:
        from .config import VariationalAutoencoder
        _check_writable(args.samples)
        if not isinstance(conf.layers[0], VariationalAutoencoder):
            raise UsageError("--samples needs a VariationalAutoencoder as the first layer")
    phases = phases_of(conf)
    if not phases:
        raise UsageError("the config has nothing to train: no pretrainable layer and no OutputLayer last")
    need_fit = phases[-1]["phase"] == "fit"

    # ---- the network: fresh or from the checkpoint
    if args.resume is not None:
        net = load_checked(args.resume)
        if args.seed is not None and args.seed != net.seed:
            raise UsageError(f"--seed {args.seed} differs from the checkpoint's seed {net.seed}")
        a, b = net.conf.replace(seed=None).to_dict(), conf.replace(seed=None).to_dict()
        if a != b:
            raise UsageError(f"{args.resume}: the checkpoint was trained with a different network configuration")
        done = read_progress(args.resume, net, phases)
        net.to(backend)
    else:
        if args.seed is not None:
            conf = conf.replace(seed=args.seed)
        net = MultiLayerNetwork(conf, device=backend).init()
        done = [0] * len(phases)

    # ---- data
    spec = args.data if args.data is not None else hint.get("dataset")
    if spec is None:
        raise UsageError(f"no --data given and the config {args.config!r} names no default dataset")
    x, labels = load_data(spec, features_key=args.features_key, labels_key=args.labels_key,
                          label_column=args.label_column, binarize_features=bool(hint.get("binarize", False))
                          or args.binarize, limit=args.limit)
    n_in = conf.n_in_of(0)
    if x.shape[1] != n_in:
        raise UsageError(f"data {spec}: {x.shape[1]} features per example but the model's input has n_in={n_in}")
    y = None
    targets = args.targets or hint.get("targets", "labels")
    if need_fit:
        n_out = conf.layers[-1].n_out
        if targets == "features":
            if n_out != x.shape[1]:
                raise UsageError(f"targets=features needs the output width {n_out} to equal the data's "
                                 f"{x.shape[1]} features")
            y = x
        elif labels is None:
            raise UsageError(f"data {spec}: no labels, but the model ends in an OutputLayer (fit needs labels; "
                             "give --labels-key/--label-column, or --targets features to reconstruct the input)")
        else:
            y = as_targets(labels, n_out, what=f"data {spec}: labels")

    # ---- validation data (same keys and targets as the training data)
    val = None
    if args.validation is not None:
        xv, lv = load_data(args.validation, features_key=args.features_key, labels_key=args.labels_key,
                           label_column=args.label_column,
                           binarize_features=bool(hint.get("binarize", False)) or args.binarize)
        if xv.shape[1] != n_in:
            raise UsageError(f"validation data {args.validation}: {xv.shape[1]} features per example but the "
                             f"model's input has n_in={n_in}")
        yv = None
        if need_fit:
            if targets == "features":
                yv = xv
            elif lv is None:
                raise UsageError(f"validation data {args.validation}: no labels, but fit needs them")
            else:
                yv = as_targets(lv, conf.layers[-1].n_out, what=f"validation data {args.validation}: labels")
        val = (xv, yv)
    elif args.patience is not None:
        raise UsageError("--patience needs --validation DATA")

    # ---- run the plan
    if args.resume is None or os.path.abspath(out) != os.path.abspath(args.resume):
        write_checkpoint(net, out, phases, done)
    remaining = sum(max(0, args.epochs - k) for k in done)
    if remaining == 0:
        err.write(f"numba-ae: nothing to do: {out} already has {args.epochs} epoch(s) of every phase\n")
        return 0
    err.write(f"numba-ae: training {len(x)} examples, batch size {args.batch_size}, seed {net.seed}; "
              f"checkpoints to {out}\n")
    rep = _EpochReporter(err, len(x))
    net.add_listener(rep.listener)
    global _COMPILE_NOTICE_DONE
    try:
        for pi, ph in enumerate(phases):
            later_started = any(k > 0 for k in done[pi + 1:])
            if later_started and done[pi] < args.epochs:
                err.write(f"numba-ae: note: extending {_phase_label(ph)} after a later phase already ran; "
                          "this differs from a fresh run with these --epochs\n")
            rep.label = _phase_label(ph)
            best, since_best = None, 0
            for e in range(done[pi], args.epochs):
                seed = int(np.random.SeedSequence([int(net.seed), pi, e]).generate_state(1, np.uint64)[0] >> 1)
                it = ArrayDataSetIterator(x, y if ph["phase"] == "fit" else None, batch_size=args.batch_size,
                                          shuffle=True, seed=seed)
                if not _COMPILE_NOTICE_DONE:
                    err.write("numba-ae: compiling kernels before the first step (first run in this process; "
                              "from the numba disk cache this takes seconds, cold up to a minute or two)\n")
                    err.flush()
                    _COMPILE_NOTICE_DONE = True
                if ph["phase"] == "pretrain":
                    net.pretrain_layer(ph["layer"], it, epochs=1,
                                       validation=None if val is None else val[0])
                else:
                    net.fit(it, epochs=1, validation=val)
                done[pi] = e + 1
                vs = net.history[-1]["val_score"] if val is not None else None
                rep.end(f"{e + 1}/{args.epochs}" + (f"  val {vs:.6g}" if vs is not None else ""))
                stop = False
                if args.patience is not None:
                    if best is None or vs < best[0]:
                        best, since_best = (vs, net.params(), e + 1), 0
                    else:
                        since_best += 1
                        stop = since_best >= args.patience
                if stop:
                    # early stop: back to the best epoch's parameters; the phase counts as done
                    net.set_params(best[1])
                    done[pi] = args.epochs
                    err.write(f"numba-ae: early stop of {_phase_label(ph)}: no validation improvement for "
                              f"{args.patience} epoch(s); keeping the parameters of epoch {best[2]} "
                              f"(validation score {best[0]:.6g})\n")
                write_checkpoint(net, out, phases, done)
                if stop:
                    break
    except KeyboardInterrupt:
        if rep.bar is not None:
            rep.bar.close()
        err.write(f"\nnumba-ae: interrupted; {out} holds the last completed epoch "
                  f"({', '.join(f'{_phase_label(p)} {k}/{args.epochs}' for p, k in zip(phases, done))}); "
                  f"resume with: {_resume_command(argv, out)}\n")
        return 130
    err.write(f"numba-ae: saved {out}\n")
    if args.samples:
        from ._cli_plots import draw_samples
        err.write(f"numba-ae: {draw_samples(net, args.samples, title=f'64 samples after {args.epochs} epoch(s)')}\n")
    return 0


def add_parsers(sub):
    ex = sub.add_parser("examples", help="list the bundled example configs",
                        description="List the bundled example configs (usable as CONFIG of 'train').")
    ex.set_defaults(command="examples")
    tr = sub.add_parser("train", help="train a network from a config on a dataset, with checkpoints",
                        description="Pretrain the pretrainable layers and/or fit (OutputLayer last) for --epochs "
                                    "epochs each, saving a checkpoint after every epoch.")
    tr.add_argument("config", metavar="CONFIG",
                    help="a JSON config file ({description, network, data} or a bare NeuralNetConfiguration) "
                         "or a bundled example name (see 'numba-ae examples')")
    tr.add_argument("--data", metavar="DATA", help="mnist, mnist:test, or a .npz/.npy/.csv file "
                                                  "(default: the example's dataset)")
    tr.add_argument("--epochs", type=_int_arg, required=True, help="epochs of every phase (pretrain, fit)")
    tr.add_argument("--batch-size", type=_int_arg, default=128)
    tr.add_argument("--out", metavar="PATH", help="checkpoint / model file (default model.h5, or the --resume file)")
    tr.add_argument("--resume", metavar="PATH", help="continue from a checkpoint written by train")
    tr.add_argument("--seed", type=_int_arg, help="network seed (overrides the config's)")
    tr.add_argument("--features-key", default="x", help=".npz array of the features (default x)")
    tr.add_argument("--labels-key", default="y", help=".npz array of the labels (default y)")
    tr.add_argument("--label-column", metavar="NAME|INDEX", help=".csv/.npy column holding the labels")
    tr.add_argument("--targets", choices=("labels", "features"),
                    help="fit targets: the labels, or the features themselves (reconstruction); "
                         "default: the config's data hint, else labels")
    tr.add_argument("--binarize", action="store_true", help="features become x > 0.5 (as 0/1)")
    tr.add_argument("--limit", type=_int_arg, metavar="N", help="use only the first N examples")
    tr.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu",
                    help="where to train; auto = the GPU when one is usable, else the CPU "
                         "(cuda needs the [cuda] extra and an NVIDIA GPU)")
    tr.add_argument("--validation", metavar="DATA", help="validation data: its score is printed every epoch")
    tr.add_argument("--patience", type=_int_arg, metavar="K",
                    help="with --validation: stop a phase after K epochs without improvement, keeping the "
                         "best epoch's parameters")
    tr.add_argument("--samples", metavar="PNG", help="after training, draw 64 samples of the (VAE) model here")
    tr.set_defaults(command="train")
    return ex, tr
