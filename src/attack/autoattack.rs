//! AutoAttack (Croce & Hein 2020), L-inf: a fixed sequence of attacks,
//! each run only on the images all earlier ones failed on, so an image's
//! robustness is the per-image worst case over the sequence.
//!
//! Standard: APGD-CE (100 iterations, 1 restart), APGD-T (100 iterations,
//! 9 target classes, 1 restart each), in place of FAB-T APGD-DLR
//! (untargeted DLR, 100 iterations, 1 restart), then Square (5000
//! queries). FAB-T is not built here: its role in the standard sequence is
//! a second, scale-free white-box attack with a different search, and
//! APGD-DLR (AutoAttack's own `plus` member, invariant to the scale of the
//! outputs like FAB) stands in for it. In AutoAttack's published runs FAB-T
//! and Square almost never break an image APGD-CE and APGD-T left robust.
//! Fast (`autoattack-fast`): APGD-CE then APGD-T, for sweeps.

use super::Outcome;
use super::apgd::{ApgdConfig, ApgdLoss};
use super::square::SquareConfig;
use crate::model::Model;
use serde::{Deserialize, Serialize};

/// AutoAttack settings.
#[derive(Clone, Debug, PartialEq)]
pub struct AutoAttackConfig {
    /// L-inf radius.
    pub eps: f32,
    /// APGD-CE and APGD-T only.
    pub fast: bool,
    /// APGD iterations.
    pub steps: usize,
    /// APGD-CE restarts (and restarts per target of APGD-T).
    pub restarts: usize,
    /// APGD-T target classes.
    pub targets: usize,
    /// Square queries.
    pub queries: usize,
    /// Seed of every attack's random starts.
    pub seed: u64,
}

impl AutoAttackConfig {
    /// The standard (or fast) version.
    pub fn standard(eps: f32, fast: bool, seed: u64) -> AutoAttackConfig {
        AutoAttackConfig {
            eps,
            fast,
            steps: 100,
            restarts: 1,
            targets: 9,
            queries: 5000,
            seed,
        }
    }

    /// Short name, e.g. `autoattack:0.1 (apgd-ce, apgd-t x9, apgd-dlr, square 5000)`.
    pub fn describe(&self) -> String {
        if self.fast {
            format!(
                "autoattack-fast:{} (apgd-ce, apgd-t x{}; {} iterations)",
                self.eps, self.targets, self.steps
            )
        } else {
            format!(
                "autoattack:{} (apgd-ce, apgd-t x{}, apgd-dlr, square {}; {} iterations)",
                self.eps, self.targets, self.queries, self.steps
            )
        }
    }

    /// The attacks in the order they run: (name, attack).
    pub fn sequence(&self) -> Vec<(&'static str, super::Attack)> {
        let ap = |loss| {
            super::Attack::Apgd(ApgdConfig {
                eps: self.eps,
                steps: self.steps,
                restarts: self.restarts,
                loss,
                seed: self.seed,
            })
        };
        let mut v = vec![
            ("apgd-ce", ap(ApgdLoss::Ce)),
            ("apgd-t", ap(ApgdLoss::Targeted(self.targets))),
        ];
        if !self.fast {
            v.push(("apgd-dlr", ap(ApgdLoss::Dlr)));
            v.push((
                "square",
                super::Attack::Square(SquareConfig {
                    queries: self.queries,
                    ..SquareConfig::standard(self.eps, self.seed)
                }),
            ));
        }
        v
    }
}

/// One attack of a sequence.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StageEval {
    /// Its name (`apgd-ce`, `apgd-t`, `apgd-dlr`, `square`).
    pub attack: String,
    /// Images it was run on (those still robust).
    pub attacked: usize,
    /// Images it broke.
    pub broken: usize,
    /// Robust accuracy after it (all earlier attacks included).
    pub robust_accuracy: f64,
    /// Seconds taken.
    pub seconds: f64,
}

/// AutoAttack on the images `x` with true `labels` (`first_index`: the
/// dataset index of the first image): the per-image worst case, and what
/// each attack added.
pub fn autoattack(
    model: &mut Model,
    x: &[f32],
    labels: &[u8],
    first_index: usize,
    cfg: &AutoAttackConfig,
) -> (Outcome, Vec<StageEval>) {
    let len = model.arch.in_len();
    let n = labels.len();
    // Clean predictions: the attacks below start with them.
    let mut pred = Vec::with_capacity(n);
    let cap = crate::model::eval::eval_batch(&model.net).max(1);
    let mut part = Vec::new();
    for s in (0..n).step_by(cap) {
        let b = cap.min(n - s);
        super::predict_rows(model, &x[s * len..(s + b) * len], b, &mut part);
        pred.extend_from_slice(&part);
    }
    let mut out = Outcome {
        adv: x[..n * len].to_vec(),
        fooled: pred
            .iter()
            .zip(labels)
            .map(|(&p, &y)| p != y as usize)
            .collect(),
        pred,
    };
    let mut stages = Vec::new();
    for (name, attack) in cfg.sequence() {
        let t0 = std::time::Instant::now();
        let idx: Vec<usize> = (0..n).filter(|&i| !out.fooled[i]).collect();
        let mut broken = 0;
        if !idx.is_empty() {
            let mut xs = Vec::with_capacity(idx.len() * len);
            let mut ys = Vec::with_capacity(idx.len());
            for &i in &idx {
                xs.extend_from_slice(&x[i * len..(i + 1) * len]);
                ys.push(labels[i]);
            }
            // The random streams follow the position in this subset (plus
            // `first_index`): deterministic for given model, images and seed.
            let o = attack.run(model, &xs, &ys, first_index);
            for (k, &i) in idx.iter().enumerate() {
                if o.fooled[k] {
                    broken += 1;
                    out.fooled[i] = true;
                    out.pred[i] = o.pred[k];
                    out.adv[i * len..(i + 1) * len].copy_from_slice(&o.adv[k * len..(k + 1) * len]);
                }
            }
        }
        let robust = out.fooled.iter().filter(|&&f| !f).count();
        stages.push(StageEval {
            attack: name.into(),
            attacked: idx.len(),
            broken,
            robust_accuracy: if n == 0 {
                0.0
            } else {
                robust as f64 / n as f64
            },
            seconds: t0.elapsed().as_secs_f64(),
        });
    }
    (out, stages)
}
