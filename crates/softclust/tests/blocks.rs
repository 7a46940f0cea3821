//! Fits over row blocks (the kernels a Dask fit or a streamed file runs) against the in-memory
//! fits from the same start: same loop, same M-steps, so the parameters agree to 1e-10.
#![allow(clippy::unwrap_used)]

mod common;

use ndarray::{s, Array1, Array2, ArrayView2, Axis};
use softclust::gmm::block::{
    em_loop, em_stats, EmParams, EmPasses, EmSettings, EmStats, Regularizer,
};
use softclust::kmeans::block::{
    block_candidates, deviation_stats, lloyd_loop, lloyd_stats, merge_candidates, Candidate,
    Deviations, LloydPasses, LloydStats,
};
use softclust::{CovarianceType, GaussianMixture, Init, KMeans, KMeansModel, SoftMethod};

/// Blocks of uneven sizes, including an empty one.
fn blocks(n: usize) -> Vec<std::ops::Range<usize>> {
    let mut cuts = vec![0, 0, n / 7, n / 3, n / 3 + 1, (2 * n) / 3, n];
    cuts.dedup_by(|a, b| a == b && *a != 0);
    cuts.windows(2).map(|w| w[0]..w[1]).collect()
}

struct Blocked<'a> {
    x: ArrayView2<'a, f64>,
    w: Array1<f64>,
    mu: Array1<f64>,
}

impl LloydPasses<f64> for Blocked<'_> {
    fn pass(&mut self, c: ArrayView2<'_, f64>) -> softclust::Result<LloydStats> {
        let mut t = LloydStats::zeros(c.nrows(), c.ncols());
        for r in blocks(self.x.nrows()) {
            let xb = self.x.slice(s![r.clone(), ..]);
            let wb = self.w.slice(s![r]);
            t.add(&lloyd_stats(xb, Some(wb), c, self.mu.view())?);
        }
        Ok(t)
    }
    fn candidates(
        &mut self,
        old: ArrayView2<'_, f64>,
        m: usize,
    ) -> softclust::Result<Vec<Candidate>> {
        let mut all = Vec::new();
        for r in blocks(self.x.nrows()) {
            let xb = self.x.slice(s![r.clone(), ..]);
            let wb = self.w.slice(s![r.clone()]);
            for (d2, i, c) in block_candidates(xb, Some(wb), old, self.mu.view(), m)? {
                all.push((d2, r.start + i, c));
            }
        }
        Ok(merge_candidates(all, m))
    }
}

fn close(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>, rel: f64) {
    let scale = b.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (x, y) in a.iter().zip(b.iter()) {
        assert!((x - y).abs() <= rel * scale, "{x} vs {y}");
    }
}

fn kmeans_parity(
    x: ArrayView2<'_, f64>,
    w: Array1<f64>,
    init: Array2<f64>,
    expect_relocation: bool,
) {
    let k = init.nrows();
    let mem = KMeans::new(k)
        .init(Init::Centers(init.clone()))
        .fit(x, Some(w.view()))
        .unwrap();
    let mu = mem.centering().to_owned();
    let tol_abs = mem.diagnostics().tol_abs;
    let mut src = Blocked {
        x,
        w: w.clone(),
        mu: mu.clone(),
    };
    let out = lloyd_loop(&mut src, init, mu.view(), 300, tol_abs, &mut |_| false).unwrap();
    assert_eq!(out.n_iter, mem.diagnostics().n_iter);
    assert_eq!(out.converged, mem.diagnostics().converged);
    assert_eq!(out.relocations, mem.diagnostics().empty_relocations);
    assert_eq!(out.relocations > 0, expect_relocation);
    let mut dev = Deviations::zeros(k, x.ncols());
    for r in blocks(x.nrows()) {
        let part = deviation_stats(
            x.slice(s![r.clone(), ..]),
            Some(w.slice(s![r])),
            out.centers.view(),
            mu.view(),
        )
        .unwrap();
        // Through the flat form, as a distributed engine sends it.
        dev.add(&Deviations::from_flat(k, x.ncols(), &part.to_flat()).unwrap());
    }
    // The default soft step, auto, weighs its variants in one more pass over the blocks.
    let auto = SoftMethod::Auto(softclust::Softmax::new());
    let model = KMeansModel::from_block_stats(out, mu, dev, tol_abs, &auto).unwrap();
    assert!(model.soft().is_none());
    let mut ll = [0.0; 4];
    for r in blocks(x.nrows()) {
        let part = model
            .auto_soft_log_likelihoods(x.slice(s![r.clone(), ..]), Some(w.slice(s![r])))
            .unwrap();
        for (t, v) in ll.iter_mut().zip(part) {
            *t += v;
        }
    }
    let model = model.with_auto_soft(&auto, ll).unwrap();
    let (ca, cb) = (
        model.soft().unwrap().choice().unwrap(),
        mem.soft().unwrap().choice().unwrap(),
    );
    assert_eq!(ca.chosen, cb.chosen);
    for (a, b) in ca.candidates.iter().zip(&cb.candidates) {
        assert!(
            (a.bic - b.bic).abs() <= 1e-9 * b.bic.abs(),
            "{a:?} vs {b:?}"
        );
    }
    close(model.centers(), mem.centers(), 1e-10);
    assert!((model.inertia() - mem.inertia()).abs() <= 1e-10 * mem.inertia());
    assert!((model.sigma2() - mem.sigma2()).abs() <= 1e-10 * mem.sigma2());
    let (pa, pb) = (model.memberships(x).unwrap(), mem.memberships(x).unwrap());
    close(pa.proba.view(), pb.proba.view(), 1e-10);
}

#[test]
fn kmeans_over_blocks_equals_the_in_memory_fit() {
    let (x, _) = common::blobs(3000, 5, 4, 1.0, 3);
    let w: Array1<f64> = (0..3000).map(|i| 0.5 + (i % 7) as f64 * 0.25).collect();
    let rows = KMeans::<f64>::new(4)
        .seed(1)
        .seed_indices(x.view(), None)
        .unwrap();
    kmeans_parity(x.view(), w, x.select(Axis(0), &rows), false);
}

#[test]
fn kmeans_over_blocks_relocates_empty_clusters_as_in_memory() {
    let (x, _) = common::blobs(1200, 3, 3, 0.5, 5);
    // Two centres far outside the data: both are empty after the first pass.
    let mut init = x.select(Axis(0), &[0, 1, 2]);
    init.row_mut(1).fill(1e3);
    init.row_mut(2).fill(-1e3);
    kmeans_parity(x.view(), Array1::ones(1200), init, true);
}

struct EmBlocked<'a> {
    x: ArrayView2<'a, f64>,
    w: Array1<f64>,
}

impl EmPasses for EmBlocked<'_> {
    fn pass(&mut self, p: &EmParams) -> softclust::Result<EmStats> {
        let mut t = EmStats::zeros(p);
        for r in blocks(self.x.nrows()) {
            let f = em_stats(
                self.x.slice(s![r.clone(), ..]),
                Some(self.w.slice(s![r])),
                p,
            )?;
            // Through the flat form, as a distributed engine sends it.
            t.add(&EmStats::from_flat(p, &f.to_flat())?);
        }
        Ok(t)
    }
}

#[test]
fn mixtures_over_blocks_equal_the_in_memory_fit_for_every_covariance_type() {
    let (mut x, _) = common::blobs(2000, 3, 3, 1.5, 11);
    // A large offset: moments about the current means keep the covariances exact.
    x += 1e4;
    let w: Array1<f64> = (0..2000).map(|i| 1.0 + (i % 3) as f64).collect();
    for t in [
        CovarianceType::Full,
        CovarianceType::Tied,
        CovarianceType::Diag,
        CovarianceType::Spherical,
    ] {
        let start = GaussianMixture::new(3)
            .covariance_type(t)
            .max_iter(2)
            .seed(4)
            .fit(x.view(), Some(w.view()))
            .unwrap();
        let mem = GaussianMixture::new(3)
            .covariance_type(t)
            .weights_init(start.weights().to_owned())
            .means_init(start.means().to_owned())
            .precisions_init(start.precisions())
            .tol(1e-8)
            .fit(x.view(), Some(w.view()))
            .unwrap();
        let m0 = x.mean_axis(Axis(0)).unwrap().to_vec();
        let params = EmParams {
            weights: start.weights().to_owned(),
            means: start.means().to_owned(),
            precisions_cholesky: start.precisions_cholesky().clone(),
            noise: None,
            m0,
        };
        let settings = EmSettings {
            covariance_type: t,
            total_weight: w.sum(),
            max_iter: 100,
            tol: 1e-8,
            start_lower_bound: f64::NEG_INFINITY,
        };
        let mut reg = Regularizer::with_scale(1e-6, false, 0.0);
        let mut src = EmBlocked {
            x: x.view(),
            w: w.clone(),
        };
        let out = em_loop(&mut src, params, settings, &mut reg, &None, &mut |_, _| {}).unwrap();
        assert_eq!(out.n_iter, mem.diagnostics().n_iter, "{t:?}");
        let lb = mem.diagnostics().lower_bound;
        assert!(
            (out.lower_bound - lb).abs() < 1e-10 * lb.abs(),
            "{t:?}: {} vs {lb}",
            out.lower_bound
        );
        close(out.params.means.view(), mem.means(), 1e-10);
        let wa = out.params.weights.view().insert_axis(Axis(0));
        close(wa, mem.weights().insert_axis(Axis(0)), 1e-10);
        let (ca, cb) = (
            softclust::gmm::GaussianMixtureModel::from_cholesky(
                out.params.weights.clone(),
                out.params.means.clone(),
                out.params.precisions_cholesky.clone(),
                None,
            )
            .unwrap()
            .predict_proba(x.view())
            .unwrap(),
            mem.predict_proba(x.view()).unwrap(),
        );
        close(ca.view(), cb.view(), 1e-9);
    }
}

#[test]
fn block_kernels_name_bad_cells_and_shapes() {
    let mut x = Array2::<f64>::zeros((5, 2));
    let c = Array2::<f64>::ones((2, 2));
    let mu = Array1::<f64>::zeros(2);
    x[(3, 1)] = f64::NAN;
    let e = lloyd_stats(x.view(), None, c.view(), mu.view())
        .unwrap_err()
        .to_string();
    assert!(e.contains("row 3") && e.contains("column 1"), "{e}");
    let e = lloyd_stats(
        Array2::<f64>::zeros((5, 3)).view(),
        None,
        c.view(),
        mu.view(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("3 columns"), "{e}");
    let w = Array1::from(vec![1.0, -1.0, 1.0, 1.0, 1.0]);
    let e = lloyd_stats(
        Array2::<f64>::zeros((5, 2)).view(),
        Some(w.view()),
        c.view(),
        mu.view(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("row 1"), "{e}");
    assert!(LloydStats::from_flat(2, 2, &[0.0; 3]).is_err());
}

struct FcmBlocked<'a> {
    x: ArrayView2<'a, f64>,
    w: Array1<f64>,
    mu: Array1<f64>,
    m: f64,
}

impl softclust::fcm::FcmPasses<f64> for FcmBlocked<'_> {
    fn pass(
        &mut self,
        prev: Option<ArrayView2<'_, f64>>,
        prev_is_start: bool,
        c: ArrayView2<'_, f64>,
    ) -> softclust::Result<softclust::fcm::FcmStats> {
        let mut t = softclust::fcm::FcmStats::zeros(c.nrows(), c.ncols());
        for r in blocks(self.x.nrows()) {
            let st = softclust::fcm::fcm_block_stats(
                self.x.slice(s![r.clone(), ..]),
                Some(self.w.slice(s![r])),
                prev.map(|p| (p, prev_is_start)),
                c,
                self.mu.view(),
                self.m,
            )?;
            t.add(&st);
        }
        Ok(t)
    }
}

#[test]
fn fuzzy_c_means_over_blocks_equals_the_in_memory_fit() {
    use softclust::fcm::{
        fcm_block_stats, fcm_final_block, fcm_loop, FcmInit, FcmStats, FuzzyCMeans,
        FuzzyCMeansModel,
    };
    let (x, _) = common::blobs(1500, 4, 3, 1.0, 8);
    let w: Array1<f64> = (0..1500).map(|i| 1.0 + (i % 4) as f64 * 0.5).collect();
    let c0 = x.select(Axis(0), &[0, 700, 1400]);
    for m in [2.0, 1.7] {
        let mem = FuzzyCMeans::new(3)
            .m(m)
            .init(FcmInit::Centers(c0.clone()))
            .fit(x.view(), Some(w.view()))
            .unwrap();
        let mu = mem.centering().to_owned();
        let mut start = FcmStats::zeros(3, 4);
        for r in blocks(1500) {
            let st = fcm_block_stats(
                x.slice(s![r.clone(), ..]),
                Some(w.slice(s![r])),
                None,
                c0.view(),
                mu.view(),
                m,
            )
            .unwrap();
            start.add(&st);
        }
        let mut src = FcmBlocked {
            x: x.view(),
            w: w.clone(),
            mu: mu.clone(),
            m,
        };
        let out = fcm_loop(
            &mut src,
            start,
            Some(c0.clone()),
            mu.view(),
            300,
            1e-5,
            &None,
        )
        .unwrap();
        assert_eq!(out.n_iter, mem.diagnostics().n_iter);
        let mut fin: Option<softclust::fcm::FinalStats> = None;
        for r in blocks(1500) {
            let f = fcm_final_block(
                x.slice(s![r.clone(), ..]),
                Some(w.slice(s![r])),
                out.centers.view(),
                mu.view(),
                m,
            )
            .unwrap();
            match fin.as_mut() {
                None => fin = Some(f),
                Some(t) => t.add(&f),
            }
        }
        let model = FuzzyCMeansModel::from_block_stats(out, m, mu, fin.unwrap()).unwrap();
        close(model.centers(), mem.centers(), 1e-10);
        let (a, b) = (model.diagnostics(), mem.diagnostics());
        assert!((a.partition_coefficient - b.partition_coefficient).abs() < 1e-10);
        let last = |v: &Vec<f64>| *v.last().unwrap();
        assert!((last(&a.objective) - last(&b.objective)).abs() <= 1e-10 * last(&b.objective));
    }
}
