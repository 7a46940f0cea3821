//! The E-step and M-step kernels, over fixed row segments in parallel.
//!
//! E-step: `ln N(x | mu_k, P_k^{-1}) = -(d/2) ln 2pi + ln det U_k - |U_k^T (x - mu_k)|² / 2`,
//! plus `ln pi_k`; then `ln p(x) = logsumexp_k` and `ln r_ik = ln pi_k N_k(x_i) - ln p(x_i)`.
//! For full and tied covariances the quadratic form of a row block is one matrix product
//! `X_b U_k` per component.

use super::covariance::{CovMatrices, CovarianceType};
use crate::data::{map_segments, BLOCK_ROWS, SEGMENT_ROWS};
use crate::float::Float;
use crate::matmul::matmul;
use ndarray::{s, Array1, Array2, Array3, ArrayView1, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// Copies rows `start..end` of `x` into `buf` as f64.
fn load_block<F: Float>(x: ArrayView2<'_, F>, start: usize, end: usize, buf: &mut Array2<f64>) {
    let mut dst = buf.slice_mut(s![..end - start, ..]);
    dst.zip_mut_with(&x.slice(s![start..end, ..]), |a, &b| *a = b.as_f64());
}

/// The fitted parameters the E-step needs.
pub(crate) struct Params<'a> {
    pub log_weights: &'a [f64],
    pub means: ArrayView2<'a, f64>,
    pub prec_chol: &'a CovMatrices,
    pub log_det: &'a [f64],
}

/// Per-call precomputations for the quadratic forms.
///
/// * full / tied: `mu_u[k] = mu_k^T U_k`, so `|U_k^T x - mu_u[k]|²` is one GEMM per component;
/// * diag: `prec = U²` and `mp = mu ∘ prec`, so for a block
///   `Q = (X∘X) prec^T - 2 X mp^T + sum_j mu_kj² prec_kj` is two GEMMs for all components;
/// * spherical: `Q_ik = prec_k (|x_i|² - 2 x_i·mu_k + |mu_k|²)`, one GEMM.
///
/// The diagonal and spherical forms are scikit-learn's; the result is clamped at 0.
pub(crate) struct Prepared {
    mu_u: Array2<f64>,
    prec: Array2<f64>,
    mp: Array2<f64>,
    cst: Array1<f64>,
}

fn prepare(p: &Params<'_>) -> Prepared {
    let (k, d) = p.means.dim();
    let empty = || Array2::zeros((0, d));
    match p.prec_chol {
        CovMatrices::Full(_) | CovMatrices::Tied(_) => {
            let mut mu_u = Array2::zeros((k, d));
            for c in 0..k {
                let u = match p.prec_chol {
                    CovMatrices::Full(a) => a.index_axis(Axis(0), c),
                    CovMatrices::Tied(m) => m.view(),
                    _ => unreachable!("matched above"),
                };
                mu_u.row_mut(c).assign(&p.means.row(c).dot(&u));
            }
            Prepared {
                mu_u,
                prec: empty(),
                mp: empty(),
                cst: Array1::zeros(0),
            }
        }
        CovMatrices::Diag(pc) => {
            let prec = pc.mapv(|v| v * v);
            let mp = &p.means * &prec;
            let cst = (&mp * &p.means).sum_axis(Axis(1));
            Prepared {
                mu_u: empty(),
                prec,
                mp,
                cst,
            }
        }
        CovMatrices::Spherical(pc) => {
            let prec = pc.mapv(|v| v * v).insert_axis(Axis(1));
            let cst = p.means.map_axis(Axis(1), |r| r.dot(&r));
            Prepared {
                mu_u: empty(),
                prec,
                mp: p.means.to_owned(),
                cst,
            }
        }
    }
}

/// Writes the weighted log-densities `ln pi_k + ln N(x_i | k)` of a row block into `out`, or
/// with `raw` the squared Mahalanobis distances `|U_k^T (x_i - mu_k)|²`.
fn block_log_prob(
    raw: bool,
    xb: ArrayView2<'_, f64>,
    p: &Params<'_>,
    pre: &Prepared,
    y: &mut Array2<f64>,
    mut out: ArrayViewMut2<'_, f64>,
) {
    let (b, d) = xb.dim();
    let k = p.means.nrows();
    let cst = -0.5 * d as f64 * LN_2PI;
    let finish = |raw: bool, q: f64, c: usize| {
        if raw {
            q
        } else {
            cst - 0.5 * q + p.log_det[c] + p.log_weights[c]
        }
    };
    match p.prec_chol {
        CovMatrices::Full(_) | CovMatrices::Tied(_) => {
            for c in 0..k {
                let u = match p.prec_chol {
                    CovMatrices::Full(a) => a.index_axis(Axis(0), c),
                    CovMatrices::Tied(m) => m.view(),
                    _ => unreachable!("matched above"),
                };
                let mut yb = y.slice_mut(s![..b, ..]);
                matmul(1.0, &xb, &u, 0.0, &mut yb);
                let shift = pre.mu_u.row(c);
                for i in 0..b {
                    let mut q = 0.0;
                    for (v, m) in yb.row(i).iter().zip(shift.iter()) {
                        let t = v - m;
                        q += t * t;
                    }
                    out[(i, c)] = finish(raw, q, c);
                }
            }
        }
        CovMatrices::Diag(_) | CovMatrices::Spherical(_) => {
            let diag = matches!(p.prec_chol, CovMatrices::Diag(_));
            if diag {
                let mut sq = y.slice_mut(s![..b, ..]);
                sq.assign(&xb);
                sq.mapv_inplace(|v| v * v);
                matmul(1.0, &sq.view(), &pre.prec.t(), 0.0, &mut out);
                matmul(-2.0, &xb, &pre.mp.t(), 1.0, &mut out);
            } else {
                matmul(-2.0, &xb, &pre.mp.t(), 0.0, &mut out);
            }
            for (i, mut row) in out.rows_mut().into_iter().enumerate() {
                let xn = if diag { 0.0 } else { xb.row(i).dot(&xb.row(i)) };
                for (c, v) in row.iter_mut().enumerate() {
                    let q = if diag {
                        *v + pre.cst[c]
                    } else {
                        (*v + xn + pre.cst[c]) * pre.prec[(c, 0)]
                    };
                    *v = finish(raw, q.max(0.0), c);
                }
            }
        }
    }
}

/// Weighted log-densities `ln pi_k + ln N(x_i | k)`, `n x k`.
pub(crate) fn weighted_log_prob<F: Float>(x: ArrayView2<'_, F>, p: &Params<'_>) -> Array2<f64> {
    per_component(false, x, p)
}

/// Squared Mahalanobis distances `|U_k^T (x_i - mu_k)|²`, `n x k`.
pub(crate) fn mahalanobis_sq<F: Float>(x: ArrayView2<'_, F>, p: &Params<'_>) -> Array2<f64> {
    per_component(true, x, p)
}

fn per_component<F: Float>(raw: bool, x: ArrayView2<'_, F>, p: &Params<'_>) -> Array2<f64> {
    let (n, d) = x.dim();
    let k = p.means.nrows();
    let pre = prepare(p);
    let mut out = Array2::<f64>::zeros((n, k));
    out.axis_chunks_iter_mut(Axis(0), SEGMENT_ROWS)
        .into_par_iter()
        .enumerate()
        .for_each(|(sgi, mut seg)| {
            let first = sgi * SEGMENT_ROWS;
            let mut xb = Array2::<f64>::zeros((BLOCK_ROWS, d));
            let mut y = Array2::<f64>::zeros((BLOCK_ROWS, d));
            let rows = seg.nrows();
            let mut start = 0;
            while start < rows {
                let end = (start + BLOCK_ROWS).min(rows);
                load_block(x, first + start, first + end, &mut xb);
                block_log_prob(
                    raw,
                    xb.slice(s![..end - start, ..]),
                    p,
                    &pre,
                    &mut y,
                    seg.slice_mut(s![start..end, ..]),
                );
                start = end;
            }
        });
    out
}

/// Turns weighted log-densities into log-responsibilities in place; returns `ln p(x_i)`.
pub(crate) fn normalise(lp: &mut Array2<f64>) -> Array1<f64> {
    let mut norm = Array1::<f64>::zeros(lp.nrows());
    ndarray::Zip::from(lp.rows_mut())
        .and(&mut norm)
        .par_for_each(|mut row, nm| {
            let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if !m.is_finite() {
                let uniform = -(row.len() as f64).ln();
                row.fill(uniform);
                *nm = m;
                return;
            }
            // Subtract the maximum first: (v - m) is exact for the largest terms, so the
            // log-responsibilities do not inherit the rounding of m + ln(sum).
            let ln_sum = row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            row.mapv_inplace(|v| (v - m) - ln_sum);
            *nm = m + ln_sum;
        });
    norm
}

/// Weighted mean of `v` (weights `w`), reduced in a thread-count-independent order.
pub(crate) fn weighted_mean(v: ArrayView1<'_, f64>, w: &[f64]) -> f64 {
    let num = crate::data::par_sum(v.len(), |i| w[i] * v[i]);
    let den = crate::data::par_sum(v.len(), |i| w[i]);
    num / den
}

/// M-step: weights, means and covariances from responsibilities `resp` (n x k, probabilities).
/// Returns `(n_k, means, covariances)`; `n_k` includes the `10 eps` guard.
pub(crate) fn estimate_parameters<F: Float>(
    x: ArrayView2<'_, F>,
    resp: ArrayView2<'_, f64>,
    w: &[f64],
    reg_covar: f64,
    cov_type: CovarianceType,
) -> (Array1<f64>, Array2<f64>, CovMatrices) {
    let (nk, means) = weighted_means(x, resp, w);
    scatter_and_finish(x, resp, w, reg_covar, cov_type, nk, means)
}

/// `n_k = sum_i w_i r_ik + 10 eps` and the weighted means `sum_i w_i r_ik x_i / n_k`.
pub(crate) fn weighted_means<F: Float>(
    x: ArrayView2<'_, F>,
    resp: ArrayView2<'_, f64>,
    w: &[f64],
) -> (Array1<f64>, Array2<f64>) {
    let (mut nk, sums) = weighted_sums(x, resp, w);
    nk += 10.0 * f64::EPSILON;
    let means = &sums / &nk.view().insert_axis(Axis(1));
    (nk, means)
}

/// `sum_i w_i r_ik` and `sum_i w_i r_ik x_i` (k x d), in a thread-count-independent order.
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

/// Second pass of the M-step: scatter around the means, then covariances by type.
fn scatter_and_finish<F: Float>(
    x: ArrayView2<'_, F>,
    resp: ArrayView2<'_, f64>,
    w: &[f64],
    reg_covar: f64,
    cov_type: CovarianceType,
    nk: Array1<f64>,
    means: Array2<f64>,
) -> (Array1<f64>, Array2<f64>, CovMatrices) {
    let (n, d) = x.dim();
    let k = resp.ncols();
    let full_like = matches!(cov_type, CovarianceType::Full | CovarianceType::Tied);
    if !full_like {
        // Diagonal and spherical: one GEMM per block for all components,
        // S2 = (w ∘ r)^T (X ∘ X), then s_kj = S2_kj / n_k - 2 mu_kj² + mu_kj² + reg
        // (scikit-learn's avg_X2 - 2 avg_X_means + avg_means2).
        let parts = map_segments(n, |rows| {
            let mut acc = Array2::<f64>::zeros((k, d));
            let mut xb = Array2::<f64>::zeros((BLOCK_ROWS, d));
            let mut start = rows.start;
            while start < rows.end {
                let end = (start + BLOCK_ROWS).min(rows.end);
                let b = end - start;
                load_block(x, start, end, &mut xb);
                let mut sq = xb.slice_mut(s![..b, ..]);
                sq.mapv_inplace(|v| v * v);
                let mut rw = resp.slice(s![start..end, ..]).to_owned();
                for (i, mut row) in rw.rows_mut().into_iter().enumerate() {
                    row *= w[start + i];
                }
                matmul(1.0, &rw.t(), &sq.view(), 1.0, &mut acc.view_mut());
                start = end;
            }
            acc
        });
        let mut s2 = Array2::<f64>::zeros((k, d));
        for p in parts {
            s2 += &p;
        }
        let mut v = Array2::<f64>::zeros((k, d));
        for j in 0..k {
            for t in 0..d {
                let m = means[(j, t)];
                v[(j, t)] = s2[(j, t)] / nk[j] - 2.0 * (m * m) + m * m + reg_covar;
            }
        }
        let cov = if cov_type == CovarianceType::Diag {
            CovMatrices::Diag(v)
        } else {
            CovMatrices::Spherical(v.mean_axis(Axis(1)).unwrap_or_else(|| Array1::zeros(k)))
        };
        return (nk, means, cov);
    }
    let parts = map_segments(n, |rows| {
        let mut acc = Array3::<f64>::zeros((k, d, d));
        let mut xb = Array2::<f64>::zeros((BLOCK_ROWS, d));
        let mut diff = Array2::<f64>::zeros((BLOCK_ROWS, d));
        let mut wdiff = Array2::<f64>::zeros((BLOCK_ROWS, d));
        let mut start = rows.start;
        while start < rows.end {
            let end = (start + BLOCK_ROWS).min(rows.end);
            let b = end - start;
            load_block(x, start, end, &mut xb);
            for c in 0..k {
                let mut df = diff.slice_mut(s![..b, ..]);
                df.assign(&xb.slice(s![..b, ..]));
                df -= &means.row(c);
                let mut wd = wdiff.slice_mut(s![..b, ..]);
                wd.assign(&df);
                for (i, mut row) in wd.rows_mut().into_iter().enumerate() {
                    row *= w[start + i] * resp[(start + i, c)];
                }
                let mut target = acc.index_axis_mut(Axis(0), c);
                matmul(1.0, &wd.t(), &df.view(), 1.0, &mut target);
            }
            start = end;
        }
        acc
    });
    let mut scatter = Array3::<f64>::zeros((k, d, d));
    for p in parts {
        scatter += &p;
    }
    let cov = match cov_type {
        CovarianceType::Full => {
            let mut c = scatter;
            for j in 0..k {
                let mut m = c.index_axis_mut(Axis(0), j);
                m /= nk[j];
                for t in 0..d {
                    m[(t, t)] += reg_covar;
                }
            }
            CovMatrices::Full(c)
        }
        CovarianceType::Tied => {
            let mut m = scatter.sum_axis(Axis(0));
            m /= nk.sum();
            for t in 0..d {
                m[(t, t)] += reg_covar;
            }
            CovMatrices::Tied(m)
        }
        CovarianceType::Diag | CovarianceType::Spherical => unreachable!("handled above"),
    };
    (nk, means, cov)
}
