//! Oracle test of the fused EM kernel: one iteration of the library (E-step and M-step fused
//! into one pass over row blocks, scatter about the current means, log-sum-exp in SIMD) against
//! a plain two-pass E-step + M-step written here from the textbook formulas with explicit
//! inverses and determinants, for all four covariance types, with sample weights, in f64.
#![allow(clippy::unwrap_used)]

mod common;

use common::blobs;
use ndarray::{Array1, Array2, Array3, Axis};
use softclust::{CovMatrices, CovarianceType, GaussianMixture};

/// Inverse and log-determinant of a small symmetric positive-definite matrix (Gauss-Jordan).
fn inv_logdet(a: &Array2<f64>) -> (Array2<f64>, f64) {
    let d = a.nrows();
    let mut m = a.clone();
    let mut inv = Array2::<f64>::eye(d);
    let mut logdet = 0.0;
    for c in 0..d {
        let p = (c..d)
            .max_by(|&i, &j| m[(i, c)].abs().total_cmp(&m[(j, c)].abs()))
            .unwrap();
        for j in 0..d {
            m.swap((c, j), (p, j));
            inv.swap((c, j), (p, j));
        }
        let piv = m[(c, c)];
        logdet += piv.abs().ln();
        for j in 0..d {
            m[(c, j)] /= piv;
            inv[(c, j)] /= piv;
        }
        for r in 0..d {
            if r != c {
                let f = m[(r, c)];
                for j in 0..d {
                    m[(r, j)] -= f * m[(c, j)];
                    inv[(r, j)] -= f * inv[(c, j)];
                }
            }
        }
    }
    (inv, logdet)
}

/// Every component's covariance as a full `d x d` matrix.
fn full_covariances(t: CovarianceType, cov: &CovMatrices, k: usize, d: usize) -> Vec<Array2<f64>> {
    (0..k)
        .map(|c| match (t, cov) {
            (CovarianceType::Full, CovMatrices::Full(a)) => a.index_axis(Axis(0), c).to_owned(),
            (CovarianceType::Tied, CovMatrices::Tied(a)) => a.clone(),
            (CovarianceType::Diag, CovMatrices::Diag(a)) => Array2::from_diag(&a.row(c)),
            (CovarianceType::Spherical, CovMatrices::Spherical(a)) => Array2::eye(d) * a[c],
            _ => panic!("covariance shape does not match its type"),
        })
        .collect()
}

/// One plain EM iteration: responsibilities from the explicit densities, then the weighted
/// M-step (with scikit-learn's `10 eps` on `n_k` and `reg_covar` on the diagonal). Returns
/// `(weights, means, covariances as full matrices, mean log-likelihood before the step)`.
fn plain_em_step(
    x: &Array2<f64>,
    w: &Array1<f64>,
    pi: &Array1<f64>,
    mu: &Array2<f64>,
    sigma: &[Array2<f64>],
    t: CovarianceType,
    reg: f64,
) -> (Array1<f64>, Array2<f64>, Vec<Array2<f64>>, f64) {
    let (n, d) = x.dim();
    let k = pi.len();
    let ln2pi = (2.0 * std::f64::consts::PI).ln();
    let inv: Vec<(Array2<f64>, f64)> = sigma.iter().map(inv_logdet).collect();
    // E-step, first pass: log pi_c N(x_i | c), normalised by log-sum-exp.
    let mut resp = Array2::<f64>::zeros((n, k));
    let mut ll = 0.0;
    for i in 0..n {
        let mut lp = vec![0.0; k];
        for c in 0..k {
            let diff = &x.row(i) - &mu.row(c);
            let q = diff.dot(&inv[c].0.dot(&diff));
            lp[c] = pi[c].ln() - 0.5 * (d as f64 * ln2pi + inv[c].1 + q);
        }
        let m = lp.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + lp.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        ll += w[i] * lse;
        for c in 0..k {
            resp[(i, c)] = (lp[c] - lse).exp();
        }
    }
    let wsum = w.sum();
    // M-step, second pass.
    let nk: Array1<f64> = (0..k)
        .map(|c| (0..n).map(|i| w[i] * resp[(i, c)]).sum::<f64>() + 10.0 * f64::EPSILON)
        .collect();
    let means = Array2::from_shape_fn((k, d), |(c, j)| {
        (0..n).map(|i| w[i] * resp[(i, c)] * x[(i, j)]).sum::<f64>() / nk[c]
    });
    let scatter: Vec<Array2<f64>> = (0..k)
        .map(|c| {
            let mut s = Array2::<f64>::zeros((d, d));
            for i in 0..n {
                let diff = &x.row(i) - &means.row(c);
                for a in 0..d {
                    for b in 0..d {
                        s[(a, b)] += w[i] * resp[(i, c)] * diff[a] * diff[b];
                    }
                }
            }
            s
        })
        .collect();
    let eye = Array2::<f64>::eye(d);
    let covs: Vec<Array2<f64>> = match t {
        CovarianceType::Full => (0..k)
            .map(|c| &scatter[c] / nk[c] + &(&eye * reg))
            .collect(),
        CovarianceType::Tied => {
            let total = scatter
                .iter()
                .fold(Array2::<f64>::zeros((d, d)), |a, s| a + s);
            vec![&total / nk.sum() + &(&eye * reg); k]
        }
        CovarianceType::Diag => (0..k)
            .map(|c| Array2::from_diag(&(scatter[c].diag().to_owned() / nk[c] + reg)))
            .collect(),
        CovarianceType::Spherical => (0..k)
            .map(|c| &eye * (scatter[c].diag().sum() / nk[c] / d as f64 + reg))
            .collect(),
    };
    (&nk / nk.sum(), means, covs, ll / wsum)
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-10 * b.abs().max(1.0),
        "{what}: {a} vs {b}"
    );
}

#[test]
fn fused_em_iteration_equals_a_plain_e_step_and_m_step() {
    let (raw, _) = blobs(2500, 3, 3, 2.5, 17);
    // Correlated features and an offset, so that full and tied covariances are not diagonal and
    // the scatter about the current means matters.
    let x = raw.dot(&ndarray::array![
        [1.0, 0.4, 0.0],
        [0.0, 1.0, -0.3],
        [0.2, 0.0, 0.7]
    ]) + 50.0;
    let (n, d) = x.dim();
    let k = 3;
    let w = Array1::from_shape_fn(n, |i| 0.25 + (i % 5) as f64 * 0.5);
    let pi0 = ndarray::array![0.2, 0.3, 0.5];
    let mu0 = ndarray::array![[40.0, 45.0, 50.0], [50.0, 50.0, 50.0], [60.0, 55.0, 45.0]];
    let reg = 1e-6;
    for t in CovarianceType::ALL {
        let prec0 = match t {
            CovarianceType::Full => {
                CovMatrices::Full(Array3::from_shape_fn((k, d, d), |(c, a, b)| {
                    if a == b {
                        0.01 * (1.0 + c as f64)
                    } else if a + b == 1 {
                        0.002
                    } else {
                        0.0
                    }
                }))
            }
            CovarianceType::Tied => CovMatrices::Tied(Array2::eye(d) * 0.02),
            CovarianceType::Diag => CovMatrices::Diag(Array2::from_shape_fn((k, d), |(c, j)| {
                0.01 + 0.003 * (c + j) as f64
            })),
            CovarianceType::Spherical => CovMatrices::Spherical(ndarray::array![0.01, 0.02, 0.015]),
        };
        let model = GaussianMixture::new(k)
            .covariance_type(t)
            .weights_init(pi0.clone())
            .means_init(mu0.clone())
            .precisions_init(prec0.clone())
            .reg_covar(reg)
            .max_iter(1)
            .tol(0.0)
            .fit(x.view(), Some(w.view()))
            .unwrap();
        // The starting covariances are the inverses of the given precisions.
        let sigma0: Vec<Array2<f64>> = full_covariances(t, &prec0, k, d)
            .iter()
            .map(|p| inv_logdet(p).0)
            .collect();
        let (pi1, mu1, cov1, ll0) = plain_em_step(&x, &w, &pi0, &mu0, &sigma0, t, reg);
        let name = t.name();
        close(
            model.diagnostics().lower_bounds[0],
            ll0,
            &format!("{name} lower bound"),
        );
        for c in 0..k {
            close(model.weights()[c], pi1[c], &format!("{name} weight {c}"));
            for j in 0..d {
                close(
                    model.means()[(c, j)],
                    mu1[(c, j)],
                    &format!("{name} mean {c},{j}"),
                );
            }
        }
        let got = full_covariances(t, &model.covariances(), k, d);
        for c in 0..k {
            for (a, b) in got[c].iter().zip(cov1[c].iter()) {
                close(*a, *b, &format!("{name} covariance {c}"));
            }
        }
    }
}
