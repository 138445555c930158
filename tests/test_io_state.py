"""The network's public state interface and the io layering.

* ``MultiLayerNetwork.export_state`` / ``from_state``: the rebuilt network has
  bitwise the same params, updater state, counters, RNG state and outputs, and
  continues training bitwise like the original; the state is a snapshot
  (copies); bad states are refused with a message;
* ``numba_ae.io`` never imports ``numba_ae.network`` (checked on the source with
  ``ast``, lazy imports inside functions included) and reads no private
  attribute of another object.
"""
import ast
import copy
import json
import os

import numpy as np
import pytest

import numba_ae.io
from numba_ae import (
    Adam,
    AutoEncoder,
    BernoulliReconstructionDistribution,
    CompositeReconstructionDistribution,
    DenseLayer,
    GaussianReconstructionDistribution,
    MultiLayerNetwork,
    NeuralNetConfiguration,
    OutputLayer,
    RmsProp,
    Sgd,
    VariationalAutoencoder,
)
from numba_ae.io import load_model, save_model

from io_helpers import assert_same_net, bits, data, small_net

IO_DIR = os.path.dirname(numba_ae.io.__file__)
IO_MODULES = sorted(f for f in os.listdir(IO_DIR) if f.endswith(".py"))


def _trained_nets():
    x, y = data()
    ae = small_net()
    ae.pretrain(x, batch_size=3)
    ae.fit(x, y, batch_size=3)
    rd = CompositeReconstructionDistribution(((2, GaussianReconstructionDistribution()),
                                              (3, BernoulliReconstructionDistribution())))
    vae = MultiLayerNetwork(NeuralNetConfiguration(seed=6, dtype="float64", updater=RmsProp(0.01), layers=[
        VariationalAutoencoder(n_in=5, n_out=2, encoder_layer_sizes=(4,), decoder_layer_sizes=(4,),
                               reconstruction_distribution=rd),
        OutputLayer(n_out=3, activation="softmax", updater=Sgd(0.1))])).init()
    xd = x.astype(np.float64)
    vae.pretrain(xd, batch_size=3)
    vae.fit(xd, y.astype(np.float64), batch_size=3)
    dense = MultiLayerNetwork(NeuralNetConfiguration(seed=None, updater=Adam(0.02), layers=[
        DenseLayer(n_in=5, n_out=4), OutputLayer(n_out=3, activation="softmax")])).init()
    dense.fit(x, y, batch_size=2)
    return {"ae": (ae, x, y), "vae": (vae, xd, y.astype(np.float64)), "dense": (dense, x, y)}


def _step(net, x, y):
    for i, layer in enumerate(net.layers):
        if layer.pretrainable:
            net.pretrain_layer(i, x, batch_size=3)
    net.fit(x, y, batch_size=3)


@pytest.mark.parametrize("kind", ["ae", "vae", "dense"])
def test_from_state_of_export_state_is_bitwise_and_trains_on_bitwise(kind):
    net, x, y = _trained_nets()[kind]
    state = net.export_state()
    copy_ = MultiLayerNetwork.from_state(state)
    assert type(copy_) is MultiLayerNetwork and copy_ is not net
    assert_same_net(net, copy_, x, y)
    assert copy_.seed == net.seed
    _step(net, x, y)
    _step(copy_, x, y)
    assert_same_net(net, copy_, x, y)
    # the state is a snapshot: training afterwards changed neither it nor what it rebuilds
    again = MultiLayerNetwork.from_state(state)
    assert not np.array_equal(again.params(), net.params())
    _step(again, x, y)
    assert_same_net(net, again, x, y)


def test_export_state_is_plain_data_keyed_by_updater_state_names():
    net, x, y = _trained_nets()["ae"]
    state = net.export_state()
    assert set(state) == {"config", "layers", "iteration_count", "epoch_count", "seed", "rng_state",
                          "last_score"}
    assert state["config"].to_json() == net.conf.to_json() and state["config"] is not net.conf
    assert json.loads(json.dumps(state["rng_state"])) == state["rng_state"]
    assert state["iteration_count"] == 4 and state["epoch_count"] == 2 and state["seed"] == 3
    assert state["last_score"] == net.score()
    l0, l1 = state["layers"]
    assert list(l0["params"]) == ["W", "b", "vb"] and list(l1["params"]) == ["W", "b"]
    assert l0["updater"]["step"] == 2 and l0["pretrain_updater"]["step"] == 2
    assert l1["pretrain_updater"] is None  # not pretrainable
    assert list(l0["updater"]["state"]["W"]) == list(Adam.state_names) == ["m", "v"]
    assert bits(l0["updater"]["state"]["W"]["v"]) == bits(net.updater_state(0)["W"]["v"])
    assert bits(l0["pretrain_updater"]["state"]["b"]["m"]) == bits(net.updater_state(0, pretrain=True)["b"]["m"])
    assert bits(l1["params"]["W"]) == bits(net.get_layer(1).params["W"])
    l1["params"]["W"][...] = 0  # copies, not views
    assert np.any(net.get_layer(1).params["W"])


def test_export_state_without_updater_rebuilds_fresh_updater_state():
    net, x, y = _trained_nets()["ae"]
    state = net.export_state(include_updater=False)
    assert all(layer["updater"] is None and layer["pretrain_updater"] is None for layer in state["layers"])
    copy_ = MultiLayerNetwork.from_state(state)
    assert bits(copy_.params()) == bits(net.params())
    ts = copy_.training_state()
    assert ts["updater_steps"] == ts["pretrain_updater_steps"] == [0, 0]
    assert ts["rng_state"] == net.training_state()["rng_state"]
    assert not any(arr.any() for st in copy_.updater_state(0).values() for arr in st.values())
    with pytest.raises(TypeError, match="include_updater"):
        net.export_state(include_updater="no")


def test_from_state_builds_subclasses_and_matches_the_file_round_trip(tmp_path):
    class MyNet(MultiLayerNetwork):
        pass

    net, x, y = _trained_nets()["vae"]
    rebuilt = MyNet.from_state(net.export_state())
    assert type(rebuilt) is MyNet
    save_model(net, tmp_path / "a.h5")
    save_model(rebuilt, tmp_path / "b.h5")
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()
    assert_same_net(load_model(tmp_path / "b.h5"), net, x, y)


def test_from_state_refuses_bad_states():
    net, x, y = _trained_nets()["ae"]
    good = net.export_state()

    def bad(edit, exc, match):
        state = copy.deepcopy(good)
        edit(state)
        with pytest.raises(exc, match=match):
            MultiLayerNetwork.from_state(state)

    with pytest.raises(TypeError, match="export_state"):
        MultiLayerNetwork.from_state([1, 2])
    bad(lambda s: s.pop("rng_state"), ValueError, "missing \\['rng_state'\\]")
    bad(lambda s: s["layers"].pop(), ValueError, "2 layer entries")
    bad(lambda s: s["layers"][0]["params"].pop("vb"), ValueError, "layer 0 params must be \\['W', 'b', 'vb'\\]")
    bad(lambda s: s["layers"][1]["params"].__setitem__("W", np.zeros((3, 4), np.float32)), ValueError,
        "layer 1 params 'W' must be a float32 array of shape \\(4, 3\\); got float32 \\(3, 4\\)")
    bad(lambda s: s["layers"][1]["params"].__setitem__("b", np.zeros(3)), ValueError,
        "'b' must be a float32 array of shape \\(3,\\); got float64")
    bad(lambda s: s["layers"][0]["updater"]["state"]["W"].pop("m"), ValueError,
        "layer 0 updater state of 'W' must be \\['m', 'v'\\]")
    bad(lambda s: s["layers"][0]["pretrain_updater"].__setitem__("step", -1), ValueError,
        "layer 0 pretrain_updater 'step' must be an int >= 0")
    bad(lambda s: s["layers"][1].__setitem__("pretrain_updater", s["layers"][1]["updater"]), ValueError,
        "layer 1 \\(OutputLayer\\) is not pretrainable")
    with pytest.raises(TypeError, match="NeuralNetConfiguration"):
        MultiLayerNetwork.from_state(dict(good, config={"layers": []}))


def test_export_state_needs_an_initialised_network():
    with pytest.raises(RuntimeError, match="init"):
        MultiLayerNetwork(small_net().conf).export_state()


# ============================================================================ layering

def _imported_modules(path):
    """Absolute names of every module an io source file imports, anywhere in it."""
    tree = ast.parse(open(path).read(), path)
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ["numba_ae", "io"][:max(0, 2 - (node.level - 1))]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)  # from numba_ae import network
    return out


def test_io_modules_are_found():
    assert {"__init__.py", "api.py", "atomic.py", "format.py", "reader.py"} <= set(IO_MODULES)


@pytest.mark.parametrize("name", IO_MODULES)
def test_io_never_imports_the_network_module(name):
    mods = _imported_modules(os.path.join(IO_DIR, name))
    bad = sorted(m for m in mods if m == "numba_ae.network" or m.startswith("numba_ae.network.")
                 or m in ("numba_ae.MultiLayerNetwork", "numba_ae"))
    assert bad == [], f"numba_ae/io/{name} imports {bad}"


@pytest.mark.parametrize("src", ["from ..network import MultiLayerNetwork\n",
                                 "def f():\n    from .. import network\n",
                                 "def f():\n    import numba_ae.network\n",
                                 "from numba_ae import network\n"])
def test_the_ast_check_sees_every_import_form(tmp_path, src):
    # the checker itself: as if the file were in numba_ae/io
    probe = tmp_path / "probe.py"
    probe.write_text(src)
    assert "numba_ae.network" in _imported_modules(str(probe))


@pytest.mark.parametrize("name", IO_MODULES)
def test_io_reads_no_private_attributes(name):
    path = os.path.join(IO_DIR, name)
    tree = ast.parse(open(path).read(), path)
    bad = [f"line {n.lineno}: .{n.attr}" for n in ast.walk(tree)
           if isinstance(n, ast.Attribute) and n.attr.startswith("_") and not n.attr.startswith("__")
           and not (isinstance(n.value, ast.Name) and n.value.id == "self")]
    assert bad == [], f"numba_ae/io/{name} reads private attributes: {bad}"


def test_updater_state_names_are_not_hard_coded_in_io():
    """The state dataset names come from the updater classes (``state_names``)."""
    names = {"m", "v", "cache", "history"}
    for name in IO_MODULES:
        path = os.path.join(IO_DIR, name)
        tree = ast.parse(open(path).read(), path)
        docstrings = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
        found = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and id(n) not in docstrings
                 and isinstance(n.value, str) and n.value in names]
        assert found == [], f"numba_ae/io/{name} names updater states {found}"
