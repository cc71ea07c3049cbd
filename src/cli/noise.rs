//! `parana noise`: train universal targeted noise against a model, one
//! noise (`noise train`) or a whole suite at once (`noise suite`).

use super::{DataOpts, Global, print_json, progress};
use crate::attack::noise_file::{self, Noise};
use crate::attack::universal::{self, NoiseConfig, NoiseState, Optimizer};
use crate::attack::{picture, robustness};
use crate::error::{Error, Result};
use crate::model::{Model, file};
use std::path::{Path, PathBuf};

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

/// The article's eight (target, limit) pairs.
pub const ARTICLE: [(u8, f32); 8] = [
    (3, 0.25),
    (2, 0.25),
    (1, 0.15),
    (5, 0.1),
    (5, 0.35),
    (8, 0.2),
    (7, 0.3),
    (9, 0.2),
];

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

/// Check the model fits the dataset; returns nothing but the error.
pub(crate) fn check_model_fits(
    model: &Model,
    path: &Path,
    data: &crate::data::Dataset,
) -> Result<()> {
    if data.test.image_len() != model.arch.in_len() || data.classes != model.arch.classes {
        return Err(Error::file(
            path,
            format!(
                "model {} does not fit {} ({}x{} images, {} classes)",
                model.arch.describe(),
                data.name,
                data.test.rows,
                data.test.cols,
                data.classes
            ),
        ));
    }
    Ok(())
}

fn train_all(pairs: &[(u8, f32)], group: usize, o: TrainOpts, g: Global) -> Result<()> {
    let optimizer = Optimizer::parse(&o.optimizer)?;
    let lr = o.lr.unwrap_or(match optimizer {
        Optimizer::Sgd => 0.1,
        Optimizer::Adam => 0.01,
    });
    // Everything a user can get wrong is checked before anything is written.
    let mut model = file::load(&o.model)?;
    let model_sha = noise_file::sha256_file(&o.model)?;
    let cfgs: Vec<NoiseConfig> = pairs
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
        .collect();
    for c in &cfgs {
        c.validate(model.arch.classes).map_err(|e| match e {
            Error::Input(m) if m.starts_with("target") => Error::file(&o.model, m),
            e => e,
        })?;
    }
    if o.out.is_file() {
        return Err(Error::input(format!(
            "--out {} is a file; it must be a folder",
            o.out.display()
        )));
    }
    let data = o.data.load(None)?;
    check_model_fits(&model, &o.model, &data)?;
    let _lock = crate::io::lock_dir(&o.out)?;
    let len = model.arch.in_len();
    let ckpt = |c: &NoiseConfig| {
        o.out.join(
            noise_file::file_name(c.target, c.limit).replace(".safetensors", ".ckpt.safetensors"),
        )
    };
    let mut states = Vec::new();
    for c in &cfgs {
        let p = ckpt(c);
        if o.resume && p.exists() {
            states.push(noise_file::load_checkpoint(&p, c, &model_sha)?);
        } else {
            states.push(NoiseState::new(c.clone(), len));
        }
    }
    let clean = robustness::outputs(&mut model, &data.test, None);
    let clean_acc = robustness::accuracy(&clean.pred, &data.test.labels);
    if !g.quiet {
        eprintln!(
            "training {} noise{} against {} ({}, clean accuracy {:.4}) for {} steps, {} at a time",
            cfgs.len(),
            if cfgs.len() == 1 { "" } else { "s" },
            o.model.display(),
            model.arch.describe(),
            clean_acc,
            o.steps,
            group.min(cfgs.len())
        );
    }
    let input = model.arch.input;
    let t0 = std::time::Instant::now();
    let mut results = Vec::new();
    for chunk in states.chunks_mut(group) {
        let total: u64 = chunk.iter().map(|s| s.cfg.steps).sum();
        let pb = progress(
            total,
            g.quiet,
            "{elapsed_precise} [{bar:30}] {pos}/{len} {msg} (eta {eta})",
        );
        universal::train(&mut model, &data.train, chunk, |sts| {
            pb.set_position(sts.iter().map(|s| s.step).sum());
            let msg: Vec<String> = sts
                .iter()
                .map(|s| format!("{}:{:.2}", s.cfg.target, s.batch_fooling))
                .collect();
            pb.set_message(format!("fooling {}", msg.join(" ")));
            let stop = crate::interrupt::requested();
            if o.checkpoint_every > 0 || stop {
                for s in sts {
                    let due = o.checkpoint_every > 0 && s.step % o.checkpoint_every == 0;
                    if (due || stop) && !s.done() {
                        noise_file::save_checkpoint(&ckpt(&s.cfg), s, input, &model_sha)?;
                    }
                }
            }
            crate::interrupt::check(|| {
                let step = sts.iter().map(|s| s.step).min().unwrap_or(0);
                format!(
                    "noise training stopped at step {step}; checkpoints written beside the \
                     outputs: run the same command with --resume to continue"
                )
            })
        })?;
        pb.finish_and_clear();
        for s in chunk.iter() {
            results.push(finish(
                &mut model, &data, s, &o, &model_sha, &clean, clean_acc,
            )?);
        }
    }
    let seconds = t0.elapsed().as_secs_f64();
    if o.json {
        return print_json(&serde_json::json!({
            "model": o.model,
            "clean_accuracy": clean_acc,
            "seconds": seconds,
            "noises": results,
        }));
    }
    println!(
        "{:<44} {:>8} {:>9} {:>8}",
        "noise", "accuracy", "fooling", "AUC"
    );
    for r in &results {
        println!(
            "{:<44} {:>8.4} {:>9.4} {:>8.3}",
            r["file"].as_str().unwrap_or(""),
            r["accuracy"].as_f64().unwrap_or(f64::NAN),
            r["fooling_rate"].as_f64().unwrap_or(f64::NAN),
            r["detection_auc"].as_f64().unwrap_or(f64::NAN)
        );
    }
    println!(
        "clean accuracy {clean_acc:.4}; {} noise(s) in {seconds:.1}s",
        results.len()
    );
    Ok(())
}

/// Evaluate a trained noise on the test set, write its file and picture,
/// remove its checkpoint; returns its summary.
fn finish(
    model: &mut Model,
    data: &crate::data::Dataset,
    s: &NoiseState,
    o: &TrainOpts,
    model_sha: &str,
    clean: &robustness::Outputs,
    clean_acc: f64,
) -> Result<serde_json::Value> {
    let mut noise = Noise {
        data: s.noise.clone(),
        input: model.arch.input,
        target: s.cfg.target,
        limit: s.cfg.limit,
        meta: Default::default(),
    };
    let e = robustness::evaluate_noise(model, &data.test, &noise, clean);
    let m = &mut noise.meta;
    m.insert("steps".into(), s.step.to_string());
    m.insert("seed".into(), s.cfg.seed.to_string());
    m.insert("lr".into(), s.cfg.lr.to_string());
    m.insert("optimizer".into(), s.cfg.optimizer.name().into());
    m.insert("batch".into(), s.cfg.batch.to_string());
    m.insert("dataset".into(), data.name.clone());
    m.insert("classes".into(), data.classes.to_string());
    m.insert("model_sha256".into(), model_sha.into());
    m.insert(
        "model".into(),
        o.model
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    );
    m.insert("fooling_rate".into(), format!("{:.4}", e.fooling_rate));
    m.insert("accuracy".into(), format!("{:.4}", e.accuracy));
    m.insert("clean_accuracy".into(), format!("{clean_acc:.4}"));
    m.insert("parana_version".into(), env!("CARGO_PKG_VERSION").into());
    let name = noise_file::file_name(s.cfg.target, s.cfg.limit);
    let path = o.out.join(&name);
    noise.save(&path)?;
    // The picture: the noise beside the first five test digits with it.
    let len = model.arch.in_len();
    let k = data.test.len().min(5);
    let mut digits = vec![0.0f32; k * len];
    data.test
        .gather_f32(&(0..k).collect::<Vec<_>>(), &mut digits);
    for row in digits.chunks_exact_mut(len) {
        for (v, &d) in row.iter_mut().zip(&noise.data) {
            *v = (*v + d).clamp(0.0, 1.0);
        }
    }
    let rows: Vec<&[f32]> = digits.chunks_exact(len).collect();
    picture::save(
        &path.with_extension("png"),
        &noise.data,
        noise.limit,
        &rows,
        model.arch.input,
    )?;
    let ck = o
        .out
        .join(name.replace(".safetensors", ".ckpt.safetensors"));
    if ck.exists() {
        std::fs::remove_file(&ck).map_err(|e| Error::io(&ck, e))?;
    }
    Ok(serde_json::json!({
        "file": path,
        "target": s.cfg.target,
        "limit": s.cfg.limit,
        "steps": s.step,
        "accuracy": e.accuracy,
        "fooling_rate": e.fooling_rate,
        "detection_auc": e.detection.auc,
        "detection_caught_at_95": e.detection.caught,
    }))
}
