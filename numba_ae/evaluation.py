"""Classification metrics (DL4J ``Evaluation``), pure NumPy.

``Evaluation(y_true, y_pred, n_classes)`` takes true and predicted class indices and
computes accuracy, per-class and macro-averaged precision/recall/F1 and the confusion
matrix.  The values equal scikit-learn's ``accuracy_score``,
``precision_recall_fscore_support(labels=range(n_classes), zero_division=0)`` (with
``average=None`` and ``average="macro"``) and ``confusion_matrix(labels=range(n_classes))``:
a ratio whose denominator is 0 (a class never predicted, or never present) is 0, and
macro averages run over all ``n_classes`` classes.

``MultiLayerNetwork.evaluate(data)`` builds one from a network's predictions.
"""
import numpy as np

from .validation import check_int

__all__ = ["Evaluation"]


def _classes(a, name, n_classes):
    arr = np.asarray(a)
    if arr.ndim != 1 or not (np.issubdtype(arr.dtype, np.integer) or (arr.size == 0 and arr.dtype.kind == "f")):
        raise TypeError(f"Evaluation: {name!r} must be a 1-D array of integer class indices; "
                        f"got a {arr.dtype} array of shape {arr.shape}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        bad = arr[(arr < 0) | (arr >= n_classes)][0]
        raise ValueError(f"Evaluation: {name!r} holds class {int(bad)}, outside [0, {n_classes})")
    return arr


def _divide(num, den):
    """``num / den`` elementwise, 0 where ``den`` is 0 (scikit-learn's ``zero_division=0``)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.zeros(num.shape)
    np.divide(num, den, out=out, where=den != 0)
    return out


class Evaluation:
    """Classification metrics of predicted against true class indices (DL4J ``Evaluation``).

    Parameters
    ----------
    y_true, y_pred : 1-D integer arrays of the same length (class indices in ``[0, n_classes)``).
    n_classes : int >= 1.

    Attributes
    ----------
    n_examples, n_classes : int
    confusion_matrix : int64 array [n_classes, n_classes]; rows = true class, columns = predicted.
    accuracy : float, the fraction of examples predicted right.
    precision, recall, f1 : float64 arrays [n_classes], per class (0 where undefined).
    support : int64 array [n_classes], the true examples of each class.
    macro_precision, macro_recall, macro_f1 : float, unweighted means over all classes.

    Examples
    --------
    >>> ev = Evaluation([0, 1, 1], [0, 1, 0], n_classes=2)
    >>> ev.accuracy, ev.confusion_matrix.tolist()
    (0.6666666666666666, [[1, 0], [1, 1]])
    """

    def __init__(self, y_true, y_pred, n_classes):
        self.n_classes = check_int(n_classes, "n_classes", "Evaluation", low=1)
        t = _classes(y_true, "y_true", self.n_classes)
        p = _classes(y_pred, "y_pred", self.n_classes)
        if t.shape != p.shape:
            raise ValueError(f"Evaluation: 'y_true' has {t.size} examples but 'y_pred' has {p.size}")
        if t.size == 0:
            raise ValueError("Evaluation: no examples to evaluate")
        k = self.n_classes
        self.n_examples = int(t.size)
        self.confusion_matrix = np.bincount(t * k + p, minlength=k * k).reshape(k, k).astype(np.int64)
        cm = self.confusion_matrix
        tp = np.diag(cm)
        self.support = cm.sum(axis=1)
        predicted = cm.sum(axis=0)
        self.accuracy = float(tp.sum() / self.n_examples)
        self.precision = _divide(tp, predicted)
        self.recall = _divide(tp, self.support)
        self.f1 = _divide(2.0 * tp, self.support + predicted)
        self.macro_precision = float(np.mean(self.precision))
        self.macro_recall = float(np.mean(self.recall))
        self.macro_f1 = float(np.mean(self.f1))

    def stats(self):
        """A readable report: accuracy, macro P/R/F1, a per-class table and the confusion matrix."""
        k = self.n_classes
        lines = [f"Examples: {self.n_examples}   Classes: {k}",
                 f"{'Accuracy:':<19}{self.accuracy:.4f}",
                 f"{'Precision (macro):':<19}{self.macro_precision:.4f}",
                 f"{'Recall (macro):':<19}{self.macro_recall:.4f}",
                 f"{'F1 (macro):':<19}{self.macro_f1:.4f}",
                 "",
                 f"{'class':>7} {'precision':>10} {'recall':>10} {'f1':>10} {'support':>9}"]
        for c in range(k):
            lines.append(f"{c:>7} {self.precision[c]:>10.4f} {self.recall[c]:>10.4f} {self.f1[c]:>10.4f} "
                         f"{int(self.support[c]):>9}")
        w = max(5, len(str(int(self.confusion_matrix.max()))) + 1, len(str(k - 1)) + 1)
        lines += ["", "Confusion matrix (rows = true class, columns = predicted):",
                  " " * 7 + "".join(f"{c:>{w}}" for c in range(k))]
        for c in range(k):
            lines.append(f"{c:>7}" + "".join(f"{int(v):>{w}}" for v in self.confusion_matrix[c]))
        return "\n".join(lines)

    def __str__(self):
        return self.stats()

    def __repr__(self):
        return (f"Evaluation(n_examples={self.n_examples}, n_classes={self.n_classes}, "
                f"accuracy={self.accuracy:.4f}, macro_f1={self.macro_f1:.4f})")
