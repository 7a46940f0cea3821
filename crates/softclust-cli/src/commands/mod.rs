//! One file per subcommand: each lowers its flags into library objects (through the shared
//! helpers of `prepare`, `model_io`, `input` and `output`), runs them and writes the results.

pub mod completions;
pub mod consensus;
pub mod demo;
pub mod evaluate;
pub mod fcm;
pub mod gmm;
pub mod kmeans;
pub mod plot;
pub mod predict;
pub mod select;
pub mod soft;
