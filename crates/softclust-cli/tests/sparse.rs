//! Sparse `.npz` input (scipy.sparse.save_npz, CSR and CSC): `kmeans`, `fcm` and `predict`
//! give the memberships of the same matrix given dense (`.npy`, `--standardize none`) to
//! 1e-12; the options a sparse matrix cannot honour are errors that say so. The fixtures come
//! from `tests/fixtures/make_sparse.py`.
#![allow(clippy::unwrap_used)]

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::PathBuf;

fn bin() -> Command {
    Command::cargo_bin("softclust").unwrap()
}

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

fn ok(args: &[&str]) -> String {
    let out = bin().args(args).arg("-q").assert().success();
    String::from_utf8(out.get_output().stdout.clone()).unwrap()
}

fn fails(args: &[&str], needle: &str) {
    bin()
        .args(args)
        .arg("-q")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(needle));
}

/// The numbers of a CSV (header dropped), row by row.
fn table(csv: &str) -> Vec<Vec<f64>> {
    csv.lines()
        .skip(1)
        .map(|l| l.split(',').map(|c| c.parse().unwrap()).collect())
        .collect()
}

fn assert_close(a: &str, b: &str, tol: f64) {
    let (a, b) = (table(a), table(b));
    assert_eq!(a.len(), b.len());
    assert!(a.len() > 100);
    for (ra, rb) in a.iter().zip(&b) {
        assert_eq!(ra.len(), rb.len());
        for (x, y) in ra.iter().zip(rb) {
            assert!((x - y).abs() <= tol, "{x} vs {y}");
        }
    }
}

#[test]
fn kmeans_and_fcm_on_npz_equal_the_dense_fits() {
    let (npz, csc, npy) = (
        fixture("tfidf.npz"),
        fixture("tfidf_csc.npz"),
        fixture("tfidf.npy"),
    );
    for extra in [
        vec![],
        vec!["--soft", "inverse-power"],
        vec!["--top-k", "2"],
    ] {
        let mut sparse = vec!["kmeans", npz.as_str(), "-k", "3", "--seed", "4"];
        sparse.extend(&extra);
        let mut dense = vec![
            "kmeans",
            npy.as_str(),
            "-k",
            "3",
            "--seed",
            "4",
            "--standardize",
            "none",
        ];
        dense.extend(&extra);
        assert_close(&ok(&sparse), &ok(&dense), 1e-12);
        sparse[1] = csc.as_str();
        assert_close(&ok(&sparse), &ok(&dense), 1e-12);
    }
    let s = ok(&["fcm", &npz, "-k", "3", "--seed", "2"]);
    let d = ok(&[
        "fcm",
        &npy,
        "-k",
        "3",
        "--seed",
        "2",
        "--standardize",
        "none",
    ]);
    assert_close(&s, &d, 1e-12);
}

#[test]
fn a_model_fitted_on_npz_predicts_npz_and_dense_rows() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.json").display().to_string();
    let fitted = ok(&[
        "kmeans",
        &fixture("tfidf.npz"),
        "-k",
        "4",
        "--model-out",
        &model,
    ]);
    let again = ok(&["predict", "--model", &model, &fixture("tfidf_csc.npz")]);
    assert_eq!(fitted, again);
    let dense = ok(&["predict", "--model", &model, &fixture("tfidf.npy")]);
    assert_close(&fitted, &dense, 1e-12);
    // A standardising model cannot take sparse rows.
    let z = dir.path().join("z.json").display().to_string();
    ok(&[
        "kmeans",
        &fixture("tfidf.npy"),
        "-k",
        "2",
        "--model-out",
        &z,
    ]);
    fails(
        &["predict", "--model", &z, &fixture("tfidf.npz")],
        "standardises its inputs",
    );
}

#[test]
fn npz_input_refuses_what_it_cannot_honour() {
    let npz = fixture("tfidf.npz");
    fails(
        &["kmeans", &npz, "-k", "2", "--columns", "1-3"],
        "--columns/--exclude",
    );
    fails(&["kmeans", &npz, "-k", "2", "--id", "x0"], "--id/--append");
    fails(&["kmeans", &npz, "-k", "2", "--typicality"], "--typicality");
    fails(&["fcm", &npz, "-k", "2", "--weights", "w"], "--weights");
    fails(&["kmeans", &npz, "-k", "500"], "500");
    fails(
        &["gmm", &npz, "-k", "2"],
        "sparse input works with kmeans, fcm and predict",
    );
    fails(
        &["consensus", &npz, "-k", "2"],
        "sparse input works with kmeans, fcm and predict",
    );
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.npz");
    std::fs::write(&junk, b"not a zip").unwrap();
    fails(
        &["kmeans", &junk.display().to_string(), "-k", "2"],
        "not a readable .npz",
    );
    let model = dir.path().join("m.json").display().to_string();
    ok(&["kmeans", &npz, "-k", "2", "--model-out", &model]);
    fails(
        &[
            "predict",
            "--model",
            &model,
            &fixture("tfidf.npz"),
            "--top-k",
            "3",
        ],
        "--top-k 3",
    );
}
