//! Glue: lowers parsed flags into library objects, runs them, writes the results.

use crate::cli::{
    Cli, Command, InitKind, KmeansArgs, SoftArgs, SoftKind, SoftOptions, StandardizeKind,
};
use crate::error::{CliError, CliResult};
use crate::input::{read_table, Table};
use crate::model_file::{ModelFile, SavedModel};
use crate::output::{write_matrix, write_membership, write_to};
use crate::progress::FitProgress;
use crate::report::{num, write_report, Timer};
use ndarray::{Array1, Array2};
use serde_json::json;
use softclust::{
    DistanceKind, FittedSoft, Init, InversePower, KMeans, KMeansModel, Membership, Scaler,
    SoftMethod, Softmax, Standardize,
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
        Command::Predict(a) => crate::model_file::predict(&a, cli.quiet),
        Command::Demo => crate::demo::run(cli.quiet),
    }
}

/// The command-line flag that sets a library parameter, for error messages.
fn flag(name: &str) -> String {
    match name {
        "n_clusters" | "n_components" => "-k".into(),
        "n_features" => "--dim".into(),
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

pub fn soft_method(kind: SoftKind, o: &SoftOptions) -> SoftMethod {
    match kind {
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
    }
}

pub fn standardize(kind: StandardizeKind) -> Standardize {
    match kind {
        StandardizeKind::Zscore => Standardize::ZScore,
        StandardizeKind::Robust => Standardize::Robust,
        StandardizeKind::None => Standardize::None,
    }
}

/// Everything a k-means run produces.
pub struct KmeansRun {
    pub scaler: Scaler<f64>,
    pub model: KMeansModel<f64>,
    pub soft: FittedSoft,
    pub membership: Membership<f64>,
}

/// The k-means settings of the CLI, without I/O.
pub struct KmeansSettings {
    pub k: usize,
    pub standardize: Standardize,
    pub init: InitKind,
    pub n_init: Option<usize>,
    pub max_iter: usize,
    pub tol: f64,
    pub seed: u64,
    pub soft: SoftMethod,
}

/// Standardises, fits k-means and turns its distances into memberships.
pub fn fit_kmeans(
    table: &Table,
    weights: Option<&Array1<f64>>,
    s: &KmeansSettings,
    quiet: bool,
) -> CliResult<KmeansRun> {
    let scaler = s.standardize.fit(table.data.view()).map_err(lib_error)?;
    if !quiet {
        for &j in scaler.unscaled_columns() {
            eprintln!(
                "softclust: note: column '{}' has zero spread; it is centred but left unscaled",
                table.columns[j]
            );
        }
    }
    let z: Array2<f64> = scaler.transform(table.data.view()).map_err(lib_error)?;
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
    let fitted = km.fit_with_progress(z.view(), weights.map(|w| w.view()), &mut |p| {
        progress.tick(p.run, p.iteration, p.inertia)
    });
    progress.finish();
    let model = fitted.map_err(lib_error)?;
    let d = model.transform(z.view()).map_err(lib_error)?;
    let soft = s
        .soft
        .fit(
            d.view(),
            DistanceKind::Euclidean,
            Some(z.ncols()),
            weights.map(|w| w.view()),
        )
        .map_err(lib_error)?;
    let membership = soft
        .memberships(d.view(), DistanceKind::Euclidean)
        .map_err(lib_error)?;
    Ok(KmeansRun {
        scaler,
        model,
        soft,
        membership,
    })
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
    let mut table = read_table(a.input.as_deref(), &a.input_opts)?;
    let weights = match &a.weights {
        Some(spec) => Some(Array1::from(table.take_column(spec)?)),
        None => None,
    };
    timer.lap("read");
    let settings = KmeansSettings {
        k: a.k,
        standardize: standardize(a.standardize),
        init: a.init,
        n_init: a.n_init,
        max_iter: a.max_iter,
        tol: a.tol,
        seed: a.seed,
        soft: soft_method(a.soft, &a.soft_opts),
    };
    let run = fit_kmeans(&table, weights.as_ref(), &settings, quiet)?;
    timer.lap("fit");
    // Everything is computed before anything is written: an error leaves no output behind.
    let centers = run
        .scaler
        .inverse_transform(run.model.centers())
        .map_err(lib_error)?;
    if let Some(p) = &a.centers_out {
        write_to(Some(p), |w| write_matrix(w, &table.columns, centers.view()))?;
    }
    write_to(a.output.as_deref(), |w| {
        write_membership(w, &run.membership)
    })?;
    if let Some(p) = &a.save.model_out {
        let model = SavedModel::Kmeans {
            centers: run.model.centers().to_owned(),
            centering: run.model.centering().to_owned(),
            soft: run.soft.clone(),
        };
        ModelFile::new(table.columns.clone(), run.scaler.clone(), model).save(p)?;
    }
    timer.lap("write");
    let dg = run.model.diagnostics();
    if let Some(p) = &a.save.report {
        let report = json!({
            "method": "kmeans",
            "parameters": {
                "k": a.k,
                "init": match a.init { InitKind::KMeansPlusPlus => "k-means++", InitKind::Random => "random" },
                "n_init": dg.run_inertia.len(),
                "max_iter": a.max_iter,
                "tol": a.tol,
                "seed": a.seed,
                "standardize": settings.standardize.name(),
                "weights_column": a.weights,
                "soft": run.soft.method_name(),
                "sigma": run.soft.sigma(),
                "sigma_estimated": run.soft.sigma_estimated(),
                "power": run.soft.power(),
                "temperature": a.soft_opts.temperature,
            },
            "n": table.data.nrows(),
            "d": table.data.ncols(),
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
        });
        write_report(p, report, &timer)?;
    }
    if !quiet {
        eprintln!(
            "softclust: k-means k={} on {} x {} ({}): {} after {} iterations (best of {} runs), \
             inertia {:.6}; {}",
            a.k,
            table.data.nrows(),
            table.data.ncols(),
            settings.standardize.name(),
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
    let table = read_table(a.distances.as_deref(), &a.input_opts)?;
    let method = soft_method(a.method, &a.soft_opts);
    let needs_dim = match a.method {
        SoftKind::Softmax => a.soft_opts.sigma.is_none(),
        SoftKind::InversePower => a.soft_opts.power.is_none(),
        SoftKind::Minmax => false,
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
    write_to(a.output.as_deref(), |w| write_membership(w, &m))?;
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
