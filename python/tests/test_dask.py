"""softclust.dask on a real engine: a distributed.LocalCluster with two worker processes.

Parity with the in-memory fits from the same start (same loop, same M-steps: 1e-10), dataframe
input with unknown partition lengths, sample weights, lazy prediction, pickling and the model
file, a block with NaN named in the error, streaming fits."""

import pickle
import warnings

import numpy as np
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
pd = pytest.importorskip("pandas")
distributed = pytest.importorskip("distributed")

import softclust  # noqa: E402
import softclust.dask as sd  # noqa: E402

TYPES = ["full", "tied", "diag", "spherical"]


@pytest.fixture(scope="module")
def client():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, memory_limit="2GiB"
        )
        c = distributed.Client(cluster)
    try:
        yield c
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c.close()
            cluster.close()


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(5)
    centers = np.array([[0.0, 0.0, 0.0], [6.0, 1.0, -2.0], [-3.0, 6.0, 2.0]])
    X = np.vstack([c + rng.normal(size=(700 + 200 * j, 3)) @ rng.normal(size=(3, 3)) * 0.7 for j, c in enumerate(centers)])
    X = X[rng.permutation(len(X))] + 1e3  # an offset: moments about the means stay exact
    w = rng.uniform(0.5, 2.0, size=len(X))
    return X, w


def close(a, b, rel=1e-10):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    scale = max(1.0, float(np.max(np.abs(b))))
    assert np.max(np.abs(a - b)) <= rel * scale, np.max(np.abs(a - b))


def test_kmeans_matches_the_in_memory_fit_from_the_same_start(client, data):
    X, w = data
    init = X[[0, 1, 2]]
    mem = softclust.KMeans(n_clusters=3, init=init).fit(X, sample_weight=w)
    Xd = da.from_array(X, chunks=(500, 3))
    wd = da.from_array(w, chunks=500)
    km = sd.KMeans(n_clusters=3, init=init).fit(Xd, sample_weight=wd)
    assert km.n_iter_ == mem.n_iter_ and km.converged_ == mem.converged_
    close(km.cluster_centers_, mem.cluster_centers_)
    close(km.inertia_, mem.inertia_)
    close(km.sigma_, mem.sigma_)
    close(km.predict_proba(Xd).compute(), mem.predict_proba(X))
    np.testing.assert_array_equal(km.labels_.compute(), mem.labels_)
    np.testing.assert_array_equal(km.predict(X), mem.predict(X))


def test_kmeans_relocates_empty_clusters_like_the_in_memory_fit(client, data):
    X, _ = data
    init = np.vstack([X[:1], np.full((1, 3), 1e5), np.full((1, 3), -1e5)])
    mem = softclust.KMeans(n_clusters=3, init=init).fit(X)
    km = sd.KMeans(n_clusters=3, init=init).fit(da.from_array(X, chunks=(400, 3)))
    close(km.cluster_centers_, mem.cluster_centers_)
    assert km._model.params()["n_iter"] == mem.n_iter_


def test_kmeans_float32_matches_the_in_memory_float32_fit(client, data):
    X, _ = data
    X32 = (X - 1e3).astype(np.float32)
    init = X32[[0, 1, 2]]
    mem = softclust.KMeans(n_clusters=3, init=init).fit(X32)
    km = sd.KMeans(n_clusters=3, init=init).fit(da.from_array(X32, chunks=(700, 3)))
    assert km.n_iter_ == mem.n_iter_
    close(km.cluster_centers_, mem.cluster_centers_, 1e-6)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_mixture_matches_the_in_memory_fit_from_the_same_start(client, data, covariance_type):
    X, w = data
    start = softclust.GaussianMixture(3, covariance_type=covariance_type, max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start.fit(X, sample_weight=w)
    init = dict(weights_init=start.weights_, means_init=start.means_, precisions_init=start.precisions_)
    mem = softclust.GaussianMixture(3, covariance_type=covariance_type, tol=1e-6, **init).fit(X, sample_weight=w)
    gm = sd.GaussianMixture(3, covariance_type=covariance_type, tol=1e-6, **init).fit(
        da.from_array(X, chunks=(600, 3)), sample_weight=da.from_array(w, chunks=600)
    )
    assert gm.n_iter_ == mem.n_iter_
    close(gm.lower_bound_, mem.lower_bound_)
    close(gm.means_, mem.means_)
    close(gm.weights_, mem.weights_)
    close(gm.covariances_, mem.covariances_, 1e-9)
    close(gm.predict_proba(X), mem.predict_proba(X), 1e-9)


def test_fuzzy_c_means_matches_the_in_memory_fit(client, data):
    X, w = data
    init = X[[0, 1, 2]]
    mem = softclust.FuzzyCMeans(3, init=init).fit(X, sample_weight=w)
    fc = sd.FuzzyCMeans(3, init=init).fit(da.from_array(X, chunks=(800, 3)), sample_weight=da.from_array(w, chunks=800))
    assert fc.n_iter_ == mem.n_iter_
    close(fc.cluster_centers_, mem.cluster_centers_)
    close(fc.partition_coefficient_, mem.partition_coefficient_)


def test_default_starts_find_the_clusters(client, data):
    X, _ = data
    Xd = da.from_array(X, chunks=(500, 3))
    truth = softclust.GaussianMixture(3, random_state=0, n_init=3).fit(X)
    km = sd.KMeans(n_clusters=3, random_state=0).fit(Xd)
    mem = softclust.KMeans(n_clusters=3, random_state=0, n_init=5).fit(X)
    assert km.inertia_ <= mem.inertia_ * (1 + 1e-4)  # the same optimum, up to the tolerance
    gm = sd.GaussianMixture(3, random_state=0).fit(Xd)
    assert gm.lower_bound_ >= truth.lower_bound_ - 1e-6
    fc = sd.FuzzyCMeans(3, random_state=0).fit(Xd)
    assert fc.converged_


def test_dataframe_with_unknown_partition_lengths_keeps_names_and_index(client, data):
    X, w = data
    df = pd.DataFrame(X, columns=["a", "b", "c"], index=pd.RangeIndex(10, 10 + len(X)))
    df["w"] = w
    ddf = dd.from_pandas(df, npartitions=4)
    ddf = ddf[ddf.a > -1e9]  # a filter: partition lengths become unknown
    assert any(np.isnan(c) for c in ddf.to_dask_array().chunks[0])
    init = X[[0, 1, 2]]
    km = sd.KMeans(n_clusters=3, init=init).fit(ddf[["a", "b", "c"]], sample_weight=ddf["w"])
    mem = softclust.KMeans(n_clusters=3, init=init).fit(X, sample_weight=w)
    close(km.cluster_centers_, mem.cluster_centers_)
    assert list(km.feature_names_in_) == ["a", "b", "c"]
    m = km.memberships(ddf[["a", "b", "c"]])
    assert list(m.columns) == ["p_0", "p_1", "p_2", "label", "max_p", "margin", "entropy"]
    out = m.compute()
    assert out.index[0] == 10 and out.index[-1] == 10 + len(X) - 1
    ref = mem.memberships(X)
    close(out[["p_0", "p_1", "p_2"]].to_numpy(), ref.proba)
    np.testing.assert_array_equal(out["label"].to_numpy(), ref.label)
    close(out["entropy"].to_numpy(), ref.entropy)
    proba = km.predict_proba(ddf[["a", "b", "c"]]).compute()
    assert list(proba.columns) == ["p_0", "p_1", "p_2"] and proba.index.equals(out.index)
    labels = km.predict(ddf[["a", "b", "c"]]).compute()
    # predict is the nearest centre; the memberships' label is their argmax, which the auto soft
    # step's per-cluster variances or size weights may move near a boundary.
    np.testing.assert_array_equal(labels.to_numpy(), mem.predict(X))
    # The same choice, from the same criteria (summed over blocks instead of segments).
    assert list(km.soft_choice_["chosen"]) == list(mem.soft_choice_["chosen"])
    np.testing.assert_allclose(km.soft_choice_["bic"], mem.soft_choice_["bic"], rtol=1e-10)


def test_top_k_memberships_are_lazy_and_match_the_dense_rows(client, data):
    X, _ = data
    ddf = dd.from_pandas(pd.DataFrame(X, columns=["a", "b", "c"], index=np.arange(len(X)) * 2), npartitions=3)
    gm = sd.GaussianMixture(3, covariance_type="diag", random_state=0).fit(ddf)
    m = gm.memberships(ddf, top_k=2)
    assert list(m.columns) == ["c_1", "p_1", "c_2", "p_2", "label", "max_p", "margin", "entropy"]
    out = m.compute()
    assert out.index.equals(pd.Index(np.arange(len(X)) * 2))
    Xf = pd.DataFrame(X, columns=["a", "b", "c"])
    ref = gm.memberships(Xf, top_k=2)
    np.testing.assert_array_equal(out[["c_1", "c_2"]].to_numpy(), ref.top[0])
    close(out[["p_1", "p_2"]].to_numpy(), ref.top[1])
    close(out["entropy"].to_numpy(), ref.entropy)
    assert out["c_1"].dtype == np.int64
    # pandas input goes to the in-memory estimator: sparse probabilities.
    assert ref.proba.format == "csr"
    with pytest.raises(ValueError, match="top_k = 4"):
        gm.memberships(ddf, top_k=4)


def test_prediction_is_lazy(client, data):
    X, _ = data
    Xd = da.from_array(X, chunks=(500, 3))
    gm = sd.GaussianMixture(3, random_state=0).fit(Xd)
    p = gm.predict_proba(Xd)
    assert isinstance(p, da.Array) and p.shape == (len(X), 3)
    close(p.compute(), gm.predict_proba(X))
    t = gm.typicality(Xd)
    assert isinstance(t, da.Array)
    close(t.compute(), gm.typicality(X).outlier)
    lab = gm.predict(Xd)
    assert isinstance(lab, da.Array)
    np.testing.assert_array_equal(lab.compute(), gm.predict(X))


def test_fitted_models_pickle_and_save_like_any_softclust_model(client, data, tmp_path):
    X, _ = data
    Xd = da.from_array(X, chunks=(500, 3))
    km = sd.KMeans(n_clusters=3, random_state=1).fit(Xd)
    again = pickle.loads(pickle.dumps(km))
    assert not hasattr(again, "labels_")
    close(again.predict_proba(X), km.predict_proba(X), 0)
    km.save(tmp_path / "m.json")
    loaded = softclust.load(tmp_path / "m.json")
    close(loaded.predict_proba(X), km.predict_proba(X), 0)
    gm = sd.GaussianMixture(2, covariance_type="diag", random_state=1).fit(Xd)
    gm.save(tmp_path / "g.json")
    close(softclust.load(tmp_path / "g.json").predict_proba(X), gm.predict_proba(X), 0)


def test_a_block_with_nan_is_named(client, data):
    X, _ = data
    Xb = X.copy()
    Xb[1234, 2] = np.nan
    Xd = da.from_array(Xb, chunks=(500, 3))
    with pytest.raises(ValueError, match=r"block 2 \(rows 1000 to 1499 of X\).*row 234.*column 2"):
        sd.KMeans(n_clusters=3, random_state=0).fit(Xd)
    with pytest.raises(ValueError, match="block 2"):
        sd.GaussianMixture(3).fit(Xd)


def test_bad_parameters_and_inputs_are_clear_errors(client, data):
    X, w = data
    Xd = da.from_array(X, chunks=(500, 3))
    with pytest.raises(ValueError, match="minmax"):
        sd.KMeans(n_clusters=3, soft="minmax", random_state=0).fit(Xd)
    with pytest.raises(ValueError, match="noise"):
        sd.GaussianMixture(2, noise=0.1).fit(Xd)
    with pytest.raises(ValueError, match="should be >= n_clusters"):
        sd.KMeans(n_clusters=5).fit(Xd[:3])
    with pytest.raises(ValueError, match="sample_weight has"):
        sd.KMeans(n_clusters=3).fit(Xd, sample_weight=w[:10])
    bad = w.copy()
    bad[700] = -1.0
    with pytest.raises(ValueError, match="block 1"):
        sd.KMeans(n_clusters=3, random_state=0).fit(Xd, sample_weight=da.from_array(bad, chunks=500))
    with pytest.raises(ValueError, match="3 features"):
        sd.KMeans(n_clusters=3, random_state=0).fit(Xd).predict_proba(Xd[:, :2])


def test_non_convergence_is_a_warning(client, data):
    X, _ = data
    with pytest.warns(Warning, match="did not converge"):
        sd.GaussianMixture(3, max_iter=1, random_state=0).fit(da.from_array(X, chunks=(500, 3)))


def test_select_model_sweeps_k_and_types(client, data):
    X, _ = data
    table, best = sd.select_model(da.from_array(X, chunks=(700, 3)), [2, 3, 4], ["full", "diag"], random_state=0)
    assert len(table) == 6
    assert best.n_components == 3 and best.covariance_type == "full"
    mem = softclust.GaussianMixture(3, random_state=0).fit(X)
    row = table[(table.k == 3) & (table.covariance_type == "full")].iloc[0]
    assert abs(row["bic"] - best.bic(X)) < 1e-6 * abs(row["bic"])
    assert row["bic"] <= mem.bic(X) * (1 + 1e-6)


def test_partial_fit_streams_to_the_full_solution(data):
    X, _ = data
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X))
    km = sd.KMeans(n_clusters=3, random_state=0)
    gm = sd.GaussianMixture(3, random_state=0)
    for epoch in range(2):
        for batch in np.array_split(order, 12):
            km.partial_fit(X[batch])
            gm.partial_fit(X[batch])
    full = softclust.KMeans(n_clusters=3, random_state=0, n_init=5).fit(X)
    assert abs(km.score(X) - full.score(X)) < 0.02 * abs(full.score(X))
    ref = softclust.GaussianMixture(3, random_state=0, n_init=3).fit(X)
    assert abs(gm.score(X) - ref.score(X)) < 0.02 * abs(ref.score(X))
    p = km.predict_proba(X)
    close(p.sum(axis=1), np.ones(len(X)))
    assert km.sigma_ is not None and np.all(np.isfinite(gm.means_))
    with pytest.raises(ValueError, match="alpha"):
        gm.partial_fit(X[:10], alpha=0.4)


def test_partial_fit_with_dask_ml_incremental(data):
    dask_ml = pytest.importorskip("dask_ml.wrappers")
    X, _ = data
    inc = dask_ml.Incremental(sd.KMeans(n_clusters=3, random_state=0))
    inc.fit(da.from_array(X, chunks=(600, 3)))
    assert inc.estimator_.cluster_centers_.shape == (3, 3)
