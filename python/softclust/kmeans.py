"""k-means with soft memberships."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, ClusterMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from . import _softclust as _rs
from ._base import (
    DEFAULTS,
    FrameOutputMixin,
    InvalidParameterError,
    Membership,
    predict_proba_of,
    ModelFileMixin,
    Typicality,
    check_int,
    check_positive_ints,
    check_weights,
    check_x,
    core,
    dense_only,
    memberships_of,
    table,
    n_threads,
    real,
    seed_from,
    soft_options,
    warn_not_converged,
)


# scikit-learn's names choose for the user; the others are softclust's own.
_ALGORITHMS = {"lloyd": "auto", "elkan": "auto", "hamerly": "hamerly", "exhaustive": "exhaustive"}

class KMeans(ModelFileMixin, ClassNamePrefixFeaturesOutMixin, ClusterMixin, TransformerMixin, FrameOutputMixin,
             BaseEstimator):
    """k-means clustering (greedy k-means++, Lloyd) with principled soft memberships.

    Parameters follow :class:`sklearn.cluster.KMeans`; ``soft`` chooses how distances become
    probabilities in :meth:`predict_proba` (the fitted model owns this soft step, estimated once
    at fit time by the Rust core):

    * ``"auto"`` (default): the softmax variant (one shared ``sigma`` or one per cluster, equal
      or size weights) whose implied spherical Gaussian mixture has the least BIC on the
      training data; ``soft_choice_`` lists the four candidates with their log-likelihoods and
      BIC. Giving ``sigma``, ``per_cluster_variance`` or ``size_weights`` pins the softmax.
      ``predict`` stays the nearest centre (scikit-learn's); where auto picks per-cluster
      variances or size weights, the argmax of ``predict_proba`` (``memberships(X).label``) may
      differ from it near a boundary;
    * ``"softmax"``: ``p_ij ∝ exp(-d_ij² / (2 sigma²))``, the posterior of the
      fixed-variance Gaussian mixture that k-means fits, with ``sigma² = inertia / (n d)``
      estimated at fit time (or ``sigma`` given);
    * ``"inverse-power"``: ``p_ij ∝ d_ij^(-power)``, default ``power = n_features - 1``
      (fuzzy c-means memberships with ``m = 1 + 2 / power``);
    * ``"minmax"``: the linear baseline, for comparison only;
    * ``"anchored"``: the anchored score normalised per row (a score, not a probability);
      anchors ``near``, ``half``, ``far`` are distances or ``"q:0.9"`` quantiles.

    Parameters
    ----------
    n_clusters : int, "auto" or a sequence of ints, default=8
        A range (``range(2, 11)``, a list) fits each k and keeps the one whose implied spherical
        Gaussian mixture (the fit's soft step) has the least BIC, with the table in
        ``k_selection_`` and the chosen k in ``n_clusters_``; "auto" is ``range(1, 11)``.
        k-means++ or random starts only, dense data.
    init : {"k-means++", "random"} or array of shape (n_clusters, n_features), default="k-means++"
        or a callable ``init(X, n_clusters, random_state)`` returning the centres.
    n_init : "auto" or int, default="auto"
        Restarts: "auto" is 1 for k-means++ and given centres, 10 for random and a callable.
    max_iter : int, default=300
    tol : float, default=1e-4
        Relative to the mean per-feature variance.
    random_state : int, RandomState instance or None, default=None
    copy_x : bool, default=True
        Accepted for scikit-learn compatibility: softclust never modifies ``X`` (the kernels
        centre the data on the fly), so both values leave it untouched.
    algorithm : {"lloyd", "elkan", "hamerly", "exhaustive"}, default="lloyd"
        How each iteration finds the nearest centres; every value gives Lloyd's iterations
        (the same labels at every iteration, so the same centres and ``n_iter_``). "lloyd"
        and "elkan" (scikit-learn's names) let softclust choose: Hamerly's triangle-inequality
        bounds for dense data and ``n_clusters >= 2``, which skip the points they prove keep
        their cluster. "hamerly" asks for the bounds, "exhaustive" computes every distance in
        every iteration. A point within rounding of equidistant from two centres may be given
        the other one by the bounded iterations.
    soft : {"auto", "softmax", "inverse-power", "minmax", "anchored"}, default="auto"
    sigma, power, per_cluster_variance, size_weights, temperature : soft options
    near, half, far, far_value : anchored score options
    n_jobs : int, default=None
        Threads (None or -1: all cores). Results do not depend on it.
    verbose : int, default=0
        1 (or more) prints scikit-learn's lines as the fit runs ("Initialization complete",
        "Iteration i, inertia v.", "Converged at iteration i: ..."), a summary line per
        restart and one for the best.

    Attributes
    ----------
    cluster_centers_, labels_, inertia_, n_iter_, converged_, sigma_, n_features_in_,
    feature_names_in_, cluster_variances_ (isotropic, per cluster),
    cluster_feature_variances_ (per cluster and feature), soft_parameters_, soft_choice_ (with
    ``soft="auto"``: a DataFrame, or a dict of lists without pandas, of the four variants with
    ``per_cluster_variance, size_weights, log_likelihood, n_parameters, bic, chosen``; else None),
    n_clusters_ (the k fitted), k_selection_ (for a range of ``n_clusters``: one row per k with
    ``k, bic, log_likelihood, n_parameters, per_cluster_variance, size_weights, inertia, n_iter,
    converged, chosen``; else None).

    Examples
    --------
    >>> import numpy as np
    >>> from softclust import KMeans
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(size=(50, 2)), rng.normal(size=(50, 2)) + [6, 0], [[3.0, 0.0]]])
    >>> km = KMeans(n_clusters=2, random_state=0).fit(X)
    >>> p = km.predict_proba(X)
    >>> bool(np.allclose(p.sum(axis=1), 1.0))
    True
    >>> bool(p[-1].max() < p[:100].max(axis=1).min())  # the point in the middle is the least certain
    True
    >>> km.soft_choice_["chosen"].tolist()  # auto kept one shared sigma for these equal clusters
    [True, False, False, False]
    """

    def __init__(
        self,
        n_clusters=8,
        *,
        init="k-means++",
        n_init="auto",
        max_iter=DEFAULTS["kmeans_max_iter"],
        tol=DEFAULTS["kmeans_tol"],
        random_state=None,
        soft="auto",
        sigma=None,
        power=None,
        per_cluster_variance=False,
        size_weights=False,
        temperature=1.0,
        near=None,
        half=None,
        far=None,
        far_value=DEFAULTS["far_value"],
        n_jobs=None,
        verbose=0,
        copy_x=True,
        algorithm="lloyd",
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
        self.near = near
        self.half = half
        self.far = far
        self.far_value = far_value
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.copy_x = copy_x
        self.algorithm = algorithm

    def fit(self, X, y=None, sample_weight=None):
        """Fits k-means and its soft step on ``X`` (every k of a range, keeping the best by BIC)."""
        X = check_x(self, X, reset=True, sparse=True)
        sw = check_weights(sample_weight, X)
        ks = self._k_range(X)
        self._check_params(X, ks)
        Xc = core(X)
        config = {
            "n_clusters": int(self.n_clusters) if ks is None else ks[0],
            "init": self.init if isinstance(self.init, str) else "k-means++",
            "init_centers": None,
            "n_init": self._n_init,
            "max_iter": int(self.max_iter),
            "tol": real("tol", self.tol),
            "seed": None,
            "algorithm": _ALGORITHMS[self.algorithm],
            "soft": soft_options(
                self.soft, sigma=self.sigma, power=self.power, per_cluster_variance=self.per_cluster_variance,
                size_weights=self.size_weights, temperature=self.temperature, near=self.near, half=self.half,
                far=self.far, far_value=self.far_value,
            ),
        }
        verbose = check_int("verbose", self.verbose, low=0)
        threads = n_threads(self.n_jobs)
        self.k_selection_ = None
        if ks is not None:
            config["n_clusters"] = ks[0]
            config["seed"] = seed_from(self.random_state)
            rows, best, model = _rs.kmeans_select_k(Xc, sw, config, ks, threads)
            self.k_selection_ = table({k: [r[k] for r in rows] for k in rows[0]} | {"chosen": [i == best for i in range(len(rows))]})
        elif isinstance(self.init, str):
            config["seed"] = seed_from(self.random_state)
            model = _rs.kmeans_fit(Xc, sw, config, threads, verbose)
        else:
            # Given centres (one run), or a callable called once per run, as scikit-learn does;
            # the run of least inertia wins.
            rng = check_random_state(self.random_state)
            config["n_init"] = None
            config["seed"] = 0
            model = None
            for _ in range(self._n_init):
                config["init_centers"] = self._initial_centers(X, rng)
                m = _rs.kmeans_fit(Xc, sw, config, threads, verbose)
                if model is None or m.params()["inertia"] < model.params()["inertia"]:
                    model = m
        self._dtype = X.dtype
        self._set_model(model)
        distinct = np.unique(self.labels_).size
        if distinct < self.n_clusters_:
            warnings.warn(
                f"Number of distinct clusters ({distinct}) found smaller than n_clusters "
                f"({self.n_clusters_}). Possibly due to duplicate points in X.",
                ConvergenceWarning,
                stacklevel=2,
            )
        if not self.converged_:
            warn_not_converged("k-means", self.n_iter_, "raise max_iter or tol")
        return self

    def _k_range(self, X):
        """The ks of a range ``n_clusters`` ("auto" is 1..10), or None for one k."""
        k = self.n_clusters
        if isinstance(k, (int, np.integer)) and not isinstance(k, bool):
            return None
        if isinstance(k, str):
            if k != "auto":
                raise InvalidParameterError(f"n_clusters must be an int, 'auto' or a sequence of ints, got {k!r}")
            ks = list(range(1, min(10, X.shape[0]) + 1))
        else:
            try:
                ks = [check_int("every k of n_clusters", v) for v in k]
            except TypeError:
                raise InvalidParameterError(f"n_clusters must be an int, 'auto' or a sequence of ints, got {k!r}") from None
        if not ks or len(set(ks)) != len(ks):
            raise InvalidParameterError(f"n_clusters must list each k once and at least one, got {k!r}")
        if not isinstance(self.init, str):
            raise InvalidParameterError("a range of n_clusters needs init='k-means++' or 'random' (centres fix k)")
        if hasattr(X, "tocsr"):
            raise TypeError("a range of n_clusters needs dense X (sparse input takes one k)")
        return ks

    def _check_params(self, X, ks=None):
        """scikit-learn's parameter checks, with its messages; sets ``_n_init``."""
        if ks is None:
            check_positive_ints(self, "n_clusters", "max_iter")
        else:
            check_positive_ints(self, "max_iter")
        if not isinstance(self.algorithm, str) or self.algorithm not in _ALGORITHMS:
            raise InvalidParameterError(
                f"The 'algorithm' parameter of {type(self).__name__} must be a str among "
                f"{{'lloyd', 'elkan', 'hamerly', 'exhaustive'}}. Got {self.algorithm!r} instead."
            )
        if not isinstance(self.copy_x, (bool, np.bool_)):
            raise InvalidParameterError(f"The 'copy_x' parameter of {type(self).__name__} must be an instance of "
                                        f"'bool'. Got {self.copy_x!r} instead.")
        if isinstance(self.init, str):
            if self.init not in ("k-means++", "random"):
                raise InvalidParameterError(
                    f"The 'init' parameter of {type(self).__name__} must be a str among {{'k-means++', 'random'}}, "
                    f"a callable or an array-like. Got {self.init!r} instead."
                )
        if X.shape[0] < max(ks or [self.n_clusters]):
            raise ValueError(f"n_samples={X.shape[0]} should be >= n_clusters={max(ks or [self.n_clusters])}.")
        if self.n_init == "auto":
            random = callable(self.init) or (isinstance(self.init, str) and self.init == "random")
            self._n_init = DEFAULTS["kmeans_random_n_init"] if random else 1
        else:
            try:
                self._n_init = check_int("n_init", self.n_init)
            except InvalidParameterError:
                raise InvalidParameterError(f"n_init must be 'auto' or an integer >= 1, got {self.n_init!r}") from None
        if not isinstance(self.init, str) and not callable(self.init) and self._n_init != 1:
            warnings.warn(
                "Explicit initial center position passed: performing only one init in "
                f"{type(self).__name__} instead of n_init={self._n_init}.",
                RuntimeWarning,
                stacklevel=3,
            )
            self._n_init = 1
        if self.algorithm == "elkan" and self.n_clusters == 1:
            warnings.warn(
                "algorithm='elkan' doesn't make sense for a single cluster. Using 'lloyd' instead.",
                RuntimeWarning,
                stacklevel=3,
            )

    def _check_centers(self, X, centers):
        if centers.ndim != 2 or centers.shape[0] != self.n_clusters:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not match the number of "
                f"clusters {self.n_clusters}."
            )
        if centers.shape[1] != X.shape[1]:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not match the number of "
                f"features of the data {X.shape[1]}."
            )

    def _initial_centers(self, X, rng):
        """The given centres, or the callable's for this run, as float64 (validated)."""
        if callable(self.init):
            centers = np.asarray(self.init(X, self.n_clusters, random_state=rng))
        else:
            centers = np.asarray(self.init)
        self._check_centers(X, centers)
        return np.ascontiguousarray(centers, dtype=np.float64)

    def _set_model(self, model):
        self._model = model
        r = model.params()
        self.cluster_centers_ = np.asarray(r["cluster_centers"]).astype(getattr(self, "_dtype", np.float64), copy=False)
        self._n_features_out = self.cluster_centers_.shape[0]
        if "labels" in r:
            self.labels_ = r["labels"]
        self.inertia_ = float(r["inertia"])
        self.n_iter_ = int(r["n_iter"])
        self.converged_ = bool(r["converged"])
        soft = r.get("soft")
        self.sigma_ = None if soft is None or soft["sigma"] is None else np.asarray(soft["sigma"])
        self.soft_choice_ = _choice_table(soft)
        self.n_clusters_ = int(model.n_clusters)
        self.cluster_variances_ = r.get("cluster_variances")
        self.cluster_feature_variances_ = r.get("cluster_feature_variances")

    @classmethod
    def _from_model(cls, model):
        p = model.params()
        soft = p.get("soft")
        method = "softmax" if soft is None else ("auto" if soft.get("auto_candidates") else soft["method"])
        est = cls(n_clusters=model.n_clusters, soft=method)
        est._adopt(model)
        return est

    def _x(self, X):
        check_is_fitted(self)
        return check_x(self, X, reset=False, sparse=True)

    def transform(self, X):
        """Euclidean distances to the centres, shape (n_samples, n_clusters)."""
        X = self._x(X)
        return self._model.transform(core(X), n_threads(self.n_jobs)).astype(X.dtype, copy=False)

    def predict(self, X):
        """Nearest centre of each row."""
        X = self._x(X)
        return self._model.predict(core(X), n_threads(self.n_jobs))

    def memberships(self, X, top_k=None) -> Membership:
        """The full contract: probabilities, label, max_p, margin, entropy (``to_frame()``
        for a DataFrame). With ``top_k=K`` the probabilities are a scipy.sparse CSR matrix of
        each row's K largest, computed without the dense matrix."""
        return memberships_of(self, X, top_k)

    def anchored_scores(self, X):
        """The anchored soft step's raw per-cluster scores in [0, 1] (None for other methods)."""
        X = self._x(X)
        return self._model.memberships(core(X), n_threads(self.n_jobs)).get("scores")

    def predict_proba(self, X, out=None):
        """Membership probabilities from the distances, by the model's soft step (a DataFrame
        with columns ``p_0..`` under ``set_output(transform="pandas")``). ``out``: an
        ``(n_samples, n_clusters)`` float64 array to write them into and return (reusing it
        saves allocating and first touching the output on every call)."""
        Xc = self._x(X)
        return predict_proba_of(self, X, core(Xc), out)

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the (weighted) inertia of ``X`` against the fitted centres."""
        X = self._x(X)
        d = self._model.transform(core(X), n_threads(self.n_jobs))
        sw = check_weights(sample_weight, X)
        m = d.min(axis=1) ** 2
        return -float(np.sum(m if sw is None else sw * m))

    def typicality(self, X, spread="isotropic") -> Typicality:
        """Chi-square typicality of every row for every cluster (see :func:`softclust.typicality`)."""
        X = self._x(X)
        dense_only(X, "typicality")
        return Typicality._from_dict(self._model.typicality(X, spread, n_threads(self.n_jobs)))

    @property
    def soft_parameters_(self) -> dict:
        """The fitted soft assignment: method, sigma, weights, power, anchors."""
        check_is_fitted(self)
        return self._model.params()["soft"]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        tags.input_tags.sparse = True
        return tags


def _choice_table(soft):
    """``soft="auto"``'s candidates as a table (None for the other methods)."""
    if soft is None or not soft.get("auto_candidates"):
        return None
    rows = soft["auto_candidates"]
    cols = ["per_cluster_variance", "size_weights", "log_likelihood", "n_parameters", "bic"]
    columns = {c: [r[c] for r in rows] for c in cols}
    columns["chosen"] = [i == soft["auto_chosen"] for i in range(len(rows))]
    return table(columns)
