"""Functions: soft assignment from your own distances, model selection, typicality."""

from __future__ import annotations

import numpy as np

from . import _softclust as _rs
from ._base import DEFAULTS, Membership, Typicality, check_int, check_weights, n_threads, soft_options, table
from .consensus import ConsensusKMeans
from .fuzzy import FuzzyCMeans
from .kmeans import KMeans
from .mixture import GaussianMixture, _config


def soft_assign(distances, method="auto", *, squared=False, n_features=None, sigma=None, power=None,
                per_cluster_variance=False, size_weights=False, temperature=1.0, sample_weight=None,
                near=None, half=None, far=None, far_value=DEFAULTS["far_value"]) -> Membership:
    """Memberships from an (n_samples, n_clusters) distance matrix (column j = distances to
    cluster j). ``method`` is "auto" (the softmax variant whose implied mixture has the least
    BIC, see :class:`KMeans`; its candidates in ``.soft["auto_candidates"]``), "softmax",
    "inverse-power", "minmax" or "anchored" (anchors as distances, or "q:0.9" quantiles). Softmax estimates ``sigma`` and inverse-power takes the
    gravity default ``power = n_features - 1`` from ``n_features``, the dimension of the data the
    distances were measured in; without it, the dimension and sigma are estimated from the
    nearest-centre distances by maximum likelihood (``d²/sigma²`` chi-square with ``D`` degrees
    of freedom) and reported in ``.soft["estimated_dim"]`` and ``.soft["estimated_sigma"]``.

    >>> import numpy as np
    >>> from softclust import soft_assign
    >>> m = soft_assign(np.array([[1.0, 2.0, 4.0]]), "inverse-power", power=2)
    >>> np.round(m.proba, 4).tolist()
    [[0.7619, 0.1905, 0.0476]]
    """
    d = np.ascontiguousarray(np.asarray(distances, dtype=np.float64))
    if d.ndim != 2:
        raise ValueError(f"distances must be a 2-D array (n_samples, n_clusters), got shape {d.shape}")
    sw = check_weights(sample_weight, d)
    options = soft_options(
        method, sigma=sigma, power=power, per_cluster_variance=per_cluster_variance, size_weights=size_weights,
        temperature=temperature, near=near, half=half, far=far, far_value=far_value,
    )
    if n_features is not None:
        n_features = check_int("n_features", n_features)
    r = _rs.soft_assign(d, bool(squared), options, n_features, sw)
    return Membership._from_dict(r, soft=r["soft"])


def select_model(X, k_range=range(1, 11), covariance_types=("full", "tied", "diag", "spherical"),
                 criterion="bic", *, sample_weight=None, n_jobs=None, **gmm_params):
    """Fits a :class:`GaussianMixture` for every k in ``k_range`` and covariance type, ranks them
    by ``criterion`` ("bic", "aic" or "icl"; lower is better) and returns ``(table, best)``.

    ``table`` is a pandas DataFrame when pandas is installed (else a dict of arrays) with one row
    per candidate, best first, failed fits (singular covariances) last with the reason; ``best``
    is the winning fitted :class:`GaussianMixture`.
    """
    est = GaussianMixture(**gmm_params)
    from ._base import check_x

    X = check_x(est, X, reset=True)
    sw = check_weights(sample_weight, X)
    if isinstance(covariance_types, str):
        covariance_types = [covariance_types]
    rows, best = _rs.gmm_select(
        X, sw, [check_int("every k of k_range", k) for k in k_range], list(covariance_types), criterion, _config(est), n_threads(n_jobs)
    )
    keys = ["k", "covariance_type", "criterion", "bic", "aic", "icl", "mean_log_likelihood", "n_parameters", "converged", "failed"]
    columns = {key: np.array([r[key] for r in rows], dtype=object if key in ("covariance_type", "failed") else None) for key in keys}
    p = best.params()
    model = GaussianMixture(**{**gmm_params, "n_components": p["n_components"], "covariance_type": p["covariance_type"]})
    model.n_features_in_ = X.shape[1]
    if hasattr(est, "feature_names_in_"):
        model.feature_names_in_ = est.feature_names_in_
    model._set_model(best)
    return table(columns), model


def typicality(X, model, spread="isotropic") -> Typicality:
    """Chi-square typicality of every row of ``X`` for every cluster of a fitted
    :class:`KMeans`, :class:`FuzzyCMeans` or :class:`GaussianMixture`: ``t_ij = P(chi2_d >= D2_ij)``
    and ``outlier = 1 - max_j t_ij``. Far outliers get ≈ 0 in every cluster.
    """
    if isinstance(model, GaussianMixture):
        return model.typicality(X)
    if isinstance(model, (KMeans, FuzzyCMeans)):
        return model.typicality(X, spread=spread)
    if isinstance(model, ConsensusKMeans):
        return Typicality._from_dict(model._model.typicality(model._x(X), spread, n_threads(model.n_jobs)))
    raise TypeError(f"typicality needs a fitted KMeans, FuzzyCMeans or GaussianMixture, got {type(model).__name__}")


def load(path):
    """Loads a model file written by :meth:`save` of any estimator or by the CLI's
    ``--model-out``, as the matching fitted estimator (:class:`KMeans`,
    :class:`GaussianMixture`, :class:`FuzzyCMeans` or :class:`ConsensusKMeans`). Predictions take
    raw data: a CLI model's scaler (``scaler_``) is applied inside, and its fitted attributes
    are in the scaled units.
    """
    with open(path, encoding="utf-8") as f:
        text = f.read()
    model = _rs.model_from_json(text, str(path))
    cls = {"kmeans": KMeans, "gmm": GaussianMixture, "fcm": FuzzyCMeans, "consensus": ConsensusKMeans}[model.kind]
    return cls._from_model(model)
