//! Sparse k-means and fuzzy c-means agree with the dense fits of the same matrix.

use ndarray::Array2;
use softclust::fcm::{FcmInit, FuzzyCMeans};
use softclust::rng::Rng;
use softclust::sparse::Csr;
use softclust::{Init, KMeans, Model, SoftMethod};

/// A 300 x 40 matrix, about 85% zeros, with three groups of columns.
fn data() -> (Array2<f64>, Vec<usize>, Vec<u32>, Vec<f64>) {
    let mut rng = Rng::new(7);
    let (n, d) = (300, 40);
    let mut x = Array2::<f64>::zeros((n, d));
    for i in 0..n {
        let g = i % 3;
        for t in 0..d {
            let in_group = t % 3 == g;
            if rng.uniform() < if in_group { 0.35 } else { 0.05 } {
                x[[i, t]] = 1.0 + 3.0 * rng.uniform();
            }
        }
    }
    let (mut indptr, mut indices, mut values) = (vec![0], vec![], vec![]);
    for i in 0..n {
        for t in 0..d {
            if x[[i, t]] != 0.0 {
                indices.push(t as u32);
                values.push(x[[i, t]]);
            }
        }
        indptr.push(indices.len());
    }
    (x, indptr, indices, values)
}

#[test]
fn sparse_fit_equals_dense_fit() {
    let (x, indptr, indices, values) = data();
    let csr = Csr::new(x.nrows(), x.ncols(), &indptr, &indices, &values).unwrap();
    for init in [Init::KMeansPlusPlus, Init::Random] {
        for soft in [SoftMethod::default(), SoftMethod::MinMax] {
            let km = KMeans::new(3)
                .init(init.clone())
                .n_init(3)
                .seed(11)
                .soft(soft);
            let dense = km.fit(x.view(), None).unwrap();
            let sparse = km.fit_sparse(&csr, None).unwrap();
            assert_eq!(dense.labels(), sparse.labels());
            assert_eq!(dense.diagnostics().n_iter, sparse.diagnostics().n_iter);
            let dc = (&dense.centers() - &sparse.centers()).mapv(f64::abs);
            assert!(dc.iter().all(|&v| v < 1e-10));
            assert!((dense.inertia() - sparse.inertia()).abs() < 1e-9 * dense.inertia());
            let pd = dense.memberships(x.view()).unwrap();
            let ps = sparse.memberships_sparse(&csr).unwrap();
            let diff = (&pd.proba - &ps.proba).mapv(f64::abs);
            assert!(
                diff.iter().all(|&v| v < 1e-12),
                "{:?}",
                diff.iter().cloned().fold(0.0, f64::max)
            );
            assert_eq!(
                sparse.predict_sparse(&csr).unwrap(),
                dense.predict(x.view()).unwrap()
            );
            // the sparse model's dense predictions are the same model's
            assert_eq!(
                sparse.predict(x.view()).unwrap(),
                dense.predict(x.view()).unwrap()
            );
        }
    }
}

#[test]
fn sparse_fit_with_weights_and_given_centres() {
    let (x, indptr, indices, values) = data();
    let csr = Csr::new(x.nrows(), x.ncols(), &indptr, &indices, &values).unwrap();
    let w = ndarray::Array1::from_iter((0..x.nrows()).map(|i| 0.5 + (i % 4) as f64));
    let c0 = x.select(ndarray::Axis(0), &[0, 1, 2]);
    let km = KMeans::new(3).init(Init::Centers(c0)).seed(3);
    let dense = km.fit(x.view(), Some(w.view())).unwrap();
    let sparse = km.fit_sparse(&csr, Some(w.view())).unwrap();
    assert_eq!(dense.labels(), sparse.labels());
    assert!((dense.inertia() - sparse.inertia()).abs() < 1e-9 * dense.inertia());
}

#[test]
fn sparse_bad_input_is_an_error() {
    let (x, indptr, indices, values) = data();
    let csr = Csr::new(x.nrows(), x.ncols(), &indptr, &indices, &values).unwrap();
    assert!(KMeans::<f64>::new(301).fit_sparse(&csr, None).is_err());
    let m = KMeans::new(3).seed(0).fit_sparse(&csr, None).unwrap();
    let narrow = Csr::new(1, 2, &[0, 1], &[0], &[1.0]).unwrap();
    assert!(m.predict_sparse(&narrow).is_err());
}

fn max_abs_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    assert_eq!(a.dim(), b.dim());
    (a - b).iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// The labels of new-data memberships of `x`.
fn pd_labels(m: &softclust::fcm::FuzzyCMeansModel<f64>, x: &Array2<f64>) -> ndarray::Array1<usize> {
    m.memberships(x.view())
        .expect("memberships of the training data")
        .label
}

#[test]
fn sparse_fcm_equals_dense_fcm() {
    let (x, indptr, indices, values) = data();
    let csr = Csr::new(x.nrows(), x.ncols(), &indptr, &indices, &values).unwrap();
    let w = ndarray::Array1::from_iter((0..x.nrows()).map(|i| 0.5 + (i % 4) as f64));
    let u0 = Array2::from_shape_fn((x.nrows(), 3), |(i, j)| 1.0 + ((i * 7 + j * 3) % 5) as f64);
    let starts = [
        FcmInit::KMeansPlusPlus,
        FcmInit::Centers(x.select(ndarray::Axis(0), &[0, 1, 2])),
        FcmInit::Memberships(u0),
    ];
    for init in starts {
        for (m, weights) in [(2.0, None), (1.7, Some(w.view()))] {
            let fcm = FuzzyCMeans::new(3).m(m).seed(5).init(init.clone());
            let dense = fcm.fit(x.view(), weights).unwrap();
            let sparse = fcm.fit_sparse(&csr, weights).unwrap();
            let (dd, sd) = (dense.diagnostics(), sparse.diagnostics());
            assert_eq!(dd.n_iter, sd.n_iter, "{init:?} m={m}");
            assert_eq!(dd.converged, sd.converged);
            assert!((dd.partition_coefficient - sd.partition_coefficient).abs() < 1e-12);
            assert!((dd.partition_entropy - sd.partition_entropy).abs() < 1e-12);
            let last = |v: &Vec<f64>| *v.last().unwrap();
            assert!((last(&dd.objective) - last(&sd.objective)).abs() < 1e-9 * last(&dd.objective));
            let dc = max_abs_diff(&dense.centers().to_owned(), &sparse.centers().to_owned());
            assert!(dc < 1e-10, "centres differ by {dc}");
            let du = max_abs_diff(
                &dense.training_memberships().to_owned(),
                &sparse.training_memberships().to_owned(),
            );
            assert!(du < 1e-12, "training memberships differ by {du}");
            assert_eq!(dense.training_labels(), sparse.training_labels());
            assert_eq!(dense.training_labels(), pd_labels(&dense, &x).view());
            let pd = dense.memberships(x.view()).unwrap();
            let ps = sparse.memberships_sparse(&csr).unwrap();
            let dp = max_abs_diff(&pd.proba, &ps.proba);
            assert!(dp < 1e-12, "memberships differ by {dp}");
            assert_eq!(pd.label, ps.label);
            let dev = max_abs_diff(
                &dense.cluster_deviations().unwrap().to_owned(),
                &sparse.cluster_deviations().unwrap().to_owned(),
            );
            let scale = dense
                .cluster_deviations()
                .unwrap()
                .iter()
                .fold(0.0f64, |a, &v| a.max(v));
            assert!(dev < 1e-9 * scale, "deviations differ by {dev}");
            let model = Model::Fcm(sparse);
            assert_eq!(model.predict_sparse(&csr).unwrap(), pd.label);
        }
    }
}

#[test]
fn sparse_input_to_a_mixture_is_an_error_that_says_so() {
    let (x, indptr, indices, values) = data();
    let csr = Csr::new(x.nrows(), x.ncols(), &indptr, &indices, &values).unwrap();
    let g = softclust::GaussianMixture::new(2)
        .covariance_type(softclust::CovarianceType::Diag)
        .fit(x.view(), None)
        .unwrap();
    let e = Model::<f64>::Gmm(g).memberships_sparse(&csr).unwrap_err();
    assert!(e.to_string().contains("dense data"), "{e}");
}
