//! k-means: greedy k-means++ seeding, restarts, Lloyd iterations, sample weights.
//!
//! k-means minimises the weighted inertia
//!
//! ```text
//! J(C) = sum_i w_i min_j |x_i - c_j|²
//! ```
//!
//! which is the classification log-likelihood of a mixture of isotropic Gaussians sharing one
//! fixed variance. That is why its distances turn into probabilities by a softmax with the
//! maximum-likelihood variance `sigma² = J / (W d)` ([`crate::soft`]).
//!
//! ```
//! use ndarray::array;
//! use softclust::kmeans::KMeans;
//!
//! let x = array![[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]];
//! let model = KMeans::new(2).seed(7).fit(x.view(), None)?;
//! assert_eq!(model.labels()[0], model.labels()[1]);
//! assert_ne!(model.labels()[0], model.labels()[2]);
//! assert!((model.inertia() - 1.0).abs() < 1e-12);
//! # Ok::<(), softclust::Error>(())
//! ```

pub mod block;
mod hamerly;
mod init;
mod lloyd;
mod select;
mod sparse;
pub use select::{KCandidate, KSelection};
pub(crate) use sparse::memberships_of as sparse_memberships;

use crate::data::{check_matrix, check_new_data, check_weights};
use crate::distance::{column_means, DistanceKernel};
use crate::error::{invalid, Error, Result};
use crate::float::Float;
use crate::membership::{ClusterModel, Membership};
use crate::rng::{derive_seed, Rng};
use crate::soft::{DistanceKind, FittedSoft, SoftMethod};
use crate::typicality::{ClusterSpread, ClusterStats, Spread, Typicality};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2};
use rayon::prelude::*;

/// Default settings of [`KMeans`] (the CLI and Python take theirs from here).
pub mod defaults {
    /// Maximum Lloyd iterations per run.
    pub const MAX_ITER: usize = 300;
    /// Relative tolerance on the centre shift.
    pub const TOL: f64 = 1e-4;
    /// Restarts when starting from random points.
    pub const RANDOM_N_INIT: usize = 10;
}

/// How the initial centres are chosen.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Init<F> {
    /// Greedy k-means++ with `2 + floor(ln k)` local trials per centre (the default).
    KMeansPlusPlus,
    /// `k` distinct points drawn with probability proportional to their weight.
    Random,
    /// The given `k x d` centres; restarts are pointless and only one run is made.
    Centers(Array2<F>),
}

impl<F> Init<F> {
    /// `k-means++`, `random` or `centers`.
    pub fn name(&self) -> &'static str {
        match self {
            Init::KMeansPlusPlus => "k-means++",
            Init::Random => "random",
            Init::Centers(_) => "centers",
        }
    }
}

impl<F> std::str::FromStr for Init<F> {
    type Err = Error;
    /// `k-means++` or `random` (given centres are data, not a name).
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "k-means++" => Ok(Init::KMeansPlusPlus),
            "random" => Ok(Init::Random),
            _ => Err(invalid("init", format!("{s:?}"), "k-means++ or random")),
        }
    }
}

/// How the Lloyd iterations find each point's nearest centre. Every choice gives Lloyd's
/// assignments (see [`KMeans::algorithm`]); they differ in how many distances they compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// Hamerly's bounds for in-memory dense data with k >= 2, every distance otherwise.
    #[default]
    Auto,
    /// Every distance in every iteration (one GEMM per row block).
    Exhaustive,
    /// Hamerly's bounds: one upper and one lower bound per point, moved by the triangle
    /// inequality, so that only points near a boundary are recomputed.
    Hamerly,
}

impl Algorithm {
    /// Every choice, in documentation order.
    pub const ALL: [Algorithm; 3] = [Algorithm::Auto, Algorithm::Exhaustive, Algorithm::Hamerly];

    /// The name the CLI and Python use.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Auto => "auto",
            Algorithm::Exhaustive => "exhaustive",
            Algorithm::Hamerly => "hamerly",
        }
    }
}

crate::error::impl_names!(
    Algorithm,
    "algorithm",
    "auto, exhaustive or hamerly",
    Algorithm::ALL
);

/// Progress of a fit, passed to the observer of [`KMeans::fit_with_progress`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Progress {
    /// 0-based restart index.
    pub run: usize,
    /// Number of restarts.
    pub n_runs: usize,
    /// 0-based iteration within the run.
    pub iteration: usize,
    /// Iteration limit.
    pub max_iter: usize,
    /// Inertia of this iteration's assignment.
    pub inertia: f64,
    /// Total squared centre shift of this iteration's centre step.
    pub shift: f64,
    /// Whether the labels did not change (strict convergence: the run stops here).
    pub labels_unchanged: bool,
    /// The absolute tolerance on `shift` (the run stops once `shift <= tol_abs`).
    pub tol_abs: f64,
}

/// k-means configuration. Build with [`KMeans::new`], chain setters, then [`KMeans::fit`].
///
/// Defaults follow scikit-learn: k-means++ seeding, `n_init` "auto" (1 run for k-means++ and
/// given centres, 10 for random), `max_iter = 300`, `tol = 1e-4` relative to the mean
/// per-feature variance, seed 0.
#[derive(Debug, Clone)]
pub struct KMeans<F: Float> {
    n_clusters: usize,
    init: Init<F>,
    n_init: Option<usize>,
    max_iter: usize,
    tol: f64,
    seed: u64,
    n_local_trials: Option<usize>,
    soft: SoftMethod,
    algorithm: Algorithm,
    interrupt: Option<crate::interrupt::Interrupt>,
}

/// What happened during a fit: iterations, convergence, restarts.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct KMeansDiagnostics {
    /// Iterations of the chosen run.
    pub n_iter: usize,
    /// Whether the chosen run stopped before `max_iter` (labels unchanged or centre shift
    /// within tolerance).
    pub converged: bool,
    /// Inertia of each iteration's assignment step in the chosen run (labels against the
    /// centres they were assigned to).
    pub inertia_history: Vec<f64>,
    /// The absolute tolerance used: `tol * mean_j var(x_j)`.
    pub tol_abs: f64,
    /// Index of the chosen run.
    pub best_run: usize,
    /// Final inertia of every run.
    pub run_inertia: Vec<f64>,
    /// Iterations of every run.
    pub run_n_iter: Vec<usize>,
    /// Convergence of every run.
    pub run_converged: Vec<bool>,
    /// Empty clusters moved onto far points, over the chosen run.
    pub empty_relocations: usize,
}

/// What the final pass of a fit measured on the training data.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct TrainingStats {
    /// `sum_i w_i |x_i - c_{l_i}|²`.
    inertia: f64,
    /// `W = sum_i w_i`.
    total_weight: f64,
    /// Per cluster: `S_jt = sum_{l_i = j} w_i (x_it - c_jt)²` and `W_j = sum_{l_i = j} w_i`.
    clusters: ClusterStats,
}

/// A fitted k-means model: centres, its soft step (how distances become memberships, fitted
/// once with the centres), training statistics and diagnostics. Immutable, and a value: with
/// the `serde` feature it serialises (training labels excepted) and reads back bit for bit.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(bound(
        serialize = "F: serde::Serialize",
        deserialize = "F: serde::Deserialize<'de>"
    ))
)]
pub struct KMeansModel<F: Float> {
    centers: Array2<F>,
    /// The vector the distance kernel centres data on (the training data's column means).
    centering: Array1<F>,
    #[cfg_attr(feature = "serde", serde(skip, default = "empty_labels"))]
    labels: Array1<usize>,
    stats: Option<TrainingStats>,
    soft: Option<FittedSoft>,
    diagnostics: KMeansDiagnostics,
}

#[cfg(feature = "serde")]
fn empty_labels() -> Array1<usize> {
    Array1::zeros(0)
}

impl<F: Float> KMeans<F> {
    /// k-means with `n_clusters` clusters and default settings.
    pub fn new(n_clusters: usize) -> Self {
        KMeans {
            n_clusters,
            init: Init::KMeansPlusPlus,
            n_init: None,
            max_iter: defaults::MAX_ITER,
            tol: defaults::TOL,
            seed: 0,
            n_local_trials: None,
            interrupt: None,
            soft: SoftMethod::Auto(crate::soft::Softmax::new()),
            algorithm: Algorithm::Auto,
        }
    }

    /// How each iteration finds the nearest centres (default [`Algorithm::Auto`]). The choice
    /// changes the work, not the result: Hamerly's bounds skip a point only when they prove
    /// that Lloyd's floating-point argmin keeps its label, so the label sequence, iterations,
    /// centres and inertia are Lloyd's, except for a point within rounding (about `d` ulps of
    /// its squared distances) of equidistant from two centres.
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// How the fitted model turns distances into memberships (default: [`SoftMethod::Auto`],
    /// the softmax variant whose implied mixture has the least BIC). Softmax and inverse-power
    /// are estimated from the fit's per-cluster sums; auto weighs its variants, and minmax and
    /// anchored are estimated, on the training distances, in one extra pass.
    pub fn soft(mut self, method: SoftMethod) -> Self {
        self.soft = method;
        self
    }

    /// Initialisation method.
    pub fn init(mut self, init: Init<F>) -> Self {
        self.init = init;
        self
    }

    /// Number of restarts (each from its own seed `derive_seed(seed, run)`); the run with the
    /// lowest inertia wins (the first on ties).
    pub fn n_init(mut self, n_init: usize) -> Self {
        self.n_init = Some(n_init);
        self
    }

    /// Maximum Lloyd iterations per run (>= 1).
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Relative tolerance: a run stops when `sum_j |c_j' - c_j|² <= tol * mean_j var(x_j)`.
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    /// Master seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Lets `flag` stop the fit: once triggered, the fit returns [`Error::Interrupted`] at its
    /// next iteration (the Python package triggers it on Ctrl-C).
    pub fn interrupt(self, flag: crate::interrupt::Interrupt) -> Self {
        self.interrupt_opt(Some(flag))
    }

    /// The flag of an enclosing fit (consensus runs, a mixture's k-means start), if any.
    pub(crate) fn interrupt_opt(mut self, flag: Option<crate::interrupt::Interrupt>) -> Self {
        self.interrupt = flag;
        self
    }

    /// Candidates per k-means++ step (default `2 + floor(ln k)`).
    pub fn n_local_trials(mut self, trials: usize) -> Self {
        self.n_local_trials = Some(trials);
        self
    }

    /// The number of clusters.
    pub fn n_clusters(&self) -> usize {
        self.n_clusters
    }

    /// Candidates per k-means++ step: as set, else `2 + floor(ln k)`.
    fn local_trials(&self) -> usize {
        self.n_local_trials
            .unwrap_or(2 + (self.n_clusters as f64).ln().floor() as usize)
    }

    /// Whether in-memory dense fits use Hamerly's bounds.
    fn bounded(&self) -> bool {
        match self.algorithm {
            Algorithm::Auto => self.n_clusters >= 2,
            Algorithm::Hamerly => true,
            Algorithm::Exhaustive => false,
        }
    }

    fn runs(&self) -> usize {
        match (&self.init, self.n_init) {
            (Init::Centers(_), _) => 1,
            (_, Some(n)) => n,
            (Init::Random, None) => defaults::RANDOM_N_INIT,
            (_, None) => 1,
        }
    }

    /// Validates the data (one scan for non-finite values) and the settings.
    fn validate(&self, x: ArrayView2<'_, F>, w: Option<ArrayView1<'_, F>>) -> Result<()> {
        check_matrix(x, "data")?;
        if let Some(w) = w {
            check_weights(w, x.nrows())?;
        }
        self.check_settings(x.nrows(), x.ncols())
    }

    /// The settings, against data of `n` rows and `d` columns (no pass over the data).
    fn check_settings(&self, n: usize, d: usize) -> Result<()> {
        if self.n_clusters == 0 {
            return Err(invalid("n_clusters", 0, "an integer >= 1"));
        }
        if self.max_iter == 0 {
            return Err(invalid("max_iter", 0, "an integer >= 1"));
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(invalid("tol", self.tol, "a finite number >= 0"));
        }
        if let Some(n) = self.n_init {
            crate::data::check_restarts("n_init", n)?;
        }
        if let Some(t) = self.n_local_trials {
            crate::data::check_restarts("n_local_trials", t)?;
        }
        self.soft.check()?;
        if n < self.n_clusters {
            return Err(Error::TooFewPoints {
                n_samples: n,
                n_clusters: self.n_clusters,
            });
        }
        if let Init::Centers(c) = &self.init {
            if c.dim() != (self.n_clusters, d) {
                return Err(Error::ShapeMismatch {
                    what: "initial centres",
                    expected: format!("{} x {} (k x features)", self.n_clusters, d),
                    found: format!("{} x {}", c.nrows(), c.ncols()),
                });
            }
            check_matrix(c.view(), "initial centres")?;
        }
        Ok(())
    }

    /// The rows chosen by k-means++ seeding for the first run (seed `derive_seed(seed, 0)`),
    /// without any Lloyd iterations.
    pub fn seed_indices(
        &self,
        x: ArrayView2<'_, F>,
        sample_weight: Option<ArrayView1<'_, F>>,
    ) -> Result<Vec<usize>> {
        self.validate(x, sample_weight)?;
        self.seed_indices_unchecked(x, sample_weight)
    }

    /// [`Self::seed_indices`] on data the caller has validated.
    pub(crate) fn seed_indices_unchecked(
        &self,
        x: ArrayView2<'_, F>,
        sample_weight: Option<ArrayView1<'_, F>>,
    ) -> Result<Vec<usize>> {
        self.check_settings(x.nrows(), x.ncols())?;
        let w = crate::data::weights_or_ones(sample_weight, x.nrows());
        let mu = column_means(x);
        let k = self.n_clusters;
        let trials = self.local_trials();
        let mut rng = Rng::new(derive_seed(self.seed, 0));
        Ok(init::kmeans_plusplus(x, &w, mu.view(), k, trials, &mut rng))
    }

    /// Fits k-means to `x` (n x d) with optional sample weights (one per row, >= 0).
    pub fn fit(
        &self,
        x: ArrayView2<'_, F>,
        sample_weight: Option<ArrayView1<'_, F>>,
    ) -> Result<KMeansModel<F>> {
        self.fit_with_progress(x, sample_weight, &mut |_| {})
    }

    /// [`KMeans::fit`], calling `progress` after every iteration of every run.
    pub fn fit_with_progress(
        &self,
        x: ArrayView2<'_, F>,
        sample_weight: Option<ArrayView1<'_, F>>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<KMeansModel<F>> {
        self.validate(x, sample_weight)?;
        self.fit_unchecked(x, sample_weight, progress)
    }

    /// The fit on data that the caller has validated (finite, weights checked): what nested
    /// fits (mixture and fuzzy c-means starts, consensus runs) call, so that the data are
    /// scanned once, by the public entry point. The settings are still checked (no data pass).
    pub(crate) fn fit_unchecked(
        &self,
        x: ArrayView2<'_, F>,
        sample_weight: Option<ArrayView1<'_, F>>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<KMeansModel<F>> {
        self.check_settings(x.nrows(), x.ncols())?;
        let n = x.nrows();
        let w = crate::data::weights_or_ones(sample_weight, n);
        let mu = column_means(x);
        let mu64: Vec<f64> = mu.iter().map(|v| v.as_f64()).collect();
        let tol_abs = self.tol * crate::data::mean_variance(x, &mu64);
        let k = self.n_clusters;
        let trials = self.local_trials();
        let n_runs = self.runs();

        let mut restarts = Restarts::new(n_runs);
        for run in 0..n_runs {
            let mut rng = Rng::new(derive_seed(self.seed, run as u64));
            let start = match &self.init {
                Init::KMeansPlusPlus => {
                    let rows = init::kmeans_plusplus(x, &w, mu.view(), k, trials, &mut rng);
                    x.select(ndarray::Axis(0), &rows)
                }
                Init::Random => init::random_points(x, &w, k, &mut rng),
                Init::Centers(c) => c.clone(),
            };
            let mut on_iter = self.observer(&mut *progress, run, n_runs, tol_abs);
            let run_lloyd = if self.bounded() && x.is_standard_layout() {
                hamerly::hamerly
            } else {
                lloyd::lloyd
            };
            let r = run_lloyd(
                x,
                &w,
                mu.view(),
                start,
                self.max_iter,
                tol_abs,
                &mut on_iter,
            );
            crate::interrupt::check(&self.interrupt)?;
            restarts.push(run, r);
        }
        let mut model = restarts.into_model(tol_abs, mu, w.iter().sum())?;
        model.soft = Some(model.fit_soft(&self.soft, x, sample_weight)?);
        Ok(model)
    }

    /// The per-iteration observer of run `run`: reports [`Progress`], and stops the loop once
    /// the interrupt flag is triggered.
    pub(super) fn observer<'a>(
        &'a self,
        progress: &'a mut dyn FnMut(Progress),
        run: usize,
        n_runs: usize,
        tol_abs: f64,
    ) -> impl FnMut(lloyd::Step) -> bool + 'a {
        move |step: lloyd::Step| {
            progress(Progress {
                run,
                n_runs,
                iteration: step.iteration,
                max_iter: self.max_iter,
                inertia: step.inertia,
                shift: step.shift,
                labels_unchanged: step.unchanged,
                tol_abs,
            });
            self.interrupt.as_ref().is_some_and(|s| s.is_triggered())
        }
    }
}

/// The restarts of a fit: the best run so far (least inertia, the first on ties) and every
/// run's inertia, iterations and convergence.
pub(super) struct Restarts<F> {
    best: Option<(usize, lloyd::Run<F>)>,
    inertia: Vec<f64>,
    n_iter: Vec<usize>,
    converged: Vec<bool>,
}

impl<F: Float> Restarts<F> {
    pub(super) fn new(n_runs: usize) -> Self {
        Restarts {
            best: None,
            inertia: Vec::with_capacity(n_runs),
            n_iter: Vec::with_capacity(n_runs),
            converged: Vec::with_capacity(n_runs),
        }
    }

    pub(super) fn push(&mut self, run: usize, r: lloyd::Run<F>) {
        self.inertia.push(r.inertia);
        self.n_iter.push(r.n_iter);
        self.converged.push(r.converged);
        if self
            .best
            .as_ref()
            .is_none_or(|(_, b)| r.inertia < b.inertia)
        {
            self.best = Some((run, r));
        }
    }

    /// The best run's model (no soft step yet), centred on `mu`.
    pub(super) fn into_model(
        self,
        tol_abs: f64,
        mu: Array1<F>,
        total_weight: f64,
    ) -> Result<KMeansModel<F>> {
        let (best_run, r) = self.best.ok_or(Error::InvalidParameter {
            name: "n_init",
            value: "0".into(),
            expected: "an integer >= 1",
        })?;
        let diagnostics = KMeansDiagnostics {
            n_iter: r.n_iter,
            converged: r.converged,
            inertia_history: r.history,
            tol_abs,
            best_run,
            run_inertia: self.inertia,
            run_n_iter: self.n_iter,
            run_converged: self.converged,
            empty_relocations: r.relocations,
        };
        let stats = TrainingStats {
            inertia: r.inertia,
            total_weight,
            clusters: ClusterStats {
                deviations: r.deviations,
                cluster_weight: Array1::from(r.cluster_weight),
            },
        };
        Ok(KMeansModel {
            centers: r.centers,
            centering: mu,
            labels: Array1::from(r.labels),
            stats: Some(stats),
            soft: None,
            diagnostics,
        })
    }
}

impl<F: Float> KMeansModel<F> {
    /// A model that only knows its centres (for example centres computed elsewhere):
    /// `predict`, `transform` and distances work; training labels are empty, inertia is NaN,
    /// and there is no soft step until [`Self::with_soft`] gives one.
    /// `centering` is the vector the distance kernel centres data on (see
    /// [`KMeansModel::centering`]); give the fitted model's to reproduce its distances bit for
    /// bit, or `None` to use the mean of the centres.
    pub fn from_centers(centers: Array2<F>, centering: Option<Array1<F>>) -> Result<Self> {
        check_matrix(centers.view(), "centres")?;
        let centering = match centering {
            Some(mu) => {
                if mu.len() != centers.ncols() {
                    return Err(Error::ShapeMismatch {
                        what: "centring vector",
                        expected: format!("{} values, one per feature", centers.ncols()),
                        found: format!("{}", mu.len()),
                    });
                }
                check_matrix(mu.view().insert_axis(ndarray::Axis(0)), "centring vector")?;
                mu
            }
            None => column_means(centers.view()),
        };
        Ok(KMeansModel {
            centers,
            centering,
            labels: Array1::zeros(0),
            stats: None,
            soft: None,
            diagnostics: KMeansDiagnostics {
                n_iter: 0,
                converged: true,
                inertia_history: Vec::new(),
                tol_abs: 0.0,
                best_run: 0,
                run_inertia: Vec::new(),
                run_n_iter: Vec::new(),
                run_converged: Vec::new(),
                empty_relocations: 0,
            },
        })
    }

    /// The model a fit over row blocks ends with: the loop's outcome, the centring vector it
    /// ran with, the summed final-pass statistics of [`block::deviation_stats`] (`S_jt`, `W_j`),
    /// the absolute tolerance used, and the soft step, estimated from
    /// those sums exactly as the in-memory fit does (softmax and inverse-power only: minmax
    /// and anchored need the training distances, so such a fit refuses them).
    pub fn from_block_stats(
        outcome: block::LoopOutcome<F>,
        centering: Array1<F>,
        stats: block::Deviations,
        tol_abs: f64,
        soft: &SoftMethod,
    ) -> Result<Self> {
        let block::Deviations {
            deviations,
            weight: cluster_weight,
        } = stats;
        let auto = matches!(soft, SoftMethod::Auto(_));
        if !soft.from_sums() && !auto {
            return Err(invalid(
                "soft",
                soft.name(),
                "softmax, inverse-power or auto for a fit over blocks (minmax and anchored need \
                 the training distances: fit in memory, or attach a soft step fitted on \
                 distances)",
            ));
        }
        let k = outcome.centers.nrows();
        let d = outcome.centers.ncols();
        if deviations.dim() != (k, d) || cluster_weight.len() != k {
            return Err(Error::ShapeMismatch {
                what: "final-pass statistics",
                expected: format!("{k} x {d} deviations and {k} weights"),
                found: format!(
                    "{} x {} and {}",
                    deviations.nrows(),
                    deviations.ncols(),
                    cluster_weight.len()
                ),
            });
        }
        let inertia = deviations.sum();
        let total_weight = cluster_weight.sum();
        let mut model = KMeansModel {
            centers: outcome.centers,
            centering,
            labels: Array1::zeros(0),
            stats: Some(TrainingStats {
                inertia,
                total_weight,
                clusters: ClusterStats {
                    deviations,
                    cluster_weight,
                },
            }),
            soft: None,
            diagnostics: KMeansDiagnostics {
                n_iter: outcome.n_iter,
                converged: outcome.converged,
                tol_abs,
                best_run: 0,
                run_inertia: vec![inertia],
                run_n_iter: vec![outcome.n_iter],
                run_converged: vec![outcome.converged],
                empty_relocations: outcome.relocations,
                inertia_history: outcome.history,
            },
        };
        model.validate()?;
        if auto {
            // Auto weighs its variants on the data: one more pass, by the caller
            // ([`Self::auto_soft_log_likelihoods`] per block, then [`Self::with_auto_soft`]).
            return Ok(model);
        }
        let st = model.stats.as_ref().expect("set above");
        let fitted = soft.fit_nearest_sums(
            st.clusters.deviations.sum_axis(ndarray::Axis(1)).to_vec(),
            st.clusters.cluster_weight.to_vec(),
            d,
        )?;
        model.soft = Some(fitted);
        Ok(model)
    }

    /// The log-likelihoods, on rows `x` (in the units of the training data) with weights `w`,
    /// of the spherical Gaussian mixtures implied by the four softmax variants that `auto`
    /// weighs, estimated from this model's training sums (in the order of
    /// [`crate::soft::AUTO_VARIANTS`]). Sums over blocks of the training data add up to the
    /// totals [`Self::with_auto_soft`] takes (a fit over blocks passes over them once more).
    pub fn auto_soft_log_likelihoods(
        &self,
        x: ArrayView2<'_, F>,
        w: Option<ArrayView1<'_, F>>,
    ) -> Result<[f64; 4]> {
        // An empty block (a partition with no rows) adds nothing.
        if x.nrows() == 0 && x.ncols() == self.n_features() {
            return Ok([0.0; 4]);
        }
        self.check_new(x)?;
        if let Some(w) = w {
            crate::data::check_weights(w, x.nrows())?;
        }
        self.auto_soft_log_likelihoods_valid(x, w)
    }

    /// [`Self::auto_soft_log_likelihoods`] of data the caller validated.
    pub(crate) fn auto_soft_log_likelihoods_valid(
        &self,
        x: ArrayView2<'_, F>,
        w: Option<ArrayView1<'_, F>>,
    ) -> Result<[f64; 4]> {
        let cands = self.auto_candidates(1.0)?;
        // Blocks of rows in parallel, summed in order: the same totals for any thread count.
        let parts: Vec<[f64; 4]> = crate::data::map_segments(x.nrows(), |rows| {
            let r = rows.start..rows.end;
            let sq = self.squared_distances_valid(x.slice(ndarray::s![r.clone(), ..]));
            let wb = w.map(|w| w.slice_move(ndarray::s![r]));
            cands.log_likelihoods(sq.view(), DistanceKind::Squared, wb)
        });
        let mut total = [0.0; 4];
        for p in &parts {
            for (t, v) in total.iter_mut().zip(p) {
                *t += v;
            }
        }
        Ok(total)
    }

    /// [`Self::auto_soft_log_likelihoods`] from the squared distances `sq` of the rows to the
    /// centres (sparse data, whose distances come from their own kernel).
    pub(crate) fn auto_soft_log_likelihoods_of_distances(
        &self,
        sq: ArrayView2<'_, f64>,
        w: Option<ArrayView1<'_, F>>,
    ) -> Result<[f64; 4]> {
        let cands = self.auto_candidates(1.0)?;
        let w64 = w.map(|w| w.mapv(|v| v.as_f64()));
        Ok(cands.log_likelihoods(sq, DistanceKind::Squared, w64.as_ref().map(|w| w.view())))
    }

    /// This model with the soft step `auto` chooses (`method` must be [`SoftMethod::Auto`])
    /// from the training log-likelihoods `ll` of [`Self::auto_soft_log_likelihoods`].
    pub fn with_auto_soft(mut self, method: &SoftMethod, ll: [f64; 4]) -> Result<Self> {
        self.soft = Some(self.auto_soft(method, ll)?);
        Ok(self)
    }

    /// The soft step of [`Self::with_auto_soft`], on its own (to attach with
    /// [`Self::with_soft`], e.g. to a copy of the model in another float type).
    pub fn auto_soft(&self, method: &SoftMethod, ll: [f64; 4]) -> Result<FittedSoft> {
        let temperature = crate::soft::auto_temperature(method)?;
        let w_all = self.stats.as_ref().map_or(f64::NAN, |s| s.total_weight);
        Ok(self.auto_candidates(temperature)?.choose(ll, w_all))
    }

    /// `auto`'s candidates from the training sums; the temperature only reaches the fitted
    /// softmax, never the likelihoods.
    fn auto_candidates(&self, temperature: f64) -> Result<crate::soft::AutoCandidates> {
        let st = self.stats.as_ref().ok_or(Error::MissingParameter {
            name: "the automatic soft step",
            hint: "it weighs its variants with the training statistics, which a model built \
                   from centres does not have; choose the soft method",
        })?;
        Ok(crate::soft::AutoCandidates::from_cluster_sums(
            st.clusters.deviations.sum_axis(ndarray::Axis(1)).to_vec(),
            st.clusters.cluster_weight.to_vec(),
            self.n_features() as f64,
            temperature,
        ))
    }

    /// This model with `soft` as its soft step (fitted elsewhere, for example with
    /// [`SoftMethod::fit`] on distances); its number of clusters must match.
    pub fn with_soft(mut self, soft: FittedSoft) -> Result<Self> {
        soft.validate()?;
        if soft.n_clusters() != self.n_clusters() {
            return Err(Error::ShapeMismatch {
                what: "soft parameters",
                expected: format!("{} clusters, as the model", self.n_clusters()),
                found: format!("{} clusters", soft.n_clusters()),
            });
        }
        self.soft = Some(soft);
        Ok(self)
    }

    /// Checks that the parameters fit together and are usable (for models read back): finite
    /// centres and centring vector of matching width, training statistics of matching shapes,
    /// finite and non-negative, and a soft step for the same clusters.
    pub fn validate(&self) -> Result<()> {
        let (k, d) = self.centers.dim();
        if k == 0 || d == 0 {
            return Err(Error::EmptyInput { what: "centres" });
        }
        check_matrix(self.centers.view(), "centres")?;
        if self.centering.len() != d {
            return Err(Error::ShapeMismatch {
                what: "centring vector",
                expected: format!("{d} values, one per feature"),
                found: format!("{}", self.centering.len()),
            });
        }
        check_matrix(
            self.centering.view().insert_axis(ndarray::Axis(0)),
            "centring vector",
        )?;
        if let Some(st) = &self.stats {
            let what = "k-means training statistics";
            st.clusters.validate(k, d, what)?;
            if !(st.inertia.is_finite() && st.inertia >= 0.0 && st.total_weight.is_finite()) {
                return Err(invalid(
                    what,
                    "a negative or non-finite value",
                    "a finite inertia and total weight",
                ));
            }
        }
        if let Some(soft) = &self.soft {
            soft.validate()?;
            if soft.n_clusters() != k {
                return Err(Error::ShapeMismatch {
                    what: "soft parameters",
                    expected: format!("{k} clusters, as the model"),
                    found: format!("{} clusters", soft.n_clusters()),
                });
            }
        }
        Ok(())
    }

    /// The same model in another float type (centres and centring vector converted; every
    /// statistic is kept in f64).
    pub fn cast<G: Float>(&self) -> KMeansModel<G> {
        KMeansModel {
            centers: self.centers.mapv(|v| G::of(v.as_f64())),
            centering: self.centering.mapv(|v| G::of(v.as_f64())),
            labels: self.labels.clone(),
            stats: self.stats.clone(),
            soft: self.soft.clone(),
            diagnostics: self.diagnostics.clone(),
        }
    }

    /// The soft step of `method` for this model's clusters: softmax and inverse-power from the
    /// per-cluster sums of the fit, minmax and anchored from the distances of `x` (validated
    /// training data).
    fn fit_soft(
        &self,
        method: &SoftMethod,
        x: ArrayView2<'_, F>,
        sample_weight: Option<ArrayView1<'_, F>>,
    ) -> Result<FittedSoft> {
        let d = self.n_features();
        if matches!(method, SoftMethod::Auto(_)) {
            let ll = self.auto_soft_log_likelihoods_valid(x, sample_weight)?;
            return self.auto_soft(method, ll);
        }
        match (&self.stats, method.from_sums()) {
            (Some(st), true) => method.fit_nearest_sums(
                st.clusters.deviations.sum_axis(ndarray::Axis(1)).to_vec(),
                st.clusters.cluster_weight.to_vec(),
                d,
            ),
            _ => {
                let mut dist = self.kernel().squared_distances(x);
                dist.mapv_inplace(F::sqrt);
                method.fit_valid(dist.view(), DistanceKind::Euclidean, Some(d), sample_weight)
            }
        }
    }

    /// The vector the distance kernel subtracts from data and centres before the GEMM-form
    /// distances (the training data's column means).
    pub fn centering(&self) -> ArrayView1<'_, F> {
        self.centering.view()
    }

    /// Cluster centres, `k x d`.
    pub fn centers(&self) -> ArrayView2<'_, F> {
        self.centers.view()
    }

    /// Training labels (equal to `predict` on the training data); empty for a model read back
    /// from a file or built from centres.
    pub fn labels(&self) -> ArrayView1<'_, usize> {
        self.labels.view()
    }

    /// The fitted soft step (`None` for a model built from centres without one).
    pub fn soft(&self) -> Option<&FittedSoft> {
        self.soft.as_ref()
    }

    /// Weighted inertia `sum_i w_i |x_i - c_{l_i}|²` of the training data (NaN for a model
    /// that only has centres).
    pub fn inertia(&self) -> f64 {
        self.stats.as_ref().map_or(f64::NAN, |s| s.inertia)
    }

    /// Inertia of each cluster, `I_j = sum_{l_i = j} w_i |x_i - c_j|²` (they sum to the
    /// inertia). NaN for a model that only has centres.
    pub fn cluster_inertia(&self) -> Array1<f64> {
        match &self.stats {
            Some(s) => s.clusters.deviations.sum_axis(ndarray::Axis(1)),
            None => Array1::from_elem(self.n_clusters(), f64::NAN),
        }
    }

    /// Weighted squared deviations from the centres per cluster and feature,
    /// `S_jt = sum_{l_i = j} w_i (x_it - c_jt)²` (`k x d`), accumulated in the final pass of the
    /// fit; `S_jt / W_j` is cluster j's variance along feature t. `None` for a model that only
    /// has centres.
    pub fn cluster_deviations(&self) -> Option<ArrayView2<'_, f64>> {
        self.stats.as_ref().map(|s| s.clusters.deviations.view())
    }

    /// Total sample weight of each cluster in the training data (`None` for a model that only
    /// has centres).
    pub fn cluster_weights(&self) -> Option<ArrayView1<'_, f64>> {
        self.stats
            .as_ref()
            .map(|s| s.clusters.cluster_weight.view())
    }

    /// Number of clusters `k`.
    pub fn n_clusters(&self) -> usize {
        self.centers.nrows()
    }

    /// Number of features `d`.
    pub fn n_features(&self) -> usize {
        self.centers.ncols()
    }

    /// The maximum-likelihood shared isotropic variance of the fixed-variance Gaussian mixture
    /// that k-means fits: `sigma² = inertia / (W d)`, `W` the total sample weight.
    pub fn sigma2(&self) -> f64 {
        self.stats.as_ref().map_or(f64::NAN, |s| {
            s.inertia / (s.total_weight * self.n_features() as f64)
        })
    }

    /// Fit diagnostics.
    pub fn diagnostics(&self) -> &KMeansDiagnostics {
        &self.diagnostics
    }

    fn check_new(&self, x: ArrayView2<'_, F>) -> Result<()> {
        check_new_data(x, self.n_features())
    }

    fn kernel(&self) -> DistanceKernel<F> {
        DistanceKernel::new(self.centers.view(), self.centering.view())
    }

    /// Nearest centre of each row (lowest index on ties).
    pub fn predict(&self, x: ArrayView2<'_, F>) -> Result<Array1<usize>> {
        self.check_new(x)?;
        Ok(lloyd::nearest(x, &self.kernel()))
    }

    fn fitted_soft(&self) -> Result<&FittedSoft> {
        self.soft.as_ref().ok_or(Error::MissingParameter {
            name: "a soft step",
            hint: "this k-means model was built from centres only: fit the model on data \
                   (from Rust, a soft step can also be attached with KMeansModel::with_soft)",
        })
    }

    /// Soft memberships of `x` by the model's own soft step (the full contract), computed
    /// block by block from squared distances: no `n x k` distance or score matrix is stored,
    /// and the result equals [`FittedSoft::memberships`] on [`Self::squared_distances`].
    pub fn memberships(&self, x: ArrayView2<'_, F>) -> Result<Membership<F>> {
        let soft = self.fitted_soft()?;
        self.check_new(x)?;
        let kernel = self.kernel();
        let d = x.ncols();
        Ok(Membership::from_score_blocks(
            x.nrows(),
            self.n_clusters(),
            || kernel.scratch(d),
            |scratch, first, out| score_rows(x, &kernel, soft, scratch, first, out),
        ))
    }

    /// The probabilities of [`Self::memberships`] into `out` (`n x k`): distances, log-scores
    /// and normalisation fused per row block, the output written once.
    pub fn predict_proba_into(
        &self,
        x: ArrayView2<'_, F>,
        out: ArrayViewMut2<'_, f64>,
    ) -> Result<()> {
        let soft = self.fitted_soft()?;
        self.check_new(x)?;
        let k = self.n_clusters();
        crate::membership::check_out_shape(x.nrows(), k, &out)?;
        let mut out = out;
        let Some(flat) = out.as_slice_mut() else {
            // A strided view: through a contiguous matrix.
            let mut tmp = Array2::<f64>::zeros((x.nrows(), k));
            self.predict_proba_into(x, tmp.view_mut())?;
            out.assign(&tmp);
            return Ok(());
        };
        let kernel = self.kernel();
        let coef = soft.softmax_coef(DistanceKind::Squared);
        let d = x.ncols();
        flat.par_chunks_mut(crate::data::SEGMENT_ROWS * k)
            .enumerate()
            .for_each_init(
                || kernel.scratch(d),
                |scratch, (s, p)| {
                    let first = s * crate::data::SEGMENT_ROWS;
                    let rows = p.len() / k;
                    kernel.for_each_product_block(x, first..first + rows, scratch, |blk| {
                        let o = (blk.start - first) * k;
                        crate::simd::dispatch(ProbaRows {
                            kernel: &kernel,
                            soft,
                            coef: coef.as_ref(),
                            g: blk.g,
                            xn: blk.xn,
                            xc: blk.xc,
                            out: &mut p[o..o + blk.rows * k],
                        });
                    });
                },
            );
        Ok(())
    }

    /// The anchored soft step's raw per-cluster scores in [0, 1] (`n x k`, not normalised);
    /// `None` for every other soft method.
    pub fn anchored_scores(&self, x: ArrayView2<'_, F>) -> Result<Option<Array2<f64>>> {
        let soft = self.fitted_soft()?;
        if soft.kind() != crate::soft::SoftKind::Anchored {
            return Ok(None);
        }
        let d2 = self.squared_distances(x)?;
        soft.anchored_scores(d2.view(), DistanceKind::Squared)
    }

    /// Per-cluster spreads for typicality, from the per-cluster deviations the fit accumulated
    /// (the same values as [`ClusterSpread::fit_labels`] on the training data, without another
    /// pass over it).
    pub fn spread(&self, kind: Spread) -> Result<ClusterSpread> {
        let Some(st) = &self.stats else {
            return Err(Error::MissingParameter {
                name: "cluster spreads",
                hint: "this k-means model was not fitted on data (it only has centres): fit \
                       the model on data (from Rust, ClusterSpread::fit_labels fits spreads \
                       alone)",
            });
        };
        st.clusters.spread(self.centers.view(), kind)
    }

    /// Chi-square typicality of every row for every cluster under [`Self::spread`].
    pub fn typicality(&self, x: ArrayView2<'_, F>, kind: Spread) -> Result<Typicality> {
        self.spread(kind)?.typicality(x)
    }

    /// Squared Euclidean distances to the centres, `n x k`.
    pub fn squared_distances(&self, x: ArrayView2<'_, F>) -> Result<Array2<F>> {
        self.check_new(x)?;
        Ok(self.squared_distances_valid(x))
    }

    /// [`Self::squared_distances`] of data the caller validated.
    pub(crate) fn squared_distances_valid(&self, x: ArrayView2<'_, F>) -> Array2<F> {
        self.kernel().squared_distances(x)
    }

    /// Euclidean distances to the centres, `n x k` (scikit-learn's `transform`).
    pub fn transform(&self, x: ArrayView2<'_, F>) -> Result<Array2<F>> {
        let mut d = self.squared_distances(x)?;
        d.mapv_inplace(F::sqrt);
        Ok(d)
    }
}

/// Probabilities of a block of rows from their inner products with the centres, fused row by
/// row: squared distances (as the distance kernel finishes them), log-scores (the softmax's
/// [`crate::soft::SoftmaxCoef`] when `coef` is given, else the soft step's row scores),
/// normalisation,
/// written once into `out`.
struct ProbaRows<'a, F: Float> {
    kernel: &'a crate::distance::DistanceKernel<F>,
    soft: &'a FittedSoft,
    coef: Option<&'a crate::soft::SoftmaxCoef>,
    g: &'a mut [F],
    xn: &'a [F],
    xc: &'a [F],
    out: &'a mut [f64],
}

impl<F: Float> crate::simd::Kernel for ProbaRows<'_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let k = self.kernel.n_centers();
        let d = self.xc.len() / self.xn.len().max(1);
        for (((row, &n), xi), o) in self
            .g
            .chunks_exact_mut(k)
            .zip(self.xn)
            .zip(self.xc.chunks_exact(d.max(1)))
            .zip(self.out.chunks_exact_mut(k))
        {
            self.kernel.finish_row(row, n, xi, true);
            match self.coef {
                Some(coef) => {
                    coef.row(row, o);
                    if !crate::simd::max(o).is_finite() {
                        // Every term underflowed: the soft step's limits.
                        self.soft.row_scores(row, DistanceKind::Squared, o);
                    }
                }
                None => self.soft.row_scores(row, DistanceKind::Squared, o),
            }
            crate::membership::normalise_in_place(o);
        }
    }
}

/// The soft step's log-scores of the rows `first..` of `x` that fit in `out` (rows x k).
fn score_rows<F: Float>(
    x: ArrayView2<'_, F>,
    kernel: &crate::distance::DistanceKernel<F>,
    soft: &FittedSoft,
    scratch: &mut crate::distance::Scratch<F>,
    first: usize,
    out: &mut [f64],
) {
    let k = kernel.n_centers();
    let rows = out.len() / k;
    kernel.for_each_product_block(x, first..first + rows, scratch, |blk| {
        kernel.finish_exact(blk.xc, blk.xn, blk.g);
        let o = (blk.start - first) * k;
        let dst = &mut out[o..o + blk.rows * k];
        soft.block_scores(blk.g, k, DistanceKind::Squared, dst);
    });
}

impl<F: Float> ClusterModel<F> for KMeansModel<F> {
    fn n_clusters(&self) -> usize {
        self.centers.nrows()
    }
    fn n_features(&self) -> usize {
        self.centers.ncols()
    }
    fn memberships(&self, x: ArrayView2<'_, F>) -> Result<Membership<F>> {
        KMeansModel::memberships(self, x)
    }
    fn predict(&self, x: ArrayView2<'_, F>) -> Result<Array1<usize>> {
        KMeansModel::predict(self, x)
    }
    fn predict_proba_into(&self, x: ArrayView2<'_, F>, out: ArrayViewMut2<'_, f64>) -> Result<()> {
        KMeansModel::predict_proba_into(self, x, out)
    }
    fn typicality(&self, x: ArrayView2<'_, F>, spread: Spread) -> Result<Typicality> {
        KMeansModel::typicality(self, x, spread)
    }
}

/// Nearest of `centers` (`k x d`) for every row of validated `x`, with the distance kernel
/// centred on `centering`: what consensus k-means runs once per aligned run.
pub(crate) fn nearest_centers<F: Float>(
    x: ArrayView2<'_, F>,
    centers: ArrayView2<'_, F>,
    centering: ArrayView1<'_, F>,
) -> Array1<usize> {
    lloyd::nearest(x, &DistanceKernel::new(centers, centering))
}
