"""Model files (``numba_ae.io``): rejection of bad files.

Each defect gives ``ModelFormatError`` naming the file and the exact problem;
random byte flips / truncation only ever give ``ModelFormatError`` or a
successful, usable (and unchanged) load.
"""
import json
import os
import pickle

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from numba_ae import (
    Adam,
    AutoEncoder,
    MultiLayerNetwork,
    NeuralNetConfiguration,
    OutputLayer,
    Sgd,
)
from numba_ae.data import NormalizerMinMaxScaler
from numba_ae.io import ModelFormatError, load_model, load_normalizer

from io_helpers import bits, data, trained_small


# ============================================================================ bad files

def _mut(fn):
    """Apply ``fn(h5py.File)`` to the file in r+ mode."""
    def apply(path):
        with h5py.File(path, "r+") as f:
            fn(f)
    return apply


def _replace_ds(name, arr):
    def fn(f):
        del f[name]
        f.create_dataset(name, data=arr)
    return _mut(fn)


def _set_attr(obj, key, value):
    def fn(f):
        f[obj].attrs[key] = value
    return _mut(fn)


def _del_attr(obj, key):
    def fn(f):
        del f[obj].attrs[key]
    return _mut(fn)


def _edit_json(obj, key, edit):
    def fn(f):
        d = json.loads(f[obj].attrs[key])
        edit(d)
        f[obj].attrs[key] = json.dumps(d)
    return _mut(fn)


def _write_bytes(fn_bytes):
    def apply(path):
        with open(path, "rb") as fh:
            raw = fh.read()
        with open(path, "wb") as fh:
            fh.write(fn_bytes(raw))
    return apply


def _cfg_layer1(key, value):
    def edit(d):
        d["config"]["layers"][1]["config"][key] = value
    return edit


def _set_ts(key, value):
    def edit(d):
        d[key] = value
    return edit


def _del_ts(key):
    def edit(d):
        del d[key]
    return edit


def _nan_at(name, idx, value=np.nan):
    def fn(f):
        arr = f[name][()]
        arr[idx] = value
        f[name][...] = arr
    return _mut(fn)


def _soft_link(f):
    del f["params/layer_1/b"]
    f["params/layer_1/b"] = h5py.SoftLink("/params/layer_0/b")


def _external_link(f):
    del f["params/layer_1/b"]
    f["params/layer_1/b"] = h5py.ExternalLink("other.h5", "/x")


def _external_storage(f):
    path = os.path.join(os.path.dirname(f.filename), "raw.bin")
    np.zeros(3, np.float32).tofile(path)
    del f["params/layer_1/b"]
    f.create_dataset("params/layer_1/b", shape=(3,), dtype=np.float32, external=[(path, 0, 12)])


def _lzf(f):
    del f["params/layer_1/W"]
    f.create_dataset("params/layer_1/W", data=np.zeros((4, 3), np.float32), compression="lzf")


def _unwritten(f):
    del f["params/layer_1/W"]
    f.create_dataset("params/layer_1/W", shape=(4, 3), dtype=np.float32, chunks=(2, 3))


def _plain_hdf5():
    import io
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.create_dataset("model_weights", data=np.zeros(3))
        f.attrs["keras_version"] = "2.15"
    return buf.getvalue()


BAD_FILES = {
    "not_hdf5": (_write_bytes(lambda raw: b"this is not an HDF5 file\n" * 10), "is not an HDF5 file"),
    "empty": (_write_bytes(lambda raw: b""), "is empty"),
    "truncated": (_write_bytes(lambda raw: raw[: len(raw) // 2]), "truncated"),
    "truncated_tail": (_write_bytes(lambda raw: raw[:-100]), "truncated"),
    "wrong_format": (_set_attr("/", "format", "keras"), "root attribute 'format' is 'keras', expected 'numba_ae'"),
    "format_not_string": (_set_attr("/", "format", 3), "attribute 'format' must be a scalar string"),
    "missing_format": (_del_attr("/", "format"), "is an HDF5 file but not a numba_ae model file (the root group "
                                                "is missing the attribute 'format')"),
    "other_hdf5": (_write_bytes(lambda raw: _plain_hdf5()), "is an HDF5 file but not a numba_ae model file"),
    "newer_major": (_set_attr("/", "format_version", "2.0"),
                    "format_version 2.0 is newer than this library supports (1.x)"),
    "bad_version": (_set_attr("/", "format_version", "one"), "'format_version' is 'one'; expected 'major.minor'"),
    "old_major": (_set_attr("/", "format_version", "0.9"), "format_version 0.9 is not supported"),
    "missing_library_version": (_del_attr("/", "library_version"), "missing the attribute 'library_version'"),
    "config_not_json": (_set_attr("/", "config", "{not json"), "attribute 'config' is not valid JSON"),
    "config_nan": (_set_attr("/", "config", '{"a": NaN}'), "attribute 'config' is not valid JSON"),
    "config_invalid": (_edit_json("/", "config", _cfg_layer1("n_out", -3)),
                       "the config does not validate: NeuralNetConfiguration: OutputLayer: "),
    "config_invalid_detail": (_edit_json("/", "config", _cfg_layer1("n_out", -3)), "'n_out' must be an int >= 1; got -3"),
    "config_unknown_class": (_edit_json("/", "config", lambda d: d.update(class_name="Evil")),
                             "the config does not validate: unknown config class 'Evil'"),
    "config_wrong_class": (_set_attr("/", "config", Adam().to_json()),
                           "attribute 'config' holds a Adam, not a NeuralNetConfiguration"),
    "config_mismatch_shape": (_edit_json("/", "config", _cfg_layer1("n_out", 7)),
                              "params/layer_1/W has shape (4, 3) but the config expects (4, 7)"),
    "training_state_not_json": (_set_attr("/", "training_state", "[1, 2"),
                                "attribute 'training_state' is not valid JSON"),
    "training_state_missing_key": (_edit_json("/", "training_state", _del_ts("rng_state")),
                                   "'training_state' is missing 'rng_state'"),
    "training_state_bad_counter": (_edit_json("/", "training_state", _set_ts("iteration_count", -1)),
                                   "'iteration_count' must be an int >= 0; got -1"),
    "training_state_bool_counter": (_edit_json("/", "training_state", _set_ts("epoch_count", True)),
                                    "'epoch_count' must be an int >= 0; got True"),
    "training_state_bad_steps": (_edit_json("/", "training_state", _set_ts("updater_steps", [1])),
                                 "'updater_steps' must be a list of 2 ints >= 0"),
    "training_state_bad_rng": (_edit_json("/", "training_state", _set_ts("rng_state", {"bit_generator": "MT19937"})),
                               "'rng_state' is not a valid PCG64 state"),
    "training_state_bad_score": (_edit_json("/", "training_state", _set_ts("last_score", "high")),
                                 "'last_score' must be a number or null"),
    "seed_mismatch": (_edit_json("/", "training_state", _set_ts("seed", 4)),
                      "training_state seed 4 differs from the config seed 3"),
    "missing_params_group": (_mut(lambda f: f.__delitem__("params")), "params is missing"),
    "params_is_dataset": (_mut(lambda f: (f.__delitem__("params"), f.create_dataset("params", data=[1.0]))),
                          "params is not a group"),
    "missing_layer_group": (_mut(lambda f: f.__delitem__("params/layer_1")), "params/layer_1 is missing"),
    "extra_layer_group": (_mut(lambda f: f.create_group("params/layer_2")),
                          "params has unexpected member(s) ['layer_2']"),
    "missing_param": (_mut(lambda f: f.__delitem__("params/layer_0/W")), "params/layer_0/W is missing"),
    "extra_param": (_mut(lambda f: f.create_dataset("params/layer_0/X", data=np.zeros(3, np.float32))),
                    "params/layer_0 has unexpected member(s) ['X']"),
    "wrong_shape": (_replace_ds("params/layer_0/W", np.zeros((3, 4), np.float32)),
                    "params/layer_0/W has shape (3, 4) but the config expects (5, 4)"),
    "wrong_dtype": (_replace_ds("params/layer_0/W", np.zeros((5, 4), np.float64)),
                    "params/layer_0/W has dtype float64 but the config expects float32"),
    "int_dtype": (_replace_ds("params/layer_0/b", np.zeros(4, np.int32)),
                  "params/layer_0/b has dtype int32 but the config expects float32"),
    "nan_param": (_nan_at("params/layer_0/W", (1, 2)),
                  "params/layer_0/W contains non-finite values (first at index (1, 2): nan)"),
    "inf_param": (_nan_at("params/layer_1/b", (0,), np.inf),
                  "params/layer_1/b contains non-finite values (first at index (0,): inf)"),
    "wrong_layer_type": (_set_attr("params/layer_0", "layer_type", "DenseLayer"),
                         "params/layer_0 attribute 'layer_type' is 'DenseLayer' but the config's layer 0 is AutoEncoder"),
    "wrong_n_params": (_set_attr("params/layer_0", "n_params", np.int64(3)),
                       "params/layer_0 attribute 'n_params' is 3 but the config gives 29"),
    "float_n_params": (_set_attr("params/layer_0", "n_params", 29.0),
                       "params/layer_0 attribute 'n_params' must be an integer scalar"),
    "wrong_param_names": (_set_attr("params/layer_0", "param_names", '["b", "W", "vb"]'),
                          "params/layer_0 attribute 'param_names' is ['b', 'W', 'vb'] but the config expects ['W', 'b', 'vb']"),
    "soft_link": (_mut(_soft_link), "params/layer_1/b is a SoftLink; only ordinary (hard-linked) objects are allowed"),
    "external_link": (_mut(_external_link), "params/layer_1/b is a ExternalLink"),
    "external_storage": (_mut(_external_storage), "params/layer_1/b stores its data in external file(s)"),
    "plugin_filter": (_mut(_lzf), "params/layer_1/W uses HDF5 filter id 32000"),
    "unwritten_data": (_mut(_unwritten), "params/layer_1/W has only 0 bytes of stored data for 48 bytes"),
    "updater_mismatch": (_set_attr("updater/layer_0", "updater", Sgd(0.1).to_json()),
                         "updater/layer_0 attribute 'updater' ({\"class_name\": \"Sgd\""),
    "updater_invalid_where": (_set_attr("updater/layer_1", "updater", '{"class_name": "Adam", "config": {"beta1": 2}}'),
                              "updater/layer_1 attribute 'updater' does not validate: Adam: "),
    "updater_not_json": (_set_attr("updater/layer_1", "updater", "Adam("),
                         "updater/layer_1 attribute 'updater' is not valid JSON"),
    "updater_invalid": (_set_attr("updater/layer_1", "updater", '{"class_name": "Adam", "config": {"beta1": 2}}'),
                        "'beta1' must be a finite number in [0.0, 1.0); got 2.0"),
    "step_mismatch": (_set_attr("updater/layer_0", "step", np.int64(7)),
                      "updater/layer_0 attribute 'step' is 7 but training_state.updater_steps[0] is 2"),
    "missing_step": (_del_attr("updater/layer_0", "step"), "updater/layer_0 is missing the attribute 'step'"),
    "missing_state": (_mut(lambda f: f.__delitem__("updater/layer_0/W/m")), "updater/layer_0/W/m is missing"),
    "extra_state": (_mut(lambda f: f.create_dataset("updater/layer_0/W/cache", data=np.zeros((5, 4), np.float32))),
                    "updater/layer_0/W has unexpected member(s) ['cache']"),
    "missing_updater_layer": (_mut(lambda f: f.__delitem__("updater/layer_1")), "updater/layer_1 is missing"),
    "state_wrong_shape": (_replace_ds("updater/layer_1/W/v", np.zeros((3, 4), np.float32)),
                          "updater/layer_1/W/v has shape (3, 4) but the config expects (4, 3)"),
    "state_nan": (_nan_at("updater/layer_1/W/m", (0, 1)), "updater/layer_1/W/m contains non-finite values"),
    "state_negative_v": (_nan_at("updater/layer_0/b/v", (2,), -1.0),
                         "updater/layer_0/b/v has negative values; Adam state 'v' must be >= 0"),
    "utf8": (_mut(lambda f: f.attrs.create("library_version", np.bytes_(b"\xff\xfe"), dtype="S2")),
             "attribute 'library_version' is not valid UTF-8 text"),
    "bad_normalizer_type": (_mut(lambda f: f.create_group("normalizer").attrs.__setitem__("type", "Pickle")),
                            "the normalizer group is invalid: unknown normalizer type 'Pickle'"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_raises_model_format_error_naming_file_and_problem(tmp_path, case):
    corrupt, expected = BAD_FILES[case]
    net, path, x, y = trained_small(tmp_path)
    corrupt(path)
    with pytest.raises(ModelFormatError) as info:
        load_model(path)
    e = info.value
    assert isinstance(e, ValueError)
    assert str(e).startswith(f"{path}: ")
    assert expected in str(e), str(e)
    assert e.path == path and expected in e.problem
    if case in ("not_hdf5", "empty", "truncated", "wrong_format", "newer_major"):
        with pytest.raises(ModelFormatError, match="^" + str(path).replace("\\", "\\\\")):
            load_normalizer(path)


def test_missing_path_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "nope.h5")
    with pytest.raises(FileNotFoundError):
        load_normalizer(tmp_path / "nope.h5")
    with pytest.raises(ModelFormatError, match="is not a regular file"):
        load_model(tmp_path)


def test_model_format_error_pickles_and_is_exported():
    import numba_ae.io as io
    e = ModelFormatError("m.h5", "params is missing")
    assert str(e) == "m.h5: params is missing"
    e2 = pickle.loads(pickle.dumps(e))
    assert type(e2) is ModelFormatError and str(e2) == str(e) and e2.problem == e.problem
    assert io.ModelFormatError is ModelFormatError
    assert set(io.__all__) >= {"save_model", "load_model", "load_normalizer", "ModelFormatError"}


# ---- fuzz -----------------------------------------------------------------------------------

_FUZZ = {}


def _fuzz_source(tmp_dir):
    if "raw" not in _FUZZ:
        conf = NeuralNetConfiguration(seed=1, updater=Adam(0.01), layers=[
            AutoEncoder(n_in=4, n_out=3), OutputLayer(n_out=2, activation="softmax")])
        net = MultiLayerNetwork(conf).init()
        x, y = data(n=4, n_in=4, n_out=2)
        net.fit(x, y)
        p = os.path.join(tmp_dir, "src.h5")
        norm = NormalizerMinMaxScaler().fit(x)
        net.save(p, normalizer=norm)
        with open(p, "rb") as fh:
            _FUZZ.update(raw=fh.read(), net=net, x=x, norm=norm)
    return _FUZZ["raw"], _FUZZ["net"], _FUZZ["x"], _FUZZ["norm"]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(edit=st.one_of(
    st.tuples(st.just("truncate"), st.floats(0.0, 1.0, exclude_max=True)),
    st.tuples(st.just("flip"), st.lists(st.tuples(st.floats(0.0, 1.0, exclude_max=True), st.integers(1, 255)),
                                        min_size=1, max_size=4))))
def test_fuzzed_files_only_raise_model_format_error(tmp_path, edit):
    raw, net, x, norm = _fuzz_source(str(tmp_path))
    b = bytearray(raw)
    kind, arg = edit
    if kind == "truncate":
        b = b[: int(arg * len(b))]
    else:
        for pos, mask in arg:
            b[int(pos * len(b))] ^= mask
    path = tmp_path / "fuzz.h5"
    path.write_bytes(bytes(b))
    try:
        assert load_normalizer(path) == norm
    except ModelFormatError as e:
        assert str(e).startswith(f"{path}: ")
    try:
        loaded = load_model(path)
    except ModelFormatError as e:
        assert str(e).startswith(f"{path}: ")
        return
    # loaded: the damage was in unused space (HDF5 metadata and our datasets are checksummed)
    out = loaded.output(x)
    assert out.shape == (4, 2) and np.all(np.isfinite(out))
    assert bits(loaded.params()) == bits(net.params())
    assert loaded.training_state() == net.training_state()
