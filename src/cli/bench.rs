//! `parana bench`: speed measurements (see `parana::bench`).

use super::{Global, print_json};
use crate::bench;
use crate::error::Result;

/// `parana bench …`
#[derive(clap::Subcommand, Debug)]
pub enum BenchCommand {
    /// Time the article networks' training step and forward pass.
    #[command(
        after_help = "Example:\n  parana bench train --json\n\nCompare with PyTorch: python3 bench/compare_torch.py"
    )]
    Train {
        /// Repetitions per workload.
        #[arg(long, default_value_t = 20)]
        reps: usize,
        /// Skip the CNN step.
        #[arg(long)]
        no_cnn: bool,
        /// Print JSON (train_step_ms, forward_10k_ms, cnn_train_step_ms: medians).
        #[arg(long)]
        json: bool,
    },
    /// Time the universal-noise step and PGD-20 of the article MLP.
    #[command(
        after_help = "Example:\n  parana bench attack --json\n\nCompare with PyTorch: python3 bench/compare_torch.py"
    )]
    Attack {
        /// Repetitions of the noise steps.
        #[arg(long, default_value_t = 20)]
        reps: usize,
        /// Images PGD-20 runs on (the time is scaled to 10,000).
        #[arg(long, default_value_t = 10_000)]
        pgd_images: usize,
        /// Print JSON (noise_step_ms, noise_step8_ms, pgd20_10k_s).
        #[arg(long)]
        json: bool,
    },
    /// Write a model's outputs, loss and gradients on synthetic inputs, for
    /// bench/compare_torch.py to check against PyTorch.
    Reference {
        /// Model file.
        #[arg(long)]
        model: std::path::PathBuf,
        /// Images in the batch.
        #[arg(long, default_value_t = 64)]
        batch: usize,
        /// Seed of the synthetic images.
        #[arg(long, default_value_t = 3)]
        seed: u64,
        /// Output safetensors file.
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

pub(super) fn run(c: BenchCommand, _g: Global) -> Result<()> {
    match c {
        BenchCommand::Train { reps, no_cnn, json } => {
            let r = bench::train_bench(reps, no_cnn)?;
            if json {
                return print_json(&r);
            }
            println!("threads: {}", r.threads);
            for (k, t) in &r.detail {
                println!(
                    "{k:<24} median {:>9.2} ms   min {:>9.2} ms   ({} reps)",
                    t.median_ms, t.min_ms, t.reps
                );
            }
            Ok(())
        }
        BenchCommand::Attack {
            reps,
            pgd_images,
            json,
        } => {
            let r = bench::attack_bench(reps, pgd_images.max(1))?;
            if json {
                return print_json(&r);
            }
            println!("threads: {}", r.threads);
            for (k, t) in &r.detail {
                println!(
                    "{k:<24} median {:>9.2} ms   min {:>9.2} ms   ({} reps)",
                    t.median_ms, t.min_ms, t.reps
                );
            }
            println!("pgd20_10k_s              {:.2} s", r.pgd20_10k_s);
            Ok(())
        }
        BenchCommand::Reference {
            model,
            batch,
            seed,
            out,
        } => {
            let mut m = crate::model::file::load(&model)?;
            bench::reference_dump(&mut m, batch.max(1), seed).save(&out)
        }
    }
}
