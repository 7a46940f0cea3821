//! Structured errors. Every message says what is wrong and what to do about it.

use crate::float::Shortest;
use std::fmt;

/// Everything that can go wrong in softclust's numerics.
///
/// Row and column indices are 0-based, as in the arrays the caller passed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// The data (or another input matrix) has no rows.
    EmptyInput {
        /// Which input: "data", "distance matrix", ...
        what: &'static str,
    },
    /// The data has rows but no columns.
    NoColumns {
        /// Which input.
        what: &'static str,
    },
    /// A NaN or infinite value.
    NonFinite {
        /// Which input.
        what: &'static str,
        /// 0-based row.
        row: usize,
        /// 0-based column.
        column: usize,
        /// The offending value.
        value: f64,
    },
    /// A finite value so large that squared distances would overflow.
    TooLarge {
        /// Which input.
        what: &'static str,
        /// 0-based row.
        row: usize,
        /// 0-based column.
        column: usize,
        /// The offending value.
        value: f64,
        /// The largest magnitude accepted.
        limit: f64,
    },
    /// Sample weights whose total is too large to compute with.
    WeightsTooLarge {
        /// The total (possibly infinite).
        total: f64,
        /// The largest total accepted.
        limit: f64,
    },
    /// A fit stopped by its observer (for instance on Ctrl-C).
    Interrupted,
    /// A negative entry in a distance matrix.
    NegativeDistance {
        /// 0-based row.
        row: usize,
        /// 0-based column.
        column: usize,
        /// The offending value.
        value: f64,
    },
    /// Fewer points than clusters.
    TooFewPoints {
        /// Number of points in the data.
        n_samples: usize,
        /// Number of clusters asked for.
        n_clusters: usize,
    },
    /// A parameter out of its valid range.
    InvalidParameter {
        /// Parameter name, as in the config setter.
        name: &'static str,
        /// The value given, formatted.
        value: String,
        /// What is allowed.
        expected: &'static str,
    },
    /// Two inputs whose shapes do not fit together.
    ShapeMismatch {
        /// What was checked, e.g. "initial centres".
        what: &'static str,
        /// Expected shape or length, formatted.
        expected: String,
        /// Shape or length found, formatted.
        found: String,
    },
    /// A sample weight that is negative or not finite.
    InvalidWeight {
        /// 0-based row.
        row: usize,
        /// The offending weight.
        value: f64,
    },
    /// All sample weights are zero.
    ZeroTotalWeight,
    /// A covariance that is not positive definite even after regularisation.
    IllConditioned {
        /// The component (0-based), or `None` for the shared (tied) covariance.
        component: Option<usize>,
        /// The regularisation that was added to the diagonal.
        reg_covar: f64,
    },
    /// A soft method needs a quantity it cannot estimate from the inputs given.
    MissingParameter {
        /// The missing quantity.
        name: &'static str,
        /// How to supply it.
        hint: &'static str,
    },
    /// A model file (or model text) that cannot be used: not a softclust model, a newer schema,
    /// malformed, or parameters that do not fit together.
    InvalidModel {
        /// What is wrong and what to do, in a sentence.
        reason: String,
    },
    /// A matrix given as memberships that is not one (an entry outside [0, 1], or a row that
    /// does not sum to 1).
    NotMemberships {
        /// Which input.
        what: &'static str,
        /// Where and what, in a phrase.
        reason: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::EmptyInput { what } => {
                write!(f, "the {what} has no rows; give at least one point")
            }
            Error::NoColumns { what } => {
                write!(
                    f,
                    "the {what} has no columns; give at least one numeric feature"
                )
            }
            Error::NonFinite {
                what,
                row,
                column,
                value,
            } => write!(
                f,
                "the {what} has a non-finite value ({value}) at row {row}, column {column} \
                 (0-based); remove or impute missing and infinite values first"
            ),
            Error::TooLarge {
                what,
                row,
                column,
                value,
                limit,
            } => write!(
                f,
                "the {what} has a value too large to compute with ({value:e}) at row {row}, column \
                 {column} (0-based): magnitudes above {limit:e} make squared distances overflow; \
                 divide that column by a constant (or standardise it) first"
            ),
            Error::WeightsTooLarge { total, limit } => write!(
                f,
                "the sample weights sum to {total:e}, above the {limit:e} softclust can compute \
                 with; divide them all by a constant (only their ratios set the clusters)"
            ),
            Error::Interrupted => write!(f, "interrupted"),
            Error::NegativeDistance { row, column, value } => write!(
                f,
                "the distance matrix has a negative entry ({}) at row {row}, column {column} \
                 (0-based); distances must be >= 0",
                Shortest(*value)
            ),
            Error::TooFewPoints {
                n_samples,
                n_clusters,
            } => write!(
                f,
                "{n_clusters} clusters need at least {n_clusters} points, but the data have \
                 {n_samples} (n_samples={n_samples} < n_clusters={n_clusters}); lower k or give \
                 more data"
            ),
            Error::InvalidParameter {
                name,
                value,
                expected,
            } => write!(f, "invalid {name} = {value}: expected {expected}"),
            Error::ShapeMismatch {
                what,
                expected,
                found,
            } => write!(f, "{what}: expected {expected}, found {found}"),
            Error::InvalidWeight { row, value } => write!(
                f,
                "sample weight at row {row} (0-based) is {}; weights must be finite and >= 0",
                Shortest(*value)
            ),
            Error::ZeroTotalWeight => write!(
                f,
                "all sample weights are zero; give at least one point a positive weight"
            ),
            Error::IllConditioned {
                component,
                reg_covar,
            } => {
                let which = match component {
                    Some(j) => format!("the covariance of component {j}"),
                    None => "the shared (tied) covariance".to_string(),
                };
                write!(
                    f,
                    "{which} is not positive definite even with reg_covar = {reg_covar:e} added to \
                     its diagonal (a component collapsed onto too few or identical points); use \
                     fewer components, a larger reg_covar or automatic regularisation, or \
                     standardise the data"
                )
            }
            Error::MissingParameter { name, hint } => {
                write!(f, "cannot determine {name}: {hint}")
            }
            Error::InvalidModel { reason } => f.write_str(reason),
            Error::NotMemberships { what, reason } => write!(
                f,
                "the {what} are not probabilities: {reason}; give the probability columns \
                 only (p_0, p_1, ...), one row per point"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// Shorthand for results in this crate.
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn invalid(
    name: &'static str,
    value: impl fmt::Display,
    expected: &'static str,
) -> Error {
    let text = value.to_string();
    // A float that prints as a long run of digits (1e300 as 301 of them) reads better in
    // scientific notation.
    let value = match text.parse::<f64>() {
        Ok(v) if text.len() > 20 => Shortest(v).to_string(),
        _ => text,
    };
    Error::InvalidParameter {
        name,
        value,
        expected,
    }
}

/// `Display` and `FromStr` for an enum whose `name()` is its one spelling (the CLI's flag
/// value, the Python keyword value and the model files' field value): every face parses and
/// prints the core's names, and an unknown name is an [`Error::InvalidParameter`] that lists
/// the valid ones.
macro_rules! impl_names {
    ($ty:ty, $param:literal, $expected:literal, [$($v:expr),+ $(,)?]) => {
        $crate::error::impl_names!($ty, $param, $expected, [$($v),+].into_iter());
    };
    ($ty:ty, $param:literal, $expected:literal, $all:expr) => {
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
        impl std::str::FromStr for $ty {
            type Err = $crate::Error;
            fn from_str(s: &str) -> $crate::Result<Self> {
                $all
                    .into_iter()
                    .find(|v| v.name() == s)
                    .ok_or_else(|| $crate::error::invalid($param, format!("{s:?}"), $expected))
            }
        }
    };
}
pub(crate) use impl_names;
