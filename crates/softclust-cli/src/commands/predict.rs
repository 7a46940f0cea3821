//! `softclust predict`: memberships of new data from a model file (written by `--model-out`
//! or by the Python package's `model.save`).

use crate::cli::PredictArgs;
use crate::columns::ColumnSpec;
use crate::error::{lib_error, CliResult};
use crate::model_io::{self, Shape};
use crate::source::{read_table, Source};

pub fn run(a: &PredictArgs, quiet: bool) -> CliResult<()> {
    let file = model_io::load(&a.model)?;
    let shape = Shape {
        top_k: a.input_opts.top_k,
    };
    let src = a
        .input
        .as_deref()
        .filter(|p| *p != "-")
        .map(|p| Source::open(p, &ColumnSpec::new(&a.input_opts, None)))
        .transpose()?
        .flatten();
    let out = match src {
        // A .npy or Parquet file is read, scored and written block by block.
        Some(src) => crate::stream::predict(&file, &src, a.output.as_deref(), shape)?,
        None => {
            let mut table = read_table(a.input.as_deref(), &a.input_opts, None)?;
            model_io::check_width(&file, &table.source, table.data.ncols())?;
            // Scaled in place: the raw values are not needed again.
            let mut z = std::mem::take(&mut table.data);
            file.scaler
                .transform_inplace(z.view_mut())
                .map_err(lib_error)?;
            model_io::write_outputs(
                a.output.as_deref(),
                &file,
                z.view(),
                table.front.as_ref(),
                shape,
            )?
        }
    };
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
