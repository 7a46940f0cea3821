"""Consensus (bootstrap) k-means."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils.validation import check_is_fitted

from . import _softclust as _rs
from ._base import (
    DEFAULTS,
    FrameOutputMixin,
    Membership,
    predict_proba_of,
    ModelFileMixin,
    check_positive_ints,
    check_x,
    memberships_of,
    n_threads,
    real,
    seed_from,
)


class ConsensusKMeans(ModelFileMixin, ClusterMixin, FrameOutputMixin, BaseEstimator):
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

    def __init__(self, n_clusters=8, *, n_runs=DEFAULTS["consensus_runs"], resample="bootstrap", subsample=0.8,
                 n_init=DEFAULTS["consensus_n_init"], max_iter=DEFAULTS["kmeans_max_iter"], tol=DEFAULTS["kmeans_tol"],
                 random_state=None, n_jobs=None):
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
        if self.resample not in ("bootstrap", "subsample", "reseed"):
            raise ValueError(f"resample must be 'bootstrap', 'subsample' or 'reseed', got {self.resample!r}")
        config = {
            "n_clusters": int(self.n_clusters),
            "runs": int(self.n_runs),
            "resample": f"subsample:{real('subsample', self.subsample)!r}" if self.resample == "subsample" else self.resample,
            "seed": seed_from(self.random_state),
            "reference_n_init": int(self.n_init),
            "max_iter": int(self.max_iter),
            "tol": real("tol", self.tol),
        }
        self._set_model(_rs.consensus_fit(X, config, n_threads(self.n_jobs)))
        return self

    def _set_model(self, model):
        self._model = model
        r = model.params()
        if "training" in r:
            self.probabilities_ = r["training"]["proba"]
            self.labels_ = r["training"]["label"]
            self.counts_ = r["counts"]
            self.max_p_interval_ = np.column_stack([r["max_p_low"], r["max_p_high"]])
        self.stability_ = r["stability"]
        self.cluster_centers_ = r["reference_centers"]
        self.run_centers_ = r["run_centers"]
        self.n_iter_ = int(r["n_iter"])

    @classmethod
    def _from_model(cls, model):
        est = cls(n_clusters=model.n_clusters, n_runs=int(model.params()["run_centers"].shape[0]))
        est._adopt(model)
        return est

    def _x(self, X):
        check_is_fitted(self)
        return check_x(self, X, reset=False)

    def memberships(self, X, top_k=None) -> Membership:
        """The full contract (see :meth:`KMeans.memberships`; ``top_k`` for sparse output)."""
        return memberships_of(self, X, top_k)

    def predict_counts(self, X):
        """How many of the ``n_runs`` runs put each row in each cluster."""
        X = self._x(X)
        return self._model.predict_counts(X, n_threads(self.n_jobs))

    def predict_proba(self, X, out=None):
        """Share of runs whose nearest aligned centre is each cluster (``out``: see
        :meth:`softclust.KMeans.predict_proba`)."""
        Xc = self._x(X)
        return predict_proba_of(self, X, Xc, out)

    def predict(self, X):
        X = self._x(X)
        return self._model.predict(X, n_threads(self.n_jobs))
