//! `parana sweep`: pruning sweeps (and `sweep merge` of shards).

use super::prune::PruneOpts;
use super::{DataOpts, Global, print_json, progress};
use crate::error::{Error, Result};
use crate::experiment::sweep::results::{Run, Shard};
use crate::experiment::sweep::run::{self as sweep_run, SweepSpec};
use crate::prune::{Method, Ratio};
use std::path::PathBuf;

/// Prune the original model at every ratio with every method and measure
/// clean and noisy accuracy.
#[derive(clap::Args, Debug)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "Examples:
  parana sweep --model lq.safetensors --methods abs,act,combined --noise noise/ --ratios 0:0.99:0.01 --out run/
  parana sweep --model lq.safetensors --noise noise/ --per-layer --out run-layers/
  parana sweep --model lq.safetensors --methods act,random:1,random:2,random:3,act-inputs --noise noise/ --out run-controls/
  parana sweep --model lq.safetensors --noise noise/ --shard 1/2 --out run-1   # and --shard 2/2 --out run-2
  parana sweep merge run-1 run-2 --out run/
Interrupted? Run the same command again: recorded rows are kept and skipped."
)]
pub struct SweepArgs {
    #[command(subcommand)]
    cmd: Option<SweepCommand>,
    /// Model file (pruned afresh from the original at every ratio).
    #[arg(long, required = true)]
    model: Option<PathBuf>,
    /// Methods: abs, act, wanda, combined, random, random:SEED (one mask seed each), abs-inputs, act-inputs (comma-separated).
    #[arg(long, default_value = "abs,act,combined")]
    methods: String,
    /// Noise files or folders of noise-*.safetensors files.
    #[arg(long, num_args = 1..)]
    noise: Vec<PathBuf>,
    /// Ratios: START:END:STEP or a list like 0,0.5,0.81.
    #[arg(long, default_value = "0:0.99:0.01")]
    ratios: String,
    /// One sweep per prunable layer, the others left whole.
    #[arg(long, conflicts_with = "layers")]
    per_layer: bool,
    #[command(flatten)]
    opts: PruneOpts,
    #[command(flatten)]
    data: DataOpts,
    /// Use only the first N test images.
    #[arg(long)]
    images: Option<usize>,
    /// Do only shard i of n (1-based, e.g. 2/4) of the items; join with `sweep merge`.
    #[arg(long)]
    shard: Option<String>,
    /// Run folder (sweep.json, results.jsonl, results.csv).
    #[arg(long, required = true)]
    out: Option<PathBuf>,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Subcommand, Debug)]
enum SweepCommand {
    /// Join the results of shards (same settings) into one run folder.
    Merge {
        /// Shard run folders.
        #[arg(required = true, num_args = 1..)]
        runs: Vec<PathBuf>,
        /// Output run folder.
        #[arg(long)]
        out: PathBuf,
    },
}

/// `0:0.99:0.01` or `0,0.5,0.81`.
pub(crate) fn parse_ratios(s: &str) -> Result<Vec<Ratio>> {
    Ratio::list(s)
}

pub(super) fn run(a: SweepArgs, g: Global) -> Result<()> {
    if let Some(SweepCommand::Merge { runs, out }) = a.cmd {
        let loaded = runs
            .iter()
            .map(|r| Run::load(r))
            .collect::<Result<Vec<_>>>()?;
        let model = loaded[0].file.model.clone();
        let run = crate::experiment::sweep::results::merge(&loaded, &out, &model)?;
        let total = run.file.settings.items().len();
        println!(
            "{}: {} of {} rows{}",
            out.display(),
            run.rows.len(),
            total,
            if run.rows.len() < total {
                " (some shards are incomplete)"
            } else {
                ""
            }
        );
        return Ok(());
    }
    let (Some(model), Some(out)) = (a.model.clone(), a.out.clone()) else {
        return Err(Error::input("sweep needs --model and --out"));
    };
    // Everything a user can get wrong is checked before any work.
    let mut methods: Vec<Method> = Vec::new();
    for m in a.methods.split(',') {
        let m = Method::parse(m.trim())?;
        if !methods.contains(&m) {
            methods.push(m);
        }
    }
    let spec = SweepSpec {
        model,
        methods,
        ratios: parse_ratios(&a.ratios)?,
        per_layer: a.per_layer,
        prune: a.opts.parse()?,
        noise: a.noise.clone(),
        images: a.images,
        shard: a.shard.as_deref().map(Shard::parse).transpose()?,
        out: out.clone(),
    };
    if a.images == Some(0) {
        return Err(Error::input("--images must be at least 1"));
    }
    let data = a.data.load(None)?;
    let pb = progress(
        0,
        g.quiet,
        "{elapsed_precise} [{bar:30}] {pos}/{len} {msg} (eta {eta})",
    );
    let o = sweep_run::run(&spec, &data, |done, total, row| {
        pb.set_length(total as u64);
        pb.set_position(done as u64);
        pb.set_message(format!(
            "{} {} {}: clean {:.4} noisy {:.4}",
            row.group, row.method, row.ratio, row.clean, row.mean_noisy
        ));
    })?;
    pb.finish_and_clear();
    if a.json {
        print_json(&serde_json::json!({
            "run": out,
            "rows": o.rows,
            "new_rows": o.new_rows,
            "skipped": o.skipped,
            "seconds": o.seconds,
        }))?;
    } else {
        println!(
            "{}: {} new rows in {:.1}s ({} already recorded)",
            out.display(),
            o.new_rows,
            o.seconds,
            o.skipped
        );
    }
    Ok(())
}
