//! The M-step from a given responsibility matrix (the first M-step after initialisation, and
//! fuzzy c-means' weighted sums), over fixed row segments in parallel. The EM iterations
//! themselves run the fused kernel of [`super::kernel`], which never stores responsibilities.

use super::covariance::{CovMatrices, CovarianceType};
use crate::data::{load_block, map_segments, weighted_sums, BLOCK_ROWS};
use crate::float::Float;
use crate::matmul::matmul;
use ndarray::{s, Array1, Array2, Array3, ArrayView2, Axis};

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
        // Diagonal and spherical: the weighted squared deviations from each component's mean,
        // s_kj = sum_i w_i r_ik (x_ij - mu_kj)² / n_k + reg (about the means, never raw moments).
        let parts = map_segments(n, |rows| {
            let mut acc = vec![0.0f64; k * d];
            let mut xb = Array2::<f64>::zeros((BLOCK_ROWS, d));
            let mut start = rows.start;
            while start < rows.end {
                let end = (start + BLOCK_ROWS).min(rows.end);
                load_block(x, start, end, &mut xb);
                for (i, row) in xb.rows().into_iter().take(end - start).enumerate() {
                    let wi = w[start + i];
                    for c in 0..k {
                        let rw = wi * resp[(start + i, c)];
                        let dst = &mut acc[c * d..(c + 1) * d];
                        for ((a, &v), &m) in dst.iter_mut().zip(row.iter()).zip(means.row(c)) {
                            let t = v - m;
                            *a += rw * t * t;
                        }
                    }
                }
                start = end;
            }
            acc
        });
        let mut s2 = vec![0.0f64; k * d];
        for p in parts {
            for (a, b) in s2.iter_mut().zip(p) {
                *a += b;
            }
        }
        let v = Array2::from_shape_fn((k, d), |(j, t)| s2[j * d + t] / nk[j] + reg_covar);
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
