"""Exceptions of numba_ae that are not plain ``ValueError``/``TypeError`` argument errors
(``ModelFormatError`` for damaged model files lives with the files, in :mod:`numba_ae.io`)."""

__all__ = ["TrainingDivergedError"]


class TrainingDivergedError(FloatingPointError):
    """Training produced a non-finite score or gradient; the step was not applied.

    The network keeps the parameters and updater state of its last finite step (it can be
    saved, inspected, or trained on with a smaller learning rate).

    Attributes
    ----------
    layer : int
        Index of the layer whose score or gradient was non-finite.
    parameter : str or None
        The parameter (DL4J name, e.g. ``"W"``, ``"pZXLogStd2b"``) whose gradient was
        non-finite first, or None when the score was the culprit.
    iteration, epoch : int
        The network's counters at the failing step (the step did not count).
    last_score : float or None
        The score of the last finite step (None if there was none).
    input_non_finite : bool
        True when the minibatch itself held NaN or inf.
    """

    def __init__(self, message, *, layer, parameter, iteration, epoch, last_score, input_non_finite=False):
        super().__init__(message)
        self.layer = layer
        self.parameter = parameter
        self.iteration = iteration
        self.epoch = epoch
        self.last_score = last_score
        self.input_non_finite = input_non_finite
