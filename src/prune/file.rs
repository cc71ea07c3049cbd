//! Pruned model files: a model file whose weights are pruned, plus one keep
//! mask per pruned weight tensor and the pruning settings as metadata.
//!
//! The mask of parameter `layers.0.weight` is the `BOOL` tensor
//! `masks.layers.0.weight` of the same shape (`torch.bool` in PyTorch),
//! true = kept, false = pruned; `U8` 0/1 and, from older files, `F32` 0/1
//! masks are read too. Layers left whole have no mask tensor. Metadata keys: `pruning_method`,
//! `pruning_ratio`, `pruning_scope`, `pruning_offset`, `pruning_layers`,
//! `pruning_score_data`, `pruning_score_images`, `pruning_seed`,
//! `pruned_from_sha256`. Loading such a file as a model ignores the masks.
//!
//! A pruned decoupled CNN is written in its sparse format instead, holding
//! only the kept weights: the stored structure is its mask.

use super::{Masks, Ratio, Scope, scores};
use crate::error::{Error, Result};
use crate::loader;
use crate::model::{Model, file};
use crate::tensorfile::TensorFile;
use std::collections::BTreeMap;
use std::path::Path;

/// The pruning settings a pruned model file records as its `pruning_*`
/// metadata: what `parana prune`, the adaptive stage and the Python package
/// write, from this one place.
pub struct Record<'a> {
    /// Method name (`act`, `random:2`, ...).
    pub method: String,
    /// Share pruned.
    pub ratio: Ratio,
    /// Selection scope.
    pub scope: Scope,
    /// Offset of the combined method.
    pub offset: Ratio,
    /// Layers pruned (None: all).
    pub layers: Option<&'a [usize]>,
    /// Split the scores were computed on (`train`, `test`), or None for a
    /// method that reads no inputs.
    pub score_data: Option<&'a str>,
    /// Images the scores were computed on.
    pub score_images: usize,
    /// Seed of the score images and random masks.
    pub seed: u64,
    /// SHA-256 of the model file pruned, when it came from one.
    pub from_sha256: Option<String>,
}

impl Record<'_> {
    /// The metadata keys and values.
    pub fn meta(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("pruning_method".into(), self.method.clone());
        m.insert("pruning_ratio".into(), self.ratio.to_string());
        m.insert("pruning_scope".into(), self.scope.name().into());
        m.insert("pruning_offset".into(), self.offset.to_string());
        m.insert("pruning_layers".into(), super::layers_name(self.layers));
        m.insert(
            "pruning_score_data".into(),
            self.score_data.unwrap_or("none").into(),
        );
        m.insert("pruning_score_images".into(), self.score_images.to_string());
        m.insert("pruning_seed".into(), self.seed.to_string());
        if let Some(sha) = &self.from_sha256 {
            m.insert("pruned_from_sha256".into(), sha.clone());
        }
        m
    }
}

/// Write `model` (already pruned with `masks`) with its masks and `meta`
/// (added to the model's metadata) atomically to `path`.
pub fn save(
    model: &Model,
    masks: &Masks,
    meta: &BTreeMap<String, String>,
    path: &Path,
) -> Result<()> {
    let mut f = loader::to_tensor_file(model);
    if file::is_decoupled(model) {
        // The sparse format stores only the kept weights: no masks needed.
        f.meta
            .extend(meta.iter().map(|(k, v)| (k.clone(), v.clone())));
        return f.save(path);
    }
    let names = model.param_names();
    let positions = scores::prunable_layers(model);
    // Parameter index of each prunable layer's weight.
    let mut param_of_layer = Vec::new();
    let mut pi = 0;
    for (li, l) in model.net.layers().iter().enumerate() {
        if positions.contains(&li) {
            param_of_layer.push(pi);
        }
        pi += l.params().len();
    }
    for (k, m) in masks.0.iter().enumerate() {
        let (Some(m), Some(&p)) = (m, param_of_layer.get(k)) else {
            continue;
        };
        let shape = model.net.params().nth(p).map(|p| p.shape.clone());
        f.insert_bool(
            format!("{}{}", file::MASK_PREFIX, names[p]),
            shape.unwrap_or_default(),
            m.clone(),
        );
    }
    for (k, v) in meta {
        f.meta.insert(k.clone(), v.clone());
    }
    f.save(path)
}

/// The keep masks of a pruned model file, one entry per parameter of
/// `model` (in [`Model::named_params`] order; `None` = not pruned), after
/// checking each is a 0/1 tensor of the parameter's shape.
pub fn masks_of(f: &TensorFile, model: &Model, path: &Path) -> Result<Vec<Option<Vec<bool>>>> {
    let mut out = Vec::new();
    let mut any = false;
    for (name, p) in model.named_params() {
        let key = format!("{}{name}", file::MASK_PREFIX);
        let (shape, keep) = if let Some(t) = f.bools.get(&key) {
            (&t.shape, t.data.clone())
        } else if let Some(t) = f.tensors.get(&key) {
            if t.data.iter().any(|&v| v != 0.0 && v != 1.0) {
                return Err(Error::file(
                    path,
                    format!("mask of '{name}' holds values other than 0 and 1"),
                ));
            }
            (&t.shape, t.data.iter().map(|&v| v == 1.0).collect())
        } else {
            out.push(None);
            continue;
        };
        if *shape != p.shape {
            return Err(Error::file(
                path,
                format!(
                    "mask of '{name}' has shape {:?}, expected {:?}",
                    shape, p.shape
                ),
            ));
        }
        any = true;
        out.push(Some(keep));
    }
    if !any {
        return Err(Error::file(
            path,
            "no masks.* tensors: not a pruned model (make one with parana prune)",
        ));
    }
    Ok(out)
}

/// Keep masks of a decoupled model: its sparse file stores only the kept
/// weights, so every non-zero weight is kept (one entry per parameter,
/// biases `None`).
pub fn nonzero_masks(model: &Model) -> Vec<Option<Vec<bool>>> {
    model
        .net
        .params()
        .map(|p| (p.name == "weight").then(|| p.value.iter().map(|&v| v != 0.0).collect()))
        .collect()
}

/// Zero the weights of `model` that `masks` (per parameter) prune.
pub fn zero_masked(model: &mut Model, masks: &[Option<Vec<bool>>]) {
    for (p, m) in model.net.params_mut().zip(masks) {
        if let Some(m) = m {
            for (v, &keep) in p.value.iter_mut().zip(m) {
                if !keep {
                    *v = 0.0;
                }
            }
        }
    }
}
