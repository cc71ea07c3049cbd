//! How a study prunes, apart from the method and the ratio: which layers,
//! the selection scope, combined's offset, and the images (and seed) the
//! act/wanda scores are computed on. Sweeps and the adaptive evaluation
//! take the same settings (and `parana prune`, `sweep`, `adapt` and the
//! Python package fill them from the same options), so they prune alike.

use super::{Ratio, Scope};
use crate::error::{Error, Result};

/// The pruning settings of a sweep or an adaptive evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct PruneSettings {
    /// Prunable layers pruned together (None: all); a per-layer sweep
    /// sweeps these one at a time (None: every prunable layer).
    pub layers: Option<Vec<usize>>,
    /// Selection scope.
    pub scope: Scope,
    /// Offset of combined.
    pub offset: Ratio,
    /// Images the act/wanda scores are computed on: `train` or `test`.
    pub score_data: String,
    /// Number of score images.
    pub score_images: usize,
    /// Seed choosing them (and the mask seed of `random`).
    pub seed: u64,
}

impl PruneSettings {
    /// Check the settings against a model with `n_layers` prunable layers.
    pub fn check(&self, n_layers: usize) -> Result<()> {
        if !matches!(self.score_data.as_str(), "train" | "test") {
            return Err(Error::input(format!(
                "unknown --score-data '{}' (expected train or test)",
                self.score_data
            )));
        }
        if self.score_images == 0 {
            return Err(Error::input("--score-images must be at least 1"));
        }
        if let Some(bad) = self.layers.iter().flatten().find(|&&k| k >= n_layers) {
            return Err(Error::input(format!(
                "layer {bad} does not exist: the model has {n_layers} prunable layers (0-{})",
                n_layers.saturating_sub(1)
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_refused_with_the_option_named() {
        let ok = PruneSettings {
            layers: Some(vec![0, 2]),
            scope: Scope::PerMatrix,
            offset: Ratio::parse("0.07").unwrap(),
            score_data: "train".into(),
            score_images: 10,
            seed: 1,
        };
        assert!(ok.check(3).is_ok());
        let e = ok.check(2).unwrap_err().to_string();
        assert!(
            e.contains("layer 2 does not exist: the model has 2 prunable layers (0-1)"),
            "{e}"
        );
        let e = PruneSettings {
            score_images: 0,
            ..ok.clone()
        }
        .check(3)
        .unwrap_err()
        .to_string();
        assert!(e.contains("--score-images must be at least 1"), "{e}");
        let e = PruneSettings {
            score_data: "val".into(),
            ..ok
        }
        .check(3)
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown --score-data 'val'"), "{e}");
    }
}
