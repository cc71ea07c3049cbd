//! `parana bench sparse`: the sparse engine against the dense path on a
//! preset network pruned by magnitude, per layer and end to end.
//!
//! Other jobs may share the cores, so wall times are noisy: each repetition
//! times the dense and the sparse path back to back (interleaved), and the
//! records hold medians, so their ratio compares like with like. Every
//! record also holds the largest difference between the two outputs.

use super::{MAX_DENSITY, SparseLinear, kernel, prune_magnitude, sparsify};
use crate::model::{Model, eval::EVAL_BATCH};
use crate::nn::{Head, Layer, Mode, Sequential};
use crate::rng::Rng;
use serde::Serialize;
use std::time::Instant;

/// One measurement: a layer (or the whole network) at one sparsity and
/// batch size.
#[derive(Clone, Debug, Serialize)]
pub struct Record {
    /// The preset, e.g. `article-mlp`.
    pub model: String,
    /// `layers.{i}` or `all` (end to end).
    pub layer: String,
    /// Fraction of each weight matrix pruned.
    pub sparsity: f64,
    /// Samples per forward pass (end to end above 1000: in chunks of 1000,
    /// as `parana eval` runs).
    pub batch: usize,
    /// Dense path (gemm, then ReLU), median milliseconds.
    pub dense_ms: f64,
    /// Sparse path (every layer sparse), median milliseconds.
    pub sparse_ms: f64,
    /// End to end only: each layer dense or sparse by its density (what
    /// `parana eval` runs), median milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_ms: Option<f64>,
    /// `dense_ms / sparse_ms`.
    pub speedup: f64,
    /// The nnz-proportional ideal speedup, `dense weights / stored weights`.
    pub ideal_speedup: f64,
    /// Multiply-adds actually needed (stored weights x batch), as GFLOP/s
    /// (2 flops each) of the sparse path.
    pub sparse_gflops: f64,
    /// The dense path's GFLOP/s over all its weights.
    pub dense_gflops: f64,
    /// Stored (non-zero) weights.
    pub nnz: usize,
    /// Largest |dense - sparse| over the outputs.
    pub max_abs_diff: f32,
    /// Repetitions (each dense and sparse, interleaved).
    pub reps: usize,
    /// Worker threads.
    pub threads: usize,
    /// Kernel instruction set.
    pub simd: String,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Time each closure `reps` times, interleaved, after one warm-up call
/// each; medians in ms.
fn interleaved<const N: usize>(reps: usize, fs: &mut [&mut dyn FnMut(); N]) -> [f64; N] {
    for f in fs.iter_mut() {
        f();
    }
    let mut t = vec![Vec::with_capacity(reps); N];
    for _ in 0..reps.max(1) {
        for (k, f) in fs.iter_mut().enumerate() {
            let s = Instant::now();
            f();
            t[k].push(s.elapsed().as_secs_f64() * 1e3);
        }
    }
    let mut out = [0.0; N];
    for (o, v) in out.iter_mut().zip(t) {
        *o = median(v);
    }
    out
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Forward `n` samples through `net` in chunks of at most [`EVAL_BATCH`];
/// returns the outputs of the last chunk's first sample onwards.
fn run_net(net: &mut Sequential, x: &[f32], n: usize, out: &mut Vec<f32>) {
    let (len, o) = (net.in_len(), net.out_len());
    out.clear();
    for start in (0..n).step_by(EVAL_BATCH) {
        let b = EVAL_BATCH.min(n - start);
        let y = net.forward(&x[start * len..(start + b) * len], b, Mode::Eval);
        out.extend_from_slice(&y[..b * o]);
    }
}

fn copy_model(m: &Model) -> Model {
    let mut c = Model::new(m.arch.clone(), m.head);
    for (d, s) in c.net.params_mut().zip(m.net.params()) {
        d.value.clone_from(&s.value);
    }
    c
}

/// Repetitions for a batch size: more for the fast small batches.
fn reps_for(reps: usize, batch: usize) -> usize {
    match batch {
        0..=32 => reps * 4,
        33..=1000 => reps,
        _ => reps.div_ceil(4).max(3),
    }
}

/// Benchmark `preset` at each sparsity and batch size.
pub fn run(
    preset: &str,
    sparsities: &[f64],
    batches: &[usize],
    reps: usize,
    mut progress: impl FnMut(&Record),
) -> crate::Result<Vec<Record>> {
    let threads = rayon::current_num_threads();
    let simd = format!("{:?}", kernel::level()).to_lowercase();
    let mut records = Vec::new();
    let base = crate::bench::model(preset, Head::Sce)?;
    if !base.arch.convs.is_empty() {
        return Err(crate::Error::input(format!(
            "{preset}: bench sparse runs MLPs (decoupled CNNs are not implemented yet)"
        )));
    }
    let max_batch = batches.iter().copied().max().unwrap_or(1);
    let mut rng = Rng::new(7);
    // Inputs in [0, 1): images for the first layer, ReLU-like activations
    // for the others.
    let widest = base
        .net
        .layers()
        .iter()
        .map(|l| l.in_len())
        .max()
        .unwrap_or(1);
    let x: Vec<f32> = (0..max_batch * widest).map(|_| rng.uniform_f32()).collect();
    for &s in sparsities {
        let mut dense = copy_model(&base);
        prune_magnitude(&mut dense.net, s);
        let all_sparse = sparsify(copy_model(&dense).net, 1.0);
        let mut auto = sparsify(copy_model(&dense).net, MAX_DENSITY);
        let mut all_sparse = all_sparse;
        // Per layer: the dense linear layer (+ its ReLU) and its sparse twin.
        let mut dl = copy_model(&dense).net.into_layers();
        // Standalone (row-major in and out), each fused with its ReLU.
        let mut sl: Vec<SparseLinear> = Vec::new();
        for (k, l) in dl.iter().enumerate() {
            if l.kind() == "linear" {
                let (w, b) = (&l.params()[0], &l.params()[1]);
                let relu = dl.get(k + 1).is_some_and(|n| n.kind() == "relu");
                sl.push(SparseLinear::from_dense(
                    &w.value, w.shape[0], w.shape[1], &b.value, relu,
                ));
            }
        }
        for &batch in batches {
            let r = reps_for(reps, batch);
            let mut k = 0;
            for (li, sp) in sl.iter_mut().enumerate() {
                // Dense layers: linear [, relu] per sparse layer.
                let has_relu = dl.get(k + 1).is_some_and(|l| l.kind() == "relu");
                let (i, o) = (sp.in_len(), sp.out_len());
                let nnz = dl[k].params()[0]
                    .value
                    .iter()
                    .filter(|&&v| v != 0.0)
                    .count();
                let xs = &x[..batch * i];
                let mut yd = vec![0.0; batch * o];
                let mut ylin = vec![0.0; batch * o];
                let mut ys = vec![0.0; batch * o];
                let (a, rest) = dl[k..].split_at_mut(1);
                let lin = &mut a[0];
                let mut relu = if has_relu { rest.first_mut() } else { None };
                let [d_ms, s_ms] = interleaved(
                    r,
                    &mut [
                        &mut || match relu.as_mut() {
                            Some(rl) => {
                                lin.forward(xs, &mut ylin, batch, Mode::Eval);
                                rl.forward(&ylin, &mut yd, batch, Mode::Eval);
                            }
                            None => lin.forward(xs, &mut yd, batch, Mode::Eval),
                        },
                        &mut || sp.forward(xs, &mut ys, batch, Mode::Eval),
                    ],
                );
                let rec = record(
                    preset,
                    format!("layers.{li}"),
                    s,
                    batch,
                    (d_ms, s_ms, None),
                    (nnz, i * o),
                    max_diff(&yd, &ys),
                    (r, threads, &simd),
                );
                progress(&rec);
                records.push(rec);
                k += if has_relu { 2 } else { 1 };
            }
            // End to end.
            let n_in = dense.net.in_len();
            let xs = &x[..batch * n_in];
            let (mut od, mut os, mut oa) = (Vec::new(), Vec::new(), Vec::new());
            let dnet = &mut dense.net;
            let [d_ms, s_ms, a_ms] = interleaved(
                r,
                &mut [
                    &mut || run_net(dnet, xs, batch, &mut od),
                    &mut || run_net(&mut all_sparse, xs, batch, &mut os),
                    &mut || run_net(&mut auto, xs, batch, &mut oa),
                ],
            );
            let (nnz, total): (usize, usize) = dense
                .net
                .params()
                .filter(|p| p.name == "weight")
                .map(|p| (p.value.iter().filter(|&&v| v != 0.0).count(), p.len()))
                .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
            let rec = record(
                preset,
                "all".into(),
                s,
                batch,
                (d_ms, s_ms, Some(a_ms)),
                (nnz, total),
                max_diff(&od, &os).max(max_diff(&od, &oa)),
                (r, threads, &simd),
            );
            progress(&rec);
            records.push(rec);
        }
    }
    Ok(records)
}

#[allow(clippy::too_many_arguments)]
fn record(
    model: &str,
    layer: String,
    sparsity: f64,
    batch: usize,
    (dense_ms, sparse_ms, auto_ms): (f64, f64, Option<f64>),
    (nnz, total): (usize, usize),
    max_abs_diff: f32,
    (reps, threads, simd): (usize, usize, &str),
) -> Record {
    let gf = |madds: usize, ms: f64| 2.0 * madds as f64 * batch as f64 / (ms * 1e6);
    Record {
        model: model.into(),
        layer,
        sparsity,
        batch,
        dense_ms,
        sparse_ms,
        auto_ms,
        speedup: dense_ms / sparse_ms,
        ideal_speedup: total as f64 / nnz.max(1) as f64,
        sparse_gflops: gf(nnz, sparse_ms),
        dense_gflops: gf(total, dense_ms),
        nnz,
        max_abs_diff,
        reps,
        threads,
        simd: simd.into(),
    }
}
