//! Validate once, score once: a public fit scans its data for non-finite values exactly once
//! (nested fits — the k-means start of a mixture or of fuzzy c-means, the runs of consensus
//! k-means, the candidates of model selection — do not scan again), and model selection scores
//! each candidate with one E-step. The counts come from the core's process-wide counters, so
//! this file holds a single test (its own process, nothing else counting at the same time).
#![allow(clippy::unwrap_used)]

mod common;

use common::blobs;
use softclust::consensus::ConsensusKMeans;
use softclust::data::counters::{matrix_checks, scoring_passes};
use softclust::fcm::FuzzyCMeans;
use softclust::selection::{select_model, Criterion};
use softclust::{CovarianceType, GaussianMixture, KMeans};

/// `(matrix checks, scoring passes)` that `f` makes.
fn counted<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    let (c0, s0) = (matrix_checks(), scoring_passes());
    let out = f();
    (out, matrix_checks() - c0, scoring_passes() - s0)
}

#[test]
fn every_fit_validates_once_and_selection_scores_each_candidate_once() {
    let (x, _) = blobs(3000, 3, 3, 1.0, 5);
    let w = ndarray::Array1::from_shape_fn(x.nrows(), |i| 1.0 + (i % 3) as f64);

    let (_, checks, _) = counted(|| KMeans::new(3).n_init(3).fit(x.view(), Some(w.view())));
    assert_eq!(checks, 1, "k-means");

    // The default mixture starts from a k-means fit (and, with noise, two trimmed refits).
    let (m, checks, scores) = counted(|| {
        GaussianMixture::new(3)
            .n_init(2)
            .noise(0.05)
            .fit(x.view(), Some(w.view()))
            .unwrap()
    });
    assert_eq!(checks, 1, "Gaussian mixture");
    assert_eq!(scores, 0, "EM needs no scoring pass outside its loop");

    // Likelihood, BIC, AIC and ICL: one check, one E-step.
    let (_, checks, scores) = counted(|| m.criteria(x.view(), Some(w.view())).unwrap());
    assert_eq!((checks, scores), (1, 1), "criteria");

    let (_, checks, _) = counted(|| FuzzyCMeans::new(3).fit(x.view(), None).unwrap());
    assert_eq!(checks, 1, "fuzzy c-means");

    let (_, checks, _) = counted(|| ConsensusKMeans::new(3).runs(8).fit(x.view()).unwrap());
    assert_eq!(checks, 1, "consensus k-means");

    let ks = [1, 2, 3, 4];
    let types = CovarianceType::ALL;
    let (sel, checks, scores) = counted(|| {
        select_model(
            x.view(),
            Some(w.view()),
            &ks,
            &types,
            Criterion::Bic,
            &GaussianMixture::new(1),
        )
        .unwrap()
    });
    assert_eq!(checks, 1, "model selection validates the data once");
    assert_eq!(sel.table.len(), ks.len() * types.len());
    assert_eq!(
        scores,
        sel.table.len(),
        "one E-step per candidate for BIC, AIC, ICL and the mean log-likelihood"
    );
    // The criteria of the table are the ones the winner reports on its own.
    let c = sel.best.criteria(x.view(), Some(w.view())).unwrap();
    assert_eq!(c.bic, sel.table[0].bic);
    assert_eq!(c.icl, sel.table[0].icl);
}
