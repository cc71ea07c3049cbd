//! `parana train`: train a model and save it.

use super::{DataOpts, Global, print_json, progress};
use crate::error::{Error, Result};
use crate::loader;
use crate::model::{Arch, Model, arch, eval, file, init};
use crate::nn::Head;
use crate::train::{self, TrainConfig, TrainIo};
use std::path::PathBuf;

/// Train a model and save it as safetensors.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  parana train --arch article-mlp --head lq --steps 10000 --seed 1 --out lq.safetensors
  parana train --arch article-cnn --head sce --batch 64 --steps 6000 --out cnn.safetensors
  parana train --hidden 300,100 --steps 2000 --out small.safetensors
  parana train --head sce --val 5000 --select-every 500 --lr-decay cosine --out sce.safetensors
  parana train --out lq.safetensors --resume   # continue after an interruption")]
pub struct TrainArgs {
    /// Architecture preset: article-mlp, seed-mlp or article-cnn.
    #[arg(long, default_value = "article-mlp")]
    arch: String,
    /// Custom fully connected hidden widths, e.g. 1500,1000,800 (overrides --arch).
    #[arg(long)]
    hidden: Option<String>,
    /// Custom convolutions, e.g. 7x7x12,5x5x15 (with --hidden).
    #[arg(long)]
    conv: Option<String>,
    /// Cost function: lq (linear-quadratic) or sce (softmax cross-entropy).
    #[arg(long, default_value = "lq")]
    head: Head,
    /// Dropout probability after each hidden fully connected layer.
    #[arg(long, default_value_t = 0.0)]
    dropout: f32,
    /// Optimisation steps.
    #[arg(long, default_value_t = 10_000)]
    steps: u64,
    /// Images per step.
    #[arg(long, default_value_t = 250)]
    batch: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-4)]
    lr: f32,
    /// L2 coefficient (loss term lambda * sum(w^2) / 2).
    #[arg(long, default_value_t = 1e-4)]
    l2: f32,
    /// Seed for initialisation, shuffling and dropout.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    data: DataOpts,
    /// Hold out N training images (a draw seeded by --seed) for model
    /// selection: checked every --select-every steps, the best check's
    /// weights are saved, the later of ties (0: off, the last step's
    /// weights are saved).
    #[arg(long, default_value_t = 0)]
    val: usize,
    /// Steps between validation checks (with --val; also at the last step).
    #[arg(long, default_value_t = train::DEFAULT_SELECT_EVERY)]
    select_every: u64,
    /// Learning-rate decay over the last steps: off, cosine or linear.
    #[arg(long, default_value = "off")]
    lr_decay: String,
    /// Fraction of the steps after which the learning rate decays, in [0, 1).
    #[arg(long, default_value_t = train::DEFAULT_DECAY_FROM)]
    decay_from: f64,
    /// Output model file.
    #[arg(long)]
    out: PathBuf,
    /// Evaluate every N steps into the log.
    #[arg(long, default_value_t = 500)]
    eval_every: u64,
    /// Checkpoint every N steps (to OUT with .ckpt.safetensors).
    #[arg(long, default_value_t = 1000)]
    checkpoint_every: u64,
    /// Continue from the checkpoint of an interrupted run with the same settings.
    #[arg(long)]
    resume: bool,
    /// Start from this model file (e.g. a pruned model) instead of a fresh
    /// initialisation; the architecture and head are the file's.
    #[arg(long)]
    init: Option<PathBuf>,
    /// With --init of a pruned model: keep its pruned weights at exactly 0
    /// while fine-tuning (the masks are written to OUT too).
    #[arg(long, requires = "init")]
    keep_mask: bool,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    json: bool,
}

/// `X.safetensors` -> `X.<suffix>`.
fn side_file(out: &std::path::Path, suffix: &str) -> PathBuf {
    let stem = out.file_name().and_then(|s| s.to_str()).unwrap_or("model");
    let stem = stem.strip_suffix(".safetensors").unwrap_or(stem);
    out.with_file_name(format!("{stem}.{suffix}"))
}

pub(super) fn run(a: TrainArgs, g: Global) -> Result<()> {
    let mut arch = match (&a.hidden, &a.conv) {
        (Some(h), c) => Arch::custom(
            arch::parse_hidden(h)?,
            arch::parse_convs(c.as_deref().unwrap_or(""))?,
        )?,
        (None, Some(_)) => {
            return Err(Error::input(
                "--conv needs --hidden for the fully connected part",
            ));
        }
        (None, None) => Arch::preset(&a.arch)?,
    };
    arch.dropout = a.dropout;
    arch.validate()?;
    let cfg = TrainConfig {
        steps: a.steps,
        batch: a.batch,
        lr: a.lr,
        l2: a.l2,
        seed: a.seed,
        val_images: a.val,
        select_every: a.select_every,
        lr_decay: train::LrDecay::parse(&a.lr_decay)
            .map_err(|e| Error::input(format!("--lr-decay: {e}")))?,
        decay_from: a.decay_from,
    };
    if a.val > 0 && a.select_every == 0 {
        return Err(Error::input("--select-every must be at least 1 with --val"));
    }
    if !(0.0..1.0).contains(&a.decay_from) {
        return Err(Error::input(format!(
            "--decay-from {} is not a fraction of the steps in [0, 1)",
            a.decay_from
        )));
    }
    cfg.validate()?;
    let data = a.data.load(None)?;
    if cfg.val_images >= data.train.len() {
        return Err(Error::input(format!(
            "--val {} must be fewer than the {} training images of {}",
            cfg.val_images,
            data.train.len(),
            data.name
        )));
    }
    if data.classes != arch.classes {
        arch.classes = data.classes;
    }
    let mut keep_masks = None;
    let mut mask_tensors = Vec::new();
    let mut model = match &a.init {
        Some(path) => {
            let f = crate::tensorfile::TensorFile::load(path)?;
            let mut m = loader::from_tensor_file(&f, path)?;
            if m.arch.classes != data.classes || m.arch.in_len() != data.train.image_len() {
                return Err(Error::file(
                    path,
                    format!("{} does not fit {}", m.arch.describe(), data.name),
                ));
            }
            if a.keep_mask && file::is_decoupled(&m) {
                keep_masks = Some(crate::prune::file::nonzero_masks(&m));
            } else if a.keep_mask {
                let masks = crate::prune::file::masks_of(&f, &m, path)?;
                crate::prune::file::zero_masked(&mut m, &masks);
                // Carried into the output (as BOOL, whatever they were read as).
                mask_tensors = m
                    .named_params()
                    .zip(&masks)
                    .filter_map(|((name, p), keep)| {
                        let data = keep.clone()?;
                        let shape = p.shape.clone();
                        let t = crate::tensorfile::BoolTensor { shape, data };
                        Some((format!("{}{name}", file::MASK_PREFIX), t))
                    })
                    .collect();
                keep_masks = Some(masks);
            }
            m
        }
        None => {
            let mut m = Model::new(arch, a.head);
            init::init(&mut m, a.seed);
            m
        }
    };
    let (ckpt, log) = (
        side_file(&a.out, "ckpt.safetensors"),
        side_file(&a.out, "log.csv"),
    );
    let _lock = crate::io::lock_file(&a.out, &[&ckpt, &log])?;
    let io = TrainIo {
        checkpoint: Some(ckpt),
        checkpoint_every: a.checkpoint_every,
        resume: a.resume,
        log: Some(log),
        eval_every: a.eval_every,
        keep_masks,
    };
    if !g.quiet {
        eprintln!(
            "training {} ({}, {} parameters) on {} for {} steps",
            model.describe(),
            model.head,
            model.param_count(),
            data.name,
            cfg.steps
        );
    }
    let pb = progress(
        cfg.steps,
        g.quiet,
        "{elapsed_precise} [{bar:30}] {pos}/{len} {msg} (eta {eta})",
    );
    let summary = train::train(&mut model, &data, &cfg, &io, |s| {
        pb.set_position(s.step);
        let mut msg = format!("loss {:.4} acc {:.3}", s.loss, s.accuracy);
        if let Some(e) = s.eval_accuracy {
            msg += &format!(" eval {e:.4}");
        }
        pb.set_message(msg);
    })?;
    pb.finish_and_clear();
    let test = eval::evaluate(&mut model, &data.test);
    train::stamp_meta(&mut model, &data.name, &cfg, test.accuracy);
    if let Some(s) = &summary.selection {
        s.stamp(&mut model);
    }
    let mut f = loader::to_tensor_file(&model);
    f.bools.extend(mask_tensors);
    f.save(&a.out)?;
    if a.json {
        print_json(&serde_json::json!({
            "model": a.out,
            "arch": model.describe(),
            "head": model.head,
            "steps": cfg.steps,
            "resumed_from": summary.resumed_from,
            "seconds": summary.seconds,
            "loss": summary.loss,
            "test_accuracy": test.accuracy,
            "selection": summary.selection,
        }))?;
    } else {
        println!(
            "{}: {} {} trained {} steps in {:.1}s, test accuracy {:.4}",
            a.out.display(),
            model.describe(),
            model.head,
            cfg.steps,
            summary.seconds,
            test.accuracy
        );
        if let Some(s) = &summary.selection {
            println!(
                "  selected step {} (validation {:.4} on {} images; the last step had validation {:.4}, test {:.4})",
                s.selected_step,
                s.val_accuracy,
                s.val_images,
                s.final_val_accuracy,
                s.final_test_accuracy
            );
        }
    }
    Ok(())
}
