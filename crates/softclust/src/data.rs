//! Input validation and the deterministic parallel row loop shared by every kernel.
//!
//! Data are dense `n x d` matrices viewed through [`ndarray::ArrayView2`]; nothing is copied to
//! validate them. Work over rows is split into fixed-size segments whose boundaries depend only on
//! `n`, never on the number of threads, and partial results are combined in segment order: the
//! same inputs give bit-identical results on 1, 2 or 64 threads.

use crate::error::{Error, Result};
use crate::float::Float;
use crate::matmul::matmul;
use crate::simd;
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;
use std::ops::Range;

/// Rows per parallel segment. Fixed so that reductions do not depend on the thread count.
pub(crate) const SEGMENT_ROWS: usize = 4096;

/// Rows per GEMM block inside a segment (the block's scratch fits in L2 for moderate d, k).
pub(crate) const BLOCK_ROWS: usize = 1024;

/// The largest magnitude accepted in data, centres and model parameters:
/// `min(1e100, sqrt(F::MAX) / 1e4)` (1e100 for f64, about 1.8e15 for f32), so that squared
/// distances summed over features and weighted never overflow.
pub fn max_magnitude<F: Float>() -> f64 {
    (F::max_value().as_f64().sqrt() * 1e-4).min(1e100)
}

/// The most restarts (or consensus runs) one fit accepts: a bound on the work a parameter can
/// ask for, so that a mistyped count is an error rather than a fit that never ends.
pub const MAX_RESTARTS: usize = 100_000;

/// Checks a count of restarts or runs: from 1 to [`MAX_RESTARTS`].
pub(crate) fn check_restarts(name: &'static str, n: usize) -> Result<()> {
    if n == 0 || n > MAX_RESTARTS {
        return Err(crate::error::invalid(
            name,
            n,
            "an integer from 1 to 100000",
        ));
    }
    Ok(())
}

/// The largest total of sample weights accepted (1e100): with values below
/// [`max_magnitude`], weighted sums of squared distances stay finite.
pub const MAX_TOTAL_WEIGHT: f64 = 1e100;

/// Checks that a data matrix has rows and columns and only finite values of magnitude at most
/// [`max_magnitude`].
///
/// Errors name the first offending row and column (0-based).
pub fn check_matrix<F: Float>(x: ArrayView2<'_, F>, what: &'static str) -> Result<()> {
    check_values(x, what, true)
}

/// Checks that a matrix has rows and columns and only finite values, of any magnitude (for
/// distance matrices, whose entries are not squared again).
pub fn check_finite_matrix<F: Float>(x: ArrayView2<'_, F>, what: &'static str) -> Result<()> {
    check_values(x, what, false)
}

fn check_values<F: Float>(x: ArrayView2<'_, F>, what: &'static str, bounded: bool) -> Result<()> {
    counters::count(&counters::MATRIX_CHECKS);
    if x.nrows() == 0 {
        return Err(Error::EmptyInput { what });
    }
    if x.ncols() == 0 {
        return Err(Error::NoColumns { what });
    }
    let limit = if bounded {
        max_magnitude::<F>()
    } else {
        f64::INFINITY
    };
    // `(v s)² * 0` is NaN exactly when v is not finite or |v| s overflows when squared, that is
    // (up to rounding) when |v| > limit. Without a bound, s = 0.5 / sqrt(MAX) keeps the square
    // of every finite value finite, so only non-finite values fail.
    let root = F::max_value().as_f64().sqrt();
    let scale = F::of(if bounded { root / limit } else { 0.5 / root });
    let bad = map_segments(x.nrows(), |rows| {
        // Fast path: one vectorised sum over the segment says whether there is anything to
        // look for (values within rounding of the limit pass it).
        if let Some(all) = x.as_slice() {
            let d = x.ncols();
            let seg = &all[rows.start * d..rows.end * d];
            if simd::dispatch(AllFinite { x: seg, scale }) {
                return None;
            }
        }
        for i in rows {
            for (j, v) in x.row(i).iter().enumerate() {
                if !(v.is_finite() && v.as_f64().abs() <= limit) {
                    return Some((i, j, v.as_f64()));
                }
            }
        }
        None
    })
    .into_iter()
    .flatten()
    .next();
    match bad {
        Some((row, column, value)) if value.is_finite() => Err(Error::TooLarge {
            what,
            row,
            column,
            value,
            limit,
        }),
        Some((row, column, value)) => Err(Error::NonFinite {
            what,
            row,
            column,
            value,
        }),
        None => Ok(()),
    }
}

/// Checks new data for a fitted model: finite values (one scan) and `n_features` columns.
pub fn check_new_data<F: Float>(x: ArrayView2<'_, F>, n_features: usize) -> Result<()> {
    check_matrix(x, "data")?;
    if x.ncols() != n_features {
        return Err(Error::ShapeMismatch {
            what: "data",
            expected: format!("{n_features} columns, as in training"),
            found: format!("{} columns", x.ncols()),
        });
    }
    Ok(())
}

/// Per-thread scratch buffers kept across the passes of one fit: a worker leases one (or makes
/// one) and the lease returns it when dropped. Buffers of a few hundred kilobytes would otherwise
/// be mapped, page-faulted and unmapped again on every pass.
pub(crate) struct ScratchPool<T> {
    free: std::sync::Mutex<Vec<T>>,
}

impl<T> ScratchPool<T> {
    pub(crate) fn new() -> Self {
        ScratchPool {
            free: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// A buffer from the pool, or `make()` when none is free.
    pub(crate) fn lease(&self, make: impl FnOnce() -> T) -> Lease<'_, T> {
        let got = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop();
        Lease {
            item: Some(got.unwrap_or_else(make)),
            pool: self,
        }
    }
}

/// A leased scratch buffer; goes back to its pool when dropped.
pub(crate) struct Lease<'a, T> {
    item: Option<T>,
    pool: &'a ScratchPool<T>,
}

impl<T> std::ops::Deref for Lease<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.item
            .as_ref()
            .expect("a lease holds its item until dropped")
    }
}

impl<T> std::ops::DerefMut for Lease<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.item
            .as_mut()
            .expect("a lease holds its item until dropped")
    }
}

impl<T> Drop for Lease<'_, T> {
    fn drop(&mut self) {
        if let Some(item) = self.item.take() {
            self.pool
                .free
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(item);
        }
    }
}

/// Whether every value of a slice is finite and, scaled by `scale`, has a finite square.
struct AllFinite<'a, F> {
    x: &'a [F],
    scale: F,
}

impl<F: Float> simd::Kernel for AllFinite<'_, F> {
    type Output = bool;
    #[inline(always)]
    fn run(self) -> bool {
        let s = self.scale;
        let mut acc = [F::zero(); 8];
        let mut chunks = self.x.chunks_exact(8);
        for c in &mut chunks {
            for (a, &v) in acc.iter_mut().zip(c) {
                let t = v * s;
                *a += t * t * F::zero();
            }
        }
        for (a, &v) in acc.iter_mut().zip(chunks.remainder()) {
            let t = v * s;
            *a += t * t * F::zero();
        }
        acc.iter().all(|a| *a == F::zero())
    }
}

/// Per-column sums of `f(x_ij)` in f64 over all rows, in a thread-count-independent order
/// (segments combined in order; rows in order within a segment).
pub(crate) fn column_sums<F: Float>(x: ArrayView2<'_, F>, shift: &[f64], square: bool) -> Vec<f64> {
    let d = x.ncols();
    let parts = map_segments(x.nrows(), |rows| {
        let mut acc = vec![0.0f64; d];
        match x.as_slice() {
            Some(all) => simd::dispatch(ColumnSums {
                x: &all[rows.start * d..rows.end * d],
                shift,
                square,
                acc: &mut acc,
            }),
            None => {
                for i in rows {
                    for ((a, &v), &m) in acc.iter_mut().zip(x.row(i).iter()).zip(shift) {
                        let t = v.as_f64() - m;
                        *a += if square { t * t } else { t };
                    }
                }
            }
        }
        acc
    });
    let mut total = vec![0.0f64; d];
    for p in parts {
        for (t, v) in total.iter_mut().zip(p) {
            *t += v;
        }
    }
    total
}

/// `acc_t += (x_it - shift_t)` or its square, over contiguous rows.
struct ColumnSums<'a, F> {
    x: &'a [F],
    shift: &'a [f64],
    square: bool,
    acc: &'a mut [f64],
}

impl<F: Float> simd::Kernel for ColumnSums<'_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let d = self.acc.len();
        for row in self.x.chunks_exact(d.max(1)) {
            if self.square {
                for ((a, &v), &m) in self.acc.iter_mut().zip(row).zip(self.shift) {
                    let t = v.as_f64() - m;
                    *a += t * t;
                }
            } else {
                for ((a, &v), &m) in self.acc.iter_mut().zip(row).zip(self.shift) {
                    *a += v.as_f64() - m;
                }
            }
        }
    }
}

/// Mean over features of the population variance about `mu`,
/// `mean_j (1/n) sum_i (x_ij - mu_j)²`.
pub(crate) fn mean_variance<F: Float>(x: ArrayView2<'_, F>, mu: &[f64]) -> f64 {
    let ss = column_sums(x, mu, true);
    ss.iter().sum::<f64>() / (x.nrows() as f64 * x.ncols() as f64)
}

/// Checks sample weights: one per row, finite, non-negative, not all zero.
pub fn check_weights<F: Float>(w: ArrayView1<'_, F>, n_samples: usize) -> Result<()> {
    if w.len() != n_samples {
        return Err(Error::ShapeMismatch {
            what: "sample weights",
            expected: format!("one weight per row ({n_samples})"),
            found: format!("{} weights", w.len()),
        });
    }
    let mut total = 0.0;
    for (row, &v) in w.iter().enumerate() {
        if !v.is_finite() || v < F::zero() {
            return Err(Error::InvalidWeight {
                row,
                value: v.as_f64(),
            });
        }
        total += v.as_f64();
    }
    if total <= 0.0 {
        return Err(Error::ZeroTotalWeight);
    }
    if total.is_nan() || total > MAX_TOTAL_WEIGHT {
        return Err(Error::WeightsTooLarge {
            total,
            limit: MAX_TOTAL_WEIGHT,
        });
    }
    Ok(())
}

/// Sample weights as f64, or ones when there are none (callers validate them first).
pub(crate) fn weights_or_ones<F: Float>(w: Option<ArrayView1<'_, F>>, n: usize) -> Vec<f64> {
    match w {
        Some(w) => w.iter().map(|v| v.as_f64()).collect(),
        None => vec![1.0; n],
    }
}

/// Splits `0..n` into [`SEGMENT_ROWS`]-row segments, runs `f` on each in parallel and returns
/// the results in segment order.
pub(crate) fn map_segments<T: Send>(n: usize, f: impl Fn(Range<usize>) -> T + Sync) -> Vec<T> {
    let n_seg = n.div_ceil(SEGMENT_ROWS).max(1);
    (0..n_seg)
        .into_par_iter()
        .map(|s| f(s * SEGMENT_ROWS..((s + 1) * SEGMENT_ROWS).min(n)))
        .collect()
}

/// Sum of `f(i)` over `0..n`, in f64, with a thread-count-independent order.
pub(crate) fn par_sum(n: usize, f: impl Fn(usize) -> f64 + Sync) -> f64 {
    map_segments(n, |rows| rows.map(&f).sum::<f64>())
        .into_iter()
        .sum()
}

/// Copies rows `start..end` of `x` into `buf` as f64.
pub(crate) fn load_block<F: Float>(
    x: ArrayView2<'_, F>,
    start: usize,
    end: usize,
    buf: &mut Array2<f64>,
) {
    let mut dst = buf.slice_mut(s![..end - start, ..]);
    dst.zip_mut_with(&x.slice(s![start..end, ..]), |a, &b| *a = b.as_f64());
}

/// Membership-weighted sums `n_k = sum_i w_i r_ik` and `S_k = sum_i w_i r_ik x_i` (k x d) for
/// any `n x k` weight matrix `r` (responsibilities, fuzzy memberships), as row-block GEMMs in a
/// thread-count-independent order.
pub(crate) fn weighted_sums<F: Float>(
    x: ArrayView2<'_, F>,
    resp: ArrayView2<'_, f64>,
    w: &[f64],
) -> (Array1<f64>, Array2<f64>) {
    let (n, d) = x.dim();
    let k = resp.ncols();
    let parts = map_segments(n, |rows| {
        let mut nk = Array1::<f64>::zeros(k);
        let mut sums = Array2::<f64>::zeros((k, d));
        let mut xb = Array2::<f64>::zeros((BLOCK_ROWS, d));
        let mut start = rows.start;
        while start < rows.end {
            let end = (start + BLOCK_ROWS).min(rows.end);
            load_block(x, start, end, &mut xb);
            let b = end - start;
            let mut rw = resp.slice(s![start..end, ..]).to_owned();
            for (i, mut row) in rw.rows_mut().into_iter().enumerate() {
                row *= w[start + i];
            }
            nk += &rw.sum_axis(Axis(0));
            matmul(
                1.0,
                &rw.t(),
                &xb.slice(s![..b, ..]),
                1.0,
                &mut sums.view_mut(),
            );
            start = end;
        }
        (nk, sums)
    });
    let mut nk = Array1::<f64>::zeros(k);
    let mut sums = Array2::<f64>::zeros((k, d));
    for (a, b) in parts {
        nk += &a;
        sums += &b;
    }
    (nk, sums)
}

/// Process-wide counts of the expensive passes, for tests that show a matrix is validated once
/// and a model scored once (`tests/counts.rs`). Relaxed atomic increments: free next to a pass
/// over the data.
#[doc(hidden)]
pub mod counters {
    use std::sync::atomic::{AtomicUsize, Ordering};

    pub(crate) static MATRIX_CHECKS: AtomicUsize = AtomicUsize::new(0);
    pub(crate) static SCORING_PASSES: AtomicUsize = AtomicUsize::new(0);

    pub(crate) fn count(c: &AtomicUsize) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Calls of [`super::check_matrix`] (each a scan of the matrix for non-finite values).
    pub fn matrix_checks() -> usize {
        MATRIX_CHECKS.load(Ordering::Relaxed)
    }

    /// Passes that score data under a fitted mixture (E-steps outside the EM loop).
    pub fn scoring_passes() -> usize {
        SCORING_PASSES.load(Ordering::Relaxed)
    }
}
