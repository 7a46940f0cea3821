"""Sparse input (scipy CSR/CSC) gives the dense input's answers: k-means and fuzzy c-means fit,
predict, transform, predict_proba, memberships and score, against the same matrix dense."""

import numpy as np
import pytest
import scipy.sparse as sp

import softclust
from softclust import FuzzyCMeans, GaussianMixture, KMeans


def tfidf_like(n=400, d=120, density=0.05, seed=0):
    """Non-negative rows with three groups of columns (so there are clusters), of unequal
    norms. (Rows of equal norm, as L2-normalised TF-IDF, put many points at exactly equal
    distances |x|² + |c|² from centres they share no column with; such exact ties are broken by
    rounding, which differs between the sparse expansion and the dense kernel, so the two fits
    may then differ at the ties, as scikit-learn's sparse and dense fits do.)"""
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, format="lil", random_state=seed)
    for i in range(n):
        cols = rng.choice(np.arange(i % 3, d, 3), size=4, replace=False)
        X[i, cols] = rng.uniform(1.0, 3.0, size=4)
    X = X.tocsr()
    return sp.diags(rng.uniform(0.5, 2.0, size=n)) @ X


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"init": "random", "n_init": 3},
        {"soft": "inverse-power"},
        {"per_cluster_variance": True},
        {"soft": "minmax"},
    ],
)
def test_kmeans_sparse_equals_dense(fmt, params):
    X = tfidf_like().asformat(fmt)
    Xd = X.toarray()
    a = KMeans(4, random_state=3, **params).fit(X)
    b = KMeans(4, random_state=3, **params).fit(Xd)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.n_iter_ == b.n_iter_
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(a.inertia_, b.inertia_, rtol=1e-10)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(Xd), rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.transform(X), b.transform(Xd), rtol=0, atol=1e-10)
    np.testing.assert_array_equal(a.predict(X), b.predict(Xd))
    np.testing.assert_allclose(a.score(X), b.score(Xd), rtol=1e-10)
    ma, mb = a.memberships(X), b.memberships(Xd)
    np.testing.assert_allclose(ma.proba, mb.proba, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(ma.label, mb.label)
    np.testing.assert_allclose(ma.entropy, mb.entropy, rtol=0, atol=1e-10)
    # The sparse-fitted model scores dense rows the same way.
    np.testing.assert_allclose(a.predict_proba(Xd), b.predict_proba(Xd), rtol=0, atol=1e-12)


def test_kmeans_sparse_weights_given_and_callable_init():
    X = tfidf_like(seed=1)
    Xd = X.toarray()
    w = np.random.default_rng(0).uniform(0.5, 2.0, size=X.shape[0])
    for init in (Xd[[0, 1, 2, 3]], lambda X, k, random_state: np.asarray(X[:k].todense() if sp.issparse(X) else X[:k])):
        a = KMeans(4, init=init, n_init=1).fit(X, sample_weight=w)
        b = KMeans(4, init=init, n_init=1).fit(Xd, sample_weight=w)
        np.testing.assert_array_equal(a.labels_, b.labels_)
        np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=0, atol=1e-10)
        np.testing.assert_allclose(a.score(X, sample_weight=w), b.score(Xd, sample_weight=w), rtol=1e-10)


def test_kmeans_sparse_float32_is_kept():
    X = tfidf_like(seed=2).astype(np.float32)
    km = KMeans(3, random_state=0).fit(X)
    assert km.cluster_centers_.dtype == np.float32
    assert km.transform(X).dtype == np.float32
    dense = KMeans(3, random_state=0).fit(X.toarray())
    np.testing.assert_array_equal(km.labels_, dense.labels_)


@pytest.mark.parametrize("m", [2.0, 1.6])
def test_fcm_sparse_equals_dense(m):
    X = tfidf_like(seed=4)
    Xd = X.toarray()
    w = np.linspace(0.5, 2.0, X.shape[0])
    a = FuzzyCMeans(3, m=m, random_state=1).fit(X, sample_weight=w)
    b = FuzzyCMeans(3, m=m, random_state=1).fit(Xd, sample_weight=w)
    assert a.n_iter_ == b.n_iter_
    np.testing.assert_allclose(a.u_, b.u_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(a.partition_coefficient_, b.partition_coefficient_, rtol=1e-12)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(Xd), rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.transform(X), b.transform(Xd), rtol=0, atol=1e-10)
    np.testing.assert_array_equal(a.predict(X), b.predict(Xd))
    np.testing.assert_allclose(a.cluster_feature_variances_, b.cluster_feature_variances_, rtol=1e-8, atol=1e-14)


def test_sparse_top_k_matches_the_dense_top_k():
    X = tfidf_like(seed=5)
    km = KMeans(5, random_state=0).fit(X)
    a, b = km.memberships(X, top_k=2), km.memberships(X.toarray(), top_k=2)
    assert sp.issparse(a.proba)
    np.testing.assert_allclose(a.proba.toarray(), b.proba.toarray(), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(a.top[0], b.top[0])
    with pytest.raises(ValueError, match="top_k"):
        km.memberships(X, top_k=6)


def test_non_canonical_input_is_summed_and_not_modified():
    # Row 0 has column 2 stored twice (1 + 2 = 3) and its indices out of order.
    indptr = np.array([0, 3, 4, 5, 6])
    indices = np.array([2, 0, 2, 1, 0, 1])
    data = np.array([1.0, 5.0, 2.0, 1.0, 4.0, 2.0])
    X = sp.csr_matrix((data.copy(), indices.copy(), indptr.copy()), shape=(4, 3))
    assert not X.has_canonical_format
    Xd = X.toarray()
    assert Xd[0, 2] == 3.0
    a = KMeans(2, random_state=0).fit(X)
    b = KMeans(2, random_state=0).fit(Xd)
    np.testing.assert_allclose(a.transform(X), b.transform(Xd), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(X.indices, indices)
    np.testing.assert_array_equal(X.data, data)


def test_sparse_bad_input_is_a_clear_error():
    X = tfidf_like(seed=6).tocsr()
    bad = X.copy()
    bad.data[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        KMeans(3).fit(bad)
    km = KMeans(3, random_state=0).fit(X)
    with pytest.raises(ValueError, match="features"):
        km.predict(X[:, :10])
    with pytest.raises(TypeError, match="needs dense data"):
        km.typicality(X)
    with pytest.raises(TypeError, match="[Ss]parse"):
        GaussianMixture(2).fit(X)


def test_saved_model_scores_sparse_rows(tmp_path):
    X = tfidf_like(seed=7)
    km = KMeans(3, random_state=0).fit(X)
    path = tmp_path / "m.json"
    km.save(path)
    back = softclust.load(path)
    np.testing.assert_allclose(back.predict_proba(X), km.predict_proba(X), rtol=0, atol=0)
