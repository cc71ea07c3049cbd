//! Evaluating a model on a split: accuracy, per-class accuracy and the
//! confusion matrix.

use super::Model;
use crate::data::Split;
use crate::nn::head::argmax_rows;
use serde::Serialize;

/// Images per forward pass when evaluating: measured fastest among 250-2000
/// for the article MLP (larger products amortise packing), while the
/// activations stay around 50 MB.
pub const EVAL_BATCH: usize = 2000;

/// Images per forward pass for a network with sparse layers: their
/// activations stay in panel layout from layer to layer, and 2000 samples
/// of a 1500-wide layer (12 MB) fall out of L2, costing the sparse path
/// ~40% per sample; 256 keep them cached (article-mlp at 90%, batch
/// 10,000: 2.4-2.9x -> 3.6-3.7x over dense, measured with `parana bench
/// sparse` under the same load), while the dense path barely notices.
pub const SPARSE_EVAL_BATCH: usize = 256;

/// Images per forward pass for `net`: [`SPARSE_EVAL_BATCH`] if any layer
/// is sparse, else [`EVAL_BATCH`].
pub fn eval_batch(net: &crate::nn::Sequential) -> usize {
    let sparse = net.layers().iter().any(|l| l.kind().starts_with("sparse_"));
    if sparse {
        SPARSE_EVAL_BATCH
    } else {
        EVAL_BATCH
    }
}

/// The result of evaluating a model on a split.
#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    /// Fraction classified correctly.
    pub accuracy: f64,
    /// Images classified correctly.
    pub correct: usize,
    /// Images evaluated.
    pub total: usize,
    /// Accuracy per true class.
    pub per_class: Vec<f64>,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<usize>>,
}

/// Predicted class of every image of `split`.
pub fn predict(model: &mut Model, split: &Split) -> Vec<usize> {
    crate::nn::flush_denormals();
    let n = split.len();
    let len = split.image_len();
    let classes = model.arch.classes;
    let per = eval_batch(&model.net);
    let mut x = vec![0.0f32; per.min(n.max(1)) * len];
    let mut out = Vec::with_capacity(n);
    let idx: Vec<usize> = (0..n).collect();
    for chunk in idx.chunks(per) {
        let b = chunk.len();
        split.gather_f32(chunk, &mut x[..b * len]);
        let logits = model.logits(&x[..b * len], b);
        out.extend(argmax_rows(logits, classes));
    }
    out
}

/// Raw outputs (`n` x classes, row-major) of `model` for the `n` inputs `x`
/// (pixels in [0, 1], image after image), computed in the same chunks as
/// [`predict`]; what the Python package's `Model.logits` returns.
pub fn logits(model: &mut Model, x: &[f32], n: usize) -> Vec<f32> {
    crate::nn::flush_denormals();
    let len = model.arch.in_len();
    let per = eval_batch(&model.net);
    let mut out = Vec::with_capacity(n * model.arch.classes);
    for start in (0..n).step_by(per) {
        let b = per.min(n - start);
        out.extend_from_slice(model.logits(&x[start * len..(start + b) * len], b));
    }
    out
}

/// Predicted class of each of the `n` inputs `x` (see [`logits`]).
pub fn predict_f32(model: &mut Model, x: &[f32], n: usize) -> Vec<usize> {
    let classes = model.arch.classes;
    let out = logits(model, x, n);
    argmax_rows(&out, classes).collect()
}

/// Evaluate `model` on every image of `split`.
pub fn evaluate(model: &mut Model, split: &Split) -> Evaluation {
    let classes = model.arch.classes;
    let pred = predict(model, split);
    let mut confusion = vec![vec![0usize; classes]; classes];
    for (&p, &y) in pred.iter().zip(&split.labels) {
        confusion[y as usize][p] += 1;
    }
    let correct: usize = (0..classes).map(|c| confusion[c][c]).sum();
    let per_class = confusion
        .iter()
        .enumerate()
        .map(|(c, row)| {
            let n: usize = row.iter().sum();
            if n == 0 {
                0.0
            } else {
                row[c] as f64 / n as f64
            }
        })
        .collect();
    Evaluation {
        accuracy: if pred.is_empty() {
            0.0
        } else {
            correct as f64 / pred.len() as f64
        },
        correct,
        total: pred.len(),
        per_class,
        confusion,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Arch, init::init};
    use crate::nn::Head;

    #[test]
    fn float_inputs_give_the_split_path_predictions_across_chunks() {
        let mut m = Model::new(Arch::custom(vec![8], vec![]).unwrap(), Head::Sce);
        init(&mut m, 2);
        // More images than one chunk, so the chunking is exercised.
        let n = EVAL_BATCH + 7;
        let images: Vec<u8> = (0..n * 784).map(|i| (i * 31 % 256) as u8).collect();
        let split = Split {
            images,
            labels: vec![0; n],
            rows: 28,
            cols: 28,
        };
        let mut x = vec![0.0; n * 784];
        split.gather_f32(&(0..n).collect::<Vec<_>>(), &mut x);
        assert_eq!(predict_f32(&mut m, &x, n), predict(&mut m, &split));
        let all = logits(&mut m, &x, n);
        assert_eq!(all.len(), n * 10);
        let last = m.logits(&x[(n - 1) * 784..], 1).to_vec();
        assert_eq!(&all[(n - 1) * 10..], &last[..]);
    }
}
