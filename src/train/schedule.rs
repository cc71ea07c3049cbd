//! The learning-rate schedule: constant, then optionally decayed over the
//! last steps of a run (cosine or linear), a pure function of the step so
//! a resumed run takes exactly the steps of an uninterrupted one.
//!
//! With `steps` total steps, decay from fraction `f` starts at step
//! `d = floor(f * steps)`; step `s` (0-based) is taken with
//!
//! ```text
//! lr(s) = lr                                   for s < d
//! p     = (s - d) / (steps - d)                for s >= d, in [0, 1)
//! lr(s) = lr * (1 + cos(pi * p)) / 2           cosine
//! lr(s) = lr * (1 - p)                         linear
//! ```
//!
//! so the first decayed step still takes the full rate and the last one a
//! small but non-zero share of it (no step is wasted at rate 0).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// How the learning rate falls over the last steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LrDecay {
    /// Constant learning rate.
    #[default]
    Off,
    /// Half a cosine from the full rate towards 0.
    Cosine,
    /// A straight line from the full rate towards 0.
    Linear,
}

impl LrDecay {
    /// Parse `off`, `cosine` or `linear`.
    pub fn parse(s: &str) -> Result<LrDecay> {
        match s.trim() {
            "off" | "none" => Ok(LrDecay::Off),
            "cosine" => Ok(LrDecay::Cosine),
            "linear" => Ok(LrDecay::Linear),
            other => Err(Error::input(format!(
                "unknown learning-rate decay '{other}' (expected off, cosine or linear)"
            ))),
        }
    }

    /// Whether this is [`LrDecay::Off`] (serde's `skip_serializing_if`).
    pub fn is_off(&self) -> bool {
        *self == LrDecay::Off
    }

    /// Its name as parsed.
    pub fn name(&self) -> &'static str {
        match self {
            LrDecay::Off => "off",
            LrDecay::Cosine => "cosine",
            LrDecay::Linear => "linear",
        }
    }
}

/// The first decayed step of a run of `steps` steps decaying from
/// fraction `from`.
pub fn decay_start(steps: u64, from: f64) -> u64 {
    ((from * steps as f64).floor() as u64).min(steps)
}

/// The learning rate of step `step` (0-based) of `steps`, from base rate
/// `lr` (see the module documentation for the formula).
pub fn lr_at(lr: f32, decay: LrDecay, from: f64, step: u64, steps: u64) -> f32 {
    let d = decay_start(steps, from);
    if decay == LrDecay::Off || step < d || steps <= d {
        return lr;
    }
    let p = (step - d) as f64 / (steps - d) as f64;
    let f = match decay {
        LrDecay::Off => 1.0,
        LrDecay::Cosine => 0.5 * (1.0 + (std::f64::consts::PI * p).cos()),
        LrDecay::Linear => 1.0 - p,
    };
    (lr as f64 * f) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_values_at_hand_computed_steps() {
        // 100 steps decaying from 0.8: steps 0-79 at the full rate, then 20
        // steps with p = 0, 0.05, ..., 0.95.
        let at = |d, s| lr_at(1.0, d, 0.8, s, 100);
        for d in [LrDecay::Off, LrDecay::Cosine, LrDecay::Linear] {
            assert_eq!(at(d, 0), 1.0);
            assert_eq!(at(d, 79), 1.0);
            assert_eq!(at(d, 80), 1.0, "the first decayed step takes the full rate");
        }
        assert_eq!(at(LrDecay::Off, 99), 1.0);
        assert!((at(LrDecay::Linear, 90) - 0.5).abs() < 1e-6);
        assert!((at(LrDecay::Linear, 99) - 0.05).abs() < 1e-6);
        assert!((at(LrDecay::Cosine, 90) - 0.5).abs() < 1e-6);
        // (1 + cos(0.25 pi)) / 2 = 0.853553...
        assert!((at(LrDecay::Cosine, 85) - 0.853_553_4).abs() < 1e-6);
        // (1 + cos(0.95 pi)) / 2 = 0.006155...
        assert!((at(LrDecay::Cosine, 99) - 0.006_155_8).abs() < 1e-6);
        assert!(at(LrDecay::Cosine, 99) > 0.0);
        // Decaying over the whole run starts at step 0.
        assert_eq!(decay_start(100, 0.0), 0);
        assert!((lr_at(2.0, LrDecay::Linear, 0.0, 50, 100) - 1.0).abs() < 1e-6);
        // Monotone non-increasing.
        let v: Vec<f32> = (0..100).map(|s| at(LrDecay::Cosine, s)).collect();
        assert!(v.windows(2).all(|w| w[1] <= w[0]));
    }

    #[test]
    fn names_parse_and_unknown_is_refused() {
        for d in [LrDecay::Off, LrDecay::Cosine, LrDecay::Linear] {
            assert_eq!(LrDecay::parse(d.name()).unwrap(), d);
        }
        let e = LrDecay::parse("exp").unwrap_err().to_string();
        assert!(e.contains("'exp'") && e.contains("cosine"), "{e}");
    }
}
