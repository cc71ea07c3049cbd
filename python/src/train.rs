//! `train` and `train_noise`: the library's training loops
//! (`parana::train::train`, `parana::attack::suite::train_suite`, as `parana
//! train` and `parana noise train/suite` call them), run off the GIL with
//! progress and Ctrl-C.

use crate::errors::{IntoPy, value_error};
use crate::long::{self, Progress};
use crate::model::PyModel;
use parana::attack::suite::{self, Event, Suite};
use parana::attack::universal::{self, NoiseConfig, Optimizer};
use parana::data::Dataset;
use parana::model::{Arch, Model, arch, eval, init};
use parana::nn::Head;
use parana::train::{self as lib_train, TrainConfig, TrainIo};
use pyo3::prelude::*;
use std::path::{Path, PathBuf};

/// `X.safetensors` -> `X.<suffix>` (the CLI's checkpoint and log names).
fn side_file(out: &Path, suffix: &str) -> PathBuf {
    let stem = out.file_name().and_then(|s| s.to_str()).unwrap_or("model");
    let stem = stem.strip_suffix(".safetensors").unwrap_or(stem);
    out.with_file_name(format!("{stem}.{suffix}"))
}

/// Train a model (the arguments and defaults of `parana train`); saved to
/// `out` with its checkpoint and log beside it when `out` is given.
#[pyfunction]
#[pyo3(signature = (*, arch = "article-mlp".to_string(), hidden = None, conv = None, head = "lq".to_string(),
    dropout = 0.0, steps = 10_000, batch = 250, lr = 1e-4, l2 = 1e-4, seed = 1,
    dataset = "mnist".to_string(), data_dir = None, val = 0, select_every = lib_train::DEFAULT_SELECT_EVERY,
    lr_decay = "off".to_string(), decay_from = lib_train::DEFAULT_DECAY_FROM, out = None, eval_every = 500,
    checkpoint_every = 1000, resume = false, progress = None))]
#[allow(clippy::too_many_arguments)]
pub fn train(
    py: Python<'_>,
    arch: String,
    hidden: Option<String>,
    conv: Option<String>,
    head: String,
    dropout: f32,
    steps: u64,
    batch: usize,
    lr: f32,
    l2: f32,
    seed: u64,
    dataset: String,
    data_dir: Option<PathBuf>,
    val: usize,
    select_every: u64,
    lr_decay: String,
    decay_from: f64,
    out: Option<PathBuf>,
    eval_every: u64,
    checkpoint_every: u64,
    resume: bool,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<PyModel> {
    let mut a = match (&hidden, &conv) {
        (Some(h), c) => Arch::custom(
            arch::parse_hidden(h).py()?,
            arch::parse_convs(c.as_deref().unwrap_or("")).py()?,
        )
        .py()?,
        (None, Some(_)) => {
            return Err(value_error(
                "conv needs hidden for the fully connected part",
            ));
        }
        (None, None) => Arch::preset(&arch).py()?,
    };
    a.dropout = dropout;
    a.validate().py()?;
    let head = Head::parse(&head).py()?;
    let cfg = TrainConfig {
        steps,
        batch,
        lr,
        l2,
        seed,
        val_images: val,
        select_every,
        lr_decay: lib_train::LrDecay::parse(&lr_decay)
            .map_err(|e| value_error(format!("lr_decay: {e}")))?,
        decay_from,
    };
    if !(0.0..1.0).contains(&decay_from) {
        return Err(value_error(format!(
            "decay_from {decay_from} is not a fraction of the steps in [0, 1)"
        )));
    }
    cfg.validate().py()?;
    let out2 = out.clone();
    let m = long::run(py, progress.as_ref(), move |p: &Progress| {
        let data = Dataset::load(&dataset, data_dir.as_deref(), None)?;
        if cfg.val_images >= data.train.len() {
            return Err(parana::Error::input(format!(
                "val {} must be fewer than the {} training images of {}",
                cfg.val_images,
                data.train.len(),
                data.name
            )));
        }
        a.classes = data.classes;
        let mut model = Model::new(a, head);
        init::init(&mut model, seed);
        let _lock;
        let io = match &out2 {
            Some(o) => {
                let (ckpt, log) = (side_file(o, "ckpt.safetensors"), side_file(o, "log.csv"));
                _lock = parana::io::lock_file(o, &[&ckpt, &log])?;
                TrainIo {
                    checkpoint: Some(ckpt),
                    checkpoint_every,
                    resume,
                    log: Some(log),
                    eval_every,
                    keep_masks: None,
                }
            }
            None => TrainIo {
                checkpoint: None,
                checkpoint_every: 0,
                resume: false,
                log: None,
                eval_every: 0,
                keep_masks: None,
            },
        };
        let summary = lib_train::train(&mut model, &data, &cfg, &io, |s| {
            p.set(
                s.step,
                cfg.steps,
                format!("loss {:.4} acc {:.3}", s.loss, s.accuracy),
            );
        })?;
        let test = eval::evaluate(&mut model, &data.test);
        lib_train::stamp_meta(&mut model, &data.name, &cfg, test.accuracy);
        if let Some(s) = &summary.selection {
            s.stamp(&mut model);
        }
        if let Some(o) = &out2 {
            parana::loader::save(&model, o)?;
        }
        Ok(model)
    })?;
    Ok(PyModel::new(m, out))
}

/// Train universal targeted noises against the model file `model` (the
/// arguments and defaults of `parana noise suite`); writes
/// `out/noise-class{T}-limit{L}.safetensors` (+ .png) and returns the
/// suite's report as JSON.
#[pyfunction]
#[pyo3(signature = (model, pairs, out, *, steps = 5000, lr = None, optimizer = "sgd".to_string(), batch = 250,
    seed = 1, group = 8, dataset = "mnist".to_string(), data_dir = None, checkpoint_every = 500,
    resume = false, progress = None))]
#[allow(clippy::too_many_arguments)]
pub fn train_noises(
    py: Python<'_>,
    model: PathBuf,
    pairs: Vec<(u8, f32)>,
    out: PathBuf,
    steps: u64,
    lr: Option<f32>,
    optimizer: String,
    batch: usize,
    seed: u64,
    group: usize,
    dataset: String,
    data_dir: Option<PathBuf>,
    checkpoint_every: u64,
    resume: bool,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<String> {
    let optimizer = Optimizer::parse(&optimizer).py()?;
    let lr = lr.unwrap_or(match optimizer {
        Optimizer::Sgd => 0.1,
        Optimizer::Adam => 0.01,
    });
    for &(_, l) in &pairs {
        universal::check_limit(l).py()?;
    }
    let s = Suite {
        model: model.clone(),
        noises: pairs
            .iter()
            .map(|&(target, limit)| NoiseConfig {
                target,
                limit,
                steps,
                lr,
                optimizer,
                seed,
                batch,
            })
            .collect(),
        group,
        out,
        checkpoint_every,
        resume,
    };
    let (m, _) = suite::check(&s).py()?;
    let report = long::run(py, progress.as_ref(), move |p: &Progress| {
        let data = Dataset::load(&dataset, data_dir.as_deref(), None)?;
        suite::check_model_fits(&m, &model, &data)?;
        drop(m);
        suite::train_suite(&s, &data, |e| {
            if let Event::Step { done, total, msg } = e {
                p.set(done, total, format!("fooling {msg}"));
            }
        })
    })?;
    serde_json::to_string(&report).map_err(|e| value_error(e.to_string()))
}
