//! Membership metrics: hand-computed values, the crisp limit (the adjusted fuzzy Rand index is
//! the adjusted Rand index), and one test per invalid input.
#![allow(clippy::unwrap_used)]

use ndarray::{array, Array2};
use softclust::metrics::{adjusted_rand_index, match_clusters, score_against_labels, FuzzyRand};
use softclust::rng::Rng;
use softclust::Error;

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-12, "{a} != {b}");
}

fn one_hot(labels: &[usize], k: usize) -> Array2<f64> {
    let mut p = Array2::zeros((labels.len(), k));
    for (i, &l) in labels.iter().enumerate() {
        p[(i, l)] = 1.0;
    }
    p
}

#[test]
fn label_scores_by_hand() {
    // Cluster 1 holds class 0 (mass 1.4 of 2) and cluster 0 class 1 (0.9 of 1).
    let p = array![[0.2, 0.8], [0.9, 0.1], [0.4, 0.6]];
    let s = score_against_labels(p.view(), &[0, 1, 0], 2, 10).unwrap();
    assert_eq!(s.matching.cluster_of_class, vec![Some(1), Some(0)]);
    assert_eq!(s.matching.class_of_cluster, vec![Some(1), Some(0)]);
    close(s.matching.contingency[(0, 1)], 1.4);
    close(s.matching.contingency[(1, 0)], 0.9);
    // -(ln 0.8 + ln 0.9 + ln 0.6) / 3
    close(s.log_loss, 0.279_776_563_579_342_3);
    // (0.04 + 0.04 + 0.01 + 0.01 + 0.16 + 0.16) / 3
    close(s.brier, 0.14);
    close(s.accuracy, 1.0);
    // Bins of 0.6, 0.8 and 0.9, each right: (0.4 + 0.2 + 0.1) / 3.
    close(s.ece, 0.7 / 3.0);
    assert_eq!(s.reliability.len(), 10);
    let counts: Vec<usize> = s.reliability.iter().map(|b| b.count).collect();
    assert_eq!(counts, vec![0, 0, 0, 0, 0, 0, 1, 0, 1, 1]);
    close(s.reliability[8].mean_confidence, 0.8);
    close(s.reliability[8].accuracy, 1.0);
    assert!(s.reliability[0].accuracy.is_nan());
    close(s.ari, 1.0);
    // Two bins: all three in [0.5, 1), mean confidence 2.3 / 3, all right.
    let s2 = score_against_labels(p.view(), &[0, 1, 0], 2, 2).unwrap();
    close(s2.ece, 1.0 - 2.3 / 3.0);
}

#[test]
fn wrong_and_missing_classes() {
    // Three classes, two clusters: class 2 is left without a cluster, so its point has
    // probability 0 of its class (log-loss -ln eps) and an all-zero target row.
    let p = array![[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]];
    let s = score_against_labels(p.view(), &[0, 1, 2], 3, 4).unwrap();
    assert_eq!(s.matching.cluster_of_class, vec![Some(0), Some(1), None]);
    let eps = f64::EPSILON;
    close(s.log_loss, -(2.0 * (1.0 - eps).ln() + eps.ln()) / 3.0);
    close(s.brier, 0.5 / 3.0);
    close(s.accuracy, 2.0 / 3.0);
    // The tie's argmax is cluster 0 (the first): wrong, and confidence 0.5.
    close(s.ece, (0.5 + 0.0) / 3.0);
}

#[test]
fn scores_do_not_depend_on_cluster_order() {
    let mut rng = Rng::new(3);
    let (n, k) = (200, 4);
    let mut p = Array2::from_shape_fn((n, k), |_| rng.uniform() + 0.01);
    for mut r in p.rows_mut() {
        let s = r.sum();
        r /= s;
    }
    let labels: Vec<usize> = (0..n).map(|_| rng.below(3)).collect();
    let a = score_against_labels(p.view(), &labels, 3, 10).unwrap();
    let perm = [2usize, 0, 3, 1];
    let q = p.select(ndarray::Axis(1), &perm);
    let b = score_against_labels(q.view(), &labels, 3, 10).unwrap();
    close(a.log_loss, b.log_loss);
    close(a.brier, b.brier);
    close(a.accuracy, b.accuracy);
    close(a.ece, b.ece);
    close(a.ari, b.ari);
    for (ca, cb) in a
        .matching
        .cluster_of_class
        .iter()
        .zip(&b.matching.cluster_of_class)
    {
        assert_eq!(perm[cb.unwrap()], ca.unwrap());
    }
}

#[test]
fn ari_by_hand() {
    // Index 1, expected 2 * 1 / 6, max 3 / 2: (2/3) / (7/6) = 4/7.
    close(
        adjusted_rand_index(&[0, 0, 1, 1], &[0, 0, 1, 2]).unwrap(),
        4.0 / 7.0,
    );
    close(
        adjusted_rand_index(&[0, 0, 1, 1], &[5, 5, 3, 3]).unwrap(),
        1.0,
    );
    close(adjusted_rand_index(&[0, 0, 0], &[1, 1, 1]).unwrap(), 1.0);
    // Worse than chance: scikit-learn gives -0.5 for this pair.
    close(
        adjusted_rand_index(&[0, 0, 1, 1], &[0, 1, 0, 1]).unwrap(),
        -0.5,
    );
}

#[test]
fn fuzzy_rand_by_hand() {
    // E_P = (0, 0.5, 0.5), E_Q = (1, 0, 0): index 1 - 2/3; the nine cross pairs differ by 4 in
    // all, so E = 1 - 4/9 and the adjusted index (1/3 - 5/9) / (4/9) = -1/2.
    let p = array![[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]];
    let q = array![[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]];
    let r = FuzzyRand::new().compute(p.view(), q.view()).unwrap();
    close(r.index, 1.0 / 3.0);
    close(r.expected, 5.0 / 9.0);
    close(r.adjusted, -0.5);
    assert_eq!(r.n_points, 3);
    let same = FuzzyRand::new().compute(p.view(), p.view()).unwrap();
    close(same.index, 1.0);
    close(same.adjusted, 1.0);
}

#[test]
fn crisp_fuzzy_rand_is_the_rand_and_adjusted_rand_index() {
    let mut rng = Rng::new(11);
    for trial in 0..20 {
        let n = 30 + trial * 7;
        let a: Vec<usize> = (0..n).map(|_| rng.below(3)).collect();
        let b: Vec<usize> = (0..n)
            .map(|i| {
                if rng.uniform() < 0.6 {
                    a[i]
                } else {
                    rng.below(4)
                }
            })
            .collect();
        let r = FuzzyRand::new()
            .compute(one_hot(&a, 3).view(), one_hot(&b, 4).view())
            .unwrap();
        let ari = adjusted_rand_index(&a, &b).unwrap();
        assert!((r.adjusted - ari).abs() < 1e-12, "{} vs {ari}", r.adjusted);
        // The Rand index by counting pairs.
        let mut agree = 0usize;
        for i in 0..n {
            for j in i + 1..n {
                agree += usize::from((a[i] == a[j]) == (b[i] == b[j]));
            }
        }
        close(r.index, agree as f64 / (n * (n - 1) / 2) as f64);
    }
}

#[test]
fn fuzzy_rand_samples_large_inputs() {
    let labels: Vec<usize> = (0..500).map(|i| i % 3).collect();
    let p = one_hot(&labels, 3);
    let r = FuzzyRand::new()
        .max_points(100)
        .seed(4)
        .compute(p.view(), p.view())
        .unwrap();
    assert_eq!(r.n_points, 100);
    close(r.adjusted, 1.0);
    let again = FuzzyRand::new()
        .max_points(100)
        .seed(4)
        .compute(p.view(), p.view())
        .unwrap();
    assert_eq!(r, again);
}

#[test]
fn match_clusters_with_more_clusters_than_classes() {
    let p = array![[0.1, 0.0, 0.9], [0.0, 1.0, 0.0], [0.2, 0.1, 0.7]];
    let m = match_clusters(p.view(), &[0, 1, 0], 2).unwrap();
    assert_eq!(m.cluster_of_class, vec![Some(2), Some(1)]);
    assert_eq!(m.class_of_cluster, vec![None, Some(1), Some(0)]);
}

fn assert_not_memberships(r: Result<impl std::fmt::Debug, Error>) {
    match r {
        Err(Error::NotMemberships { .. }) => {}
        other => panic!("expected NotMemberships, got {other:?}"),
    }
}

#[test]
fn rows_that_do_not_sum_to_one_are_refused() {
    let p = array![[0.5, 0.4], [0.5, 0.5]];
    assert_not_memberships(score_against_labels(p.view(), &[0, 1], 2, 10));
    assert_not_memberships(FuzzyRand::new().compute(p.view(), p.view()));
    let e = score_against_labels(p.view(), &[0, 1], 2, 10).unwrap_err();
    assert!(e.to_string().contains("row 0"), "{e}");
}

#[test]
fn negative_entries_are_refused() {
    let p = array![[1.5, -0.5], [0.5, 0.5]];
    assert_not_memberships(score_against_labels(p.view(), &[0, 1], 2, 10));
}

#[test]
fn non_finite_entries_are_refused() {
    let p = array![[f64::NAN, 0.5], [0.5, 0.5]];
    assert!(matches!(
        score_against_labels(p.view(), &[0, 1], 2, 10),
        Err(Error::NonFinite {
            row: 0,
            column: 0,
            ..
        })
    ));
}

#[test]
fn labels_of_the_wrong_length_are_refused() {
    let p = array![[0.5, 0.5], [0.5, 0.5]];
    assert!(matches!(
        score_against_labels(p.view(), &[0], 2, 10),
        Err(Error::ShapeMismatch { .. })
    ));
}

#[test]
fn labels_beyond_n_classes_are_refused() {
    let p = array![[0.5, 0.5], [0.5, 0.5]];
    assert!(matches!(
        score_against_labels(p.view(), &[0, 2], 2, 10),
        Err(Error::InvalidParameter { name: "labels", .. })
    ));
}

#[test]
fn zero_bins_are_refused() {
    let p = array![[0.5, 0.5], [0.5, 0.5]];
    assert!(matches!(
        score_against_labels(p.view(), &[0, 1], 2, 0),
        Err(Error::InvalidParameter { name: "n_bins", .. })
    ));
}

#[test]
fn fuzzy_rand_needs_two_points_and_equal_rows() {
    let one = array![[0.5, 0.5]];
    assert!(matches!(
        FuzzyRand::new().compute(one.view(), one.view()),
        Err(Error::ShapeMismatch { .. })
    ));
    let two = array![[0.5, 0.5], [1.0, 0.0]];
    let three = array![[0.5, 0.5], [1.0, 0.0], [0.0, 1.0]];
    assert!(matches!(
        FuzzyRand::new().compute(two.view(), three.view()),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        FuzzyRand::new()
            .max_points(1)
            .compute(two.view(), two.view()),
        Err(Error::InvalidParameter {
            name: "max_points",
            ..
        })
    ));
}

#[test]
fn ari_of_unequal_lengths_is_refused() {
    assert!(matches!(
        adjusted_rand_index(&[0, 1], &[0]),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        adjusted_rand_index(&[], &[]),
        Err(Error::EmptyInput { .. })
    ));
}
