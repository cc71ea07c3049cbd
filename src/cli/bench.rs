//! STUB
use super::Global;
use crate::error::Result;

/// `parana bench …`
#[derive(clap::Subcommand, Debug)]
pub enum BenchCommand {
    /// Training speed.
    Train,
}

pub(super) fn run(_c: BenchCommand, _g: Global) -> Result<()> {
    todo!()
}
