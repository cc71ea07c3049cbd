//! Experiments: a study described in a TOML file ([`config`], its errors
//! located by [`locate`]), cut into
//! stages keyed by the hash of their settings and inputs ([`stage`]),
//! recorded in `RUN/stages.json` ([`cache`]), each run through the library
//! ([`work`], [`sweep_run`]) by the runner behind `parana reproduce`
//! ([`reproduce`]).

pub mod cache;
pub mod config;
pub mod locate;
pub mod reproduce;
pub mod stage;
pub mod sweep_run;
pub mod work;

pub use config::Experiment;
pub use reproduce::{Options, reproduce};
