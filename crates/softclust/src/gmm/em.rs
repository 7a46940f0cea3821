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
