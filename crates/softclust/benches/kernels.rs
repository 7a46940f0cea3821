//! Kernel microbenchmarks (divan): the GEMM-form distance kernel, a Lloyd iteration, the
//! Gaussian-mixture E-step (predict_log_proba) and one full EM iteration (E-step + M-step),
//! for f64 and f32. Run with `cargo bench -p softclust --bench kernels`.
#![allow(missing_docs, clippy::unwrap_used)]

use ndarray::{Array1, Array2, Array3};
use softclust::distance::squared_distances;
use softclust::rng::Rng;
use softclust::{CovMatrices, CovarianceType, GaussianMixture, Init, KMeans};

fn main() {
    divan::main();
}

fn data(n: usize, d: usize) -> Array2<f64> {
    let mut rng = Rng::new(1);
    Array2::from_shape_fn((n, d), |(i, _)| (i % 7) as f64 + rng.uniform())
}

#[divan::bench(args = [8, 32])]
fn distances_f64(bencher: divan::Bencher, k: usize) {
    let x = data(100_000, 32);
    let c = data(k, 32);
    bencher.bench(|| squared_distances(x.view(), c.view()).unwrap());
}

#[divan::bench(args = [8, 32])]
fn distances_f32(bencher: divan::Bencher, k: usize) {
    let x = data(100_000, 32).mapv(|v| v as f32);
    let c = data(k, 32).mapv(|v| v as f32);
    bencher.bench(|| squared_distances(x.view(), c.view()).unwrap());
}

#[divan::bench(args = [8, 32])]
fn lloyd_iteration(bencher: divan::Bencher, k: usize) {
    let x = data(100_000, 32);
    let c = data(k, 32);
    let km = KMeans::new(k).init(Init::Centers(c)).max_iter(1);
    bencher.bench(|| km.fit(x.view(), None).unwrap());
}

fn gmm_start(t: CovarianceType, k: usize, d: usize) -> GaussianMixture {
    let means = data(k, d);
    let prec = match t {
        CovarianceType::Full => CovMatrices::Full(Array3::from_shape_fn((k, d, d), |(_, a, b)| {
            if a == b {
                1.0
            } else {
                0.0
            }
        })),
        _ => CovMatrices::Diag(Array2::ones((k, d))),
    };
    GaussianMixture::new(k)
        .covariance_type(t)
        .weights_init(Array1::from_elem(k, 1.0 / k as f64))
        .means_init(means)
        .precisions_init(prec)
        .max_iter(1)
}

#[divan::bench(args = [CovarianceType::Full, CovarianceType::Diag])]
fn em_iteration(bencher: divan::Bencher, t: CovarianceType) {
    let x = data(50_000, 16);
    let cfg = gmm_start(t, 8, 16);
    bencher.bench(|| cfg.fit(x.view(), None).unwrap());
}

#[divan::bench(args = [CovarianceType::Full, CovarianceType::Diag])]
fn e_step(bencher: divan::Bencher, t: CovarianceType) {
    let x = data(50_000, 16);
    let model = gmm_start(t, 8, 16).fit(x.view(), None).unwrap();
    bencher.bench(|| model.predict_log_proba(x.view()).unwrap());
}

#[divan::bench(args = [8, 32])]
fn fcm_iteration(bencher: divan::Bencher, k: usize) {
    use softclust::fcm::{FcmInit, FuzzyCMeans};
    let x = data(100_000, 16);
    let c = data(k, 16);
    let f = FuzzyCMeans::new(k)
        .init(FcmInit::Centers(c))
        .max_iter(1)
        .tol(0.0);
    bencher.bench(|| f.fit(x.view(), None).unwrap());
}

#[divan::bench(args = [8, 32])]
fn kmeans_soft_memberships(bencher: divan::Bencher, k: usize) {
    let x = data(100_000, 32);
    let c = data(k, 32);
    let m = KMeans::new(k)
        .init(Init::Centers(c))
        .max_iter(1)
        .fit(x.view(), None)
        .unwrap();
    bencher.bench(|| m.memberships(x.view()).unwrap());
}
