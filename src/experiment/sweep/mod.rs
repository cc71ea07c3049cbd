//! Pruning sweeps: for every layer group, method and ratio, prune the
//! *original* model and measure clean accuracy, accuracy under each noise,
//! the share of non-target images classified as each noise's target, and
//! the weights left per layer.
//!
//! The inner loop is lean: pruning orders are computed once per (group,
//! method) by [`Pruner`], each ratio only copies the original weights and
//! zeroes the pruned ones, and the clean and noisy test images are
//! converted (noise added, clipped) once into one stacked buffer that every
//! pruned network is evaluated on in large batches by [`engine::Engine`],
//! which keeps the work that does not change between ratios and runs
//! highly pruned layers on the sparse engine.

pub mod bench;
pub mod engine;
pub mod results;
pub mod run;

use crate::attack::noise_file::Noise;
use crate::data::Split;
use crate::error::Result;
use crate::model::Model;
use crate::nn::head::argmax_rows;
use crate::prune::{self, InputStats, Method, Pruner, Ratio, Scope};
use serde::{Deserialize, Serialize};

/// Images per forward pass in a sweep.
pub const SWEEP_BATCH: usize = 2000;

/// Which layers a sweep prunes: all, a fixed set, or (per-layer) one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// `all`, `layers 0,2` or `layer 1`.
    pub name: String,
    /// Prunable layer indices (None: all).
    pub layers: Option<Vec<usize>>,
}

/// One noise of a sweep, as recorded in `sweep.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoiseInfo {
    /// Short name used in columns, e.g. `class3-limit0.25`.
    pub name: String,
    /// File name.
    pub file: String,
    /// SHA-256 of the file.
    pub sha256: String,
    /// Target class.
    pub target: u8,
    /// Limit.
    pub limit: f32,
}

impl NoiseInfo {
    /// The record of noise `n`, loaded from `path`.
    pub fn of(path: &std::path::Path, n: &Noise) -> Result<NoiseInfo> {
        Ok(NoiseInfo {
            name: format!("class{}-limit{}", n.target, n.limit),
            file: path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            sha256: crate::attack::noise_file::sha256_file(path)?,
            target: n.target,
            limit: n.limit,
        })
    }
}

/// Everything that determines a sweep's rows (`RUN/sweep.json`): a sweep
/// resumes or merges only with identical settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// SHA-256 of the model file.
    pub model_sha256: String,
    /// Model architecture description.
    pub arch: String,
    /// Dataset evaluated on (its test split).
    pub dataset: String,
    /// Test images evaluated (the first N).
    pub test_images: usize,
    /// Methods, in order.
    pub methods: Vec<String>,
    /// Ratios, in order (exact decimal strings).
    pub ratios: Vec<String>,
    /// Layer groups.
    pub groups: Vec<Group>,
    /// per-matrix, global or per-row.
    pub scope: String,
    /// Offset of combined.
    pub offset: String,
    /// train or test.
    pub score_data: String,
    /// Number of score images.
    pub score_images: usize,
    /// Seed choosing them.
    pub seed: u64,
    /// Noises, in column order.
    pub noises: Vec<NoiseInfo>,
    /// Weights per prunable layer of the unpruned model.
    pub layer_weights: Vec<usize>,
}

/// One (group, method, ratio) of a sweep.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Item {
    /// Index into `Settings::groups`.
    pub group: usize,
    /// Index into `Settings::methods`.
    pub method: usize,
    /// Index into `Settings::ratios`.
    pub ratio: usize,
}

/// One recorded result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Layer group name.
    pub group: String,
    /// Method name.
    pub method: String,
    /// Ratio as given.
    pub ratio: String,
    /// Clean test accuracy.
    pub clean: f64,
    /// Accuracy under each noise (settings order).
    pub noisy: Vec<f64>,
    /// Share of non-target images classified as each noise's target.
    pub fooled: Vec<f64>,
    /// Mean of `noisy` (NaN-free: 0 noises gives 0).
    pub mean_noisy: f64,
    /// Weights left per prunable layer.
    pub remaining: Vec<usize>,
}

impl Row {
    /// (group, method, ratio).
    pub fn key(&self) -> (String, String, String) {
        (self.group.clone(), self.method.clone(), self.ratio.clone())
    }
}

impl Settings {
    /// Every item, in order: group, then method, then ratio.
    pub fn items(&self) -> Vec<Item> {
        let mut v = Vec::new();
        for g in 0..self.groups.len() {
            for m in 0..self.methods.len() {
                for r in 0..self.ratios.len() {
                    v.push(Item {
                        group: g,
                        method: m,
                        ratio: r,
                    });
                }
            }
        }
        v
    }

    /// The key of an item.
    pub fn key(&self, it: &Item) -> (String, String, String) {
        (
            self.groups[it.group].name.clone(),
            self.methods[it.method].clone(),
            self.ratios[it.ratio].clone(),
        )
    }
}

/// Predicted class of each of the `n` images `x` (values in [0, 1]) into
/// `out`, in batches. The single evaluation entry point of sweeps (a sparse
/// engine can replace it).
pub fn predict(model: &mut Model, x: &[f32], n: usize, out: &mut Vec<u8>) {
    let len = model.arch.in_len();
    let classes = model.arch.classes;
    out.clear();
    let per = SWEEP_BATCH.min(crate::model::eval::eval_batch(&model.net));
    let mut start = 0;
    while start < n {
        let b = per.min(n - start);
        let logits = model.logits(&x[start * len..(start + b) * len], b);
        out.extend(argmax_rows(logits, classes).map(|c| c as u8));
        start += b;
    }
}

/// The clean and noisy test images, converted once, and what a row needs.
pub struct Evaluator {
    x: Vec<f32>,
    n: usize,
    labels: Vec<u8>,
    targets: Vec<u8>,
    pred: Vec<u8>,
}

/// Clean accuracy and per-noise accuracy and fooling rate.
#[derive(Clone, Debug)]
pub struct Measure {
    /// Clean accuracy.
    pub clean: f64,
    /// Accuracy under each noise.
    pub noisy: Vec<f64>,
    /// Fooling rate of each noise.
    pub fooled: Vec<f64>,
}

impl Evaluator {
    /// Stack the first `limit` (all when None) images of `split`, clean and
    /// with each noise added (clipped to [0, 1]).
    pub fn new(split: &Split, noises: &[&Noise], limit: Option<usize>) -> Evaluator {
        let n = limit.unwrap_or(split.len()).min(split.len());
        let len = split.image_len();
        let idx: Vec<usize> = (0..n).collect();
        let mut x = vec![0.0f32; (1 + noises.len()) * n * len];
        split.gather_f32(&idx, &mut x[..n * len]);
        let (clean, rest) = x.split_at_mut(n * len);
        for (k, nz) in noises.iter().enumerate() {
            let dst = &mut rest[k * n * len..(k + 1) * n * len];
            for (d, c) in dst.chunks_exact_mut(len).zip(clean.chunks_exact(len)) {
                for ((d, &c), &v) in d.iter_mut().zip(c).zip(&nz.data) {
                    *d = (c + v).clamp(0.0, 1.0);
                }
            }
        }
        Evaluator {
            x,
            n,
            labels: split.labels[..n].to_vec(),
            targets: noises.iter().map(|z| z.target).collect(),
            pred: Vec::new(),
        }
    }

    /// Images per copy (clean or one noise).
    pub fn images(&self) -> usize {
        self.n
    }

    /// Evaluate `model` on the clean and every noisy copy.
    pub fn measure(&mut self, model: &mut Model) -> Measure {
        self.measure_with(|x, n, out| predict(model, x, n, out))
    }

    /// Measure the predictions `predict(x, n, out)` makes on the `n`
    /// stacked clean and noisy images `x`.
    pub fn measure_with(&mut self, predict: impl FnOnce(&[f32], usize, &mut Vec<u8>)) -> Measure {
        crate::nn::flush_denormals();
        let copies = 1 + self.targets.len();
        let mut pred = std::mem::take(&mut self.pred);
        predict(&self.x, copies * self.n, &mut pred);
        self.pred = pred;
        let n = self.n;
        let acc = |p: &[u8]| {
            let ok = p.iter().zip(&self.labels).filter(|(p, y)| p == y).count();
            ok as f64 / n.max(1) as f64
        };
        let clean = acc(&self.pred[..n]);
        let mut noisy = Vec::new();
        let mut fooled = Vec::new();
        for (k, &t) in self.targets.iter().enumerate() {
            let p = &self.pred[(k + 1) * n..(k + 2) * n];
            noisy.push(acc(p));
            let (mut other, mut hit) = (0usize, 0usize);
            for (&p, &y) in p.iter().zip(&self.labels) {
                if y != t {
                    other += 1;
                    hit += (p == t) as usize;
                }
            }
            fooled.push(if other == 0 {
                0.0
            } else {
                hit as f64 / other as f64
            });
        }
        Measure {
            clean,
            noisy,
            fooled,
        }
    }
}

/// Runs items of a sweep on one model.
pub struct Sweeper<'a> {
    settings: &'a Settings,
    model: Model,
    original: Vec<Vec<f32>>,
    stats: Option<Vec<InputStats>>,
    scope: Scope,
    offset: Ratio,
    ratios: Vec<Ratio>,
    methods: Vec<Method>,
    pruner: Option<((usize, usize), Pruner)>,
    engine: engine::Engine,
}

impl<'a> Sweeper<'a> {
    /// `stats` are the unpruned model's input statistics (needed unless
    /// every method is abs).
    pub fn new(
        settings: &'a Settings,
        model: Model,
        stats: Option<Vec<InputStats>>,
    ) -> Result<Sweeper<'a>> {
        let ratios = settings
            .ratios
            .iter()
            .map(|r| Ratio::parse(r))
            .collect::<Result<Vec<_>>>()?;
        let methods = settings
            .methods
            .iter()
            .map(|m| Method::parse(m))
            .collect::<Result<Vec<_>>>()?;
        Ok(Sweeper {
            settings,
            original: prune::original_weights(&model),
            model,
            stats,
            scope: Scope::parse(&settings.scope)?,
            offset: Ratio::parse(&settings.offset)?,
            ratios,
            methods,
            pruner: None,
            engine: engine::Engine::default(),
        })
    }

    /// Prune the original model for `it` and measure it.
    pub fn run(&mut self, it: &Item, eval: &mut Evaluator) -> Result<Row> {
        let key = (it.group, it.method);
        if self.pruner.as_ref().is_none_or(|(k, _)| *k != key) {
            // Scores are of the original weights, not the last pruned ones.
            self.restore();
            let p = Pruner::seeded(
                &self.model,
                self.methods[it.method],
                self.scope,
                self.settings.groups[it.group].layers.as_deref(),
                self.stats.as_deref(),
                self.offset,
                self.settings.seed,
            )?;
            self.pruner = Some((key, p));
        }
        let Some((_, pruner)) = &self.pruner else {
            unreachable!("set above")
        };
        let masks = pruner.masks(self.ratios[it.ratio]);
        let remaining: Vec<usize> = masks
            .kept()
            .iter()
            .zip(&self.original)
            .map(|(k, w)| k.unwrap_or(w.len()))
            .collect();
        prune::apply(&mut self.model, &self.original, &masks);
        // The first layer this group prunes, and the anchor of this ratio.
        let first = self.settings.groups[it.group]
            .layers
            .as_ref()
            .and_then(|l| l.iter().min().copied())
            .unwrap_or(0);
        let f = prune::scores::prunable_layers(&self.model)
            .get(first)
            .copied()
            .unwrap_or(0);
        let anchor = self.ratios[it.ratio].floor_to(engine::ANCHORS);
        let original = &self.original[first.min(self.original.len().saturating_sub(1))];
        let (model, engine) = (&mut self.model, &mut self.engine);
        let anchor_w = || {
            let mut w = original.clone();
            pruner.masks(anchor).apply_to(first, original, &mut w);
            w
        };
        let key = (it.group, it.method, anchor);
        let m = eval.measure_with(|x, n, out| engine.predict(model, x, n, f, key, anchor_w, out));
        let (g, me, r) = self.settings.key(it);
        let mean_noisy = if m.noisy.is_empty() {
            0.0
        } else {
            m.noisy.iter().sum::<f64>() / m.noisy.len() as f64
        };
        Ok(Row {
            group: g,
            method: me,
            ratio: r,
            clean: m.clean,
            noisy: m.noisy,
            fooled: m.fooled,
            mean_noisy,
            remaining,
        })
    }

    /// Put the original weights back.
    pub fn restore(&mut self) {
        prune::apply(&mut self.model, &self.original, &prune::Masks(vec![]));
    }
}
