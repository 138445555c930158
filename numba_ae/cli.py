"""Command line: ``python -m numba_ae COMMAND`` (also the ``numba-ae`` script).

Commands: ``inspect MODEL``, ``examples`` and ``train CONFIG --data DATA --epochs N``
(see :mod:`numba_ae._cli_train` for training, checkpoints and ``--resume``).
User errors of ``train``/``examples`` print one line ``numba-ae: error: ...`` and
exit with status 2 (``--debug``: raise with the traceback instead); Ctrl-C during
``train`` exits with status 130 after saying how to resume.

``inspect`` loads (and so fully validates) a model file and prints the layer
table, every stored parameter with its shape and dtype, the updater state, the
training counters and the stored normalizer.  Exit status: 0 on success, 2 on a
bad or missing file (message on stderr) or bad usage.
"""
import argparse
import json
import os
import sys

from ._version import __version__


def _fmt_shape(shape):
    return "(" + ", ".join(str(int(s)) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _table(rows, indent="  "):
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    return [indent + "  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]


def _inspect(path, out):
    from .io import load_model_with_info
    net, info = load_model_with_info(path)
    conf = net.conf
    size = os.path.getsize(path)
    lines = [f"File: {path}",
             f"Format: numba_ae {info['format_version']} (written by numba_ae {info['library_version']}), "
             f"{size:,} bytes",
             "",
             net.summary(),
             "",
             f"Parameters ({net.num_params():,}, {conf.dtype}):"]
    rows = [("dataset", "shape", "dtype")]
    for i, layer in enumerate(net.layers):
        for name, shape, _ in layer.param_specs():
            rows.append((f"params/layer_{i}/{name}", _fmt_shape(shape), conf.dtype))
    lines += _table(rows)
    lines.append("")
    if info["has_updater"]:
        lines.append("Updater state:")
        ts = net.training_state()
        rows = [("layer", "updater", "fit step", "pretrain step", "state arrays")]
        for i in range(len(net.layers)):
            upd = conf.resolved(i, "updater")
            args = ", ".join(f"{k}={v!r}" for k, v in upd.to_dict().items())
            states = ", ".join(upd.state_names) if upd.state_names else "(none)"
            pre = str(ts["pretrain_updater_steps"][i]) if net.layers[i].pretrainable else "-"
            rows.append((f"layer_{i}", f"{type(upd).__name__}({args})", str(ts["updater_steps"][i]),
                         pre, states))
        lines += _table(rows)
    else:
        lines.append("Updater state: not saved (loading starts fresh updater state)")
    ts = net.training_state()
    last = ts["last_score"]
    lines += ["",
              "Training state:",
              f"  iteration_count: {ts['iteration_count']}",
              f"  epoch_count:     {ts['epoch_count']}",
              f"  updater_steps:   {ts['updater_steps']}",
              f"  pretrain_updater_steps: {ts['pretrain_updater_steps']}",
              f"  seed:            {ts['seed']}",
              f"  last_score:      {'none' if last is None else repr(last)}",
              ""]
    norm = info["normalizer"]
    if norm is None:
        lines.append("Normalizer: none")
    else:
        lines.append(f"Normalizer: {type(norm).__name__} ({norm.n_features} features, "
                     f"fitted on {norm.n_examples} examples)")
        state = norm.get_state()
        rows = [(f"normalizer/{key}", _fmt_shape(v.shape), str(v.dtype))
                for key, v in state.items() if hasattr(v, "shape")]
        lines += _table([("dataset", "shape", "dtype")] + rows)
        for key, value in state.items():
            if key not in ("type", "version", "n_examples") and not hasattr(value, "shape"):
                lines.append(f"  {key}: {json.dumps(value)}")
    out.write("\n".join(lines) + "\n")


def _parser():
    p = argparse.ArgumentParser(prog="numba-ae", description="numba_ae command line tools")
    p.add_argument("--version", action="version", version=f"numba_ae {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line error messages")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    ins = sub.add_parser("inspect", help="show the layers, parameters and training state of a model file",
                         description="Load (and validate) a numba_ae HDF5 model file and describe it.")
    ins.add_argument("path", help="model file (.h5) written by net.save / numba_ae.io.save_model")
    from . import _cli_plots, _cli_train
    _cli_train.add_parsers(sub)
    _cli_plots.add_parsers(sub)
    return p


def _run_train_or_examples(args, argv):
    from . import _cli_train as t
    from .errors import TrainingDivergedError
    from .io import ModelFormatError
    if getattr(args, "label_column", None) is not None:
        try:
            args.label_column = int(args.label_column)
        except ValueError:
            pass
    from . import _cli_plots
    try:
        if args.command == "examples":
            return t.cmd_examples(sys.stdout)
        if args.command in _cli_plots.COMMANDS:
            return _cli_plots.COMMANDS[args.command](args, sys.stderr)
        return t.cmd_train(args, argv, sys.stderr)
    except (t.UsageError, ModelFormatError, FileNotFoundError, ValueError, TypeError, ImportError) as e:
        if args.debug:
            raise
        print(f"numba-ae: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except OSError as e:  # unwritable output, permission denied, disk full, ...
        if args.debug:
            raise
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        print(f"numba-ae: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
    except TrainingDivergedError as e:
        if args.debug:
            raise
        print(f"numba-ae: error: training diverged: {_one_line(e)}", file=sys.stderr)
        return 1


def _one_line(e):
    return " ".join(str(e).split()) or type(e).__name__


def main(argv=None):
    """Entry point; returns the exit status (0 ok, 2 bad file or usage)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: --help/--version exit 0, usage errors exit 2
        return e.code if isinstance(e.code, int) else 2
    if args.command == "inspect":
        from .io import ModelFormatError
        try:
            _inspect(args.path, sys.stdout)
        except ModelFormatError as e:
            print(f"numba-ae inspect: error: {e}", file=sys.stderr)
            return 2
        except OSError as e:  # missing file, permission denied, is a directory, ...
            print(f"numba-ae inspect: error: {args.path}: {e.strerror or e}", file=sys.stderr)
            return 2
        return 0
    if args.command in ("train", "examples", "sample", "reconstruct", "latent", "score", "evaluate"):
        return _run_train_or_examples(args, list(sys.argv[1:] if argv is None else argv))
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover
