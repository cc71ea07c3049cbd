//! Input-feature pruning (`abs-inputs`, `act-inputs`): remove whole input
//! features (the first layer's columns: pixels) with the smallest summed
//! score, to test whether a method works as an input filter.
//!
//! A column's score is the sum over its weights of their per-weight score
//! ([`super::scores::scores`]), so `abs-inputs` ranks pixel `i` by
//! `sum_o |W_oi|` and `act-inputs` by `|mean(x_i)| * sum_o |W_oi|`. The ratio
//! is the share of input features removed, `floor(features * r)`; all the
//! weights of those columns are zeroed and no other layer is touched. Ties go
//! to the lower feature index, so the order is a fixed path and larger
//! ratios remove supersets. Only a fully connected first layer, or a
//! decoupled CNN's first sparse matrix (whose columns are pixels too), has
//! input features as columns; a convolution does not.

use crate::error::{Error, Result};
use crate::model::Model;

/// Check that `model` has input features as columns of its first prunable
/// layer and that `layers` (None: all) includes that layer.
pub fn check(model: &Model, method: &str, layers: Option<&[usize]>) -> Result<()> {
    let positions = super::scores::prunable_layers(model);
    let first = positions.first().map(|&p| model.net.layers()[p].kind());
    if !matches!(first, Some("linear" | "sparse_trainable")) {
        return Err(Error::input(format!(
            "method {method} removes input features (columns of the first layer), but the first layer of {} is a convolution: use a fully connected model or a decoupled CNN (parana decouple)",
            model.describe()
        )));
    }
    if layers.is_some_and(|l| !l.contains(&0)) {
        return Err(Error::input(format!(
            "method {method} prunes only the first layer's input columns: its layers must include layer 0 (drop --layers / --per-layer, or sweep it with [sweep] rather than [per-layer])"
        )));
    }
    Ok(())
}

/// The `features` input columns in pruning order (ascending summed score,
/// ties to the lower index), each with the flat indices of its weights.
/// `scores` are the per-weight scores of an `[out, features]` matrix, or of
/// a sparse layer's stored values whose columns are `cols`.
pub fn column_order(scores: &[f32], features: usize, cols: Option<&[u32]>) -> Vec<Vec<u32>> {
    let feature = |j: usize| match cols {
        Some(c) => c[j] as usize,
        None => j % features.max(1),
    };
    let mut sum = vec![0.0f64; features];
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); features];
    for (j, &s) in scores.iter().enumerate() {
        let f = feature(j);
        sum[f] += s as f64;
        members[f].push(j as u32);
    }
    let mut idx: Vec<usize> = (0..features).collect();
    // Stable: equal sums keep ascending feature order.
    idx.sort_by(|&a, &b| sum[a].total_cmp(&sum[b]));
    idx.into_iter()
        .map(|f| std::mem::take(&mut members[f]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_go_by_summed_score_ties_to_lower_index() {
        // [2 out, 4 in]: column sums 0.3, 0.1, 0.3, 0.0.
        let s = [0.1f32, 0.1, 0.2, 0.0, 0.2, 0.0, 0.1, 0.0];
        let o = column_order(&s, 4, None);
        assert_eq!(o, vec![vec![3, 7], vec![1, 5], vec![0, 4], vec![2, 6]]);
        // Sparse: stored values in columns 2, 0, 2, 1 of 3.
        let o = column_order(&[0.5, 0.9, 0.1, 0.2], 3, Some(&[2, 0, 2, 1]));
        assert_eq!(o, vec![vec![3], vec![0, 2], vec![1]]);
    }
}
