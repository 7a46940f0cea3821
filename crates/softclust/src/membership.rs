//! The output contract shared by every method.
//!
//! From unnormalised log-scores `s_ij` (log-likelihoods, log-weights, ...) each row becomes a
//! probability vector by the log-sum-exp normalisation
//!
//! ```text
//! p_ij = exp(s_ij - m_i) / sum_l exp(s_il - m_i),   m_i = max_l s_il,
//! ```
//!
//! which never overflows and never divides by zero (the largest term is exactly 1). From the
//! probabilities come the hard label (argmax, lowest index on ties), `max_p`, the `margin` between
//! the two largest probabilities, and the Shannon entropy `H_i = -sum_j p_ij ln p_ij` in nats
//! (0 for a certain assignment, `ln k` for a uniform one).

use crate::data::{BLOCK_ROWS, SEGMENT_ROWS};
use crate::error::Result;
use crate::float::Float;
use crate::simd;
use crate::typicality::{Spread, Typicality};
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, Axis, Zip};
use rayon::prelude::*;

/// Probabilities and their summaries for `n` points and `k` clusters.
#[derive(Debug, Clone, PartialEq)]
pub struct Membership<F> {
    /// `n x k` row-stochastic matrix: `proba[(i, j)]` = P(point i belongs to cluster j).
    pub proba: Array2<F>,
    /// Argmax of each row (lowest index on ties).
    pub label: Array1<usize>,
    /// Largest probability of each row.
    pub max_p: Array1<F>,
    /// Largest minus second-largest probability (equal to `max_p` when k = 1).
    pub margin: Array1<F>,
    /// Shannon entropy of each row, in nats.
    pub entropy: Array1<F>,
}

impl<F: Float> Membership<F> {
    /// Normalises log-scores row by row (log-sum-exp). A row whose scores are all `-inf` or NaN
    /// (which the methods in this crate never produce) becomes uniform rather than NaN.
    pub fn from_log_scores(scores: ArrayView2<'_, f64>) -> Self {
        let (n, k) = scores.dim();
        Self::from_score_blocks(
            n,
            k,
            || (),
            |_, first, out| {
                let rows = out.len() / k.max(1);
                for (o, v) in out
                    .iter_mut()
                    .zip(scores.slice(ndarray::s![first..first + rows, ..]).iter())
                {
                    *o = *v;
                }
            },
        )
    }

    /// The contract for `n` rows whose log-scores `fill(state, first_row, out)` writes block by
    /// block (`out` holds up to [`BLOCK_ROWS`] rows of `k` scores); `init` makes each worker's
    /// state. No `n x k` score matrix is stored: each block is normalised as it is filled.
    pub(crate) fn from_score_blocks<S>(
        n: usize,
        k: usize,
        init: impl Fn() -> S + Sync,
        fill: impl Fn(&mut S, usize, &mut [f64]) + Sync,
    ) -> Self {
        let mut proba = Array2::<F>::zeros((n, k));
        let mut label = vec![0usize; n];
        let mut max_p = vec![F::zero(); n];
        let mut margin = vec![F::zero(); n];
        let mut entropy = vec![F::zero(); n];
        let Some(flat) = proba.as_slice_mut() else {
            unreachable!("a new array is contiguous")
        };
        let seg = SEGMENT_ROWS;
        flat.par_chunks_mut(seg * k.max(1))
            .zip(label.par_chunks_mut(seg))
            .zip(max_p.par_chunks_mut(seg))
            .zip(margin.par_chunks_mut(seg))
            .zip(entropy.par_chunks_mut(seg))
            .enumerate()
            .for_each_init(
                || (init(), vec![0.0f64; BLOCK_ROWS * k]),
                |(state, scores), (s, ((((p, l), mp), mg), e))| {
                    let first = s * seg;
                    let mut start = 0;
                    while start < l.len() {
                        let end = (start + BLOCK_ROWS).min(l.len());
                        let out = &mut scores[..(end - start) * k];
                        fill(state, first + start, out);
                        simd::dispatch(Normalise {
                            scores: out,
                            proba: &mut p[start * k..end * k],
                            label: &mut l[start..end],
                            max_p: &mut mp[start..end],
                            margin: &mut mg[start..end],
                            entropy: &mut e[start..end],
                        });
                        start = end;
                    }
                },
            );
        Membership {
            proba,
            label: Array1::from(label),
            max_p: Array1::from(max_p),
            margin: Array1::from(margin),
            entropy: Array1::from(entropy),
        }
    }

    /// Builds the contract from an already row-stochastic matrix (entropy computed from it).
    pub fn from_probabilities(proba: Array2<F>) -> Self {
        let entropy = proba.map_axis(Axis(1), |row| {
            let h: f64 = row
                .iter()
                .map(|&p| {
                    let p = p.as_f64();
                    if p > 0.0 {
                        -p * p.ln()
                    } else {
                        0.0
                    }
                })
                .sum();
            F::of(h.max(0.0))
        });
        Self::summarise(proba, entropy)
    }

    fn summarise(proba: Array2<F>, entropy: Array1<F>) -> Self {
        let n = proba.nrows();
        let mut label = Array1::<usize>::zeros(n);
        let mut max_p = Array1::<F>::zeros(n);
        let mut margin = Array1::<F>::zeros(n);
        Zip::from(proba.rows())
            .and(&mut label)
            .and(&mut max_p)
            .and(&mut margin)
            .par_for_each(|p, l, mp, mg| {
                // Rows of the (standard-layout) matrix are contiguous; copy only if not.
                let (best, top, second) = match p.as_slice() {
                    Some(row) => top_two_slice(row),
                    None => top_two_slice(&p.to_vec()),
                };
                *l = best;
                *mp = top;
                *mg = top - second;
            });
        Membership {
            proba,
            label,
            max_p,
            margin,
            entropy,
        }
    }

    /// Number of points.
    pub fn n_samples(&self) -> usize {
        self.proba.nrows()
    }

    /// Number of clusters.
    pub fn n_clusters(&self) -> usize {
        self.proba.ncols()
    }
}

/// Log-sum-exp normalisation of a segment of rows, with the summary of each row.
struct Normalise<'a, F> {
    /// Row-major log-scores, as many rows as `label` has.
    scores: &'a mut [f64],
    proba: &'a mut [F],
    label: &'a mut [usize],
    max_p: &'a mut [F],
    margin: &'a mut [F],
    entropy: &'a mut [F],
}

impl<F: Float> simd::Kernel for Normalise<'_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let k = self.scores.len() / self.label.len().max(1);
        let mut e = vec![0.0f64; k];
        for (i, (p, row)) in self
            .proba
            .chunks_exact_mut(k.max(1))
            .zip(self.scores.chunks_exact(k.max(1)))
            .enumerate()
        {
            let m = simd::max(row);
            if !m.is_finite() {
                // Degenerate row (all -inf, or NaN): no information, so no preference.
                p.fill(F::of(1.0 / k as f64));
                self.entropy[i] = F::of((k as f64).ln());
            } else {
                let sum = exp_shifted(row, m, &mut e);
                let log_sum = simd::ln_pos(sum);
                let inv = 1.0 / sum;
                // Entropy -sum_j q_j ln q_j with ln q_j = (s_j - m) - ln(sum); terms with q_j = 0
                // contribute 0 (s_j may be -inf there).
                let mut h = [0.0f64; 8];
                for (j, ((pj, &ej), &v)) in p.iter_mut().zip(&e).zip(row).enumerate() {
                    let q = ej * inv;
                    h[j % 8] -= if q > 0.0 {
                        q * ((v - m) - log_sum)
                    } else {
                        0.0
                    };
                    *pj = F::of(q);
                }
                let h = simd::sum(&h);
                self.entropy[i] = F::of(if h > 0.0 { h } else { 0.0 });
            }
            let (best, top, second) = top_two_slice(p);
            self.label[i] = best;
            self.max_p[i] = top;
            self.margin[i] = top - second;
        }
    }
}

/// `e_j = exp(s_j - m)` for a row of log-scores with finite maximum `m`; returns `sum_j e_j`.
#[inline(always)]
fn exp_shifted(row: &[f64], m: f64, e: &mut [f64]) -> f64 {
    for (o, &v) in e.iter_mut().zip(row) {
        *o = simd::exp_nonpos(v - m);
    }
    simd::sum(e)
}

/// A row of log-scores normalised in place into probabilities,
/// `p_j = exp(s_j - m) / sum_l exp(s_l - m)` (uniform for a degenerate row, as [`Normalise`]).
/// Inline into a [`simd::Kernel`].
#[inline(always)]
pub(crate) fn normalise_in_place(row: &mut [f64]) {
    let m = simd::max(row);
    if !m.is_finite() {
        row.fill(1.0 / row.len().max(1) as f64);
        return;
    }
    for v in row.iter_mut() {
        *v = simd::exp_nonpos(*v - m);
    }
    let inv = 1.0 / simd::sum(row);
    for v in row.iter_mut() {
        *v *= inv;
    }
}

/// The argmax of every row of `p` (the first on ties), in parallel over segments of rows.
pub(crate) fn row_argmax(p: ArrayView2<'_, f64>) -> Array1<usize> {
    if p.ncols() == 0 {
        return Array1::zeros(p.nrows());
    }
    crate::data::map_segments(p.nrows(), |rows| {
        rows.map(|i| match p.row(i).as_slice() {
            Some(r) => top_two_slice(r).0,
            None => top_two_slice(&p.row(i).to_vec()).0,
        })
        .collect::<Vec<_>>()
    })
    .concat()
    .into()
}

/// Argmax (first on ties), largest and second-largest value (0 when there is one column).
#[inline(always)]
fn top_two_slice<F: Float>(p: &[F]) -> (usize, F, F) {
    let mut best = 0;
    let mut top = p[0];
    let mut second = F::zero();
    for (j, &v) in p.iter().enumerate().skip(1) {
        if v > top {
            second = top;
            top = v;
            best = j;
        } else if v > second {
            second = v;
        }
    }
    (best, top, second)
}

/// What every fitted model offers, whatever the algorithm: the membership contract for new
/// data, hard labels, and typicality. k-means ([`crate::KMeansModel`]), Gaussian mixtures
/// ([`crate::GaussianMixtureModel`]), fuzzy c-means ([`crate::fcm::FuzzyCMeansModel`]) and
/// consensus k-means ([`crate::consensus::ConsensusModel`]) implement it, and so does the
/// serialisable [`crate::model::Model`] that holds any of them, so code written against this
/// trait (the CLI's outputs, the Python bindings) is written once.
///
/// Every method validates `x` (finite, `n_features` columns) and is deterministic for any
/// thread count.
pub trait ClusterModel<F: Float>: Send + Sync {
    /// Columns of the membership matrix: the clusters, plus a last noise column for a mixture
    /// with a noise component.
    fn n_clusters(&self) -> usize;
    /// Number of features the model was fitted on.
    fn n_features(&self) -> usize;
    /// The membership contract of every row of `x`: probabilities (rows sum to 1), label =
    /// argmax, max_p, margin, entropy.
    fn memberships(&self, x: ArrayView2<'_, F>) -> Result<Membership<F>>;
    /// The most probable cluster of every row (the label of [`Self::memberships`]).
    fn predict(&self, x: ArrayView2<'_, F>) -> Result<Array1<usize>> {
        Ok(self.memberships(x)?.label)
    }
    /// The probabilities of [`Self::memberships`] written into `out` (`n x n_clusters`, f64):
    /// what `predict_proba` returns, without the summaries and without allocating the output.
    fn predict_proba_into(
        &self,
        x: ArrayView2<'_, F>,
        mut out: ArrayViewMut2<'_, f64>,
    ) -> Result<()> {
        check_out_shape(x.nrows(), self.n_clusters(), &out)?;
        let m = self.memberships(x)?;
        out.zip_mut_with(&m.proba, |o, &p| *o = p.as_f64());
        Ok(())
    }
    /// `t_ij = P(chi²_D >= D²_ij)` and the outlier score. Centroid models measure `D²` with
    /// the `spread` of each cluster; a Gaussian mixture uses its covariances and ignores it.
    fn typicality(&self, x: ArrayView2<'_, F>, spread: Spread) -> Result<Typicality>;
}

/// Checks that an output buffer is `n x k`.
pub(crate) fn check_out_shape(n: usize, k: usize, out: &ArrayViewMut2<'_, f64>) -> Result<()> {
    if out.dim() != (n, k) {
        return Err(crate::error::Error::ShapeMismatch {
            what: "output array",
            expected: format!("{n} x {k} (rows x clusters)"),
            found: format!("{} x {}", out.nrows(), out.ncols()),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn normalises_extreme_scores_without_nan() {
        let s = array![
            [0.0, -1e308, f64::NEG_INFINITY],
            [1e300, 1e300, 1e300],
            [-800.0, -801.0, -2000.0]
        ];
        let m = Membership::<f64>::from_log_scores(s.view());
        for row in m.proba.rows() {
            assert!((row.sum() - 1.0).abs() < 1e-12);
            assert!(row.iter().all(|p| p.is_finite() && *p >= 0.0));
        }
        assert_eq!(m.proba[(0, 0)], 1.0);
        assert_eq!(m.label.to_vec(), vec![0, 0, 0]);
        assert!((m.entropy[1] - 3f64.ln()).abs() < 1e-12);
        let e = 1.0 / (1.0 + (-1f64).exp());
        assert!((m.proba[(2, 0)] - e).abs() < 1e-15);
        assert!((m.margin[2] - (2.0 * e - 1.0)).abs() < 1e-15);
    }

    #[test]
    fn ties_take_the_lowest_index() {
        let m = Membership::<f64>::from_probabilities(array![
            [0.25, 0.5, 0.25, 0.0],
            [0.5, 0.5, 0.0, 0.0]
        ]);
        assert_eq!(m.label.to_vec(), vec![1, 0]);
        assert_eq!(m.margin.to_vec(), vec![0.25, 0.0]);
    }

    #[test]
    fn one_cluster_is_certain() {
        let m = Membership::<f64>::from_log_scores(array![[-5.0], [3.0]].view());
        assert_eq!(m.proba, array![[1.0], [1.0]]);
        assert_eq!(m.margin.to_vec(), vec![1.0, 1.0]);
        assert_eq!(m.entropy.to_vec(), vec![0.0, 0.0]);
    }
}
