"""Shared plumbing: input validation, thread counts, seeds, the membership contract."""

from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _softclust as _rs

FLOAT_DTYPES = (np.float64, np.float32)


@dataclass(frozen=True)
class Membership:
    """The output contract shared by every method.

    Attributes
    ----------
    proba : ndarray of shape (n_samples, n_clusters)
        Row-stochastic matrix: ``proba[i, j]`` is the probability that point ``i`` belongs to
        cluster ``j``.
    label : ndarray of shape (n_samples,)
        ``argmax`` of each row (lowest index on ties).
    max_p : ndarray of shape (n_samples,)
        Largest probability of each row.
    margin : ndarray of shape (n_samples,)
        Largest minus second-largest probability.
    entropy : ndarray of shape (n_samples,)
        Shannon entropy of each row, in nats.
    """

    proba: np.ndarray
    label: np.ndarray
    max_p: np.ndarray
    margin: np.ndarray
    entropy: np.ndarray

    @classmethod
    def _from_dict(cls, d: dict) -> "Membership":
        return cls(d["proba"], d["label"], d["max_p"], d["margin"], d["entropy"])


@dataclass(frozen=True)
class Typicality:
    """Per-cluster typicality ``t_ij = P(chi2_d >= D2_ij)`` and the outlier score ``1 - max_j t_ij``."""

    typicality: np.ndarray
    log_typicality: np.ndarray
    outlier: np.ndarray

    @classmethod
    def _from_dict(cls, d: dict) -> "Typicality":
        return cls(d["typicality"], d["log_typicality"], d["outlier"])


DEFAULTS = _rs.DEFAULTS
"""The Rust core's default settings (the CLI's flags take the same)."""


class ModelFileMixin:
    """Saving and loading the model file shared with the CLI (``--model-out``,
    ``softclust predict --model``): one versioned JSON format with the scaler and the feature
    names. The fitted model lives in ``self._model``, a value of the Rust core."""

    def save(self, path) -> None:
        """Writes the fitted model to ``path`` (atomically): the file ``softclust predict
        --model`` reads and :func:`softclust.load` loads back, with identical memberships."""
        check_is_fitted(self)
        names = getattr(self, "feature_names_in_", None)
        text = self._model.to_json(None if names is None else [str(n) for n in names])
        path = os.fspath(path)
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".softclust-", dir=directory)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(text + "\n")
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def _adopt(self, model) -> None:
        """Takes a loaded model: feature count and names from the file, attributes from it."""
        self.n_features_in_ = model.n_features
        names = model.feature_names
        if names != [f"x{j}" for j in range(len(names))]:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        method, center, scale = model.scaler()
        self.scaler_ = None if method == "none" else {"method": method, "center": center, "scale": scale}
        self._set_model(model)


def n_threads(n_jobs) -> int | None:
    """``None`` uses every core; ``-1`` too; a positive integer that many threads."""
    if n_jobs is None:
        return None
    if isinstance(n_jobs, (int, np.integer)) and not isinstance(n_jobs, bool):
        if n_jobs == -1:
            return os.cpu_count() or 1
        if n_jobs >= 1:
            return int(n_jobs)
    raise ValueError(f"n_jobs must be None, -1 or a positive integer, got {n_jobs!r}")


try:  # scikit-learn's own: a ValueError and a TypeError at once
    from sklearn.utils._param_validation import InvalidParameterError
except ImportError:  # pragma: no cover - older scikit-learn
    class InvalidParameterError(ValueError, TypeError):
        """A parameter of the wrong type or out of range."""

MAX_INT = 2**63 - 1
"""The largest count the core takes (a 64-bit index)."""


def check_int(name: str, v, low: int = 1) -> int:
    """``v`` as an int in ``[low, MAX_INT]``, else :class:`InvalidParameterError` (a ValueError
    and a TypeError, as scikit-learn raises) naming the parameter."""
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or not low <= v <= MAX_INT:
        raise InvalidParameterError(f"{name} must be an integer from {low} to 2**63 - 1, got {v!r}")
    return int(v)


def real(name: str, v, optional: bool = False):
    """``v`` as a float (``None`` passes when ``optional``), else :class:`InvalidParameterError`
    naming the parameter. Ranges are checked by the core, with the same messages as the CLI."""
    if v is None and optional:
        return None
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        return float(v)
    raise InvalidParameterError(f"{name} must be a real number, got {v!r}")


def check_positive_ints(est, *names) -> None:
    """Raises :class:`InvalidParameterError` unless each named parameter of ``est`` is an
    integer from 1 to ``MAX_INT``."""
    for name in names:
        check_int(name, getattr(est, name))


def seed_from(random_state) -> int:
    """A 64-bit seed from a scikit-learn style ``random_state``."""
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return int(random_state) & 0xFFFFFFFFFFFFFFFF
    rng = check_random_state(random_state)
    return int(rng.randint(np.iinfo(np.int32).max))


def anchor(a):
    """An anchor as the core parses it: ``"q:0.9"`` (a quantile) or a distance."""
    if a is None or isinstance(a, str):
        return a
    return repr(real("anchor", a))


def soft_options(method, *, sigma=None, power=None, per_cluster_variance=False, size_weights=False,
                 temperature=1.0, near=None, half=None, far=None, far_value=None) -> dict:
    """The soft-assignment options as the core's ``SoftSpec`` takes them."""
    return {
        "method": str(method),
        "sigma": real("sigma", sigma, optional=True),
        "power": real("power", power, optional=True),
        "per_cluster_variance": bool(per_cluster_variance),
        "size_weights": bool(size_weights),
        "temperature": real("temperature", temperature),
        "near": anchor(near),
        "half": anchor(half),
        "far": anchor(far),
        "far_value": real("far_value", DEFAULTS["far_value"] if far_value is None else far_value),
    }


def check_x(est, X, *, reset: bool):
    """Validates ``X`` (float64 or float32, C order, finite, 2-D); float input of either type
    is used as is when already C-contiguous, other input is converted once."""
    return validate_data(
        est,
        X,
        reset=reset,
        dtype=list(FLOAT_DTYPES),
        order="C",
        accept_sparse=False,
        ensure_all_finite=True,
    )


def check_weights(sample_weight, X):
    """``None`` or a float64 array of non-negative weights, one per row."""
    if sample_weight is None:
        return None
    sw = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    return np.ascontiguousarray(sw, dtype=np.float64)


def warn_not_converged(what: str, n_iter: int, advice: str) -> None:
    warnings.warn(
        f"{what} did not converge in {n_iter} iterations; {advice}",
        ConvergenceWarning,
        stacklevel=3,
    )
