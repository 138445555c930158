"""Tests of the feature normalizers (``numba_ae.data.normalizers``).

Checked against direct NumPy formulas: fitted statistics (array and streaming
iterator fits), transform/revert round trips, constant columns, dtypes, the
plain-data state round trip with its validation, and storage in model files.
"""
import json

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from numba_ae import AutoEncoder, MultiLayerNetwork, NeuralNetConfiguration, OutputLayer
from numba_ae.data import (
    ArrayDataSetIterator,
    DataSet,
    NormalizerMinMaxScaler,
    NormalizerStandardize,
    normalizer_from_state,
)
from numba_ae.io import ModelFormatError, load_model, load_normalizer, save_model

HSET = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ARRAYS = hnp.arrays(
    dtype=st.sampled_from([np.float32, np.float64]),
    shape=st.tuples(st.integers(1, 12), st.integers(1, 5)),
    elements=st.floats(-1e3, 1e3, width=32, allow_nan=False, allow_infinity=False),
)


# ============================================================================ standardize

@HSET
@given(x=ARRAYS, batch=st.integers(1, 5))
def test_standardize_statistics_and_round_trip(x, batch):
    n = NormalizerStandardize().fit(x)
    x64 = x.astype(np.float64)
    const = x64.max(0) == x64.min(0)
    np.testing.assert_allclose(n.mean, x64.mean(0), rtol=1e-12, atol=1e-9)
    expect_std = np.where(const, 1.0, x64.std(0))
    np.testing.assert_allclose(n.std, expect_std, rtol=1e-9, atol=1e-9)
    assert n.n_features == x.shape[1] and n.n_examples == x.shape[0]
    t = n.transform(x)
    assert t.dtype == x.dtype and t.shape == x.shape
    np.testing.assert_allclose(t, ((x64 - n.mean) / n.std).astype(x.dtype), rtol=1e-6, atol=1e-6)
    assert np.all(t[:, const] == 0)
    r = n.revert(t)
    tol = 1e-4 if x.dtype == np.float32 else 1e-9
    np.testing.assert_allclose(r, x, rtol=tol, atol=tol * (1 + np.abs(x64).max()))
    assert np.array_equal(r[:, const], x[:, const])  # constant columns come back exactly
    # a streaming fit over minibatches gives the same statistics
    m = NormalizerStandardize().fit(ArrayDataSetIterator(x, batch_size=batch))
    np.testing.assert_allclose(m.mean, n.mean, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(m.std, n.std, rtol=1e-9, atol=1e-9)


def test_standardize_known_values():
    x = np.array([[1.0, 5.0, 2.0], [3.0, 5.0, 4.0], [5.0, 5.0, 9.0]])
    n = NormalizerStandardize().fit(x)
    assert np.allclose(n.mean, [3.0, 5.0, 5.0])
    assert np.allclose(n.std, [np.sqrt(8 / 3), 1.0, np.sqrt(26 / 3)])
    t = n.transform(x)
    assert np.allclose(t.mean(0), 0) and np.allclose(t[:, [0, 2]].std(0), 1) and np.all(t[:, 1] == 0)
    assert np.allclose(n.transform([[3, 7, 5]]), [[0, 2, 0]])  # ints accepted (float32 out)


# ============================================================================ min-max

@HSET
@given(x=ARRAYS, lo=st.floats(-5, 5), width=st.floats(0.5, 10))
def test_min_max_range_and_round_trip(x, lo, width):
    hi = lo + width
    n = NormalizerMinMaxScaler(lo, hi).fit(x)
    x64 = x.astype(np.float64)
    assert np.array_equal(n.min, x64.min(0)) and np.array_equal(n.max, x64.max(0))
    t = n.transform(x)
    assert t.dtype == x.dtype
    const = x64.max(0) == x64.min(0)
    tol = 1e-5 * (1 + abs(lo) + abs(hi))
    assert np.all(t >= lo - tol) and np.all(t <= hi + tol)
    np.testing.assert_allclose(t[:, ~const].min(0), lo, atol=tol)
    np.testing.assert_allclose(t[:, ~const].max(0), hi, atol=tol)
    np.testing.assert_allclose(t[:, const], lo, atol=tol)
    r = n.revert(t)
    rtol = 1e-4 if x.dtype == np.float32 else 1e-9
    np.testing.assert_allclose(r, x, rtol=rtol, atol=rtol * (1 + np.abs(x64).max()))
    m = NormalizerMinMaxScaler(lo, hi).fit([DataSet(x[:1]), DataSet(x)])  # any iterable of DataSet
    assert np.array_equal(m.min, n.min) and np.array_equal(m.max, n.max)


def test_min_max_known_values_and_pre_process():
    x = np.array([[0.0, 10.0], [5.0, 10.0], [10.0, 10.0]], dtype=np.float32)
    y = np.array([[1.0], [2.0], [3.0]], dtype=np.float32)
    n = NormalizerMinMaxScaler(-1, 1).fit(DataSet(x, y))
    assert np.array_equal(n.transform(x), np.array([[-1, -1], [0, -1], [1, -1]], dtype=np.float32))
    ds = n.pre_process(DataSet(x, y))
    assert np.array_equal(ds.features, n.transform(x)) and ds.labels is not None
    assert np.array_equal(ds.labels, y)
    assert repr(n) == "NormalizerMinMaxScaler(n_features=2, min_range=-1.0, max_range=1.0)"


# ============================================================================ state

@pytest.mark.parametrize("cls,kw", [(NormalizerStandardize, {}), (NormalizerMinMaxScaler, {"min_range": -2.0,
                                                                                         "max_range": 3.0})])
def test_state_round_trip_through_json(cls, kw):
    x = np.random.default_rng(0).normal(size=(20, 4))
    n = cls(**kw).fit(x)
    state = n.get_state()
    assert state["type"] == cls.__name__ and state["version"] == 1 and state["n_examples"] == 20
    assert all(isinstance(v, (np.ndarray, str, int, float)) for v in state.values())
    # plain data: survives JSON (arrays as lists)
    text = json.dumps({k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in state.items()})
    back = normalizer_from_state(json.loads(text))
    assert type(back) is cls and back == n
    assert np.array_equal(back.transform(x), n.transform(x))
    # get_state returns copies
    state[list(k for k, v in state.items() if isinstance(v, np.ndarray))[0]][0] = 123.0
    assert back == n


@pytest.mark.parametrize("state,match", [
    ({"type": "Pickle"}, "unknown normalizer type 'Pickle'"),
    ({"type": "NormalizerStandardize", "version": 1, "n_examples": 3, "mean": [0.0, 1.0]}, "missing 'std'"),
    ({"type": "NormalizerStandardize", "version": 1, "n_examples": 3, "mean": [0.0], "std": [1.0, 2.0]},
     "has 2 entries but other arrays have 1"),
    ({"type": "NormalizerStandardize", "version": 1, "n_examples": 3, "mean": [0.0], "std": [0.0]}, "must be > 0"),
    ({"type": "NormalizerStandardize", "version": 1, "n_examples": 3, "mean": [np.nan], "std": [1.0]}, "NaN"),
    ({"type": "NormalizerStandardize", "version": 1, "n_examples": 3, "mean": "abc", "std": [1.0]},
     "1-D array of numbers"),
    ({"type": "NormalizerStandardize", "version": 1, "n_examples": 3, "mean": [[0.0]], "std": [1.0]},
     "non-empty 1-D array"),
    ({"type": "NormalizerStandardize", "version": 1, "n_examples": 0, "mean": [0.0], "std": [1.0]},
     "'n_examples'\\] must be an int >= 1"),
    ({"type": "NormalizerStandardize", "version": 2, "n_examples": 1, "mean": [0.0], "std": [1.0]},
     "version 2 is newer"),
    ({"type": "NormalizerStandardize", "version": 1, "n_examples": 1, "mean": [0.0], "std": [1.0], "x": 1},
     "unknown state key"),
    ({"type": "NormalizerMinMaxScaler", "version": 1, "n_examples": 1, "min_range": 1.0, "max_range": 0.0,
      "min": [0.0], "max": [1.0]}, "'min_range' must be < 'max_range'"),
    ({"type": "NormalizerMinMaxScaler", "version": 1, "n_examples": 1, "min_range": 0.0, "max_range": 1.0,
      "min": [2.0], "max": [1.0]}, "must be >= state\\['min'\\]"),
    ({"type": "NormalizerMinMaxScaler", "version": 1, "n_examples": 1, "min_range": "0", "max_range": 1.0,
      "min": [0.0], "max": [1.0]}, "must be a finite number"),
])
def test_invalid_states_are_rejected(state, match):
    with pytest.raises(ValueError, match=match):
        normalizer_from_state(state)


def test_usage_errors():
    with pytest.raises(RuntimeError, match="not fitted"):
        NormalizerStandardize().transform(np.ones((2, 2)))
    with pytest.raises(RuntimeError, match="not fitted"):
        NormalizerStandardize().get_state()
    n = NormalizerStandardize().fit(np.ones((3, 2)))
    with pytest.raises(ValueError, match="n_in|column"):
        n.transform(np.ones((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        n.transform([[np.nan, 1.0]])
    with pytest.raises(ValueError, match="no examples"):
        NormalizerStandardize().fit([])
    with pytest.raises(ValueError, match="batch 1 has 3 column"):
        NormalizerStandardize().fit([np.ones((2, 2)), np.ones((2, 3))])
    with pytest.raises(TypeError, match="DataSetIterator"):
        NormalizerStandardize().fit(42)
    with pytest.raises(ValueError, match="min_range"):
        NormalizerMinMaxScaler(1.0, 1.0)
    with pytest.raises(ValueError, match="finite"):
        NormalizerMinMaxScaler(0.0, np.inf)
    with pytest.raises(TypeError, match="dict"):
        normalizer_from_state([1, 2])
    with pytest.raises(ValueError, match="expected 'NormalizerMinMaxScaler'"):
        NormalizerMinMaxScaler.from_state(n.get_state())


# ============================================================================ model files

def _net(n_in):
    conf = NeuralNetConfiguration(seed=1, layers=[AutoEncoder(n_in=n_in, n_out=3),
                                                  OutputLayer(n_out=2, activation="softmax")])
    return MultiLayerNetwork(conf).init()


@pytest.mark.parametrize("norm", [NormalizerStandardize(), NormalizerMinMaxScaler(-1, 1)],
                         ids=lambda n: type(n).__name__)
def test_normalizer_saved_in_model_file(tmp_path, norm):
    x = np.random.default_rng(3).normal(2.0, 3.0, size=(30, 4)).astype(np.float32)
    x[:, 1] = 7.0
    norm.fit(x)
    net = _net(4)
    path = tmp_path / "m.h5"
    save_model(net, path, normalizer=norm)
    back = load_normalizer(path)
    assert type(back) is type(norm) and back == norm
    assert np.array_equal(back.transform(x), norm.transform(x))
    assert np.array_equal(load_model(path).output(back.transform(x)), net.output(norm.transform(x)))
    with h5py.File(path, "r") as f:
        g = f["normalizer"]
        assert g.attrs["type"].decode() == type(norm).__name__
        assert int(g.attrs["n_examples"]) == 30
        for key, value in norm.get_state().items():
            if isinstance(value, np.ndarray):
                assert g[key].dtype == np.float64 and np.array_equal(g[key][()], value)
            elif key != "type":
                assert g.attrs[key] == value
    # a file without a normalizer
    net.save(tmp_path / "plain.h5")
    assert load_normalizer(tmp_path / "plain.h5") is None


def test_bad_normalizer_group_is_a_format_error(tmp_path):
    x = np.random.default_rng(3).normal(size=(10, 4))
    net = _net(4)
    path = tmp_path / "m.h5"
    net.save(path, normalizer=NormalizerStandardize().fit(x))
    with h5py.File(path, "r+") as f:
        f["normalizer/std"][0] = -1.0
    for fn in (load_normalizer, load_model):
        with pytest.raises(ModelFormatError, match=r"m\.h5: the normalizer group is invalid: .*std.*> 0"):
            fn(path)
    with h5py.File(path, "r+") as f:
        del f["normalizer/std"]
        f["normalizer"].create_dataset("std", data=np.ones(3))
    with pytest.raises(ModelFormatError, match=r"normalizer/std has shape \(3,\) but the network's n_in is 4"):
        load_normalizer(path)
    with h5py.File(path, "r+") as f:
        del f["normalizer/std"]
        f["normalizer"].create_dataset("std", data=np.ones(4, np.float32))
    with pytest.raises(ModelFormatError, match=r"normalizer/std has dtype float32 but the format \(float64 statistics\) expects float64"):
        load_normalizer(path)


def test_wrong_width_message_names_the_normalizer_not_the_network():
    from numba_ae import NormalizerStandardize
    norm = NormalizerStandardize().fit(np.random.default_rng(0).normal(size=(10, 4)))
    with pytest.raises(ValueError, match=r"'x' has 3 column\(s\) but this NormalizerStandardize \(fitted on 4 "
                                         r"features\) expects n_in=4") as info:
        norm.transform(np.zeros((2, 3)))
    assert "network" not in str(info.value)
