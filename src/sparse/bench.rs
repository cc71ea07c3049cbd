//! `parana bench sparse`: the sparse engine against the dense path, per
//! layer and end to end, on an MLP pruned by magnitude or on a decoupled
//! CNN ([`super::decouple`]) whose matrices are pruned by magnitude among
//! their present taps.
//!
//! The dense path is the *unpruned* network's cost computing the pruned
//! network's outputs: fully connected layers through dense GEMM with the
//! pruned weights zeroed, decoupled convolutions as their full tap
//! structure with the pruned taps stored as zeros (the unpruned decoupled
//! network). For CNNs the convolutional path (`Conv2d`, as trained) is
//! timed too. Every case checks the sparse (and automatic) outputs against
//! the dense ones, and at sparsity 0 the decoupled outputs against the
//! convolutional ones, and fails if they differ by more than `1e-4`
//! (relative to the outputs' size when that exceeds 1).
//!
//! Other jobs may share the cores, so wall times are noisy: each repetition
//! times the paths back to back (interleaved), and the records hold
//! medians, so their ratios compare like with like.

use super::{Csr, MAX_DENSITY, SparseLinear, chain, kernel, magnitude_keep};
use crate::error::{Error, Result};
use crate::model::{
    Model,
    eval::{EVAL_BATCH, eval_batch},
};
use crate::nn::{Layer, Linear, Mode, Relu, Sequential};
use crate::rng::Rng;
use crate::tensorfile::TensorFile;
use serde::Serialize;
use std::time::Instant;

/// Largest accepted difference between the paths' outputs.
pub const TOLERANCE: f32 = 1e-4;

/// Seconds of timed runs aimed at per record (at least three repetitions,
/// one above 2000 samples): keeps batch 10,000 on the decoupled CNN to a
/// few runs.
const BUDGET_S: f64 = 1.5;

/// One measurement: a layer (or the whole network) at one sparsity and
/// batch size.
#[derive(Clone, Debug, Serialize)]
pub struct Record {
    /// The preset or model file stem, e.g. `article-mlp`.
    pub model: String,
    /// `layers.{i}` (of the decoupled network for CNNs) or `all`.
    pub layer: String,
    /// `fc`, `conv` (a decoupled convolution) or `all`.
    pub kind: String,
    /// Fraction of each weight matrix pruned (of its present taps, for
    /// decoupled convolutions).
    pub sparsity: f64,
    /// Samples per forward pass (larger ones in chunks, as `parana eval`
    /// runs them: 2000 for the dense path, 256 with sparse layers).
    pub batch: usize,
    /// Dense path (the unpruned network's structure), median ms.
    pub dense_ms: f64,
    /// Sparse path (every layer sparse), median ms.
    pub sparse_ms: f64,
    /// End to end only: each layer dense or sparse by its density (what
    /// `parana eval` runs), median ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_ms: Option<f64>,
    /// CNNs: the convolutional path (`Conv2d` layers, unpruned), median ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conv_ms: Option<f64>,
    /// `dense_ms / sparse_ms`.
    pub speedup: f64,
    /// The nnz-proportional ideal speedup, `dense weights / stored weights`.
    pub ideal_speedup: f64,
    /// `speedup / ideal_speedup`: the share of the ideal reached.
    pub of_ideal: f64,
    /// Multiply-adds actually needed (stored weights x batch), as GFLOP/s
    /// (2 flops each) of the sparse path.
    pub sparse_gflops: f64,
    /// The dense path's GFLOP/s over all its weights.
    pub dense_gflops: f64,
    /// Stored (non-zero) weights.
    pub nnz: usize,
    /// Weights of the dense path (present taps for decoupled convolutions).
    pub dense_weights: usize,
    /// Largest |dense - sparse| (and |dense - auto|, and at sparsity 0
    /// |conv - dense|) over the outputs.
    pub max_abs_diff: f32,
    /// Repetitions (each path, interleaved).
    pub reps: usize,
    /// Worker threads.
    pub threads: usize,
    /// Kernel instruction set.
    pub simd: String,
}

/// The paths compared for one layer or the whole network.
struct Paths {
    layer: String,
    kind: &'static str,
    dense: Sequential,
    sparse: Sequential,
    auto: Option<Sequential>,
    conv: Option<Sequential>,
    nnz: usize,
    total: usize,
}

/// The network to benchmark: its layers as matrices (decoupled for CNNs).
pub struct Subject {
    /// Name in the records.
    pub name: String,
    /// The model as given (dense, convolutional for CNNs).
    pub model: Model,
    /// Every layer's weights and biases, first to last.
    mats: Vec<(Csr, Vec<f32>)>,
    /// How many of `mats` are decoupled convolutions (the first ones).
    convs: usize,
}

impl Subject {
    /// An MLP or CNN model (a CNN is decoupled).
    pub fn new(name: &str, model: Model) -> Result<Subject> {
        let convs = model.arch.convs.len();
        let mats = if convs > 0 {
            super::decouple::matrices(&model)?
        } else {
            super::file::dense_layers(&model)?
                .into_iter()
                .map(|l| (Csr::from_dense(&l.w, l.out, l.inp), l.b))
                .collect()
        };
        Ok(Subject {
            name: name.into(),
            model,
            mats,
            convs,
        })
    }

    /// Which stored weights each layer keeps at `sparsity`.
    fn keeps(&self, sparsity: f64) -> Vec<Vec<bool>> {
        self.mats
            .iter()
            .map(|(m, _)| magnitude_keep(m.val(), sparsity))
            .collect()
    }

    /// The pruned network at `sparsity` as a sparse model file: compiled
    /// (consolidated) for MLPs, decoupled for CNNs.
    pub fn pruned_file(&self, sparsity: f64) -> Result<TensorFile> {
        let keeps = self.keeps(sparsity);
        if self.convs == 0 {
            let mut m = copy_model(&self.model);
            super::prune_magnitude(&mut m.net, sparsity);
            return Ok(super::file::compile(&m)?.0);
        }
        let mats: Vec<(Csr, Vec<f32>)> = self
            .mats
            .iter()
            .zip(&keeps)
            .map(|((m, b), k)| (m.retain(k), b.clone()))
            .collect();
        Ok(super::decouple::to_file(&self.model, &mats))
    }

    /// Layer `k`'s path `p` at the given kept weights: one sparse layer, or
    /// a dense linear layer and its ReLU.
    fn layer(&self, k: usize, keep: &[bool], p: Path) -> Vec<Item> {
        let (m, b) = &self.mats[k];
        let relu = k + 1 < self.mats.len();
        let conv = k < self.convs;
        let sparse = match p {
            Path::Sparse => true,
            Path::Dense => conv,
            Path::Auto => conv || kept(keep) as f64 <= MAX_DENSITY * cells(m),
        };
        if sparse {
            let w = if p == Path::Dense {
                m.zero_where_not(keep)
            } else {
                m.retain(keep)
            };
            return vec![Ok(SparseLinear::new(w, b.clone(), relu))];
        }
        let w = m.zero_where_not(keep).to_dense();
        let l = Linear::from_parts(m.cols(), m.rows(), w, b.clone());
        let mut v: Vec<Item> = vec![Err(Box::new(l))];
        if relu {
            v.push(Err(Box::new(Relu::new(m.rows()))));
        }
        v
    }

    /// The convolution layer `k` (and its ReLU) as trained.
    fn conv_layer(&self, k: usize) -> Sequential {
        let l = &self.model.net.layers()[2 * k];
        let [h, w, _] = self.model.arch.input;
        let (wt, b) = (&l.params()[0], &l.params()[1]);
        let mut c =
            crate::nn::Conv2d::new(h, w, wt.shape[1], wt.shape[0], wt.shape[2], wt.shape[3]);
        c.params_mut()[0].value.clone_from(&wt.value);
        c.params_mut()[1].value.clone_from(&b.value);
        Sequential::new(vec![Box::new(c), Box::new(Relu::new(l.out_len()))])
    }

    /// Every layer's paths, then the whole network's, at `sparsity`.
    fn paths(&self, sparsity: f64) -> Vec<Paths> {
        let keeps = self.keeps(sparsity);
        let n = self.mats.len();
        let mut out = Vec::with_capacity(n + 1);
        let (mut nnz_all, mut total_all) = (0, 0);
        for (k, keep) in keeps.iter().enumerate() {
            let m = &self.mats[k].0;
            let conv = k < self.convs;
            let nnz = kept(keep);
            let total = if conv { m.nnz() } else { m.rows() * m.cols() };
            nnz_all += nnz;
            total_all += total;
            out.push(Paths {
                layer: format!("layers.{k}"),
                kind: if conv { "conv" } else { "fc" },
                dense: chain(self.layer(k, keep, Path::Dense)),
                sparse: chain(self.layer(k, keep, Path::Sparse)),
                auto: None,
                conv: conv.then(|| self.conv_layer(k)),
                nnz,
                total,
            });
        }
        let whole = |p: Path| {
            chain(
                keeps
                    .iter()
                    .enumerate()
                    .flat_map(|(k, keep)| self.layer(k, keep, p)),
            )
        };
        out.push(Paths {
            layer: "all".into(),
            kind: "all",
            dense: whole(Path::Dense),
            sparse: whole(Path::Sparse),
            auto: Some(whole(Path::Auto)),
            conv: (self.convs > 0).then(|| copy_model(&self.model).net),
            nnz: nnz_all,
            total: total_all,
        });
        out
    }
}

type Item = std::result::Result<SparseLinear, Box<dyn Layer>>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Path {
    Dense,
    Sparse,
    Auto,
}

fn kept(keep: &[bool]) -> usize {
    keep.iter().filter(|&&k| k).count()
}

fn cells(m: &Csr) -> f64 {
    (m.rows() * m.cols()) as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Forward `batch` samples through `net` in chunks as `parana eval` runs
/// them ([`eval_batch`]: 2000, 256 with sparse layers), every chunk on (the
/// start of) `x`; the last chunk's outputs are left in `out`. A partial
/// chunk goes first, so the last one is the fullest (the outputs checked).
fn run_net(net: &mut Sequential, x: &[f32], batch: usize, out: &mut Vec<f32>) {
    let (len, o) = (net.in_len(), net.out_len());
    let per = eval_batch(net);
    let mut left = batch;
    while left > 0 {
        let b = match left % per {
            0 => per,
            r => r,
        };
        let y = net.forward(&x[..b * len], b, Mode::Eval);
        if left == b {
            out.clear();
            out.extend_from_slice(&y[..b * o]);
        }
        left -= b;
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

/// Time the paths of `p` on `batch` samples: one checked warm-up run each,
/// then up to `reps` interleaved repetitions. Medians in ms (dense,
/// sparse, auto, conv), the largest output difference and the repetitions.
fn time_paths(
    p: &mut Paths,
    x: &[f32],
    batch: usize,
    reps: usize,
    check_conv: bool,
) -> Result<([Option<f64>; 4], f32, usize)> {
    // Which path each net is: 0 dense, 1 sparse, 2 auto, 3 conv.
    let mut slots = vec![0, 1];
    let mut nets: Vec<&mut Sequential> = vec![&mut p.dense, &mut p.sparse];
    for (slot, net) in [(2, p.auto.as_mut()), (3, p.conv.as_mut())] {
        if let Some(net) = net {
            slots.push(slot);
            nets.push(net);
        }
    }
    let mut outs = vec![Vec::new(); nets.len()];
    let start = Instant::now();
    for (net, out) in nets.iter_mut().zip(&mut outs) {
        run_net(net, x, batch, out);
    }
    let warm = start.elapsed().as_secs_f64();
    let mut diff = 0.0f32;
    for (o, &slot) in outs.iter().zip(&slots).skip(1) {
        if slot != 3 || check_conv {
            diff = diff.max(max_diff(&outs[0], o));
        }
    }
    let size = outs[0].iter().fold(1.0f32, |a, v| a.max(v.abs()));
    if diff.is_nan() || diff > TOLERANCE * size {
        return Err(Error::Other(format!(
            "{} at batch {batch}: the paths' outputs differ by {diff:e} (tolerance {:e})",
            p.layer,
            TOLERANCE * size
        )));
    }
    // At least three repetitions (a median) unless one run is a whole
    // chunked batch of the big networks.
    let floor = if batch > EVAL_BATCH { 1 } else { 3 };
    let reps = reps
        .min((BUDGET_S / warm.max(1e-9)) as usize)
        .max(floor.min(reps));
    let mut t = vec![Vec::with_capacity(reps); nets.len()];
    for r in 0..reps {
        // Forward order on even repetitions, backward on odd ones: a path
        // is not always the one that runs after another has filled the
        // caches with its own weights.
        let mut order: Vec<usize> = (0..nets.len()).collect();
        if r % 2 == 1 {
            order.reverse();
        }
        for k in order {
            let s = Instant::now();
            run_net(&mut *nets[k], x, batch, &mut outs[k]);
            t[k].push(s.elapsed().as_secs_f64() * 1e3);
        }
    }
    let mut ms = [None; 4];
    for (&slot, v) in slots.iter().zip(t) {
        ms[slot] = Some(median(v));
    }
    Ok((ms, diff, reps))
}

/// Benchmark `subject` at each sparsity and batch size; `progress` sees
/// each record as it is made. Fails if any path's outputs differ.
pub fn run(
    subject: &Subject,
    sparsities: &[f64],
    batches: &[usize],
    reps: usize,
    mut progress: impl FnMut(&Record),
) -> Result<Vec<Record>> {
    let threads = rayon::current_num_threads();
    let simd = format!("{:?}", kernel::level()).to_lowercase();
    let mut records = Vec::new();
    let max_batch = batches.iter().copied().max().unwrap_or(1).min(EVAL_BATCH);
    let widest = subject
        .mats
        .iter()
        .map(|(m, _)| m.cols())
        .max()
        .unwrap_or(1);
    // Inputs in [0, 1): images for the first layer, ReLU-like activations
    // for the others.
    let mut rng = Rng::new(7);
    let x: Vec<f32> = (0..max_batch * widest).map(|_| rng.uniform_f32()).collect();
    for &s in sparsities {
        let mut paths = subject.paths(s);
        for &batch in batches {
            for p in &mut paths {
                let r = reps_for(reps, batch);
                let (ms, diff, r) = time_paths(p, &x, batch, r, s == 0.0)?;
                let [d, sp, auto_ms, conv_ms] = ms;
                let (dense_ms, sparse_ms) = (d.unwrap_or(0.0), sp.unwrap_or(0.0));
                let gf = |madds: usize, ms: f64| 2.0 * madds as f64 * batch as f64 / (ms * 1e6);
                let ideal = p.total as f64 / p.nnz.max(1) as f64;
                let rec = Record {
                    model: subject.name.clone(),
                    layer: p.layer.clone(),
                    kind: p.kind.into(),
                    sparsity: s,
                    batch,
                    dense_ms,
                    sparse_ms,
                    auto_ms,
                    conv_ms,
                    speedup: dense_ms / sparse_ms,
                    ideal_speedup: ideal,
                    of_ideal: dense_ms / sparse_ms / ideal,
                    sparse_gflops: gf(p.nnz, sparse_ms),
                    dense_gflops: gf(p.total, dense_ms),
                    nnz: p.nnz,
                    dense_weights: p.total,
                    max_abs_diff: diff,
                    reps: r,
                    threads,
                    simd: simd.clone(),
                };
                progress(&rec);
                records.push(rec);
            }
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Arch, arch::parse_convs, init::init};
    use crate::nn::Head;

    #[test]
    fn decoupled_cnn_records_every_layer_and_checks_outputs() {
        let mut m = Model::new(
            Arch::custom(vec![12], parse_convs("3x3x3,5x5x2").unwrap()).unwrap(),
            Head::Sce,
        );
        init(&mut m, 5);
        let s = Subject::new("tiny-cnn", m).unwrap();
        let recs = run(&s, &[0.0, 0.9], &[1, 70], 2, |_| {}).unwrap();
        // 2 convolutions + 2 fully connected layers + "all", 2 x 2 cases.
        assert_eq!(recs.len(), 5 * 4);
        let conv = recs
            .iter()
            .find(|r| r.kind == "conv" && r.sparsity == 0.9)
            .unwrap();
        assert!(conv.conv_ms.is_some() && conv.nnz < conv.dense_weights / 5);
        // Border taps are absent: fewer present taps than 784 x 3 x 9.
        assert!(recs[0].dense_weights < 784 * 3 * 9);
        assert!(recs.iter().all(|r| r.max_abs_diff <= TOLERANCE));
        let all = recs.iter().find(|r| r.layer == "all").unwrap();
        assert!(all.auto_ms.is_some() && all.conv_ms.is_some());
        // The pruned file loads and runs.
        let f = s.pruned_file(0.9).unwrap();
        let mut d = crate::sparse::file::from_tensor_file(&f, std::path::Path::new("p")).unwrap();
        assert_eq!(d.logits(&x_of(2), 2).len(), 20);
    }

    fn x_of(n: usize) -> Vec<f32> {
        (0..n * 784).map(|i| (i % 7) as f32 / 7.0).collect()
    }
}
