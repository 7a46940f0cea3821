"""softclust.metrics: live parity with scikit-learn's metrics, the fuzzy Rand index against a
direct implementation, its exact chance correction against sampled permutations, and one test
per invalid input."""

import inspect

import numpy as np
import pytest
from sklearn import metrics as skm

import softclust
from softclust import GaussianMixture, SoftclustError
from softclust.metrics import (
    accuracy,
    adjusted_rand,
    brier_score,
    evaluate,
    expected_calibration_error,
    fuzzy_rand,
    fuzzy_rand_index,
    log_loss,
    match_clusters,
)


def random_memberships(rng, n, k, sharp=3.0):
    s = rng.normal(size=(n, k)) * sharp
    p = np.exp(s - s.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


@pytest.fixture
def labelled():
    """Memberships whose columns are the classes in a shuffled order, and the labels."""
    rng = np.random.default_rng(0)
    n, k = 400, 4
    y = rng.integers(0, k, size=n)
    s = rng.normal(size=(n, k)) + 2.5 * np.eye(k)[y]
    q = np.exp(s - s.max(axis=1, keepdims=True))
    q /= q.sum(axis=1, keepdims=True)
    perm = np.array([2, 0, 3, 1])  # cluster j holds class perm[j]
    p = q[:, perm]
    names = np.array(["ant", "bee", "cat", "dog"])
    return p, q, y, names[y], perm


def test_scores_match_scikit_learn(labelled):
    p, q, y, labels, perm = labelled
    e = evaluate(labels, p)
    assert e.cluster_of_class == {"ant": 1, "bee": 3, "cat": 0, "dog": 2}
    assert [perm[e.cluster_of_class[c]] for c in ["ant", "bee", "cat", "dog"]] == [0, 1, 2, 3]
    # With the columns put back in class order, the scores are scikit-learn's.
    assert e.log_loss == pytest.approx(skm.log_loss(y, q), rel=1e-12)
    assert e.accuracy == skm.accuracy_score(y, q.argmax(axis=1))
    assert e.ari == pytest.approx(skm.adjusted_rand_score(y, p.argmax(axis=1)), abs=1e-12)
    onehot = np.eye(4)[y]
    assert e.brier == pytest.approx(np.mean(np.sum((q - onehot) ** 2, axis=1)), rel=1e-12)
    if "scale_by_half" in inspect.signature(skm.brier_score_loss).parameters:
        assert e.brier == pytest.approx(skm.brier_score_loss(y, q, scale_by_half=False), rel=1e-12)
    # The shortcuts agree with evaluate.
    assert log_loss(labels, p) == e.log_loss
    assert brier_score(labels, p) == e.brier
    assert accuracy(labels, p) == e.accuracy
    assert adjusted_rand(labels, p) == e.ari
    assert match_clusters(labels, p) == e.cluster_of_class
    ece, table = expected_calibration_error(labels, p, n_bins=10)
    assert ece == e.ece


def test_calibration_error_by_direct_binning(labelled):
    p, q, y, labels, perm = labelled
    ece, table = expected_calibration_error(labels, p, n_bins=7)
    conf = q.max(axis=1)
    hit = q.argmax(axis=1) == y
    b = np.minimum((conf * 7).astype(int), 6)
    want = sum(np.mean(b == i) * abs(hit[b == i].mean() - conf[b == i].mean()) for i in range(7) if np.any(b == i))
    assert ece == pytest.approx(want, rel=1e-12)
    counts = np.asarray(table["count"])
    assert counts.sum() == len(y)
    assert list(counts) == [int(np.sum(b == i)) for i in range(7)]


def test_evaluate_takes_a_membership_object_and_a_dataframe():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(size=(100, 2)) + c for c in ([0, 0], [6, 0], [0, 6])])
    y = np.repeat(["a", "b", "c"], 100)
    gm = GaussianMixture(3, random_state=0).fit(X)
    e1 = evaluate(y, gm.memberships(X))
    e2 = evaluate(pd.Series(y), pd.DataFrame(gm.predict_proba(X)))
    for key, value in e1.as_dict().items():
        assert e2.as_dict()[key] == pytest.approx(value, rel=1e-12, abs=1e-15)
    assert e1.accuracy > 0.95
    assert isinstance(e1.reliability, pd.DataFrame)
    assert list(e1.contingency.index) == ["a", "b", "c"]


def direct_fuzzy_rand(P, Q):
    """Hüllermeier et al.'s index by its definition, pair by pair (vectorised by rows)."""
    n = len(P)
    ep = 1 - 0.5 * np.abs(P[:, None, :] - P[None, :, :]).sum(axis=2)
    eq = 1 - 0.5 * np.abs(Q[:, None, :] - Q[None, :, :]).sum(axis=2)
    iu = np.triu_indices(n, 1)
    return 1 - np.abs(ep[iu] - eq[iu]).mean(), ep[iu], eq[iu]


def test_fuzzy_rand_matches_a_direct_implementation():
    rng = np.random.default_rng(2)
    P, Q = random_memberships(rng, 120, 3), random_memberships(rng, 120, 4, sharp=1.0)
    want, ep, eq = direct_fuzzy_rand(P, Q)
    r = fuzzy_rand(P, Q)
    assert r.index == pytest.approx(want, rel=1e-12)
    assert r.n_points == 120
    # The expected index under random permutation: every pair against every pair.
    expected = 1 - np.abs(ep[:, None] - eq[None, :]).mean()
    assert r.expected == pytest.approx(expected, rel=1e-12)
    assert r.adjusted == pytest.approx((want - expected) / (1 - expected), rel=1e-10)
    assert fuzzy_rand_index(P, Q) == r.index
    assert fuzzy_rand_index(P, Q, adjusted=True) == r.adjusted


def test_exact_chance_correction_agrees_with_sampled_permutations():
    # D'Ambrosio et al. estimate the expectation from permutations of Q's rows; the mean of
    # many such indices converges to the exact value computed here.
    rng = np.random.default_rng(3)
    n = 60
    P = random_memberships(rng, n, 3)
    Q = 0.5 * P[:, [1, 0, 2]] + 0.5 * random_memberships(rng, n, 3)
    r = fuzzy_rand(P, Q)
    sampled = [direct_fuzzy_rand(P, Q[rng.permutation(n)])[0] for _ in range(400)]
    se = np.std(sampled) / np.sqrt(len(sampled))
    assert abs(np.mean(sampled) - r.expected) < 4 * se + 1e-12
    assert r.adjusted > 0.2  # Q shares P's structure


def test_crisp_fuzzy_rand_is_the_adjusted_rand_index():
    rng = np.random.default_rng(4)
    a = rng.integers(0, 3, size=300)
    b = np.where(rng.random(300) < 0.7, a, rng.integers(0, 5, size=300))
    r = fuzzy_rand(a, b)  # hard labels are one-hot encoded
    assert r.adjusted == pytest.approx(skm.adjusted_rand_score(a, b), abs=1e-12)
    assert r.index == pytest.approx(skm.rand_score(a, b), abs=1e-12)


def test_fuzzy_rand_samples_above_max_points():
    rng = np.random.default_rng(5)
    P = random_memberships(rng, 3000, 3)
    r = fuzzy_rand(P, P, max_points=500, random_state=7)
    assert r.n_points == 500 and r.adjusted == 1.0
    assert fuzzy_rand(P, P[:, ::-1], max_points=500, random_state=7) == fuzzy_rand(
        P, P[:, ::-1], max_points=500, random_state=7
    )


def test_metrics_is_exported():
    assert softclust.metrics.evaluate is evaluate


@pytest.mark.parametrize("n_bins", [0, -1, 2.5, True])
def test_invalid_n_bins(n_bins):
    with pytest.raises(ValueError, match="n_bins"):
        evaluate([0, 1], np.array([[0.5, 0.5], [0.5, 0.5]]), n_bins=n_bins)


@pytest.mark.parametrize("max_points", [1, 0, 2.5, True])
def test_invalid_max_points(max_points):
    P = np.array([[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="max_points"):
        fuzzy_rand(P, P, max_points=max_points)


def test_invalid_random_state():
    P = np.array([[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="random_state"):
        fuzzy_rand(P, P, random_state=-1)


def test_rows_that_are_not_probabilities():
    with pytest.raises(SoftclustError, match="row 0 .* sums to 0.7"):
        evaluate([0, 1], np.array([[0.5, 0.2], [0.5, 0.5]]))
    with pytest.raises(SoftclustError, match="not probabilities"):
        fuzzy_rand(np.array([[1.5, -0.5], [0.5, 0.5]]), np.array([[1.0, 0.0], [0.0, 1.0]]))
    with pytest.raises(SoftclustError, match="row 1"):
        evaluate([0, 1], np.array([[0.5, 0.5], [np.nan, 0.5]]))


def test_wrong_shapes():
    P = np.array([[0.5, 0.5], [0.5, 0.5]])
    with pytest.raises(ValueError, match="one label per row"):
        evaluate([0, 1, 1], P)
    with pytest.raises(ValueError, match="2-D"):
        evaluate([0, 1], np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="1-D"):
        evaluate(np.zeros((2, 2)), P)
    with pytest.raises(SoftclustError, match="rows"):
        fuzzy_rand(P, np.array([[1.0, 0.0]]))
    with pytest.raises(SoftclustError, match="at least 2 rows"):
        fuzzy_rand(P[:1], P[:1])


def test_missing_labels():
    with pytest.raises(ValueError, match="NaN"):
        evaluate(np.array([0.0, np.nan]), np.array([[0.5, 0.5], [0.5, 0.5]]))
