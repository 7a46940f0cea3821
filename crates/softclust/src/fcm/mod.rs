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

use crate::data::{
    check_matrix, check_new_data, check_weights, weighted_sums, ScratchPool, BLOCK_ROWS,
    SEGMENT_ROWS,
};
use crate::distance::{column_means, DistanceKernel, Scratch};
use crate::error::{invalid, Error, Result};
use crate::float::Float;
use crate::kmeans::KMeans;
use crate::matmul::{matmul, matmul_nt};
use crate::membership::{ClusterModel, Membership};
use crate::simd;
use crate::soft::{DistanceKind, FittedSoft};
use crate::typicality::{ClusterSpread, ClusterStats, Spread, Typicality};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, Zip};
use rayon::prelude::*;

mod sparse;

/// Default settings of [`FuzzyCMeans`] (the CLI and Python take theirs from here).
pub mod defaults {
    /// Fuzzifier.
    pub const M: f64 = 2.0;
    /// Maximum iterations.
    pub const MAX_ITER: usize = 300;
    /// Tolerance on the membership change.
    pub const TOL: f64 = 1e-5;
}

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
    interrupt: Option<crate::interrupt::Interrupt>,
}

/// What happened during a fit.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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

/// A fitted fuzzy c-means model: centres, fuzzifier, training statistics. Immutable; with the
/// `serde` feature it serialises (training memberships excepted).
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(bound(
        serialize = "F: serde::Serialize",
        deserialize = "F: serde::Deserialize<'de>"
    ))
)]
pub struct FuzzyCMeansModel<F: Float> {
    centers: Array2<F>,
    m: f64,
    #[cfg_attr(feature = "serde", serde(rename = "centering"))]
    mu: Array1<F>,
    #[cfg_attr(feature = "serde", serde(skip, default = "empty_memberships"))]
    memberships: Array2<f64>,
    /// The argmax of each training membership row (empty when the memberships are).
    #[cfg_attr(feature = "serde", serde(skip, default = "no_labels"))]
    labels: Array1<usize>,
    /// Membership-weighted statistics of the training data, from the final memberships.
    stats: Option<ClusterStats>,
    diagnostics: FcmDiagnostics,
}

#[cfg(feature = "serde")]
fn empty_memberships() -> Array2<f64> {
    Array2::zeros((0, 0))
}

#[cfg(feature = "serde")]
fn no_labels() -> Array1<usize> {
    Array1::zeros(0)
}

impl<F: Float> FuzzyCMeans<F> {
    /// Fuzzy c-means with `n_clusters` clusters, `m = 2`, `max_iter = 300`, `tol = 1e-5`,
    /// k-means++ initial centres, seed 0.
    pub fn new(n_clusters: usize) -> Self {
        FuzzyCMeans {
            n_clusters,
            m: defaults::M,
            max_iter: defaults::MAX_ITER,
            tol: defaults::TOL,
            init: FcmInit::KMeansPlusPlus,
            seed: 0,
            interrupt: None,
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

    /// Lets `flag` stop the fit: once triggered, the fit returns [`Error::Interrupted`] at its
    /// next iteration (the Python package triggers it on Ctrl-C).
    pub fn interrupt(mut self, flag: crate::interrupt::Interrupt) -> Self {
        self.interrupt = Some(flag);
        self
    }

    fn validate(&self, x: ArrayView2<'_, F>, w: Option<ArrayView1<'_, F>>) -> Result<()> {
        check_matrix(x, "data")?;
        self.check_settings(x.nrows(), x.ncols(), w)
    }

    /// The settings against data of `n` rows and `d` columns (and the weights, if any).
    fn check_settings(&self, n: usize, d: usize, w: Option<ArrayView1<'_, F>>) -> Result<()> {
        if let Some(w) = w {
            check_weights(w, n)?;
        }
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
        if n < k {
            return Err(Error::TooFewPoints {
                n_samples: n,
                n_clusters: k,
            });
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
        let m = self.m;
        let mu64 = mu.mapv(|v| v.as_f64());
        // The iteration keeps memberships cluster-major (k x n), so that every per-point loop
        // of the pass runs over contiguous points. It starts from memberships u0 floored at eps
        // (scikit-fuzzy's start) and the centre sums of their weights (rows normalised, floored
        // at eps, raised to m); given or seeded centres give u0 by one membership step, which
        // is the pass itself.
        let mut ut = Array2::<f64>::zeros((k, n));
        let pool = ScratchPool::new();
        let from_centers = |c: ArrayView2<'_, F>, ut: &mut Array2<f64>| {
            let p = fcm_pass(
                x,
                &w,
                &DistanceKernel::new(c, mu.view()),
                ut,
                m,
                OldRows::Start,
                &pool,
            );
            (p.tot, p.sums)
        };
        let (tot, sums) = match &self.init {
            FcmInit::Memberships(u0) => {
                ut.assign(&u0.t().mapv(|v| v.max(eps)));
                let mut um0 = u0.mapv(|v| v.max(eps));
                Zip::from(um0.rows_mut()).par_for_each(|mut row| {
                    let s = row.sum();
                    row.mapv_inplace(|v| powm((v / s).max(eps), m));
                });
                let (tot, raw) = weighted_sums(x, um0.view(), &w);
                // Sums of the rows centred at mu, as the pass returns them.
                let sums =
                    Array2::from_shape_fn(raw.dim(), |(j, l)| raw[(j, l)] - tot[j] * mu64[l]);
                (tot, sums)
            }
            FcmInit::Centers(c) => from_centers(c.view(), &mut ut),
            FcmInit::KMeansPlusPlus => {
                let wv: Array1<F> = w.iter().map(|&v| F::of(v)).collect();
                let rows = KMeans::new(k)
                    .seed(self.seed)
                    .seed_indices_unchecked(x, Some(wv.view()))?;
                from_centers(x.select(Axis(0), &rows).view(), &mut ut)
            }
        };
        let mut src = InMemory {
            x,
            w: &w,
            mu: mu.view(),
            ut,
            m,
            pool,
        };
        let start = FcmStats {
            objective: 0.0,
            change: 0.0,
            tot,
            sums,
        };
        let out = fcm_loop(
            &mut src,
            start,
            None,
            mu.view(),
            self.max_iter,
            self.tol,
            &self.interrupt,
        )?;
        let total: f64 = w.iter().sum();
        let fin = final_stats(x, &w, out.centers.view(), &src.ut);
        let (u, labels) = point_major(&src.ut);
        Ok(FuzzyCMeansModel::assemble(
            out,
            self.m,
            mu,
            (u, labels),
            fin,
            total,
        ))
    }
}

/// The cluster-major (`k x n`) memberships of the iteration as the `n x k` matrix the model
/// keeps, and the argmax of every row (the first on ties), in parallel over segments of
/// points (each writes its own rows).
fn point_major(ut: &Array2<f64>) -> (Array2<f64>, Array1<usize>) {
    let (k, n) = ut.dim();
    let mut u = Array2::<f64>::zeros((n, k));
    let mut labels = Array1::<usize>::zeros(n);
    u.axis_chunks_iter_mut(Axis(0), SEGMENT_ROWS)
        .into_par_iter()
        .zip(labels.axis_chunks_iter_mut(Axis(0), SEGMENT_ROWS))
        .enumerate()
        .for_each(|(s, (mut seg, mut lab))| {
            let first = s * SEGMENT_ROWS;
            let mut best = vec![f64::NEG_INFINITY; lab.len()];
            for (j, col) in ut.rows().into_iter().enumerate() {
                let src = &col.to_slice().expect("memberships rows are contiguous")
                    [first..first + lab.len()];
                for (dst, &v) in seg.column_mut(j).iter_mut().zip(src) {
                    *dst = v;
                }
                for ((b, l), &v) in best.iter_mut().zip(lab.iter_mut()).zip(src) {
                    let better = v > *b;
                    *b = if better { v } else { *b };
                    *l = if better { j } else { *l };
                }
            }
        });
    (u, labels)
}

/// `t^m`, exact for the usual `m = 2`.
#[inline(always)]
fn powm(t: f64, m: f64) -> f64 {
    if m == 2.0 {
        t * t
    } else {
        t.powf(m)
    }
}

/// `max(v, lo)` for values that are not NaN, as a plain comparison (which vectorises to one
/// instruction, unlike `f64::max` with its NaN rules).
#[inline(always)]
fn at_least(v: f64, lo: f64) -> f64 {
    if v > lo {
        v
    } else {
        lo
    }
}

/// Statistics of the final memberships, from one more pass (they add up over row blocks).
#[derive(Debug, Clone, PartialEq)]
pub struct FinalStats {
    /// `sum_ij w_i u_ij²`.
    pub pc: f64,
    /// `-sum_ij w_i u_ij ln u_ij`.
    pub pe: f64,
    /// `sum_i w_i u_ij (x_it - c_jt)²`, k x d.
    pub deviations: Array2<f64>,
    /// `sum_i w_i u_ij`.
    pub weight: Array1<f64>,
}

impl FinalStats {
    /// Adds another block's statistics.
    pub fn add(&mut self, o: &FinalStats) {
        self.pc += o.pc;
        self.pe += o.pe;
        self.deviations += &o.deviations;
        self.weight += &o.weight;
    }

    /// One flat vector `[pc, pe, weight (k), deviations (k x d)]`.
    pub fn to_flat(&self) -> Vec<f64> {
        let mut v = vec![self.pc, self.pe];
        v.extend(self.weight.iter());
        v.extend(self.deviations.iter());
        v
    }

    /// Reads [`Self::to_flat`] back.
    pub fn from_flat(k: usize, d: usize, v: &[f64]) -> Result<Self> {
        let st = FcmStats::from_flat(k, d, v)?;
        Ok(FinalStats {
            pc: st.objective,
            pe: st.change,
            weight: st.tot,
            deviations: st.sums,
        })
    }
}

/// Block statistics of fuzzy c-means (stateless, for data held elsewhere): with `prev = None`
/// the start pass against `centers` (memberships floored at eps, as scikit-fuzzy's `u0`);
/// with `prev = Some((p, p_is_start))`, the memberships of the previous pass are recomputed
/// from `p`, then the pass against `centers`, exactly as the in-memory pass that keeps them
/// (at twice its arithmetic).
pub fn fcm_block_stats<F: Float>(
    x: ArrayView2<'_, F>,
    w: Option<ArrayView1<'_, f64>>,
    prev: Option<(ArrayView2<'_, F>, bool)>,
    centers: ArrayView2<'_, F>,
    centering: ArrayView1<'_, F>,
    m: f64,
) -> Result<FcmStats> {
    let (k, d) = centers.dim();
    if x.nrows() == 0 {
        return Ok(FcmStats::zeros(k, d));
    }
    let w = crate::kmeans::block::check_block(x, w, d)?;
    let pool = ScratchPool::new();
    let mut ut = Array2::<f64>::from_elem((k, x.nrows()), 1.0 / k as f64);
    match prev {
        None => Ok(fcm_pass(
            x,
            &w,
            &DistanceKernel::new(centers, centering),
            &mut ut,
            m,
            OldRows::Start,
            &pool,
        )),
        Some((p, first)) => {
            fcm_pass(
                x,
                &w,
                &DistanceKernel::new(p, centering),
                &mut ut,
                m,
                if first {
                    OldRows::Start
                } else {
                    OldRows::Normalised
                },
                &pool,
            );
            Ok(fcm_pass(
                x,
                &w,
                &DistanceKernel::new(centers, centering),
                &mut ut,
                m,
                if first {
                    OldRows::Raw
                } else {
                    OldRows::Normalised
                },
                &pool,
            ))
        }
    }
}

/// The final statistics of a block under the fitted `centers` (partition coefficient and
/// entropy sums, membership weights and deviations).
pub fn fcm_final_block<F: Float>(
    x: ArrayView2<'_, F>,
    w: Option<ArrayView1<'_, f64>>,
    centers: ArrayView2<'_, F>,
    centering: ArrayView1<'_, F>,
    m: f64,
) -> Result<FinalStats> {
    let (k, d) = centers.dim();
    if x.nrows() == 0 {
        return Ok(FinalStats {
            pc: 0.0,
            pe: 0.0,
            deviations: Array2::zeros((k, d)),
            weight: Array1::zeros(k),
        });
    }
    let w = crate::kmeans::block::check_block(x, w, d)?;
    let pool = ScratchPool::new();
    let mut ut = Array2::<f64>::from_elem((k, x.nrows()), 1.0 / k as f64);
    fcm_pass(
        x,
        &w,
        &DistanceKernel::new(centers, centering),
        &mut ut,
        m,
        OldRows::Normalised,
        &pool,
    );
    Ok(final_stats(x, &w, centers, &ut))
}

/// Partition coefficient and entropy sums, membership weights and membership-weighted
/// deviations per cluster and feature (for typicality spreads), in segment order.
fn final_stats<F: Float>(
    x: ArrayView2<'_, F>,
    w: &[f64],
    centers: ArrayView2<'_, F>,
    ut: &Array2<f64>,
) -> FinalStats {
    let (k, d) = centers.dim();
    let c: Vec<f64> = centers.iter().map(|v| v.as_f64()).collect();
    let parts = crate::data::map_segments(x.nrows(), |rows| {
        let mut out = FinalStats {
            pc: 0.0,
            pe: 0.0,
            deviations: Array2::zeros((k, d)),
            weight: Array1::zeros(k),
        };
        // The segment's rows in f64: the data themselves when they are contiguous f64.
        let direct = x
            .as_slice()
            .and_then(|all| F::f64s(&all[rows.start * d..rows.end * d]));
        let copied: Vec<f64> = match direct {
            Some(_) => Vec::new(),
            None => rows
                .clone()
                .flat_map(|i| x.row(i).into_iter().map(|v| v.as_f64()))
                .collect(),
        };
        let xf = direct.unwrap_or(&copied);
        let mut pcv = vec![0.0f64; k];
        let mut pev = vec![0.0f64; k];
        let dev = out
            .deviations
            .as_slice_mut()
            .expect("a new array is contiguous");
        let wt = out
            .weight
            .as_slice_mut()
            .expect("a new array is contiguous");
        let u_rows: Vec<&[f64]> = ut
            .rows()
            .into_iter()
            .map(|r| &r.to_slice().expect("memberships rows are contiguous")[rows.clone()])
            .collect();
        simd::dispatch(FinalRows {
            x: xf,
            u: &u_rows,
            w: &w[rows],
            c: &c,
            dev,
            weight: wt,
            pc: &mut pcv,
            pe: &mut pev,
        });
        out.pc = simd::sum(&pcv);
        out.pe = simd::sum(&pev);
        out
    });
    let mut total = FinalStats {
        pc: 0.0,
        pe: 0.0,
        deviations: Array2::zeros((k, d)),
        weight: Array1::zeros(k),
    };
    for p in parts {
        total.pc += p.pc;
        total.pe += p.pe;
        total.deviations += &p.deviations;
        total.weight += &p.weight;
    }
    total
}

/// The rows of one segment of [`final_stats`], cluster by cluster.
struct FinalRows<'a> {
    /// The segment's rows in f64, row-major.
    x: &'a [f64],
    /// Memberships of the segment's rows, one slice per cluster.
    u: &'a [&'a [f64]],
    w: &'a [f64],
    c: &'a [f64],
    dev: &'a mut [f64],
    weight: &'a mut [f64],
    pc: &'a mut [f64],
    pe: &'a mut [f64],
}

impl simd::Kernel for FinalRows<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let k = self.u.len();
        let d = self.c.len() / k.max(1);
        for (j, uj) in self.u.iter().enumerate() {
            let cj = &self.c[j * d..(j + 1) * d];
            let dj = &mut self.dev[j * d..(j + 1) * d];
            // Weight, coefficient and entropy sums in lanes (so that the logarithms vectorise).
            let mut lanes = [[0.0f64; 8]; 3];
            let mut uc = uj.chunks_exact(8);
            let mut wc = self.w.chunks_exact(8);
            for (u8, w8) in (&mut uc).zip(&mut wc) {
                for l in 0..8 {
                    let (u, wu) = (u8[l], w8[l] * u8[l]);
                    lanes[0][l] += wu;
                    lanes[1][l] += wu * u;
                    lanes[2][l] -= if u > 0.0 { wu * simd::ln_pos(u) } else { 0.0 };
                }
            }
            for (l, (&u, &wi)) in uc.remainder().iter().zip(wc.remainder()).enumerate() {
                let wu = wi * u;
                lanes[0][l] += wu;
                lanes[1][l] += wu * u;
                lanes[2][l] -= if u > 0.0 { wu * simd::ln_pos(u) } else { 0.0 };
            }
            self.weight[j] += simd::sum(&lanes[0]);
            self.pc[j] += simd::sum(&lanes[1]);
            self.pe[j] += simd::sum(&lanes[2]);
            // Deviations eight features at a time, each sum in a register across the points.
            let mut f0 = 0;
            while f0 < d {
                let width = (d - f0).min(8);
                let mut acc = [0.0f64; 8];
                let mut cv = [0.0f64; 8];
                cv[..width].copy_from_slice(&cj[f0..f0 + width]);
                if width == 8 {
                    for ((&u, &wi), xi) in uj.iter().zip(self.w).zip(self.x.chunks_exact(d)) {
                        let wu = wi * u;
                        let xs: &[f64; 8] = xi[f0..f0 + 8].try_into().expect("8 features");
                        for l in 0..8 {
                            let t = xs[l] - cv[l];
                            acc[l] += wu * t * t;
                        }
                    }
                } else {
                    for ((&u, &wi), xi) in uj.iter().zip(self.w).zip(self.x.chunks_exact(d)) {
                        let wu = wi * u;
                        for ((a, &v), &c) in acc.iter_mut().zip(&xi[f0..f0 + width]).zip(&cv) {
                            let t = v - c;
                            *a += wu * t * t;
                        }
                    }
                }
                for (o, &a) in dj[f0..f0 + width].iter_mut().zip(&acc) {
                    *o += a;
                }
                f0 += width;
            }
        }
    }
}

/// What one fused pass returns: the statistics of a fuzzy c-means iteration, which merge by
/// addition over row blocks.
#[derive(Debug, Clone, PartialEq)]
pub struct FcmStats {
    /// `sum_i sum_j w_i u_ij^m d²_ij`: the old memberships against the current centres.
    pub objective: f64,
    /// `sum_ij (u'_ij - u_ij)²`.
    pub change: f64,
    /// `sum_i w_i u'_ij^m` of the new memberships.
    pub tot: Array1<f64>,
    /// `sum_i w_i u'_ij^m (x_i - mu)`, k x d.
    pub sums: Array2<f64>,
}

impl FcmStats {
    /// Zero statistics for `k` clusters of `d` features.
    pub fn zeros(k: usize, d: usize) -> Self {
        FcmStats {
            objective: 0.0,
            change: 0.0,
            tot: Array1::zeros(k),
            sums: Array2::zeros((k, d)),
        }
    }

    /// Adds another block's statistics.
    pub fn add(&mut self, o: &FcmStats) {
        self.objective += o.objective;
        self.change += o.change;
        self.tot += &o.tot;
        self.sums += &o.sums;
    }

    /// One flat vector `[objective, change, tot (k), sums (k x d)]`.
    pub fn to_flat(&self) -> Vec<f64> {
        let mut v = vec![self.objective, self.change];
        v.extend(self.tot.iter());
        v.extend(self.sums.iter());
        v
    }

    /// Reads [`Self::to_flat`] back.
    pub fn from_flat(k: usize, d: usize, v: &[f64]) -> Result<Self> {
        if v.len() != 2 + k + k * d {
            return Err(Error::ShapeMismatch {
                what: "fuzzy c-means block statistics",
                expected: format!("{} numbers (2 + k + kd)", 2 + k + k * d),
                found: format!("{} numbers", v.len()),
            });
        }
        Ok(FcmStats {
            objective: v[0],
            change: v[1],
            tot: Array1::from(v[2..2 + k].to_vec()),
            sums: Array2::from_shape_vec((k, d), v[2 + k..].to_vec()).expect("checked length"),
        })
    }
}

/// Where a fuzzy c-means loop gets its passes: data in memory (which keep the memberships), or
/// row blocks held elsewhere (which recompute the old memberships from the previous centres).
pub trait FcmPasses<F: Float> {
    /// One pass against `centers`; `prev` are the centres of the previous pass (`None` when
    /// the start was given as memberships), `prev_is_start` whether that was the start.
    fn pass(
        &mut self,
        prev: Option<ArrayView2<'_, F>>,
        prev_is_start: bool,
        centers: ArrayView2<'_, F>,
    ) -> Result<FcmStats>;
}

/// How a fuzzy c-means loop ended.
#[derive(Debug, Clone)]
pub struct FcmOutcome<F> {
    /// The final centres.
    pub centers: Array2<F>,
    /// Iterations run.
    pub n_iter: usize,
    /// The membership change fell below `tol`.
    pub converged: bool,
    /// `J_m` of every iteration.
    pub objective: Vec<f64>,
    /// Frobenius norm of the last membership change.
    pub change: f64,
}

/// Fuzzy c-means iterations from the start's statistics (`tot`, `sums` of the starting
/// memberships; `start_centers` the centres they came from, if any): the centre step
/// `c_j = mu + sums_j / tot_j`, then a pass; stops when the Frobenius norm of the membership
/// change falls below `tol` or after `max_iter` iterations. The in-memory fit runs this loop.
#[allow(clippy::too_many_arguments)]
pub fn fcm_loop<F: Float>(
    passes: &mut dyn FcmPasses<F>,
    start: FcmStats,
    start_centers: Option<Array2<F>>,
    mu: ArrayView1<'_, F>,
    max_iter: usize,
    tol: f64,
    interrupt: &Option<crate::interrupt::Interrupt>,
) -> Result<FcmOutcome<F>> {
    let (k, d) = start.sums.dim();
    let mu64 = mu.mapv(|v| v.as_f64());
    let (mut tot, mut sums) = (start.tot, start.sums);
    let mut prev = start_centers;
    let mut out = FcmOutcome {
        centers: Array2::<F>::zeros((k, d)),
        n_iter: 0,
        converged: false,
        objective: Vec::new(),
        change: f64::INFINITY,
    };
    for it in 1..=max_iter {
        crate::interrupt::check(interrupt)?;
        out.n_iter = it;
        for j in 0..k {
            for l in 0..d {
                out.centers[(j, l)] = F::of(mu64[l] + sums[(j, l)] / tot[j]);
            }
        }
        let pass = passes.pass(prev.as_ref().map(|p| p.view()), it == 1, out.centers.view())?;
        out.objective.push(pass.objective);
        out.change = pass.change.sqrt();
        sums = pass.sums;
        tot = pass.tot;
        prev = Some(out.centers.clone());
        if out.change < tol {
            out.converged = true;
            break;
        }
    }
    Ok(out)
}

/// The in-memory source of fuzzy c-means passes: it keeps the memberships (`k x n`).
struct InMemory<'a, F: Float> {
    x: ArrayView2<'a, F>,
    w: &'a [f64],
    mu: ArrayView1<'a, F>,
    ut: Array2<f64>,
    m: f64,
    pool: ScratchPool<(Scratch<F>, FcmScratch<F>)>,
}

impl<F: Float> FcmPasses<F> for InMemory<'_, F> {
    fn pass(
        &mut self,
        _prev: Option<ArrayView2<'_, F>>,
        prev_is_start: bool,
        centers: ArrayView2<'_, F>,
    ) -> Result<FcmStats> {
        let kernel = DistanceKernel::new(centers, self.mu);
        Ok(fcm_pass(
            self.x,
            self.w,
            &kernel,
            &mut self.ut,
            self.m,
            if prev_is_start {
                OldRows::Raw
            } else {
                OldRows::Normalised
            },
            &self.pool,
        ))
    }
}

/// One fuzzy c-means iteration in one read of the data, per row block: distances to the
/// current centres (GEMM form, small ones recomputed exactly), the objective with the old
/// memberships, the new memberships `u'` (written over `ut`, cluster-major `k x n`) and their
/// change, and the weighted sums of the next centre step (`(w u'^m)^T X_c`, one product per
/// block). The block's product is taken transposed (`C X_b^T`, `k x b`), so every loop below
/// runs over contiguous points. Partial sums are combined in segment order, so the result
/// does not depend on the thread count.
fn fcm_pass<F: Float>(
    x: ArrayView2<'_, F>,
    w: &[f64],
    kernel: &DistanceKernel<F>,
    ut: &mut Array2<f64>,
    m: f64,
    old: OldRows,
    pool: &ScratchPool<(Scratch<F>, FcmScratch<F>)>,
) -> FcmStats {
    let (k, d) = (kernel.n_centers(), x.ncols());
    let zero = || FcmStats {
        objective: 0.0,
        change: 0.0,
        tot: Array1::zeros(k),
        sums: Array2::zeros((k, d)),
    };
    // Shifted centres (k x d, row-major) for the transposed product and exact recomputation.
    let cs = kernel.shifted_centers();
    let parts: Vec<FcmStats> = ut
        .axis_chunks_iter_mut(Axis(1), SEGMENT_ROWS)
        .into_par_iter()
        .enumerate()
        .map_init(
            || pool.lease(|| (kernel.scratch(d), FcmScratch::new(k))),
            |lease, (s, mut useg)| {
                let (scratch, fs) = &mut **lease;
                let first = s * SEGMENT_ROWS;
                let rows = useg.ncols();
                let mut part = zero();
                kernel.for_each_centred_block(x, first..first + rows, scratch, |blk| {
                    let (b, o) = (blk.rows, blk.start - first);
                    matmul_nt(k, b, d, F::one(), cs, blk.xc, false, &mut fs.gt[..k * b]);
                    let mut ub = useg.slice_mut(ndarray::s![.., o..o + b]);
                    let mut u_rows: Vec<&mut [f64]> = ub
                        .rows_mut()
                        .into_iter()
                        .map(|r| r.into_slice().expect("memberships rows are contiguous"))
                        .collect();
                    let (obj, ch) = simd::dispatch(FcmCols {
                        xn: blk.xn,
                        xc: blk.xc,
                        cs,
                        norms: kernel.center_norms(),
                        u: &mut u_rows,
                        w: &w[blk.start..blk.start + b],
                        m,
                        first: old == OldRows::Start,
                        normalised: old != OldRows::Raw,
                        fs: &mut *fs,
                        tot: part.tot.as_slice_mut().expect("tot is contiguous"),
                    });
                    part.objective += obj;
                    part.change += ch;
                    let umv = ArrayView2::from_shape((k, b), &fs.um[..k * b]).expect("block shape");
                    // f32 blocks are widened once for the f64 centre sums; f64 ones are used
                    // as they are.
                    let xf = match F::f64s(blk.xc) {
                        Some(v) => v,
                        None => {
                            fs.xf.clear();
                            fs.xf.extend(blk.xc.iter().map(|v| v.as_f64()));
                            &fs.xf[..]
                        }
                    };
                    let xv = ArrayView2::from_shape((b, d), xf).expect("block shape");
                    matmul(1.0, &umv, &xv, 1.0, &mut part.sums.view_mut());
                });
                part
            },
        )
        .collect();
    let mut total = zero();
    for p in parts {
        total.objective += p.objective;
        total.change += p.change;
        total.tot += &p.tot;
        total.sums += &p.sums;
    }
    total
}

/// What the memberships a pass starts from are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OldRows {
    /// None yet: the pass is the start, whose new memberships are floored at eps
    /// (scikit-fuzzy's `u0`); its objective and change mean nothing.
    Start,
    /// Rows that may not sum to 1: the start's floored memberships, or given ones.
    Raw,
    /// Rows of a pass that was not the start, which sum to 1.
    Normalised,
}

/// Per-thread scratch of [`fcm_pass`]: the transposed product `(c_j - mu)·(x_i - mu)`, floored
/// distances, the next
/// weights (all `k x b`), per-point temporaries and accumulators (`b`), the block in f64.
struct FcmScratch<F> {
    gt: Vec<F>,
    dv: Vec<f64>,
    um: Vec<f64>,
    row: [Vec<f64>; 3],
    acc: [Vec<f64>; 2],
    xf: Vec<f64>,
}

impl<F: Float> FcmScratch<F> {
    fn new(k: usize) -> Self {
        let b = BLOCK_ROWS;
        FcmScratch {
            gt: vec![F::zero(); k * b],
            dv: vec![0.0; k * b],
            um: vec![0.0; k * b],
            row: [vec![0.0; b], vec![0.0; b], vec![0.0; b]],
            acc: [vec![0.0; b], vec![0.0; b]],
            xf: Vec::new(),
        }
    }
}

/// The per-point part of [`fcm_pass`] for one block, cluster by cluster over contiguous points.
struct FcmCols<'a, 'u, F> {
    xn: &'a [F],
    xc: &'a [F],
    cs: &'a [F],
    norms: &'a [F],
    /// Old memberships in, new out: one slice of b points per cluster.
    u: &'a mut [&'u mut [f64]],
    w: &'a [f64],
    m: f64,
    /// The start: the new memberships are floored at eps (scikit-fuzzy's `u0`); the old ones
    /// are meaningless, so the objective and change are too.
    first: bool,
    /// The old memberships come from a pass that was not the start, so their rows sum to 1.
    normalised: bool,
    fs: &'a mut FcmScratch<F>,
    tot: &'a mut [f64],
}

impl<F: Float> simd::Kernel for FcmCols<'_, '_, F> {
    type Output = (f64, f64);
    #[inline(always)]
    fn run(self) -> (f64, f64) {
        // The fuzzifier's branch is taken outside the loops (as a constant), so that the
        // common m = 2 compiles to plain vector arithmetic with no pow at all.
        if self.m == 2.0 {
            self.cols::<true>()
        } else {
            self.cols::<false>()
        }
    }
}

impl<F: Float> FcmCols<'_, '_, F> {
    #[inline(always)]
    fn cols<const M2: bool>(self) -> (f64, f64) {
        let m = self.m;
        let powm = |t: f64| if M2 { t * t } else { t.powf(m) };
        let (k, b) = (self.u.len(), self.w.len());
        let d = self.xc.len() / b.max(1);
        let eps = f64::EPSILON;
        let floor = eps * eps;
        let thresh = F::of(64.0) * F::epsilon();
        let two = F::one() + F::one();
        let fs = self.fs;
        // `(c_j - mu)·(x_i - mu)`, k x b.
        let gt = &fs.gt[..k * b];
        let dv = &mut fs.dv[..k * b];
        let um = &mut fs.um[..k * b];
        let [inv_s, lo, sum] = &mut fs.row;
        let (inv_s, lo, sum) = (&mut inv_s[..b], &mut lo[..b], &mut sum[..b]);
        let [obj, chg] = &mut fs.acc;
        let (obj, chg) = (&mut obj[..b], &mut chg[..b]);
        // Squared distances (clamped, tiny ones recomputed exactly), floored at eps² as
        // scikit-fuzzy floors distances at eps; the row minimum distance, and the row sums of
        // the old memberships where they may not be 1.
        sum.fill(0.0);
        lo.fill(f64::INFINITY);
        for j in 0..k {
            let cn = self.norms[j];
            let g = &gt[j * b..(j + 1) * b];
            let out = &mut dv[j * b..(j + 1) * b];
            // One vector loop, and a scalar fix-up only where cancellation may matter.
            let mut tiny = false;
            for ((o, &gv), &xn) in out.iter_mut().zip(g).zip(self.xn) {
                let t = xn - two * gv + cn;
                let v = if t > F::zero() { t } else { F::zero() };
                tiny |= v <= thresh * (xn + cn);
                *o = v.as_f64();
            }
            if tiny {
                for (i, (o, &xn)) in out.iter_mut().zip(self.xn).enumerate() {
                    if F::of(*o) <= thresh * (xn + cn) {
                        *o = F::of(simd::dist_sq_f64(
                            &self.xc[i * d..(i + 1) * d],
                            &self.cs[j * d..(j + 1) * d],
                        ))
                        .as_f64();
                    }
                }
            }
            for (o, mn) in out.iter_mut().zip(lo.iter_mut()) {
                let t = at_least(*o, floor);
                *o = t;
                *mn = if t < *mn { t } else { *mn };
            }
            if !self.normalised {
                for (a, &v) in sum.iter_mut().zip(self.u[j].iter()) {
                    *a += v;
                }
            }
        }
        // Rows of the previous pass already sum to 1 (to rounding), so dividing by the sum
        // would change them by an ulp at most: it is done only where they may not.
        if self.normalised {
            inv_s.fill(1.0);
        } else {
            for (a, &s) in inv_s.iter_mut().zip(sum.iter()) {
                *a = 1.0 / s;
            }
        }
        // The objective of the old memberships (rows normalised, floored at eps, raised to m)
        // against these centres; the new memberships (lo / d²)^(1/(m-1)) before normalising.
        obj.fill(0.0);
        sum.fill(0.0);
        for j in 0..k {
            let (uj, dj) = (&*self.u[j], &dv[j * b..(j + 1) * b]);
            let rj = &mut um[j * b..(j + 1) * b];
            for i in 0..b {
                obj[i] += self.w[i] * powm(at_least(uj[i] * inv_s[i], eps)) * dj[i];
                let r = lo[i] / dj[i];
                rj[i] = if M2 { r } else { r.powf(1.0 / (m - 1.0)) };
                sum[i] += rj[i];
            }
        }
        for a in sum.iter_mut() {
            *a = 1.0 / *a;
        }
        chg.fill(0.0);
        if !self.first {
            // New memberships (rows summing to 1), their change, and the next centre step's
            // weights w_i max(u'_ij, eps)^m, in one sweep.
            for j in 0..k {
                let uj = &mut *self.u[j];
                let out = &mut um[j * b..(j + 1) * b];
                for i in 0..b {
                    let un = out[i] * sum[i];
                    let t = un - uj[i];
                    chg[i] += t * t;
                    uj[i] = un;
                    out[i] = self.w[i] * powm(at_least(un, eps));
                }
                self.tot[j] += simd::sum(out);
            }
            return (simd::sum(obj), simd::sum(chg));
        }
        // The start: new memberships floored at eps (so rows no longer sum to 1 exactly),
        // and their row sums for the weights' normalising.
        inv_s.fill(0.0);
        for j in 0..k {
            let uj = &mut *self.u[j];
            let rj = &um[j * b..(j + 1) * b];
            for i in 0..b {
                let un = at_least(rj[i] * sum[i], eps);
                let t = un - uj[i];
                chg[i] += t * t;
                uj[i] = un;
                inv_s[i] += un;
            }
        }
        for a in inv_s.iter_mut() {
            *a = 1.0 / *a;
        }
        // The next centre step's weights, w_i (u'_ij / sum_j u'_ij, floored at eps)^m.
        for j in 0..k {
            let uj = &*self.u[j];
            let out = &mut um[j * b..(j + 1) * b];
            for i in 0..b {
                out[i] = self.w[i] * powm(at_least(uj[i] * inv_s[i], eps));
            }
            self.tot[j] += simd::sum(out);
        }
        (simd::sum(obj), simd::sum(chg))
    }
}

impl<F: Float> FuzzyCMeansModel<F> {
    /// The model a fit over row blocks ends with: the loop's outcome, the fuzzifier, the
    /// centring vector, and the summed [`fcm_final_block`] statistics.
    pub fn from_block_stats(
        outcome: FcmOutcome<F>,
        m: f64,
        centering: Array1<F>,
        fin: FinalStats,
    ) -> Result<Self> {
        let total = fin.weight.sum();
        let model = Self::assemble(
            outcome,
            m,
            centering,
            (Array2::zeros((0, 0)), Array1::zeros(0)),
            fin,
            total,
        );
        model.validate()?;
        Ok(model)
    }

    /// The model a loop ended with: its outcome, the training memberships (`n x k`, or empty)
    /// with their labels, the final statistics and the total weight they are divided by.
    pub(crate) fn assemble(
        outcome: FcmOutcome<F>,
        m: f64,
        mu: Array1<F>,
        (memberships, labels): (Array2<f64>, Array1<usize>),
        fin: FinalStats,
        total: f64,
    ) -> Self {
        FuzzyCMeansModel {
            centers: outcome.centers,
            m,
            mu,
            memberships,
            labels,
            stats: Some(ClusterStats {
                deviations: fin.deviations,
                cluster_weight: fin.weight,
            }),
            diagnostics: FcmDiagnostics {
                n_iter: outcome.n_iter,
                converged: outcome.converged,
                objective: outcome.objective,
                last_change: outcome.change,
                partition_coefficient: fin.pc / total,
                partition_entropy: fin.pe / total,
            },
        }
    }

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
            labels: Array1::zeros(0),
            stats: None,
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
    /// The hard label of each training point: the argmax of its membership row (lowest
    /// index on ties); empty when the training memberships are.
    pub fn training_labels(&self) -> ArrayView1<'_, usize> {
        self.labels.view()
    }
    /// Membership-weighted squared deviations from the centres per cluster and feature,
    /// `S_jt = sum_i w_i u_ij (x_it - c_jt)²` (`k x d`), from the final memberships; `None` for
    /// a model that only has centres.
    pub fn cluster_deviations(&self) -> Option<ArrayView2<'_, f64>> {
        self.stats.as_ref().map(|s| s.deviations.view())
    }
    /// Membership weight of each cluster, `sum_i w_i u_ij`; `None` for a model that only has
    /// centres.
    pub fn cluster_weights(&self) -> Option<ArrayView1<'_, f64>> {
        self.stats.as_ref().map(|s| s.cluster_weight.view())
    }
    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.centers.ncols()
    }
    /// Checks that the parameters fit together and are usable (for models read back).
    pub fn validate(&self) -> Result<()> {
        Self::from_centers(self.centers.clone(), self.m, Some(self.mu.clone()))?;
        check_matrix(self.mu.view().insert_axis(Axis(0)), "centring vector")?;
        if let Some(st) = &self.stats {
            let (k, d) = self.centers.dim();
            st.validate(k, d, "fuzzy c-means training statistics")?;
        }
        Ok(())
    }
    /// The same model in another float type.
    pub fn cast<G: Float>(&self) -> FuzzyCMeansModel<G> {
        FuzzyCMeansModel {
            centers: self.centers.mapv(|v| G::of(v.as_f64())),
            m: self.m,
            mu: self.mu.mapv(|v| G::of(v.as_f64())),
            memberships: self.memberships.clone(),
            labels: self.labels.clone(),
            stats: self.stats.clone(),
            diagnostics: self.diagnostics.clone(),
        }
    }
    /// Per-cluster spreads for typicality, weighted by the final memberships (the same values
    /// as [`ClusterSpread::fit`] with the training memberships, without another pass).
    pub fn spread(&self, kind: Spread) -> Result<ClusterSpread> {
        let Some(st) = &self.stats else {
            return Err(Error::MissingParameter {
                name: "cluster spreads",
                hint: "this fuzzy c-means model was not fitted on data (it only has centres): \
                       fit the model on data (from Rust, ClusterSpread::fit fits spreads alone)",
            });
        };
        st.spread(self.centers.view(), kind)
    }
    /// Chi-square typicality of every row for every cluster under [`Self::spread`].
    pub fn typicality(&self, x: ArrayView2<'_, F>, kind: Spread) -> Result<Typicality> {
        self.spread(kind)?.typicality(x)
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
        check_new_data(x, self.centers.ncols())?;
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

impl<F: Float> ClusterModel<F> for FuzzyCMeansModel<F> {
    fn n_clusters(&self) -> usize {
        self.centers.nrows()
    }
    fn n_features(&self) -> usize {
        self.centers.ncols()
    }
    fn memberships(&self, x: ArrayView2<'_, F>) -> Result<Membership<F>> {
        FuzzyCMeansModel::memberships(self, x)
    }
    fn typicality(&self, x: ArrayView2<'_, F>, spread: Spread) -> Result<Typicality> {
        FuzzyCMeansModel::typicality(self, x, spread)
    }
}
