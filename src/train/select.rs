//! Model selection on a validation split: which training images are held
//! out (a seeded draw, never the test set), and the best weights seen at
//! the periodic validation checks, kept so the run can end with them.
//!
//! Ties keep the later check: a check replaces the kept weights when its
//! validation accuracy is at least as high. With a few thousand held-out
//! images accuracies move in steps of 0.02-0.05 points and plateaus tie
//! often; the later weights have trained longer on the same evidence (on
//! the lq article-mlp, checks 7000, 7500, 8000 and 10000 tied at 98.18%
//! validation; 10000 had 98.45% test accuracy, 7000 98.33%).

use crate::data::Split;
use crate::model::Model;
use crate::rng::{Rng, purpose};
use serde::{Deserialize, Serialize};

/// Training images split into the ones trained on and the validation
/// images: `val` images drawn with the stream `(seed, VALIDATION, 0)`;
/// both lists ascending. With `val == 0` every image is trained on.
pub fn carve(n: usize, val: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut perm: Vec<usize> = (0..n).collect();
    if val == 0 {
        return (perm, Vec::new());
    }
    Rng::stream(seed, purpose::VALIDATION, 0).shuffle(&mut perm);
    let mut held = perm[..val.min(n)].to_vec();
    let mut kept = perm[val.min(n)..].to_vec();
    held.sort_unstable();
    kept.sort_unstable();
    (kept, held)
}

/// The images `idx` of `split` as a split of their own.
pub fn subset(split: &Split, idx: &[usize]) -> Split {
    let mut images = Vec::with_capacity(idx.len() * split.image_len());
    for &i in idx {
        images.extend_from_slice(split.image(i));
    }
    Split {
        images,
        labels: idx.iter().map(|&i| split.labels[i]).collect(),
        rows: split.rows,
        cols: split.cols,
    }
}

/// The best validation point so far and its weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Best {
    /// Steps done when it was taken.
    pub step: u64,
    /// Its validation accuracy.
    pub accuracy: f64,
    /// A copy of every parameter (in `Sequential::params` order).
    pub weights: Vec<Vec<f32>>,
}

impl Best {
    /// Offer the model after `step` steps with validation accuracy
    /// `accuracy`: kept if at least as good as `best` (or the first).
    pub fn offer(best: &mut Option<Best>, model: &Model, step: u64, accuracy: f64) {
        if best.as_ref().is_some_and(|b| accuracy < b.accuracy) {
            return;
        }
        *best = Some(Best {
            step,
            accuracy,
            weights: model.net.params().map(|p| p.value.clone()).collect(),
        });
    }

    /// Copy the kept weights into `model`.
    pub fn restore(&self, model: &mut Model) {
        for (p, w) in model.net.params_mut().zip(&self.weights) {
            p.value.copy_from_slice(w);
        }
    }
}

/// What selection did in a finished run (written to the model's metadata
/// and `train.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    /// Validation images held out of the training set.
    pub val_images: usize,
    /// Steps between validation checks.
    pub select_every: u64,
    /// Step whose weights were kept.
    pub selected_step: u64,
    /// Validation accuracy at that step.
    pub val_accuracy: f64,
    /// Validation accuracy of the last step's weights.
    pub final_val_accuracy: f64,
    /// Test accuracy of the last step's weights (what the run would have
    /// given without selection).
    pub final_test_accuracy: f64,
}

impl Selection {
    /// Record it in `model`'s metadata.
    pub fn stamp(&self, model: &mut Model) {
        let m = &mut model.meta;
        m.insert("selected_step".into(), self.selected_step.to_string());
        m.insert("val_images".into(), self.val_images.to_string());
        m.insert("select_every".into(), self.select_every.to_string());
        m.insert("val_accuracy".into(), format!("{:.4}", self.val_accuracy));
        m.insert(
            "final_val_accuracy".into(),
            format!("{:.4}", self.final_val_accuracy),
        );
        m.insert(
            "final_test_accuracy".into(),
            format!("{:.4}", self.final_test_accuracy),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Arch;
    use crate::nn::Head;

    #[test]
    fn carve_is_seeded_disjoint_and_complete() {
        let (kept, held) = carve(1000, 100, 7);
        assert_eq!((kept.len(), held.len()), (900, 100));
        let mut all: Vec<usize> = kept.iter().chain(&held).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        assert_eq!(carve(1000, 100, 7), (kept.clone(), held.clone()));
        assert_ne!(carve(1000, 100, 8).1, held, "another seed, another split");
        // Not simply the last images.
        assert_ne!(held, (900..1000).collect::<Vec<_>>());
        assert_eq!(carve(5, 0, 7), ((0..5).collect(), vec![]));
    }

    #[test]
    fn offer_keeps_the_best_and_the_later_of_ties() {
        let mut m = Model::new(Arch::custom(vec![4], vec![]).unwrap(), Head::Sce);
        let mut best = None;
        let set = |m: &mut Model, v: f32| {
            for p in m.net.params_mut() {
                p.value.fill(v);
            }
        };
        for (step, acc) in [(10, 0.5), (20, 0.7), (30, 0.7), (40, 0.6)] {
            set(&mut m, step as f32);
            Best::offer(&mut best, &m, step, acc);
        }
        let b = best.unwrap();
        assert_eq!((b.step, b.accuracy), (30, 0.7));
        b.restore(&mut m);
        assert!(m.net.params().all(|p| p.value.iter().all(|&v| v == 30.0)));
    }
}
