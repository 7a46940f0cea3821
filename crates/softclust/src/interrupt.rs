//! Stopping a fit from outside: a shared flag that the fitting loops (Lloyd, EM, fuzzy c-means,
//! consensus runs, model selection) read once per iteration. The Python package triggers it on
//! Ctrl-C; a fit that sees it returns [`Error::Interrupted`] within one iteration.

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A flag shared between a fit and whoever may stop it. Clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    /// A flag not yet triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every fit holding this flag to stop at its next iteration.
    pub fn trigger(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`Self::trigger`] was called.
    pub fn is_triggered(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// `Err(Error::Interrupted)` when `flag` is set and triggered.
pub(crate) fn check(flag: &Option<Interrupt>) -> Result<()> {
    match flag {
        Some(f) if f.is_triggered() => Err(Error::Interrupted),
        _ => Ok(()),
    }
}
