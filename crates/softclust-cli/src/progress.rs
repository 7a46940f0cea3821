//! A progress bar on stderr for long fits; hidden when stderr is not a terminal or with --quiet.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

pub struct FitProgress {
    bar: ProgressBar,
    per_run: u64,
    n_runs: usize,
    what: &'static str,
}

impl FitProgress {
    /// A bar for `n_runs` runs of at most `max_iter` iterations of `name` (e.g. "k-means").
    pub fn new(
        quiet: bool,
        name: &str,
        what: &'static str,
        n_runs: usize,
        max_iter: usize,
    ) -> Self {
        let per_run = max_iter as u64;
        let bar = ProgressBar::new((n_runs as u64).saturating_mul(per_run));
        if quiet || !std::io::stderr().is_terminal() {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        } else {
            bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(10));
            let template = format!("{{spinner}} {name} [{{bar:30}}] {{msg}} ({{elapsed}})");
            if let Ok(style) = ProgressStyle::with_template(&template) {
                bar.set_style(style.progress_chars("=> "));
            }
        }
        FitProgress {
            bar,
            per_run,
            n_runs,
            what,
        }
    }

    /// Iteration `iteration` (0-based) of run `run` finished with `value` (inertia, lower bound).
    pub fn tick(&self, run: usize, iteration: usize, value: f64) {
        self.bar.set_position(
            (run as u64)
                .saturating_mul(self.per_run)
                .saturating_add(iteration as u64 + 1),
        );
        self.bar.set_message(format!(
            "run {}/{}, iteration {}, {} {:.6e}",
            run + 1,
            self.n_runs,
            iteration + 1,
            self.what,
            value
        ));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
