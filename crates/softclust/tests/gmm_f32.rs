//! Gaussian mixtures on f32 data: blocks evaluated in f32, sums and parameters in f64. The
//! fits must agree with the f64 fits of the same (widened) values to 1e-4 relative in the
//! lower bound, and their memberships to single precision.
#![allow(clippy::unwrap_used)]

use ndarray::{array, Array1, Array2};
use softclust::{CovarianceType, Error, GaussianMixture};

/// Three clusters of unequal spread, away from the origin (so that the shift matters).
fn clusters(n: usize, d: usize) -> Array2<f64> {
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let mut u = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    Array2::from_shape_fn((n, d), |(i, t)| {
        let c = i % 3;
        let z = (-2.0 * u().max(1e-300).ln()).sqrt() * (std::f64::consts::TAU * u()).cos();
        50.0 + 6.0 * c as f64 * ((t % 2) as f64 * 2.0 - 1.0) + (0.5 + c as f64) * z
    })
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs())
}

#[test]
fn f32_fits_agree_with_f64_fits_for_every_covariance_type() {
    let x32 = clusters(6000, 5).mapv(|v| v as f32);
    let x64 = x32.mapv(f64::from);
    for t in [
        CovarianceType::Full,
        CovarianceType::Tied,
        CovarianceType::Diag,
        CovarianceType::Spherical,
    ] {
        let means = Array2::from_shape_fn((3, 5), |(c, j)| x64[(c, j)]);
        let cfg = GaussianMixture::new(3)
            .covariance_type(t)
            .means_init(means)
            .weights_init(Array1::from_elem(3, 1.0 / 3.0))
            .max_iter(30)
            .tol(0.0);
        let m64 = cfg.fit(x64.view(), None).unwrap();
        let m32 = cfg.fit(x32.view(), None).unwrap();
        let (l64, l32) = (m64.diagnostics().lower_bound, m32.diagnostics().lower_bound);
        assert!(rel(l64, l32) < 1e-4, "{t:?}: {l64} against {l32}");
        assert_eq!(m64.diagnostics().n_iter, m32.diagnostics().n_iter, "{t:?}");
        for (a, b) in m64.means().iter().zip(m32.means()) {
            assert!((a - b).abs() < 1e-3, "{t:?} means: {a} against {b}");
        }
        // Memberships of the f32 model on the f32 data, against the f64 model on the f64 data.
        let p64 = m64.predict_proba(x64.view()).unwrap();
        let p32 = m32.predict_proba(x32.view()).unwrap();
        let worst = p64
            .iter()
            .zip(&p32)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(worst < 1e-3, "{t:?}: memberships differ by {worst}");
        for row in p32.rows() {
            assert!((row.sum() - 1.0).abs() < 1e-12, "{t:?}: rows sum to 1");
        }
        // The same f32 model scores f32 and widened data alike.
        let s32 = m32.score_samples(x32.view()).unwrap();
        let s64 = m32.score_samples(x64.view()).unwrap();
        for (a, b) in s32.iter().zip(&s64) {
            assert!(rel(*a, *b) < 1e-5, "{t:?}: log-densities {a} against {b}");
        }
    }
}

#[test]
fn an_f32_component_of_identical_points_is_collapsed_not_a_tiny_variance() {
    let x = array![
        [1000.1f32, 3.3],
        [1000.1, 3.3],
        [5.0, 5.0],
        [5.0, 5.0],
        [9.0, 0.0],
        [9.0, 0.0]
    ];
    for t in [CovarianceType::Diag, CovarianceType::Spherical] {
        let e = GaussianMixture::new(3)
            .covariance_type(t)
            .reg_covar(0.0)
            .fit(x.view(), None)
            .unwrap_err();
        assert!(matches!(e, Error::IllConditioned { .. }), "{t:?}: {e}");
    }
}
