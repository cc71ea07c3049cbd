//! parana: train small neural networks, attack them with adversarial noise,
//! prune them, and measure how pruning changes accuracy, robustness and speed.
//!
//! The library follows the pipeline of a study, one module per stage:
//!
//! `data` (IDX datasets) -> `nn` (layers with explicit forward/backward) ->
//! `model` (architectures, initialisation, model files) -> `train` (Adam,
//! checkpoints, logs) -> `attack` (universal noise, FGSM, PGD) -> `prune`
//! (scores, masks) -> `sparse` (the sparse engine, decoupled convolutions)
//! -> `experiment` (pruning sweeps, and whole studies from a TOML file in
//! cached stages) -> `report` (best table, plots, the Markdown and HTML
//! report). The `cli` module is a thin layer over these that the `parana`
//! binary calls; `loader` (every kind of model file, read and written in
//! one place), `error`, `io`, `interrupt`, `tensorfile` and `rng` serve
//! them all.

// Anything from a file or the command line must become an error, never a
// panic: `unwrap`/`expect` are refused outside tests (an invariant the code
// itself guarantees uses a `let ... else { unreachable!(why) }`).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod attack;
pub mod bench;
pub mod cli;
pub mod data;
pub mod error;
pub mod experiment;
pub mod interrupt;
pub mod io;
pub mod loader;
pub mod model;
pub mod nn;
pub mod prune;
pub mod report;
pub mod rng;
pub mod sparse;
pub mod tensorfile;
pub mod train;

pub use error::{Error, Result};
