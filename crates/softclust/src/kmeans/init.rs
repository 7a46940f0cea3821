//! Initial centres: greedy k-means++ and weighted random points.
//!
//! Greedy k-means++ (Arthur and Vassilvitskii, 2007, with the local trials of scikit-learn):
//! the first centre is a point drawn with probability proportional to its weight `w_i`; each
//! further centre is chosen among `L = 2 + floor(ln k)` candidates, each drawn with probability
//! proportional to `w_i D(x_i)²` (`D` = distance to the nearest centre so far), as the candidate
//! that most lowers the potential `sum_i w_i D(x_i)²`.

use crate::data::{map_segments, par_sum};
use crate::distance::DistanceKernel;
use crate::float::Float;
use crate::rng::Rng;
use ndarray::{Array2, ArrayView1, ArrayView2, Axis};

/// Index of the first entry whose running sum exceeds `target` (skipping zero-mass entries),
/// given the prefix sums `cum`. Clipped to the last entry with positive mass.
fn search_cumulative(cum: &[f64], target: f64) -> usize {
    let i = cum.partition_point(|&c| c <= target);
    if i < cum.len() {
        return i;
    }
    // Rounding put the target beyond the total: take the last entry with positive mass.
    let total = cum.last().copied().unwrap_or(0.0);
    cum.partition_point(|&c| c < total)
        .min(cum.len().saturating_sub(1))
}

fn prefix_sums(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut acc = 0.0;
    values
        .map(|v| {
            acc += v;
            acc
        })
        .collect()
}

/// Squared distances of every point to one centre, in f64.
fn distances_to<F: Float>(
    x: ArrayView2<'_, F>,
    mu: ArrayView1<'_, F>,
    center: ArrayView1<'_, F>,
) -> Vec<f64> {
    let kernel = DistanceKernel::new(center.insert_axis(Axis(0)), mu);
    map_segments(x.nrows(), |rows| {
        let mut out = Vec::with_capacity(rows.len());
        let mut scratch = kernel.scratch(x.ncols());
        kernel.for_each_block(x, rows, &mut scratch, |_, _, d2| {
            out.extend(d2.column(0).iter().map(|v| v.as_f64()));
        });
        out
    })
    .concat()
}

/// Greedy k-means++ seeding: the row indices of the `k` seeds. `w` holds one non-negative
/// weight per row, not all zero.
pub(crate) fn kmeans_plusplus<F: Float>(
    x: ArrayView2<'_, F>,
    w: &[f64],
    mu: ArrayView1<'_, F>,
    k: usize,
    n_local_trials: usize,
    rng: &mut Rng,
) -> Vec<usize> {
    let n = x.nrows();
    greedy_plusplus(
        w,
        k,
        n_local_trials,
        rng,
        |r| distances_to(x, mu, x.row(r)),
        |candidates, closest| {
            let cand_rows = x.select(Axis(0), candidates);
            let kernel = DistanceKernel::new(cand_rows.view(), mu);
            let parts = map_segments(n, |rows| {
                let mut pots = vec![0.0f64; candidates.len()];
                let mut scratch = kernel.scratch(x.ncols());
                kernel.for_each_block(x, rows, &mut scratch, |start, _, d2| {
                    for (r, row) in d2.rows().into_iter().enumerate() {
                        let i = start + r;
                        for (p, v) in pots.iter_mut().zip(row) {
                            *p += w[i] * closest[i].min(v.as_f64());
                        }
                    }
                });
                pots
            });
            let mut pots = vec![0.0f64; candidates.len()];
            for part in parts {
                for (p, v) in pots.iter_mut().zip(part) {
                    *p += v;
                }
            }
            pots
        },
    )
}

/// Greedy k-means++ over any representation of the points: `dist_to(r)` gives the squared
/// distances of every point to point `r`, and `pots(candidates, closest)` the potential
/// `sum_i w_i min(closest_i, d(i, c))` of each candidate `c` (summed over fixed row segments in
/// order). The first seed is drawn by weight, each next one is the best of `n_local_trials`
/// draws by weighted squared distance to the seeds so far.
pub(super) fn greedy_plusplus(
    w: &[f64],
    k: usize,
    n_local_trials: usize,
    rng: &mut Rng,
    dist_to: impl Fn(usize) -> Vec<f64>,
    pots: impl Fn(&[usize], &[f64]) -> Vec<f64>,
) -> Vec<usize> {
    let n = w.len();
    let mut chosen_rows = Vec::with_capacity(k);
    let cum_w = prefix_sums(w.iter().copied());
    let first = search_cumulative(&cum_w, rng.uniform() * cum_w[n - 1]);
    chosen_rows.push(first);
    let mut closest = dist_to(first);
    let mut pot = par_sum(n, |i| w[i] * closest[i]);

    for _ in 1..k {
        let cum = prefix_sums(w.iter().zip(&closest).map(|(a, b)| a * b));
        let candidates: Vec<usize> = (0..n_local_trials)
            .map(|_| search_cumulative(&cum, rng.uniform() * pot))
            .collect();
        let pots = pots(&candidates, &closest);
        let mut best = 0;
        for (t, &p) in pots.iter().enumerate() {
            if p < pots[best] {
                best = t;
            }
        }
        let chosen = candidates[best];
        pot = pots[best];
        chosen_rows.push(chosen);
        for (a, b) in closest.iter_mut().zip(dist_to(chosen)) {
            if b < *a {
                *a = b;
            }
        }
    }
    chosen_rows
}

/// `k` distinct rows drawn without replacement with probability proportional to weight
/// (rows of zero weight are never drawn unless fewer than `k` rows have positive weight).
pub(crate) fn random_points<F: Float>(
    x: ArrayView2<'_, F>,
    w: &[f64],
    k: usize,
    rng: &mut Rng,
) -> Array2<F> {
    x.select(Axis(0), &random_rows(w, k, rng))
}

/// The rows [`random_points`] takes: `k` distinct rows drawn with probability proportional to
/// their weight, without replacement.
pub(super) fn random_rows(w: &[f64], k: usize, rng: &mut Rng) -> Vec<usize> {
    let n = w.len();
    let mut mass: Vec<f64> = w.to_vec();
    let mut chosen = Vec::with_capacity(k);
    for _ in 0..k {
        let total: f64 = mass.iter().sum();
        let idx = if total > 0.0 {
            let cum = prefix_sums(mass.iter().copied());
            search_cumulative(&cum, rng.uniform() * total)
        } else {
            // Only zero-weight rows remain: draw uniformly among those not yet taken.
            let free: Vec<usize> = (0..n).filter(|i| !chosen.contains(i)).collect();
            free[rng.below(free.len())]
        };
        mass[idx] = 0.0;
        chosen.push(idx);
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_skips_zero_mass() {
        let cum = prefix_sums([0.0, 1.0, 0.0, 2.0].into_iter());
        assert_eq!(search_cumulative(&cum, 0.0), 1);
        assert_eq!(search_cumulative(&cum, 0.99), 1);
        assert_eq!(search_cumulative(&cum, 1.0), 3);
        assert_eq!(search_cumulative(&cum, 5.0), 3);
    }
}
