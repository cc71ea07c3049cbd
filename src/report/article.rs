//! The article's own best-performance table, quoted as reference data so a
//! report can put it beside the run's.
//!
//! Source: "Pruning, cost functions and adversarial noise" (jngannon), the
//! article behind PARANA (repository jngannon/Parana-public), section "Best
//! Performance": a linear-quadratic MLP on MNIST pruned per weight matrix,
//! accuracy on the clean test set and under each of the eight universal
//! noise vectors, each pruning ratio chosen by hand with clean accuracy
//! kept at about 98%.

/// Where the numbers come from.
pub const SOURCE: &str = "jngannon, \"Pruning, cost functions and adversarial noise\" (the PARANA article, github.com/jngannon/Parana-public), best-performance table: linear-quadratic MLP on MNIST";

/// The noise vectors of the table's columns: (target class, limit).
pub const NOISES: [(u8, f32); 8] = crate::attack::suite::ARTICLE;

/// One line of the table.
#[derive(Clone, Copy, Debug)]
pub struct Line {
    /// How the model was pruned.
    pub pruning: &'static str,
    /// Method name in parana (`none` for the unpruned model).
    pub method: &'static str,
    /// Clean test accuracy.
    pub clean: f64,
    /// Accuracy under each noise of [`NOISES`].
    pub noisy: [f64; 8],
}

/// The table as published.
pub const TABLE: [Line; 4] = [
    Line {
        pruning: "none",
        method: "none",
        clean: 0.9865,
        noisy: [
            0.1993, 0.2764, 0.9073, 0.9590, 0.2595, 0.5790, 0.2263, 0.5818,
        ],
    },
    Line {
        pruning: "absolute value 90%",
        method: "abs",
        clean: 0.9818,
        noisy: [
            0.4110, 0.3624, 0.8814, 0.9686, 0.5395, 0.9081, 0.2379, 0.7646,
        ],
    },
    Line {
        pruning: "activated value 81%",
        method: "act",
        clean: 0.9814,
        noisy: [
            0.4868, 0.5708, 0.9163, 0.9669, 0.5732, 0.9156, 0.2969, 0.7841,
        ],
    },
    Line {
        pruning: "combined (abs 85% + act 80%)",
        method: "combined",
        clean: 0.9801,
        noisy: [
            0.5111, 0.5035, 0.8971, 0.9657, 0.5809, 0.9241, 0.2862, 0.8017,
        ],
    },
];

impl Line {
    /// Mean accuracy over the eight noises.
    pub fn mean_noisy(&self) -> f64 {
        self.noisy.iter().sum::<f64>() / 8.0
    }
}
