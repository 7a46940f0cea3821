//! Consensus (bootstrap) k-means: how often does each point land in each cluster?
//!
//! A reference k-means solution is fitted on all data. Then `B` runs of k-means are fitted on
//! resamples (bootstrap draws, subsamples of a fraction of the points, or the full data with
//! new seeds). Each run's centres are aligned to the reference centres by minimum-cost
//! assignment on squared centre distances ([`crate::assignment`]), every point, in the
//! resample or not, is assigned to its nearest aligned centre, and
//!
//! ```text
//! P(cluster j | x_i) = (number of runs that put x_i in j) / B.
//! ```
//!
//! Alongside: per-cluster stability (mean Jaccard index between the reference cluster and its
//! match in each run), a Wilson score interval for each point's top probability, and on request
//! the co-association matrix (share of runs in which two points share a cluster). Memory is
//! `O(n k)` (integer counts) unless the co-association matrix is asked for. Runs execute in
//! parallel with seeds derived from `(seed, run)`; counts are integers and per-run statistics are
//! combined in run order, so results are identical on any number of threads.

use crate::assignment::min_cost_assignment;
use crate::data::{check_matrix, check_new_data};
use crate::error::{invalid, Error, Result};
use crate::float::Float;
use crate::kmeans::{nearest_centers, KMeans, KMeansModel};
use crate::membership::{ClusterModel, Membership};
use crate::rng::{derive_seed, Rng};
use crate::typicality::{Spread, Typicality};
use ndarray::{s, Array1, Array2, Array3, ArrayView1, ArrayView2, ArrayView3, Axis, Zip};
use rayon::prelude::*;

/// How each run's training set is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Resample {
    /// `n` points drawn with replacement (as integer sample weights).
    Bootstrap,
    /// A fraction in (0, 1] of the points, drawn without replacement.
    Subsample(f64),
    /// All points, with a new seed (measures sensitivity to initialisation only).
    Reseed,
}

impl Resample {
    /// `bootstrap`, `subsample:F` or `reseed`.
    pub fn name(&self) -> String {
        match self {
            Resample::Bootstrap => "bootstrap".into(),
            Resample::Subsample(f) => format!("subsample:{f}"),
            Resample::Reseed => "reseed".into(),
        }
    }
}

impl std::fmt::Display for Resample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl std::str::FromStr for Resample {
    type Err = Error;
    /// `bootstrap`, `subsample:F` with a fraction `F` in (0, 1], or `reseed`.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "bootstrap" => Ok(Resample::Bootstrap),
            "reseed" => Ok(Resample::Reseed),
            _ => match s.strip_prefix("subsample:").map(|f| f.parse::<f64>()) {
                Some(Ok(f)) => Ok(Resample::Subsample(f)),
                _ => Err(invalid(
                    "resample",
                    format!("{s:?}"),
                    "bootstrap, subsample:F with a fraction F in (0, 1], or reseed",
                )),
            },
        }
    }
}

/// The largest `n` for which the co-association matrix can be requested.
pub const MAX_COASSOCIATION_N: usize = 20_000;

/// Consensus k-means configuration.
#[derive(Debug, Clone)]
pub struct ConsensusKMeans {
    n_clusters: usize,
    runs: usize,
    resample: Resample,
    seed: u64,
    reference_n_init: usize,
    run_n_init: usize,
    max_iter: usize,
    tol: f64,
    coassociation: bool,
    interrupt: Option<crate::interrupt::Interrupt>,
}

/// A fitted consensus: the reference k-means model, the aligned run centres, training counts
/// and stability. With the `serde` feature it serialises (the training counts and the
/// co-association matrix excepted: they describe the training rows, not the model).
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(bound(
        serialize = "F: serde::Serialize",
        deserialize = "F: serde::Deserialize<'de>"
    ))
)]
pub struct ConsensusModel<F: Float> {
    reference: KMeansModel<F>,
    run_centers: Array3<F>,
    #[cfg_attr(feature = "serde", serde(skip, default = "empty_counts"))]
    counts: Array2<u32>,
    stability: Array1<f64>,
    #[cfg_attr(feature = "serde", serde(skip))]
    coassociation: Option<Array2<f32>>,
}

#[cfg(feature = "serde")]
fn empty_counts() -> Array2<u32> {
    Array2::zeros((0, 0))
}

/// Default settings of [`ConsensusKMeans`] (the CLI and Python take theirs from here).
pub mod defaults {
    /// Runs `B`.
    pub const RUNS: usize = 100;
    /// Restarts of the reference fit.
    pub const REFERENCE_N_INIT: usize = 10;
}

impl ConsensusKMeans {
    /// `n_clusters` clusters, 100 bootstrap runs of one k-means++ start each, a reference of 10
    /// starts, `max_iter = 300`, `tol = 1e-4`, seed 0.
    pub fn new(n_clusters: usize) -> Self {
        ConsensusKMeans {
            n_clusters,
            runs: defaults::RUNS,
            resample: Resample::Bootstrap,
            seed: 0,
            reference_n_init: defaults::REFERENCE_N_INIT,
            run_n_init: 1,
            max_iter: crate::kmeans::defaults::MAX_ITER,
            tol: crate::kmeans::defaults::TOL,
            coassociation: false,
            interrupt: None,
        }
    }
    /// Number of runs `B`.
    pub fn runs(mut self, b: usize) -> Self {
        self.runs = b;
        self
    }
    /// Resampling scheme.
    pub fn resample(mut self, r: Resample) -> Self {
        self.resample = r;
        self
    }
    /// Master seed.
    pub fn seed(mut self, s: u64) -> Self {
        self.seed = s;
        self
    }

    /// Lets `flag` stop the fit: once triggered, the fit returns [`Error::Interrupted`] at its
    /// next iteration (the Python package triggers it on Ctrl-C).
    pub fn interrupt(mut self, flag: crate::interrupt::Interrupt) -> Self {
        self.interrupt = Some(flag);
        self
    }
    /// Restarts of the reference fit.
    pub fn reference_n_init(mut self, n: usize) -> Self {
        self.reference_n_init = n;
        self
    }
    /// Restarts within each run.
    pub fn run_n_init(mut self, n: usize) -> Self {
        self.run_n_init = n;
        self
    }
    /// Lloyd iterations per fit.
    pub fn max_iter(mut self, n: usize) -> Self {
        self.max_iter = n;
        self
    }
    /// k-means tolerance.
    pub fn tol(mut self, t: f64) -> Self {
        self.tol = t;
        self
    }
    /// Also compute the `n x n` co-association matrix (n <= 20,000).
    pub fn coassociation(mut self, yes: bool) -> Self {
        self.coassociation = yes;
        self
    }

    fn kmeans<F: Float>(&self, seed: u64, n_init: usize) -> KMeans<F> {
        // The runs' soft steps are never used: the cheap one, from the fit's sums.
        KMeans::new(self.n_clusters)
            .soft(crate::soft::SoftMethod::default())
            .seed(seed)
            .n_init(n_init)
            .max_iter(self.max_iter)
            .tol(self.tol)
            .interrupt_opt(self.interrupt.clone())
    }

    /// Fits the consensus on `x` (n x d).
    pub fn fit<F: Float>(&self, x: ArrayView2<'_, F>) -> Result<ConsensusModel<F>> {
        self.fit_with_progress(x, &(|_| {}))
    }

    /// [`ConsensusKMeans::fit`], calling `progress(runs_done)` as runs finish (from any thread).
    pub fn fit_with_progress<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<ConsensusModel<F>> {
        crate::data::check_restarts("runs", self.runs)?;
        if let Resample::Subsample(f) = self.resample {
            if !(f > 0.0 && f <= 1.0) {
                return Err(invalid("subsample fraction", f, "a fraction in (0, 1]"));
            }
        }
        crate::data::check_restarts("n_init", self.reference_n_init)?;
        crate::data::check_restarts("n_init", self.run_n_init)?;
        if self.runs > u16::MAX as usize && self.coassociation {
            return Err(invalid(
                "runs",
                self.runs,
                "at most 65535 runs with the co-association matrix",
            ));
        }
        check_matrix(x, "data")?;
        let (n, d) = x.dim();
        let k = self.n_clusters;
        if self.coassociation && n > MAX_COASSOCIATION_N {
            return Err(invalid(
                "coassociation",
                format!("n = {n}"),
                "at most 20,000 points for the n x n co-association matrix",
            ));
        }
        if let Resample::Subsample(f) = self.resample {
            if ((f * n as f64).round() as usize) < k {
                return Err(Error::TooFewPoints {
                    n_samples: (f * n as f64).round() as usize,
                    n_clusters: k,
                });
            }
        }
        // The data were validated above: the nested fits do not scan them again.
        let reference = self
            .kmeans::<F>(self.seed, self.reference_n_init)
            .fit_unchecked(x, None, &mut |_| {})?;
        let ref_labels = reference.labels().to_owned();
        let ref_sizes: Vec<usize> = (0..k)
            .map(|j| ref_labels.iter().filter(|&&l| l == j).count())
            .collect();
        let mu = reference.centering().to_owned();
        let done = std::sync::atomic::AtomicUsize::new(0);

        struct RunOut<F> {
            index: usize,
            centers: Array2<F>,
            jaccard: Vec<f64>,
            labels: Option<Vec<u16>>,
        }
        let run = |b: usize| -> Result<(Vec<usize>, RunOut<F>)> {
            let seed = derive_seed(self.seed, 1 + b as u64);
            let mut rng = Rng::new(seed ^ 0x5EED);
            let weights: Option<Array1<F>> = match self.resample {
                Resample::Reseed => None,
                Resample::Bootstrap => {
                    let mut w = Array1::<F>::zeros(n);
                    for _ in 0..n {
                        w[rng.below(n)] += F::one();
                    }
                    Some(w)
                }
                Resample::Subsample(f) => {
                    let m = (f * n as f64).round() as usize;
                    let mut idx: Vec<usize> = (0..n).collect();
                    let mut w = Array1::<F>::zeros(n);
                    for t in 0..m {
                        let r = t + rng.below(n - t);
                        idx.swap(t, r);
                        w[idx[t]] = F::one();
                    }
                    Some(w)
                }
            };
            let fitted = self.kmeans::<F>(seed, self.run_n_init).fit_unchecked(
                x,
                weights.as_ref().map(|w| w.view()),
                &mut |_| {},
            )?;
            // Align: cost[i, j] = |ref_i - run_j|².
            let rc = reference.centers();
            let c = fitted.centers();
            let cost = Array2::from_shape_fn((k, k), |(i, j)| {
                rc.row(i)
                    .iter()
                    .zip(c.row(j))
                    .map(|(&a, &b)| {
                        let t = (a - b).as_f64();
                        t * t
                    })
                    .sum::<f64>()
            });
            let perm = min_cost_assignment(cost.view());
            let aligned = c.select(Axis(0), &perm);
            let labels = nearest_centers(x, aligned.view(), mu.view());
            let mut inter = vec![0usize; k];
            let mut sizes = vec![0usize; k];
            for (&l, &r) in labels.iter().zip(ref_labels.iter()) {
                sizes[l] += 1;
                if l == r {
                    inter[l] += 1;
                }
            }
            let jaccard = (0..k)
                .map(|j| {
                    let union = ref_sizes[j] + sizes[j] - inter[j];
                    if union == 0 {
                        1.0
                    } else {
                        inter[j] as f64 / union as f64
                    }
                })
                .collect();
            let lab16 = self
                .coassociation
                .then(|| labels.iter().map(|&l| l as u16).collect());
            progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1);
            Ok((
                labels.to_vec(),
                RunOut {
                    index: b,
                    centers: aligned,
                    jaccard,
                    labels: lab16,
                },
            ))
        };

        type Acc<F> = (Array2<u32>, Vec<RunOut<F>>);
        let (counts, mut outs) = (0..self.runs)
            .into_par_iter()
            .map(run)
            .try_fold(
                || -> Acc<F> { (Array2::<u32>::zeros((n, k)), Vec::new()) },
                |(mut counts, mut outs), r| {
                    let (labels, out) = r?;
                    for (i, &l) in labels.iter().enumerate() {
                        counts[(i, l)] += 1;
                    }
                    outs.push(out);
                    Ok::<Acc<F>, Error>((counts, outs))
                },
            )
            .try_reduce(
                || (Array2::<u32>::zeros((n, k)), Vec::new()),
                |(mut a, mut oa), (b, ob)| {
                    a += &b;
                    oa.extend(ob);
                    Ok((a, oa))
                },
            )?;
        outs.sort_by_key(|o| o.index);
        let b = self.runs as f64;
        let mut stability = Array1::<f64>::zeros(k);
        let mut run_centers = Array3::<F>::zeros((self.runs, k, d));
        for o in &outs {
            for j in 0..k {
                stability[j] += o.jaccard[j];
            }
            run_centers
                .index_axis_mut(Axis(0), o.index)
                .assign(&o.centers);
        }
        stability /= b;
        let coassociation = if self.coassociation {
            let labels: Vec<&Vec<u16>> = outs.iter().filter_map(|o| o.labels.as_ref()).collect();
            let mut co = Array2::<f32>::zeros((n, n));
            co.axis_iter_mut(Axis(0))
                .into_par_iter()
                .enumerate()
                .for_each(|(i, mut row)| {
                    let mut acc = vec![0u16; n];
                    for lab in &labels {
                        let li = lab[i];
                        for (a, &lj) in acc.iter_mut().zip(lab.iter()) {
                            *a += u16::from(lj == li);
                        }
                    }
                    for (r, &a) in row.iter_mut().zip(&acc) {
                        *r = f32::from(a) / b as f32;
                    }
                });
            Some(co)
        } else {
            None
        };
        Ok(ConsensusModel {
            reference,
            run_centers,
            counts,
            stability,
            coassociation,
        })
    }
}

/// Wilson score interval for a proportion `p` out of `trials`, at `z` standard errors.
pub fn wilson_interval(p: f64, trials: f64, z: f64) -> (f64, f64) {
    let z2 = z * z;
    let denom = 1.0 + z2 / trials;
    let center = (p + z2 / (2.0 * trials)) / denom;
    let half = z / denom * (p * (1.0 - p) / trials + z2 / (4.0 * trials * trials)).sqrt();
    ((center - half).max(0.0), (center + half).min(1.0))
}

/// `z` for a two-sided 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

impl<F: Float> ConsensusModel<F> {
    /// Number of runs.
    pub fn n_runs(&self) -> usize {
        self.run_centers.len_of(Axis(0))
    }
    /// The reference k-means solution the runs are aligned to.
    pub fn reference(&self) -> &KMeansModel<F> {
        &self.reference
    }
    /// Aligned centres of every run, `B x k x d`.
    pub fn run_centers(&self) -> ArrayView3<'_, F> {
        self.run_centers.view()
    }
    /// How many runs put each training point in each cluster, `n x k`.
    pub fn counts(&self) -> ArrayView2<'_, u32> {
        self.counts.view()
    }
    /// Mean Jaccard index of each reference cluster with its match across runs.
    pub fn stability(&self) -> ArrayView1<'_, f64> {
        self.stability.view()
    }
    /// The co-association matrix, if it was asked for.
    pub fn coassociation(&self) -> Option<ArrayView2<'_, f32>> {
        self.coassociation.as_ref().map(|c| c.view())
    }
    /// Training memberships: `counts / B`.
    pub fn memberships(&self) -> Membership<f64> {
        self.memberships_from_counts(self.counts.view())
    }
    /// The memberships `counts / B` of run counts (as [`Self::predict_counts`] gives them).
    pub fn memberships_from_counts<G: Float>(&self, counts: ArrayView2<'_, u32>) -> Membership<G> {
        let b = self.n_runs() as f64;
        Membership::from_probabilities(counts.mapv(|c| G::of(f64::from(c) / b)))
    }
    /// 95% Wilson intervals `(low, high)` for each training point's top probability.
    pub fn top_probability_intervals(&self) -> (Array1<f64>, Array1<f64>) {
        intervals(&self.counts.view(), self.n_runs())
    }
    /// How many runs put each row of `x` in each cluster (`n x k`): each run's nearest aligned
    /// centre, with `x` validated once.
    pub fn predict_counts(&self, x: ArrayView2<'_, F>) -> Result<Array2<u32>> {
        let (b, k, d) = self.run_centers.dim();
        check_new_data(x, d)?;
        let mu = self.reference.centering();
        let mut counts = Array2::<u32>::zeros((x.nrows(), k));
        for r in 0..b {
            let labels = nearest_centers(x, self.run_centers.slice(s![r, .., ..]), mu);
            for (i, &l) in labels.iter().enumerate() {
                counts[(i, l)] += 1;
            }
        }
        Ok(counts)
    }

    /// Memberships of new data (the share of runs whose nearest aligned centre is `j`) and the
    /// counts behind them.
    pub fn predict_memberships(
        &self,
        x: ArrayView2<'_, F>,
    ) -> Result<(Membership<f64>, Array2<u32>)> {
        let counts = self.predict_counts(x)?;
        Ok((self.memberships_from_counts(counts.view()), counts))
    }

    /// Checks that the parameters fit together and are usable (for models read back): a valid
    /// reference and at least one run of finite `k x d` centres.
    pub fn validate(&self) -> Result<()> {
        self.reference.validate()?;
        let (b, k, d) = self.run_centers.dim();
        if b == 0
            || (k, d) != self.reference.centers().dim()
            || self.run_centers.iter().any(|v| !v.is_finite())
        {
            return Err(Error::ShapeMismatch {
                what: "consensus run centres",
                expected: format!(
                    "at least one run of finite {} x {} centres, as the reference",
                    self.reference.n_clusters(),
                    self.reference.n_features()
                ),
                found: format!("{b} runs of {k} x {d}"),
            });
        }
        if self.stability.len() != k {
            return Err(Error::ShapeMismatch {
                what: "consensus stability",
                expected: format!("{k} values"),
                found: format!("{}", self.stability.len()),
            });
        }
        Ok(())
    }

    /// The same model in another float type.
    pub fn cast<G: Float>(&self) -> ConsensusModel<G> {
        ConsensusModel {
            reference: self.reference.cast(),
            run_centers: self.run_centers.mapv(|v| G::of(v.as_f64())),
            counts: self.counts.clone(),
            stability: self.stability.clone(),
            coassociation: self.coassociation.clone(),
        }
    }
}

impl<F: Float> ClusterModel<F> for ConsensusModel<F> {
    fn n_clusters(&self) -> usize {
        self.run_centers.len_of(Axis(1))
    }
    fn n_features(&self) -> usize {
        self.run_centers.len_of(Axis(2))
    }
    fn memberships(&self, x: ArrayView2<'_, F>) -> Result<Membership<F>> {
        Ok(self.memberships_from_counts(self.predict_counts(x)?.view()))
    }
    /// Typicality under the reference solution's cluster spreads.
    fn typicality(&self, x: ArrayView2<'_, F>, spread: Spread) -> Result<Typicality> {
        self.reference.typicality(x, spread)
    }
}

fn intervals(counts: &ArrayView2<'_, u32>, runs: usize) -> (Array1<f64>, Array1<f64>) {
    let n = counts.nrows();
    let mut lo = Array1::zeros(n);
    let mut hi = Array1::zeros(n);
    Zip::from(&mut lo)
        .and(&mut hi)
        .and(counts.rows())
        .for_each(|l, h, c| {
            let top = c.iter().copied().max().unwrap_or(0);
            let (a, b) = wilson_interval(f64::from(top) / runs as f64, runs as f64, Z95);
            *l = a;
            *h = b;
        });
    (lo, hi)
}

/// 95% Wilson intervals for the top probability of each row of `counts` out of `runs`.
pub fn count_intervals(counts: ArrayView2<'_, u32>, runs: usize) -> (Array1<f64>, Array1<f64>) {
    intervals(&counts, runs)
}
