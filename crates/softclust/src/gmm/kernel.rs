//! Row-block kernels of the Gaussian mixture: the weighted log-densities of a block for every
//! component, and one fused EM iteration that reads each row block once.
//!
//! Data are shifted by a fixed vector `m0` (the training data's column means during a fit, the
//! mean of the component means in prediction) as each block is loaded, which keeps the
//! products small; second moments are taken about each component's current mean, never raw,
//! so covariances suffer no cancellation when `|mean| >> spread`. For a block `X` (`b x d`,
//! shifted) and a component with shifted mean `m_c` and precision Cholesky factor `U_c`:
//!
//! * full / tied: `q_ic = |X_i U_c - m_c^T U_c|²`, where `X [U_1 .. U_k]` is one matrix product
//!   for all components (one `U` for tied);
//! * diag: `q_ic = [X∘X, X]_i · [p_c, -2 p_c∘m_c] + sum_t p_ct m_ct²` (`p = U²`), one product;
//! * spherical: `q_ic = p_c (|X_i|² - 2 X_i·m_c + |m_c|²)`, one product;
//!
//! and `ln pi_c N(x_i | c) = ln pi_c + ln det U_c - (d/2) ln 2pi - q_ic / 2`.
//!
//! One EM iteration ([`em_pass`]) then normalises each row by log-sum-exp into responsibilities
//! `r_ic`, adds `w_i ln p(x_i)` to the log-likelihood, and, while the block is in cache,
//! accumulates the M-step sums: `n_c = sum_i w_i r_ic`, `A_c = sum_i w_i r_ic X_i`, and the
//! scatter about the current means, `B_c = sum_i w_i r_ic (X_i - m_c)(X_i - m_c)^T` (only its
//! diagonal for diag and spherical).
//! No `n x k` matrix is stored. [`Sums::parameters`] turns the sums into the new weights,
//! means and covariances exactly (the covariance about the new mean is
//! `B_c - δ C^T - C δ^T + n_c δ δ^T` with `δ` the mean's move and `C = A_c - n_c m_c`), so a
//! larger `reg_covar` can be tried without another pass.

use super::covariance::{log_det_cholesky, CovMatrices, CovarianceType};
use crate::data::{counters, SEGMENT_ROWS};
use crate::float::Float;
use crate::matmul::{matmul, matmul_nt, matmul_nt_strided};
use crate::simd;
use ndarray::{s, Array1, Array2, Array3, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// Rows per block: the block's scratch (data, products, log-densities) stays in L2.
const EM_BLOCK: usize = 256;

/// A mixture's parameters prepared for block evaluations (see the module documentation).
pub(crate) struct Evaluator {
    form: CovarianceType,
    k: usize,
    d: usize,
    /// Columns of a loaded block row: `[x∘x, x]` (2d) for diag and spherical, `x` otherwise.
    width: usize,
    m0: Vec<f64>,
    /// Shifted means `m_c = mu_c - m0`, k x d.
    mc: Vec<f64>,
    /// Full / tied: the factors transposed and stacked, row `c d + s` = column `s` of `U_c`.
    ut: Vec<f64>,
    /// Full / tied: `m_c^T U_c`, k x d.
    mu_u: Vec<f64>,
    /// Diag: rows `[p_c, -2 p_c∘m_c]` (k x 2d); spherical: rows `m_c` (k x d).
    coef: Vec<f64>,
    /// Diag: `sum_t p_ct m_ct²`; spherical: `|m_c|²`.
    cst: Vec<f64>,
    /// Spherical precisions.
    prec: Vec<f64>,
    /// `ln pi_c + ln det U_c - (d/2) ln 2pi`.
    offset: Vec<f64>,
    /// `ln pi_0 - ln V` of a uniform noise component (a last column), if any.
    noise: Option<f64>,
    /// Return the squared Mahalanobis distances `q_ic` instead of log-densities.
    raw: bool,
}

impl Evaluator {
    /// Prepares `ln pi_c N(x | c)` (or with `raw` the squared Mahalanobis distances) on data
    /// shifted by `m0` (ignored, taken as 0, for diagonal and spherical covariances).
    pub(crate) fn new(
        log_weights: &[f64],
        means: ArrayView2<'_, f64>,
        prec_chol: &CovMatrices,
        m0: Vec<f64>,
        noise: Option<f64>,
        raw: bool,
    ) -> Self {
        let (k, d) = means.dim();
        let mut mc = Vec::with_capacity(k * d);
        for row in means.rows() {
            mc.extend(row.iter().zip(&m0).map(|(&m, &o)| m - o));
        }
        let log_det = log_det_cholesky(prec_chol, k, d);
        let offset = (0..k)
            .map(|c| log_weights[c] + log_det[c] - 0.5 * d as f64 * LN_2PI)
            .collect();
        let form = prec_chol.covariance_type();
        let width = match form {
            CovarianceType::Full | CovarianceType::Tied => d,
            CovarianceType::Diag | CovarianceType::Spherical => 2 * d,
        };
        let mut ev = Evaluator {
            form,
            k,
            d,
            width,
            m0,
            mc,
            ut: Vec::new(),
            mu_u: Vec::new(),
            coef: Vec::new(),
            cst: Vec::new(),
            prec: Vec::new(),
            offset,
            noise,
            raw,
        };
        match prec_chol {
            CovMatrices::Full(_) | CovMatrices::Tied(_) => {
                let mats: Vec<ArrayView2<'_, f64>> = match prec_chol {
                    CovMatrices::Full(a) => a.axis_iter(Axis(0)).collect(),
                    CovMatrices::Tied(m) => vec![m.view()],
                    _ => unreachable!("matched above"),
                };
                for u in &mats {
                    for s in 0..d {
                        ev.ut.extend(u.column(s).iter());
                    }
                }
                for c in 0..k {
                    let u = mats[if form == CovarianceType::Full { c } else { 0 }];
                    let m = &ev.mc[c * d..(c + 1) * d];
                    for s in 0..d {
                        ev.mu_u
                            .push(m.iter().zip(u.column(s)).map(|(a, b)| a * b).sum());
                    }
                }
            }
            CovMatrices::Diag(pc) => {
                for c in 0..k {
                    let m = &ev.mc[c * d..(c + 1) * d];
                    let p: Vec<f64> = pc.row(c).iter().map(|v| v * v).collect();
                    ev.coef.extend(&p);
                    ev.coef.extend(p.iter().zip(m).map(|(p, m)| -2.0 * p * m));
                    ev.cst.push(p.iter().zip(m).map(|(p, m)| p * m * m).sum());
                }
            }
            CovMatrices::Spherical(pc) => {
                ev.coef.clone_from(&ev.mc);
                for c in 0..k {
                    let m = &ev.mc[c * d..(c + 1) * d];
                    ev.cst.push(m.iter().map(|v| v * v).sum());
                    ev.prec.push(pc[c] * pc[c]);
                }
            }
        }
        ev
    }

    /// Columns of the output: components, plus the noise component if any.
    pub(crate) fn cols(&self) -> usize {
        self.k + usize::from(self.noise.is_some())
    }

    fn scratch(&self) -> Scratch {
        let nm = match self.form {
            CovarianceType::Full => self.k,
            CovarianceType::Tied => 1,
            _ => 0,
        };
        Scratch {
            z: vec![0.0; EM_BLOCK * self.width],
            y: vec![0.0; EM_BLOCK * (nm * self.d).max(self.k)],
            lp: vec![0.0; EM_BLOCK * self.cols()],
            diff: vec![0.0; EM_BLOCK * self.d],
            wdiff: vec![0.0; EM_BLOCK * self.d],
        }
    }

    /// Loads rows `start..end` of `x` into `z` (shifted by `m0`, as f64, with the squares in
    /// front for diag and spherical).
    fn load<F: Float>(&self, x: ArrayView2<'_, F>, start: usize, end: usize, z: &mut [f64]) {
        let d = self.d;
        let z = &mut z[..(end - start) * self.width];
        match x.as_slice() {
            Some(all) => simd::dispatch(LoadRows {
                src: &all[start * d..end * d],
                m0: &self.m0,
                z,
                squares: self.width == 2 * d,
            }),
            None => {
                for (row, src) in z
                    .chunks_exact_mut(self.width)
                    .zip(x.slice(s![start..end, ..]).rows())
                {
                    let off = self.width - d;
                    for (t, (&v, &m)) in src.iter().zip(&self.m0).enumerate() {
                        let u = v.as_f64() - m;
                        row[off + t] = u;
                        if off > 0 {
                            row[t] = u * u;
                        }
                    }
                }
            }
        }
    }

    /// Writes the `b x cols` log-densities (or distances) of a loaded block into `lp`.
    fn block(&self, b: usize, z: &[f64], y: &mut [f64], lp: &mut [f64]) {
        let (k, d) = (self.k, self.d);
        match self.form {
            CovarianceType::Full | CovarianceType::Tied => {
                let nm = if self.form == CovarianceType::Full {
                    k
                } else {
                    1
                };
                matmul_nt(b, nm * d, d, 1.0, z, &self.ut, false, y);
            }
            CovarianceType::Diag => matmul_nt(b, k, 2 * d, 1.0, z, &self.coef, false, y),
            CovarianceType::Spherical => {
                matmul_nt_strided(b, k, d, 1.0, &z[d..], 2 * d, &self.coef, false, y)
            }
        }
        simd::dispatch(Epilogue {
            ev: self,
            b,
            z,
            y,
            lp,
        });
    }

    /// The `n x cols` matrix of log-densities `ln pi_c N(x_i | c)` (or distances), with the
    /// noise column last.
    pub(crate) fn evaluate<F: Float>(&self, x: ArrayView2<'_, F>) -> Array2<f64> {
        counters::count(&counters::SCORING_PASSES);
        self.rows_out(x, None).1
    }

    /// Log-densities normalised per row: with `log`, `ln r_ic`; else `r_ic`. Returns
    /// `ln p(x_i)` too.
    pub(crate) fn posteriors<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
        log: bool,
    ) -> (Array1<f64>, Array2<f64>) {
        counters::count(&counters::SCORING_PASSES);
        let (ln_p, out) = self.rows_out(x, Some(log));
        (Array1::from(ln_p), out)
    }

    /// Runs the block kernel over `x` in parallel segments, writing into one `n x cols`
    /// output; with `normalise = Some(log)`, each row is then normalised (and `ln p(x_i)`
    /// returned).
    fn rows_out<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
        normalise: Option<bool>,
    ) -> (Vec<f64>, Array2<f64>) {
        let mut out = Array2::<f64>::zeros((x.nrows(), self.cols()));
        let Some(flat) = out.as_slice_mut() else {
            unreachable!("a new array is contiguous")
        };
        let ln_p = self.rows_into(x, normalise, flat);
        (ln_p, out)
    }

    /// Posterior probabilities of every row of `x` into `out` (`n x cols`); a strided `out` is
    /// filled through a contiguous copy.
    pub(crate) fn posteriors_into<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
        mut out: ArrayViewMut2<'_, f64>,
    ) {
        counters::count(&counters::SCORING_PASSES);
        match out.as_slice_mut() {
            Some(flat) => {
                self.rows_into(x, Some(false), flat);
            }
            None => out.assign(&self.rows_out(x, Some(false)).1),
        }
    }

    /// [`Self::rows_out`] into a given row-major `n x cols` buffer; returns `ln p(x_i)`.
    fn rows_into<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
        normalise: Option<bool>,
        flat: &mut [f64],
    ) -> Vec<f64> {
        let n = x.nrows();
        let cols = self.cols();
        let mut ln_p = vec![0.0; n];
        flat.par_chunks_mut(SEGMENT_ROWS * cols)
            .zip(ln_p.par_chunks_mut(SEGMENT_ROWS))
            .enumerate()
            .for_each_init(
                || self.scratch(),
                |sc, (s, (seg, lns))| {
                    let first = s * SEGMENT_ROWS;
                    let rows = seg.len() / cols;
                    let mut start = 0;
                    while start < rows {
                        let end = (start + EM_BLOCK).min(rows);
                        let b = end - start;
                        self.load(x, first + start, first + end, &mut sc.z);
                        let dst = &mut seg[start * cols..end * cols];
                        self.block(b, &sc.z, &mut sc.y, dst);
                        if let Some(log) = normalise {
                            simd::dispatch(Normalise {
                                lp: dst,
                                cols,
                                log,
                                ln_p: &mut lns[start..end],
                            });
                        }
                        start = end;
                    }
                },
            );
        ln_p
    }
}

/// Per-thread scratch of the block kernels.
struct Scratch {
    z: Vec<f64>,
    y: Vec<f64>,
    lp: Vec<f64>,
    diff: Vec<f64>,
    wdiff: Vec<f64>,
}

struct LoadRows<'a, F> {
    src: &'a [F],
    m0: &'a [f64],
    z: &'a mut [f64],
    squares: bool,
}

impl<F: Float> simd::Kernel for LoadRows<'_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let d = self.m0.len();
        let width = if self.squares { 2 * d } else { d };
        for (row, src) in self.z.chunks_exact_mut(width).zip(self.src.chunks_exact(d)) {
            let (sq, lin) = row.split_at_mut(width - d);
            for ((o, &v), &m) in lin.iter_mut().zip(src).zip(self.m0) {
                *o = v.as_f64() - m;
            }
            for (q, &u) in sq.iter_mut().zip(lin.iter()) {
                *q = u * u;
            }
        }
    }
}

/// From the block's product to log-densities (or distances).
struct Epilogue<'a> {
    ev: &'a Evaluator,
    b: usize,
    z: &'a [f64],
    y: &'a [f64],
    lp: &'a mut [f64],
}

impl simd::Kernel for Epilogue<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let ev = self.ev;
        let (k, d, cols) = (ev.k, ev.d, ev.cols());
        let fin = |q: f64, c: usize| {
            if ev.raw {
                q
            } else {
                ev.offset[c] - 0.5 * q
            }
        };
        for i in 0..self.b {
            let out = &mut self.lp[i * cols..(i + 1) * cols];
            match ev.form {
                CovarianceType::Full | CovarianceType::Tied => {
                    let nm = if ev.form == CovarianceType::Full {
                        k
                    } else {
                        1
                    };
                    let y = &self.y[i * nm * d..(i + 1) * nm * d];
                    for (c, (o, mu)) in out.iter_mut().zip(ev.mu_u.chunks_exact(d)).enumerate() {
                        let mat = if ev.form == CovarianceType::Full {
                            c
                        } else {
                            0
                        };
                        *o = fin(simd::dist_sq_f64(&y[mat * d..(mat + 1) * d], mu), c);
                    }
                }
                CovarianceType::Diag => {
                    let g = &self.y[i * k..(i + 1) * k];
                    for (c, ((o, &gc), &cst)) in out.iter_mut().zip(g).zip(&ev.cst).enumerate() {
                        let q = gc + cst;
                        *o = fin(if q > 0.0 { q } else { 0.0 }, c);
                    }
                }
                CovarianceType::Spherical => {
                    let g = &self.y[i * k..(i + 1) * k];
                    let xn = simd::sum_sq(&self.z[i * 2 * d + d..(i + 1) * 2 * d]);
                    for (c, (o, &gc)) in out.iter_mut().zip(g).enumerate() {
                        let q = (-2.0 * gc + xn + ev.cst[c]) * ev.prec[c];
                        *o = fin(if q > 0.0 { q } else { 0.0 }, c);
                    }
                }
            }
            if let Some(v) = ev.noise {
                out[k] = v;
            }
        }
    }
}

/// Log-sum-exp per row: `ln p = m + ln sum_c e^(v_c - m)`; the row becomes `ln r_c` or `r_c`.
/// A row whose densities are all zero becomes uniform, with `ln p = -inf`.
struct Normalise<'a> {
    lp: &'a mut [f64],
    cols: usize,
    log: bool,
    ln_p: &'a mut [f64],
}

impl simd::Kernel for Normalise<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        for (row, lnp) in self
            .lp
            .chunks_exact_mut(self.cols)
            .zip(self.ln_p.iter_mut())
        {
            let m = simd::max(row);
            if m == f64::NEG_INFINITY || m.is_nan() {
                let u = 1.0 / self.cols as f64;
                row.fill(if self.log { u.ln() } else { u });
                *lnp = m;
                continue;
            }
            if self.log {
                let sum = simd::sum_exp_shifted(row, m);
                let ln_sum = simd::ln_pos(sum);
                *lnp = m + ln_sum;
                // (v - m) is exact for the largest terms, so the log-responsibilities do not
                // inherit the rounding of m + ln(sum).
                for v in row.iter_mut() {
                    *v = (*v - m) - ln_sum;
                }
            } else {
                for v in row.iter_mut() {
                    *v = simd::exp_nonpos(*v - m);
                }
                let sum: f64 = row.iter().sum();
                *lnp = m + simd::ln_pos(sum);
                let inv = 1.0 / sum;
                for v in row.iter_mut() {
                    *v *= inv;
                }
            }
        }
    }
}

/// The sums one EM pass accumulates (see the module documentation).
pub(crate) struct Sums {
    /// `sum_i w_i ln p(x_i)`.
    pub log_lik: f64,
    /// `sum_i w_i r_ic`, one per column (noise last).
    pub nk: Vec<f64>,
    /// `sum_i w_i r_ic (x_i - m0)`, k x d.
    a: Vec<f64>,
    /// Full / tied: `sum_i w_i r_ic (x_i - mu_c)(x_i - mu_c)^T`, k x d x d; diag / spherical:
    /// its diagonal, `sum_i w_i r_ic (x_i - mu_c)∘(x_i - mu_c)`, k x d (`mu_c` the current
    /// means: no raw moments).
    b: Vec<f64>,
}

impl Sums {
    fn zeros(ev: &Evaluator) -> Self {
        let full = matches!(ev.form, CovarianceType::Full | CovarianceType::Tied);
        Sums {
            log_lik: 0.0,
            nk: vec![0.0; ev.cols()],
            a: vec![0.0; ev.k * ev.d],
            b: vec![
                0.0;
                if full {
                    ev.k * ev.d * ev.d
                } else {
                    ev.k * ev.d
                }
            ],
        }
    }

    fn add(&mut self, o: &Sums) {
        self.log_lik += o.log_lik;
        for (a, b) in self.nk.iter_mut().zip(&o.nk) {
            *a += b;
        }
        for (a, b) in self.a.iter_mut().zip(&o.a) {
            *a += b;
        }
        for (a, b) in self.b.iter_mut().zip(&o.b) {
            *a += b;
        }
    }

    /// The sums as one flat vector `[log_lik, n_1..n_cols, A, B]`, which a distributed engine
    /// adds element-wise.
    pub(crate) fn to_flat(&self) -> Vec<f64> {
        let mut v = Vec::with_capacity(1 + self.nk.len() + self.a.len() + self.b.len());
        v.push(self.log_lik);
        v.extend(&self.nk);
        v.extend(&self.a);
        v.extend(&self.b);
        v
    }

    /// Reads [`Self::to_flat`] back for the shapes of `ev`; `None` when the length differs.
    pub(crate) fn from_flat(ev: &Evaluator, v: &[f64]) -> Option<Self> {
        let mut s = Sums::zeros(ev);
        let (nc, na, nb) = (s.nk.len(), s.a.len(), s.b.len());
        if v.len() != 1 + nc + na + nb {
            return None;
        }
        s.log_lik = v[0];
        s.nk.copy_from_slice(&v[1..1 + nc]);
        s.a.copy_from_slice(&v[1 + nc..1 + nc + na]);
        s.b.copy_from_slice(&v[1 + nc + na..]);
        Some(s)
    }

    /// Zero sums shaped for `ev`.
    pub(crate) fn empty(ev: &Evaluator) -> Self {
        Sums::zeros(ev)
    }

    /// Adds another block's sums.
    pub(crate) fn merge(&mut self, o: &Sums) {
        self.add(o);
    }

    /// The M-step from the sums: `(n_k + 10 eps, means, covariances)` with `reg_covar` added
    /// to the diagonal, as scikit-learn's `_estimate_gaussian_parameters`.
    pub(crate) fn parameters(
        &self,
        ev: &Evaluator,
        reg_covar: f64,
        cov_type: CovarianceType,
    ) -> (Array1<f64>, Array2<f64>, CovMatrices) {
        let (k, d) = (ev.k, ev.d);
        let rs = &self.nk[..k];
        let nk: Array1<f64> = rs.iter().map(|v| v + 10.0 * f64::EPSILON).collect();
        // Shifted new means.
        let mut mnew = Array2::<f64>::zeros((k, d));
        for c in 0..k {
            for t in 0..d {
                mnew[(c, t)] = self.a[c * d + t] / nk[c];
            }
        }
        let means = Array2::from_shape_fn((k, d), |(c, t)| mnew[(c, t)] + ev.m0[t]);
        // The scatter about the new mean from the scatter about the old one:
        // B - δ C^T - C δ^T + n δ δ^T, with δ the mean's move and C = A - n m_old.
        let moves: Vec<(Vec<f64>, Vec<f64>)> = (0..k)
            .map(|c| {
                let s = &ev.mc[c * d..(c + 1) * d];
                let delta: Vec<f64> = (0..d).map(|t| mnew[(c, t)] - s[t]).collect();
                let cc: Vec<f64> = (0..d).map(|t| self.a[c * d + t] - rs[c] * s[t]).collect();
                (delta, cc)
            })
            .collect();
        let cov = match cov_type {
            CovarianceType::Full | CovarianceType::Tied => {
                let mut scatter = Array3::<f64>::zeros((k, d, d));
                for (c, (delta, cc)) in moves.iter().enumerate() {
                    for t in 0..d {
                        for u in 0..d {
                            scatter[(c, t, u)] =
                                self.b[(c * d + t) * d + u] - delta[t] * cc[u] - cc[t] * delta[u]
                                    + rs[c] * delta[t] * delta[u];
                        }
                    }
                }
                if cov_type == CovarianceType::Full {
                    for c in 0..k {
                        let mut m = scatter.index_axis_mut(Axis(0), c);
                        m /= nk[c];
                        for t in 0..d {
                            m[(t, t)] += reg_covar;
                        }
                    }
                    CovMatrices::Full(scatter)
                } else {
                    let mut m = scatter.sum_axis(Axis(0));
                    m /= nk.sum();
                    for t in 0..d {
                        m[(t, t)] += reg_covar;
                    }
                    CovMatrices::Tied(m)
                }
            }
            CovarianceType::Diag | CovarianceType::Spherical => {
                let v = Array2::from_shape_fn((k, d), |(c, t)| {
                    let (delta, cc) = (&moves[c].0, &moves[c].1);
                    let s =
                        self.b[c * d + t] - 2.0 * delta[t] * cc[t] + rs[c] * delta[t] * delta[t];
                    // A variance below the squared rounding of the mean itself is 0: points
                    // that are all identical must read as a collapsed component.
                    let round = 8.0 * f64::EPSILON * (mnew[(c, t)].abs() + ev.m0[t].abs());
                    let v = s / nk[c];
                    (if v <= round * round { 0.0 } else { v }) + reg_covar
                });
                if cov_type == CovarianceType::Diag {
                    CovMatrices::Diag(v)
                } else {
                    CovMatrices::Spherical(v.mean_axis(Axis(1)).unwrap_or_else(|| Array1::zeros(k)))
                }
            }
        };
        (nk, means, cov)
    }
}

/// One fused EM pass over `x` (weights `w`) under the mixture prepared in `ev`: the
/// log-likelihood and the M-step sums, reduced in a thread-count-independent order.
pub(crate) fn em_pass<F: Float>(x: ArrayView2<'_, F>, w: &[f64], ev: &Evaluator) -> Sums {
    let n = x.nrows();
    let n_seg = n.div_ceil(SEGMENT_ROWS).max(1);
    let parts: Vec<Sums> = (0..n_seg)
        .into_par_iter()
        .map_init(
            || ev.scratch(),
            |sc, s| {
                let mut sums = Sums::zeros(ev);
                let rows = s * SEGMENT_ROWS..((s + 1) * SEGMENT_ROWS).min(n);
                let mut start = rows.start;
                while start < rows.end {
                    let end = (start + EM_BLOCK).min(rows.end);
                    em_block(ev, x, &w[start..end], start, sc, &mut sums);
                    start = end;
                }
                sums
            },
        )
        .collect();
    let mut total = Sums::zeros(ev);
    for p in &parts {
        total.add(p);
    }
    total
}

fn em_block<F: Float>(
    ev: &Evaluator,
    x: ArrayView2<'_, F>,
    w: &[f64],
    start: usize,
    sc: &mut Scratch,
    sums: &mut Sums,
) {
    let b = w.len();
    let (k, d, width, cols) = (ev.k, ev.d, ev.width, ev.cols());
    ev.load(x, start, start + b, &mut sc.z);
    let lp = &mut sc.lp[..b * cols];
    ev.block(b, &sc.z, &mut sc.y, lp);
    sums.log_lik += simd::dispatch(Responsibilities {
        lp: &mut *lp,
        cols,
        w,
        nk: &mut sums.nk,
    });
    let z = &sc.z[..b * width];
    let r = ArrayView2::from_shape((b, cols), &*lp).expect("block shape");
    let r = r.slice(s![.., ..k]);
    let zv = ArrayView2::from_shape((b, width), z).expect("block shape");
    let zl = zv.slice(s![.., width - d..]);
    let mut a = ArrayViewMut2::from_shape((k, d), &mut sums.a[..]).expect("sums shape");
    matmul(1.0, &r.t(), &zl, 1.0, &mut a);
    if matches!(ev.form, CovarianceType::Diag | CovarianceType::Spherical) {
        simd::dispatch(DiagScatter {
            z,
            mc: &ev.mc,
            r: &*lp,
            cols,
            k,
            d,
            b: &mut sums.b,
        });
    } else {
        for c in 0..k {
            simd::dispatch(WeightedDiff {
                z,
                m: &ev.mc[c * d..(c + 1) * d],
                r: &*lp,
                cols,
                c,
                diff: &mut sc.diff[..b * d],
                wdiff: &mut sc.wdiff[..b * d],
            });
            let df = ArrayView2::from_shape((b, d), &sc.diff[..b * d]).expect("block shape");
            let wd = ArrayView2::from_shape((b, d), &sc.wdiff[..b * d]).expect("block shape");
            let mut target =
                ArrayViewMut2::from_shape((d, d), &mut sums.b[c * d * d..(c + 1) * d * d])
                    .expect("scatter shape");
            matmul(1.0, &wd.t(), &df, 1.0, &mut target);
        }
    }
}

/// Rows of log-densities to weighted responsibilities `w_i r_ic` in place, adding them to
/// `nk`; returns `sum_i w_i ln p(x_i)`.
struct Responsibilities<'a> {
    lp: &'a mut [f64],
    cols: usize,
    w: &'a [f64],
    nk: &'a mut [f64],
}

impl simd::Kernel for Responsibilities<'_> {
    type Output = f64;
    #[inline(always)]
    fn run(self) -> f64 {
        let mut ll = 0.0;
        for (row, &wi) in self.lp.chunks_exact_mut(self.cols).zip(self.w) {
            let m = simd::max(row);
            if m == f64::NEG_INFINITY || m.is_nan() {
                row.fill(wi / self.cols as f64);
                ll += wi * m;
            } else {
                // Two loops: the exponentials vectorise, the row sum is sequential.
                for v in row.iter_mut() {
                    *v = simd::exp_nonpos(*v - m);
                }
                let sum: f64 = row.iter().sum();
                ll += wi * (m + simd::ln_pos(sum));
                let scale = wi / sum;
                for v in row.iter_mut() {
                    *v *= scale;
                }
            }
            for (a, &v) in self.nk.iter_mut().zip(row.iter()) {
                *a += v;
            }
        }
        ll
    }
}

/// The diagonal scatter about the current means, `b_c += sum_i w_i r_ic (z_i - m_c)∘(z_i -
/// m_c)`, from rows `z = [x∘x, x]` (the linear half is used).
struct DiagScatter<'a> {
    z: &'a [f64],
    mc: &'a [f64],
    r: &'a [f64],
    cols: usize,
    k: usize,
    d: usize,
    b: &'a mut [f64],
}

impl simd::Kernel for DiagScatter<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let (k, d) = (self.k, self.d);
        for (zr, rr) in self
            .z
            .chunks_exact(2 * d)
            .zip(self.r.chunks_exact(self.cols))
        {
            let x = &zr[d..];
            for ((&ri, m), acc) in rr[..k]
                .iter()
                .zip(self.mc.chunks_exact(d))
                .zip(self.b.chunks_exact_mut(d))
            {
                for ((a, &v), &mv) in acc.iter_mut().zip(x).zip(m) {
                    let t = v - mv;
                    *a += ri * t * t;
                }
            }
        }
    }
}

/// `diff = z - m_c` and `wdiff = diff ∘ r_c` for one component, row by row.
struct WeightedDiff<'a> {
    z: &'a [f64],
    m: &'a [f64],
    r: &'a [f64],
    cols: usize,
    c: usize,
    diff: &'a mut [f64],
    wdiff: &'a mut [f64],
}

impl simd::Kernel for WeightedDiff<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let d = self.m.len();
        for (((zr, df), wd), rr) in self
            .z
            .chunks_exact(d)
            .zip(self.diff.chunks_exact_mut(d))
            .zip(self.wdiff.chunks_exact_mut(d))
            .zip(self.r.chunks_exact(self.cols))
        {
            let ri = rr[self.c];
            for (((o, q), &v), &m) in df.iter_mut().zip(wd.iter_mut()).zip(zr).zip(self.m) {
                *o = v - m;
                *q = *o * ri;
            }
        }
    }
}
