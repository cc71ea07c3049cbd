//! STUB
use super::Global;
use crate::error::Result;

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {}

pub(super) fn run(_a: TrainArgs, _g: Global) -> Result<()> {
    todo!()
}
