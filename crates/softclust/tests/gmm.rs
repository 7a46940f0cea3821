//! Gaussian mixtures: EM invariants, oracles, recovery from samples, model selection, errors.
#![allow(clippy::unwrap_used)]

mod common;

use common::{blobs, normal, with_threads};
use ndarray::{array, s, Array1, Array2, Array3, Axis};
use softclust::rng::Rng;
use softclust::selection::{select_model, Criterion};
use softclust::{
    CovMatrices, CovarianceType, Error, GaussianMixture, GaussianMixtureModel, GmmInit,
};

const INITS: [GmmInit; 4] = [
    GmmInit::KMeans,
    GmmInit::KMeansPlusPlus,
    GmmInit::Random,
    GmmInit::RandomFromData,
];

/// Three elongated, rotated clusters in 2-D.
fn elongated(n_per: usize, seed: u64) -> Array2<f64> {
    let mut rng = Rng::new(seed);
    let centers = [[0.0, 0.0], [8.0, 8.0], [-6.0, 9.0]];
    let angles: [f64; 3] = [0.3, -0.8, 1.2];
    let mut x = Array2::zeros((3 * n_per, 2));
    for c in 0..3 {
        let (sn, cs) = angles[c].sin_cos();
        for i in 0..n_per {
            let a = 3.0 * normal(&mut rng);
            let b = 0.3 * normal(&mut rng);
            x[(c * n_per + i, 0)] = centers[c][0] + cs * a - sn * b;
            x[(c * n_per + i, 1)] = centers[c][1] + sn * a + cs * b;
        }
    }
    x
}

#[test]
fn lower_bound_never_decreases() {
    let (x, _) = blobs(600, 3, 4, 4.0, 17);
    for t in CovarianceType::ALL {
        for init in INITS {
            let m = GaussianMixture::new(4)
                .covariance_type(t)
                .init_params(init)
                .tol(0.0)
                .max_iter(40)
                .seed(3)
                .fit(x.view(), None)
                .unwrap();
            let lb = &m.diagnostics().lower_bounds;
            assert_eq!(lb.len(), 40);
            for w in lb.windows(2) {
                assert!(w[1] >= w[0] - 1e-10 * w[0].abs(), "{t:?} {init:?}: {lb:?}");
            }
        }
    }
}

#[test]
fn predict_is_argmax_of_predict_proba_and_rows_sum_to_one() {
    let x = elongated(100, 2);
    for t in CovarianceType::ALL {
        let m = GaussianMixture::new(3)
            .covariance_type(t)
            .fit(x.view(), None)
            .unwrap();
        let p = m.predict_proba(x.view()).unwrap();
        let labels = m.predict(x.view()).unwrap();
        for (i, row) in p.rows().into_iter().enumerate() {
            assert!((row.sum() - 1.0).abs() < 1e-12);
            let best = (0..3).fold(0, |b, j| if row[j] > row[b] { j } else { b });
            assert_eq!(labels[i], best);
        }
        let lp = m.predict_log_proba(x.view()).unwrap();
        for (a, b) in lp.iter().zip(p.iter()) {
            assert!((a.exp() - b).abs() < 1e-15);
        }
        // score is the mean of score_samples; a converged fit's lower bound is close to it.
        let s = m.score_samples(x.view()).unwrap();
        assert!((m.score(x.view(), None).unwrap() - s.mean().unwrap()).abs() < 1e-12);
        assert!(m.converged());
        assert!((m.diagnostics().lower_bound - s.mean().unwrap()).abs() < 1e-2);
    }
}

#[test]
fn one_component_is_the_weighted_mean_and_covariance() {
    let mut rng = Rng::new(5);
    let x = Array2::from_shape_fn((200, 3), |(_, j)| {
        normal(&mut rng) * (j + 1) as f64 + j as f64
    });
    let w = Array1::from_shape_fn(200, |i| 0.5 + (i % 5) as f64);
    let wsum = w.sum();
    let mean = x.t().dot(&w) / wsum;
    let mut cov = Array2::<f64>::zeros((3, 3));
    for i in 0..200 {
        let d = &x.row(i) - &mean;
        for a in 0..3 {
            for b in 0..3 {
                cov[(a, b)] += w[i] * d[a] * d[b];
            }
        }
    }
    cov /= wsum;
    let reg = 1e-6;
    for t in CovarianceType::ALL {
        let m = GaussianMixture::new(1)
            .covariance_type(t)
            .fit(x.view(), Some(w.view()))
            .unwrap();
        for (a, b) in m.means().iter().zip(mean.iter()) {
            assert!((a - b).abs() < 1e-12, "{t:?} mean");
        }
        let want: Vec<f64> = match t {
            CovarianceType::Full | CovarianceType::Tied => (&cov + &(Array2::<f64>::eye(3) * reg))
                .iter()
                .copied()
                .collect(),
            CovarianceType::Diag => cov.diag().iter().map(|v| v + reg).collect(),
            CovarianceType::Spherical => vec![cov.diag().mean().unwrap() + reg],
        };
        let got: Vec<f64> = match m.covariances() {
            CovMatrices::Full(a) => a.iter().copied().collect(),
            CovMatrices::Tied(a) | CovMatrices::Diag(a) => a.iter().copied().collect(),
            CovMatrices::Spherical(a) => a.to_vec(),
        };
        for (a, b) in got.iter().zip(&want) {
            assert!(
                (a - b).abs() < 1e-10 * b.abs().max(1.0),
                "{t:?}: {got:?} vs {want:?}"
            );
        }
        assert_eq!(m.weights().to_vec(), vec![1.0]);
    }
}

#[test]
fn precisions_are_the_inverse_covariances() {
    let x = elongated(80, 4);
    for t in CovarianceType::ALL {
        let m = GaussianMixture::new(3)
            .covariance_type(t)
            .fit(x.view(), None)
            .unwrap();
        match (m.covariances(), m.precisions()) {
            (CovMatrices::Full(c), CovMatrices::Full(p)) => {
                for j in 0..3 {
                    let prod = c.index_axis(Axis(0), j).dot(&p.index_axis(Axis(0), j));
                    for (a, b) in prod.iter().zip(Array2::<f64>::eye(2).iter()) {
                        assert!((a - b).abs() < 1e-10);
                    }
                }
            }
            (CovMatrices::Tied(c), CovMatrices::Tied(p)) => {
                for (a, b) in c.dot(&p).iter().zip(Array2::<f64>::eye(2).iter()) {
                    assert!((a - b).abs() < 1e-10);
                }
            }
            (CovMatrices::Diag(c), CovMatrices::Diag(p)) => {
                assert!((c * p).iter().all(|v| (v - 1.0).abs() < 1e-12));
            }
            (CovMatrices::Spherical(c), CovMatrices::Spherical(p)) => {
                assert!((c * p).iter().all(|v| (v - 1.0).abs() < 1e-12));
            }
            _ => panic!("types differ"),
        }
    }
}

#[test]
fn fitting_a_large_sample_recovers_the_parameters() {
    let mut cov = Array3::<f64>::zeros((2, 2, 2));
    cov.slice_mut(s![0, .., ..])
        .assign(&array![[2.0, 0.8], [0.8, 1.0]]);
    cov.slice_mut(s![1, .., ..])
        .assign(&array![[0.5, -0.2], [-0.2, 0.3]]);
    let truth = GaussianMixtureModel::from_parameters(
        array![0.3, 0.7],
        array![[0.0, 0.0], [6.0, -3.0]],
        CovMatrices::Full(cov.clone()),
        true,
    )
    .unwrap();
    let (x, labels) = truth.sample(40_000, 11);
    let frac1 = labels.iter().filter(|&&l| l == 1).count() as f64 / 40_000.0;
    assert!((frac1 - 0.7).abs() < 0.01);
    let m = GaussianMixture::new(2).fit(x.view(), None).unwrap();
    // Match components by their means.
    let order: Vec<usize> = if m.means()[(0, 0)] < 3.0 {
        vec![0, 1]
    } else {
        vec![1, 0]
    };
    let CovMatrices::Full(c) = m.covariances() else {
        panic!()
    };
    for (t, &f) in order.iter().enumerate() {
        assert!((m.weights()[f] - [0.3, 0.7][t]).abs() < 0.01);
        for j in 0..2 {
            assert!((m.means()[(f, j)] - truth.means()[(t, j)]).abs() < 0.05);
            for l in 0..2 {
                assert!(
                    (c[(f, j, l)] - cov[(t, j, l)]).abs() < 0.06,
                    "cov {t} {j} {l}"
                );
            }
        }
    }
    // Sampling from diag and spherical models has the right spread too.
    for (t, p) in [
        (CovarianceType::Diag, CovMatrices::Diag(array![[4.0, 0.25]])),
        (
            CovarianceType::Spherical,
            CovMatrices::Spherical(array![9.0]),
        ),
    ] {
        let mm = GaussianMixtureModel::from_parameters(array![1.0], array![[1.0, 2.0]], p, true)
            .unwrap();
        assert_eq!(mm.covariance_type(), t);
        let (y, _) = mm.sample(20_000, 3);
        let var = y.var_axis(Axis(0), 0.0);
        let want = if t == CovarianceType::Diag {
            [4.0, 0.25]
        } else {
            [9.0, 9.0]
        };
        for j in 0..2 {
            assert!((var[j] / want[j] - 1.0).abs() < 0.05, "{t:?} {var}");
        }
    }
}

#[test]
fn integer_weights_equal_repeated_rows() {
    let x = elongated(40, 8);
    let w = Array1::from_shape_fn(120, |i| (i % 3 + 1) as f64);
    let rows: Vec<usize> = (0..120)
        .flat_map(|i| std::iter::repeat_n(i, i % 3 + 1))
        .collect();
    let xr = x.select(Axis(0), &rows);
    let means = x.select(Axis(0), &[0, 40, 80]);
    let cfg = GaussianMixture::new(3)
        .weights_init(array![1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0])
        .means_init(means)
        .precisions_init(CovMatrices::Full(Array3::from_shape_fn(
            (3, 2, 2),
            |(_, a, b)| if a == b { 1.0 } else { 0.0 },
        )))
        .tol(0.0)
        .max_iter(10);
    let a = cfg.fit(x.view(), Some(w.view())).unwrap();
    let b = cfg.fit(xr.view(), None).unwrap();
    for (u, v) in a.means().iter().zip(b.means().iter()) {
        assert!((u - v).abs() < 1e-9);
    }
    assert!((a.diagnostics().lower_bound - b.diagnostics().lower_bound).abs() < 1e-10);
    assert!(
        (a.bic(x.view(), Some(w.view())).unwrap() - b.bic(xr.view(), None).unwrap()).abs() < 1e-6
    );
}

#[test]
fn identical_results_on_any_thread_count() {
    let (x, _) = blobs(9000, 4, 3, 3.0, 21);
    let fit = || {
        GaussianMixture::new(3)
            .n_init(2)
            .seed(9)
            .fit(x.view(), None)
            .unwrap()
    };
    let a = with_threads(1, fit);
    let b = with_threads(2, fit);
    assert_eq!(a, b);
}

#[test]
fn restarts_keep_the_highest_lower_bound() {
    let (x, _) = blobs(500, 2, 5, 5.0, 6);
    let m = GaussianMixture::new(5)
        .n_init(4)
        .init_params(GmmInit::Random)
        .seed(2)
        .fit(x.view(), None)
        .unwrap();
    let dg = m.diagnostics();
    let max = dg
        .run_lower_bounds
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(dg.lower_bound, max);
    assert_eq!(dg.run_lower_bounds[dg.best_run], max);
    // Restarts really re-initialise: random starts end in more than one place.
    let distinct = dg
        .run_lower_bounds
        .iter()
        .map(|v| (v * 1e6) as i64)
        .collect::<std::collections::BTreeSet<_>>();
    assert!(distinct.len() > 1, "{:?}", dg.run_lower_bounds);
}

#[test]
fn non_convergence_is_a_diagnostic_and_warm_start_continues() {
    let x = elongated(100, 3);
    let m = GaussianMixture::new(3)
        .max_iter(2)
        .tol(1e-12)
        .fit(x.view(), None)
        .unwrap();
    assert!(!m.converged());
    assert_eq!(m.diagnostics().n_iter, 2);
    let m2 = GaussianMixture::new(3)
        .max_iter(200)
        .tol(1e-8)
        .warm_start(&m)
        .fit(x.view(), None)
        .unwrap();
    assert!(m2.converged());
    assert!(m2.diagnostics().lower_bounds[0] >= m.diagnostics().lower_bound - 1e-12);
}

#[test]
fn collapsed_component_is_a_clear_error_or_auto_regularised() {
    // Two identical points per cluster and no regularisation: singular covariances.
    let x = array![
        [0.0, 0.0],
        [0.0, 0.0],
        [5.0, 5.0],
        [5.0, 5.0],
        [9.0, 0.0],
        [9.0, 0.0]
    ];
    let cfg = GaussianMixture::new(3).reg_covar(0.0);
    let e = cfg.fit(x.view(), None).unwrap_err();
    assert!(
        matches!(
            e,
            Error::IllConditioned {
                component: Some(_),
                ..
            }
        ),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("fewer components")
            && msg.contains("reg_covar")
            && msg.contains("standardise"),
        "{msg}"
    );
    let m = cfg.auto_regularize(true).fit(x.view(), None).unwrap();
    assert!(m.diagnostics().regularization_increases > 0);
    assert!(m.diagnostics().reg_covar > 0.0);
    let labels = m.predict(x.view()).unwrap();
    assert_eq!(labels[0], labels[1]);
    assert_ne!(labels[0], labels[2]);
    // A cluster of identical points at the origin has exactly zero variance in every
    // coordinate; all-identical data has a zero shared covariance.
    let y = array![
        [0.0, 0.0],
        [0.0, 0.0],
        [5.0, 5.0],
        [5.0, 5.5],
        [9.0, 0.0],
        [9.5, 0.5]
    ];
    let init = array![[0.0, 0.0], [5.0, 5.2], [9.2, 0.2]];
    for t in [CovarianceType::Diag, CovarianceType::Spherical] {
        let e = GaussianMixture::new(3)
            .covariance_type(t)
            .reg_covar(0.0)
            .weights_init(array![1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0])
            .means_init(init.clone())
            .precisions_init(match t {
                CovarianceType::Diag => CovMatrices::Diag(Array2::ones((3, 2))),
                _ => CovMatrices::Spherical(Array1::ones(3)),
            })
            .fit(y.view(), None)
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::IllConditioned {
                    component: Some(0),
                    ..
                }
            ),
            "{t:?}: {e}"
        );
    }
    let z = Array2::<f64>::zeros((4, 2));
    let e = GaussianMixture::new(1)
        .covariance_type(CovarianceType::Tied)
        .reg_covar(0.0)
        .fit(z.view(), None)
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::IllConditioned {
                component: None,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("shared (tied) covariance"));
}

#[test]
fn selection_picks_three_elongated_clusters() {
    let x = elongated(150, 1);
    let ks: Vec<usize> = (1..=6).collect();
    let sel = select_model(
        x.view(),
        None,
        &ks,
        &CovarianceType::ALL,
        Criterion::Bic,
        &GaussianMixture::new(1).n_init(2),
    )
    .unwrap();
    assert_eq!(sel.table.len(), 24);
    let top = &sel.table[0];
    assert_eq!(top.k, 3, "{:?}", &sel.table[..4]);
    assert!(
        matches!(
            top.covariance_type,
            CovarianceType::Full | CovarianceType::Tied
        ),
        "{top:?}"
    );
    assert_eq!(sel.best.n_components(), 3);
    for w in sel.table.windows(2) {
        assert!(w[0].criterion <= w[1].criterion || w[1].failed.is_some());
    }
    // ICL also picks 3; AIC, with its lighter penalty, picks at least 3.
    let s = select_model(
        x.view(),
        None,
        &[2, 3, 4],
        &[CovarianceType::Full],
        Criterion::Icl,
        &GaussianMixture::new(1),
    )
    .unwrap();
    assert_eq!(s.table[0].k, 3);
    let s = select_model(
        x.view(),
        None,
        &[2, 3, 4],
        &[CovarianceType::Full],
        Criterion::Aic,
        &GaussianMixture::new(1),
    )
    .unwrap();
    assert!(s.table[0].k >= 3);
    assert!(s.table[0].aic <= s.table[1].aic);
}

#[test]
fn selection_records_failures_and_goes_on() {
    let x = array![[0.0], [0.0], [1.0], [1.0], [1.5]];
    let sel = select_model(
        x.view(),
        None,
        &[1, 2, 6],
        &[CovarianceType::Full],
        Criterion::Bic,
        &GaussianMixture::new(1).reg_covar(0.0),
    )
    .unwrap();
    assert_eq!(sel.table.len(), 3);
    let failed: Vec<_> = sel.table.iter().filter(|c| c.failed.is_some()).collect();
    assert!(failed.iter().any(|c| c.k == 6));
    assert!(sel.table[0].failed.is_none());
    assert!(failed.iter().all(|c| c.criterion.is_nan()));
}

// ---- one test per invalid parameter ---------------------------------------------------------

fn x() -> Array2<f64> {
    elongated(10, 5)
}

fn err(cfg: GaussianMixture) -> Error {
    cfg.fit(x().view(), None).unwrap_err()
}

#[test]
fn rejects_zero_components() {
    assert!(matches!(
        err(GaussianMixture::new(0)),
        Error::InvalidParameter {
            name: "n_components",
            ..
        }
    ));
}

#[test]
fn rejects_more_components_than_points() {
    assert!(matches!(
        err(GaussianMixture::new(31)),
        Error::TooFewPoints {
            n_samples: 30,
            n_clusters: 31
        }
    ));
}

#[test]
fn rejects_bad_tol() {
    assert!(matches!(
        err(GaussianMixture::new(2).tol(-1.0)),
        Error::InvalidParameter { name: "tol", .. }
    ));
}

#[test]
fn rejects_bad_reg_covar() {
    assert!(matches!(
        err(GaussianMixture::new(2).reg_covar(f64::NAN)),
        Error::InvalidParameter {
            name: "reg_covar",
            ..
        }
    ));
}

#[test]
fn zero_max_iter_initialises_only() {
    // scikit-learn 1.9: max_iter = 0 returns the initialisation, n_iter 0, not converged.
    let x = array![
        [0.0, 0.0],
        [0.1, 0.2],
        [5.0, 5.0],
        [5.1, 4.9],
        [0.2, 0.1],
        [4.8, 5.2]
    ];
    let m = GaussianMixture::new(2)
        .max_iter(0)
        .seed(1)
        .fit(x.view(), None)
        .unwrap();
    let d = m.diagnostics();
    assert_eq!(d.n_iter, 0);
    assert!(!d.converged);
    assert!(d.lower_bounds.is_empty());
    let one = GaussianMixture::new(2)
        .max_iter(1)
        .seed(1)
        .fit(x.view(), None)
        .unwrap();
    assert_eq!(one.diagnostics().n_iter, 1);
}

#[test]
fn rejects_zero_n_init() {
    assert!(matches!(
        err(GaussianMixture::new(2).n_init(0)),
        Error::InvalidParameter { name: "n_init", .. }
    ));
}

#[test]
fn rejects_bad_weights_init() {
    assert!(matches!(
        err(GaussianMixture::new(2).weights_init(array![1.0])),
        Error::ShapeMismatch {
            what: "weights_init",
            ..
        }
    ));
    assert!(matches!(
        err(GaussianMixture::new(2).weights_init(array![0.5, 0.6])),
        Error::InvalidParameter {
            name: "weights_init",
            ..
        }
    ));
    assert!(matches!(
        err(GaussianMixture::new(2).weights_init(array![1.5, -0.5])),
        Error::InvalidParameter {
            name: "weights_init",
            ..
        }
    ));
}

#[test]
fn rejects_bad_means_init() {
    assert!(matches!(
        err(GaussianMixture::new(2).means_init(array![[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])),
        Error::ShapeMismatch {
            what: "means_init",
            ..
        }
    ));
    assert!(matches!(
        err(GaussianMixture::new(2).means_init(array![[0.0, f64::NAN], [1.0, 1.0]])),
        Error::NonFinite { .. }
    ));
}

#[test]
fn rejects_bad_precisions_init() {
    let wrong_type =
        GaussianMixture::new(2).precisions_init(CovMatrices::Spherical(array![1.0, 1.0]));
    assert!(matches!(
        err(wrong_type),
        Error::InvalidParameter {
            name: "precisions_init",
            ..
        }
    ));
    let wrong_shape = GaussianMixture::new(2)
        .covariance_type(CovarianceType::Diag)
        .precisions_init(CovMatrices::Diag(array![[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]));
    assert!(matches!(
        err(wrong_shape),
        Error::ShapeMismatch {
            what: "precisions_init",
            ..
        }
    ));
    let not_pd = GaussianMixture::new(2)
        .covariance_type(CovarianceType::Tied)
        .weights_init(array![0.5, 0.5])
        .means_init(array![[0.0, 0.0], [1.0, 1.0]])
        .precisions_init(CovMatrices::Tied(array![[1.0, 2.0], [2.0, 1.0]]));
    assert!(matches!(
        err(not_pd),
        Error::InvalidParameter {
            name: "precisions_init",
            ..
        }
    ));
}

#[test]
fn rejects_mismatched_warm_start() {
    let m = GaussianMixture::new(2).fit(x().view(), None).unwrap();
    assert!(matches!(
        err(GaussianMixture::new(3).warm_start(&m)),
        Error::ShapeMismatch {
            what: "warm-start model",
            ..
        }
    ));
}

#[test]
fn rejects_bad_data_and_weights() {
    let mut d = x();
    d[(3, 1)] = f64::INFINITY;
    let e = GaussianMixture::new(2).fit(d.view(), None).unwrap_err();
    assert!(
        matches!(
            e,
            Error::NonFinite {
                row: 3,
                column: 1,
                ..
            }
        ),
        "{e}"
    );
    let e = GaussianMixture::new(2)
        .fit(x().view(), Some(Array1::zeros(30).view()))
        .unwrap_err();
    assert_eq!(e, Error::ZeroTotalWeight);
    let m = GaussianMixture::new(2).fit(x().view(), None).unwrap();
    let e = m.predict_proba(array![[1.0, 2.0, 3.0]].view()).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
}

#[test]
fn rejects_inconsistent_parameters() {
    let e = GaussianMixtureModel::from_parameters(
        array![0.5, 0.5],
        array![[0.0]],
        CovMatrices::Spherical(array![1.0]),
        true,
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            Error::ShapeMismatch {
                what: "weights",
                ..
            }
        ),
        "{e}"
    );
    let e = GaussianMixtureModel::from_parameters(
        array![1.0],
        array![[0.0]],
        CovMatrices::Spherical(array![-1.0]),
        true,
    )
    .unwrap_err();
    assert!(matches!(e, Error::IllConditioned { .. }), "{e}");
}

#[test]
fn noise_component_takes_the_scattered_points() {
    let mut rng = Rng::new(12);
    let clusters = elongated(150, 9);
    // 40 points scattered uniformly over a box much larger than the clusters.
    let mut x = Array2::zeros((490, 2));
    x.slice_mut(s![..450, ..]).assign(&clusters);
    for i in 450..490 {
        x[(i, 0)] = -40.0 + 80.0 * rng.uniform();
        x[(i, 1)] = -40.0 + 80.0 * rng.uniform();
    }
    let m = GaussianMixture::new(3)
        .noise(0.1)
        .n_init(3)
        .fit(x.view(), None)
        .unwrap();
    let nz = m.noise().unwrap();
    assert!(
        (nz.log_volume
            - (x.column(0).fold(f64::NEG_INFINITY, |a, &b| a.max(b))
                - x.column(0).fold(f64::INFINITY, |a, &b| a.min(b)))
            .ln()
            - (x.column(1).fold(f64::NEG_INFINITY, |a, &b| a.max(b))
                - x.column(1).fold(f64::INFINITY, |a, &b| a.min(b)))
            .ln())
        .abs()
            < 1e-12
    );
    let pi0 = nz.log_weight.exp();
    assert!((pi0 - 40.0 / 490.0).abs() < 0.03, "noise weight {pi0}");
    assert!((m.weights().sum() + pi0 - 1.0).abs() < 1e-12);
    assert_eq!(m.n_membership_columns(), 4);
    let mem = m.memberships(x.view()).unwrap();
    assert_eq!(mem.proba.ncols(), 4);
    for row in mem.proba.rows() {
        assert!((row.sum() - 1.0).abs() < 1e-12);
    }
    let noise_labelled = (450..490).filter(|&i| mem.label[i] == 3).count();
    assert!(
        noise_labelled >= 30,
        "{noise_labelled} of 40 scattered points labelled noise"
    );
    let cluster_as_noise = (0..450).filter(|&i| mem.label[i] == 3).count();
    assert!(cluster_as_noise < 10, "{cluster_as_noise}");
    assert_eq!(
        m.n_parameters(),
        CovarianceType::Full.n_parameters(3, 2) + 1
    );
    // The lower bound still never decreases.
    let lb = &m.diagnostics().lower_bounds;
    for w in lb.windows(2) {
        assert!(w[1] >= w[0] - 1e-10 * w[0].abs());
    }
    // Bad settings.
    for p0 in [0.0, 1.0, f64::NAN] {
        let e = GaussianMixture::new(3)
            .noise(p0)
            .fit(x.view(), None)
            .unwrap_err();
        assert!(
            matches!(e, Error::InvalidParameter { name: "noise", .. }),
            "{e}"
        );
    }
    let flat = array![[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]];
    let e = GaussianMixture::new(1)
        .noise(0.1)
        .fit(flat.view(), None)
        .unwrap_err();
    assert!(e.to_string().contains("constant"), "{e}");
}

/// The fused EM pass takes each component's scatter about its current mean: moving the data
/// far from the origin changes nothing but the means (no cancellation in the covariances).
#[test]
fn full_and_tied_covariances_do_not_depend_on_the_data_offset() {
    let (x, _) = blobs(3000, 3, 3, 0.8, 17);
    let shifted = &x + 1e6;
    for t in [CovarianceType::Full, CovarianceType::Tied] {
        let cfg = GaussianMixture::new(3)
            .covariance_type(t)
            .seed(4)
            .max_iter(20)
            .tol(0.0);
        let a = cfg.fit(x.view(), None).unwrap();
        let b = cfg.fit(shifted.view(), None).unwrap();
        let flat = |c: CovMatrices| -> Vec<f64> {
            match c {
                CovMatrices::Full(m) => m.iter().copied().collect(),
                CovMatrices::Tied(m) => m.iter().copied().collect(),
                other => panic!("unexpected {other:?}"),
            }
        };
        let (ca, cb) = (flat(a.covariances()), flat(b.covariances()));
        let scale = ca.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (u, v) in ca.iter().zip(cb.iter()) {
            assert!((u - v).abs() <= 1e-7 * scale, "{t:?}: {u} {v}");
        }
        for (u, v) in a.means().iter().zip(b.means().iter()) {
            assert!((u + 1e6 - v).abs() <= 1e-6, "{t:?}: {u} {v}");
        }
    }
}

#[test]
fn given_precisions_are_paired_with_the_start_components_they_fit() {
    // The start's numbering of components is arbitrary: precisions given in any order (and no
    // means) start the same fit as the start's own precisions.
    let x = elongated(60, 4);
    for t in [
        CovarianceType::Full,
        CovarianceType::Diag,
        CovarianceType::Spherical,
    ] {
        let cfg = GaussianMixture::new(3).covariance_type(t).seed(2).n_init(1);
        let start = cfg.clone().max_iter(0).fit(x.view(), None).unwrap();
        let reversed = match start.precisions() {
            CovMatrices::Full(p) => CovMatrices::Full(p.slice(s![..;-1, .., ..]).to_owned()),
            CovMatrices::Diag(p) => CovMatrices::Diag(p.slice(s![..;-1, ..]).to_owned()),
            CovMatrices::Spherical(p) => CovMatrices::Spherical(p.slice(s![..;-1]).to_owned()),
            CovMatrices::Tied(_) => unreachable!(),
        };
        let given = cfg.clone().precisions_init(reversed);
        let s2 = given.clone().max_iter(0).fit(x.view(), None).unwrap();
        // The start keeps its numbering; the precisions go back to their components.
        assert!(
            (&s2.means() - &start.means())
                .iter()
                .all(|v| v.abs() < 1e-12),
            "{t:?}"
        );
        let flat = |c: &CovMatrices| match c {
            CovMatrices::Full(p) => p.iter().copied().collect::<Vec<f64>>(),
            CovMatrices::Diag(p) => p.iter().copied().collect(),
            CovMatrices::Spherical(p) => p.iter().copied().collect(),
            CovMatrices::Tied(p) => p.iter().copied().collect(),
        };
        let (f1, f2) = (flat(&start.precisions()), flat(&s2.precisions()));
        assert!(
            f1.iter()
                .zip(&f2)
                .all(|(a, b)| (a - b).abs() < 1e-9 * a.abs().max(1.0)),
            "{t:?}"
        );
        let (a, b) = (
            cfg.fit(x.view(), None).unwrap(),
            given.fit(x.view(), None).unwrap(),
        );
        assert_eq!(a.diagnostics().n_iter, b.diagnostics().n_iter, "{t:?}");
        let (la, lb) = (a.diagnostics().lower_bound, b.diagnostics().lower_bound);
        assert!((la - lb).abs() < 1e-10 * la.abs(), "{t:?}: {la} vs {lb}");
    }
}
