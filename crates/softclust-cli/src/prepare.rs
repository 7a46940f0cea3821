//! Glue shared by the subcommands: library errors in terms of flags, reading and
//! standardising the input, fitting k-means with its soft step, and writing a fit's outputs
//! through the model file (so that `predict` writes the same file).

use crate::cli::{InitName, InputArgs, SaveArgs};
use crate::columns::ColumnSpec;
use crate::error::{lib_error, CliResult};
use crate::input::Table;
use crate::model_io;
use crate::model_io::{OutputSummary, Shape};
use crate::progress::FitProgress;
use crate::report::{write_report, Timer};
use crate::source::read_table;
use ndarray::{Array1, Array2};
use serde_json::json;
use softclust::{
    FittedSoft, KMeans, KMeansModel, Model, ModelFile, Scaler, SoftKind, SoftMethod, Spread,
    Standardize,
};

/// Input read, weights column taken out, scaler fitted and applied (in place: `table.data` is
/// left empty and `z` holds the standardised data).
pub struct Prepared {
    pub table: Table,
    pub weights: Option<Array1<f64>>,
    pub scaler: Scaler<f64>,
    pub z: Array2<f64>,
    /// How the membership rows are written (`--top-k`).
    pub shape: Shape,
}

impl Prepared {
    /// Reads `input`, takes the weights column, standardises.
    pub fn read(
        input: Option<&str>,
        opts: &InputArgs,
        weights: Option<&str>,
        kind: Standardize,
        quiet: bool,
    ) -> CliResult<Self> {
        let mut table = read_table(input, opts, &ColumnSpec::new(opts, weights))?;
        let weights = table.take_weights()?.map(Array1::from);
        let mut p = Self::from_table(table, weights, kind, quiet)?;
        p.shape = Shape { top_k: opts.top_k };
        Ok(p)
    }

    pub fn from_table(
        table: Table,
        weights: Option<Array1<f64>>,
        kind: Standardize,
        quiet: bool,
    ) -> CliResult<Self> {
        // Standardised in place: the raw values are not needed again (the scaler inverts),
        // so the data are held once.
        let mut table = table;
        let data = std::mem::take(&mut table.data);
        let (scaler, z) = kind.fit_transform_owned(data).map_err(lib_error)?;
        if !quiet {
            for &j in scaler.unscaled_columns() {
                note!(
                    "softclust: note: column '{}' has zero spread; it is centred but left unscaled",
                    table.columns[j]
                );
            }
        }
        Ok(Prepared {
            table,
            weights,
            scaler,
            z,
            shape: Shape::default(),
        })
    }

    pub fn w(&self) -> Option<ndarray::ArrayView1<'_, f64>> {
        self.weights.as_ref().map(|w| w.view())
    }

    /// A model file for this input's features and scaler.
    pub fn model_file(&self, model: Model<f64>, typicality: Option<Spread>) -> ModelFile {
        ModelFile::new(
            self.table.columns.clone(),
            self.scaler.clone(),
            typicality,
            model,
        )
    }
}

/// Reads `input` (text, `.npy` or Parquet, with the column flags of `opts`) for a saved
/// model: checks its width and scales it in place into the model's units.
pub fn read_for_model(
    file: &ModelFile,
    input: Option<&str>,
    opts: &InputArgs,
) -> CliResult<(Table, Array2<f64>)> {
    let spec = ColumnSpec::new(opts, None).for_model(&file.feature_names);
    let mut table = read_table(input, opts, &spec)?;
    model_io::check_width(file, &table.source, table.data.ncols())?;
    // Scaled in place: the raw values are not needed again.
    let mut z = std::mem::take(&mut table.data);
    file.scaler
        .transform_inplace(z.view_mut())
        .map_err(lib_error)?;
    Ok((table, z))
}

/// Writes memberships (through the model file's output path, block by block, so `predict`
/// gives the same file), the model and the report.
pub fn finish(
    p: &Prepared,
    file: &ModelFile,
    output: Option<&std::path::Path>,
    save: &SaveArgs,
    timer: &mut Timer,
    report: impl FnOnce(&OutputSummary) -> CliResult<serde_json::Value>,
) -> CliResult<OutputSummary> {
    let summary =
        model_io::write_outputs(output, file, p.z.view(), p.table.front.as_ref(), p.shape)?;
    timer.lap("memberships");
    if let Some(path) = &save.model_out {
        model_io::save(file, path)?;
    }
    timer.lap("write");
    if save.report.is_some() || save.pictures.any() {
        let mut r = report(&summary)?;
        r["n"] = json!(p.z.nrows());
        r["d"] = json!(p.z.ncols());
        r["mean_max_p"] = crate::report::num(summary.mean_max_p);
        crate::pictures::draw(
            &save.pictures,
            crate::pictures::Fit {
                file,
                z: p.z.view(),
                n_total: p.z.nrows(),
                title: crate::pictures::title_of(&r),
                summary: crate::pictures::summary_of(&r),
                selection: None,
            },
        )?;
        timer.lap("pictures");
        if let Some(path) = &save.report {
            write_report(path, r, timer)?;
        }
    }
    Ok(summary)
}

/// The k-means settings of the CLI, without I/O.
pub struct KmeansSettings {
    pub k: usize,
    pub init: InitName,
    pub n_init: Option<usize>,
    pub max_iter: usize,
    pub tol: f64,
    pub seed: u64,
    pub soft: SoftMethod,
    pub algorithm: softclust::KMeansAlgorithm,
}

/// Fits k-means with its soft step on the standardised data.
pub fn fit_kmeans(p: &Prepared, s: &KmeansSettings, quiet: bool) -> CliResult<KMeansModel<f64>> {
    let (km, progress) = kmeans_config(s, quiet)?;
    let fitted = km.fit_with_progress(p.z.view(), p.w(), &mut |q| {
        progress.tick(q.run, q.iteration, q.inertia)
    });
    progress.finish();
    fitted.map_err(lib_error)
}

/// The k-means configuration of the settings, and its progress bar (one run per restart).
pub fn kmeans_config(s: &KmeansSettings, quiet: bool) -> CliResult<(KMeans<f64>, FitProgress)> {
    let init: softclust::Init<f64> = s.init.0.parse().map_err(lib_error)?;
    let mut km = KMeans::new(s.k)
        .max_iter(s.max_iter)
        .tol(s.tol)
        .seed(s.seed)
        .init(init)
        .algorithm(s.algorithm)
        .soft(s.soft.clone());
    if let Some(n) = s.n_init {
        km = km.n_init(n);
    }
    let n_runs = s.n_init.unwrap_or(if s.init.0 == "random" {
        softclust::kmeans::defaults::RANDOM_N_INIT
    } else {
        1
    });
    let progress = FitProgress::new(quiet, "k-means", "inertia", n_runs, s.max_iter);
    Ok((km, progress))
}

/// One line describing the fitted soft method.
pub fn describe_soft(soft: &FittedSoft) -> String {
    let plain = describe_plain_soft(soft);
    match soft.choice() {
        Some(c) => {
            let b = c.best();
            let rest: Vec<String> = c
                .candidates
                .iter()
                .map(|k| format!("{} {:.1}", candidate_name(k), k.bic))
                .collect();
            format!(
                "auto chose {} by BIC ({}): {plain}",
                candidate_name(b),
                rest.join(", ")
            )
        }
        None => plain,
    }
}

/// A softmax variant in words: "shared sigma", "per-cluster sigma + size weights", ...
pub fn variant_name(per_cluster_variance: bool, size_weights: bool) -> String {
    let sigma = if per_cluster_variance {
        "per-cluster sigma"
    } else {
        "shared sigma"
    };
    if size_weights {
        format!("{sigma} + size weights")
    } else {
        sigma.to_string()
    }
}

fn candidate_name(c: &softclust::soft::SoftCandidate) -> String {
    variant_name(c.per_cluster_variance, c.size_weights)
}

/// The auto step's candidates for a report: variant, log-likelihood, parameters, BIC.
pub fn soft_choice_json(soft: &FittedSoft) -> serde_json::Value {
    match soft.choice() {
        Some(c) => serde_json::json!({
            "chosen": candidate_name(c.best()),
            "candidates": c.candidates.iter().map(|k| serde_json::json!({
                "variant": candidate_name(k),
                "per_cluster_variance": k.per_cluster_variance,
                "size_weights": k.size_weights,
                "log_likelihood": crate::report::num(k.log_likelihood),
                "n_parameters": k.n_parameters,
                "bic": crate::report::num(k.bic),
            })).collect::<Vec<_>>(),
        }),
        None => serde_json::Value::Null,
    }
}

fn describe_plain_soft(soft: &FittedSoft) -> String {
    match soft.kind() {
        SoftKind::Softmax => {
            let sig = soft.sigma().unwrap_or(&[]);
            let how = if soft.sigma_estimated() == Some(true) {
                "estimated"
            } else {
                "given"
            };
            let same = sig.windows(2).all(|w| w[0] == w[1]);
            if same {
                format!(
                    "softmax, sigma = {:.4} ({how})",
                    sig.first().copied().unwrap_or(f64::NAN)
                )
            } else {
                let s: Vec<String> = sig.iter().map(|v| format!("{v:.4}")).collect();
                format!("softmax, sigma per cluster = [{}] ({how})", s.join(", "))
            }
        }
        SoftKind::InversePower => {
            format!("inverse-power, p = {}", soft.power().unwrap_or(f64::NAN))
        }
        other => other.to_string(),
    }
}
