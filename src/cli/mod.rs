//! The command-line interface: argument parsing (clap) and dispatch to the
//! library. Each subcommand has its own file; none holds logic the library
//! should have.

mod adapt;
mod bench;
mod best;
mod compile;
mod data;
mod eval;
mod inspect;
mod noise;
mod plot;
mod prune;
mod report;
mod reproduce;
mod slurm;
mod status;
mod sweep;
mod train;

use clap::{Parser, Subcommand};

/// Train small networks, attack them with adversarial noise, prune them, and
/// measure how pruning changes accuracy, robustness and speed.
#[derive(Parser, Debug)]
#[command(name = "parana", version, about, long_about = None)]
pub struct Cli {
    /// Worker threads (default: all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// Hide progress bars.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a model and save it as safetensors.
    Train(train::TrainArgs),
    /// Evaluate a model on the test set.
    Eval(eval::EvalArgs),
    /// Show a model file's architecture, parameters, sparsity and metadata.
    Inspect(inspect::InspectArgs),
    /// List, verify and fetch datasets.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Train universal targeted adversarial noise against a model.
    #[command(subcommand)]
    Noise(noise::NoiseCommand),
    /// Prune a model (abs, act, wanda or combined) and write it with its masks.
    Prune(prune::PruneArgs),
    /// Pruning sweeps: accuracy and robustness at every ratio (and `sweep merge`).
    Sweep(sweep::SweepArgs),
    /// Adaptive evaluation: noises retrained against pruned networks, beside the transferred ones.
    Adapt(adapt::AdaptArgs),
    /// The best-performance table of a sweep (Markdown and CSV).
    Best(best::BestArgs),
    /// Plot a sweep (SVG and PNG).
    Plot(plot::PlotArgs),
    /// Measure speed (see also bench/compare_torch.py).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Compile a pruned model into the sparse format.
    Compile(compile::CompileArgs),
    /// Turn a CNN's convolutions into sparse matrices (sparse format).
    Decouple(compile::DecoupleArgs),
    /// Run a whole experiment file (train, noise, attacks, sweeps, report), skipping what is done.
    Reproduce(reproduce::ReproduceArgs),
    /// Write the report (Markdown and self-contained HTML) of a reproduce run.
    Report(report::ReportArgs),
    /// The state of every stage of a reproduce run (done, running, interrupted, …).
    Status(status::StatusArgs),
}

/// Options every command can read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Global {
    pub quiet: bool,
}

/// Run the program; returns the process exit code.
pub fn main() -> i32 {
    crate::interrupt::install();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
                || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            {
                let _ = e.print();
                return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    2
                } else {
                    0
                };
            }
            // One line, as for every other bad input; `--help` has the rest.
            let text = e.render().to_string();
            let msg: Vec<&str> = text
                .lines()
                .take_while(|l| !l.trim().is_empty() && !l.starts_with("Usage:"))
                .map(str::trim)
                .collect();
            eprintln!("{} (see --help)", msg.join(" "));
            return 2;
        }
    };
    if let Some(t) = cli.threads {
        if t == 0 {
            eprintln!("error: --threads must be at least 1");
            return 2;
        }
        // Only fails if a pool already exists, which cannot happen here.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build_global();
    }
    let g = Global { quiet: cli.quiet };
    let result = match cli.command {
        Command::Train(a) => train::run(a, g),
        Command::Eval(a) => eval::run(a, g),
        Command::Inspect(a) => inspect::run(a, g),
        Command::Data(c) => data::run(c, g),
        Command::Bench(c) => bench::run(c, g),
        Command::Noise(c) => noise::run(c, g),
        Command::Compile(a) => compile::run(a, g),
        Command::Decouple(a) => compile::decouple(a, g),
        Command::Prune(a) => prune::run(a, g),
        Command::Sweep(a) => sweep::run(a, g),
        Command::Adapt(a) => adapt::run(a, g),
        Command::Best(a) => best::run(a, g),
        Command::Plot(a) => plot::run(a, g),
        Command::Reproduce(a) => reproduce::run(a, g),
        Command::Report(a) => report::run(a, g),
        Command::Status(a) => status::run(a, g),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

/// A progress bar, hidden when `quiet` or when stderr is not a terminal.
pub(crate) fn progress(len: u64, quiet: bool, template: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb
}

/// Which dataset to use; shared by every command that reads one.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct DataOpts {
    /// Dataset name: mnist, fashion-mnist or kmnist.
    #[arg(long, default_value = "mnist")]
    pub dataset: String,
    /// Folder holding the dataset's four IDX files (overrides the search path).
    #[arg(long)]
    pub data_dir: Option<std::path::PathBuf>,
}

impl DataOpts {
    /// Load the dataset, with `val` training images split off for validation.
    pub fn load(&self, val: Option<usize>) -> crate::Result<crate::data::Dataset> {
        crate::data::Dataset::load(&self.dataset, self.data_dir.as_deref(), val)
    }
}

/// Print `value` as pretty JSON on stdout.
pub(crate) fn print_json(value: &impl serde::Serialize) -> crate::Result<()> {
    let s = serde_json::to_string_pretty(value).map_err(|e| crate::Error::Other(e.to_string()))?;
    println!("{s}");
    Ok(())
}
