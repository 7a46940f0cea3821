//! `softclust fcm`: fuzzy c-means memberships (and typicality).

use crate::cli::FcmArgs;
use crate::error::{lib_error, CliResult};
use crate::prepare::{finish, Prepared};
use crate::report::{num, Timer};
use serde_json::json;
use softclust::fcm::FuzzyCMeans;
use softclust::{Model, ModelFile, Scaler};

pub fn run(a: &FcmArgs, quiet: bool) -> CliResult<()> {
    if crate::sparse_input::is_npz(a.input.as_deref()) {
        return run_sparse(a, quiet);
    }
    if let Some(src) = crate::stream::plan(a.input.as_deref(), &a.input_opts, a.weights.as_deref())?
    {
        return crate::stream::fcm(a, src, quiet);
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
    let model = FuzzyCMeans::new(a.k)
        .m(a.m)
        .max_iter(a.max_iter)
        .tol(a.tol)
        .seed(a.seed)
        .fit(p.z.view(), p.w())
        .map_err(lib_error)?;
    timer.lap("fit");
    let dg = model.diagnostics().clone();
    let file = p.model_file(Model::Fcm(model), a.typ.typicality.then_some(a.typ.spread));
    finish(&p, &file, a.output.as_deref(), &a.save, &mut timer, |_| {
        Ok(json!({
            "method": "fcm",
            "parameters": {
                "k": a.k, "m": a.m, "max_iter": a.max_iter, "tol": a.tol, "seed": a.seed,
                "standardize": a.standardize.name(), "weights_column": a.weights,
                "typicality": a.typ.typicality,
            },
            "k": a.k,
            "converged": dg.converged,
            "n_iter": dg.n_iter,
            "objective": dg.objective.last().copied().map(num),
            "objective_history": dg.objective.iter().map(|&v| num(v)).collect::<Vec<_>>(),
            "partition_coefficient": num(dg.partition_coefficient),
            "partition_entropy": num(dg.partition_entropy),
            "lower_bound": null,
            "mean_log_likelihood": null,
            "bic": null,
            "aic": null,
        }))
    })?;
    if !quiet {
        note!(
            "softclust: fuzzy c-means k={} m={} on {} x {}: {} after {} iterations; partition \
             coefficient {:.4}, partition entropy {:.4}",
            a.k,
            a.m,
            p.z.nrows(),
            p.z.ncols(),
            if dg.converged {
                "converged"
            } else {
                "NOT converged (raise --max-iter or --tol)"
            },
            dg.n_iter,
            dg.partition_coefficient,
            dg.partition_entropy
        );
    }
    Ok(())
}

/// Fuzzy c-means on a sparse `.npz` matrix (the CSR rows are never densified).
fn run_sparse(a: &FcmArgs, quiet: bool) -> CliResult<()> {
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
    let model = FuzzyCMeans::new(a.k)
        .m(a.m)
        .max_iter(a.max_iter)
        .tol(a.tol)
        .seed(a.seed)
        .fit_sparse(&x, None)
        .map_err(lib_error)?;
    let dg = model.diagnostics().clone();
    let file = ModelFile::new(
        si::feature_names(x.ncols()),
        Scaler::identity(x.ncols()),
        None,
        Model::Fcm(model),
    );
    let shape = crate::model_io::Shape {
        top_k: a.input_opts.top_k,
    };
    crate::model_io::write_sparse_outputs(a.output.as_deref(), &file, &x, shape)?;
    if let Some(p) = &a.save.model_out {
        crate::model_io::save(&file, p)?;
    }
    if !quiet {
        note!(
            "softclust: fuzzy c-means k={} m={} on sparse {} x {} ({} non-zeros): {} after {} \
             iterations; partition coefficient {:.4}",
            a.k,
            a.m,
            x.nrows(),
            x.ncols(),
            x.nnz(),
            if dg.converged {
                "converged"
            } else {
                "NOT converged (raise --max-iter or --tol)"
            },
            dg.n_iter,
            dg.partition_coefficient
        );
    }
    Ok(())
}
