"""Tests for numba_ae.data: validation, DataSet, iterators, MNIST loading."""

import ast
import json
import pathlib
import threading
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from numba_ae.data import (
    ArrayDataSetIterator,
    AsyncDataSetIterator,
    DataSet,
    DataSetIterator,
    MnistDataSetIterator,
    check_features,
    check_labels,
    load_mnist,
    mnist_arrays,
    one_hot,
)

HYP = settings(max_examples=60, deadline=None,
               suppress_health_check=[HealthCheck.too_slow])
WORKER_NAME = "AsyncDataSetIterator-worker"


# --------------------------------------------------------------------------- helpers
def indexed_data(n, n_features=3, n_labels=2, dtype=np.float64):
    """Features whose column 0 is the row index; labels [i, -i, ...] aligned with it."""
    ids = np.arange(n, dtype=dtype)
    x = ids[:, None] * 10.0 + np.arange(n_features, dtype=dtype)[None, :] * 0.5
    x[:, 0] = ids
    y = None
    if n_labels:
        y = np.empty((n, n_labels), dtype=dtype)
        y[:, 0] = ids
        y[:, 1:] = -ids[:, None]
    return x.astype(dtype), None if y is None else y.astype(dtype)


def epoch_ids(it):
    """Row ids of one epoch, as a list of per-batch int arrays."""
    return [b.features[:, 0].astype(np.int64) for b in it]


def flat(batches):
    return np.concatenate(batches) if batches else np.empty(0, np.int64)


def worker_threads():
    return [t for t in threading.enumerate() if t.name == WORKER_NAME and t.is_alive()]


def wait_no_workers(timeout=1.0):
    deadline = time.monotonic() + timeout
    while worker_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    return worker_threads()


# --------------------------------------------------------------------------- validation
class TestCheckFeatures:
    @pytest.mark.parametrize(
        "dtype, expected",
        [(np.float32, np.float32), (np.float64, np.float64), (np.uint8, np.float32),
         (np.int64, np.float32), (np.bool_, np.float32), (np.float16, np.float32)],
    )
    def test_dtype_rules(self, dtype, expected):
        x = (np.arange(12).reshape(4, 3) % 2).astype(dtype)
        out = check_features(x)
        assert out.dtype == expected
        assert out.flags.c_contiguous
        np.testing.assert_array_equal(out, x.astype(expected))

    def test_no_copy_when_already_valid(self):
        x = np.random.default_rng(0).random((5, 4)).astype(np.float32)
        assert check_features(x) is x

    def test_fortran_order_becomes_c_contiguous(self):
        x = np.asfortranarray(np.arange(20.0).reshape(4, 5))
        out = check_features(x)
        assert out.flags.c_contiguous
        np.testing.assert_array_equal(out, np.arange(20.0).reshape(4, 5))

    def test_explicit_dtype_and_lists(self):
        out = check_features([[1, 2], [3, 4]], dtype=np.float64)
        assert out.dtype == np.float64
        np.testing.assert_array_equal(out, [[1.0, 2.0], [3.0, 4.0]])

    def test_n_in_ok(self):
        assert check_features(np.zeros((2, 784)), n_in=784).shape == (2, 784)

    @pytest.mark.parametrize(
        "x, exc, pattern",
        [
            ([[0.0, np.nan]], ValueError, r"'features' contains NaN or Inf values \(first at row 0, column 1"),
            ([[1.0, 2.0], [np.inf, 0.0]], ValueError, r"'features' contains NaN or Inf.*row 1, column 0"),
            ([[-np.inf]], ValueError, r"'features' contains NaN or Inf"),
            ([1.0, 2.0, 3.0], ValueError, r"'features' must be a 2-D array \[n_examples, n_features\]; got shape \(3,\)"),
            (np.zeros((2, 3, 4)), ValueError, r"'features' must be a 2-D array.*got shape \(2, 3, 4\)"),
            (np.zeros((0, 5)), ValueError, r"'features' must contain at least one example.*\(0, 5\)"),
            (np.zeros((3, 0)), ValueError, r"'features' must have at least one column"),
            ([["a", "b"]], TypeError, r"'features' must contain real numbers.*dtype <U1"),
            (np.array([[1, None]], dtype=object), TypeError, r"'features'.*dtype object"),
            ([[1j, 2]], TypeError, r"'features'.*complex"),
            ([[1.0, 2.0], [3.0]], ValueError, r"'features' must be a rectangular"),
            (None, TypeError, r"'features'"),
        ],
    )
    def test_bad_input(self, x, exc, pattern):
        with pytest.raises(exc, match=pattern):
            check_features(x)

    def test_n_in_mismatch(self):
        with pytest.raises(ValueError, match=r"'features' has 1 column\(s\) but the network's "
                                             r"first layer expects n_in=784"):
            check_features(np.zeros((4, 1)), n_in=784)

    def test_custom_name_in_message(self):
        with pytest.raises(ValueError, match=r"'x_val' contains NaN"):
            check_features([[np.nan]], name="x_val")

    def test_narrowing_overflow_is_caught(self):
        with pytest.raises(ValueError, match=r"'features' overflows to Inf when converted "
                                             r"from float64 to float32"):
            check_features(np.array([[1.0, 1e300]]), dtype=np.float32)

    @HYP
    @given(rows=st.integers(1, 30), cols=st.integers(1, 30), data=st.data(),
           bad=st.sampled_from([np.nan, np.inf, -np.inf]),
           dtype=st.sampled_from([np.float32, np.float64]))
    def test_reports_first_nonfinite_position(self, rows, cols, data, bad, dtype):
        r = data.draw(st.integers(0, rows - 1))
        c = data.draw(st.integers(0, cols - 1))
        x = np.ones((rows, cols), dtype=dtype)
        x[r, c] = bad
        with pytest.raises(ValueError, match=rf"first at row {r}, column {c}\b"):
            check_features(x)


class TestCheckLabels:
    def test_valid(self):
        y = check_labels(np.eye(3, dtype=np.uint8), 3, n_out=3)
        assert y.dtype == np.float32 and y.shape == (3, 3)
        np.testing.assert_array_equal(y, np.eye(3))

    @pytest.mark.parametrize(
        "y, n, exc, pattern",
        [
            (np.zeros((99, 2)), 100, ValueError, r"^'labels' has 99 rows but 'features' has 100$"),
            (np.zeros(100), 100, ValueError, r"'labels' must be a 2-D array \[n_examples, n_labels\]; got shape \(100,\)"),
            (np.zeros((4, 2, 1)), 4, ValueError, r"'labels' must be a 2-D array.*\(4, 2, 1\)"),
            (np.zeros((0, 2)), 0, ValueError, r"'labels' must contain at least one example"),
            ([[0.0], [np.nan]], 2, ValueError, r"'labels' contains NaN or Inf values \(first at row 1, column 0"),
            ([[np.inf]], 1, ValueError, r"'labels' contains NaN or Inf"),
            ([["x"]], 1, TypeError, r"'labels' must contain real numbers"),
        ],
    )
    def test_bad_input(self, y, n, exc, pattern):
        with pytest.raises(exc, match=pattern):
            check_labels(y, n)

    def test_n_out_mismatch(self):
        with pytest.raises(ValueError, match=r"'labels' has 3 column\(s\).*n_out=10"):
            check_labels(np.zeros((5, 3)), 5, n_out=10)

    def test_features_name_in_count_message(self):
        with pytest.raises(ValueError, match=r"'y' has 2 rows but 'x' has 3"):
            check_labels(np.zeros((2, 1)), 3, name="y", features_name="x")


# --------------------------------------------------------------------------- DataSet
class TestDataSet:
    def test_basic(self):
        x, y = indexed_data(7, 4, 2)
        ds = DataSet(x, y)
        assert len(ds) == ds.num_examples() == 7
        assert ds.n_features == 4 and ds.n_labels == 2
        np.testing.assert_array_equal(ds.features, x)
        np.testing.assert_array_equal(ds.labels, y)
        assert "num_examples=7" in repr(ds) and "n_features=4" in repr(ds)

    def test_unlabelled(self):
        ds = DataSet(np.ones((3, 2), dtype=np.uint8))
        assert ds.labels is None and ds.n_labels is None
        assert ds.features.dtype == np.float32
        assert "n_labels=None" in repr(ds)

    def test_validates(self):
        with pytest.raises(ValueError, match="'features' contains NaN"):
            DataSet([[np.nan]])
        with pytest.raises(ValueError, match="'labels' has 2 rows but 'features' has 3"):
            DataSet(np.zeros((3, 2)), np.zeros((2, 1)))
        with pytest.raises(ValueError, match="'labels' must be a 2-D array"):
            DataSet(np.zeros((3, 2)), np.zeros(3))


# --------------------------------------------------------------------------- ArrayDataSetIterator
@HYP
@given(n=st.integers(1, 120), n_features=st.integers(1, 4), batch_size=st.integers(1, 50),
       shuffle=st.booleans(), drop_last=st.booleans(), labelled=st.booleans(),
       seed=st.one_of(st.none(), st.integers(0, 2**32)),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_epoch_structure(n, n_features, batch_size, shuffle, drop_last, labelled, seed, dtype):
    x, y = indexed_data(n, n_features, 2 if labelled else 0, dtype=dtype)
    if drop_last and batch_size > n:
        with pytest.raises(ValueError, match="'batch_size'=.*drop_last=True"):
            ArrayDataSetIterator(x, y, batch_size=batch_size, drop_last=True)
        return
    it = ArrayDataSetIterator(x, y, batch_size=batch_size, shuffle=shuffle, seed=seed,
                              drop_last=drop_last)
    n_batches = n // batch_size if drop_last else -(-n // batch_size)
    assert len(it) == n_batches
    assert (it.batch_size, it.num_examples, it.n_features) == (batch_size, n, n_features)
    assert it.n_labels == (2 if labelled else None)

    epochs = []
    for _ in range(2):
        batches = list(it)
        assert len(batches) == n_batches
        sizes = [len(b) for b in batches]
        if drop_last:
            assert sizes == [batch_size] * n_batches
        else:
            assert sizes[:-1] == [batch_size] * (n_batches - 1)
            assert sizes[-1] == n - (n_batches - 1) * batch_size
        ids = flat([b.features[:, 0].astype(np.int64) for b in batches])
        if drop_last:
            assert len(np.unique(ids)) == len(ids) == n_batches * batch_size
        else:
            np.testing.assert_array_equal(np.sort(ids), np.arange(n))  # each once
        if not shuffle:
            np.testing.assert_array_equal(ids, np.arange(len(ids)))
        for b in batches:
            assert isinstance(b, DataSet)
            assert b.features.dtype == dtype and b.features.flags.c_contiguous
            assert b.features.shape[1] == n_features
            # whole rows travel together, labels stay aligned with features
            np.testing.assert_array_equal(b.features, x[b.features[:, 0].astype(np.int64)])
            if labelled:
                assert b.labels.dtype == dtype and b.labels.flags.c_contiguous
                np.testing.assert_array_equal(b.labels[:, 0], b.features[:, 0])
                np.testing.assert_array_equal(b.labels[:, 1], -b.features[:, 0])
            else:
                assert b.labels is None
        epochs.append(ids)

    if shuffle and seed is not None:
        again = ArrayDataSetIterator(x, y, batch_size=batch_size, shuffle=True, seed=seed,
                                     drop_last=drop_last)
        for expected in epochs:
            np.testing.assert_array_equal(flat(epoch_ids(again)), expected)
    if shuffle and n >= 12 and not drop_last:
        # 1/12! chance of a false failure for an unseeded run
        assert not np.array_equal(epochs[0], epochs[1])


def test_different_seeds_and_epochs_differ():
    x, _ = indexed_data(50, 1, 0)
    a = [flat(epoch_ids(ArrayDataSetIterator(x, batch_size=7, shuffle=True, seed=s)))
         for s in (1, 2)]
    assert not np.array_equal(a[0], a[1])
    it = ArrayDataSetIterator(x, batch_size=7, shuffle=True, seed=1)
    e1, e2, e3 = (flat(epoch_ids(it)) for _ in range(3))
    np.testing.assert_array_equal(e1, a[0])
    assert not np.array_equal(e1, e2) and not np.array_equal(e2, e3)


def test_views_when_not_shuffled_copies_when_shuffled():
    x, y = indexed_data(20, 3, 2, dtype=np.float32)
    plain = ArrayDataSetIterator(x, y, batch_size=6)
    for b in plain:
        assert np.shares_memory(b.features, plain.features)
        assert np.shares_memory(b.labels, plain.labels)
    shuf = ArrayDataSetIterator(x, y, batch_size=6, shuffle=True, seed=0)
    for b in shuf:
        assert not np.shares_memory(b.features, shuf.features)
        assert b.features.flags.c_contiguous and b.features.flags.owndata


def test_array_iterator_dtype_conversion():
    it = ArrayDataSetIterator(np.arange(10, dtype=np.int32).reshape(5, 2),
                              np.ones((5, 1), dtype=bool), batch_size=2)
    assert it.features.dtype == np.float32 and it.labels.dtype == np.float32
    first = next(iter(it))
    np.testing.assert_array_equal(first.features, [[0, 1], [2, 3]])
    np.testing.assert_array_equal(first.labels, [[1], [1]])


def test_reset_and_new_iter_restart_epoch():
    x, _ = indexed_data(10, 1, 0)
    it = ArrayDataSetIterator(x, batch_size=3)
    g = iter(it)
    assert next(g).features[0, 0] == 0
    assert next(g).features[0, 0] == 3
    it.reset()
    assert list(g) == []  # the abandoned epoch stops
    np.testing.assert_array_equal(flat(epoch_ids(it)), np.arange(10))
    g1 = iter(it)
    next(g1)
    g2 = iter(it)  # starting a new epoch invalidates the old one
    assert list(g1) == []
    assert len(list(g2)) == 4


@pytest.mark.parametrize(
    "kwargs, exc, pattern",
    [
        (dict(batch_size=0), ValueError, r"'batch_size' must be an int >= 1; got 0"),
        (dict(batch_size=1.5), TypeError, r"'batch_size' must be an int >= 1; got 1.5"),
        (dict(batch_size=-3), ValueError, r"'batch_size'"),
        (dict(batch_size="8"), TypeError, r"'batch_size'"),
        (dict(batch_size=True), TypeError, r"'batch_size'"),
        (dict(seed="abc"), TypeError, r"'seed' must be None or a non-negative int"),
        (dict(seed=1.5), TypeError, r"'seed'"),
        (dict(seed=-1), ValueError, r"'seed'"),
        (dict(shuffle="yes"), TypeError, r"'shuffle' must be True or False"),
        (dict(drop_last=1), TypeError, r"'drop_last'"),
        (dict(batch_size=11, drop_last=True), ValueError, r"'batch_size'=11 exceeds"),
    ],
)
def test_array_iterator_bad_args(kwargs, exc, pattern):
    x, y = indexed_data(10)
    with pytest.raises(exc, match=pattern):
        ArrayDataSetIterator(x, y, **kwargs)


@pytest.mark.parametrize(
    "features, labels, exc, pattern",
    [
        ([[np.nan, 1.0]], None, ValueError, "'features' contains NaN"),
        (np.zeros(5), None, ValueError, "'features' must be a 2-D"),
        (np.zeros((5, 2)), np.zeros((4, 1)), ValueError, "'labels' has 4 rows but 'features' has 5"),
        (np.zeros((5, 2)), np.zeros(5), ValueError, "'labels' must be a 2-D"),
        (np.array([["a"]]), None, TypeError, "'features' must contain real numbers"),
    ],
)
def test_array_iterator_bad_data(features, labels, exc, pattern):
    with pytest.raises(exc, match=pattern):
        ArrayDataSetIterator(features, labels)


def test_base_class_is_abstract():
    base = DataSetIterator()
    with pytest.raises(NotImplementedError):
        iter(base)
    with pytest.raises(NotImplementedError):
        len(base)
    assert base.reset() is None


# --------------------------------------------------------------------------- get_state / set_state
def test_state_resume_mid_epoch_exact():
    x, y = indexed_data(103, 2, 2)
    ref = ArrayDataSetIterator(x, y, batch_size=10, shuffle=True, seed=3)
    ref_epochs = [epoch_ids(ref) for _ in range(3)]

    it = ArrayDataSetIterator(x, y, batch_size=10, shuffle=True, seed=3)
    first = epoch_ids(it)
    g = iter(it)
    consumed = [next(g).features[:, 0].astype(np.int64) for _ in range(4)]
    state = json.loads(json.dumps(it.get_state()))  # JSON-serialisable
    assert state["epoch"] == 1 and state["batch"] == 4

    restored = ArrayDataSetIterator(x, y, batch_size=10, shuffle=True, seed=999)
    restored.set_state(state)
    assert restored.get_state() == state
    rest_of_epoch2 = epoch_ids(restored)
    epoch3 = epoch_ids(restored)
    for a, b in zip(first, ref_epochs[0]):
        np.testing.assert_array_equal(a, b)
    got2 = consumed + rest_of_epoch2
    assert len(got2) == len(ref_epochs[1]) == 11
    for a, b in zip(got2, ref_epochs[1]):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(epoch3, ref_epochs[2]):
        np.testing.assert_array_equal(a, b)
    # the original iterator is unaffected by get_state
    np.testing.assert_array_equal(flat(consumed + [b.features[:, 0].astype(np.int64) for b in g]),
                                  flat(ref_epochs[1]))


@HYP
@given(n=st.integers(1, 60), batch_size=st.integers(1, 20), drop_last=st.booleans(),
       shuffle=st.booleans(), seed=st.integers(0, 10**6), epochs_before=st.integers(0, 2),
       data=st.data())
def test_state_resume_property(n, batch_size, drop_last, shuffle, seed, epochs_before, data):
    assume(not (drop_last and batch_size > n))
    x, y = indexed_data(n, 1, 2)
    kw = dict(batch_size=batch_size, shuffle=shuffle, drop_last=drop_last)
    ref = ArrayDataSetIterator(x, y, seed=seed, **kw)
    expected = flat([flat(epoch_ids(ref)) for _ in range(epochs_before + 2)])

    it = ArrayDataSetIterator(x, y, seed=seed, **kw)
    seen = [flat(epoch_ids(it)) for _ in range(epochs_before)]
    cut = data.draw(st.integers(0, len(it)), label="cut")
    g = iter(it)
    seen += [next(g).features[:, 0].astype(np.int64) for _ in range(cut)]
    state = json.loads(json.dumps(it.get_state()))

    resumed = ArrayDataSetIterator(x, y, seed=None, **kw)
    resumed.set_state(state)
    if cut == len(it):  # the epoch was complete: next iter() is a full epoch
        seen.append(flat(epoch_ids(resumed)))
    else:
        seen.append(flat(epoch_ids(resumed)))
        seen.append(flat(epoch_ids(resumed)))
    np.testing.assert_array_equal(flat(seen), expected)


def test_state_at_epoch_boundary_and_fresh():
    x, _ = indexed_data(30, 1, 0)
    it = ArrayDataSetIterator(x, batch_size=4, shuffle=True, seed=7)
    s0 = it.get_state()
    assert (s0["epoch"], s0["batch"]) == (0, 0)
    e1 = flat(epoch_ids(it))
    s1 = it.get_state()
    assert (s1["epoch"], s1["batch"]) == (1, 0)
    e2 = flat(epoch_ids(it))
    it.set_state(s0)
    np.testing.assert_array_equal(flat(epoch_ids(it)), e1)
    it.set_state(s1)
    np.testing.assert_array_equal(flat(epoch_ids(it)), e2)


def test_set_state_rejects_bad_states():
    x, _ = indexed_data(30, 1, 0)
    it = ArrayDataSetIterator(x, batch_size=4, shuffle=True, seed=7)
    good = it.get_state()
    with pytest.raises(TypeError, match="'state' must be a dict"):
        it.set_state([1, 2])
    with pytest.raises(ValueError, match=r"missing key\(s\) \['epoch'\]"):
        it.set_state({k: v for k, v in good.items() if k != "epoch"})
    other = ArrayDataSetIterator(x, batch_size=5, shuffle=True, seed=7)
    with pytest.raises(ValueError, match="saved for batch_size=4 but this iterator has batch_size=5"):
        other.set_state(good)
    with pytest.raises(ValueError, match=r"state\['batch'\] must be < 8"):
        it.set_state({**good, "batch": 8})
    with pytest.raises(ValueError, match="bit_generator_state"):
        it.set_state({**good, "bit_generator_state": {"bit_generator": "MT19937"}})
    # a failed set_state leaves the iterator usable and unchanged
    assert it.get_state() == good


# --------------------------------------------------------------------------- AsyncDataSetIterator
class FailingIterator(DataSetIterator):
    """Yields ``good`` batches, then raises."""

    def __init__(self, good=2, fail_at_start=False):
        self.good, self.fail_at_start = good, fail_at_start

    def __iter__(self):
        if self.fail_at_start:
            raise OSError("cannot open shard")
        return self._gen()

    def _gen(self):
        for i in range(self.good):
            yield DataSet._trusted(np.full((1, 1), float(i)))
        raise RuntimeError("boom in batch 2")

    def __len__(self):
        return self.good + 1

    batch_size = 1
    num_examples = 3
    n_features = 1
    n_labels = None


@HYP
@given(n=st.integers(1, 80), batch_size=st.integers(1, 16), prefetch=st.integers(1, 4),
       shuffle=st.booleans(), labelled=st.booleans())
def test_async_same_batches(n, batch_size, prefetch, shuffle, labelled):
    x, y = indexed_data(n, 2, 2 if labelled else 0)
    ref = ArrayDataSetIterator(x, y, batch_size=batch_size, shuffle=shuffle, seed=5)
    inner = ArrayDataSetIterator(x, y, batch_size=batch_size, shuffle=shuffle, seed=5)
    a = AsyncDataSetIterator(inner, prefetch=prefetch)
    assert len(a) == len(inner)
    assert (a.batch_size, a.num_examples, a.n_features, a.n_labels) == \
        (inner.batch_size, inner.num_examples, inner.n_features, inner.n_labels)
    for _ in range(2):
        got = list(a)
        want = list(ref)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g.features, w.features)
            if labelled:
                np.testing.assert_array_equal(g.labels, w.labels)
            else:
                assert g.labels is None
    assert not wait_no_workers()


def test_async_early_break_does_not_hang():
    x, _ = indexed_data(5000, 1, 0)
    a = AsyncDataSetIterator(ArrayDataSetIterator(x, batch_size=1), prefetch=1)
    t0 = time.monotonic()
    for i, b in enumerate(a):
        assert b.features[0, 0] == i
        if i == 2:
            break
    assert not wait_no_workers(1.0)
    assert time.monotonic() - t0 < 1.5
    # explicit close of a half-consumed generator
    g = iter(a)
    assert next(g).features[0, 0] == 0  # new epoch starts from the beginning
    t0 = time.monotonic()
    g.close()
    assert time.monotonic() - t0 < 1.0
    assert not wait_no_workers(1.0)


def test_async_reset_mid_epoch_then_full_epoch():
    x, _ = indexed_data(40, 1, 0)
    a = AsyncDataSetIterator(ArrayDataSetIterator(x, batch_size=3), prefetch=2)
    g = iter(a)
    next(g)
    a.reset()
    assert list(g) == []  # abandoned epoch ends instead of blocking
    np.testing.assert_array_equal(flat(epoch_ids(a)), np.arange(40))
    assert not wait_no_workers()


def test_async_propagates_worker_exception():
    a = AsyncDataSetIterator(FailingIterator(good=2), prefetch=3)
    got = []
    with pytest.raises(RuntimeError, match="boom in batch 2"):
        for b in a:
            got.append(float(b.features[0, 0]))
    assert got == [0.0, 1.0]
    with pytest.raises(OSError, match="cannot open shard"):
        list(AsyncDataSetIterator(FailingIterator(fail_at_start=True)))
    assert not wait_no_workers()


def test_async_nested_and_mnist_like_shapes():
    x, y = indexed_data(25, 3, 2, dtype=np.float32)
    a = AsyncDataSetIterator(AsyncDataSetIterator(ArrayDataSetIterator(x, y, batch_size=4)), 1)
    np.testing.assert_array_equal(flat(epoch_ids(a)), np.arange(25))
    assert not wait_no_workers()


@pytest.mark.parametrize("prefetch, exc, pattern", [(0, ValueError, r"'prefetch' must be an int >= 1; got 0"),
                                                    (1.5, TypeError, r"'prefetch'"),
                                                    (-2, ValueError, r"'prefetch'")])
def test_async_bad_prefetch(prefetch, exc, pattern):
    inner = ArrayDataSetIterator(np.zeros((3, 1)))
    with pytest.raises(exc, match=pattern):
        AsyncDataSetIterator(inner, prefetch=prefetch)


def test_async_bad_inner():
    with pytest.raises(TypeError, match="'inner' must be a DataSetIterator; got list"):
        AsyncDataSetIterator([1, 2, 3])


# --------------------------------------------------------------------------- MNIST
def test_load_mnist_raw_arrays_cached_readonly():
    x_train, y_train, x_test, y_test = load_mnist()
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert set(np.unique(y_train)) == set(range(10))
    assert x_train.max() == 255 and x_train.min() == 0
    again = load_mnist()
    assert all(a is b for a, b in zip(again, (x_train, y_train, x_test, y_test)))
    assert not x_train.flags.writeable
    with pytest.raises(ValueError):
        x_train[0, 0, 0] = 1


def test_mnist_arrays_values():
    x_raw, y_raw = load_mnist()[0][:500], load_mnist()[1][:500]
    f, l = mnist_arrays(num_examples=500)
    assert f.shape == (500, 784) and f.dtype == np.float32 and f.flags.c_contiguous
    assert l.shape == (500, 10) and l.dtype == np.float32
    assert f.min() == 0.0 and f.max() == 1.0
    np.testing.assert_array_equal(f, x_raw.reshape(500, 784) / np.float32(255))
    np.testing.assert_array_equal(l.sum(axis=1), np.ones(500))
    np.testing.assert_array_equal(l.argmax(axis=1), y_raw)
    assert f.flags.writeable

    b, _ = mnist_arrays(num_examples=500, binarize=True)
    assert set(np.unique(b)) == {0.0, 1.0}
    np.testing.assert_array_equal(b, (x_raw.reshape(500, 784) / 255.0 > 0.5).astype(np.float32))

    ft, lt = mnist_arrays(train=False, num_examples=50)
    np.testing.assert_array_equal(lt.argmax(1), load_mnist()[3][:50])
    assert ft.shape == (50, 784)


def test_mnist_iterator_full_train_set():
    it = MnistDataSetIterator(1000, seed=0)
    assert it.num_examples == 60000 and len(it) == 60
    assert (it.n_features, it.n_labels, it.batch_size) == (784, 10, 1000)
    assert it.shuffle is True
    test_it = MnistDataSetIterator(1000, train=False, shuffle=False)
    assert test_it.num_examples == 10000 and len(test_it) == 10


def test_mnist_iterator_small():
    it = MnistDataSetIterator(64, num_examples=300, binarize=True, seed=1, drop_last=True)
    assert len(it) == 4
    batches = list(it)
    assert [len(b) for b in batches] == [64] * 4
    for b in batches:
        assert b.features.shape == (64, 784) and b.features.dtype == np.float32
        assert b.labels.shape == (64, 10) and b.labels.dtype == np.float32
        assert set(np.unique(b.features)) <= {0.0, 1.0}
        np.testing.assert_array_equal(b.labels.sum(1), np.ones(64))
    plain = MnistDataSetIterator(100, num_examples=200, shuffle=False)
    first = next(iter(plain))
    np.testing.assert_array_equal(first.labels.argmax(1), load_mnist()[1][:100])
    assert 0.0 <= first.features.min() and first.features.max() <= 1.0


@pytest.mark.parametrize("kwargs, exc, pattern", [
    (dict(num_examples=0), ValueError, "'num_examples' must be an int >= 1"),
    (dict(num_examples=60001), ValueError, r"'num_examples' must be <= 60000"),
    (dict(num_examples=2.5), TypeError, "'num_examples'"),
])
def test_mnist_bad_args(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        mnist_arrays(**kwargs)


def test_mnist_iterator_bad_batch_size():
    with pytest.raises(ValueError, match="'batch_size'"):
        MnistDataSetIterator(0, num_examples=10)
    with pytest.raises(TypeError, match="'batch_size'"):
        MnistDataSetIterator(1.5, num_examples=10)


def test_load_mnist_missing_file_and_key(tmp_path):
    missing = tmp_path / "nope.npz"
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        load_mnist(missing)
    bad = tmp_path / "bad.npz"
    np.savez(bad, x_train=np.zeros((2, 28, 28), np.uint8), y_train=np.zeros(2, np.uint8),
             x_test=np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="missing the key 'y_test'"):
        load_mnist(bad)
    small = tmp_path / "small.npz"
    np.savez(small, x_train=np.full((3, 28, 28), 255, np.uint8), y_train=np.array([0, 1, 9], np.uint8),
             x_test=np.zeros((1, 28, 28), np.uint8), y_test=np.array([4], np.uint8))
    f, l = mnist_arrays(path=small)
    np.testing.assert_array_equal(f, np.ones((3, 784), np.float32))
    np.testing.assert_array_equal(l.argmax(1), [0, 1, 9])
    it = MnistDataSetIterator(2, path=str(small), shuffle=False)
    assert [len(b) for b in it] == [2, 1]


def test_one_hot():
    out = one_hot([2, 0, 1], 3)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    np.testing.assert_array_equal(one_hot(np.array([1.0, 0.0]), 2), [[0, 1], [1, 0]])
    assert one_hot(np.array([], dtype=np.int64), 4).shape == (0, 4)
    with pytest.raises(ValueError, match=r"'labels' must lie in \[0, 3\).*found 3"):
        one_hot([0, 3], 3)
    with pytest.raises(ValueError, match=r"found -1"):
        one_hot([-1], 3)
    with pytest.raises(ValueError, match="'labels' must be a 1-D array"):
        one_hot([[0, 1]], 3)
    with pytest.raises(ValueError, match="integer class indices; got 0.5"):
        one_hot([0.5], 3)
    with pytest.raises(TypeError, match="'labels' must contain integer class indices"):
        one_hot(["a"], 3)
    with pytest.raises(ValueError, match="'n_classes'"):
        one_hot([0], 0)


# --------------------------------------------------------------------------- packaging
def test_data_package_imports_only_numpy_and_stdlib():
    import sys

    pkg = pathlib.Path(__file__).resolve().parents[1] / "numba_ae" / "data"
    allowed_third_party = {"numpy"}
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    for path in sorted(pkg.glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level > 0:  # relative import: inside numba_ae.data, or numba_ae.validation
                    assert node.level == 1 or (node.level == 2 and node.module == "validation"), \
                        f"{path.name} imports outside numba_ae.data"
                    continue
                roots = [node.module.split(".")[0]]
            else:
                continue
            for root in roots:
                assert root in allowed_third_party or root in stdlib, \
                    f"{path.name} imports {root!r}"
