//! Training: mini-batch Adam on a head's loss plus L2, with periodic
//! evaluation into a CSV log and resumable checkpoints.
//!
//! A run is determined by its seed: the shuffling of each epoch and the
//! dropout masks of each step come from streams keyed by (seed, epoch) and
//! (seed, step), so a run resumed from a checkpoint continues to exactly
//! the weights of an uninterrupted one.
//!
//! Optionally ([`TrainConfig::val_images`]) a seeded share of the training
//! images is held out as a validation split, checked every
//! `select_every` steps, and the run ends with the weights of its best
//! check ([`select`]); the learning rate may decay over the last steps
//! ([`schedule`]).

pub mod batches;
pub mod checkpoint;
pub mod schedule;
pub mod select;

use crate::data::{Dataset, Split};
use crate::error::{Error, Result};
use crate::model::{Model, eval};
use crate::nn::{Adam, Mode, head::argmax_rows};
use batches::Batches;
pub use schedule::LrDecay;
pub use select::Selection;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Instant;

/// Training settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Optimisation steps (mini-batches).
    pub steps: u64,
    /// Images per mini-batch.
    pub batch: usize,
    /// Adam learning rate.
    pub lr: f32,
    /// L2 coefficient lambda (loss term `lambda * sum(w²) / 2`).
    pub l2: f32,
    /// Seed for initialisation, shuffling, dropout and the validation
    /// draw.
    pub seed: u64,
    /// Training images held out as a validation split for model selection
    /// (0: none, the run ends with its last step's weights).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub val_images: usize,
    /// Steps between validation checks (and at the last step).
    #[serde(
        default = "default_select_every",
        skip_serializing_if = "is_default_select_every"
    )]
    pub select_every: u64,
    /// Learning-rate decay over the last steps.
    #[serde(default, skip_serializing_if = "LrDecay::is_off")]
    pub lr_decay: LrDecay,
    /// Fraction of the steps after which the decay starts, in [0, 1).
    #[serde(
        default = "default_decay_from",
        skip_serializing_if = "is_default_decay_from"
    )]
    pub decay_from: f64,
}

/// Serde helper (also for the experiment file's `[[model]]`).
pub(crate) fn is_zero(v: &usize) -> bool {
    *v == 0
}
/// Default steps between validation checks.
pub const DEFAULT_SELECT_EVERY: u64 = 500;
/// Serde helper (also for the experiment file's `[[model]]`).
pub(crate) fn default_select_every() -> u64 {
    DEFAULT_SELECT_EVERY
}
/// Serde helper (also for the experiment file's `[[model]]`).
pub(crate) fn is_default_select_every(v: &u64) -> bool {
    *v == DEFAULT_SELECT_EVERY
}
/// Default start of the decay, as a fraction of the steps.
pub const DEFAULT_DECAY_FROM: f64 = 0.8;
/// Serde helper (also for the experiment file's `[[model]]`).
pub(crate) fn default_decay_from() -> f64 {
    DEFAULT_DECAY_FROM
}
/// Serde helper (also for the experiment file's `[[model]]`).
pub(crate) fn is_default_decay_from(v: &f64) -> bool {
    *v == DEFAULT_DECAY_FROM
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            steps: 10_000,
            batch: 250,
            lr: 1e-4,
            l2: 1e-4,
            seed: 1,
            val_images: 0,
            select_every: DEFAULT_SELECT_EVERY,
            lr_decay: LrDecay::Off,
            decay_from: DEFAULT_DECAY_FROM,
        }
    }
}

impl TrainConfig {
    /// Check the settings.
    pub fn validate(&self) -> Result<()> {
        if self.batch == 0 {
            return Err(Error::input("batch size must be at least 1"));
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(Error::input(format!(
                "learning rate must be positive, got {}",
                self.lr
            )));
        }
        if !(self.l2 >= 0.0 && self.l2.is_finite()) {
            return Err(Error::input(format!(
                "L2 coefficient must be >= 0, got {}",
                self.l2
            )));
        }
        if self.val_images > 0 && self.select_every == 0 {
            return Err(Error::input(
                "select_every must be at least 1 with a validation split",
            ));
        }
        if !(0.0..1.0).contains(&self.decay_from) {
            return Err(Error::input(format!(
                "decay_from must be a fraction of the steps in [0, 1), got {}",
                self.decay_from
            )));
        }
        Ok(())
    }

    /// The settings a resumed run must share with the checkpoint (all but
    /// the number of steps, which may be extended unless the learning rate
    /// decays: the schedule depends on it).
    pub fn resume_key(&self) -> String {
        let mut k = format!(
            "batch={} lr={} l2={} seed={}",
            self.batch, self.lr, self.l2, self.seed
        );
        if self.val_images > 0 {
            k += &format!(
                " val_images={} select_every={}",
                self.val_images, self.select_every
            );
        }
        if !self.lr_decay.is_off() {
            k += &format!(
                " lr_decay={} decay_from={} steps={}",
                self.lr_decay.name(),
                self.decay_from,
                self.steps
            );
        }
        k
    }
}

/// Where training writes its side files, and how often.
#[derive(Clone, Debug, Default)]
pub struct TrainIo {
    /// Checkpoint file (written every `checkpoint_every` steps).
    pub checkpoint: Option<PathBuf>,
    /// Steps between checkpoints (0: only at the end).
    pub checkpoint_every: u64,
    /// Continue from `checkpoint` if it exists.
    pub resume: bool,
    /// CSV log of periodic evaluations.
    pub log: Option<PathBuf>,
    /// Steps between evaluations (0: only at the end).
    pub eval_every: u64,
    /// Keep masks per parameter (in `Sequential::params` order; `None` =
    /// train all of it): the gradients of masked weights are zeroed before
    /// every Adam step, so weights pruned to 0 stay exactly 0 (zero
    /// gradient, zero moments, and L2 of a zero weight is zero).
    pub keep_masks: Option<Vec<Option<Vec<bool>>>>,
}

/// What the progress callback is told after every step.
#[derive(Clone, Debug)]
pub struct StepInfo {
    /// Steps done.
    pub step: u64,
    /// Total steps.
    pub steps: u64,
    /// Smoothed training loss (without L2).
    pub loss: f64,
    /// Smoothed training-batch accuracy.
    pub accuracy: f64,
    /// Accuracy of the latest evaluation, if one ran at this step.
    pub eval_accuracy: Option<f64>,
}

/// One row of the training log.
#[derive(Clone, Debug, Serialize)]
pub struct LogRow {
    /// Steps done.
    pub step: u64,
    /// Smoothed training loss.
    pub loss: f64,
    /// Smoothed training-batch accuracy.
    pub train_accuracy: f64,
    /// Accuracy on the validation split (or the test split without one).
    pub eval_accuracy: f64,
    /// Seconds since this process started training.
    pub seconds: f64,
    /// Accuracy on the held-out selection images, at selection checks.
    pub val_accuracy: Option<f64>,
}

/// What a finished run reports.
#[derive(Clone, Debug, Serialize)]
pub struct TrainSummary {
    /// Steps done in total.
    pub steps: u64,
    /// Step this process started from (non-zero after a resume).
    pub resumed_from: u64,
    /// Final smoothed loss.
    pub loss: f64,
    /// Accuracy on the evaluation split at the end.
    pub eval_accuracy: f64,
    /// Which split that was: `val` or `test`.
    pub eval_split: String,
    /// Seconds spent training in this process.
    pub seconds: f64,
    /// Model selection, when a validation split was held out: the model
    /// holds the selected weights.
    pub selection: Option<Selection>,
}

/// Record in `model`'s metadata how it was trained: dataset, seed, steps,
/// the whole config, its test accuracy, when, and by which parana.
pub fn stamp_meta(model: &mut Model, dataset: &str, cfg: &TrainConfig, test_accuracy: f64) {
    let m = &mut model.meta;
    m.insert("dataset".into(), dataset.into());
    m.insert("seed".into(), cfg.seed.to_string());
    m.insert("steps".into(), cfg.steps.to_string());
    m.insert(
        "train_config".into(),
        serde_json::to_string(cfg).unwrap_or_default(),
    );
    m.insert("test_accuracy".into(), format!("{test_accuracy:.4}"));
    m.insert(
        "created".into(),
        humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
    );
    m.insert("parana_version".into(), env!("CARGO_PKG_VERSION").into());
}

/// Train `model` (already initialised) on `data`. `on_step` is called after
/// every step (for progress display).
pub fn train(
    model: &mut Model,
    data: &Dataset,
    cfg: &TrainConfig,
    io: &TrainIo,
    mut on_step: impl FnMut(&StepInfo),
) -> Result<TrainSummary> {
    cfg.validate()?;
    crate::nn::flush_denormals();
    let train = &data.train;
    if train.is_empty() {
        return Err(Error::input("the training set is empty"));
    }
    if train.image_len() != model.arch.in_len() {
        return Err(Error::input(format!(
            "images of {}x{} do not fit {}",
            train.rows,
            train.cols,
            model.describe()
        )));
    }
    let (eval_split, eval_name): (&Split, &str) = match &data.val {
        Some(v) => (v, "val"),
        None => (&data.test, "test"),
    };
    if cfg.val_images >= train.len() {
        return Err(Error::input(format!(
            "validation images {} must be fewer than the {} training images",
            cfg.val_images,
            train.len()
        )));
    }
    let (pool, held) = select::carve(train.len(), cfg.val_images, cfg.seed);
    let val = (cfg.val_images > 0).then(|| select::subset(train, &held));
    let mut best: Option<select::Best> = None;
    let sizes: Vec<usize> = model.net.params().map(|p| p.len()).collect();
    let mut adam = Adam::new(cfg.lr, cfg.l2, &sizes);
    let mut start = 0;
    let mut rows: Vec<LogRow> = Vec::new();
    if io.resume
        && let Some(ck) = &io.checkpoint
        && ck.exists()
    {
        (start, best) = checkpoint::load(ck, model, &mut adam, cfg)?;
        if let Some(log) = &io.log {
            rows = read_log(log, start);
        }
    }

    let classes = model.arch.classes;
    let in_len = model.arch.in_len();
    let b = cfg.batch;
    let mut batches = Batches::over(pool, b, cfg.seed);
    let mut idx = Vec::with_capacity(b);
    let mut x = vec![0.0f32; b * in_len];
    let mut labels = vec![0u8; b];
    let (mut loss_avg, mut acc_avg) = (f64::NAN, f64::NAN);
    let t0 = Instant::now();
    let mut last_eval = f64::NAN;
    let mut last_val: Option<(u64, f64)> = None;

    for step in start..cfg.steps {
        batches.indices(step, &mut idx);
        train.gather_f32(&idx, &mut x);
        for (l, &i) in labels.iter_mut().zip(&idx) {
            *l = train.labels[i];
        }
        let seed = cfg.seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let out = model.net.forward(&x, b, Mode::Train { seed });
        let correct = argmax_rows(out, classes)
            .zip(&labels)
            .filter(|(p, l)| *p == **l as usize)
            .count();
        let (out, grad) = model.net.output_and_grad_mut();
        let loss = model.head.loss(out, &labels, classes, Some(grad));
        model.net.backward(&x, None, true);
        if let Some(masks) = &io.keep_masks {
            mask_grads(model, masks);
        }
        adam.lr = schedule::lr_at(cfg.lr, cfg.lr_decay, cfg.decay_from, step, cfg.steps);
        adam.step(model.net.params_mut());
        if !loss.is_finite() {
            return Err(Error::Other(format!(
                "training diverged at step {} (loss {loss}); try a smaller learning rate",
                step + 1
            )));
        }

        let acc = correct as f64 / b as f64;
        let a = 0.02;
        loss_avg = if loss_avg.is_nan() {
            loss as f64
        } else {
            (1.0 - a) * loss_avg + a * loss as f64
        };
        acc_avg = if acc_avg.is_nan() {
            acc
        } else {
            (1.0 - a) * acc_avg + a * acc
        };
        let done = step + 1;
        let mut eval_accuracy = None;
        let is_last = done == cfg.steps;
        let mut val_accuracy = None;
        if let Some(v) = &val
            && (done % cfg.select_every == 0 || is_last)
        {
            let a = eval::evaluate(model, v).accuracy;
            select::Best::offer(&mut best, model, done, a);
            val_accuracy = Some(a);
            last_val = Some((done, a));
        }
        if (io.eval_every > 0 && done % io.eval_every == 0) || is_last || val_accuracy.is_some() {
            let e = eval::evaluate(model, eval_split).accuracy;
            eval_accuracy = Some(e);
            last_eval = e;
            rows.push(LogRow {
                step: done,
                loss: loss_avg,
                train_accuracy: acc_avg,
                eval_accuracy: e,
                seconds: t0.elapsed().as_secs_f64(),
                val_accuracy,
            });
            if let Some(log) = &io.log {
                write_log(log, &rows, val.is_some())?;
            }
        }
        let due = (io.checkpoint_every > 0 && done % io.checkpoint_every == 0) || is_last;
        if let Some(ck) = &io.checkpoint
            && due
        {
            checkpoint::save(ck, model, &adam, cfg, done, best.as_ref())?;
        }
        if !is_last && crate::interrupt::requested() {
            let how = match &io.checkpoint {
                Some(ck) => {
                    if !due {
                        checkpoint::save(ck, model, &adam, cfg, done, best.as_ref())?;
                    }
                    format!(
                        "checkpoint {} written; run the same command with --resume to continue",
                        ck.display()
                    )
                }
                None => "no checkpoint is kept, so it cannot be resumed".into(),
            };
            return Err(Error::Interrupted(format!(
                "training stopped after step {done} of {}; {how}",
                cfg.steps
            )));
        }
        on_step(&StepInfo {
            step: done,
            steps: cfg.steps,
            loss: loss_avg,
            accuracy: acc_avg,
            eval_accuracy,
        });
    }
    if start >= cfg.steps {
        last_eval = eval::evaluate(model, eval_split).accuracy;
    }
    let selection = match (&val, best) {
        (Some(v), Some(b)) => {
            let final_val_accuracy = match last_val {
                Some((s, a)) if s == cfg.steps => a,
                _ => eval::evaluate(model, v).accuracy,
            };
            let final_test_accuracy = eval::evaluate(model, &data.test).accuracy;
            b.restore(model);
            Some(Selection {
                val_images: cfg.val_images,
                select_every: cfg.select_every,
                selected_step: b.step,
                val_accuracy: b.accuracy,
                final_val_accuracy,
                final_test_accuracy,
            })
        }
        _ => None,
    };
    Ok(TrainSummary {
        steps: cfg.steps,
        resumed_from: start,
        loss: loss_avg,
        eval_accuracy: last_eval,
        eval_split: eval_name.into(),
        seconds: t0.elapsed().as_secs_f64(),
        selection,
    })
}

/// Zero the gradient of every weight a mask prunes.
fn mask_grads(model: &mut Model, masks: &[Option<Vec<bool>>]) {
    for (p, m) in model.net.params_mut().zip(masks) {
        if let Some(m) = m {
            for (g, &keep) in p.grad.iter_mut().zip(m) {
                if !keep {
                    *g = 0.0;
                }
            }
        }
    }
}

const LOG_HEADER: &str = "step,loss,train_accuracy,eval_accuracy,seconds";

/// The log as CSV; with a validation split (`with_val`) a last column
/// `val_accuracy`, empty at rows without a selection check.
fn write_log(path: &std::path::Path, rows: &[LogRow], with_val: bool) -> Result<()> {
    let mut s = String::from(LOG_HEADER);
    if with_val {
        s += ",val_accuracy";
    }
    s.push('\n');
    for r in rows {
        s += &format!(
            "{},{:.6},{:.6},{:.6},{:.3}",
            r.step, r.loss, r.train_accuracy, r.eval_accuracy, r.seconds
        );
        if with_val {
            s.push(',');
            if let Some(v) = r.val_accuracy {
                s += &format!("{v:.6}");
            }
        }
        s.push('\n');
    }
    crate::io::write_atomic(path, s.as_bytes())
}

/// Rows of an existing log up to `max_step` (a resumed run keeps them).
fn read_log(path: &std::path::Path, max_step: u64) -> Vec<LogRow> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let v: Vec<&str> = l.split(',').collect();
            if v.len() != 5 && v.len() != 6 {
                return None;
            }
            Some(LogRow {
                step: v[0].parse().ok()?,
                loss: v[1].parse().ok()?,
                train_accuracy: v[2].parse().ok()?,
                eval_accuracy: v[3].parse().ok()?,
                seconds: v[4].parse().ok()?,
                val_accuracy: v.get(5).and_then(|x| x.parse().ok()),
            })
        })
        .filter(|r| r.step <= max_step)
        .collect()
}
