//! STUB: `parana data list|verify|fetch` (being written).
use super::Global;
use crate::error::Result;
use clap::Subcommand;

/// `parana data …`
#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// List known datasets, where each is found and whether it verifies.
    List,
}

pub(super) fn run(cmd: DataCommand, _g: Global) -> Result<()> {
    match cmd {
        DataCommand::List => todo!(),
    }
}
