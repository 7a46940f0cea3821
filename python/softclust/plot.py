"""Pictures of a fit on matplotlib (``pip install 'softclust[plot]'``), the same as the CLI's
``--plot``: each function draws on ``ax`` (a new figure when ``None``) and returns the figure.

* :func:`clusters`: the data on their first two principal components (or two named columns),
  coloured by label, opacity by ``max_p``, outliers (typicality below 1% in every cluster)
  ringed, centres marked;
* :func:`max_p`: the distribution of ``max_p`` in each cluster;
* :func:`selection`: a criterion against k per covariance type, the winner marked (the table of
  :func:`softclust.select_model`).

Rows beyond ``max_points`` are drawn from a seeded uniform sample.
"""

from __future__ import annotations

import numpy as np

#: Typicality below which, in every cluster, a point is ringed as an outlier.
OUTLIER_TYPICALITY = 0.01

_PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
            "#9c755f", "#bab0ac"]
_NOISE = "#7f7f7f"


def _axes(ax):
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - the extra is missing
        raise ImportError("softclust.plot needs matplotlib: pip install 'softclust[plot]'") from e
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 4.8))
        return fig, ax
    return ax.figure, ax


def _sample(n, cap, seed=0):
    if n <= cap:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=cap, replace=False))


def _array(X):
    if hasattr(X, "to_numpy"):
        return np.asarray(X.to_numpy(), dtype=np.float64)
    return np.asarray(X, dtype=np.float64)


def _colours(labels, k, noise):
    return [(_NOISE if noise and j == k - 1 else _PALETTE[j % len(_PALETTE)]) for j in labels]


def clusters(estimator, X, *, columns=None, ax=None, max_points=5000, seed=0):
    """Scatter of ``X`` on its first two principal components (or the two ``columns``, names
    or positions) coloured by the fitted ``estimator``'s labels, with opacity ``max_p``,
    outliers ringed and centres (``cluster_centers_`` or ``means_``) marked."""
    fig, ax = _axes(ax)
    A = _array(X)
    idx = _sample(A.shape[0], max_points, seed)
    Xs = X.iloc[idx] if hasattr(X, "iloc") else A[idx]
    m = estimator.memberships(Xs)
    k = m.proba.shape[1]
    try:
        t = estimator.typicality(Xs)
        outlier = t.outlier > 1 - OUTLIER_TYPICALITY
    except (AttributeError, TypeError, ValueError):
        outlier = np.zeros(len(idx), dtype=bool)
    centres = getattr(estimator, "cluster_centers_", None)
    if centres is None:
        centres = getattr(estimator, "means_", None)
    pts = A[idx]
    if columns is not None:
        names = list(getattr(X, "columns", range(A.shape[1])))
        cols = [names.index(c) if c in names else int(c) for c in columns]
        xy, cxy = pts[:, cols], None if centres is None else np.asarray(centres)[:, cols]
        xlabel, ylabel = (str(names[c]) for c in cols)
    else:
        mean = pts.mean(axis=0)
        _, s, vt = np.linalg.svd(pts - mean, full_matrices=False)
        axes = vt[:2]
        axes = axes * np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])[:, None]
        share = s**2 / max(float((s**2).sum()), 1e-300)
        xy = (pts - mean) @ axes.T
        if xy.shape[1] == 1:
            xy = np.column_stack([xy, np.zeros(len(xy))])
        cxy = None if centres is None else (np.asarray(centres) - mean) @ axes.T
        xlabel = f"PC1 ({100 * share[0]:.1f}% of the variance)"
        ylabel = f"PC2 ({100 * share[1]:.1f}% of the variance)" if len(share) > 1 else "(one feature)"
    noise = getattr(estimator, "_noise_weight", None) is not None
    colours = _colours(m.label, k, noise)
    rgba = np.array([[int(c[i:i + 2], 16) / 255 for i in (1, 3, 5)] for c in colours])
    rgba = np.column_stack([rgba, np.clip(m.max_p, 0.12, 1.0)])
    ax.scatter(xy[:, 0], xy[:, 1], c=rgba, s=14, linewidths=0)
    if outlier.any():
        ax.scatter(xy[outlier, 0], xy[outlier, 1], s=70, facecolors="none", edgecolors="black",
                   linewidths=1.2, label="outlier")
    if cxy is not None:
        if cxy.shape[1] == 1:
            cxy = np.column_stack([cxy, np.zeros(len(cxy))])
        ax.scatter(cxy[:, 0], cxy[:, 1], marker="X", s=120, c=_colours(range(len(cxy)), k, False),
                   edgecolors="black", linewidths=1.2, label="centre")
    for j in range(k):
        ax.scatter([], [], c=_colours([j], k, noise), s=30, label="noise" if noise and j == k - 1 else f"cluster {j}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title("Clusters (opacity: max_p)")
    ax.legend(loc="best", fontsize="small")
    return fig


def max_p(estimator, X, *, ax=None, bins=20, max_points=20000, seed=0):
    """The distribution of ``max_p`` among the points of each cluster (share of the cluster's
    points per bin)."""
    fig, ax = _axes(ax)
    A = _array(X)
    idx = _sample(A.shape[0], max_points, seed)
    m = estimator.memberships(X.iloc[idx] if hasattr(X, "iloc") else A[idx])
    k = m.proba.shape[1]
    noise = getattr(estimator, "_noise_weight", None) is not None
    lo = np.floor(20 / k) / 20 if k > 1 else 0.0
    edges = np.linspace(lo, 1.0, bins + 1)
    for j in range(k):
        v = m.max_p[m.label == j]
        if len(v) == 0:
            continue
        h, _ = np.histogram(np.clip(v, lo, 1.0), bins=edges)
        ax.stairs(h / len(v), edges, color=_colours([j], k, noise)[0], linewidth=2,
                  label=f"{'noise' if noise and j == k - 1 else f'cluster {j}'} (n={len(v)})")
    ax.set_xlabel("max_p")
    ax.set_ylabel("share of the cluster's points")
    ax.set_title("How sure is each assignment?")
    ax.legend(loc="upper left", fontsize="small")
    return fig


def selection(table, *, ax=None):
    """A criterion against k, one line per covariance type, the chosen model ringed; ``table``
    is the first value :func:`softclust.select_model` returns (a DataFrame or a dict of
    arrays, best first)."""
    fig, ax = _axes(ax)
    k = np.asarray(table["k"], dtype=float)
    crit = np.asarray(table["criterion"], dtype=float)
    types = np.asarray(table["covariance_type"], dtype=object)
    for i, t in enumerate(dict.fromkeys(types)):
        sel = (types == t) & np.isfinite(crit)
        order = np.argsort(k[sel])
        ax.plot(k[sel][order], crit[sel][order], marker="o", color=_PALETTE[i % 10], label=str(t))
    if len(k):
        ax.scatter([k[0]], [crit[0]], s=160, facecolors="none", edgecolors="black", linewidths=2,
                   label="chosen", zorder=3)
    ax.set_xlabel("k (components)")
    ax.set_ylabel("criterion (lower is better)")
    ax.set_title("Model selection")
    ax.legend(loc="best", fontsize="small")
    return fig
