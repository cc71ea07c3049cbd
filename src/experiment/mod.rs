//! Experiments: running a study's steps through the library.

pub mod sweep_run;
