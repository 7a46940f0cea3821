//! `softclust predict`: memberships of new data from a model file (written by `--model-out`
//! or by the Python package's `model.save`).

use crate::cli::PredictArgs;
use crate::columns::ColumnSpec;
use crate::error::CliResult;
use crate::model_io::{self, Shape};
use crate::prepare::read_for_model;
use crate::source::Source;

pub fn run(a: &PredictArgs, quiet: bool) -> CliResult<()> {
    let file = model_io::load(&a.model)?;
    let shape = Shape {
        top_k: a.input_opts.top_k,
    };
    let src = a
        .input
        .as_deref()
        .filter(|p| *p != "-")
        .map(|p| {
            let spec = ColumnSpec::new(&a.input_opts, None).for_model(&file.feature_names);
            Source::open(p, &spec)
        })
        .transpose()?
        .flatten();
    let out = match src {
        // A .npy or Parquet file is read, scored and written block by block.
        Some(src) => crate::stream::predict(&file, &src, a.output.as_deref(), shape)?,
        None => {
            let (table, z) = read_for_model(&file, a.input.as_deref(), &a.input_opts)?;
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
