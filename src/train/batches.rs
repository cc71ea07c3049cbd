//! Which training images each step sees: shuffled epochs, one permutation
//! per epoch derived from the seed, so step N's batch can be recomputed
//! without replaying steps 0..N (exact resume). The images may be a pool
//! (the training set without its validation images).

use crate::rng::{Rng, purpose};

/// Yields the image indices of each step's batch.
pub struct Batches {
    n: usize,
    batch: usize,
    seed: u64,
    epoch: u64,
    perm: Vec<usize>,
    pool: Option<Vec<usize>>,
}

impl Batches {
    /// Batches of `batch` images out of `n`, shuffled with `seed`.
    pub fn new(n: usize, batch: usize, seed: u64) -> Self {
        assert!(n > 0 && batch > 0);
        let mut b = Batches {
            n,
            batch,
            seed,
            epoch: u64::MAX,
            perm: Vec::new(),
            pool: None,
        };
        b.load_epoch(0);
        b
    }

    /// Batches of `batch` images out of `pool` (image indices), shuffled
    /// with `seed`: the epochs are those of `new(pool.len(), ..)` mapped
    /// through `pool`, so a pool of every image gives `new`'s batches.
    pub fn over(pool: Vec<usize>, batch: usize, seed: u64) -> Self {
        let mut b = Batches::new(pool.len(), batch, seed);
        b.pool = Some(pool);
        b
    }

    fn load_epoch(&mut self, epoch: u64) {
        if self.epoch == epoch {
            return;
        }
        self.perm = (0..self.n).collect();
        Rng::stream(self.seed, purpose::SHUFFLE, epoch).shuffle(&mut self.perm);
        self.epoch = epoch;
    }

    /// Indices of step `step`'s batch (a batch that crosses the end of an
    /// epoch continues into the next epoch's order).
    pub fn indices(&mut self, step: u64, out: &mut Vec<usize>) {
        out.clear();
        let start = step as u128 * self.batch as u128;
        for j in 0..self.batch as u128 {
            let p = start + j;
            let epoch = (p / self.n as u128) as u64;
            self.load_epoch(epoch);
            let i = self.perm[(p % self.n as u128) as usize];
            out.push(match &self.pool {
                Some(pool) => pool[i],
                None => i,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_epoch_is_a_permutation_and_steps_are_recomputable() {
        let mut b = Batches::new(10, 4, 7);
        let mut all = Vec::new();
        let mut v = Vec::new();
        for s in 0..5 {
            b.indices(s, &mut v);
            all.extend_from_slice(&v);
        }
        let mut e0 = all[..10].to_vec();
        e0.sort();
        assert_eq!(e0, (0..10).collect::<Vec<_>>());
        let mut e1 = all[10..20].to_vec();
        e1.sort();
        assert_eq!(e1, (0..10).collect::<Vec<_>>());
        assert_ne!(all[..10], all[10..20], "epochs are shuffled differently");
        // A fresh sampler jumping straight to step 3 sees the same batch.
        let mut fresh = Batches::new(10, 4, 7);
        fresh.indices(3, &mut v);
        assert_eq!(v, all[12..16]);
    }

    #[test]
    fn batches_over_a_carved_pool_never_see_the_validation_images() {
        let (kept, held) = crate::train::select::carve(200, 30, 5);
        let mut b = Batches::over(kept.clone(), 16, 5);
        let mut seen = std::collections::HashSet::new();
        let mut v = Vec::new();
        for s in 0..50 {
            b.indices(s, &mut v);
            seen.extend(v.iter().copied());
        }
        assert!(held.iter().all(|i| !seen.contains(i)));
        assert_eq!(seen.len(), kept.len(), "every kept image is trained on");
        // A pool of every image is the plain sampler.
        let mut plain = Batches::new(200, 16, 5);
        let mut all = Batches::over((0..200).collect(), 16, 5);
        let mut w = Vec::new();
        for s in [0, 7, 13] {
            plain.indices(s, &mut v);
            all.indices(s, &mut w);
            assert_eq!(v, w);
        }
    }
}
