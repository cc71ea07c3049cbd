//! Training checkpoints: the weights, Adam's moments and step count, and the
//! settings they were made with, in one safetensors file written
//! atomically; with model selection also the best weights so far
//! (`best.<param>`, step and validation accuracy in the metadata).
//! Resuming from one continues to exactly the weights an uninterrupted run
//! reaches, and selects the same ones.

use super::TrainConfig;
use super::select::Best;
use crate::error::{Error, Result};
use crate::loader;
use crate::model::Model;
use crate::nn::Adam;
use crate::tensorfile::TensorFile;
use std::path::Path;

const BEST: &str = "best.";

/// Save the training state after `step` steps, with the best weights so
/// far if selection keeps them.
pub fn save(
    path: &Path,
    model: &Model,
    adam: &Adam,
    cfg: &TrainConfig,
    step: u64,
    best: Option<&Best>,
) -> Result<()> {
    let mut f = loader::to_tensor_file(model);
    for ((name, p), (m, v)) in model.named_params().zip(adam.m.iter().zip(&adam.v)) {
        f.insert(format!("adam.m.{name}"), p.shape.clone(), m.clone());
        f.insert(format!("adam.v.{name}"), p.shape.clone(), v.clone());
    }
    if let Some(b) = best {
        for ((name, p), w) in model.named_params().zip(&b.weights) {
            f.insert(format!("{BEST}{name}"), p.shape.clone(), w.clone());
        }
        f.meta.insert("best_step".into(), b.step.to_string());
        // Exact: the value decides later comparisons.
        f.meta
            .insert("best_val_accuracy".into(), format!("{:?}", b.accuracy));
    }
    f.meta.insert("checkpoint_step".into(), step.to_string());
    f.meta.insert("adam_t".into(), adam.t.to_string());
    f.meta.insert("train_config".into(), cfg.resume_key());
    f.save(path)
}

/// Restore a checkpoint into `model` and `adam`; returns the step it was
/// taken at and the best weights it kept, if any. Fails if it was made for
/// another architecture or with other settings (a resume must continue
/// the same run).
pub fn load(
    path: &Path,
    model: &mut Model,
    adam: &mut Adam,
    cfg: &TrainConfig,
) -> Result<(u64, Option<Best>)> {
    let mut f = TensorFile::load(path)?;
    let key = f.meta.get("train_config").cloned().unwrap_or_default();
    if key != cfg.resume_key() {
        return Err(Error::file(
            path,
            format!(
                "checkpoint was made with other training settings ({key}); now {}",
                cfg.resume_key()
            ),
        ));
    }
    let step: u64 = meta_num(&f, "checkpoint_step", path)?;
    let t: u64 = meta_num(&f, "adam_t", path)?;
    let names = model.param_names();
    let mut moments = Vec::new();
    for n in &names {
        for kind in ["m", "v"] {
            let key = format!("adam.{kind}.{n}");
            let t = f
                .tensors
                .remove(&key)
                .ok_or_else(|| Error::file(path, format!("missing tensor '{key}'")))?;
            moments.push(t.data);
        }
    }
    let best = match f.meta.get("best_step") {
        None => None,
        Some(_) => {
            let mut weights = Vec::new();
            for (n, p) in names.iter().zip(model.net.params()) {
                let key = format!("{BEST}{n}");
                let t = f
                    .tensors
                    .remove(&key)
                    .ok_or_else(|| Error::file(path, format!("missing tensor '{key}'")))?;
                if t.data.len() != p.len() {
                    return Err(Error::file(path, format!("'{key}' has the wrong size")));
                }
                weights.push(t.data);
            }
            let accuracy = f
                .meta
                .get("best_val_accuracy")
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| Error::file(path, "no valid 'best_val_accuracy'"))?;
            Some(Best {
                step: meta_num(&f, "best_step", path)?,
                accuracy,
                weights,
            })
        }
    };
    let loaded = loader::from_tensor_file(&f, path)?;
    if loaded.arch != model.arch || loaded.head != model.head {
        return Err(Error::file(
            path,
            format!(
                "checkpoint is of {} ({}), this run trains {} ({})",
                loaded.arch.describe(),
                loaded.head,
                model.arch.describe(),
                model.head
            ),
        ));
    }
    for (dst, src) in model.net.params_mut().zip(loaded.net.params()) {
        dst.value.copy_from_slice(&src.value);
    }
    let mut it = moments.into_iter();
    for (i, name) in names.iter().enumerate() {
        let (m, v) = (it.next(), it.next());
        if let (Some(m), Some(v)) = (m, v) {
            if m.len() != adam.m[i].len() || v.len() != adam.v[i].len() {
                return Err(Error::file(
                    path,
                    format!("Adam state of '{name}' has the wrong size"),
                ));
            }
            adam.m[i] = m;
            adam.v[i] = v;
        }
    }
    adam.t = t;
    Ok((step, best))
}

fn meta_num(f: &TensorFile, key: &str, path: &Path) -> Result<u64> {
    f.meta
        .get(key)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::file(path, format!("not a training checkpoint (no '{key}')")))
}
