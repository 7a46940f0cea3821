//! The mixture's configuration: [`GaussianMixture`] with scikit-learn's parameter names and
//! defaults, [`GmmInit`], and the checks of both.

use super::covariance::{CovMatrices, CovarianceType};
use super::model::GaussianMixtureModel;
use crate::data::{check_matrix, check_weights};
use crate::error::{invalid, Error, Result};
use crate::float::Float;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

/// How EM is started when no full set of initial parameters is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GmmInit {
    /// Responsibilities from the labels of one k-means run (the default).
    KMeans,
    /// One-hot responsibilities on the k-means++ seeds.
    KMeansPlusPlus,
    /// Uniform random responsibilities, normalised per row.
    Random,
    /// One-hot responsibilities on `k` random points.
    RandomFromData,
}

impl GmmInit {
    /// Every method, in scikit-learn's order.
    pub const ALL: [GmmInit; 4] = [
        GmmInit::KMeans,
        GmmInit::KMeansPlusPlus,
        GmmInit::Random,
        GmmInit::RandomFromData,
    ];
    /// `kmeans`, `k-means++`, `random` or `random_from_data` (scikit-learn's names).
    pub fn name(self) -> &'static str {
        match self {
            GmmInit::KMeans => "kmeans",
            GmmInit::KMeansPlusPlus => "k-means++",
            GmmInit::Random => "random",
            GmmInit::RandomFromData => "random_from_data",
        }
    }
}

crate::error::impl_names!(
    GmmInit,
    "init_params",
    "one of kmeans, k-means++, random, random_from_data",
    GmmInit::ALL
);

/// Default settings of [`GaussianMixture`], scikit-learn's (the CLI and Python take theirs
/// from here).
pub mod defaults {
    /// Convergence threshold on the mean log-likelihood.
    pub const TOL: f64 = 1e-3;
    /// Added to every covariance's diagonal.
    pub const REG_COVAR: f64 = 1e-6;
    /// Maximum EM iterations per run.
    pub const MAX_ITER: usize = 100;
    /// Runs: three EM runs from three k-means starts, the best lower bound kept (scikit-learn
    /// runs one). One run misses the best optimum in some seeds (`bash bench/run --quality`:
    /// 1 in 20 on 30-dimensional data); three cost less than scikit-learn's one, the EM kernels
    /// being 8-13x faster.
    pub const N_INIT: usize = 3;
}

/// Gaussian mixture configuration; defaults are scikit-learn's.
#[derive(Debug, Clone)]
pub struct GaussianMixture {
    pub(crate) n_components: usize,
    pub(crate) covariance_type: CovarianceType,
    pub(crate) tol: f64,
    pub(crate) reg_covar: f64,
    pub(crate) max_iter: usize,
    pub(crate) n_init: usize,
    pub(crate) init_params: GmmInit,
    pub(crate) weights_init: Option<Array1<f64>>,
    pub(crate) means_init: Option<Array2<f64>>,
    pub(crate) precisions_init: Option<CovMatrices>,
    pub(crate) seed: u64,
    pub(crate) warm_start: Option<Box<GaussianMixtureModel>>,
    pub(crate) auto_regularize: bool,
    pub(crate) noise: Option<f64>,
    pub(crate) interrupt: Option<crate::interrupt::Interrupt>,
}

impl GaussianMixture {
    /// A mixture of `n_components` Gaussians with full covariances and scikit-learn's defaults:
    /// `tol = 1e-3`, `reg_covar = 1e-6`, `max_iter = 100`, k-means initialisation, as
    /// scikit-learn; `n_init = 3` (scikit-learn: 1; see [`defaults::N_INIT`]).
    pub fn new(n_components: usize) -> Self {
        GaussianMixture {
            n_components,
            covariance_type: CovarianceType::Full,
            tol: defaults::TOL,
            reg_covar: defaults::REG_COVAR,
            max_iter: defaults::MAX_ITER,
            n_init: defaults::N_INIT,
            init_params: GmmInit::KMeans,
            weights_init: None,
            means_init: None,
            precisions_init: None,
            seed: 0,
            warm_start: None,
            auto_regularize: false,
            interrupt: None,
            noise: None,
        }
    }
    /// Covariance structure.
    pub fn covariance_type(mut self, t: CovarianceType) -> Self {
        self.covariance_type = t;
        self
    }
    /// Convergence threshold on the change of the mean per-sample log-likelihood.
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }
    /// Non-negative regularisation added to the diagonal of every covariance.
    pub fn reg_covar(mut self, r: f64) -> Self {
        self.reg_covar = r;
        self
    }
    /// Maximum EM iterations per run.
    pub fn max_iter(mut self, m: usize) -> Self {
        self.max_iter = m;
        self
    }
    /// Number of runs from different initialisations (seeds derived from `(seed, run)`); the
    /// run with the highest final lower bound wins.
    pub fn n_init(mut self, n: usize) -> Self {
        self.n_init = n;
        self
    }
    /// Initialisation method for the parameters not given explicitly.
    pub fn init_params(mut self, i: GmmInit) -> Self {
        self.init_params = i;
        self
    }
    /// Initial mixing weights (`k`, non-negative, summing to 1).
    pub fn weights_init(mut self, w: Array1<f64>) -> Self {
        self.weights_init = Some(w);
        self
    }
    /// Initial means (`k x d`).
    pub fn means_init(mut self, m: Array2<f64>) -> Self {
        self.means_init = Some(m);
        self
    }
    /// Initial precision matrices, shaped for the covariance type.
    pub fn precisions_init(mut self, p: CovMatrices) -> Self {
        self.precisions_init = Some(p);
        self
    }
    /// Master seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Lets `flag` stop the fit: once triggered, the fit returns [`Error::Interrupted`] at its
    /// next iteration (the Python package triggers it on Ctrl-C).
    pub fn interrupt(mut self, flag: crate::interrupt::Interrupt) -> Self {
        self.interrupt = Some(flag);
        self
    }
    /// Starts EM from a fitted model's parameters (one run, no initialisation).
    pub fn warm_start(mut self, model: &GaussianMixtureModel) -> Self {
        self.warm_start = Some(Box::new(model.clone()));
        self
    }
    /// When a covariance is not positive definite, raise `reg_covar` (relative to the data's
    /// variance) until it is, instead of failing; the diagnostics record it.
    pub fn auto_regularize(mut self, yes: bool) -> Self {
        self.auto_regularize = yes;
        self
    }
    /// Adds a uniform noise component over the data's bounding box (as mclust does), starting
    /// with weight `initial_weight` in (0, 1); memberships gain a last "noise" column. With
    /// k-means initialisation the start is trimmed: the `initial_weight` share of points
    /// farthest from their k-means centres starts in the noise component.
    pub fn noise(mut self, initial_weight: f64) -> Self {
        self.noise = Some(initial_weight);
        self
    }
    /// Number of components.
    pub fn n_components(&self) -> usize {
        self.n_components
    }
    /// The covariance type.
    pub fn get_covariance_type(&self) -> CovarianceType {
        self.covariance_type
    }

    /// Validates the data (one scan for non-finite values), the weights and the settings.
    pub(crate) fn validate<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
        w: Option<ArrayView1<'_, F>>,
    ) -> Result<()> {
        check_matrix(x, "data")?;
        if let Some(w) = w {
            check_weights(w, x.nrows())?;
        }
        self.check_settings(x.nrows(), x.ncols())
    }

    /// The settings against data of `n` rows and `d` columns (no pass over the data).
    pub(crate) fn check_settings(&self, n: usize, d: usize) -> Result<()> {
        let k = self.n_components;
        if k == 0 {
            return Err(invalid("n_components", 0, "an integer >= 1"));
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(invalid("tol", self.tol, "a finite number >= 0"));
        }
        if !(self.reg_covar.is_finite() && self.reg_covar >= 0.0) {
            return Err(invalid("reg_covar", self.reg_covar, "a finite number >= 0"));
        }
        crate::data::check_restarts("n_init", self.n_init)?;
        if let Some(p0) = self.noise {
            if !(p0 > 0.0 && p0 < 1.0) {
                return Err(invalid("noise", p0, "an initial noise weight in (0, 1)"));
            }
        }
        if n < k {
            return Err(Error::TooFewPoints {
                n_samples: n,
                n_clusters: k,
            });
        }
        if let Some(wi) = &self.weights_init {
            if wi.len() != k {
                return Err(Error::ShapeMismatch {
                    what: "weights_init",
                    expected: format!("{k} weights"),
                    found: format!("{}", wi.len()),
                });
            }
            if wi
                .iter()
                .any(|&v| !(v.is_finite() && (0.0..=1.0).contains(&v)))
            {
                return Err(invalid(
                    "weights_init",
                    format!("{wi}"),
                    "weights in [0, 1]",
                ));
            }
            if (wi.sum() - 1.0).abs() > 1e-6 {
                return Err(invalid(
                    "weights_init",
                    format!("{wi} (sum {})", wi.sum()),
                    "weights summing to 1",
                ));
            }
        }
        if let Some(m) = &self.means_init {
            if m.dim() != (k, d) {
                return Err(Error::ShapeMismatch {
                    what: "means_init",
                    expected: format!("{k} x {d}"),
                    found: format!("{} x {}", m.nrows(), m.ncols()),
                });
            }
            check_matrix(m.view(), "means_init")?;
        }
        if let Some(p) = &self.precisions_init {
            if p.covariance_type() != self.covariance_type {
                return Err(invalid(
                    "precisions_init",
                    format!("{} precisions", p.covariance_type().name()),
                    "precisions of the configured covariance type",
                ));
            }
            p.check_shape(k, d, "precisions_init")?;
        }
        if let Some(m) = &self.warm_start {
            if m.n_components() != k
                || m.n_features() != d
                || m.covariance_type() != self.covariance_type
            {
                return Err(Error::ShapeMismatch {
                    what: "warm-start model",
                    expected: format!(
                        "{k} {} components in {d} dimensions",
                        self.covariance_type.name()
                    ),
                    found: format!(
                        "{} {} components in {} dimensions",
                        m.n_components(),
                        m.covariance_type().name(),
                        m.n_features()
                    ),
                });
            }
        }
        Ok(())
    }
}
