"""The state interface of ``MultiLayerNetwork`` (a mixin of it; private: only
``numba_ae.network`` imports this module).

``export_state``/``from_state`` turn a network into plain data and back,
bitwise (``numba_ae.io`` stores that data and never imports the network);
``training_state``/``set_training_state`` are the counters and RNG state;
``updater_state`` gives views of a layer's optimizer state; ``summary`` describes
the network; copies (``pickle``, ``copy.deepcopy``) go through ``export_state``/
``from_state``, so a copy is a full, independent network.  The methods use the
network's attributes set by ``MultiLayerNetwork.init``.
"""
import copy

import numpy as np


class _NetworkState:
    """Mixin of :class:`numba_ae.network.MultiLayerNetwork`: its state interface."""

    # ================================================================== training state
    def updater_state(self, i, pretrain=False):
        """Updater state of layer ``i``: ``{param_name: {state_name: view [param shape]}}``.

        ``pretrain=True`` gives the separate state used by ``pretrain`` (pretrainable
        layers only; ``fit`` and ``pretrain`` never share optimizer moments).  The views
        alias the network's state, so writing into them restores state (on a CUDA
        network they are host copies: snapshots).
        """
        self._check_init()
        layer = self.get_layer(i)
        if pretrain and not layer.pretrainable:
            raise ValueError(f"layer {layer.index} ({type(layer.conf).__name__}) is not pretrainable: "
                             "it has no pretrain updater state")
        state = (self._pretrain_state if pretrain else self._updater_state)[layer.index]
        out = {}
        off = 0
        for name, shape, _ in layer.param_specs():
            size = int(np.prod(shape))
            out[name] = {k: self._to_host(v)[off:off + size].reshape(shape) for k, v in state.items()}
            off += size
        return out

    def training_state(self):
        """Counters and RNG state needed to continue training exactly (JSON-serialisable)."""
        self._check_init()
        return {"iteration_count": int(self.iteration_count), "epoch_count": int(self.epoch_count),
                "seed": int(self.seed), "updater_steps": [int(t) for t in self._updater_t],
                "pretrain_updater_steps": [int(t) for t in self._pretrain_t],
                "rng_state": self._rng.bit_generator.state,
                "last_score": self._last_score}

    def set_training_state(self, state):
        """Inverse of :meth:`training_state`."""
        self._check_init()
        steps = state["updater_steps"]
        if len(steps) != len(self.layers):
            raise ValueError(f"'updater_steps' has {len(steps)} entries for {len(self.layers)} layers")
        self.iteration_count = int(state["iteration_count"])
        self.epoch_count = int(state["epoch_count"])
        self.seed = int(state["seed"])
        self._updater_t = [int(t) for t in steps]
        psteps = state.get("pretrain_updater_steps", [0] * len(self.layers))
        if len(psteps) != len(self.layers):
            raise ValueError(f"'pretrain_updater_steps' has {len(psteps)} entries for {len(self.layers)} layers")
        self._pretrain_t = [int(t) for t in psteps]
        rng = np.random.Generator(np.random.PCG64())
        rng.bit_generator.state = state["rng_state"]
        self._rng = rng
        ls = state.get("last_score")
        self._last_score = None if ls is None else float(ls)

    # ================================================================== state interface
    def export_state(self, include_updater=True):
        """Everything that determines the network's future, as plain data (copies:
        training the network afterwards does not change it).  ``from_state`` is the
        inverse; :mod:`numba_ae.io` stores it.

        Parameters
        ----------
        include_updater : bool, default True
            Include the updater states; ``False`` sets every ``updater`` and
            ``pretrain_updater`` entry to ``None`` (``from_state`` then starts fresh
            updater state with step counters 0).

        Returns
        -------
        dict
            ``{"config": NeuralNetConfiguration (a copy),
            "layers": [{"params": {name: array [param shape]},
            "updater": {"step": int, "state": {name: {state_name: array [param shape]}}} or None,
            "pretrain_updater": same or None}, ...],
            "iteration_count": int, "epoch_count": int, "seed": int,
            "rng_state": dict (the PCG64 state), "last_score": float or None}``.
            Parameters appear in the layer's (DL4J) order, state arrays under the
            updater's ``state_names``; ``pretrain_updater`` is ``None`` for layers
            that are not pretrainable.
        """
        self._check_init()
        if not isinstance(include_updater, (bool, np.bool_)):
            raise TypeError(f"'include_updater' must be True or False; got {include_updater!r}")
        layers = []
        for i, layer in enumerate(self.layers):
            entry = {"params": {name: layer.params[name].copy() for name, _, _ in layer.param_specs()},
                     "updater": None, "pretrain_updater": None}
            if include_updater:
                entry["updater"] = {"step": int(self._updater_t[i]), "state": _copy_states(self.updater_state(i))}
                if layer.pretrainable:
                    entry["pretrain_updater"] = {"step": int(self._pretrain_t[i]),
                                                 "state": _copy_states(self.updater_state(i, pretrain=True))}
            layers.append(entry)
        return {"config": copy.deepcopy(self.conf), "layers": layers,
                "iteration_count": int(self.iteration_count), "epoch_count": int(self.epoch_count),
                "seed": int(self.seed), "rng_state": copy.deepcopy(self._rng.bit_generator.state),
                "last_score": None if self._last_score is None else float(self._last_score)}

    @classmethod
    def from_state(cls, state, device="cpu"):
        """An initialised network rebuilt from :meth:`export_state` output: bitwise the
        same parameters, updater state, counters and RNG state, so it computes and
        trains exactly like the network that exported it.  The arrays are copied.
        ``device``: where the new network computes (see ``MultiLayerNetwork``).

        Raises
        ------
        TypeError, ValueError
            ``state`` does not fit its config (missing keys, wrong shapes, dtypes, names).
        """
        if not isinstance(state, dict):
            raise TypeError(f"'state' must be a dict from export_state(); got {type(state).__name__}")
        missing = [k for k in ("config", "layers", "iteration_count", "epoch_count", "seed", "rng_state")
                   if k not in state]
        if missing:
            raise ValueError(f"'state' is missing {missing}")
        net = cls(state["config"])
        net.init()
        entries = state["layers"]
        if not isinstance(entries, (list, tuple)) or len(entries) != len(net.layers):
            raise ValueError(f"'state' must have {len(net.layers)} layer entries (one per layer)")
        steps, psteps = [], []
        for i, (layer, entry) in enumerate(zip(net.layers, entries)):
            shapes = {name: tuple(shape) for name, shape, _ in layer.param_specs()}
            _copy_arrays(entry["params"], layer.params, shapes, net.dtype, f"layer {i} params")
            upd = net._updaters[i]
            for key, own, out in (("updater", net._updater_state, steps),
                                  ("pretrain_updater", net._pretrain_state, psteps)):
                given = entry.get(key)
                if given is None:
                    out.append(0)
                    continue
                if key == "pretrain_updater" and not layer.pretrainable:
                    raise ValueError(f"layer {i} ({type(layer.conf).__name__}) is not pretrainable but "
                                     "the state has a 'pretrain_updater' for it")
                views = net.updater_state(i, pretrain=key == "pretrain_updater")
                if set(given["state"]) != set(shapes):
                    raise ValueError(f"layer {i} {key} state must have the params {list(shapes)}; "
                                     f"got {list(given['state'])}")
                for name in shapes:
                    _copy_arrays(given["state"][name], views[name], {s: shapes[name] for s in upd.state_names},
                                 net.dtype, f"layer {i} {key} state of {name!r}")
                step = given["step"]
                if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
                    raise ValueError(f"layer {i} {key} 'step' must be an int >= 0; got {step!r}")
                out.append(int(step))
        net.set_training_state({"iteration_count": state["iteration_count"], "epoch_count": state["epoch_count"],
                                "seed": state["seed"], "updater_steps": steps, "pretrain_updater_steps": psteps,
                                "rng_state": state["rng_state"], "last_score": state.get("last_score")})
        return net.to(device)

    def summary(self):
        """A text table of the layers, parameter shapes and counts."""
        self._check_init()
        rows = [("#", "layer", "n_in", "n_out", "activation", "params", "count")]
        for i, layer in enumerate(self.layers):
            shapes = [f"{n}{list(s)}" for n, s, _ in layer.param_specs()]
            lines = [", ".join(shapes[k:k + 4]) for k in range(0, len(shapes), 4)]
            rows.append((str(i), type(layer.conf).__name__, str(layer.n_in), str(layer.n_out),
                         layer.activation, lines[0], f"{layer.num_params():,}"))
            rows += [("", "", "", "", "", more, "") for more in lines[1:]]
        widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
        line = "-" * (sum(widths) + 2 * (len(widths) - 1))
        out = [line]
        for k, r in enumerate(rows):
            out.append("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
            if k == 0:
                out.append(line)
        out.append(line)
        out.append(f"Total parameters: {self.num_params():,}   dtype: {self.conf.dtype}   "
                   f"device: {self.device_description()}   "
                   f"iterations: {self.iteration_count}   epochs: {self.epoch_count}")
        return "\n".join(out)

    # ================================================================== copies
    def __reduce__(self):
        # A copy is rebuilt from the public state (as a model file is), so its layers' params
        # are views into its own flat vectors; listeners are not copied.
        state = self.export_state(include_updater=True) if self._initialized else None
        return _rebuild, (type(self), self.conf, state, self.nan_guard, self.device)


def _copy_states(states):
    return {name: {k: v.copy() for k, v in st.items()} for name, st in states.items()}


def _copy_arrays(given, out, shapes, dtype, what):
    """Copy ``given[name]`` into ``out[name]`` for each name of ``shapes``, checking
    names, shapes and dtype (no silent casts: the copy must be bitwise)."""
    if not isinstance(given, dict) or list(given) != list(shapes):
        names = list(given) if isinstance(given, dict) else type(given).__name__
        raise ValueError(f"{what} must be {list(shapes)} in this order; got {names}")
    for name, shape in shapes.items():
        arr = given[name]
        if not isinstance(arr, np.ndarray) or arr.shape != shape or arr.dtype != dtype:
            desc = f"{arr.dtype} {arr.shape}" if isinstance(arr, np.ndarray) else type(arr).__name__
            raise ValueError(f"{what} {name!r} must be a {np.dtype(dtype).name} array of shape {shape}; "
                             f"got {desc}")
        out[name][...] = arr


def _rebuild(cls, conf, state, nan_guard, device="cpu"):
    """Unpickle / deepcopy a :class:`MultiLayerNetwork` (see ``__reduce__``)."""
    if state is None:
        return cls(conf, nan_guard=nan_guard, device=device)
    net = cls.from_state(state, device=device)
    net.nan_guard = nan_guard
    return net
