//! `softclust kmeans`: k-means with its soft step, then memberships (and typicality).

use crate::cli::{parse_k_range, KmeansArgs};
use crate::error::{lib_error, CliError, CliResult};
use crate::model_io::Shape;
use crate::output::{write_matrix, write_to};
use crate::prepare::{
    describe_soft, finish, fit_kmeans, kmeans_config, soft_choice_json, variant_name,
    KmeansSettings, Prepared,
};
use crate::report::{num, Timer};
use serde_json::json;
use softclust::kmeans::KCandidate;
use softclust::{Model, ModelFile, Scaler};

pub fn run(a: &KmeansArgs, quiet: bool) -> CliResult<()> {
    let ks = parse_k_range(&a.k)?;
    if crate::sparse_input::is_npz(a.input.as_deref()) {
        let k = a.single_k("is not available for sparse .npz input yet")?;
        return run_sparse(a, k, quiet);
    }
    if let Some(src) = crate::stream::plan(a.input.as_deref(), &a.input_opts, a.weights.as_deref())?
    {
        return crate::stream::kmeans(a, src, quiet);
    }
    let mut timer = Timer::new();
    let p = Prepared::read(
        a.input.as_deref(),
        &a.input_opts,
        a.weights.as_deref(),
        a.standardize,
        quiet,
    )?;
    timer.lap("read");
    let (model, selection) = match ks.as_slice() {
        [k] => (fit_kmeans(&p, &settings(a, *k), quiet)?, None),
        _ => {
            let (km, _) = kmeans_config(&settings(a, ks[0]), true)?;
            let sel = km.select_k(p.z.view(), p.w(), &ks).map_err(lib_error)?;
            if !quiet {
                let mut text = String::new();
                selection_table(&mut text, &sel.candidates, sel.best);
                eprint!("{text}");
            }
            let json = selection_json(&sel.candidates, sel.best);
            (sel.model, Some(json))
        }
    };
    let k = model.n_clusters();
    timer.lap("fit");
    // Everything is computed before anything is written: an error leaves no output behind.
    let centers = p
        .scaler
        .inverse_transform(model.centers())
        .map_err(lib_error)?;
    let soft = model
        .soft()
        .cloned()
        .ok_or_else(|| CliError::msg("the k-means fit returned no soft step"))?;
    let dg = model.diagnostics().clone();
    let inertia = model.inertia();
    let typicality = a.typ.typicality.then_some(a.typ.spread);
    let file = p.model_file(Model::Kmeans(model), typicality);
    if let Some(path) = &a.centers_out {
        write_to(Some(path), |w| {
            write_matrix(w, &p.table.columns, centers.view())
        })?;
    }
    finish(&p, &file, a.output.as_deref(), &a.save, &mut timer, |_| {
        Ok(json!({
            "method": "kmeans",
            "parameters": {
                "k": a.k,
                "init": a.init.0,
                "n_init": dg.run_inertia.len(),
                "max_iter": a.max_iter,
                "tol": a.tol,
                "seed": a.seed,
                "standardize": a.standardize.name(),
                "weights_column": a.weights,
                "soft": a.soft.name(),
                "soft_fitted": soft.method_name(),
                "soft_choice": soft_choice_json(&soft),
                "sigma": soft.sigma(),
                "sigma_estimated": soft.sigma_estimated(),
                "power": soft.power(),
                "temperature": a.soft_opts.temperature,
                "typicality": a.typ.typicality,
            },
            "k": k,
            "k_selection": selection,
            "converged": dg.converged,
            "n_iter": dg.n_iter,
            "inertia": num(inertia),
            "inertia_history": dg.inertia_history.iter().map(|&v| num(v)).collect::<Vec<_>>(),
            "run_inertia": dg.run_inertia.iter().map(|&v| num(v)).collect::<Vec<_>>(),
            "lower_bound": null,
            "mean_log_likelihood": null,
            "bic": null,
            "aic": null,
            "note": "k-means has no likelihood of its own: lower_bound, mean_log_likelihood, bic and aic are not defined (use softclust gmm)",
        }))
    })?;
    if !quiet {
        let data = format!(
            "{} x {} ({})",
            p.z.nrows(),
            p.z.ncols(),
            a.standardize.name()
        );
        fit_note(k, &data, &dg, inertia, &soft);
    }
    Ok(())
}

/// The k sweep as the summary prints it: one row per k, the chosen one marked.
fn selection_table(t: &mut String, rows: &[KCandidate], best: usize) {
    t.push_str(
        "k chosen by the BIC of the spherical Gaussian mixture each fit implies (lower is better)\n",
    );
    t.push_str(&format!(
        "{:>4}  {:>14} {:>14} {:>8}  {:<30} {:>14}  converged\n",
        "k", "BIC", "loglik", "params", "soft step", "inertia"
    ));
    for (i, c) in rows.iter().enumerate() {
        t.push_str(&format!(
            "{:>4}  {:>14.4} {:>14.4} {:>8}  {:<30} {:>14.6}  {}{}\n",
            c.k,
            c.bic,
            c.log_likelihood,
            c.n_parameters,
            variant_name(c.per_cluster_variance, c.size_weights),
            c.inertia,
            if c.converged { "yes" } else { "no" },
            if i == best { "   <- chosen" } else { "" }
        ));
    }
}

fn selection_json(rows: &[KCandidate], best: usize) -> serde_json::Value {
    json!({
        "criterion": "bic",
        "lower_is_better": true,
        "chosen": rows[best].k,
        "table": rows.iter().map(|c| json!({
            "k": c.k,
            "bic": num(c.bic),
            "log_likelihood": num(c.log_likelihood),
            "n_parameters": c.n_parameters,
            "soft_step": variant_name(c.per_cluster_variance, c.size_weights),
            "inertia": num(c.inertia),
            "n_iter": c.n_iter,
            "converged": c.converged,
        })).collect::<Vec<_>>(),
    })
}

fn settings(a: &KmeansArgs, k: usize) -> KmeansSettings {
    KmeansSettings {
        k,
        init: a.init,
        n_init: a.n_init,
        max_iter: a.max_iter,
        tol: a.tol,
        seed: a.seed,
        soft: a.soft_opts.spec(a.soft).method(),
        algorithm: a.algorithm,
    }
}

/// k-means on a sparse `.npz` matrix: the same fit on the CSR rows (never densified), the
/// memberships written block by block.
fn run_sparse(a: &KmeansArgs, k: usize, quiet: bool) -> CliResult<()> {
    use crate::sparse_input as si;
    let m = si::read_for_fit(
        a.input.as_deref(),
        &a.input_opts,
        a.weights.as_deref(),
        &a.typ,
        &a.save,
        a.standardize,
        quiet,
    )?;
    let x = m.csr()?;
    let (km, progress) = kmeans_config(&settings(a, k), quiet)?;
    let fitted = km.fit_sparse_with_progress(&x, None, &mut |q| {
        progress.tick(q.run, q.iteration, q.inertia)
    });
    progress.finish();
    let model = fitted.map_err(lib_error)?;
    let names = si::feature_names(x.ncols());
    let dg = model.diagnostics().clone();
    let inertia = model.inertia();
    let soft = model
        .soft()
        .cloned()
        .ok_or_else(|| CliError::msg("the k-means fit returned no soft step"))?;
    if let Some(p) = &a.centers_out {
        write_to(Some(p), |w| write_matrix(w, &names, model.centers()))?;
    }
    let file = ModelFile::new(
        names,
        Scaler::identity(x.ncols()),
        None,
        Model::Kmeans(model),
    );
    let shape = Shape {
        top_k: a.input_opts.top_k,
    };
    crate::model_io::write_sparse_outputs(a.output.as_deref(), &file, &x, shape)?;
    if let Some(p) = &a.save.model_out {
        crate::model_io::save(&file, p)?;
    }
    if !quiet {
        let data = format!(
            "sparse {} x {} ({} non-zeros)",
            x.nrows(),
            x.ncols(),
            x.nnz()
        );
        fit_note(k, &data, &dg, inertia, &soft);
    }
    Ok(())
}

/// The summary line of a fit on `data` (described in words).
fn fit_note(
    k: usize,
    data: &str,
    dg: &softclust::KMeansDiagnostics,
    inertia: f64,
    soft: &softclust::soft::FittedSoft,
) {
    note!(
        "softclust: k-means k={k} on {data}: {} after {} iterations (best of {} runs), inertia \
         {inertia:.6}; {}",
        if dg.converged {
            "converged"
        } else {
            "NOT converged (raise --max-iter)"
        },
        dg.n_iter,
        dg.run_inertia.len(),
        describe_soft(soft)
    );
}
