//! `parana bench sweep`: the time of a real pruning sweep — every method
//! and ratio, clean plus every noise — on the first `images` test images,
//! scaled to the whole test set.
//!
//! A sweep's cost per ratio is not constant (layers run sparse at high
//! ratios; anchors are computed every tenth), so the sweep is run in full
//! rather than timed on a few ratios; only the image count is reduced, and
//! every cost is linear in it except building the pruning orders, which is
//! scaled too, so the estimate errs high.

use super::{Evaluator, Group, Item, Settings, Sweeper};
use crate::attack::noise_file::Noise;
use crate::data::Split;
use crate::error::Result;
use crate::model::Model;
use crate::prune::{self, Method, Ratio, Scope};
use serde::Serialize;
use std::time::Instant;

/// What `parana bench sweep` measures.
#[derive(Clone, Debug, Serialize)]
pub struct SweepBench {
    /// Worker threads.
    pub threads: usize,
    /// Test images per copy evaluated.
    pub images: usize,
    /// Test images of the full sweep.
    pub full_images: usize,
    /// Noises (each a copy of the test images).
    pub noises: usize,
    /// Ratios per method.
    pub ratios: usize,
    /// Seconds for the act/wanda input statistics over the score images.
    pub stats_s: f64,
    /// Score images used for them.
    pub score_images: usize,
    /// Seconds to convert the clean and noisy images once.
    pub inputs_s: f64,
    /// Seconds per method (orders, anchors and every ratio), measured.
    pub per_method_s: Vec<(String, f64)>,
    /// Seconds of the whole measured run.
    pub measured_s: f64,
    /// CPU seconds (all threads) of the whole measured run.
    pub measured_cpu_s: f64,
    /// Seconds of the full sweep: statistics, then everything else scaled
    /// by `full_images / images`.
    pub full_sweep_s: f64,
    /// CPU seconds of the full sweep, scaled the same way.
    pub full_sweep_cpu_s: f64,
    /// `full_sweep_cpu_s / threads`: the wall time on an otherwise idle
    /// machine if the threads scale (a busy machine inflates `full_sweep_s`).
    pub full_sweep_idle_estimate_s: f64,
}

/// CPU seconds this process has used (user + system, all threads).
pub fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct we hand it.
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut u) != 0 {
            return f64::NAN;
        }
        let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 * 1e-6;
        t(u.ru_utime) + t(u.ru_stime)
    }
}

/// Run the sweep of `methods` x `ratios` on `model` over the first
/// `images` images of `split` with `noises`, and scale it to all of them.
pub fn bench(
    mut model: Model,
    split: &Split,
    score_split: &Split,
    noises: &[&Noise],
    methods: &[Method],
    ratios: &[Ratio],
    images: usize,
) -> Result<SweepBench> {
    let images = images.clamp(1, split.len().max(1));
    let score_images = 2000.min(score_split.len());
    let (c0, t0) = (cpu_seconds(), Instant::now());
    let stats = if methods.iter().any(|m| m.needs_inputs()) {
        let idx = prune::scores::score_images(score_split, score_images, 1);
        Some(prune::scores::input_stats(&mut model, score_split, &idx))
    } else {
        None
    };
    let stats_s = t0.elapsed().as_secs_f64();
    let stats_cpu = cpu_seconds() - c0;
    let t = Instant::now();
    let mut eval = Evaluator::new(split, noises, Some(images));
    let inputs_s = t.elapsed().as_secs_f64();
    let settings = Settings {
        model_sha256: String::new(),
        arch: model.describe(),
        dataset: "bench".into(),
        test_images: eval.images(),
        methods: methods.iter().map(|m| m.name().to_string()).collect(),
        ratios: ratios.iter().map(|r| r.to_string()).collect(),
        groups: vec![Group {
            name: "all".into(),
            layers: None,
        }],
        scope: Scope::PerMatrix.name().into(),
        offset: "0.07".into(),
        score_data: "train".into(),
        score_images,
        seed: 1,
        noises: Vec::new(),
        layer_weights: Vec::new(),
    };
    let mut sw = Sweeper::new(&settings, model, stats)?;
    let mut per_method_s = Vec::new();
    for (mi, m) in methods.iter().enumerate() {
        let t = Instant::now();
        for ri in 0..ratios.len() {
            let item = Item {
                group: 0,
                method: mi,
                ratio: ri,
            };
            sw.run(&item, &mut eval)?;
        }
        per_method_s.push((m.name().to_string(), t.elapsed().as_secs_f64()));
    }
    let measured_s = t0.elapsed().as_secs_f64();
    let measured_cpu_s = cpu_seconds() - c0;
    let scale = split.len() as f64 / images as f64;
    let threads = rayon::current_num_threads();
    let full_sweep_cpu_s = stats_cpu + (measured_cpu_s - stats_cpu) * scale;
    Ok(SweepBench {
        threads,
        images,
        full_images: split.len(),
        noises: noises.len(),
        ratios: ratios.len(),
        stats_s,
        score_images,
        inputs_s,
        per_method_s,
        measured_s,
        measured_cpu_s,
        full_sweep_s: stats_s + (measured_s - stats_s) * scale,
        full_sweep_cpu_s,
        full_sweep_idle_estimate_s: full_sweep_cpu_s / threads.max(1) as f64,
    })
}
