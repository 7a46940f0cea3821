"""Fuzzy c-means."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, ClusterMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from . import _softclust as _rs
from ._base import (
    DEFAULTS,
    FrameOutputMixin,
    Membership,
    predict_proba_of,
    ModelFileMixin,
    Typicality,
    check_positive_ints,
    check_weights,
    check_x,
    core,
    dense_only,
    memberships_of,
    n_threads,
    real,
    seed_from,
    warn_not_converged,
)


class FuzzyCMeans(ModelFileMixin, ClassNamePrefixFeaturesOutMixin, ClusterMixin, TransformerMixin, FrameOutputMixin,
                  BaseEstimator):
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

    def __init__(self, n_clusters=3, *, m=DEFAULTS["fcm_m"], max_iter=DEFAULTS["fcm_max_iter"], tol=DEFAULTS["fcm_tol"],
                 init="k-means++", random_state=None, n_jobs=None):
        self.n_clusters = n_clusters
        self.m = m
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X, y=None, sample_weight=None):
        X = check_x(self, X, reset=True, sparse=True)
        sw = check_weights(sample_weight, X)
        centers = None
        if isinstance(self.init, str):
            if self.init != "k-means++":
                raise ValueError(f"init must be 'k-means++' or an array of centres, got {self.init!r}")
        else:
            centers = np.ascontiguousarray(self.init, dtype=np.float64)
        check_positive_ints(self, "n_clusters", "max_iter")
        config = {
            "n_clusters": int(self.n_clusters),
            "m": real("m", self.m),
            "max_iter": int(self.max_iter),
            "tol": real("tol", self.tol),
            "seed": seed_from(self.random_state),
            "init_centers": centers,
        }
        self._set_model(_rs.fcm_fit(core(X), sw, config, n_threads(self.n_jobs)))
        if not self.converged_:
            warn_not_converged("fuzzy c-means", self.n_iter_, "raise max_iter or tol")
        return self

    def _set_model(self, model):
        self._model = model
        r = model.params()
        self.cluster_centers_ = r["cluster_centers"]
        self._n_features_out = self.cluster_centers_.shape[0]
        if "memberships" in r:
            self.u_ = r["memberships"]
            self.labels_ = r["labels"]
        self.n_iter_ = int(r["n_iter"])
        self.converged_ = bool(r["converged"])
        self.objective_ = list(r["objective"])
        self.partition_coefficient_ = float(r["partition_coefficient"])
        self.partition_entropy_ = float(r["partition_entropy"])
        self.cluster_variances_ = r.get("cluster_variances")
        self.cluster_feature_variances_ = r.get("cluster_feature_variances")

    @classmethod
    def _from_model(cls, model):
        est = cls(n_clusters=model.n_clusters, m=float(model.params()["m"]))
        est._adopt(model)
        return est

    def _x(self, X):
        check_is_fitted(self)
        return check_x(self, X, reset=False, sparse=True)

    def memberships(self, X, top_k=None) -> Membership:
        """The full contract (see :meth:`KMeans.memberships`; ``top_k`` for sparse output)."""
        return memberships_of(self, X, top_k)

    def predict_proba(self, X, out=None):
        """Memberships in closed form from the centres (``out``: see
        :meth:`softclust.KMeans.predict_proba`)."""
        Xc = self._x(X)
        return predict_proba_of(self, X, core(Xc), out)

    def predict(self, X):
        X = self._x(X)
        return self._model.predict(core(X), n_threads(self.n_jobs))

    def transform(self, X):
        """Euclidean distances to the centres."""
        X = self._x(X)
        return self._model.transform(core(X), n_threads(self.n_jobs))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def typicality(self, X, spread="isotropic") -> Typicality:
        X = self._x(X)
        dense_only(X, "typicality")
        return Typicality._from_dict(self._model.typicality(X, spread, n_threads(self.n_jobs)))
