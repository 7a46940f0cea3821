//! `softclust consensus`: consensus k-means memberships with their intervals.

use crate::cli::ConsensusArgs;
use crate::error::{lib_error, CliResult};
use crate::output::write_to;
use crate::prepare::{finish, Prepared};
use crate::progress::FitProgress;
use crate::report::{num, Timer};
use serde_json::json;
use softclust::consensus::ConsensusKMeans;
use softclust::Model;

pub fn run(a: &ConsensusArgs, quiet: bool) -> CliResult<()> {
    let mut timer = Timer::new();
    let p = Prepared::read(
        a.input.as_deref(),
        &a.input_opts,
        None,
        a.standardize,
        quiet,
    )?;
    timer.lap("read");
    let progress = FitProgress::new(quiet, "consensus", "runs", 1, a.runs);
    let cfg = ConsensusKMeans::new(a.k)
        .runs(a.runs)
        .resample(a.resample)
        .seed(a.seed)
        .reference_n_init(a.n_init)
        .max_iter(a.max_iter)
        .tol(a.tol)
        .coassociation(a.coassociation_out.is_some());
    let fitted = cfg.fit_with_progress(p.z.view(), &|done| {
        progress.tick(0, done.saturating_sub(1), done as f64)
    });
    progress.finish();
    let model = fitted.map_err(lib_error)?;
    timer.lap("fit");
    if let (Some(path), Some(co)) = (&a.coassociation_out, model.coassociation()) {
        write_to(Some(path), |w| {
            ndarray_npy::WriteNpyExt::write_npy(&co, w).map_err(std::io::Error::other)
        })?;
    }
    let stability = model.stability().to_vec();
    let reference_inertia = model.reference().inertia();
    let file = p.model_file(Model::Consensus(model), None);
    finish(&p, &file, a.output.as_deref(), &a.save, &mut timer, |m| {
        Ok(json!({
            "method": "consensus",
            "parameters": {
                "k": a.k, "runs": a.runs, "resample": a.resample.name(), "seed": a.seed,
                "reference_n_init": a.n_init, "max_iter": a.max_iter, "tol": a.tol,
                "standardize": a.standardize.name(),
            },
            "k": a.k,
            "stability": stability,
            "reference_inertia": num(reference_inertia),
            "mean_max_p": num(m.mean_max_p),
            "lower_bound": null,
            "mean_log_likelihood": null,
            "bic": null,
            "aic": null,
        }))
    })?;
    if !quiet {
        let s: Vec<String> = stability.iter().map(|v| format!("{v:.3}")).collect();
        note!(
            "softclust: consensus k-means k={} over {} {} runs on {} x {}; cluster stability \
             (mean Jaccard) [{}]",
            a.k,
            a.runs,
            a.resample,
            p.z.nrows(),
            p.z.ncols(),
            s.join(", ")
        );
    }
    Ok(())
}
