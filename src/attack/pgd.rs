//! Projected gradient descent (Madry et al. 2018): a random start in the
//! L-inf ball of radius `eps`, then `steps` signed-gradient steps of size
//! `alpha`, each projected back onto the ball and onto [0, 1]; repeated
//! from `restarts` random starts.
//!
//! An image counts as broken as soon as any point the attack visits (the
//! start or any iterate, of any restart) fools the model, and that point is
//! kept as its adversarial image. So with the same seed, more steps or more
//! restarts are never weaker: they visit a superset of the points.

use super::{Outcome, input_gradient, is_fooled, predict_rows, sign};
use crate::error::{Error, Result};
use crate::model::{Model, eval::EVAL_BATCH};
use crate::rng::{Rng, purpose};

/// PGD settings.
#[derive(Clone, Debug, PartialEq)]
pub struct PgdConfig {
    /// L-inf radius.
    pub eps: f32,
    /// Step size.
    pub alpha: f32,
    /// Steps per restart.
    pub steps: usize,
    /// Random starts (at least 1).
    pub restarts: usize,
    /// Target class (None: untargeted).
    pub target: Option<u8>,
    /// Seed of the random starts.
    pub seed: u64,
}

impl PgdConfig {
    /// Check the settings.
    pub fn validate(&self) -> Result<()> {
        if !(self.eps > 0.0 && self.eps <= 1.0) {
            return Err(Error::input(format!("PGD eps {} outside (0, 1]", self.eps)));
        }
        if !(self.alpha > 0.0 && self.alpha.is_finite()) {
            return Err(Error::input(format!(
                "PGD step size {} must be positive",
                self.alpha
            )));
        }
        if self.restarts == 0 || self.restarts > 1 << 20 {
            return Err(Error::input(format!(
                "PGD restarts {} outside 1..=1048576",
                self.restarts
            )));
        }
        Ok(())
    }
}

/// The random stream of the start of image `index` in restart `restart`.
fn start_rng(seed: u64, restart: usize, index: usize) -> Rng {
    Rng::stream(
        seed,
        purpose::ATTACK,
        ((index as u64) << 20) | restart as u64,
    )
}

/// PGD on the images `x` with true `labels`; `first_index` is the dataset
/// index of the first image. Runs with subnormals flushed to zero (see
/// [`super::flush_denormals`]).
pub fn pgd(
    model: &mut Model,
    x: &[f32],
    labels: &[u8],
    first_index: usize,
    cfg: &PgdConfig,
) -> Outcome {
    super::flush_denormals();
    let len = model.arch.in_len();
    let n = labels.len();
    let mut out = Outcome {
        adv: x[..n * len].to_vec(),
        pred: vec![0; n],
        fooled: vec![false; n],
    };
    let cap = EVAL_BATCH.min(n.max(1));
    let mut xa = vec![0.0f32; cap * len];
    let mut dx = vec![0.0f32; cap * len];
    let mut pred = Vec::new();
    let mut goal = Vec::new();
    // Targeted: descend the target's loss; untargeted: climb the label's.
    let dir = if cfg.target.is_some() { -1.0 } else { 1.0 };
    for start in (0..n).step_by(EVAL_BATCH) {
        let b = EVAL_BATCH.min(n - start);
        let xs = &x[start * len..(start + b) * len];
        let ys = &labels[start..start + b];
        goal.clear();
        match cfg.target {
            None => goal.extend_from_slice(ys),
            Some(t) => goal.resize(b, t),
        }
        for r in 0..cfg.restarts {
            for i in 0..b {
                let mut rng = start_rng(cfg.seed, r, first_index + start + i);
                let row = i * len..(i + 1) * len;
                for (a, &v) in xa[row.clone()].iter_mut().zip(&xs[row]) {
                    let u = (rng.uniform_f32() * 2.0 - 1.0) * cfg.eps;
                    *a = (v + u).clamp(0.0, 1.0);
                }
            }
            for k in 0..=cfg.steps {
                // The forward of a gradient step also judges the current
                // point; after the last step a forward alone judges.
                if k < cfg.steps {
                    input_gradient(model, &xa[..b * len], &goal, b, &mut dx, &mut pred);
                } else {
                    predict_rows(model, &xa[..b * len], b, &mut pred);
                }
                for i in 0..b {
                    let gi = start + i;
                    // Images already broken keep the point that broke them.
                    if !out.fooled[gi] {
                        out.pred[gi] = pred[i];
                        out.fooled[gi] = is_fooled(pred[i], ys[i], cfg.target);
                        out.adv[gi * len..(gi + 1) * len]
                            .copy_from_slice(&xa[i * len..(i + 1) * len]);
                    }
                }
                if k == cfg.steps {
                    break;
                }
                let step = dir * cfg.alpha;
                for ((a, &x0), &g) in xa[..b * len].iter_mut().zip(xs).zip(&dx[..b * len]) {
                    let v = *a + step * sign(g);
                    *a = v.clamp(x0 - cfg.eps, x0 + cfg.eps).clamp(0.0, 1.0);
                }
            }
        }
    }
    out
}
