//! Shared helpers for the integration tests (included with `mod common;`).
#![allow(dead_code, clippy::unwrap_used)]

use ndarray::Array2;
use softclust::rng::Rng;

/// `n` points around `k` well-separated centres in `d` dimensions (deterministic from `seed`).
pub fn blobs(n: usize, d: usize, k: usize, spread: f64, seed: u64) -> (Array2<f64>, Vec<usize>) {
    let mut rng = Rng::new(seed);
    let centers = Array2::from_shape_fn((k, d), |_| (rng.uniform() - 0.5) * 40.0);
    let mut labels = Vec::with_capacity(n);
    let x = Array2::from_shape_fn((n, d), |(i, j)| {
        let c = i % k;
        if j == 0 {
            labels.push(c);
        }
        centers[(c, j)] + spread * normal(&mut rng)
    });
    (x, labels)
}

/// A standard normal draw (Box-Muller).
pub fn normal(rng: &mut Rng) -> f64 {
    let u1 = 1.0 - rng.uniform();
    let u2 = rng.uniform();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Runs `f` inside a rayon pool with `threads` threads.
pub fn with_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}
