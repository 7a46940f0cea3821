//! Fuzzy c-means on sparse (CSR) data: the dense fit's start, iteration, stopping rule and
//! final statistics, with distances by the sparse expansion `|x|² - 2 x·c + |c|²` (`O(nnz k)`
//! per pass; the small ones, where it cancels, summed term by term) and the centre sums
//! `(w u^m)^T X` taken by columns (the matrix is transposed once), in parallel with no
//! per-thread `k x d` partials. Centres stay dense (`k x d`); the data are not centred, so the
//! model's centring vector is zero.
//!
//! The row step is the dense pass's arithmetic, row by row: rows of the old memberships
//! normalised and floored at eps for the objective, new memberships `(lo / d²)^(1/(m-1))`
//! normalised (floored at eps at the start), the next weights `w (u' / sum u', floored at
//! eps)^m`.

use super::{
    at_least, powm, FcmInit, FcmPasses, FcmStats, FinalStats, FuzzyCMeans, FuzzyCMeansModel,
};
use crate::data::{weights_or_ones, SEGMENT_ROWS};
use crate::error::Result;
use crate::float::Float;
use crate::kmeans::sparse_memberships as memberships_of;
use crate::kmeans::KMeans;
use crate::membership::Membership;
use crate::soft::{DistanceKind, FittedSoft};
use crate::sparse::{check_width, squared_distances, Csc, Csr, SparseCenters};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;

/// Floored squared distances of row `i` to every centre, into `out` (k): the expansion, with
/// distances within `64 eps` of cancellation summed term by term, floored at eps² (scikit-fuzzy
/// floors distances at eps).
fn row_distances<F: Float>(x: &Csr<'_, F>, sc: &SparseCenters, i: usize, xn: f64, out: &mut [f64]) {
    let eps = f64::EPSILON;
    let thresh = 64.0 * F::epsilon().as_f64();
    sc.row(x, i, xn, out);
    for (j, o) in out.iter_mut().enumerate() {
        if *o <= thresh * (xn + sc.norms()[j]) {
            *o = sc.row_exact(x, i, j);
        }
        *o = at_least(*o, eps * eps);
    }
}

/// The row part of one pass over rows `first..` (memberships `u`, `rows x k`, old in, new out;
/// next weights into `um`): returns the objective and change sums, and adds the row weights'
/// column sums into `tot`.
#[allow(clippy::too_many_arguments)]
fn rows_step<F: Float>(
    x: &Csr<'_, F>,
    norms: &[f64],
    w: &[f64],
    sc: &SparseCenters,
    first: usize,
    u: &mut [f64],
    um: &mut [f64],
    m: f64,
    start: bool,
    tot: &mut [f64],
) -> (f64, f64) {
    let k = sc.k;
    let eps = f64::EPSILON;
    let mut dv = vec![0.0; k];
    let (mut obj, mut chg) = (0.0, 0.0);
    for (r, (ui, wi_um)) in u
        .chunks_exact_mut(k)
        .zip(um.chunks_exact_mut(k))
        .enumerate()
    {
        let i = first + r;
        row_distances(x, sc, i, norms[i], &mut dv);
        let inv_s = 1.0 / ui.iter().sum::<f64>();
        let lo = dv
            .iter()
            .fold(f64::INFINITY, |a, &v| if v < a { v } else { a });
        let mut o = 0.0;
        let mut sum = 0.0;
        for j in 0..k {
            o += w[i] * powm(at_least(ui[j] * inv_s, eps), m) * dv[j];
            let ratio = lo / dv[j];
            wi_um[j] = if m == 2.0 {
                ratio
            } else {
                ratio.powf(1.0 / (m - 1.0))
            };
            sum += wi_um[j];
        }
        obj += o;
        let inv_sum = 1.0 / sum;
        let mut s2 = 0.0;
        for j in 0..k {
            let mut un = wi_um[j] * inv_sum;
            if start {
                un = at_least(un, eps);
            }
            let t = un - ui[j];
            chg += t * t;
            ui[j] = un;
            s2 += un;
        }
        let inv_s2 = 1.0 / s2;
        for j in 0..k {
            wi_um[j] = w[i] * powm(at_least(ui[j] * inv_s2, eps), m);
            tot[j] += wi_um[j];
        }
    }
    (obj, chg)
}

/// The in-memory sparse source of passes: it keeps the memberships (`n x k`).
struct Passes<'a, F> {
    x: &'a Csr<'a, F>,
    csc: Csc,
    norms: Vec<f64>,
    w: &'a [f64],
    u: Array2<f64>,
    um: Array2<f64>,
    m: f64,
}

impl<F: Float> Passes<'_, F> {
    /// One pass against `centers` (at the start: new memberships floored at eps).
    fn run(&mut self, centers: ArrayView2<'_, F>, start: bool) -> FcmStats {
        let (k, d) = centers.dim();
        let sc = SparseCenters::new(centers);
        let (x, norms, w, m) = (self.x, &self.norms, self.w, self.m);
        let parts: Vec<(f64, f64, Vec<f64>)> = self
            .u
            .axis_chunks_iter_mut(Axis(0), SEGMENT_ROWS)
            .into_par_iter()
            .zip(self.um.axis_chunks_iter_mut(Axis(0), SEGMENT_ROWS))
            .enumerate()
            .map(|(s, (mut u, mut um))| {
                let mut tot = vec![0.0; k];
                let (o, c) = rows_step(
                    x,
                    norms,
                    w,
                    &sc,
                    s * SEGMENT_ROWS,
                    u.as_slice_mut().expect("memberships are contiguous"),
                    um.as_slice_mut().expect("weights are contiguous"),
                    m,
                    start,
                    &mut tot,
                );
                (o, c, tot)
            })
            .collect();
        let mut out = FcmStats::zeros(k, d);
        for (o, c, t) in parts {
            out.objective += o;
            out.change += c;
            out.tot += &Array1::from(t);
        }
        out.sums = self.csc.weighted_column_sums(
            self.um.as_slice().expect("weights are contiguous"),
            k,
            1,
        );
        out
    }
}

impl<F: Float> FcmPasses<F> for Passes<'_, F> {
    fn pass(
        &mut self,
        _prev: Option<ArrayView2<'_, F>>,
        _prev_is_start: bool,
        centers: ArrayView2<'_, F>,
    ) -> Result<FcmStats> {
        Ok(self.run(centers, false))
    }
}

/// Partition coefficient and entropy sums, membership weights and deviations
/// `S_jt = sum_i w_i u_ij (x_it - c_jt)²`, by `S = A - 2 c B + c² W` with
/// `A = sum w u x²`, `B = sum w u x`, `W = sum w u` (clamped at 0).
fn final_stats<F: Float>(
    csc: &Csc,
    w: &[f64],
    centers: ArrayView2<'_, F>,
    u: &Array2<f64>,
) -> FinalStats {
    let (k, d) = centers.dim();
    let mut wu = u.clone();
    for (mut row, &wi) in wu.rows_mut().into_iter().zip(w) {
        row *= wi;
    }
    let (mut pc, mut pe) = (0.0, 0.0);
    for (row, wrow) in u.rows().into_iter().zip(wu.rows()) {
        for (&uv, &wuv) in row.iter().zip(wrow.iter()) {
            pc += wuv * uv;
            if uv > 0.0 {
                pe -= wuv * uv.ln();
            }
        }
    }
    let weight = wu.sum_axis(Axis(0));
    let flat = wu.as_slice().expect("a new array is contiguous");
    let a = csc.weighted_column_sums(flat, k, 2);
    let b = csc.weighted_column_sums(flat, k, 1);
    let deviations = Array2::from_shape_fn((k, d), |(j, t)| {
        let c = centers[[j, t]].as_f64();
        (a[[j, t]] - 2.0 * c * b[[j, t]] + c * c * weight[j]).max(0.0)
    });
    FinalStats {
        pc,
        pe,
        deviations,
        weight,
    }
}

impl<F: Float> FuzzyCMeans<F> {
    /// Fits fuzzy c-means to sparse data `x` (CSR, n x d) with optional sample weights: the
    /// start, iteration and stopping rule of [`FuzzyCMeans::fit`].
    pub fn fit_sparse(
        &self,
        x: &Csr<'_, F>,
        sample_weight: Option<ArrayView1<'_, F>>,
    ) -> Result<FuzzyCMeansModel<F>> {
        let (n, d) = (x.nrows(), x.ncols());
        self.check_settings(n, d, sample_weight)?;
        let k = self.n_clusters;
        let m = self.m;
        let eps = f64::EPSILON;
        let w = weights_or_ones(sample_weight, n);
        let mu = Array1::<F>::zeros(d);
        let mut src = Passes {
            x,
            csc: Csc::from_csr(x),
            norms: x.squared_norms(),
            w: &w,
            u: Array2::zeros((n, k)),
            um: Array2::zeros((n, k)),
            m,
        };
        let start = match &self.init {
            FcmInit::Memberships(u0) => {
                src.u.assign(&u0.mapv(|v| v.max(eps)));
                let mut tot = Array1::<f64>::zeros(k);
                for ((u_row, mut um_row), &wi) in
                    src.u.rows().into_iter().zip(src.um.rows_mut()).zip(&w)
                {
                    let s: f64 = u_row.sum();
                    for (j, (o, &v)) in um_row.iter_mut().zip(u_row.iter()).enumerate() {
                        *o = wi * powm((v / s).max(eps), m);
                        tot[j] += *o;
                    }
                }
                let sums = src.csc.weighted_column_sums(
                    src.um.as_slice().expect("weights are contiguous"),
                    k,
                    1,
                );
                FcmStats {
                    objective: 0.0,
                    change: 0.0,
                    tot,
                    sums,
                }
            }
            FcmInit::Centers(c) => {
                src.u.fill(1.0 / k as f64);
                src.run(c.view(), true)
            }
            FcmInit::KMeansPlusPlus => {
                let rows = KMeans::<F>::new(k)
                    .seed(self.seed)
                    .seed_indices_sparse(x, &w)?;
                src.u.fill(1.0 / k as f64);
                src.run(x.select_dense(&rows).view(), true)
            }
        };
        let out = super::fcm_loop(
            &mut src,
            start,
            None,
            mu.view(),
            self.max_iter,
            self.tol,
            &self.interrupt,
        )?;
        let total: f64 = w.iter().sum();
        let fin = final_stats(&src.csc, &w, out.centers.view(), &src.u);
        let labels = crate::membership::row_argmax(src.u.view());
        Ok(FuzzyCMeansModel::assemble(
            out,
            m,
            mu,
            (src.u, labels),
            fin,
            total,
        ))
    }
}

impl<F: Float> FuzzyCMeansModel<F> {
    /// Squared Euclidean distances of sparse rows to the centres, `n x k`.
    pub fn squared_distances_sparse(&self, x: &Csr<'_, F>) -> Result<Array2<f64>> {
        check_width(x, self.n_features())?;
        squared_distances(x, self.centers.view())
    }

    /// Memberships of sparse rows in closed form from the centres (one membership step).
    pub fn memberships_sparse(&self, x: &Csr<'_, F>) -> Result<Membership<F>> {
        let soft = FittedSoft::inverse_power(2.0 / (self.m - 1.0), self.n_clusters());
        memberships_of(
            x,
            self.centers.view(),
            &soft,
            DistanceKind::Euclidean,
            f64::sqrt,
        )
    }
}
