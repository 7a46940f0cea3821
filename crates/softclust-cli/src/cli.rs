//! Command-line flags. Lowered into library objects by `commands`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Cluster membership probabilities: for every point, the probability that it belongs to each
/// cluster.
#[derive(Debug, Parser)]
#[command(name = "softclust", version, about, long_about = None, propagate_version = true)]
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
    /// k-means with soft memberships on the Iris data shipped with softclust.
    Demo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SoftKind {
    /// Gaussian posterior, p ∝ exp(-d²/(2σ²)), σ² estimated from the data.
    Softmax,
    /// p ∝ d^(-p), gravity default p = n_features - 1 (fuzzy c-means form).
    InversePower,
    /// Linear min-max scaling per cluster: a poor baseline, for comparison.
    Minmax,
    /// Anchored score: closest point 1, farthest assigned point 0.5, farthest point 0.01 (a
    /// score, not a probability; raw scores are written as s_j columns).
    Anchored,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StandardizeKind {
    /// Subtract the mean, divide by the standard deviation.
    Zscore,
    /// Subtract the median, divide by the interquartile range.
    Robust,
    /// Use the data as they are.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InitKind {
    /// Greedy k-means++.
    #[value(name = "k-means++")]
    KMeansPlusPlus,
    /// k random points.
    Random,
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
}

/// How distances become probabilities.
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
    #[arg(long, value_name = "A")]
    pub near: Option<String>,
    /// Anchored: where the score is 0.5 (default q:1, the farthest point of the cluster).
    #[arg(long, value_name = "A")]
    pub half: Option<String>,
    /// Anchored: where the score is --far-value: a distance, or q:Q for a quantile of all
    /// points' distances (default q:1, the farthest point of the data).
    #[arg(long, value_name = "A")]
    pub far: Option<String>,
    /// Anchored: the score at the far anchor.
    #[arg(long, value_name = "V", default_value_t = 0.01)]
    pub far_value: f64,
}

/// Typicality columns for centroid methods.
#[derive(Debug, Clone, Args)]
pub struct TypicalityArgs {
    /// Add columns t_0..t_{k-1} (chi-square typicality of each cluster) and outlier (1 - max t).
    #[arg(long)]
    pub typicality: bool,
    /// Spread of each cluster for typicality: one variance, or one per feature.
    #[arg(long, value_enum, default_value_t = SpreadKind::Isotropic)]
    pub spread: SpreadKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SpreadKind {
    /// One variance per cluster.
    Isotropic,
    /// One variance per cluster and feature.
    Diagonal,
}

#[derive(Debug, Clone, Args)]
pub struct KmeansArgs {
    /// CSV, TSV or .npy file; `-` or nothing reads standard input.
    pub input: Option<String>,
    /// Number of clusters.
    #[arg(short = 'k', long = "k", value_name = "K")]
    pub k: usize,
    /// How distances become probabilities.
    #[arg(long, value_enum, default_value_t = SoftKind::Softmax)]
    pub soft: SoftKind,
    #[command(flatten)]
    pub soft_opts: SoftOptions,
    /// Standardise features before clustering.
    #[arg(long, value_enum, default_value_t = StandardizeKind::Zscore)]
    pub standardize: StandardizeKind,
    /// Initialisation.
    #[arg(long, value_enum, default_value_t = InitKind::KMeansPlusPlus)]
    pub init: InitKind,
    /// Restarts (default: 1 for k-means++, 10 for random).
    #[arg(long, value_name = "N")]
    pub n_init: Option<usize>,
    /// Maximum iterations per restart.
    #[arg(long, value_name = "M", default_value_t = 300)]
    pub max_iter: usize,
    /// Tolerance on the centre shift, relative to the mean feature variance.
    #[arg(long, value_name = "T", default_value_t = 1e-4)]
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CovKind {
    /// One general covariance matrix per component.
    Full,
    /// One general covariance matrix shared by all components.
    Tied,
    /// One diagonal covariance matrix per component.
    Diag,
    /// One variance per component.
    Spherical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GmmInitKind {
    /// Responsibilities from one k-means run.
    Kmeans,
    /// One-hot on the k-means++ seeds.
    #[value(name = "k-means++")]
    KMeansPlusPlus,
    /// Random responsibilities.
    Random,
    /// One-hot on k random points.
    #[value(name = "random_from_data")]
    RandomFromData,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CriterionKind {
    /// Bayesian information criterion.
    Bic,
    /// Akaike information criterion.
    Aic,
    /// Integrated completed likelihood.
    Icl,
}

/// EM settings shared by `gmm` and `select`.
#[derive(Debug, Clone, Args)]
pub struct EmArgs {
    /// Initialisation.
    #[arg(long, value_enum, default_value_t = GmmInitKind::Kmeans)]
    pub init: GmmInitKind,
    /// Runs from different initialisations; the best lower bound wins.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub n_init: usize,
    /// Maximum EM iterations per run.
    #[arg(long, value_name = "M", default_value_t = 100)]
    pub max_iter: usize,
    /// Stop when the mean log-likelihood changes by less than T.
    #[arg(long, value_name = "T", default_value_t = 1e-3)]
    pub tol: f64,
    /// Added to the diagonal of every covariance.
    #[arg(long, value_name = "R", default_value_t = 1e-6)]
    pub reg_covar: f64,
    /// Raise --reg-covar as needed instead of failing on a singular covariance.
    #[arg(long)]
    pub auto_regularize: bool,
    /// Standardise features before fitting.
    #[arg(long, value_enum, default_value_t = StandardizeKind::Zscore)]
    pub standardize: StandardizeKind,
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
    /// Covariance structure.
    #[arg(long, value_enum, default_value_t = CovKind::Full)]
    pub covariance: CovKind,
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
    #[arg(long, value_enum, default_value_t = CriterionKind::Bic)]
    pub criterion: CriterionKind,
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
pub struct SoftArgs {
    /// Distance matrix (n x k): CSV, TSV or .npy; `-` or nothing reads standard input.
    pub distances: Option<String>,
    /// How distances become probabilities.
    #[arg(long, value_enum, default_value_t = SoftKind::Softmax)]
    pub method: SoftKind,
    /// The matrix holds squared distances.
    #[arg(long)]
    pub squared: bool,
    /// Number of features of the data the distances were measured in (needed to estimate
    /// sigma, and for the default power).
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
    #[arg(short = 'm', long = "m", value_name = "M", default_value_t = 2.0)]
    pub m: f64,
    /// Maximum iterations.
    #[arg(long, value_name = "N", default_value_t = 300)]
    pub max_iter: usize,
    /// Stop when the Frobenius norm of the membership change is below T.
    #[arg(long, value_name = "T", default_value_t = 1e-5)]
    pub tol: f64,
    /// Seed for the k-means++ initial centres.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Standardise features first.
    #[arg(long, value_enum, default_value_t = StandardizeKind::Zscore)]
    pub standardize: StandardizeKind,
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
    #[arg(long, value_name = "B", default_value_t = 100)]
    pub runs: usize,
    /// How each run's data are drawn: bootstrap, subsample:F (a fraction F of the points), or
    /// reseed (all points, new seed).
    #[arg(long, value_name = "SCHEME", default_value = "bootstrap")]
    pub resample: String,
    /// Random seed.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Restarts of the reference k-means fit the runs are aligned to.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub n_init: usize,
    /// Maximum Lloyd iterations per fit.
    #[arg(long, value_name = "M", default_value_t = 300)]
    pub max_iter: usize,
    /// k-means tolerance.
    #[arg(long, value_name = "T", default_value_t = 1e-4)]
    pub tol: f64,
    /// Standardise features first.
    #[arg(long, value_enum, default_value_t = StandardizeKind::Zscore)]
    pub standardize: StandardizeKind,
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
