//! `softclust soft`: memberships from a distance matrix you bring.

use crate::cli::SoftArgs;
use crate::columns::ColumnSpec;
use crate::error::{lib_error, CliError, CliResult};
use crate::output::{wants_parquet, write_membership, write_to, Columns};
use crate::prepare::describe_soft;
use crate::source::read_table;
use softclust::DistanceKind;

pub fn run(a: &SoftArgs, quiet: bool) -> CliResult<()> {
    let method = a.soft_opts.spec(a.method).method();
    let table = read_table(
        a.distances.as_deref(),
        &a.input_opts,
        &ColumnSpec::new(&a.input_opts, None),
    )?;
    let kind = if a.squared {
        DistanceKind::Squared
    } else {
        DistanceKind::Euclidean
    };
    let fitted = method
        .fit(table.data.view(), kind, a.dim, None)
        .map_err(|e| match e {
            softclust::Error::MissingParameter { .. } => CliError::msg(format!(
                "{e} (with the flags: --dim D, the number of features of the data the \
                 distances were measured in; --sigma S; or --power P)"
            )),
            other => lib_error(other),
        })?;
    let m = fitted
        .memberships(table.data.view(), kind)
        .map_err(lib_error)?;
    let mut extra = Columns::default();
    if let Some(s) = fitted
        .anchored_scores(table.data.view(), kind)
        .map_err(lib_error)?
    {
        extra.push_matrix("s", s.view());
    }
    if let Some(t) = a.input_opts.top_k {
        let k = m.n_clusters();
        if t == 0 || t > k {
            return Err(CliError::msg(format!(
                "--top-k {t}: the distance matrix has {k} clusters; give a K from 1 to {k}"
            )));
        }
    }
    let parquet = wants_parquet(a.output.as_deref());
    write_to(a.output.as_deref(), |w| {
        write_membership(
            w,
            parquet,
            &m,
            &extra,
            table.front.as_ref(),
            a.input_opts.top_k,
        )
    })?;
    if !quiet {
        note!(
            "softclust: {} rows x {} clusters; {}",
            table.data.nrows(),
            table.data.ncols(),
            describe_soft(&fitted)
        );
        if let Some(e) = fitted.estimated_dimension() {
            note!(
                "softclust: without --dim, the dimension was estimated from the nearest-centre \
                 distances of {} rows: D = {:.2}, sigma = {:.4} (give --dim, --sigma or \
                 --power to fix them)",
                e.n_used,
                e.dim,
                e.sigma
            );
        }
    }
    Ok(())
}
