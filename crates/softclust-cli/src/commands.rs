//! Glue: lowers parsed flags into library objects, runs them, writes the results.

use crate::cli::{
    Cli, Command, ConsensusArgs, FcmArgs, InitKind, InputArgs, KmeansArgs, SoftArgs, SoftKind,
    SoftOptions, SpreadKind, StandardizeKind,
};
use crate::error::{CliError, CliResult};
use crate::input::{read_table, Table};
use crate::model_file::{ModelFile, SavedModel};
use crate::output::{write_matrix, write_membership, write_to, Columns};
use crate::progress::FitProgress;
use crate::report::{num, write_report, Timer};
use ndarray::{Array1, Array2};
use serde_json::json;
use softclust::consensus::{ConsensusKMeans, Resample};
use softclust::fcm::FuzzyCMeans;
use softclust::typicality::{ClusterSpread, Spread};
use softclust::{
    Anchor, Anchored, DistanceKind, FittedSoft, Init, InversePower, KMeans, KMeansModel,
    Membership, Scaler, SoftMethod, Softmax, Standardize,
};

pub fn run(cli: Cli) -> CliResult<()> {
    if let Some(t) = cli.threads {
        if t == 0 {
            return Err(CliError::msg(
                "invalid --threads 0: expected an integer >= 1",
            ));
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build_global()
            .map_err(|e| CliError::msg(format!("cannot start {t} threads: {e}")))?;
    }
    match cli.command {
        Command::Kmeans(a) => kmeans(&a, cli.quiet),
        Command::Soft(a) => soft(&a, cli.quiet),
        Command::Gmm(a) => crate::mixture::gmm(&a, cli.quiet),
        Command::Select(a) => crate::mixture::select(&a, cli.quiet),
        Command::Fcm(a) => fcm(&a, cli.quiet),
        Command::Consensus(a) => consensus(&a, cli.quiet),
        Command::Predict(a) => crate::model_file::predict(&a, cli.quiet),
        Command::Demo => crate::demo::run(cli.quiet),
    }
}

/// The command-line flag that sets a library parameter, for error messages.
fn flag(name: &str) -> String {
    match name {
        "n_clusters" | "n_components" => "-k".into(),
        "n_features" => "--dim".into(),
        "subsample fraction" => "--resample subsample:F".into(),
        "near anchor" | "half anchor" | "far anchor" => {
            format!("--{}", name.trim_end_matches(" anchor"))
        }
        "coassociation" => "--coassociation-out".into(),
        other => format!("--{}", other.replace('_', "-")),
    }
}

/// A library error, with parameter names replaced by the flags that set them.
pub fn lib_error(e: softclust::Error) -> CliError {
    match e {
        softclust::Error::InvalidParameter {
            name,
            value,
            expected,
        } => CliError::msg(format!(
            "invalid {} {value}: expected {expected}",
            flag(name)
        )),
        other => CliError::from(other),
    }
}

/// `q:Q` is a quantile, a plain number a distance.
fn parse_anchor(flag: &str, s: &str) -> CliResult<Anchor> {
    let bad = || {
        CliError::msg(format!(
            "invalid --{flag} '{s}': expected a distance such as 2.5, or q:Q with a quantile Q in [0, 1]"
        ))
    };
    match s.strip_prefix("q:") {
        Some(q) => q.trim().parse().map(Anchor::Quantile).map_err(|_| bad()),
        None => s.trim().parse().map(Anchor::Distance).map_err(|_| bad()),
    }
}

pub fn soft_method(kind: SoftKind, o: &SoftOptions) -> CliResult<SoftMethod> {
    Ok(match kind {
        SoftKind::Softmax => {
            let mut s = Softmax::new()
                .per_cluster_variance(o.per_cluster_variance)
                .size_weights(o.size_weights)
                .temperature(o.temperature);
            if let Some(sig) = o.sigma {
                s = s.sigma(sig);
            }
            SoftMethod::Softmax(s)
        }
        SoftKind::InversePower => {
            let mut p = InversePower::new();
            if let Some(pw) = o.power {
                p = p.power(pw);
            }
            SoftMethod::InversePower(p)
        }
        SoftKind::Minmax => SoftMethod::MinMax,
        SoftKind::Anchored => {
            let mut a = Anchored::new().far_value(o.far_value);
            if let Some(s) = &o.near {
                a = a.near(parse_anchor("near", s)?);
            }
            if let Some(s) = &o.half {
                a = a.half(parse_anchor("half", s)?);
            }
            if let Some(s) = &o.far {
                a = a.far(parse_anchor("far", s)?);
            }
            SoftMethod::Anchored(a)
        }
    })
}

pub fn standardize(kind: StandardizeKind) -> Standardize {
    match kind {
        StandardizeKind::Zscore => Standardize::ZScore,
        StandardizeKind::Robust => Standardize::Robust,
        StandardizeKind::None => Standardize::None,
    }
}

fn spread(kind: SpreadKind) -> Spread {
    match kind {
        SpreadKind::Isotropic => Spread::Isotropic,
        SpreadKind::Diagonal => Spread::Diagonal,
    }
}

/// Input read, weights column taken out, scaler fitted and applied.
pub struct Prepared {
    pub table: Table,
    pub weights: Option<Array1<f64>>,
    pub scaler: Scaler<f64>,
    pub z: Array2<f64>,
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
        let mut table = read_table(input, opts)?;
        let weights = match weights {
            Some(spec) => Some(Array1::from(table.take_column(spec)?)),
            None => None,
        };
        Self::from_table(table, weights, kind, quiet)
    }

    pub fn from_table(
        table: Table,
        weights: Option<Array1<f64>>,
        kind: Standardize,
        quiet: bool,
    ) -> CliResult<Self> {
        let scaler = kind.fit(table.data.view()).map_err(lib_error)?;
        if !quiet {
            for &j in scaler.unscaled_columns() {
                eprintln!(
                    "softclust: note: column '{}' has zero spread; it is centred but left unscaled",
                    table.columns[j]
                );
            }
        }
        let z = scaler.transform(table.data.view()).map_err(lib_error)?;
        Ok(Prepared {
            table,
            weights,
            scaler,
            z,
        })
    }

    pub fn w(&self) -> Option<ndarray::ArrayView1<'_, f64>> {
        self.weights.as_ref().map(|w| w.view())
    }

    /// A model file for this input's features and scaler.
    pub fn model_file(&self, model: SavedModel) -> ModelFile {
        ModelFile::new(self.table.columns.clone(), self.scaler.clone(), model)
    }
}

/// Writes memberships (through the model file's output path, so `predict` gives the same
/// file), the model and the report.
pub fn finish(
    p: &Prepared,
    file: &ModelFile,
    output: Option<&std::path::Path>,
    save: &crate::cli::SaveArgs,
    timer: &mut Timer,
    report: impl FnOnce(&Membership<f64>) -> CliResult<serde_json::Value>,
) -> CliResult<Membership<f64>> {
    let (m, extra) = file.outputs(&p.z)?;
    timer.lap("memberships");
    write_to(output, |w| write_membership(w, &m, &extra))?;
    if let Some(path) = &save.model_out {
        file.save(path)?;
    }
    timer.lap("write");
    if let Some(path) = &save.report {
        let mut r = report(&m)?;
        r["n"] = json!(p.z.nrows());
        r["d"] = json!(p.z.ncols());
        write_report(path, r, timer)?;
    }
    Ok(m)
}

/// Everything a k-means run produces.
pub struct KmeansRun {
    pub model: KMeansModel<f64>,
    pub soft: FittedSoft,
}

/// The k-means settings of the CLI, without I/O.
pub struct KmeansSettings {
    pub k: usize,
    pub init: InitKind,
    pub n_init: Option<usize>,
    pub max_iter: usize,
    pub tol: f64,
    pub seed: u64,
    pub soft: SoftMethod,
}

/// Fits k-means on the standardised data and the soft assignment on its distances.
pub fn fit_kmeans(p: &Prepared, s: &KmeansSettings, quiet: bool) -> CliResult<KmeansRun> {
    let mut km = KMeans::new(s.k)
        .max_iter(s.max_iter)
        .tol(s.tol)
        .seed(s.seed)
        .init(match s.init {
            InitKind::KMeansPlusPlus => Init::KMeansPlusPlus,
            InitKind::Random => Init::Random,
        });
    if let Some(n) = s.n_init {
        km = km.n_init(n);
    }
    let n_runs = s
        .n_init
        .unwrap_or(if s.init == InitKind::Random { 10 } else { 1 });
    let progress = FitProgress::new(quiet, "k-means", "inertia", n_runs, s.max_iter);
    let fitted = km.fit_with_progress(p.z.view(), p.w(), &mut |q| {
        progress.tick(q.run, q.iteration, q.inertia)
    });
    progress.finish();
    let model = fitted.map_err(lib_error)?;
    // Softmax and inverse-power come from the model's per-cluster sums; minmax and anchored
    // are fitted on the training distances.
    let soft = match s.soft {
        SoftMethod::Softmax(_) | SoftMethod::InversePower(_) => s.soft.fit_kmeans(&model),
        _ => {
            let d = model.transform(p.z.view()).map_err(lib_error)?;
            s.soft
                .fit(d.view(), DistanceKind::Euclidean, Some(p.z.ncols()), p.w())
        }
    }
    .map_err(lib_error)?;
    Ok(KmeansRun { model, soft })
}

/// One line describing the fitted soft method.
pub fn describe_soft(soft: &FittedSoft) -> String {
    match soft.method_name() {
        "softmax" => {
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
        "inverse-power" => format!("inverse-power, p = {}", soft.power().unwrap_or(f64::NAN)),
        other => other.to_string(),
    }
}

fn kmeans(a: &KmeansArgs, quiet: bool) -> CliResult<()> {
    let mut timer = Timer::new();
    let soft = soft_method(a.soft, &a.soft_opts)?;
    let p = Prepared::read(
        a.input.as_deref(),
        &a.input_opts,
        a.weights.as_deref(),
        standardize(a.standardize),
        quiet,
    )?;
    timer.lap("read");
    let settings = KmeansSettings {
        k: a.k,
        init: a.init,
        n_init: a.n_init,
        max_iter: a.max_iter,
        tol: a.tol,
        seed: a.seed,
        soft,
    };
    let run = fit_kmeans(&p, &settings, quiet)?;
    // Spreads from the per-cluster deviations the fit accumulated (no pass over the data).
    let spread = if a.typ.typicality {
        let s = ClusterSpread::from_kmeans(&run.model, spread(a.typ.spread));
        Some(s.map_err(lib_error)?)
    } else {
        None
    };
    timer.lap("fit");
    // Everything is computed before anything is written: an error leaves no output behind.
    let centers = p
        .scaler
        .inverse_transform(run.model.centers())
        .map_err(lib_error)?;
    let file = p.model_file(SavedModel::Kmeans {
        centers: run.model.centers().to_owned(),
        centering: run.model.centering().to_owned(),
        soft: run.soft.clone(),
        spread,
    });
    if let Some(path) = &a.centers_out {
        write_to(Some(path), |w| {
            write_matrix(w, &p.table.columns, centers.view())
        })?;
    }
    let dg = run.model.diagnostics().clone();
    finish(&p, &file, a.output.as_deref(), &a.save, &mut timer, |_| {
        Ok(json!({
            "method": "kmeans",
            "parameters": {
                "k": a.k,
                "init": match a.init { InitKind::KMeansPlusPlus => "k-means++", InitKind::Random => "random" },
                "n_init": dg.run_inertia.len(),
                "max_iter": a.max_iter,
                "tol": a.tol,
                "seed": a.seed,
                "standardize": standardize(a.standardize).name(),
                "weights_column": a.weights,
                "soft": run.soft.method_name(),
                "sigma": run.soft.sigma(),
                "sigma_estimated": run.soft.sigma_estimated(),
                "power": run.soft.power(),
                "temperature": a.soft_opts.temperature,
                "typicality": a.typ.typicality,
            },
            "k": a.k,
            "converged": dg.converged,
            "n_iter": dg.n_iter,
            "inertia": num(run.model.inertia()),
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
        eprintln!(
            "softclust: k-means k={} on {} x {} ({}): {} after {} iterations (best of {} runs), \
             inertia {:.6}; {}",
            a.k,
            p.z.nrows(),
            p.z.ncols(),
            standardize(a.standardize).name(),
            if dg.converged {
                "converged"
            } else {
                "NOT converged (raise --max-iter)"
            },
            dg.n_iter,
            dg.run_inertia.len(),
            run.model.inertia(),
            describe_soft(&run.soft)
        );
    }
    Ok(())
}

fn soft(a: &SoftArgs, quiet: bool) -> CliResult<()> {
    let method = soft_method(a.method, &a.soft_opts)?;
    let table = read_table(a.distances.as_deref(), &a.input_opts)?;
    let needs_dim = match a.method {
        SoftKind::Softmax => a.soft_opts.sigma.is_none(),
        SoftKind::InversePower => a.soft_opts.power.is_none(),
        SoftKind::Minmax | SoftKind::Anchored => false,
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
    write_to(a.output.as_deref(), |w| write_membership(w, &m, &extra))?;
    if !quiet {
        eprintln!(
            "softclust: {} rows x {} clusters; {}",
            table.data.nrows(),
            table.data.ncols(),
            describe_soft(&fitted)
        );
    }
    Ok(())
}

fn fcm(a: &FcmArgs, quiet: bool) -> CliResult<()> {
    let mut timer = Timer::new();
    let p = Prepared::read(
        a.input.as_deref(),
        &a.input_opts,
        a.weights.as_deref(),
        standardize(a.standardize),
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
    // Spreads from the membership-weighted deviations the fit accumulated.
    let spread = if a.typ.typicality {
        let s = ClusterSpread::from_fcm(&model, spread(a.typ.spread));
        Some(s.map_err(lib_error)?)
    } else {
        None
    };
    timer.lap("fit");
    let file = p.model_file(SavedModel::Fcm {
        centers: model.centers().to_owned(),
        centering: model.centering().to_owned(),
        m: a.m,
        spread,
    });
    let dg = model.diagnostics().clone();
    finish(&p, &file, a.output.as_deref(), &a.save, &mut timer, |_| {
        Ok(json!({
            "method": "fcm",
            "parameters": {
                "k": a.k, "m": a.m, "max_iter": a.max_iter, "tol": a.tol, "seed": a.seed,
                "standardize": standardize(a.standardize).name(), "weights_column": a.weights,
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
        eprintln!(
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

fn parse_resample(s: &str) -> CliResult<Resample> {
    match s {
        "bootstrap" => Ok(Resample::Bootstrap),
        "reseed" => Ok(Resample::Reseed),
        _ => match s.strip_prefix("subsample:").map(|f| f.parse::<f64>()) {
            Some(Ok(f)) => Ok(Resample::Subsample(f)),
            _ => Err(CliError::msg(format!(
                "invalid --resample '{s}': expected bootstrap, subsample:F with a fraction F in (0, 1], or reseed"
            ))),
        },
    }
}

fn consensus(a: &ConsensusArgs, quiet: bool) -> CliResult<()> {
    let mut timer = Timer::new();
    let resample = parse_resample(&a.resample)?;
    let p = Prepared::read(
        a.input.as_deref(),
        &a.input_opts,
        None,
        standardize(a.standardize),
        quiet,
    )?;
    timer.lap("read");
    let progress = FitProgress::new(quiet, "consensus", "runs", 1, a.runs);
    let cfg = ConsensusKMeans::new(a.k)
        .runs(a.runs)
        .resample(resample)
        .seed(a.seed)
        .reference_n_init(a.n_init)
        .max_iter(a.max_iter)
        .tol(a.tol)
        .coassociation(a.coassociation_out.is_some());
    let fitted = cfg.fit_with_progress(p.z.view(), &|done| {
        progress.tick(0, done.saturating_sub(1), done as f64)
    });
    progress.finish();
    let model = fitted.map_err(lib_error)?;
    timer.lap("fit");
    let file = p.model_file(SavedModel::Consensus {
        run_centers: model.run_centers().to_owned(),
        centering: model.reference().centering().to_owned(),
    });
    if let (Some(path), Some(co)) = (&a.coassociation_out, model.coassociation()) {
        write_to(Some(path), |w| {
            ndarray_npy::WriteNpyExt::write_npy(&co, w).map_err(std::io::Error::other)
        })?;
    }
    let stability = model.stability().to_vec();
    finish(&p, &file, a.output.as_deref(), &a.save, &mut timer, |m| {
        Ok(json!({
            "method": "consensus",
            "parameters": {
                "k": a.k, "runs": a.runs, "resample": a.resample, "seed": a.seed,
                "reference_n_init": a.n_init, "max_iter": a.max_iter, "tol": a.tol,
                "standardize": standardize(a.standardize).name(),
            },
            "k": a.k,
            "stability": stability,
            "reference_inertia": num(model.reference().inertia()),
            "mean_max_p": num(m.max_p.mean().unwrap_or(f64::NAN)),
            "lower_bound": null,
            "mean_log_likelihood": null,
            "bic": null,
            "aic": null,
        }))
    })?;
    if !quiet {
        let s: Vec<String> = stability.iter().map(|v| format!("{v:.3}")).collect();
        eprintln!(
            "softclust: consensus k-means k={} over {} {} runs on {} x {}; cluster stability \
             (mean Jaccard) [{}]",
            a.k,
            a.runs,
            a.resample,
            p.z.nrows(),
            p.z.ncols(),
            s.join(", ")
        );
    }
    Ok(())
}
