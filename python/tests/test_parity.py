"""Live parity with the installed scikit-learn."""

import numpy as np
import pytest
from sklearn.cluster import KMeans as SkKMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture

import softclust

TYPES = ["full", "tied", "diag", "spherical"]


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(7)
    centers = np.array([[0.0, 0.0, 0.0], [5.0, 1.0, -2.0], [-3.0, 5.0, 2.0]])
    parts = [c + rng.normal(size=(120 + 40 * j, 3)) @ rng.normal(size=(3, 3)) * 0.8 for j, c in enumerate(centers)]
    return np.vstack(parts)


def precisions_for(t, k, d, rng):
    if t == "full":
        return np.array([np.eye(d) * rng.uniform(0.3, 1.0) for _ in range(k)])
    if t == "tied":
        return np.eye(d) * 0.5
    if t == "diag":
        return rng.uniform(0.3, 1.0, size=(k, d))
    return rng.uniform(0.3, 1.0, size=k)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_gaussian_mixture_matches_scikit_learn_from_the_same_start(blobs, covariance_type):
    rng = np.random.default_rng(3)
    k, d = 3, blobs.shape[1]
    init = dict(
        weights_init=np.array([0.3, 0.3, 0.4]),
        means_init=blobs[rng.choice(len(blobs), k, replace=False)],
        precisions_init=precisions_for(covariance_type, k, d, rng),
    )
    params = dict(n_components=k, covariance_type=covariance_type, max_iter=10, tol=0.0, **init)
    with pytest.warns(ConvergenceWarning):
        ours = softclust.GaussianMixture(**params).fit(blobs)
    with pytest.warns(ConvergenceWarning):
        theirs = SkGaussianMixture(**params).fit(blobs)
    for name in ["weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"]:
        np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name), rtol=1e-8, atol=1e-10, err_msg=name)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.lower_bound_, theirs.lower_bound_, rtol=1e-8)
    np.testing.assert_allclose(ours.lower_bounds_, theirs.lower_bounds_, rtol=1e-8)
    np.testing.assert_allclose(ours.predict_proba(blobs), theirs.predict_proba(blobs), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(ours.score_samples(blobs), theirs.score_samples(blobs), rtol=1e-8)
    np.testing.assert_allclose(ours.bic(blobs), theirs.bic(blobs), rtol=1e-8)
    np.testing.assert_allclose(ours.aic(blobs), theirs.aic(blobs), rtol=1e-8)
    assert ours._n_parameters() == theirs._n_parameters()


@pytest.mark.parametrize("covariance_type", TYPES)
def test_converged_fit_agrees_with_scikit_learn(blobs, covariance_type):
    rng = np.random.default_rng(5)
    init = dict(
        weights_init=np.array([0.2, 0.5, 0.3]),
        means_init=blobs[rng.choice(len(blobs), 3, replace=False)],
        precisions_init=precisions_for(covariance_type, 3, blobs.shape[1], rng),
    )
    ours = softclust.GaussianMixture(3, covariance_type=covariance_type, **init).fit(blobs)
    theirs = SkGaussianMixture(3, covariance_type=covariance_type, **init).fit(blobs)
    assert ours.converged_ and theirs.converged_
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.means_, theirs.means_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours.lower_bound_, theirs.lower_bound_, rtol=1e-8)
    np.testing.assert_array_equal(ours.predict(blobs), theirs.predict(blobs))


def test_kmeans_matches_scikit_learn_from_the_same_centres(blobs):
    rng = np.random.default_rng(11)
    for k in [2, 3, 5]:
        init = blobs[rng.choice(len(blobs), k, replace=False)]
        ours = softclust.KMeans(k, init=init, n_init=1).fit(blobs)
        theirs = SkKMeans(k, init=init, n_init=1).fit(blobs)
        np.testing.assert_array_equal(ours.labels_, theirs.labels_)
        np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ours.inertia_, theirs.inertia_, rtol=1e-10)
        assert ours.n_iter_ == theirs.n_iter_
        np.testing.assert_allclose(ours.transform(blobs), theirs.transform(blobs), rtol=1e-9, atol=1e-9)
        np.testing.assert_array_equal(ours.predict(blobs), theirs.predict(blobs))
        np.testing.assert_allclose(ours.score(blobs), theirs.score(blobs), rtol=1e-10)


def test_weighted_kmeans_matches_scikit_learn(blobs):
    w = np.random.default_rng(2).uniform(0.1, 3.0, size=len(blobs))
    init = blobs[[0, 200, 400]]
    ours = softclust.KMeans(3, init=init, n_init=1).fit(blobs, sample_weight=w)
    theirs = SkKMeans(3, init=init, n_init=1).fit(blobs, sample_weight=w)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    np.testing.assert_allclose(ours.inertia_, theirs.inertia_, rtol=1e-10)


def test_softmax_sigma_is_inertia_over_n_d(blobs):
    km = softclust.KMeans(3, random_state=0, soft="softmax").fit(blobs)
    np.testing.assert_allclose(km.sigma_**2, km.inertia_ / blobs.size, rtol=1e-12)


@pytest.mark.parametrize("cov", ["full", "tied", "diag", "spherical"])
def test_float32_mixture_agrees_with_float64_and_scikit_learn(cov):
    # f32 blocks with f64 sums: the lower bound within 1e-4 relative of the f64 fit of the same
    # values, memberships to single precision; scikit-learn's float32 fit from the same start
    # lands on the same optimum.
    rng = np.random.default_rng(3)
    centres = np.array([[40.0, 40, 40, 40], [46, 34, 40, 44], [34, 46, 38, 36]])
    X = (centres[rng.integers(0, 3, 3000)] + rng.normal(size=(3000, 4)) * [1.0, 0.5, 2.0, 1.0])
    X32 = X.astype(np.float32)
    X64 = X32.astype(np.float64)
    params = dict(n_components=3, covariance_type=cov, means_init=centres, max_iter=50, tol=1e-8)
    a = softclust.GaussianMixture(**params).fit(X64)
    b = softclust.GaussianMixture(**params).fit(X32)
    sk = SkGaussianMixture(**params).fit(X32)
    assert abs(a.lower_bound_ - b.lower_bound_) <= 1e-4 * abs(a.lower_bound_)
    assert abs(sk.lower_bound_ - b.lower_bound_) <= 1e-4 * abs(sk.lower_bound_)
    p = b.predict_proba(X32)
    assert p.dtype == np.float32  # the input precision, as for every estimator
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(p, a.predict_proba(X64), atol=1e-4)
    np.testing.assert_allclose(b.means_, a.means_, atol=1e-3)
