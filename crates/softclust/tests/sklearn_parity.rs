//! k-means from given initial centres against frozen scikit-learn results.
//!
//! The fixture is produced by `scripts/make_fixtures.py`; its `versions` field records the
//! scikit-learn and numpy versions. `cargo test` needs no Python.
#![allow(clippy::unwrap_used)]

use ndarray::{Array1, Array2};
use serde_json::Value;
use softclust::{Init, KMeans};

fn fixture() -> Value {
    let text = include_str!("fixtures/kmeans_sklearn.json");
    serde_json::from_str(text).unwrap()
}

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    let (n, d) = (rows.len(), rows[0].len());
    Array2::from_shape_vec((n, d), rows.into_iter().flatten().collect()).unwrap()
}

fn vector(v: &Value) -> Array1<f64> {
    Array1::from(serde_json::from_value::<Vec<f64>>(v.clone()).unwrap())
}

/// `|a - b| <= rel * max_j |b_ij|` row by row.
fn assert_rows_close(a: &Array2<f64>, b: &Array2<f64>, rel: f64, what: &str) {
    assert_eq!(a.dim(), b.dim(), "{what}: shapes differ");
    for (i, (ra, rb)) in a.rows().into_iter().zip(b.rows()).enumerate() {
        let scale = rb
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()))
            .max(f64::MIN_POSITIVE);
        for (j, (x, y)) in ra.iter().zip(rb.iter()).enumerate() {
            assert!(
                (x - y).abs() <= rel * scale,
                "{what}[{i},{j}]: softclust {x} vs scikit-learn {y} (rel tol {rel})"
            );
        }
    }
}

#[test]
fn fixture_records_versions() {
    let f = fixture();
    assert!(f["versions"]["scikit-learn"]
        .as_str()
        .unwrap()
        .starts_with('1'));
    assert!(f["versions"]["numpy"].is_string());
    assert!(f["cases"].as_array().unwrap().len() >= 6);
}

#[test]
fn kmeans_f64_matches_scikit_learn() {
    let f = fixture();
    let mut checked = 0;
    for case in f["cases"].as_array().unwrap() {
        if case["dtype"] != "float64" {
            continue;
        }
        let name = case["name"].as_str().unwrap();
        let x = matrix(&case["x"]);
        let init = matrix(&case["init"]);
        let w = case["sample_weight"]
            .as_array()
            .map(|_| vector(&case["sample_weight"]));
        let model = KMeans::new(init.nrows())
            .init(Init::Centers(init))
            .max_iter(case["max_iter"].as_u64().unwrap() as usize)
            .tol(case["tol"].as_f64().unwrap())
            .fit(x.view(), w.as_ref().map(|w| w.view()))
            .unwrap();
        let labels: Vec<usize> = serde_json::from_value(case["labels"].clone()).unwrap();
        assert_eq!(model.labels().to_vec(), labels, "{name}: labels");
        assert_rows_close(
            &model.centers().to_owned(),
            &matrix(&case["centers"]),
            1e-10,
            name,
        );
        let inertia = case["inertia"].as_f64().unwrap();
        assert!(
            (model.inertia() - inertia).abs() <= 1e-10 * inertia,
            "{name}: inertia {} vs {inertia}",
            model.inertia()
        );
        assert_eq!(
            model.diagnostics().n_iter as u64,
            case["n_iter"].as_u64().unwrap(),
            "{name}: n_iter"
        );
        let t = model.transform(x.view()).unwrap();
        assert_rows_close(
            &t,
            &matrix(&case["transform"]),
            1e-9,
            &format!("{name} transform"),
        );
        assert_eq!(
            model.predict(x.view()).unwrap().to_vec(),
            labels,
            "{name}: predict"
        );
        checked += 1;
    }
    assert!(checked >= 6);
}

#[test]
fn kmeans_f32_matches_scikit_learn_to_single_precision() {
    let f = fixture();
    let case = f["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["dtype"] == "float32")
        .unwrap();
    let x = matrix(&case["x"]).mapv(|v| v as f32);
    let init = matrix(&case["init"]).mapv(|v| v as f32);
    let model = KMeans::new(init.nrows())
        .init(Init::Centers(init))
        .fit(x.view(), None)
        .unwrap();
    let labels: Vec<usize> = serde_json::from_value(case["labels"].clone()).unwrap();
    assert_eq!(model.labels().to_vec(), labels);
    let c = model.centers().mapv(f64::from);
    assert_rows_close(&c, &matrix(&case["centers"]), 1e-5, "f32 centres");
    let inertia = case["inertia"].as_f64().unwrap();
    assert!((model.inertia() - inertia).abs() <= 1e-5 * inertia);
    assert_eq!(
        model.diagnostics().n_iter as u64,
        case["n_iter"].as_u64().unwrap()
    );
}

#[test]
fn empty_cluster_case_relocates() {
    let f = fixture();
    let case = f["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "blobs_empty_cluster")
        .unwrap();
    let x = matrix(&case["x"]);
    let init = matrix(&case["init"]);
    let model = KMeans::new(init.nrows())
        .init(Init::Centers(init))
        .fit(x.view(), None)
        .unwrap();
    assert!(model.diagnostics().empty_relocations >= 1);
    assert!(model.cluster_weights().unwrap().iter().all(|&w| w > 0.0));
}
