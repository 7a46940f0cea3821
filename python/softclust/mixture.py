"""Gaussian mixtures: a drop-in for :class:`sklearn.mixture.GaussianMixture`, plus sample
weights, typicality, a noise component and automatic regularisation."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils.validation import check_is_fitted

from . import _softclust as _rs
from ._base import (
    DEFAULTS,
    FrameOutputMixin,
    Membership,
    ModelFileMixin,
    Typicality,
    check_int,
    check_positive_ints,
    check_weights,
    check_x,
    memberships_of,
    n_threads,
    real,
    seed_from,
    warn_not_converged,
)

def _config(est, n_components=None, covariance_type=None) -> dict:
    """The EM settings as the core takes them."""
    return {
        "n_components": int(est.n_components if n_components is None else n_components),
        "covariance_type": est.covariance_type if covariance_type is None else covariance_type,
        "tol": real("tol", est.tol),
        "reg_covar": real("reg_covar", est.reg_covar),
        "max_iter": int(est.max_iter),
        "n_init": int(est.n_init),
        "init_params": est.init_params,
        "weights_init": None if est.weights_init is None else np.ascontiguousarray(est.weights_init, dtype=np.float64),
        "means_init": None if est.means_init is None else np.ascontiguousarray(est.means_init, dtype=np.float64),
        "precisions_init": None if est.precisions_init is None else np.ascontiguousarray(est.precisions_init, dtype=np.float64),
        "seed": seed_from(est.random_state),
        "auto_regularize": bool(est.auto_regularize),
        "noise": real("noise", est.noise, optional=True),
    }


class GaussianMixture(ModelFileMixin, DensityMixin, FrameOutputMixin, BaseEstimator):
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
        tol=DEFAULTS["gmm_tol"],
        reg_covar=DEFAULTS["gmm_reg_covar"],
        max_iter=DEFAULTS["gmm_max_iter"],
        n_init=DEFAULTS["gmm_n_init"],
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

    def _set_model(self, model):
        self._model = model
        r = model.params()
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
        self._noise_weight = r["noise_weight"]
        self._n_params = int(r["n_parameters"])

    @classmethod
    def _from_model(cls, model):
        p = model.params()
        est = cls(
            n_components=int(p["n_components"]),
            covariance_type=p["covariance_type"],
            noise=None if p["noise_weight"] is None else float(p["noise_weight"]),
        )
        est._adopt(model)
        return est

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
            warm = self._model
        X = check_x(self, X, reset=warm is None)
        sw = check_weights(sample_weight, X)
        check_positive_ints(self, "n_components", "max_iter", "n_init")
        verbose = check_int("verbose", self.verbose, low=0)
        interval = check_int("verbose_interval", self.verbose_interval)
        self._set_model(_rs.gmm_fit(X, sw, _config(self), warm, n_threads(self.n_jobs), verbose, interval))
        if not self.converged_:
            warn_not_converged(
                "EM", self.n_iter_, "try different init parameters, or increase max_iter, tol, or check for degenerate data"
            )
        return self

    def _x(self, X):
        check_is_fitted(self)
        return check_x(self, X, reset=False)

    def score_samples(self, X):
        """Log-density of each row."""
        X = self._x(X)
        return self._model.score_samples_and_log_proba(X, n_threads(self.n_jobs))[1]

    def criteria(self, X, sample_weight=None) -> dict:
        """Log-likelihood, mean log-likelihood, BIC, AIC and ICL of ``X`` (lower criteria are
        better), with optional sample weights: all from one E-step in the Rust core."""
        X = self._x(X)
        sw = check_weights(sample_weight, X)
        return self._model.criteria(X, sw, n_threads(self.n_jobs))

    def score(self, X, y=None, sample_weight=None):
        """Mean (weighted) log-density."""
        return float(self.criteria(X, sample_weight)["mean_log_likelihood"])

    def predict_log_proba(self, X):
        """Log-responsibilities (with a last noise column when ``noise`` is set)."""
        X = self._x(X)
        return self._model.score_samples_and_log_proba(X, n_threads(self.n_jobs))[0]

    def predict_proba(self, X):
        """Responsibilities (with a last noise column when ``noise`` is set; a DataFrame with
        columns ``p_0..`` (``p_noise``) under ``set_output(transform="pandas")``)."""
        Xc = self._x(X)
        P = self._model.predict_proba(Xc, n_threads(self.n_jobs))
        return self._frame(X, P, self._proba_columns(P.shape[1]))

    def predict(self, X):
        """Most probable component (``n_components`` means noise)."""
        X = self._x(X)
        return self._model.predict(X, n_threads(self.n_jobs))

    def memberships(self, X, top_k=None) -> Membership:
        """The full contract: probabilities, label, max_p, margin, entropy (``to_frame()``
        for a DataFrame); ``top_k=K`` gives sparse probabilities (see
        :meth:`KMeans.memberships`), the noise column always kept."""
        return memberships_of(self, X, top_k)

    def _n_parameters(self):
        """Free parameters (one more with a noise component), as the core counts them."""
        check_is_fitted(self)
        return self._n_params

    def bic(self, X, sample_weight=None):
        """Bayesian information criterion ``-2 ln L + p ln N`` (lower is better); with sample
        weights ``ln L = sum_i w_i ln p(x_i)`` and ``N = sum_i w_i``."""
        return float(self.criteria(X, sample_weight)["bic"])

    def aic(self, X, sample_weight=None):
        """Akaike information criterion ``-2 ln L + 2 p`` (lower is better), weighted as :meth:`bic`."""
        return float(self.criteria(X, sample_weight)["aic"])

    def sample(self, n_samples=1):
        """Draws ``n_samples`` points: ``(X, component labels)``."""
        check_is_fitted(self)
        if not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
            raise ValueError(f"Invalid value for 'n_samples': {n_samples!r}; it must be an integer >= 1")
        return self._model.sample(int(n_samples), seed_from(self.random_state))

    def typicality(self, X) -> Typicality:
        """Chi-square typicality of every row for every component, and the outlier score."""
        X = self._x(X)
        return Typicality._from_dict(self._model.typicality(X, "isotropic", n_threads(self.n_jobs)))

    @property
    def noise_weight_(self):
        """Weight of the noise component (None without one)."""
        check_is_fitted(self)
        return self._noise_weight
