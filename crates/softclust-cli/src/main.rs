//! The `softclust` command. Exit status: 0 on success (and on a closed output pipe), 2 on a
//! usage or input error, with one line on stderr.

mod cli;
mod commands;
mod demo;
mod error;
mod input;
mod mixture;
mod model_file;
mod output;
mod progress;
mod report;

use std::process::ExitCode;

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
    match commands::run(args) {
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
