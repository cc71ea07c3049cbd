//! `evaluate` and `reproduce`: a model's accuracy (and under noise) on a
//! dataset as `parana eval` measures it, and whole experiment files as
//! `parana reproduce` runs them.

use crate::errors::{IntoPy, value_error};
use crate::long::{self, Progress};
use crate::model::PyModel;
use parana::attack::noise_file::Noise;
use parana::attack::robustness;
use parana::data::Dataset;
use parana::experiment::reproduce::{self as lib_reproduce, Event, Options};
use parana::model::eval;
use pyo3::prelude::*;
use std::path::PathBuf;

/// Evaluate `model` on `split` of `dataset`, clean and under each noise
/// file of `noise` (files or folders); returns JSON.
#[pyfunction]
#[pyo3(signature = (model, *, dataset = "mnist".to_string(), data_dir = None, split = "test".to_string(), noise = vec![]))]
pub fn evaluate(
    py: Python<'_>,
    model: &PyModel,
    dataset: String,
    data_dir: Option<PathBuf>,
    split: String,
    noise: Vec<PathBuf>,
) -> PyResult<String> {
    let path = model.file().unwrap_or_else(|| PathBuf::from("<model>"));
    let mut m = model.lock();
    let m = &mut *m;
    let v = py
        .detach(|| -> parana::Result<serde_json::Value> {
            let data = Dataset::load(&dataset, data_dir.as_deref(), None)?;
            let s = match split.as_str() {
                "test" => &data.test,
                "train" => &data.train,
                s => {
                    return Err(parana::Error::input(format!(
                        "unknown split '{s}' (expected test or train)"
                    )));
                }
            };
            parana::attack::suite::check_model_fits(m, &path, &data)?;
            let e = eval::evaluate(m, s);
            let mut noises = Vec::new();
            let paths = Noise::expand_paths(&noise)?;
            if !paths.is_empty() {
                let clean = robustness::outputs(m, s, None);
                for p in &paths {
                    let n = Noise::load(p)?;
                    n.check_fits(p, m, &data.name, data.classes)?;
                    let mut v = serde_json::to_value(robustness::evaluate_noise(m, s, &n, &clean))
                        .map_err(|e| parana::Error::Other(e.to_string()))?;
                    v["file"] = serde_json::json!(p);
                    noises.push(v);
                }
            }
            Ok(serde_json::json!({
                "dataset": data.name,
                "split": split,
                "clean_accuracy": e.accuracy,
                "correct": e.correct,
                "total": e.total,
                "per_class_accuracy": e.per_class,
                "confusion": e.confusion,
                "noises": noises,
            }))
        })
        .py()?;
    Ok(v.to_string())
}

/// Run the experiment file `experiment` into the run folder `out`, stage
/// by stage, skipping what is done; returns a summary as JSON.
#[pyfunction]
#[pyo3(signature = (experiment, out, *, only = None, dry_run = false, progress = None))]
pub fn reproduce(
    py: Python<'_>,
    experiment: PathBuf,
    out: PathBuf,
    only: Option<String>,
    dry_run: bool,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<String> {
    let opts = Options { only, dry_run };
    let s = long::run(py, progress.as_ref(), move |p: &Progress| {
        let (mut done, mut total) = (0u64, 0u64);
        lib_reproduce::reproduce(&experiment, &out, &opts, |e| match e {
            Event::Plan(plan) => total = plan.iter().filter(|p| p.runs).count() as u64,
            Event::Begin { id, .. } => p.set(done, total, id),
            Event::Progress { id, msg } => p.set(done, total, format!("{id}: {msg}")),
            Event::End { id, .. } => {
                done += 1;
                p.set(done, total, id);
            }
        })
    })?;
    let v = serde_json::json!({
        "ran": s.ran,
        "cached": s.cached,
        "not_selected": s.not_selected,
        "seconds": s.seconds,
    });
    serde_json::to_string(&v).map_err(|e| value_error(e.to_string()))
}
