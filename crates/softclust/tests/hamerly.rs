//! Hamerly's bounds give Lloyd's run: the same labels, iterations, centres and inertia as the
//! exhaustive iterations, on clustered, unclustered, weighted and f32 data, with restarts,
//! empty-cluster relocations and any thread count.
#![allow(clippy::unwrap_used)]

mod common;

use common::{blobs, normal, with_threads};
use ndarray::{Array1, Array2};
use softclust::float::Float;
use softclust::kmeans::Algorithm;
use softclust::rng::Rng;
use softclust::{Init, KMeans, KMeansModel};

fn fit<F: Float>(
    cfg: &KMeans<F>,
    alg: Algorithm,
    x: &Array2<F>,
    w: Option<&Array1<F>>,
) -> KMeansModel<F> {
    cfg.clone()
        .algorithm(alg)
        .fit(x.view(), w.map(|w| w.view()))
        .expect("fit")
}

/// Bit-for-bit agreement of the fitted runs, and the inertia history to rounding.
fn assert_same<F: Float>(a: &KMeansModel<F>, b: &KMeansModel<F>) {
    assert_eq!(a.labels(), b.labels(), "labels");
    let (da, db) = (a.diagnostics(), b.diagnostics());
    assert_eq!(da.n_iter, db.n_iter, "iterations");
    assert_eq!(da.converged, db.converged);
    assert_eq!(da.run_n_iter, db.run_n_iter);
    assert_eq!(da.best_run, db.best_run);
    assert_eq!(da.empty_relocations, db.empty_relocations);
    assert_eq!(a.centers(), b.centers(), "centres");
    assert_eq!(a.inertia().to_bits(), b.inertia().to_bits(), "inertia");
    assert_eq!(da.inertia_history.len(), db.inertia_history.len());
    // Lloyd sums the history in F, the bounds from f64 cluster statistics.
    let tol = (100.0 * F::epsilon().as_f64()).max(1e-9);
    for (u, v) in da.inertia_history.iter().zip(&db.inertia_history) {
        assert!(
            (u - v).abs() <= tol * u.abs().max(1.0),
            "history {u} vs {v}"
        );
    }
}

fn unclustered(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let mut rng = Rng::new(seed);
    Array2::from_shape_fn((n, d), |_| normal(&mut rng))
}

#[test]
fn clustered_data_give_lloyds_run() {
    for (k, d, spread) in [(4, 3, 0.8), (10, 8, 2.0), (25, 2, 0.3)] {
        let (x, _) = blobs(6000, d, k, spread, 7 + k as u64);
        let cfg = KMeans::new(k).n_init(3).seed(11).tol(0.0);
        let a = fit(&cfg, Algorithm::Exhaustive, &x, None);
        let b = fit(&cfg, Algorithm::Hamerly, &x, None);
        assert_same(&a, &b);
        let c = fit(&cfg, Algorithm::Auto, &x, None);
        assert_same(&a, &c);
    }
}

#[test]
fn unclustered_data_give_lloyds_run_to_convergence() {
    // No structure: many points near boundaries, hundreds of iterations.
    let x = unclustered(20_000, 12, 3);
    for tol in [0.0, 1e-4] {
        let cfg = KMeans::new(8).seed(5).tol(tol);
        let a = fit(&cfg, Algorithm::Exhaustive, &x, None);
        let b = fit(&cfg, Algorithm::Hamerly, &x, None);
        assert!(a.diagnostics().n_iter > 20, "{}", a.diagnostics().n_iter);
        assert_same(&a, &b);
    }
}

#[test]
fn weights_max_iter_and_f32_give_lloyds_run() {
    let (x, _) = blobs(5000, 5, 6, 1.5, 21);
    let mut rng = Rng::new(9);
    let w = Array1::from_shape_fn(x.nrows(), |i| {
        if i % 17 == 0 {
            0.0
        } else {
            0.5 + rng.uniform()
        }
    });
    for max_iter in [1, 2, 5, 300] {
        let cfg = KMeans::new(6).seed(2).max_iter(max_iter);
        assert_same(
            &fit(&cfg, Algorithm::Exhaustive, &x, Some(&w)),
            &fit(&cfg, Algorithm::Hamerly, &x, Some(&w)),
        );
    }
    let x32 = x.mapv(|v| v as f32);
    let cfg = KMeans::<f32>::new(6).seed(2).tol(0.0);
    assert_same(
        &fit(&cfg, Algorithm::Exhaustive, &x32, None),
        &fit(&cfg, Algorithm::Hamerly, &x32, None),
    );
}

#[test]
fn empty_clusters_are_relocated_as_lloyd_does() {
    // Two far groups and five centres all started in one of them, two of them duplicates:
    // the first pass leaves clusters empty.
    let (mut x, _) = blobs(3000, 2, 2, 0.5, 4);
    for i in 0..1500 {
        x[(i, 0)] += 40.0;
    }
    let init = Array2::from_shape_vec(
        (5, 2),
        vec![
            x[(0, 0)],
            x[(0, 1)],
            x[(0, 0)],
            x[(0, 1)],
            x[(1, 0)],
            x[(1, 1)],
            x[(2, 0)],
            x[(2, 1)],
            x[(2, 0)],
            x[(2, 1)],
        ],
    )
    .unwrap();
    let cfg = KMeans::new(5).init(Init::Centers(init));
    let a = fit(&cfg, Algorithm::Exhaustive, &x, None);
    let b = fit(&cfg, Algorithm::Hamerly, &x, None);
    assert!(a.diagnostics().empty_relocations > 0);
    assert_same(&a, &b);
}

#[test]
fn thread_count_does_not_change_the_bounded_run() {
    let x = unclustered(30_000, 6, 8);
    let cfg = KMeans::new(12).seed(1).algorithm(Algorithm::Hamerly);
    let one = with_threads(1, || cfg.fit(x.view(), None).unwrap());
    let two = with_threads(3, || cfg.fit(x.view(), None).unwrap());
    assert_same(&one, &two);
    assert_eq!(
        one.diagnostics().inertia_history,
        two.diagnostics().inertia_history
    );
}

#[test]
fn algorithm_names_round_trip_and_bad_names_are_errors() {
    for a in [Algorithm::Auto, Algorithm::Exhaustive, Algorithm::Hamerly] {
        assert_eq!(a.name().parse::<Algorithm>().unwrap(), a);
    }
    let e = "elkan".parse::<Algorithm>().unwrap_err().to_string();
    assert!(e.contains("auto, exhaustive or hamerly"), "{e}");
}
