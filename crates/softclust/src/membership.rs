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

use crate::float::Float;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, Zip};

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
        let mut proba = Array2::<F>::zeros((n, k));
        let mut entropy = Array1::<F>::zeros(n);
        Zip::from(scores.rows())
            .and(proba.rows_mut())
            .and(&mut entropy)
            .par_for_each(|s, mut p, e| {
                let m = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                if !m.is_finite() || m.is_nan() {
                    // Degenerate row: no information, so no preference.
                    p.fill(F::of(1.0 / k as f64));
                    *e = F::of((k as f64).ln());
                    return;
                }
                let mut sum = 0.0;
                for &v in s.iter() {
                    sum += (v - m).exp();
                }
                let log_sum = sum.ln();
                let mut h = 0.0;
                for (pj, &v) in p.iter_mut().zip(s.iter()) {
                    let lp = v - m - log_sum;
                    let q = (v - m).exp() / sum;
                    if q > 0.0 {
                        h -= q * lp;
                    }
                    *pj = F::of(q);
                }
                *e = F::of(h.max(0.0));
            });
        Self::summarise(proba, entropy)
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
                let (best, top, second) = top_two(p);
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

/// Argmax (first on ties), largest and second-largest value (0 when there is one column).
fn top_two<F: Float>(p: ArrayView1<'_, F>) -> (usize, F, F) {
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
