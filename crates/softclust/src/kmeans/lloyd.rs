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

/// What one assignment pass accumulates.
pub(crate) struct Accumulated {
    /// Weighted sums of centred points per cluster (k x d, row-major), f64.
    sums: Vec<f64>,
    /// Weight per cluster.
    weight: Vec<f64>,
    /// Number of positive-weight points per cluster.
    count: Vec<usize>,
    /// `sum_i w_i min_j d²_ij` (GEMM-form distances).
    inertia: f64,
}

impl Accumulated {
    fn zeros(k: usize, d: usize) -> Self {
        Accumulated {
            sums: vec![0.0; k * d],
            weight: vec![0.0; k],
            count: vec![0; k],
            inertia: 0.0,
        }
    }

    fn add(&mut self, other: &Accumulated) {
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
) -> Accumulated {
    let k = kernel.n_centers();
    let d = x.ncols();
    let norms = kernel.center_norms();
    let cs = kernel.shifted_centers();
    let parts: Vec<Accumulated> = labels
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
                let mut acc = Accumulated::zeros(k, if accumulate { d } else { 0 });
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
    let mut total = Accumulated::zeros(k, if accumulate { d } else { 0 });
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
    acc: &'a mut Accumulated,
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

/// Moves empty clusters onto the points farthest from their current centres, as scikit-learn
/// does: the `e` farthest positive-weight points (ties by index) each become a singleton.
fn relocate_empty<F: Float>(
    x: ArrayView2<'_, F>,
    w: &[f64],
    mu: ArrayView1<'_, F>,
    old: ArrayView2<'_, F>,
    labels: &[usize],
    acc: &mut Accumulated,
) -> usize {
    let empty: Vec<usize> = (0..acc.count.len())
        .filter(|&j| acc.count[j] == 0)
        .collect();
    if empty.is_empty() {
        return 0;
    }
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
    let mut order: Vec<usize> = (0..x.nrows()).filter(|&i| w[i] > 0.0).collect();
    order.sort_by(|&a, &b| dist[b].total_cmp(&dist[a]).then(a.cmp(&b)));
    let mut moved = 0;
    let d = x.ncols();
    let mut far = order.into_iter();
    for &e in &empty {
        // Taking the only point of a cluster would just move the hole elsewhere.
        let Some(p) = far.by_ref().find(|&p| acc.count[labels[p]] > 1) else {
            break;
        };
        let o = labels[p];
        let wp = w[p];
        for (t, (&v, &m)) in x.row(p).iter().zip(mu.iter()).enumerate() {
            let a = (v - m).as_f64();
            acc.sums[o * d + t] -= wp * a;
            acc.sums[e * d + t] = wp * a;
        }
        acc.weight[o] -= wp;
        acc.count[o] -= 1;
        acc.weight[e] = wp;
        acc.count[e] = 1;
        moved += 1;
    }
    moved
}

/// Runs Lloyd's algorithm from `init` (k x d, original coordinates). `mu` is the centring
/// vector (the data mean); `tol_abs` the absolute tolerance on the total squared centre shift;
/// `on_iter(iteration, inertia)` after every iteration, which stops the run by returning true.
#[allow(clippy::too_many_arguments)]
pub(crate) fn lloyd<F: Float>(
    x: ArrayView2<'_, F>,
    w: &[f64],
    mu: ArrayView1<'_, F>,
    init: Array2<F>,
    max_iter: usize,
    tol_abs: f64,
    on_iter: &mut dyn FnMut(usize, f64) -> bool,
) -> Run<F> {
    let n = x.nrows();
    let (k, d) = init.dim();
    let mut centers = init;
    let mut labels = vec![usize::MAX; n];
    let mut labels_old = vec![usize::MAX; n];
    let mut history = Vec::new();
    let mut strict = false;
    let mut converged = false;
    let mut relocations = 0;
    let mut n_iter = 0;
    for it in 0..max_iter {
        n_iter = it + 1;
        let kernel = DistanceKernel::new(centers.view(), mu);
        let mut acc = assign(x, w, &kernel, &mut labels, true);
        history.push(acc.inertia);
        relocations += relocate_empty(x, w, mu, centers.view(), &labels, &mut acc);
        let mut new_centers = Array2::<F>::zeros((k, d));
        let mut shift = 0.0;
        for j in 0..k {
            for t in 0..d {
                let c = if acc.count[j] > 0 && acc.weight[j] > 0.0 {
                    F::of(acc.sums[j * d + t] / acc.weight[j] + mu[t].as_f64())
                } else {
                    centers[(j, t)]
                };
                let delta = (c - centers[(j, t)]).as_f64();
                shift += delta * delta;
                new_centers[(j, t)] = c;
            }
        }
        centers = new_centers;
        // The observer returns true to stop (an interrupt); the caller reports it.
        if on_iter(it, acc.inertia) {
            break;
        }
        if labels == labels_old {
            strict = true;
            converged = true;
            break;
        }
        if shift <= tol_abs {
            converged = true;
            break;
        }
        labels_old.copy_from_slice(&labels);
    }
    if !strict {
        let kernel = DistanceKernel::new(centers.view(), mu);
        assign(x, w, &kernel, &mut labels, false);
    }
    let (deviations, cluster_weight) = exact_deviations(x, w, centers.view(), &labels);
    let inertia = deviations.sum();
    Run {
        centers,
        labels,
        inertia,
        deviations,
        cluster_weight,
        n_iter,
        converged,
        history,
        relocations,
    }
}

/// Labels and GEMM-form minimum squared distances for new data.
pub(crate) fn nearest<F: Float>(x: ArrayView2<'_, F>, kernel: &DistanceKernel<F>) -> Array1<usize> {
    let w = vec![1.0; x.nrows()];
    let mut labels = vec![0usize; x.nrows()];
    assign(x, &w, kernel, &mut labels, false);
    Array1::from(labels)
}
