"""Gaussian mixtures: a drop-in for :class:`sklearn.mixture.GaussianMixture`, plus sample
weights, typicality, a noise component and automatic regularisation."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
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

_N_PARAMS = {
    "full": lambda k, d: k * d * (d + 1) // 2,
    "tied": lambda k, d: d * (d + 1) // 2,
    "diag": lambda k, d: k * d,
    "spherical": lambda k, d: k,
}


def _config(est, n_components=None, covariance_type=None):
    return {
        "n_components": int(est.n_components if n_components is None else n_components),
        "covariance_type": est.covariance_type if covariance_type is None else covariance_type,
        "tol": float(est.tol),
        "reg_covar": float(est.reg_covar),
        "max_iter": int(est.max_iter),
        "n_init": int(est.n_init),
        "init_params": est.init_params,
        "weights_init": None if est.weights_init is None else np.ascontiguousarray(est.weights_init, dtype=np.float64),
        "means_init": None if est.means_init is None else np.ascontiguousarray(est.means_init, dtype=np.float64),
        "precisions_init": None if est.precisions_init is None else np.ascontiguousarray(est.precisions_init, dtype=np.float64),
        "seed": seed_from(est.random_state),
        "auto_regularize": bool(est.auto_regularize),
        "noise": None if est.noise is None else float(est.noise),
    }


class _Cfg(dict):
    """A dict whose keys read as attributes (PyO3 extracts the config by attribute)."""

    __getattr__ = dict.__getitem__


class GaussianMixture(DensityMixin, BaseEstimator):
    """Gaussian mixture fitted by EM, with scikit-learn's parameters, attributes and methods.

    Beyond :class:`sklearn.mixture.GaussianMixture`: ``sample_weight`` in :meth:`fit`,
    :meth:`typicality` (chi-square survival of the Mahalanobis distance), ``auto_regularize``
    (raise ``reg_covar`` instead of failing on a singular covariance), ``noise`` (a uniform noise
    component over the data's bounding box; :meth:`predict_proba` then has a last noise column)
    and ``n_jobs``. Lower :meth:`bic` and :meth:`aic` are better.

    Examples
    --------
    >>> import numpy as np
    >>> from softclust import GaussianMixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (100, 2)), rng.normal(6, 1, (100, 2))])
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> gm.predict_proba(X).shape
    (200, 2)
    >>> bool(gm.bic(X) < GaussianMixture(n_components=1).fit(X).bic(X))
    True
    """

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        auto_regularize=False,
        noise=None,
        n_jobs=None,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.auto_regularize = auto_regularize
        self.noise = noise
        self.n_jobs = n_jobs

    def _set(self, r):
        self.weights_ = r["weights"]
        self.means_ = r["means"]
        self.covariances_ = r["covariances"]
        self.precisions_ = r["precisions"]
        self.precisions_cholesky_ = r["precisions_cholesky"]
        self.converged_ = bool(r["converged"])
        self.n_iter_ = int(r["n_iter"])
        self.lower_bound_ = float(r["lower_bound"])
        self.lower_bounds_ = list(r["lower_bounds"])
        self.reg_covar_ = float(r["reg_covar"])
        self._noise = r["noise"]

    def fit(self, X, y=None, sample_weight=None):
        """Estimates the parameters by EM."""
        self._fit(X, sample_weight)
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fits and returns the labels of ``X`` (equal to ``predict(X)`` after fitting)."""
        return self._fit(X, sample_weight).predict(X)

    def _fit(self, X, sample_weight):
        warm = None
        if self.warm_start and hasattr(self, "converged_"):
            warm = (self.weights_, self.means_, self.precisions_cholesky_, self._noise)
        X = check_x(self, X, reset=warm is None)
        sw = check_weights(sample_weight, X)
        check_positive_ints(self, "n_components", "max_iter", "n_init")
        r = _rs.gmm_fit(X, sw, _Cfg(_config(self)), warm, n_threads(self.n_jobs))
        self._set(r)
        if not self.converged_:
            warn_not_converged(
                "EM", self.n_iter_, "try different init parameters, or increase max_iter, tol, or check for degenerate data"
            )
        return self

    def _score(self, X):
        check_is_fitted(self)
        X = check_x(self, X, reset=False)
        return _rs.gmm_score(
            X, self.weights_, self.means_, self.precisions_cholesky_, self.covariance_type, self._noise, n_threads(self.n_jobs)
        )

    def score_samples(self, X):
        """Log-density of each row."""
        return self._score(X)[1]

    def score(self, X, y=None, sample_weight=None):
        """Mean (weighted) log-density."""
        s = self.score_samples(X)
        sw = check_weights(sample_weight, s[:, None])
        return float(np.mean(s) if sw is None else np.sum(sw * s) / np.sum(sw))

    def predict_log_proba(self, X):
        """Log-responsibilities (with a last noise column when ``noise`` is set)."""
        return self._score(X)[0]

    def predict_proba(self, X):
        """Responsibilities (with a last noise column when ``noise`` is set)."""
        check_is_fitted(self)
        X = check_x(self, X, reset=False)
        return _rs.gmm_proba(
            X, self.weights_, self.means_, self.precisions_cholesky_, self.covariance_type, self._noise, n_threads(self.n_jobs)
        )

    def predict(self, X):
        """Most probable component (``n_components`` means noise)."""
        return self.memberships(X).label

    def memberships(self, X) -> Membership:
        """The full contract: probabilities, label, max_p, margin, entropy."""
        check_is_fitted(self)
        X = check_x(self, X, reset=False)
        return Membership._from_dict(
            _rs.gmm_memberships(
                X, self.weights_, self.means_, self.precisions_cholesky_, self.covariance_type, self._noise,
                n_threads(self.n_jobs),
            )
        )

    def _n_parameters(self):
        k, d = self.means_.shape
        return _N_PARAMS[self.covariance_type](k, d) + k * d + k - 1 + (self._noise is not None)

    def bic(self, X):
        """Bayesian information criterion (lower is better)."""
        X = check_x(self, X, reset=False)
        return -2 * self.score(X) * X.shape[0] + self._n_parameters() * np.log(X.shape[0])

    def aic(self, X):
        """Akaike information criterion (lower is better)."""
        X = check_x(self, X, reset=False)
        return -2 * self.score(X) * X.shape[0] + 2 * self._n_parameters()

    def sample(self, n_samples=1):
        """Draws ``n_samples`` points: ``(X, component labels)``."""
        check_is_fitted(self)
        if not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
            raise ValueError(f"Invalid value for 'n_samples': {n_samples!r}; it must be an integer >= 1")
        return _rs.gmm_sample(
            self.weights_ / self.weights_.sum(), self.means_, self.precisions_cholesky_, self.covariance_type,
            int(n_samples), seed_from(self.random_state),
        )

    def typicality(self, X) -> Typicality:
        """Chi-square typicality of every row for every component, and the outlier score."""
        check_is_fitted(self)
        X = check_x(self, X, reset=False)
        return Typicality._from_dict(
            _rs.gmm_typicality(X, self.weights_, self.means_, self.precisions_cholesky_, self.covariance_type, n_threads(self.n_jobs))
        )

    @property
    def noise_weight_(self):
        """Weight of the noise component (None without one)."""
        check_is_fitted(self)
        return None if self._noise is None else float(np.exp(self._noise[0]))
