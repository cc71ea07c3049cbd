//! Robustness measures: a model's accuracy on test images with a universal
//! noise added, the share of non-target images the noise pushes to its
//! target, detection of the noisy images, and robust accuracy under a
//! per-example attack.

use super::detect::{self, Detection};
use super::{Attack, noise_file::Noise};
use crate::data::Split;
use crate::model::{Model, eval::EVAL_BATCH};
use crate::nn::head::argmax_rows;
use serde::Serialize;

/// Predictions and detection scores of a model on a split.
#[derive(Clone, Debug)]
pub struct Outputs {
    /// Predicted class per image.
    pub pred: Vec<usize>,
    /// Detection score per image (see [`detect::score`]).
    pub score: Vec<f32>,
}

/// Run `model` on every image of `split`, with `noise` added and the sum
/// clipped to [0, 1] when given.
pub fn outputs(model: &mut Model, split: &Split, noise: Option<&[f32]>) -> Outputs {
    super::flush_denormals();
    let n = split.len();
    let len = split.image_len();
    let classes = model.arch.classes;
    let mut x = vec![0.0f32; EVAL_BATCH.min(n.max(1)) * len];
    let mut o = Outputs {
        pred: Vec::with_capacity(n),
        score: Vec::with_capacity(n),
    };
    let idx: Vec<usize> = (0..n).collect();
    for chunk in idx.chunks(EVAL_BATCH) {
        let b = chunk.len();
        let xb = &mut x[..b * len];
        split.gather_f32(chunk, xb);
        if let Some(nz) = noise {
            for row in xb.chunks_exact_mut(len) {
                for (v, &d) in row.iter_mut().zip(nz) {
                    *v = (*v + d).clamp(0.0, 1.0);
                }
            }
        }
        let out = model.logits(xb, b);
        o.pred.extend(argmax_rows(out, classes));
        o.score.extend(out.chunks_exact(classes).map(detect::score));
    }
    o
}

/// Fraction of `pred` equal to `labels`.
pub fn accuracy(pred: &[usize], labels: &[u8]) -> f64 {
    if pred.is_empty() {
        return 0.0;
    }
    let ok = pred
        .iter()
        .zip(labels)
        .filter(|&(&p, &y)| p == y as usize)
        .count();
    ok as f64 / pred.len() as f64
}

/// Share of images whose label is not `target` that are predicted `target`.
pub fn fooling_rate(pred: &[usize], labels: &[u8], target: u8) -> f64 {
    let (mut other, mut hit) = (0usize, 0usize);
    for (&p, &y) in pred.iter().zip(labels) {
        if y != target {
            other += 1;
            hit += (p == target as usize) as usize;
        }
    }
    if other == 0 {
        0.0
    } else {
        hit as f64 / other as f64
    }
}

/// A model under one universal noise.
#[derive(Clone, Debug, Serialize)]
pub struct NoiseEval {
    /// Target class of the noise.
    pub target: u8,
    /// Limit of the noise.
    pub limit: f32,
    /// Accuracy on the noisy test images.
    pub accuracy: f64,
    /// Share of non-target images classified as the target.
    pub fooling_rate: f64,
    /// How well the output gap tells noisy from clean images.
    pub detection: Detection,
}

/// Evaluate `model` on `split` under `noise`; `clean` are the model's
/// outputs on the clean split (computed once per model).
pub fn evaluate_noise(
    model: &mut Model,
    split: &Split,
    noise: &Noise,
    clean: &Outputs,
) -> NoiseEval {
    let o = outputs(model, split, Some(&noise.data));
    NoiseEval {
        target: noise.target,
        limit: noise.limit,
        accuracy: accuracy(&o.pred, &split.labels),
        fooling_rate: fooling_rate(&o.pred, &split.labels, noise.target),
        detection: detect::detection(&clean.score, &o.score, 0.95),
    }
}

/// A model under one per-example attack.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct AttackEval {
    /// The attack, e.g. `pgd:0.1 (20 steps of 0.0125, 1 restart)`.
    pub attack: String,
    /// Its radius.
    pub eps: f32,
    /// Accuracy on the adversarial images.
    pub robust_accuracy: f64,
    /// Share of images the attack succeeded on (misclassified, or
    /// classified as the target; targeted attacks count only images of
    /// other classes).
    pub success_rate: f64,
    /// Images attacked.
    pub images: usize,
    /// Seconds taken.
    pub seconds: f64,
    /// For AutoAttack: what each attack of the sequence added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<super::autoattack::StageEval>,
}

/// Attack the first `limit` images of `split` (all when None).
pub fn evaluate_attack(
    model: &mut Model,
    split: &Split,
    attack: &Attack,
    limit: Option<usize>,
) -> AttackEval {
    let n = limit.unwrap_or(split.len()).min(split.len());
    let len = split.image_len();
    let idx: Vec<usize> = (0..n).collect();
    let mut x = vec![0.0f32; n * len];
    split.gather_f32(&idx, &mut x);
    let labels = &split.labels[..n];
    let t0 = std::time::Instant::now();
    let (o, stages) = attack.run_staged(model, &x, labels, 0);
    let seconds = t0.elapsed().as_secs_f64();
    let eligible = match attack.target() {
        None => n,
        Some(t) => labels.iter().filter(|&&y| y != t).count(),
    };
    let fooled = o.fooled.iter().filter(|&&f| f).count();
    AttackEval {
        attack: attack.describe(),
        eps: attack.eps(),
        robust_accuracy: accuracy(&o.pred, labels),
        success_rate: if eligible == 0 {
            0.0
        } else {
            fooled as f64 / eligible as f64
        },
        images: n,
        seconds,
        stages,
    }
}
