//! Experiments: pruning sweeps ([`sweep`]: every method and ratio of a
//! model, clean and under noise, with the evaluation engine that keeps work
//! between ratios), and whole studies: a study described in a TOML file
//! ([`config`], its errors
//! located by [`locate`]), cut into
//! stages keyed by the hash of their settings and inputs ([`stage`]),
//! recorded in `RUN/stages.json` ([`cache`]), each run through the library
//! ([`work`], [`sweep`]) by the runner behind `parana reproduce`
//! ([`reproduce`](mod@reproduce)); [`adaptive`]: noises retrained against
//! pruned networks, beside the transferred ones; [`slurm`]: the same
//! stages as a Slurm job graph (`reproduce --slurm`).

pub mod adaptive;
pub mod cache;
pub mod config;
pub mod locate;
pub mod reproduce;
pub mod slurm;
pub mod stage;
pub mod status;
pub mod sweep;
pub mod work;

pub use config::Experiment;
pub use reproduce::{Options, reproduce};
