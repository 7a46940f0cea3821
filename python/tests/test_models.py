"""Models as values: save and load in Python, the same files in the CLI and back, pickling,
and the mixture criteria (with sample weights) from the core."""

import json
import os
import pickle
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import softclust
from softclust import ConsensusKMeans, FuzzyCMeans, GaussianMixture, KMeans

ROOT = Path(__file__).resolve().parents[2]

ESTIMATORS = {
    "kmeans": lambda: KMeans(3, random_state=0),
    "kmeans-anchored": lambda: KMeans(3, soft="anchored", half="q:0.9", random_state=0),
    "kmeans-per-cluster": lambda: KMeans(3, per_cluster_variance=True, size_weights=True, random_state=0),
    "gmm-full": lambda: GaussianMixture(3, random_state=0),
    "gmm-diag-noise": lambda: GaussianMixture(3, covariance_type="diag", noise=0.05, random_state=0),
    "fcm": lambda: FuzzyCMeans(3, m=1.8, random_state=0),
    "consensus": lambda: ConsensusKMeans(3, n_runs=12, random_state=0),
}


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(1)
    return np.vstack([rng.normal(c, 0.8, size=(70, 3)) for c in ([0, 0, 0], [5, 0, 1], [0, 5, -1])]) * [1, 10, 0.1]


@pytest.fixture(scope="module")
def new(X):
    return np.random.default_rng(2).normal(size=(50, 3)) * X.std(axis=0) + X.mean(axis=0)


def contract(m):
    return np.column_stack([m.proba, m.label, m.max_p, m.margin, m.entropy])


@pytest.mark.parametrize("name", ESTIMATORS)
def test_save_and_load_round_trip(name, X, new, tmp_path):
    est = ESTIMATORS[name]().fit(X)
    path = tmp_path / "m.json"
    est.save(path)
    text = path.read_text()
    assert json.loads(text)["format"] == "softclust-model"
    back = softclust.load(path)
    assert type(back) is type(est)
    np.testing.assert_array_equal(contract(back.memberships(new)), contract(est.memberships(new)))
    np.testing.assert_array_equal(back.predict_proba(new), est.predict_proba(new))
    np.testing.assert_array_equal(back.predict(new), est.predict(new))
    # Pickle keeps working, and a pickled model scores exactly as the original.
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict_proba(new), est.predict_proba(new))
    again.save(tmp_path / "again.json")
    assert (tmp_path / "again.json").read_text() == text


def test_float32_fits_survive_saving(X, new, tmp_path):
    X32, new32 = X.astype(np.float32), new.astype(np.float32)
    for make in (ESTIMATORS["kmeans"], ESTIMATORS["fcm"], ESTIMATORS["consensus"]):
        est = make().fit(X32)
        est.save(tmp_path / "m.json")
        back = softclust.load(tmp_path / "m.json")
        np.testing.assert_array_equal(back.predict_proba(new32), est.predict_proba(new32))


def test_feature_names_travel_with_the_model(X, tmp_path):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=["height", "width", "depth"])
    est = KMeans(3, random_state=0).fit(df)
    est.save(tmp_path / "m.json")
    assert json.loads((tmp_path / "m.json").read_text())["feature_names"] == ["height", "width", "depth"]
    back = softclust.load(tmp_path / "m.json")
    assert list(back.feature_names_in_) == ["height", "width", "depth"]
    np.testing.assert_array_equal(back.predict_proba(df), est.predict_proba(df))


def test_bad_model_files_raise_the_core_message(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('{"hello": 1}')
    with pytest.raises(softclust.SoftclustError, match="not a softclust model file"):
        softclust.load(p)
    p.write_text('{"format": "softclust-model", "schema_version": 99}')
    with pytest.raises(softclust.SoftclustError, match="newer than this softclust"):
        softclust.load(p)


def test_saving_an_unfitted_estimator_raises(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        KMeans(2).save(tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()


# ---- the mixture criteria come from the core, with sample weights ---------------------------


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_bic_and_aic_take_sample_weight(X, covariance_type):
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    w = np.random.default_rng(3).integers(1, 4, size=len(X))
    repeated = np.repeat(X, w, axis=0)
    # Integer weights are repeated rows: ln L = sum_i w_i ln p(x_i) and N = sum_i w_i.
    np.testing.assert_allclose(gm.bic(X, sample_weight=w), gm.bic(repeated), rtol=1e-10)
    np.testing.assert_allclose(gm.aic(X, sample_weight=w), gm.aic(repeated), rtol=1e-10)
    np.testing.assert_allclose(gm.score(X, sample_weight=w), gm.score(repeated), rtol=1e-10)
    # ... and by the formula from score_samples.
    ll = float(np.sum(w * gm.score_samples(X)))
    p = gm._n_parameters()
    np.testing.assert_allclose(gm.bic(X, sample_weight=w), -2 * ll + p * np.log(w.sum()), rtol=1e-10)
    np.testing.assert_allclose(gm.aic(X, sample_weight=w), -2 * ll + 2 * p, rtol=1e-10)
    c = gm.criteria(X, sample_weight=w)
    assert c["bic"] == gm.bic(X, sample_weight=w) and c["n_parameters"] == p
    resp = np.exp(gm.predict_log_proba(X))
    np.testing.assert_allclose(c["icl"], c["bic"] - 2 * np.sum(w * np.log(resp.max(axis=1))), rtol=1e-10)
    assert gm.bic(X, sample_weight=w) != gm.bic(X)


# ---- the same files in the CLI -------------------------------------------------------------


@pytest.fixture(scope="module")
def cli():
    """The `softclust` binary of this checkout (built here if the Rust tests have not)."""
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip("cargo is not installed: the cross-face tests need the CLI")
    out = subprocess.run(
        [cargo, "build", "-q", "-p", "softclust-cli", "--message-format=json"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    exes = [json.loads(line).get("executable") for line in out.splitlines() if '"executable"' in line]
    exes = [e for e in exes if e and os.path.basename(e) == "softclust"]
    assert exes, "cargo built no softclust binary"
    return exes[-1]


def write_csv(path, X):
    header = ",".join(f"f{j}" for j in range(X.shape[1]))
    np.savetxt(path, X, delimiter=",", header=header, comments="", fmt="%.17g")


def read_memberships(path, k):
    names = path.read_text().splitlines()[0].split(",")
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    cols = [names.index(f"p_{j}") for j in range(k)] + ([names.index("p_noise")] if "p_noise" in names else [])
    return data[:, cols], data[:, names.index("label")].astype(int)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_fitted_in_python_predicts_in_the_cli(name, X, new, tmp_path, cli):
    est = ESTIMATORS[name]().fit(X)
    est.save(tmp_path / "m.json")
    write_csv(tmp_path / "new.csv", new)
    subprocess.run([cli, "-q", "predict", "--model", tmp_path / "m.json", tmp_path / "new.csv", "-o",
                    tmp_path / "out.csv"], check=True)
    proba, label = read_memberships(tmp_path / "out.csv", 3)
    m = est.memberships(new)
    np.testing.assert_allclose(proba, m.proba, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(label, m.label)


@pytest.mark.parametrize(
    "args",
    [
        ["kmeans", "-k", "3"],
        ["kmeans", "-k", "3", "--soft", "inverse-power", "--standardize", "robust"],
        ["gmm", "-k", "3", "--covariance", "diag"],
        ["gmm", "-k", "3", "--noise", "0.05", "--standardize", "none"],
        ["fcm", "-k", "3"],
        ["consensus", "-k", "3", "--runs", "10"],
    ],
    ids=lambda a: "-".join(a[:1] + a[3:4]),
)
def test_fitted_by_the_cli_predicts_in_python(args, X, new, tmp_path, cli):
    write_csv(tmp_path / "x.csv", X)
    write_csv(tmp_path / "new.csv", new)
    subprocess.run([cli, "-q", *args, tmp_path / "x.csv", "--model-out", tmp_path / "m.json", "-o",
                    tmp_path / "fit.csv"], check=True)
    subprocess.run([cli, "-q", "predict", "--model", tmp_path / "m.json", tmp_path / "new.csv", "-o",
                    tmp_path / "out.csv"], check=True)
    pd = pytest.importorskip("pandas")
    est = softclust.load(tmp_path / "m.json")
    assert list(est.feature_names_in_) == ["f0", "f1", "f2"]  # the CSV header
    for data, out in [(X, "fit.csv"), (new, "out.csv")]:
        proba, label = read_memberships(tmp_path / out, 3)
        # Raw data, as a frame with the file's column names: the CLI's scaler is applied inside.
        m = est.memberships(pd.DataFrame(data, columns=["f0", "f1", "f2"]))
        np.testing.assert_allclose(m.proba, proba, rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(m.label, label)


def test_saved_files_get_the_mode_a_plain_write_would(X, tmp_path):
    km = KMeans(3, random_state=0).fit(X)
    new = tmp_path / "new.json"
    km.save(new)
    assert os.stat(new).st_mode & 0o777 == 0o644
    kept = tmp_path / "kept.json"
    kept.write_text("{}")
    os.chmod(kept, 0o600)
    km.save(kept)
    assert os.stat(kept).st_mode & 0o777 == 0o600
    assert softclust.load(kept).predict(X).tolist() == km.predict(X).tolist()
