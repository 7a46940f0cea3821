"""scikit-learn's parameters and conventions on softclust's KMeans and GaussianMixture (issue
16): algorithm, copy_x, callable init, n_init="auto", warnings, dtypes, max_iter=0, the init
checks' messages, precisions_init."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from softclust import GaussianMixture, KMeans


def _blobs(n=300, seed=0):
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(c, 0.5, (n // 3, 2)) for c in ([0, 0], [6, 0], [0, 6])])


def test_algorithm_elkan_gives_lloyds_result():
    X = _blobs()
    a = KMeans(3, random_state=0, algorithm="lloyd").fit(X)
    b = KMeans(3, random_state=0, algorithm="elkan").fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.inertia_ == b.inertia_ and a.n_iter_ == b.n_iter_


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bounded_and_exhaustive_iterations_agree_bit_for_bit(dtype):
    # Hamerly's bounds (the default) against every distance: no clusters, so many points sit
    # near boundaries for many iterations; also with sample weights.
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20000, 10)).astype(dtype)
    w = rng.uniform(0.2, 2.0, size=len(X))
    for kw in ({}, {"sample_weight": w}):
        fits = [KMeans(7, random_state=3, algorithm=a).fit(X, **kw) for a in ("lloyd", "hamerly", "exhaustive")]
        assert fits[0].n_iter_ > 10
        for f in fits[1:]:
            np.testing.assert_array_equal(f.labels_, fits[0].labels_)
            np.testing.assert_array_equal(f.cluster_centers_, fits[0].cluster_centers_)
            assert f.inertia_ == fits[0].inertia_ and f.n_iter_ == fits[0].n_iter_
            np.testing.assert_array_equal(f.predict_proba(X), fits[0].predict_proba(X))


def test_bad_algorithm_and_copy_x():
    X = _blobs()
    with pytest.raises(ValueError, match="'algorithm' parameter of KMeans must be a str among"):
        KMeans(3, algorithm="full").fit(X)
    with pytest.raises(ValueError, match="'lloyd', 'elkan', 'hamerly', 'exhaustive'"):
        KMeans(3, algorithm=None).fit(X)
    with pytest.raises(ValueError, match="'copy_x' parameter"):
        KMeans(3, copy_x="yes").fit(X)


def test_copy_x_false_leaves_x_unchanged():
    X = _blobs()
    X0 = X.copy()
    KMeans(3, random_state=0, copy_x=False).fit(X)
    np.testing.assert_array_equal(X, X0)


def test_elkan_single_cluster_warns():
    with pytest.warns(RuntimeWarning, match="algorithm='elkan' doesn't make sense for a single cluster"):
        KMeans(1, algorithm="elkan").fit(_blobs())


def test_callable_init_called_once_per_run():
    X = _blobs()
    calls = []

    def init(X_, k, random_state):
        calls.append(k)
        return X_[random_state.choice(len(X_), k, replace=False)]

    km = KMeans(3, init=init, random_state=0).fit(X)
    assert len(calls) == 10 and km._n_init == 10  # n_init="auto" is 10 for a callable
    best = min(KMeans(3, init=init(X, 3, np.random.RandomState(s)), n_init=1).fit(X).inertia_ for s in range(3))
    assert km.inertia_ <= best + 1e-9
    calls.clear()
    KMeans(3, init=init, n_init=2, random_state=0).fit(X)
    assert len(calls) == 2


def test_init_shape_messages():
    X = _blobs()
    with pytest.raises(ValueError, match=r"initial centers \(2, 2\) does not match the number of clusters 3"):
        KMeans(3, init=X[:2]).fit(X)
    with pytest.raises(ValueError, match="does not match the number of features of the data 2"):
        KMeans(3, init=lambda X_, k, random_state: np.zeros((3, 5))).fit(X)
    with pytest.raises(ValueError, match=r"n_samples=2 should be >= n_clusters=3\."):
        KMeans(3).fit(X[:2])


def test_explicit_centres_with_n_init_warn_and_run_once():
    X = _blobs()
    with pytest.warns(RuntimeWarning, match="performing only one init in KMeans instead of n_init=10"):
        km = KMeans(3, init=X[:3], n_init=10).fit(X)
    assert km._n_init == 1


def test_fewer_distinct_points_than_clusters_warns():
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    with pytest.warns(ConvergenceWarning, match=r"Number of distinct clusters \(3\) found smaller than n_clusters \(4\)"):
        km = KMeans(4, random_state=0).fit(X)
    assert set(km.labels_) == {0, 1, 2}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kmeans_keeps_the_input_dtype(dtype):
    X = _blobs().astype(dtype)
    km = KMeans(3, random_state=0).fit(X)
    assert km.cluster_centers_.dtype == dtype and km.transform(X).dtype == dtype
    km64 = KMeans(3, random_state=0).fit(X.astype(np.float64))
    np.testing.assert_allclose(km.inertia_, km64.inertia_, rtol=1e-4)


def test_verbose_has_scikit_learns_lines(capsys):
    X = _blobs()
    KMeans(3, random_state=0, init="random", n_init=1, tol=0, verbose=1).fit(X)
    out = capsys.readouterr().out
    assert "Initialization complete" in out and "Iteration 0, inertia " in out
    assert "strict convergence" in out
    KMeans(3, random_state=0, n_init=1, tol=1e-1, verbose=1).fit(np.random.default_rng(0).normal(size=(2000, 5)))
    out = capsys.readouterr().out
    assert "within tolerance" in out and "center shift " in out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mixture_keeps_the_input_dtype(dtype):
    X = _blobs().astype(dtype)
    g = GaussianMixture(3, random_state=0).fit(X)
    for a in (g.weights_, g.means_, g.covariances_, g.precisions_, g.precisions_cholesky_,
              g.predict_proba(X), g.score_samples(X)):
        assert a.dtype == dtype
    assert abs(g.score(X) - float(g.score_samples(X).mean())) < 1e-12


def test_max_iter_zero_initialises_only():
    X = _blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # no warning for max_iter=0
        g = GaussianMixture(3, max_iter=0, random_state=0).fit(X)
    assert g.n_iter_ == 0 and not g.converged_ and g.lower_bounds_ == [] and g.lower_bound_ == -np.inf
    with pytest.warns(ConvergenceWarning, match="Best performing initialization did not converge"):
        g1 = GaussianMixture(3, max_iter=1, tol=0, random_state=0).fit(X)
    assert g1.n_iter_ == 1
    # the start is that of a full fit (same means before the first step)
    km = KMeans(3, n_init=1).fit(X)
    assert np.allclose(np.sort(g.means_[:, 0]), np.sort(km.cluster_centers_[:, 0]), atol=1e-6)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_precisions_init_from_our_own_start_gives_the_same_fit(covariance_type):
    rng = np.random.RandomState(0)
    X = np.vstack([rng.randn(300, 2) + [20, 20], rng.randn(300, 2) @ np.array([[0.0, -0.7], [3.5, 0.7]])])
    start = GaussianMixture(2, covariance_type=covariance_type, max_iter=0, random_state=0).fit(X)
    plain = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    given = GaussianMixture(2, covariance_type=covariance_type, random_state=0,
                            precisions_init=start.precisions_).fit(X)
    assert plain.n_iter_ == given.n_iter_
    np.testing.assert_allclose(plain.precisions_cholesky_, given.precisions_cholesky_, rtol=1e-10)


def test_init_checks_have_scikit_learns_messages():
    X = _blobs()
    with pytest.raises(ValueError, match=r"The parameter 'weights' should have the shape of \(3,\), but got \(2,\)"):
        GaussianMixture(3, weights_init=[0.5, 0.5]).fit(X)
    with pytest.raises(ValueError, match="The parameter 'weights' should be normalized"):
        GaussianMixture(3, weights_init=[0.5, 0.5, 0.5]).fit(X)
    # scikit-learn's words (it prints the minimum as 'max value'), then the plain statement.
    with pytest.raises(
        ValueError,
        match=r"should be in the range \[0, 1\], but got max value -0.50000, min value 1.50000 \(.*the smallest "
        r"weight is -0.50000, the largest 1.50000\)",
    ):
        GaussianMixture(3, weights_init=[1.5, -0.5, 0.0]).fit(X)
    with pytest.raises(ValueError, match="The parameter 'means' should have the shape of"):
        GaussianMixture(3, means_init=X[:2]).fit(X)
    with pytest.raises(ValueError, match="'diag precision' should be positive"):
        GaussianMixture(3, covariance_type="diag", precisions_init=-np.ones((3, 2))).fit(X)
    with pytest.raises(ValueError, match="'full precision' should be symmetric, positive-definite"):
        GaussianMixture(3, precisions_init=np.stack([np.array([[1.0, 2.0], [0.0, 1.0]])] * 3)).fit(X)
    g = GaussianMixture(3, weights_init=[0.2, 0.3, 0.5], random_state=0).fit(X)  # a list is fine
    assert g.converged_


def test_collapsed_component_has_scikit_learns_message():
    X = np.vstack([np.zeros((5, 2)), np.ones((5, 2))])
    with pytest.raises(ValueError, match="ill-defined empirical covariance"):
        GaussianMixture(3, reg_covar=0, random_state=0).fit(X)
