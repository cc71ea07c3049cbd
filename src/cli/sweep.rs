//! `parana sweep`: pruning sweeps (and `sweep merge` of shards).

use super::prune::PruneOpts;
use super::{DataOpts, Global, print_json, progress};
use crate::attack::noise_file::{Noise, sha256_file};
use crate::error::{Error, Result};
use crate::model::file;
use crate::prune::{Method, Ratio, scores};
use crate::sweep::results::{FORMAT, Run, Shard, SweepFile};
use crate::sweep::{Evaluator, Group, NoiseInfo, Settings, Sweeper};
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
    /// Methods: abs, act, wanda, combined (comma-separated).
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
    if s.contains(':') {
        Ratio::range(s)
    } else {
        s.split(',').map(Ratio::parse).collect()
    }
}

pub(super) fn run(a: SweepArgs, g: Global) -> Result<()> {
    if let Some(SweepCommand::Merge { runs, out }) = a.cmd {
        let loaded = runs
            .iter()
            .map(|r| Run::load(r))
            .collect::<Result<Vec<_>>>()?;
        let model = loaded[0].file.model.clone();
        let run = crate::sweep::results::merge(&loaded, &out, &model)?;
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
    let (Some(model_path), Some(out)) = (a.model.clone(), a.out.clone()) else {
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
    let ratios = parse_ratios(&a.ratios)?;
    let ps = a.opts.parse()?;
    let shard = a.shard.as_deref().map(Shard::parse).transpose()?;
    if a.images == Some(0) {
        return Err(Error::input("--images must be at least 1"));
    }
    let mut model = file::load(&model_path)?;
    let n_layers = scores::prunable_layers(&model).len();
    if let Some(bad) = ps.layers.iter().flatten().find(|&&k| k >= n_layers) {
        return Err(Error::input(format!(
            "layer {bad} does not exist: the model has {n_layers} prunable layers (0-{})",
            n_layers.saturating_sub(1)
        )));
    }
    let groups: Vec<Group> = if a.per_layer {
        (0..n_layers)
            .map(|k| Group {
                name: format!("layer{k}"),
                layers: Some(vec![k]),
            })
            .collect()
    } else {
        match &ps.layers {
            Some(l) => {
                let mut l = l.clone();
                l.sort_unstable();
                l.dedup();
                vec![Group {
                    name: format!(
                        "layers{}",
                        l.iter()
                            .map(|k| k.to_string())
                            .collect::<Vec<_>>()
                            .join("+")
                    ),
                    layers: Some(l),
                }]
            }
            None => vec![Group {
                name: "all".into(),
                layers: None,
            }],
        }
    };
    let data = a.data.load(None)?;
    super::noise::check_model_fits(&model, &model_path, &data)?;
    let noise_paths = Noise::expand_paths(&a.noise)?;
    let mut noises = Vec::new();
    let mut infos = Vec::new();
    for p in &noise_paths {
        let n = Noise::load(p)?;
        n.check_fits(p, &model, &data.name, data.classes)?;
        infos.push(NoiseInfo {
            name: format!("class{}-limit{}", n.target, n.limit),
            file: p
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            sha256: sha256_file(p)?,
            target: n.target,
            limit: n.limit,
        });
        noises.push(n);
    }
    let settings = Settings {
        model_sha256: sha256_file(&model_path)?,
        arch: model.arch.describe(),
        dataset: data.name.clone(),
        test_images: a.images.unwrap_or(data.test.len()).min(data.test.len()),
        methods: methods.iter().map(|m| m.name().to_string()).collect(),
        ratios: ratios.iter().map(|r| r.to_string()).collect(),
        groups,
        scope: ps.scope.name().into(),
        offset: ps.offset.to_string(),
        score_data: a.opts.score_data.clone(),
        score_images: a.opts.score_images,
        seed: a.opts.seed,
        noises: infos,
        layer_weights: crate::prune::original_weights(&model)
            .iter()
            .map(Vec::len)
            .collect(),
    };
    let _lock = crate::io::lock_dir(&out)?;
    let mut run = Run::open_or_create(
        &out,
        SweepFile {
            format: FORMAT.into(),
            model: model_path.display().to_string(),
            shard: shard.map(|s| s.to_string()),
            settings: settings.clone(),
        },
    )?;
    let done = run.done();
    let todo: Vec<_> = settings
        .items()
        .into_iter()
        .enumerate()
        .filter(|(k, it)| shard.is_none_or(|s| s.takes(*k)) && !done.contains(&settings.key(it)))
        .map(|(_, it)| it)
        .collect();
    let t0 = std::time::Instant::now();
    let skipped = done.len();
    if !todo.is_empty() {
        let needs_stats = todo.iter().any(|it| methods[it.method].needs_inputs());
        let stats = needs_stats.then(|| a.opts.stats(&mut model, &data));
        let refs: Vec<&Noise> = noises.iter().collect();
        let mut eval = Evaluator::new(&data.test, &refs, a.images);
        let mut sweeper = Sweeper::new(&settings, model, stats)?;
        let pb = progress(
            todo.len() as u64,
            g.quiet,
            "{elapsed_precise} [{bar:30}] {pos}/{len} {msg} (eta {eta})",
        );
        for it in &todo {
            let row = sweeper.run(it, &mut eval)?;
            pb.set_message(format!(
                "{} {} {}: clean {:.4} noisy {:.4}",
                row.group, row.method, row.ratio, row.clean, row.mean_noisy
            ));
            run.record(row)?;
            pb.inc(1);
            crate::interrupt::check(|| {
                format!(
                    "sweep stopped with {} rows recorded in {} ({} to go); run the same command to continue",
                    run.rows.len(),
                    out.display(),
                    todo.len() - pb.position() as usize
                )
            })?;
        }
        pb.finish_and_clear();
    }
    let seconds = t0.elapsed().as_secs_f64();
    if a.json {
        print_json(&serde_json::json!({
            "run": out,
            "rows": run.rows.len(),
            "new_rows": todo.len(),
            "skipped": skipped,
            "seconds": seconds,
        }))?;
    } else {
        println!(
            "{}: {} new rows in {:.1}s ({} already recorded)",
            out.display(),
            todo.len(),
            seconds,
            skipped
        );
    }
    Ok(())
}
