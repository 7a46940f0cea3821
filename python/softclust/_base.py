"""Shared plumbing: input validation, thread counts, seeds, the membership contract."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight, validate_data

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


def check_positive_ints(est, *names) -> None:
    """Raises ValueError unless each named parameter of ``est`` is an integer >= 1."""
    for name in names:
        v = getattr(est, name)
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")


def seed_from(random_state) -> int:
    """A 64-bit seed from a scikit-learn style ``random_state``."""
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return int(random_state) & 0xFFFFFFFFFFFFFFFF
    rng = check_random_state(random_state)
    return int(rng.randint(np.iinfo(np.int32).max))


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
