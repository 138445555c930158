"""Model files written by numba_ae 0.1.x still load, bitwise.

The files in ``tests/data`` were written once by the 0.1.x code (commit 99e6760)
with ``tests/data/make_v0_1_files.py``; next to each ``.h5`` its ``.npz`` holds
the inputs, the saved network's outputs, params, training state and updater
state, and the params/score/output after one more training step.  Here the
current code loads them and must reproduce all of that bitwise, and re-saving a
loaded file must give the same bytes (the on-disk format is unchanged).
"""
import json
import os

import numpy as np
import pytest

import numba_ae.io.format as io_format
from numba_ae import MultiLayerNetwork
from numba_ae.io import load_model, load_normalizer, load_model_with_info, save_model

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
FILES = ["classifier", "autoencoder", "vae", "classifier_no_updater"]
#: the step the generator applied after saving (see make_v0_1_files.py)
STEPS = {
    "classifier": lambda n, d: n.fit(d["x"], d["y"]),
    "classifier_no_updater": lambda n, d: n.fit(d["x"], d["y"]),
    "autoencoder": lambda n, d: (n.pretrain_layer(0, d["x"]), n.fit(d["x"], d["y"])),
    "vae": lambda n, d: n.pretrain_layer(0, d["x"]),
}


def bits(a):
    a = np.asarray(a)
    return a.dtype.str, a.shape, a.tobytes()


def _files(name):
    path = os.path.join(DATA, f"v0_1_{name}.h5")
    with np.load(os.path.join(DATA, f"v0_1_{name}.npz")) as z:
        d = {k: z[k] for k in z.files}
    return path, d


def test_files_are_small():
    for name in FILES:
        assert os.path.getsize(os.path.join(DATA, f"v0_1_{name}.h5")) < 100_000


@pytest.mark.parametrize("name", FILES)
def test_v0_1_file_loads_bitwise(name):
    path, d = _files(name)
    net = load_model(path)
    assert type(net) is MultiLayerNetwork
    assert bits(net.params()) == bits(d["params"])
    assert bits(net.output(d["x"])) == bits(d["output"])
    saved_ts = json.loads(str(d["training_state"]))
    ts = net.training_state()
    if name == "classifier_no_updater":
        for key in ("updater_steps", "pretrain_updater_steps"):
            saved_ts[key] = [0] * len(net.layers)
    assert ts == saved_ts
    _, info = load_model_with_info(path)
    assert info["format_version"] == "1.0"
    assert info["library_version"].startswith("0.1")
    assert info["has_updater"] == (name != "classifier_no_updater")
    for key, arr in d.items():
        if not key.startswith("upd/"):
            continue
        _, i, kind, pname, sname = key.split("/")
        state = net.updater_state(int(i), pretrain=kind == "pretrain")[pname][sname]
        if info["has_updater"]:
            assert bits(state) == bits(arr), key
        else:
            assert not state.any(), key
    norm = load_normalizer(path)
    if "normalized" in d:
        assert bits(norm.transform(d["x"])) == bits(d["normalized"])
        assert info["normalizer"] == norm
    else:
        assert norm is None and info["normalizer"] is None


@pytest.mark.parametrize("name", FILES)
def test_v0_1_file_resumes_training_bitwise(name):
    path, d = _files(name)
    net = MultiLayerNetwork.load(path)
    STEPS[name](net, d)
    assert bits(net.params()) == bits(d["next_params"])
    assert net.score() == float(d["next_score"])
    assert bits(net.output(d["x"])) == bits(d["next_output"])


@pytest.mark.parametrize("name", FILES)
def test_resaving_a_v0_1_file_gives_the_same_bytes(tmp_path, monkeypatch, name):
    path, _ = _files(name)
    _, info = load_model_with_info(path)
    # the file records the library version that wrote it; write the same one
    monkeypatch.setattr(io_format, "__version__", info["library_version"])
    out = tmp_path / "again.h5"
    save_model(load_model(path), out, save_updater=info["has_updater"], normalizer=info["normalizer"])
    with open(path, "rb") as a, open(out, "rb") as b:
        assert a.read() == b.read()
