//! Per-weight pruning scores: a low score means "prune me first".
//!
//! - `abs`: `|W_ij|`.
//! - `act` (activated value, the article's): `|mean over N inputs of
//!   W_ij * x_i|`, with `x` the layer's input computed by the *unpruned*
//!   network. Since the mean is over inputs only, this is
//!   `|W_ij| * |mean(x_i)|`, so only one mean per input feature is needed.
//! - `wanda`: `|W_ij| * ||x_i||_2` (Sun et al. 2023), a modern reference.
//!
//! For a convolution the "input feature" of a weight `[o, c, i, j]` is its
//! input channel `c`, its statistics taken over all positions.

use crate::data::Split;
use crate::model::Model;
use crate::nn::Mode;
use crate::rng::{Rng, purpose};

/// Statistics of one prunable layer's input features over N images.
#[derive(Clone, Debug, PartialEq)]
pub struct InputStats {
    /// Mean of each input feature (or channel).
    pub mean: Vec<f64>,
    /// L2 norm of each input feature (or channel) over the images.
    pub norm: Vec<f64>,
}

/// Which base score.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Score {
    /// `|W|`.
    Abs,
    /// `|W * mean(x)|`.
    Act,
    /// `|W| * ||x||`.
    Wanda,
}

/// Positions in the model's layer list of the prunable layers (linear,
/// convolution and sparse linear), in order. Prunable layer `k` is the `k`-th of these.
pub fn prunable_layers(model: &Model) -> Vec<usize> {
    model
        .net
        .layers()
        .iter()
        .enumerate()
        .filter(|(_, l)| matches!(l.kind(), "linear" | "conv2d" | "sparse_trainable"))
        .map(|(i, _)| i)
        .collect()
}

/// `n` distinct image indices of `split`, chosen with `seed`.
pub fn score_images(split: &Split, n: usize, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..split.len()).collect();
    Rng::stream(seed, purpose::SCORE_DATA, 0).shuffle(&mut idx);
    idx.truncate(n.min(split.len()));
    idx
}

/// Input statistics of every prunable layer of the (unpruned) `model` over
/// the images `idx` of `split`.
pub fn input_stats(model: &mut Model, split: &Split, idx: &[usize]) -> Vec<InputStats> {
    let layers = prunable_layers(model);
    let len = model.arch.in_len();
    // (features, channels-per-feature grouping) of each prunable layer's input.
    let groups: Vec<(usize, usize)> = layers
        .iter()
        .map(|&p| {
            let l = &model.net.layers()[p];
            match l.kind() {
                "conv2d" => {
                    let c = l.params()[0].shape[1];
                    (c, l.in_len() / c)
                }
                _ => (l.in_len(), 1),
            }
        })
        .collect();
    let mut sum: Vec<Vec<f64>> = groups.iter().map(|&(f, _)| vec![0.0; f]).collect();
    let mut sq: Vec<Vec<f64>> = groups.iter().map(|&(f, _)| vec![0.0; f]).collect();
    let chunk = 500;
    let mut x = vec![0.0f32; chunk * len];
    for part in idx.chunks(chunk) {
        let b = part.len();
        split.gather_f32(part, &mut x[..b * len]);
        model.net.forward(&x[..b * len], b, Mode::Eval);
        for (k, &p) in layers.iter().enumerate() {
            let input: &[f32] = if p == 0 {
                &x[..b * len]
            } else {
                model.net.activation(p - 1)
            };
            let f = groups[k].0;
            // Channels-last for convolutions: feature = flat index % channels.
            for row in input.chunks_exact(input.len() / b) {
                for (j, &v) in row.iter().enumerate() {
                    let g = j % f;
                    sum[k][g] += v as f64;
                    sq[k][g] += (v as f64) * (v as f64);
                }
            }
        }
    }
    let n = idx.len().max(1) as f64;
    groups
        .iter()
        .enumerate()
        .map(|(k, &(_, per))| InputStats {
            mean: sum[k].iter().map(|s| s / (n * per as f64)).collect(),
            norm: sq[k].iter().map(|s| s.sqrt()).collect(),
        })
        .collect()
}

/// Scores of the weight tensor `w` (PyTorch layout `[out, in, ...]`, or
/// the stored values of a sparse layer whose input features are `cols`).
pub fn scores(
    kind: Score,
    w: &[f32],
    shape: &[usize],
    cols: Option<&[u32]>,
    stats: Option<&InputStats>,
) -> Vec<f32> {
    let inner: usize = shape.iter().skip(1).product();
    let taps: usize = shape.iter().skip(2).product();
    let feature = |j: usize| match cols {
        Some(c) => c[j] as usize,
        None => (j % inner) / taps,
    };
    match (kind, stats) {
        (Score::Abs, _) | (_, None) => w.iter().map(|v| v.abs()).collect(),
        (Score::Act, Some(s)) => w
            .iter()
            .enumerate()
            .map(|(j, v)| (v.abs() as f64 * s.mean[feature(j)].abs()) as f32)
            .collect(),
        (Score::Wanda, Some(s)) => w
            .iter()
            .enumerate()
            .map(|(j, v)| (v.abs() as f64 * s.norm[feature(j)]) as f32)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn act_is_the_mean_of_weight_times_input() {
        // One 2x3 layer, inputs x^1 = (1, -2, 0), x^2 = (3, 2, 0).
        let w = [0.5f32, -1.0, 2.0, 1.0, 0.25, -3.0];
        let s = InputStats {
            mean: vec![2.0, 0.0, 0.0],
            norm: vec![10f64.sqrt(), 8f64.sqrt(), 0.0],
        };
        let act = scores(Score::Act, &w, &[2, 3], None, Some(&s));
        // |mean(W_ij x_i)| straight from the definition.
        let xs = [[1.0f32, -2.0, 0.0], [3.0, 2.0, 0.0]];
        for (j, a) in act.iter().enumerate() {
            let (o, i) = (j / 3, j % 3);
            let want = ((w[o * 3 + i] * xs[0][i] + w[o * 3 + i] * xs[1][i]) / 2.0).abs();
            assert!((a - want).abs() < 1e-6, "{j}: {a} vs {want}");
        }
        let wanda = scores(Score::Wanda, &w, &[2, 3], None, Some(&s));
        assert!((wanda[1] - 8f32.sqrt()).abs() < 1e-5);
        assert_eq!(scores(Score::Abs, &w, &[2, 3], None, None)[5], 3.0);
        // Convolution [out=1, in=2, 1, 2]: taps 0,1 read channel 0; 2,3 channel 1.
        let cs = InputStats {
            mean: vec![1.0, -2.0],
            norm: vec![1.0, 1.0],
        };
        let c = scores(
            Score::Act,
            &[1.0, -1.0, 1.0, 0.5],
            &[1, 2, 1, 2],
            None,
            Some(&cs),
        );
        assert_eq!(c, vec![1.0, 1.0, 2.0, 1.0]);
    }
}
