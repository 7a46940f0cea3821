//! The `K` largest memberships of every row, for models with many clusters.
//!
//! With `k` clusters the membership matrix holds `n k` numbers (1.5 million points and 15,000
//! clusters are 90 GB of f64), but most rows put almost all their mass on a few clusters. The
//! top-K form keeps, per row, the clusters `c_1, ..., c_K` of the K largest probabilities in
//! decreasing order (lowest index first on ties, as the label) and their probabilities
//! `p_(1) >= ... >= p_(K)`, while the label, `max_p`, `margin` and entropy are those of the
//! *full* row, computed before it is cut. A noise component (the last column of a mixture with
//! one) is never ranked among the clusters: its probability is kept beside them, so that the
//! outlier signal is never cut off.
//!
//! [`top_k`] computes it from any [`ClusterModel`] in row chunks of at most
//! [`CHUNK_VALUES`] probabilities, so memory stays at `O(n K)` plus one chunk, whatever `k` is.

use crate::error::{Error, Result};
use crate::float::Float;
use crate::membership::{ClusterModel, Membership};
use ndarray::{s, Array1, Array2, ArrayView2, Axis};
use rayon::prelude::*;

/// Probabilities held at once per chunk of rows by [`top_k`] (32 MiB of f64).
pub const CHUNK_VALUES: usize = 1 << 22;

/// The K largest probabilities of every row with the summaries of the full row.
#[derive(Debug, Clone, PartialEq)]
pub struct TopK<F> {
    /// `n x K`: the clusters of the K largest probabilities, in decreasing order of
    /// probability (lowest index first on ties); `index[(i, 0)]` is the label.
    pub index: Array2<usize>,
    /// `n x K`: their probabilities.
    pub proba: Array2<F>,
    /// Argmax of the full row.
    pub label: Array1<usize>,
    /// Largest probability of the full row.
    pub max_p: Array1<F>,
    /// Largest minus second-largest probability of the full row.
    pub margin: Array1<F>,
    /// Shannon entropy of the full row, in nats.
    pub entropy: Array1<F>,
    /// The noise component's probability, for a mixture with one.
    pub noise: Option<Array1<F>>,
    /// Number of clusters of the full rows (the noise column not counted).
    pub n_clusters: usize,
}

impl<F: Float> TopK<F> {
    /// Cuts every row of `m` to its `k_top` largest probabilities. With `noise_last`, the last
    /// column is a noise component: reported in [`TopK::noise`] and never ranked. `k_top` must
    /// be at least 1 and at most the number of clusters.
    pub fn from_membership(m: &Membership<F>, k_top: usize, noise_last: bool) -> Result<Self> {
        let k = m.n_clusters() - usize::from(noise_last);
        check_k_top(k_top, k)?;
        let n = m.n_samples();
        let mut index = Array2::<usize>::zeros((n, k_top));
        let mut proba = Array2::<F>::zeros((n, k_top));
        index
            .axis_iter_mut(Axis(0))
            .into_par_iter()
            .zip(proba.axis_iter_mut(Axis(0)))
            .zip(m.proba.axis_iter(Axis(0)))
            .for_each_init(Vec::new, |order, ((mut ix, mut px), row)| {
                let row = row.slice(s![..k]);
                top_indices(row.iter().copied(), k_top, order);
                for (t, &j) in order.iter().enumerate() {
                    ix[t] = j;
                    px[t] = row[j];
                }
            });
        Ok(TopK {
            index,
            proba,
            label: m.label.clone(),
            max_p: m.max_p.clone(),
            margin: m.margin.clone(),
            entropy: m.entropy.clone(),
            noise: noise_last.then(|| m.proba.column(k).to_owned()),
            n_clusters: k,
        })
    }

    /// Number of rows.
    pub fn n_samples(&self) -> usize {
        self.index.nrows()
    }

    /// Entries kept per row.
    pub fn k_top(&self) -> usize {
        self.index.ncols()
    }

    /// The values of an `n x k` per-cluster matrix (typicality, intervals) at each row's top
    /// clusters: `out[(i, t)] = values[(i, index[(i, t)])]`.
    pub fn gather(&self, values: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        if values.nrows() != self.n_samples() || values.ncols() < self.n_clusters {
            return Err(Error::ShapeMismatch {
                what: "per-cluster values of a top-K selection",
                expected: format!("{} x {}", self.n_samples(), self.n_clusters),
                found: format!("{} x {}", values.nrows(), values.ncols()),
            });
        }
        let mut out = Array2::<f64>::zeros(self.index.dim());
        for ((i, t), o) in out.indexed_iter_mut() {
            *o = values[(i, self.index[(i, t)])];
        }
        Ok(out)
    }

    /// Appends the rows of `other` (same `K`, same clusters).
    pub fn append(&mut self, other: &TopK<F>) -> Result<()> {
        if other.k_top() != self.k_top()
            || other.n_clusters != self.n_clusters
            || other.noise.is_some() != self.noise.is_some()
        {
            return Err(Error::ShapeMismatch {
                what: "appended top-K rows",
                expected: format!("K = {} of {} clusters", self.k_top(), self.n_clusters),
                found: format!("K = {} of {} clusters", other.k_top(), other.n_clusters),
            });
        }
        let shape = |e: ndarray::ShapeError| Error::ShapeMismatch {
            what: "appended top-K rows",
            expected: "rows of the same width".into(),
            found: e.to_string(),
        };
        self.index
            .append(Axis(0), other.index.view())
            .map_err(shape)?;
        self.proba
            .append(Axis(0), other.proba.view())
            .map_err(shape)?;
        self.label
            .append(Axis(0), other.label.view())
            .map_err(shape)?;
        self.max_p
            .append(Axis(0), other.max_p.view())
            .map_err(shape)?;
        self.margin
            .append(Axis(0), other.margin.view())
            .map_err(shape)?;
        self.entropy
            .append(Axis(0), other.entropy.view())
            .map_err(shape)?;
        if let (Some(a), Some(b)) = (self.noise.as_mut(), other.noise.as_ref()) {
            a.append(Axis(0), b.view()).map_err(shape)?;
        }
        Ok(())
    }
}

fn check_k_top(k_top: usize, k: usize) -> Result<()> {
    if k_top == 0 || k_top > k {
        return Err(Error::InvalidParameter {
            name: "top_k",
            value: k_top.to_string(),
            expected: "from 1 to the number of clusters (the noise component not counted)",
        });
    }
    Ok(())
}

/// Rows per chunk of [`top_k`] for `k` columns: as many as keep a chunk at [`CHUNK_VALUES`]
/// probabilities, rounded down to a multiple of 64 (at least 64).
pub fn chunk_rows(k: usize) -> usize {
    (CHUNK_VALUES / k.max(1)).max(64) / 64 * 64
}

/// The `k_top` largest memberships of every row of `x` under `model` (see the module
/// documentation), computed in chunks of [`chunk_rows`] rows so that the dense `n x k` matrix
/// is never held. `noise_last` says that the model's last column is a noise component.
pub fn top_k<F: Float, M: ClusterModel<F> + ?Sized>(
    model: &M,
    x: ArrayView2<'_, F>,
    k_top: usize,
    noise_last: bool,
) -> Result<TopK<F>> {
    top_k_chunks(x.nrows(), model.n_clusters(), k_top, noise_last, |a, b| {
        model.memberships(x.slice(s![a..b, ..]))
    })
}

/// [`top_k`] over any source of rows: `memberships(a, b)` gives the membership contract of
/// rows `a..b` (`k` columns, the last a noise component with `noise_last`); it is called on
/// chunks of [`chunk_rows`] rows in order.
pub fn top_k_chunks<F: Float>(
    n: usize,
    k: usize,
    k_top: usize,
    noise_last: bool,
    mut memberships: impl FnMut(usize, usize) -> Result<Membership<F>>,
) -> Result<TopK<F>> {
    check_k_top(k_top, k - usize::from(noise_last))?;
    let rows = chunk_rows(k);
    let mut out: Option<TopK<F>> = None;
    for a in (0..n.max(1)).step_by(rows) {
        let b = (a + rows).min(n);
        let t = TopK::from_membership(&memberships(a, b)?, k_top, noise_last)?;
        match out.as_mut() {
            None => out = Some(t),
            Some(o) => o.append(&t)?,
        }
    }
    out.ok_or(Error::EmptyInput { what: "data" })
}

/// The positions of the `k_top` largest values of `row`, in decreasing order of value and
/// increasing position among equal values (so the first is the argmax of
/// [`Membership`]), written to `order`.
fn top_indices<F: Float>(row: impl Iterator<Item = F>, k_top: usize, order: &mut Vec<usize>) {
    // A small sorted buffer: O(k K), which beats sorting the row when K is small.
    let mut best: Vec<(F, usize)> = Vec::with_capacity(k_top + 1);
    for (j, v) in row.enumerate() {
        if best.len() == k_top && v <= best[k_top - 1].0 {
            continue;
        }
        // Insert after every value >= v (earlier positions win ties).
        let at = best.partition_point(|&(b, _)| b >= v);
        best.insert(at, (v, j));
        best.truncate(k_top);
    }
    order.clear();
    order.extend(best.iter().map(|&(_, j)| j));
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn keeps_the_largest_in_order_with_ties_to_the_lowest_index() {
        let p = array![[0.1, 0.4, 0.1, 0.4], [0.7, 0.1, 0.1, 0.1]];
        let m = Membership::from_probabilities(p);
        let t = TopK::from_membership(&m, 3, false).unwrap();
        assert_eq!(t.index, array![[1, 3, 0], [0, 1, 2]]);
        assert_eq!(t.proba, array![[0.4, 0.4, 0.1], [0.7, 0.1, 0.1]]);
        assert_eq!(t.label[0], t.index[(0, 0)]);
        // The summaries are the full row's: entropy of [.1, .4, .1, .4].
        let h = -(2.0 * 0.1 * 0.1f64.ln() + 2.0 * 0.4 * 0.4f64.ln());
        assert!((t.entropy[0] - h).abs() < 1e-15);
        assert_eq!(t.margin[0], 0.0);
    }

    #[test]
    fn noise_is_reported_and_never_ranked() {
        let p = array![[0.2, 0.1, 0.7]];
        let m = Membership::from_probabilities(p);
        let t = TopK::from_membership(&m, 1, true).unwrap();
        assert_eq!(t.index, array![[0]]);
        assert_eq!(t.noise.unwrap()[0], 0.7);
        assert!(TopK::from_membership(&m, 3, true).is_err());
    }
}
