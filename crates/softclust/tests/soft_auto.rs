//! The automatic soft step: the BIC of each softmax variant's implied mixture, by hand; the
//! variant it picks on families built for each; the same choice from a k-means fit, from a
//! distance matrix and over blocks' sums.
#![allow(clippy::unwrap_used)]

mod common;

use common::normal;
use ndarray::{array, Array2};
use softclust::rng::Rng;
use softclust::soft::{SoftKind, SoftSpec, AUTO_VARIANTS};
use softclust::{DistanceKind, Init, KMeans, SoftMethod, Softmax};

fn auto() -> SoftMethod {
    SoftMethod::Auto(Softmax::new())
}

/// Clusters along the first axis (40 apart) in `d` dimensions, with the given sizes and spreads.
fn family(sizes: &[usize], spreads: &[f64], d: usize, seed: u64) -> Array2<f64> {
    let mut rng = Rng::new(seed);
    let n: usize = sizes.iter().sum();
    let mut x = Array2::zeros((n, d));
    let mut i = 0;
    for (c, (&m, &s)) in sizes.iter().zip(spreads).enumerate() {
        for _ in 0..m {
            for j in 0..d {
                x[(i, j)] = if j == 0 { 40.0 * c as f64 } else { 0.0 } + s * normal(&mut rng);
            }
            i += 1;
        }
    }
    x
}

fn chosen(x: &Array2<f64>, k: usize) -> (bool, bool) {
    let m = KMeans::new(k).n_init(3).fit(x.view(), None).unwrap();
    let c = m.soft().unwrap().choice().unwrap();
    let best = c.best();
    (best.per_cluster_variance, best.size_weights)
}

#[test]
fn criterion_by_hand_on_a_distance_matrix() {
    // 1-D, two centres at 0 and 4, points at -1, 1, 3, 6: nearest squared distances 1, 1, 1, 4.
    let pts = [-1.0f64, 1.0, 3.0, 6.0];
    let d = Array2::from_shape_fn((4, 2), |(i, j)| (pts[i] - [0.0, 4.0][j]).abs());
    let fit = auto()
        .fit(d.view(), DistanceKind::Euclidean, Some(1), None)
        .unwrap();
    let choice = fit.choice().unwrap();
    assert_eq!(choice.candidates.len(), 4);
    let tau = std::f64::consts::TAU;
    for (cand, &(per, size)) in choice.candidates.iter().zip(&AUTO_VARIANTS) {
        assert_eq!((cand.per_cluster_variance, cand.size_weights), (per, size));
        // Cluster 0 holds -1 and 1 (sum 2), cluster 1 holds 3 and 6 (sum 1 + 4): equal sizes,
        // so size weights change nothing; sigma² = 7/4 shared, or 1 and 5/2.
        let s2: [f64; 2] = if per { [1.0, 2.5] } else { [1.75, 1.75] };
        let ll: f64 = pts
            .iter()
            .map(|&p| {
                let dens: f64 = [0.0, 4.0]
                    .iter()
                    .zip(&s2)
                    .map(|(&c, &v)| {
                        0.5 * (tau * v).powf(-0.5) * (-(p - c) * (p - c) / (2.0 * v)).exp()
                    })
                    .sum();
                dens.ln()
            })
            .sum();
        assert!((cand.log_likelihood - ll).abs() < 1e-12, "{cand:?} vs {ll}");
        let n_par = 2.0 + if per { 2.0 } else { 1.0 } + if size { 1.0 } else { 0.0 };
        assert_eq!(cand.n_parameters, n_par);
        assert!((cand.bic - (-2.0 * ll + n_par * 4f64.ln())).abs() < 1e-12);
    }
    let min = choice
        .candidates
        .iter()
        .map(|c| c.bic)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(choice.best().bic, min);
    // The fitted step is that variant's softmax.
    let (per, size) = AUTO_VARIANTS[choice.chosen];
    let pinned = SoftMethod::Softmax(Softmax::new().per_cluster_variance(per).size_weights(size))
        .fit(d.view(), DistanceKind::Euclidean, Some(1), None)
        .unwrap();
    assert_eq!(fit.sigma(), pinned.sigma());
    let (ma, mb) = (
        fit.memberships(d.view(), DistanceKind::Euclidean).unwrap(),
        pinned
            .memberships(d.view(), DistanceKind::Euclidean)
            .unwrap(),
    );
    assert_eq!(ma.proba, mb.proba);
}

#[test]
fn keeps_the_shared_sigma_for_equal_clusters() {
    let x = family(&[400, 400, 400], &[1.0, 1.0, 1.0], 4, 1);
    assert_eq!(chosen(&x, 3), (false, false));
}

#[test]
fn picks_per_cluster_sigmas_for_unequal_spreads() {
    let x = family(&[400, 400, 400], &[0.5, 1.0, 3.0], 4, 2);
    assert_eq!(chosen(&x, 3), (true, false));
}

#[test]
fn picks_size_weights_for_unequal_sizes() {
    let x = family(&[1000, 100, 100], &[1.0, 1.0, 1.0], 4, 3);
    assert_eq!(chosen(&x, 3), (false, true));
}

#[test]
fn a_kmeans_fit_and_its_distances_choose_alike() {
    let x = family(&[500, 200, 300], &[0.7, 1.0, 2.0], 3, 4);
    let m = KMeans::new(3).fit(x.view(), None).unwrap();
    let from_fit = m.soft().unwrap().choice().unwrap().clone();
    let d = m.transform(x.view()).unwrap();
    let from_d = auto()
        .fit(d.view(), DistanceKind::Euclidean, Some(3), None)
        .unwrap();
    let from_d = from_d.choice().unwrap();
    assert_eq!(from_fit.chosen, from_d.chosen);
    for (a, b) in from_fit.candidates.iter().zip(&from_d.candidates) {
        assert!(
            (a.bic - b.bic).abs() <= 1e-8 * b.bic.abs(),
            "{a:?} vs {b:?}"
        );
    }
    // The same choice for any thread count.
    let again = common::with_threads(1, || KMeans::new(3).fit(x.view(), None).unwrap());
    assert_eq!(again.soft().unwrap().choice().unwrap(), &from_fit);
}

#[test]
fn pinned_options_make_a_plain_softmax() {
    for spec in [
        SoftSpec {
            kind: SoftKind::Auto,
            per_cluster_variance: true,
            ..SoftSpec::default()
        },
        SoftSpec {
            kind: SoftKind::Auto,
            sigma: Some(2.0),
            ..SoftSpec::default()
        },
    ] {
        assert_eq!(spec.method().kind(), SoftKind::Softmax);
    }
    let plain = SoftSpec {
        kind: SoftKind::Auto,
        temperature: 2.0,
        ..SoftSpec::default()
    };
    assert_eq!(
        plain.method(),
        SoftMethod::Auto(Softmax::new().temperature(2.0))
    );
    assert_eq!("auto".parse::<SoftKind>().unwrap(), SoftKind::Auto);
}

#[test]
fn auto_with_a_pinned_variant_is_refused() {
    let d = array![[1.0, 2.0], [2.0, 1.0], [1.5, 3.0]];
    let e = SoftMethod::Auto(Softmax::new().per_cluster_variance(true))
        .fit(d.view(), DistanceKind::Euclidean, Some(2), None)
        .unwrap_err();
    assert!(e.to_string().contains("auto"), "{e}");
    let e = KMeans::new(2)
        .soft(SoftMethod::Auto(Softmax::new().sigma(1.0)))
        .init(Init::Centers(array![[1.0, 2.0], [2.0, 1.0]]))
        .fit(d.view(), None)
        .unwrap_err();
    assert!(e.to_string().contains("auto"), "{e}");
}

#[test]
fn a_model_from_centres_cannot_choose() {
    let c = array![[0.0, 0.0], [5.0, 5.0]];
    let m = softclust::KMeansModel::from_centers(c, None).unwrap();
    let x = array![[0.0, 1.0], [5.0, 4.0]];
    assert!(m.auto_soft_log_likelihoods(x.view(), None).is_err());
}

#[test]
fn degenerate_data_fall_back_to_the_shared_sigma() {
    // Every point on its centre: zero variances, infinite likelihoods.
    let x = array![[0.0, 0.0], [0.0, 0.0], [5.0, 5.0], [5.0, 5.0]];
    let m = KMeans::new(2).fit(x.view(), None).unwrap();
    let c = m.soft().unwrap().choice().unwrap();
    assert_eq!(c.chosen, 0);
    assert!(c
        .candidates
        .iter()
        .all(|k| k.bic.is_finite() && k.log_likelihood.is_finite()));
    let p = m.memberships(x.view()).unwrap();
    assert_eq!(
        p.label.to_vec(),
        vec![p.label[0], p.label[0], p.label[2], p.label[2]]
    );
}

#[test]
fn select_k_finds_the_number_of_clusters() {
    for (sizes, spreads) in [
        (vec![300, 300, 300, 300], vec![1.0, 1.0, 1.0, 1.0]),
        (vec![600, 200, 300, 150], vec![0.5, 1.0, 2.0, 1.0]),
    ] {
        let x = family(&sizes, &spreads, 3, 7);
        let ks: Vec<usize> = (1..=7).collect();
        let sel = KMeans::new(1)
            .n_init(3)
            .select_k(x.view(), None, &ks)
            .unwrap();
        assert_eq!(sel.candidates.len(), 7);
        assert_eq!(sel.candidates[sel.best].k, 4, "{:?}", sel.candidates);
        assert_eq!(sel.model.n_clusters(), 4);
        let min = sel
            .candidates
            .iter()
            .map(|c| c.bic)
            .fold(f64::INFINITY, f64::min);
        assert_eq!(sel.candidates[sel.best].bic, min);
        // The chosen row is the chosen model's own auto criterion.
        let c = sel.model.soft().unwrap().choice().unwrap();
        assert_eq!(c.best().bic, min);
        assert!(sel.candidates.iter().all(|c| c.converged));
    }
}

#[test]
fn select_k_with_a_pinned_softmax_scores_that_variant() {
    let x = family(&[300, 300, 300], &[0.5, 1.0, 3.0], 3, 8);
    let sel = KMeans::new(1)
        .soft(SoftMethod::Softmax(Softmax::new()))
        .select_k(x.view(), None, &[2, 3, 4])
        .unwrap();
    assert!(sel
        .candidates
        .iter()
        .all(|c| !c.per_cluster_variance && !c.size_weights));
    assert!(sel.model.soft().unwrap().choice().is_none());
}

#[test]
fn select_k_refuses_bad_ranges() {
    let x = family(&[50, 50], &[1.0, 1.0], 2, 9);
    for ks in [vec![], vec![0, 2], vec![2, 3, 2]] {
        let e = KMeans::new(1).select_k(x.view(), None, &ks).unwrap_err();
        assert!(
            matches!(
                e,
                softclust::Error::InvalidParameter {
                    name: "k range",
                    ..
                }
            ),
            "{e}"
        );
    }
    // A k beyond the points is the fit's own error.
    assert!(KMeans::new(1).select_k(x.view(), None, &[2, 500]).is_err());
}
