"""scikit-learn's own test suites for KMeans and GaussianMixture, run against softclust.

Copies the installed scikit-learn's ``sklearn/cluster/tests/test_k_means.py`` and
``sklearn/mixture/tests/test_gaussian_mixture.py`` into a work directory, swaps the import of
the estimator under test for softclust's (one added line after scikit-learn's import, nothing
else changed), supplies the two fixtures scikit-learn's own conftest provides
(``global_random_seed``: 42, or ``SKLEARN_TESTS_GLOBAL_RANDOM_SEED``; ``global_dtype``: float32
and float64), deselects the MiniBatchKMeans tests, and runs pytest.

Every test listed in ``exceptions.txt`` (shell patterns on pytest's node ids, each with its
reason) is expected to fail (a strict xfail: one that starts passing fails the run, so the list
stays true). Any other failure fails the run. The summary gives, per suite, the share of the
non-skipped tests that pass.

The suites and exceptions.txt are those of scikit-learn 1.9 (the package's ``test`` extra pins
it to 1.9.x, so that a new scikit-learn release cannot change CI's verdict unannounced).

Usage: python python/sklearn_suites/run.py [--workdir DIR] [--min-share 0.95] [pytest args...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (file inside the sklearn package, scikit-learn's import line, the line added after it)
SUITES = [
    (
        "cluster/tests/test_k_means.py",
        "from sklearn.cluster import KMeans, MiniBatchKMeans, k_means, kmeans_plusplus",
        "from softclust import KMeans  # swapped in by softclust's python/sklearn_suites/run.py",
    ),
    (
        "mixture/tests/test_gaussian_mixture.py",
        "from sklearn.mixture import GaussianMixture",
        "from softclust import GaussianMixture  # swapped in by softclust's python/sklearn_suites/run.py",
    ),
]


def copy_suites(workdir: Path) -> list[str]:
    import sklearn

    root = Path(sklearn.__file__).resolve().parent
    names = []
    for rel, line, added in SUITES:
        src = (root / rel).read_text()
        lines = src.splitlines()
        if lines.count(line) != 1:
            sys.exit(
                f"run.py: {rel} of scikit-learn {sklearn.__version__} does not have the line "
                f"{line!r} exactly once; update SUITES in {__file__}"
            )
        at = lines.index(line)
        lines.insert(at + 1, added)
        name = Path(rel).name
        (workdir / name).write_text("\n".join(lines) + "\n")
        names.append(name)
    shutil.copy(HERE / "conftest.py", workdir / "conftest.py")
    shutil.copy(HERE / "exceptions.txt", workdir / "exceptions.txt")
    return names


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=None, help="where the copies go (default: a temporary directory)")
    ap.add_argument("--min-share", type=float, default=0.0,
                    help="fail when a suite passes less than this share of its non-skipped tests")
    args, rest = ap.parse_known_args()
    tmp = None
    workdir = args.workdir
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="softclust-sklearn-suites-")
        workdir = Path(tmp.name)
    workdir.mkdir(parents=True, exist_ok=True)
    names = copy_suites(workdir)
    report = workdir / "outcomes.json"
    env = dict(os.environ, SOFTCLUST_SUITES_REPORT=str(report))
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(workdir),
           "-o", "addopts=", "-W", "ignore::DeprecationWarning", *names, *rest]
    rc = subprocess.call(cmd, cwd=workdir, env=env)
    if not report.exists():
        return rc or 1
    counts = json.loads(report.read_text())
    ok = rc == 0
    import sklearn

    print(f"\nscikit-learn {sklearn.__version__}'s suites against softclust (non-skipped tests; xfailed = listed "
          "in exceptions.txt)")
    for name in names:
        c = counts.get(name, {})
        passed, failed, xfailed, xpassed = (c.get(k, 0) for k in ("passed", "failed", "xfailed", "xpassed"))
        run = passed + failed + xfailed + xpassed
        share = passed / run if run else 0.0
        print(f"  {name}: {passed} passed, {failed} failed, {xfailed} xfailed, {xpassed} xpassed, "
              f"{c.get('skipped', 0)} skipped, {c.get('deselected', 0)} deselected: {100 * share:.1f}% pass")
        if share < args.min_share:
            print(f"  {name}: below the required {100 * args.min_share:.0f}%")
            ok = False
    if tmp is not None:
        tmp.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
