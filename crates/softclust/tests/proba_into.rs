//! `predict_proba_into`: the probabilities of `memberships`, written into a caller's buffer by
//! the fused kernels (k-means, mixtures) or the default (fuzzy c-means, consensus), for every
//! soft step, f64 and f32 data, contiguous and strided outputs; wrong shapes are errors.
#![allow(clippy::unwrap_used)]

mod common;

use common::blobs;
use ndarray::{s, Array2, ArrayView2};
use softclust::consensus::ConsensusKMeans;
use softclust::fcm::FuzzyCMeans;
use softclust::{
    Anchored, ClusterModel, CovarianceType, Error, Float, GaussianMixture, InversePower, KMeans,
    SoftMethod, Softmax,
};

fn check_into<F: Float, M: ClusterModel<F>>(m: &M, x: ArrayView2<'_, F>, tol: f64) {
    let want = m.memberships(x).unwrap().proba.mapv(|v| v.as_f64());
    let mut out = Array2::<f64>::from_elem(want.dim(), f64::NAN);
    m.predict_proba_into(x, out.view_mut()).unwrap();
    let worst = (&out - &want).mapv(f64::abs).fold(0.0f64, |a, &b| a.max(b));
    assert!(worst <= tol, "contiguous: {worst}");
    for row in out.rows() {
        assert!((row.sum() - 1.0).abs() < 1e-12);
    }
    // A strided view (every other column of a wider buffer).
    let mut wide = Array2::<f64>::from_elem((want.nrows(), 2 * want.ncols()), f64::NAN);
    m.predict_proba_into(x, wide.slice_mut(s![.., ..;2]))
        .unwrap();
    assert_eq!(wide.slice(s![.., ..;2]), out);
    // Wrong shapes.
    let mut bad = Array2::<f64>::zeros((want.nrows(), want.ncols() + 1));
    let e = m.predict_proba_into(x, bad.view_mut()).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
    assert!(e.to_string().contains("rows x clusters"), "{e}");
}

#[test]
fn kmeans_every_soft_step_writes_the_memberships_probabilities() {
    let (x, _) = blobs(3000, 4, 5, 1.0, 3);
    // Far points whose softmax terms all underflow go through the limits.
    let mut far = x.clone();
    far.slice_mut(s![..10, ..]).mapv_inplace(|v| v * 1e6);
    for soft in [
        SoftMethod::default(),
        SoftMethod::Softmax(Softmax::new().per_cluster_variance(true).size_weights(true)),
        SoftMethod::Softmax(Softmax::new().sigma(0.5)),
        SoftMethod::InversePower(InversePower::new()),
        SoftMethod::MinMax,
        SoftMethod::Anchored(Anchored::new()),
    ] {
        let m = KMeans::new(5)
            .seed(1)
            .soft(soft)
            .fit(x.view(), None)
            .unwrap();
        check_into(&m, x.view(), 1e-15);
        check_into(&m, far.view(), 1e-15);
        let m32 = KMeans::<f32>::new(5)
            .seed(1)
            .fit(x.mapv(|v| v as f32).view(), None)
            .unwrap();
        check_into(&m32, x.mapv(|v| v as f32).view(), 1e-6);
    }
}

#[test]
fn zero_variance_takes_the_limit_in_both_paths() {
    // Two distinct points, each repeated: every cluster has zero spread, so sigma = 0.
    let x = Array2::from_shape_fn((40, 2), |(i, _)| if i < 20 { 0.0 } else { 1.0 });
    let m = KMeans::new(2).seed(2).fit(x.view(), None).unwrap();
    assert_eq!(m.soft().unwrap().sigma().unwrap(), &[0.0, 0.0]);
    let (y, _) = blobs(300, 2, 3, 1.0, 8);
    check_into(&m, y.view(), 0.0);
}

#[test]
fn mixtures_and_the_default_implementation_write_the_memberships_probabilities() {
    let (x, _) = blobs(2000, 3, 4, 1.0, 5);
    for cov in [CovarianceType::Full, CovarianceType::Diag] {
        let g = GaussianMixture::new(4)
            .covariance_type(cov)
            .fit(x.view(), None)
            .unwrap();
        check_into(&g, x.view(), 1e-14);
        assert_eq!(
            {
                let mut o = Array2::zeros((x.nrows(), 4));
                g.predict_proba_into(x.view(), o.view_mut()).unwrap();
                o
            },
            g.predict_proba(x.view()).unwrap()
        );
    }
    let f = FuzzyCMeans::new(4).fit(x.view(), None).unwrap();
    check_into(&f, x.view(), 0.0);
    let c = ConsensusKMeans::new(4).runs(8).fit(x.view()).unwrap();
    check_into(&c, x.view(), 0.0);
}
