//! Soft memberships: hand-computed values for every method, degenerate distances, invalid
//! parameters.
#![allow(clippy::unwrap_used)]

use ndarray::{array, Array2};
use softclust::{soft_assign, DistanceKind, Error, InversePower, KMeans, SoftMethod, Softmax};

const E: DistanceKind = DistanceKind::Euclidean;
const SQ: DistanceKind = DistanceKind::Squared;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

fn assert_proba(actual: &Array2<f64>, expected: &Array2<f64>, tol: f64) {
    assert_eq!(actual.dim(), expected.dim());
    for (a, b) in actual.iter().zip(expected.iter()) {
        assert!(close(*a, *b, tol), "\n{actual}\n!=\n{expected}");
    }
}

fn logistic(t: f64) -> f64 {
    1.0 / (1.0 + (-t).exp())
}

#[test]
fn softmax_estimates_sigma_by_hand() {
    // Nearest squared distances 1, 1, 4 -> sigma² = 6 / (3 rows * D=2) = 1.
    let d = array![[1.0, 2.0], [3.0, 1.0], [2.0, 3.0]];
    let fit = SoftMethod::default()
        .fit(d.view(), E, Some(2), None)
        .unwrap();
    assert_eq!(fit.sigma().unwrap(), &[1.0, 1.0]);
    assert_eq!(fit.sigma_estimated(), Some(true));
    let m = fit.memberships(d.view(), E).unwrap();
    // Row 0: exp(-1/2) vs exp(-4/2): p_0 = logistic(1.5).
    let p0 = logistic(1.5);
    let p1 = logistic(4.0); // exp(-1/2) vs exp(-9/2) for row 1, cluster 1
    let p2 = logistic(2.5); // exp(-4/2) vs exp(-9/2) for row 2, cluster 0
    assert_proba(
        &m.proba,
        &array![[p0, 1.0 - p0], [1.0 - p1, p1], [p2, 1.0 - p2]],
        1e-15,
    );
    assert_eq!(m.label.to_vec(), vec![0, 1, 0]);
    assert!(close(m.max_p[0], p0, 1e-15));
    assert!(close(m.margin[0], 2.0 * p0 - 1.0, 1e-15));
    let h = -(p0 * p0.ln() + (1.0 - p0) * (1.0 - p0).ln());
    assert!(close(m.entropy[0], h, 1e-14));
    // Squared input gives the same.
    let m2 = soft_assign(
        d.mapv(|v| v * v).view(),
        SQ,
        &SoftMethod::default(),
        Some(2),
    )
    .unwrap();
    assert_proba(&m2.proba, &m.proba, 1e-15);
}

#[test]
fn softmax_with_given_sigma_temperature_and_size_weights() {
    let d = array![[1.0, 2.0], [1.0, 2.0], [3.0, 1.0]];
    // sigma = 2: scores -1/8 and -4/8; temperature 0.5 doubles them.
    let s = Softmax::new().sigma(2.0).temperature(0.5);
    let m = soft_assign(d.view(), E, &SoftMethod::Softmax(s), None).unwrap();
    assert!(close(m.proba[(0, 0)], logistic(2.0 * 3.0 / 8.0), 1e-15));
    // Size weights: two rows nearest to cluster 0, one to cluster 1 -> pi = (2/3, 1/3).
    let s = Softmax::new().sigma(2.0).size_weights(true);
    let fit = SoftMethod::Softmax(s).fit(d.view(), E, None, None).unwrap();
    let w = fit.weights().unwrap();
    assert!(close(w[0], 2.0 / 3.0, 1e-15) && close(w[1], 1.0 / 3.0, 1e-15));
    let m = fit.memberships(d.view(), E).unwrap();
    assert!(close(
        m.proba[(0, 0)],
        logistic(3.0 / 8.0 + 2f64.ln()),
        1e-15
    ));
    // Sample weights move the size weights: row 2 counts 4 times.
    let fit = SoftMethod::Softmax(Softmax::new().sigma(2.0).size_weights(true))
        .fit(d.view(), E, None, Some(array![1.0, 1.0, 4.0].view()))
        .unwrap();
    let w = fit.weights().unwrap();
    assert!(close(w[0], 2.0 / 6.0, 1e-15) && close(w[1], 4.0 / 6.0, 1e-15));
}

#[test]
fn softmax_per_cluster_variance_by_hand() {
    // D = 1. Cluster 0 nearest distances 1, 3 -> sigma_0² = (1 + 9) / 2 = 5;
    // cluster 1 nearest distance 2 -> sigma_1² = 4.
    let d = array![[1.0, 4.0], [3.0, 5.0], [6.0, 2.0]];
    let s = Softmax::new().per_cluster_variance(true);
    let fit = SoftMethod::Softmax(s)
        .fit(d.view(), E, Some(1), None)
        .unwrap();
    let sig = fit.sigma().unwrap();
    assert!(close(sig[0], 5f64.sqrt(), 1e-14) && close(sig[1], 2.0, 1e-15));
    let m = fit.memberships(d.view(), E).unwrap();
    // log-score_j = -ln sigma_j - d²/(2 sigma_j²)
    let s0 = -0.5 * 5f64.ln() - 1.0 / 10.0;
    let s1 = -2f64.ln() - 16.0 / 8.0;
    assert!(close(m.proba[(0, 0)], logistic(s0 - s1), 1e-14));
}

#[test]
fn kmeans_sigma_is_inertia_over_n_d() {
    let x = array![[0.0, 0.0], [0.0, 1.0], [4.0, 4.0], [5.0, 4.0], [4.0, 6.0]];
    let m = KMeans::new(2).fit(x.view(), None).unwrap();
    let d = m.transform(x.view()).unwrap();
    let fit = SoftMethod::default()
        .fit(d.view(), E, Some(2), None)
        .unwrap();
    let s = fit.sigma().unwrap()[0];
    assert!(close(s * s, m.inertia() / 10.0, 1e-14));
    assert!(close(m.sigma2(), m.inertia() / 10.0, 1e-15));
}

#[test]
fn inverse_power_by_hand() {
    let d = array![[1.0, 2.0, 4.0]];
    let m = soft_assign(
        d.view(),
        E,
        &SoftMethod::InversePower(InversePower::new().power(2.0)),
        None,
    )
    .unwrap();
    assert_proba(
        &m.proba,
        &array![[16.0 / 21.0, 4.0 / 21.0, 1.0 / 21.0]],
        1e-15,
    );
    // Gravity default for D = 3 is p = 2; squared input agrees.
    let m2 = soft_assign(
        d.mapv(|v| v * v).view(),
        SQ,
        &SoftMethod::InversePower(InversePower::new()),
        Some(3),
    )
    .unwrap();
    assert_proba(&m2.proba, &m.proba, 1e-15);
    // D = 1 and D = 2 both give p = 1.
    for dim in [1, 2] {
        let f = SoftMethod::InversePower(InversePower::new())
            .fit(d.view(), E, Some(dim), None)
            .unwrap();
        assert_eq!(f.power(), Some(1.0));
    }
}

#[test]
fn inverse_power_is_fuzzy_c_means_membership() {
    // u_ij = 1 / sum_l (d_ij / d_il)^(2/(m-1)), with m = 1 + 2/p.
    let d = array![[0.7, 1.9, 3.1, 0.2]];
    let p = 3.0;
    let mfuzz: f64 = 1.0 + 2.0 / p;
    let m = soft_assign(
        d.view(),
        E,
        &SoftMethod::InversePower(InversePower::new().power(p)),
        None,
    )
    .unwrap();
    for j in 0..4 {
        let u = 1.0
            / (0..4)
                .map(|l| (d[(0, j)] / d[(0, l)] as f64).powf(2.0 / (mfuzz - 1.0)))
                .sum::<f64>();
        assert!(close(m.proba[(0, j)], u, 1e-15));
    }
}

#[test]
fn point_on_a_centroid_is_certain_there_ties_split() {
    let ip = SoftMethod::InversePower(InversePower::new());
    let m = soft_assign(
        array![[0.0, 1.0, 2.0], [0.0, 3.0, 0.0]].view(),
        E,
        &ip,
        Some(3),
    )
    .unwrap();
    assert_proba(&m.proba, &array![[1.0, 0.0, 0.0], [0.5, 0.0, 0.5]], 0.0);
    assert_eq!(m.label.to_vec(), vec![0, 0]);
    assert_eq!(m.margin.to_vec(), vec![1.0, 0.0]);
    assert!(close(m.entropy[1], 2f64.ln(), 1e-15));
}

#[test]
fn minmax_by_hand() {
    let d = array![[0.0, 4.0], [2.0, 2.0], [4.0, 0.0], [1.0, 3.0]];
    let m = soft_assign(d.view(), E, &SoftMethod::MinMax, None).unwrap();
    assert_proba(
        &m.proba,
        &array![[1.0, 0.0], [0.5, 0.5], [0.0, 1.0], [0.75, 0.25]],
        1e-15,
    );
    // A new point farther than every training point in both columns gets no preference.
    let fit = SoftMethod::MinMax.fit(d.view(), E, None, None).unwrap();
    let far = fit.memberships(array![[9.0, 9.0]].view(), E).unwrap();
    assert_proba(&far.proba, &array![[0.5, 0.5]], 0.0);
}

#[test]
fn huge_tiny_and_equal_distances_stay_finite() {
    let methods = [
        SoftMethod::default(),
        SoftMethod::Softmax(Softmax::new().per_cluster_variance(true).size_weights(true)),
        SoftMethod::Softmax(Softmax::new().sigma(1.0)),
        SoftMethod::InversePower(InversePower::new()),
        SoftMethod::MinMax,
    ];
    let cases = [
        array![[1e200, 2e200], [3e200, 1e200]],
        array![[1e-200, 2e-200], [3e-200, 1e-200]],
        array![[1e-300, 1e300], [1e300, 1e-300]],
        array![[5.0, 5.0, 5.0], [5.0, 5.0, 5.0]],
        array![[0.0, 0.0], [0.0, 0.0]],
        array![[f64::MAX, 0.0], [f64::MIN_POSITIVE, f64::MAX]],
    ];
    for method in &methods {
        for d in &cases {
            for kind in [E, SQ] {
                let m = soft_assign(d.view(), kind, method, Some(3)).unwrap();
                for row in m.proba.rows() {
                    assert!(
                        row.iter().all(|p| p.is_finite() && (0.0..=1.0).contains(p)),
                        "{method:?} {d} -> {}",
                        m.proba
                    );
                    assert!(
                        (row.sum() - 1.0).abs() < 1e-12,
                        "{method:?} {d} -> {}",
                        m.proba
                    );
                }
                assert!(m.entropy.iter().all(|h| h.is_finite() && *h >= 0.0));
            }
        }
    }
    // Scale invariance of the estimated softmax: 1e200 * d gives the memberships of d.
    let base = soft_assign(
        array![[1.0, 2.0], [3.0, 1.0]].view(),
        E,
        &SoftMethod::default(),
        Some(2),
    )
    .unwrap();
    let big = soft_assign(
        array![[1e200, 2e200], [3e200, 1e200]].view(),
        E,
        &SoftMethod::default(),
        Some(2),
    )
    .unwrap();
    let tiny = soft_assign(
        array![[1e-200, 2e-200], [3e-200, 1e-200]].view(),
        E,
        &SoftMethod::default(),
        Some(2),
    )
    .unwrap();
    assert_proba(&big.proba, &base.proba, 1e-13);
    assert_proba(&tiny.proba, &base.proba, 1e-13);
    // Equal distances: uniform.
    let eq = soft_assign(
        array![[5.0, 5.0, 5.0]].view(),
        E,
        &SoftMethod::default(),
        Some(3),
    )
    .unwrap();
    assert_proba(&eq.proba, &array![[1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0]], 1e-15);
    // Far beyond sigma: all mass on the nearest centre, not NaN.
    let m = soft_assign(
        array![[1e200, 2e200]].view(),
        E,
        &SoftMethod::Softmax(Softmax::new().sigma(1.0)),
        None,
    )
    .unwrap();
    assert_eq!(m.proba, array![[1.0, 0.0]]);
}

#[test]
fn new_points_use_the_training_estimates() {
    let train = array![[1.0, 2.0], [3.0, 1.0], [2.0, 3.0]];
    let fit = SoftMethod::default()
        .fit(train.view(), E, Some(2), None)
        .unwrap();
    let new = fit.memberships(array![[0.0, 10.0]].view(), E).unwrap();
    // sigma = 1 from training: exp(0) vs exp(-50).
    assert!(close(
        new.proba[(0, 1)],
        (-50f64).exp() / (1.0 + (-50f64).exp()),
        1e-30
    ));
}

// ---- invalid parameters and inputs --------------------------------------------------------

fn d() -> Array2<f64> {
    array![[1.0, 2.0], [2.0, 1.0]]
}

#[test]
fn rejects_non_positive_sigma() {
    for s in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let e = soft_assign(
            d().view(),
            E,
            &SoftMethod::Softmax(Softmax::new().sigma(s)),
            Some(2),
        )
        .unwrap_err();
        assert!(
            matches!(e, Error::InvalidParameter { name: "sigma", .. }),
            "{e}"
        );
    }
}

#[test]
fn rejects_sigma_with_per_cluster_variance() {
    let s = Softmax::new().sigma(1.0).per_cluster_variance(true);
    let e = soft_assign(d().view(), E, &SoftMethod::Softmax(s), Some(2)).unwrap_err();
    assert!(
        matches!(e, Error::InvalidParameter { name: "sigma", .. }),
        "{e}"
    );
}

#[test]
fn rejects_non_positive_temperature() {
    for t in [0.0, -2.0, f64::NAN] {
        let e = soft_assign(
            d().view(),
            E,
            &SoftMethod::Softmax(Softmax::new().temperature(t)),
            Some(2),
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidParameter {
                    name: "temperature",
                    ..
                }
            ),
            "{e}"
        );
    }
}

#[test]
fn rejects_non_positive_power() {
    for p in [0.0, -1.0, f64::NAN] {
        let e = soft_assign(
            d().view(),
            E,
            &SoftMethod::InversePower(InversePower::new().power(p)),
            None,
        )
        .unwrap_err();
        assert!(
            matches!(e, Error::InvalidParameter { name: "power", .. }),
            "{e}"
        );
    }
}

#[test]
fn rejects_zero_features() {
    let e = soft_assign(d().view(), E, &SoftMethod::default(), Some(0)).unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidParameter {
                name: "n_features",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn estimates_the_dimension_when_it_is_not_given() {
    // Nearest squared distances 1, 1, 4: s = ln 2 - ln(4) / 3, and the estimated shape a = D/2
    // solves ln a - psi(a) = s; sigma² = mean d² / D = 2 / D.
    let m = array![[1.0, 2.0], [3.0, 1.0], [2.0, 3.0]];
    let fit = SoftMethod::default().fit(m.view(), E, None, None).unwrap();
    let est = fit.estimated_dimension().unwrap();
    let s = 2f64.ln() - 4f64.ln() / 3.0;
    let a = est.dim / 2.0;
    assert!(
        close(a.ln() - softclust::special::digamma(a), s, 1e-12),
        "{est:?}"
    );
    assert!(close(est.sigma, (2.0 / est.dim).sqrt(), 1e-12), "{est:?}");
    assert_eq!(est.n_used, 3);
    assert!(close(fit.sigma().unwrap()[0], est.sigma, 1e-12));
    // The inverse power takes the gravity default from the estimate.
    let ip = SoftMethod::InversePower(InversePower::new())
        .fit(m.view(), E, None, None)
        .unwrap();
    let est = ip.estimated_dimension().unwrap();
    assert!(close(ip.power().unwrap(), (est.dim - 1.0).max(1.0), 1e-12));
    // Given, nothing is estimated; min-max needs nothing.
    let given = SoftMethod::default()
        .fit(m.view(), E, Some(2), None)
        .unwrap();
    assert_eq!(given.estimated_dimension(), None);
    let mm = SoftMethod::MinMax.fit(m.view(), E, None, None).unwrap();
    assert_eq!(mm.estimated_dimension(), None);
}

#[test]
fn recovers_dimension_and_spread_of_gaussian_clusters() {
    // Three far-apart clusters of standard normal points in D = 6 (Box-Muller normals).
    let mut rng = softclust::rng::Rng::new(5);
    let mut normal = move || {
        let (u, v) = (rng.uniform().max(1e-300), rng.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    };
    let (n, dim, k) = (6000, 6, 3);
    let centres = Array2::from_shape_fn((k, dim), |(j, c)| if c == j { 40.0 } else { 0.0 });
    let x = Array2::from_shape_fn((n, dim), |(i, c)| centres[(i % k, c)] + 1.5 * normal());
    let dist = Array2::from_shape_fn((n, k), |(i, j)| {
        (0..dim)
            .map(|c| (x[(i, c)] - centres[(j, c)]).powi(2))
            .sum::<f64>()
            .sqrt()
    });
    let est = softclust::soft::estimate_dimension(dist.view(), E, None).unwrap();
    assert!((est.dim - 6.0).abs() < 0.3, "{est:?}");
    assert!((est.sigma - 1.5).abs() < 0.04, "{est:?}");
    // Squared distances give the same estimate.
    let sq = dist.mapv(|v| v * v);
    let est2 = softclust::soft::estimate_dimension(sq.view(), SQ, None).unwrap();
    assert!(close(est.dim, est2.dim, 1e-9) && close(est.sigma, est2.sigma, 1e-9));
}

#[test]
fn special_functions_by_known_values() {
    use softclust::special::{digamma, gamma_shape_ml, trigamma};
    let euler = 0.577_215_664_901_532_9;
    assert!(close(digamma(1.0), -euler, 1e-14));
    assert!(close(digamma(0.5), -euler - 2.0 * 2f64.ln(), 1e-14));
    assert!(close(digamma(10.0), 2.251_752_589_066_721, 1e-14));
    let pi2 = std::f64::consts::PI.powi(2);
    assert!(close(trigamma(1.0), pi2 / 6.0, 1e-13));
    assert!(close(trigamma(0.5), pi2 / 2.0, 1e-13));
    for a in [0.05f64, 0.7, 3.0, 250.0] {
        let s = a.ln() - digamma(a);
        assert!(close(gamma_shape_ml(s), a, 1e-9 * a), "{a}");
    }
}

#[test]
fn says_what_is_missing_when_the_distances_cannot_tell() {
    // Every nearest distance equal: no spread, nothing to estimate from.
    let flat = array![[1.0, 2.0], [2.0, 1.0], [1.0, 3.0]];
    let e = soft_assign(flat.view(), E, &SoftMethod::default(), None).unwrap_err();
    assert!(matches!(e, Error::MissingParameter { .. }), "{e}");
    // Every point on a centre.
    let on = array![[0.0, 2.0], [2.0, 0.0]];
    let e = soft_assign(
        on.view(),
        E,
        &SoftMethod::InversePower(InversePower::new()),
        None,
    )
    .unwrap_err();
    assert!(matches!(e, Error::MissingParameter { .. }), "{e}");
    // Min-max needs nothing.
    assert!(soft_assign(flat.view(), E, &SoftMethod::MinMax, None).is_ok());
}

#[test]
fn rejects_negative_and_non_finite_distances() {
    let e = soft_assign(array![[1.0, -0.5]].view(), E, &SoftMethod::MinMax, None).unwrap_err();
    assert_eq!(
        e,
        Error::NegativeDistance {
            row: 0,
            column: 1,
            value: -0.5
        }
    );
    let e = soft_assign(
        array![[1.0, 1.0], [f64::INFINITY, 1.0]].view(),
        E,
        &SoftMethod::MinMax,
        None,
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            Error::NonFinite {
                row: 1,
                column: 0,
                ..
            }
        ),
        "{e}"
    );
    let e = soft_assign(
        Array2::<f64>::zeros((0, 2)).view(),
        E,
        &SoftMethod::MinMax,
        None,
    )
    .unwrap_err();
    assert!(matches!(e, Error::EmptyInput { .. }), "{e}");
}

#[test]
fn rejects_new_distances_with_other_cluster_count() {
    let fit = SoftMethod::MinMax.fit(d().view(), E, None, None).unwrap();
    let e = fit
        .memberships(array![[1.0, 2.0, 3.0]].view(), E)
        .unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
}

#[test]
fn rejects_bad_weights_in_soft_fit() {
    let e = SoftMethod::default()
        .fit(d().view(), E, Some(2), Some(array![1.0, -1.0].view()))
        .unwrap_err();
    assert!(matches!(e, Error::InvalidWeight { row: 1, .. }), "{e}");
}

#[test]
fn anchored_score_meets_its_anchors_exactly() {
    use softclust::{Anchor, Anchored};
    // Two clusters; distances of 6 points. Point i is assigned to its nearest centre.
    let d = array![
        [0.5, 9.0],
        [1.0, 8.0],
        [2.0, 7.0],
        [9.0, 0.2],
        [8.0, 1.5],
        [3.5, 4.0]
    ];
    let fit = SoftMethod::Anchored(Anchored::new())
        .fit(d.view(), E, None, None)
        .unwrap();
    let anchors = fit.anchors().unwrap();
    // Cluster 0: assigned distances 0.5, 1, 2, 3.5 -> near 0.5, half 3.5; farthest of all 9.
    assert_eq!(anchors[0], (0.5, 3.5, 9.0, false));
    // Cluster 1: assigned 0.2, 1.5 -> near 0.2, half 1.5; farthest 9.
    assert_eq!(anchors[1], (0.2, 1.5, 9.0, false));
    for (j, &(a, b, c, _)) in anchors.iter().enumerate() {
        let probe = Array2::from_shape_fn((3, 2), |(i, l)| if l == j { [a, b, c][i] } else { 5.0 });
        let s = fit.anchored_scores(probe.view(), E).unwrap().unwrap();
        assert_eq!(s[(0, j)], 1.0);
        assert!((s[(1, j)] - 0.5).abs() < 1e-12, "{}", s[(1, j)]);
        assert!((s[(2, j)] - 0.01).abs() < 1e-12, "{}", s[(2, j)]);
    }
    // Decreasing in distance, and in [0, 1].
    let probe = Array2::from_shape_fn((50, 2), |(i, _)| i as f64 * 0.3);
    let s = fit.anchored_scores(probe.view(), E).unwrap().unwrap();
    for j in 0..2 {
        for i in 1..50 {
            assert!(s[(i, j)] <= s[(i - 1, j)] && (0.0..=1.0).contains(&s[(i, j)]));
        }
    }
    // Memberships are the scores normalised per row.
    let m = fit.memberships(d.view(), E).unwrap();
    let raw = fit.anchored_scores(d.view(), E).unwrap().unwrap();
    for i in 0..6 {
        let sum = raw.row(i).sum();
        assert!((m.proba[(i, 0)] - raw[(i, 0)] / sum).abs() < 1e-12);
    }
    // User anchors: quantiles and distances, and another far value.
    let fit = SoftMethod::Anchored(
        Anchored::new()
            .near(Anchor::Distance(0.0))
            .half(Anchor::Quantile(0.5))
            .far(Anchor::Distance(20.0))
            .far_value(0.001),
    )
    .fit(d.view(), E, None, None)
    .unwrap();
    let (a, b, c, _) = fit.anchors().unwrap()[0];
    assert_eq!((a, b, c), (0.0, 1.5, 20.0)); // median of 0.5, 1, 2, 3.5
    let s = fit
        .anchored_scores(array![[20.0, 1.0]].view(), E)
        .unwrap()
        .unwrap();
    assert!((s[(0, 0)] - 0.001).abs() < 1e-12);
}

#[test]
fn anchored_handles_coinciding_anchors() {
    use softclust::Anchored;
    // Cluster 1 holds the farthest point of all (half = far): far moves to 2 half - near.
    let d = array![[0.0, 5.0], [1.0, 4.0], [6.0, 1.0], [7.0, 6.0]];
    let fit = SoftMethod::Anchored(Anchored::new())
        .fit(d.view(), E, None, None)
        .unwrap();
    let (a, b, c, adjusted) = fit.anchors().unwrap()[1];
    assert!(
        adjusted && a == 1.0 && b == 6.0 && c == 11.0,
        "{:?}",
        fit.anchors()
    );
    let s = fit
        .anchored_scores(array![[0.0, 6.0]].view(), E)
        .unwrap()
        .unwrap();
    assert!((s[(0, 1)] - 0.5).abs() < 1e-12);
    // All points at one distance: constant score 1.
    let flat = array![[2.0, 1.0], [2.0, 1.0]];
    let fit = SoftMethod::Anchored(Anchored::new())
        .fit(flat.view(), E, None, None)
        .unwrap();
    let s = fit
        .anchored_scores(array![[2.0, 50.0]].view(), E)
        .unwrap()
        .unwrap();
    assert_eq!(s[(0, 0)], 1.0);
    assert!(s.iter().all(|v| v.is_finite()));
}

#[test]
fn rejects_bad_anchors() {
    use softclust::{Anchor, Anchored};
    for (a, name) in [
        (Anchored::new().far_value(0.7), "far_value"),
        (Anchored::new().far_value(0.0), "far_value"),
        (Anchored::new().near(Anchor::Quantile(1.5)), "near anchor"),
        (Anchored::new().half(Anchor::Distance(-1.0)), "half anchor"),
        (
            Anchored::new().far(Anchor::Quantile(f64::NAN)),
            "far anchor",
        ),
    ] {
        let e = soft_assign(d().view(), E, &SoftMethod::Anchored(a), None).unwrap_err();
        assert!(
            matches!(e, Error::InvalidParameter { name: n, .. } if n == name),
            "{name}: {e}"
        );
    }
}
