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

use crate::data::SEGMENT_ROWS;
use crate::distance::{exact_sq, DistanceKernel};
use crate::float::Float;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Zip};
use rayon::prelude::*;

/// What one assignment pass accumulates.
pub(crate) struct Accumulated {
    /// Weighted sums of centred points per cluster (k x d), f64.
    sums: Array2<f64>,
    /// Weight per cluster.
    weight: Vec<f64>,
    /// Number of positive-weight points per cluster.
    count: Vec<usize>,
    /// `sum_i w_i min_j d²_ij` (GEMM-form distances).
    inertia: f64,
}

/// One assignment pass: writes labels; with `accumulate`, also the per-cluster sums.
pub(crate) fn assign<F: Float>(
    x: ArrayView2<'_, F>,
    w: &[f64],
    kernel: &DistanceKernel<F>,
    labels: &mut [usize],
    accumulate: bool,
) -> Accumulated {
    let k = kernel.n_centers();
    let d = x.ncols();
    let parts: Vec<Accumulated> = labels
        .par_chunks_mut(SEGMENT_ROWS)
        .enumerate()
        .map(|(s, lab)| {
            let first = s * SEGMENT_ROWS;
            let mut acc = Accumulated {
                sums: Array2::zeros((if accumulate { k } else { 0 }, d)),
                weight: vec![0.0; k],
                count: vec![0; k],
                inertia: 0.0,
            };
            let mut scratch = kernel.scratch(d);
            kernel.for_each_block(
                x,
                first..first + lab.len(),
                &mut scratch,
                |start, xc, d2| {
                    for (r, row) in d2.rows().into_iter().enumerate() {
                        let i = start + r;
                        let mut best = 0;
                        let mut best_d = row[0];
                        for (j, &v) in row.iter().enumerate().skip(1) {
                            if v < best_d {
                                best = j;
                                best_d = v;
                            }
                        }
                        lab[i - first] = best;
                        let wi = w[i];
                        acc.inertia += wi * best_d.as_f64();
                        if accumulate {
                            acc.weight[best] += wi;
                            if wi > 0.0 {
                                acc.count[best] += 1;
                            }
                            // Plain slices (the scratch block and the sums are contiguous):
                            // this loop runs once per point and must vectorise.
                            let src = xc.row(r);
                            let mut dst = acc.sums.row_mut(best);
                            match (src.as_slice(), dst.as_slice_mut()) {
                                (Some(src), Some(dst)) => {
                                    for (a, &v) in dst.iter_mut().zip(src) {
                                        *a += wi * v.as_f64();
                                    }
                                }
                                _ => Zip::from(&mut dst).and(src).for_each(|a, &v| {
                                    *a += wi * v.as_f64();
                                }),
                            }
                        }
                    }
                },
            );
            acc
        })
        .collect();
    let mut total = Accumulated {
        sums: Array2::zeros((if accumulate { k } else { 0 }, d)),
        weight: vec![0.0; k],
        count: vec![0; k],
        inertia: 0.0,
    };
    for p in parts {
        total.sums += &p.sums;
        for j in 0..k {
            total.weight[j] += p.weight[j];
            total.count[j] += p.count[j];
        }
        total.inertia += p.inertia;
    }
    total
}

/// Exact weighted inertia `sum_i w_i |x_i - c_{l_i}|²` and per-cluster weights.
pub(crate) fn exact_inertia<F: Float>(
    x: ArrayView2<'_, F>,
    w: &[f64],
    centers: ArrayView2<'_, F>,
    labels: &[usize],
) -> (f64, Vec<f64>) {
    let k = centers.nrows();
    let parts = crate::data::map_segments(x.nrows(), |rows| {
        let mut inertia = 0.0;
        let mut weight = vec![0.0; k];
        for i in rows {
            let l = labels[i];
            inertia += w[i] * exact_sq(x.row(i), centers.row(l)).as_f64();
            weight[l] += w[i];
        }
        (inertia, weight)
    });
    let mut inertia = 0.0;
    let mut weight = vec![0.0; k];
    for (a, b) in parts {
        inertia += a;
        for (t, v) in weight.iter_mut().zip(b) {
            *t += v;
        }
    }
    (inertia, weight)
}

/// The outcome of one Lloyd run.
pub(crate) struct Run<F> {
    pub centers: Array2<F>,
    pub labels: Vec<usize>,
    pub inertia: f64,
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
            acc.sums[(o, t)] -= wp * a;
            acc.sums[(e, t)] = wp * a;
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
/// vector (the data mean); `tol_abs` the absolute tolerance on the total squared centre shift.
#[allow(clippy::too_many_arguments)]
pub(crate) fn lloyd<F: Float>(
    x: ArrayView2<'_, F>,
    w: &[f64],
    mu: ArrayView1<'_, F>,
    init: Array2<F>,
    max_iter: usize,
    tol_abs: f64,
    on_iter: &mut dyn FnMut(usize, f64),
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
                    F::of(acc.sums[(j, t)] / acc.weight[j] + mu[t].as_f64())
                } else {
                    centers[(j, t)]
                };
                let delta = (c - centers[(j, t)]).as_f64();
                shift += delta * delta;
                new_centers[(j, t)] = c;
            }
        }
        centers = new_centers;
        on_iter(it, acc.inertia);
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
    let (inertia, cluster_weight) = exact_inertia(x, w, centers.view(), &labels);
    Run {
        centers,
        labels,
        inertia,
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
