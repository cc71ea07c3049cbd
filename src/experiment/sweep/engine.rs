//! How a sweep evaluates the pruned variants of one model: the answers of
//! running each pruned network from scratch (up to the order of float
//! additions), with much of the work kept from one ratio to the next.
//!
//! 1. **Prefix.** The layers before the first pruned one see the same
//!    inputs at every ratio: their outputs over all the (clean and noisy)
//!    test images are computed once per layer group and kept.
//! 2. **Anchor and difference.** The first pruned layer's input is fixed
//!    too, so its product at ratio `r` is its product at an *anchor* ratio
//!    `a`, kept, plus the product with the few weights that differ,
//!    `Δ = W(r) - W(a)` — a sparse matrix (at most a tenth of the weights
//!    for nested pruning orders) run by the sparse kernels. Anchors are the
//!    multiples of 0.1 not above `r`: a fixed function of `r`, so a row's
//!    numbers do not depend on which ratios ran before it, and a resumed or
//!    sharded sweep records the same rows as an uninterrupted one.
//! 3. **Smaller and sparse where possible.** From the first pruned layer
//!    on, the neurons pruning has cut off are removed
//!    ([`sparse::consolidate`]: no outgoing weights left, or no incoming
//!    ones, their constant output folded into the next biases) — act
//!    pruning removes whole columns early, so mid-ratio networks shrink by
//!    a fifth to a half — and each later layer runs on the sparse engine
//!    when its density is at most [`sparse::MAX_DENSITY`], dense otherwise.
//!
//! Networks this does not fit (a convolution at or after the first pruned
//! layer) are evaluated whole by [`super::predict`].

use super::SWEEP_BATCH;
use crate::model::Model;
use crate::nn::head::argmax_rows;
use crate::nn::{Layer, Linear, Mode, Relu, Sequential, matmul};
use crate::prune::Ratio;
use crate::sparse::{self, SparseLinear, consolidate::DenseLayer};
use rayon::prelude::*;

/// Anchors are the multiples of `1 / ANCHORS`.
pub const ANCHORS: u64 = 10;

/// Names an anchor: (layer group, method, anchor ratio) of a sweep.
pub type AnchorKey = (usize, usize, Ratio);

/// The work a sweep keeps between ratios.
#[derive(Default)]
pub struct Engine {
    /// Net layer `f` and the inputs of layer `f` for every image.
    prefix: Option<(usize, Vec<f32>)>,
    anchor: Option<Anchor>,
    /// Pre-activations of one batch, and the difference product.
    h: Vec<f32>,
    d: Vec<f32>,
}

/// The first pruned layer at an anchor ratio.
struct Anchor {
    key: AnchorKey,
    layer: usize,
    /// Its weights at the anchor ratio.
    w: Vec<f32>,
    /// `inputs · wᵀ` (no bias) for every image, `[n, out]`.
    z: Vec<f32>,
}

/// Whether the shortcuts apply when net layer `f` is the first pruned one:
/// `f` and every weighted layer after it are fully connected.
pub fn fits(model: &Model, f: usize) -> bool {
    let layers = model.net.layers();
    f < layers.len()
        && layers[f].kind() == "linear"
        && layers[f + 1..]
            .iter()
            .all(|l| matches!(l.kind(), "linear" | "relu" | "dropout"))
}

impl Engine {
    /// Predicted class of each of the `n` images `x` by `model`, whose
    /// weights are those of the current ratio. Net layer `f` is the first
    /// pruned layer, `anchor` names the current anchor and `anchor_w`
    /// gives layer `f`'s weights at it (called only when that anchor is not
    /// the one kept).
    #[allow(clippy::too_many_arguments)]
    pub fn predict(
        &mut self,
        model: &mut Model,
        x: &[f32],
        n: usize,
        f: usize,
        anchor: AnchorKey,
        anchor_w: impl FnOnce() -> Vec<f32>,
        out: &mut Vec<u8>,
    ) {
        if !fits(model, f) {
            return super::predict(model, x, n, out);
        }
        if f > 0 && self.prefix.as_ref().is_none_or(|(k, _)| *k != f) {
            self.prefix = None;
            self.prefix = Some((f, prefix(model, f, x, n)));
        }
        let a: &[f32] = match &self.prefix {
            Some((_, p)) if f > 0 => p,
            _ => x,
        };
        let (out_f, in_f) = {
            let l = &model.net.layers()[f];
            (l.out_len(), l.in_len())
        };
        if self
            .anchor
            .as_ref()
            .is_none_or(|an| an.key != anchor || an.layer != f)
        {
            // The old anchor's product buffer is reused: it is hundreds of
            // MB at 10k images, and fresh pages cost a fault each.
            let mut z = self.anchor.take().map(|an| an.z).unwrap_or_default();
            let w = anchor_w();
            product(a, n, &w, out_f, in_f, &mut z);
            self.anchor = Some(Anchor {
                key: anchor,
                layer: f,
                w,
                z,
            });
        }
        let Some(an) = &self.anchor else {
            unreachable!("set above")
        };
        let w = &model.net.layers()[f].params()[0].value;
        let delta: Vec<f32> = w.iter().zip(&an.w).map(|(r, a)| r - a).collect();
        let mut dl = SparseLinear::from_dense(&delta, out_f, in_f, &vec![0.0; out_f], false);
        let has_delta = dl.weights().nnz() > 0;
        let Tail {
            kept,
            bias,
            relu,
            net: mut rest,
        } = tail(model, f);
        let width = bias.len();
        let classes = model.arch.classes;
        out.clear();
        let mut start = 0;
        while start < n {
            let b = SWEEP_BATCH.min(n - start);
            if has_delta {
                self.d.resize(b * out_f, 0.0);
                let rows = &a[start * in_f..(start + b) * in_f];
                dl.forward(rows, &mut self.d, b, Mode::Eval);
            }
            self.h.resize(b * width, 0.0);
            finish(
                &mut self.h[..b * width],
                &an.z[start * out_f..(start + b) * out_f],
                if has_delta {
                    Some(&self.d[..b * out_f])
                } else {
                    None
                },
                kept.as_deref(),
                &bias,
                relu,
            );
            let logits = match &mut rest {
                Some(net) => net.forward(&self.h[..b * width], b, Mode::Eval),
                None => &self.h[..b * width],
            };
            out.extend(argmax_rows(logits, classes).map(|c| c as u8));
            start += b;
        }
    }
}

/// The outputs of net layers `..f` (their input to layer `f`) for every
/// one of the `n` images `x`.
fn prefix(model: &mut Model, f: usize, x: &[f32], n: usize) -> Vec<f32> {
    let (len, width) = (model.arch.in_len(), model.net.layers()[f].in_len());
    let mut p = vec![0.0f32; n * width];
    let mut start = 0;
    while start < n {
        let b = SWEEP_BATCH.min(n - start);
        let y = model
            .net
            .forward_range(0, f, &x[start * len..(start + b) * len], b, Mode::Eval);
        p[start * width..(start + b) * width].copy_from_slice(y);
        start += b;
    }
    p
}

/// `z = a · wᵀ` for the `n` rows of `a` (`w` is `[out, inp]`), sparse when
/// that is faster.
fn product(a: &[f32], n: usize, w: &[f32], out: usize, inp: usize, z: &mut Vec<f32>) {
    // Every element is overwritten below.
    z.resize(n * out, 0.0);
    let nnz = w.iter().filter(|&&v| v != 0.0).count();
    let mut sparse = (nnz as f64 <= sparse::MAX_DENSITY * w.len() as f64)
        .then(|| SparseLinear::from_dense(w, out, inp, &vec![0.0; out], false));
    let mut start = 0;
    while start < n {
        let b = SWEEP_BATCH.min(n - start);
        let (x, y) = (
            &a[start * inp..(start + b) * inp],
            &mut z[start * out..(start + b) * out],
        );
        match &mut sparse {
            Some(s) => s.forward(x, y, b, Mode::Eval),
            None => matmul::nt(b, out, inp, x, w, y, false, matmul::threads()),
        }
        start += b;
    }
}

/// `h = act(z + d + bias)` on the `kept` columns of `z` and `d` (all when
/// `None`), rows split across threads.
fn finish(
    h: &mut [f32],
    z: &[f32],
    d: Option<&[f32]>,
    kept: Option<&[usize]>,
    bias: &[f32],
    relu: bool,
) {
    let width = bias.len();
    let full = z.len() / (h.len() / width.max(1)).max(1);
    let rows = 64;
    h.par_chunks_mut(rows * width)
        .enumerate()
        .for_each(|(c, h)| {
            for (r, hr) in h.chunks_exact_mut(width).enumerate() {
                let off = (c * rows + r) * full;
                let zr = &z[off..off + full];
                let dr = d.map(|d| &d[off..off + full]);
                match (kept, dr) {
                    (None, None) => {
                        for ((h, &z), &b) in hr.iter_mut().zip(zr).zip(bias) {
                            *h = z + b;
                        }
                    }
                    (None, Some(dr)) => {
                        for (((h, &z), &d), &b) in hr.iter_mut().zip(zr).zip(dr).zip(bias) {
                            *h = z + d + b;
                        }
                    }
                    (Some(k), dr) => {
                        for ((h, &j), &b) in hr.iter_mut().zip(k).zip(bias) {
                            *h = zr[j] + dr.map_or(0.0, |d| d[j]) + b;
                        }
                    }
                }
                if relu {
                    for h in hr.iter_mut() {
                        *h = h.max(0.0);
                    }
                }
            }
        });
}

/// What follows layer `f`'s product at one ratio: which of its outputs are
/// used, their biases and activation, and the later layers.
struct Tail {
    /// Outputs of layer `f` still used (`None`: all).
    kept: Option<Vec<usize>>,
    /// Layer `f`'s bias for those outputs.
    bias: Vec<f32>,
    /// Whether a ReLU follows layer `f`.
    relu: bool,
    /// The later layers, consolidated, sparse where faster.
    net: Option<Sequential>,
}

/// Layers `f..` of `model` (pruned for the current ratio) as the sweep runs
/// them: a ReLU MLP tail is consolidated; anything else is copied as is.
fn tail(model: &Model, f: usize) -> Tail {
    let layers = model.net.layers();
    // Dropout is the identity in evaluation; `fits` admits only linear,
    // ReLU and dropout layers after `f`.
    let seq: Vec<&dyn Layer> = layers[f..]
        .iter()
        .map(|l| l.as_ref())
        .filter(|l| l.kind() != "dropout")
        .collect();
    let mlp = seq.len() % 2 == 1
        && seq
            .iter()
            .enumerate()
            .all(|(i, l)| l.kind() == if i % 2 == 0 { "linear" } else { "relu" });
    let bias_f = layers[f].params()[1].value.clone();
    if !mlp || seq.len() == 1 {
        let relu = seq.get(1).is_some_and(|l| l.kind() == "relu");
        return Tail {
            kept: None,
            bias: bias_f,
            relu,
            net: copy(&seq[1 + relu as usize..]),
        };
    }
    let dense: Vec<DenseLayer> = seq
        .iter()
        .step_by(2)
        .map(|l| DenseLayer {
            out: l.out_len(),
            inp: l.in_len(),
            w: l.params()[0].value.clone(),
            b: l.params()[1].value.clone(),
        })
        .collect();
    let c = sparse::consolidate::consolidate(&dense);
    let kept = (c.kept[0].len() < dense[0].out).then(|| c.kept[0].clone());
    let n = c.layers.len();
    let mut layers = c.layers.into_iter();
    let Some(first) = layers.next() else {
        unreachable!("an MLP tail has at least one layer")
    };
    let mut v: Vec<Box<dyn Layer>> = Vec::new();
    // The consolidated matrices move into the layers (no copy per ratio).
    for (k, l) in layers.enumerate() {
        let out = l.out;
        v.push(Box::new(Linear::from_parts(l.inp, out, l.w, l.b)));
        if k + 2 < n {
            v.push(Box::new(Relu::new(out)));
        }
    }
    Tail {
        kept,
        bias: first.b,
        relu: true,
        net: Some(sparse::sparsify(Sequential::new(v), sparse::MAX_DENSITY)),
    }
}

/// A copy of `layers` (linear and ReLU) for inference, sparse where that
/// is faster; `None` when there are none.
fn copy(layers: &[&dyn Layer]) -> Option<Sequential> {
    let mut v: Vec<Box<dyn Layer>> = Vec::new();
    for l in layers {
        match l.kind() {
            "linear" => {
                let (w, b) = (&l.params()[0].value, &l.params()[1].value);
                let c = Linear::from_parts(l.in_len(), l.out_len(), w.clone(), b.clone());
                v.push(Box::new(c));
            }
            "relu" => v.push(Box::new(Relu::new(l.out_len()))),
            _ => {}
        }
    }
    (!v.is_empty()).then(|| sparse::sparsify(Sequential::new(v), sparse::MAX_DENSITY))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Arch, init};
    use crate::nn::Head;
    use crate::prune::{Method, Pruner, Scope, scores::prunable_layers};
    use crate::rng::Rng;

    /// For every kind of layer group, and ratios visited out of order (a
    /// resumed or sharded sweep), the engine predicts exactly what the
    /// pruned network evaluated whole predicts — over several batches, with
    /// layers dense, sparse and mixed.
    #[test]
    fn predicts_what_the_whole_pruned_network_predicts() {
        let mut m = Model::new(Arch::custom(vec![48, 32, 24], vec![]).unwrap(), Head::Lq);
        init::init(&mut m, 3);
        let mut r = Rng::new(5);
        let n = SWEEP_BATCH + 300;
        let x: Vec<f32> = (0..n * 784)
            .map(|_| {
                let v = r.uniform_f32();
                if v < 0.6 { 0.0 } else { v }
            })
            .collect();
        let original = crate::prune::original_weights(&m);
        let positions = prunable_layers(&m);
        let ratios = ["0", "0.37", "0.05", "0.93", "0.99", "0.31", "0.1", "0.6"];
        for group in [None, Some(vec![1]), Some(vec![2, 3]), Some(vec![3])] {
            let p = Pruner::new(
                &m,
                Method::Abs,
                Scope::PerMatrix,
                group.as_deref(),
                None,
                Ratio::ZERO,
            )
            .unwrap();
            let first = group.as_ref().map_or(0, |g| g[0]);
            let mut engine = Engine::default();
            for rs in ratios {
                let ratio = Ratio::parse(rs).unwrap();
                crate::prune::apply(&mut m, &original, &p.masks(ratio));
                let mut want = Vec::new();
                super::super::predict(&mut m, &x, n, &mut want);
                let anchor = ratio.floor_to(ANCHORS);
                let anchor_w = || {
                    let mut w = original[first].clone();
                    p.masks(anchor).apply_to(first, &original[first], &mut w);
                    w
                };
                let mut got = Vec::new();
                let key = (0, 0, anchor);
                engine.predict(&mut m, &x, n, positions[first], key, anchor_w, &mut got);
                assert_eq!(got.len(), n);
                let differ = got.iter().zip(&want).filter(|(a, b)| a != b).count();
                assert_eq!(differ, 0, "group {group:?} ratio {rs}");
            }
        }
    }
}
