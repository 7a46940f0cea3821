//! `softclust select`: mixtures over a range of k and covariance types, ranked by BIC, AIC or
//! ICL (each candidate scored by one E-step), and the winner's memberships.

use crate::cli::{parse_k_range, SelectArgs};
use crate::error::{lib_error, CliError, CliResult};
use crate::mixture::{config, em_params, model_json, prepare};
use crate::model_io::{self, Shape};
use crate::output::write_to;
use crate::report::{num, write_report, Timer};
use serde_json::json;
use softclust::float::Shortest;
use softclust::selection::{select_model, Selection};
use softclust::{CovarianceType, Model};
use std::io::Write;

/// Parses `all` or a comma-separated list of covariance types.
pub fn parse_types(s: &str) -> CliResult<Vec<CovarianceType>> {
    if s.trim() == "all" {
        return Ok(CovarianceType::ALL.to_vec());
    }
    s.split(',')
        .map(|p| {
            p.trim().parse::<CovarianceType>().map_err(|_| {
                CliError::msg(format!(
                    "invalid --covariance '{}': expected all, or a list of {}",
                    p.trim(),
                    CovarianceType::ALL.map(CovarianceType::name).join(", ")
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
        Shortest(sel.table[0].criterion)
    )
}

pub fn run(a: &SelectArgs, quiet: bool) -> CliResult<()> {
    let mut timer = Timer::new();
    let ks = parse_k_range(&a.k)?;
    let types = parse_types(&a.covariance)?;
    let shape = Shape {
        top_k: a.input_opts.top_k,
    };
    if let Some(src) =
        crate::stream::plan(a.input.as_deref(), &a.input_opts, a.em.weights.as_deref())?
    {
        let (s, sel) = crate::stream::select(&a.em, &ks, &types, a.criterion, src, quiet)?;
        timer.lap("fit");
        let file = s.model_file(Model::Gmm(sel.best.clone()), None);
        return finish(
            a,
            &sel,
            &file,
            (s.sample.view(), s.n),
            &mut timer,
            &mut |path| crate::stream::write_outputs(Some(path), &file, &s, shape).map(|_| ()),
            &mut || {
                Ok(json!({
                    "n": s.n,
                    "d": s.columns.len(),
                    "out_of_core": {"passes": s.passes.get()},
                }))
            },
        );
    }
    let p = prepare(a.input.as_deref(), &a.input_opts, &a.em, quiet)?;
    timer.lap("read");
    let base = config(&a.em, 1, CovarianceType::Full);
    let sel = select_model(
        p.z.view(),
        p.weights.as_ref().map(|w| w.view()),
        &ks,
        &types,
        a.criterion,
        &base,
    )
    .map_err(lib_error)?;
    timer.lap("fit");
    let file = p.model_file(Model::Gmm(sel.best.clone()), None);
    finish(
        a,
        &sel,
        &file,
        (p.z.view(), p.z.nrows()),
        &mut timer,
        &mut |path| {
            model_io::write_outputs(Some(path), &file, p.z.view(), p.table.front.as_ref(), shape)
                .map(|_| ())
        },
        &mut || {
            let mut r = model_json(&sel.best, &p)?;
            r["n"] = json!(p.z.nrows());
            r["d"] = json!(p.z.ncols());
            Ok(r)
        },
    )
}

/// The winner's memberships (through `write_memberships`), the model file, the table on
/// standard output and the report (`report_base` adds the fields that depend on the data).
fn finish(
    a: &SelectArgs,
    sel: &Selection,
    file: &softclust::ModelFile,
    (z, n_total): (ndarray::ArrayView2<'_, f64>, usize),
    timer: &mut Timer,
    write_memberships: &mut dyn FnMut(&std::path::Path) -> CliResult<()>,
    report_base: &mut dyn FnMut() -> CliResult<serde_json::Value>,
) -> CliResult<()> {
    if let Some(path) = &a.output {
        write_memberships(path)?;
    }
    timer.lap("memberships");
    if let Some(path) = &a.save.model_out {
        model_io::save(file, path)?;
    }
    write_to(None, |w| {
        if a.json {
            serde_json::to_writer_pretty(&mut *w, &table_json(sel))
                .map_err(std::io::Error::other)?;
            writeln!(w)
        } else {
            print_table(w, sel)
        }
    })?;
    timer.lap("write");
    if a.save.report.is_some() || a.save.pictures.any() {
        let mut r = report_base()?;
        r["method"] = json!("select");
        r["parameters"] = em_params(&a.em);
        let mut summary = crate::pictures::summary_of(&r);
        if let Some(best) = sel.table.first() {
            summary.insert(
                1,
                (
                    "chosen".into(),
                    format!(
                        "k = {}, {} covariances ({} = {:.2})",
                        best.k,
                        best.covariance_type.name(),
                        sel.criterion.name().to_uppercase(),
                        best.criterion
                    ),
                ),
            );
        }
        r["selection"] = table_json(sel);
        crate::pictures::draw(
            &a.save.pictures,
            crate::pictures::Fit {
                file,
                z,
                n_total,
                title: format!(
                    "softclust select: k = {}, {} covariances",
                    sel.best.n_components(),
                    sel.best.covariance_type().name()
                ),
                summary,
                selection: Some(sel),
            },
        )?;
        if let Some(path) = &a.save.report {
            write_report(path, r, timer)?;
        }
    }
    Ok(())
}
