//! The `softclust` command. Exit status: 0 on success (and on a closed output pipe), 2 on a
//! usage or input error, with one line on stderr.

mod cli;
mod commands;
mod demo;
mod error;
mod input;
mod output;
mod progress;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match cli::parse() {
        Ok(a) => a,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match commands::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error::CliError::BrokenPipe) => ExitCode::SUCCESS,
        Err(error::CliError::Message(m)) => {
            eprintln!("softclust: error: {m}");
            ExitCode::from(2)
        }
    }
}
