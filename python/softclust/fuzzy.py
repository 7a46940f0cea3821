"""Fuzzy c-means."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from . import _softclust as _rs
from ._base import (
    Membership,
    Typicality,
    check_positive_ints,
    check_weights,
    check_x,
    n_threads,
    seed_from,
    warn_not_converged,
)


class FuzzyCMeans(ClusterMixin, TransformerMixin, BaseEstimator):
    """Fuzzy c-means (Bezdek): memberships ``u_ij ∝ d_ij^(-2/(m-1))``, centres weighted by
    ``u_ij^m``. Data are rows (unlike scikit-fuzzy); memberships of new data are computed in
    closed form from the centres, with no iteration.

    Examples
    --------
    >>> import numpy as np
    >>> from softclust import FuzzyCMeans
    >>> X = np.array([[0.0], [0.2], [5.0], [5.2], [2.6]])
    >>> fcm = FuzzyCMeans(n_clusters=2, random_state=0).fit(X)
    >>> bool(np.allclose(fcm.predict_proba(X).sum(axis=1), 1))
    True
    """

    def __init__(self, n_clusters=3, *, m=2.0, max_iter=300, tol=1e-5, init="k-means++", random_state=None, n_jobs=None):
        self.n_clusters = n_clusters
        self.m = m
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X, y=None, sample_weight=None):
        X = check_x(self, X, reset=True)
        sw = check_weights(sample_weight, X)
        centers = None
        if isinstance(self.init, str):
            if self.init != "k-means++":
                raise ValueError(f"init must be 'k-means++' or an array of centres, got {self.init!r}")
        else:
            centers = np.ascontiguousarray(self.init, dtype=np.float64)
        check_positive_ints(self, "n_clusters", "max_iter")
        r = _rs.fcm_fit(
            X, sw, int(self.n_clusters), float(self.m), int(self.max_iter), float(self.tol),
            seed_from(self.random_state), centers, n_threads(self.n_jobs),
        )
        self.cluster_centers_ = r["cluster_centers"]
        self._centering = r["centering"]
        self.u_ = r["memberships"]
        self.labels_ = np.argmax(self.u_, axis=1)
        self.n_iter_ = int(r["n_iter"])
        self.converged_ = bool(r["converged"])
        self.objective_ = list(r["objective"])
        self.partition_coefficient_ = float(r["partition_coefficient"])
        self.partition_entropy_ = float(r["partition_entropy"])
        self.cluster_variances_ = r["cluster_variances"]
        self.cluster_feature_variances_ = r["cluster_feature_variances"]
        if not self.converged_:
            warn_not_converged("fuzzy c-means", self.n_iter_, "raise max_iter or tol")
        return self

    def memberships(self, X) -> Membership:
        check_is_fitted(self)
        X = check_x(self, X, reset=False)
        return Membership._from_dict(
            _rs.fcm_memberships(X, self.cluster_centers_, self._centering, float(self.m), n_threads(self.n_jobs))
        )

    def predict_proba(self, X):
        """Memberships in closed form from the centres."""
        return self.memberships(X).proba

    def predict(self, X):
        return self.memberships(X).label

    def transform(self, X):
        """Euclidean distances to the centres."""
        check_is_fitted(self)
        X = check_x(self, X, reset=False)
        return _rs.kmeans_transform(X, self.cluster_centers_, self._centering, n_threads(self.n_jobs))

    def typicality(self, X, spread="isotropic") -> Typicality:
        check_is_fitted(self)
        X = check_x(self, X, reset=False)
        var = self.cluster_variances_[:, None] if spread == "isotropic" else self.cluster_feature_variances_
        return Typicality._from_dict(_rs.spread_typicality(X, self.cluster_centers_, np.ascontiguousarray(var), spread))
