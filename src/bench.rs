//! Speed measurements behind `parana bench`: the training step and the
//! test-set forward pass of the article's networks, on synthetic inputs so
//! no dataset is needed. Results are medians over repetitions; compare them
//! with PyTorch side by side with `bench/compare_torch.py`, which runs the
//! same workloads and prints the ratios.

use crate::model::{Arch, Model, eval::EVAL_BATCH, init};
use crate::nn::{Adam, Head, Mode};
use crate::rng::Rng;
use serde::Serialize;
use std::time::Instant;

/// Timings of one workload.
#[derive(Clone, Debug, Serialize)]
pub struct Timing {
    /// Median milliseconds.
    pub median_ms: f64,
    /// Fastest repetition, milliseconds.
    pub min_ms: f64,
    /// Repetitions measured (after warm-up).
    pub reps: usize,
}

fn time(reps: usize, warmup: usize, mut f: impl FnMut()) -> Timing {
    crate::nn::flush_denormals();
    for _ in 0..warmup {
        f();
    }
    let mut t: Vec<f64> = (0..reps.max(1))
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    Timing {
        median_ms: t[t.len() / 2],
        min_ms: t[0],
        reps: t.len(),
    }
}

/// Random images in [0, 1) and labels for `n` samples of `arch`.
pub fn synthetic(arch: &Arch, n: usize, seed: u64) -> (Vec<f32>, Vec<u8>) {
    let mut r = Rng::new(seed);
    let x = (0..n * arch.in_len()).map(|_| r.uniform_f32()).collect();
    let y = (0..n).map(|_| r.below(arch.classes as u64) as u8).collect();
    (x, y)
}

/// A freshly initialised model of a preset.
pub fn model(preset: &str, head: Head) -> crate::Result<Model> {
    let mut m = Model::new(Arch::preset(preset)?, head);
    init::init(&mut m, 1);
    Ok(m)
}

/// One full training step (forward, loss, backward, Adam) at `batch`.
pub fn train_step(model: &mut Model, batch: usize, reps: usize) -> Timing {
    let (x, y) = synthetic(&model.arch, batch, 2);
    let sizes: Vec<usize> = model.net.params().map(|p| p.len()).collect();
    let mut adam = Adam::new(1e-4, 1e-4, &sizes);
    let classes = model.arch.classes;
    let head = model.head;
    time(reps, 3, || {
        model.net.forward(&x, batch, Mode::Train { seed: 1 });
        let (out, grad) = model.net.output_and_grad_mut();
        head.loss(out, &y, classes, Some(grad));
        model.net.backward(&x, None, true);
        adam.step(model.net.params_mut());
    })
}

/// The forward pass over `n` images in evaluation-sized chunks.
pub fn forward(model: &mut Model, n: usize, reps: usize) -> Timing {
    let (x, _) = synthetic(&model.arch, n, 3);
    let len = model.arch.in_len();
    time(reps, 1, || {
        for start in (0..n).step_by(EVAL_BATCH) {
            let b = EVAL_BATCH.min(n - start);
            model
                .net
                .forward(&x[start * len..(start + b) * len], b, Mode::Eval);
        }
    })
}

/// The figures `parana bench train --json` prints.
#[derive(Clone, Debug, Serialize)]
pub struct TrainBench {
    /// Worker threads.
    pub threads: usize,
    /// `article-mlp` training step at batch 250, median ms.
    pub train_step_ms: f64,
    /// `article-mlp` forward over 10,000 images, median ms.
    pub forward_10k_ms: f64,
    /// `article-cnn` training step at batch 64, median ms.
    pub cnn_train_step_ms: f64,
    /// All timings in detail.
    pub detail: std::collections::BTreeMap<String, Timing>,
}

/// Run the training benchmarks (`reps` repetitions each; the CNN gets a
/// third as many, at least 3).
pub fn train_bench(reps: usize, skip_cnn: bool) -> crate::Result<TrainBench> {
    let mut detail = std::collections::BTreeMap::new();
    let mut mlp = model("article-mlp", Head::Lq)?;
    let step = train_step(&mut mlp, 250, reps);
    let fwd = forward(&mut mlp, 10_000, reps.div_ceil(3).max(3));
    let cnn = if skip_cnn {
        None
    } else {
        let mut cnn = model("article-cnn", Head::Sce)?;
        Some(train_step(&mut cnn, 64, reps.div_ceil(3).max(3)))
    };
    let out = TrainBench {
        threads: rayon::current_num_threads(),
        train_step_ms: step.median_ms,
        forward_10k_ms: fwd.median_ms,
        cnn_train_step_ms: cnn.as_ref().map_or(f64::NAN, |t| t.median_ms),
        detail: Default::default(),
    };
    detail.insert("mlp_train_step_b250".into(), step);
    detail.insert("mlp_forward_10k".into(), fwd);
    if let Some(c) = cnn {
        detail.insert("cnn_train_step_b64".into(), c);
    }
    Ok(TrainBench { detail, ..out })
}

/// Outputs, loss and gradients of `model` on `batch` synthetic images, for
/// checking the engine against PyTorch on the same weights
/// (`bench/compare_torch.py`). Tensors: `x` `[batch, in]`, `labels`
/// `[batch]` (as f32), `out` `[batch, classes]`, `loss` `[1]` (head loss
/// without L2), `grad.<param name>` for every parameter (of the head loss
/// without L2), `grad.x` (input gradient).
pub fn reference_dump(model: &mut Model, batch: usize, seed: u64) -> crate::tensorfile::TensorFile {
    let (x, y) = synthetic(&model.arch, batch, seed);
    let classes = model.arch.classes;
    let head = model.head;
    model.net.forward(&x, batch, Mode::Eval);
    let (out, grad) = model.net.output_and_grad_mut();
    let loss = head.loss(out, &y, classes, Some(grad));
    let out = out.to_vec();
    let mut dx = vec![0.0; x.len()];
    model.net.backward(&x, Some(&mut dx), true);
    let mut f = crate::tensorfile::TensorFile::default();
    let in_len = model.arch.in_len();
    f.insert("x", vec![batch, in_len], x);
    f.insert("labels", vec![batch], y.iter().map(|&v| v as f32).collect());
    f.insert("out", vec![batch, classes], out);
    f.insert("loss", vec![1], vec![loss]);
    f.insert("grad.x", vec![batch, in_len], dx);
    let grads: Vec<(String, Vec<usize>, Vec<f32>)> = model
        .named_params()
        .map(|(n, p)| (n, p.shape.clone(), p.grad.clone()))
        .collect();
    for (n, s, g) in grads {
        f.insert(format!("grad.{n}"), s, g);
    }
    f.meta.insert("head".into(), head.name().into());
    f
}

/// Synthetic 28x28 images (random pixels) and labels as a [`crate::data::Split`].
pub fn synthetic_split(n: usize, seed: u64) -> crate::data::Split {
    let mut r = Rng::new(seed);
    crate::data::Split {
        images: (0..n * 784).map(|_| r.below(256) as u8).collect(),
        labels: (0..n).map(|_| r.below(10) as u8).collect(),
        rows: 28,
        cols: 28,
    }
}

/// The figures `parana bench attack --json` prints.
#[derive(Clone, Debug, Serialize)]
pub struct AttackBench {
    /// Worker threads.
    pub threads: usize,
    /// One universal-noise step of `article-mlp` at batch 250 (forward,
    /// softmax cross-entropy, input gradient, masked sum, SGD, clip),
    /// median ms.
    pub noise_step_ms: f64,
    /// One step of eight noises stacked (2000 rows), median ms.
    pub noise_step8_ms: f64,
    /// PGD-20 (one restart) on 10,000 images of `article-mlp`, seconds.
    pub pgd20_10k_s: f64,
    /// All timings in detail.
    pub detail: std::collections::BTreeMap<String, Timing>,
}

/// Run the attack benchmarks (`reps` repetitions of the noise steps; PGD
/// once after a warm-up on 1000 images, or `pgd_images` images).
pub fn attack_bench(reps: usize, pgd_images: usize) -> crate::Result<AttackBench> {
    use crate::attack::{pgd, universal};
    let mut m = model("article-mlp", Head::Lq)?;
    let split = synthetic_split(10_000, 5);
    let mut detail = std::collections::BTreeMap::new();
    let mut one = [universal::NoiseState::new(
        universal::NoiseConfig::article(3, 0.25),
        784,
    )];
    let mut scratch = universal::Scratch::default();
    let t1 = time(reps, 3, || {
        let mut s: Vec<&mut universal::NoiseState> = one.iter_mut().collect();
        universal::step(&mut m, &split, &mut s, &mut scratch);
    });
    let mut eight: Vec<universal::NoiseState> = (0..8)
        .map(|t| universal::NoiseState::new(universal::NoiseConfig::article(t, 0.25), 784))
        .collect();
    let t8 = time(reps.div_ceil(2).max(3), 2, || {
        let mut s: Vec<&mut universal::NoiseState> = eight.iter_mut().collect();
        universal::step(&mut m, &split, &mut s, &mut scratch);
    });
    let n = pgd_images.min(split.len());
    let idx: Vec<usize> = (0..n).collect();
    let mut x = vec![0.0f32; n * 784];
    split.gather_f32(&idx, &mut x);
    let cfg = pgd::PgdConfig {
        eps: 0.1,
        alpha: 0.0125,
        steps: 20,
        restarts: 1,
        target: None,
        seed: 1,
    };
    let tp = time(1, 0, || {
        pgd::pgd(&mut m, &x, &split.labels[..n], 0, &cfg);
    });
    let scale = 10_000.0 / n.max(1) as f64;
    let out = AttackBench {
        threads: rayon::current_num_threads(),
        noise_step_ms: t1.median_ms,
        noise_step8_ms: t8.median_ms,
        pgd20_10k_s: tp.median_ms * scale / 1e3,
        detail: Default::default(),
    };
    detail.insert("noise_step_b250".into(), t1);
    detail.insert("noise_step_8x250".into(), t8);
    detail.insert(format!("pgd20_{n}"), tp);
    Ok(AttackBench { detail, ..out })
}

/// One line of `parana bench attack --sparsity`: the universal-noise step
/// of `article-mlp` with a share of each weight matrix pruned (by
/// magnitude) and the network run through the sparse engine
/// ([`crate::sparse::sparsify`] at [`crate::sparse::MAX_DENSITY`]: layers
/// left denser stay dense).
#[derive(Clone, Debug, Serialize)]
pub struct PrunedNoiseStep {
    /// Share of each weight matrix pruned.
    pub sparsity: f64,
    /// Layers on the sparse engine.
    pub sparse_layers: usize,
    /// One noise of 250 images, median ms.
    pub step_ms: f64,
    /// Eight noises stacked (2000 rows), median ms.
    pub step8_ms: f64,
    /// The unpruned dense network's 8-noise step divided by this one's
    /// (measured in the same run).
    pub speedup8: f64,
    /// The same for the single-noise step.
    pub speedup: f64,
}

/// Time the universal-noise step (one noise of 250 images, and eight
/// stacked) through `article-mlp` pruned at each of `sparsities` (0: the
/// dense network), in one run.
pub fn pruned_noise_bench(reps: usize, sparsities: &[f64]) -> crate::Result<Vec<PrunedNoiseStep>> {
    use crate::attack::universal::{self, NoiseConfig, NoiseState};
    let split = synthetic_split(10_000, 5);
    let mut out: Vec<PrunedNoiseStep> = Vec::new();
    let mut dense: Option<(f64, f64)> = None;
    let mut list: Vec<f64> = sparsities.to_vec();
    if !list.contains(&0.0) {
        list.insert(0, 0.0);
    }
    for &s in &list {
        if !(0.0..1.0).contains(&s) {
            return Err(crate::Error::input(format!(
                "--sparsity {s} is outside [0, 1) (e.g. 0,0.9)"
            )));
        }
        let mut m = model("article-mlp", Head::Lq)?;
        if s > 0.0 {
            crate::sparse::prune_magnitude(&mut m.net, s);
            m.net = crate::sparse::sparsify(m.net, crate::sparse::MAX_DENSITY);
        }
        let sparse_layers = m
            .net
            .layers()
            .iter()
            .filter(|l| l.kind().starts_with("sparse_"))
            .count();
        let mut scratch = universal::Scratch::default();
        let mut one = [NoiseState::new(NoiseConfig::article(3, 0.25), 784)];
        let t1 = time(reps, 3, || {
            let mut st: Vec<&mut NoiseState> = one.iter_mut().collect();
            universal::step(&mut m, &split, &mut st, &mut scratch);
        });
        let mut eight: Vec<NoiseState> = (0..8)
            .map(|t| NoiseState::new(NoiseConfig::article(t, 0.25), 784))
            .collect();
        let t8 = time(reps.div_ceil(2).max(3), 2, || {
            let mut st: Vec<&mut NoiseState> = eight.iter_mut().collect();
            universal::step(&mut m, &split, &mut st, &mut scratch);
        });
        let (d1, d8) = *dense.get_or_insert((t1.median_ms, t8.median_ms));
        out.push(PrunedNoiseStep {
            sparsity: s,
            sparse_layers,
            step_ms: t1.median_ms,
            step8_ms: t8.median_ms,
            speedup8: d8 / t8.median_ms,
            speedup: d1 / t1.median_ms,
        });
    }
    Ok(out)
}
