"""Quality benchmark: how right are the probabilities of each library's defaults?

Data are drawn from known Gaussian mixtures, so the true posterior of every point is exact.
For each family and seed, every method is fitted with its library's defaults (only the number
of clusters and the seed are given) and scored on:

* reach: whether the fit reaches the best objective found for that method over all seeds (the
  inertia for k-means, the mean log-likelihood for mixtures, the fuzzy objective for c-means),
  within 1e-6 relative;
* KL: the mean over points of KL(true posterior || memberships), after matching clusters to
  components (the Hungarian method on the soft contingency table, as softclust.metrics does);
  the table gives its mean and worst over seeds;
* time: the median wall time of fit + memberships.

Run: bash bench/run --quality [--quick] [--seeds N]  (writes docs/quality.md)
"""

from __future__ import annotations

import argparse
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

import softclust
import sklearn
from sklearn.cluster import KMeans as SkKMeans
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture as SkGMM

try:
    import skfuzzy
except ImportError:  # optional peer
    skfuzzy = None


@dataclass
class Family:
    name: str
    weights: np.ndarray
    means: np.ndarray
    covs: np.ndarray
    n: int
    outliers: float = 0.0
    well_posed: bool = True

    @property
    def k(self):
        return len(self.weights)

    def draw(self, rng):
        z = rng.choice(self.k, size=self.n, p=self.weights)
        x = np.empty((self.n, self.means.shape[1]))
        for j in range(self.k):
            idx = np.flatnonzero(z == j)
            x[idx] = rng.multivariate_normal(self.means[j], self.covs[j], size=len(idx))
        n_out = int(round(self.outliers * self.n))
        box = None
        if n_out:
            lo, hi = x.min(axis=0) - 5, x.max(axis=0) + 5
            box = (lo, hi)
            x[:n_out] = rng.uniform(lo, hi, size=(n_out, x.shape[1]))
        return x, box

    def posterior(self, x, box):
        """The true posterior over the k Gaussian components (an outlier component, when
        present, is part of the generating model; the posterior is over the clusters)."""
        lp = np.column_stack([
            np.log(w) + multivariate_normal(m, c, allow_singular=False).logpdf(x)
            for w, m, c in zip(self.weights, self.means, self.covs)
        ])
        return np.exp(lp - logsumexp(lp, axis=1, keepdims=True))


def families(quick: bool) -> list[Family]:
    n = 1000 if quick else 4000
    rng = np.random.default_rng(12345)
    out = []
    # 4 equal spherical clusters in 5-D, well apart (the k-means case).
    means = np.zeros((4, 5))
    means[np.arange(4), np.arange(4)] = 6.0
    out.append(Family("equal spherical (d=5, k=4)", np.full(4, 0.25), means, np.stack([np.eye(5)] * 4), n))
    # 3 anisotropic clusters with unequal weights in 4-D.
    covs = []
    for _ in range(3):
        a = rng.normal(size=(4, 4))
        q, _ = np.linalg.qr(a)
        covs.append(q @ np.diag([4.0, 1.0, 0.5, 0.25]) @ q.T)
    means = np.array([[0, 0, 0, 0], [7, 2, 0, 1], [1, 8, 3, -2]], dtype=float)
    out.append(Family("anisotropic, unequal weights (d=4, k=3)", np.array([0.5, 0.3, 0.2]), means, np.stack(covs), n))
    # 3 spherical clusters of unequal spread.
    means = np.array([[0, 0, 0], [8, 0, 0], [0, 10, 0]], dtype=float)
    out.append(Family("unequal spreads (d=3, k=3)", np.full(3, 1 / 3), means,
                      np.stack([np.eye(3) * s**2 for s in (0.5, 1.0, 2.5)]), n))
    # High-dimensional: 4 clusters in 30-D.
    means = rng.normal(size=(4, 30)) * 1.2
    out.append(Family("high-dimensional (d=30, k=4)", np.full(4, 0.25), means, np.stack([np.eye(30)] * 4), n))
    # Overlapping: 3 clusters in 2-D, 2.5 sd apart.
    means = np.array([[0, 0], [2.5, 0], [1.25, 2.2]])
    out.append(Family("overlapping (d=2, k=3)", np.full(3, 1 / 3), means, np.stack([np.eye(2)] * 3), n,
                      well_posed=False))
    # Equal spherical with 2% uniform outliers.
    means = np.zeros((3, 3))
    means[np.arange(3), np.arange(3)] = 7.0
    out.append(Family("with 2% outliers (d=3, k=3)", np.full(3, 1 / 3), means, np.stack([np.eye(3)] * 3), n,
                      outliers=0.02, well_posed=False))
    return out


def kl(true, q):
    """Mean over points of KL(true || q) after matching the columns of q to the components."""
    k = true.shape[1]
    c = true.T @ q  # soft contingency: component x cluster
    rows, cols = linear_sum_assignment(-c)
    qm = np.full_like(true, 1e-300)
    qm[:, rows] = q[:, cols]
    t = np.clip(true, 1e-300, None)
    return float(np.mean(np.sum(true * (np.log(t) - np.log(np.clip(qm, 1e-300, None))), axis=1)))


def softmax_of_kmeans(km, x):
    """scikit-learn's KMeans turned into probabilities the principled way: the softmax of
    -d²/(2 sigma²), sigma² = inertia / (n d)."""
    d2 = km.transform(x) ** 2
    s2 = km.inertia_ / x.size
    return np.exp(-(d2 - d2.min(axis=1, keepdims=True)) / (2 * s2)) / np.exp(
        -(d2 - d2.min(axis=1, keepdims=True)) / (2 * s2)
    ).sum(axis=1, keepdims=True)


def methods(k: int):
    """(name, objective group, fit(x, seed) -> (memberships, objective to maximise))."""
    def sc_kmeans(x, s):
        m = softclust.KMeans(k, random_state=s).fit(x)
        return m.predict_proba(x), -m.inertia_

    def sc_gmm(x, s):
        m = softclust.GaussianMixture(k, random_state=s).fit(x)
        return m.predict_proba(x), m.score(x)

    def sc_fcm(x, s):
        m = softclust.FuzzyCMeans(k, random_state=s).fit(x)
        u = m.predict_proba(x)
        return u, -fcm_objective(x, m.cluster_centers_)

    def sk_kmeans(x, s):
        m = SkKMeans(k, random_state=s).fit(x)
        return softmax_of_kmeans(m, x), -m.inertia_

    def sk_gmm(x, s):
        m = SkGMM(k, random_state=s).fit(x)
        return m.predict_proba(x), m.score(x)

    def sk_bgmm(x, s):
        m = BayesianGaussianMixture(n_components=k, random_state=s).fit(x)
        return m.predict_proba(x), m.score(x)

    out = [
        ("softclust KMeans (soft=auto)", "k-means inertia", sc_kmeans),
        ("sklearn KMeans + softmax", "k-means inertia", sk_kmeans),
        ("softclust GaussianMixture", "mixture likelihood", sc_gmm),
        ("sklearn GaussianMixture", "mixture likelihood", sk_gmm),
        ("sklearn BayesianGaussianMixture", "variational mixture", sk_bgmm),
        ("softclust FuzzyCMeans", "fuzzy objective", sc_fcm),
    ]
    if skfuzzy is not None:
        def sf_cmeans(x, s):
            cntr, u, *_ = skfuzzy.cluster.cmeans(x.T, k, 2.0, error=1e-5, maxiter=300, seed=s)
            return u.T, -fcm_objective(x, cntr)

        out.append(("scikit-fuzzy cmeans", "fuzzy objective", sf_cmeans))
    return out


def fcm_objective(x, centres, m=2.0):
    """Bezdek's J_m at its optimal memberships for these centres (the same for both peers)."""
    d2 = np.maximum(((x[:, None, :] - centres[None]) ** 2).sum(axis=2), 1e-300)
    u = d2 ** (-1 / (m - 1))
    u /= u.sum(axis=1, keepdims=True)
    return float(np.sum(u**m * d2))


def run(quick: bool, n_seeds: int):
    """One data set per family; every method with seeds 0..n_seeds-1. A run reaches the best
    when its objective is within 1e-4 relative of the best any run of the same objective found
    on that data set."""
    results = []
    for fam in families(quick):
        x, box = fam.draw(np.random.default_rng(2026))
        true = fam.posterior(x, box)
        per = []
        for name, group, fit in methods(fam.k):
            objs, kls, times = [], [], []
            for s in range(n_seeds):
                t0 = time.perf_counter()
                q, obj = fit(x, s)
                times.append(time.perf_counter() - t0)
                objs.append(obj)
                kls.append(kl(true, np.asarray(q, dtype=np.float64)))
            per.append((name, group, np.array(objs), np.array(kls), np.array(times)))
            print(f"  {fam.name:<42} {name:<34} KL mean {np.mean(kls):.4f}", flush=True)
        best = {}
        for name, group, objs, _, _ in per:
            best[group] = max(best.get(group, -np.inf), objs.max())
        for name, group, objs, kls, times in per:
            b = best[group]
            reach = np.mean(objs >= b - 1e-4 * abs(b))
            results.append((fam, name, reach, kls.mean(), kls.max(), np.median(times)))
    return results


def markdown(results, quick, n_seeds):
    lines = [
        "# Quality: how right are the default probabilities?",
        "",
        f"`bash bench/run --quality{' --quick' if quick else ''}` ({n_seeds} seeds per method, one data set per",
        "family drawn from a known mixture, so the true posterior is exact; every method with its library's",
        "defaults, only the number of clusters and `random_state` given).",
        "",
        "* **reach**: share of seeds whose objective is within 1e-4 relative of the best that any run",
        "  with the same objective found on the data set (k-means inertia; mixture likelihood; fuzzy",
        "  objective; the variational mixture on its own).",
        "* **KL**: mean over points of KL(true posterior || memberships) in nats, after matching clusters",
        "  to components (Hungarian method); mean and worst over the seeds.",
        "* **time**: median seconds for fit + memberships (2 threads; shared machine, compare within a row",
        "  group only).",
        "",
        f"softclust {softclust.__version__}, scikit-learn {sklearn.__version__}"
        + (f", scikit-fuzzy {skfuzzy.__version__}" if skfuzzy is not None else "")
        + f", numpy {np.__version__}, Python {platform.python_version()}.",
        "",
        "| family | method | reach | mean KL | worst KL | time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for fam, name, reach, mkl, wkl, t in results:
        tag = fam.name + ("" if fam.well_posed else " (not well-posed)")
        lines.append(f"| {tag} | {name} | {100 * reach:.0f}% | {mkl:.4f} | {wkl:.4f} | {t:.3f} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smaller data and 5 seeds")
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--out", default="docs/quality.md")
    a = ap.parse_args()
    n_seeds = a.seeds or (5 if a.quick else 20)
    results = run(a.quick, n_seeds)
    text = markdown(results, a.quick, n_seeds)
    print(text)
    Path(a.out).write_text(text)


if __name__ == "__main__":
    main()
