//! Sparse data in compressed sparse row (CSR) form, and the kernels k-means needs on it.
//!
//! Distances use the expansion `|x - c|² = |x|² - 2 x·c + |c|²` (clamped at 0), with `|x|²`
//! precomputed once per row and `x·c` a sparse-dense product over the row's non-zeros against
//! the transposed centres, so one pass costs `O(nnz k)`. Data are not centred (that would fill
//! them in); for non-negative TF-IDF-like data the cancellation of the expansion is mild, as in
//! scikit-learn's sparse k-means, which uses the same form.

use crate::data::{map_segments, max_magnitude};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::simd;
use ndarray::{Array2, ArrayView2};

/// A borrowed CSR matrix in canonical form: row `i` holds the values
/// `data[indptr[i]..indptr[i+1]]` at the strictly increasing columns
/// `indices[indptr[i]..indptr[i+1]]` (scipy's `sum_duplicates()` gives this form). Column
/// indices are `u32` (scipy's int32 indices are used without a copy), so at most 2^32 columns.
#[derive(Debug, Clone, Copy)]
pub struct Csr<'a, F> {
    n_rows: usize,
    n_cols: usize,
    indptr: &'a [usize],
    indices: &'a [u32],
    data: &'a [F],
}

impl<'a, F: Float> Csr<'a, F> {
    /// Checks the structure (indptr of length `n_rows + 1`, starting at 0, non-decreasing,
    /// ending at the number of stored values; column indices strictly increasing within a row
    /// and below `n_cols`) and the values
    /// (finite and within [`max_magnitude`]); errors name the first bad row.
    pub fn new(
        n_rows: usize,
        n_cols: usize,
        indptr: &'a [usize],
        indices: &'a [u32],
        data: &'a [F],
    ) -> Result<Self> {
        let bad = |reason: String| Error::InvalidModel { reason };
        if n_rows == 0 || n_cols == 0 {
            return Err(Error::EmptyInput {
                what: "sparse data",
            });
        }
        if n_cols > u32::MAX as usize + 1 {
            return Err(bad(format!(
                "sparse data: {n_cols} columns; softclust's sparse kernels take at most 2^32"
            )));
        }
        if indptr.len() != n_rows + 1 || indptr[0] != 0 {
            return Err(bad(format!(
                "sparse data: indptr has {} entries starting at {:?}; a CSR matrix of {n_rows} \
                 rows needs {} starting at 0",
                indptr.len(),
                indptr.first(),
                n_rows + 1
            )));
        }
        if indices.len() != data.len() || indptr[n_rows] != data.len() {
            return Err(bad(format!(
                "sparse data: {} column indices, {} values and indptr ending at {}; they must \
                 agree",
                indices.len(),
                data.len(),
                indptr[n_rows]
            )));
        }
        let limit = max_magnitude::<F>();
        // Rows in parallel segments; the first bad row (in row order) is reported.
        let check_row = |row: usize| -> Result<()> {
            for t in indptr[row]..indptr[row + 1] {
                let column = indices[t] as usize;
                if t > indptr[row] && indices[t] <= indices[t - 1] {
                    return Err(bad(format!(
                        "sparse data: the column indices of row {row} are not strictly \
                         increasing (unsorted or duplicated); give the canonical form (scipy: \
                         X.sum_duplicates())"
                    )));
                }
                if column >= n_cols {
                    return Err(bad(format!(
                        "sparse data: row {row} has column index {column}, beyond the \
                         {n_cols} columns"
                    )));
                }
                let v = data[t].as_f64();
                if !v.is_finite() {
                    return Err(Error::NonFinite {
                        what: "data",
                        row,
                        column,
                        value: v,
                    });
                }
                if v.abs() > limit {
                    return Err(Error::TooLarge {
                        what: "data",
                        row,
                        column,
                        value: v,
                        limit,
                    });
                }
            }
            Ok(())
        };
        // indptr must be non-decreasing before any row's range is sliced.
        if let Some(row) = (0..n_rows).find(|&r| indptr[r + 1] < indptr[r]) {
            return Err(bad(format!("sparse data: indptr decreases at row {row}")));
        }
        let first_bad = map_segments(n_rows, |rows| rows.map(check_row).find_map(|r| r.err()));
        if let Some(e) = first_bad.into_iter().flatten().next() {
            return Err(e);
        }
        Ok(Csr {
            n_rows,
            n_cols,
            indptr,
            indices,
            data,
        })
    }

    /// Number of rows.
    pub fn nrows(&self) -> usize {
        self.n_rows
    }

    /// Number of columns.
    pub fn ncols(&self) -> usize {
        self.n_cols
    }

    /// Number of stored values.
    pub fn nnz(&self) -> usize {
        self.data.len()
    }

    /// The column indices and values of row `i`.
    pub fn row(&self, i: usize) -> (&'a [u32], &'a [F]) {
        let (a, b) = (self.indptr[i], self.indptr[i + 1]);
        (&self.indices[a..b], &self.data[a..b])
    }

    /// Row `i` as a dense f64 vector.
    pub fn dense_row(&self, i: usize) -> Vec<f64> {
        let mut out = vec![0.0; self.n_cols];
        let (idx, val) = self.row(i);
        for (&j, &v) in idx.iter().zip(val) {
            let j = j as usize;
            out[j] += v.as_f64();
        }
        out
    }

    /// Rows `a..b` as the parts of a CSR matrix of their own: the indptr rebased to start at
    /// 0, and the column indices and values of those rows (give them to [`Csr::new`]).
    pub fn row_block(&self, a: usize, b: usize) -> (Vec<usize>, &'a [u32], &'a [F]) {
        let (lo, hi) = (self.indptr[a], self.indptr[b]);
        let indptr = self.indptr[a..=b].iter().map(|&p| p - lo).collect();
        (indptr, &self.indices[lo..hi], &self.data[lo..hi])
    }

    /// The given rows as a dense matrix (`rows.len() x d`).
    pub fn select_dense(&self, rows: &[usize]) -> Array2<F> {
        let mut out = Array2::<F>::zeros((rows.len(), self.n_cols));
        for (r, &i) in rows.iter().enumerate() {
            let (idx, val) = self.row(i);
            for (&t, &v) in idx.iter().zip(val) {
                let t = t as usize;
                out[[r, t]] = v;
            }
        }
        out
    }

    /// `|x_i|²` of every row.
    pub fn squared_norms(&self) -> Vec<f64> {
        map_segments(self.n_rows, |rows| {
            rows.map(|i| self.row_squared_norm(i)).collect::<Vec<_>>()
        })
        .concat()
    }

    #[inline(always)]
    pub(crate) fn row_squared_norm(&self, i: usize) -> f64 {
        let (_, val) = self.row(i);
        val.iter().map(|v| v.as_f64() * v.as_f64()).sum()
    }

    /// Weighted column means `sum_i w_i x_i / sum_i w_i` and the mean per-feature variance
    /// about them (what k-means' relative tolerance scales by), in one pass.
    pub fn weighted_mean_variance(&self, w: &[f64]) -> (Vec<f64>, f64) {
        let d = self.n_cols;
        let total: f64 = w.iter().sum();
        let mut s1 = vec![0.0; d];
        let mut s2 = vec![0.0; d];
        for (i, &wi) in w.iter().enumerate().take(self.n_rows) {
            let (idx, val) = self.row(i);
            for (&j, &v) in idx.iter().zip(val) {
                let j = j as usize;
                s1[j] += wi * v.as_f64();
            }
        }
        let mean: Vec<f64> = s1.iter().map(|s| s / total).collect();
        // Variance about the mean: zeros contribute mean², stored values (x - mean)² - mean².
        for (i, &wi) in w.iter().enumerate().take(self.n_rows) {
            let (idx, val) = self.row(i);
            for (&j, &v) in idx.iter().zip(val) {
                let j = j as usize;
                let x = v.as_f64();
                s2[j] += wi * ((x - mean[j]).powi(2) - mean[j].powi(2));
            }
        }
        let var: f64 = (0..d)
            .map(|j| (s2[j] + total * mean[j].powi(2)).max(0.0) / total)
            .sum::<f64>()
            / d as f64;
        (mean, var)
    }
}

/// The same matrix by columns (compressed sparse column form, values in f64), for products
/// `W^T X` that run in parallel over columns with no per-thread `k x d` partial sums (and so
/// give the same result for any thread count).
pub(crate) struct Csc {
    n_cols: usize,
    colptr: Vec<usize>,
    rows: Vec<usize>,
    vals: Vec<f64>,
}

impl Csc {
    pub(crate) fn from_csr<F: Float>(x: &Csr<'_, F>) -> Self {
        let d = x.ncols();
        let mut colptr = vec![0usize; d + 1];
        for &t in x.indices {
            colptr[t as usize + 1] += 1;
        }
        for t in 0..d {
            colptr[t + 1] += colptr[t];
        }
        let mut next = colptr.clone();
        let mut rows = vec![0usize; x.nnz()];
        let mut vals = vec![0.0f64; x.nnz()];
        for i in 0..x.nrows() {
            let (idx, val) = x.row(i);
            for (&t, &v) in idx.iter().zip(val) {
                let t = t as usize;
                let p = next[t];
                rows[p] = i;
                vals[p] = v.as_f64();
                next[t] += 1;
            }
        }
        Csc {
            n_cols: d,
            colptr,
            rows,
            vals,
        }
    }

    /// `sum_i weights[i, j] * x_it^power` for every cluster `j` and column `t` (`k x d`), with
    /// `weights` row-major `n x k` and `power` 1 or 2.
    pub(crate) fn weighted_column_sums(&self, weights: &[f64], k: usize, power: u8) -> Array2<f64> {
        let d = self.n_cols;
        let parts = map_segments(d, |cols| {
            let mut out = vec![0.0; cols.len() * k];
            for (o, t) in out.chunks_exact_mut(k.max(1)).zip(cols) {
                for p in self.colptr[t]..self.colptr[t + 1] {
                    let v = self.vals[p];
                    let v = if power == 2 { v * v } else { v };
                    let wi = &weights[self.rows[p] * k..(self.rows[p] + 1) * k];
                    for (a, &wv) in o.iter_mut().zip(wi) {
                        *a += wv * v;
                    }
                }
            }
            out
        });
        let dk = Array2::from_shape_vec((d, k), parts.concat()).expect("d x k sums");
        dk.t().as_standard_layout().into_owned()
    }
}

/// Centres prepared for sparse distances: transposed (`d x k`, so a row's non-zero at column
/// `t` adds `v * ct[t, ..]`) and their squared norms.
pub(crate) struct SparseCenters {
    pub(crate) k: usize,
    ct: Vec<f64>,
    norms: Vec<f64>,
}

impl SparseCenters {
    pub(crate) fn new<F: Float>(centers: ArrayView2<'_, F>) -> Self {
        let (k, d) = centers.dim();
        let mut ct = vec![0.0; d * k];
        let mut norms = vec![0.0; k];
        for j in 0..k {
            for t in 0..d {
                let c = centers[[j, t]].as_f64();
                ct[t * k + j] = c;
                norms[j] += c * c;
            }
        }
        SparseCenters { k, ct, norms }
    }

    /// Squared distances of row `i` (of squared norm `xn`) to every centre, into `out` (k).
    #[inline(always)]
    pub(crate) fn row<F: Float>(&self, x: &Csr<'_, F>, i: usize, xn: f64, out: &mut [f64]) {
        let k = self.k;
        out.fill(0.0);
        let (idx, val) = x.row(i);
        for (&t, &v) in idx.iter().zip(val) {
            let t = t as usize;
            let v = v.as_f64();
            let c = &self.ct[t * k..(t + 1) * k];
            for (o, &cj) in out.iter_mut().zip(c) {
                *o += v * cj;
            }
        }
        for (o, &cn) in out.iter_mut().zip(&self.norms) {
            *o = (xn - 2.0 * *o + cn).max(0.0);
        }
    }
}

impl SparseCenters {
    /// The squared distance of row `i` to centre `j` summed term by term:
    /// `sum_{t in row} (x_t - c_t)² + (|c|² - sum_{t in row} c_t²)`, for distances so small
    /// that the expansion in [`SparseCenters::row`] has cancelled.
    pub(crate) fn row_exact<F: Float>(&self, x: &Csr<'_, F>, i: usize, j: usize) -> f64 {
        let k = self.k;
        let (idx, val) = x.row(i);
        let (mut near, mut on) = (0.0, 0.0);
        for (&t, &v) in idx.iter().zip(val) {
            let t = t as usize;
            let c = self.ct[t * k + j];
            let e = v.as_f64() - c;
            near += e * e;
            on += c * c;
        }
        near + (self.norms[j] - on).max(0.0)
    }

    /// Squared norms of the centres.
    pub(crate) fn norms(&self) -> &[f64] {
        &self.norms
    }

    /// Squared distances of rows `first..first + out.len() / k` to every centre into `out`
    /// (row-major), with the rows' squared norms from `norms` (or computed), compiled for the
    /// best instruction set of the machine.
    pub(crate) fn rows<F: Float>(
        &self,
        x: &Csr<'_, F>,
        norms: Option<&[f64]>,
        first: usize,
        out: &mut [f64],
    ) {
        simd::dispatch(DistanceRows {
            x,
            sc: self,
            norms,
            first,
            out,
        });
    }
}

/// The loop of [`SparseCenters::rows`].
struct DistanceRows<'a, 'b, F> {
    x: &'a Csr<'b, F>,
    sc: &'a SparseCenters,
    norms: Option<&'a [f64]>,
    first: usize,
    out: &'a mut [f64],
}

impl<F: Float> simd::Kernel for DistanceRows<'_, '_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let k = self.sc.k.max(1);
        for (r, o) in self.out.chunks_exact_mut(k).enumerate() {
            let i = self.first + r;
            let xn = match self.norms {
                Some(n) => n[i],
                None => self.x.row_squared_norm(i),
            };
            self.sc.row(self.x, i, xn, o);
        }
    }
}

/// Squared Euclidean distances of every row of `x` to the `k x d` centres, `n x k`.
pub fn squared_distances<F: Float>(
    x: &Csr<'_, F>,
    centers: ArrayView2<'_, F>,
) -> Result<Array2<f64>> {
    distances_as(x, centers, |v| v)
}

/// `f(|x_i - c_j|²)` for every row and centre, `n x k`, in the output type `G` (computed in
/// f64, written once).
pub(crate) fn distances_as<F: Float, G: Copy + Send>(
    x: &Csr<'_, F>,
    centers: ArrayView2<'_, F>,
    f: impl Fn(f64) -> G + Sync,
) -> Result<Array2<G>> {
    check_width(x, centers.ncols())?;
    let sc = SparseCenters::new(centers);
    let k = sc.k;
    let parts = map_segments(x.nrows(), |rows| {
        let mut d = vec![0.0; rows.len() * k];
        sc.rows(x, None, rows.start, &mut d);
        d.into_iter().map(&f).collect::<Vec<G>>()
    });
    Ok(Array2::from_shape_vec((x.nrows(), k), parts.concat()).expect("n x k values"))
}

pub(crate) fn check_width<F: Float>(x: &Csr<'_, F>, d: usize) -> Result<()> {
    if x.ncols() != d {
        return Err(Error::ShapeMismatch {
            what: "sparse data",
            expected: format!("{d} columns, as the model"),
            found: format!("{} columns", x.ncols()),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn distances_match_the_dense_definition() {
        // rows: [1, 0, 2], [0, 0, 0], [0, 3, 0]
        let indptr = [0, 2, 2, 3];
        let indices = [0, 2, 1];
        let data = [1.0, 2.0, 3.0];
        let x = Csr::new(3, 3, &indptr, &indices, &data).unwrap();
        let c: ndarray::Array2<f64> = array![[1.0, 1.0, 1.0], [0.0, 3.0, 0.5]];
        let d = squared_distances(&x, c.view()).unwrap();
        let dense: ndarray::Array2<f64> = array![[1.0, 0.0, 2.0], [0.0, 0.0, 0.0], [0.0, 3.0, 0.0]];
        for i in 0..3 {
            for j in 0..2 {
                let want: f64 = (0..3).map(|t| (dense[[i, t]] - c[[j, t]]).powi(2)).sum();
                assert!((d[[i, j]] - want).abs() < 1e-12, "{i} {j}");
            }
        }
        let (mean, var) = x.weighted_mean_variance(&[1.0, 1.0, 1.0]);
        assert!((mean[1] - 1.0).abs() < 1e-15);
        let want_var: f64 = (0..3)
            .map(|t| {
                let m: f64 = (0..3).map(|i| dense[[i, t]]).sum::<f64>() / 3.0;
                (0..3).map(|i| (dense[[i, t]] - m).powi(2)).sum::<f64>() / 3.0
            })
            .sum::<f64>()
            / 3.0;
        assert!((var - want_var).abs() < 1e-12);
    }

    #[test]
    fn bad_structure_is_an_error() {
        let data = [1.0f64];
        assert!(Csr::new(1, 2, &[0, 1], &[5], &data).is_err());
        assert!(Csr::new(1, 2, &[0, 2], &[0], &data).is_err());
        assert!(Csr::new(2, 2, &[0, 1], &[0], &data).is_err());
        assert!(Csr::new(1, 2, &[0, 1], &[0], &[f64::NAN]).is_err());
        assert!(Csr::new(1, 2, &[0, 2], &[1, 1], &[1.0, 1.0]).is_err());
    }
}
