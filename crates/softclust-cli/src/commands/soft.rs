//! `softclust soft`: memberships from a distance matrix you bring.

use crate::cli::SoftArgs;
use crate::columns::ColumnSpec;
use crate::error::{lib_error, CliError, CliResult};
use crate::output::{wants_parquet, write_membership, write_to, Columns};
use crate::prepare::describe_soft;
use crate::source::read_table;
use softclust::{DistanceKind, SoftKind};

pub fn run(a: &SoftArgs, quiet: bool) -> CliResult<()> {
    let method = a.soft_opts.spec(a.method).method();
    let table = read_table(
        a.distances.as_deref(),
        &a.input_opts,
        &ColumnSpec::new(&a.input_opts, None),
    )?;
    let needs_dim = match a.method {
        SoftKind::Softmax => a.soft_opts.sigma.is_none(),
        SoftKind::InversePower => a.soft_opts.power.is_none(),
        _ => false,
    };
    if needs_dim && a.dim.is_none() {
        let what = if a.method == SoftKind::Softmax {
            "softmax needs --sigma S, or --dim D so that sigma can be estimated"
        } else {
            "inverse-power needs --power P, or --dim D for the gravity default P = D - 1"
        };
        return Err(CliError::msg(format!(
            "{what} (D = the number of features of the data the distances were measured in)"
        )));
    }
    let kind = if a.squared {
        DistanceKind::Squared
    } else {
        DistanceKind::Euclidean
    };
    let fitted = method
        .fit(table.data.view(), kind, a.dim, None)
        .map_err(lib_error)?;
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
    }
    Ok(())
}
