//! The EM loop: restarts, the fused E+M pass of [`super::kernel`] per iteration, automatic
//! regularisation, the noise component's weight, and the choice of the best run.

use super::config::GaussianMixture;
use super::covariance::{precision_cholesky, CovMatrices, CovarianceType};
use super::kernel;
use super::model::{GaussianMixtureModel, GmmDiagnostics};
use super::noise::{log_box_volume, Noise};
use crate::error::{invalid, Result};
use crate::float::Float;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

impl GaussianMixture {
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
        self.fit_unchecked(x, sample_weight, progress)
    }

    /// The fit on data the caller validated (model selection fits every candidate on data it
    /// checked once); the settings are still checked.
    pub(crate) fn fit_unchecked<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
        sample_weight: Option<ArrayView1<'_, F>>,
        progress: &mut dyn FnMut(usize, usize, f64),
    ) -> Result<GaussianMixtureModel> {
        self.check_settings(x.nrows(), x.ncols())?;
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
                crate::interrupt::check(&self.interrupt)?;
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
        Ok(GaussianMixtureModel::from_fit(
            best.weights,
            best.means,
            best.prec_chol,
            best.noise,
            GmmDiagnostics {
                converged: best.converged,
                n_iter: best.n_iter,
                lower_bound: best.lower_bound,
                lower_bounds: best.history,
                best_run: best.index,
                run_lower_bounds,
                reg_covar: reg.current,
                regularization_increases: reg.increases,
            },
        ))
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

/// The most tenfold increases of `reg_covar` in one fit.
const MAX_INCREASES: usize = 64;

/// `reg_covar`, raised on demand when automatic regularisation is on.
pub(super) struct Regularizer {
    pub(super) current: f64,
    auto: bool,
    scale: f64,
    pub(super) increases: usize,
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
    pub(super) fn solve(
        &mut self,
        estimate: impl Fn(f64) -> (Array1<f64>, Array2<f64>, CovMatrices),
    ) -> Result<(Array1<f64>, Array2<f64>, CovMatrices, CovMatrices)> {
        loop {
            let (nk, means, cov) = estimate(self.current);
            match precision_cholesky(&cov, self.current) {
                Ok(pc) => return Ok((nk, means, cov, pc)),
                Err(e) => {
                    // Bounded: at most MAX_INCREASES tenfold steps (from 1e-10 of the scale to
                    // beyond it takes 11), and none when the scale itself overflowed.
                    if !self.auto
                        || self.current.is_nan()
                        || self.current > self.scale
                        || !self.scale.is_finite()
                        || self.increases >= MAX_INCREASES
                    {
                        return Err(e);
                    }
                    self.current = (self.current * 10.0).max(1e-10 * self.scale);
                    self.increases += 1;
                }
            }
        }
    }
}
