#!/usr/bin/env python3
"""Regenerate the frozen scikit-learn reference values used by `cargo test`.

Usage (any environment with scikit-learn and numpy):

    python -m venv /tmp/fx && /tmp/fx/bin/pip install scikit-learn numpy
    /tmp/fx/bin/python scripts/make_fixtures.py

Writes crates/softclust/tests/fixtures/kmeans_sklearn.json. Every case stores its input data,
the initial centres and the outputs of sklearn.cluster.KMeans(init=centres, n_init=1,
algorithm="lloyd"), with the library versions used. Floats are written with repr() so they
round-trip exactly.
"""
import json
import platform
import sys
from pathlib import Path

import numpy as np
import sklearn
from sklearn.cluster import KMeans
from sklearn.datasets import load_iris

OUT = Path(__file__).resolve().parent.parent / "crates/softclust/tests/fixtures/kmeans_sklearn.json"


def anisotropic_blobs(rng, n, d, k, spread=1.0):
    centers = rng.normal(scale=6.0, size=(k, d))
    labels = rng.integers(0, k, size=n)
    x = np.empty((n, d))
    for j in range(k):
        a = rng.normal(size=(d, d)) * spread / np.sqrt(d)
        idx = labels == j
        x[idx] = centers[j] + rng.normal(size=(idx.sum(), d)) @ a
    return x


def case(name, x, init, sample_weight=None, max_iter=300, tol=1e-4, dtype=np.float64, note=""):
    x = np.asarray(x, dtype=dtype)
    init = np.asarray(init, dtype=dtype)
    km = KMeans(n_clusters=init.shape[0], init=init, n_init=1, max_iter=max_iter, tol=tol,
                algorithm="lloyd")
    km.fit(x, sample_weight=sample_weight)
    return {
        "name": name,
        "note": note,
        "dtype": np.dtype(dtype).name,
        "x": x.astype(np.float64).tolist(),
        "sample_weight": None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64).tolist(),
        "init": init.astype(np.float64).tolist(),
        "max_iter": max_iter,
        "tol": tol,
        "labels": km.labels_.tolist(),
        "centers": km.cluster_centers_.astype(np.float64).tolist(),
        "inertia": float(km.inertia_),
        "n_iter": int(km.n_iter_),
        "transform": km.transform(x).astype(np.float64).tolist(),
    }


def main():
    rng = np.random.default_rng(20261128)
    iris = load_iris().data
    cases = []
    cases.append(case("iris_k3", iris, iris[rng.choice(150, 3, replace=False)],
                      note="Iris, k=3, initial centres = three random rows"))
    cases.append(case("iris_k5_maxiter2", iris, iris[rng.choice(150, 5, replace=False)], max_iter=2,
                      note="stopped by max_iter: exercises the final assignment step"))
    blobs = anisotropic_blobs(rng, 600, 5, 4)
    w = rng.uniform(0.1, 3.0, size=600)
    cases.append(case("blobs_weighted", blobs, blobs[rng.choice(600, 4, replace=False)], sample_weight=w,
                      note="anisotropic blobs with sample weights"))
    cases.append(case("blobs_loose_tol", blobs, blobs[rng.choice(600, 6, replace=False)], tol=1e-1,
                      note="large tol: stops on the centre-shift criterion"))
    far = blobs[rng.choice(600, 3, replace=False)].copy()
    far = np.vstack([far, np.full((1, 5), 1000.0)])
    cases.append(case("blobs_empty_cluster", blobs, far,
                      note="one initial centre far from all data: empty-cluster relocation"))
    overlap = anisotropic_blobs(rng, 2000, 8, 6, spread=8.0)
    cases.append(case("overlap_k6", overlap, overlap[rng.choice(2000, 6, replace=False)],
                      note="heavily overlapping clusters, many iterations"))
    cases.append(case("iris_f32", iris, iris[[3, 60, 120]], dtype=np.float32,
                      note="float32 data (scikit-learn accumulates in float32, softclust in float64)"))
    doc = {
        "generated_by": "scripts/make_fixtures.py",
        "versions": {
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "cases": cases,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=None, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({len(cases)} cases, scikit-learn {sklearn.__version__})", file=sys.stderr)


if __name__ == "__main__":
    main()
