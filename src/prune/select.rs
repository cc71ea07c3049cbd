//! Choosing which weights to prune from their scores.
//!
//! Ties are broken deterministically: weights are ordered by score, then by
//! flat index in the PyTorch-layout matrix (`[out, in]`: row-major), and
//! the first `k` are pruned. So among equal scores, lower indices go first.
//! This matters for `act`: about 160 MNIST pixels are always 0, and every
//! weight leaving them scores exactly 0. For the `global` scope the order is
//! score, then matrix, then flat index.
//!
//! Orders are computed once per matrix, so a sweep over many ratios only
//! takes prefixes of them.

/// Indices of `scores` in pruning order: ascending score, ties by index.
pub fn order(scores: &[f32]) -> Vec<u32> {
    let mut idx: Vec<u32> = (0..scores.len() as u32).collect();
    // Stable sort: equal scores keep ascending index order.
    idx.sort_by(|&a, &b| scores[a as usize].total_cmp(&scores[b as usize]));
    idx
}

/// Pruning order within each row of an `[rows, cols]` matrix (Wanda's
/// comparison group): row `r`'s order is `out[r*cols..(r+1)*cols]`, as flat
/// indices.
pub fn row_orders(scores: &[f32], cols: usize) -> Vec<u32> {
    let mut out = Vec::with_capacity(scores.len());
    for (r, row) in scores.chunks_exact(cols).enumerate() {
        out.extend(order(row).into_iter().map(|j| (r * cols) as u32 + j));
    }
    out
}

/// Global order over several matrices: `(matrix, flat index)` pairs.
pub fn global_order(scores: &[Vec<f32>]) -> Vec<(u32, u32)> {
    let mut all: Vec<(u32, u32)> = scores
        .iter()
        .enumerate()
        .flat_map(|(m, s)| (0..s.len() as u32).map(move |j| (m as u32, j)))
        .collect();
    all.sort_by(|a, b| {
        scores[a.0 as usize][a.1 as usize].total_cmp(&scores[b.0 as usize][b.1 as usize])
    });
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_go_to_the_lower_index_first() {
        let s = [0.5, 0.0, 0.2, 0.0, 0.2, 0.0];
        assert_eq!(order(&s), vec![1, 3, 5, 2, 4, 0]);
        // Negative zero ties with zero? total_cmp puts -0 first: scores are
        // absolute values, never negative, so this cannot arise.
        assert_eq!(row_orders(&s, 3), vec![1, 2, 0, 3, 5, 4]);
        let g = global_order(&[vec![0.1, 0.0], vec![0.0, 0.05]]);
        assert_eq!(g, vec![(0, 1), (1, 0), (1, 1), (0, 0)]);
    }
}
