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

pub mod covariance;
pub(crate) mod em;
mod kernel;
pub mod selection;

pub use covariance::{CovMatrices, CovarianceType};

use crate::data::{check_matrix, check_weights};
use crate::error::{invalid, Error, Result};
use crate::float::Float;
use crate::kmeans::{Init, KMeans};
use crate::membership::Membership;
use crate::rng::{derive_seed, Rng};
use covariance::{
    covariances_from_cholesky, precision_cholesky, precision_cholesky_from_precisions,
    precisions_from_cholesky,
};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

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

/// Gaussian mixture configuration; defaults are scikit-learn's.
#[derive(Debug, Clone)]
pub struct GaussianMixture {
    n_components: usize,
    covariance_type: CovarianceType,
    tol: f64,
    reg_covar: f64,
    max_iter: usize,
    n_init: usize,
    init_params: GmmInit,
    weights_init: Option<Array1<f64>>,
    means_init: Option<Array2<f64>>,
    precisions_init: Option<CovMatrices>,
    seed: u64,
    warm_start: Option<Box<GaussianMixtureModel>>,
    auto_regularize: bool,
    noise: Option<f64>,
}

/// What happened during a fit.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct GmmDiagnostics {
    /// Whether the best run's lower bound changed by less than `tol`.
    pub converged: bool,
    /// EM iterations of the best run.
    pub n_iter: usize,
    /// The best run's final lower bound (weighted mean log-likelihood).
    pub lower_bound: f64,
    /// The lower bound after every iteration of the best run.
    pub lower_bounds: Vec<f64>,
    /// Index of the best run.
    pub best_run: usize,
    /// Final lower bound of every run.
    pub run_lower_bounds: Vec<f64>,
    /// The `reg_covar` in force at the end (larger than asked after automatic regularisation).
    pub reg_covar: f64,
    /// How many times automatic regularisation raised `reg_covar`.
    pub regularization_increases: usize,
}

/// A fitted Gaussian mixture. Immutable; every method validates its input.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GaussianMixtureModel {
    weights: Array1<f64>,
    means: Array2<f64>,
    precisions_cholesky: CovMatrices,
    #[cfg_attr(feature = "serde", serde(default))]
    noise: Option<Noise>,
    diagnostics: GmmDiagnostics,
}

impl GaussianMixture {
    /// A mixture of `n_components` Gaussians with full covariances and scikit-learn's defaults:
    /// `tol = 1e-3`, `reg_covar = 1e-6`, `max_iter = 100`, `n_init = 1`, k-means initialisation.
    pub fn new(n_components: usize) -> Self {
        GaussianMixture {
            n_components,
            covariance_type: CovarianceType::Full,
            tol: 1e-3,
            reg_covar: 1e-6,
            max_iter: 100,
            n_init: 1,
            init_params: GmmInit::KMeans,
            weights_init: None,
            means_init: None,
            precisions_init: None,
            seed: 0,
            warm_start: None,
            auto_regularize: false,
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

    fn validate<F: Float>(&self, x: ArrayView2<'_, F>, w: Option<ArrayView1<'_, F>>) -> Result<()> {
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
        if self.max_iter == 0 {
            return Err(invalid("max_iter", 0, "an integer >= 1"));
        }
        if self.n_init == 0 {
            return Err(invalid("n_init", 0, "an integer >= 1"));
        }
        if let Some(p0) = self.noise {
            if !(p0 > 0.0 && p0 < 1.0) {
                return Err(invalid("noise", p0, "an initial noise weight in (0, 1)"));
            }
        }
        check_matrix(x, "data")?;
        let (n, d) = x.dim();
        if n < k {
            return Err(Error::TooFewPoints {
                n_samples: n,
                n_clusters: k,
            });
        }
        if let Some(w) = w {
            check_weights(w, n)?;
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

    /// Starting parameters for run `run`: `(weights, means, precision factors)`.
    fn initialize<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
        w: &[f64],
        run: usize,
        reg: &mut Regularizer,
    ) -> Result<(Array1<f64>, Array2<f64>, CovMatrices)> {
        if let Some(m) = &self.warm_start {
            return Ok((
                m.weights.clone(),
                m.means.clone(),
                m.precisions_cholesky.clone(),
            ));
        }
        let (n, _) = x.dim();
        let k = self.n_components;
        let seed = derive_seed(self.seed, run as u64);
        let mut rng = Rng::new(seed);
        let all_given = self.weights_init.is_some()
            && self.means_init.is_some()
            && self.precisions_init.is_some();
        let (mut weights, mut means, mut prec) = if all_given {
            (Array1::zeros(0), Array2::zeros((0, 0)), None)
        } else {
            let mut resp = Array2::<f64>::zeros((n, k));
            match self.init_params {
                GmmInit::KMeans => {
                    let km = KMeans::new(k)
                        .n_init(1)
                        .seed(seed)
                        .init(Init::KMeansPlusPlus);
                    let mut wv: Array1<F> = w.iter().map(|&v| F::of(v)).collect();
                    let mut model = km.fit(x, Some(wv.view()))?;
                    let mut trimmed = vec![false; n];
                    if let Some(p0) = self.noise {
                        // Trimmed start (in the spirit of TCLUST): points of clusters too small
                        // to hold a covariance (fewer than d + 1 points, such as an extreme
                        // outlier that seized a centre) and the share p0 of points farthest from
                        // their centres start in the noise component; k-means is refitted
                        // without them, twice, so that outliers cannot seize a component.
                        let d = x.ncols();
                        let n_trim = ((p0 * n as f64).ceil() as usize).min(n.saturating_sub(k));
                        for _ in 0..2 {
                            let labels = model.labels();
                            let mut size = vec![0usize; k];
                            for (i, &l) in labels.iter().enumerate() {
                                if wv[i] > F::zero() {
                                    size[l] += 1;
                                }
                            }
                            let d2 = model.squared_distances(x)?;
                            let mut far: Vec<(f64, usize)> = labels
                                .iter()
                                .enumerate()
                                .filter(|&(i, _)| !trimmed[i])
                                .map(|(i, &l)| {
                                    let key = if size[l] <= d {
                                        f64::INFINITY
                                    } else {
                                        d2[(i, l)].as_f64()
                                    };
                                    (key, i)
                                })
                                .collect();
                            far.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                            let already = trimmed.iter().filter(|&&t| t).count();
                            let extra = far
                                .iter()
                                .take_while(|&&(key, _)| key.is_infinite())
                                .count()
                                .max(n_trim.saturating_sub(already));
                            for &(_, i) in far.iter().take(extra) {
                                trimmed[i] = true;
                                wv[i] = F::zero();
                            }
                            let kept = wv.iter().filter(|&&v| v > F::zero()).count();
                            if kept < k {
                                break;
                            }
                            model = km.fit(x, Some(wv.view()))?;
                        }
                    }
                    for (i, &l) in model.labels().iter().enumerate() {
                        if !trimmed[i] {
                            resp[(i, l)] = 1.0;
                        }
                    }
                }
                GmmInit::KMeansPlusPlus => {
                    let wv: Array1<F> = w.iter().map(|&v| F::of(v)).collect();
                    let seeds = KMeans::new(k).seed(seed).seed_indices(x, Some(wv.view()))?;
                    for (c, &i) in seeds.iter().enumerate() {
                        resp[(i, c)] = 1.0;
                    }
                }
                GmmInit::Random => {
                    for mut row in resp.rows_mut() {
                        row.mapv_inplace(|_| rng.uniform());
                        let s = row.sum();
                        row /= s;
                    }
                }
                GmmInit::RandomFromData => {
                    let mut chosen: Vec<usize> = Vec::with_capacity(k);
                    while chosen.len() < k {
                        let i = rng.below(n);
                        if !chosen.contains(&i) {
                            chosen.push(i);
                        }
                    }
                    for (c, &i) in chosen.iter().enumerate() {
                        resp[(i, c)] = 1.0;
                    }
                }
            }
            let t = self.covariance_type;
            let (nk, means, cov, prec) =
                reg.solve(|r| em::estimate_parameters(x, resp.view(), w, r, t))?;
            let total: f64 = w.iter().sum();
            (nk / total, means, Some((cov, prec)))
        };
        if let Some(wi) = &self.weights_init {
            weights = wi.clone();
        }
        if let Some(mi) = &self.means_init {
            means = mi.clone();
        }
        let prec_chol = match &self.precisions_init {
            Some(p) => precision_cholesky_from_precisions(p)?,
            None => match prec.take() {
                Some((_, pc)) => pc,
                None => unreachable_prec()?,
            },
        };
        Ok((weights, means, prec_chol))
    }

    /// Fits the mixture to `x` (n x d) with optional sample weights.
    pub fn fit<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
        sample_weight: Option<ArrayView1<'_, F>>,
    ) -> Result<GaussianMixtureModel> {
        self.fit_with_progress(x, sample_weight, &mut |_, _, _| {})
    }

    /// [`GaussianMixture::fit`], calling `progress(run, iteration, lower_bound)` after every
    /// EM iteration.
    pub fn fit_with_progress<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
        sample_weight: Option<ArrayView1<'_, F>>,
        progress: &mut dyn FnMut(usize, usize, f64),
    ) -> Result<GaussianMixtureModel> {
        self.validate(x, sample_weight)?;
        let n = x.nrows();
        let w = crate::data::weights_or_ones(sample_weight, n);
        let mut reg = Regularizer::new(self.reg_covar, self.auto_regularize, x);
        let w_total: f64 = w.iter().sum();
        // The full and tied EM kernels work on data shifted by their column means.
        let m0: Vec<f64> = match self.covariance_type {
            CovarianceType::Full | CovarianceType::Tied => crate::distance::column_means(x)
                .iter()
                .map(|v| v.as_f64())
                .collect(),
            CovarianceType::Diag | CovarianceType::Spherical => vec![0.0; x.ncols()],
        };
        let n_runs = if self.warm_start.is_some() {
            1
        } else {
            self.n_init
        };
        let mut best: Option<Run> = None;
        let mut run_lower_bounds = Vec::with_capacity(n_runs);
        for run in 0..n_runs {
            let (mut weights, mut means, mut prec_chol) = self.initialize(x, &w, run, &mut reg)?;
            let mut noise = match (&self.warm_start, self.noise) {
                (Some(m), _) => m.noise,
                (None, Some(p0)) => {
                    weights *= 1.0 - p0;
                    Some(Noise {
                        log_weight: p0.ln(),
                        log_volume: log_box_volume(x)?,
                    })
                }
                (None, None) => None,
            };
            let mut lower_bound = match &self.warm_start {
                Some(m) => m.diagnostics.lower_bound,
                None => f64::NEG_INFINITY,
            };
            let mut history = Vec::new();
            let mut converged = false;
            let mut n_iter = 0;
            for it in 1..=self.max_iter {
                n_iter = it;
                let prev = lower_bound;
                let log_w: Vec<f64> = weights.iter().map(|v| v.ln()).collect();
                let ev = kernel::Evaluator::new(
                    &log_w,
                    means.view(),
                    &prec_chol,
                    m0.clone(),
                    noise.map(|nz| nz.log_weight - nz.log_volume),
                    false,
                );
                let sums = kernel::em_pass(x, &w, &ev);
                let mean_ll = sums.log_lik / w_total;
                let t = self.covariance_type;
                let (nk, m, _, pc) = reg.solve(|r| sums.parameters(&ev, r, t))?;
                let k = self.n_components;
                match noise.as_mut() {
                    None => weights = &nk / nk.sum(),
                    Some(nz) => {
                        let n0 = sums.nk[k] + 10.0 * f64::EPSILON;
                        let total = nk.sum() + n0;
                        weights = &nk / total;
                        nz.log_weight = (n0 / total).ln();
                    }
                }
                means = m;
                prec_chol = pc;
                lower_bound = mean_ll;
                history.push(lower_bound);
                progress(run, it - 1, lower_bound);
                if (lower_bound - prev).abs() < self.tol {
                    converged = true;
                    break;
                }
            }
            run_lower_bounds.push(lower_bound);
            if best.as_ref().is_none_or(|b| lower_bound > b.lower_bound) {
                best = Some(Run {
                    index: run,
                    converged,
                    n_iter,
                    lower_bound,
                    history,
                    weights,
                    means,
                    prec_chol,
                    noise,
                });
            }
        }
        let Some(best) = best else {
            return Err(invalid("n_init", 0, "an integer >= 1"));
        };
        Ok(GaussianMixtureModel {
            weights: best.weights,
            means: best.means,
            precisions_cholesky: best.prec_chol,
            noise: best.noise,
            diagnostics: GmmDiagnostics {
                converged: best.converged,
                n_iter: best.n_iter,
                lower_bound: best.lower_bound,
                lower_bounds: best.history,
                best_run: best.index,
                run_lower_bounds,
                reg_covar: reg.current,
                regularization_increases: reg.increases,
            },
        })
    }
}

/// The outcome of one EM run.
struct Run {
    index: usize,
    converged: bool,
    n_iter: usize,
    lower_bound: f64,
    history: Vec<f64>,
    weights: Array1<f64>,
    means: Array2<f64>,
    prec_chol: CovMatrices,
    noise: Option<Noise>,
}

fn unreachable_prec() -> Result<CovMatrices> {
    Err(Error::MissingParameter {
        name: "initial precisions",
        hint: "internal: no precisions were computed or given",
    })
}

/// `reg_covar`, raised on demand when automatic regularisation is on.
struct Regularizer {
    current: f64,
    auto: bool,
    scale: f64,
    increases: usize,
}

impl Regularizer {
    fn new<F: Float>(reg_covar: f64, auto: bool, x: ArrayView2<'_, F>) -> Self {
        let scale = if auto {
            let mu: Vec<f64> = crate::distance::column_means(x)
                .iter()
                .map(|v| v.as_f64())
                .collect();
            crate::data::mean_variance(x, &mu).max(f64::MIN_POSITIVE)
        } else {
            0.0
        };
        Regularizer {
            current: reg_covar,
            auto,
            scale,
            increases: 0,
        }
    }

    /// One M-step from `estimate(reg_covar)`; with automatic regularisation, retries with
    /// `reg_covar` raised tenfold (starting from `1e-10` of the mean feature variance) until the
    /// covariances are positive definite or `reg_covar` exceeds the mean variance itself.
    fn solve(
        &mut self,
        estimate: impl Fn(f64) -> (Array1<f64>, Array2<f64>, CovMatrices),
    ) -> Result<(Array1<f64>, Array2<f64>, CovMatrices, CovMatrices)> {
        loop {
            let (nk, means, cov) = estimate(self.current);
            match precision_cholesky(&cov, self.current) {
                Ok(pc) => return Ok((nk, means, cov, pc)),
                Err(e) => {
                    if !self.auto || self.current > self.scale {
                        return Err(e);
                    }
                    self.current = (self.current * 10.0).max(1e-10 * self.scale);
                    self.increases += 1;
                }
            }
        }
    }
}

/// A uniform noise component over the training data's bounding box: weight `pi_0` and density
/// `1 / V`, `V = prod_j (max_j - min_j)`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Noise {
    /// `ln pi_0`.
    pub log_weight: f64,
    /// `ln V`.
    pub log_volume: f64,
}

/// `ln V` of the bounding box of `x`; every feature must have a positive extent.
fn log_box_volume<F: Float>(x: ArrayView2<'_, F>) -> Result<f64> {
    let mut lv = 0.0;
    for (j, col) in x.axis_iter(Axis(1)).enumerate() {
        let lo = col.iter().fold(f64::INFINITY, |m, v| m.min(v.as_f64()));
        let hi = col.iter().fold(f64::NEG_INFINITY, |m, v| m.max(v.as_f64()));
        if hi <= lo {
            return Err(invalid(
                "noise",
                format!("feature {j} is constant"),
                "a bounding box with positive extent in every feature (drop constant columns)",
            ));
        }
        lv += (hi - lo).ln();
    }
    Ok(lv)
}

impl GaussianMixtureModel {
    /// A model from given parameters: weights (`k`), means (`k x d`) and either covariances or
    /// precisions (`covariances = true` for the former), shaped for their type.
    pub fn from_parameters(
        weights: Array1<f64>,
        means: Array2<f64>,
        params: CovMatrices,
        covariances: bool,
    ) -> Result<Self> {
        let (k, d) = means.dim();
        check_matrix(means.view(), "means")?;
        params.check_shape(
            k,
            d,
            if covariances {
                "covariances"
            } else {
                "precisions"
            },
        )?;
        if weights.len() != k {
            return Err(Error::ShapeMismatch {
                what: "weights",
                expected: format!("{k} weights, one per mean"),
                found: format!("{}", weights.len()),
            });
        }
        if weights.iter().any(|&v| !(v.is_finite() && v >= 0.0)) || weights.sum() <= 0.0 {
            return Err(invalid(
                "weights",
                format!("{weights}"),
                "non-negative weights with a positive sum",
            ));
        }
        let precisions_cholesky = if covariances {
            precision_cholesky(&params, 0.0)?
        } else {
            precision_cholesky_from_precisions(&params)?
        };
        Self::from_cholesky(&weights / weights.sum(), means, precisions_cholesky, None)
    }

    /// A model from weights, means and precision factors `U_k` (as [`Self::precisions_cholesky`]
    /// returns them), and optionally a noise component; validated.
    pub fn from_cholesky(
        weights: Array1<f64>,
        means: Array2<f64>,
        precisions_cholesky: CovMatrices,
        noise: Option<Noise>,
    ) -> Result<Self> {
        let model = GaussianMixtureModel {
            weights,
            means,
            precisions_cholesky,
            noise,
            diagnostics: GmmDiagnostics {
                converged: true,
                n_iter: 0,
                lower_bound: f64::NAN,
                lower_bounds: Vec::new(),
                best_run: 0,
                run_lower_bounds: Vec::new(),
                reg_covar: 0.0,
                regularization_increases: 0,
            },
        };
        model.validate()?;
        Ok(model)
    }

    /// Checks that the parameters fit together (for models read from files).
    pub fn validate(&self) -> Result<()> {
        let (k, d) = self.means.dim();
        if k == 0 || d == 0 {
            return Err(Error::EmptyInput {
                what: "model means",
            });
        }
        check_matrix(self.means.view(), "means")?;
        self.precisions_cholesky
            .check_shape(k, d, "precision factors")?;
        if self.weights.len() != k {
            return Err(Error::ShapeMismatch {
                what: "weights",
                expected: format!("{k} weights, one per mean"),
                found: format!("{}", self.weights.len()),
            });
        }
        if self.weights.iter().any(|&v| !(v.is_finite() && v >= 0.0)) {
            return Err(invalid(
                "weights",
                format!("{}", self.weights),
                "non-negative weights",
            ));
        }
        Ok(())
    }

    /// Number of components `k`.
    pub fn n_components(&self) -> usize {
        self.means.nrows()
    }
    /// Number of features `d`.
    pub fn n_features(&self) -> usize {
        self.means.ncols()
    }
    /// Covariance type.
    pub fn covariance_type(&self) -> CovarianceType {
        self.precisions_cholesky.covariance_type()
    }
    /// Mixing weights `pi_k` of the Gaussian components (summing to `1 - pi_0` when there is a
    /// noise component).
    pub fn weights(&self) -> ArrayView1<'_, f64> {
        self.weights.view()
    }
    /// Means, `k x d`.
    pub fn means(&self) -> ArrayView2<'_, f64> {
        self.means.view()
    }
    /// Upper-triangular precision factors `U_k` with `P_k = U_k U_k^T` (scikit-learn's
    /// `precisions_cholesky_`).
    pub fn precisions_cholesky(&self) -> &CovMatrices {
        &self.precisions_cholesky
    }
    /// Precision matrices `P_k = S_k^{-1}`.
    pub fn precisions(&self) -> CovMatrices {
        precisions_from_cholesky(&self.precisions_cholesky)
    }
    /// Covariance matrices `S_k`.
    pub fn covariances(&self) -> CovMatrices {
        covariances_from_cholesky(&self.precisions_cholesky)
    }
    /// Fit diagnostics.
    pub fn diagnostics(&self) -> &GmmDiagnostics {
        &self.diagnostics
    }
    /// Whether EM converged.
    pub fn converged(&self) -> bool {
        self.diagnostics.converged
    }
    /// Free parameters (one more with a noise component: its weight).
    pub fn n_parameters(&self) -> usize {
        self.covariance_type()
            .n_parameters(self.n_components(), self.n_features())
            + usize::from(self.noise.is_some())
    }
    /// The noise component, if the model has one.
    pub fn noise(&self) -> Option<Noise> {
        self.noise
    }
    /// Number of membership columns: components, plus one for noise.
    pub fn n_membership_columns(&self) -> usize {
        self.n_components() + usize::from(self.noise.is_some())
    }

    fn check_new<F: Float>(&self, x: ArrayView2<'_, F>) -> Result<()> {
        check_matrix(x, "data")?;
        if x.ncols() != self.n_features() {
            return Err(Error::ShapeMismatch {
                what: "data",
                expected: format!("{} columns, as in training", self.n_features()),
                found: format!("{} columns", x.ncols()),
            });
        }
        Ok(())
    }

    /// The block evaluator of this model (data shifted by the mean of the component means).
    fn evaluator(&self, raw: bool) -> kernel::Evaluator {
        let k = self.n_components();
        let m0: Vec<f64> = self
            .means
            .mean_axis(Axis(0))
            .map_or_else(|| vec![0.0; self.n_features()], |m| m.to_vec());
        let log_w: Vec<f64> = if raw {
            vec![0.0; k]
        } else {
            self.weights.iter().map(|v| v.ln()).collect()
        };
        let noise = if raw {
            None
        } else {
            self.noise.map(|nz| nz.log_weight - nz.log_volume)
        };
        kernel::Evaluator::new(
            &log_w,
            self.means.view(),
            &self.precisions_cholesky,
            m0,
            noise,
            raw,
        )
    }

    /// Weighted log-densities `ln pi_k + ln N(x_i | k)`, plus `ln pi_0 - ln V` as a last column
    /// when there is a noise component.
    fn weighted_log_prob<F: Float>(&self, x: ArrayView2<'_, F>) -> Result<Array2<f64>> {
        self.check_new(x)?;
        Ok(self.evaluator(false).evaluate(x))
    }

    /// Squared Mahalanobis distances `(x_i - mu_k)^T P_k (x_i - mu_k)`, `n x k`.
    pub fn mahalanobis_sq<F: Float>(&self, x: ArrayView2<'_, F>) -> Result<Array2<f64>> {
        self.check_new(x)?;
        Ok(self.evaluator(true).evaluate(x))
    }

    /// Typicality `t_ik = P(chi²_d >= D²_ik)` of every row for every component, and the
    /// outlier score `1 - max_k t_ik` ([`crate::typicality`]).
    pub fn typicality<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
    ) -> Result<crate::typicality::Typicality> {
        let d2 = self.mahalanobis_sq(x)?;
        Ok(crate::typicality::Typicality::from_mahalanobis(
            d2.view(),
            self.n_features(),
        ))
    }

    /// Log-density `ln p(x_i)` of each row.
    pub fn score_samples<F: Float>(&self, x: ArrayView2<'_, F>) -> Result<Array1<f64>> {
        Ok(self.score_samples_and_log_proba(x)?.0)
    }

    /// `(ln p(x_i), ln r_ik)` from one E-step: both of [`Self::score_samples`] and
    /// [`Self::predict_log_proba`] at the cost of one.
    pub fn score_samples_and_log_proba<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
    ) -> Result<(Array1<f64>, Array2<f64>)> {
        self.check_new(x)?;
        Ok(self.evaluator(false).posteriors(x, true))
    }

    /// Mean log-density (weighted by `sample_weight` if given).
    pub fn score<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
        sample_weight: Option<ArrayView1<'_, F>>,
    ) -> Result<f64> {
        let s = self.score_samples(x)?;
        let w: Vec<f64> = match sample_weight {
            Some(w) => {
                check_weights(w, x.nrows())?;
                w.iter().map(|v| v.as_f64()).collect()
            }
            None => vec![1.0; x.nrows()],
        };
        Ok(em::weighted_mean(s.view(), &w))
    }

    /// Log-responsibilities `ln r_ik`.
    pub fn predict_log_proba<F: Float>(&self, x: ArrayView2<'_, F>) -> Result<Array2<f64>> {
        Ok(self.score_samples_and_log_proba(x)?.1)
    }

    /// Responsibilities `r_ik` (normalised in the same pass as the densities).
    pub fn predict_proba<F: Float>(&self, x: ArrayView2<'_, F>) -> Result<Array2<f64>> {
        self.check_new(x)?;
        Ok(self.evaluator(false).posteriors(x, false).1)
    }

    /// The membership contract (probabilities, label, max_p, margin, entropy).
    pub fn memberships<F: Float>(&self, x: ArrayView2<'_, F>) -> Result<Membership<f64>> {
        let lp = self.weighted_log_prob(x)?;
        Ok(Membership::from_log_scores(lp.view()))
    }

    /// Most probable component of each row.
    pub fn predict<F: Float>(&self, x: ArrayView2<'_, F>) -> Result<Array1<usize>> {
        Ok(self.memberships(x)?.label)
    }

    fn total_weight<F: Float>(x: ArrayView2<'_, F>, w: Option<ArrayView1<'_, F>>) -> f64 {
        match w {
            Some(w) => w.iter().map(|v| v.as_f64()).sum(),
            None => x.nrows() as f64,
        }
    }

    /// Bayesian information criterion `-2 ln L + p ln N` (lower is better); with sample weights,
    /// `ln L = sum_i w_i ln p(x_i)` and `N = sum_i w_i`.
    pub fn bic<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
        sample_weight: Option<ArrayView1<'_, F>>,
    ) -> Result<f64> {
        let n = Self::total_weight(x, sample_weight);
        let ll = self.score(x, sample_weight)? * n;
        Ok(-2.0 * ll + self.n_parameters() as f64 * n.ln())
    }

    /// Akaike information criterion `-2 ln L + 2 p` (lower is better).
    pub fn aic<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
        sample_weight: Option<ArrayView1<'_, F>>,
    ) -> Result<f64> {
        let n = Self::total_weight(x, sample_weight);
        let ll = self.score(x, sample_weight)? * n;
        Ok(-2.0 * ll + 2.0 * self.n_parameters() as f64)
    }

    /// Integrated completed likelihood, as mclust computes it but on the lower-is-better
    /// scale: `BIC - 2 sum_i w_i ln max_k r_ik` (BIC penalised by the assignment uncertainty).
    pub fn icl<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
        sample_weight: Option<ArrayView1<'_, F>>,
    ) -> Result<f64> {
        let bic = self.bic(x, sample_weight)?;
        let lr = self.predict_log_proba(x)?;
        let mut s = 0.0;
        for (i, row) in lr.rows().into_iter().enumerate() {
            let wi = sample_weight.map_or(1.0, |w| w[i].as_f64());
            s += wi * row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        }
        Ok(bic - 2.0 * s)
    }

    /// Draws `n` points from the mixture: `(points, component of each point)`.
    pub fn sample(&self, n: usize, seed: u64) -> (Array2<f64>, Array1<usize>) {
        let (k, d) = self.means.dim();
        let mut rng = Rng::new(seed);
        let cum: Vec<f64> = self
            .weights
            .iter()
            .scan(0.0, |acc, &v| {
                *acc += v;
                Some(*acc)
            })
            .collect();
        let total = cum.last().copied().unwrap_or(1.0);
        // Lower factors L_k with S_k = L_k L_k^T: L_k = U_k^{-T}, so L_k z ~ N(0, S_k).
        let factors: Vec<Array2<f64>> = (0..k)
            .map(|c| match &self.precisions_cholesky {
                CovMatrices::Full(a) => crate::linalg::invert_lower(a.index_axis(Axis(0), c).t()),
                CovMatrices::Tied(m) => crate::linalg::invert_lower(m.t()),
                CovMatrices::Diag(m) => Array2::from_diag(&m.row(c).mapv(|v| 1.0 / v)),
                CovMatrices::Spherical(m) => Array2::eye(d) / m[c],
            })
            .collect();
        let mut labels = Array1::<usize>::zeros(n);
        let mut x = Array2::<f64>::zeros((n, d));
        let mut z = Array1::<f64>::zeros(d);
        for i in 0..n {
            let u = rng.uniform() * total;
            let c = cum.partition_point(|&v| v <= u).min(k - 1);
            labels[i] = c;
            for v in z.iter_mut() {
                *v = normal(&mut rng);
            }
            let draw = &self.means.row(c) + &factors[c].dot(&z);
            x.row_mut(i).assign(&draw);
        }
        (x, labels)
    }
}

/// A standard normal draw (Box-Muller, one of the pair).
fn normal(rng: &mut Rng) -> f64 {
    let u1 = 1.0 - rng.uniform();
    let u2 = rng.uniform();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}
