//! `prune` and `sweep`: the library's pruner (`parana::prune::Pruner`, as
//! `parana prune` uses it) and pruning sweeps
//! (`parana::experiment::sweep::run::run`, what `parana sweep` calls, into
//! the same run folder).

use crate::errors::{IntoPy, value_error};
use crate::long::{self, Progress};
use crate::model::PyModel;
use parana::data::Dataset;
use parana::experiment::sweep::results::Run;
use parana::experiment::sweep::run::{self as sweep_run, SweepSpec};
use parana::prune::{self as lib_prune, Method, PruneSettings, Pruner, Ratio, Scope, scores};
use pyo3::prelude::*;
use std::path::PathBuf;

/// Prune `model` (the arguments and defaults of `parana prune`); with
/// `out`, write it with its masks and settings (`parana::prune::file::Record`)
/// as `parana prune` does
/// (`source` is the model file whose hash is recorded).
#[pyfunction]
#[pyo3(signature = (model, method, ratio, *, scope = "per-matrix".to_string(), layers = None,
    offset = "0.07".to_string(), score_data = "train".to_string(), score_images = 2000, seed = 1,
    dataset = "mnist".to_string(), data_dir = None, out = None, source = None))]
#[allow(clippy::too_many_arguments)]
pub fn prune(
    py: Python<'_>,
    model: &PyModel,
    method: String,
    ratio: String,
    scope: String,
    layers: Option<Vec<usize>>,
    offset: String,
    score_data: String,
    score_images: usize,
    seed: u64,
    dataset: String,
    data_dir: Option<PathBuf>,
    out: Option<PathBuf>,
    source: Option<PathBuf>,
) -> PyResult<PyModel> {
    let method = Method::parse(&method).py()?;
    let ratio = Ratio::parse(&ratio).py()?;
    let scope = Scope::parse(&scope).py()?;
    let offset =
        Ratio::parse(&offset).map_err(|_| value_error(format!("bad offset '{offset}'")))?;
    if !matches!(score_data.as_str(), "train" | "test") {
        return Err(value_error(format!(
            "unknown score_data '{score_data}' (expected train or test)"
        )));
    }
    if score_images == 0 {
        return Err(value_error("score_images must be at least 1"));
    }
    let src = model.lock();
    let mut m = parana::loader::from_tensor_file(
        &parana::loader::to_tensor_file(&src),
        std::path::Path::new("<model>"),
    )
    .py()?;
    drop(src);
    let n_layers = scores::prunable_layers(&m).len();
    if let Some(bad) = layers.iter().flatten().find(|&&k| k >= n_layers) {
        return Err(value_error(format!(
            "layer {bad} does not exist: the model has {n_layers} prunable layers (0-{})",
            n_layers.saturating_sub(1)
        )));
    }
    method.check_fits(&m, layers.as_deref()).py()?;
    let m = py
        .detach(|| -> parana::Result<_> {
            let stats = if method.needs_inputs() {
                let data = Dataset::load(&dataset, data_dir.as_deref(), None)?;
                if data.train.image_len() != m.arch.in_len() {
                    return Err(parana::Error::input(format!(
                        "{} images do not fit {}",
                        data.name,
                        m.describe()
                    )));
                }
                Some(sweep_run::input_stats(
                    &mut m,
                    &data,
                    &score_data,
                    score_images,
                    seed,
                ))
            } else {
                None
            };
            let pruner = Pruner::seeded(
                &m,
                method,
                scope,
                layers.as_deref(),
                stats.as_deref(),
                offset,
                seed,
            )?;
            let masks = pruner.masks(ratio);
            let original = lib_prune::original_weights(&m);
            lib_prune::apply(&mut m, &original, &masks);
            if let Some(o) = &out {
                let from_sha256 = match &source {
                    Some(s) => Some(parana::attack::noise_file::sha256_file(s)?),
                    None => None,
                };
                let meta = lib_prune::file::Record {
                    method: method.name().into(),
                    ratio,
                    scope,
                    offset,
                    layers: layers.as_deref(),
                    score_data: method.needs_inputs().then_some(score_data.as_str()),
                    score_images,
                    seed,
                    from_sha256,
                }
                .meta();
                lib_prune::file::save(&m, &masks, &meta, o)?;
            }
            Ok(m)
        })
        .py()?;
    Ok(PyModel::new(m, out))
}

/// A pruning sweep of the model file `model` into the run folder `out`
/// (the arguments and defaults of `parana sweep`); returns its rows as JSON.
#[pyfunction]
#[pyo3(signature = (model, noise, out, *, methods = "abs,act,combined".to_string(), ratios = "0:0.99:0.01".to_string(),
    per_layer = false, layers = None, scope = "per-matrix".to_string(), offset = "0.07".to_string(),
    score_data = "train".to_string(), score_images = 2000, seed = 1, images = None,
    dataset = "mnist".to_string(), data_dir = None, progress = None))]
#[allow(clippy::too_many_arguments)]
pub fn sweep(
    py: Python<'_>,
    model: PathBuf,
    noise: Vec<PathBuf>,
    out: PathBuf,
    methods: String,
    ratios: String,
    per_layer: bool,
    layers: Option<Vec<usize>>,
    scope: String,
    offset: String,
    score_data: String,
    score_images: usize,
    seed: u64,
    images: Option<usize>,
    dataset: String,
    data_dir: Option<PathBuf>,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<String> {
    let mut ms: Vec<Method> = Vec::new();
    for m in methods.split(',') {
        let m = Method::parse(m.trim()).py()?;
        if !ms.contains(&m) {
            ms.push(m);
        }
    }
    if !matches!(score_data.as_str(), "train" | "test") {
        return Err(value_error(format!(
            "unknown score_data '{score_data}' (expected train or test)"
        )));
    }
    let spec = SweepSpec {
        model,
        methods: ms,
        ratios: Ratio::list(&ratios).py()?,
        per_layer,
        prune: PruneSettings {
            layers,
            scope: Scope::parse(&scope).py()?,
            offset: Ratio::parse(&offset)
                .map_err(|_| value_error(format!("bad offset '{offset}'")))?,
            score_data,
            score_images,
            seed,
        },
        noise,
        images,
        shard: None,
        out: out.clone(),
    };
    let rows = long::run(py, progress.as_ref(), move |p: &Progress| {
        let data = Dataset::load(&dataset, data_dir.as_deref(), None)?;
        sweep_run::run(&spec, &data, |done, total, row| {
            p.set(
                done as u64,
                total as u64,
                format!(
                    "{} {} {}: clean {:.4} noisy {:.4}",
                    row.group, row.method, row.ratio, row.clean, row.mean_noisy
                ),
            );
        })?;
        Ok(Run::load(&out)?.rows)
    })?;
    serde_json::to_string(&rows).map_err(|e| value_error(e.to_string()))
}
