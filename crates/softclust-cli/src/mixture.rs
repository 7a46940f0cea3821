//! `softclust gmm` and `softclust select`.

use crate::cli::{CovKind, CriterionKind, EmArgs, GmmArgs, GmmInitKind, SelectArgs};
use crate::commands::{finish, lib_error, standardize, Prepared};
use crate::error::{CliError, CliResult};
use crate::model_file::SavedModel;
use crate::output::{write_membership, write_to, Num};
use crate::progress::FitProgress;
use crate::report::{num, write_report, Timer};
use serde_json::json;
use softclust::gmm::selection::{select_model, Criterion, Selection};
use softclust::{CovarianceType, GaussianMixture, GaussianMixtureModel, GmmInit};
use std::io::Write;

pub fn cov_type(c: CovKind) -> CovarianceType {
    match c {
        CovKind::Full => CovarianceType::Full,
        CovKind::Tied => CovarianceType::Tied,
        CovKind::Diag => CovarianceType::Diag,
        CovKind::Spherical => CovarianceType::Spherical,
    }
}

fn init(i: GmmInitKind) -> GmmInit {
    match i {
        GmmInitKind::Kmeans => GmmInit::KMeans,
        GmmInitKind::KMeansPlusPlus => GmmInit::KMeansPlusPlus,
        GmmInitKind::Random => GmmInit::Random,
        GmmInitKind::RandomFromData => GmmInit::RandomFromData,
    }
}

/// The EM settings as a library config for `k` components of type `t`.
fn config(em: &EmArgs, k: usize, t: CovarianceType) -> GaussianMixture {
    GaussianMixture::new(k)
        .covariance_type(t)
        .init_params(init(em.init))
        .n_init(em.n_init)
        .max_iter(em.max_iter)
        .tol(em.tol)
        .reg_covar(em.reg_covar)
        .auto_regularize(em.auto_regularize)
        .seed(em.seed)
}

fn prepare(
    input: Option<&str>,
    opts: &crate::cli::InputArgs,
    em: &EmArgs,
    quiet: bool,
) -> CliResult<Prepared> {
    Prepared::read(
        input,
        opts,
        em.weights.as_deref(),
        standardize(em.standardize),
        quiet,
    )
}

fn em_params(em: &EmArgs) -> serde_json::Value {
    json!({
        "init": init(em.init).name(),
        "n_init": em.n_init,
        "max_iter": em.max_iter,
        "tol": em.tol,
        "reg_covar": em.reg_covar,
        "auto_regularize": em.auto_regularize,
        "standardize": standardize(em.standardize).name(),
        "weights_column": em.weights,
        "seed": em.seed,
    })
}

/// The report fields of a fitted mixture on the (standardised) training data.
fn model_json(m: &GaussianMixtureModel, p: &Prepared) -> CliResult<serde_json::Value> {
    let w = p.weights.as_ref().map(|w| w.view());
    let dg = m.diagnostics();
    Ok(json!({
        "k": m.n_components(),
        "covariance_type": m.covariance_type().name(),
        "converged": dg.converged,
        "n_iter": dg.n_iter,
        "lower_bound": num(dg.lower_bound),
        "lower_bounds": dg.lower_bounds.iter().map(|&v| num(v)).collect::<Vec<_>>(),
        "mean_log_likelihood": num(m.score(p.z.view(), w).map_err(lib_error)?),
        "bic": num(m.bic(p.z.view(), w).map_err(lib_error)?),
        "aic": num(m.aic(p.z.view(), w).map_err(lib_error)?),
        "n_parameters": m.n_parameters(),
        "reg_covar_used": dg.reg_covar,
        "regularization_increases": dg.regularization_increases,
        "weights": m.weights().to_vec(),
    }))
}

fn convergence_note(m: &GaussianMixtureModel, max_iter: usize) -> &'static str {
    if m.converged() {
        "converged"
    } else if max_iter > 0 {
        "NOT converged (raise --max-iter or --tol)"
    } else {
        ""
    }
}

pub fn gmm(a: &GmmArgs, quiet: bool) -> CliResult<()> {
    let mut timer = Timer::new();
    let p = prepare(a.input.as_deref(), &a.input_opts, &a.em, quiet)?;
    timer.lap("read");
    let t = cov_type(a.covariance);
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
    let file = p.model_file(SavedModel::Gmm {
        mixture: model.clone(),
        typicality: a.typicality,
    });
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
        eprintln!(
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

/// Parses `1..10` (inclusive), `4` or `2,3,5`.
pub fn parse_k_range(s: &str) -> CliResult<Vec<usize>> {
    let bad = || {
        CliError::msg(format!(
            "invalid -k '{s}': expected a range like 1..10 or a list like 2,3,5 of integers >= 1"
        ))
    };
    let ks: Vec<usize> = if let Some((a, b)) = s.split_once("..") {
        let a: usize = a.trim().parse().map_err(|_| bad())?;
        let b: usize = b
            .trim()
            .trim_start_matches('=')
            .parse()
            .map_err(|_| bad())?;
        if a > b {
            return Err(bad());
        }
        (a..=b).collect()
    } else {
        s.split(',')
            .map(|p| p.trim().parse::<usize>().map_err(|_| bad()))
            .collect::<CliResult<_>>()?
    };
    if ks.is_empty() || ks.contains(&0) {
        return Err(bad());
    }
    Ok(ks)
}

/// Parses `all` or a comma-separated list of covariance types.
pub fn parse_types(s: &str) -> CliResult<Vec<CovarianceType>> {
    if s.trim() == "all" {
        return Ok(CovarianceType::ALL.to_vec());
    }
    s.split(',')
        .map(|p| {
            CovarianceType::parse(p.trim()).ok_or_else(|| {
                CliError::msg(format!(
                    "invalid --covariance '{}': expected all, or a list of full, tied, diag, spherical",
                    p.trim()
                ))
            })
        })
        .collect()
}

fn table_json(sel: &Selection) -> serde_json::Value {
    let rows: Vec<_> = sel
        .table
        .iter()
        .enumerate()
        .map(|(i, c)| {
            json!({
                "rank": if c.failed.is_none() { json!(i + 1) } else { serde_json::Value::Null },
                "k": c.k,
                "covariance_type": c.covariance_type.name(),
                "criterion": num(c.criterion),
                "bic": num(c.bic),
                "aic": num(c.aic),
                "icl": num(c.icl),
                "mean_log_likelihood": num(c.mean_log_likelihood),
                "n_parameters": c.n_parameters,
                "converged": c.converged,
                "failed": c.failed,
            })
        })
        .collect();
    json!({
        "criterion": sel.criterion.name(),
        "lower_is_better": true,
        "table": rows,
        "chosen": {"k": sel.best.n_components(), "covariance_type": sel.best.covariance_type().name()},
    })
}

fn print_table(w: &mut dyn Write, sel: &Selection) -> std::io::Result<()> {
    let crit = sel.criterion.name().to_uppercase();
    writeln!(
        w,
        "Model selection by {crit} (lower is better, as in scikit-learn)"
    )?;
    writeln!(
        w,
        "{:>4} {:>4}  {:<10} {:>14} {:>14} {:>14} {:>14} {:>8}  converged",
        "rank", "k", "covariance", "BIC", "AIC", "ICL", "mean loglik", "params"
    )?;
    for (i, c) in sel.table.iter().enumerate() {
        if let Some(why) = &c.failed {
            writeln!(
                w,
                "{:>4} {:>4}  {:<10} failed: {why}",
                "-",
                c.k,
                c.covariance_type.name()
            )?;
            continue;
        }
        writeln!(
            w,
            "{:>4} {:>4}  {:<10} {:>14.4} {:>14.4} {:>14.4} {:>14.6} {:>8}  {}",
            i + 1,
            c.k,
            c.covariance_type.name(),
            c.bic,
            c.aic,
            c.icl,
            c.mean_log_likelihood,
            c.n_parameters,
            if c.converged { "yes" } else { "no" }
        )?;
    }
    writeln!(
        w,
        "chosen: k = {}, covariance = {} (lowest {crit} = {})",
        sel.best.n_components(),
        sel.best.covariance_type().name(),
        Num(sel.table[0].criterion)
    )
}

pub fn select(a: &SelectArgs, quiet: bool) -> CliResult<()> {
    let mut timer = Timer::new();
    let ks = parse_k_range(&a.k)?;
    let types = parse_types(&a.covariance)?;
    let p = prepare(a.input.as_deref(), &a.input_opts, &a.em, quiet)?;
    timer.lap("read");
    let criterion = match a.criterion {
        CriterionKind::Bic => Criterion::Bic,
        CriterionKind::Aic => Criterion::Aic,
        CriterionKind::Icl => Criterion::Icl,
    };
    let base = config(&a.em, 1, CovarianceType::Full);
    let sel = select_model(
        p.z.view(),
        p.weights.as_ref().map(|w| w.view()),
        &ks,
        &types,
        criterion,
        &base,
    )
    .map_err(lib_error)?;
    timer.lap("fit");
    let file = p.model_file(SavedModel::Gmm {
        mixture: sel.best.clone(),
        typicality: false,
    });
    let (m, extra) = file.outputs(&p.z)?;
    timer.lap("memberships");
    if let Some(path) = &a.output {
        write_to(Some(path), |w| write_membership(w, &m, &extra))?;
    }
    if let Some(path) = &a.save.model_out {
        file.save(path)?;
    }
    let out = std::io::stdout();
    let mut w = out.lock();
    let printed = if a.json {
        serde_json::to_writer_pretty(&mut w, &table_json(&sel))
            .map_err(std::io::Error::other)
            .and_then(|_| writeln!(w))
    } else {
        print_table(&mut w, &sel)
    };
    printed
        .and_then(|_| w.flush())
        .map_err(|e| CliError::io("writing standard output", e))?;
    timer.lap("write");
    if let Some(path) = &a.save.report {
        let mut r = model_json(&sel.best, &p)?;
        r["method"] = json!("select");
        r["parameters"] = em_params(&a.em);
        r["n"] = json!(p.z.nrows());
        r["d"] = json!(p.z.ncols());
        r["selection"] = table_json(&sel);
        write_report(path, r, &timer)?;
    }
    Ok(())
}
