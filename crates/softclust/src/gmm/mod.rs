//! Gaussian mixtures fitted by expectation-maximisation.
//!
//! The model is `p(x) = sum_k pi_k N(x | mu_k, S_k)` with one of four covariance structures
//! ([`CovarianceType`]). EM alternates
//!
//! * **E-step**: responsibilities `r_ik = pi_k N(x_i | mu_k, S_k) / p(x_i)`, in log space;
//! * **M-step**: `n_k = sum_i w_i r_ik`, `pi_k = n_k / sum_k n_k`, `mu_k = sum_i w_i r_ik x_i / n_k`,
//!   covariances as in [`covariance`], each with `reg_covar` added to the diagonal,
//!
//! and each iteration never lowers the (weighted) mean log-likelihood
//! `L = sum_i w_i ln p(x_i) / sum_i w_i`, the "lower bound" reported per iteration. The loop stops
//! when `L` changes by less than `tol`; one more E-step after the loop makes the training labels
//! equal `predict`. Parameter names and defaults are scikit-learn's, so results from the same
//! starting parameters agree with `sklearn.mixture.GaussianMixture` (and sample weights work).
//!
//! ```
//! use ndarray::array;
//! use softclust::gmm::{CovarianceType, GaussianMixture};
//!
//! let x = array![[0.0, 0.1], [0.2, -0.1], [-0.1, 0.0], [5.0, 5.1], [5.2, 4.9], [4.9, 5.0]];
//! let model = GaussianMixture::new(2).covariance_type(CovarianceType::Spherical).fit(x.view(), None)?;
//! let m = model.memberships(x.view())?;
//! assert_eq!(m.label[0], m.label[2]);
//! assert_ne!(m.label[0], m.label[3]);
//! assert!(model.bic(x.view(), None)? < GaussianMixture::new(1).fit(x.view(), None)?.bic(x.view(), None)?);
//! # Ok::<(), softclust::Error>(())
//! ```

pub mod block;
pub mod config;
pub mod covariance;
pub(crate) mod em;
mod fit;
mod init;
mod kernel;
pub mod model;
pub mod noise;

pub use config::{defaults, GaussianMixture, GmmInit};
pub use covariance::{CovMatrices, CovarianceType};
pub use model::{Criteria, GaussianMixtureModel, GmmDiagnostics};
pub use noise::Noise;
