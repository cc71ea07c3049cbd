//! A noise suite: several universal noises trained against one model file,
//! `group` at a time in one stacked batch, with checkpoints and resume, each
//! finished noise evaluated on the test set and written with its picture.
//! `parana noise train|suite` and the experiment runner both call
//! [`train_suite`].

use super::noise_file::{self, Noise};
use super::universal::{self, NoiseConfig, NoiseState};
use super::{picture, robustness};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::loader;
use crate::model::Model;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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

/// What to train and where.
#[derive(Clone, Debug)]
pub struct Suite {
    /// The model file attacked.
    pub model: PathBuf,
    /// One config per noise.
    pub noises: Vec<NoiseConfig>,
    /// Noises trained together in one stacked batch.
    pub group: usize,
    /// Output folder.
    pub out: PathBuf,
    /// Checkpoint every N steps (0: never).
    pub checkpoint_every: u64,
    /// Continue from the checkpoints found in `out`.
    pub resume: bool,
}

/// One finished noise.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NoiseSummary {
    /// Its file.
    pub file: PathBuf,
    /// Target class.
    pub target: u8,
    /// Limit.
    pub limit: f32,
    /// Steps trained.
    pub steps: u64,
    /// Accuracy on the noisy test images.
    pub accuracy: f64,
    /// Share of non-target test images classified as the target.
    pub fooling_rate: f64,
    /// ROC AUC of the output gap telling noisy from clean images.
    pub detection_auc: f64,
    /// Share of noisy images caught at the threshold keeping 95% of clean ones.
    pub detection_caught_at_95: f64,
}

/// What a suite reports.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SuiteReport {
    /// The model's clean test accuracy.
    pub clean_accuracy: f64,
    /// Seconds spent in this call.
    pub seconds: f64,
    /// The noises, in order.
    pub noises: Vec<NoiseSummary>,
}

/// What the progress callback is told.
#[derive(Clone, Debug)]
pub enum Event {
    /// Training starts (after the clean evaluation).
    Start {
        /// The model's clean accuracy.
        clean_accuracy: f64,
    },
    /// After every step of a group.
    Step {
        /// Steps done over the whole suite.
        done: u64,
        /// Steps of the whole suite.
        total: u64,
        /// Batch fooling rate per noise of the group, e.g. `3:0.91 5:0.40`.
        msg: String,
    },
}

/// Check the suite against its model file before any work; returns the
/// model and the file's SHA-256.
pub fn check(s: &Suite) -> Result<(Model, String)> {
    let model = loader::load(&s.model)?;
    let sha = noise_file::sha256_file(&s.model)?;
    for c in &s.noises {
        c.validate(model.arch.classes).map_err(|e| match e {
            Error::Input(m) if m.starts_with("target") => Error::file(&s.model, m),
            e => e,
        })?;
    }
    if s.group == 0 {
        return Err(Error::input("--group must be at least 1"));
    }
    if s.out.is_file() {
        return Err(Error::input(format!(
            "--out {} is a file; it must be a folder",
            s.out.display()
        )));
    }
    Ok((model, sha))
}

/// Check the model fits the dataset.
pub fn check_model_fits(model: &Model, path: &Path, data: &Dataset) -> Result<()> {
    if data.test.image_len() != model.arch.in_len() || data.classes != model.arch.classes {
        return Err(Error::file(
            path,
            format!(
                "model {} does not fit {} ({}x{} images, {} classes)",
                model.describe(),
                data.name,
                data.test.rows,
                data.test.cols,
                data.classes
            ),
        ));
    }
    Ok(())
}

fn checkpoint_path(out: &Path, c: &NoiseConfig) -> PathBuf {
    out.join(noise_file::file_name(c.target, c.limit).replace(".safetensors", ".ckpt.safetensors"))
}

/// Options of [`train_suite_with`] beyond a [`Suite`].
#[derive(Clone, Debug, Default)]
pub struct Extras {
    /// Metadata added to every noise file written (e.g. the pruned model
    /// an adaptive noise was trained against).
    pub meta: std::collections::BTreeMap<String, String>,
    /// Train through the sparse engine: the model's linear layers of at
    /// most this density run as [`crate::sparse::SparseLinear`] (forward
    /// and input gradient, no densifying). The noises are still evaluated
    /// on the model as loaded, so their recorded accuracy is what `parana
    /// eval` gives.
    pub sparse: Option<f64>,
}

/// Train every noise of `s` against its model on `data` (checked with
/// [`check`] first).
pub fn train_suite(s: &Suite, data: &Dataset, on_event: impl FnMut(Event)) -> Result<SuiteReport> {
    train_suite_with(s, data, &Extras::default(), on_event)
}

/// [`train_suite`] with [`Extras`].
pub fn train_suite_with(
    s: &Suite,
    data: &Dataset,
    extras: &Extras,
    mut on_event: impl FnMut(Event),
) -> Result<SuiteReport> {
    let (mut model, model_sha) = check(s)?;
    check_model_fits(&model, &s.model, data)?;
    // The model the gradients go through: the loaded one, or a second copy
    // with its sparse layers on the sparse engine.
    let mut fast = match extras.sparse {
        Some(d) => {
            let mut m = loader::load(&s.model)?;
            m.net = crate::sparse::sparsify(m.net, d);
            Some(m)
        }
        None => None,
    };
    let _lock = crate::io::lock_dir(&s.out)?;
    let len = model.arch.in_len();
    let mut states = Vec::new();
    for c in &s.noises {
        let p = checkpoint_path(&s.out, c);
        if s.resume
            && let Some(st) = load_finished(&s.out, c, &model_sha, len)
        {
            states.push(st);
        } else if s.resume && p.exists() {
            states.push(noise_file::load_checkpoint(&p, c, &model_sha)?);
        } else {
            states.push(NoiseState::new(c.clone(), len));
        }
    }
    let clean = robustness::outputs(&mut model, &data.test, None);
    let clean_accuracy = robustness::accuracy(&clean.pred, &data.test.labels);
    on_event(Event::Start { clean_accuracy });
    let input = model.arch.input;
    let t0 = std::time::Instant::now();
    let total: u64 = states.iter().map(|s| s.cfg.steps).sum();
    let mut before = 0;
    let mut noises = Vec::new();
    for chunk in states.chunks_mut(s.group) {
        let through = fast.as_mut().unwrap_or(&mut model);
        universal::train(through, &data.train, chunk, |sts| {
            let msg: Vec<String> = sts
                .iter()
                .map(|st| format!("{}:{:.2}", st.cfg.target, st.batch_fooling))
                .collect();
            on_event(Event::Step {
                done: before + sts.iter().map(|st| st.step).sum::<u64>(),
                total,
                msg: msg.join(" "),
            });
            // At every checkpoint step, and on Ctrl-C before stopping.
            let stop = crate::interrupt::requested();
            for st in sts {
                let due = s.checkpoint_every > 0 && st.step % s.checkpoint_every == 0;
                if (due || stop) && !st.done() {
                    noise_file::save_checkpoint(
                        &checkpoint_path(&s.out, &st.cfg),
                        st,
                        input,
                        &model_sha,
                    )?;
                }
            }
            crate::interrupt::check(|| {
                let step = sts.iter().map(|st| st.step).min().unwrap_or(0);
                format!(
                    "noise training stopped at step {step}; checkpoints written in {}: run \
                     the same command with --resume to continue",
                    s.out.display()
                )
            })
        })?;
        before += chunk.iter().map(|st| st.cfg.steps).sum::<u64>();
        for st in chunk.iter() {
            noises.push(finish(
                &mut model,
                data,
                st,
                s,
                &model_sha,
                &clean,
                clean_accuracy,
                &extras.meta,
            )?);
        }
    }
    Ok(SuiteReport {
        clean_accuracy,
        seconds: t0.elapsed().as_secs_f64(),
        noises,
    })
}

/// A noise of `cfg` already finished in `out` (by an interrupted run, or by
/// a Slurm task that trained part of the suite): its file made with the
/// same settings against the same model, at its full step count. It is
/// evaluated and written again like a freshly trained one, not retrained;
/// anything else (no file, other settings, unreadable) is trained afresh.
fn load_finished(out: &Path, cfg: &NoiseConfig, model_sha: &str, len: usize) -> Option<NoiseState> {
    let path = out.join(noise_file::file_name(cfg.target, cfg.limit));
    if !path.is_file() {
        return None;
    }
    let n = Noise::load(&path).ok()?;
    let same = n.meta.get("resume_key") == Some(&cfg.resume_key())
        && n.meta.get("model_sha256").map(String::as_str) == Some(model_sha)
        && n.meta.get("steps") == Some(&cfg.steps.to_string())
        && n.data.len() == len;
    if !same {
        return None;
    }
    let mut st = NoiseState::new(cfg.clone(), len);
    st.noise = n.data;
    st.step = cfg.steps;
    Some(st)
}

/// Evaluate a trained noise on the test set, write its file and picture,
/// remove its checkpoint; returns its summary.
#[allow(clippy::too_many_arguments)]
fn finish(
    model: &mut Model,
    data: &Dataset,
    st: &NoiseState,
    s: &Suite,
    model_sha: &str,
    clean: &robustness::Outputs,
    clean_acc: f64,
    extra: &std::collections::BTreeMap<String, String>,
) -> Result<NoiseSummary> {
    let mut noise = Noise {
        data: st.noise.clone(),
        input: model.arch.input,
        target: st.cfg.target,
        limit: st.cfg.limit,
        meta: Default::default(),
    };
    let e = robustness::evaluate_noise(model, &data.test, &noise, clean);
    let m = &mut noise.meta;
    m.insert("steps".into(), st.step.to_string());
    m.insert("seed".into(), st.cfg.seed.to_string());
    m.insert("resume_key".into(), st.cfg.resume_key());
    m.insert("lr".into(), st.cfg.lr.to_string());
    m.insert("optimizer".into(), st.cfg.optimizer.name().into());
    m.insert("batch".into(), st.cfg.batch.to_string());
    m.insert("dataset".into(), data.name.clone());
    m.insert("classes".into(), data.classes.to_string());
    m.insert("model_sha256".into(), model_sha.into());
    m.insert(
        "model".into(),
        s.model
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    );
    m.insert("fooling_rate".into(), format!("{:.4}", e.fooling_rate));
    m.insert("accuracy".into(), format!("{:.4}", e.accuracy));
    m.insert("clean_accuracy".into(), format!("{clean_acc:.4}"));
    m.insert("parana_version".into(), env!("CARGO_PKG_VERSION").into());
    m.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    let path = s
        .out
        .join(noise_file::file_name(st.cfg.target, st.cfg.limit));
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
    let ck = checkpoint_path(&s.out, &st.cfg);
    if ck.exists() {
        std::fs::remove_file(&ck).map_err(|e| Error::io(&ck, e))?;
    }
    Ok(NoiseSummary {
        file: path,
        target: st.cfg.target,
        limit: st.cfg.limit,
        steps: st.step,
        accuracy: e.accuracy,
        fooling_rate: e.fooling_rate,
        detection_auc: e.detection.auc,
        detection_caught_at_95: e.detection.caught,
    })
}
