//! k-means on sparse (CSR) data: the same seeding, Lloyd loop, relocation of empty clusters,
//! tolerance and soft step as the dense fit, with distances by the sparse expansion of
//! [`crate::sparse`] (`O(nnz k)` per pass) and centres kept dense (`k x d`). The data are not
//! centred, so the model's centring vector is zero.
//!
//! For the same seed the seeding draws the same random numbers as the dense fit, so the
//! sparse and dense fits of the same matrix agree up to rounding (the labels, as a rule,
//! exactly).

use super::init::{greedy_plusplus, random_rows};
use super::lloyd::{farthest_rows, lloyd_loop, Candidate, LloydPasses, LloydStats, Run};
use super::{Init, KMeans, KMeansModel, Progress, Restarts};
use crate::data::{check_weights, map_segments, par_sum, weights_or_ones};
use crate::error::Result;
use crate::float::Float;
use crate::membership::Membership;
use crate::rng::{derive_seed, Rng};
use crate::soft::{DistanceKind, FittedSoft, SoftMethod};
use crate::sparse::{check_width, squared_distances, Csr, SparseCenters};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

/// The membership contract of sparse rows under the soft step `soft`, from their squared
/// distances to `centers` (`f` maps a squared distance to what `kind` says the step takes),
/// block by block: distances and log-scores fused, the `n x k` output written once.
pub(crate) fn memberships_of<F: Float>(
    x: &Csr<'_, F>,
    centers: ArrayView2<'_, F>,
    soft: &FittedSoft,
    kind: DistanceKind,
    f: impl Fn(f64) -> f64 + Sync,
) -> Result<Membership<F>> {
    check_width(x, centers.ncols())?;
    let sc = SparseCenters::new(centers);
    let k = sc.k;
    Ok(Membership::from_score_blocks(
        x.nrows(),
        k,
        || vec![0.0; crate::data::BLOCK_ROWS * k],
        |d, first, out| {
            let d = &mut d[..out.len()];
            sc.rows(x, None, first, d);
            for v in d.iter_mut() {
                *v = f(*v);
            }
            soft.block_scores(&d[..], k, kind, out);
        },
    ))
}

/// Nearest centre and its squared distance for every row, in parallel by segments.
fn nearest_all<F: Float>(x: &Csr<'_, F>, norms: &[f64], sc: &SparseCenters) -> Vec<(usize, f64)> {
    let k = sc.k;
    map_segments(x.nrows(), |rows| {
        let mut d = vec![0.0; rows.len() * k];
        sc.rows(x, Some(norms), rows.start, &mut d);
        d.chunks_exact(k.max(1))
            .map(|d| {
                // strict < keeps the lowest index on ties, as the dense kernel
                let mut best = (0, d[0]);
                for (j, &v) in d.iter().enumerate().skip(1) {
                    if v < best.1 {
                        best = (j, v);
                    }
                }
                best
            })
            .collect::<Vec<_>>()
    })
    .concat()
}

/// Squared distances of every row to one row `r` of the data.
fn distances_to_row<F: Float>(x: &Csr<'_, F>, norms: &[f64], r: usize) -> Vec<f64> {
    let c = x.dense_row(r);
    let cn = norms[r];
    map_segments(x.nrows(), |rows| {
        rows.map(|i| {
            let (idx, val) = x.row(i);
            let dot: f64 = idx
                .iter()
                .zip(val)
                .map(|(&t, &v)| v.as_f64() * c[t as usize])
                .sum();
            (norms[i] - 2.0 * dot + cn).max(0.0)
        })
        .collect::<Vec<_>>()
    })
    .concat()
}

/// Greedy k-means++ on sparse rows: the dense seeding's algorithm and random draws.
fn plusplus<F: Float>(
    x: &Csr<'_, F>,
    norms: &[f64],
    w: &[f64],
    k: usize,
    trials: usize,
    rng: &mut Rng,
) -> Vec<usize> {
    greedy_plusplus(
        w,
        k,
        trials,
        rng,
        |r| distances_to_row(x, norms, r),
        |candidates, closest| {
            candidates
                .iter()
                .map(|&c| {
                    let d = distances_to_row(x, norms, c);
                    par_sum(x.nrows(), |i| w[i] * closest[i].min(d[i]))
                })
                .collect()
        },
    )
}

/// The in-memory sparse source of Lloyd passes.
struct Passes<'a, F> {
    x: &'a Csr<'a, F>,
    norms: &'a [f64],
    w: &'a [f64],
    labels: Vec<usize>,
    labels_old: Vec<usize>,
}

impl<F: Float> LloydPasses<F> for Passes<'_, F> {
    fn pass(&mut self, centers: ArrayView2<'_, F>) -> Result<LloydStats> {
        let (k, d) = centers.dim();
        std::mem::swap(&mut self.labels, &mut self.labels_old);
        let sc = SparseCenters::new(centers);
        let near = nearest_all(self.x, self.norms, &sc);
        let mut acc = LloydStats::zeros(k, d);
        for (i, &(l, dist)) in near.iter().enumerate() {
            let wi = self.w[i];
            self.labels[i] = l;
            acc.inertia += wi * dist;
            acc.weight[l] += wi;
            acc.count[l] += usize::from(wi > 0.0);
            let (idx, val) = self.x.row(i);
            let s = &mut acc.sums[l * d..(l + 1) * d];
            for (&t, &v) in idx.iter().zip(val) {
                let t = t as usize;
                s[t] += wi * v.as_f64();
            }
        }
        acc.unchanged = self.labels == self.labels_old;
        Ok(acc)
    }

    fn candidates(&mut self, old: ArrayView2<'_, F>, m: usize) -> Result<Vec<Candidate>> {
        let sc = SparseCenters::new(old);
        let k = sc.k;
        let (x, norms, w, labels) = (self.x, self.norms, self.w, &self.labels);
        let dist: Vec<f64> = map_segments(x.nrows(), |rows| {
            let mut d = vec![0.0; k];
            rows.map(|i| {
                if w[i] > 0.0 {
                    sc.row(x, i, norms[i], &mut d);
                    d[labels[i]]
                } else {
                    f64::NEG_INFINITY
                }
            })
            .collect::<Vec<_>>()
        })
        .concat();
        Ok(farthest_rows(&dist, w, m)
            .into_iter()
            .map(|i| Candidate {
                label: labels[i],
                weight: w[i],
                row: x.dense_row(i),
            })
            .collect())
    }
}

/// `S_jt = sum_{l_i = j} w_i (x_it - c_jt)²` and `W_j` from the expansion over non-zeros.
fn deviations<F: Float>(
    x: &Csr<'_, F>,
    w: &[f64],
    centers: ArrayView2<'_, F>,
    labels: &[usize],
) -> (Array2<f64>, Vec<f64>) {
    let (k, d) = centers.dim();
    let mut s1 = Array2::<f64>::zeros((k, d));
    let mut s2 = Array2::<f64>::zeros((k, d));
    let mut wk = vec![0.0; k];
    for (i, &l) in labels.iter().enumerate() {
        wk[l] += w[i];
        let (idx, val) = x.row(i);
        for (&t, &v) in idx.iter().zip(val) {
            let t = t as usize;
            let v = v.as_f64();
            s1[[l, t]] += w[i] * v;
            s2[[l, t]] += w[i] * v * v;
        }
    }
    let mut dev = Array2::<f64>::zeros((k, d));
    for j in 0..k {
        for t in 0..d {
            let c = centers[[j, t]].as_f64();
            dev[[j, t]] = (s2[[j, t]] - 2.0 * c * s1[[j, t]] + wk[j] * c * c).max(0.0);
        }
    }
    (dev, wk)
}

impl<F: Float> KMeans<F> {
    /// Fits k-means to sparse data `x` (CSR, n x d), with optional sample weights: the
    /// seeding, iterations, tolerance (relative to the mean per-feature variance), restarts
    /// and soft step of [`KMeans::fit`].
    pub fn fit_sparse(
        &self,
        x: &Csr<'_, F>,
        sample_weight: Option<ArrayView1<'_, F>>,
    ) -> Result<KMeansModel<F>> {
        self.fit_sparse_with_progress(x, sample_weight, &mut |_| {})
    }

    /// [`KMeans::fit_sparse`], calling `progress` after every iteration of every run.
    pub fn fit_sparse_with_progress(
        &self,
        x: &Csr<'_, F>,
        sample_weight: Option<ArrayView1<'_, F>>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<KMeansModel<F>> {
        let (n, d) = (x.nrows(), x.ncols());
        if let Some(w) = sample_weight {
            check_weights(w, n)?;
        }
        self.check_settings(n, d)?;
        let w = weights_or_ones(sample_weight, n);
        let (_, var) = x.weighted_mean_variance(&vec![1.0; n]);
        let tol_abs = self.tol * var;
        let norms = x.squared_norms();
        let mu = Array1::<F>::zeros(d);
        let k = self.n_clusters;
        let trials = self.local_trials();
        let n_runs = self.runs();
        let mut restarts = Restarts::new(n_runs);
        for run in 0..n_runs {
            let mut rng = Rng::new(derive_seed(self.seed, run as u64));
            let start = match &self.init {
                Init::KMeansPlusPlus => {
                    x.select_dense(&plusplus(x, &norms, &w, k, trials, &mut rng))
                }
                Init::Random => x.select_dense(&random_rows(&w, k, &mut rng)),
                Init::Centers(c) => c.clone(),
            };
            let mut on_iter = self.observer(&mut *progress, run, n_runs, tol_abs);
            let mut src = Passes {
                x,
                norms: &norms,
                w: &w,
                labels: vec![usize::MAX; n],
                labels_old: vec![usize::MAX; n],
            };
            let out = lloyd_loop(
                &mut src,
                start,
                mu.view(),
                self.max_iter,
                tol_abs,
                &mut on_iter,
            )?;
            crate::interrupt::check(&self.interrupt)?;
            let labels = if out.strict {
                src.labels
            } else {
                let sc = SparseCenters::new(out.centers.view());
                nearest_all(x, &norms, &sc)
                    .into_iter()
                    .map(|p| p.0)
                    .collect()
            };
            let (dev, wk) = deviations(x, &w, out.centers.view(), &labels);
            restarts.push(
                run,
                Run {
                    centers: out.centers,
                    labels,
                    inertia: dev.sum(),
                    deviations: dev,
                    cluster_weight: wk,
                    n_iter: out.n_iter,
                    converged: out.converged,
                    history: out.history,
                    relocations: out.relocations,
                },
            );
        }
        let mut model = restarts.into_model(tol_abs, mu, w.iter().sum())?;
        if matches!(self.soft, SoftMethod::Auto(_)) {
            let sq = squared_distances(x, model.centers.view())?;
            let ll = model.auto_soft_log_likelihoods_of_distances(sq.view(), sample_weight)?;
            return model.with_auto_soft(&self.soft, ll);
        }
        let soft = if self.soft.from_sums() {
            let st = model.stats.as_ref().expect("set above");
            self.soft.fit_nearest_sums(
                st.clusters.deviations.sum_axis(ndarray::Axis(1)).to_vec(),
                st.clusters.cluster_weight.to_vec(),
                d,
            )?
        } else {
            let dist = squared_distances(x, model.centers.view())?.mapv(|v| F::of(v.sqrt()));
            self.soft
                .fit_valid(dist.view(), DistanceKind::Euclidean, Some(d), sample_weight)?
        };
        model.soft = Some(soft);
        Ok(model)
    }
}

impl<F: Float> KMeansModel<F> {
    /// Squared Euclidean distances of sparse rows to the centres, `n x k`.
    pub fn squared_distances_sparse(&self, x: &Csr<'_, F>) -> Result<Array2<f64>> {
        check_width(x, self.n_features())?;
        squared_distances(x, self.centers.view())
    }

    /// Nearest centre of every sparse row (lowest index on ties).
    pub fn predict_sparse(&self, x: &Csr<'_, F>) -> Result<Array1<usize>> {
        check_width(x, self.n_features())?;
        let sc = SparseCenters::new(self.centers.view());
        let norms = x.squared_norms();
        Ok(nearest_all(x, &norms, &sc)
            .into_iter()
            .map(|p| p.0)
            .collect())
    }

    /// The anchored soft step's raw scores of sparse rows (`None` for the other soft steps).
    pub fn anchored_scores_sparse(&self, x: &Csr<'_, F>) -> Result<Option<Array2<f64>>> {
        let soft = self.fitted_soft()?;
        if soft.kind() != crate::soft::SoftKind::Anchored {
            return Ok(None);
        }
        let d2 = self.squared_distances_sparse(x)?.mapv(F::of);
        soft.anchored_scores(d2.view(), DistanceKind::Squared)
    }

    /// Soft memberships of sparse rows by the model's soft step (the full contract).
    pub fn memberships_sparse(&self, x: &Csr<'_, F>) -> Result<Membership<F>> {
        let soft = self.fitted_soft()?;
        memberships_of(x, self.centers.view(), soft, DistanceKind::Squared, |v| v)
    }
}

impl<F: Float> KMeans<F> {
    /// The rows greedy k-means++ picks on sparse data with the first run's seed (the rows
    /// [`KMeans::seed_indices`] picks on the same matrix dense); fuzzy c-means starts there.
    pub(crate) fn seed_indices_sparse(&self, x: &Csr<'_, F>, w: &[f64]) -> Result<Vec<usize>> {
        self.check_settings(x.nrows(), x.ncols())?;
        let norms = x.squared_norms();
        let mut rng = Rng::new(derive_seed(self.seed, 0));
        Ok(plusplus(
            x,
            &norms,
            w,
            self.n_clusters,
            self.local_trials(),
            &mut rng,
        ))
    }
}
