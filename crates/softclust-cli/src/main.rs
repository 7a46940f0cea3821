//! The `softclust` command. Exit status: 0 on success (and on a closed output pipe), 2 on a
//! usage or input error, with one line on stderr.

mod cli;
mod commands;
mod error;
mod input;
mod mixture;
mod model_io;
mod output;
mod prepare;
mod progress;
mod report;

use cli::{Cli, Command};
use error::{CliError, CliResult};
use std::process::ExitCode;

/// Sets the thread count, then runs the subcommand.
fn run(cli: Cli) -> CliResult<()> {
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
    let q = cli.quiet;
    match cli.command {
        Command::Kmeans(a) => commands::kmeans::run(&a, q),
        Command::Soft(a) => commands::soft::run(&a, q),
        Command::Gmm(a) => commands::gmm::run(&a, q),
        Command::Select(a) => commands::select::run(&a, q),
        Command::Fcm(a) => commands::fcm::run(&a, q),
        Command::Consensus(a) => commands::consensus::run(&a, q),
        Command::Predict(a) => commands::predict::run(&a, q),
        Command::Demo => commands::demo::run(q),
    }
}

fn main() -> ExitCode {
    let args = match cli::parse() {
        Ok(a) => a,
        Err(e) => {
            // Help and version go to stdout (exit 0); a usage error is one line on stderr.
            if !e.use_stderr() {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            eprintln!(
                "softclust: error: {} (see softclust --help)",
                one_line(&e.render().to_string())
            );
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error::CliError::BrokenPipe) => ExitCode::SUCCESS,
        Err(error::CliError::Message(m)) => {
            eprintln!("softclust: error: {m}");
            ExitCode::from(2)
        }
    }
}

/// clap's multi-line usage message folded into one line.
fn one_line(rendered: &str) -> String {
    rendered
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("For more information") && !l.starts_with("Usage:")
        })
        .map(|l| l.strip_prefix("error: ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join(" ")
}
