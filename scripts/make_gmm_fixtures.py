#!/usr/bin/env python3
"""Regenerate the frozen scikit-learn GaussianMixture reference values used by `cargo test`.

Usage (any environment with scikit-learn and numpy):

    python -m venv /tmp/fx && /tmp/fx/bin/pip install scikit-learn numpy
    /tmp/fx/bin/python scripts/make_gmm_fixtures.py

Writes crates/softclust/tests/fixtures/gmm_sklearn.json with, for each covariance type:
  fixed: given weights, means and precisions -> predict_proba and score_samples;
  em:    EM from weights_init/means_init/precisions_init for a fixed number of iterations (tol=0)
         -> weights, means, covariances, precision factors, lower bounds, bic, aic;
  em_tol: the same with the default tol, so convergence and n_iter are compared too.
"""
import json
import platform
import sys
import warnings
from pathlib import Path

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky_from_precisions

OUT = Path(__file__).resolve().parent.parent / "crates/softclust/tests/fixtures/gmm_sklearn.json"
TYPES = ["full", "tied", "diag", "spherical"]


def data(rng):
    k, d = 3, 3
    centers = np.array([[0.0, 0.0, 0.0], [6.0, 1.0, -2.0], [-3.0, 5.0, 2.0]])
    xs = []
    for j in range(k):
        a = rng.normal(size=(d, d)) * (0.6 + 0.5 * j)
        xs.append(centers[j] + rng.normal(size=(150 + 50 * j, d)) @ a)
    return np.vstack(xs)


def precisions_for(t, rng, k, d):
    def spd():
        a = rng.normal(size=(d, d))
        return a @ a.T + d * np.eye(d)
    if t == "full":
        return np.array([np.linalg.inv(spd()) for _ in range(k)])
    if t == "tied":
        return np.linalg.inv(spd())
    if t == "diag":
        return rng.uniform(0.2, 2.0, size=(k, d))
    return rng.uniform(0.2, 2.0, size=k)


def tolist(a):
    return np.asarray(a, dtype=np.float64).tolist()


def main():
    rng = np.random.default_rng(20261128)
    x = data(rng)
    k, d = 3, x.shape[1]
    probe = np.vstack([x[:40], rng.normal(scale=30.0, size=(10, d))])  # far points probe the tails
    cases = []
    for t in TYPES:
        weights = rng.dirichlet(np.ones(k) * 3)
        means = x[rng.choice(len(x), k, replace=False)] + rng.normal(scale=0.5, size=(k, d))
        precisions = precisions_for(t, rng, k, d)
        gm = GaussianMixture(n_components=k, covariance_type=t)
        gm.weights_ = weights
        gm.means_ = means
        gm.precisions_cholesky_ = _compute_precision_cholesky_from_precisions(precisions, t, xp=np)
        fixed = {
            "weights": tolist(weights),
            "means": tolist(means),
            "precisions": tolist(precisions),
            "x": tolist(probe),
            "predict_proba": tolist(gm.predict_proba(probe)),
            "score_samples": tolist(gm.score_samples(probe)),
        }
        em = {}
        for label, tol, max_iter in [("em", 0.0, 7), ("em_tol", 1e-3, 100)]:
            g = GaussianMixture(n_components=k, covariance_type=t, weights_init=weights, means_init=means,
                                precisions_init=precisions, max_iter=max_iter, tol=tol)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                g.fit(x)
            em[label] = {
                "tol": tol,
                "max_iter": max_iter,
                "weights": tolist(g.weights_),
                "means": tolist(g.means_),
                "covariances": tolist(g.covariances_),
                "precisions_cholesky": tolist(g.precisions_cholesky_),
                "lower_bound": float(g.lower_bound_),
                "lower_bounds": tolist(g.lower_bounds_),
                "n_iter": int(g.n_iter_),
                "converged": bool(g.converged_),
                "bic": float(g.bic(x)),
                "aic": float(g.aic(x)),
                "predict_proba": tolist(g.predict_proba(x[:20])),
            }
        cases.append({"covariance_type": t, "fixed": fixed, **em})
    doc = {
        "generated_by": "scripts/make_gmm_fixtures.py",
        "versions": {
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "x": tolist(x),
        "n_components": k,
        "cases": cases,
    }
    OUT.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} (scikit-learn {sklearn.__version__})", file=sys.stderr)


if __name__ == "__main__":
    main()
