"""Regressions of the hardening campaign in the Python package: Ctrl-C stops a fit, wrong
parameter types and ranges raise scikit-learn's error types with our message, float32
memberships sum to 1, and values too large to square are refused, not turned into NaN."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import softclust
from softclust import ConsensusKMeans, FuzzyCMeans, GaussianMixture, KMeans, SoftclustError

# A fit that would run for minutes; the script interrupts itself 0.5 s in and reports how long
# the KeyboardInterrupt took to arrive after the signal.
INTERRUPT_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    import numpy as np
    import softclust
    signal.signal(signal.SIGINT, signal.default_int_handler)
    X = np.random.default_rng(0).normal(size=(100_000, 8))
    fits = {
        "gmm": lambda: softclust.GaussianMixture(6, max_iter=10**6, tol=0, n_init=100).fit(X),
        "gmm-threads": lambda: softclust.GaussianMixture(6, max_iter=10**6, tol=0, n_init=100, n_jobs=2).fit(X),
        "kmeans": lambda: softclust.KMeans(40, max_iter=10**6, tol=0, n_init=10**4).fit(X),
        "fcm": lambda: softclust.FuzzyCMeans(6, max_iter=10**6, tol=0).fit(X),
        "consensus": lambda: softclust.ConsensusKMeans(6, n_runs=10**5).fit(X),
        "select": lambda: softclust.select_model(X, k_range=range(1, 200)),
    }
    sent = []
    def interrupt():
        sent.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)
    threading.Timer(0.5, interrupt).start()
    try:
        fits[sys.argv[1]]()
    except KeyboardInterrupt:
        print(f"interrupted {time.perf_counter() - sent[0]:.3f}")
    else:
        print("not interrupted")
    """
)


@pytest.mark.parametrize("which", ["gmm", "gmm-threads", "kmeans", "fcm", "consensus", "select"])
def test_ctrl_c_stops_a_fit_within_a_second(which):
    out = subprocess.run(
        [sys.executable, "-c", INTERRUPT_SCRIPT, which], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    words = out.stdout.split()
    assert words[0] == "interrupted", out.stdout
    assert float(words[1]) < 1.0, f"KeyboardInterrupt {words[1]} s after the signal"


@pytest.mark.parametrize(
    "make",
    [
        lambda: KMeans(10**20),
        lambda: KMeans(3, n_init=10**20),
        lambda: KMeans(3, max_iter=-1),
        lambda: KMeans("3"),
        lambda: GaussianMixture(10**20),
        lambda: GaussianMixture(2, n_init=2.5),
        lambda: FuzzyCMeans(10**30),
        lambda: ConsensusKMeans(3, n_runs=-1),
        lambda: KMeans(3, tol="abc"),
        lambda: GaussianMixture(2, reg_covar=None),
        lambda: FuzzyCMeans(2, m="2"),
        lambda: KMeans(3, sigma=[1.0]),
    ],
)
def test_wrong_types_and_ranges_raise_value_and_type_errors(make):
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match="must be") as info:
        make().fit(X)
    # scikit-learn's InvalidParameterError is both.
    assert isinstance(info.value, TypeError)
    assert "GmmConfig" not in str(info.value) and "Overflow" not in type(info.value).__name__


def test_function_parameters_are_checked():
    d = np.array([[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="n_features must be an integer from 1"):
        softclust.soft_assign(d, n_features=-1)
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match="every k of k_range must be an integer from 1"):
        softclust.select_model(X, k_range=[-1])
    with pytest.raises(ValueError, match="every k of k_range"):
        softclust.select_model(X, k_range=[10**20])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_float32_fuzzy_memberships_sum_to_one():
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(0, 1, (300, 4)), rng.normal(3, 1, (300, 4))]).astype(np.float32)
    est = FuzzyCMeans(5, random_state=0).fit(X)
    for p in (est.predict_proba(X), est.memberships(X).proba):
        assert np.abs(p.astype(np.float64).sum(axis=1) - 1).max() <= 1e-6


def test_values_too_large_to_square_are_refused():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 3))
    X[3, 1] = 1e200
    for est in (KMeans(2), GaussianMixture(2), FuzzyCMeans(2), ConsensusKMeans(2, n_runs=3)):
        with pytest.raises(SoftclustError, match=r"too large to compute with \(1e200\) at row 3, column 1"):
            est.fit(X)
    fitted = KMeans(2, random_state=0).fit(X[:3])
    far = np.array([[1e300, 0.0, 0.0]])
    with pytest.raises(SoftclustError, match="too large"):
        fitted.predict_proba(far)
    w = np.full(40, 1e308)
    with pytest.raises(SoftclustError, match="sample weights sum to"):
        FuzzyCMeans(2).fit(rng.normal(size=(40, 3)), sample_weight=w)


def test_consensus_with_huge_values_does_not_hang():
    """One cell of 1e200 once made the Hungarian alignment loop forever."""
    X = np.random.default_rng(3).normal(size=(60, 3))
    X[5, 1] = 1e200
    with pytest.raises(SoftclustError, match="too large"):
        ConsensusKMeans(2, n_runs=3).fit(X)
