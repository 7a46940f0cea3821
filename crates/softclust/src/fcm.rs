//! Fuzzy c-means (Bezdek, 1981).
//!
//! Minimises `J_m = sum_i sum_j w_i u_ij^m |x_i - c_j|²` over memberships `u_ij` (rows summing
//! to 1) and centres, for a fuzzifier `m > 1`, by alternating
//!
//! ```text
//! c_j  = sum_i w_i u_ij^m x_i / sum_i w_i u_ij^m
//! u_ij = d_ij^(-2/(m-1)) / sum_l d_il^(-2/(m-1))
//! ```
//!
//! The membership step is the inverse-power soft assignment with `p = 2/(m - 1)`
//! ([`crate::soft`]), computed in log space; memberships of new data are that one closed-form
//! step from the fitted centres, with no iteration. The iteration follows scikit-fuzzy's `cmeans`
//! (rows normalised and floored at machine epsilon before each centre step, distances floored at
//! epsilon, stop when the Frobenius norm of the membership change falls below `tol`), so runs
//! from the same initial memberships agree with it; unlike scikit-fuzzy, data are rows.

use crate::data::{check_matrix, check_weights};
use crate::distance::{column_means, DistanceKernel};
use crate::error::{invalid, Error, Result};
use crate::float::Float;
use crate::gmm::em::weighted_sums;
use crate::kmeans::KMeans;
use crate::membership::Membership;
use crate::soft::{DistanceKind, FittedSoft};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, Zip};

/// How fuzzy c-means starts.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FcmInit<F> {
    /// Centres from greedy k-means++ seeding (the default).
    KMeansPlusPlus,
    /// The given `k x d` centres.
    Centers(Array2<F>),
    /// The given `n x k` initial memberships (rows are normalised).
    Memberships(Array2<f64>),
}

/// Fuzzy c-means configuration.
#[derive(Debug, Clone)]
pub struct FuzzyCMeans<F: Float> {
    n_clusters: usize,
    m: f64,
    max_iter: usize,
    tol: f64,
    init: FcmInit<F>,
    seed: u64,
}

/// What happened during a fit.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FcmDiagnostics {
    /// Iterations run.
    pub n_iter: usize,
    /// Whether the membership change fell below `tol` before `max_iter`.
    pub converged: bool,
    /// `J_m` at every iteration (memberships before, centres after the centre step).
    pub objective: Vec<f64>,
    /// Frobenius norm of the last membership change.
    pub last_change: f64,
    /// Partition coefficient `sum_ij w_i u_ij² / W` (1 = crisp, 1/k = uniform).
    pub partition_coefficient: f64,
    /// Partition entropy `-sum_ij w_i u_ij ln u_ij / W` (0 = crisp, ln k = uniform).
    pub partition_entropy: f64,
}

/// A fitted fuzzy c-means model.
#[derive(Debug, Clone)]
pub struct FuzzyCMeansModel<F: Float> {
    centers: Array2<F>,
    m: f64,
    mu: Array1<F>,
    memberships: Array2<f64>,
    diagnostics: FcmDiagnostics,
}

impl<F: Float> FuzzyCMeans<F> {
    /// Fuzzy c-means with `n_clusters` clusters, `m = 2`, `max_iter = 300`, `tol = 1e-5`,
    /// k-means++ initial centres, seed 0.
    pub fn new(n_clusters: usize) -> Self {
        FuzzyCMeans {
            n_clusters,
            m: 2.0,
            max_iter: 300,
            tol: 1e-5,
            init: FcmInit::KMeansPlusPlus,
            seed: 0,
        }
    }
    /// Fuzzifier `m > 1` (close to 1: nearly hard; large: everything uniform).
    pub fn m(mut self, m: f64) -> Self {
        self.m = m;
        self
    }
    /// Maximum iterations.
    pub fn max_iter(mut self, n: usize) -> Self {
        self.max_iter = n;
        self
    }
    /// Stop when the Frobenius norm of the membership change is below `tol`.
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }
    /// Initialisation.
    pub fn init(mut self, init: FcmInit<F>) -> Self {
        self.init = init;
        self
    }
    /// Seed for k-means++ initialisation.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    fn validate(&self, x: ArrayView2<'_, F>, w: Option<ArrayView1<'_, F>>) -> Result<()> {
        let k = self.n_clusters;
        if k == 0 {
            return Err(invalid("n_clusters", 0, "an integer >= 1"));
        }
        if !(self.m.is_finite() && self.m > 1.0) {
            return Err(invalid("m", self.m, "a finite fuzzifier > 1"));
        }
        if self.max_iter == 0 {
            return Err(invalid("max_iter", 0, "an integer >= 1"));
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(invalid("tol", self.tol, "a finite number >= 0"));
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
        match &self.init {
            FcmInit::Centers(c) => {
                if c.dim() != (k, d) {
                    return Err(Error::ShapeMismatch {
                        what: "initial centres",
                        expected: format!("{k} x {d}"),
                        found: format!("{} x {}", c.nrows(), c.ncols()),
                    });
                }
                check_matrix(c.view(), "initial centres")?;
            }
            FcmInit::Memberships(u) => {
                if u.dim() != (n, k) {
                    return Err(Error::ShapeMismatch {
                        what: "initial memberships",
                        expected: format!("{n} x {k}"),
                        found: format!("{} x {}", u.nrows(), u.ncols()),
                    });
                }
                check_matrix(u.view(), "initial memberships")?;
                if u.iter().any(|&v| v < 0.0) {
                    return Err(invalid(
                        "initial memberships",
                        "a negative value",
                        "memberships >= 0",
                    ));
                }
            }
            FcmInit::KMeansPlusPlus => {}
        }
        Ok(())
    }

    /// Fits fuzzy c-means to `x` (n x d) with optional sample weights.
    pub fn fit(
        &self,
        x: ArrayView2<'_, F>,
        sample_weight: Option<ArrayView1<'_, F>>,
    ) -> Result<FuzzyCMeansModel<F>> {
        self.validate(x, sample_weight)?;
        let (n, _) = x.dim();
        let k = self.n_clusters;
        let w = crate::data::weights_or_ones(sample_weight, n);
        let mu = column_means(x);
        let eps = f64::EPSILON;
        // Squared distances floored at eps² (scikit-fuzzy floors distances at eps), then
        // u_ij = (min_l d²_il / d²_ij)^(1/(m-1)) / sum_j (...): the inverse-power membership,
        // scaled by the row minimum so that no power overflows; no transcendental at m = 2.
        let expo = 1.0 / (self.m - 1.0);
        let memberships_from = |centers: ArrayView2<'_, F>| -> Result<(Array2<f64>, Array2<f64>)> {
            let mut d2 = DistanceKernel::new(centers, mu.view())
                .squared_distances(x)
                .mapv(|v| v.as_f64().max(eps * eps));
            let mut u = Array2::<f64>::zeros(d2.dim());
            Zip::from(u.rows_mut())
                .and(d2.rows_mut())
                .par_for_each(|mut ur, dr| {
                    let lo = dr.iter().copied().fold(f64::INFINITY, f64::min);
                    let mut sum = 0.0;
                    for (o, &v) in ur.iter_mut().zip(dr.iter()) {
                        let r = lo / v;
                        *o = if expo == 1.0 { r } else { r.powf(expo) };
                        sum += *o;
                    }
                    ur.mapv_inplace(|v| v / sum);
                });
            Ok((u, d2))
        };
        let mut u = match &self.init {
            FcmInit::Memberships(u0) => u0.clone(),
            FcmInit::Centers(c) => memberships_from(c.view())?.0,
            FcmInit::KMeansPlusPlus => {
                let wv: Array1<F> = w.iter().map(|&v| F::of(v)).collect();
                let rows = KMeans::new(k)
                    .seed(self.seed)
                    .seed_indices(x, Some(wv.view()))?;
                memberships_from(x.select(Axis(0), &rows).view())?.0
            }
        };
        u.mapv_inplace(|v| v.max(eps));
        let mut centers = Array2::<F>::zeros((k, x.ncols()));
        let mut objective = Vec::new();
        let mut converged = false;
        let mut change = f64::INFINITY;
        let mut n_iter = 0;
        for it in 1..=self.max_iter {
            n_iter = it;
            // Normalise rows, floor at eps, raise to m (sample weights enter the sums below).
            let mut um = u.clone();
            let m = self.m;
            Zip::from(um.rows_mut()).par_for_each(|mut row| {
                let s = row.sum();
                row.mapv_inplace(|v| {
                    let t = (v / s).max(eps);
                    if m == 2.0 {
                        t * t
                    } else {
                        t.powf(m)
                    }
                });
            });
            let (tot, sums) = weighted_sums(x, um.view(), &w);
            for j in 0..k {
                for l in 0..x.ncols() {
                    centers[(j, l)] = F::of(sums[(j, l)] / tot[j]);
                }
            }
            let (u_new, d2) = memberships_from(centers.view())?;
            let jm = crate::data::par_sum(n, |i| {
                (0..k).map(|j| w[i] * um[(i, j)] * d2[(i, j)]).sum::<f64>()
            });
            objective.push(jm);
            change = crate::data::par_sum(n, |i| {
                (0..k)
                    .map(|j| {
                        let t = u_new[(i, j)] - u[(i, j)];
                        t * t
                    })
                    .sum::<f64>()
            })
            .sqrt();
            u = u_new;
            if change < self.tol {
                converged = true;
                break;
            }
        }
        let total: f64 = w.iter().sum();
        let mut pc = 0.0;
        let mut pe = 0.0;
        for (row, &wi) in u.rows().into_iter().zip(&w) {
            for &v in row {
                pc += wi * v * v;
                if v > 0.0 {
                    pe -= wi * v * v.ln();
                }
            }
        }
        Ok(FuzzyCMeansModel {
            centers,
            m: self.m,
            mu,
            memberships: u,
            diagnostics: FcmDiagnostics {
                n_iter,
                converged,
                objective,
                last_change: change,
                partition_coefficient: pc / total,
                partition_entropy: pe / total,
            },
        })
    }
}

impl<F: Float> FuzzyCMeansModel<F> {
    /// A model from centres and a fuzzifier (for example read back from a file).
    pub fn from_centers(centers: Array2<F>, m: f64, centering: Option<Array1<F>>) -> Result<Self> {
        check_matrix(centers.view(), "centres")?;
        if !(m.is_finite() && m > 1.0) {
            return Err(invalid("m", m, "a finite fuzzifier > 1"));
        }
        let mu = match centering {
            Some(mu) if mu.len() == centers.ncols() => mu,
            Some(mu) => {
                return Err(Error::ShapeMismatch {
                    what: "centring vector",
                    expected: format!("{} values", centers.ncols()),
                    found: format!("{}", mu.len()),
                })
            }
            None => column_means(centers.view()),
        };
        Ok(FuzzyCMeansModel {
            centers,
            m,
            mu,
            memberships: Array2::zeros((0, 0)),
            diagnostics: FcmDiagnostics {
                n_iter: 0,
                converged: true,
                objective: Vec::new(),
                last_change: 0.0,
                partition_coefficient: f64::NAN,
                partition_entropy: f64::NAN,
            },
        })
    }
    /// Centres, `k x d`.
    pub fn centers(&self) -> ArrayView2<'_, F> {
        self.centers.view()
    }
    /// The fuzzifier.
    pub fn m(&self) -> f64 {
        self.m
    }
    /// The distance kernel's centring vector (see [`crate::KMeansModel::centering`]).
    pub fn centering(&self) -> ArrayView1<'_, F> {
        self.mu.view()
    }
    /// Final training memberships (as the iteration left them), `n x k`.
    pub fn training_memberships(&self) -> ArrayView2<'_, f64> {
        self.memberships.view()
    }
    /// Diagnostics.
    pub fn diagnostics(&self) -> &FcmDiagnostics {
        &self.diagnostics
    }
    /// Number of clusters.
    pub fn n_clusters(&self) -> usize {
        self.centers.nrows()
    }
    /// Euclidean distances to the centres.
    pub fn transform(&self, x: ArrayView2<'_, F>) -> Result<Array2<F>> {
        check_matrix(x, "data")?;
        if x.ncols() != self.centers.ncols() {
            return Err(Error::ShapeMismatch {
                what: "data",
                expected: format!("{} columns, as in training", self.centers.ncols()),
                found: format!("{} columns", x.ncols()),
            });
        }
        let mut d = DistanceKernel::new(self.centers.view(), self.mu.view()).squared_distances(x);
        d.mapv_inplace(F::sqrt);
        Ok(d)
    }
    /// Memberships of any data in closed form from the centres: one membership step.
    pub fn memberships(&self, x: ArrayView2<'_, F>) -> Result<Membership<F>> {
        let d = self.transform(x)?;
        FittedSoft::inverse_power(2.0 / (self.m - 1.0), self.n_clusters())
            .memberships(d.view(), DistanceKind::Euclidean)
    }
}
