//! # softclust: for every point, the probability that it belongs to each cluster
//!
//! A k-means result says which centre is nearest. softclust says how sure that is, with the
//! principled maps from distances to probabilities side by side behind one output contract.
//!
//! ## A guided tour
//!
//! 1. **Validate and scale** ([`data`], [`scale`]). Data are dense `n x d` ndarray views in `f64` or
//!    `f32`; empty input, missing columns and non-finite values are errors naming the row and
//!    column. [`Standardize::ZScore`] maps `x_ij -> (x_ij - mean_j) / sd_j`, [`Standardize::Robust`]
//!    uses the median and interquartile range; both are fitted once and reused on new data.
//! 2. **Cluster** ([`kmeans`]). k-means minimises `J = sum_i w_i min_j |x_i - c_j|²` with greedy
//!    k-means++ seeding, restarts from seeds derived from `(seed, run)`, and Lloyd iterations whose
//!    distances are computed in GEMM form `|x|² - 2 x·c + |c|²` on centred data ([`distance`]).
//! 3. **Soften** ([`soft`]). A distance matrix becomes memberships by
//!    * softmax `p_ij ∝ pi_j exp(-d_ij² / (2 sigma²))` with `sigma² = J / (W d)` estimated by
//!      maximum likelihood: k-means is a fixed-variance Gaussian mixture, and this is its posterior;
//!    * inverse power `p_ij ∝ d_ij^(-p)`, gravity default `p = d - 1` (fuzzy c-means with
//!      `m = 1 + 2/p`);
//!    * min-max scaling, the linear baseline, for comparison only.
//! 4. **Or fit a mixture** ([`gmm`]): Gaussian mixtures by EM with full, tied, diagonal or
//!    spherical covariances, responsibilities `r_ik ∝ pi_k N(x_i | mu_k, S_k)` computed in log
//!    space, BIC/AIC/ICL and automatic choice of k and covariance type ([`select_model`]).
//! 5. **Go beyond memberships**: [`typicality`] (`t_ij = P(chi²_D >= D²_ij)`, outliers get ≈ 0
//!    in every cluster), the [`Anchored`] score, [`consensus`] k-means over bootstrap runs aligned
//!    by the Hungarian method, and [`fcm`] (fuzzy c-means).
//! 6. **Read the contract** ([`Membership`]): probabilities (rows sum to 1), label = argmax,
//!    `max_p`, `margin` and entropy, whatever the method.
//! 7. **Keep the model** ([`ClusterModel`], [`model`]): every fitted model (k-means with the
//!    soft step it owns, mixture, fuzzy c-means, consensus) scores new data through one trait;
//!    [`Model`] holds any of them as a value, and [`ModelFile`] (feature `serde`) is the
//!    versioned JSON file, scaler included, that the CLI and the Python package share.
//!
//! Modules are layered and import one way: kernels (`data`, `distance`, `matmul`, `simd`, ...)
//! -> the contract (`membership`, `soft`, `scale`, `typicality`) -> algorithms (`kmeans`,
//! `fcm`, `gmm`, `consensus`) -> beyond (`selection`, `model`). A public `fit` validates its
//! input once; nested fits (mixture and fuzzy c-means starts, consensus runs, selection
//! candidates) run on the validated data without scanning it again.
//!
//! ```
//! use ndarray::array;
//! use softclust::{kmeans::KMeans, soft::{DistanceKind, SoftMethod}};
//!
//! let x = array![[0.0, 0.0], [0.2, 0.1], [4.0, 4.0], [4.1, 3.9], [2.0, 2.1]];
//! let model = KMeans::new(2).seed(1).fit(x.view(), None)?;
//! let d = model.transform(x.view())?;
//! let soft = SoftMethod::default().fit(d.view(), DistanceKind::Euclidean, Some(2), None)?;
//! let m = soft.memberships(d.view(), DistanceKind::Euclidean)?;
//! // The point half-way between the clusters is the least certain.
//! assert!(m.max_p[4] < m.max_p[0] && m.max_p[4] < m.max_p[2]);
//! // sigma² estimated from the distances is k-means' inertia / (n d).
//! let s = soft.sigma().unwrap()[0];
//! assert!((s * s - model.sigma2()).abs() < 1e-12);
//! # Ok::<(), softclust::Error>(())
//! ```
//!
//! Same seed, same result, on any number of threads: rows are processed in fixed-size
//! segments and every reduction runs in segment order. Non-convergence is reported in the
//! diagnostics, never as an error; errors are [`Error`] values whose messages say what to do.

pub mod assignment;
pub mod consensus;
pub mod data;
pub mod distance;
mod error;
pub mod fcm;
pub mod float;
pub mod gmm;
pub mod interrupt;
pub mod kmeans;
mod linalg;
mod matmul;
pub mod membership;
pub mod metrics;
pub mod model;
pub mod projection;
pub mod rng;
pub mod scale;
pub mod selection;
mod simd;
pub mod soft;
pub mod sparse;
pub mod special;
pub mod topk;
pub mod typicality;

pub use error::{Error, Result};
pub use float::Float;
pub use gmm::{
    CovMatrices, CovarianceType, Criteria, GaussianMixture, GaussianMixtureModel, GmmInit,
};
pub use interrupt::Interrupt;
pub use kmeans::{Algorithm as KMeansAlgorithm, Init, KMeans, KMeansDiagnostics, KMeansModel};
pub use membership::{ClusterModel, Membership};
pub use model::{Model, ModelFile};
pub use scale::{Scaler, Standardize};
pub use selection::{select_model, Criterion, Selection};
pub use soft::{
    soft_assign, Anchor, Anchored, DistanceKind, FittedSoft, InversePower, SoftKind, SoftMethod,
    SoftSpec, Softmax,
};
pub use topk::{top_k, TopK};
pub use typicality::Spread;

/// The SIMD instruction set the element-wise kernels run with on this CPU (chosen at run
/// time): `"AVX-512 (x86-64-v4)"`, `"AVX2+FMA (x86-64-v3)"`, `"NEON"` or `"baseline"`.
pub fn simd_level() -> &'static str {
    simd::level()
}

/// The README's Rust example, compiled and run as a doctest.
#[doc = include_str!("../../../README.md")]
#[cfg(all(doctest, feature = "serde"))]
pub struct ReadmeDoctests;
