//! The `random` pruning control: a uniform random pruning order, so that
//! "prune the first `k`" removes a uniformly random set of exactly `k`
//! weights, nested across ratios like every other method's.
//!
//! Each prunable layer `k` draws its order from its own stream
//! (`Rng::stream(seed, purpose::PRUNE_MASK, k)`), so a layer's mask does not
//! depend on which other layers are pruned with it: a per-layer sweep and a
//! sweep of all layers prune the same weights of that layer at a ratio. The
//! global scope shuffles all the selected weights together in one stream.

use crate::rng::{Rng, purpose};

/// Stream index of the global scope's order (layers use their index).
const GLOBAL: u64 = u64::MAX;

/// A uniformly random permutation of `0..n` for prunable layer `layer`.
pub fn order(n: usize, seed: u64, layer: usize) -> Vec<u32> {
    let mut idx: Vec<u32> = (0..n as u32).collect();
    Rng::stream(seed, purpose::PRUNE_MASK, layer as u64).shuffle(&mut idx);
    idx
}

/// A uniformly random order within each row of an `[n / cols, cols]`
/// matrix, as flat indices (the layout of [`super::select::row_orders`]).
pub fn row_orders(n: usize, cols: usize, seed: u64, layer: usize) -> Vec<u32> {
    let mut rng = Rng::stream(seed, purpose::PRUNE_MASK, layer as u64);
    let mut out: Vec<u32> = (0..n as u32).collect();
    for row in out.chunks_exact_mut(cols.max(1)) {
        rng.shuffle(row);
    }
    out
}

/// A uniformly random order of all the weights of matrices of `sizes`, as
/// `(matrix, flat index)` pairs (the layout of
/// [`super::select::global_order`]).
pub fn global_order(sizes: &[usize], seed: u64) -> Vec<(u32, u32)> {
    let mut all: Vec<(u32, u32)> = sizes
        .iter()
        .enumerate()
        .flat_map(|(m, &n)| (0..n as u32).map(move |j| (m as u32, j)))
        .collect();
    Rng::stream(seed, purpose::PRUNE_MASK, GLOBAL).shuffle(&mut all);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_seeded_permutations() {
        let a = order(1000, 3, 0);
        assert_eq!(a, order(1000, 3, 0), "same seed, same order");
        assert_ne!(a, order(1000, 4, 0), "another seed, another order");
        assert_ne!(a, order(1000, 3, 1), "another layer, another order");
        let mut s = a.clone();
        s.sort_unstable();
        assert_eq!(s, (0..1000).collect::<Vec<_>>());

        let r = row_orders(12, 4, 3, 0);
        for (i, row) in r.chunks(4).enumerate() {
            let mut row = row.to_vec();
            row.sort_unstable();
            let want: Vec<u32> = (4 * i as u32..4 * i as u32 + 4).collect();
            assert_eq!(row, want, "row {i} holds its own indices");
        }
        let g = global_order(&[3, 2], 3);
        let mut g2 = g.clone();
        g2.sort_unstable();
        assert_eq!(g2, vec![(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]);
    }

    #[test]
    fn every_position_is_equally_likely_first() {
        // Over many seeds, each of 8 indices leads the order about 1/8 of
        // the time (chi-square with 7 degrees of freedom, p = 0.001: 24.3).
        let (n, trials) = (8usize, 8000usize);
        let mut first = vec![0usize; n];
        for seed in 0..trials as u64 {
            first[order(n, seed, 0)[0] as usize] += 1;
        }
        let e = trials as f64 / n as f64;
        let chi2: f64 = first.iter().map(|&c| (c as f64 - e).powi(2) / e).sum();
        assert!(chi2 < 24.3, "chi-square {chi2}: {first:?}");
    }
}
