"""Behaviour of the Python API: the contract, dtypes, pandas, pickling, threads, bad input."""

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

import softclust
from softclust import ConsensusKMeans, FuzzyCMeans, GaussianMixture, KMeans, SoftclustError

ESTIMATORS = [
    lambda: KMeans(3, random_state=0),
    lambda: GaussianMixture(3, random_state=0),
    lambda: FuzzyCMeans(3, random_state=0),
    lambda: ConsensusKMeans(3, n_runs=8, random_state=0),
]


def oracle_proba(est, X):
    """Memberships from the fitted attributes by the textbook formulas."""
    if isinstance(est, KMeans):  # softmax of -d²/(2 sigma²), sigma estimated at fit time
        d2 = ((X[:, None, :] - est.cluster_centers_[None, :, :]) ** 2).sum(axis=2)
        s = -d2 / (2 * est.sigma_[0] ** 2)
    elif isinstance(est, FuzzyCMeans):  # u ∝ d^(-2/(m-1))
        d = np.sqrt(((X[:, None, :] - est.cluster_centers_[None, :, :]) ** 2).sum(axis=2))
        s = -2.0 / (est.m - 1.0) * np.log(d)
    elif isinstance(est, GaussianMixture):  # pi_k N(x | mu_k, S_k)
        from scipy.stats import multivariate_normal

        s = np.column_stack([
            np.log(w) + multivariate_normal(mu, cov).logpdf(X)
            for w, mu, cov in zip(est.weights_, est.means_, est.covariances_)
        ])
    else:  # consensus: the share of runs whose nearest aligned centre is j
        counts = np.zeros((len(X), est.n_clusters))
        for c in est.run_centers_:
            nearest = ((X[:, None, :] - c[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
            counts[np.arange(len(X)), nearest] += 1
        return counts / len(est.run_centers_)
    s = s - s.max(axis=1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(0)
    return np.vstack([rng.normal(c, 0.7, size=(60, 2)) for c in ([0, 0], [5, 0], [0, 5])])


@pytest.mark.parametrize("make", ESTIMATORS)
def test_contract_and_round_trips(make, X):
    est = make().fit(X)
    p = est.predict_proba(X)
    assert p.shape == (len(X), 3)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(est.predict(X), p.argmax(axis=1))
    # The contract against an oracle computed here from the fitted attributes, not from the
    # estimator's own probabilities.
    m = est.memberships(X)
    q = oracle_proba(est, X)
    np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(m.proba, q, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(m.label, q.argmax(axis=1))
    np.testing.assert_allclose(m.max_p, q.max(axis=1), rtol=1e-9)
    top2 = np.sort(q, axis=1)[:, -2:]
    np.testing.assert_allclose(m.margin, top2[:, 1] - top2[:, 0], atol=1e-9)
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.nansum(np.where(q > 0, q * np.log(q), 0.0), axis=1)
    np.testing.assert_allclose(m.entropy, ent, atol=1e-9)
    # Pickle and clone.
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict_proba(X), p)
    fresh = clone(est).fit(X)
    np.testing.assert_allclose(fresh.predict_proba(X), p)


@pytest.mark.parametrize("make", ESTIMATORS)
def test_float32_and_thread_counts(make, X):
    a = make().set_params(n_jobs=1).fit(X)
    b = make().set_params(n_jobs=2).fit(X)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = make().fit(X.astype(np.float32))
    pc, pa = c.predict_proba(X.astype(np.float32)), a.predict_proba(X)
    # Randomised starts (k-means++ draws, bootstrap references) may number the same clusters
    # differently in float32: compare up to the permutation that matches the hard labels.
    perm = [int(np.bincount(pa.argmax(axis=1)[pc.argmax(axis=1) == j], minlength=3).argmax()) for j in range(3)]
    assert sorted(perm) == [0, 1, 2]
    np.testing.assert_allclose(pc, pa[:, perm], atol=1e-3)


def test_pandas_feature_names(X):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=["height", "width"])
    km = KMeans(3, random_state=0).fit(df)
    assert list(km.feature_names_in_) == ["height", "width"]
    np.testing.assert_array_equal(km.predict(df), KMeans(3, random_state=0).fit(X).predict(X))


@settings(max_examples=40, deadline=None)
@given(
    d=arrays(np.float64, st.tuples(st.integers(1, 12), st.integers(1, 5)), elements=st.floats(0, 1e6)),
    method=st.sampled_from(["softmax", "inverse-power", "minmax", "anchored"]),
)
def test_soft_assign_rows_sum_to_one_and_label_is_argmax(d, method):
    m = softclust.soft_assign(d, method, n_features=3)
    np.testing.assert_allclose(m.proba.sum(axis=1), 1.0, atol=1e-12)
    assert np.all((m.proba >= 0) & (m.proba <= 1))
    np.testing.assert_array_equal(m.label, m.proba.argmax(axis=1))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(1, 4))
def test_kmeans_memberships_properties(seed, k):
    X = np.random.default_rng(seed).normal(size=(40, 3))
    km = KMeans(k, random_state=seed).fit(X)
    p = km.predict_proba(X)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(km.memberships(X).label, p.argmax(axis=1))


def test_typicality_flags_far_outliers(X):
    gm = GaussianMixture(3, random_state=0).fit(X)
    far = np.array([[100.0, -100.0]])
    for model in [gm, KMeans(3, random_state=0).fit(X), FuzzyCMeans(3, random_state=0).fit(X)]:
        t = softclust.typicality(far, model)
        assert np.all(t.typicality < 1e-6)
        assert t.outlier[0] > 1 - 1e-6
    np.testing.assert_allclose(gm.predict_proba(far).sum(), 1.0)


def test_select_model_picks_three(X):
    table, best = softclust.select_model(X, range(1, 6), ["full", "spherical"])
    assert best.n_components == 3
    assert len(table) == 10
    first = table.iloc[0] if hasattr(table, "iloc") else {k: v[0] for k, v in table.items()}
    assert first["k"] == 3
    np.testing.assert_allclose(best.predict_proba(X).sum(axis=1), 1)


def test_gaussian_mixture_extras(X):
    w = np.ones(len(X))
    a = GaussianMixture(3, random_state=0).fit(X)
    b = GaussianMixture(3, random_state=0).fit(X, sample_weight=w)
    np.testing.assert_allclose(a.means_, b.means_)
    Xs, ys = a.sample(500)
    assert Xs.shape == (500, 2) and ys.shape == (500,)
    noisy = GaussianMixture(3, noise=0.05, random_state=0).fit(np.vstack([X, [[60.0, 60.0]]]))
    assert noisy.predict_proba(X).shape == (len(X), 4)
    assert noisy.predict(np.array([[60.0, 60.0]]))[0] == 3
    with pytest.warns(ConvergenceWarning):
        GaussianMixture(3, max_iter=1, tol=1e-12, random_state=0).fit(X)
    warm = GaussianMixture(3, max_iter=2, tol=1e-12, warm_start=True, random_state=0)
    with pytest.warns(ConvergenceWarning):
        warm.fit(X)
    first = warm.lower_bound_
    warm.set_params(max_iter=100, tol=1e-3).fit(X)
    assert warm.lower_bound_ >= first - 1e-12


def test_consensus_attributes(X):
    ck = ConsensusKMeans(3, n_runs=10, random_state=1).fit(X)
    assert ck.stability_.shape == (3,)
    assert ck.counts_.sum(axis=1).tolist() == [10] * len(X)
    assert np.all(ck.max_p_interval_[:, 0] <= ck.probabilities_.max(axis=1))
    np.testing.assert_array_equal(ck.predict_proba(X), ck.probabilities_)


@pytest.mark.parametrize("make", ESTIMATORS)
def test_bad_input_raises_clear_value_errors(make, X):
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        make().fit(bad)
    with pytest.raises(ValueError, match="2D array"):
        make().fit(X[:, 0])
    with pytest.raises(ValueError, match="n_samples=2"):
        make().fit(X[:2])
    est = make().fit(X)
    with pytest.raises(ValueError, match="features"):
        est.predict_proba(np.zeros((3, 5)))


def test_core_errors_are_value_errors_with_the_core_message(X):
    assert issubclass(SoftclustError, ValueError)
    # the centres' shape is checked before the core, with scikit-learn's message
    with pytest.raises(ValueError, match="does not match the number of features of the data 2"):
        KMeans(3, init=np.zeros((3, 5))).fit(X)
    with pytest.raises(SoftclustError, match="not positive definite"):
        GaussianMixture(3, covariance_type="diag", reg_covar=0.0, means_init=np.zeros((3, 2)) + [[0, 0], [9, 9], [5, 5]],
                        weights_init=np.ones(3) / 3, precisions_init=np.ones((3, 2))).fit(
            np.array([[0.0, 0.0], [0.0, 0.0], [9.0, 9.0], [9.1, 9.2], [5.0, 5.0], [5.2, 5.1]]))
    with pytest.raises(ValueError, match="n_jobs"):
        KMeans(3, n_jobs=0).fit(X)
    with pytest.raises(SoftclustError, match="sigma"):
        softclust.soft_assign(np.ones((2, 2)), "softmax")


@pytest.mark.parametrize("make", ESTIMATORS)
def test_predict_proba_out_is_filled_and_returned(make, X):
    # out= writes the probabilities into the caller's array (reused across calls).
    est = make().fit(X)
    want = est.predict_proba(X)
    np.testing.assert_allclose(want, oracle_proba(est, X), rtol=1e-6, atol=1e-9)
    out = np.full((len(X), 3), np.nan)
    got = est.predict_proba(X, out=out)
    assert got is out
    np.testing.assert_array_equal(out, want.astype(np.float64))
    # float32 data still writes float64 probabilities into out
    est.predict_proba(X.astype(np.float32), out=out)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"out must be a float64 numpy array of shape \(180, 3\)"):
        est.predict_proba(X, out=np.zeros((len(X), 4)))
    with pytest.raises(ValueError, match="out must be a float64"):
        est.predict_proba(X, out=np.zeros((len(X), 3), dtype=np.float32))
    ro = np.zeros((len(X), 3))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out must be writeable"):
        est.predict_proba(X, out=ro)
    # a strided (non-contiguous) out is filled too
    wide = np.zeros((len(X), 6))
    est.predict_proba(X, out=wide[:, ::2])
    np.testing.assert_array_equal(wide[:, ::2], want)


def test_soft_assign_estimates_the_dimension_without_n_features():
    # Gaussian clusters in 5 dimensions, far apart: the nearest-centre distances give D and sigma.
    rng = np.random.default_rng(0)
    centres = np.eye(3, 5) * 30
    X = np.vstack([rng.normal(scale=2.0, size=(2000, 5)) + c for c in centres])
    d = np.sqrt(((X[:, None, :] - centres[None]) ** 2).sum(axis=2))
    m = softclust.soft_assign(d)
    assert m.soft["estimated_dim"] == pytest.approx(5, abs=0.3)
    assert m.soft["estimated_sigma"] == pytest.approx(2.0, abs=0.05)
    assert m.soft["sigma"][0] == pytest.approx(m.soft["estimated_sigma"], rel=1e-12)
    given = softclust.soft_assign(d, n_features=5)
    assert given.soft["estimated_dim"] is None
    np.testing.assert_allclose(m.proba, given.proba, atol=1e-6)
    ip = softclust.soft_assign(d, "inverse-power")
    assert ip.soft["power"] == pytest.approx(ip.soft["estimated_dim"] - 1, rel=1e-12)


def _family(sizes, spreads, d=4, seed=0):
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(scale=s, size=(m, d)) + np.eye(d)[0] * 40 * c
                      for c, (m, s) in enumerate(zip(sizes, spreads))])


@pytest.mark.parametrize("sizes, spreads, want", [
    ([400, 400, 400], [1.0, 1.0, 1.0], (False, False)),
    ([400, 400, 400], [0.5, 1.0, 3.0], (True, False)),
    ([1000, 100, 100], [1.0, 1.0, 1.0], (False, True)),
])
def test_auto_soft_picks_the_variant_the_data_call_for(sizes, spreads, want):
    X = _family(sizes, spreads)
    km = KMeans(3, random_state=0, n_init=3).fit(X)
    t = km.soft_choice_
    best = {k: list(t[k]) for k in t} if isinstance(t, dict) else t.to_dict("list")
    i = best["chosen"].index(True)
    assert (best["per_cluster_variance"][i], best["size_weights"][i]) == want
    assert best["bic"][i] == min(best["bic"])
    assert km.soft_parameters_["auto_chosen"] == i
    # The chosen variant's memberships are those of the softmax pinned to it.
    pinned = KMeans(3, random_state=0, n_init=3, soft="softmax", per_cluster_variance=want[0],
                    size_weights=want[1]).fit(X)
    np.testing.assert_allclose(km.predict_proba(X), pinned.predict_proba(X), rtol=0, atol=1e-12)
    assert pinned.soft_choice_ is None


def test_auto_soft_survives_pickle_and_save(tmp_path):
    import pickle

    X = _family([300, 300, 300], [0.5, 1.0, 3.0])
    km = KMeans(3, random_state=0).fit(X)
    again = pickle.loads(pickle.dumps(km))
    np.testing.assert_array_equal(again.predict_proba(X), km.predict_proba(X))
    km.save(tmp_path / "m.json")
    loaded = softclust.load(tmp_path / "m.json")
    assert loaded.soft == "auto"
    np.testing.assert_array_equal(loaded.predict_proba(X), km.predict_proba(X))
    assert list(loaded.soft_choice_["bic"]) == list(km.soft_choice_["bic"])


def test_auto_soft_on_distances_reports_its_candidates():
    X = _family([300, 300, 300], [0.5, 1.0, 3.0])
    km = KMeans(3, random_state=0, soft="softmax").fit(X)
    m = softclust.soft_assign(km.transform(X), n_features=4)
    cands = m.soft["auto_candidates"]
    assert len(cands) == 4 and cands[m.soft["auto_chosen"]]["per_cluster_variance"]


@pytest.mark.parametrize("n_clusters", ["auto", range(2, 8), [5, 3, 4]])
def test_kmeans_chooses_k_by_bic(n_clusters):
    X = _family([300, 300, 300], [0.5, 1.0, 3.0], d=3, seed=4)
    km = KMeans(n_clusters, random_state=0, n_init=3).fit(X)
    assert km.n_clusters_ == 3 and km.cluster_centers_.shape == (3, 3)
    t = km.k_selection_
    rows = t if isinstance(t, dict) else t.to_dict("list")
    i = rows["chosen"].index(True)
    assert rows["k"][i] == 3 and rows["bic"][i] == min(rows["bic"])
    assert km.predict_proba(X).shape == (900, 3)
    # The chosen fit is the fit of that k.
    one = KMeans(3, random_state=0, n_init=3).fit(X)
    np.testing.assert_allclose(np.sort(km.cluster_centers_, axis=0), np.sort(one.cluster_centers_, axis=0), atol=1e-9)
    assert KMeans(3).fit(X).k_selection_ is None


@pytest.mark.parametrize("bad", ["many", [], [2, 2], [0, 3], 2.5])
def test_invalid_k_ranges(bad):
    X = _family([30, 30], [1.0, 1.0], d=2)
    with pytest.raises((ValueError, TypeError)):
        KMeans(bad).fit(X)


def test_k_range_needs_a_named_start():
    X = _family([30, 30], [1.0, 1.0], d=2)
    with pytest.raises(ValueError, match="init"):
        KMeans([2, 3], init=X[:2]).fit(X)
