//! Scalers against hand values; the GEMM-form distance kernel against an explicit oracle.
#![allow(clippy::unwrap_used)]

mod common;

use common::{normal, with_threads};
use ndarray::{array, Array2};
use softclust::distance::{euclidean_distances, squared_distances};
use softclust::rng::Rng;
use softclust::scale::quantile_sorted;
use softclust::{Error, Standardize};

#[test]
fn zscore_by_hand_and_reusable() {
    let x = array![[1.0, 10.0, 5.0], [2.0, 20.0, 5.0], [3.0, 60.0, 5.0]];
    let s = Standardize::ZScore.fit(x.view()).unwrap();
    // Column 0: mean 2, population sd sqrt(2/3).
    let sd0 = (2.0f64 / 3.0).sqrt();
    assert_eq!(s.center()[0], 2.0);
    assert!((s.scale()[0] - sd0).abs() < 1e-15);
    assert_eq!(s.unscaled_columns(), &[2]);
    assert_eq!(s.scale()[2], 1.0);
    let z = s.transform(x.view()).unwrap();
    assert!((z[(0, 0)] + 1.0 / sd0).abs() < 1e-15);
    assert_eq!(z.column(2).to_vec(), vec![0.0, 0.0, 0.0]);
    // Each scaled column has mean 0 and variance 1.
    let c1 = z.column(1);
    assert!(c1.mean().unwrap().abs() < 1e-15);
    assert!((c1.mapv(|v| v * v).mean().unwrap() - 1.0).abs() < 1e-14);
    // Reuse on new data, and back.
    let newx = array![[4.0, 0.0, 5.0]];
    let zn = s.transform(newx.view()).unwrap();
    assert!((zn[(0, 0)] - 2.0 / sd0).abs() < 1e-14);
    let back = s.inverse_transform(zn.view()).unwrap();
    for (a, b) in back.iter().zip(newx.iter()) {
        assert!((a - b).abs() < 1e-13);
    }
}

#[test]
fn robust_uses_median_and_iqr() {
    // Column 0: 1, 2, 3, 4, 100 -> median 3, q25 2, q75 4, IQR 2 (the outlier does not matter).
    let x = array![[1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [4.0, 1.0], [100.0, 0.0]];
    let s = Standardize::Robust.fit(x.view()).unwrap();
    assert_eq!(s.center().to_vec(), vec![3.0, 0.0]);
    assert_eq!(s.scale().to_vec(), vec![2.0, 1.0]);
    // Column 1 has zero IQR although it is not constant.
    assert_eq!(s.unscaled_columns(), &[1]);
    assert_eq!(quantile_sorted(&[1.0, 2.0, 3.0, 4.0], 0.25), 1.75);
    assert_eq!(quantile_sorted(&[7.0], 0.75), 7.0);
}

#[test]
fn none_is_identity() {
    let x = array![[1.0, 2.0], [3.0, 4.0]];
    let s = Standardize::None.fit(x.view()).unwrap();
    assert_eq!(s.transform(x.view()).unwrap(), x);
    assert!(s.unscaled_columns().is_empty());
}

#[test]
fn fit_transform_equals_fit_then_transform() {
    let x = array![
        [1.0, 200.0, 3.0],
        [1.5, 180.0, 3.0],
        [4.0, 260.0, 3.0],
        [2.5, 220.0, 3.0]
    ];
    for kind in Standardize::ALL {
        let (s, z) = kind.fit_transform(x.view()).unwrap();
        let s2 = kind.fit(x.view()).unwrap();
        assert_eq!(s, s2, "{kind}");
        assert_eq!(z, s2.transform(x.view()).unwrap(), "{kind}");
    }
    let mut bad = x.clone();
    bad[(2, 1)] = f64::NAN;
    assert!(matches!(
        Standardize::ZScore.fit_transform(bad.view()),
        Err(Error::NonFinite {
            row: 2,
            column: 1,
            ..
        })
    ));
}

#[test]
fn scaler_rejects_bad_input() {
    let s = Standardize::ZScore
        .fit(array![[1.0, 2.0], [3.0, 5.0]].view())
        .unwrap();
    let e = s.transform(array![[1.0, 2.0, 3.0]].view()).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
    let e = Standardize::Robust
        .fit(array![[1.0], [f64::NAN]].view())
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
    let e = Standardize::ZScore
        .fit(Array2::<f64>::zeros((0, 2)).view())
        .unwrap_err();
    assert!(matches!(e, Error::EmptyInput { .. }), "{e}");
}

fn oracle(x: &Array2<f64>, c: &Array2<f64>) -> Array2<f64> {
    Array2::from_shape_fn((x.nrows(), c.nrows()), |(i, j)| {
        x.row(i)
            .iter()
            .zip(c.row(j))
            .map(|(a, b)| (a - b) * (a - b))
            .sum()
    })
}

#[test]
fn gemm_distances_match_explicit_oracle() {
    let mut rng = Rng::new(3);
    // Shapes around the block and segment boundaries, offset far from the origin.
    for (n, d, k) in [
        (1, 1, 1),
        (255, 3, 2),
        (257, 7, 5),
        (4097, 16, 9),
        (9000, 33, 3),
    ] {
        let x = Array2::from_shape_fn((n, d), |_| 1e3 + normal(&mut rng));
        let c = Array2::from_shape_fn((k, d), |_| 1e3 + normal(&mut rng));
        let got = squared_distances(x.view(), c.view()).unwrap();
        let want = oracle(&x, &c);
        for (a, b) in got.iter().zip(want.iter()) {
            assert!(
                (a - b).abs() <= 1e-9 * b.max(1.0),
                "{n}x{d}, k={k}: {a} vs {b}"
            );
        }
        let e = euclidean_distances(x.view(), c.view()).unwrap();
        assert!((e[(0, 0)] - want[(0, 0)].sqrt()).abs() < 1e-9);
        // f32 path, relative to the f64 oracle.
        let got32 =
            squared_distances(x.mapv(|v| v as f32).view(), c.mapv(|v| v as f32).view()).unwrap();
        let want32 = oracle(
            &x.mapv(|v| f64::from(v as f32)),
            &c.mapv(|v| f64::from(v as f32)),
        );
        for (a, b) in got32.iter().zip(want32.iter()) {
            assert!(
                (f64::from(*a) - b).abs() <= 1e-4 * b.max(1.0),
                "f32 {a} vs {b}"
            );
        }
    }
}

#[test]
fn coincident_points_have_distance_exactly_zero() {
    let x = array![[1e6 + 0.1, -3e6], [5.0, 5.0]];
    let d = squared_distances(x.view(), x.view()).unwrap();
    assert_eq!(d[(0, 0)], 0.0);
    assert_eq!(d[(1, 1)], 0.0);
}

#[test]
fn distances_do_not_depend_on_thread_count() {
    let mut rng = Rng::new(8);
    let x = Array2::from_shape_fn((10_000, 5), |_| normal(&mut rng));
    let c = Array2::from_shape_fn((4, 5), |_| normal(&mut rng));
    let a = with_threads(1, || squared_distances(x.view(), c.view()).unwrap());
    let b = with_threads(2, || squared_distances(x.view(), c.view()).unwrap());
    assert!(a
        .iter()
        .zip(b.iter())
        .all(|(u, v)| u.to_bits() == v.to_bits()));
}

#[test]
fn distance_inputs_are_validated() {
    let e = squared_distances(array![[1.0, 2.0]].view(), array![[1.0]].view()).unwrap_err();
    assert!(
        matches!(
            e,
            Error::ShapeMismatch {
                what: "centres",
                ..
            }
        ),
        "{e}"
    );
}
