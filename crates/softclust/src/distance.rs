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

use crate::data::{check_matrix, BLOCK_ROWS, SEGMENT_ROWS};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::matmul::matmul_nt;
use crate::simd;
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2};
use rayon::prelude::*;
use std::ops::Range;

/// Centres prepared for repeated distance evaluations: shifted by `mu`, with squared norms.
#[derive(Debug, Clone)]
pub(crate) struct DistanceKernel<F: Float> {
    mu: Vec<F>,
    /// Shifted centres, k x d row-major.
    centers: Vec<F>,
    norms: Vec<F>,
    k: usize,
    d: usize,
}

/// Per-segment scratch: the centred block, its row norms and its product with the centres.
pub(crate) struct Scratch<F> {
    xc: Vec<F>,
    xn: Vec<F>,
    g: Vec<F>,
}

/// One prepared row block: rows `start..start + rows` of the data, centred (`xc`, row-major
/// `rows x d`), their squared norms `xn`, and `g` (row-major `rows x k`) as left by the step.
pub(crate) struct Block<'a, F> {
    pub start: usize,
    pub rows: usize,
    pub xc: &'a [F],
    pub xn: &'a [F],
    pub g: &'a mut [F],
}

impl<F: Float> DistanceKernel<F> {
    /// Prepares `centers` (k x d) for distance evaluations on data centred at `mu`.
    pub(crate) fn new(centers: ArrayView2<'_, F>, mu: ArrayView1<'_, F>) -> Self {
        let (k, d) = centers.dim();
        let mu: Vec<F> = mu.iter().copied().collect();
        let mut shifted = Vec::with_capacity(k * d);
        for row in centers.rows() {
            shifted.extend(row.iter().zip(&mu).map(|(&c, &m)| c - m));
        }
        let norms = shifted.chunks_exact(d.max(1)).map(simd::sum_sq).collect();
        DistanceKernel {
            mu,
            centers: shifted,
            norms,
            k,
            d,
        }
    }

    pub(crate) fn n_centers(&self) -> usize {
        self.k
    }

    /// The shifted centres `c_j - mu`, k x d row-major.
    pub(crate) fn shifted_centers(&self) -> &[F] {
        &self.centers
    }

    /// Squared norms `|c_j - mu|²` of the shifted centres.
    pub(crate) fn center_norms(&self) -> &[F] {
        &self.norms
    }

    pub(crate) fn scratch(&self, d: usize) -> Scratch<F> {
        Scratch {
            xc: vec![F::zero(); BLOCK_ROWS * d],
            xn: vec![F::zero(); BLOCK_ROWS],
            g: vec![F::zero(); BLOCK_ROWS * self.k],
        }
    }

    /// Runs `f` over `rows` of `x` in blocks of [`BLOCK_ROWS`], with `g` holding the inner
    /// products `(x_i - mu)·(c_j - mu)`. `f` should hand its row loop to [`simd::dispatch`].
    pub(crate) fn for_each_product_block(
        &self,
        x: ArrayView2<'_, F>,
        rows: Range<usize>,
        scratch: &mut Scratch<F>,
        f: impl FnMut(Block<'_, F>),
    ) {
        self.for_each_block_with(x, rows, scratch, true, f);
    }

    /// [`Self::for_each_product_block`] without the product: `g` is left as it was, for
    /// callers that take the product in another layout.
    pub(crate) fn for_each_centred_block(
        &self,
        x: ArrayView2<'_, F>,
        rows: Range<usize>,
        scratch: &mut Scratch<F>,
        f: impl FnMut(Block<'_, F>),
    ) {
        self.for_each_block_with(x, rows, scratch, false, f);
    }

    fn for_each_block_with(
        &self,
        x: ArrayView2<'_, F>,
        rows: Range<usize>,
        scratch: &mut Scratch<F>,
        product: bool,
        mut f: impl FnMut(Block<'_, F>),
    ) {
        let d = self.d;
        let mut start = rows.start;
        while start < rows.end {
            let end = (start + BLOCK_ROWS).min(rows.end);
            let b = end - start;
            let xc = &mut scratch.xc[..b * d];
            let xn = &mut scratch.xn[..b];
            match x.as_slice() {
                Some(all) => simd::dispatch(CentreRows {
                    src: &all[start * d..end * d],
                    mu: &self.mu,
                    xc,
                    xn,
                }),
                None => {
                    for (dst, src) in xc
                        .chunks_exact_mut(d)
                        .zip(x.slice(s![start..end, ..]).rows())
                    {
                        for ((o, &v), &m) in dst.iter_mut().zip(src.iter()).zip(&self.mu) {
                            *o = v - m;
                        }
                    }
                    for (n, r) in xn.iter_mut().zip(xc.chunks_exact(d)) {
                        *n = simd::sum_sq(r);
                    }
                }
            }
            let g = &mut scratch.g[..b * self.k];
            if product {
                matmul_nt(b, self.k, d, F::one(), xc, &self.centers, false, g);
            }
            f(Block {
                start,
                rows: b,
                xc: &scratch.xc[..b * d],
                xn: &scratch.xn[..b],
                g,
            });
            start = end;
        }
    }

    /// One row of [`Finish`]: the inner products `g_j = (x - mu)·(c_j - mu)` of the centred row
    /// `xi` (squared norm `n`) become `max(n - 2 g_j + |c_j - mu|², 0)`; with `refine`, the
    /// entries small enough for cancellation to matter are recomputed by explicit subtraction.
    /// Inline into a [`simd::Kernel`].
    #[inline(always)]
    pub(crate) fn finish_row(&self, row: &mut [F], n: F, xi: &[F], refine: bool) {
        let two = F::one() + F::one();
        for (v, &cn) in row.iter_mut().zip(&self.norms) {
            let t = n - two * *v + cn;
            *v = if t > F::zero() { t } else { F::zero() };
        }
        if refine {
            let thresh = F::of(64.0) * F::epsilon();
            // A branch-free scan first (it vectorises); the fix-up is rare.
            let mut any = false;
            for (v, &cn) in row.iter().zip(&self.norms) {
                any |= *v <= thresh * (n + cn);
            }
            if !any {
                return;
            }
            for ((v, c), &cn) in row
                .iter_mut()
                .zip(self.centers.chunks_exact(self.d))
                .zip(&self.norms)
            {
                if *v <= thresh * (n + cn) {
                    *v = F::of(simd::dist_sq_f64(xi, c));
                }
            }
        }
    }

    /// Turns a block's inner products into clamped squared distances in place, with small
    /// entries recomputed exactly (see [`Self::squared_distances`]).
    pub(crate) fn finish_exact(&self, xc: &[F], xn: &[F], g: &mut [F]) {
        simd::dispatch(Finish {
            kernel: self,
            xc,
            xn,
            g,
            refine: true,
        });
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
        let (k, d) = (self.k, self.d);
        self.for_each_product_block(x, rows, scratch, |blk| {
            simd::dispatch(Finish {
                kernel: self,
                xc: blk.xc,
                xn: blk.xn,
                g: &mut *blk.g,
                refine: false,
            });
            let xc = ArrayView2::from_shape((blk.rows, d), blk.xc).expect("block shape");
            let d2 = ArrayViewMut2::from_shape((blk.rows, k), blk.g).expect("block shape");
            f(blk.start, xc, d2);
        });
    }

    /// Full `n x k` matrix of squared distances, with small entries recomputed exactly. Written
    /// in place, segment by segment, into one output allocation.
    pub(crate) fn squared_distances(&self, x: ArrayView2<'_, F>) -> Array2<F> {
        let k = self.k;
        let d = x.ncols();
        let mut out = Array2::<F>::zeros((x.nrows(), k));
        let Some(flat) = out.as_slice_mut() else {
            unreachable!("a new array is contiguous")
        };
        flat.par_chunks_mut(SEGMENT_ROWS * k.max(1))
            .enumerate()
            .for_each_init(
                || self.scratch(d),
                |scratch, (s, seg)| {
                    let first = s * SEGMENT_ROWS;
                    self.for_each_product_block(
                        x,
                        first..first + seg.len() / k.max(1),
                        scratch,
                        |blk| {
                            self.finish_exact(blk.xc, blk.xn, blk.g);
                            let o = (blk.start - first) * k;
                            seg[o..o + blk.rows * k].copy_from_slice(blk.g);
                        },
                    );
                },
            );
        out
    }
}

/// Centres a block of contiguous rows and takes their squared norms.
struct CentreRows<'a, F> {
    src: &'a [F],
    mu: &'a [F],
    xc: &'a mut [F],
    xn: &'a mut [F],
}

impl<F: Float> simd::Kernel for CentreRows<'_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let d = self.mu.len();
        for ((dst, src), n) in self
            .xc
            .chunks_exact_mut(d)
            .zip(self.src.chunks_exact(d))
            .zip(self.xn.iter_mut())
        {
            for ((o, &v), &m) in dst.iter_mut().zip(src).zip(self.mu) {
                *o = v - m;
            }
            *n = simd::sum_sq(dst);
        }
    }
}

/// Turns a block's inner products into clamped squared distances,
/// `d²_ij = max(|x_i - mu|² - 2 g_ij + |c_j - mu|², 0)`, in place; with `refine`, recomputes
/// by explicit subtraction the entries where `|x|² + |c|²` dwarfs the result (cancellation).
struct Finish<'a, F: Float> {
    kernel: &'a DistanceKernel<F>,
    xc: &'a [F],
    xn: &'a [F],
    g: &'a mut [F],
    refine: bool,
}

impl<F: Float> simd::Kernel for Finish<'_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let kern = self.kernel;
        let (k, d) = (kern.k, kern.d);
        for ((row, &n), xi) in self
            .g
            .chunks_exact_mut(k)
            .zip(self.xn)
            .zip(self.xc.chunks_exact(d))
        {
            kern.finish_row(row, n, xi, self.refine);
        }
    }
}

/// `|a - b|²` by explicit subtraction, accumulated in f64: [`simd::dist_sq_f64`] on the two
/// rows (copied first only when a view is not contiguous).
pub(crate) fn exact_sq<F: Float>(a: ArrayView1<'_, F>, b: ArrayView1<'_, F>) -> F {
    let s = match (a.as_slice(), b.as_slice()) {
        (Some(a), Some(b)) => simd::dist_sq_f64(a, b),
        _ => simd::dist_sq_f64(&a.to_vec(), &b.to_vec()),
    };
    F::of(s)
}

/// Unweighted column means, accumulated in f64 in a thread-count-independent order.
pub(crate) fn column_means<F: Float>(x: ArrayView2<'_, F>) -> Array1<F> {
    let n = x.nrows() as f64;
    crate::data::column_sums(x, &vec![0.0; x.ncols()], false)
        .into_iter()
        .map(|t| F::of(t / n))
        .collect()
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
