//! A progress bar on stderr for long fits; hidden when stderr is not a terminal or with --quiet.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use softclust::kmeans::Progress;
use std::io::IsTerminal;

pub struct FitProgress {
    bar: ProgressBar,
    per_run: u64,
}

impl FitProgress {
    pub fn new(quiet: bool, n_runs: usize, max_iter: usize) -> Self {
        let per_run = max_iter as u64;
        let bar = ProgressBar::new(n_runs as u64 * per_run);
        if quiet || !std::io::stderr().is_terminal() {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        } else {
            bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(10));
            if let Ok(style) =
                ProgressStyle::with_template("{spinner} k-means [{bar:30}] {msg} ({elapsed})")
            {
                bar.set_style(style.progress_chars("=> "));
            }
        }
        FitProgress { bar, per_run }
    }

    /// Observer for `KMeans::fit_with_progress`.
    pub fn update(&self, p: Progress) {
        self.bar
            .set_position(p.run as u64 * self.per_run + p.iteration as u64 + 1);
        self.bar.set_message(format!(
            "run {}/{}, iteration {}, inertia {:.6e}",
            p.run + 1,
            p.n_runs,
            p.iteration + 1,
            p.inertia
        ));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
