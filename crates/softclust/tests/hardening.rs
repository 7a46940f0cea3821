//! Core regressions of the hardening campaign: values too large to square, overflowing weight
//! totals, restart caps, interrupts, tiny sigmas, saturating parameter counts.
#![allow(clippy::unwrap_used)]

mod common;

use ndarray::{array, Array1};
use softclust::consensus::ConsensusKMeans;
use softclust::fcm::FuzzyCMeans;
use softclust::selection::{select_model, Criterion};
use softclust::{
    soft_assign, CovarianceType, DistanceKind, Error, GaussianMixture, Interrupt, KMeans,
    SoftMethod, Softmax,
};

fn blobs(n: usize, d: usize, k: usize, seed: u64) -> ndarray::Array2<f64> {
    common::blobs(n, d, k, 1.0, seed).0
}

#[test]
fn values_too_large_to_square_are_refused_naming_the_cell() {
    let mut x = blobs(40, 3, 2, 0);
    x[(7, 2)] = 1e101;
    let e = KMeans::new(2).fit(x.view(), None).unwrap_err();
    assert!(
        matches!(e, Error::TooLarge { row: 7, column: 2, limit, .. } if limit == 1e100),
        "{e:?}"
    );
    assert!(e.to_string().contains("(1e101) at row 7, column 2"), "{e}");
    // At the limit itself the data are accepted.
    x[(7, 2)] = 1e100;
    assert!(KMeans::new(2).fit(x.view(), None).is_ok());
    // float32: the limit is lower (squares overflow at 1.8e19).
    let mut x32 = blobs(40, 3, 2, 0).mapv(|v| v as f32);
    x32[(1, 0)] = 1e16;
    assert!(matches!(
        KMeans::new(2).fit(x32.view(), None).unwrap_err(),
        Error::TooLarge {
            row: 1,
            column: 0,
            ..
        }
    ));
    // NaN is still called non-finite.
    x32[(1, 0)] = f32::NAN;
    assert!(matches!(
        KMeans::new(2).fit(x32.view(), None).unwrap_err(),
        Error::NonFinite { .. }
    ));
}

#[test]
fn weights_whose_total_overflows_are_refused() {
    let x = blobs(30, 2, 2, 1);
    let w = Array1::from_elem(30, 1e308);
    for e in [
        FuzzyCMeans::new(2)
            .fit(x.view(), Some(w.view()))
            .unwrap_err(),
        KMeans::new(2).fit(x.view(), Some(w.view())).unwrap_err(),
        GaussianMixture::new(2)
            .fit(x.view(), Some(w.view()))
            .unwrap_err(),
    ] {
        assert!(matches!(e, Error::WeightsTooLarge { .. }), "{e:?}");
    }
}

#[test]
fn restarts_are_capped() {
    let x = blobs(30, 2, 2, 2);
    for e in [
        KMeans::new(2)
            .n_init(100_001)
            .fit(x.view(), None)
            .unwrap_err(),
        GaussianMixture::new(2)
            .n_init(usize::MAX)
            .fit(x.view(), None)
            .unwrap_err(),
        ConsensusKMeans::new(2)
            .runs(usize::MAX)
            .fit(x.view())
            .unwrap_err(),
    ] {
        assert!(e.to_string().contains("an integer from 1 to 100000"), "{e}");
    }
}

#[test]
fn a_triggered_interrupt_stops_every_fit() {
    let x = blobs(200, 3, 3, 3);
    let flag = Interrupt::new();
    flag.trigger();
    let f = || flag.clone();
    let errs = [
        KMeans::new(3).interrupt(f()).fit(x.view(), None).err(),
        GaussianMixture::new(3)
            .interrupt(f())
            .fit(x.view(), None)
            .err(),
        FuzzyCMeans::new(3).interrupt(f()).fit(x.view(), None).err(),
        ConsensusKMeans::new(3).interrupt(f()).fit(x.view()).err(),
        select_model(
            x.view(),
            None,
            &[1, 2, 3],
            &[CovarianceType::Full],
            Criterion::Bic,
            &GaussianMixture::new(1).interrupt(f()),
        )
        .err(),
    ];
    for e in errs {
        assert_eq!(e, Some(Error::Interrupted));
    }
    // Not triggered: the same fits run.
    assert!(KMeans::new(3)
        .interrupt(Interrupt::new())
        .fit(x.view(), None)
        .is_ok());
}

/// sigma = 1e-320 once gave uniform rows (every scaled distance overflowed to the same
/// infinity); the limit of a vanishing sigma is the hard assignment.
#[test]
fn a_tiny_sigma_gives_the_hard_assignment() {
    let d = array![[1.0, 2.0], [3.0, 0.5], [0.0, 4.0]];
    let m = soft_assign(
        d.view(),
        DistanceKind::Euclidean,
        &SoftMethod::Softmax(Softmax::new().sigma(1e-320)),
        None,
    )
    .unwrap();
    assert_eq!(m.label.to_vec(), vec![0, 1, 0]);
    assert!(m.max_p.iter().all(|&p| p == 1.0), "{:?}", m.proba);
}

#[test]
fn parameter_counts_saturate() {
    for t in CovarianceType::ALL {
        assert_eq!(t.n_parameters(usize::MAX, 3), usize::MAX - 1);
    }
    assert_eq!(CovarianceType::Full.n_parameters(2, 3), 2 * 6 + 6 + 1);
}
