//! Lloyd iterations (the batch EM of a fixed-variance isotropic Gaussian mixture, in the
//! zero-variance limit).
//!
//! One iteration: assign each point to its nearest centre, `l_i = argmin_j |x_i - c_j|²`
//! (lowest index on ties), then move each centre to the weighted mean of its points,
//! `c_j = sum_{l_i = j} w_i x_i / sum_{l_i = j} w_i`. The loop stops when the labels no longer
//! change ("strict" convergence) or when the total squared centre shift `sum_j |c_j' - c_j|²`
//! falls to the absolute tolerance. If it stopped for any reason other than unchanged labels, a
//! final assignment step makes the labels consistent with the returned centres, so that
//! training labels equal `predict` on the training data. This mirrors scikit-learn's
//! `_kmeans_single_lloyd` step for step, so runs from the same initial centres agree.

use crate::data::{BLOCK_ROWS, SEGMENT_ROWS};
use crate::distance::{exact_sq, DistanceKernel};
use crate::float::Float;
use crate::matmul::matmul_nt;
use crate::simd;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rayon::prelude::*;

/// What one assignment pass accumulates: the sufficient statistics of a Lloyd step, which
/// merge by addition over row blocks ([`LloydStats::add`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LloydStats {
    /// Weighted sums of the points of each cluster about the centring vector `m`,
    /// `S_j = sum_{l_i = j} w_i (x_i - m)` (k x d, row-major), f64.
    pub sums: Vec<f64>,
    /// Weight per cluster, `W_j = sum_{l_i = j} w_i`.
    pub weight: Vec<f64>,
    /// Number of positive-weight points per cluster.
    pub count: Vec<usize>,
    /// `sum_i w_i min_j |x_i - c_j|²` (GEMM-form distances).
    pub inertia: f64,
    /// Whether every label equals the previous pass's (known only to a fit that keeps its
    /// labels; block statistics report `false`).
    pub unchanged: bool,
}

impl LloydStats {
    /// Zero statistics for `k` clusters of `d` features.
    pub fn zeros(k: usize, d: usize) -> Self {
        LloydStats {
            sums: vec![0.0; k * d],
            weight: vec![0.0; k],
            count: vec![0; k],
            inertia: 0.0,
            unchanged: false,
        }
    }

    /// Adds the statistics of another block.
    pub fn add(&mut self, other: &LloydStats) {
        for (a, b) in self.sums.iter_mut().zip(&other.sums) {
            *a += b;
        }
        for (a, b) in self.weight.iter_mut().zip(&other.weight) {
            *a += b;
        }
        for (a, b) in self.count.iter_mut().zip(&other.count) {
            *a += b;
        }
        self.inertia += other.inertia;
    }

    /// The statistics as one flat vector `[inertia, W_1..W_k, n_1..n_k, S_11..S_kd]`
    /// (`1 + 2k + kd` numbers), which a distributed engine sums element-wise.
    pub fn to_flat(&self) -> Vec<f64> {
        let mut v = Vec::with_capacity(1 + 2 * self.weight.len() + self.sums.len());
        v.push(self.inertia);
        v.extend(&self.weight);
        v.extend(self.count.iter().map(|&c| c as f64));
        v.extend(&self.sums);
        v
    }

    /// Reads [`Self::to_flat`] back for `k` clusters of `d` features.
    pub fn from_flat(k: usize, d: usize, v: &[f64]) -> crate::error::Result<Self> {
        if v.len() != 1 + 2 * k + k * d || v.iter().any(|t| !t.is_finite()) {
            return Err(crate::error::Error::ShapeMismatch {
                what: "k-means block statistics",
                expected: format!("{} finite numbers (1 + 2k + kd)", 1 + 2 * k + k * d),
                found: format!("{} numbers", v.len()),
            });
        }
        Ok(LloydStats {
            inertia: v[0],
            weight: v[1..1 + k].to_vec(),
            count: v[1 + k..1 + 2 * k]
                .iter()
                .map(|&c| c.max(0.0) as usize)
                .collect(),
            sums: v[1 + 2 * k..].to_vec(),
            unchanged: false,
        })
    }
}

/// One assignment pass: writes labels; with `accumulate`, also the per-cluster sums.
///
/// Fused per row block: one product `G = X_c C_c^T`, then for each row the nearest centre
/// `argmin_j (|c_j|² - 2 g_ij)` (the row's own norm does not change the argmin), its clamped
/// distance `max(|x_i|² + min_j(...), 0)`, and the row added to its cluster's sum while it is
/// still in cache.
pub(crate) fn assign<F: Float>(
    x: ArrayView2<'_, F>,
    w: &[f64],
    kernel: &DistanceKernel<F>,
    labels: &mut [usize],
    accumulate: bool,
) -> LloydStats {
    let k = kernel.n_centers();
    let d = x.ncols();
    let norms = kernel.center_norms();
    let cs = kernel.shifted_centers();
    let parts: Vec<LloydStats> = labels
        .par_chunks_mut(SEGMENT_ROWS)
        .enumerate()
        .map_init(
            || {
                (
                    kernel.scratch(d),
                    vec![F::zero(); BLOCK_ROWS],
                    vec![0usize; BLOCK_ROWS],
                )
            },
            |(scratch, best, idx), (s, lab)| {
                let first = s * SEGMENT_ROWS;
                let mut acc = LloydStats::zeros(k, if accumulate { d } else { 0 });
                kernel.for_each_centred_block(x, first..first + lab.len(), scratch, |blk| {
                    let (o, b) = (blk.start - first, blk.rows);
                    // The product transposed (k x b): the nearest-centre search then runs over
                    // contiguous points, cluster by cluster.
                    matmul_nt(k, b, d, F::one(), cs, blk.xc, false, blk.g);
                    simd::dispatch(AssignCols {
                        gt: blk.g,
                        xc: blk.xc,
                        xn: blk.xn,
                        norms,
                        w: &w[blk.start..blk.start + b],
                        labels: &mut lab[o..o + b],
                        best: &mut best[..b],
                        idx: &mut idx[..b],
                        acc: &mut acc,
                        accumulate,
                    })
                });
                acc
            },
        )
        .collect();
    let mut total = LloydStats::zeros(k, if accumulate { d } else { 0 });
    for p in &parts {
        total.add(p);
    }
    total
}

/// The per-point part of [`assign`] for one block, from the transposed product.
struct AssignCols<'a, F> {
    /// `(c_j - mu)·(x_i - mu)`, k x b.
    gt: &'a [F],
    xc: &'a [F],
    xn: &'a [F],
    norms: &'a [F],
    w: &'a [f64],
    labels: &'a mut [usize],
    best: &'a mut [F],
    idx: &'a mut [usize],
    acc: &'a mut LloydStats,
    accumulate: bool,
}

impl<F: Float> simd::Kernel for AssignCols<'_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let k = self.norms.len();
        let b = self.xn.len();
        let d = self.xc.len() / b.max(1);
        let two = F::one() + F::one();
        // argmin_j |c_j|² - 2 g_ij (the row's own norm does not change it); strict < keeps
        // the lowest index on ties.
        self.best.fill(F::infinity());
        self.idx.fill(0);
        for (j, (g, &cn)) in self
            .gt
            .chunks_exact(b.max(1))
            .zip(self.norms)
            .enumerate()
            .take(k)
        {
            for ((bv, bi), &gv) in self.best.iter_mut().zip(self.idx.iter_mut()).zip(g) {
                let t = cn - two * gv;
                let better = t < *bv;
                *bv = if better { t } else { *bv };
                *bi = if better { j } else { *bi };
            }
        }
        let acc = self.acc;
        for (i, (((&m, &l), &xn), &wi)) in self
            .best
            .iter()
            .zip(self.idx.iter())
            .zip(self.xn)
            .zip(self.w)
            .enumerate()
        {
            self.labels[i] = l;
            let dist = xn + m;
            if dist > F::zero() {
                acc.inertia += wi * dist.as_f64();
            }
            if self.accumulate {
                acc.weight[l] += wi;
                acc.count[l] += usize::from(wi > 0.0);
                simd::axpy_f64(
                    &mut acc.sums[l * d..(l + 1) * d],
                    wi,
                    &self.xc[i * d..(i + 1) * d],
                );
            }
        }
    }
}

/// Exact weighted squared deviations from the assigned centres, per cluster and feature:
/// `S_jt = sum_{l_i = j} w_i (x_it - c_jt)²` (k x d, by explicit subtraction in f64), and the
/// per-cluster weights. The inertia is `sum_jt S_jt`; `S_jt / W_j` are the per-feature
/// variances that typicality and per-cluster softmax variances need, so they cost no extra pass.
pub(crate) fn exact_deviations<F: Float>(
    x: ArrayView2<'_, F>,
    w: &[f64],
    centers: ArrayView2<'_, F>,
    labels: &[usize],
) -> (Array2<f64>, Vec<f64>) {
    let (k, d) = centers.dim();
    let c: Vec<F> = centers.iter().copied().collect();
    let parts = crate::data::map_segments(x.nrows(), |rows| {
        let mut ss = vec![0.0f64; k * d];
        let mut weight = vec![0.0; k];
        match x.as_slice() {
            Some(all) => simd::dispatch(Deviations {
                x: &all[rows.start * d..rows.end * d],
                labels: &labels[rows.clone()],
                w: &w[rows],
                centers: &c,
                ss: &mut ss,
                weight: &mut weight,
            }),
            None => {
                for i in rows {
                    let l = labels[i];
                    weight[l] += w[i];
                    let dst = &mut ss[l * d..(l + 1) * d];
                    for ((a, &u), &v) in dst.iter_mut().zip(x.row(i).iter()).zip(&c[l * d..]) {
                        let t = (u - v).as_f64();
                        *a += w[i] * t * t;
                    }
                }
            }
        }
        (ss, weight)
    });
    let mut ss = vec![0.0f64; k * d];
    let mut weight = vec![0.0; k];
    for (a, b) in parts {
        for (t, v) in ss.iter_mut().zip(a) {
            *t += v;
        }
        for (t, v) in weight.iter_mut().zip(b) {
            *t += v;
        }
    }
    (
        Array2::from_shape_vec((k, d), ss).expect("k x d sums"),
        weight,
    )
}

/// The contiguous-rows part of [`exact_deviations`] for one segment.
struct Deviations<'a, F> {
    x: &'a [F],
    labels: &'a [usize],
    w: &'a [f64],
    centers: &'a [F],
    ss: &'a mut [f64],
    weight: &'a mut [f64],
}

impl<F: Float> simd::Kernel for Deviations<'_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let d = self.centers.len() / self.weight.len().max(1);
        for ((xi, &l), &wi) in self.x.chunks_exact(d).zip(self.labels).zip(self.w) {
            self.weight[l] += wi;
            let dst = &mut self.ss[l * d..(l + 1) * d];
            for ((a, &u), &v) in dst
                .iter_mut()
                .zip(xi)
                .zip(&self.centers[l * d..(l + 1) * d])
            {
                let t = (u - v).as_f64();
                *a += wi * t * t;
            }
        }
    }
}

/// The outcome of one Lloyd run.
pub(crate) struct Run<F> {
    pub centers: Array2<F>,
    pub labels: Vec<usize>,
    pub inertia: f64,
    pub deviations: Array2<f64>,
    pub cluster_weight: Vec<f64>,
    pub n_iter: usize,
    pub converged: bool,
    pub history: Vec<f64>,
    pub relocations: usize,
}

/// A point offered to an empty cluster: the cluster it is in, its weight, and its coordinates
/// minus the centring vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The cluster the point was assigned to in this pass.
    pub label: usize,
    /// Its sample weight (> 0).
    pub weight: f64,
    /// `x_i - m`, the point about the centring vector.
    pub row: Vec<f64>,
}

/// Moves empty clusters onto far points, as scikit-learn does: `candidates` come farthest from
/// their assigned centre first (ties by row order), and each empty cluster takes the next one
/// whose own cluster keeps at least one other point, so the hole is not just moved. Updates the
/// sums, weights and counts; returns the number moved. At most `k` candidates are skipped, so
/// `empty + k` candidates are always enough.
pub fn apply_relocations(stats: &mut LloydStats, candidates: &[Candidate]) -> usize {
    let k = stats.count.len();
    let d = stats.sums.len() / k.max(1);
    let empty: Vec<usize> = (0..k).filter(|&j| stats.count[j] == 0).collect();
    let mut far = candidates.iter();
    let mut moved = 0;
    for &e in &empty {
        let Some(p) = far.by_ref().find(|p| stats.count[p.label] > 1) else {
            break;
        };
        let o = p.label;
        for (t, &a) in p.row.iter().enumerate().take(d) {
            stats.sums[o * d + t] -= p.weight * a;
            stats.sums[e * d + t] = p.weight * a;
        }
        stats.weight[o] -= p.weight;
        stats.count[o] -= 1;
        stats.weight[e] = p.weight;
        stats.count[e] = 1;
        moved += 1;
    }
    moved
}

/// The `m` positive-weight rows of largest `dist`, farthest first, ties by row.
pub(crate) fn farthest_rows(dist: &[f64], w: &[f64], m: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..dist.len()).filter(|&i| w[i] > 0.0).collect();
    let cmp = |a: &usize, b: &usize| dist[*b].total_cmp(&dist[*a]).then(a.cmp(b));
    if order.len() > m && m > 0 {
        order.select_nth_unstable_by(m - 1, cmp);
        order.truncate(m);
    } else if m == 0 {
        order.clear();
    }
    order.sort_by(cmp);
    order
}

/// The `m` positive-weight points of `x` farthest from their assigned centres in `old`
/// (`labels`), farthest first, ties by row: relocation candidates. `offset` is added to row
/// indices in the returned keys (for blocks of a larger matrix).
pub(crate) fn farthest<F: Float>(
    x: ArrayView2<'_, F>,
    w: &[f64],
    mu: ArrayView1<'_, F>,
    old: ArrayView2<'_, F>,
    labels: &[usize],
    m: usize,
) -> Vec<(f64, usize, Candidate)> {
    let dist: Vec<f64> = crate::data::map_segments(x.nrows(), |rows| {
        rows.map(|i| {
            if w[i] > 0.0 {
                exact_sq(x.row(i), old.row(labels[i])).as_f64()
            } else {
                f64::NEG_INFINITY
            }
        })
        .collect::<Vec<_>>()
    })
    .concat();
    farthest_rows(&dist, w, m)
        .into_iter()
        .map(|i| {
            let row = x
                .row(i)
                .iter()
                .zip(mu.iter())
                .map(|(&v, &c)| (v - c).as_f64())
                .collect();
            (
                dist[i],
                i,
                Candidate {
                    label: labels[i],
                    weight: w[i],
                    row,
                },
            )
        })
        .collect()
}

/// The centre step: `c_j = m + S_j / W_j` for clusters with points (others keep their centre),
/// and the total squared shift `sum_j |c_j' - c_j|²`.
pub fn update_centers<F: Float>(
    stats: &LloydStats,
    centers: ArrayView2<'_, F>,
    mu: ArrayView1<'_, F>,
) -> (Array2<F>, f64) {
    let (k, d) = centers.dim();
    let mut new_centers = Array2::<F>::zeros((k, d));
    let mut shift = 0.0;
    for j in 0..k {
        for t in 0..d {
            let c = if stats.count[j] > 0 && stats.weight[j] > 0.0 {
                F::of(stats.sums[j * d + t] / stats.weight[j] + mu[t].as_f64())
            } else {
                centers[(j, t)]
            };
            let delta = (c - centers[(j, t)]).as_f64();
            shift += delta * delta;
            new_centers[(j, t)] = c;
        }
    }
    (new_centers, shift)
}

/// Where a Lloyd loop gets its passes: data in memory, or row blocks held elsewhere (a Dask
/// cluster, a file streamed block by block).
pub trait LloydPasses<F: Float> {
    /// One assignment pass against `centers`: the merged statistics of every row.
    fn pass(&mut self, centers: ArrayView2<'_, F>) -> crate::error::Result<LloydStats>;
    /// After a pass against `old` left clusters empty: the `m` positive-weight points farthest
    /// from their assigned centres, farthest first, ties by row order (see
    /// [`apply_relocations`]).
    fn candidates(
        &mut self,
        old: ArrayView2<'_, F>,
        m: usize,
    ) -> crate::error::Result<Vec<Candidate>>;
}

/// How a Lloyd loop ended.
pub struct LoopOutcome<F> {
    /// The final centres.
    pub centers: Array2<F>,
    /// Iterations run.
    pub n_iter: usize,
    /// Whether it stopped before `max_iter` (labels unchanged, or shift within tolerance).
    pub converged: bool,
    /// Stopped because the labels did not change (the last labels are then final).
    pub strict: bool,
    /// Inertia of every iteration's assignment.
    pub history: Vec<f64>,
    /// Empty clusters moved onto far points.
    pub relocations: usize,
    /// Stopped by `on_iter`.
    pub stopped: bool,
}

/// One Lloyd iteration as the observer of [`lloyd_loop`] sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// 0-based iteration.
    pub iteration: usize,
    /// Inertia of this iteration's assignment.
    pub inertia: f64,
    /// Total squared centre shift `sum_j |c_j' - c_j|²` of this iteration's centre step.
    pub shift: f64,
    /// Whether the labels are those of the previous iteration (strict convergence).
    pub unchanged: bool,
}

/// Lloyd iterations from `init` over any source of passes: assignment statistics, empty
/// clusters relocated, the centre step; it stops when the labels no longer change, when the
/// total squared centre shift falls to `tol_abs`, after `max_iter` iterations, or when
/// `on_iter` (given the [`Step`]) returns true. Unchanged labels give an unchanged centre step,
/// so a source that cannot compare labels stops at the same iteration through the shift (0).
pub fn lloyd_loop<F: Float>(
    passes: &mut dyn LloydPasses<F>,
    init: Array2<F>,
    mu: ArrayView1<'_, F>,
    max_iter: usize,
    tol_abs: f64,
    on_iter: &mut dyn FnMut(Step) -> bool,
) -> crate::error::Result<LoopOutcome<F>> {
    let k = init.nrows();
    let mut out = LoopOutcome {
        centers: init,
        n_iter: 0,
        converged: false,
        strict: false,
        history: Vec::new(),
        relocations: 0,
        stopped: false,
    };
    for it in 0..max_iter {
        out.n_iter = it + 1;
        let mut acc = passes.pass(out.centers.view())?;
        out.history.push(acc.inertia);
        let n_empty = acc.count.iter().filter(|&&c| c == 0).count();
        if n_empty > 0 {
            let cands = passes.candidates(out.centers.view(), n_empty + k)?;
            out.relocations += apply_relocations(&mut acc, &cands);
        }
        let (new_centers, shift) = update_centers(&acc, out.centers.view(), mu);
        out.centers = new_centers;
        // The observer returns true to stop (an interrupt); the caller reports it.
        let step = Step {
            iteration: it,
            inertia: acc.inertia,
            shift,
            unchanged: acc.unchanged,
        };
        if on_iter(step) {
            out.stopped = true;
            break;
        }
        if acc.unchanged {
            out.strict = true;
            out.converged = true;
            break;
        }
        if shift <= tol_abs {
            out.converged = true;
            break;
        }
    }
    Ok(out)
}

/// The in-memory source of Lloyd passes: the data, weights and centring vector, and the labels
/// of the last two passes (to detect unchanged labels).
struct InMemory<'a, F: Float> {
    x: ArrayView2<'a, F>,
    w: &'a [f64],
    mu: ArrayView1<'a, F>,
    labels: Vec<usize>,
    labels_old: Vec<usize>,
}

impl<F: Float> LloydPasses<F> for InMemory<'_, F> {
    fn pass(&mut self, centers: ArrayView2<'_, F>) -> crate::error::Result<LloydStats> {
        std::mem::swap(&mut self.labels, &mut self.labels_old);
        let kernel = DistanceKernel::new(centers, self.mu);
        let mut acc = assign(self.x, self.w, &kernel, &mut self.labels, true);
        acc.unchanged = self.labels == self.labels_old;
        Ok(acc)
    }

    fn candidates(
        &mut self,
        old: ArrayView2<'_, F>,
        m: usize,
    ) -> crate::error::Result<Vec<Candidate>> {
        Ok(farthest(self.x, self.w, self.mu, old, &self.labels, m)
            .into_iter()
            .map(|(_, _, c)| c)
            .collect())
    }
}

/// Runs Lloyd's algorithm from `init` (k x d, original coordinates). `mu` is the centring
/// vector (the data mean); `tol_abs` the absolute tolerance on the total squared centre shift;
/// `on_iter(step)` after every iteration, which stops the run by returning true.
#[allow(clippy::too_many_arguments)]
pub(crate) fn lloyd<F: Float>(
    x: ArrayView2<'_, F>,
    w: &[f64],
    mu: ArrayView1<'_, F>,
    init: Array2<F>,
    max_iter: usize,
    tol_abs: f64,
    on_iter: &mut dyn FnMut(Step) -> bool,
) -> Run<F> {
    let n = x.nrows();
    let mut src = InMemory {
        x,
        w,
        mu,
        labels: vec![usize::MAX; n],
        labels_old: vec![usize::MAX; n],
    };
    let out = match lloyd_loop(&mut src, init, mu, max_iter, tol_abs, on_iter) {
        Ok(o) => o,
        Err(_) => unreachable!("in-memory passes do not fail"),
    };
    finish_run(x, w, mu, out, src.labels)
}

/// The end of an in-memory run: unless the loop stopped on unchanged labels, a final
/// assignment pass makes `labels` those of the returned centres; then the exact deviations.
pub(crate) fn finish_run<F: Float>(
    x: ArrayView2<'_, F>,
    w: &[f64],
    mu: ArrayView1<'_, F>,
    out: LoopOutcome<F>,
    mut labels: Vec<usize>,
) -> Run<F> {
    if !out.strict {
        let kernel = DistanceKernel::new(out.centers.view(), mu);
        assign(x, w, &kernel, &mut labels, false);
    }
    let (deviations, cluster_weight) = exact_deviations(x, w, out.centers.view(), &labels);
    let inertia = deviations.sum();
    Run {
        centers: out.centers,
        labels,
        inertia,
        deviations,
        cluster_weight,
        n_iter: out.n_iter,
        converged: out.converged,
        history: out.history,
        relocations: out.relocations,
    }
}

/// Labels and GEMM-form minimum squared distances for new data.
pub(crate) fn nearest<F: Float>(x: ArrayView2<'_, F>, kernel: &DistanceKernel<F>) -> Array1<usize> {
    let w = vec![1.0; x.nrows()];
    let mut labels = vec![0usize; x.nrows()];
    assign(x, &w, kernel, &mut labels, false);
    Array1::from(labels)
}
