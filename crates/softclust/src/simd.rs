//! Run-time SIMD dispatch for the element-wise loops around the matrix products.
//!
//! Wheels and binaries are built for the baseline x86-64 instruction set, so plain loops would
//! only use SSE2. [`dispatch`] runs a [`Kernel`] inside a function compiled for the best
//! instruction set the CPU reports (AVX-512 or AVX2 + FMA on x86-64, chosen per call by `pulp`).
//! `Kernel::run` must be `#[inline(always)]` and call only `#[inline(always)]` helpers (no
//! closures: a closure body is compiled once, for the baseline), so that its loops are
//! auto-vectorised for that set. The helpers below are
//! written so that they vectorise without reassociating anything implicitly: every reduction
//! uses a fixed number of lanes combined in a fixed order, so results are the same on every
//! instruction set and thread count.

use crate::float::Float;

/// A loop nest to compile once per instruction set; implement `run` with `#[inline(always)]`.
pub(crate) trait Kernel {
    /// What the kernel returns.
    type Output;
    /// The loops.
    fn run(self) -> Self::Output;
}

struct Dispatch<K>(K);

impl<K: Kernel> pulp::WithSimd for Dispatch<K> {
    type Output = K::Output;
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> K::Output {
        self.0.run()
    }
}

/// Runs `kernel` compiled for the best SIMD instruction set available at run time.
#[inline]
pub(crate) fn dispatch<K: Kernel>(kernel: K) -> K::Output {
    pulp::Arch::new().dispatch(Dispatch(kernel))
}

/// Lanes of the fixed-order reductions.
const LANES: usize = 8;

/// `sum_t a_t²` with [`LANES`] partial sums combined pairwise (a fixed order).
#[inline(always)]
pub(crate) fn sum_sq<F: Float>(a: &[F]) -> F {
    let mut acc = [F::zero(); LANES];
    let mut chunks = a.chunks_exact(LANES);
    for c in &mut chunks {
        for (s, &v) in acc.iter_mut().zip(c) {
            *s += v * v;
        }
    }
    for (s, &v) in acc.iter_mut().zip(chunks.remainder()) {
        *s += v * v;
    }
    combine(acc)
}

/// `sum_t (a_t - b_t)²` in f64 with [`LANES`] partial sums.
#[inline(always)]
pub(crate) fn dist_sq_f64<F: Float>(a: &[F], b: &[F]) -> f64 {
    let mut acc = [0.0f64; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for ((s, &u), &v) in acc.iter_mut().zip(x).zip(y) {
            let t = (u - v).as_f64();
            *s += t * t;
        }
    }
    for ((s, &u), &v) in acc.iter_mut().zip(ca.remainder()).zip(cb.remainder()) {
        let t = (u - v).as_f64();
        *s += t * t;
    }
    combine(acc)
}

#[inline(always)]
fn combine<T: Copy + std::ops::Add<Output = T>>(a: [T; LANES]) -> T {
    ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]))
}

/// Index and value of the first minimum of a non-empty slice without NaN.
#[inline(always)]
pub(crate) fn argmin<F: Float>(a: &[F]) -> (usize, F) {
    let mut lanes = [F::infinity(); LANES];
    let mut chunks = a.chunks_exact(LANES);
    for c in &mut chunks {
        for (m, &v) in lanes.iter_mut().zip(c) {
            *m = if v < *m { v } else { *m };
        }
    }
    let mut min = lanes[0];
    for &v in lanes[1..].iter().chain(chunks.remainder()) {
        if v < min {
            min = v;
        }
    }
    let j = a.iter().position(|&v| v == min).unwrap_or(0);
    (j, min)
}

/// `dst += alpha * src`, element-wise, in f64.
#[inline(always)]
pub(crate) fn axpy_f64<F: Float>(dst: &mut [f64], alpha: f64, src: &[F]) {
    for (a, &v) in dst.iter_mut().zip(src) {
        *a += alpha * v.as_f64();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct SumSq<'a>(&'a [f64]);
    impl Kernel for SumSq<'_> {
        type Output = f64;
        #[inline(always)]
        fn run(self) -> f64 {
            sum_sq(self.0)
        }
    }

    #[test]
    fn reductions_match_the_naive_sums() {
        let a: Vec<f64> = (0..19).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..19).map(|i| (i as f64 * 0.11).cos()).collect();
        let naive_sq: f64 = a.iter().map(|v| v * v).sum();
        let naive_d: f64 = a.iter().zip(&b).map(|(u, v)| (u - v) * (u - v)).sum();
        assert_eq!(dispatch(SumSq(&a)), sum_sq(&a));
        assert!((sum_sq(&a) - naive_sq).abs() < 1e-14);
        assert!((dist_sq_f64(&a, &b) - naive_d).abs() < 1e-14);
        assert_eq!(sum_sq::<f64>(&[]), 0.0);
    }

    #[test]
    fn argmin_takes_the_first_minimum() {
        assert_eq!(argmin(&[3.0, 1.0, 2.0, 1.0]), (1, 1.0));
        let mut v = vec![5.0f32; 21];
        v[20] = 0.5;
        v[13] = 0.5;
        assert_eq!(argmin(&v), (13, 0.5));
        assert_eq!(argmin(&[2.0]), (0, 2.0));
    }

    #[test]
    fn axpy_accumulates() {
        let mut d = vec![1.0, 2.0, 3.0];
        axpy_f64(&mut d, 2.0, &[1.0f32, 0.5, -1.0]);
        assert_eq!(d, vec![3.0, 3.0, 1.0]);
    }
}
