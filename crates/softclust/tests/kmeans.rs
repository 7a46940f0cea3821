//! k-means: hand-computed cases, invariants, determinism, and one test per invalid parameter.
#![allow(clippy::unwrap_used)]

mod common;

use common::{blobs, with_threads};
use ndarray::{array, Array1, Array2, Axis};
use softclust::{Error, Init, KMeans, KMeansModel};

/// scikit-learn's hand-computed four-point case (`test_kmeans_results`): weights 3, 1, 1, 3.
#[test]
fn four_weighted_points_by_hand() {
    let x = array![[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [1.0, 1.0]];
    let w = array![3.0, 1.0, 1.0, 3.0];
    let init = array![[0.0, 0.0], [1.0, 1.0]];
    let m = KMeans::new(2)
        .init(Init::Centers(init))
        .fit(x.view(), Some(w.view()))
        .unwrap();
    assert_eq!(m.labels().to_vec(), vec![0, 0, 1, 1]);
    // Centres: (3*0 + 1*0.5)/4 = 0.125 and (1*0.5 + 3*1)/4 = 0.875.
    assert_eq!(m.centers(), array![[0.125, 0.0], [0.875, 1.0]]);
    // Inertia: 3*0.125² + 0.375² + 0.375² + 3*0.125² = 0.375.
    assert!((m.inertia() - 0.375).abs() < 1e-15);
    assert_eq!(m.diagnostics().n_iter, 2);
    assert!(m.diagnostics().converged);
    assert_eq!(m.cluster_weights().unwrap().to_vec(), vec![4.0, 4.0]);
    // sigma² = inertia / (W d) = 0.375 / (8 * 2).
    assert!((m.sigma2() - 0.375 / 16.0).abs() < 1e-15);
}

#[test]
fn finds_well_separated_clusters_and_labels_equal_predict() {
    let (x, truth) = blobs(3000, 4, 5, 0.5, 11);
    for init in [Init::KMeansPlusPlus, Init::Random] {
        let m = KMeans::new(5)
            .init(init)
            .seed(3)
            .fit(x.view(), None)
            .unwrap();
        assert_eq!(m.predict(x.view()).unwrap(), m.labels());
        // Every true cluster maps to exactly one found cluster.
        let mut map = vec![usize::MAX; 5];
        for (i, &t) in truth.iter().enumerate() {
            let l = m.labels()[i];
            if map[t] == usize::MAX {
                map[t] = l;
            }
            assert_eq!(map[t], l, "point {i}");
        }
        let mut used = map.clone();
        used.sort_unstable();
        used.dedup();
        assert_eq!(used.len(), 5);
    }
}

#[test]
fn identical_results_on_any_thread_count() {
    let (x, _) = blobs(20_000, 6, 7, 3.0, 5);
    let fit = || {
        KMeans::new(7)
            .n_init(3)
            .seed(42)
            .fit(x.view(), None)
            .unwrap()
    };
    let a: KMeansModel<f64> = with_threads(1, fit);
    for t in [2, 3] {
        let b = with_threads(t, fit);
        assert_eq!(a.labels(), b.labels(), "{t} threads");
        assert_eq!(a.inertia().to_bits(), b.inertia().to_bits(), "{t} threads");
        let same = a
            .centers()
            .iter()
            .zip(b.centers())
            .all(|(u, v)| u.to_bits() == v.to_bits());
        assert!(same, "{t} threads: centres differ");
        assert_eq!(a.diagnostics(), b.diagnostics());
    }
}

#[test]
fn same_seed_same_result_other_seed_other_start() {
    let (x, _) = blobs(2000, 3, 4, 6.0, 9);
    let a = KMeans::new(6).seed(1).fit(x.view(), None).unwrap();
    let b = KMeans::new(6).seed(1).fit(x.view(), None).unwrap();
    assert_eq!(a.centers(), b.centers());
    let c = KMeans::new(6).seed(2).fit(x.view(), None).unwrap();
    assert_ne!(a.centers(), c.centers());
}

#[test]
fn restarts_keep_the_lowest_inertia() {
    let (x, _) = blobs(1500, 2, 8, 4.0, 2);
    let m = KMeans::new(8)
        .n_init(6)
        .seed(5)
        .fit(x.view(), None)
        .unwrap();
    let dg = m.diagnostics();
    assert_eq!(dg.run_inertia.len(), 6);
    let min = dg.run_inertia.iter().copied().fold(f64::INFINITY, f64::min);
    assert_eq!(m.inertia(), min);
    assert_eq!(dg.run_inertia[dg.best_run], min);
    // The first run of a multi-start fit is the single-start fit with the same seed.
    let single = KMeans::new(8)
        .n_init(1)
        .seed(5)
        .fit(x.view(), None)
        .unwrap();
    assert_eq!(single.inertia(), dg.run_inertia[0]);
}

#[test]
fn integer_weights_equal_repeated_rows() {
    let (x, _) = blobs(300, 3, 3, 2.0, 4);
    let w: Array1<f64> = (0..300).map(|i| (i % 3 + 1) as f64).collect();
    let mut rows = Vec::new();
    for i in 0..300 {
        for _ in 0..(i % 3 + 1) {
            rows.push(i);
        }
    }
    let xr = x.select(Axis(0), &rows);
    let init = x.select(Axis(0), &[0, 1, 2]);
    let a = KMeans::new(3)
        .init(Init::Centers(init.clone()))
        .fit(x.view(), Some(w.view()))
        .unwrap();
    let b = KMeans::new(3)
        .init(Init::Centers(init))
        .fit(xr.view(), None)
        .unwrap();
    assert!((a.inertia() - b.inertia()).abs() < 1e-9 * b.inertia());
    for (u, v) in a.centers().iter().zip(b.centers()) {
        assert!((u - v).abs() < 1e-10);
    }
}

#[test]
fn zero_weight_points_do_not_move_centres() {
    let x = array![[0.0], [1.0], [10.0], [11.0], [1000.0]];
    let w = array![1.0, 1.0, 1.0, 1.0, 0.0];
    let m = KMeans::new(2)
        .init(Init::Centers(array![[0.0], [10.0]]))
        .fit(x.view(), Some(w.view()))
        .unwrap();
    assert_eq!(m.centers(), array![[0.5], [10.5]]);
}

#[test]
fn translating_the_data_translates_the_centres() {
    let (x, _) = blobs(1000, 3, 4, 1.0, 8);
    let shift = array![1e3, -250.0, 7.5];
    let xs = &x + &shift;
    let init = x.select(Axis(0), &[0, 1, 2, 3]);
    let a = KMeans::new(4)
        .init(Init::Centers(init.clone()))
        .fit(x.view(), None)
        .unwrap();
    let b = KMeans::new(4)
        .init(Init::Centers(&init + &shift))
        .fit(xs.view(), None)
        .unwrap();
    assert_eq!(a.labels(), b.labels());
    assert!((a.inertia() - b.inertia()).abs() < 1e-8 * a.inertia());
    let back = &b.centers() - &shift;
    for (u, v) in a.centers().iter().zip(back.iter()) {
        assert!((u - v).abs() < 1e-9);
    }
}

#[test]
fn non_convergence_is_a_diagnostic() {
    let (x, _) = blobs(2000, 2, 10, 8.0, 3);
    let m = KMeans::new(10).max_iter(1).fit(x.view(), None).unwrap();
    let dg = m.diagnostics();
    assert!(!dg.converged);
    assert_eq!(dg.n_iter, 1);
    assert_eq!(dg.inertia_history.len(), 1);
    // The final assignment step still makes labels consistent with the centres.
    assert_eq!(m.predict(x.view()).unwrap(), m.labels());
}

#[test]
fn inertia_history_never_increases() {
    let (x, _) = blobs(4000, 5, 6, 9.0, 13);
    let m = KMeans::new(6)
        .init(Init::Random)
        .n_init(1)
        .fit(x.view(), None)
        .unwrap();
    let h = &m.diagnostics().inertia_history;
    assert!(h.len() >= 2);
    for w in h.windows(2) {
        assert!(w[1] <= w[0] * (1.0 + 1e-12), "{h:?}");
    }
    assert!(m.inertia() <= h[h.len() - 1] * (1.0 + 1e-12));
}

#[test]
fn duplicate_points_and_k_equal_n() {
    let x = array![[1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [5.0, 5.0]];
    let m = KMeans::new(4).fit(x.view(), None).unwrap();
    assert!(m.inertia() < 1e-12);
    let y = array![[0.0], [1.0], [2.0]];
    let m = KMeans::new(3).fit(y.view(), None).unwrap();
    assert!(m.inertia() < 1e-24);
    let mut c: Vec<f64> = m.centers().iter().copied().collect();
    c.sort_by(f64::total_cmp);
    assert_eq!(c, vec![0.0, 1.0, 2.0]);
}

#[test]
fn f32_data_cluster_like_f64() {
    let (x, _) = blobs(2000, 4, 3, 1.0, 21);
    let x32 = x.mapv(|v| v as f32);
    let init = x.select(Axis(0), &[0, 1, 2]);
    let a = KMeans::new(3)
        .init(Init::Centers(init.clone()))
        .fit(x.view(), None)
        .unwrap();
    let b = KMeans::new(3)
        .init(Init::Centers(init.mapv(|v| v as f32)))
        .fit(x32.view(), None)
        .unwrap();
    assert_eq!(a.labels(), b.labels());
    assert!((a.inertia() - b.inertia()).abs() < 1e-4 * a.inertia());
}

#[test]
fn transform_is_exact_for_points_on_centres() {
    let x = array![[3.0, 4.0], [1e8, 1e8 + 1.0], [1e8, 1e8]];
    let m = KMeans::new(2)
        .init(Init::Centers(array![[3.0, 4.0], [1e8, 1e8]]))
        .max_iter(1)
        .fit(array![[3.0, 4.0], [1e8, 1e8]].view(), None)
        .unwrap();
    let d = m.transform(x.view()).unwrap();
    assert_eq!(d[(0, 0)], 0.0);
    assert_eq!(d[(2, 1)], 0.0);
    assert!((d[(1, 1)] - 1.0f64).abs() < 1e-6);
}

// ---- one test per invalid parameter or input -------------------------------------------

fn data() -> Array2<f64> {
    array![[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]]
}

#[test]
fn rejects_zero_clusters() {
    let e = KMeans::<f64>::new(0).fit(data().view(), None).unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidParameter {
                name: "n_clusters",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn rejects_more_clusters_than_points() {
    let e = KMeans::new(4).fit(data().view(), None).unwrap_err();
    assert_eq!(
        e,
        Error::TooFewPoints {
            n_samples: 3,
            n_clusters: 4
        }
    );
    assert!(e.to_string().contains("lower k"));
}

#[test]
fn rejects_zero_max_iter() {
    let e = KMeans::new(2)
        .max_iter(0)
        .fit(data().view(), None)
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidParameter {
                name: "max_iter",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn rejects_negative_or_nan_tol() {
    for tol in [-1e-3, f64::NAN, f64::INFINITY] {
        let e = KMeans::new(2)
            .tol(tol)
            .fit(data().view(), None)
            .unwrap_err();
        assert!(
            matches!(e, Error::InvalidParameter { name: "tol", .. }),
            "{e}"
        );
    }
}

#[test]
fn rejects_zero_n_init() {
    let e = KMeans::new(2)
        .n_init(0)
        .fit(data().view(), None)
        .unwrap_err();
    assert!(
        matches!(e, Error::InvalidParameter { name: "n_init", .. }),
        "{e}"
    );
}

#[test]
fn rejects_zero_local_trials() {
    let e = KMeans::new(2)
        .n_local_trials(0)
        .fit(data().view(), None)
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidParameter {
                name: "n_local_trials",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn rejects_initial_centres_of_wrong_shape() {
    let e = KMeans::new(2)
        .init(Init::Centers(array![[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]))
        .fit(data().view(), None)
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
    let e = KMeans::new(2)
        .init(Init::Centers(array![[0.0, 0.0]]))
        .fit(data().view(), None)
        .unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
}

#[test]
fn rejects_non_finite_initial_centres() {
    let e = KMeans::new(2)
        .init(Init::Centers(array![[0.0, 0.0], [f64::NAN, 1.0]]))
        .fit(data().view(), None)
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::NonFinite {
                what: "initial centres",
                row: 1,
                column: 0,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn rejects_empty_data() {
    let x = Array2::<f64>::zeros((0, 3));
    let e = KMeans::new(1).fit(x.view(), None).unwrap_err();
    assert_eq!(e, Error::EmptyInput { what: "data" });
}

#[test]
fn rejects_data_without_columns() {
    let x = Array2::<f64>::zeros((5, 0));
    let e = KMeans::new(1).fit(x.view(), None).unwrap_err();
    assert_eq!(e, Error::NoColumns { what: "data" });
}

#[test]
fn rejects_nan_and_inf_naming_row_and_column() {
    let mut x = data();
    x[(2, 1)] = f64::NAN;
    let e = KMeans::new(2).fit(x.view(), None).unwrap_err();
    assert!(
        matches!(
            e,
            Error::NonFinite {
                row: 2,
                column: 1,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("row 2, column 1"));
    x[(2, 1)] = 0.0;
    x[(0, 0)] = f64::NEG_INFINITY;
    let e = KMeans::new(2).fit(x.view(), None).unwrap_err();
    assert!(
        matches!(
            e,
            Error::NonFinite {
                row: 0,
                column: 0,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn rejects_bad_sample_weights() {
    let x = data();
    let e = KMeans::new(2)
        .fit(x.view(), Some(array![1.0, 1.0].view()))
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::ShapeMismatch {
                what: "sample weights",
                ..
            }
        ),
        "{e}"
    );
    let e = KMeans::new(2)
        .fit(x.view(), Some(array![1.0, -1.0, 1.0].view()))
        .unwrap_err();
    assert_eq!(
        e,
        Error::InvalidWeight {
            row: 1,
            value: -1.0
        }
    );
    let e = KMeans::new(2)
        .fit(x.view(), Some(array![1.0, f64::NAN, 1.0].view()))
        .unwrap_err();
    assert!(matches!(e, Error::InvalidWeight { row: 1, .. }), "{e}");
    let e = KMeans::new(2)
        .fit(x.view(), Some(array![0.0, 0.0, 0.0].view()))
        .unwrap_err();
    assert_eq!(e, Error::ZeroTotalWeight);
}

#[test]
fn predict_rejects_wrong_width_and_nan() {
    let m = KMeans::new(2).fit(data().view(), None).unwrap();
    let e = m.predict(array![[1.0, 2.0, 3.0]].view()).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
    let e = m.transform(array![[1.0, f64::NAN]].view()).unwrap_err();
    assert!(
        matches!(
            e,
            Error::NonFinite {
                row: 0,
                column: 1,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<KMeans<f64>>();
    check::<KMeansModel<f32>>();
    check::<softclust::FittedSoft>();
    check::<softclust::Membership<f64>>();
    check::<softclust::Scaler<f64>>();
    check::<Error>();
}

/// The fit's per-cluster deviations give the inertia, the softmax estimates and the spreads
/// without another pass: they equal the estimates from training distances and labels.
#[test]
fn model_statistics_equal_the_estimates_from_data() {
    use softclust::soft::{DistanceKind, InversePower, SoftMethod, Softmax};
    use softclust::typicality::{ClusterSpread, Spread};
    let (x, _) = blobs(2000, 3, 4, 0.7, 5);
    let w = Array1::from_shape_fn(x.nrows(), |i| 0.5 + (i % 3) as f64);
    let m = KMeans::new(4)
        .seed(2)
        .fit(x.view(), Some(w.view()))
        .unwrap();
    let per = m.cluster_inertia();
    assert!((per.sum() - m.inertia()).abs() <= 1e-12 * m.inertia());
    let d2 = m.squared_distances(x.view()).unwrap();
    for (j, &v) in per.iter().enumerate() {
        let direct: f64 = (0..x.nrows())
            .filter(|&i| m.labels()[i] == j)
            .map(|i| w[i] * d2[(i, j)])
            .sum();
        assert!((v - direct).abs() <= 1e-9 * direct, "{v} {direct}");
    }
    for sm in [
        Softmax::new(),
        Softmax::new().per_cluster_variance(true).size_weights(true),
    ] {
        let method = SoftMethod::Softmax(sm);
        // The soft step the model fits for itself, from its per-cluster sums.
        let mk = KMeans::new(4)
            .seed(2)
            .soft(method.clone())
            .fit(x.view(), Some(w.view()))
            .unwrap();
        assert_eq!(mk.centers(), m.centers());
        let from_model = mk.soft().unwrap().clone();
        let from_d = method
            .fit(d2.view(), DistanceKind::Squared, Some(3), Some(w.view()))
            .unwrap();
        for (a, b) in from_model
            .sigma()
            .unwrap()
            .iter()
            .zip(from_d.sigma().unwrap())
        {
            assert!((a - b).abs() <= 1e-9 * b, "{a} {b}");
        }
        let pa = from_model
            .memberships(d2.view(), DistanceKind::Squared)
            .unwrap();
        let pb = from_d
            .memberships(d2.view(), DistanceKind::Squared)
            .unwrap();
        assert!(pa
            .proba
            .iter()
            .zip(pb.proba.iter())
            .all(|(a, b)| (a - b).abs() < 1e-9));
    }
    let ip = KMeans::new(4)
        .seed(2)
        .soft(SoftMethod::InversePower(InversePower::new()))
        .fit(x.view(), Some(w.view()))
        .unwrap();
    assert_eq!(ip.soft().unwrap().power(), Some(2.0));
    for kind in [Spread::Isotropic, Spread::Diagonal] {
        let a = m.spread(kind).unwrap();
        let b = ClusterSpread::fit_labels(x.view(), m.centers(), m.labels(), Some(w.view()), kind)
            .unwrap();
        for (u, v) in a.variances().iter().zip(b.variances()) {
            assert!((u - v).abs() <= 1e-10 * v, "{u} {v}");
        }
    }
    // A model that only has centres cannot estimate anything from data it never saw.
    let bare = KMeansModel::from_centers(m.centers().to_owned(), None).unwrap();
    assert!(matches!(
        bare.memberships(x.view()),
        Err(Error::MissingParameter { .. })
    ));
    assert!(bare.spread(Spread::Isotropic).is_err());
}

/// The fused memberships of a k-means model equal the soft method applied to the distance
/// matrix, for every method.
#[test]
fn fused_memberships_equal_the_distance_matrix_path() {
    use softclust::soft::{Anchored, DistanceKind, InversePower, SoftMethod, Softmax};
    let (x, _) = blobs(5000, 4, 3, 1.0, 21);
    let m = KMeans::new(3).seed(1).fit(x.view(), None).unwrap();
    let d2 = m.squared_distances(x.view()).unwrap();
    for method in [
        SoftMethod::Softmax(Softmax::new().per_cluster_variance(true)),
        SoftMethod::InversePower(InversePower::new()),
        SoftMethod::MinMax,
        SoftMethod::Anchored(Anchored::new()),
    ] {
        let fitted = method
            .fit(d2.view(), DistanceKind::Squared, Some(4), None)
            .unwrap();
        let a = m
            .clone()
            .with_soft(fitted.clone())
            .unwrap()
            .memberships(x.view())
            .unwrap();
        let b = fitted
            .memberships(d2.view(), DistanceKind::Squared)
            .unwrap();
        assert_eq!(a.label, b.label, "{}", method.name());
        for (u, v) in a.proba.iter().zip(b.proba.iter()) {
            assert!((u - v).abs() < 1e-12, "{}: {u} {v}", method.name());
        }
        for (u, v) in a.entropy.iter().zip(b.entropy.iter()) {
            assert!((u - v).abs() < 1e-12, "{}: {u} {v}", method.name());
        }
    }
    let other = SoftMethod::MinMax
        .fit(
            d2.slice(ndarray::s![.., ..2]),
            DistanceKind::Squared,
            None,
            None,
        )
        .unwrap();
    assert!(matches!(
        m.clone().with_soft(other),
        Err(Error::ShapeMismatch { .. })
    ));
}
