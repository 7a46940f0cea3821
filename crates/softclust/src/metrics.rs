//! Checking memberships.
//!
//! **Against known labels** ([`score_against_labels`]): clusters carry no names, so each class
//! is first matched to the cluster that holds most of its probability (the Hungarian method on
//! the soft contingency table `C[c, j] = sum_{i: y_i = c} P[i, j]`, maximising `trace`). With
//! `pi(c)` the cluster matched to class `c`, the probability of the true class is
//! `p_i = P[i, pi(y_i)]` (0 when no cluster is left for the class, i.e. when there are more
//! classes than clusters), and
//!
//! * log-loss `= -(1/n) sum_i ln clip(p_i, eps, 1 - eps)` with `eps` the f64 machine epsilon
//!   (scikit-learn's `log_loss` on the matched columns);
//! * Brier score `= (1/n) sum_i sum_j (P[i, j] - [j = pi(y_i)])²`, Brier's original multi-class
//!   form, from 0 (certain and right) to 2 (certain and wrong);
//! * accuracy: the share of points whose argmax is `pi(y_i)`;
//! * expected calibration error `ECE = sum_b (n_b / n) |acc_b - conf_b|` over equal-width bins of
//!   the confidence `max_j P[i, j]`, with `conf_b` the bin's mean confidence and `acc_b` its
//!   accuracy (the reliability table lists every bin);
//! * the adjusted Rand index of the labels and the argmax (Hubert and Arabie 1985), which needs
//!   no matching.
//!
//! **Between two membership matrices** ([`FuzzyRand`]): the fuzzy Rand index of Hüllermeier,
//! Rifqi, Henzgen and Senge (2012), also called the normalised degree of concordance. A
//! partition `P` says that points `i` and `i'` belong together to the degree
//! `E_P(i, i') = 1 - ½ ||P_i - P_i'||_1`; the index is
//! `1 - (1/M) sum_{i < i'} |E_P(i, i') - E_Q(i, i')|` over the `M = n(n-1)/2` pairs, and equals
//! the Rand index when both partitions are crisp. Its chance-adjusted form, the adjusted
//! concordance index of D'Ambrosio, Amodio, Iorio, Pandolfo and Siciliano (2021), is
//! `(index - E) / (1 - E)` with `E` the expected index when the points of `Q` are permuted at
//! random. They estimate `E` from random permutations; here it is exact: under a uniform
//! permutation each pair of `P` meets a uniformly drawn pair of `Q`, so
//! `E = 1 - (1/M²) sum_p sum_q |a_p - b_q|` over the pair values `a` of `P` and `b` of `Q`,
//! a sum that two sorted lists give in `O(M log M)`. For crisp partitions the adjusted form is
//! then exactly the adjusted Rand index.

use crate::assignment::min_cost_assignment;
use crate::data::check_finite_matrix;
use crate::error::{Error, Result};
use crate::rng::Rng;
use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

/// How far a row of memberships may sum from 1 (files written with few decimals, f32 output).
pub const ROW_SUM_TOLERANCE: f64 = 1e-3;

/// Checks that `p` is a membership matrix: rows and columns, finite entries in `[0, 1]`, rows
/// that sum to 1 within [`ROW_SUM_TOLERANCE`].
pub fn check_memberships(p: ArrayView2<'_, f64>, what: &'static str) -> Result<()> {
    check_finite_matrix(p, what)?;
    for (i, row) in p.outer_iter().enumerate() {
        if let Some((j, &v)) = row
            .iter()
            .enumerate()
            .find(|(_, &v)| !(0.0..=1.0).contains(&v))
        {
            return Err(Error::NotMemberships {
                what,
                reason: format!("row {i}, column {j} (0-based) is {v}; memberships lie in [0, 1]"),
            });
        }
        let s: f64 = row.sum();
        if (s - 1.0).abs() > ROW_SUM_TOLERANCE {
            return Err(Error::NotMemberships {
                what,
                reason: format!("row {i} (0-based) sums to {s}, not 1"),
            });
        }
    }
    Ok(())
}

/// Which cluster stands for which class, found by the Hungarian method on the soft
/// contingency table.
#[derive(Debug, Clone, PartialEq)]
pub struct Matching {
    /// For each class, its cluster (`None` when there are more classes than clusters).
    pub cluster_of_class: Vec<Option<usize>>,
    /// For each cluster, its class (`None` when there are more clusters than classes).
    pub class_of_cluster: Vec<Option<usize>>,
    /// `C[c, j]`: the probability mass that the points of class `c` put on cluster `j`
    /// (`n_classes x n_clusters`; with crisp memberships, the contingency table).
    pub contingency: Array2<f64>,
}

/// Matches clusters (the columns of `p`) to classes `0..n_classes` (the values of `labels`) so
/// that the matched clusters hold the most probability of their classes.
pub fn match_clusters(
    p: ArrayView2<'_, f64>,
    labels: &[usize],
    n_classes: usize,
) -> Result<Matching> {
    check_labels(p, labels, n_classes)?;
    let k = p.ncols();
    let mut c = Array2::<f64>::zeros((n_classes, k));
    for (row, &y) in p.outer_iter().zip(labels) {
        let mut cr = c.row_mut(y);
        cr += &row;
    }
    // Square cost, padded with zeros: maximise the matched mass.
    let s = n_classes.max(k);
    let mut cost = Array2::<f64>::zeros((s, s));
    cost.slice_mut(ndarray::s![..n_classes, ..k])
        .assign(&c.mapv(|v| -v));
    let perm = min_cost_assignment(cost.view());
    let mut cluster_of_class = vec![None; n_classes];
    let mut class_of_cluster = vec![None; k];
    for (class, &j) in perm.iter().enumerate().take(n_classes) {
        if j < k {
            cluster_of_class[class] = Some(j);
            class_of_cluster[j] = Some(class);
        }
    }
    Ok(Matching {
        cluster_of_class,
        class_of_cluster,
        contingency: c,
    })
}

fn check_labels(p: ArrayView2<'_, f64>, labels: &[usize], n_classes: usize) -> Result<()> {
    check_memberships(p, "memberships")?;
    if labels.len() != p.nrows() {
        return Err(Error::ShapeMismatch {
            what: "labels",
            expected: format!("one per row of the memberships ({})", p.nrows()),
            found: labels.len().to_string(),
        });
    }
    if let Some((i, &y)) = labels.iter().enumerate().find(|(_, &y)| y >= n_classes) {
        return Err(Error::InvalidParameter {
            name: "labels",
            value: format!("{y} at row {i} (0-based)"),
            expected: "class indices below n_classes",
        });
    }
    Ok(())
}

/// One bin of a reliability table: the points whose confidence (top probability) lies in
/// `[lower, upper)` (the last bin includes 1).
#[derive(Debug, Clone, PartialEq)]
pub struct ReliabilityBin {
    /// Lower edge.
    pub lower: f64,
    /// Upper edge.
    pub upper: f64,
    /// Points in the bin.
    pub count: usize,
    /// Their mean confidence (NaN for an empty bin).
    pub mean_confidence: f64,
    /// The share of them whose argmax is their class's cluster (NaN for an empty bin).
    pub accuracy: f64,
}

/// How well memberships predict known labels (see the [module documentation](self)).
#[derive(Debug, Clone, PartialEq)]
pub struct LabelScores {
    /// The cluster of each class.
    pub matching: Matching,
    /// Mean negative log-probability of the true class (clipped at machine epsilon).
    pub log_loss: f64,
    /// Brier's multi-class score, in `[0, 2]`.
    pub brier: f64,
    /// Share of points whose argmax is their class's cluster.
    pub accuracy: f64,
    /// Expected calibration error over [`LabelScores::reliability`].
    pub ece: f64,
    /// The reliability table (equal-width bins of the confidence).
    pub reliability: Vec<ReliabilityBin>,
    /// Adjusted Rand index of the labels and the argmax.
    pub ari: f64,
}

/// Scores memberships `p` (n x k, rows summing to 1) against class indices `labels` (each
/// below `n_classes`), with `n_bins` confidence bins for the calibration error.
pub fn score_against_labels(
    p: ArrayView2<'_, f64>,
    labels: &[usize],
    n_classes: usize,
    n_bins: usize,
) -> Result<LabelScores> {
    if n_bins == 0 {
        return Err(Error::InvalidParameter {
            name: "n_bins",
            value: "0".into(),
            expected: "at least 1 bin",
        });
    }
    let matching = match_clusters(p, labels, n_classes)?;
    let n = p.nrows();
    let eps = f64::EPSILON;
    let (mut ll, mut brier, mut hits) = (0.0, 0.0, 0usize);
    let mut bins = vec![(0usize, 0.0f64, 0usize); n_bins];
    let mut argmax = Vec::with_capacity(n);
    for (row, &y) in p.outer_iter().zip(labels) {
        let target = matching.cluster_of_class[y];
        let pt = target.map_or(0.0, |j| row[j]);
        ll -= pt.clamp(eps, 1.0 - eps).ln();
        brier += row
            .iter()
            .enumerate()
            .map(|(j, &v)| {
                let e = v - if Some(j) == target { 1.0 } else { 0.0 };
                e * e
            })
            .sum::<f64>();
        let (top, conf) =
            row.iter()
                .enumerate()
                .fold((0, f64::NEG_INFINITY), |(bj, bv), (j, &v)| {
                    if v > bv {
                        (j, v)
                    } else {
                        (bj, bv)
                    }
                });
        argmax.push(top);
        let hit = Some(top) == target;
        hits += usize::from(hit);
        // Truncation puts conf in [b/B, (b+1)/B); conf = 1 joins the last bin.
        let b = ((conf * n_bins as f64) as usize).min(n_bins - 1);
        bins[b].0 += 1;
        bins[b].1 += conf;
        bins[b].2 += usize::from(hit);
    }
    let nf = n as f64;
    let mut ece = 0.0;
    let reliability = bins
        .iter()
        .enumerate()
        .map(|(b, &(count, conf, hit))| {
            let (mc, acc) = if count == 0 {
                (f64::NAN, f64::NAN)
            } else {
                (conf / count as f64, hit as f64 / count as f64)
            };
            if count > 0 {
                ece += count as f64 / nf * (acc - mc).abs();
            }
            ReliabilityBin {
                lower: b as f64 / n_bins as f64,
                upper: (b + 1) as f64 / n_bins as f64,
                count,
                mean_confidence: mc,
                accuracy: acc,
            }
        })
        .collect();
    Ok(LabelScores {
        ari: adjusted_rand_index(labels, &argmax)?,
        matching,
        log_loss: ll / nf,
        brier: brier / nf,
        accuracy: hits as f64 / nf,
        ece,
        reliability,
    })
}

/// The adjusted Rand index of two labelings of the same points (any non-negative integers):
/// `ARI = 2 (TP TN - FN FP) / ((TP + FN)(FN + TN) + (TP + FP)(FP + TN))` over the pair counts
/// (pairs together in both, apart in both, and the two kinds of disagreement). 1 for identical
/// partitions up to renaming (and, as scikit-learn has it, when the pair counts leave no room
/// for disagreement), about 0 for unrelated ones, negative for worse than chance.
pub fn adjusted_rand_index(a: &[usize], b: &[usize]) -> Result<f64> {
    if a.len() != b.len() {
        return Err(Error::ShapeMismatch {
            what: "second labeling",
            expected: format!("{} labels, as the first", a.len()),
            found: b.len().to_string(),
        });
    }
    if a.is_empty() {
        return Err(Error::EmptyInput { what: "labels" });
    }
    let dense = |l: &[usize]| -> (Vec<usize>, usize) {
        let mut ids = std::collections::HashMap::new();
        let v: Vec<usize> = l
            .iter()
            .map(|&x| {
                let next = ids.len();
                *ids.entry(x).or_insert(next)
            })
            .collect();
        (v, ids.len())
    };
    let ((da, ka), (db, kb)) = (dense(a), dense(b));
    let mut table = std::collections::HashMap::<(usize, usize), u128>::new();
    let (mut ra, mut rb) = (vec![0u128; ka], vec![0u128; kb]);
    for (&x, &y) in da.iter().zip(&db) {
        *table.entry((x, y)).or_insert(0) += 1;
        ra[x] += 1;
        rb[y] += 1;
    }
    let n = a.len() as u128;
    let sq = |v: u128| v * v;
    let sum_nij2: u128 = table.values().map(|&v| sq(v)).sum();
    let sum_a2: u128 = ra.iter().map(|&v| sq(v)).sum();
    let sum_b2: u128 = rb.iter().map(|&v| sq(v)).sum();
    // Ordered pair counts (each unordered pair twice), as scikit-learn's pair confusion matrix.
    let tp = (sum_nij2 - n) as f64;
    let fp = (sum_a2 - sum_nij2) as f64;
    let fn_ = (sum_b2 - sum_nij2) as f64;
    let tn = (sq(n) + sum_nij2) as f64 - (sum_a2 + sum_b2) as f64;
    if fn_ == 0.0 && fp == 0.0 {
        return Ok(1.0);
    }
    Ok(2.0 * (tp * tn - fn_ * fp) / ((tp + fn_) * (fn_ + tn) + (tp + fp) * (fp + tn)))
}

/// The fuzzy Rand index of two membership matrices over the same points, with its exact
/// chance-adjusted form (see the [module documentation](self)). Time `O(n² k)` and memory
/// `O(n²)` for the pair values, so above `max_points` points (default
/// [`FuzzyRand::DEFAULT_MAX_POINTS`]) both are computed on a seeded random sample of that
/// many points, and [`FuzzyRandIndex::n_points`] says how many were used.
#[derive(Debug, Clone, PartialEq)]
pub struct FuzzyRand {
    max_points: usize,
    seed: u64,
}

impl Default for FuzzyRand {
    fn default() -> Self {
        Self::new()
    }
}

/// The fuzzy Rand index, its chance-adjusted form and what was used to compute them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FuzzyRandIndex {
    /// Hüllermeier et al.'s fuzzy Rand index (normalised degree of concordance), in `[0, 1]`.
    pub index: f64,
    /// The adjusted concordance index `(index - expected) / (1 - expected)`: 0 for agreement
    /// by chance, 1 for identical partitions (1 as well when every pair value is one constant,
    /// where the ratio is 0/0).
    pub adjusted: f64,
    /// The index expected when the points of the second partition are permuted at random.
    pub expected: f64,
    /// Points used (all of them, or the sample).
    pub n_points: usize,
}

impl FuzzyRand {
    /// The default cap on the points used: 4,000 points make 8 million pairs (two lists of
    /// 64 MB), a second or so.
    pub const DEFAULT_MAX_POINTS: usize = 4000;

    /// All points up to the default cap, seed 0.
    pub fn new() -> Self {
        FuzzyRand {
            max_points: Self::DEFAULT_MAX_POINTS,
            seed: 0,
        }
    }

    /// Above this many points a random sample of this size is used (at least 2).
    pub fn max_points(mut self, m: usize) -> Self {
        self.max_points = m;
        self
    }

    /// Seed of the sample.
    pub fn seed(mut self, s: u64) -> Self {
        self.seed = s;
        self
    }

    /// Compares memberships `p` (n x k) and `q` (n x h); each row sums to 1.
    pub fn compute(
        &self,
        p: ArrayView2<'_, f64>,
        q: ArrayView2<'_, f64>,
    ) -> Result<FuzzyRandIndex> {
        if self.max_points < 2 {
            return Err(Error::InvalidParameter {
                name: "max_points",
                value: self.max_points.to_string(),
                expected: "at least 2 (a pair of points)",
            });
        }
        check_memberships(p, "first memberships")?;
        check_memberships(q, "second memberships")?;
        if p.nrows() != q.nrows() {
            return Err(Error::ShapeMismatch {
                what: "second memberships",
                expected: format!("{} rows, as the first", p.nrows()),
                found: format!("{} rows", q.nrows()),
            });
        }
        let n = p.nrows();
        if n < 2 {
            return Err(Error::ShapeMismatch {
                what: "memberships",
                expected: "at least 2 rows (the index compares pairs of points)".into(),
                found: format!("{n} row"),
            });
        }
        let (p, q) = if n > self.max_points {
            let rows = sample_rows(n, self.max_points, self.seed);
            (p.select(Axis(0), &rows), q.select(Axis(0), &rows))
        } else {
            (p.to_owned(), q.to_owned())
        };
        let (mut a, mut b) = (pair_values(p.view()), pair_values(q.view()));
        let m = a.len() as f64;
        let disagreement: f64 = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum();
        let index = 1.0 - disagreement / m;
        a.par_sort_unstable_by(f64::total_cmp);
        b.par_sort_unstable_by(f64::total_cmp);
        let expected = 1.0 - cross_abs_sum(&a, &b) / (m * m);
        let adjusted = if 1.0 - expected <= 0.0 {
            1.0
        } else {
            (index - expected) / (1.0 - expected)
        };
        Ok(FuzzyRandIndex {
            index,
            adjusted,
            expected,
            n_points: p.nrows(),
        })
    }
}

/// `m` distinct rows of `0..n`, in increasing order (a partial Fisher-Yates shuffle).
fn sample_rows(n: usize, m: usize, seed: u64) -> Vec<usize> {
    let mut rng = Rng::new(seed);
    let mut idx: Vec<usize> = (0..n).collect();
    for i in 0..m {
        let j = i + rng.below(n - i);
        idx.swap(i, j);
    }
    idx.truncate(m);
    idx.sort_unstable();
    idx
}

/// `E(i, i') = 1 - ½ ||P_i - P_i'||_1` for every pair `i < i'`, row-major over `i`.
fn pair_values(p: ArrayView2<'_, f64>) -> Vec<f64> {
    let n = p.nrows();
    let mut out = vec![0.0; n * (n - 1) / 2];
    let mut rest = &mut out[..];
    let mut chunks = Vec::with_capacity(n);
    for i in 0..n {
        let (head, tail) = rest.split_at_mut(n - 1 - i);
        chunks.push((i, head));
        rest = tail;
    }
    chunks.into_par_iter().for_each(|(i, chunk)| {
        let pi = p.row(i);
        for (o, j) in chunk.iter_mut().zip(i + 1..n) {
            let l1: f64 = pi.iter().zip(p.row(j)).map(|(x, y)| (x - y).abs()).sum();
            *o = 1.0 - 0.5 * l1;
        }
    });
    out
}

/// `sum_p sum_q |a_p - b_q|` for sorted `a` and `b`: each `a_p` is above the `c` smallest
/// values of `b` (sum `S_c`) and below the rest, so it contributes
/// `a_p c - S_c + (S - S_c) - a_p (|b| - c)`.
fn cross_abs_sum(a: &[f64], b: &[f64]) -> f64 {
    let total: f64 = b.iter().sum();
    let (mut c, mut below, mut acc) = (0usize, 0.0f64, 0.0f64);
    let nb = b.len() as f64;
    for &x in a {
        while c < b.len() && b[c] < x {
            below += b[c];
            c += 1;
        }
        let cf = c as f64;
        acc += x * cf - below + (total - below) - x * (nb - cf);
    }
    acc
}
