"""numba_ae.anomaly: the detectors' scores against independent NumPy/scipy references,
scikit-learn's and PyOD's conventions, determinism, preprocessing, parameters and errors.

The references (``vae_reference.Ref`` / ``logp``: a float64 forward pass from the
layer's parameters and scipy.stats densities) get the same latent draws the detector
uses: ``RowSharedNoise`` with the detector's noise seed, one ``[num_samples, n, k]``
request (every row the same draws).
"""
import numpy as np
import pytest
from scipy import special, stats

from reference import ref_act
from vae_reference import Ref, logp
from numba_ae import (BernoulliReconstructionDistribution, CompositeReconstructionDistribution,
                      ExponentialReconstructionDistribution, GaussianReconstructionDistribution,
                      LossFunctionWrapper, NormalizerMinMaxScaler, NormalizerStandardize)
from numba_ae.anomaly import AutoEncoderAnomalyDetector, NotFittedError, VAEAnomalyDetector
from numba_ae.anomaly._distributions import distribution_names
from numba_ae.anomaly.scoring import RowSharedNoise, shared_noise

RNG = np.random.default_rng(0)
D = 6
X = RNG.standard_normal((120, D)) @ RNG.standard_normal((D, D)) + 3.0      # correlated, off-centre
XB = (RNG.random((120, D)) < 0.3).astype(np.float64)                          # binary
XE = RNG.exponential(1.0, (120, D))                                           # >= 0

SMALL = dict(encoder_layer_sizes=(5,), latent_size=2, epochs=2, batch_size=32, num_samples=4, random_state=0)
AE_SMALL = dict(hidden_layer_sizes=(5, 2), epochs=2, batch_size=32, random_state=0)


def _vae(**kw):
    return VAEAnomalyDetector(**{**SMALL, **kw})


def _ae(**kw):
    return AutoEncoderAnomalyDetector(**{**AE_SMALL, **kw})


def _prep(det, x):
    return x if det.normalizer_ is None else det.normalizer_.transform(x)


def _draws(det, n):
    """The latent draws the detector's scores use for ``n`` rows: [num_samples, n, k] float64."""
    k = det.network_.get_layer(0).n_out
    return shared_noise(det._noise_seed).standard_normal((det.num_samples, n, k)).astype(np.float64)


def _ref_log_probs(det, x, with_prior=False):
    """[num_samples, n] of log p(x|z_l) (+ log p(z_l) - log q(z_l|x)) from the reference."""
    ref = Ref(det.network_.get_layer(0))
    xt = _prep(det, x)
    mean, logvar = ref.posterior(xt)
    sd = np.exp(0.5 * logvar)
    out = []
    for e in _draws(det, len(x)):
        z = mean + sd * e
        v = logp(ref.dist, xt, ref.decode(z))
        if with_prior:
            v = v + stats.norm.logpdf(z).sum(1) - stats.norm.logpdf(z, mean, sd).sum(1)
        out.append(v)
    return np.array(out), ref, xt, mean, logvar


def _log_mean_exp(lp):
    return special.logsumexp(lp, axis=0) - np.log(lp.shape[0])


# ============================================================================ scores vs references

@pytest.mark.parametrize("name,data", [("gaussian", X), ("bernoulli", XB), ("exponential", XE)])
def test_reconstruction_log_probability_matches_reference(name, data):
    pre = "standardize" if name == "gaussian" else None
    det = _vae(reconstruction_distribution=name, preprocessing=pre).fit(data)
    lp, *_ = _ref_log_probs(det, data)
    np.testing.assert_allclose(det.score_samples(data), _log_mean_exp(lp), rtol=1e-4, atol=1e-4)


def test_elbo_and_iwae_match_reference():
    det = _vae(score="elbo").fit(X)
    lp, ref, xt, mean, logvar = _ref_log_probs(det, X)
    elbo = lp.mean(axis=0) - ref.kl(mean, logvar)
    np.testing.assert_allclose(det.score_samples(X), elbo, rtol=1e-4, atol=1e-4)
    det.set_params(score="iwae")
    lpw, *_ = _ref_log_probs(det, X, with_prior=True)
    iw = det.score_samples(X)
    np.testing.assert_allclose(iw, _log_mean_exp(lpw), rtol=1e-4, atol=1e-4)
    # Jensen: the IWAE bound is never below the mean of the same log-weights (the ELBO with a
    # Monte-Carlo KL on the same draws)
    assert np.all(iw >= lpw.mean(axis=0) - 1e-9)


def test_autoencoder_score_is_negative_squared_error_of_the_reference_reconstruction():
    det = _ae().fit(X)
    xt = det.normalizer_.transform(X)
    a = xt
    layers = det.network_.layers
    for layer in layers[:-1]:
        a = ref_act("relu", a @ layer.params["W"].astype(np.float64) + layer.params["b"])
    r = a @ layers[-1].params["W"].astype(np.float64) + layers[-1].params["b"]
    np.testing.assert_allclose(det.feature_scores(X), (xt - r) ** 2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(det.score_samples(X), -((xt - r) ** 2).sum(1), rtol=1e-5)
    # the network's own per-example mse loss is the mean over columns of the same errors
    net_mse = np.array([det.network_.score((xt[i:i + 1].astype(np.float32),) * 2) for i in range(5)])
    np.testing.assert_allclose(net_mse, -det.score_samples(X[:5]) / D, rtol=1e-4)


def _ref_element_nll(dist, x, pre):
    """-log p(x_ij | pre_i) per element (scipy.stats), composite by slices."""
    if isinstance(dist, CompositeReconstructionDistribution):
        out, xo, po = [], 0, 0
        for size, c in dist.distributions:
            w = c.input_width(size)
            out.append(_ref_element_nll(c, x[:, xo:xo + size], pre[:, po:po + w]))
            xo, po = xo + size, po + w
        return np.hstack(out)
    a = ref_act(dist.activation, pre)
    if isinstance(dist, GaussianReconstructionDistribution):
        d = x.shape[1]
        return -stats.norm.logpdf(x, a[:, :d], np.exp(0.5 * a[:, d:]))
    if isinstance(dist, BernoulliReconstructionDistribution):
        return -(x * special.log_expit(pre) + (1 - x) * special.log_expit(-pre))
    return -stats.expon.logpdf(x, scale=np.exp(-a))


def _mixed(n):
    r = np.random.default_rng(1)
    return np.hstack([r.standard_normal((n, 2)), (r.random((n, 2)) < 0.5), r.exponential(1.0, (n, 2))])


@pytest.mark.parametrize("name", ["gaussian", "bernoulli", "composite"])
def test_vae_feature_scores_match_reference_and_sum_to_the_mean_log_probability(name):
    dist = {"gaussian": "gaussian", "bernoulli": "bernoulli",
            "composite": CompositeReconstructionDistribution((
                (2, GaussianReconstructionDistribution()), (2, BernoulliReconstructionDistribution()),
                (2, ExponentialReconstructionDistribution())))}[name]
    data = {"gaussian": X, "bernoulli": XB, "composite": _mixed(120)}[name]
    det = _vae(reconstruction_distribution=dist, preprocessing="standardize" if name == "gaussian" else None)
    det.fit(data)
    fs = det.feature_scores(data[:30])
    assert fs.shape == (30, D) and fs.dtype == np.float64
    _, ref, xt, mean, logvar = _ref_log_probs(det, data[:30])
    want = np.mean([_ref_element_nll(ref.dist, xt, ref.decode(mean + np.exp(0.5 * logvar) * e))
                    for e in _draws(det, 30)], axis=0)
    np.testing.assert_allclose(fs, want, rtol=1e-4, atol=1e-5)
    # row sums: minus the mean-of-logs reconstruction log-probability with the same draws
    layer = det._scoring_network().get_layer(0)
    mean_log = layer.reconstruction_log_probability(xt, det.num_samples, rng=shared_noise(det._noise_seed))
    np.testing.assert_allclose(fs.sum(1), -mean_log, rtol=1e-9)


def test_feature_scores_point_at_the_corrupted_column():
    det = _vae(epochs=30, encoder_layer_sizes=(16,), latent_size=3).fit(X)
    bad = X[:20].copy()
    bad[:, 4] += 8.0 * X[:, 4].std()
    fs = det.feature_scores(bad)
    assert np.all(np.argmax(fs, axis=1) == 4)
    ae = _ae(epochs=40, hidden_layer_sizes=(16, 4)).fit(X)
    assert np.all(np.argmax(ae.feature_scores(bad), axis=1) == 4)


# ============================================================================ conventions

@pytest.mark.parametrize("make", [_vae, _ae])
def test_sklearn_and_pyod_conventions(make):
    det = make(contamination=0.15)
    assert det.fit(X) is det
    s = det.score_samples(X)
    assert s.dtype == np.float64 and s.shape == (len(X),)
    assert det.offset_ == pytest.approx(np.percentile(s, 15.0), rel=0, abs=0)
    np.testing.assert_array_equal(det.decision_function(X), s - det.offset_)
    pred = det.predict(X)
    np.testing.assert_array_equal(pred, np.where(s < det.offset_, -1, 1))
    assert pred.dtype == np.int64 and set(np.unique(pred)) == {-1, 1}
    # the rows strictly below the interpolated quantile at position 0.15 * (n - 1) (no ties)
    assert np.sum(pred == -1) == int(np.ceil(0.15 * (len(X) - 1)))
    np.testing.assert_array_equal(make(contamination=0.15).fit_predict(X), pred)
    # PyOD: same numbers, flipped
    np.testing.assert_array_equal(det.decision_scores_, -s)
    np.testing.assert_array_equal(det.anomaly_score(X), -s)
    assert det.threshold_ == -det.offset_
    np.testing.assert_array_equal(det.labels_, (pred == -1).astype(int))
    assert det.n_features_in_ == D
    assert det.score(X) == pytest.approx(float(np.mean(s)))


@pytest.mark.parametrize("make", [_vae, _ae])
def test_scores_are_deterministic_and_per_row(make):
    a, b = make().fit(X), make().fit(X)
    s = a.score_samples(X)
    np.testing.assert_array_equal(s, b.score_samples(X))            # same random_state: same bits
    np.testing.assert_array_equal(s, a.score_samples(X))            # same call twice
    c = make(random_state=1).fit(X)
    assert not np.allclose(s, c.score_samples(X))
    # a row's score does not depend on the other rows scored with it
    perm = np.random.default_rng(3).permutation(len(X))
    np.testing.assert_allclose(a.score_samples(X[perm]), s[perm], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(a.score_samples(X[7:8]), s[7:8], rtol=1e-12, atol=1e-12)
    # random_state=None: a fresh seed per fit, fixed afterwards
    d = make(random_state=None).fit(X)
    np.testing.assert_array_equal(d.score_samples(X), d.score_samples(X))


def test_row_shared_noise_repeats_one_draw_per_sample_across_rows():
    g = RowSharedNoise(np.random.PCG64(5))
    e = g.standard_normal((3, 4, 2), dtype=np.float32)
    assert e.shape == (3, 4, 2) and e.dtype == np.float32
    np.testing.assert_array_equal(e, np.broadcast_to(e[:, :1], e.shape))
    assert not np.array_equal(e[0, 0], e[1, 0])
    block = np.random.Generator(np.random.PCG64(5)).standard_normal((3, 1, 2), dtype=np.float32)
    np.testing.assert_array_equal(e[:, :1], block)
    out = np.empty((2, 3))
    g.standard_normal(out=out)
    np.testing.assert_array_equal(out, np.broadcast_to(out[:1], out.shape))


def test_scores_detect_off_plane_anomalies():
    from sklearn.metrics import roc_auc_score
    r = np.random.default_rng(2)
    basis = r.standard_normal((2, 10))
    normal = lambda n: r.standard_normal((n, 2)) @ basis + 0.1 * r.standard_normal((n, 10))  # noqa: E731
    off = r.standard_normal((200, 10))
    off -= off @ np.linalg.pinv(basis) @ basis
    off *= 1.5 / np.linalg.norm(off, axis=1, keepdims=True)
    x_test = np.vstack([normal(200), normal(200) + off])
    y = np.r_[np.zeros(200), np.ones(200)]
    x_train = normal(1500)
    for det in (VAEAnomalyDetector(encoder_layer_sizes=(32,), latent_size=2, epochs=15, num_samples=8,
                                   random_state=0),
                VAEAnomalyDetector(encoder_layer_sizes=(32,), latent_size=2, epochs=15, num_samples=8,
                                   score="iwae", random_state=0),
                AutoEncoderAnomalyDetector(hidden_layer_sizes=(32, 2), epochs=30, random_state=0)):
        det.fit(x_train)
        assert roc_auc_score(y, det.anomaly_score(x_test)) > 0.9, det
        flagged = det.predict(x_test) == -1
        assert flagged[200:].mean() > 0.6 and flagged[:200].mean() < 0.25, det   # contamination 0.1


# ============================================================================ preprocessing and settings

def test_preprocessing_is_the_fitted_normalizer_applied_before_the_network():
    det = _vae().fit(X)
    assert isinstance(det.normalizer_, NormalizerStandardize)
    np.testing.assert_allclose(det.normalizer_.mean, X.mean(0))
    raw = _vae(preprocessing=None).fit(det.normalizer_.transform(X))
    assert raw.normalizer_ is None
    # same seeds, same (preprocessed) training data: the same network and scores
    np.testing.assert_array_equal(raw.network_.params(), det.network_.params())
    np.testing.assert_allclose(raw.score_samples(det.normalizer_.transform(X)), det.score_samples(X), rtol=1e-12)
    mm = _ae(preprocessing="minmax").fit(X)
    assert isinstance(mm.normalizer_, NormalizerMinMaxScaler)


def test_network_architecture_follows_the_parameters():
    det = VAEAnomalyDetector(encoder_layer_sizes=(7, 5), latent_size=3, epochs=1, random_state=0).fit(X)
    vae = det.network_.conf.layers[0]
    assert (vae.n_in, vae.encoder_layer_sizes, vae.n_out, vae.decoder_layer_sizes) == (D, (7, 5), 3, (5, 7))
    assert vae.activation == "leakyrelu" and isinstance(vae.reconstruction_distribution,
                                                        GaussianReconstructionDistribution)
    det = VAEAnomalyDetector(encoder_layer_sizes=(7,), decoder_layer_sizes=(4, 4), latent_size=3, epochs=1,
                             random_state=0).fit(X)
    assert det.network_.conf.layers[0].decoder_layer_sizes == (4, 4)
    ae = AutoEncoderAnomalyDetector(hidden_layer_sizes=(7, 5, 3), epochs=1, random_state=0).fit(X)
    assert [layer.n_out for layer in ae.network_.conf.layers] == [7, 5, 3, 5, 7, D]
    assert ae.network_.conf.layers[-1].activation == "identity"


def test_distribution_names_come_from_the_registry():
    names = distribution_names()
    assert {"gaussian", "bernoulli", "exponential"} <= set(names)
    assert "composite" not in names and "lossfunctionwrapper" not in names
    assert names["bernoulli"] is BernoulliReconstructionDistribution
    det = _vae(reconstruction_distribution="Bernoulli", preprocessing=None).fit(XB)
    assert det.network_.conf.layers[0].reconstruction_distribution == BernoulliReconstructionDistribution()


def test_denoising_autoencoder_trains_on_corrupted_inputs():
    clean, noisy = _ae().fit(X), _ae(corruption_level=0.3).fit(X)
    assert not np.array_equal(clean.network_.params(), noisy.network_.params())
    np.testing.assert_array_equal(noisy.network_.params(), _ae(corruption_level=0.3).fit(X).network_.params())


def test_verbose_prints_one_line_per_epoch(capsys):
    _vae(verbose=True, epochs=3).fit(X)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "epoch" in ln]
    assert len(lines) == 3 and lines[0].startswith("VAEAnomalyDetector: epoch 1 score")


def test_get_set_params_and_clone():
    from sklearn.base import clone
    det = _vae(score="elbo")
    params = det.get_params()
    assert params["score"] == "elbo" and params["latent_size"] == 2 and len(params) == 14
    assert callable(det.score)          # the attribute is scikit-learn's score(X, y) method
    det.set_params(score="iwae", epochs=1)
    assert det.get_params()["score"] == "iwae" and det.epochs == 1
    twin = clone(det)
    assert twin.get_params() == det.get_params() and not hasattr(twin, "network_")
    with pytest.raises(ValueError, match="Invalid parameter 'nope'"):
        det.set_params(nope=1)
    assert repr(det) == ("VAEAnomalyDetector(batch_size=32, encoder_layer_sizes=(5,), epochs=1, latent_size=2, "
                         "num_samples=4, random_state=0, score='iwae')")   # the non-default parameters
    assert VAEAnomalyDetector().get_params()["decoder_layer_sizes"] is None


# ============================================================================ errors

@pytest.mark.parametrize("make,kw,exc,match", [
    (_vae, {"latent_size": 0}, ValueError, "'latent_size'"),
    (_vae, {"latent_size": 2.0}, TypeError, "'latent_size'"),
    (_vae, {"encoder_layer_sizes": ()}, TypeError, "'encoder_layer_sizes'"),
    (_vae, {"decoder_layer_sizes": (3, -1)}, ValueError, r"'decoder_layer_sizes\[1\]'"),
    (_vae, {"score": "likelihood"}, ValueError, "'score'"),
    (_vae, {"num_samples": 0}, ValueError, "'num_samples'"),
    (_vae, {"activation": "nope"}, ValueError, "activation"),
    (_vae, {"reconstruction_distribution": "poisson"}, ValueError, "'reconstruction_distribution'.*gaussian"),
    (_vae, {"reconstruction_distribution": 3}, TypeError, "'reconstruction_distribution'"),
    (_vae, {"reconstruction_distribution": LossFunctionWrapper()}, ValueError, "no log-probability"),
    (_vae, {"reconstruction_distribution": CompositeReconstructionDistribution(
        ((2, GaussianReconstructionDistribution()),))}, ValueError, "covers 2 column"),
    (_vae, {"reconstruction_distribution": "bernoulli"}, ValueError, r"\[0, 1\].*preprocessing='standardize'"),
    (_vae, {"contamination": 0.0}, ValueError, "'contamination'"),
    (_vae, {"contamination": 0.6}, ValueError, "'contamination'"),
    (_vae, {"epochs": 0}, ValueError, "'epochs'"),
    (_vae, {"learning_rate": -1.0}, ValueError, "'learning_rate'"),
    (_vae, {"preprocessing": "scale"}, ValueError, "'preprocessing'"),
    (_vae, {"random_state": -1}, ValueError, "'random_state'"),
    (_vae, {"random_state": 1.5}, TypeError, "'random_state'"),
    (_vae, {"verbose": 1}, TypeError, "'verbose'"),
    (_ae, {"hidden_layer_sizes": (4, 0)}, ValueError, r"'hidden_layer_sizes\[1\]'"),
    (_ae, {"corruption_level": 1.0}, ValueError, "'corruption_level'"),
    (_ae, {"batch_size": "8"}, TypeError, "'batch_size'"),
])
def test_bad_parameters_raise_in_fit_naming_the_parameter(make, kw, exc, match):
    det = make(**kw)               # the constructor stores anything (scikit-learn's rule)
    with pytest.raises(exc, match=match):
        det.fit(X)


@pytest.mark.parametrize("bad,exc,match", [
    (X[:, 0], ValueError, "2-D array.*Reshape"),
    (np.where(np.eye(120, D) > 0, np.nan, X), ValueError, "NaN or inf"),
    (np.empty((0, D)), ValueError, "0 sample"),
    (X.astype(complex), ValueError, "Complex data"),
    (np.array([["a"] * D] * 3), TypeError, "real numbers"),
])
def test_bad_X_is_rejected(bad, exc, match):
    with pytest.raises(exc, match=match):
        _vae().fit(bad)


def test_methods_need_a_fitted_detector_and_the_fitted_width():
    det = _ae()
    for method in ("score_samples", "decision_function", "predict", "anomaly_score", "feature_scores"):
        with pytest.raises(NotFittedError, match="not fitted"):
            getattr(det, method)(X)
    with pytest.raises(NotFittedError):
        det.save("never.h5")
    det.fit(X)
    with pytest.raises(ValueError, match=f"X has 2 features, but AutoEncoderAnomalyDetector is expecting {D}"):
        det.predict(X[:, :2])
    vae = _vae(reconstruction_distribution="bernoulli", preprocessing=None).fit(XB)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        vae.score_samples(XB * 2.0)


def test_not_fitted_error_is_sklearns_when_sklearn_is_loaded():
    from sklearn.exceptions import NotFittedError as SkNotFitted
    with pytest.raises(SkNotFitted):
        _vae().predict(X)


def test_categorical_by_name_scores_and_explains_one_hot_data():
    # a single categorical variable: the rare class is the anomaly
    rng = np.random.default_rng(0)
    X = np.eye(4)[rng.choice(4, 200, p=[0.6, 0.3, 0.09, 0.01])]
    det = VAEAnomalyDetector(encoder_layer_sizes=(8,), latent_size=2, reconstruction_distribution="categorical",
                             epochs=5, preprocessing=None, random_state=0, num_samples=4).fit(X)
    s = det.score_samples(np.eye(4))
    assert s[0] > s[3]
    f = det.feature_scores(np.eye(4))
    # rows sum to minus the mean-of-logs estimate, which Jensen puts below the log-mean-exp score
    assert np.all(f.sum(axis=1) >= -s - 1e-9)
    assert np.all(f[np.eye(4) == 0] == 0.0) and np.all(f[np.eye(4) == 1] > 0.0)
