//! Universal targeted noise: one noise image `n` per target class, trained
//! against a fixed model so that `clip(x + n, 0, 1)` is classified as the
//! target for as many images `x` as possible, with `|n| <= limit` everywhere.
//!
//! `n` starts at 0. Each step takes a batch of training images, sets all
//! their labels to the target, computes the mean softmax cross-entropy of
//! the model's raw outputs on `clip(x + n, 0, 1)`, and moves `n` alone along
//! its gradient (SGD, or Adam as an option), then clips it to
//! `[-limit, limit]`. The gradient with respect to `n` is the sum over the
//! batch of the input gradients, zeroed where the clip to [0, 1] is active
//! (as automatic differentiation through a clamp gives it).
//!
//! Several noises train together as one stacked batch (8 noises of 250
//! images are one forward and backward of 2000 rows), which uses the cores
//! better than eight small batches. The batches are drawn from the seed and
//! the step number alone, so training resumes exactly from a checkpoint.

use super::input_gradient;
use crate::data::Split;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::rng::{Rng, purpose};

/// How the noise follows its gradient.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimizer {
    /// Plain gradient descent (the article's).
    Sgd,
    /// Adam (beta1 0.9, beta2 0.999, eps 1e-8).
    Adam,
}

impl Optimizer {
    /// Parse `sgd` / `adam`.
    pub fn parse(s: &str) -> Result<Optimizer> {
        match s.to_ascii_lowercase().as_str() {
            "sgd" => Ok(Optimizer::Sgd),
            "adam" => Ok(Optimizer::Adam),
            _ => Err(Error::input(format!(
                "unknown optimizer '{s}' (expected sgd or adam)"
            ))),
        }
    }

    /// `sgd` or `adam`.
    pub fn name(self) -> &'static str {
        match self {
            Optimizer::Sgd => "sgd",
            Optimizer::Adam => "adam",
        }
    }
}

/// The settings of one noise.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct NoiseConfig {
    /// Target class.
    pub target: u8,
    /// Largest absolute value of the noise, in (0, 1].
    pub limit: f32,
    /// Training steps.
    pub steps: u64,
    /// Learning rate.
    pub lr: f32,
    /// Optimizer.
    pub optimizer: Optimizer,
    /// Seed of the batches.
    pub seed: u64,
    /// Images per step.
    pub batch: usize,
}

impl NoiseConfig {
    /// The article's settings for `target` and `limit`: 5000 SGD steps of
    /// 250 images at learning rate 0.1.
    pub fn article(target: u8, limit: f32) -> NoiseConfig {
        NoiseConfig {
            target,
            limit,
            steps: 5000,
            lr: 0.1,
            optimizer: Optimizer::Sgd,
            seed: 1,
            batch: 250,
        }
    }

    /// Check the settings against a model with `classes` outputs.
    pub fn validate(&self, classes: usize) -> Result<()> {
        if self.target as usize >= classes {
            return Err(Error::input(format!(
                "target {} is outside the classes 0-{}",
                self.target,
                classes.saturating_sub(1)
            )));
        }
        check_limit(self.limit)?;
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(Error::input(format!(
                "learning rate {} must be positive",
                self.lr
            )));
        }
        if self.batch == 0 || self.batch > 1 << 16 {
            return Err(Error::input(format!(
                "batch {} outside 1..=65536",
                self.batch
            )));
        }
        Ok(())
    }

    /// What a checkpoint must match to be resumed.
    pub fn resume_key(&self) -> String {
        format!(
            "target={} limit={} lr={} optimizer={} seed={} batch={}",
            self.target,
            self.limit,
            self.lr,
            self.optimizer.name(),
            self.seed,
            self.batch
        )
    }
}

/// Check that a noise limit is in (0, 1].
pub fn check_limit(limit: f32) -> Result<()> {
    if limit > 0.0 && limit <= 1.0 {
        Ok(())
    } else {
        Err(Error::input(format!("limit {limit} is outside (0, 1]")))
    }
}

/// A noise being trained.
#[derive(Clone, Debug)]
pub struct NoiseState {
    /// Its settings.
    pub cfg: NoiseConfig,
    /// The noise, one value per input value (the model's input layout).
    pub noise: Vec<f32>,
    /// Steps done.
    pub step: u64,
    /// Adam's first moments (empty for SGD).
    pub m: Vec<f32>,
    /// Adam's second moments (empty for SGD).
    pub v: Vec<f32>,
    /// Share of the last batch's non-target images classified as the target.
    pub batch_fooling: f64,
    /// Loss of the last batch.
    pub loss: f32,
}

impl NoiseState {
    /// A zero noise of `len` values.
    pub fn new(cfg: NoiseConfig, len: usize) -> NoiseState {
        let adam = cfg.optimizer == Optimizer::Adam;
        NoiseState {
            cfg,
            noise: vec![0.0; len],
            step: 0,
            m: if adam { vec![0.0; len] } else { vec![] },
            v: if adam { vec![0.0; len] } else { vec![] },
            batch_fooling: 0.0,
            loss: f32::NAN,
        }
    }

    /// Whether all steps are done.
    pub fn done(&self) -> bool {
        self.step >= self.cfg.steps
    }

    fn update(&mut self, grad: &[f32]) {
        let (lr, lim) = (self.cfg.lr, self.cfg.limit);
        match self.cfg.optimizer {
            Optimizer::Sgd => {
                for (n, &g) in self.noise.iter_mut().zip(grad) {
                    *n = (*n - lr * g).clamp(-lim, lim);
                }
            }
            Optimizer::Adam => {
                let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
                let t = (self.step + 1) as i32;
                let c1 = 1.0 - b1.powi(t);
                let c2 = 1.0 - b2.powi(t);
                for (((n, &g), m), v) in self
                    .noise
                    .iter_mut()
                    .zip(grad)
                    .zip(self.m.iter_mut())
                    .zip(self.v.iter_mut())
                {
                    *m = b1 * *m + (1.0 - b1) * g;
                    *v = b2 * *v + (1.0 - b2) * g * g;
                    let step = lr * (*m / c1) / ((*v / c2).sqrt() + eps);
                    *n = (*n - step).clamp(-lim, lim);
                }
            }
        }
        self.step += 1;
    }
}

/// The training images of step `step`: `batch` indices drawn uniformly
/// from `0..n` by a stream of `seed` and the step alone.
pub fn batch_indices(seed: u64, step: u64, n: usize, batch: usize, out: &mut Vec<usize>) {
    let mut r = Rng::stream(seed, purpose::NOISE, step);
    out.clear();
    out.extend((0..batch).map(|_| r.below(n as u64) as usize));
}

/// Reusable buffers for [`step`].
#[derive(Default)]
pub struct Scratch {
    x: Vec<f32>,
    input: Vec<f32>,
    dx: Vec<f32>,
    labels: Vec<u8>,
    pred: Vec<usize>,
    idx: Vec<usize>,
    grad: Vec<f32>,
}

/// The gradient of the group-mean loss with respect to each noise, for the
/// stacked batch of `states` (not yet updated); fills `scratch.grad` with
/// one gradient per state, in order, and records each state's loss and
/// batch fooling rate.
pub fn gradients(
    model: &mut Model,
    train: &Split,
    states: &mut [&mut NoiseState],
    scratch: &mut Scratch,
) {
    let len = model.arch.in_len();
    let rows: usize = states.iter().map(|s| s.cfg.batch).sum();
    let s = scratch;
    s.x.resize(rows * len, 0.0);
    s.input.resize(rows * len, 0.0);
    s.dx.resize(rows * len, 0.0);
    s.labels.clear();
    let mut off = 0;
    for st in states.iter() {
        let b = st.cfg.batch;
        batch_indices(st.cfg.seed, st.step, train.len(), b, &mut s.idx);
        let x = &mut s.x[off * len..(off + b) * len];
        train.gather_f32(&s.idx, x);
        for (row, xi) in s.input[off * len..(off + b) * len]
            .chunks_exact_mut(len)
            .zip(x.chunks_exact(len))
        {
            for ((o, &xv), &nv) in row.iter_mut().zip(xi).zip(&st.noise) {
                *o = (xv + nv).clamp(0.0, 1.0);
            }
        }
        s.labels.resize(off + b, st.cfg.target);
        off += b;
    }
    // Every group has the same batch size in a stacked run (checked by the
    // caller); the groups' losses are separate means.
    let group = states.first().map_or(1, |s| s.cfg.batch);
    input_gradient(model, &s.input, &s.labels, group, &mut s.dx, &mut s.pred);
    s.grad.clear();
    s.grad.resize(states.len() * len, 0.0);
    let classes = model.arch.classes;
    let out = model.net.output();
    let mut off = 0;
    for (k, st) in states.iter_mut().enumerate() {
        let b = st.cfg.batch;
        let g = &mut s.grad[k * len..(k + 1) * len];
        for r in off..off + b {
            let xr = &s.x[r * len..(r + 1) * len];
            let dr = &s.dx[r * len..(r + 1) * len];
            for (((g, &xv), &nv), &d) in g.iter_mut().zip(xr).zip(&st.noise).zip(dr) {
                let v = xv + nv;
                // d clip(v, 0, 1) / dv = 1 on [0, 1] (inclusive, as torch.clamp).
                if (0.0..=1.0).contains(&v) {
                    *g += d;
                }
            }
        }
        let t = st.cfg.target as usize;
        let idx_labels = {
            batch_indices(st.cfg.seed, st.step, train.len(), b, &mut s.idx);
            &s.idx
        };
        let (mut other, mut hit) = (0usize, 0usize);
        for (j, &i) in idx_labels.iter().enumerate() {
            if train.labels[i] as usize != t {
                other += 1;
                hit += (s.pred[off + j] == t) as usize;
            }
        }
        st.batch_fooling = if other == 0 {
            0.0
        } else {
            hit as f64 / other as f64
        };
        st.loss = crate::nn::sce::loss(
            &out[off * classes..(off + b) * classes],
            &s.labels[off..off + b],
            classes,
            None,
        );
        off += b;
    }
}

/// One training step of every state in `states`, stacked into one batch.
pub fn step(
    model: &mut Model,
    train: &Split,
    states: &mut [&mut NoiseState],
    scratch: &mut Scratch,
) {
    if states.is_empty() {
        return;
    }
    gradients(model, train, states, scratch);
    let len = model.arch.in_len();
    for (k, st) in states.iter_mut().enumerate() {
        st.update(&scratch.grad[k * len..(k + 1) * len]);
    }
}

/// Train every state in `states` to its step count, stacking those with the
/// same batch size (after [`super::flush_denormals`]); `on_step` runs after every step (progress, checkpoints)
/// and can stop the run with an error.
pub fn train(
    model: &mut Model,
    train: &Split,
    states: &mut [NoiseState],
    mut on_step: impl FnMut(&[NoiseState]) -> Result<()>,
) -> Result<()> {
    if let Some(s) = states.iter().find(|s| s.noise.len() != model.arch.in_len()) {
        return Err(Error::input(format!(
            "noise of {} values for a model of {} inputs",
            s.noise.len(),
            model.arch.in_len()
        )));
    }
    super::flush_denormals();
    let mut scratch = Scratch::default();
    loop {
        let Some(batch) = states.iter().find(|s| !s.done()).map(|s| s.cfg.batch) else {
            return Ok(());
        };
        let mut active: Vec<&mut NoiseState> = states
            .iter_mut()
            .filter(|s| !s.done() && s.cfg.batch == batch)
            .collect();
        step(model, train, &mut active, &mut scratch);
        drop(active);
        on_step(states)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Arch, init::init};
    use crate::nn::Head;
    use crate::nn::gradcheck::assert_close;

    fn split(n: usize, seed: u64) -> Split {
        let mut r = Rng::new(seed);
        Split {
            // Pixels well inside (0, 255) and at the edges, so that some
            // x + n leave [0, 1] and the clip's mask matters.
            images: (0..n * 784).map(|_| r.below(256) as u8).collect(),
            labels: (0..n).map(|_| r.below(10) as u8).collect(),
            rows: 28,
            cols: 28,
        }
    }

    fn small_model() -> Model {
        let mut m = Model::new(Arch::custom(vec![16], vec![]).unwrap(), Head::Lq);
        init(&mut m, 4);
        m
    }

    /// The loss of one state as a function of its noise, recomputed from
    /// scratch (mean softmax cross-entropy of clip(x + n) against the target).
    fn loss_at(model: &mut Model, train: &Split, st: &NoiseState, noise: &[f32]) -> f64 {
        let mut idx = Vec::new();
        batch_indices(st.cfg.seed, st.step, train.len(), st.cfg.batch, &mut idx);
        let mut x = vec![0.0; idx.len() * 784];
        train.gather_f32(&idx, &mut x);
        for row in x.chunks_exact_mut(784) {
            for (v, &n) in row.iter_mut().zip(noise) {
                *v = (*v + n).clamp(0.0, 1.0);
            }
        }
        let out = model.logits(&x, idx.len()).to_vec();
        let labels = vec![st.cfg.target; idx.len()];
        crate::nn::sce::loss(&out, &labels, 10, None) as f64
    }

    #[test]
    fn noise_gradient_matches_finite_differences() {
        let mut model = small_model();
        let train = split(64, 1);
        let mut cfg = NoiseConfig::article(3, 0.5);
        cfg.batch = 8;
        let mut st = NoiseState::new(cfg, 784);
        let mut r = Rng::new(2);
        // A noise whose x + n is often outside [0, 1] but never within 0.02
        // of an edge (where the finite difference would straddle the kink).
        let mut idx = Vec::new();
        batch_indices(st.cfg.seed, 0, train.len(), 8, &mut idx);
        for j in 0..784 {
            'draw: loop {
                let n = (r.uniform_f32() - 0.5) * 0.8;
                for &i in &idx {
                    let v = train.images[i * 784 + j] as f32 / 255.0 + n;
                    if v.abs() < 0.02 || (v - 1.0).abs() < 0.02 {
                        continue 'draw;
                    }
                }
                st.noise[j] = n;
                break;
            }
        }
        let mut scratch = Scratch::default();
        let mut states = [&mut st];
        gradients(&mut model, &train, &mut states, &mut scratch);
        let grad = scratch.grad.clone();
        let mut clipped = 0;
        let h = 5e-3f32;
        for j in 0..784 {
            let mut p = st.noise.clone();
            p[j] += h;
            let lp = loss_at(&mut model, &train, &st, &p);
            p[j] -= 2.0 * h;
            let lm = loss_at(&mut model, &train, &st, &p);
            let num = (lp - lm) / (2.0 * h as f64);
            assert_close("noise grad", j, grad[j] as f64, num, 2e-3);
            for &i in &idx {
                let v = train.images[i * 784 + j] as f32 / 255.0 + st.noise[j];
                clipped += !(0.0..=1.0).contains(&v) as usize;
            }
        }
        // The clip was active for many (image, pixel) pairs, so the check
        // covered the mask.
        assert!(clipped > 300, "only {clipped} clipped values");
    }

    #[test]
    fn stacked_training_equals_one_at_a_time_and_respects_the_limit() {
        let mut model = small_model();
        let train = split(200, 3);
        let cfgs: Vec<NoiseConfig> = [(1u8, 0.2f32), (7, 0.05)]
            .iter()
            .map(|&(t, l)| NoiseConfig {
                steps: 6,
                batch: 20,
                ..NoiseConfig::article(t, l)
            })
            .collect();
        let mut together: Vec<NoiseState> = cfgs
            .iter()
            .map(|c| NoiseState::new(c.clone(), 784))
            .collect();
        train_all(&mut model, &train, &mut together);
        for (c, t) in cfgs.iter().zip(&together) {
            let mut alone = vec![NoiseState::new(c.clone(), 784)];
            train_all(&mut model, &train, &mut alone);
            for (a, b) in alone[0].noise.iter().zip(&t.noise) {
                assert!((a - b).abs() < 1e-5, "{a} vs {b}");
            }
            assert_eq!(t.step, 6);
            assert!(t.noise.iter().all(|v| v.abs() <= c.limit));
            assert!(t.noise.iter().any(|&v| v != 0.0));
        }
        // Adam moves too, within the limit.
        let mut adam = vec![NoiseState::new(
            NoiseConfig {
                optimizer: Optimizer::Adam,
                lr: 0.01,
                ..cfgs[0].clone()
            },
            784,
        )];
        train_all(&mut model, &train, &mut adam);
        assert!(adam[0].noise.iter().any(|&v| v != 0.0));
        assert!(adam[0].noise.iter().all(|v| v.abs() <= 0.2));
    }

    fn train_all(model: &mut Model, data: &Split, states: &mut [NoiseState]) {
        train(model, data, states, |_| Ok(())).unwrap();
    }
}
