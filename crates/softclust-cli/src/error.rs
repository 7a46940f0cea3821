//! The CLI's error: a message for the user, or a closed output pipe (not an error for them).

use std::fmt::Display;
use std::io;

#[derive(Debug)]
pub enum CliError {
    /// One line for stderr; exit status 2.
    Message(String),
    /// The reader of our output went away; exit quietly with status 0.
    BrokenPipe,
}

pub type CliResult<T> = Result<T, CliError>;

impl CliError {
    pub fn msg(m: impl Display) -> Self {
        CliError::Message(m.to_string())
    }

    /// An I/O error while writing `what`.
    pub fn io(what: &str, e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            CliError::BrokenPipe
        } else {
            CliError::Message(format!("{what}: {e}"))
        }
    }
}

impl From<softclust::Error> for CliError {
    fn from(e: softclust::Error) -> Self {
        CliError::Message(e.to_string())
    }
}
