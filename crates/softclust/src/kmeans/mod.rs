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

mod init;
mod lloyd;

use crate::data::{check_matrix, check_weights};
use crate::distance::{column_means, DistanceKernel};
use crate::error::{invalid, Error, Result};
use crate::float::Float;
use crate::membership::Membership;
use crate::rng::{derive_seed, Rng};
use crate::soft::{DistanceKind, FittedSoft};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

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
}

/// What happened during a fit: iterations, convergence, restarts.
#[derive(Debug, Clone, PartialEq)]
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

/// A fitted k-means model: centres, training labels, inertia and diagnostics. Immutable.
#[derive(Debug, Clone)]
pub struct KMeansModel<F: Float> {
    centers: Array2<F>,
    labels: Array1<usize>,
    inertia: f64,
    /// `S_jt = sum_{l_i = j} w_i (x_it - c_jt)²`, k x d.
    deviations: Array2<f64>,
    cluster_weight: Array1<f64>,
    total_weight: f64,
    mu: Array1<F>,
    diagnostics: KMeansDiagnostics,
}

impl<F: Float> KMeans<F> {
    /// k-means with `n_clusters` clusters and default settings.
    pub fn new(n_clusters: usize) -> Self {
        KMeans {
            n_clusters,
            init: Init::KMeansPlusPlus,
            n_init: None,
            max_iter: 300,
            tol: 1e-4,
            seed: 0,
            n_local_trials: None,
        }
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

    fn runs(&self) -> usize {
        match (&self.init, self.n_init) {
            (Init::Centers(_), _) => 1,
            (_, Some(n)) => n,
            (Init::Random, None) => 10,
            (_, None) => 1,
        }
    }

    fn validate(&self, x: ArrayView2<'_, F>, w: Option<ArrayView1<'_, F>>) -> Result<()> {
        if self.n_clusters == 0 {
            return Err(invalid("n_clusters", 0, "an integer >= 1"));
        }
        if self.max_iter == 0 {
            return Err(invalid("max_iter", 0, "an integer >= 1"));
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(invalid("tol", self.tol, "a finite number >= 0"));
        }
        if self.n_init == Some(0) {
            return Err(invalid("n_init", 0, "an integer >= 1"));
        }
        if self.n_local_trials == Some(0) {
            return Err(invalid("n_local_trials", 0, "an integer >= 1"));
        }
        check_matrix(x, "data")?;
        if x.nrows() < self.n_clusters {
            return Err(Error::TooFewPoints {
                n_samples: x.nrows(),
                n_clusters: self.n_clusters,
            });
        }
        if let Some(w) = w {
            check_weights(w, x.nrows())?;
        }
        if let Init::Centers(c) = &self.init {
            if c.dim() != (self.n_clusters, x.ncols()) {
                return Err(Error::ShapeMismatch {
                    what: "initial centres",
                    expected: format!("{} x {} (k x features)", self.n_clusters, x.ncols()),
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
        let n = x.nrows();
        let w = crate::data::weights_or_ones(sample_weight, n);
        let mu = column_means(x);
        let mu64: Vec<f64> = mu.iter().map(|v| v.as_f64()).collect();
        let tol_abs = self.tol * crate::data::mean_variance(x, &mu64);
        let k = self.n_clusters;
        let trials = self.local_trials();
        let n_runs = self.runs();

        let mut best: Option<(usize, lloyd::Run<F>)> = None;
        let mut run_inertia = Vec::with_capacity(n_runs);
        let mut run_n_iter = Vec::with_capacity(n_runs);
        let mut run_converged = Vec::with_capacity(n_runs);
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
            let max_iter = self.max_iter;
            let mut on_iter = |iteration: usize, inertia: f64| {
                progress(Progress {
                    run,
                    n_runs,
                    iteration,
                    max_iter,
                    inertia,
                })
            };
            let r = lloyd::lloyd(x, &w, mu.view(), start, max_iter, tol_abs, &mut on_iter);
            run_inertia.push(r.inertia);
            run_n_iter.push(r.n_iter);
            run_converged.push(r.converged);
            let better = match &best {
                None => true,
                Some((_, b)) => r.inertia < b.inertia,
            };
            if better {
                best = Some((run, r));
            }
        }
        let (best_run, r) = best.ok_or(Error::InvalidParameter {
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
            run_inertia,
            run_n_iter,
            run_converged,
            empty_relocations: r.relocations,
        };
        Ok(KMeansModel {
            centers: r.centers,
            labels: Array1::from(r.labels),
            inertia: r.inertia,
            deviations: r.deviations,
            cluster_weight: Array1::from(r.cluster_weight),
            total_weight: w.iter().sum(),
            mu,
            diagnostics,
        })
    }
}

impl<F: Float> KMeansModel<F> {
    /// A model that only knows its centres (for example read back from a file): `predict`,
    /// `transform` and distances work; training labels are empty, inertia is NaN.
    /// `centering` is the vector the distance kernel centres data on (see
    /// [`KMeansModel::centering`]); give the fitted model's to reproduce its distances bit for
    /// bit, or `None` to use the mean of the centres.
    pub fn from_centers(centers: Array2<F>, centering: Option<Array1<F>>) -> Result<Self> {
        check_matrix(centers.view(), "centres")?;
        let (k, d) = centers.dim();
        let mu = match centering {
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
            labels: Array1::zeros(0),
            inertia: f64::NAN,
            deviations: Array2::from_elem((k, d), f64::NAN),
            cluster_weight: Array1::from_elem(k, f64::NAN),
            total_weight: f64::NAN,
            mu,
            diagnostics: KMeansDiagnostics {
                n_iter: 0,
                converged: true,
                inertia_history: Vec::new(),
                tol_abs: f64::NAN,
                best_run: 0,
                run_inertia: Vec::new(),
                run_n_iter: Vec::new(),
                run_converged: Vec::new(),
                empty_relocations: 0,
            },
        })
    }

    /// The vector the distance kernel subtracts from data and centres before the GEMM-form
    /// distances (the training data's column means).
    pub fn centering(&self) -> ArrayView1<'_, F> {
        self.mu.view()
    }

    /// Cluster centres, `k x d`.
    pub fn centers(&self) -> ArrayView2<'_, F> {
        self.centers.view()
    }

    /// Training labels (equal to `predict` on the training data).
    pub fn labels(&self) -> ArrayView1<'_, usize> {
        self.labels.view()
    }

    /// Weighted inertia `sum_i w_i |x_i - c_{l_i}|²` of the training data.
    pub fn inertia(&self) -> f64 {
        self.inertia
    }

    /// Inertia of each cluster, `I_j = sum_{l_i = j} w_i |x_i - c_j|²` (they sum to the
    /// inertia). NaN for a model that only has centres.
    pub fn cluster_inertia(&self) -> Array1<f64> {
        self.deviations.sum_axis(ndarray::Axis(1))
    }

    /// Weighted squared deviations from the centres per cluster and feature,
    /// `S_jt = sum_{l_i = j} w_i (x_it - c_jt)²` (`k x d`), accumulated in the final pass of the
    /// fit; `S_jt / W_j` is cluster j's variance along feature t. NaN for a model that only has
    /// centres.
    pub fn cluster_deviations(&self) -> ArrayView2<'_, f64> {
        self.deviations.view()
    }

    /// Total sample weight of each cluster in the training data.
    pub fn cluster_weights(&self) -> ArrayView1<'_, f64> {
        self.cluster_weight.view()
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
        self.inertia / (self.total_weight * self.n_features() as f64)
    }

    /// Fit diagnostics.
    pub fn diagnostics(&self) -> &KMeansDiagnostics {
        &self.diagnostics
    }

    fn check_new(&self, x: ArrayView2<'_, F>) -> Result<()> {
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

    fn kernel(&self) -> DistanceKernel<F> {
        DistanceKernel::new(self.centers.view(), self.mu.view())
    }

    /// Nearest centre of each row (lowest index on ties).
    pub fn predict(&self, x: ArrayView2<'_, F>) -> Result<Array1<usize>> {
        self.check_new(x)?;
        Ok(lloyd::nearest(x, &self.kernel()))
    }

    /// Soft memberships of `x` by a fitted soft method (the full contract), computed block by
    /// block from squared distances: no `n x k` distance or score matrix is stored, and the
    /// result equals [`FittedSoft::memberships`] on [`Self::squared_distances`].
    pub fn memberships(&self, x: ArrayView2<'_, F>, soft: &FittedSoft) -> Result<Membership<F>> {
        self.check_new(x)?;
        let k = self.n_clusters();
        if soft.n_clusters() != k {
            return Err(Error::ShapeMismatch {
                what: "soft parameters",
                expected: format!("{k} clusters, as the model"),
                found: format!("{} clusters", soft.n_clusters()),
            });
        }
        let kernel = self.kernel();
        let d = x.ncols();
        Ok(Membership::from_score_blocks(
            x.nrows(),
            k,
            || kernel.scratch(d),
            |scratch, first, out| {
                let rows = out.len() / k;
                kernel.for_each_product_block(x, first..first + rows, scratch, |blk| {
                    kernel.finish_exact(blk.xc, blk.xn, blk.g);
                    let o = (blk.start - first) * k;
                    for (r, dr) in blk.g.chunks_exact(k).enumerate() {
                        let dst = &mut out[o + r * k..o + (r + 1) * k];
                        soft.row_scores(dr, DistanceKind::Squared, dst);
                    }
                });
            },
        ))
    }

    /// Squared Euclidean distances to the centres, `n x k`.
    pub fn squared_distances(&self, x: ArrayView2<'_, F>) -> Result<Array2<F>> {
        self.check_new(x)?;
        Ok(self.kernel().squared_distances(x))
    }

    /// Euclidean distances to the centres, `n x k` (scikit-learn's `transform`).
    pub fn transform(&self, x: ArrayView2<'_, F>) -> Result<Array2<F>> {
        let mut d = self.squared_distances(x)?;
        d.mapv_inplace(F::sqrt);
        Ok(d)
    }
}
