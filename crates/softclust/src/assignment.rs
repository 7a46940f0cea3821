//! Minimum-cost assignment (the Hungarian method, in the shortest-augmenting-path form of
//! Jonker and Volgenant with dual potentials), `O(k³)` for a `k x k` cost matrix.

use ndarray::ArrayView2;

/// For a square cost matrix, the permutation `p` minimising `sum_i cost[i, p[i]]`: row `i` is
/// matched to column `p[i]`. Ties are broken deterministically. Always ends: with infinite or
/// NaN costs the result is still a permutation (the finite part is matched as well as the
/// search can).
pub fn min_cost_assignment(cost: ArrayView2<'_, f64>) -> Vec<usize> {
    let n = cost.nrows();
    debug_assert_eq!(n, cost.ncols());
    // 1-based arrays with a virtual column 0, as in the classic formulation.
    let mut u = vec![0.0f64; n + 1];
    let mut v = vec![0.0f64; n + 1];
    let mut p = vec![0usize; n + 1]; // p[j] = row matched to column j
    let mut way = vec![0usize; n + 1];
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0;
        let mut minv = vec![f64::INFINITY; n + 1];
        let mut used = vec![false; n + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let mut delta = f64::INFINITY;
            let mut j1 = 0;
            for j in 1..=n {
                if !used[j] {
                    let cur = cost[(i0 - 1, j - 1)] - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            if j1 == 0 {
                // Every remaining reduced cost is NaN or infinite (infinite or overflowing
                // costs): step to the first free column without moving the potentials, so the
                // search still ends after at most `n` steps; the result is then a valid
                // permutation but not necessarily an optimal one.
                delta = 0.0;
                j1 = (1..=n).find(|&j| !used[j]).unwrap_or(0);
                if j1 == 0 {
                    break;
                }
                way[j1] = j0;
            }
            for j in 0..=n {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut assignment = vec![0usize; n];
    for j in 1..=n {
        if p[j] > 0 {
            assignment[p[j] - 1] = j - 1;
        }
    }
    assignment
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    fn brute_force(c: &Array2<f64>) -> f64 {
        fn rec(c: &Array2<f64>, i: usize, used: &mut Vec<bool>) -> f64 {
            if i == c.nrows() {
                return 0.0;
            }
            let mut best = f64::INFINITY;
            for j in 0..c.ncols() {
                if !used[j] {
                    used[j] = true;
                    best = best.min(c[(i, j)] + rec(c, i + 1, used));
                    used[j] = false;
                }
            }
            best
        }
        rec(c, 0, &mut vec![false; c.ncols()])
    }

    #[test]
    fn optimal_on_small_matrices() {
        let c = array![[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]];
        let p = min_cost_assignment(c.view());
        assert_eq!(p, vec![1, 0, 2]);
        let mut state = 12345u64;
        for n in 1..7 {
            for _ in 0..30 {
                let c = Array2::from_shape_fn((n, n), |_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                    ((state >> 33) % 100) as f64
                });
                let p = min_cost_assignment(c.view());
                let mut seen = p.clone();
                seen.sort_unstable();
                assert_eq!(seen, (0..n).collect::<Vec<_>>());
                let total: f64 = (0..n).map(|i| c[(i, p[i])]).sum();
                assert_eq!(total, brute_force(&c));
            }
        }
    }

    /// Infinite, NaN and overflowing costs (centres of data at 1e200) once made the search
    /// loop forever; it must end with a permutation.
    #[test]
    fn ends_with_a_permutation_on_infinite_and_nan_costs() {
        let inf = f64::INFINITY;
        for c in [
            array![[inf, inf], [inf, inf]],
            array![[f64::NAN, 1.0], [2.0, f64::NAN]],
            array![
                [1e308, -1e308, 0.0],
                [inf, 1.0, -inf],
                [f64::NAN, 1e300, 2.0]
            ],
            array![[0.0, inf, inf], [inf, 0.0, inf], [inf, inf, inf]],
        ] {
            let p = min_cost_assignment(c.view());
            let mut seen = p.clone();
            seen.sort_unstable();
            assert_eq!(seen, (0..c.nrows()).collect::<Vec<_>>(), "{c}");
        }
        let c = array![[0.0, inf], [inf, 0.0]];
        assert_eq!(min_cost_assignment(c.view()), vec![0, 1]);
    }
}
