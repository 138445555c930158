"""Helpers for users' own tests of code built on numba_ae.

:mod:`numba_ae.testing.strategies` holds Hypothesis strategies for configs and data
(it needs ``hypothesis``: ``pip install numba_ae[test]``).  This package imports
nothing on its own, so ``import numba_ae`` and ``import numba_ae.testing`` never
import hypothesis.
"""
