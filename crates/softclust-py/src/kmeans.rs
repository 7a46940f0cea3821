//! k-means: the fit returns the model (with its soft step, chosen here once from the options)
//! as a `Model` value.

use crate::common::{
    err, interruptible_logged, owned1, weights_as, with_csr, with_data, Data, Input, Log,
};
use crate::model::PyModel;
use crate::soft::SoftOptions;
use numpy::{PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use softclust::{Float, Init, KMeans, Model};

/// Everything that configures a k-means fit, as Python passes it (a dict).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct KmeansConfig<'py> {
    n_clusters: usize,
    init: String,
    init_centers: Option<PyReadonlyArray2<'py, f64>>,
    n_init: Option<usize>,
    max_iter: usize,
    tol: f64,
    seed: u64,
    /// "auto", "hamerly" or "exhaustive" (scikit-learn's "lloyd" and "elkan" arrive as
    /// "auto").
    algorithm: String,
    soft: SoftOptions,
}

/// Fits k-means with its soft step.
///
/// `verbose` >= 1 prints scikit-learn's lines ("Initialization complete", "Iteration i,
/// inertia v.", "Converged at iteration i: ...") and one summary line per restart and for the
/// best.
#[pyfunction]
#[pyo3(signature = (x, sample_weight, config, n_threads=None, verbose=0))]
pub fn kmeans_fit<'py>(
    py: Python<'py>,
    x: Input<'py>,
    sample_weight: Option<PyReadonlyArray1<'py, f64>>,
    config: KmeansConfig<'py>,
    n_threads: Option<usize>,
    verbose: usize,
) -> PyResult<PyModel> {
    let w = owned1(sample_weight);
    let centers0 = config.init_centers.map(|c| c.as_array().to_owned());
    let named: Option<Init<f64>> = match centers0 {
        Some(_) => None,
        None => Some(crate::common::parse(&config.init)?),
    };
    let soft = config.soft.spec()?.method();
    let algorithm: softclust::kmeans::Algorithm = crate::common::parse(&config.algorithm)?;
    let (n_clusters, n_init, max_iter, tol, seed) = (
        config.n_clusters,
        config.n_init,
        config.max_iter,
        config.tol,
        config.seed,
    );
    let d = match &x {
        Input::Dense(Data::F64(a)) => a.as_array().ncols(),
        Input::Dense(Data::F32(a)) => a.as_array().ncols(),
        Input::Sparse(s) => s.4,
    };
    let log = Log::default();
    // One fit for every kind of input: `$fit(km, weights, progress)`.
    macro_rules! fit_with {
        ($fit:expr) => {
        interruptible_logged(py, n_threads, (verbose > 0).then_some(&log), |stop| {
            let init = match (&centers0, &named) {
                (Some(c), _) => Init::Centers(c.mapv(Float::of)),
                (None, Some(Init::Random)) => Init::Random,
                _ => Init::KMeansPlusPlus,
            };
            let mut km = KMeans::new(n_clusters)
                .init(init)
                .max_iter(max_iter)
                .tol(tol)
                .seed(seed)
                .soft(soft.clone())
                .algorithm(algorithm)
                .interrupt(stop);
            if let Some(n) = n_init {
                km = km.n_init(n);
            }
            let wf = weights_as(&w);
            // (run, iterations, inertia) of the run in progress, reported when it ends.
            let mut run: Option<(usize, usize, f64)> = None;
            let end = |r: Option<(usize, usize, f64)>| {
                if let Some((run, it, inertia)) = r {
                    log.line(format!(
                        "Initialization {run}: {it} iterations, inertia {inertia:.6}."
                    ));
                }
            };
            let fitted = $fit(&km, wf.as_ref().map(|w| w.view()), &mut |p: softclust::kmeans::Progress| {
                if verbose == 0 {
                    return;
                }
                if run.is_some_and(|r| r.0 != p.run) {
                    end(run.take());
                }
                if p.iteration == 0 {
                    log.line("Initialization complete".to_string());
                }
                log.line(format!("Iteration {}, inertia {}.", p.iteration, p.inertia));
                if p.labels_unchanged {
                    log.line(format!(
                        "Converged at iteration {}: strict convergence.",
                        p.iteration
                    ));
                } else if p.shift <= p.tol_abs {
                    log.line(format!(
                        "Converged at iteration {}: center shift {} within tolerance {}.",
                        p.iteration, p.shift, p.tol_abs
                    ));
                }
                run = Some((p.run, p.iteration + 1, p.inertia));
            });
            end(run.take());
            if let Ok(m) = &fitted {
                if verbose > 0 {
                    let dg = m.diagnostics();
                    log.line(format!(
                        "Best of {} initializations: inertia {:.6}, {}.",
                        dg.run_inertia.len(),
                        m.inertia(),
                        if dg.converged {
                            "converged"
                        } else {
                            "did not converge"
                        }
                    ));
                }
            }
            fitted.map(|m| PyModel::fitted(Model::Kmeans(m), d))
        })
        };
    }
    match &x {
        Input::Dense(data) => with_data!(data, xv, {
            fit_with!(|km: &KMeans<_>, w, p: &mut dyn FnMut(_)| km.fit_with_progress(xv, w, p))
        }),
        Input::Sparse(sp) => with_csr!(sp, csr, {
            fit_with!(
                |km: &KMeans<_>, w, p: &mut dyn FnMut(_)| km.fit_sparse_with_progress(&csr, w, p)
            )
        }),
    }?
    .map_err(err)
}
