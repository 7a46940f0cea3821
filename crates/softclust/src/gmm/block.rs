//! Gaussian mixtures over row blocks: the sufficient statistics of one EM pass, which merge by
//! addition, and the EM loop that turns them into parameters; the in-memory fit runs the same
//! loop over its own passes.
//!
//! For a block `X_b` with weights `w` and the current parameters ([`EmParams`]: weights, means,
//! precision factors, an optional noise component, and the fixed shift `m0` the full and tied
//! kernels work about), [`em_stats`] returns `sum_i w_i ln p(x_i)`, `n_c = sum_i w_i r_ic`,
//! the first moments `A_c = sum_i w_i r_ic (x_i - m0)` and, for full and tied covariances, the
//! scatter about each component's *current* mean, `B_c = sum_i w_i r_ic (x_i - mu_c)(x_i -
//! mu_c)^T` (never raw moments, which cancel when `|mean| >> spread`). Diagonal and spherical
//! covariances add `sum_i w_i r_ic x_i∘x_i` from the same product, as scikit-learn does. Blocks'
//! statistics add up ([`EmStats::add`], or element-wise on [`EmStats::to_flat`]), and
//! [`em_loop`] runs the M-step, automatic regularisation, the noise weight and the stopping
//! rule on `|mean log-likelihood change| < tol`, exactly as the in-memory fit.

use super::covariance::precision_cholesky;
use super::covariance::{CovMatrices, CovarianceType};
use super::kernel::{self, Evaluator, Sums};
use super::noise::Noise;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::kmeans::block::check_block;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

/// The parameters one EM pass needs.
#[derive(Debug, Clone, PartialEq)]
pub struct EmParams {
    /// Component weights (summing to 1 with the noise weight).
    pub weights: Array1<f64>,
    /// Means, `k x d`.
    pub means: Array2<f64>,
    /// Precision Cholesky factors, shaped for the covariance type.
    pub precisions_cholesky: CovMatrices,
    /// The uniform noise component, if any.
    pub noise: Option<Noise>,
    /// The shift of the full and tied kernels (the data's column means; ignored for diagonal and
    /// spherical covariances).
    pub m0: Vec<f64>,
}

impl EmParams {
    pub(crate) fn evaluator(&self) -> Evaluator {
        let log_w: Vec<f64> = self.weights.iter().map(|v| v.ln()).collect();
        Evaluator::new(
            &log_w,
            self.means.view(),
            &self.precisions_cholesky,
            self.m0.clone(),
            self.noise.map(|nz| nz.log_weight - nz.log_volume),
            false,
        )
    }

    /// Checks shapes: `k` weights, `k x d` means, factors for `k` components of `d` features,
    /// `d` shifts.
    pub fn check(&self) -> Result<()> {
        let (k, d) = self.means.dim();
        self.precisions_cholesky
            .check_shape(k, d, "precision factors")?;
        if self.weights.len() != k || self.m0.len() != d {
            return Err(Error::ShapeMismatch {
                what: "mixture parameters",
                expected: format!("{k} weights and {d} shifts"),
                found: format!(
                    "{} weights and {} shifts",
                    self.weights.len(),
                    self.m0.len()
                ),
            });
        }
        Ok(())
    }

    /// The number of values in [`EmStats::to_flat`] for these parameters.
    pub fn stats_len(&self) -> usize {
        Sums::empty(&self.evaluator()).to_flat().len()
    }
}

/// The merged statistics of EM passes over blocks (see the module documentation).
pub struct EmStats(pub(crate) Sums);

impl EmStats {
    /// Zero statistics for `params`.
    pub fn zeros(params: &EmParams) -> Self {
        EmStats(Sums::empty(&params.evaluator()))
    }

    /// Adds another block's statistics.
    pub fn add(&mut self, other: &EmStats) {
        self.0.merge(&other.0);
    }

    /// `sum_i w_i ln p(x_i)`.
    pub fn log_likelihood(&self) -> f64 {
        self.0.log_lik
    }

    /// One flat vector, added element-wise by a distributed engine.
    pub fn to_flat(&self) -> Vec<f64> {
        self.0.to_flat()
    }

    /// Reads [`Self::to_flat`] back for `params`.
    pub fn from_flat(params: &EmParams, v: &[f64]) -> Result<Self> {
        let ev = params.evaluator();
        Sums::from_flat(&ev, v)
            .map(EmStats)
            .ok_or_else(|| Error::ShapeMismatch {
                what: "mixture block statistics",
                expected: format!("{} numbers", Sums::empty(&ev).to_flat().len()),
                found: format!("{} numbers", v.len()),
            })
    }
}

impl EmStats {
    /// The M-step of these statistics alone, without regularisation: per component the
    /// weight `n_c` (with the `10 eps` guard), the mean and the covariance (about that mean),
    /// shaped for `params`' covariance type. Stepwise EM blends these across mini-batches.
    pub fn moments(&self, params: &EmParams) -> (Array1<f64>, Array2<f64>, CovMatrices) {
        let ev = params.evaluator();
        self.0
            .parameters(&ev, 0.0, params.precisions_cholesky.covariance_type())
    }
}

/// The statistics of one EM pass over a block (validated: finite, bounded values, weights
/// finite and non-negative). An empty block gives zeros.
pub fn em_stats<F: Float>(
    x: ArrayView2<'_, F>,
    w: Option<ArrayView1<'_, f64>>,
    params: &EmParams,
) -> Result<EmStats> {
    params.check()?;
    let ev = params.evaluator();
    if x.nrows() == 0 {
        return Ok(EmStats(Sums::empty(&ev)));
    }
    let w = check_block(x, w, params.means.ncols())?;
    Ok(EmStats(kernel::em_pass(x, &w, &ev)))
}

/// Where an EM loop gets its passes: data in memory, or row blocks held elsewhere.
pub trait EmPasses {
    /// One E-step pass under `params`: the merged statistics of every row.
    fn pass(&mut self, params: &EmParams) -> Result<EmStats>;
}

/// How an EM loop ended.
#[derive(Debug, Clone)]
pub struct EmOutcome {
    /// The final parameters.
    pub params: EmParams,
    /// Iterations run.
    pub n_iter: usize,
    /// `|change of the mean log-likelihood| < tol` was reached.
    pub converged: bool,
    /// The last mean log-likelihood (of the parameters before the last M-step).
    pub lower_bound: f64,
    /// The mean log-likelihood of every iteration.
    pub history: Vec<f64>,
}

/// Settings of [`em_loop`].
#[derive(Debug, Clone, Copy)]
pub struct EmSettings {
    /// The covariance type of the M-step.
    pub covariance_type: CovarianceType,
    /// Total sample weight `W` (the lower bound is `sum_i w_i ln p(x_i) / W`).
    pub total_weight: f64,
    /// Iteration limit.
    pub max_iter: usize,
    /// Tolerance on the change of the mean log-likelihood.
    pub tol: f64,
    /// The lower bound before the first iteration (`-inf`, or a warm start's).
    pub start_lower_bound: f64,
}

/// EM iterations from `start`: each asks `passes` for the statistics under the current
/// parameters, then the M-step (weights, means, covariances with `reg_covar`, raised by `reg`
/// on demand, and the noise weight). Stops when the mean log-likelihood changes by less than
/// `tol`, after `max_iter` iterations, or with [`Error::Interrupted`] when `interrupt` fires.
/// `progress(iteration, lower_bound)` after every iteration (0-based).
pub fn em_loop(
    passes: &mut dyn EmPasses,
    start: EmParams,
    settings: EmSettings,
    reg: &mut Regularizer,
    interrupt: &Option<crate::interrupt::Interrupt>,
    progress: &mut dyn FnMut(usize, f64),
) -> Result<EmOutcome> {
    start.check()?;
    let k = start.means.nrows();
    let mut out = EmOutcome {
        params: start,
        n_iter: 0,
        converged: false,
        lower_bound: settings.start_lower_bound,
        history: Vec::new(),
    };
    for it in 1..=settings.max_iter {
        crate::interrupt::check(interrupt)?;
        out.n_iter = it;
        let prev = out.lower_bound;
        let sums = passes.pass(&out.params)?.0;
        let ev = out.params.evaluator();
        let t = settings.covariance_type;
        let (nk, m, _, pc) = reg.solve(|r| sums.parameters(&ev, r, t))?;
        match out.params.noise.as_mut() {
            None => out.params.weights = &nk / nk.sum(),
            Some(nz) => {
                let n0 = sums.nk[k] + 10.0 * f64::EPSILON;
                let total = nk.sum() + n0;
                out.params.weights = &nk / total;
                nz.log_weight = (n0 / total).ln();
            }
        }
        out.params.means = m;
        out.params.precisions_cholesky = pc;
        out.lower_bound = sums.log_lik / settings.total_weight;
        out.history.push(out.lower_bound);
        progress(it - 1, out.lower_bound);
        if (out.lower_bound - prev).abs() < settings.tol {
            out.converged = true;
            break;
        }
    }
    Ok(out)
}

impl super::model::GaussianMixtureModel {
    /// The model a fit over row blocks ends with: the loop's final parameters and its
    /// diagnostics (one run), and the regularisation it ended with; validated.
    pub fn from_em_outcome(out: EmOutcome, reg: &Regularizer) -> Result<Self> {
        let model = Self::from_fit(
            out.params.weights,
            out.params.means,
            out.params.precisions_cholesky,
            out.params.noise,
            super::model::GmmDiagnostics {
                converged: out.converged,
                n_iter: out.n_iter,
                lower_bound: out.lower_bound,
                run_lower_bounds: vec![out.lower_bound],
                lower_bounds: out.history,
                best_run: 0,
                reg_covar: reg.current,
                regularization_increases: reg.increases,
            },
        );
        model.validate()?;
        Ok(model)
    }
}

/// The in-memory source of EM passes.
pub(crate) struct InMemory<'a, F: Float> {
    pub(crate) x: ArrayView2<'a, F>,
    pub(crate) w: &'a [f64],
}

impl<F: Float> EmPasses for InMemory<'_, F> {
    fn pass(&mut self, params: &EmParams) -> Result<EmStats> {
        Ok(EmStats(kernel::em_pass(
            self.x,
            self.w,
            &params.evaluator(),
        )))
    }
}

/// The most tenfold increases of `reg_covar` in one fit.
const MAX_INCREASES: usize = 64;

/// `reg_covar`, raised on demand when automatic regularisation is on.
pub struct Regularizer {
    /// The `reg_covar` in use.
    pub current: f64,
    auto: bool,
    scale: f64,
    /// Tenfold increases so far.
    pub increases: usize,
}

impl Regularizer {
    /// `reg_covar` as given; with `auto`, raised on demand up to `scale`, the mean feature
    /// variance of the data (a fit over blocks computes it in a pass of its own).
    pub fn with_scale(reg_covar: f64, auto: bool, scale: f64) -> Self {
        Regularizer {
            current: reg_covar,
            auto,
            scale: if auto {
                scale.max(f64::MIN_POSITIVE)
            } else {
                0.0
            },
            increases: 0,
        }
    }

    pub(crate) fn new<F: Float>(reg_covar: f64, auto: bool, x: ArrayView2<'_, F>) -> Self {
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
    pub(crate) fn solve(
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
