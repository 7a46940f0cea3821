//! `softclust plot`: the pictures (and the HTML report) of a saved model on some data.

use crate::cli::PlotArgs;
use crate::error::{CliError, CliResult};
use crate::model_io;
use crate::pictures::{draw, Fit};
use crate::prepare::read_for_model;
use softclust::ClusterModel;

pub fn run(a: &PlotArgs, quiet: bool) -> CliResult<()> {
    if !a.pictures.any() {
        return Err(CliError::msg(
            "softclust plot needs --plot FILE.svg or --report-html FILE.html",
        ));
    }
    let file = model_io::load(&a.model)?;
    let (table, z) = read_for_model(&file, a.input.as_deref(), &a.input_opts)?;
    let k = file.model.n_clusters();
    let summary = vec![
        ("model".to_string(), a.model.display().to_string()),
        ("kind".to_string(), file.model.kind_name().to_string()),
        ("clusters".to_string(), k.to_string()),
        ("features".to_string(), file.feature_names.join(", ")),
        ("data".to_string(), table.source.clone()),
    ];
    draw(
        &a.pictures,
        Fit {
            file: &file,
            z: z.view(),
            n_total: z.nrows(),
            title: format!("softclust {} model, k = {k}", file.model.kind()),
            summary,
            selection: None,
        },
    )?;
    if !quiet {
        note!(
            "softclust: drew {} rows with the {} model '{}'",
            z.nrows(),
            file.model.kind_name(),
            a.model.display()
        );
    }
    Ok(())
}
