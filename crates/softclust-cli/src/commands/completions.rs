//! `softclust completions SHELL`: a completion script for bash, zsh or fish on stdout.

use crate::cli::{Cli, CompletionsArgs};
use crate::error::CliResult;
use crate::output::write_to;
use clap::CommandFactory;
use clap_complete::{generate, Shell};

pub fn run(a: &CompletionsArgs) -> CliResult<()> {
    let shell = match a.shell.as_str() {
        "zsh" => Shell::Zsh,
        "fish" => Shell::Fish,
        _ => Shell::Bash,
    };
    let mut cmd = Cli::command();
    write_to(None, |w| {
        generate(shell, &mut cmd, "softclust", w);
        Ok(())
    })
}
