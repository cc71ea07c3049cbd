//! Auto-PGD (Croce & Hein, ICML 2020, Algorithm 1), L-inf: PGD with
//! momentum 0.75 and a step size that needs no tuning. It starts at `2 *
//! eps` and is halved at checkpoints (after 22% of the iterations, then
//! ever shorter intervals down to 6%) when progress stalls: when the loss
//! rose in at most 75% of the steps since the last checkpoint (condition
//! 1), or when the step was not halved at the last checkpoint and the best
//! loss has not improved since (condition 2); a halving restarts from the
//! best point found. It climbs cross-entropy, the scale-free DLR loss, or
//! (APGD-T) the targeted DLR loss against each of the `targets` classes
//! with the largest clean outputs in turn, as in AutoAttack.
//!
//! An image counts as broken as soon as any point visited is misclassified
//! (targeted or not), and keeps that point. Broken images leave the batch,
//! which changes nothing for the others (each image has its own step size
//! and checkpoints) and saves their forward and backward passes.

use super::Outcome;
use super::loss::{LossKind, loss_gradient};
use crate::error::{Error, Result};
use crate::model::{Model, eval::eval_batch};
use crate::nn::head::argmax_rows;
use crate::rng::{Rng, purpose};

/// The loss APGD climbs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApgdLoss {
    /// Cross-entropy (APGD-CE).
    Ce,
    /// Untargeted DLR (APGD-DLR).
    Dlr,
    /// Targeted DLR against the `n` classes with the largest clean outputs
    /// after the label, one after another (APGD-T).
    Targeted(usize),
}

/// APGD settings.
#[derive(Clone, Debug, PartialEq)]
pub struct ApgdConfig {
    /// L-inf radius.
    pub eps: f32,
    /// Iterations per run.
    pub steps: usize,
    /// Runs from random starts (per target class for APGD-T).
    pub restarts: usize,
    /// The loss.
    pub loss: ApgdLoss,
    /// Seed of the random starts.
    pub seed: u64,
}

impl ApgdConfig {
    /// AutoAttack's settings: 100 iterations, 1 restart (APGD-T: 9 targets).
    pub fn standard(eps: f32, loss: ApgdLoss, seed: u64) -> ApgdConfig {
        ApgdConfig {
            eps,
            steps: 100,
            restarts: 1,
            loss,
            seed,
        }
    }

    /// Check the settings.
    pub fn validate(&self) -> Result<()> {
        if !(self.eps > 0.0 && self.eps <= 1.0) {
            return Err(Error::input(format!(
                "APGD eps {} outside (0, 1]",
                self.eps
            )));
        }
        if self.steps == 0 || self.steps > 1 << 20 {
            return Err(Error::input(format!(
                "APGD iterations {} outside 1..=1048576",
                self.steps
            )));
        }
        if self.restarts == 0 || self.restarts > 1 << 10 {
            return Err(Error::input(format!(
                "APGD restarts {} outside 1..=1024",
                self.restarts
            )));
        }
        if let ApgdLoss::Targeted(t) = self.loss
            && (t == 0 || t > 1 << 10)
        {
            return Err(Error::input(format!(
                "APGD-T target classes {t} outside 1..=1024"
            )));
        }
        Ok(())
    }

    /// Short name, e.g. `apgd-ce:0.1 (100 iterations, 1 restart)`.
    pub fn describe(&self) -> String {
        let (name, extra) = match self.loss {
            ApgdLoss::Ce => ("apgd-ce", String::new()),
            ApgdLoss::Dlr => ("apgd-dlr", String::new()),
            ApgdLoss::Targeted(t) => ("apgd-t", format!(", {t} targets")),
        };
        format!(
            "{name}:{} ({} iterations, {} restart{}{extra})",
            self.eps,
            self.steps,
            self.restarts,
            if self.restarts == 1 { "" } else { "s" }
        )
    }
}

/// The random stream of the start of image `index` for target rank `rank`
/// and restart `restart` (kept apart from PGD's streams).
fn start_rng(seed: u64, rank: usize, restart: usize, index: usize) -> Rng {
    Rng::stream(
        seed ^ 0xA9D0_0000_0000_0000,
        purpose::ATTACK,
        ((index as u64) << 24) | ((rank as u64) << 12) | restart as u64,
    )
}

/// Project `v` onto the ball of radius `eps` around `x0` and onto [0, 1].
fn project(v: f32, x0: f32, eps: f32) -> f32 {
    v.clamp(x0 - eps, x0 + eps).clamp(0.0, 1.0)
}

/// The state of one APGD run over the images still robust in a chunk;
/// slot `s` holds image `img[s]` of the chunk.
struct Run {
    len: usize,
    img: Vec<usize>,
    y: Vec<u8>,
    target: Vec<usize>,
    x0: Vec<f32>,
    x: Vec<f32>,
    x_old: Vec<f32>,
    x_best: Vec<f32>,
    grad: Vec<f32>,
    grad_best: Vec<f32>,
    loss_best: Vec<f32>,
    loss_prev: Vec<f32>,
    loss_best_check: Vec<f32>,
    reduced_check: Vec<bool>,
    increases: Vec<usize>,
    step: Vec<f32>,
}

impl Run {
    /// Keep the slots where `keep` is true, in order.
    fn retain(&mut self, keep: &[bool]) {
        let len = self.len;
        let mut w = 0;
        for (r, &k) in keep.iter().enumerate() {
            if !k {
                continue;
            }
            if w != r {
                for v in [
                    &mut self.x0,
                    &mut self.x,
                    &mut self.x_old,
                    &mut self.x_best,
                    &mut self.grad,
                    &mut self.grad_best,
                ] {
                    v.copy_within(r * len..(r + 1) * len, w * len);
                }
                self.img[w] = self.img[r];
                self.y[w] = self.y[r];
                self.target[w] = self.target[r];
                for v in [
                    &mut self.loss_best,
                    &mut self.loss_prev,
                    &mut self.loss_best_check,
                    &mut self.step,
                ] {
                    v[w] = v[r];
                }
                self.reduced_check[w] = self.reduced_check[r];
                self.increases[w] = self.increases[r];
            }
            w += 1;
        }
        for v in [
            &mut self.x0,
            &mut self.x,
            &mut self.x_old,
            &mut self.x_best,
            &mut self.grad,
            &mut self.grad_best,
        ] {
            v.truncate(w * len);
        }
        self.img.truncate(w);
        self.y.truncate(w);
        self.target.truncate(w);
        for v in [
            &mut self.loss_best,
            &mut self.loss_prev,
            &mut self.loss_best_check,
            &mut self.step,
        ] {
            v.truncate(w);
        }
        self.reduced_check.truncate(w);
        self.increases.truncate(w);
    }
}

/// Mark the slots whose prediction `pred` differs from their label as
/// broken in `out` (chunk offset `base`), keeping `x` as their adversarial
/// image; returns which slots are still robust.
fn record(out: &mut Outcome, base: usize, run: &Run, pred: &[usize]) -> Vec<bool> {
    let len = run.len;
    let mut keep = Vec::with_capacity(run.img.len());
    for (s, &p) in pred.iter().enumerate() {
        let gi = base + run.img[s];
        if p != run.y[s] as usize {
            out.fooled[gi] = true;
            out.pred[gi] = p;
            out.adv[gi * len..(gi + 1) * len].copy_from_slice(&run.x[s * len..(s + 1) * len]);
            keep.push(false);
        } else {
            keep.push(true);
        }
    }
    keep
}

/// One APGD run (Algorithm 1) on the images `img` of the chunk `xs`
/// starting at dataset index `first`; marks broken images in `out`.
#[allow(clippy::too_many_arguments)]
fn single_run(
    model: &mut Model,
    cfg: &ApgdConfig,
    kind: LossKind,
    xs: &[f32],
    ys: &[u8],
    img: Vec<usize>,
    target: Vec<usize>,
    rank: usize,
    restart: usize,
    base: usize,
    first: usize,
    out: &mut Outcome,
) {
    let len = model.arch.in_len();
    let n = img.len();
    if n == 0 {
        return;
    }
    let eps = cfg.eps;
    let mut x0 = Vec::with_capacity(n * len);
    let mut x = Vec::with_capacity(n * len);
    for &i in &img {
        let row = &xs[i * len..(i + 1) * len];
        x0.extend_from_slice(row);
        // A uniform direction scaled so its largest entry is eps.
        let mut rng = start_rng(cfg.seed, rank, restart, first + base + i);
        let t: Vec<f32> = (0..len).map(|_| rng.uniform_f32() * 2.0 - 1.0).collect();
        let m = t.iter().fold(0.0f32, |a, &b| a.max(b.abs())) + 1e-12;
        x.extend(
            row.iter()
                .zip(&t)
                .map(|(&v, &u)| (v + eps * u / m).clamp(0.0, 1.0)),
        );
    }
    let mut run = Run {
        len,
        y: img.iter().map(|&i| ys[i]).collect(),
        img,
        target,
        x_old: x.clone(),
        x_best: x.clone(),
        x0,
        x,
        grad: vec![0.0; n * len],
        grad_best: vec![0.0; n * len],
        loss_best: Vec::new(),
        loss_prev: Vec::new(),
        loss_best_check: Vec::new(),
        reduced_check: vec![true; n],
        increases: vec![0; n],
        step: vec![2.0 * eps; n],
    };
    let mut loss = Vec::new();
    let mut pred = Vec::new();
    loss_gradient(
        model,
        kind,
        &run.x,
        &run.y,
        &run.target,
        &mut loss,
        &mut pred,
        &mut run.grad,
    );
    run.grad_best.copy_from_slice(&run.grad);
    run.loss_best = loss.clone();
    run.loss_prev = loss.clone();
    run.loss_best_check = loss.clone();
    let keep = record(out, base, &run, &pred);
    run.retain(&keep);
    // Checkpoint intervals: 22% of the iterations, shrinking by 3% to 6%.
    let mut interval = ((0.22 * cfg.steps as f64) as usize).max(1);
    let shrink = ((0.03 * cfg.steps as f64) as usize).max(1);
    let min_interval = ((0.06 * cfg.steps as f64) as usize).max(1);
    let mut since = 0;
    for it in 0..cfg.steps {
        if run.img.is_empty() {
            return;
        }
        let a = if it > 0 { 0.75 } else { 1.0 };
        for s in 0..run.img.len() {
            let step = run.step[s];
            let r = s * len..(s + 1) * len;
            for (((xv, xo), &x0), &g) in run.x[r.clone()]
                .iter_mut()
                .zip(&mut run.x_old[r.clone()])
                .zip(&run.x0[r.clone()])
                .zip(&run.grad[r])
            {
                let v = *xv;
                let z = project(v + step * super::sign(g), x0, eps);
                *xv = project(v + a * (z - v) + (1.0 - a) * (v - *xo), x0, eps);
                *xo = v;
            }
        }
        loss_gradient(
            model,
            kind,
            &run.x,
            &run.y,
            &run.target,
            &mut loss,
            &mut pred,
            &mut run.grad,
        );
        // Judge the points just evaluated before a halving moves them.
        let keep = record(out, base, &run, &pred);
        for (s, &l) in loss.iter().enumerate().take(run.img.len()) {
            if l > run.loss_best[s] {
                run.loss_best[s] = l;
                let r = s * len..(s + 1) * len;
                run.x_best[r.clone()].copy_from_slice(&run.x[r.clone()]);
                run.grad_best[r.clone()].copy_from_slice(&run.grad[r]);
            }
            run.increases[s] += (l > run.loss_prev[s]) as usize;
            run.loss_prev[s] = l;
        }
        since += 1;
        if since == interval {
            for s in 0..run.img.len() {
                let oscillating = run.increases[s] as f64 <= 0.75 * interval as f64;
                let stalled = !run.reduced_check[s] && run.loss_best_check[s] >= run.loss_best[s];
                let halve = oscillating || stalled;
                run.reduced_check[s] = halve;
                run.loss_best_check[s] = run.loss_best[s];
                run.increases[s] = 0;
                if halve {
                    run.step[s] /= 2.0;
                    let r = s * len..(s + 1) * len;
                    run.x[r.clone()].copy_from_slice(&run.x_best[r.clone()]);
                    run.grad[r.clone()].copy_from_slice(&run.grad_best[r]);
                }
            }
            interval = interval.saturating_sub(shrink).max(min_interval);
            since = 0;
        }
        if keep.iter().any(|&k| !k) {
            run.retain(&keep);
        }
    }
}

/// APGD on the images `x` with true `labels`; `first_index` is the dataset
/// index of the first image. Images the model already misclassifies count
/// as broken at their clean point. Runs with subnormals flushed to zero.
///
/// ```
/// use parana::attack::apgd::{ApgdConfig, ApgdLoss, apgd};
/// use parana::model::{Arch, Model, init};
/// use parana::nn::Head;
/// let mut m = Model::new(Arch::custom(vec![32], vec![]).unwrap(), Head::Sce);
/// init::init(&mut m, 7);
/// let x: Vec<f32> = (0..3 * 784).map(|i| (i % 17) as f32 / 16.0).collect();
/// let cfg = ApgdConfig::standard(0.1, ApgdLoss::Targeted(9), 1);
/// let out = apgd(&mut m, &x, &[1, 2, 3], 0, &cfg);
/// assert!(out.adv.iter().zip(&x).all(|(a, x)| (a - x).abs() <= 0.1 + 1e-6 && (0.0..=1.0).contains(a)));
/// ```
pub fn apgd(
    model: &mut Model,
    x: &[f32],
    labels: &[u8],
    first_index: usize,
    cfg: &ApgdConfig,
) -> Outcome {
    super::flush_denormals();
    let len = model.arch.in_len();
    let classes = model.arch.classes;
    let n = labels.len();
    let mut out = Outcome {
        adv: x[..n * len].to_vec(),
        pred: vec![0; n],
        fooled: vec![false; n],
    };
    let cap = eval_batch(&model.net);
    for base in (0..n).step_by(cap.max(1)) {
        let b = cap.min(n - base);
        let xs = &x[base * len..(base + b) * len];
        let ys = &labels[base..base + b];
        // Clean outputs: misclassified images are broken already; the
        // others are ranked for the targeted loss.
        let logits = model.logits(xs, b).to_vec();
        let mut order: Vec<Vec<usize>> = Vec::with_capacity(b);
        for (i, p) in argmax_rows(&logits, classes).enumerate() {
            out.pred[base + i] = p;
            out.fooled[base + i] = p != ys[i] as usize;
            let z = &logits[i * classes..(i + 1) * classes];
            let mut o: Vec<usize> = (0..classes).collect();
            o.sort_by(|&a, &c| z[c].total_cmp(&z[a]));
            order.push(o);
        }
        let (kind, ranks) = match cfg.loss {
            ApgdLoss::Ce => (LossKind::Ce, 1),
            ApgdLoss::Dlr => (LossKind::Dlr, 1),
            ApgdLoss::Targeted(t) => (LossKind::DlrTargeted, t.min(classes - 1)),
        };
        for rank in 0..ranks {
            for restart in 0..cfg.restarts {
                let img: Vec<usize> = (0..b).filter(|&i| !out.fooled[base + i]).collect();
                // Target: the (rank + 2)-th largest clean output.
                let target = img.iter().map(|&i| order[i][rank + 1]).collect();
                single_run(
                    model,
                    cfg,
                    kind,
                    xs,
                    ys,
                    img,
                    target,
                    rank,
                    restart,
                    base,
                    first_index,
                    &mut out,
                );
            }
        }
    }
    out
}
