//! STUB
use super::Global;
use crate::error::Result;

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct InspectArgs {}

pub(super) fn run(_a: InspectArgs, _g: Global) -> Result<()> {
    todo!()
}
