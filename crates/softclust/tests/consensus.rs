//! Consensus k-means: alignment, one-hot on separated data, spread on overlapping data.
#![allow(clippy::unwrap_used)]

mod common;

use common::{blobs, with_threads};
use ndarray::{Array2, Axis};
use softclust::assignment::min_cost_assignment;
use softclust::consensus::{wilson_interval, ConsensusKMeans, Resample, Z95};
use softclust::rng::Rng;
use softclust::Error;

#[test]
fn alignment_is_invariant_to_permuting_a_runs_labels() {
    let (x, _) = blobs(400, 3, 5, 1.0, 3);
    let reference = x.select(Axis(0), &[0, 1, 2, 3, 4]);
    let mut rng = Rng::new(9);
    for _ in 0..20 {
        // A run's centres: the reference, jittered, in a random order.
        let mut perm: Vec<usize> = (0..5).collect();
        for i in (1..5).rev() {
            perm.swap(i, rng.below(i + 1));
        }
        let run = reference
            .select(Axis(0), &perm)
            .mapv(|v| v + 0.01 * (rng.uniform() - 0.5));
        let cost = Array2::from_shape_fn((5, 5), |(i, j)| {
            reference
                .row(i)
                .iter()
                .zip(run.row(j))
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
        });
        let p = min_cost_assignment(cost.view());
        // Reference cluster i is matched to the run cluster that came from it.
        for i in 0..5 {
            assert_eq!(perm[p[i]], i);
        }
    }
}

#[test]
fn separated_blobs_give_one_hot_consensus() {
    let (x, truth) = blobs(600, 2, 3, 0.5, 5);
    for resample in [
        Resample::Bootstrap,
        Resample::Subsample(0.7),
        Resample::Reseed,
    ] {
        let m = ConsensusKMeans::new(3)
            .runs(40)
            .resample(resample)
            .seed(1)
            .fit(x.view())
            .unwrap();
        let mem = m.memberships();
        assert!(mem.max_p.iter().all(|&p| p >= 0.99), "{resample:?}");
        assert_eq!(mem.label, m.reference().labels());
        assert!(
            m.stability().iter().all(|&s| s > 0.99),
            "{resample:?}: {}",
            m.stability()
        );
        // Labels agree with the truth up to renaming.
        for i in 0..600 {
            for j in 0..600 {
                if truth[i] == truth[j] {
                    assert_eq!(mem.label[i], mem.label[j]);
                }
            }
        }
        let (lo, hi) = m.top_probability_intervals();
        assert!(lo
            .iter()
            .zip(hi.iter())
            .all(|(&l, &h)| l > 0.9 && (h - 1.0).abs() < 1e-12));
    }
}

#[test]
fn overlapping_blobs_spread_the_probabilities() {
    let (x, _) = blobs(1500, 2, 4, 9.0, 8);
    let m = ConsensusKMeans::new(4)
        .runs(60)
        .seed(3)
        .fit(x.view())
        .unwrap();
    let mem = m.memberships();
    let unsure = mem.max_p.iter().filter(|&&p| p < 0.9).count();
    assert!(unsure > 30, "only {unsure} points below 0.9");
    for row in mem.proba.rows() {
        assert!((row.sum() - 1.0).abs() < 1e-12);
    }
    let counts = m.counts();
    assert!(counts.rows().into_iter().all(|r| r.sum() == 60));
    // New-data memberships from the run centres reproduce the training counts.
    let (again, c2) = m.predict_memberships(x.view()).unwrap();
    assert_eq!(c2, counts);
    assert_eq!(again.proba, mem.proba);
    assert_eq!(m.run_centers().dim(), (60, 4, 2));
}

#[test]
fn identical_results_on_any_thread_count() {
    let (x, _) = blobs(3000, 3, 4, 6.0, 2);
    let fit = || {
        ConsensusKMeans::new(4)
            .runs(12)
            .seed(7)
            .coassociation(true)
            .fit(x.view())
            .unwrap()
    };
    let a = with_threads(1, fit);
    let b = with_threads(2, fit);
    assert_eq!(a.counts(), b.counts());
    assert_eq!(a.stability(), b.stability());
    assert_eq!(a.run_centers(), b.run_centers());
    assert_eq!(a.coassociation(), b.coassociation());
}

#[test]
fn coassociation_matrix() {
    let (x, truth) = blobs(90, 2, 3, 0.3, 4);
    let m = ConsensusKMeans::new(3)
        .runs(10)
        .coassociation(true)
        .fit(x.view())
        .unwrap();
    let co = m.coassociation().unwrap();
    assert_eq!(co.dim(), (90, 90));
    for i in 0..90 {
        assert_eq!(co[(i, i)], 1.0);
        for j in 0..90 {
            assert_eq!(co[(i, j)], co[(j, i)]);
            assert_eq!(co[(i, j)], if truth[i] == truth[j] { 1.0 } else { 0.0 });
        }
    }
    assert!(ConsensusKMeans::new(3)
        .runs(3)
        .fit(x.view())
        .unwrap()
        .coassociation()
        .is_none());
}

#[test]
fn wilson_interval_by_hand() {
    // Published 95% Wilson score intervals (Newcombe 1998, Statistics in Medicine 17:857,
    // Table II, method 3), to the four decimals printed there: successes / trials -> interval.
    for (r, n, lo_ref, hi_ref) in [
        (81.0, 263.0, 0.2553, 0.3662),
        (15.0, 148.0, 0.0624, 0.1605),
        (0.0, 20.0, 0.0, 0.1611),
        (1.0, 29.0, 0.0061, 0.1718),
    ] {
        let (lo, hi) = wilson_interval(r / n, n, Z95);
        assert!(
            (lo - lo_ref).abs() < 5e-5 && (hi - hi_ref).abs() < 5e-5,
            "{r}/{n}: ({lo}, {hi}) vs ({lo_ref}, {hi_ref})"
        );
    }
    // All successes: the upper end is exactly 1.
    let (lo, hi) = wilson_interval(1.0, 50.0, Z95);
    assert!(lo > 0.92 && lo < 0.94 && hi == 1.0, "{lo} {hi}");
}

#[test]
fn rejects_bad_parameters() {
    let (x, _) = blobs(50, 2, 2, 1.0, 1);
    let e = ConsensusKMeans::new(2).runs(0).fit(x.view()).unwrap_err();
    assert!(
        matches!(e, Error::InvalidParameter { name: "runs", .. }),
        "{e}"
    );
    for f in [0.0, -0.5, 1.5, f64::NAN] {
        let e = ConsensusKMeans::new(2)
            .resample(Resample::Subsample(f))
            .fit(x.view())
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidParameter {
                    name: "subsample fraction",
                    ..
                }
            ),
            "{e}"
        );
    }
    let e = ConsensusKMeans::new(2)
        .resample(Resample::Subsample(0.01))
        .fit(x.view())
        .unwrap_err();
    assert!(matches!(e, Error::TooFewPoints { .. }), "{e}");
    let e = ConsensusKMeans::new(51).fit(x.view()).unwrap_err();
    assert!(matches!(e, Error::TooFewPoints { .. }), "{e}");
    let big = Array2::<f64>::zeros((20_001, 1));
    let e = ConsensusKMeans::new(2)
        .coassociation(true)
        .fit(big.view())
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidParameter {
                name: "coassociation",
                ..
            }
        ),
        "{e}"
    );
}
