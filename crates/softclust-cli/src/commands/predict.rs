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
    if crate::sparse_input::is_npz(a.input.as_deref()) {
        crate::sparse_input::check_options(&a.input_opts, None, false, None)?;
        let path = a.input.as_deref().unwrap_or_default();
        let m = crate::sparse_input::read_npz(std::path::Path::new(path))?;
        model_io::check_width(&file, path, m.n_cols)?;
        let out = model_io::write_sparse_outputs(a.output.as_deref(), &file, &m.csr()?, shape)?;
        if !quiet {
            note!(
                "softclust: {} sparse rows scored with the {} model '{}'",
                out.n,
                file.model.kind_name(),
                a.model.display()
            );
        }
        return Ok(());
    }
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
