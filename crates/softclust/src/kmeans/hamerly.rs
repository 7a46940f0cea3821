//! Lloyd's iterations with Hamerly's distance bounds (Hamerly 2010, "Making k-means even
//! faster"): the same assignments, with most distances never computed.
//!
//! Each point keeps its label `a_i`, an upper bound `u_i >= |x_i - c_{a_i}|` and a lower bound
//! `l_i <= min_{j != a_i} |x_i - c_j|`. When the centres move by `delta_j = |c_j' - c_j|`, the
//! triangle inequality keeps them bounds after `u_i += delta_{a_i}` and
//! `l_i -= max_{j != a_i} delta_j`. With `s_j = min_{j' != j} |c_j - c_j'| / 2`, a point whose
//! `u_i < max(l_i, s_{a_i})` cannot have a nearer centre than `a_i`, so it is skipped; otherwise
//! `u_i` is tightened to the exact distance and, if the test still fails, the point's distances
//! to every centre are computed (in row blocks, by the GEMM kernel Lloyd's pass uses).
//!
//! **Same assignments as Lloyd.** Lloyd's pass picks `argmin_j |c_j - m|² - 2 (x_i - m)·(c_j - m)`
//! in floating point. Each such value is within `gamma_i = (4d + 16) eps (|x_i - m|² + max_j
//! |c_j - m|²)` of the exact squared distance, so a point is skipped only when the bounds prove
//! a gap `l_i² - u_i² > 2 gamma_i`: then Lloyd's rounded argmin is `a_i` too. Bounds are stored
//! rigorously (GEMM-form values widened by `gamma_i`, every update widened by a few ulps).
//! Points that are recomputed use the same kernel as Lloyd but in blocks of other rows, so a
//! point within rounding of equidistant from two centres may be given the other one; nothing
//! else can differ.
//!
//! The cluster sums are updated only for points that change cluster, so a pass reads the rows
//! of the points it recomputes, not the whole matrix. Incremental sums round differently from
//! Lloyd's fresh ones, so after the loop the sums of the final labels are recomputed in Lloyd's
//! order and the last centre step is redone from them: for the same label sequence the returned
//! centres, labels and inertia are bit for bit those of [`super::lloyd::lloyd`]. The
//! per-iteration inertia is `sum_j Q_j - 2 (c_j - m)·S_j + W_j |c_j - m|²` from the cluster
//! statistics (`Q_j = sum w_i |x_i - m|²`), equal to Lloyd's up to rounding.

use super::lloyd::{
    farthest, finish_run, lloyd_loop, update_centers, Candidate, LloydPasses, LloydStats, Run, Step,
};
use crate::data::{BLOCK_ROWS, SEGMENT_ROWS};
use crate::distance::DistanceKernel;
use crate::float::Float;
use crate::matmul::matmul_nt;
use crate::simd;
use ndarray::{Array2, ArrayView1, ArrayView2};
use rayon::prelude::*;

/// Relative widening of every bound update (f64 arithmetic on the bounds).
const WIDEN: f64 = 8.0 * f64::EPSILON;

/// A point's bounds and its centred squared norm `|x_i - m|²` (as the kernel computes it).
#[derive(Debug, Clone, Copy, Default)]
struct Bound {
    upper: f64,
    lower: f64,
    norm: f64,
}

/// Changes to the cluster statistics from one segment: points that left or joined.
struct Delta {
    sums: Vec<f64>,
    weight: Vec<f64>,
    count: Vec<i64>,
    q: Vec<f64>,
    changed: usize,
    /// Points whose rows were read (bounds tightened).
    tight: usize,
}

impl Delta {
    fn zeros(k: usize, d: usize) -> Self {
        Delta {
            sums: vec![0.0; k * d],
            weight: vec![0.0; k],
            count: vec![0; k],
            q: vec![0.0; k],
            changed: 0,
            tight: 0,
        }
    }
}

/// The in-memory source of bounded passes.
struct Bounded<'a, F: Float> {
    x: ArrayView2<'a, F>,
    w: &'a [f64],
    mu: ArrayView1<'a, F>,
    labels: Vec<usize>,
    bounds: Vec<Bound>,
    /// Statistics of the current labels (sums about `mu`), kept up to date incrementally.
    stats: LloydStats,
    /// `Q_j = sum_{l_i = j} w_i |x_i - m|²`.
    q: Vec<f64>,
    /// The centres of the last pass.
    prev: Option<Array2<F>>,
    /// Whether empty clusters were relocated after the last pass.
    relocated: bool,
    /// Rows the last bounded pass read (points whose bounds had to be tightened).
    rows_read: usize,
    /// Whether the last pass computed every distance (its sums are then Lloyd's, fresh).
    last_full: bool,
}

/// The error bound `gamma` of a GEMM-form squared distance, per unit of `|x - m|² + |c - m|²`.
fn gamma_unit<F: Float>(d: usize) -> f64 {
    (4 * d + 16) as f64 * F::epsilon().as_f64()
}

/// Nearest and second-nearest centre of each column of `gt` (k x b, `(c_j - m)·(x_i - m)`):
/// `argmin_j |c_j - m|² - 2 g_ji` with the lowest index on ties (as Lloyd's pass), and both
/// values.
struct TwoNearest<'a, F> {
    gt: &'a [F],
    norms: &'a [F],
    best: &'a mut [F],
    second: &'a mut [F],
    idx: &'a mut [usize],
}

impl<F: Float> simd::Kernel for TwoNearest<'_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let b = self.best.len();
        let two = F::one() + F::one();
        self.best.fill(F::infinity());
        self.second.fill(F::infinity());
        self.idx.fill(0);
        for (j, (g, &cn)) in self.gt.chunks_exact(b.max(1)).zip(self.norms).enumerate() {
            for (((bv, sv), bi), &gv) in self
                .best
                .iter_mut()
                .zip(self.second.iter_mut())
                .zip(self.idx.iter_mut())
                .zip(g)
            {
                let t = cn - two * gv;
                let better = t < *bv;
                *sv = if better {
                    *bv
                } else if t < *sv {
                    t
                } else {
                    *sv
                };
                *bv = if better { t } else { *bv };
                *bi = if better { j } else { *bi };
            }
        }
    }
}

/// Per-centre quantities of a bounded pass.
struct CentreMoves {
    /// `|c_j - c_j^prev|`, widened.
    shift: Vec<f64>,
    /// Largest shift and its centre, and the second largest.
    max_shift: (f64, usize, f64),
    /// `s_j = min_{j' != j} |c_j - c_j'| / 2`, narrowed.
    half_gap: Vec<f64>,
}

fn centre_moves<F: Float>(centers: ArrayView2<'_, F>, prev: ArrayView2<'_, F>) -> CentreMoves {
    let k = centers.nrows();
    let dist = |a: ArrayView1<'_, F>, b: ArrayView1<'_, F>| {
        a.iter()
            .zip(b.iter())
            .map(|(&u, &v)| {
                let t = u.as_f64() - v.as_f64();
                t * t
            })
            .sum::<f64>()
            .sqrt()
    };
    let shift: Vec<f64> = (0..k)
        .map(|j| dist(centers.row(j), prev.row(j)) * (1.0 + WIDEN))
        .collect();
    let mut max_shift = (0.0, usize::MAX, 0.0);
    for (j, &s) in shift.iter().enumerate() {
        if s > max_shift.0 {
            max_shift = (s, j, max_shift.0);
        } else if s > max_shift.2 {
            max_shift.2 = s;
        }
    }
    let mut half_gap = vec![f64::INFINITY; k];
    for a in 0..k {
        for b in a + 1..k {
            let g = dist(centers.row(a), centers.row(b)) * 0.5 * (1.0 - WIDEN);
            half_gap[a] = half_gap[a].min(g);
            half_gap[b] = half_gap[b].min(g);
        }
    }
    CentreMoves {
        shift,
        max_shift,
        half_gap,
    }
}

/// Stores the rigorous bounds of a point from its GEMM-form nearest and second values.
#[inline(always)]
fn set_bounds(b: &mut Bound, best: f64, second: f64, gamma: f64) {
    b.upper = (best.max(0.0) + gamma).sqrt() * (1.0 + WIDEN);
    b.lower = ((second - gamma).max(0.0)).sqrt() * (1.0 - WIDEN);
}

impl<'a, F: Float> Bounded<'a, F> {
    fn new(x: ArrayView2<'a, F>, w: &'a [f64], mu: ArrayView1<'a, F>, k: usize) -> Self {
        let (n, d) = x.dim();
        Bounded {
            x,
            w,
            mu,
            labels: vec![0; n],
            bounds: vec![Bound::default(); n],
            stats: LloydStats::zeros(k, d),
            q: vec![0.0; k],
            prev: None,
            relocated: false,
            rows_read: 0,
            last_full: false,
        }
    }

    /// A pass with every distance, as Lloyd's pass (the same blocks, so the same labels and
    /// statistics), keeping the second-nearest value for the lower bounds: the first pass, and
    /// any pass after bounds that stopped pruning.
    fn full_pass(&mut self, kernel: &DistanceKernel<F>, first: bool) -> LloydStats {
        let (x, w) = (self.x, self.w);
        let (k, d) = (kernel.n_centers(), x.ncols());
        let norms = kernel.center_norms();
        let cs = kernel.shifted_centers();
        let cn_max = norms.iter().fold(0.0f64, |m, &v| m.max(v.as_f64()));
        let gu = gamma_unit::<F>(d);
        let parts: Vec<(LloydStats, Vec<f64>, usize)> = self
            .labels
            .par_chunks_mut(SEGMENT_ROWS)
            .zip(self.bounds.par_chunks_mut(SEGMENT_ROWS))
            .enumerate()
            .map_init(
                || {
                    (
                        kernel.scratch(d),
                        vec![F::zero(); BLOCK_ROWS],
                        vec![F::zero(); BLOCK_ROWS],
                        vec![0usize; BLOCK_ROWS],
                    )
                },
                |(scratch, best, second, idx), (s, (lab, bnd))| {
                    let first = s * SEGMENT_ROWS;
                    let mut acc = LloydStats::zeros(k, d);
                    let mut q = vec![0.0; k];
                    let mut changed = 0;
                    kernel.for_each_centred_block(x, first..first + lab.len(), scratch, |blk| {
                        let (o, b) = (blk.start - first, blk.rows);
                        matmul_nt(k, b, d, F::one(), cs, blk.xc, false, blk.g);
                        simd::dispatch(TwoNearest {
                            gt: blk.g,
                            norms,
                            best: &mut best[..b],
                            second: &mut second[..b],
                            idx: &mut idx[..b],
                        });
                        for i in 0..b {
                            let l = idx[i];
                            let xn = blk.xn[i].as_f64();
                            let wi = w[blk.start + i];
                            changed += usize::from(lab[o + i] != l);
                            lab[o + i] = l;
                            let dist = blk.xn[i] + best[i];
                            if dist > F::zero() {
                                acc.inertia += wi * dist.as_f64();
                            }
                            let bd = &mut bnd[o + i];
                            bd.norm = xn;
                            let gamma = gu * (xn + cn_max);
                            set_bounds(
                                bd,
                                (blk.xn[i] + best[i]).as_f64(),
                                (blk.xn[i] + second[i]).as_f64(),
                                gamma,
                            );
                            acc.weight[l] += wi;
                            acc.count[l] += usize::from(wi > 0.0);
                            q[l] += wi * xn;
                            simd::axpy_f64(
                                &mut acc.sums[l * d..(l + 1) * d],
                                wi,
                                &blk.xc[i * d..(i + 1) * d],
                            );
                        }
                    });
                    (acc, q, changed)
                },
            )
            .collect();
        let mut total = LloydStats::zeros(k, d);
        let mut q = vec![0.0; k];
        let mut changed = 0;
        for (p, pq, c) in &parts {
            total.add(p);
            changed += c;
            for (a, b) in q.iter_mut().zip(pq) {
                *a += b;
            }
        }
        total.unchanged = !first && changed == 0;
        self.stats = total.clone();
        self.q = q;
        self.rows_read = 0;
        total
    }

    /// A pass after the first: bounds moved with the centres, then only the points whose
    /// bounds do not settle them are recomputed.
    fn bounded_pass(
        &mut self,
        kernel: &DistanceKernel<F>,
        centers: ArrayView2<'_, F>,
        moves: &CentreMoves,
    ) -> LloydStats {
        let (x, w, mu) = (self.x, self.w, self.mu);
        let (k, d) = (kernel.n_centers(), x.ncols());
        let norms = kernel.center_norms();
        let cs = kernel.shifted_centers();
        let cn_max = norms.iter().fold(0.0f64, |m, &v| m.max(v.as_f64()));
        let gu = gamma_unit::<F>(d);
        // The centres in original coordinates, for the exact tightening distances.
        let centers: Vec<F> = centers.iter().copied().collect();
        let all = x
            .as_slice()
            .expect("bounded passes run on standard-layout data");
        let mu: Vec<F> = mu.iter().copied().collect();
        let parts: Vec<Delta> = self
            .labels
            .par_chunks_mut(SEGMENT_ROWS)
            .zip(self.bounds.par_chunks_mut(SEGMENT_ROWS))
            .enumerate()
            .map_init(
                || Buffers::new(k, d),
                |buf, (s, (lab, bnd))| {
                    let first = s * SEGMENT_ROWS;
                    let mut delta = Delta::zeros(k, d);
                    simd::dispatch(SegmentPass {
                        x: &all[first * d..(first + lab.len()) * d],
                        w: &w[first..first + lab.len()],
                        lab,
                        bnd,
                        moves,
                        centers: &centers,
                        cs,
                        norms,
                        mu: &mu,
                        cn_max,
                        gu,
                        buf,
                        delta: &mut delta,
                    });
                    delta
                },
            )
            .collect();
        let mut changed = 0;
        self.rows_read = parts.iter().map(|p| p.tight).sum();
        for p in &parts {
            changed += p.changed;
            if p.changed == 0 {
                continue;
            }
            for (a, b) in self.stats.sums.iter_mut().zip(&p.sums) {
                *a += b;
            }
            for (a, b) in self.stats.weight.iter_mut().zip(&p.weight) {
                *a += b;
            }
            for (a, b) in self.stats.count.iter_mut().zip(&p.count) {
                *a = (*a as i64 + b) as usize;
            }
            for (a, b) in self.q.iter_mut().zip(&p.q) {
                *a += b;
            }
        }
        let mut out = self.stats.clone();
        // sum_j Q_j - 2 (c_j - m)·S_j + W_j |c_j - m|²
        out.inertia = (0..k)
            .map(|j| {
                let dot: f64 = cs[j * d..(j + 1) * d]
                    .iter()
                    .zip(&out.sums[j * d..(j + 1) * d])
                    .map(|(&c, &s)| c.as_f64() * s)
                    .sum();
                self.q[j] - 2.0 * dot + out.weight[j] * norms[j].as_f64()
            })
            .sum::<f64>()
            .max(0.0);
        out.unchanged = changed == 0;
        out
    }
}

/// Per-segment scratch of a bounded pass.
struct Buffers<F> {
    xc: Vec<F>,
    xn: Vec<F>,
    g: Vec<F>,
    best: Vec<F>,
    second: Vec<F>,
    idx: Vec<usize>,
    todo: Vec<usize>,
}

impl<F: Float> Buffers<F> {
    fn new(k: usize, d: usize) -> Self {
        Buffers {
            xc: vec![F::zero(); BLOCK_ROWS * d],
            xn: vec![F::zero(); BLOCK_ROWS],
            g: vec![F::zero(); BLOCK_ROWS * k],
            best: vec![F::zero(); BLOCK_ROWS],
            second: vec![F::zero(); BLOCK_ROWS],
            idx: vec![0; BLOCK_ROWS],
            todo: Vec::with_capacity(SEGMENT_ROWS),
        }
    }
}

/// One segment of a bounded pass: bounds moved; the points they do not settle tightened, and
/// those still unsettled recomputed against every centre in blocks.
struct SegmentPass<'a, F: Float> {
    x: &'a [F],
    w: &'a [f64],
    lab: &'a mut [usize],
    bnd: &'a mut [Bound],
    moves: &'a CentreMoves,
    /// Centres in original coordinates (k x d).
    centers: &'a [F],
    /// Centres about `mu` and their squared norms.
    cs: &'a [F],
    norms: &'a [F],
    mu: &'a [F],
    cn_max: f64,
    gu: f64,
    buf: &'a mut Buffers<F>,
    delta: &'a mut Delta,
}

impl<F: Float> simd::Kernel for SegmentPass<'_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let d = self.mu.len();
        let k = self.norms.len();
        let moves = self.moves;
        let buf = self.buf;
        let delta = self.delta;
        buf.todo.clear();
        // 1. Move the bounds; skip what they settle, tighten the rest.
        for (o, (&l, bd)) in self.lab.iter().zip(self.bnd.iter_mut()).enumerate() {
            let other = if l == moves.max_shift.1 {
                moves.max_shift.2
            } else {
                moves.max_shift.0
            };
            bd.upper = (bd.upper + moves.shift[l]) * (1.0 + WIDEN);
            bd.lower = ((bd.lower - other) * (1.0 - WIDEN)).max(0.0);
            let z = bd.lower.max(moves.half_gap[l]);
            let two_gamma = 2.0 * self.gu * (bd.norm + self.cn_max);
            if z * z - bd.upper * bd.upper > two_gamma {
                continue;
            }
            delta.tight += 1;
            let exact = simd::dist_sq_f64(
                &self.x[o * d..(o + 1) * d],
                &self.centers[l * d..(l + 1) * d],
            );
            bd.upper = exact.sqrt() * (1.0 + WIDEN);
            if z * z - bd.upper * bd.upper > two_gamma {
                continue;
            }
            buf.todo.push(o);
        }
        // 2. Every distance for the unsettled points, in blocks.
        for chunk in buf.todo.chunks(BLOCK_ROWS) {
            let b = chunk.len();
            for (r, &o) in chunk.iter().enumerate() {
                let dst = &mut buf.xc[r * d..(r + 1) * d];
                for ((t, &v), &m) in dst.iter_mut().zip(&self.x[o * d..(o + 1) * d]).zip(self.mu) {
                    *t = v - m;
                }
                buf.xn[r] = simd::sum_sq(dst);
            }
            matmul_nt(
                k,
                b,
                d,
                F::one(),
                self.cs,
                &buf.xc[..b * d],
                false,
                &mut buf.g[..k * b],
            );
            TwoNearest {
                gt: &buf.g[..k * b],
                norms: self.norms,
                best: &mut buf.best[..b],
                second: &mut buf.second[..b],
                idx: &mut buf.idx[..b],
            }
            .run();
            for (r, &o) in chunk.iter().enumerate() {
                let bd = &mut self.bnd[o];
                let gamma = self.gu * (bd.norm + self.cn_max);
                set_bounds(
                    bd,
                    (buf.xn[r] + buf.best[r]).as_f64(),
                    (buf.xn[r] + buf.second[r]).as_f64(),
                    gamma,
                );
                let (old, new) = (self.lab[o], buf.idx[r]);
                if old == new {
                    continue;
                }
                self.lab[o] = new;
                delta.changed += 1;
                let wi = self.w[o];
                let row = &buf.xc[r * d..(r + 1) * d];
                simd::axpy_f64(&mut delta.sums[old * d..(old + 1) * d], -wi, row);
                simd::axpy_f64(&mut delta.sums[new * d..(new + 1) * d], wi, row);
                delta.weight[old] -= wi;
                delta.weight[new] += wi;
                let c = i64::from(wi > 0.0);
                delta.count[old] -= c;
                delta.count[new] += c;
                delta.q[old] -= wi * bd.norm;
                delta.q[new] += wi * bd.norm;
            }
        }
    }
}

impl<F: Float> LloydPasses<F> for Bounded<'_, F> {
    fn pass(&mut self, centers: ArrayView2<'_, F>) -> crate::error::Result<LloydStats> {
        let kernel = DistanceKernel::new(centers, self.mu);
        // Bounds that make a pass read most rows anyway cost more than they save: then a full
        // pass, which also makes them tight again.
        let full = 2 * self.rows_read > self.labels.len();
        let first = self.prev.is_none();
        let stats = match self.prev.take() {
            None => self.full_pass(&kernel, true),
            Some(_) if full => self.full_pass(&kernel, false),
            Some(prev) => {
                let moves = centre_moves(centers, prev.view());
                self.prev = Some(prev);
                self.bounded_pass(&kernel, centers, &moves)
            }
        };
        self.prev = Some(centers.to_owned());
        self.relocated = false;
        self.last_full = full || first;
        Ok(stats)
    }

    fn candidates(
        &mut self,
        old: ArrayView2<'_, F>,
        m: usize,
    ) -> crate::error::Result<Vec<Candidate>> {
        self.relocated = true;
        Ok(farthest(self.x, self.w, self.mu, old, &self.labels, m)
            .into_iter()
            .map(|(_, _, c)| c)
            .collect())
    }
}

/// The sums of `labels` exactly as Lloyd's pass accumulates them (the same segments, blocks,
/// row order and operations).
fn fresh_stats<F: Float>(
    x: ArrayView2<'_, F>,
    w: &[f64],
    kernel: &DistanceKernel<F>,
    labels: &[usize],
) -> LloydStats {
    let (k, d) = (kernel.n_centers(), x.ncols());
    let parts: Vec<LloydStats> = labels
        .par_chunks(SEGMENT_ROWS)
        .enumerate()
        .map_init(
            || kernel.scratch(d),
            |scratch, (s, lab)| {
                let first = s * SEGMENT_ROWS;
                let mut acc = LloydStats::zeros(k, d);
                kernel.for_each_centred_block(x, first..first + lab.len(), scratch, |blk| {
                    let o = blk.start - first;
                    for i in 0..blk.rows {
                        let l = lab[o + i];
                        let wi = w[blk.start + i];
                        acc.weight[l] += wi;
                        acc.count[l] += usize::from(wi > 0.0);
                        simd::axpy_f64(
                            &mut acc.sums[l * d..(l + 1) * d],
                            wi,
                            &blk.xc[i * d..(i + 1) * d],
                        );
                    }
                });
                acc
            },
        )
        .collect();
    let mut total = LloydStats::zeros(k, d);
    for p in &parts {
        total.add(p);
    }
    total
}

/// Runs Lloyd's algorithm with Hamerly's bounds from `init`: the arguments and result of
/// [`super::lloyd::lloyd`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn hamerly<F: Float>(
    x: ArrayView2<'_, F>,
    w: &[f64],
    mu: ArrayView1<'_, F>,
    init: Array2<F>,
    max_iter: usize,
    tol_abs: f64,
    on_iter: &mut dyn FnMut(Step) -> bool,
) -> Run<F> {
    let mut src = Bounded::new(x, w, mu, init.nrows());
    let mut out = match lloyd_loop(&mut src, init, mu, max_iter, tol_abs, on_iter) {
        Ok(o) => o,
        Err(_) => unreachable!("in-memory passes do not fail"),
    };
    // Redo the last centre step from Lloyd's sums of the last labels (see the module notes),
    // unless the last pass summed them afresh.
    if let (Some(prev), false, false) = (&src.prev, src.relocated, src.last_full) {
        let kernel = DistanceKernel::new(prev.view(), mu);
        let fresh = fresh_stats(x, w, &kernel, &src.labels);
        out.centers = update_centers(&fresh, prev.view(), mu).0;
    }
    finish_run(x, w, mu, out, src.labels)
}
