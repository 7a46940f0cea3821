"""Scale-out benchmarks (run by `bash bench/run --scale-out`): Dask fits on a LocalCluster and
the CLI's out-of-core fits, against their peers on the same machine, in one run.

Rows:
  dask_kmeans  softclust.dask.KMeans vs dask_ml.cluster.KMeans: same LocalCluster (2 worker
               processes x 1 thread), same chunks, same starting centres, time per Lloyd iteration.
  dask_gmm     softclust.dask.GaussianMixture on the cluster vs softclust.GaussianMixture in
               memory (2 threads), same data and start, time per EM iteration.
  cli_stream   `softclust kmeans` out of core on a 20M x 32 float32 Parquet file (k = 32) vs the
               in-memory fit of a 2M x 32 slice: time per pass per million rows, and peak RSS.

Per-iteration times are differences: a fit of N + 1 iterations minus a fit of 1, divided by N,
so set-up passes (moments, the start, the final statistics) do not count; tol = 0 fixes the
iteration count. For the CLI the fit phase of its --report is timed (reading and writing the
memberships excluded). Machines are shared and noisy: read the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
THREADS = 2


def blobs(n, d, k, seed=0, dtype=np.float64, start=0):
    """Rows start..start+n of a fixed anisotropic mixture (generated block by block, seeded by
    block, so any slice is the same whichever way it is made)."""
    rng0 = np.random.default_rng(seed)
    centers = rng0.normal(0, 4, size=(k, d))
    scales = rng0.uniform(0.5, 2.0, size=(k, d))
    out = np.empty((n, d), dtype=dtype)
    blk = 1 << 18
    for b0 in range((start // blk) * blk, start + n, blk):
        rng = np.random.default_rng([seed, b0 // blk])
        lab = rng.integers(0, k, size=blk)
        x = centers[lab] + rng.normal(size=(blk, d)) * scales[lab]
        lo, hi = max(b0, start), min(b0 + blk, start + n)
        out[lo - start : hi - start] = x[lo - b0 : hi - b0]
    return out


def timed(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def per_iteration(fit, iters):
    """(time of iters + 1 iterations - time of 1) / iters: after one warm-up fit, the median of
    three such differences."""
    fit(1)
    diffs = []
    for _ in range(3):
        t1 = timed(lambda: fit(1))
        tn = timed(lambda: fit(iters + 1))
        diffs.append((tn - t1) / iters)
    return float(np.median(diffs))


def dask_rows(quick):
    import dask.array as da
    import distributed
    from dask_ml.cluster import KMeans as DmlKMeans

    import softclust
    import softclust.dask as sd

    n, d, k = (200_000 if quick else 2_000_000), 32, 32
    iters = 5
    chunk = n // 20
    x = blobs(n, d, k)
    c0 = x[np.random.default_rng(1).choice(n, k, replace=False)]
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        client = distributed.Client(cluster)
    try:
        X = da.from_array(x, chunks=(chunk, d)).persist()
        distributed.wait(X)

        def ours(m):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sd.KMeans(k, init=c0, max_iter=m, tol=0.0).fit(X)

        def dml(m):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                DmlKMeans(n_clusters=k, init=c0, max_iter=m, tol=0.0, random_state=0).fit(X)

        a, b = per_iteration(ours, iters), per_iteration(dml, iters)
        rows.append(("dask_kmeans", f"{n}x{d} k={k}", "softclust.dask", a, None, "-"))
        rows.append(("dask_kmeans", f"{n}x{d} k={k}", "dask_ml", b, None, f"{b / a:.2f}"))

        ng, kg = (100_000 if quick else 1_000_000), 16
        xg = blobs(ng, d, kg, seed=2)
        start = softclust.GaussianMixture(kg, covariance_type="diag", max_iter=2, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start.fit(xg[: ng // 10])
        init = dict(weights_init=start.weights_, means_init=start.means_, precisions_init=start.precisions_)
        XG = da.from_array(xg, chunks=(ng // 20, d)).persist()
        distributed.wait(XG)

        def gd(m):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sd.GaussianMixture(kg, covariance_type="diag", max_iter=m, tol=0.0, **init).fit(XG)

        def gm(m):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                softclust.GaussianMixture(kg, covariance_type="diag", max_iter=m, tol=0.0, n_jobs=THREADS, **init).fit(xg)

        a, b = per_iteration(gd, iters), per_iteration(gm, iters)
        rows.append(("dask_gmm", f"{ng}x{d} k={kg} diag", "softclust.dask", a, None, "-"))
        rows.append(("dask_gmm", f"{ng}x{d} k={kg} diag", "in memory", b, None, f"{b / a:.2f}"))
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            client.close()
            cluster.close()
    return rows


def run_cli(args):
    """Runs the CLI under /usr/bin/time with a report; returns (seconds of its fit phase, peak
    RSS in MB). Memberships go to /dev/null through standard output."""
    exe = ROOT / "target" / "release" / "softclust"
    with tempfile.TemporaryDirectory() as tmp:
        rep = Path(tmp) / "report.json"
        r = subprocess.run(["/usr/bin/time", "-f", "%M", str(exe), *args, "-q", "--threads", str(THREADS),
                            "--report", str(rep)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise RuntimeError(r.stderr)
        fit = json.loads(rep.read_text())["timings"]["fit_s"]
    return fit, int(r.stderr.strip().splitlines()[-1]) / 1024.0


def stream_rows(quick):
    import pyarrow as pa
    import pyarrow.parquet as pq

    d, k = 32, 32
    n_big = 2_000_000 if quick else 20_000_000
    n_small = n_big // 10
    tmp = Path(os.environ.get("SOFTCLUST_BENCH_DIR", tempfile.gettempdir()))
    big = tmp / f"softclust-stream-{n_big}.parquet"
    if not big.exists():
        schema = pa.schema([(f"x{j}", pa.float32()) for j in range(d)])
        with pq.ParquetWriter(big, schema, compression="snappy") as w:
            for s in range(0, n_big, 1_000_000):
                b = blobs(min(1_000_000, n_big - s), d, k, seed=3, dtype=np.float32, start=s)
                w.write_table(pa.Table.from_arrays([pa.array(b[:, j]) for j in range(d)], schema=schema))
    small = tmp / f"softclust-stream-{n_small}.npy"
    if not small.exists():
        np.save(small, blobs(n_small, d, k, seed=3, dtype=np.float32))
    iters = 3
    common = ["-k", str(k), "--tol", "0", "--seed", "0", "--standardize", "none", "--init", "random", "--n-init", "1"]

    def fit(path, limit, m):
        extra = ["--memory-limit", limit] if limit else []
        return run_cli(["kmeans", str(path), *common, "--max-iter", str(m), *extra])

    rows = []
    for label, path, limit, n in [("out of core", big, "1G", n_big), ("in memory", small, None, n_small)]:
        best, peak = np.inf, 0.0
        for _ in range(2):
            t1, p1 = fit(path, limit, 1)
            tn, pn = fit(path, limit, iters + 1)
            best = min(best, (tn - t1) / iters)
            peak = max(peak, p1, pn)
        rows.append(("cli_stream", f"{n}x{d} f32 k={k}", label, best / (n / 1e6), peak, None))
    a, b = rows[0][3], rows[1][3]
    rows[0] = rows[0][:5] + ("-",)
    rows[1] = rows[1][:5] + (f"{b / a:.2f}",)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=["dask", "stream"])
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--locked", "-q", "-p", "softclust-cli"], cwd=ROOT, check=True)
    rows = []
    if args.only in (None, "dask"):
        rows += dask_rows(args.quick)
    if args.only in (None, "stream"):
        rows += stream_rows(args.quick)
    header = f"{'row':<12} {'data':<26} {'system':<15} {'ms/iter':>10} {'peak MB':>8} {'softclust x':>11}"
    lines = [header]
    for name, what, system, per, peak, ratio in rows:
        unit = per * 1e3
        lines.append(f"{name:<12} {what:<26} {system:<15} {unit:>10.1f} {'' if peak is None else f'{peak:.0f}':>8} {ratio:>11}")
    doc = ROOT / "docs" / "benchmarks-scale-out.md"
    if args.only and doc.exists():
        # A partial run keeps the other part's rows from the last table.
        keep = "cli_stream" if args.only == "dask" else "dask_"
        old = [l for l in doc.read_text().splitlines()
               if l.startswith(keep) and len(l.split()) > 4 and l.split()[1][:1].isdigit()]
        lines = [header] + (lines[1:] + old if args.only == "dask" else old + lines[1:])
    print("\n".join(lines))
    print("(cli_stream: ms per pass per million rows)")
    doc.write_text(
        "# Scale-out benchmarks\n\n"
        f"Produced by `bash bench/run --scale-out{' --quick' if args.quick else ''}` on {time.strftime('%Y-%m-%d')}, "
        f"{os.cpu_count()} cores, {THREADS} threads (or 2 Dask workers x 1 thread).\n\n"
        + (__doc__.split("Rows:")[1] if "Rows:" in __doc__ else "")
        + "\n`softclust x` is the peer's time over softclust's (above 1: softclust is faster). For\n"
        "cli_stream the times are ms per pass per million rows.\n\n```text\n" + "\n".join(lines) + "\n```\n"
    )
    print(f"wrote {doc.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
