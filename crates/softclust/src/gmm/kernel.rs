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
use std::any::Any;

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// Rows per block: the block's scratch (data, products, log-densities) stays in L2.
const EM_BLOCK: usize = 256;

/// A mixture's parameters prepared for block evaluations (see the module documentation).
///
/// Blocks are evaluated in the data's precision `F`: f64 data in f64, f32 data in f32 (the
/// loaded block, the products, the log-densities and the exponentials), with every sum across
/// rows (log-likelihood, `n_c`, `A_c`, `B_c`) carried in f64 from one block of [`EM_BLOCK`]
/// rows to the next. In f32, diagonal and spherical distances are taken directly,
/// `q_ic = sum_t p_ct (x_it - m_ct)²` (no expanded product, whose cancellation f32 could not
/// afford), and the factors stay f64 in the model: only their copies here are rounded.
pub(crate) struct Evaluator {
    form: CovarianceType,
    k: usize,
    d: usize,
    /// Columns of a loaded block row: `[x∘x, x]` (2d) for diag and spherical, `x` otherwise.
    width: usize,
    /// Return the squared Mahalanobis distances `q_ic` instead of log-densities.
    raw: bool,
    p64: Params<f64>,
    p32: Params<f32>,
}

/// The evaluator's parameters in one block precision.
struct Params<T> {
    /// The shift, representable in f32 (so that both precisions shift by the same vector).
    m0: Vec<T>,
    /// Shifted means `m_c = mu_c - m0`, k x d.
    mc: Vec<T>,
    /// Full / tied: the factors transposed and stacked, row `c d + s` = column `s` of `U_c`.
    ut: Vec<T>,
    /// Full / tied: `m_c^T U_c`, k x d.
    mu_u: Vec<T>,
    /// f64 diag: rows `[p_c, -2 p_c∘m_c]` (k x 2d); f64 spherical: rows `m_c` (k x d).
    coef: Vec<T>,
    /// f64 diag: `sum_t p_ct m_ct²`; f64 spherical: `|m_c|²`.
    cst: Vec<T>,
    /// f64 spherical precisions.
    prec: Vec<T>,
    /// f32 diag and spherical: the shifted means and the precisions in panels of [`PANEL`]
    /// components, `(panel, t, lane)` row-major, zero-padded (spherical repeats `p_c`).
    mt: Vec<T>,
    pt: Vec<T>,
    /// `ln pi_c + ln det U_c - (d/2) ln 2pi`.
    offset: Vec<T>,
    /// `ln pi_0 - ln V` of a uniform noise component (a last column), if any.
    noise: Option<T>,
}

impl<T> Params<T> {
    fn empty() -> Self {
        Params {
            m0: Vec::new(),
            mc: Vec::new(),
            ut: Vec::new(),
            mu_u: Vec::new(),
            coef: Vec::new(),
            cst: Vec::new(),
            prec: Vec::new(),
            mt: Vec::new(),
            pt: Vec::new(),
            offset: Vec::new(),
            noise: None,
        }
    }
}

/// Whether `F` is the narrow block precision (f32).
fn narrow<F: Float>() -> bool {
    std::mem::size_of::<F>() == 4
}

fn to_f32(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

impl Evaluator {
    /// Prepares `ln pi_c N(x | c)` (or with `raw` the squared Mahalanobis distances) on data
    /// shifted by `m0` (rounded to the nearest f32 value, an exact shift in both precisions).
    pub(crate) fn new(
        log_weights: &[f64],
        means: ArrayView2<'_, f64>,
        prec_chol: &CovMatrices,
        m0: Vec<f64>,
        noise: Option<f64>,
        raw: bool,
    ) -> Self {
        let (k, d) = means.dim();
        let m0: Vec<f64> = m0
            .iter()
            .map(|&v| {
                let r = f64::from(v as f32);
                if r.is_finite() {
                    r
                } else {
                    v
                }
            })
            .collect();
        let mut mc = Vec::with_capacity(k * d);
        for row in means.rows() {
            mc.extend(row.iter().zip(&m0).map(|(&m, &o)| m - o));
        }
        let log_det = log_det_cholesky(prec_chol, k, d);
        let offset: Vec<f64> = (0..k)
            .map(|c| log_weights[c] + log_det[c] - 0.5 * d as f64 * LN_2PI)
            .collect();
        let form = prec_chol.covariance_type();
        let width = match form {
            CovarianceType::Full | CovarianceType::Tied => d,
            CovarianceType::Diag | CovarianceType::Spherical => 2 * d,
        };
        let mut p = Params {
            m0,
            mc,
            offset,
            noise,
            ..Params::empty()
        };
        let mut p32 = Params::<f32> {
            m0: to_f32(&p.m0),
            mc: to_f32(&p.mc),
            offset: to_f32(&p.offset),
            noise: noise.map(|v| v as f32),
            ..Params::empty()
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
                        p.ut.extend(u.column(s).iter());
                    }
                }
                // `m_c^T U_c` of the f64 means, and of the f32 means for f32 blocks (so that
                // y - mu_u there is the image of the f32 difference).
                let mu_u = |mc: &[f64]| -> Vec<f64> {
                    let mut out = Vec::with_capacity(k * d);
                    for (c, m) in mc.chunks_exact(d).enumerate() {
                        let u = mats[if form == CovarianceType::Full { c } else { 0 }];
                        for s in 0..d {
                            out.push(m.iter().zip(u.column(s)).map(|(a, b)| a * b).sum());
                        }
                    }
                    out
                };
                p.mu_u = mu_u(&p.mc);
                let mc32: Vec<f64> = p32.mc.iter().map(|&v| f64::from(v)).collect();
                p32.ut = to_f32(&p.ut);
                p32.mu_u = to_f32(&mu_u(&mc32));
            }
            CovMatrices::Diag(pc) => {
                for c in 0..k {
                    let m = &p.mc[c * d..(c + 1) * d];
                    let pr: Vec<f64> = pc.row(c).iter().map(|v| v * v).collect();
                    p.coef.extend(&pr);
                    p.coef.extend(pr.iter().zip(m).map(|(p, m)| -2.0 * p * m));
                    p.cst.push(pr.iter().zip(m).map(|(p, m)| p * m * m).sum());
                }
                p32.mt = panels(&p32.mc, k, d);
                let pr: Vec<f64> = pc.iter().map(|v| v * v).collect();
                p32.pt = panels(&to_f32(&pr), k, d);
            }
            CovMatrices::Spherical(pc) => {
                p.coef.clone_from(&p.mc);
                for c in 0..k {
                    let m = &p.mc[c * d..(c + 1) * d];
                    p.cst.push(m.iter().map(|v| v * v).sum());
                    p.prec.push(pc[c] * pc[c]);
                }
                p32.mt = panels(&p32.mc, k, d);
                let pr: Vec<f32> = (0..k * d).map(|i| p.prec[i / d] as f32).collect();
                p32.pt = panels(&pr, k, d);
            }
        }
        Evaluator {
            form,
            k,
            d,
            width,
            raw,
            p64: p,
            p32,
        }
    }

    /// The parameters in the block precision `F`.
    fn params<F: Float>(&self) -> &Params<F> {
        let any: &dyn Any = if narrow::<F>() { &self.p32 } else { &self.p64 };
        match any.downcast_ref::<Params<F>>() {
            Some(p) => p,
            None => unreachable!("F is f32 or f64 (sealed)"),
        }
    }

    /// Columns of the output: components, plus the noise component if any.
    pub(crate) fn cols(&self) -> usize {
        self.k + usize::from(self.p64.noise.is_some())
    }

    fn scratch<F: Float>(&self) -> Scratch<F> {
        let nm = match self.form {
            CovarianceType::Full => self.k,
            CovarianceType::Tied => 1,
            _ => 0,
        };
        // f32 blocks sum into these before the f64 totals.
        let (na, nb) = match (narrow::<F>(), self.form) {
            (false, _) => (0, 0),
            (true, CovarianceType::Full | CovarianceType::Tied) => {
                (self.k * self.d, self.k * self.d * self.d)
            }
            (true, _) => (self.k * self.d, self.k * self.d),
        };
        let z = F::zero();
        Scratch {
            z: vec![z; EM_BLOCK * self.width],
            y: vec![z; EM_BLOCK * (nm * self.d).max(self.k)],
            lp: vec![z; EM_BLOCK * self.cols()],
            diff: vec![z; EM_BLOCK * self.d],
            wdiff: vec![z; EM_BLOCK * self.d],
            a: vec![z; na],
            b: vec![z; nb],
        }
    }

    /// Loads rows `start..end` of `x` into `z` (shifted by `m0`, with the squares in front for
    /// diag and spherical).
    fn load<F: Float>(&self, x: ArrayView2<'_, F>, start: usize, end: usize, z: &mut [F]) {
        let d = self.d;
        let m0 = &self.params::<F>().m0;
        let z = &mut z[..(end - start) * self.width];
        match x.as_slice() {
            Some(all) => simd::dispatch(LoadRows {
                src: &all[start * d..end * d],
                m0,
                z,
                squares: self.width == 2 * d,
            }),
            None => {
                for (row, src) in z
                    .chunks_exact_mut(self.width)
                    .zip(x.slice(s![start..end, ..]).rows())
                {
                    let off = self.width - d;
                    for (t, (&v, &m)) in src.iter().zip(m0).enumerate() {
                        let u = v - m;
                        row[off + t] = u;
                        if off > 0 {
                            row[t] = u * u;
                        }
                    }
                }
            }
        }
    }

    /// Whether the distances of this form are taken directly in precision `F`, without a
    /// product (f32 diag and spherical).
    fn direct<F: Float>(&self) -> bool {
        narrow::<F>() && matches!(self.form, CovarianceType::Diag | CovarianceType::Spherical)
    }

    /// Writes the `b x cols` log-densities (or distances) of a loaded block into `lp`.
    fn block<F: Float>(&self, b: usize, z: &[F], y: &mut [F], lp: &mut [F]) {
        let (k, d) = (self.k, self.d);
        let p = self.params::<F>();
        let one = F::one();
        match self.form {
            CovarianceType::Full | CovarianceType::Tied => {
                let nm = if self.form == CovarianceType::Full {
                    k
                } else {
                    1
                };
                matmul_nt(b, nm * d, d, one, z, &p.ut, false, y);
            }
            _ if self.direct::<F>() => {}
            CovarianceType::Diag => matmul_nt(b, k, 2 * d, one, z, &p.coef, false, y),
            CovarianceType::Spherical => {
                matmul_nt_strided(b, k, d, one, &z[d..], 2 * d, &p.coef, false, y)
            }
        }
        simd::dispatch(Epilogue {
            ev: self,
            p,
            direct: self.direct::<F>(),
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

    /// [`Self::rows_out`] into a given row-major `n x cols` buffer; returns `ln p(x_i)`. f64
    /// blocks are evaluated in place; f32 blocks in scratch, then widened into the buffer.
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
                || self.scratch::<F>(),
                |sc, (s, (seg, lns))| {
                    let first = s * SEGMENT_ROWS;
                    let rows = seg.len() / cols;
                    let mut start = 0;
                    while start < rows {
                        let end = (start + EM_BLOCK).min(rows);
                        let b = end - start;
                        self.load(x, first + start, first + end, &mut sc.z);
                        let dst = &mut seg[start * cols..end * cols];
                        let lns = &mut lns[start..end];
                        if let Some(dst) = F::f64_slice(dst) {
                            self.block(b, &sc.z, &mut sc.y, dst);
                            normalise_rows(dst, cols, normalise, lns);
                        } else {
                            let lp = &mut sc.lp[..b * cols];
                            self.block(b, &sc.z, &mut sc.y, lp);
                            match normalise {
                                Some(log) => simd::dispatch(NormaliseWiden {
                                    lp,
                                    out: dst,
                                    cols,
                                    log,
                                    ln_p: lns,
                                }),
                                None => {
                                    for (o, v) in dst.iter_mut().zip(lp.iter()) {
                                        *o = v.as_f64();
                                    }
                                }
                            }
                        }
                        start = end;
                    }
                },
            );
        ln_p
    }
}

fn normalise_rows<F: Float>(lp: &mut [F], cols: usize, normalise: Option<bool>, ln_p: &mut [f64]) {
    if let Some(log) = normalise {
        simd::dispatch(Normalise {
            lp,
            cols,
            log,
            ln_p,
        });
    }
}

/// Components per panel of the direct f32 distances: a fixed lane count the loops vectorise
/// over (one AVX-512 register of f32, two AVX2 ones).
const PANEL: usize = 16;

/// A row's sum: sequential in f64 (the order the scikit-learn parity fixtures were frozen
/// with), in fixed lanes in f32 (a shorter dependency chain).
#[inline(always)]
fn row_sum<F: Float>(row: &[F]) -> F {
    if narrow::<F>() {
        simd::sum(row)
    } else {
        row.iter().copied().sum()
    }
}

/// `(k x d)` row-major to panels of [`PANEL`] components, `(panel, t, lane)`, zero-padded.
fn panels(a: &[f32], k: usize, d: usize) -> Vec<f32> {
    let np = k.div_ceil(PANEL);
    let mut t = vec![0.0; np * d * PANEL];
    for c in 0..k {
        let (j, l) = (c / PANEL, c % PANEL);
        for s in 0..d {
            t[(j * d + s) * PANEL + l] = a[c * d + s];
        }
    }
    t
}

/// Per-thread scratch of the block kernels, in the block precision.
struct Scratch<F> {
    z: Vec<F>,
    y: Vec<F>,
    lp: Vec<F>,
    diff: Vec<F>,
    wdiff: Vec<F>,
    /// f32 blocks: the block's `A` and `B` before they join the f64 sums.
    a: Vec<F>,
    b: Vec<F>,
}

struct LoadRows<'a, F> {
    src: &'a [F],
    m0: &'a [F],
    z: &'a mut [F],
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
                *o = v - m;
            }
            for (q, &u) in sq.iter_mut().zip(lin.iter()) {
                *q = u * u;
            }
        }
    }
}

/// From the block's product to log-densities (or distances).
struct Epilogue<'a, F> {
    ev: &'a Evaluator,
    p: &'a Params<F>,
    direct: bool,
    b: usize,
    z: &'a [F],
    y: &'a [F],
    lp: &'a mut [F],
}

impl<F: Float> simd::Kernel for Epilogue<'_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let (ev, p) = (self.ev, self.p);
        let (k, d, cols) = (ev.k, ev.d, ev.cols());
        let half = F::of(0.5);
        let zero = F::zero();
        let fin = |q: F, c: usize| {
            if ev.raw {
                q
            } else {
                p.offset[c] - half * q
            }
        };
        for i in 0..self.b {
            let out = &mut self.lp[i * cols..(i + 1) * cols];
            if self.direct {
                let x = &self.z[i * 2 * d + d..(i + 1) * 2 * d];
                for (j, (mp, pp)) in
                    p.mt.chunks_exact(d * PANEL)
                        .zip(p.pt.chunks_exact(d * PANEL))
                        .enumerate()
                {
                    let mut acc = [zero; PANEL];
                    for ((&xv, m), pr) in x
                        .iter()
                        .zip(mp.chunks_exact(PANEL))
                        .zip(pp.chunks_exact(PANEL))
                    {
                        for l in 0..PANEL {
                            let t = xv - m[l];
                            acc[l] += pr[l] * t * t;
                        }
                    }
                    let first = j * PANEL;
                    let last = (first + PANEL).min(k);
                    for (c, &q) in (first..last).zip(acc.iter()) {
                        out[c] = fin(q, c);
                    }
                }
            } else {
                match ev.form {
                    CovarianceType::Full | CovarianceType::Tied => {
                        let nm = if ev.form == CovarianceType::Full {
                            k
                        } else {
                            1
                        };
                        let y = &self.y[i * nm * d..(i + 1) * nm * d];
                        for (c, (o, mu)) in out.iter_mut().zip(p.mu_u.chunks_exact(d)).enumerate() {
                            let mat = if ev.form == CovarianceType::Full {
                                c
                            } else {
                                0
                            };
                            *o = fin(F::of(simd::dist_sq_f64(&y[mat * d..(mat + 1) * d], mu)), c);
                        }
                    }
                    CovarianceType::Diag => {
                        let g = &self.y[i * k..(i + 1) * k];
                        for (c, ((o, &gc), &cst)) in out.iter_mut().zip(g).zip(&p.cst).enumerate() {
                            let q = gc + cst;
                            *o = fin(if q > zero { q } else { zero }, c);
                        }
                    }
                    CovarianceType::Spherical => {
                        let g = &self.y[i * k..(i + 1) * k];
                        let xn = simd::sum_sq(&self.z[i * 2 * d + d..(i + 1) * 2 * d]);
                        for (c, (o, &gc)) in out.iter_mut().zip(g).enumerate() {
                            let q = (F::of(-2.0) * gc + xn + p.cst[c]) * p.prec[c];
                            *o = fin(if q > zero { q } else { zero }, c);
                        }
                    }
                }
            }
            if let Some(v) = p.noise {
                out[k] = v;
            }
        }
    }
}

/// Log-sum-exp per row: `ln p = m + ln sum_c e^(v_c - m)`; the row becomes `ln r_c` or `r_c`.
/// A row whose densities are all zero becomes uniform, with `ln p = -inf`. `ln p` is formed in
/// f64 whatever the block precision.
struct Normalise<'a, F> {
    lp: &'a mut [F],
    cols: usize,
    log: bool,
    ln_p: &'a mut [f64],
}

impl<F: Float> simd::Kernel for Normalise<'_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        for (row, lnp) in self
            .lp
            .chunks_exact_mut(self.cols)
            .zip(self.ln_p.iter_mut())
        {
            let m = simd::max(row);
            if m == F::neg_infinity() || m.is_nan() {
                let u = 1.0 / self.cols as f64;
                row.fill(F::of(if self.log { u.ln() } else { u }));
                *lnp = m.as_f64();
                continue;
            }
            if self.log {
                let sum = simd::sum_exp_shifted(row, m);
                let ln_sum = simd::ln_pos(sum.as_f64());
                *lnp = m.as_f64() + ln_sum;
                // (v - m) is exact for the largest terms, so the log-responsibilities do not
                // inherit the rounding of m + ln(sum).
                let ln_sum = F::of(ln_sum);
                for v in row.iter_mut() {
                    *v = (*v - m) - ln_sum;
                }
            } else {
                for v in row.iter_mut() {
                    *v = (*v - m).exp_nonpos();
                }
                let sum = row_sum(row);
                *lnp = m.as_f64() + simd::ln_pos(sum.as_f64());
                let inv = F::one() / sum;
                for v in row.iter_mut() {
                    *v *= inv;
                }
            }
        }
    }
}

/// [`Normalise`] for narrow blocks: the shifted exponentials in `F`, then the row sum, its
/// logarithm and the division in f64 as the row is widened into `out`, so that the f64 rows
/// sum to 1 to f64 rounding.
struct NormaliseWiden<'a, F> {
    lp: &'a mut [F],
    out: &'a mut [f64],
    cols: usize,
    log: bool,
    ln_p: &'a mut [f64],
}

impl<F: Float> simd::Kernel for NormaliseWiden<'_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        for ((row, o), lnp) in self
            .lp
            .chunks_exact_mut(self.cols)
            .zip(self.out.chunks_exact_mut(self.cols))
            .zip(self.ln_p.iter_mut())
        {
            let m = simd::max(row);
            if m == F::neg_infinity() || m.is_nan() {
                let u = 1.0 / self.cols as f64;
                o.fill(if self.log { u.ln() } else { u });
                *lnp = m.as_f64();
                continue;
            }
            if self.log {
                for (v, w) in row.iter_mut().zip(o.iter_mut()) {
                    *v -= m;
                    *w = (*v).as_f64();
                    *v = (*v).exp_nonpos();
                }
                let ln_sum = simd::ln_pos(simd::sum(row).as_f64());
                *lnp = m.as_f64() + ln_sum;
                for w in o.iter_mut() {
                    *w -= ln_sum;
                }
            } else {
                for (v, w) in row.iter().zip(o.iter_mut()) {
                    *w = (*v - m).exp_nonpos().as_f64();
                }
                let sum = simd::sum(o);
                *lnp = m.as_f64() + simd::ln_pos(sum);
                let inv = 1.0 / sum;
                for w in o.iter_mut() {
                    *w *= inv;
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
    /// Whether the blocks were f32: the means the scatter is about are then the f32 ones,
    /// and a variance is zero below f32 rounding.
    narrow: bool,
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
            narrow: false,
        }
    }

    fn add(&mut self, o: &Sums) {
        self.narrow |= o.narrow;
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
        let m0 = &ev.p64.m0;
        // The means the scatter was taken about, in the precision of the blocks.
        let mc: Vec<f64> = if self.narrow {
            ev.p32.mc.iter().map(|&v| f64::from(v)).collect()
        } else {
            ev.p64.mc.clone()
        };
        let eps = if self.narrow {
            f64::from(f32::EPSILON)
        } else {
            f64::EPSILON
        };
        let rs = &self.nk[..k];
        let nk: Array1<f64> = rs.iter().map(|v| v + 10.0 * f64::EPSILON).collect();
        // Shifted new means.
        let mut mnew = Array2::<f64>::zeros((k, d));
        for c in 0..k {
            for t in 0..d {
                mnew[(c, t)] = self.a[c * d + t] / nk[c];
            }
        }
        let means = Array2::from_shape_fn((k, d), |(c, t)| mnew[(c, t)] + m0[t]);
        // The scatter about the new mean from the scatter about the old one:
        // B - δ C^T - C δ^T + n δ δ^T, with δ the mean's move and C = A - n m_old.
        let moves: Vec<(Vec<f64>, Vec<f64>)> = (0..k)
            .map(|c| {
                let s = &mc[c * d..(c + 1) * d];
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
                    let round = 8.0 * eps * (mnew[(c, t)].abs() + m0[t].abs());
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
            || ev.scratch::<F>(),
            |sc, s| {
                let mut sums = Sums::zeros(ev);
                sums.narrow = narrow::<F>();
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
    total.narrow = narrow::<F>();
    for p in &parts {
        total.add(p);
    }
    total
}

/// Adds a block's contribution into the f64 sums `acc`: `f(target, accumulate)` writes it, into
/// `acc` itself when `F` is f64 (`accumulate` set: add to the target), else into a scratch
/// buffer (`accumulate` unset: overwrite it) that is then widened and added.
fn accumulate<F: Float>(acc: &mut [f64], buf: &mut [F], f: impl FnOnce(&mut [F], bool)) {
    if let Some(a) = F::f64_slice(acc) {
        f(a, true);
        return;
    }
    let buf = &mut buf[..acc.len()];
    f(buf, false);
    for (s, &v) in acc.iter_mut().zip(buf.iter()) {
        *s += v.as_f64();
    }
}

fn em_block<F: Float>(
    ev: &Evaluator,
    x: ArrayView2<'_, F>,
    w: &[f64],
    start: usize,
    sc: &mut Scratch<F>,
    sums: &mut Sums,
) {
    let b = w.len();
    let (k, d, width, cols) = (ev.k, ev.d, ev.width, ev.cols());
    let mc = &ev.params::<F>().mc;
    ev.load(x, start, start + b, &mut sc.z);
    let lp = &mut sc.lp[..b * cols];
    ev.block(b, &sc.z, &mut sc.y, lp);
    sums.log_lik += simd::dispatch(Responsibilities {
        lp: &mut *lp,
        cols,
        w,
        nk: &mut sums.nk,
    });
    let lp = &*lp;
    let z = &sc.z[..b * width];
    let r = ArrayView2::from_shape((b, cols), lp).expect("block shape");
    let r = r.slice(s![.., ..k]);
    let zv = ArrayView2::from_shape((b, width), z).expect("block shape");
    let zl = zv.slice(s![.., width - d..]);
    accumulate(&mut sums.a, &mut sc.a, |a, acc| {
        let mut a = ArrayViewMut2::from_shape((k, d), a).expect("sums shape");
        let beta = if acc { F::one() } else { F::zero() };
        matmul(F::one(), &r.t(), &zl, beta, &mut a);
    });
    if matches!(ev.form, CovarianceType::Diag | CovarianceType::Spherical) {
        accumulate(&mut sums.b, &mut sc.b, |target, acc| {
            if !acc {
                target.fill(F::zero());
            }
            simd::dispatch(DiagScatter {
                z,
                mc,
                r: lp,
                cols,
                k,
                d,
                b: target,
            });
        });
    } else {
        let (diff, wdiff) = (&mut sc.diff[..b * d], &mut sc.wdiff[..b * d]);
        accumulate(&mut sums.b, &mut sc.b, |target, acc| {
            let beta = if acc { F::one() } else { F::zero() };
            for (c, target) in target.chunks_exact_mut(d * d).enumerate() {
                simd::dispatch(WeightedDiff {
                    z,
                    m: &mc[c * d..(c + 1) * d],
                    r: lp,
                    cols,
                    c,
                    diff: &mut *diff,
                    wdiff: &mut *wdiff,
                });
                let df = ArrayView2::from_shape((b, d), &*diff).expect("block shape");
                let wd = ArrayView2::from_shape((b, d), &*wdiff).expect("block shape");
                let mut target = ArrayViewMut2::from_shape((d, d), target).expect("scatter shape");
                matmul(F::one(), &wd.t(), &df, beta, &mut target);
            }
        });
    }
}

/// Rows of log-densities to weighted responsibilities `w_i r_ic` in place, adding them to
/// `nk` (in f64); returns `sum_i w_i ln p(x_i)` (in f64).
struct Responsibilities<'a, F> {
    lp: &'a mut [F],
    cols: usize,
    w: &'a [f64],
    nk: &'a mut [f64],
}

impl<F: Float> simd::Kernel for Responsibilities<'_, F> {
    type Output = f64;
    #[inline(always)]
    fn run(self) -> f64 {
        let mut ll = 0.0;
        for (row, &wi) in self.lp.chunks_exact_mut(self.cols).zip(self.w) {
            let m = simd::max(row);
            if m == F::neg_infinity() || m.is_nan() {
                row.fill(F::of(wi / self.cols as f64));
                ll += wi * m.as_f64();
            } else {
                // Two loops: the exponentials vectorise, the row sum is sequential.
                for v in row.iter_mut() {
                    *v = (*v - m).exp_nonpos();
                }
                let sum = row_sum(row);
                ll += wi * (m.as_f64() + simd::ln_pos(sum.as_f64()));
                let scale = F::of(wi / sum.as_f64());
                for v in row.iter_mut() {
                    *v *= scale;
                }
            }
            for (a, &v) in self.nk.iter_mut().zip(row.iter()) {
                *a += v.as_f64();
            }
        }
        ll
    }
}

/// The diagonal scatter about the current means, `b_c += sum_i w_i r_ic (z_i - m_c)∘(z_i -
/// m_c)`, from rows `z = [x∘x, x]` (the linear half is used).
struct DiagScatter<'a, F> {
    z: &'a [F],
    mc: &'a [F],
    r: &'a [F],
    cols: usize,
    k: usize,
    d: usize,
    b: &'a mut [F],
}

impl<F: Float> simd::Kernel for DiagScatter<'_, F> {
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
struct WeightedDiff<'a, F> {
    z: &'a [F],
    m: &'a [F],
    r: &'a [F],
    cols: usize,
    c: usize,
    diff: &'a mut [F],
    wdiff: &'a mut [F],
}

impl<F: Float> simd::Kernel for WeightedDiff<'_, F> {
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
