"""k-means with soft memberships."""

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


class KMeans(ClusterMixin, TransformerMixin, BaseEstimator):
    """k-means clustering (greedy k-means++, Lloyd) with principled soft memberships.

    Parameters follow :class:`sklearn.cluster.KMeans`; ``soft`` chooses how distances become
    probabilities in :meth:`predict_proba`:

    * ``"softmax"`` (default): ``p_ij ∝ exp(-d_ij² / (2 sigma²))``, the posterior of the
      fixed-variance Gaussian mixture that k-means fits, with ``sigma² = inertia / (n d)``
      estimated at fit time (or ``sigma`` given);
    * ``"inverse-power"``: ``p_ij ∝ d_ij^(-power)``, default ``power = n_features - 1``
      (fuzzy c-means memberships with ``m = 1 + 2 / power``);
    * ``"minmax"``: the linear baseline, for comparison only;
    * ``"anchored"``: the anchored score normalised per row (a score, not a probability).

    Parameters
    ----------
    n_clusters : int, default=8
    init : {"k-means++", "random"} or array of shape (n_clusters, n_features), default="k-means++"
    n_init : "auto" or int, default="auto"
        Restarts: "auto" is 1 for k-means++ and given centres, 10 for random.
    max_iter : int, default=300
    tol : float, default=1e-4
        Relative to the mean per-feature variance.
    random_state : int, RandomState instance or None, default=None
    soft : {"softmax", "inverse-power", "minmax", "anchored"}, default="softmax"
    sigma : float, default=None
    power : float, default=None
    per_cluster_variance : bool, default=False
    size_weights : bool, default=False
    temperature : float, default=1.0
    n_jobs : int, default=None
        Threads (None or -1: all cores). Results do not depend on it.

    Attributes
    ----------
    cluster_centers_, labels_, inertia_, n_iter_, converged_, sigma_, n_features_in_,
    feature_names_in_, cluster_variances_ (isotropic, per cluster),
    cluster_feature_variances_ (per cluster and feature).

    Examples
    --------
    >>> import numpy as np
    >>> from softclust import KMeans
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0], [5.0, 0.5]])
    >>> km = KMeans(n_clusters=2, random_state=0).fit(X)
    >>> p = km.predict_proba(X)
    >>> bool(np.allclose(p.sum(axis=1), 1.0))
    True
    >>> bool(p[4].max() < p[0].max())  # the point in the middle is the least certain
    True
    """

    def __init__(
        self,
        n_clusters=8,
        *,
        init="k-means++",
        n_init="auto",
        max_iter=300,
        tol=1e-4,
        random_state=None,
        soft="softmax",
        sigma=None,
        power=None,
        per_cluster_variance=False,
        size_weights=False,
        temperature=1.0,
        n_jobs=None,
    ):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.soft = soft
        self.sigma = sigma
        self.power = power
        self.per_cluster_variance = per_cluster_variance
        self.size_weights = size_weights
        self.temperature = temperature
        self.n_jobs = n_jobs

    def fit(self, X, y=None, sample_weight=None):
        """Fits k-means and the soft assignment on ``X``."""
        X = check_x(self, X, reset=True)
        sw = check_weights(sample_weight, X)
        threads = n_threads(self.n_jobs)
        init_centers = None
        if isinstance(self.init, str):
            if self.init not in ("k-means++", "random"):
                raise ValueError(f"init must be 'k-means++', 'random' or an array of centres, got {self.init!r}")
        else:
            init_centers = np.ascontiguousarray(np.asarray(self.init, dtype=np.float64))
        if self.n_init == "auto":
            n_init = None
        elif isinstance(self.n_init, (int, np.integer)) and not isinstance(self.n_init, bool):
            n_init = int(self.n_init)
            if n_init < 1:
                raise ValueError(f"n_init must be 'auto' or an integer >= 1, got {self.n_init!r}")
        else:
            raise ValueError(f"n_init must be 'auto' or an integer >= 1, got {self.n_init!r}")
        check_positive_ints(self, "n_clusters", "max_iter")
        # Softmax and inverse-power come from the fit's per-cluster sums, with no distance
        # matrix; minmax and anchored are fitted on the training distances below.
        from_model = self.soft in ("softmax", "inverse-power", "inverse_power")
        soft = (
            (self.soft, self.sigma, self.power, bool(self.per_cluster_variance), bool(self.size_weights),
             float(self.temperature))
            if from_model else None
        )
        r = _rs.kmeans_fit(
            X, sw, int(self.n_clusters), self.init if isinstance(self.init, str) else "given",
            init_centers, n_init, int(self.max_iter), float(self.tol), seed_from(self.random_state), threads,
            soft,
        )
        self.cluster_centers_ = r["cluster_centers"]
        self._centering = r["centering"]
        self.labels_ = r["labels"]
        self.inertia_ = float(r["inertia"])
        self.n_iter_ = int(r["n_iter"])
        self.converged_ = bool(r["converged"])
        if from_model:
            self._soft_params = r["soft_params"]
        else:
            d = _rs.kmeans_transform(X, self.cluster_centers_, self._centering, threads)
            self._soft_params = _rs.soft_fit(
                d, False, self.soft, sigma=self.sigma, power=self.power,
                per_cluster_variance=bool(self.per_cluster_variance), size_weights=bool(self.size_weights),
                temperature=float(self.temperature), n_features=X.shape[1], sample_weight=sw,
            )
        info = _rs.soft_describe(self._soft_params)
        self.sigma_ = None if info["sigma"] is None else np.asarray(info["sigma"])
        self.cluster_variances_ = r["cluster_variances"]
        self.cluster_feature_variances_ = r["cluster_feature_variances"]
        if not self.converged_:
            warn_not_converged("k-means", self.n_iter_, "raise max_iter or tol")
        return self

    def _distances(self, X):
        check_is_fitted(self)
        X = check_x(self, X, reset=False)
        return X, _rs.kmeans_transform(X, self.cluster_centers_, self._centering, n_threads(self.n_jobs))

    def transform(self, X):
        """Euclidean distances to the centres, shape (n_samples, n_clusters)."""
        return self._distances(X)[1]

    def predict(self, X):
        """Nearest centre of each row."""
        check_is_fitted(self)
        X = check_x(self, X, reset=False)
        return _rs.kmeans_predict(X, self.cluster_centers_, self._centering, n_threads(self.n_jobs))

    def memberships(self, X) -> Membership:
        """The full contract: probabilities, label, max_p, margin, entropy."""
        if self.soft == "anchored":  # also returns the raw anchored scores
            _, d = self._distances(X)
            return Membership._from_dict(_rs.soft_apply(self._soft_params, d, False))
        check_is_fitted(self)
        X = check_x(self, X, reset=False)
        return Membership._from_dict(
            _rs.kmeans_memberships(X, self.cluster_centers_, self._centering, self._soft_params, n_threads(self.n_jobs))
        )

    def predict_proba(self, X):
        """Membership probabilities from the distances, by the method in ``soft``."""
        return self.memberships(X).proba

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the (weighted) inertia of ``X`` against the fitted centres."""
        X, d = self._distances(X)
        sw = check_weights(sample_weight, X)
        m = d.min(axis=1) ** 2
        return -float(np.sum(m if sw is None else sw * m))

    def typicality(self, X, spread="isotropic") -> Typicality:
        """Chi-square typicality of every row for every cluster (see :func:`softclust.typicality`)."""
        check_is_fitted(self)
        X = check_x(self, X, reset=False)
        var = self.cluster_variances_[:, None] if spread == "isotropic" else self.cluster_feature_variances_
        return Typicality._from_dict(_rs.spread_typicality(X, self.cluster_centers_, np.ascontiguousarray(var), spread))

    @property
    def soft_parameters_(self) -> dict:
        """The fitted soft assignment: method, sigma, weights, power, anchors."""
        check_is_fitted(self)
        return _rs.soft_describe(self._soft_params)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
