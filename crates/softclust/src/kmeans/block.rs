//! k-means over row blocks: the sufficient statistics of one pass, which merge by addition, so
//! that a fit can run over data held elsewhere (a Dask cluster, a file read block by block).
//!
//! A Lloyd iteration is a sum over rows. For a block `X_b` with weights `w`, the current
//! centres `C` and a fixed centring vector `m` (the data's column means, as in the in-memory
//! fit), [`lloyd_stats`] returns the inertia `sum_i w_i min_j |x_i - c_j|²`, and per cluster the
//! weight `W_j`, the count and `S_j = sum_{l_i = j} w_i (x_i - m)`; the blocks' statistics add
//! up to the whole data's ([`LloydStats::add`], or element-wise on [`LloydStats::to_flat`]).
//! The loop itself ([`lloyd_loop`]: relocation of empty clusters, the centre step
//! `c_j = m + S_j / W_j`, the stopping rules) is the one the in-memory fit runs; it asks a
//! [`LloydPasses`] source for passes, so from the same start and centring vector a fit over
//! blocks gives the in-memory fit's centres up to the order of the floating-point sums.
//!
//! ```
//! use ndarray::array;
//! use softclust::kmeans::block::{lloyd_stats, update_centers, LloydStats};
//!
//! let x = array![[0.0, 0.0], [0.0, 2.0], [10.0, 0.0], [10.0, 2.0]];
//! let c = array![[1.0, 1.0], [9.0, 1.0]];
//! let m = array![5.0, 1.0];
//! let mut total = LloydStats::zeros(2, 2);
//! for rows in [0..2, 2..4] {
//!     let block = x.slice(ndarray::s![rows, ..]);
//!     total.add(&lloyd_stats(block, None, c.view(), m.view())?);
//! }
//! let (next, _shift) = update_centers(&total, c.view(), m.view());
//! assert_eq!(next, array![[0.0, 1.0], [10.0, 1.0]]);
//! assert!((total.inertia - 8.0).abs() < 1e-12);
//! # Ok::<(), softclust::Error>(())
//! ```

pub use super::lloyd::{
    apply_relocations, lloyd_loop, update_centers, Candidate, LloydPasses, LloydStats, LoopOutcome,
    Step,
};
use super::lloyd::{assign, exact_deviations, farthest};
use crate::data::check_matrix;
use crate::distance::DistanceKernel;
use crate::error::{Error, Result};
use crate::float::Float;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

/// Checks a block against centres (`k x d`) and a centring vector: finite, bounded values
/// (the first bad cell named by its row within the block), matching widths, weights one per row,
/// finite and non-negative. Returns the weights (ones when none are given).
pub fn check_block<F: Float>(
    x: ArrayView2<'_, F>,
    w: Option<ArrayView1<'_, f64>>,
    d: usize,
) -> Result<Vec<f64>> {
    check_matrix(x, "data")?;
    if x.ncols() != d {
        return Err(Error::ShapeMismatch {
            what: "data block",
            expected: format!("{d} columns, as the model"),
            found: format!("{} columns", x.ncols()),
        });
    }
    match w {
        None => Ok(vec![1.0; x.nrows()]),
        Some(w) => {
            if w.len() != x.nrows() {
                return Err(Error::ShapeMismatch {
                    what: "sample weights",
                    expected: format!("one weight per row ({})", x.nrows()),
                    found: format!("{} weights", w.len()),
                });
            }
            for (row, &v) in w.iter().enumerate() {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(Error::InvalidWeight { row, value: v });
                }
            }
            Ok(w.to_vec())
        }
    }
}

fn check_centers<F: Float>(c: ArrayView2<'_, F>, m: ArrayView1<'_, F>) -> Result<()> {
    if c.nrows() == 0 || c.ncols() != m.len() {
        return Err(Error::ShapeMismatch {
            what: "centres and centring vector",
            expected: format!("k >= 1 centres of {} features", m.len()),
            found: format!("{} x {}", c.nrows(), c.ncols()),
        });
    }
    Ok(())
}

/// A block's weights, labels and (optionally) Lloyd statistics.
type Assigned = (Vec<f64>, Vec<usize>, LloydStats);

/// A block checked against centres (`None` when it has no rows), its weights, and each row's
/// nearest centre; with `accumulate`, the Lloyd statistics of the assignment too.
fn assigned<F: Float>(
    x: ArrayView2<'_, F>,
    w: Option<ArrayView1<'_, f64>>,
    centers: ArrayView2<'_, F>,
    centering: ArrayView1<'_, F>,
    accumulate: bool,
) -> Result<Option<Assigned>> {
    check_centers(centers, centering)?;
    if x.nrows() == 0 {
        return Ok(None);
    }
    let w = check_block(x, w, centers.ncols())?;
    let kernel = DistanceKernel::new(centers, centering);
    let mut labels = vec![0usize; x.nrows()];
    let st = assign(x, &w, &kernel, &mut labels, accumulate);
    Ok(Some((w, labels, st)))
}

/// The statistics of one Lloyd pass over a block (see the module documentation). An empty
/// block gives zeros.
pub fn lloyd_stats<F: Float>(
    x: ArrayView2<'_, F>,
    w: Option<ArrayView1<'_, f64>>,
    centers: ArrayView2<'_, F>,
    centering: ArrayView1<'_, F>,
) -> Result<LloydStats> {
    let (k, d) = centers.dim();
    Ok(assigned(x, w, centers, centering, true)?
        .map_or_else(|| LloydStats::zeros(k, d), |(_, _, st)| st))
}

/// Relocation candidates of a block: its `m` positive-weight points farthest from their
/// nearest centre in `old`, as `(squared distance, row within the block, candidate)`,
/// farthest first, ties by row. [`merge_candidates`] merges blocks.
pub fn block_candidates<F: Float>(
    x: ArrayView2<'_, F>,
    w: Option<ArrayView1<'_, f64>>,
    old: ArrayView2<'_, F>,
    centering: ArrayView1<'_, F>,
    m: usize,
) -> Result<Vec<(f64, usize, Candidate)>> {
    Ok(match assigned(x, w, old, centering, false)? {
        None => Vec::new(),
        Some((w, labels, _)) => farthest(x, &w, centering, old, &labels, m),
    })
}

/// The first `m` of blocks' candidates, given as `(squared distance, row in the whole data,
/// candidate)`: farthest first, ties by row, the order [`apply_relocations`] takes them in.
pub fn merge_candidates(mut all: Vec<(f64, usize, Candidate)>, m: usize) -> Vec<Candidate> {
    all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    all.truncate(m);
    all.into_iter().map(|t| t.2).collect()
}

/// The final-pass statistics of a fit: per cluster and feature the exact weighted squared
/// deviations `S_jt = sum_{l_i = j} w_i (x_it - c_jt)²` (`k x d`) and the weights `W_j`.
/// They add up over blocks and give the model's inertia, soft step and spreads
/// ([`super::KMeansModel::from_block_stats`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Deviations {
    /// `S`, k x d.
    pub deviations: Array2<f64>,
    /// `W`, k.
    pub weight: Array1<f64>,
}

impl Deviations {
    /// Zeros for `k` clusters of `d` features.
    pub fn zeros(k: usize, d: usize) -> Self {
        Deviations {
            deviations: Array2::zeros((k, d)),
            weight: Array1::zeros(k),
        }
    }

    /// Adds another block's statistics.
    pub fn add(&mut self, o: &Deviations) {
        self.deviations += &o.deviations;
        self.weight += &o.weight;
    }

    /// One flat vector `[W (k), S (k x d)]`.
    pub fn to_flat(&self) -> Vec<f64> {
        let mut v = self.weight.to_vec();
        v.extend(self.deviations.iter());
        v
    }

    /// Reads [`Self::to_flat`] back.
    pub fn from_flat(k: usize, d: usize, v: &[f64]) -> Result<Self> {
        if v.len() != k + k * d {
            return Err(Error::ShapeMismatch {
                what: "k-means final-pass statistics",
                expected: format!("{} numbers (k + kd)", k + k * d),
                found: format!("{} numbers", v.len()),
            });
        }
        Ok(Deviations {
            weight: Array1::from(v[..k].to_vec()),
            deviations: Array2::from_shape_vec((k, d), v[k..].to_vec()).map_err(|e| {
                Error::InvalidModel {
                    reason: e.to_string(),
                }
            })?,
        })
    }
}

/// The final pass of a fit over one block: each row assigned to its nearest centre, then the
/// block's [`Deviations`].
pub fn deviation_stats<F: Float>(
    x: ArrayView2<'_, F>,
    w: Option<ArrayView1<'_, f64>>,
    centers: ArrayView2<'_, F>,
    centering: ArrayView1<'_, F>,
) -> Result<Deviations> {
    let (k, d) = centers.dim();
    Ok(match assigned(x, w, centers, centering, false)? {
        None => Deviations::zeros(k, d),
        Some((w, labels, _)) => {
            let (dev, weight) = exact_deviations(x, &w, centers, &labels);
            Deviations {
                deviations: dev,
                weight: Array1::from(weight),
            }
        }
    })
}

/// Column statistics of a block for the start of a fit over blocks (validating it on the
/// way): `[n, sum_i (x_i1 - s_1), .., sum_i (x_id - s_d)]`, with `square` the squared
/// deviations. Summed over blocks, the first gives the column means `m` (the in-memory fits'
/// centring vector, unweighted as theirs), the second with `s = m` the mean feature variance
/// that scales `tol`.
pub fn column_stats<F: Float>(
    x: ArrayView2<'_, F>,
    w: Option<ArrayView1<'_, f64>>,
    shift: &[f64],
    square: bool,
) -> Result<Vec<f64>> {
    let d = shift.len();
    if x.nrows() == 0 {
        return Ok(vec![0.0; 1 + d]);
    }
    check_block(x, w, d)?;
    let mut v = vec![x.nrows() as f64];
    v.extend(crate::data::column_sums(x, shift, square));
    Ok(v)
}

/// One k-means|| round over a block (Bahmani et al. 2012): each positive-weight row is drawn
/// independently with probability `min(1, factor * w_i d²_i)`, `d²_i` its squared distance to
/// the nearest of the current `candidates` (`factor = l / phi`, the oversampling `l` over the
/// current cost `phi`). The draws use a generator seeded by `seed` (derive one per block and
/// round), so the result does not depend on scheduling. Returns the block's cost under the
/// candidates, `sum_i w_i d²_i`, and the rows drawn (indices within the block).
pub fn parallel_sample<F: Float>(
    x: ArrayView2<'_, F>,
    w: Option<ArrayView1<'_, f64>>,
    candidates: ArrayView2<'_, F>,
    centering: ArrayView1<'_, F>,
    factor: f64,
    seed: u64,
) -> Result<(f64, Vec<usize>)> {
    check_centers(candidates, centering)?;
    if x.nrows() == 0 {
        return Ok((0.0, Vec::new()));
    }
    let w = check_block(x, w, candidates.ncols())?;
    let d2 = DistanceKernel::new(candidates, centering).squared_distances(x);
    let mut rng = crate::rng::Rng::new(seed);
    let mut cost = 0.0;
    let mut rows = Vec::new();
    for (i, (row, &wi)) in d2.rows().into_iter().zip(&w).enumerate() {
        let m = row
            .iter()
            .fold(f64::INFINITY, |a, &v| a.min(v.as_f64()))
            .max(0.0);
        cost += wi * m;
        // One draw per row whatever its weight, so the stream stays aligned with the rows.
        let u = rng.uniform();
        if wi > 0.0 && u < factor * wi * m {
            rows.push(i);
        }
    }
    Ok((cost, rows))
}
