"""The anomaly detectors pass scikit-learn's ``check_estimator`` (small networks and
epochs through the constructor parameters), and ``import numba_ae`` / ``numba_ae.anomaly``
never imports scikit-learn.

Two checks report "skipped" in this environment, for reasons outside the detectors:
``check_array_api_input`` runs only with ``SCIPY_ARRAY_API=1`` set before scipy is
imported (and the detectors declare no array-API support), and
``check_classifier_data_not_an_array`` needs pandas.  Every other check must pass.
"""
import subprocess
import sys
import warnings

import pytest

from numba_ae.anomaly import AutoEncoderAnomalyDetector, VAEAnomalyDetector

#: Checks that skip themselves for a reason of the environment (see the module docstring).
ENVIRONMENT_SKIPS = {"check_array_api_input", "check_classifier_data_not_an_array"}


@pytest.mark.parametrize("detector", [
    VAEAnomalyDetector(encoder_layer_sizes=(4,), latent_size=2, epochs=1, num_samples=2, batch_size=64),
    VAEAnomalyDetector(encoder_layer_sizes=(4,), latent_size=2, epochs=1, num_samples=2, batch_size=64,
                       score="iwae", preprocessing="minmax"),
    AutoEncoderAnomalyDetector(hidden_layer_sizes=(4, 2), epochs=1, batch_size=64),
    AutoEncoderAnomalyDetector(hidden_layer_sizes=(4,), epochs=1, batch_size=64, corruption_level=0.2,
                               preprocessing=None),
], ids=["vae", "vae-iwae-minmax", "ae", "dae-raw"])
def test_check_estimator(detector):
    from sklearn.utils.estimator_checks import check_estimator
    with warnings.catch_warnings():
        # "does not inherit from sklearn.base.BaseEstimator": deliberate (no sklearn import)
        warnings.simplefilter("ignore", UserWarning)
        results = check_estimator(detector, on_fail=None, on_skip=None)
    failed = {r["check_name"]: repr(r["exception"]) for r in results if r["status"] == "failed"}
    assert not failed, failed
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert skipped <= ENVIRONMENT_SKIPS, skipped
    assert len(results) > 40


def test_import_does_not_load_sklearn():
    code = ("import sys, numba_ae, numba_ae.anomaly, numba_ae.cli\n"
            "from numba_ae.anomaly import VAEAnomalyDetector\n"
            "bad = sorted(m for m in sys.modules if m == 'sklearn' or m.startswith('sklearn.'))\n"
            "assert not bad, bad\n"
            "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_fitted_detector_without_sklearn_loaded():
    """Fit, predict and the NotFittedError work in a process where scikit-learn is never
    imported (the tags are only built when scikit-learn asks for them)."""
    code = ("import sys, numpy as np\n"
            "from numba_ae.anomaly import AutoEncoderAnomalyDetector, NotFittedError\n"
            "d = AutoEncoderAnomalyDetector(hidden_layer_sizes=(3,), epochs=1, random_state=0)\n"
            "try:\n    d.predict(np.zeros((2, 4)))\nexcept NotFittedError:\n    pass\n"
            "x = np.random.default_rng(0).standard_normal((50, 4))\n"
            "assert set(d.fit(x).predict(x)) == {-1, 1}\n"
            "assert not any(m.startswith('sklearn') for m in sys.modules)\n"
            "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
