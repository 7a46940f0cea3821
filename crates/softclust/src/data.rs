//! Input validation and the deterministic parallel row loop shared by every kernel.
//!
//! Data are dense `n x d` matrices viewed through [`ndarray::ArrayView2`]; nothing is copied to
//! validate them. Work over rows is split into fixed-size segments whose boundaries depend only on
//! `n`, never on the number of threads, and partial results are combined in segment order: the
//! same inputs give bit-identical results on 1, 2 or 64 threads.

use crate::error::{Error, Result};
use crate::float::Float;
use ndarray::{ArrayView1, ArrayView2};
use rayon::prelude::*;
use std::ops::Range;

/// Rows per parallel segment. Fixed so that reductions do not depend on the thread count.
pub(crate) const SEGMENT_ROWS: usize = 4096;

/// Rows per GEMM block inside a segment (the block's scratch fits in L2 for moderate d, k).
pub(crate) const BLOCK_ROWS: usize = 1024;

/// Checks that a data matrix has rows and columns and only finite values.
///
/// Errors name the first offending row and column (0-based).
pub fn check_matrix<F: Float>(x: ArrayView2<'_, F>, what: &'static str) -> Result<()> {
    if x.nrows() == 0 {
        return Err(Error::EmptyInput { what });
    }
    if x.ncols() == 0 {
        return Err(Error::NoColumns { what });
    }
    let bad = map_segments(x.nrows(), |rows| {
        for i in rows {
            for (j, v) in x.row(i).iter().enumerate() {
                if !v.is_finite() {
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
        Some((row, column, value)) => Err(Error::NonFinite {
            what,
            row,
            column,
            value,
        }),
        None => Ok(()),
    }
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
