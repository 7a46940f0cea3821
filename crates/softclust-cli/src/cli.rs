//! Command-line flags. Lowered into library objects by `commands`.

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use softclust::consensus::{defaults as consensus_defaults, Resample};
use softclust::fcm::defaults as fcm_defaults;
use softclust::gmm::defaults as gmm_defaults;
use softclust::kmeans::defaults as kmeans_defaults;
use softclust::soft::{Anchor, DEFAULT_FAR_VALUE};
use softclust::{
    CovarianceType, Criterion, GmmInit, KMeansAlgorithm, SoftKind, Spread, Standardize,
};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A flag whose values are the names of a core enum, parsed by the core's `FromStr` (so the
/// names, the help's list and the errors are the core's).
fn choice<T, const N: usize>(
    all: [T; N],
    name: fn(T) -> &'static str,
) -> impl TypedValueParser<Value = T>
where
    T: FromStr<Err = softclust::Error> + Clone + Send + Sync + 'static,
{
    PossibleValuesParser::new(all.map(name)).try_map(|s| s.parse::<T>())
}

/// A flag value parsed by a core type's `FromStr` (anchors, resampling schemes).
fn parsed<T: FromStr<Err = softclust::Error>>(s: &str) -> Result<T, softclust::Error> {
    s.parse()
}

/// k-means' named initialisations (given centres are data, not a flag value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitName(pub &'static str);

impl FromStr for InitName {
    type Err = softclust::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let init: softclust::Init<f64> = s.parse()?;
        Ok(InitName(init.name()))
    }
}

impl std::fmt::Display for InitName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// Cluster membership probabilities: for every point, the probability that it belongs to each
/// cluster.
#[derive(Debug, Parser)]
#[command(name = "softclust", version = crate::version(), about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Threads to use (default: all cores). Results do not depend on it.
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress bar and no summary on stderr.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// k-means, then soft memberships from the distances to the centres.
    Kmeans(KmeansArgs),
    /// Soft memberships from your own distance matrix (column j = distances to cluster j).
    Soft(SoftArgs),
    /// Gaussian mixture by EM: responsibilities as memberships.
    Gmm(GmmArgs),
    /// Fit mixtures over a range of k and covariance types, rank them by BIC, AIC or ICL.
    Select(SelectArgs),
    /// Fuzzy c-means: memberships u_ij ∝ d_ij^(-2/(m-1)).
    Fcm(FcmArgs),
    /// Consensus k-means: the share of bootstrap runs that put each point in each cluster.
    Consensus(ConsensusArgs),
    /// Memberships for new data from a model saved with --model-out.
    Predict(PredictArgs),
    /// Pictures (SVG) and an HTML report of a saved model on some data.
    Plot(PlotArgs),
    /// Check memberships: against known labels (log-loss, Brier, calibration, accuracy, ARI),
    /// or against a second memberships file (fuzzy Rand index).
    Evaluate(EvaluateArgs),
    /// k-means with soft memberships on the Iris data shipped with softclust.
    Demo,
    /// Print a shell completion script: `softclust completions bash > /etc/bash_completion.d/softclust`.
    Completions(CompletionsArgs),
}

#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_parser = PossibleValuesParser::new(["bash", "zsh", "fish"]))]
    pub shell: String,
}

#[derive(Debug, Clone, Args)]
pub struct PlotArgs {
    /// Model file written by --model-out (or a Python estimator's save).
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// The data to draw (the model's features); `-` or nothing reads standard input.
    pub input: Option<String>,
    #[command(flatten)]
    pub pictures: PictureArgs,
    #[command(flatten)]
    pub input_opts: InputArgs,
}

/// An output flag and its path (`None`: standard output).
pub type OutputPath<'a> = (&'static str, Option<&'a Path>);

fn input_path(input: &Option<String>) -> Vec<&Path> {
    input
        .as_deref()
        .filter(|p| *p != "-")
        .map(Path::new)
        .into_iter()
        .collect()
}

fn optional<'a>(out: &mut Vec<OutputPath<'a>>, flag: &'static str, path: &'a Option<PathBuf>) {
    if let Some(p) = path {
        out.push((flag, Some(p.as_path())));
    }
}

impl SaveArgs {
    fn outputs<'a>(&'a self, out: &mut Vec<OutputPath<'a>>) {
        optional(out, "--report", &self.report);
        optional(out, "--model-out", &self.model_out);
        self.pictures.outputs(out);
    }
}

impl PictureArgs {
    fn outputs<'a>(&'a self, out: &mut Vec<OutputPath<'a>>) {
        optional(out, "--plot", &self.plot);
        optional(out, "--report-html", &self.report_html);
    }
}

impl Command {
    /// The files a command reads and the outputs it writes, for [`crate::output::check_paths`].
    pub fn paths(&self) -> (Vec<&Path>, Vec<OutputPath<'_>>) {
        let mut out: Vec<OutputPath<'_>> = Vec::new();
        let inputs = match self {
            Command::Kmeans(a) => {
                out.push(("-o", a.output.as_deref()));
                optional(&mut out, "--centers-out", &a.centers_out);
                a.save.outputs(&mut out);
                input_path(&a.input)
            }
            Command::Soft(a) => {
                out.push(("-o", a.output.as_deref()));
                input_path(&a.distances)
            }
            Command::Gmm(a) => {
                out.push(("-o", a.output.as_deref()));
                a.save.outputs(&mut out);
                input_path(&a.input)
            }
            Command::Select(a) => {
                out.push(("the selection table", None));
                optional(&mut out, "-o", &a.output);
                a.save.outputs(&mut out);
                input_path(&a.input)
            }
            Command::Fcm(a) => {
                out.push(("-o", a.output.as_deref()));
                a.save.outputs(&mut out);
                input_path(&a.input)
            }
            Command::Consensus(a) => {
                out.push(("-o", a.output.as_deref()));
                optional(&mut out, "--coassociation-out", &a.coassociation_out);
                a.save.outputs(&mut out);
                input_path(&a.input)
            }
            Command::Predict(a) => {
                out.push(("-o", a.output.as_deref()));
                let mut i = input_path(&a.input);
                i.push(a.model.as_path());
                i
            }
            Command::Plot(a) => {
                a.pictures.outputs(&mut out);
                let mut i = input_path(&a.input);
                i.push(a.model.as_path());
                i
            }
            Command::Evaluate(a) => {
                out.push(("standard output", None));
                let mut i = input_path(&a.input);
                i.extend(a.against.iter().map(Path::new));
                i.extend(a.model.iter().map(PathBuf::as_path));
                i
            }
            Command::Demo | Command::Completions(_) => {
                out.push(("standard output", None));
                Vec::new()
            }
        };
        (inputs, out)
    }
}

/// How the input is read.
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// The first row is a header (default: detected).
    #[arg(long, conflicts_with = "no_header")]
    pub header: bool,
    /// The first row is data.
    #[arg(long)]
    pub no_header: bool,
    /// Field delimiter for text input (default: tab for .tsv files or tab-separated first
    /// lines, else comma).
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<char>,
    /// Memory budget for the data, e.g. 512M or 4G (default: half the memory available). A
    /// .npy or Parquet input larger than this is fitted out of core by kmeans, gmm and fcm:
    /// the file is read once per pass, one block at a time.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory_limit: Option<u64>,
    /// Feature columns: header names, 1-based positions and ranges of either, e.g.
    /// `3-10,height` or `a-f`
    /// (default: every column not given to --id, --exclude or --weights). Other columns may
    /// hold text.
    #[arg(long, value_name = "LIST")]
    pub columns: Option<String>,
    /// Columns that are not features (names, positions, ranges).
    #[arg(long, value_name = "LIST")]
    pub exclude: Option<String>,
    /// A column copied unchanged to the front of every output row (an identifier; not a
    /// feature). Repeat for several.
    #[arg(long = "id", value_name = "COLUMN")]
    pub id: Vec<String>,
    /// Write each input row, unchanged, followed by its membership columns.
    #[arg(long)]
    pub append: bool,
    /// Write only the K largest probabilities of each row with their clusters
    /// (`c_1,p_1,...,c_K,p_K`); label, max_p, margin and entropy are still those of the full
    /// row, and a noise component's probability is always written (p_noise).
    #[arg(long, value_name = "K")]
    pub top_k: Option<usize>,
}

/// A size in bytes: a number with an optional K, M, G or T suffix (powers of 1024).
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'B' => 1,
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => {
                    return Err(format!(
                        "'{s}' is not a size: the unit must be K, M, G or T (e.g. 512M, 4G)"
                    ))
                }
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a size (e.g. 512M, 4G)"))?;
    if !(v.is_finite() && v > 0.0) {
        return Err(format!("'{s}': the size must be positive"));
    }
    Ok((v * mult as f64).min(u64::MAX as f64) as u64)
}

/// How distances become probabilities (the fields of the core's `SoftSpec`).
#[derive(Debug, Clone, Args)]
pub struct SoftOptions {
    /// Standard deviation for softmax, in the units of the distances (after standardisation)
    /// (default: estimated by maximum likelihood).
    #[arg(long, value_name = "S")]
    pub sigma: Option<f64>,
    /// Exponent for inverse-power (default: n_features - 1, at least 1).
    #[arg(long, value_name = "P")]
    pub power: Option<f64>,
    /// Softmax: estimate one variance per cluster.
    #[arg(long)]
    pub per_cluster_variance: bool,
    /// Softmax: mixing weights from the cluster sizes (default: equal).
    #[arg(long)]
    pub size_weights: bool,
    /// Softmax: divide log-scores by T (< 1 sharpens, > 1 softens).
    #[arg(long, value_name = "T", default_value_t = 1.0)]
    pub temperature: f64,
    /// Anchored: where the score is 1: a distance, or q:Q for a quantile of the cluster's own
    /// points' distances (default q:0, the closest point).
    #[arg(long, value_name = "A", value_parser = parsed::<Anchor>)]
    pub near: Option<Anchor>,
    /// Anchored: where the score is 0.5 (default q:1, the farthest point of the cluster).
    #[arg(long, value_name = "A", value_parser = parsed::<Anchor>)]
    pub half: Option<Anchor>,
    /// Anchored: where the score is --far-value: a distance, or q:Q for a quantile of all
    /// points' distances (default q:1, the farthest point of the data).
    #[arg(long, value_name = "A", value_parser = parsed::<Anchor>)]
    pub far: Option<Anchor>,
    /// Anchored: the score at the far anchor.
    #[arg(long, value_name = "V", default_value_t = DEFAULT_FAR_VALUE)]
    pub far_value: f64,
}

/// Typicality columns for centroid methods.
#[derive(Debug, Clone, Args)]
pub struct TypicalityArgs {
    /// Add columns t_0..t_{k-1} (chi-square typicality of each cluster) and outlier (1 - max t).
    #[arg(long)]
    pub typicality: bool,
    /// Spread of each cluster for typicality: one variance, or one per feature.
    #[arg(long, value_parser = choice(Spread::ALL, Spread::name), default_value_t = Spread::Isotropic)]
    pub spread: Spread,
}

#[derive(Debug, Clone, Args)]
pub struct KmeansArgs {
    /// CSV, TSV or .npy file; `-` or nothing reads standard input.
    pub input: Option<String>,
    /// Number of clusters; or a range `2..10` (inclusive) or a list `2,3,5` to fit each and keep
    /// the k whose implied spherical Gaussian mixture has the least BIC (the table goes to
    /// standard error and the report).
    #[arg(short = 'k', long = "k", value_name = "K")]
    pub k: String,
    /// How distances become probabilities: auto (default: the softmax variant, shared or
    /// per-cluster sigma, equal or size weights, with the least BIC), softmax (Gaussian
    /// posterior, sigma estimated),
    /// inverse-power (p ∝ d^(-p), fuzzy c-means form), minmax (linear baseline, for
    /// comparison), anchored (a score, not a probability; raw scores as s_j columns).
    #[arg(long, value_parser = choice(SoftKind::ALL, SoftKind::name), default_value_t = SoftKind::Auto)]
    pub soft: SoftKind,
    #[command(flatten)]
    pub soft_opts: SoftOptions,
    /// Standardise features before clustering.
    #[arg(long, value_parser = choice(Standardize::ALL, Standardize::name), default_value_t = Standardize::ZScore)]
    pub standardize: Standardize,
    /// Initialisation: k-means++ (greedy) or random (k random points).
    #[arg(long, value_parser = PossibleValuesParser::new(["k-means++", "random"]).try_map(|s| s.parse::<InitName>()), default_value = "k-means++")]
    pub init: InitName,
    /// Restarts (default: 1 for k-means++, 10 for random).
    #[arg(long, value_name = "N")]
    pub n_init: Option<usize>,
    /// How each iteration finds the nearest centres; every choice gives Lloyd's iterations.
    /// auto: Hamerly's triangle-inequality bounds (k >= 2), which skip the points they prove
    /// keep their cluster; exhaustive: every distance in every iteration; hamerly: the bounds.
    /// Out-of-core fits (input beyond --memory-limit) always compute every distance.
    #[arg(long, value_parser = choice(KMeansAlgorithm::ALL, KMeansAlgorithm::name), default_value_t = KMeansAlgorithm::Auto)]
    pub algorithm: KMeansAlgorithm,
    /// Maximum iterations per restart.
    #[arg(long, value_name = "M", default_value_t = kmeans_defaults::MAX_ITER)]
    pub max_iter: usize,
    /// Tolerance on the centre shift, relative to the mean feature variance.
    #[arg(long, value_name = "T", default_value_t = kmeans_defaults::TOL)]
    pub tol: f64,
    /// Random seed.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Column holding sample weights (header name, or 1-based position); not a feature.
    #[arg(long, value_name = "COLUMN")]
    pub weights: Option<String>,
    /// Output file (default: standard output); written atomically.
    #[arg(short = 'o', long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Also write the centres (in the input's units) to this CSV file.
    #[arg(long, value_name = "FILE")]
    pub centers_out: Option<PathBuf>,
    #[command(flatten)]
    pub typ: TypicalityArgs,
    #[command(flatten)]
    pub save: SaveArgs,
    #[command(flatten)]
    pub input_opts: InputArgs,
}

/// Where to write the fit report and the model.
#[derive(Debug, Clone, Args)]
pub struct SaveArgs {
    /// Write a JSON report of the fit (parameters, convergence, criteria, timings).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Save the fitted model (scaler included) as versioned JSON, for `softclust predict`.
    #[arg(long, value_name = "FILE")]
    pub model_out: Option<PathBuf>,
    #[command(flatten)]
    pub pictures: PictureArgs,
}

/// Pictures of a fit.
#[derive(Debug, Clone, Args)]
pub struct PictureArgs {
    /// Draw the fit as a self-contained SVG: the data on their first two principal components
    /// (or --plot-columns), coloured by label with opacity by max_p, outliers ringed, centres
    /// marked; the distribution of max_p per cluster; for select, the criterion against k.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Write one self-contained HTML page with the summary, the tables and the pictures.
    #[arg(long, value_name = "FILE.html")]
    pub report_html: Option<PathBuf>,
    /// Plot these two columns (names or 1-based positions, e.g. `x,y`) instead of the
    /// principal components.
    #[arg(long, value_name = "A,B")]
    pub plot_columns: Option<String>,
}

impl PictureArgs {
    /// Whether any picture is asked for.
    pub fn any(&self) -> bool {
        self.plot.is_some() || self.report_html.is_some()
    }
}

/// EM settings shared by `gmm` and `select`.
#[derive(Debug, Clone, Args)]
pub struct EmArgs {
    /// Initialisation: kmeans (responsibilities from one k-means run), k-means++ (one-hot on
    /// the seeds), random (random responsibilities), random_from_data (one-hot on k points).
    #[arg(long, value_parser = choice(GmmInit::ALL, GmmInit::name), default_value_t = GmmInit::KMeans)]
    pub init: GmmInit,
    /// Runs from different initialisations; the best lower bound wins (default 3: one run
    /// misses the best optimum in some seeds).
    #[arg(long, value_name = "N", default_value_t = gmm_defaults::N_INIT)]
    pub n_init: usize,
    /// Maximum EM iterations per run.
    #[arg(long, value_name = "M", default_value_t = gmm_defaults::MAX_ITER)]
    pub max_iter: usize,
    /// Stop when the mean log-likelihood changes by less than T.
    #[arg(long, value_name = "T", default_value_t = gmm_defaults::TOL)]
    pub tol: f64,
    /// Added to the diagonal of every covariance.
    #[arg(long, value_name = "R", default_value_t = gmm_defaults::REG_COVAR)]
    pub reg_covar: f64,
    /// Raise --reg-covar as needed instead of failing on a singular covariance.
    #[arg(long)]
    pub auto_regularize: bool,
    /// Standardise features before fitting.
    #[arg(long, value_parser = choice(Standardize::ALL, Standardize::name), default_value_t = Standardize::ZScore)]
    pub standardize: Standardize,
    /// Column holding sample weights (header name, or 1-based position); not a feature.
    #[arg(long, value_name = "COLUMN")]
    pub weights: Option<String>,
    /// Random seed.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
}

#[derive(Debug, Clone, Args)]
pub struct GmmArgs {
    /// CSV, TSV or .npy file; `-` or nothing reads standard input.
    pub input: Option<String>,
    /// Number of components.
    #[arg(short = 'k', long = "k", value_name = "K")]
    pub k: usize,
    /// Covariance structure: full (one general matrix per component), tied (one shared),
    /// diag (diagonal per component), spherical (one variance per component).
    #[arg(long, value_parser = choice(CovarianceType::ALL, CovarianceType::name), default_value_t = CovarianceType::Full)]
    pub covariance: CovarianceType,
    /// Add a uniform noise component over the data's bounding box, starting with weight P;
    /// memberships gain a p_noise column.
    #[arg(long, value_name = "P")]
    pub noise: Option<f64>,
    /// Add columns t_0..t_{k-1} (chi-square typicality of the Mahalanobis distance) and outlier.
    #[arg(long)]
    pub typicality: bool,
    #[command(flatten)]
    pub em: EmArgs,
    /// Output file (default: standard output); written atomically.
    #[arg(short = 'o', long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub save: SaveArgs,
    #[command(flatten)]
    pub input_opts: InputArgs,
}

#[derive(Debug, Clone, Args)]
pub struct SelectArgs {
    /// CSV, TSV or .npy file; `-` or nothing reads standard input.
    pub input: Option<String>,
    /// Numbers of components to try: a range `1..10` (inclusive) or a list `2,3,5`.
    #[arg(short = 'k', long = "k", value_name = "RANGE", default_value = "1..10")]
    pub k: String,
    /// Covariance types to try: `all` or a list such as `full,diag`.
    #[arg(long, value_name = "TYPES", default_value = "all")]
    pub covariance: String,
    /// Ranking criterion (lower is better).
    #[arg(long, value_parser = choice(Criterion::ALL, Criterion::name), default_value_t = Criterion::Bic)]
    pub criterion: Criterion,
    /// Print the table as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub em: EmArgs,
    /// Write the chosen model's memberships to this file.
    #[arg(short = 'o', long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub save: SaveArgs,
    #[command(flatten)]
    pub input_opts: InputArgs,
}

#[derive(Debug, Clone, Args)]
pub struct PredictArgs {
    /// Model file written by --model-out.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// CSV, TSV or .npy file with the same features; `-` or nothing reads standard input.
    pub input: Option<String>,
    /// Output file (default: standard output); written atomically.
    #[arg(short = 'o', long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub input_opts: InputArgs,
}

#[derive(Debug, Clone, Args)]
pub struct EvaluateArgs {
    /// Memberships (CSV, TSV, .npy or Parquet, e.g. softclust's output: its p_0, p_1, ...
    /// columns are read) or, with --model, the data to score; `-` or nothing reads standard
    /// input.
    pub input: Option<String>,
    /// The column of known labels (header name or 1-based position) in INPUT: write it next to
    /// the memberships with `--id COLUMN` or `--append`. Any values: text or numbers.
    #[arg(long, value_name = "COLUMN", required_unless_present = "against")]
    pub labels: Option<String>,
    /// A second memberships file, row for row with INPUT: print the fuzzy Rand index of the
    /// two and its chance-adjusted form.
    #[arg(long, value_name = "FILE")]
    pub against: Option<String>,
    /// Score this saved model's memberships of INPUT (the data, with its labels column)
    /// instead of reading memberships.
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Equal-width bins of the top probability for the calibration error.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub n_bins: usize,
    /// Above this many rows the fuzzy Rand index uses a random sample of this size (its cost
    /// grows with the square of the rows).
    #[arg(long, value_name = "N", default_value_t = softclust::metrics::FuzzyRand::DEFAULT_MAX_POINTS)]
    pub max_points: usize,
    /// Seed of that sample.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,
    /// Print the results as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub input_opts: InputArgs,
}

#[derive(Debug, Clone, Args)]
pub struct SoftArgs {
    /// Distance matrix (n x k): CSV, TSV or .npy; `-` or nothing reads standard input.
    pub distances: Option<String>,
    /// How distances become probabilities (see `softclust kmeans --help`).
    #[arg(long, value_parser = choice(SoftKind::ALL, SoftKind::name), default_value_t = SoftKind::Auto)]
    pub method: SoftKind,
    /// The matrix holds squared distances.
    #[arg(long)]
    pub squared: bool,
    /// Number of features of the data the distances were measured in (for the estimate of
    /// sigma, and the default power). Default: estimated from the nearest-centre distances by
    /// maximum likelihood (d²/sigma² chi-square with D degrees of freedom), and reported.
    #[arg(long, value_name = "D")]
    pub dim: Option<usize>,
    #[command(flatten)]
    pub soft_opts: SoftOptions,
    /// Output file (default: standard output); written atomically.
    #[arg(short = 'o', long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub input_opts: InputArgs,
}

pub fn parse() -> Result<Cli, clap::Error> {
    Cli::try_parse()
}

#[derive(Debug, Clone, Args)]
pub struct FcmArgs {
    /// CSV, TSV or .npy file; `-` or nothing reads standard input.
    pub input: Option<String>,
    /// Number of clusters.
    #[arg(short = 'k', long = "k", value_name = "K")]
    pub k: usize,
    /// Fuzzifier m > 1 (2 is usual; near 1 is nearly hard, large m is nearly uniform).
    #[arg(short = 'm', long = "m", value_name = "M", default_value_t = fcm_defaults::M)]
    pub m: f64,
    /// Maximum iterations.
    #[arg(long, value_name = "N", default_value_t = fcm_defaults::MAX_ITER)]
    pub max_iter: usize,
    /// Stop when the Frobenius norm of the membership change is below T.
    #[arg(long, value_name = "T", default_value_t = fcm_defaults::TOL)]
    pub tol: f64,
    /// Seed for the k-means++ initial centres.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Standardise features first.
    #[arg(long, value_parser = choice(Standardize::ALL, Standardize::name), default_value_t = Standardize::ZScore)]
    pub standardize: Standardize,
    /// Column holding sample weights (header name, or 1-based position); not a feature.
    #[arg(long, value_name = "COLUMN")]
    pub weights: Option<String>,
    /// Output file (default: standard output); written atomically.
    #[arg(short = 'o', long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub typ: TypicalityArgs,
    #[command(flatten)]
    pub save: SaveArgs,
    #[command(flatten)]
    pub input_opts: InputArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ConsensusArgs {
    /// CSV, TSV or .npy file; `-` or nothing reads standard input.
    pub input: Option<String>,
    /// Number of clusters.
    #[arg(short = 'k', long = "k", value_name = "K")]
    pub k: usize,
    /// Number of k-means runs.
    #[arg(long, value_name = "B", default_value_t = consensus_defaults::RUNS)]
    pub runs: usize,
    /// How each run's data are drawn: bootstrap, subsample:F (a fraction F of the points), or
    /// reseed (all points, new seed).
    #[arg(long, value_name = "SCHEME", default_value = "bootstrap", value_parser = parsed::<Resample>)]
    pub resample: Resample,
    /// Random seed.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Restarts of the reference k-means fit the runs are aligned to.
    #[arg(long, value_name = "N", default_value_t = consensus_defaults::REFERENCE_N_INIT)]
    pub n_init: usize,
    /// Maximum Lloyd iterations per fit.
    #[arg(long, value_name = "M", default_value_t = kmeans_defaults::MAX_ITER)]
    pub max_iter: usize,
    /// k-means tolerance.
    #[arg(long, value_name = "T", default_value_t = kmeans_defaults::TOL)]
    pub tol: f64,
    /// Standardise features first.
    #[arg(long, value_parser = choice(Standardize::ALL, Standardize::name), default_value_t = Standardize::ZScore)]
    pub standardize: Standardize,
    /// Write the n x n co-association matrix (float32 .npy; n <= 20,000).
    #[arg(long, value_name = "FILE")]
    pub coassociation_out: Option<PathBuf>,
    /// Output file (default: standard output); written atomically.
    #[arg(short = 'o', long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub save: SaveArgs,
    #[command(flatten)]
    pub input_opts: InputArgs,
}

impl KmeansArgs {
    /// The k of a single fit; a range is refused with `why` (where one fit is all there is).
    pub fn single_k(&self, why: &str) -> crate::error::CliResult<usize> {
        match parse_k_range(&self.k)?.as_slice() {
            [k] => Ok(*k),
            _ => Err(crate::error::CliError::msg(format!(
                "-k {}: a range of k {why}; give one k",
                self.k
            ))),
        }
    }
}

impl SoftOptions {
    /// The core's flat soft-assignment options for `kind`.
    pub fn spec(&self, kind: SoftKind) -> softclust::SoftSpec {
        softclust::SoftSpec {
            kind,
            sigma: self.sigma,
            power: self.power,
            per_cluster_variance: self.per_cluster_variance,
            size_weights: self.size_weights,
            temperature: self.temperature,
            near: self.near,
            half: self.half,
            far: self.far,
            far_value: self.far_value,
        }
    }
}

/// The most values of k one `select` or `kmeans` may try.
pub const MAX_KS: usize = 1000;

/// Parses `1..10` (inclusive), `4` or `2,3,5` (at most [`MAX_KS`] values).
pub fn parse_k_range(s: &str) -> crate::error::CliResult<Vec<usize>> {
    let bad = || {
        crate::error::CliError::msg(format!(
            "invalid -k '{s}': expected a range like 1..10 or a list like 2,3,5 of integers >= 1"
        ))
    };
    let too_many = |count: usize| {
        crate::error::CliError::msg(format!(
            "invalid -k '{s}': {count} values of k; give at most {MAX_KS} (each one is a fit)"
        ))
    };
    let ks: Vec<usize> = if let Some((a, b)) = s.split_once("..") {
        let a: usize = a.trim().parse().map_err(|_| bad())?;
        let b: usize = b
            .trim()
            .trim_start_matches('=')
            .parse()
            .map_err(|_| bad())?;
        if a > b {
            return Err(bad());
        }
        // Checked before the range is collected: 1..2^64 must not be allocated.
        if b - a >= MAX_KS {
            return Err(too_many((b - a).saturating_add(1)));
        }
        (a..=b).collect()
    } else {
        s.split(',')
            .map(|p| p.trim().parse::<usize>().map_err(|_| bad()))
            .collect::<crate::error::CliResult<_>>()?
    };
    if ks.is_empty() || ks.contains(&0) {
        return Err(bad());
    }
    if ks.len() > MAX_KS {
        return Err(too_many(ks.len()));
    }
    Ok(ks)
}
