//! One family of functions per covariance type: estimation from responsibilities, the
//! upper-triangular precision factor `U` (`P = U U^T`), `ln det U`, and the parameter count.
//!
//! With responsibilities `r_ik`, sample weights `w_i`, `n_k = sum_i w_i r_ik + 10 eps` and means
//! `mu_k = sum_i w_i r_ik x_i / n_k`:
//!
//! | type | covariance | shape |
//! |---|---|---|
//! | full | `S_k = sum_i w_i r_ik (x_i - mu_k)(x_i - mu_k)^T / n_k + reg I` | k x d x d |
//! | tied | `S = sum_k n_k S_k / sum_k n_k` (one matrix shared by all) `+ reg I` | d x d |
//! | diag | `s_kj = sum_i w_i r_ik (x_ij - mu_kj)² / n_k + reg` | k x d |
//! | spherical | `s_k = mean_j s_kj` (the diag variances, `reg` included) | k |

use crate::error::{Error, Result};
use crate::linalg;
use ndarray::{Array1, Array2, Array3, Axis};

/// The structure of the component covariances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum CovarianceType {
    /// Each component has its own general covariance matrix.
    Full,
    /// All components share one general covariance matrix.
    Tied,
    /// Each component has its own diagonal covariance matrix.
    Diag,
    /// Each component has its own single variance.
    Spherical,
}

impl CovarianceType {
    /// All four types, in scikit-learn's order.
    pub const ALL: [CovarianceType; 4] = [
        CovarianceType::Full,
        CovarianceType::Tied,
        CovarianceType::Diag,
        CovarianceType::Spherical,
    ];

    /// `full`, `tied`, `diag` or `spherical`.
    pub fn name(self) -> &'static str {
        match self {
            CovarianceType::Full => "full",
            CovarianceType::Tied => "tied",
            CovarianceType::Diag => "diag",
            CovarianceType::Spherical => "spherical",
        }
    }

    /// Parses a name as printed by [`CovarianceType::name`].
    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }

    /// Free parameters of a `k`-component mixture in `d` dimensions: covariance parameters,
    /// `k d` means and `k - 1` weights (saturating at `usize::MAX` for absurd `k` or `d`).
    pub fn n_parameters(self, k: usize, d: usize) -> usize {
        let kd = k.saturating_mul(d);
        let tri = d.saturating_mul(d.saturating_add(1)) / 2;
        let cov = match self {
            CovarianceType::Full => k.saturating_mul(tri),
            CovarianceType::Tied => tri,
            CovarianceType::Diag => kd,
            CovarianceType::Spherical => k,
        };
        cov.saturating_add(kd).saturating_add(k).saturating_sub(1)
    }
}

crate::error::impl_names!(
    CovarianceType,
    "covariance_type",
    "one of full, tied, diag, spherical",
    CovarianceType::ALL
);

/// Covariance-shaped parameters (covariances, precisions, or precision factors), in the shapes
/// scikit-learn uses for each type.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(tag = "type", content = "values", rename_all = "lowercase")
)]
pub enum CovMatrices {
    /// `k x d x d`.
    Full(Array3<f64>),
    /// `d x d`.
    Tied(Array2<f64>),
    /// `k x d`.
    Diag(Array2<f64>),
    /// `k`.
    Spherical(Array1<f64>),
}

impl CovMatrices {
    /// The covariance type these parameters belong to.
    pub fn covariance_type(&self) -> CovarianceType {
        match self {
            CovMatrices::Full(_) => CovarianceType::Full,
            CovMatrices::Tied(_) => CovarianceType::Tied,
            CovMatrices::Diag(_) => CovarianceType::Diag,
            CovMatrices::Spherical(_) => CovarianceType::Spherical,
        }
    }

    /// Checks the shape against `k` components in `d` dimensions and that all values are finite.
    pub fn check_shape(&self, k: usize, d: usize, what: &'static str) -> Result<()> {
        let (ok, found) = match self {
            CovMatrices::Full(a) => (a.dim() == (k, d, d), format!("{:?}", a.shape())),
            CovMatrices::Tied(a) => (a.dim() == (d, d), format!("{:?}", a.shape())),
            CovMatrices::Diag(a) => (a.dim() == (k, d), format!("{:?}", a.shape())),
            CovMatrices::Spherical(a) => (a.len() == k, format!("{:?}", a.shape())),
        };
        if !ok {
            let expected = match self {
                CovMatrices::Full(_) => format!("[{k}, {d}, {d}] for full covariances"),
                CovMatrices::Tied(_) => format!("[{d}, {d}] for a tied covariance"),
                CovMatrices::Diag(_) => format!("[{k}, {d}] for diagonal covariances"),
                CovMatrices::Spherical(_) => format!("[{k}] for spherical covariances"),
            };
            return Err(Error::ShapeMismatch {
                what,
                expected,
                found,
            });
        }
        let finite = match self {
            CovMatrices::Full(a) => a.iter().all(|v| v.is_finite()),
            CovMatrices::Tied(a) | CovMatrices::Diag(a) => a.iter().all(|v| v.is_finite()),
            CovMatrices::Spherical(a) => a.iter().all(|v| v.is_finite()),
        };
        if !finite {
            return Err(Error::InvalidParameter {
                name: what,
                value: "a non-finite entry".into(),
                expected: "finite values",
            });
        }
        Ok(())
    }
}

impl CovMatrices {
    /// Checks that Cholesky factors of precisions are usable: the diagonal of every factor
    /// (every entry for diagonal and spherical ones) positive, as a factorisation makes it.
    pub fn check_factors(&self, what: &'static str) -> Result<()> {
        let ok = match self {
            CovMatrices::Full(a) => a
                .outer_iter()
                .all(|m| m.diag().iter().all(|&v| !not_positive(v))),
            CovMatrices::Tied(a) => a.diag().iter().all(|&v| !not_positive(v)),
            CovMatrices::Diag(a) => a.iter().all(|&v| !not_positive(v)),
            CovMatrices::Spherical(a) => a.iter().all(|&v| !not_positive(v)),
        };
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidParameter {
                name: what,
                value: "a zero, negative or NaN diagonal entry".into(),
                expected: "Cholesky factors with a positive diagonal",
            })
        }
    }
}

/// True for zero, negative and NaN values.
fn not_positive(v: f64) -> bool {
    v.is_nan() || v <= 0.0
}

fn not_pd(component: Option<usize>, reg_covar: f64) -> Error {
    Error::IllConditioned {
        component,
        reg_covar,
    }
}

/// Precision factors `U` (`P = U U^T`, upper triangular; `1/sqrt(s)` for diag and spherical)
/// from covariances. Fails naming the component whose covariance is not positive definite.
pub fn precision_cholesky(cov: &CovMatrices, reg_covar: f64) -> Result<CovMatrices> {
    Ok(match cov {
        CovMatrices::Full(c) => {
            let (k, d, _) = c.dim();
            let mut out = Array3::zeros((k, d, d));
            for (j, s) in c.axis_iter(Axis(0)).enumerate() {
                let u = linalg::precision_factor_from_covariance(s)
                    .ok_or(not_pd(Some(j), reg_covar))?;
                out.index_axis_mut(Axis(0), j).assign(&u);
            }
            CovMatrices::Full(out)
        }
        CovMatrices::Tied(s) => CovMatrices::Tied(
            linalg::precision_factor_from_covariance(s.view()).ok_or(not_pd(None, reg_covar))?,
        ),
        CovMatrices::Diag(s) => {
            for (j, row) in s.rows().into_iter().enumerate() {
                if row.iter().any(|&v| not_positive(v)) {
                    return Err(not_pd(Some(j), reg_covar));
                }
            }
            CovMatrices::Diag(s.mapv(|v| 1.0 / v.sqrt()))
        }
        CovMatrices::Spherical(s) => {
            if let Some(j) = s.iter().position(|&v| not_positive(v)) {
                return Err(not_pd(Some(j), reg_covar));
            }
            CovMatrices::Spherical(s.mapv(|v| 1.0 / v.sqrt()))
        }
    })
}

/// Precision factors from precision matrices (the form users give as `precisions_init`).
pub fn precision_cholesky_from_precisions(p: &CovMatrices) -> Result<CovMatrices> {
    let bad = |component| {
        Error::InvalidParameter {
        name: "precisions_init",
        value: match component {
            Some(j) => format!("component {j} not positive definite"),
            None => "a matrix that is not positive definite".into(),
        },
        expected: "symmetric positive definite precision matrices (positive values for diag and spherical)",
    }
    };
    Ok(match p {
        CovMatrices::Full(a) => {
            let (k, d, _) = a.dim();
            let mut out = Array3::zeros((k, d, d));
            for (j, m) in a.axis_iter(Axis(0)).enumerate() {
                let u = linalg::precision_factor_from_precision(m).ok_or_else(|| bad(Some(j)))?;
                out.index_axis_mut(Axis(0), j).assign(&u);
            }
            CovMatrices::Full(out)
        }
        CovMatrices::Tied(m) => CovMatrices::Tied(
            linalg::precision_factor_from_precision(m.view()).ok_or_else(|| bad(None))?,
        ),
        CovMatrices::Diag(m) => {
            if let Some(j) = m
                .rows()
                .into_iter()
                .position(|r| r.iter().any(|&v| not_positive(v)))
            {
                return Err(bad(Some(j)));
            }
            CovMatrices::Diag(m.mapv(f64::sqrt))
        }
        CovMatrices::Spherical(m) => {
            if let Some(j) = m.iter().position(|&v| not_positive(v)) {
                return Err(bad(Some(j)));
            }
            CovMatrices::Spherical(m.mapv(f64::sqrt))
        }
    })
}

/// Covariances from precision factors.
pub fn covariances_from_cholesky(u: &CovMatrices) -> CovMatrices {
    match u {
        CovMatrices::Full(a) => {
            let mut out = a.clone();
            for (j, m) in a.axis_iter(Axis(0)).enumerate() {
                out.index_axis_mut(Axis(0), j)
                    .assign(&linalg::covariance_from_factor(m));
            }
            CovMatrices::Full(out)
        }
        CovMatrices::Tied(m) => CovMatrices::Tied(linalg::covariance_from_factor(m.view())),
        CovMatrices::Diag(m) => CovMatrices::Diag(m.mapv(|v| 1.0 / (v * v))),
        CovMatrices::Spherical(m) => CovMatrices::Spherical(m.mapv(|v| 1.0 / (v * v))),
    }
}

/// Precisions from precision factors.
pub fn precisions_from_cholesky(u: &CovMatrices) -> CovMatrices {
    match u {
        CovMatrices::Full(a) => {
            let mut out = a.clone();
            for (j, m) in a.axis_iter(Axis(0)).enumerate() {
                out.index_axis_mut(Axis(0), j)
                    .assign(&linalg::precision_from_factor(m));
            }
            CovMatrices::Full(out)
        }
        CovMatrices::Tied(m) => CovMatrices::Tied(linalg::precision_from_factor(m.view())),
        CovMatrices::Diag(m) => CovMatrices::Diag(m.mapv(|v| v * v)),
        CovMatrices::Spherical(m) => CovMatrices::Spherical(m.mapv(|v| v * v)),
    }
}

/// `ln det U_k` for each of `k` components (`ln det P_k / 2`).
pub fn log_det_cholesky(u: &CovMatrices, k: usize, d: usize) -> Vec<f64> {
    let diag_sum = |m: ndarray::ArrayView2<'_, f64>| (0..d).map(|i| m[(i, i)].ln()).sum::<f64>();
    match u {
        CovMatrices::Full(a) => a.axis_iter(Axis(0)).map(diag_sum).collect(),
        CovMatrices::Tied(m) => vec![diag_sum(m.view()); k],
        CovMatrices::Diag(m) => m
            .rows()
            .into_iter()
            .map(|r| r.iter().map(|v| v.ln()).sum())
            .collect(),
        CovMatrices::Spherical(m) => m.iter().map(|v| d as f64 * v.ln()).collect(),
    }
}
