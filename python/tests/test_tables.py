"""Frames in and out, top-K memberships, verbose progress and the matplotlib pictures."""

import numpy as np
import pandas as pd
import polars as pl
import pytest
import scipy.sparse as sp

import softclust
from softclust import ConsensusKMeans, FuzzyCMeans, GaussianMixture, KMeans


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0, 0], [5, 0, 1], [0, 5, -1], [5, 5, 4], [2.5, 2.5, 8]], dtype=float)
    lab = rng.integers(0, len(centres), n)
    return centres[lab] + rng.normal(size=(n, 3))


ESTIMATORS = [
    lambda: KMeans(5, random_state=0),
    lambda: GaussianMixture(5, covariance_type="diag", random_state=0),
    lambda: GaussianMixture(4, random_state=0, noise=0.05),
    lambda: FuzzyCMeans(5, random_state=0),
    lambda: ConsensusKMeans(5, n_runs=10, random_state=0),
]


@pytest.mark.parametrize("make", ESTIMATORS)
@pytest.mark.parametrize("top_k", [1, 3])
def test_top_k_is_the_dense_rows_cut_to_their_largest(make, top_k):
    X = _data()
    est = make().fit(X)
    dense = est.memberships(X)
    m = est.memberships(X, top_k=top_k)
    assert sp.issparse(m.proba) and m.proba.format == "csr"
    assert m.proba.shape == dense.proba.shape
    noise = est.__class__ is GaussianMixture and est.noise is not None
    assert m.noise == noise
    k = dense.proba.shape[1] - int(noise)
    P = dense.proba[:, :k]
    # The K largest of every row, in decreasing order (lowest index first on ties).
    order = np.lexsort((np.tile(np.arange(k), (len(X), 1)), -P), axis=1)[:, :top_k]
    idx, p = m.top
    np.testing.assert_array_equal(idx, order)
    np.testing.assert_allclose(p, np.take_along_axis(P, order, axis=1), rtol=0, atol=1e-12)
    # The sparse matrix holds exactly those (and the noise column, always).
    assert np.all(np.diff(m.proba.indptr) == top_k + int(noise))
    D = m.proba.toarray()
    np.testing.assert_allclose(np.take_along_axis(D, order, axis=1), p, atol=1e-12)
    if noise:
        np.testing.assert_allclose(D[:, -1], dense.proba[:, -1], atol=1e-12)
    # The summaries are those of the full row.
    np.testing.assert_array_equal(m.label, dense.label)
    for a in ("max_p", "margin", "entropy"):
        np.testing.assert_allclose(getattr(m, a), getattr(dense, a), rtol=0, atol=1e-12)


def test_top_k_out_of_range_is_refused():
    X = _data(60)
    km = KMeans(3, random_state=0).fit(X)
    for bad in (0, 4):
        with pytest.raises(ValueError, match="top_k"):
            km.memberships(X, top_k=bad)
    with pytest.raises(ValueError, match="top_k"):
        km.memberships(X, top_k=1.5)


def test_frames_keep_the_index():
    X = _data(120)
    df = pd.DataFrame(X, columns=["a", "b", "c"], index=pd.Index([f"r{i}" for i in range(120)], name="id"))
    gm = GaussianMixture(3, random_state=0, noise=0.02).fit(df)
    f = gm.memberships(df).to_frame()
    assert list(f.columns) == ["p_0", "p_1", "p_2", "p_noise", "label", "max_p", "margin", "entropy"]
    assert f.index.equals(df.index)
    np.testing.assert_array_equal(f["label"].to_numpy(), gm.predict(df))
    top = gm.memberships(df, top_k=2).to_frame()
    assert list(top.columns) == ["c_1", "p_1", "c_2", "p_2", "label", "max_p", "margin", "entropy", "p_noise"]
    assert top.index.equals(df.index)
    np.testing.assert_allclose(top["p_noise"], f["p_noise"], atol=1e-12)
    # numpy input: a plain RangeIndex.
    plain = GaussianMixture(3, random_state=0).fit(X)
    assert plain.memberships(X).to_frame().index.equals(pd.RangeIndex(120))


def test_set_output_pandas_and_polars():
    X = _data(90)
    df = pd.DataFrame(X, columns=["a", "b", "c"], index=np.arange(100, 190))
    km = KMeans(3, random_state=0).set_output(transform="pandas").fit(df)
    T = km.transform(df)
    assert isinstance(T, pd.DataFrame) and list(T.columns) == ["kmeans0", "kmeans1", "kmeans2"]
    assert T.index.equals(df.index)
    P = km.predict_proba(df)
    assert isinstance(P, pd.DataFrame) and list(P.columns) == ["p_0", "p_1", "p_2"]
    assert P.index.equals(df.index)
    np.testing.assert_allclose(P.to_numpy(), KMeans(3, random_state=0).fit(X).predict_proba(X))
    for est in (GaussianMixture(3, random_state=0), FuzzyCMeans(3, random_state=0),
                ConsensusKMeans(3, n_runs=5, random_state=0)):
        out = est.set_output(transform="polars").fit(X).predict_proba(X)
        assert isinstance(out, pl.DataFrame) and out.columns == ["p_0", "p_1", "p_2"]
        np.testing.assert_allclose(out.to_numpy().sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="transform must be"):
        GaussianMixture().set_output(transform="arrow")
    # "default" goes back to numpy.
    assert isinstance(km.set_output(transform="default").predict_proba(df), np.ndarray)


def test_polars_input_is_accepted():
    X = _data(80)
    frame = pl.DataFrame(X, schema=["a", "b", "c"], orient="row")
    km = KMeans(3, random_state=0).fit(frame)
    assert list(km.feature_names_in_) == ["a", "b", "c"]
    np.testing.assert_allclose(km.predict_proba(frame), KMeans(3, random_state=0).fit(X).predict_proba(X))
    f = km.memberships(frame).to_frame()
    assert isinstance(f, pl.DataFrame) and f.columns[:3] == ["p_0", "p_1", "p_2"]
    assert isinstance(km.memberships(frame).to_frame("pandas"), pd.DataFrame)


def test_verbose_prints_restarts_and_iterations(capsys):
    X = _data(200)
    KMeans(3, n_init=2, random_state=0, verbose=1).fit(X)
    out = capsys.readouterr().out.splitlines()
    # scikit-learn's lines, then a summary per restart and for the best
    assert out[0] == "Initialization complete" and out.count("Initialization complete") == 2
    assert out[1].startswith("Iteration 0, inertia ")
    converged = [line for line in out if line.startswith("Converged at iteration ")]
    assert len(converged) == 2 and all(
        line.endswith("strict convergence.") or "within tolerance" in line for line in converged
    )
    assert [line.split(":")[0] for line in out if line.startswith("Initialization ") and ":" in line] == [
        "Initialization 0", "Initialization 1"]
    assert out[-1].startswith("Best of 2 initializations: inertia ")
    KMeans(3, random_state=0, tol=0, verbose=2).fit(X)
    out = capsys.readouterr().out.splitlines()
    assert any(line.endswith("strict convergence.") for line in out)
    KMeans(3, random_state=0).fit(X)
    assert capsys.readouterr().out == ""
    GaussianMixture(3, n_init=2, random_state=0, verbose=1).fit(X)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Initialization 0" and "Initialization 1" in out
    assert sum(line.startswith("Initialization 0 finished after ") for line in out) == 1
    gm = GaussianMixture(3, n_init=1, random_state=0, verbose=2, verbose_interval=1, tol=1e-10).fit(X)
    out = capsys.readouterr().out.splitlines()
    iters = [line for line in out if line.startswith("  Iteration ")]
    assert len(iters) == gm.n_iter_
    assert "lower bound" in iters[-1] and "ll change" in iters[-1]
    with pytest.raises(ValueError, match="verbose"):
        KMeans(3, verbose=-1).fit(X)


def test_pictures_on_matplotlib():
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt
    from softclust import plot

    X = np.vstack([_data(150), [[30.0, 30.0, 30.0]]])
    gm = GaussianMixture(5, random_state=0).fit(X)
    fig = plot.clusters(gm, X)
    ax = fig.axes[0]
    pts = ax.collections[0]
    assert len(pts.get_offsets()) == len(X)
    # Opacity is max_p (at least 0.12 so that every point shows).
    alpha = pts.get_facecolors()[:, 3]
    np.testing.assert_allclose(alpha, np.clip(gm.memberships(X).max_p, 0.12, 1.0))
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "centre" in labels and "cluster 0" in labels
    assert ax.get_xlabel().startswith("PC1 (")
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    fig2 = plot.clusters(GaussianMixture(5, random_state=0).fit(df), df, columns=["a", "c"], max_points=50)
    assert len(fig2.axes[0].collections[0].get_offsets()) == 50
    assert fig2.axes[0].get_xlabel() == "a"
    fig3 = plot.max_p(gm, X)
    assert len(fig3.axes[0].patches) == 5
    table, _ = softclust.select_model(X, range(1, 4), ["full", "diag"])
    fig4 = plot.selection(table)
    assert len(fig4.axes[0].lines) == 2
    plt.close("all")
