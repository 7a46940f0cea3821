"""Checking memberships: against known labels, and between two membership matrices.

Clusters carry no names, so :func:`evaluate` first matches each class to the cluster that holds
most of its probability (the Hungarian method on the soft contingency table), then scores the
probability of the true class:

* ``log_loss``: mean ``-ln p(true class)``, clipped at machine epsilon (scikit-learn's
  ``log_loss`` on the matched columns);
* ``brier``: Brier's multi-class score ``mean_i sum_j (P_ij - [j = true cluster])²``, in [0, 2]
  (scikit-learn's ``brier_score_loss(..., scale_by_half=False)``);
* ``accuracy``: the share of points whose argmax is their class's cluster;
* ``ece``: expected calibration error over equal-width bins of the top probability, with the
  reliability table;
* ``ari``: adjusted Rand index of the labels and the argmax (no matching needed).

A class left without a cluster (more classes than clusters) gets probability 0.

:func:`fuzzy_rand` compares two membership matrices without labels: the fuzzy Rand index of
Hüllermeier et al. (2012) and its chance-adjusted form, the adjusted concordance index of
D'Ambrosio et al. (2021), with the expectation under random permutation computed exactly rather
than by sampling permutations (for crisp partitions the adjusted form is the adjusted Rand index).
It costs ``O(n² k)`` time and ``O(n²)`` memory, so above ``max_points`` points a seeded random
sample is used and ``n_points`` says so.

All computation runs in the Rust core (the CLI's ``softclust evaluate`` gives the same numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _softclust as _rs
from ._base import table

__all__ = [
    "Evaluation",
    "FuzzyRandIndex",
    "accuracy",
    "adjusted_rand",
    "brier_score",
    "evaluate",
    "expected_calibration_error",
    "fuzzy_rand",
    "fuzzy_rand_index",
    "log_loss",
    "match_clusters",
]


def _proba(proba, name="proba"):
    """An (n, k) float64 array from an array, a DataFrame or a :class:`Membership`."""
    p = getattr(proba, "proba", proba)
    if hasattr(p, "toarray"):
        p = p.toarray()
    p = np.ascontiguousarray(np.asarray(p, dtype=np.float64))
    if p.ndim == 1:
        raise ValueError(
            f"{name} must be a 2-D (n_samples, n_clusters) matrix of probabilities; for hard labels "
            "use one-hot columns (or give the labels to fuzzy_rand, which encodes them)"
        )
    if p.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (n_samples, n_clusters) matrix, got shape {p.shape}")
    return p


def _classes(y_true, n):
    y = np.asarray(y_true)
    if y.ndim != 1:
        y = y.reshape(-1) if y.ndim == 2 and 1 in y.shape else y
    if y.ndim != 1:
        raise ValueError(f"y_true must be 1-D (one label per point), got shape {np.shape(y_true)}")
    if len(y) != n:
        raise ValueError(f"y_true has {len(y)} labels but the memberships have {n} rows; give one label per row")
    if y.dtype.kind == "f" and np.isnan(y).any():
        raise ValueError(f"y_true has a missing (NaN) label at row {int(np.flatnonzero(np.isnan(y))[0])}")
    classes, idx = np.unique(y, return_inverse=True)
    return classes, np.ascontiguousarray(idx.reshape(-1), dtype=np.int64)


@dataclass(frozen=True)
class Evaluation:
    """Scores of memberships against known labels (see the module documentation).

    ``classes`` are the distinct labels (sorted); ``cluster_of_class`` maps each to its cluster
    (``None`` when none is left); ``contingency[c, j]`` is the probability mass the points of
    class ``classes[c]`` put on cluster ``j``; ``reliability`` has one row per confidence bin
    (``lower, upper, count, confidence, accuracy``; NaN for empty bins). The two tables are pandas
    DataFrames when pandas is installed.
    """

    log_loss: float
    brier: float
    accuracy: float
    ece: float
    ari: float
    classes: np.ndarray
    cluster_of_class: dict
    contingency: object
    reliability: object

    def as_dict(self):
        """The five scores as a dict."""
        return {k: getattr(self, k) for k in ("log_loss", "brier", "accuracy", "ece", "ari")}


def evaluate(y_true, proba, *, n_bins=10) -> Evaluation:
    """Scores memberships ``proba`` (n_samples, n_clusters; rows sum to 1; an array, a DataFrame
    or a :class:`Membership`) against known labels ``y_true`` (any hashable values).

    >>> import numpy as np
    >>> from softclust.metrics import evaluate
    >>> e = evaluate(["a", "b", "a"], np.array([[0.2, 0.8], [0.9, 0.1], [0.4, 0.6]]))
    >>> e.cluster_of_class, round(e.log_loss, 4), round(e.brier, 4), e.accuracy
    ({'a': 1, 'b': 0}, 0.2798, 0.14, 1.0)
    """
    p = _proba(proba)
    classes, idx = _classes(y_true, p.shape[0])
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be an integer >= 1, got {n_bins!r}")
    r = _rs.score_labels(p, idx, len(classes), int(n_bins))
    names = [c.item() if hasattr(c, "item") else c for c in classes]
    contingency = r["contingency"]
    try:
        import pandas as pd

        contingency = pd.DataFrame(contingency, index=pd.Index(names, name="class"),
                                   columns=[f"p_{j}" for j in range(p.shape[1])])
    except ImportError:
        pass
    return Evaluation(
        log_loss=r["log_loss"],
        brier=r["brier"],
        accuracy=r["accuracy"],
        ece=r["ece"],
        ari=r["ari"],
        classes=classes,
        cluster_of_class={c: (None if j < 0 else int(j)) for c, j in zip(names, r["cluster_of_class"])},
        contingency=contingency,
        reliability=table({
            "lower": np.array(r["bin_lower"]),
            "upper": np.array(r["bin_upper"]),
            "count": np.array(r["bin_count"], dtype=np.int64),
            "confidence": np.array(r["bin_confidence"]),
            "accuracy": np.array(r["bin_accuracy"]),
        }),
    )


def log_loss(y_true, proba) -> float:
    """Mean negative log-probability of the true class, after matching clusters to classes."""
    return evaluate(y_true, proba).log_loss


def brier_score(y_true, proba) -> float:
    """Brier's multi-class score (in [0, 2]), after matching clusters to classes."""
    return evaluate(y_true, proba).brier


def accuracy(y_true, proba) -> float:
    """Share of points whose argmax is their class's cluster, after matching."""
    return evaluate(y_true, proba).accuracy


def adjusted_rand(y_true, proba) -> float:
    """Adjusted Rand index of the labels and the memberships' argmax."""
    return evaluate(y_true, proba).ari


def expected_calibration_error(y_true, proba, *, n_bins=10):
    """``(ece, reliability_table)`` over ``n_bins`` equal-width bins of the top probability."""
    e = evaluate(y_true, proba, n_bins=n_bins)
    return e.ece, e.reliability


def match_clusters(y_true, proba) -> dict:
    """For each class, the cluster (column of ``proba``) matched to it by the Hungarian method on
    the soft contingency table, or ``None`` when none is left."""
    return evaluate(y_true, proba).cluster_of_class


@dataclass(frozen=True)
class FuzzyRandIndex:
    """The fuzzy Rand index, its adjusted form, the index expected by chance and the number of
    points used (all, or a random sample of ``max_points``)."""

    index: float
    adjusted: float
    expected: float
    n_points: int


def _partition(a, name):
    if np.ndim(getattr(a, "proba", a)) == 1:  # hard labels: one-hot
        arr = np.asarray(a)
        _, idx = np.unique(arr, return_inverse=True)
        idx = idx.reshape(-1)
        out = np.zeros((len(arr), int(idx.max()) + 1 if len(arr) else 0))
        out[np.arange(len(arr)), idx] = 1.0
        return out
    return _proba(a, name)


def fuzzy_rand(P, Q, *, max_points=4000, random_state=0) -> FuzzyRandIndex:
    """Fuzzy Rand index of two partitions of the same points, each a membership matrix (rows sum
    to 1) or a 1-D array of hard labels; with its exact chance-adjusted form.

    >>> import numpy as np
    >>> from softclust.metrics import fuzzy_rand
    >>> r = fuzzy_rand(np.array([[1, 0], [0, 1], [0.5, 0.5]]), [0, 0, 1])
    >>> round(r.index, 4), round(r.adjusted, 4)
    (0.3333, -0.5)
    """
    p, q = _partition(P, "P"), _partition(Q, "Q")
    if isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer)) or max_points < 2:
        raise ValueError(f"max_points must be an integer >= 2, got {max_points!r}")
    if random_state is None:
        random_state = 0
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)) or random_state < 0:
        raise ValueError(f"random_state must be a non-negative integer, got {random_state!r}")
    r = _rs.fuzzy_rand(p, q, int(max_points), int(random_state))
    return FuzzyRandIndex(index=r["index"], adjusted=r["adjusted"], expected=r["expected"], n_points=r["n_points"])


def fuzzy_rand_index(P, Q, *, adjusted=False, max_points=4000, random_state=0) -> float:
    """The fuzzy Rand index of :func:`fuzzy_rand` (``adjusted=True``: its chance-adjusted form)."""
    r = fuzzy_rand(P, Q, max_points=max_points, random_state=random_state)
    return r.adjusted if adjusted else r.index
