"""Consensus (bootstrap) k-means."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils.validation import check_is_fitted

from . import _softclust as _rs
from ._base import Membership, check_positive_ints, check_x, n_threads, seed_from


class ConsensusKMeans(ClusterMixin, BaseEstimator):
    """Consensus k-means: ``n_runs`` k-means fits on resamples, aligned to a reference solution
    by minimum-cost assignment; ``P(cluster j | x)`` is the share of runs that put ``x`` in ``j``.

    Attributes
    ----------
    labels_, probabilities_ (training memberships), counts_, stability_ (mean Jaccard per
    cluster), max_p_interval_ (95% Wilson interval of each point's top probability),
    cluster_centers_ (the reference), run_centers_ (aligned, n_runs x k x d), n_iter_ (Lloyd
    iterations of the reference fit).

    Examples
    --------
    >>> import numpy as np
    >>> from softclust import ConsensusKMeans
    >>> X = np.vstack([np.zeros((20, 2)), np.full((20, 2), 9.0)]) + np.arange(40)[:, None] * 0.01
    >>> ck = ConsensusKMeans(n_clusters=2, n_runs=10, random_state=0).fit(X)
    >>> bool(ck.probabilities_.max(axis=1).min() >= 0.99)
    True
    """

    def __init__(self, n_clusters=8, *, n_runs=100, resample="bootstrap", subsample=0.8, n_init=10,
                 max_iter=300, tol=1e-4, random_state=None, n_jobs=None):
        self.n_clusters = n_clusters
        self.n_runs = n_runs
        self.resample = resample
        self.subsample = subsample
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X, y=None):
        X = check_x(self, X, reset=True)
        check_positive_ints(self, "n_clusters", "n_runs", "n_init", "max_iter")
        r = _rs.consensus_fit(
            X, int(self.n_clusters), int(self.n_runs), self.resample, float(self.subsample),
            seed_from(self.random_state), int(self.n_init), int(self.max_iter), float(self.tol), n_threads(self.n_jobs),
        )
        self.probabilities_ = r["proba"]
        self.labels_ = r["label"]
        self.counts_ = r["counts"]
        self.stability_ = r["stability"]
        self.max_p_interval_ = np.column_stack([r["max_p_low"], r["max_p_high"]])
        self.cluster_centers_ = r["reference_centers"]
        self.run_centers_ = r["run_centers"]
        self._centering = r["centering"]
        self.n_iter_ = int(r["n_iter"])
        return self

    def memberships(self, X) -> Membership:
        check_is_fitted(self)
        X = check_x(self, X, reset=False)
        r = _rs.consensus_predict_proba(X, self.run_centers_, self._centering, n_threads(self.n_jobs))
        return Membership._from_dict(r)

    def predict_proba(self, X):
        """Share of runs whose nearest aligned centre is each cluster."""
        return self.memberships(X).proba

    def predict(self, X):
        return self.memberships(X).label
