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
    proba : ndarray of shape (n_samples, n_clusters), or scipy.sparse CSR matrix
        Row-stochastic matrix: ``proba[i, j]`` is the probability that point ``i`` belongs to
        cluster ``j``. With ``memberships(X, top_k=K)`` it is a CSR matrix holding each row's
        K largest probabilities (and a noise component's, always), the rest left out.
    label : ndarray of shape (n_samples,)
        ``argmax`` of each row (lowest index on ties).
    max_p : ndarray of shape (n_samples,)
        Largest probability of each row.
    margin : ndarray of shape (n_samples,)
        Largest minus second-largest probability.
    entropy : ndarray of shape (n_samples,)
        Shannon entropy of each row, in nats (of the full row, also with ``top_k``).
    index : pandas Index or None
        The index of ``X`` when ``X`` was a pandas DataFrame, kept by :meth:`to_frame`.
    noise : bool
        Whether the last column is a noise component (``p_noise``).
    top : tuple of two ndarrays or None
        With ``top_k``: the clusters ``(n, K)`` and probabilities ``(n, K)`` of each row's K
        largest probabilities, in decreasing order.
    soft : dict or None
        From :func:`soft_assign`: the fitted soft step (``method``, ``sigma``, ``weights``,
        ``power``, ``anchors``, and ``estimated_dim`` / ``estimated_sigma`` when the dimension
        was estimated from the distances).
    """

    proba: object
    label: np.ndarray
    max_p: np.ndarray
    margin: np.ndarray
    entropy: np.ndarray
    index: object = None
    noise: bool = False
    top: object = None
    library: object = None
    soft: object = None

    @classmethod
    def _from_dict(cls, d: dict, **kw) -> "Membership":
        return cls(d["proba"], d["label"], d["max_p"], d["margin"], d["entropy"], **kw)

    def to_frame(self, library=None):
        """The contract as a DataFrame: ``p_0 .. p_{k-1}`` (``p_noise`` for a noise component),
        ``label``, ``max_p``, ``margin``, ``entropy``, with the input's index when ``X`` was a
        pandas DataFrame. In the top-K form the probability columns are ``c_1, p_1, ..., c_K,
        p_K`` (clusters and probabilities, largest first) and ``p_noise``. ``library`` is
        ``"pandas"`` or ``"polars"`` (default: the input's, else pandas)."""
        lib = library or self.library or "pandas"
        cols = {}
        if self.top is not None:
            idx, p = self.top
            for t in range(idx.shape[1]):
                cols[f"c_{t + 1}"] = idx[:, t]
                cols[f"p_{t + 1}"] = p[:, t]
        else:
            k = self.proba.shape[1]
            for j in range(k):
                cols["p_noise" if self.noise and j == k - 1 else f"p_{j}"] = self.proba[:, j]
        cols.update(label=self.label, max_p=self.max_p, margin=self.margin, entropy=self.entropy)
        if self.top is not None and self.noise:
            cols["p_noise"] = np.asarray(self.proba[:, self.proba.shape[1] - 1].todense()).ravel()
        if lib == "polars":
            import polars as pl

            return pl.DataFrame(cols)
        if lib != "pandas":
            raise ValueError(f"library must be 'pandas' or 'polars', got {library!r}")
        import pandas as pd

        return pd.DataFrame(cols, index=self.index)


def table(columns):
    """A table of ``columns`` (a dict of columns, or a list of row dicts): a pandas DataFrame when
    pandas is installed, else the columns themselves."""
    try:
        import pandas as pd
    except ImportError:
        return columns
    return pd.DataFrame(columns)


def input_library(X):
    """``("pandas", index)`` for pandas input, ``("polars", None)`` for polars, else
    ``(None, None)``."""
    root = type(X).__module__.split(".")[0]
    if root == "pandas":
        return "pandas", getattr(X, "index", None)
    if root == "polars":
        return "polars", None
    return None, None


def predict_proba_of(est, X, Xc, out=None, dtype=None):
    """``est``'s probabilities of ``Xc`` (``X`` as validated), computed by the core into
    ``out`` when given (an ``(n_samples, n_clusters)`` float64 array, which is returned as it
    is), else into a new array (cast to ``dtype`` if given, framed as ``set_output`` asks)."""
    threads = n_threads(est.n_jobs)
    # Xc is a dense array or core()'s CSR tuple (indptr, indices, data, n_rows, n_cols).
    n_rows = Xc[3] if isinstance(Xc, tuple) else Xc.shape[0]
    if out is None:
        # NumPy's uninitialised allocation (which asks the kernel for huge pages) costs a
        # fraction of first-touching zeroed pages from the worker threads; every entry is
        # written.
        P = est._model.predict_proba(Xc, threads, np.empty((n_rows, int(est._model.n_clusters))))
        if dtype is not None:
            P = P.astype(dtype, copy=False)
        return est._frame(X, P, est._proba_columns(P.shape[1]))
    shape = (n_rows, int(est._model.n_clusters))
    if not isinstance(out, np.ndarray) or out.dtype != np.float64 or out.shape != shape:
        got = f"{type(out).__name__} {getattr(out, 'dtype', '')} {getattr(out, 'shape', '')}".strip()
        raise ValueError(f"out must be a float64 numpy array of shape {shape}; got {got}")
    if not out.flags.writeable:
        raise ValueError("out must be writeable")
    return est._model.predict_proba(Xc, threads, out)


def memberships_of(est, X, top_k=None) -> Membership:
    """The contract of ``X`` under the fitted ``est`` (see :class:`Membership`); with
    ``top_k``, computed by the core in row chunks without the dense matrix."""
    import scipy.sparse as sp

    lib, index = input_library(X)
    Xc = est._x(X)
    noise = getattr(est, "_noise_weight", None) is not None
    threads = n_threads(est.n_jobs)
    if top_k is None:
        return Membership._from_dict(est._model.memberships(core(Xc), threads), index=index, noise=noise,
                                     library=lib)
    k_top = check_int("top_k", top_k)
    d = est._model.top_k(core(Xc), k_top, threads)
    idx, p = d["index"], d["proba"]
    n, kt = idx.shape
    k = int(est._model.n_clusters)
    if d["noise"] is not None:
        idx = np.hstack([idx, np.full((n, 1), k - 1, dtype=idx.dtype)])
        p = np.hstack([p, d["noise"][:, None]])
    width = idx.shape[1]
    # Copies: sorting the indices permutes the matrix's arrays in place, and ``top`` keeps
    # the arrays in decreasing order of probability.
    csr = sp.csr_matrix((p.ravel().copy(), idx.ravel().copy(), np.arange(0, n * width + 1, width)), shape=(n, k))
    csr.sort_indices()
    return Membership(
        csr, d["label"], d["max_p"], d["margin"], d["entropy"], index=index, noise=noise,
        top=(d["index"], d["proba"]), library=lib,
    )


class FrameOutputMixin:
    """scikit-learn's ``set_output(transform="pandas" | "polars")`` for every estimator:
    :meth:`transform` (scikit-learn wraps it) and :meth:`predict_proba` return DataFrames with
    named columns, keeping the index of a pandas input."""

    def set_output(self, *, transform=None):
        """Sets the container of :meth:`transform` and :meth:`predict_proba` outputs:
        ``"default"`` (numpy), ``"pandas"`` or ``"polars"``; ``None`` leaves it unchanged."""
        if transform is None:
            return self
        if transform not in ("default", "pandas", "polars"):
            raise ValueError(f"transform must be 'default', 'pandas', 'polars' or None, got {transform!r}")
        if not hasattr(self, "_sklearn_output_config"):
            self._sklearn_output_config = {}
        self._sklearn_output_config["transform"] = transform
        return self

    def _proba_columns(self, k):
        noise = getattr(self, "_noise_weight", None) is not None
        return ["p_noise" if noise and j == k - 1 else f"p_{j}" for j in range(k)]

    def _frame(self, X, values, columns):
        from sklearn.utils._set_output import _get_output_config

        dense = _get_output_config("transform", self)["dense"]
        if dense == "default":
            return values
        _, index = input_library(X)
        if dense == "polars":
            import polars as pl

            return pl.DataFrame(values, schema=list(columns), orient="row")
        import pandas as pd

        return pd.DataFrame(values, columns=list(columns), index=index)


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
            # As the CLI: an existing file keeps its mode, a new one gets 0644 (mkstemp's
            # temporary file is 0600, which would hide the model from other users).
            try:
                mode = os.stat(path).st_mode & 0o7777
            except FileNotFoundError:
                mode = 0o644
            os.chmod(tmp, mode)
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


def check_x(est, X, *, reset: bool, sparse: bool = False):
    """Validates ``X`` (float64 or float32, C order, finite, 2-D); float input of either type
    is used as is when already C-contiguous, other input is converted once. With ``sparse``,
    scipy sparse input is accepted and comes back as CSR (CSC and the other formats are
    converted)."""
    return validate_data(
        est,
        X,
        reset=reset,
        dtype=list(FLOAT_DTYPES),
        order="C",
        accept_sparse="csr" if sparse else False,
        ensure_all_finite=True,
    )


def core(X):
    """What the core takes: a dense array as it is, a scipy CSR matrix as the tuple
    ``(indptr, indices, data, n_rows, n_cols)`` in canonical form (duplicate entries summed,
    column indices sorted; the caller's matrix is not modified), int32 or int64 indices as
    scipy holds them."""
    import scipy.sparse as sp

    if not sp.issparse(X):
        return X
    X = X.tocsr()
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    data = np.ascontiguousarray(X.data)
    if data.dtype not in (np.float64, np.float32):
        data = data.astype(np.float64)
    n, d = X.shape
    index = lambda a: np.ascontiguousarray(a if a.dtype in (np.int32, np.int64) else a.astype(np.int64))  # noqa: E731
    return (index(X.indptr), index(X.indices), data, int(n), int(d))


def dense_only(X, what: str):
    """Refuses scipy sparse ``X`` for a method that needs dense rows, saying what to do."""
    import scipy.sparse as sp

    if sp.issparse(X):
        raise TypeError(f"{what} needs dense data; pass X.toarray() (sparse input works for fit, predict, "
                        "transform, predict_proba, memberships and score)")


def check_weights(sample_weight, X):
    """``None`` or a float64 array of non-negative weights, one per row."""
    if sample_weight is None:
        return None
    sw = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    return np.ascontiguousarray(sw, dtype=np.float64)


def warn_em_not_converged(n_iter: int) -> None:
    """scikit-learn's warning for a mixture whose best run did not converge (its wording, which
    its users match on), with the iteration count."""
    warnings.warn(
        "Best performing initialization did not converge. Try different init parameters, or increase "
        f"max_iter, tol, or check for degenerate data. (EM stopped after {n_iter} iterations.)",
        ConvergenceWarning,
        stacklevel=3,
    )


def warn_not_converged(what: str, n_iter: int, advice: str) -> None:
    warnings.warn(
        f"{what} did not converge in {n_iter} iterations; {advice}",
        ConvergenceWarning,
        stacklevel=3,
    )
