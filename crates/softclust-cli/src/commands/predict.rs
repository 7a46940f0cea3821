//! `softclust predict`: memberships of new data from a model file (written by `--model-out`
//! or by the Python package's `model.save`).

use crate::cli::PredictArgs;
use crate::error::{lib_error, CliError, CliResult};
use crate::source::read_table;
use crate::model_io;

pub fn run(a: &PredictArgs, quiet: bool) -> CliResult<()> {
    let file = model_io::load(&a.model)?;
    // A .npy or Parquet file is read, scored and written block by block.
    if let Some(src) = a
        .input
        .as_deref()
        .filter(|p| *p != "-")
        .map(crate::source::Source::open)
        .transpose()?
        .flatten()
    {
        let out = crate::stream::predict(&file, &src, a.output.as_deref())?;
        if !quiet {
            note!(
                "softclust: {} rows scored with the {} model '{}'",
                out.n,
                file.model.kind_name(),
                a.model.display()
            );
        }
        return Ok(());
    }
    let table = read_table(a.input.as_deref(), &a.input_opts)?;
    let d = file.scaler.n_features();
    if table.data.ncols() != d {
        return Err(CliError::msg(format!(
            "{} has {} columns but the model was fitted on {d} ({}); give the same features in the same order",
            table.source,
            table.data.ncols(),
            file.feature_names.join(", ")
        )));
    }
    // Scaled in place: the raw values are not needed again.
    let mut z = table.data;
    file.scaler
        .transform_inplace(z.view_mut())
        .map_err(lib_error)?;
    let out = model_io::write_outputs(a.output.as_deref(), &file, z.view())?;
    if !quiet {
        note!(
            "softclust: {} rows scored with the {} model '{}'",
            out.n,
            file.model.kind_name(),
            a.model.display()
        );
    }
    Ok(())
}
