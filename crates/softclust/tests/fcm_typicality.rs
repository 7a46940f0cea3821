//! Fuzzy c-means against frozen scikit-fuzzy results; typicality against frozen scipy values.
#![allow(clippy::unwrap_used)]

mod common;

use common::blobs;
use ndarray::{array, Array1, Array2, Axis};
use serde_json::Value;
use softclust::fcm::{FcmInit, FuzzyCMeans};
use softclust::special::{chi2_log_sf, chi2_sf};
use softclust::typicality::{ClusterSpread, Spread};
use softclust::{Error, GaussianMixture, KMeans};

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn a2(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    let (n, d) = (rows.len(), rows[0].len());
    Array2::from_shape_vec((n, d), rows.into_iter().flatten().collect()).unwrap()
}

#[test]
fn chi2_survival_matches_scipy_including_deep_tails() {
    let f = json(include_str!("fixtures/chi2_scipy.json"));
    assert!(f["versions"]["scipy"].is_string());
    let mut deep = 0;
    for r in f["rows"].as_array().unwrap() {
        let (k, q) = (r["k"].as_f64().unwrap(), r["q"].as_f64().unwrap());
        let sf = r["sf"].as_f64().unwrap();
        let got = chi2_sf(q, k);
        if sf > 0.0 {
            assert!(
                (got - sf).abs() <= 1e-10 * sf,
                "k={k} q={q}: {got} vs scipy {sf}"
            );
            let lsf = r["logsf"].as_f64().unwrap(); // finite wherever sf > 0
            assert!(
                (chi2_log_sf(q, k) - lsf).abs() <= 1e-10 * lsf.abs().max(1e-3),
                "log k={k} q={q}"
            );
            if sf < 1e-100 {
                deep += 1;
            }
        } else {
            // Below the smallest double: ours underflows too, but its logarithm stays finite.
            assert_eq!(got, 0.0);
            assert!(chi2_log_sf(q, k) < -700.0 && chi2_log_sf(q, k).is_finite());
        }
    }
    assert!(deep >= 5, "only {deep} values below 1e-100");
}

#[test]
fn fuzzy_c_means_matches_scikit_fuzzy() {
    let f = json(include_str!("fixtures/fcm_skfuzzy.json"));
    assert!(f["versions"]["scikit-fuzzy"].is_string());
    let x = a2(&f["x"]);
    for case in f["cases"].as_array().unwrap() {
        let k = case["k"].as_u64().unwrap() as usize;
        let m = case["m"].as_f64().unwrap();
        let model = FuzzyCMeans::new(k)
            .m(m)
            .tol(case["error"].as_f64().unwrap())
            .max_iter(case["maxiter"].as_u64().unwrap() as usize)
            .init(FcmInit::Memberships(a2(&case["u0"])))
            .fit(x.view(), None)
            .unwrap();
        let dg = model.diagnostics();
        assert_eq!(
            dg.n_iter as u64,
            case["n_iter"].as_u64().unwrap(),
            "k={k} m={m}: iterations"
        );
        for (a, b) in model.centers().iter().zip(a2(&case["centers"]).iter()) {
            assert!(
                (a - b).abs() <= 1e-8 * b.abs().max(1.0),
                "k={k} m={m} centre {a} vs {b}"
            );
        }
        for (a, b) in model
            .training_memberships()
            .iter()
            .zip(a2(&case["u"]).iter())
        {
            assert!((a - b).abs() <= 1e-8, "k={k} m={m} membership {a} vs {b}");
        }
        let jm: Vec<f64> = serde_json::from_value(case["jm"].clone()).unwrap();
        for (a, b) in dg.objective.iter().zip(&jm) {
            assert!((a - b).abs() <= 1e-8 * b, "objective {a} vs {b}");
        }
        assert!((dg.partition_coefficient - case["fpc"].as_f64().unwrap()).abs() <= 1e-8);
        // New data: one closed-form step from the centres reproduces the training memberships.
        let again = model.memberships(x.view()).unwrap();
        for (a, b) in again.proba.iter().zip(model.training_memberships().iter()) {
            assert!((a - b).abs() <= 1e-12);
        }
        // The training labels are the argmax of scikit-fuzzy's final memberships.
        let u = a2(&case["u"]);
        assert_eq!(model.training_labels().len(), u.nrows());
        for (i, (&l, row)) in model.training_labels().iter().zip(u.rows()).enumerate() {
            let best = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            assert!(row[l] >= best - 1e-8, "k={k} m={m} row {i}: label {l}");
        }
        assert_eq!(model.training_labels(), again.label.view());
    }
}

#[test]
fn fuzzy_c_means_defaults_weights_and_diagnostics() {
    let (x, _) = blobs(900, 3, 3, 1.0, 4);
    let m = FuzzyCMeans::new(3).seed(2).fit(x.view(), None).unwrap();
    let dg = m.diagnostics();
    assert!(dg.converged);
    assert!(dg.partition_coefficient > 0.9 && dg.partition_coefficient <= 1.0);
    assert!(dg.partition_entropy >= 0.0 && dg.partition_entropy < 0.3);
    for w in dg.objective.windows(2) {
        assert!(
            w[1] <= w[0] * (1.0 + 1e-12),
            "objective rose: {:?}",
            dg.objective
        );
    }
    // Integer sample weights equal repeated rows.
    let w = Array1::from_shape_fn(900, |i| (i % 2 + 1) as f64);
    let rows: Vec<usize> = (0..900)
        .flat_map(|i| std::iter::repeat_n(i, i % 2 + 1))
        .collect();
    let init = x.select(Axis(0), &[0, 1, 2]);
    let a = FuzzyCMeans::new(3)
        .init(FcmInit::Centers(init.clone()))
        .tol(1e-10)
        .fit(x.view(), Some(w.view()))
        .unwrap();
    let b = FuzzyCMeans::new(3)
        .init(FcmInit::Centers(init))
        .tol(1e-10)
        .fit(x.select(Axis(0), &rows).view(), None)
        .unwrap();
    for (u, v) in a.centers().iter().zip(b.centers().iter()) {
        assert!((u - v).abs() < 1e-8);
    }
    // Larger m, fuzzier partition.
    let soft = FuzzyCMeans::new(3)
        .m(4.0)
        .seed(2)
        .fit(x.view(), None)
        .unwrap();
    assert!(soft.diagnostics().partition_coefficient < dg.partition_coefficient);
}

#[test]
fn fuzzy_c_means_rejects_bad_parameters() {
    let x = array![[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]];
    for (cfg, name) in [
        (FuzzyCMeans::new(0), "n_clusters"),
        (FuzzyCMeans::new(2).m(1.0), "m"),
        (FuzzyCMeans::new(2).m(f64::NAN), "m"),
        (FuzzyCMeans::new(2).max_iter(0), "max_iter"),
        (FuzzyCMeans::new(2).tol(-1.0), "tol"),
    ] {
        let e = cfg.fit(x.view(), None).unwrap_err();
        assert!(
            matches!(e, Error::InvalidParameter { name: n, .. } if n == name),
            "{name}: {e}"
        );
    }
    assert!(matches!(
        FuzzyCMeans::new(4).fit(x.view(), None).unwrap_err(),
        Error::TooFewPoints { .. }
    ));
    let e = FuzzyCMeans::new(2)
        .init(FcmInit::Memberships(Array2::ones((2, 2))))
        .fit(x.view(), None)
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::ShapeMismatch {
                what: "initial memberships",
                ..
            }
        ),
        "{e}"
    );
    let e = FuzzyCMeans::new(2)
        .init(FcmInit::Centers(array![[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]))
        .fit(x.view(), None)
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::ShapeMismatch {
                what: "initial centres",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn far_outlier_is_atypical_everywhere_while_memberships_sum_to_one() {
    // Fit on clean data, then score it with a far outlier appended.
    let (clean, _) = blobs(600, 2, 3, 1.0, 7);
    let mut x = Array2::zeros((601, 2));
    x.slice_mut(ndarray::s![..600, ..]).assign(&clean);
    x.row_mut(600).assign(&array![500.0, -500.0]);
    let o = 600;
    // Gaussian mixture: chi-square with d degrees of freedom on the Mahalanobis distance.
    let g = GaussianMixture::new(3)
        .n_init(3)
        .fit(clean.view(), None)
        .unwrap();
    let t = g.typicality(x.view()).unwrap();
    assert!(
        t.typicality.row(o).iter().all(|&v| v < 1e-6),
        "{}",
        t.typicality.row(o)
    );
    assert!(t.outlier[o] > 1.0 - 1e-6);
    let p = g.predict_proba(x.view()).unwrap();
    assert!((p.row(o).sum() - 1.0).abs() < 1e-12);
    assert!(
        p.row(o).iter().copied().fold(0.0, f64::max) > 0.99,
        "the outlier is still 'certain'"
    );
    // Typical points: most have a large typicality in their own component.
    let labels = g.predict(clean.view()).unwrap();
    let typical = (0..600)
        .filter(|&i| t.typicality[(i, labels[i])] > 0.01)
        .count();
    assert!(typical > 570, "{typical}");
    // k-means with per-cluster spreads, isotropic and diagonal.
    let km = KMeans::new(3).n_init(3).fit(clean.view(), None).unwrap();
    for kind in [Spread::Isotropic, Spread::Diagonal] {
        let s =
            ClusterSpread::fit_labels(clean.view(), km.centers(), km.labels(), None, kind).unwrap();
        let t = s.typicality(x.view()).unwrap();
        assert!(
            t.typicality.row(o).iter().all(|&v| v < 1e-6),
            "{kind:?}: {}",
            t.typicality.row(o)
        );
        assert!(t.log_typicality.row(o).iter().all(|v| v.is_finite()));
        assert_eq!(
            s.variances().ncols(),
            if kind == Spread::Diagonal { 2 } else { 1 }
        );
    }
    // Fuzzy c-means: spreads weighted by memberships.
    let f = FuzzyCMeans::new(3).fit(clean.view(), None).unwrap();
    let s = ClusterSpread::fit(
        clean.view(),
        f.centers(),
        f.training_memberships(),
        None,
        Spread::Isotropic,
    )
    .unwrap();
    assert!(s.typicality(x.view()).unwrap().outlier[o] > 1.0 - 1e-6);
}

#[test]
fn typicality_by_hand() {
    // One cluster at the origin with isotropic variance 1 in 2-D: D² = |x|², t = exp(-D²/2).
    let x = array![[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]];
    let c = array![[0.0, 0.0]];
    let s = ClusterSpread::fit(
        x.view(),
        c.view(),
        Array2::ones((4, 1)).view(),
        None,
        Spread::Isotropic,
    )
    .unwrap();
    assert!((s.variances()[(0, 0)] - 0.5).abs() < 1e-15); // sum |x|² / (D n) = 4 / 8
    let t = s.typicality(array![[0.0, 0.0], [1.0, 1.0]].view()).unwrap();
    assert_eq!(t.typicality[(0, 0)], 1.0);
    // D² = 2 / 0.5 = 4 -> exp(-2).
    assert!((t.typicality[(1, 0)] - (-2f64).exp()).abs() < 1e-15);
    assert!((t.outlier[1] - (1.0 - (-2f64).exp())).abs() < 1e-15);
}

/// The spreads a fuzzy c-means fit accumulates in its last pass equal the spreads fitted on
/// the data with the training memberships.
#[test]
fn fcm_spreads_from_the_fit_equal_the_spreads_from_data() {
    let (x, _) = blobs(1500, 3, 3, 0.6, 8);
    let w = Array1::from_shape_fn(x.nrows(), |i| 1.0 + (i % 4) as f64);
    let f = FuzzyCMeans::new(3)
        .seed(5)
        .fit(x.view(), Some(w.view()))
        .unwrap();
    for kind in [Spread::Isotropic, Spread::Diagonal] {
        let a = f.spread(kind).unwrap();
        let b = ClusterSpread::fit(
            x.view(),
            f.centers(),
            f.training_memberships(),
            Some(w.view()),
            kind,
        )
        .unwrap();
        for (u, v) in a.variances().iter().zip(b.variances()) {
            assert!((u - v).abs() <= 1e-10 * v, "{kind:?}: {u} {v}");
        }
    }
    let wsum: f64 = w.sum();
    let pc: f64 = f
        .training_memberships()
        .rows()
        .into_iter()
        .zip(w.iter())
        .map(|(r, &wi)| wi * r.iter().map(|u| u * u).sum::<f64>())
        .sum::<f64>()
        / wsum;
    assert!((f.diagnostics().partition_coefficient - pc).abs() < 1e-12);
    let bare = FuzzyCMeans::new(3).fit(x.view(), None).unwrap();
    let only_centres =
        softclust::fcm::FuzzyCMeansModel::from_centers(bare.centers().to_owned(), 2.0, None)
            .unwrap();
    assert!(only_centres.spread(Spread::Isotropic).is_err());
}
