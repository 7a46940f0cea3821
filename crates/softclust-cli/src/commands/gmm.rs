//! `softclust gmm`: a Gaussian mixture by EM, responsibilities as memberships.

use crate::cli::GmmArgs;
use crate::error::{lib_error, CliResult};
use crate::mixture::{config, convergence_note, em_params, model_json, prepare};
use crate::prepare::finish;
use crate::progress::FitProgress;
use crate::report::Timer;
use serde_json::json;
use softclust::Model;

pub fn run(a: &GmmArgs, quiet: bool) -> CliResult<()> {
    if let Some(src) =
        crate::stream::plan(a.input.as_deref(), &a.input_opts, a.em.weights.as_deref())?
    {
        return crate::stream::gmm(a, src, quiet);
    }
    let mut timer = Timer::new();
    let p = prepare(a.input.as_deref(), &a.input_opts, &a.em, quiet)?;
    timer.lap("read");
    let t = a.covariance;
    let mut cfg = config(&a.em, a.k, t);
    if let Some(p0) = a.noise {
        cfg = cfg.noise(p0);
    }
    let progress = FitProgress::new(
        quiet,
        "EM",
        "mean log-likelihood",
        a.em.n_init,
        a.em.max_iter,
    );
    let fitted = cfg.fit_with_progress(p.z.view(), p.w(), &mut |run, it, lb| {
        progress.tick(run, it, lb)
    });
    progress.finish();
    let model = fitted.map_err(lib_error)?;
    timer.lap("fit");
    // A mixture's typicality uses its covariances; the spread is not used.
    let typicality = a.typicality.then_some(softclust::Spread::Isotropic);
    let file = p.model_file(Model::Gmm(model.clone()), typicality);
    finish(&p, &file, a.output.as_deref(), &a.save, &mut timer, |_| {
        let mut r = model_json(&model, &p)?;
        r["method"] = json!("gmm");
        r["parameters"] = em_params(&a.em);
        r["parameters"]["covariance_type"] = json!(t.name());
        r["parameters"]["noise_init"] = json!(a.noise);
        r["parameters"]["typicality"] = json!(a.typicality);
        r["noise_weight"] = json!(model.noise().map(|nz| nz.log_weight.exp()));
        r["criteria_note"] = json!("bic and aic: lower is better");
        Ok(r)
    })?;
    if !quiet {
        let dg = model.diagnostics();
        let reg = if dg.regularization_increases > 0 {
            format!(
                "; reg_covar raised {} times to {:e}",
                dg.regularization_increases, dg.reg_covar
            )
        } else {
            String::new()
        };
        note!(
            "softclust: Gaussian mixture k={} ({}) on {} x {}: {} after {} iterations, mean log-likelihood {:.6}{reg}",
            a.k,
            t.name(),
            p.z.nrows(),
            p.z.ncols(),
            convergence_note(&model, a.em.max_iter),
            dg.n_iter,
            dg.lower_bound
        );
    }
    Ok(())
}
