"""CUDA updater twins (:mod:`numba_ae.kernels.cuda.updaters`) against
:mod:`numba_ae.kernels.updaters`: every step in place, the flush of decaying state to 0,
the host-valued reductions."""
import numpy as np
import pytest
from cuda_elem_helpers import RTOL, check, dev, dtypes, host, seeds
from hypothesis import given, settings
from hypothesis import strategies as st

from numba_ae.kernels import updaters as cpu
from numba_ae.kernels.cuda import _launch
from numba_ae.kernels.cuda import updaters as gpu

lengths = st.integers(1, 40)
rates = st.floats(1e-4, 0.5)

#: name -> (number of state arrays, hyper-parameters drawn from a generator); state 0 of
#: rmsprop/adagrad/adam's v must be >= 0
STEPS = {
    "sgd_step": (0, lambda r: (float(r.uniform(1e-3, 0.5)),)),
    "adam_step": (2, lambda r: (float(r.uniform(1e-3, 0.5)), 0.9, 0.999, 1e-8, int(r.integers(1, 50)))),
    "adam_step_coeffs": (2, lambda r: (float(r.uniform(1e-3, 0.5)), 0.9, 0.1, 0.999, 1e-3, 1e-8)),
    "nesterovs_step": (1, lambda r: (float(r.uniform(1e-3, 0.5)), 0.9)),
    "rmsprop_step": (1, lambda r: (float(r.uniform(1e-3, 0.5)), 0.95, 1e-8)),
    "adagrad_step": (1, lambda r: (float(r.uniform(1e-3, 0.5)), 1e-6)),
    "add_regularization_grad": (0, lambda r: (float(r.uniform(0, 0.1)), float(r.uniform(0, 0.1)))),
}
NON_NEGATIVE = {"adam_step": (1,), "adam_step_coeffs": (1,), "rmsprop_step": (0,), "adagrad_step": (0,)}


def _arrays(name, n, dtype, seed, tiny_state):
    r = np.random.default_rng(seed)
    p = r.standard_normal(n).astype(dtype)
    g = r.standard_normal(n).astype(dtype)
    p[r.random(n) < 0.2] = 0.0     # sign(0) = 0 in the regularisation gradient
    n_state, hyper = STEPS[name]
    states = [r.standard_normal(n).astype(dtype) for _ in range(n_state)]
    for i in NON_NEGATIVE.get(name, ()):
        states[i] = np.abs(states[i])
    if tiny_state and states:
        # state that decays below the smallest normal number with a zero gradient: flushed to 0
        idx = r.random(n) < 0.5
        g[idx] = 0.0
        for s in states:
            s[idx] = np.finfo(dtype).tiny * 1.01
    return [p, g] + states, hyper(r)


@settings(max_examples=30)
@given(name=st.sampled_from(sorted(STEPS)), dtype=dtypes, n=lengths, seed=seeds, tiny_state=st.booleans())
def test_steps_match_cpu(name, dtype, n, seed, tiny_state):
    arrays, hyper = _arrays(name, n, dtype, seed, tiny_state)
    old = [a.copy() for a in arrays]
    d = [dev(a) for a in arrays]
    getattr(cpu, name)(*arrays, *hyper)
    getattr(gpu, name)(*d, *hyper)
    for k, (got, want, before) in enumerate(zip(d, arrays, old)):
        b = before.astype(np.float64)
        check(host(got), want, dtype, mag=np.abs(b) + np.abs(want - b), what=f"{name} array {k}")
    if tiny_state and len(arrays) > 2:
        flushed = (arrays[2] == 0.0) & (old[2] != 0.0)
        assert np.array_equal(host(d[2])[flushed], arrays[2][flushed])


def test_steps_stride_past_the_grid(monkeypatch):
    """Longer vectors than one grid: the elementwise kernels stride."""
    monkeypatch.setattr(_launch, "MAX_BLOCKS_1D", 1)
    arrays, hyper = _arrays("adam_step", 37, np.float64, 5, False)
    d = [dev(a) for a in arrays]
    cpu.adam_step(*arrays, *hyper)
    gpu.adam_step(*d, *hyper)
    for got, want in zip(d, arrays):
        check(host(got), want, np.float64)
    assert gpu.regularization_score(d[0], 0.1, 0.2) == pytest.approx(cpu.regularization_score(arrays[0], 0.1, 0.2),
                                                                    rel=1e-12)


@settings(max_examples=12)
@given(dtype=dtypes, n=st.integers(0, 40), seed=seeds, l1=st.floats(0, 1), l2=st.floats(0, 1))
def test_regularization_score(dtype, n, seed, l1, l2):
    """A host float, float64 throughout (so float64's tolerance for both dtypes), the same
    bits on a second call."""
    p = np.random.default_rng(seed).standard_normal(n).astype(dtype)
    want = cpu.regularization_score(p, l1, l2)
    dp = dev(p)
    got = gpu.regularization_score(dp, l1, l2)
    assert isinstance(got, float)
    mag = 0.5 * l2 * float(np.sum(p.astype(np.float64) ** 2)) + l1 * float(np.sum(np.abs(p.astype(np.float64))))
    assert abs(got - want) <= RTOL[np.dtype(np.float64)] * mag + 1e-300
    assert gpu.regularization_score(dp, l1, l2) == got


@settings(max_examples=8)
@given(dtype=dtypes, n=st.integers(0, 40), seed=seeds, bad=st.sampled_from([None, np.inf, -np.inf, np.nan]))
def test_all_finite(dtype, n, seed, bad):
    r = np.random.default_rng(seed)
    a = r.standard_normal(n).astype(dtype)
    if bad is not None and n:
        a[r.integers(0, n)] = bad
    got = gpu.all_finite(dev(a))
    assert isinstance(got, bool)
    assert got == bool(cpu.all_finite(a))
