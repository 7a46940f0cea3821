"""softclust on Dask: k-means, Gaussian mixtures and fuzzy c-means for data that do not fit in
one process, on a Dask cluster (``pip install 'softclust[dask]'``).

The estimators take the parameters of the in-memory ones and fit ``dask.array`` or
``dask.dataframe`` input (numpy too). Every iteration is one pass over the data: each block of
rows goes through the same Rust kernel that the in-memory fit runs (on one thread: the workers
are the parallelism) and returns a flat vector of sufficient statistics, which add up in a tree
(``split_every = 8``); the parameters travel once per iteration. The loop itself (stopping
rules, empty-cluster relocation, M-steps, regularisation) runs in the Rust core on the client,
and it is the in-memory fit's loop, so from the same start a Dask fit and an in-memory fit give
the same parameters up to the order of floating-point sums (1e-10 relative in the tests).

* :class:`KMeans`: k-means|| initialisation (Bahmani et al. 2012) with the candidates weighted
  by the points they attract and reduced to ``n_clusters`` by the in-memory k-means on them
  (``n_init`` restarts there, where they are cheap), then Lloyd passes. ``partial_fit`` is
  mini-batch k-means with per-centre learning rates ``W_batch / W_total``.
* :class:`GaussianMixture`: started from the given ``weights_init``, ``means_init`` and
  ``precisions_init``, else from an in-memory fit on a uniform sample of about ``sample_size``
  rows, then EM passes. ``partial_fit`` is stepwise EM with step ``(t + 2) ** -alpha``.
* :class:`FuzzyCMeans`: started from given centres or an in-memory fit on a sample.

The data are persisted once (``persist``), after their columns are merged into one chunk so
that every block holds whole rows. Prediction on dask input is lazy (a dask array, or for a
dask dataframe a dask dataframe with the input's index); on numpy it is the in-memory
estimator's. A fitted estimator is an ordinary softclust model: it pickles, and ``save``
writes the common model file that :func:`softclust.load` and the CLI read.
"""

from __future__ import annotations

import numbers

import numpy as np

try:
    import dask
    import dask.array as da
    from dask import delayed
except ImportError as e:  # pragma: no cover - the extra is missing
    raise ImportError("softclust.dask needs Dask: pip install 'softclust[dask]'") from e

from sklearn.utils.validation import check_is_fitted

from . import _softclust as _rs
from . import fuzzy as _fuzzy
from . import kmeans as _kmeans
from . import mixture as _mixture
from ._base import (
    InvalidParameterError,
    check_int,
    check_positive_ints,
    check_weights,
    check_x,
    real,
    seed_from,
    soft_options,
    table,
    warn_em_not_converged,
    warn_not_converged,
)

SPLIT_EVERY = 8
"""Fan-in of the tree that sums the blocks' statistics."""

BLOCK_ROWS = 100_000
"""Rows per block when numpy input is cut into blocks."""

SAMPLE_SIZE = 100_000
"""Expected rows of the uniform sample that starts mixtures and fuzzy c-means."""

KMEANS_PARALLEL_ROUNDS = 5
"""Rounds of k-means|| sampling (each draws about ``2 n_clusters`` candidates)."""

__all__ = ["FuzzyCMeans", "GaussianMixture", "KMeans", "select_model"]


def _is_frame(X) -> bool:
    try:
        import dask.dataframe as dd
    except ImportError:  # pragma: no cover
        return False
    return isinstance(X, (dd.DataFrame, dd.Series))


def _is_dask(X) -> bool:
    return isinstance(X, da.Array) or _is_frame(X)


def _sum(*parts):
    return np.sum(np.stack(parts), axis=0)


def _tree_sum(parts):
    """Sums delayed vectors in a tree of fan-in ``SPLIT_EVERY``."""
    while len(parts) > 1:
        parts = [delayed(_sum, pure=False)(*parts[i : i + SPLIT_EVERY]) for i in range(0, len(parts), SPLIT_EVERY)]
    return parts[0]


def _block_error(i, offsets, e):
    where = f"block {i}"
    if offsets is not None:
        where += f" (rows {offsets[i]} to {offsets[i + 1] - 1} of X)"
    return ValueError(f"{where}: {e} (row numbers within the block)")


def _run(fn, i, offsets, xb, wb, params):
    """Runs a block kernel on one block, naming the block in errors."""
    xb = np.ascontiguousarray(xb)
    if wb is not None:
        wb = np.ascontiguousarray(wb, dtype=np.float64).reshape(-1)
    try:
        return fn(xb, wb, *params)
    except ValueError as e:
        raise _block_error(i, offsets, e) from None


class _Blocks:
    """``X`` (and its weights) as persisted blocks of whole rows."""

    def __init__(self, est, X, sample_weight, *, reset: bool):
        names = None
        if _is_frame(X):
            frame = X.to_frame() if getattr(X, "ndim", 2) == 1 else X
            bad = [str(c) for c, t in frame.dtypes.items() if not np.issubdtype(np.dtype(t), np.number)]
            if bad:
                raise ValueError(f"columns {bad} are not numeric; select the feature columns first")
            names = np.asarray([str(c) for c in frame.columns], dtype=object)
            arr = frame.to_dask_array()
        elif isinstance(X, da.Array):
            arr = X
        else:
            Xn = np.asarray(X)
            if Xn.ndim != 2:
                raise ValueError(f"Expected a 2-D array, got {Xn.ndim}-D")
            arr = da.from_array(Xn, chunks=(max(1, min(len(Xn), BLOCK_ROWS)), -1))
        if arr.ndim != 2:
            raise ValueError(f"Expected a 2-D array, got {arr.ndim}-D")
        if arr.dtype not in (np.float64, np.float32):
            if not np.issubdtype(arr.dtype, np.number):
                raise ValueError(f"X has dtype {arr.dtype}; softclust needs numbers")
            arr = arr.astype(np.float64)
        if len(arr.chunks[1]) > 1:
            arr = arr.rechunk({1: -1})
        d = arr.shape[1]
        if isinstance(d, float) and np.isnan(d):  # pragma: no cover - columns are known
            raise ValueError("the number of columns of X is unknown")
        if reset:
            est.n_features_in_ = int(d)
            if names is not None:
                est.feature_names_in_ = names
            elif hasattr(est, "feature_names_in_"):
                del est.feature_names_in_
        elif d != est.n_features_in_:
            raise ValueError(f"X has {d} features, but {type(est).__name__} is expecting {est.n_features_in_} features as input.")
        self.dtype = arr.dtype
        self.n_features = int(d)
        rows = arr.chunks[0]
        self.offsets = None if any(np.isnan(r) for r in rows) else np.concatenate([[0], np.cumsum(rows)]).astype(int)
        xb = arr.to_delayed().ravel().tolist()
        wb = [None] * len(xb)
        if sample_weight is not None:
            w = sample_weight
            if _is_frame(w):
                w = w.to_dask_array()
            if isinstance(w, da.Array):
                if w.ndim != 1:
                    raise ValueError("sample_weight must be 1-D")
                if self.offsets is not None and not any(np.isnan(c) for c in w.chunks[0]):
                    if w.shape[0] != arr.shape[0]:
                        raise ValueError(f"sample_weight has {w.shape[0]} values for {arr.shape[0]} rows")
                    w = w.rechunk((rows,))
                if len(w.chunks[0]) != len(xb):
                    raise ValueError(
                        f"sample_weight has {len(w.chunks[0])} blocks and X {len(xb)}: give weights "
                        "partitioned like X (e.g. a column of the same dataframe)"
                    )
            else:
                wn = np.asarray(w, dtype=np.float64).reshape(-1)
                if self.offsets is None:
                    raise ValueError("sample_weight as numpy needs X with known block sizes; give a dask array or series partitioned like X")
                if len(wn) != self.offsets[-1]:
                    raise ValueError(f"sample_weight has {len(wn)} values for {self.offsets[-1]} rows")
                w = da.from_array(wn, chunks=(rows,))
            wb = w.to_delayed().ravel().tolist()
        persisted = dask.persist(*xb, *[b for b in wb if b is not None])
        self.x = list(persisted[: len(xb)])
        self.w = list(persisted[len(xb) :]) if sample_weight is not None else wb

    def each(self, fn, *params):
        """One delayed call per block: ``fn(block, weights, *params)``. The parameters are one
        task of the graph (sent once, not per block); the calls get fresh keys (``pure=False``:
        hashing every argument on every pass would cost more than it saves)."""
        p = delayed(params, pure=False) if params else ()
        return [
            delayed(_run, pure=False)(fn, i, self.offsets, xb, wb, p)
            for i, (xb, wb) in enumerate(zip(self.x, self.w))
        ]

    def total(self, fn, *params) -> np.ndarray:
        """One pass: the blocks' statistics summed in a tree."""
        return np.asarray(dask.compute(_tree_sum(self.each(fn, *params)))[0], dtype=np.float64)

    def gather(self, fn, *params) -> list:
        """One pass: every block's result, in block order."""
        return list(dask.compute(*self.each(fn, *params)))


def _first_pass(xb, wb, d):
    """``[n, column sums, total weight]`` of a block, validating values and weights."""
    s = _rs.block_column_stats(xb, wb, [0.0] * d, False)
    return np.concatenate([s, [float(len(xb)) if wb is None else float(np.sum(wb))]])


def _auto_pass(xb, wb, model):
    return _rs.kmeans_block_auto_soft(xb, wb, model)


def _variance_pass(xb, wb, shift):
    return _rs.block_column_stats(xb, wb, shift, True)


def _start(data: _Blocks, n_clusters: int):
    """Two passes: the column means (the in-memory fits' centring vector, rounded to the data's
    float type), the mean feature variance, the row count and the total weight."""
    d = data.n_features
    s = data.total(_first_pass, d)
    n, sums, wsum = s[0], s[1 : 1 + d], s[1 + d]
    if n == 0:
        raise ValueError("X has no rows")
    if n < n_clusters:
        raise ValueError(f"n_samples={int(n)} should be >= n_clusters={n_clusters}.")
    if not wsum > 0:
        raise ValueError("the sample weights sum to zero: give some rows a positive weight")
    mu = (sums / n).astype(data.dtype).astype(np.float64)
    var = data.total(_variance_pass, list(mu))[1:].sum() / (n * d)
    return mu, float(var), int(n), float(wsum)


def _sample_block(xb, wb, p, seed):
    """A Bernoulli sample of a block's rows (probability ``p``), with their weights."""
    rng = np.random.default_rng(seed)
    keep = rng.random(len(xb)) < p
    w = np.ones(len(xb)) if wb is None else np.asarray(wb, dtype=np.float64)
    keep &= w > 0
    return np.asarray(xb)[keep], w[keep]


def _sample(data: _Blocks, n: int, size: int, seed: int):
    """A uniform sample of about ``size`` rows (all rows when there are fewer), with weights."""
    p = min(1.0, size / max(n, 1))
    seeds = np.random.SeedSequence(seed).spawn(len(data.x))
    parts = dask.compute(
        *[
            delayed(_sample_block, pure=True)(xb, wb, p, s.generate_state(1)[0])
            for xb, wb, s in zip(data.x, data.w, seeds)
        ]
    )
    xs = np.concatenate([a for a, _ in parts]) if parts else np.zeros((0, data.n_features))
    ws = np.concatenate([b for _, b in parts]) if parts else np.zeros(0)
    return np.ascontiguousarray(xs), ws


def _parallel_round(xb, wb, cands, mu, factor, seed):
    cost, rows = _rs.kmeans_block_parallel_sample(xb, wb, cands, mu, factor, int(seed))
    return cost, np.asarray(xb)[rows]


def _lazy_rows(X, fn, width, dtype, columns=None):
    """``fn`` applied block by block to a dask array (or dataframe: a dask dataframe with the
    input's index and ``columns``)."""
    if _is_frame(X):
        import pandas as pd

        def part(df):
            out = fn(np.ascontiguousarray(df.to_numpy()))
            if out.ndim == 1:
                return pd.Series(out, index=df.index, name=columns)
            return pd.DataFrame(out, index=df.index, columns=columns)

        if isinstance(columns, str):
            meta = pd.Series(np.zeros(0, dtype=dtype), name=columns)
        else:
            meta = pd.DataFrame({c: np.zeros(0, dtype=dtype) for c in columns})
        return X.map_partitions(part, meta=meta)
    X = X if isinstance(X, da.Array) else da.asarray(X)
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    if width is None:
        return X.map_blocks(lambda b: fn(np.ascontiguousarray(b)), drop_axis=1, dtype=dtype)
    return X.map_blocks(lambda b: fn(np.ascontiguousarray(b)), chunks=(X.chunks[0], (width,)), dtype=dtype)


def _contract_frame(est, X, width, top_k=None):
    """The membership contract of a dask dataframe, lazily: ``p_0..p_{k-1}`` (``p_noise``),
    ``label, max_p, margin, entropy`` with the input's index; with ``top_k``, the top-K form
    ``c_1, p_1, ..., c_K, p_K, label, max_p, margin, entropy`` (and ``p_noise``), each block cut
    by the core without its dense memberships."""
    model = est._model
    summary = ["label", "max_p", "margin", "entropy"]
    if top_k is None:
        cols = est._proba_columns(width) + summary

        def fn(b):
            m = model.memberships(_as_float(b), 1)
            return np.column_stack([m["proba"], m["label"], m["max_p"], m["margin"], m["entropy"]])

        return _lazy_rows(X, fn, None, np.float64, cols).astype({"label": "int64"})
    noise = getattr(est, "_noise_weight", None) is not None
    k = width - int(noise)
    kt = check_int("top_k", top_k)
    if kt > k:
        raise ValueError(f"top_k = {kt}: keep from 1 to {k} probabilities per row (the model has {k} clusters)")
    tops = [name for t in range(1, kt + 1) for name in (f"c_{t}", f"p_{t}")]
    cols = tops + summary + (["p_noise"] if noise else [])

    def fn_top(b):
        d = model.top_k(_as_float(b), kt, 1)
        parts = []
        for t in range(kt):
            parts += [d["index"][:, t], d["proba"][:, t]]
        parts += [d["label"], d["max_p"], d["margin"], d["entropy"]]
        if d["noise"] is not None:
            parts.append(d["noise"])
        return np.column_stack(parts)

    ints = {c: "int64" for c in cols if c.startswith("c_")} | {"label": "int64"}
    return _lazy_rows(X, fn_top, None, np.float64, cols).astype(ints)


def _as_float(b):
    return b if b.dtype in (np.float64, np.float32) else b.astype(np.float64)


class _DaskMixin:
    """Lazy prediction on dask input; the in-memory estimator's methods on numpy."""

    def _dask_x(self, X):
        check_is_fitted(self)
        if _is_frame(X):
            d = len(X.columns)
        else:
            d = X.shape[1]
        if d != self.n_features_in_:
            raise ValueError(f"X has {d} features, but {type(self).__name__} is expecting {self.n_features_in_} features as input.")
        return X

    def _lazy(self, X, method, width, dtype=np.float64, columns=None):
        X = self._dask_x(X)
        model = self._model
        if method == "predict":
            def fn(b):
                return model.predict(_as_float(b), 1)
        else:
            def fn(b):
                return getattr(model, method)(_as_float(b), 1)
        if _is_frame(X) and columns is None:
            columns = "label" if width is None else [f"p_{j}" for j in range(width)]
        return _lazy_rows(X, fn, width, dtype, columns)

    def predict(self, X):
        """Labels; lazy (dask) for dask input."""
        if _is_dask(X):
            return self._lazy(X, "predict", None, np.int64)
        return super().predict(X)

    def predict_proba(self, X):
        """Probabilities; lazy (dask) for dask input."""
        if _is_dask(X):
            return self._lazy(X, "predict_proba", self._n_columns())
        return super().predict_proba(X)

    def memberships(self, X, top_k=None):
        """The full contract; for dask input lazily: a dask dataframe with columns ``p_0..,
        label, max_p, margin, entropy`` (the input's index kept for a dataframe), or with
        ``top_k=K`` the top-K form ``c_1, p_1, ..., c_K, p_K, label, ...`` computed block by
        block without the dense memberships."""
        if _is_dask(X):
            X = self._dask_x(X)
            if not _is_frame(X):
                import dask.dataframe as dd

                X = dd.from_dask_array(X if len(X.chunks[1]) == 1 else X.rechunk({1: -1}))
            return _contract_frame(self, X, self._n_columns(), top_k)
        return super().memberships(X, top_k)

    def typicality(self, X, *args, **kwargs):
        """Typicality; for dask input the lazy outlier score ``1 - max_j t_ij`` per row."""
        if _is_dask(X):
            X = self._dask_x(X)
            model = self._model
            spread = args[0] if args else kwargs.get("spread", "isotropic")

            def fn(b):
                return model.typicality(_as_float(b), spread, 1)["outlier"]

            return _lazy_rows(X, fn, None, np.float64, "outlier")
        return super().typicality(X, *args, **kwargs)

    def _n_columns(self):
        return self._width()

    def __getstate__(self):
        # Lazy training labels refer to the cluster's persisted data: they do not travel.
        state = super().__getstate__()
        if isinstance(state.get("labels_"), da.Array):
            state = dict(state)
            del state["labels_"]
        return state


def _resolve_n_init(n_init, init_is_random: bool) -> int:
    if n_init == "auto":
        return 10 if init_is_random else 1
    try:
        return check_int("n_init", n_init)
    except InvalidParameterError:
        raise InvalidParameterError(f"n_init must be 'auto' or an integer >= 1, got {n_init!r}") from None


class KMeans(_DaskMixin, _kmeans.KMeans):
    """k-means on Dask, with the parameters, attributes and methods of :class:`softclust.KMeans`.

    ``init="k-means++"`` runs k-means|| (five rounds drawing about ``2 n_clusters`` candidates
    each, the candidates weighted by the points nearest to them), then the in-memory k-means on
    the weighted candidates with ``n_init`` restarts; ``"random"`` draws ``n_clusters`` rows from
    a uniform sample; an array gives the centres. The soft step is estimated from the fit's
    per-cluster sums (``softmax`` or ``inverse-power``), or, for ``auto`` (the default), chosen
    in one more pass over the blocks; ``minmax`` and ``anchored`` need the training distances
    and are refused. ``labels_`` is a lazy dask array.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from softclust.dask import KMeans
    >>> X = da.from_array(np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]]), chunks=(2, 2))
    >>> km = KMeans(n_clusters=2, init=np.array([[0.0, 0.5], [10.0, 0.5]])).fit(X)
    >>> km.cluster_centers_.tolist()
    [[0.0, 0.5], [10.0, 0.5]]
    >>> km.predict_proba(X).compute().shape
    (4, 2)
    """

    def _width(self):
        return int(self.n_clusters)

    def fit(self, X, y=None, sample_weight=None):
        """Fits k-means over the blocks of ``X`` (see the class documentation)."""
        check_positive_ints(self, "n_clusters", "max_iter")
        k = int(self.n_clusters)
        soft = soft_options(
            self.soft, sigma=self.sigma, power=self.power, per_cluster_variance=self.per_cluster_variance,
            size_weights=self.size_weights, temperature=self.temperature, near=self.near, half=self.half,
            far=self.far, far_value=self.far_value,
        )
        tol = real("tol", self.tol)
        if isinstance(self.init, str) and self.init not in ("k-means++", "random"):
            raise ValueError(f"init must be 'k-means++', 'random' or an array of centres, got {self.init!r}")
        n_init = _resolve_n_init(self.n_init, isinstance(self.init, str) and self.init == "random")
        data = _Blocks(self, X, sample_weight, reset=True)
        mu, var, n, _ = _start(data, k)
        seed = seed_from(self.random_state)
        if isinstance(self.init, str):
            init = self._init_centers(data, mu, n, k, n_init, seed)
        else:
            init = np.ascontiguousarray(self.init, dtype=np.float64)
            if init.shape != (k, data.n_features):
                raise ValueError(f"init has shape {init.shape}; expected ({k}, {data.n_features})")
        model = _rs.kmeans_fit_blocks(
            data.dtype == np.float32,
            init,
            mu,
            int(self.max_iter),
            tol * var,
            soft,
            lambda c: data.total(_rs.kmeans_block_stats, c, mu),
            lambda old, m: self._candidates(data, old, mu, m),
            lambda c: data.total(_rs.kmeans_block_deviations, c, mu),
        )
        if model.params().get("soft") is None and soft["method"] == "auto":
            # Auto weighs its variants on the data: one more pass.
            model = model.with_auto_soft(list(data.total(_auto_pass, model)), soft)
        self._set_model(model)
        self.labels_ = self._labels(data)
        if not self.converged_:
            warn_not_converged("k-means", self.n_iter_, "raise max_iter or tol")
        return self

    def _labels(self, data):
        model = self._model
        parts = [delayed(lambda b: model.predict(_as_float(np.ascontiguousarray(b)), 1), pure=True)(xb) for xb in data.x]
        n = [np.nan if data.offsets is None else int(data.offsets[i + 1] - data.offsets[i]) for i in range(len(parts))]
        return da.concatenate([da.from_delayed(p, shape=(m,), dtype=np.int64) for p, m in zip(parts, n)])

    @staticmethod
    def _candidates(data, old, mu, m):
        parts = data.gather(_rs.kmeans_block_candidates, old, mu, int(m))
        rows = []
        for b, (dist, idx, labels, weights, coords) in enumerate(parts):
            for j in range(len(dist)):
                rows.append((-dist[j], b, int(idx[j]), int(labels[j]), float(weights[j]), coords[j]))
        rows.sort(key=lambda r: (r[0], r[1], r[2]))
        rows = rows[: int(m)]
        d = len(mu)
        return (
            np.asarray([r[3] for r in rows], dtype=np.int64),
            np.asarray([r[4] for r in rows], dtype=np.float64),
            np.asarray([r[5] for r in rows], dtype=np.float64).reshape(len(rows), d),
        )

    def _init_centers(self, data, mu, n, k, n_init, seed):
        rng = np.random.default_rng(seed)
        if self.init == "random":
            xs, ws = _sample(data, n, max(50 * k, 1000), seed)
            if len(xs) < k:
                xs, ws = _sample(data, n, n, seed)
            idx = rng.choice(len(xs), size=k, replace=False, p=ws / ws.sum())
            return np.ascontiguousarray(xs[idx], dtype=np.float64)
        # k-means||: a first candidate drawn with probability proportional to weight, then
        # rounds that draw each row with probability l w d² / phi.
        xs, ws = _sample(data, n, max(20 * k, 100), seed)
        first = rng.choice(len(xs), p=ws / ws.sum())
        cands = np.ascontiguousarray(xs[first : first + 1], dtype=np.float64)
        ell = 2.0 * k
        phi = float(np.sum([c for c, _ in data.gather(_parallel_round, cands, mu, 0.0, 0)]))
        seeds = np.random.SeedSequence(seed)
        for r in range(KMEANS_PARALLEL_ROUNDS):
            if not phi > 0:
                break
            round_seeds = seeds.spawn(len(data.x))
            parts = dask.compute(
                *[
                    delayed(_run, pure=True)(_parallel_round, i, data.offsets, xb, wb, (cands, mu, ell / phi, s.generate_state(1, np.uint64)[0]))
                    for i, (xb, wb, s) in enumerate(zip(data.x, data.w, round_seeds))
                ]
            )
            phi = float(sum(c for c, _ in parts))
            new = [rows for _, rows in parts if len(rows)]
            if new:
                cands = np.ascontiguousarray(np.concatenate([cands] + [np.asarray(a, dtype=np.float64) for a in new]))
        cands = np.unique(cands, axis=0)
        # Weight each candidate by the points nearest to it (one pass), then k-means on them.
        kc = len(cands)
        st = data.total(_rs.kmeans_block_stats, cands, mu)
        weight = st[1 : 1 + kc]
        keep = weight > 0
        cands, weight = cands[keep], weight[keep]
        if len(cands) < k:
            # Too few distinct candidates: top up from a uniform sample.
            xs, ws = _sample(data, n, max(50 * k, 1000), seed + 1)
            extra = xs[rng.choice(len(xs), size=min(len(xs), k), replace=False)]
            cands = np.unique(np.concatenate([cands, extra]), axis=0)
            weight = data.total(_rs.kmeans_block_stats, np.ascontiguousarray(cands), mu)[1 : 1 + len(cands)] + 1e-12
        local = _kmeans.KMeans(n_clusters=k, n_init=n_init, random_state=seed, max_iter=300, tol=real("tol", self.tol))
        local.fit(cands, sample_weight=weight)
        return np.ascontiguousarray(local.cluster_centers_, dtype=np.float64)

    def partial_fit(self, X, y=None, sample_weight=None):
        """Mini-batch k-means (Sculley 2010) on one batch: each centre moves to
        ``c_j + (W_bj / W_j)(m_bj - c_j)``, with ``m_bj`` the batch's mean of its points,
        ``W_bj`` their weight and ``W_j`` the centre's total weight so far (a per-centre
        learning rate). The first batch is fitted in memory (``n_clusters`` rows at least). The
        soft step is re-estimated after every batch from the running deviation sums."""
        Xs = X if not _is_dask(X) else None
        if _is_dask(X):
            # A dask batch: its blocks in turn.
            data = _Blocks(self, X, sample_weight, reset=not hasattr(self, "_mb"))
            for i, (xb, wb) in enumerate(zip(data.x, data.w)):
                xb, wb = dask.compute(xb, wb)
                self._partial_numpy(np.asarray(xb), None if wb is None else np.asarray(wb))
            return self
        return self._partial_numpy(Xs, sample_weight)

    def _partial_numpy(self, X, sample_weight):
        first = not hasattr(self, "_mb")
        X = check_x(self, X, reset=first)
        sw = check_weights(sample_weight, X)
        soft = soft_options(
            self.soft, sigma=self.sigma, power=self.power, per_cluster_variance=self.per_cluster_variance,
            size_weights=self.size_weights, temperature=self.temperature, near=self.near, half=self.half,
            far=self.far, far_value=self.far_value,
        )
        k = int(self.n_clusters)
        if first:
            init = self.init if isinstance(self.init, str) else np.asarray(self.init, dtype=np.float64)
            km = _kmeans.KMeans(n_clusters=k, init=init, n_init=self.n_init, max_iter=int(self.max_iter),
                                tol=self.tol, random_state=self.random_state).fit(X, sample_weight=sw)
            centers = np.asarray(km.cluster_centers_, dtype=np.float64)
            mu = np.asarray(X.mean(axis=0), dtype=np.float64)
            st = _rs.kmeans_block_stats(X, sw, centers, mu)
            self._mb = {"mu": mu, "counts": st[1 : 1 + k].copy(), "dev": np.zeros(k + k * X.shape[1]), "steps": 0}
        else:
            mb = self._mb
            mu, centers = mb["mu"], np.asarray(self.cluster_centers_, dtype=np.float64)
            st = _rs.kmeans_block_stats(X, sw, centers, mu)
            d = X.shape[1]
            wb = st[1 : 1 + k]
            sums = st[1 + 2 * k :].reshape(k, d)
            counts = mb["counts"] + wb
            for j in np.flatnonzero(wb > 0):
                mean = mu + sums[j] / wb[j]
                centers[j] += (wb[j] / counts[j]) * (mean - centers[j])
            mb["counts"] = counts
        mb = self._mb
        mb["steps"] += 1
        mb["dev"] = mb["dev"] + _rs.kmeans_block_deviations(X, sw, centers, mb["mu"])
        model = _rs.kmeans_model_from_stats(X.dtype == np.float32, centers, mb["mu"], mb["dev"], mb["steps"], soft)
        if model.params().get("soft") is None and soft["method"] == "auto":
            # Auto weighs its variants on the latest batch (the sums are the running ones).
            model = model.with_auto_soft(list(_rs.kmeans_block_auto_soft(X, sw, model)), soft)
        self._set_model(model)
        return self


class GaussianMixture(_DaskMixin, _mixture.GaussianMixture):
    """Gaussian mixture on Dask, with the parameters, attributes and methods of
    :class:`softclust.GaussianMixture` (``noise`` excepted).

    EM runs over the blocks: one pass per iteration accumulates the log-likelihood, the
    responsibilities' weights, first moments and second moments about the current means, and the
    core's M-step (with ``reg_covar`` and ``auto_regularize``) turns them into the next
    parameters. The start: ``weights_init``, ``means_init`` and ``precisions_init`` when all three
    are given, else the in-memory fit (with this estimator's settings and ``n_init``) on a uniform
    sample of about ``SAMPLE_SIZE`` rows. ``tol`` is on the mean log-likelihood, as in memory.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from softclust.dask import GaussianMixture
    >>> rng = np.random.default_rng(0)
    >>> X = da.from_array(np.vstack([rng.normal(0, 1, (200, 2)), rng.normal(8, 1, (200, 2))]), chunks=(100, 2))
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> sorted(int(round(v)) for v in gm.means_[:, 0])
    [0, 8]
    """

    def _width(self):
        return int(self.n_components)

    def _fit(self, X, sample_weight):
        """EM over the blocks of ``X`` (``fit`` and ``fit_predict`` are the in-memory class's)."""
        if self.noise is not None:
            raise ValueError("noise= is not available on Dask yet: fit softclust.GaussianMixture in memory")
        check_positive_ints(self, "n_components", "max_iter", "n_init")
        warm = self.warm_start and hasattr(self, "converged_")
        data = _Blocks(self, X, sample_weight, reset=not warm)
        k = int(self.n_components)
        mu, var, n, wsum = _start(data, k)
        seed = seed_from(self.random_state)
        t = self.covariance_type
        if warm:
            p = self._model.params()
        elif self.weights_init is not None and self.means_init is not None and self.precisions_init is not None:
            p = _rs.gmm_model_from_parameters(
                np.asarray(self.weights_init, dtype=np.float64), np.ascontiguousarray(self.means_init, dtype=np.float64),
                np.ascontiguousarray(self.precisions_init, dtype=np.float64), t, False,
            ).params()
        else:
            xs, ws = _sample(data, n, SAMPLE_SIZE, seed)
            local = _mixture.GaussianMixture(**{**self.get_params(), "warm_start": False, "n_jobs": None})
            p = local.fit(xs, sample_weight=ws)._model.params()
        start = {
            "weights": np.asarray(p["weights"], dtype=np.float64),
            "means": np.ascontiguousarray(p["means"], dtype=np.float64),
            "precisions_cholesky": np.ascontiguousarray(p["precisions_cholesky"], dtype=np.float64),
            "covariance_type": t,
            "m0": [float(v) for v in mu],
        }
        model = _rs.gmm_fit_blocks(
            start, wsum, int(self.max_iter), real("tol", self.tol), real("reg_covar", self.reg_covar),
            bool(self.auto_regularize), var, lambda params: data.total(_rs.gmm_block_stats, params),
        )
        self._set_model(model)
        if not self.converged_:
            warn_em_not_converged(self.n_iter_)
        return self

    def partial_fit(self, X, y=None, sample_weight=None, alpha=0.7):
        """Stepwise EM (Cappé & Moulines 2009) on one batch: the batch's own M-step statistics
        (weights, means, covariances about the means) are blended into the running ones with
        step ``eta_t = (t + 2) ** -alpha`` (``0.5 < alpha <= 1``), by the exact rule for pooling
        means and scatters, then ``reg_covar`` is added. The first batch is fitted in memory."""
        if not 0.5 < alpha <= 1:
            raise ValueError(f"alpha must be in (0.5, 1], got {alpha!r}")
        if _is_dask(X):
            data = _Blocks(self, X, sample_weight, reset=not hasattr(self, "_sem"))
            for xb, wb in zip(data.x, data.w):
                xb, wb = dask.compute(xb, wb)
                self._partial_numpy(np.asarray(xb), None if wb is None else np.asarray(wb), alpha)
            return self
        return self._partial_numpy(X, sample_weight, alpha)

    def _partial_numpy(self, X, sample_weight, alpha):
        first = not hasattr(self, "_sem")
        X = check_x(self, X, reset=first)
        sw = check_weights(sample_weight, X)
        t = self.covariance_type
        reg = real("reg_covar", self.reg_covar)
        if first:
            local = _mixture.GaussianMixture(**{**self.get_params(), "warm_start": False, "n_jobs": None})
            local.fit(X, sample_weight=sw)
            self._set_model(local._model)
            self._sem = {"t": 0, "m0": [float(v) for v in X.mean(axis=0)],
                         "w": np.asarray(self.weights_, dtype=np.float64),
                         "means": np.asarray(self.means_, dtype=np.float64),
                         "cov": _unreg(np.asarray(self.covariances_, dtype=np.float64), t, reg)}
            return self
        s = self._sem
        params = {
            "weights": np.asarray(self.weights_, dtype=np.float64),
            "means": np.ascontiguousarray(self.means_, dtype=np.float64),
            "precisions_cholesky": np.ascontiguousarray(self.precisions_cholesky_, dtype=np.float64),
            "covariance_type": t,
            "m0": s["m0"],
        }
        nk, means_b, cov_b, _ = _rs.gmm_batch_moments(X, sw, params)
        s["t"] += 1
        eta = (s["t"] + 2.0) ** (-alpha)
        a = (1 - eta) * s["w"]
        b = eta * nk / nk.sum()
        tot = a + b
        delta = means_b - s["means"]
        means = (a[:, None] * s["means"] + b[:, None] * means_b) / tot[:, None]
        shift = (a * b / tot)
        if t == "full":
            cov = (a[:, None, None] * s["cov"] + b[:, None, None] * cov_b + shift[:, None, None] * np.einsum("ki,kj->kij", delta, delta)) / tot[:, None, None]
        elif t == "tied":
            cov = (1 - eta) * s["cov"] + eta * cov_b + np.einsum("k,ki,kj->ij", shift, delta, delta)
        elif t == "diag":
            cov = (a[:, None] * s["cov"] + b[:, None] * cov_b + shift[:, None] * delta**2) / tot[:, None]
        else:
            cov = (a * s["cov"] + b * cov_b + shift * (delta**2).mean(axis=1)) / tot
        s.update(w=tot / tot.sum(), means=means, cov=cov)
        model = _rs.gmm_model_from_parameters(s["w"], np.ascontiguousarray(means), np.ascontiguousarray(_reg(cov, t, reg)), t, True)
        self._set_model(model)
        return self


def _reg(cov, t, reg):
    cov = np.array(cov, dtype=np.float64, copy=True)
    d = cov.shape[-1] if t != "spherical" else None
    if t == "full":
        cov[:, np.arange(d), np.arange(d)] += reg
    elif t == "tied":
        cov[np.arange(d), np.arange(d)] += reg
    else:
        cov += reg
    return cov


def _unreg(cov, t, reg):
    return _reg(cov, t, -reg)


class FuzzyCMeans(_DaskMixin, _fuzzy.FuzzyCMeans):
    """Fuzzy c-means on Dask, with the parameters, attributes and methods of
    :class:`softclust.FuzzyCMeans`. Each pass recomputes the previous memberships from the
    previous centres instead of storing them (twice the arithmetic of the in-memory pass, no
    n x k state). The start: given centres, else the in-memory fit on a uniform sample of about
    ``SAMPLE_SIZE`` rows.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from softclust.dask import FuzzyCMeans
    >>> X = da.from_array(np.array([[0.0], [0.2], [5.0], [5.2], [2.6]]), chunks=(2, 1))
    >>> fcm = FuzzyCMeans(n_clusters=2, init=np.array([[0.0], [5.0]])).fit(X)
    >>> bool(np.allclose(fcm.predict_proba(X).compute().sum(axis=1), 1))
    True
    """

    def _width(self):
        return int(self.n_clusters)

    def fit(self, X, y=None, sample_weight=None):
        """Fits fuzzy c-means over the blocks of ``X``."""
        check_positive_ints(self, "n_clusters", "max_iter")
        k = int(self.n_clusters)
        m = real("m", self.m)
        if isinstance(self.init, str) and self.init != "k-means++":
            raise ValueError(f"init must be 'k-means++' or an array of centres, got {self.init!r}")
        data = _Blocks(self, X, sample_weight, reset=True)
        mu, _, n, _ = _start(data, k)
        if isinstance(self.init, str):
            xs, ws = _sample(data, n, SAMPLE_SIZE, seed_from(self.random_state))
            local = _fuzzy.FuzzyCMeans(n_clusters=k, m=m, max_iter=int(self.max_iter), tol=self.tol, random_state=self.random_state)
            init = np.ascontiguousarray(local.fit(xs, sample_weight=ws).cluster_centers_, dtype=np.float64)
        else:
            init = np.ascontiguousarray(self.init, dtype=np.float64)
            if init.shape != (k, data.n_features):
                raise ValueError(f"init has shape {init.shape}; expected ({k}, {data.n_features})")
        start = data.total(_rs.fcm_block_stats, None, False, init, mu, m)
        model = _rs.fcm_fit_blocks(
            data.dtype == np.float32, start, init, mu, m, int(self.max_iter), real("tol", self.tol),
            lambda prev, first, c: data.total(_rs.fcm_block_stats, prev, first, c, mu, m),
            lambda c: data.total(_rs.fcm_block_final, c, mu, m),
        )
        self._set_model(model)
        if not self.converged_:
            warn_not_converged("fuzzy c-means", self.n_iter_, "raise max_iter or tol")
        return self


def select_model(X, k_range, covariance_types=("full", "tied", "diag", "spherical"), criterion="bic",
                 sample_weight=None, **params):
    """Fits a :class:`GaussianMixture` on Dask for every (k, covariance type) and ranks them by
    ``criterion`` ("bic", "aic" or "icl"; lower is better); the data are persisted once and
    shared by every fit, and each candidate's criterion costs one more pass. Returns ``(table,
    best)``: a list of dicts (a pandas DataFrame when pandas is installed) and the best fitted
    estimator."""
    if criterion not in ("bic", "aic", "icl"):
        raise ValueError(f"criterion must be 'bic', 'aic' or 'icl', got {criterion!r}")
    ks = list(k_range)
    if not ks:
        raise ValueError("k_range is empty")
    probe = GaussianMixture()
    data = _Blocks(probe, X, sample_weight, reset=True)
    xs = da.concatenate([da.from_delayed(b, shape=(np.nan, data.n_features), dtype=data.dtype) for b in data.x])
    ws = None
    if sample_weight is not None:
        ws = da.concatenate([da.from_delayed(b, shape=(np.nan,), dtype=np.float64) for b in data.w])
    rows, best, best_value = [], None, np.inf
    for t in covariance_types:
        for k in ks:
            est = GaussianMixture(n_components=int(k), covariance_type=t, **params)
            row = {"k": int(k), "covariance_type": t}
            try:
                est.fit(xs, sample_weight=ws)
                crit = _criteria(est, data)
                row.update(crit, criterion=crit[criterion], converged=est.converged_, failed=None)
                if crit[criterion] < best_value:
                    best, best_value = est, crit[criterion]
            except ValueError as e:
                row.update(criterion=np.nan, converged=False, failed=str(e))
            rows.append(row)
    if best is None:
        raise ValueError("every candidate failed: " + "; ".join(str(r["failed"]) for r in rows))
    if hasattr(probe, "feature_names_in_"):
        best.feature_names_in_ = probe.feature_names_in_
    return table(rows), best


def _criteria_block(xb, wb, model):
    lp = model.score_samples_and_log_proba(_as_float(xb), 1)
    ll = lp[1]
    w = np.ones(len(xb)) if wb is None else wb
    return np.array([np.sum(w * ll), np.sum(w), np.sum(w * np.max(lp[0], axis=1))])


def _criteria(est, data) -> dict:
    """Log-likelihood, BIC, AIC and ICL over the blocks (one pass)."""
    s = data.total(_criteria_block, est._model)
    ll, n, max_log_r = s
    p = est._n_parameters()
    bic = -2 * ll + p * np.log(n)
    return {"bic": bic, "aic": -2 * ll + 2 * p, "icl": bic - 2 * max_log_r,
            "mean_log_likelihood": ll / n, "n_parameters": p}
