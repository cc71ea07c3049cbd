//! STUB
use super::Global;
use crate::error::Result;

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct EvalArgs {}

pub(super) fn run(_a: EvalArgs, _g: Global) -> Result<()> {
    todo!()
}
