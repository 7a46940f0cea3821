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
/// The settings of a config other than the start, parsed once.
struct Settings {
    n_clusters: usize,
    n_init: Option<usize>,
    max_iter: usize,
    tol: f64,
    seed: u64,
    soft: softclust::SoftMethod,
    algorithm: softclust::kmeans::Algorithm,
}

impl Settings {
    fn of(c: &KmeansConfig<'_>) -> PyResult<Self> {
        Ok(Settings {
            n_clusters: c.n_clusters,
            n_init: c.n_init,
            max_iter: c.max_iter,
            tol: c.tol,
            seed: c.seed,
            soft: c.soft.spec()?.method(),
            algorithm: crate::common::parse(&c.algorithm)?,
        })
    }

    /// The k-means of these settings with `k` clusters from `init`, stopped by `stop`.
    fn build<F: Float>(&self, k: usize, init: Init<F>, stop: softclust::Interrupt) -> KMeans<F> {
        let km = KMeans::new(k)
            .init(init)
            .max_iter(self.max_iter)
            .tol(self.tol)
            .seed(self.seed)
            .soft(self.soft.clone())
            .algorithm(self.algorithm)
            .interrupt(stop);
        match self.n_init {
            Some(n) => km.n_init(n),
            None => km,
        }
    }
}

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
    let centers0 = config
        .init_centers
        .as_ref()
        .map(|c| c.as_array().to_owned());
    let named: Option<Init<f64>> = match centers0 {
        Some(_) => None,
        None => Some(crate::common::parse(&config.init)?),
    };
    let settings = Settings::of(&config)?;
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
            let km = settings.build(settings.n_clusters, init, stop);
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

/// Fits k-means for every k of `ks` (the other settings from `config`; named initialisations
/// only) and keeps the k of least BIC of the implied spherical mixture: the table (one dict per
/// k, in order), the index of the chosen row and the chosen model.
#[pyfunction]
#[pyo3(signature = (x, sample_weight, config, ks, n_threads=None))]
pub fn kmeans_select_k<'py>(
    py: Python<'py>,
    x: Data<'py>,
    sample_weight: Option<PyReadonlyArray1<'py, f64>>,
    config: KmeansConfig<'py>,
    ks: Vec<usize>,
    n_threads: Option<usize>,
) -> PyResult<(Vec<Bound<'py, pyo3::types::PyDict>>, usize, PyModel)> {
    let w = owned1(sample_weight);
    let random = matches!(
        crate::common::parse::<Init<f64>>(&config.init)?,
        Init::Random
    );
    let settings = Settings::of(&config)?;
    let (rows, best, model) = with_data!(x, xv, {
        let d = xv.ncols();
        crate::common::interruptible(py, n_threads, |stop| {
            let init = if random {
                Init::Random
            } else {
                Init::KMeansPlusPlus
            };
            let km = settings.build(ks.first().copied().unwrap_or(1), init, stop);
            let wf = weights_as(&w);
            km.select_k(xv, wf.as_ref().map(|w| w.view()), &ks)
                .map(|s| {
                    (
                        s.candidates,
                        s.best,
                        PyModel::fitted(Model::Kmeans(s.model), d),
                    )
                })
        })
    })?
    .map_err(err)?;
    let table = rows
        .iter()
        .map(|c| {
            let d = pyo3::types::PyDict::new(py);
            d.set_item("k", c.k)?;
            d.set_item("bic", c.bic)?;
            d.set_item("log_likelihood", c.log_likelihood)?;
            d.set_item("n_parameters", c.n_parameters)?;
            d.set_item("per_cluster_variance", c.per_cluster_variance)?;
            d.set_item("size_weights", c.size_weights)?;
            d.set_item("inertia", c.inertia)?;
            d.set_item("n_iter", c.n_iter)?;
            d.set_item("converged", c.converged)?;
            Ok(d)
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok((table, best, model))
}
