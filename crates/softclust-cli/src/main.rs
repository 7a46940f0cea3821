//! The `softclust` command. Exit status: 0 on success (and on a closed output pipe, see
//! `output::write_to`), 2 on a usage or input error, with one line on stderr.

/// One line on stderr. A closed or full stderr is ignored: the result (exit status and output
/// files) must not depend on whether the summary could be printed.
macro_rules! note {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

mod cli;
mod columns;
mod commands;
mod error;
mod input;
mod mixture;
mod model_io;
mod output;
mod pictures;
mod plot;
mod prepare;
mod progress;
mod report;
mod source;
mod sparse_input;
mod stream;

use cli::{Cli, Command};
use error::{CliError, CliResult};
use std::process::ExitCode;

/// The version line: the crate's version and the SIMD instruction set the kernels use here.
fn version() -> &'static str {
    static V: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    V.get_or_init(|| {
        format!(
            "{} (SIMD: {})",
            env!("CARGO_PKG_VERSION"),
            softclust::simd_level()
        )
    })
}

/// Sets the thread count, checks the output paths, then runs the subcommand.
fn run(cli: Cli) -> CliResult<()> {
    if cli.threads == Some(0) {
        return Err(CliError::msg(
            "invalid --threads 0: expected an integer >= 1",
        ));
    }
    start_threads(cli.threads)?;
    let (inputs, outputs) = cli.command.paths();
    output::check_paths(&inputs, &outputs)?;
    let q = cli.quiet;
    match cli.command {
        Command::Kmeans(a) => commands::kmeans::run(&a, q),
        Command::Soft(a) => commands::soft::run(&a, q),
        Command::Gmm(a) => commands::gmm::run(&a, q),
        Command::Select(a) => commands::select::run(&a, q),
        Command::Fcm(a) => commands::fcm::run(&a, q),
        Command::Consensus(a) => commands::consensus::run(&a, q),
        Command::Predict(a) => commands::predict::run(&a, q),
        Command::Plot(a) => commands::plot::run(&a, q),
        Command::Evaluate(a) => commands::evaluate::run(&a),
        Command::Demo => commands::demo::run(q),
        Command::Completions(a) => commands::completions::run(&a),
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
            note!(
                "softclust: error: {} (see softclust --help)",
                one_line(&e.render().to_string())
            );
            return ExitCode::from(2);
        }
    };
    output::install_signal_cleanup();
    // Files are staged while the command runs and renamed into place only when all of it
    // succeeded.
    match run(args).and_then(|()| output::commit()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error::CliError::Message(m)) => {
            output::discard();
            // One line, whatever a message quotes from the input.
            let m: String = m
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            note!("softclust: error: {m}");
            ExitCode::from(2)
        }
    }
}

/// Starts the global thread pool: `threads` threads, or one per core. If the machine refuses
/// that many threads, fewer are tried before giving up with a message (never a panic).
fn start_threads(threads: Option<usize>) -> CliResult<()> {
    let build = |n: Option<usize>| {
        let mut b = rayon::ThreadPoolBuilder::new();
        if let Some(n) = n {
            b = b.num_threads(n);
        }
        b.build_global()
    };
    match (build(threads), threads) {
        (Ok(()), _) => Ok(()),
        (Err(e), Some(t)) => Err(CliError::msg(format!(
            "cannot start {t} threads: {e}; try a smaller --threads"
        ))),
        (Err(_), None) => build(Some(1)).map_err(|e| {
            CliError::msg(format!(
                "cannot start a worker thread: {e}; raise the process limit (ulimit -u) or free \
                 resources"
            ))
        }),
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
