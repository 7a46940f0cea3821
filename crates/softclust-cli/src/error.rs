//! The CLI's error: a message for the user (a closed output pipe is not one: `output::write_to`
//! treats it as success); library errors in terms of the flags that set the parameters.

use std::fmt::Display;
use std::io;

#[derive(Debug)]
pub enum CliError {
    /// One line for stderr; exit status 2.
    Message(String),
}

pub type CliResult<T> = Result<T, CliError>;

impl CliError {
    pub fn msg(m: impl Display) -> Self {
        CliError::Message(m.to_string())
    }

    /// An I/O error while writing `what`.
    pub fn io(what: &str, e: io::Error) -> Self {
        CliError::Message(format!("{what}: {e}"))
    }
}

impl From<softclust::Error> for CliError {
    fn from(e: softclust::Error) -> Self {
        CliError::Message(e.to_string())
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
