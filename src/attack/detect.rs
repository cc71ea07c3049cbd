//! Confidence-based detection of noisy inputs: the seed author's idea that
//! noise lowers the ratio of the largest to the second-largest output.
//!
//! The score of an input is the ratio of its two largest softmax
//! probabilities, `p1 / p2 = exp(o1 - o2)`, kept as its logarithm, the gap
//! `o1 - o2` between the two largest raw outputs (well defined for an `lq`
//! model's raw outputs, which can be zero or negative, and monotone in the
//! ratio, so every rank-based measure below is the ratio's). A low score
//! flags an input as noisy.

use serde::Serialize;

/// The gap between the largest and second-largest value of `row`.
pub fn score(row: &[f32]) -> f32 {
    let (mut a, mut b) = (f32::NEG_INFINITY, f32::NEG_INFINITY);
    for &v in row {
        if v > a {
            b = a;
            a = v;
        } else if v > b {
            b = v;
        }
    }
    a - b
}

/// How well the score separates clean from noisy inputs.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Detection {
    /// Area under the ROC curve: the probability that a random clean input
    /// scores higher than a random noisy one (ties count half).
    pub auc: f64,
    /// The score below which an input is flagged: 95% of clean inputs
    /// score at or above it.
    pub threshold: f64,
    /// Share of noisy inputs flagged at that threshold.
    pub caught: f64,
}

/// ROC AUC of `clean` (positives, high scores) against `noisy`.
pub fn roc_auc(clean: &[f32], noisy: &[f32]) -> f64 {
    if clean.is_empty() || noisy.is_empty() {
        return f64::NAN;
    }
    // Mann-Whitney U with mid-ranks for ties.
    let mut all: Vec<(f32, bool)> = clean
        .iter()
        .map(|&s| (s, true))
        .chain(noisy.iter().map(|&s| (s, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0f64;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        let mid = (i + j + 1) as f64 / 2.0; // ranks i+1..=j
        rank_sum += mid * all[i..j].iter().filter(|e| e.1).count() as f64;
        i = j;
    }
    let (p, n) = (clean.len() as f64, noisy.len() as f64);
    (rank_sum - p * (p + 1.0) / 2.0) / (p * n)
}

/// Detection measures for `clean` and `noisy` scores, flagging at the
/// threshold that keeps `keep` (e.g. 0.95) of clean inputs.
pub fn detection(clean: &[f32], noisy: &[f32], keep: f64) -> Detection {
    let mut c = clean.to_vec();
    c.sort_by(f32::total_cmp);
    // The largest threshold with at least `keep` of clean scores >= it.
    let drop = ((1.0 - keep) * c.len() as f64).floor() as usize;
    let threshold = c
        .get(drop.min(c.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0.0);
    let caught = if noisy.is_empty() {
        f64::NAN
    } else {
        noisy.iter().filter(|&&s| s < threshold).count() as f64 / noisy.len() as f64
    };
    Detection {
        auc: roc_auc(clean, noisy),
        threshold: threshold as f64,
        caught,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_auc_and_threshold() {
        assert_eq!(score(&[0.1, 2.0, -1.0, 1.5]), 0.5);
        assert_eq!(score(&[3.0, 3.0]), 0.0);
        // Perfect separation, perfect inversion, identical.
        assert_eq!(roc_auc(&[5.0, 6.0], &[1.0, 2.0, 3.0]), 1.0);
        assert_eq!(roc_auc(&[1.0], &[2.0, 3.0]), 0.0);
        assert_eq!(roc_auc(&[1.0, 1.0], &[1.0]), 0.5);
        // Brute force on a mixed case.
        let c = [0.3f32, 0.9, 0.5, 0.5, 0.1];
        let n = [0.2f32, 0.5, 0.4];
        let mut want = 0.0;
        for &a in &c {
            for &b in &n {
                want += if a > b {
                    1.0
                } else if a == b {
                    0.5
                } else {
                    0.0
                };
            }
        }
        assert!((roc_auc(&c, &n) - want / 15.0).abs() < 1e-12);
        // 100 clean scores 1..=100: the threshold keeping 95 is 6.
        let clean: Vec<f32> = (1..=100).map(|v| v as f32).collect();
        let d = detection(&clean, &[1.0, 5.5, 6.0, 50.0], 0.95);
        assert_eq!(d.threshold, 6.0);
        assert_eq!(clean.iter().filter(|&&s| s >= 6.0).count(), 95);
        assert_eq!(d.caught, 0.5);
    }
}
