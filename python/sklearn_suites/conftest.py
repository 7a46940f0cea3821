"""Fixtures of scikit-learn's conftest that its suites need, the exceptions as strict xfails,
the MiniBatchKMeans tests deselected, and the outcome counts for run.py's summary."""

import fnmatch
import json
import os
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent


def _exceptions():
    out = []
    for raw in (HERE / "exceptions.txt").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pattern, _, reason = line.partition("  ")
        if not reason.strip():
            raise pytest.UsageError(f"exceptions.txt: {line!r} has no reason (two spaces, then the reason)")
        out.append((pattern.strip(), reason.strip()))
    return out


EXCEPTIONS = _exceptions()


@pytest.fixture(params=[np.float32, np.float64])
def global_dtype(request):
    yield request.param


def pytest_generate_tests(metafunc):
    if "global_random_seed" in metafunc.fixturenames:
        var = os.environ.get("SKLEARN_TESTS_GLOBAL_RANDOM_SEED")
        if var is None:
            seeds = [42]
        elif var == "all":
            seeds = list(range(100))
        elif "-" in var:
            a, b = var.split("-")
            seeds = list(range(int(a), int(b) + 1))
        else:
            seeds = [int(var)]
        metafunc.parametrize("global_random_seed", seeds)


def _is_minibatch(item):
    from sklearn.cluster import MiniBatchKMeans

    name = item.name.lower()
    if "minibatch" in name or "mini_batch" in name:
        return True
    params = getattr(getattr(item, "callspec", None), "params", {})
    return any(v is MiniBatchKMeans for v in params.values())


_COUNTS = defaultdict(lambda: defaultdict(int))


def pytest_collection_modifyitems(config, items):
    keep, drop = [], []
    for item in items:
        (drop if _is_minibatch(item) else keep).append(item)
    for item in drop:
        _COUNTS[item.nodeid.split("::")[0]]["deselected"] += 1
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    used = set()
    for item in items:
        for pattern, reason in EXCEPTIONS:
            if fnmatch.fnmatchcase(item.nodeid, pattern):
                item.add_marker(pytest.mark.xfail(reason=reason, strict=True))
                used.add(pattern)
                break
    stale = [p for p, _ in EXCEPTIONS if p not in used]
    if stale:
        raise pytest.UsageError("exceptions.txt: patterns that match no test: " + ", ".join(stale))


def pytest_runtest_logreport(report):
    suite = report.nodeid.split("::")[0]
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        if hasattr(report, "wasxfail"):
            outcome = "xfailed" if report.outcome == "skipped" else "xpassed"
        elif report.outcome == "failed" and str(report.longrepr).startswith("[XPASS(strict)]"):
            outcome = "xpassed"
        else:
            outcome = report.outcome
        _COUNTS[suite][outcome] += 1


def pytest_sessionfinish(session):
    path = os.environ.get("SOFTCLUST_SUITES_REPORT")
    if path:
        Path(path).write_text(json.dumps({k: dict(v) for k, v in _COUNTS.items()}, indent=1))
