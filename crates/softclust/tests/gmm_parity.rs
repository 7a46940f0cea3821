//! Gaussian mixtures against frozen scikit-learn results, for all four covariance types.
//! Fixture: `scripts/make_gmm_fixtures.py` (library versions recorded inside).
#![allow(clippy::unwrap_used)]

use ndarray::{Array1, Array2, Array3};
use serde_json::Value;
use softclust::{CovMatrices, CovarianceType, GaussianMixture, GaussianMixtureModel};

fn fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/gmm_sklearn.json")).unwrap()
}

fn flat(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().flat_map(flat).collect(),
        other => vec![other.as_f64().unwrap()],
    }
}

fn shape(v: &Value) -> Vec<usize> {
    let mut s = Vec::new();
    let mut cur = v;
    while let Value::Array(a) = cur {
        s.push(a.len());
        cur = &a[0];
    }
    s
}

fn a1(v: &Value) -> Array1<f64> {
    Array1::from(flat(v))
}

fn a2(v: &Value) -> Array2<f64> {
    let s = shape(v);
    Array2::from_shape_vec((s[0], s[1]), flat(v)).unwrap()
}

fn cov(t: CovarianceType, v: &Value) -> CovMatrices {
    let s = shape(v);
    match t {
        CovarianceType::Full => {
            CovMatrices::Full(Array3::from_shape_vec((s[0], s[1], s[2]), flat(v)).unwrap())
        }
        CovarianceType::Tied => CovMatrices::Tied(a2(v)),
        CovarianceType::Diag => CovMatrices::Diag(a2(v)),
        CovarianceType::Spherical => CovMatrices::Spherical(a1(v)),
    }
}

fn values(c: &CovMatrices) -> Vec<f64> {
    match c {
        CovMatrices::Full(a) => a.iter().copied().collect(),
        CovMatrices::Tied(a) | CovMatrices::Diag(a) => a.iter().copied().collect(),
        CovMatrices::Spherical(a) => a.to_vec(),
    }
}

/// Relative closeness against the largest magnitude of the reference.
fn assert_close(got: &[f64], want: &[f64], rel: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= rel * scale,
            "{what}[{i}]: softclust {a} vs scikit-learn {b}"
        );
    }
}

fn types(f: &Value) -> Vec<(CovarianceType, Value)> {
    f["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                CovarianceType::parse(c["covariance_type"].as_str().unwrap()).unwrap(),
                c.clone(),
            )
        })
        .collect()
}

#[test]
fn fixture_covers_all_four_types_and_records_versions() {
    let f = fixture();
    let t: Vec<_> = types(&f).into_iter().map(|(t, _)| t).collect();
    assert_eq!(t, CovarianceType::ALL.to_vec());
    assert!(f["versions"]["scikit-learn"].is_string() && f["versions"]["numpy"].is_string());
}

#[test]
fn fixed_parameters_give_scikit_learn_probabilities_and_densities() {
    let f = fixture();
    for (t, case) in types(&f) {
        let fx = &case["fixed"];
        let model = GaussianMixtureModel::from_parameters(
            a1(&fx["weights"]),
            a2(&fx["means"]),
            cov(t, &fx["precisions"]),
            false,
        )
        .unwrap();
        let x = a2(&fx["x"]);
        let p = model.predict_proba(x.view()).unwrap();
        let want = a2(&fx["predict_proba"]);
        for (a, b) in p.iter().zip(want.iter()) {
            assert!((a - b).abs() <= 1e-10, "{t:?} predict_proba: {a} vs {b}");
        }
        let s = model.score_samples(x.view()).unwrap();
        for (a, b) in s.iter().zip(flat(&fx["score_samples"])) {
            assert!(
                (a - b).abs() <= 1e-10 * b.abs().max(1.0),
                "{t:?} score_samples: {a} vs {b}"
            );
        }
        // The membership contract agrees with predict_proba.
        let m = model.memberships(x.view()).unwrap();
        assert_eq!(m.label, model.predict(x.view()).unwrap());
        for (a, b) in m.proba.iter().zip(p.iter()) {
            assert!(
                (a - b).abs() <= 1e-14,
                "{t:?}: membership {a} vs predict_proba {b}"
            );
        }
    }
}

fn fit_like(t: CovarianceType, case: &Value, em: &Value, x: &Array2<f64>) -> GaussianMixtureModel {
    let fx = &case["fixed"];
    GaussianMixture::new(3)
        .covariance_type(t)
        .weights_init(a1(&fx["weights"]))
        .means_init(a2(&fx["means"]))
        .precisions_init(cov(t, &fx["precisions"]))
        .max_iter(em["max_iter"].as_u64().unwrap() as usize)
        .tol(em["tol"].as_f64().unwrap())
        .fit(x.view(), None)
        .unwrap()
}

#[test]
fn em_from_the_same_start_matches_scikit_learn() {
    let f = fixture();
    let x = a2(&f["x"]);
    for (t, case) in types(&f) {
        for label in ["em", "em_tol"] {
            let em = &case[label];
            let model = fit_like(t, &case, em, &x);
            let what = format!("{t:?}/{label}");
            let dg = model.diagnostics();
            assert_eq!(
                dg.n_iter as u64,
                em["n_iter"].as_u64().unwrap(),
                "{what}: n_iter"
            );
            assert_eq!(
                dg.converged,
                em["converged"].as_bool().unwrap(),
                "{what}: converged"
            );
            assert_close(
                &model.weights().to_vec(),
                &flat(&em["weights"]),
                1e-8,
                &format!("{what} weights"),
            );
            assert_close(
                &model.means().iter().copied().collect::<Vec<_>>(),
                &flat(&em["means"]),
                1e-8,
                &format!("{what} means"),
            );
            assert_close(
                &values(&model.covariances()),
                &flat(&em["covariances"]),
                1e-8,
                &format!("{what} covariances"),
            );
            assert_close(
                &values(model.precisions_cholesky()),
                &flat(&em["precisions_cholesky"]),
                1e-8,
                &format!("{what} precision factors"),
            );
            let lb = em["lower_bound"].as_f64().unwrap();
            assert!(
                (dg.lower_bound - lb).abs() <= 1e-8 * lb.abs(),
                "{what}: lower bound {} vs {lb}",
                dg.lower_bound
            );
            assert_close(
                &dg.lower_bounds,
                &flat(&em["lower_bounds"]),
                1e-8,
                &format!("{what} lower bounds"),
            );
            let bic = em["bic"].as_f64().unwrap();
            let aic = em["aic"].as_f64().unwrap();
            assert!(
                (model.bic(x.view(), None).unwrap() - bic).abs() <= 1e-8 * bic.abs(),
                "{what}: bic"
            );
            assert!(
                (model.aic(x.view(), None).unwrap() - aic).abs() <= 1e-8 * aic.abs(),
                "{what}: aic"
            );
            let p = model.predict_proba(x.slice(ndarray::s![..20, ..])).unwrap();
            for (a, b) in p.iter().zip(flat(&em["predict_proba"])) {
                assert!((a - b).abs() <= 1e-8, "{what} predict_proba: {a} vs {b}");
            }
        }
    }
}

#[test]
fn bic_and_aic_follow_the_parameter_counts() {
    // scikit-learn's _n_parameters for k = 3, d = 3.
    assert_eq!(CovarianceType::Full.n_parameters(3, 3), 18 + 9 + 2);
    assert_eq!(CovarianceType::Tied.n_parameters(3, 3), 6 + 9 + 2);
    assert_eq!(CovarianceType::Diag.n_parameters(3, 3), 9 + 9 + 2);
    assert_eq!(CovarianceType::Spherical.n_parameters(3, 3), 3 + 9 + 2);
}
