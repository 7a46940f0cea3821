//! Squared Euclidean distances in GEMM form.
//!
//! For a row block `X_b` and centres `C`, both shifted by the same vector `mu` (the data mean),
//!
//! ```text
//! d²(x_i, c_j) = |x_i - mu|² - 2 (x_i - mu)·(c_j - mu) + |c_j - mu|²
//! ```
//!
//! where the middle term for the whole block is one matrix product `X_b C^T` (ndarray's
//! `general_mat_mul`, run single-threaded inside each parallel row segment). Centring first keeps
//! the three terms small, so the subtraction loses little; results are clamped at zero, and
//! [`squared_distances`] recomputes by explicit subtraction any entry small enough for
//! cancellation to matter, so a point lying on a centre gets a distance of exactly 0.

use crate::data::{check_matrix, map_segments, BLOCK_ROWS, SEGMENT_ROWS};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::matmul::matmul;
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2, Axis, Zip};
use rayon::prelude::*;
use std::ops::Range;

/// Centres prepared for repeated distance evaluations: shifted by `mu`, with squared norms.
#[derive(Debug, Clone)]
pub(crate) struct DistanceKernel<F: Float> {
    mu: Array1<F>,
    centers: Array2<F>,
    norms: Array1<F>,
}

/// Per-segment scratch: the centred block and its distance block.
pub(crate) struct Scratch<F> {
    xc: Array2<F>,
    d2: Array2<F>,
    xn: Vec<F>,
}

impl<F: Float> DistanceKernel<F> {
    /// Prepares `centers` (k x d) for distance evaluations on data centred at `mu`.
    pub(crate) fn new(centers: ArrayView2<'_, F>, mu: ArrayView1<'_, F>) -> Self {
        let shifted = &centers - &mu.insert_axis(Axis(0));
        let norms = shifted.rows().into_iter().map(|r| r.dot(&r)).collect();
        DistanceKernel {
            mu: mu.to_owned(),
            centers: shifted,
            norms,
        }
    }

    pub(crate) fn n_centers(&self) -> usize {
        self.centers.nrows()
    }

    pub(crate) fn scratch(&self, d: usize) -> Scratch<F> {
        Scratch {
            xc: Array2::zeros((BLOCK_ROWS, d)),
            d2: Array2::zeros((BLOCK_ROWS, self.centers.nrows())),
            xn: vec![F::zero(); BLOCK_ROWS],
        }
    }

    /// Runs `f(first_row, centred_block, d2_block)` over `rows` of `x` in blocks of
    /// [`BLOCK_ROWS`]. `d2_block[(i, j)]` is the (clamped, GEMM-form) squared distance of row
    /// `first_row + i` to centre `j`.
    pub(crate) fn for_each_block(
        &self,
        x: ArrayView2<'_, F>,
        rows: Range<usize>,
        scratch: &mut Scratch<F>,
        mut f: impl FnMut(usize, ArrayView2<'_, F>, ArrayViewMut2<'_, F>),
    ) {
        let mut start = rows.start;
        while start < rows.end {
            let end = (start + BLOCK_ROWS).min(rows.end);
            let b = end - start;
            let mut xc = scratch.xc.slice_mut(s![..b, ..]);
            xc.assign(&x.slice(s![start..end, ..]));
            xc -= &self.mu;
            for (n, r) in scratch.xn.iter_mut().zip(xc.rows()) {
                *n = r.dot(&r);
            }
            let mut d2 = scratch.d2.slice_mut(s![..b, ..]);
            matmul(F::one(), &xc.view(), &self.centers.t(), F::zero(), &mut d2);
            let two = F::one() + F::one();
            let norms = self.norms.as_slice().unwrap_or(&[]);
            for (i, mut row) in d2.rows_mut().into_iter().enumerate() {
                let xn = scratch.xn[i];
                let finish = |v: &mut F, cn: F| {
                    let d = xn - two * *v + cn;
                    *v = if d > F::zero() { d } else { F::zero() };
                };
                match row.as_slice_mut() {
                    Some(r) if r.len() == norms.len() => {
                        for (v, &cn) in r.iter_mut().zip(norms) {
                            finish(v, cn);
                        }
                    }
                    _ => {
                        for (v, &cn) in row.iter_mut().zip(self.norms.iter()) {
                            finish(v, cn);
                        }
                    }
                }
            }
            f(start, xc.view(), d2);
            start = end;
        }
    }

    /// Full `n x k` matrix of squared distances, with small entries recomputed exactly. Written
    /// in place, segment by segment, into one output allocation.
    pub(crate) fn squared_distances(&self, x: ArrayView2<'_, F>) -> Array2<F> {
        let k = self.n_centers();
        let d = x.ncols();
        let mut out = Array2::<F>::zeros((x.nrows(), k));
        out.axis_chunks_iter_mut(Axis(0), SEGMENT_ROWS)
            .into_par_iter()
            .enumerate()
            .for_each(|(s, mut seg)| {
                let first = s * SEGMENT_ROWS;
                let mut scratch = self.scratch(d);
                self.for_each_block(
                    x,
                    first..first + seg.nrows(),
                    &mut scratch,
                    |start, xc, d2| {
                        let mut dst =
                            seg.slice_mut(s![start - first..start - first + xc.nrows(), ..]);
                        dst.assign(&d2);
                        self.refine_small(xc, dst);
                    },
                );
            });
        out
    }

    /// Recomputes by explicit subtraction entries where `|x|² + |c|²` dwarfs the result.
    fn refine_small(&self, xc: ArrayView2<'_, F>, mut d2: ArrayViewMut2<'_, F>) {
        let thresh = F::of(64.0) * F::epsilon();
        for (i, mut row) in d2.rows_mut().into_iter().enumerate() {
            let xi = xc.row(i);
            let xn = xi.dot(&xi);
            for (j, v) in row.iter_mut().enumerate() {
                if *v <= thresh * (xn + self.norms[j]) {
                    *v = exact_sq(xi, self.centers.row(j));
                }
            }
        }
    }
}

/// `|a - b|²` by explicit subtraction, accumulated in f64.
pub(crate) fn exact_sq<F: Float>(a: ArrayView1<'_, F>, b: ArrayView1<'_, F>) -> F {
    let mut s = 0.0;
    if let (Some(a), Some(b)) = (a.as_slice(), b.as_slice()) {
        for (&u, &v) in a.iter().zip(b) {
            let t = (u - v).as_f64();
            s += t * t;
        }
    } else {
        Zip::from(a).and(b).for_each(|&u, &v| {
            let t = (u - v).as_f64();
            s += t * t;
        });
    }
    F::of(s)
}

/// Unweighted column means, accumulated in f64 in a thread-count-independent order.
pub(crate) fn column_means<F: Float>(x: ArrayView2<'_, F>) -> Array1<F> {
    let d = x.ncols();
    let parts = map_segments(x.nrows(), |rows| {
        let mut acc = vec![0.0f64; d];
        for i in rows {
            for (a, v) in acc.iter_mut().zip(x.row(i)) {
                *a += v.as_f64();
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
    let n = x.nrows() as f64;
    total.into_iter().map(|t| F::of(t / n)).collect()
}

/// Squared Euclidean distances from every row of `x` (n x d) to every row of `centers` (k x d).
///
/// Computed in GEMM form on data centred at the column means of `x`; entries small enough to
/// suffer from cancellation are recomputed exactly, so coincident points give exactly 0.
pub fn squared_distances<F: Float>(
    x: ArrayView2<'_, F>,
    centers: ArrayView2<'_, F>,
) -> Result<Array2<F>> {
    check_matrix(x, "data")?;
    check_matrix(centers, "centres")?;
    if centers.ncols() != x.ncols() {
        return Err(Error::ShapeMismatch {
            what: "centres",
            expected: format!("{} columns, as the data", x.ncols()),
            found: format!("{} columns", centers.ncols()),
        });
    }
    let mu = column_means(x);
    Ok(DistanceKernel::new(centers, mu.view()).squared_distances(x))
}

/// Euclidean distances: the square root of [`squared_distances`].
pub fn euclidean_distances<F: Float>(
    x: ArrayView2<'_, F>,
    centers: ArrayView2<'_, F>,
) -> Result<Array2<F>> {
    let mut d = squared_distances(x, centers)?;
    d.mapv_inplace(F::sqrt);
    Ok(d)
}
