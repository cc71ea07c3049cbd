//! `parana noise`: train universal targeted noise against a model, one
//! noise (`noise train`) or a whole suite at once (`noise suite`).

use super::{DataOpts, Global, print_json, progress};
use crate::attack::suite::{self, Suite};
use crate::attack::universal::{self, NoiseConfig, Optimizer};
use crate::error::{Error, Result};
use std::path::PathBuf;

/// `parana noise …`
#[derive(clap::Subcommand, Debug)]
pub enum NoiseCommand {
    /// Train one universal targeted noise.
    #[command(after_help = "Examples:
  parana noise train --model lq.safetensors --target 3 --limit 0.25 --out noise/
  parana noise train --model lq.safetensors --target 5 --limit 0.1 --optimizer adam --lr 0.01 --out noise/
  parana noise train ... --resume      # continue after an interruption

Writes DIR/noise-class3-limit0.25.safetensors and DIR/noise-class3-limit0.25.png.")]
    Train {
        /// Target class.
        #[arg(long)]
        target: u8,
        /// Largest absolute value of the noise, in (0, 1].
        #[arg(long)]
        limit: f32,
        #[command(flatten)]
        opts: TrainOpts,
    },
    /// Train several noises together (the article's eight, or a grid).
    #[command(after_help = "Examples:
  parana noise suite --model lq.safetensors --preset article --out noise/
  parana noise suite --model lq.safetensors --targets 0-9 --limits 0.1,0.2 --out grid/

The article's eight: (class 3, 0.25), (2, 0.25), (1, 0.15), (5, 0.1), (5, 0.35),
(8, 0.2), (7, 0.3), (9, 0.2).")]
    Suite {
        /// A preset list of (target, limit): article.
        #[arg(long, conflicts_with_all = ["targets", "limits"])]
        preset: Option<String>,
        /// Targets, e.g. 0-9 or 1,3,5 (with --limits: every pair).
        #[arg(long, requires = "limits")]
        targets: Option<String>,
        /// Limits, e.g. 0.1,0.2.
        #[arg(long, requires = "targets")]
        limits: Option<String>,
        /// Noises trained together in one stacked batch.
        #[arg(long, default_value_t = 8)]
        group: usize,
        #[command(flatten)]
        opts: TrainOpts,
    },
}

/// Options shared by `noise train` and `noise suite`.
#[derive(clap::Args, Debug)]
pub struct TrainOpts {
    /// Model file to attack.
    #[arg(long)]
    model: PathBuf,
    /// Training steps per noise.
    #[arg(long, default_value_t = 5000)]
    steps: u64,
    /// Learning rate (default 0.1 for sgd, 0.01 for adam).
    #[arg(long)]
    lr: Option<f32>,
    /// sgd or adam.
    #[arg(long, default_value = "sgd")]
    optimizer: String,
    /// Training images per step.
    #[arg(long, default_value_t = 250)]
    batch: usize,
    /// Seed of the training batches.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    data: DataOpts,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// Checkpoint every N steps (DIR/noise-….ckpt.safetensors).
    #[arg(long, default_value_t = 500)]
    checkpoint_every: u64,
    /// Continue from the checkpoints of an interrupted run with the same settings.
    #[arg(long)]
    resume: bool,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    json: bool,
}

pub use crate::attack::suite::ARTICLE;

fn parse_targets(s: &str) -> Result<Vec<u8>> {
    let bad = || Error::input(format!("bad --targets '{s}' (expected e.g. 0-9 or 1,3,5)"));
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u8, u8) =
                    (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                if a > b {
                    return Err(bad());
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().map_err(|_| bad())?),
        }
    }
    Ok(out)
}

fn parse_limits(s: &str) -> Result<Vec<f32>> {
    s.split(',')
        .map(|p| {
            let v: f32 = p.trim().parse().map_err(|_| {
                Error::input(format!(
                    "bad limit '{p}' in --limits '{s}' (expected e.g. 0.1,0.2)"
                ))
            })?;
            universal::check_limit(v)?;
            Ok(v)
        })
        .collect()
}

pub(super) fn run(c: NoiseCommand, g: Global) -> Result<()> {
    match c {
        NoiseCommand::Train {
            target,
            limit,
            opts,
        } => train_all(&[(target, limit)], 1, opts, g),
        NoiseCommand::Suite {
            preset,
            targets,
            limits,
            group,
            opts,
        } => {
            let pairs: Vec<(u8, f32)> = match (preset.as_deref(), targets, limits) {
                (Some("article"), _, _) => ARTICLE.to_vec(),
                (Some(p), _, _) => {
                    return Err(Error::input(format!(
                        "unknown preset '{p}' (expected article)"
                    )));
                }
                (None, Some(t), Some(l)) => {
                    let (t, l) = (parse_targets(&t)?, parse_limits(&l)?);
                    t.iter()
                        .flat_map(|&t| l.iter().map(move |&l| (t, l)))
                        .collect()
                }
                _ => {
                    return Err(Error::input(
                        "noise suite needs --preset article or --targets and --limits",
                    ));
                }
            };
            if group == 0 {
                return Err(Error::input("--group must be at least 1"));
            }
            train_all(&pairs, group, opts, g)
        }
    }
}

pub(crate) use crate::attack::suite::check_model_fits;

fn train_all(pairs: &[(u8, f32)], group: usize, o: TrainOpts, g: Global) -> Result<()> {
    let optimizer = Optimizer::parse(&o.optimizer)?;
    let lr = o.lr.unwrap_or(match optimizer {
        Optimizer::Sgd => 0.1,
        Optimizer::Adam => 0.01,
    });
    let suite = Suite {
        model: o.model.clone(),
        noises: pairs
            .iter()
            .map(|&(target, limit)| NoiseConfig {
                target,
                limit,
                steps: o.steps,
                lr,
                optimizer,
                seed: o.seed,
                batch: o.batch,
            })
            .collect(),
        group,
        out: o.out.clone(),
        checkpoint_every: o.checkpoint_every,
        resume: o.resume,
    };
    // Everything a user can get wrong is checked before anything is written.
    let (model, _) = suite::check(&suite)?;
    let data = o.data.load(None)?;
    check_model_fits(&model, &o.model, &data)?;
    let arch = model.describe();
    drop(model);
    let pb = progress(
        0,
        g.quiet,
        "{elapsed_precise} [{bar:30}] {pos}/{len} {msg} (eta {eta})",
    );
    let report = suite::train_suite(&suite, &data, |e| match e {
        suite::Event::Start { clean_accuracy } => {
            if !g.quiet {
                pb.suspend(|| {
                    eprintln!(
                        "training {} noise{} against {} ({}, clean accuracy {:.4}) for {} steps, {} at a time",
                        pairs.len(),
                        if pairs.len() == 1 { "" } else { "s" },
                        o.model.display(),
                        arch,
                        clean_accuracy,
                        o.steps,
                        group.min(pairs.len())
                    )
                });
            }
        }
        suite::Event::Step { done, total, msg } => {
            pb.set_length(total);
            pb.set_position(done);
            pb.set_message(format!("fooling {msg}"));
        }
    })?;
    pb.finish_and_clear();
    if o.json {
        return print_json(&serde_json::json!({
            "model": o.model,
            "clean_accuracy": report.clean_accuracy,
            "seconds": report.seconds,
            "noises": report.noises,
        }));
    }
    println!(
        "{:<44} {:>8} {:>9} {:>8}",
        "noise", "accuracy", "fooling", "AUC"
    );
    for r in &report.noises {
        println!(
            "{:<44} {:>8.4} {:>9.4} {:>8.3}",
            r.file.display(),
            r.accuracy,
            r.fooling_rate,
            r.detection_auc
        );
    }
    println!(
        "clean accuracy {:.4}; {} noise(s) in {:.1}s",
        report.clean_accuracy,
        report.noises.len(),
        report.seconds
    );
    Ok(())
}
