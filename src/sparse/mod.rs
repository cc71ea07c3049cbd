//! The sparse inference engine: pruned networks whose forward pass costs
//! time in proportion to the weights left.
//!
//! - [`csr`]: the weight matrix compressed per output neuron, validated
//!   once when built.
//! - [`kernel`]: the products on 64-sample feature-major panels, with run
//!   time dispatch to AVX-512 / AVX2 and a portable fallback.
//! - [`linear`]: [`SparseLinear`], a [`Layer`] that replaces a
//!   [`Linear`](crate::nn::Linear) (and the ReLU after it).
//! - [`trainable`]: [`SparseTrainable`], the same with backward and
//!   parameters, for pruning and fine-tuning decoupled CNNs.
//! - [`sparsify`]: turn the linear layers of a network sparse where that is
//!   faster (density at most [`MAX_DENSITY`]).
//! - [`consolidate`]: remove the neurons pruning has cut off.
//! - [`file`](mod@file): compiled sparse model files (`parana compile`).
//! - [`decouple`]: a CNN's convolutions as sparse matrices (`parana
//!   decouple`).
//! - [`bench`](mod@bench): `parana bench sparse`, MLPs and decoupled CNNs.
//!   Its figure (`--plot DIR`) is drawn by `report::sparse_plot`.

pub mod bench;
pub mod consolidate;
pub mod csr;
pub mod decouple;
pub mod file;
pub mod kernel;
pub mod linear;
pub mod trainable;

pub use csr::Csr;
pub use linear::SparseLinear;
pub use trainable::SparseTrainable;

use crate::nn::{Layer, Sequential};

/// A linear layer runs sparse when at most this fraction of its weights is
/// non-zero. Measured with `parana bench sparse` on the 2-core AVX-512
/// machine: at 50% sparsity the sparse kernel is slower than dense GEMM at
/// batch 256 and above, at 80% clearly faster at every batch; the crossover
/// lies near 60-65% sparsity.
pub const MAX_DENSITY: f64 = 0.38;

/// Rebuild `net` with every linear layer whose density is at most
/// `max_density` replaced by a [`SparseLinear`] (fusing a ReLU that follows
/// it). Dropout layers are removed: the result is for inference only.
/// Pass `1.0` to make every linear layer sparse.
///
/// ```
/// use parana::model::{Arch, Model, init};
/// use parana::nn::{Head, Mode};
/// use parana::sparse::{MAX_DENSITY, prune_magnitude, sparsify};
/// let mut m = Model::new(Arch::custom(vec![300, 100], vec![]).unwrap(), Head::Lq);
/// init::init(&mut m, 1);
/// prune_magnitude(&mut m.net, 0.9); // 90% of each matrix zeroed
/// let x: Vec<f32> = (0..64 * 784).map(|i| (i % 255) as f32 / 255.0).collect();
/// let dense = m.net.forward(&x, 64, Mode::Eval).to_vec();
/// let mut fast = sparsify(m.net, MAX_DENSITY);
/// assert!(fast.layers().iter().all(|l| l.kind() != "linear")); // all three now sparse
/// let sparse = fast.forward(&x, 64, Mode::Eval);
/// assert!(dense.iter().zip(sparse).all(|(a, b)| (a - b).abs() < 1e-4));
/// ```
pub fn sparsify(net: Sequential, max_density: f64) -> Sequential {
    // `Ok`: a sparse layer; `Err`: a layer kept as it was.
    let mut out: Vec<Result<SparseLinear, Box<dyn Layer>>> = Vec::new();
    let mut layers = net.into_layers().into_iter().peekable();
    while let Some(l) = layers.next() {
        match l.kind() {
            "dropout" => continue,
            "linear" => {
                let (w, b) = (&l.params()[0], &l.params()[1]);
                let (o, i) = (w.shape[0], w.shape[1]);
                let nnz = w.value.iter().filter(|&&v| v != 0.0).count();
                if nnz as f64 > max_density * (o * i) as f64 {
                    out.push(Err(l));
                    continue;
                }
                let relu = layers.peek().is_some_and(|n| n.kind() == "relu");
                if relu {
                    layers.next();
                }
                out.push(Ok(SparseLinear::from_dense(&w.value, o, i, &b.value, relu)));
            }
            _ => out.push(Err(l)),
        }
    }
    chain(out)
}

/// Build a network from layers, sparse ones as `Ok`: consecutive sparse
/// layers pass activations in the kernel's panel layout.
pub fn chain(layers: impl IntoIterator<Item = Result<SparseLinear, Box<dyn Layer>>>) -> Sequential {
    let mut v: Vec<Result<SparseLinear, Box<dyn Layer>>> = layers.into_iter().collect();
    for k in 0..v.len() {
        let prev = k > 0 && v[k - 1].is_ok();
        let next = v.get(k + 1).is_some_and(|l| l.is_ok());
        if let Ok(s) = &mut v[k] {
            s.set_layout(kernel::Layout {
                in_panels: prev,
                out_panels: next,
            });
        }
    }
    Sequential::new(
        v.into_iter()
            .map(|l| match l {
                Ok(s) => Box::new(s) as Box<dyn Layer>,
                Err(l) => l,
            })
            .collect(),
    )
}

/// Zero the smallest-magnitude fraction `ratio` of each weight matrix
/// (`k = floor(numel * ratio)` weights, ties broken by flat index; biases
/// are never pruned). A stand-in for the pruning module, for tests and
/// benchmarks.
pub fn prune_magnitude(net: &mut Sequential, ratio: f64) {
    for p in net.params_mut() {
        if p.name != "weight" {
            continue;
        }
        let keep = magnitude_keep(&p.value, ratio);
        for (v, k) in p.value.iter_mut().zip(keep) {
            if !k {
                *v = 0.0;
            }
        }
    }
}

/// Which of `values` survive pruning the smallest-magnitude fraction
/// `ratio` of them (`k = floor(len * ratio)`, ties broken by index).
pub fn magnitude_keep(values: &[f32], ratio: f64) -> Vec<bool> {
    let k = ((values.len() as f64) * ratio).floor() as usize;
    let k = k.min(values.len());
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].abs().total_cmp(&values[b].abs()).then(a.cmp(&b)));
    let mut keep = vec![true; values.len()];
    for &i in &order[..k] {
        keep[i] = false;
    }
    keep
}

#[cfg(test)]
mod tests;
