//! The EM loop: restarts, the fused E+M pass of [`super::kernel`] per iteration, automatic
//! regularisation, the noise component's weight, and the choice of the best run.

use super::block::{em_loop, EmParams, EmSettings, InMemory, Regularizer};
use super::config::GaussianMixture;
use super::covariance::CovMatrices;
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
        // The EM kernels work on data shifted by their column means (products stay small).
        let m0: Vec<f64> = crate::distance::column_means(x)
            .iter()
            .map(|v| v.as_f64())
            .collect();
        // A warm start, or given means (from which the rest of the start follows), make every
        // run the same: one is enough.
        let n_runs = if self.warm_start.is_some() || self.means_init.is_some() {
            1
        } else {
            self.n_init
        };
        let mut best: Option<Run> = None;
        let mut run_lower_bounds = Vec::with_capacity(n_runs);
        for run in 0..n_runs {
            let (mut weights, means, prec_chol) = self.initialize(x, &w, run, &mut reg)?;
            let noise = match (&self.warm_start, self.noise) {
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
            let start_lower_bound = match &self.warm_start {
                Some(m) => m.diagnostics.lower_bound,
                None => f64::NEG_INFINITY,
            };
            let start = EmParams {
                weights,
                means,
                precisions_cholesky: prec_chol,
                noise,
                m0: m0.clone(),
            };
            let settings = EmSettings {
                covariance_type: self.covariance_type,
                total_weight: w_total,
                max_iter: self.max_iter,
                tol: self.tol,
                start_lower_bound,
            };
            let mut src = InMemory { x, w: &w };
            let out = em_loop(
                &mut src,
                start,
                settings,
                &mut reg,
                &self.interrupt,
                &mut |it, lb| progress(run, it, lb),
            )?;
            let (lower_bound, converged, n_iter, history) =
                (out.lower_bound, out.converged, out.n_iter, out.history);
            let EmParams {
                weights,
                means,
                precisions_cholesky: prec_chol,
                noise,
                ..
            } = out.params;
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
