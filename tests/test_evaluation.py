"""``numba_ae.Evaluation`` against scikit-learn, ``net.predict`` and ``net.evaluate``."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from harness import make_net
from numba_ae import (ArrayDataSetIterator, AutoEncoder, DataSet, DenseLayer, Evaluation, OutputLayer)


@st.composite
def label_arrays(draw):
    k = draw(st.integers(1, 6))
    n = draw(st.integers(1, 40))
    # classes drawn from a subset, so some classes are never present / never predicted
    true_classes = draw(st.lists(st.integers(0, k - 1), min_size=1, max_size=k, unique=True))
    pred_classes = draw(st.lists(st.integers(0, k - 1), min_size=1, max_size=k, unique=True))
    t = draw(st.lists(st.sampled_from(true_classes), min_size=n, max_size=n))
    p = draw(st.lists(st.sampled_from(pred_classes), min_size=n, max_size=n))
    return np.array(t), np.array(p), k


@pytest.mark.filterwarnings("ignore:A single label was found")
@settings(max_examples=200)
@given(label_arrays())
def test_evaluation_equals_sklearn(case):
    t, p, k = case
    ev = Evaluation(t, p, k)
    labels = list(range(k))
    assert ev.n_examples == t.size and ev.n_classes == k
    assert ev.accuracy == pytest.approx(accuracy_score(t, p), rel=1e-15, abs=0)
    pr, rc, f1, sup = precision_recall_fscore_support(t, p, labels=labels, average=None, zero_division=0)
    np.testing.assert_allclose(ev.precision, pr, rtol=1e-15, atol=0)
    np.testing.assert_allclose(ev.recall, rc, rtol=1e-15, atol=0)
    np.testing.assert_allclose(ev.f1, f1, rtol=1e-15, atol=0)
    np.testing.assert_array_equal(ev.support, sup)
    mp, mr, mf, _ = precision_recall_fscore_support(t, p, labels=labels, average="macro", zero_division=0)
    assert ev.macro_precision == pytest.approx(mp, rel=1e-14, abs=1e-300)
    assert ev.macro_recall == pytest.approx(mr, rel=1e-14, abs=1e-300)
    assert ev.macro_f1 == pytest.approx(mf, rel=1e-14, abs=1e-300)
    np.testing.assert_array_equal(ev.confusion_matrix, confusion_matrix(t, p, labels=labels))
    text = ev.stats()
    assert "Accuracy" in text and "Confusion matrix" in text and f"{ev.macro_f1:.4f}" in text


def test_evaluation_zero_division_and_layout():
    ev = Evaluation([0, 0, 1], [0, 0, 0], n_classes=3)
    assert ev.confusion_matrix.tolist() == [[2, 0, 0], [1, 0, 0], [0, 0, 0]]
    assert ev.precision.tolist() == [2 / 3, 0.0, 0.0]
    assert ev.recall.tolist() == [1.0, 0.0, 0.0]
    assert ev.f1[2] == 0.0 and ev.macro_recall == pytest.approx(1 / 3)
    assert "Evaluation(n_examples=3" in repr(ev)


@pytest.mark.parametrize("args, exc, match", [
    (([0, 1], [0], 2), ValueError, "examples"),
    (([0, 2], [0, 1], 2), ValueError, r"class 2, outside \[0, 2\)"),
    (([0, -1], [0, 1], 2), ValueError, "class -1"),
    (([0.0, 1.0], [0, 1], 2), TypeError, "integer class indices"),
    (([[0, 1]], [[0, 1]], 2), TypeError, "1-D"),
    (([], [], 2), ValueError, "no examples"),
    (([0], [0], 0), ValueError, "n_classes"),
])
def test_evaluation_errors(args, exc, match):
    with pytest.raises(exc, match=match):
        Evaluation(*args)


# ---- networks ----------------------------------------------------------------------------------

def classifier(seed=0):
    return make_net([DenseLayer(n_in=5, n_out=7, activation="tanh"),
                     OutputLayer(n_out=4, activation="softmax", loss="mcxent")], seed=seed)


def data(n=50, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    cls = rng.integers(0, 4, n)
    return x, cls, np.eye(4)[cls]


def test_predict_is_argmax_of_output():
    net = classifier()
    x, _, _ = data()
    pred = net.predict(x)
    assert pred.dtype == np.int64 and pred.shape == (50,)
    np.testing.assert_array_equal(pred, np.argmax(net.output(x), axis=1))


def test_evaluate_input_forms_agree():
    net = classifier()
    x, cls, onehot = data()
    ref = Evaluation(cls, net.predict(x), 4)
    rng = np.random.default_rng(2)
    probs = onehot * 0.7 + 0.3 * rng.dirichlet(np.ones(4), 50) * 0.5  # argmax = the class
    probs /= probs.sum(axis=1, keepdims=True)
    forms = [(x, onehot), DataSet(x, onehot), ArrayDataSetIterator(x, onehot, batch_size=7),
             [DataSet(x[:20], onehot[:20]), DataSet(x[20:], onehot[20:])], (x, cls), (x, probs)]
    for form in forms:
        ev = net.evaluate(form)
        np.testing.assert_array_equal(ev.confusion_matrix, ref.confusion_matrix)
        assert ev.accuracy == ref.accuracy and ev.n_examples == 50
    for labels in (onehot, cls):
        np.testing.assert_array_equal(net.evaluate(x, labels=labels).confusion_matrix, ref.confusion_matrix)


def test_evaluate_after_training_is_better_than_chance():
    net = make_net([DenseLayer(n_in=5, n_out=8, activation="tanh"),
                    OutputLayer(n_out=2, activation="softmax", loss="mcxent")], seed=0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5))
    cls = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    net.fit((x, np.eye(2)[cls]), epochs=60, batch_size=20)
    assert net.evaluate((x, cls)).accuracy > 0.9


def test_predict_and_evaluate_errors():
    ae = make_net([AutoEncoder(n_in=5, n_out=3)])
    x, cls, onehot = data()
    for call in (lambda: ae.predict(x), lambda: ae.evaluate((x, onehot))):
        with pytest.raises(ValueError, match="needs an OutputLayer as the last layer"):
            call()
    net = classifier()
    with pytest.raises(ValueError, match="outside"):
        net.evaluate((x, cls + 4))
    with pytest.raises(TypeError, match="integer class indices"):
        net.evaluate((x, cls.astype(float)))
    with pytest.raises(ValueError, match="entries"):
        net.evaluate((x, cls[:10]))
    with pytest.raises(ValueError, match="labels"):
        net.evaluate(x)
    with pytest.raises(ValueError, match="labels"):
        net.evaluate((x, cls), labels=cls)
    with pytest.raises(ValueError):
        net.evaluate((x, onehot[:, :3]))
    with pytest.raises(ValueError, match="n_in"):
        net.predict(x[:, :3])
