//! Test fixtures shared by the report's unit tests: sweep settings and
//! rows with known numbers, from which the tests build replicates and
//! check the tables and Findings that follow from them.

use super::best::{Rule, Threshold};
use super::replicates::{Replicate, merge_random};
use crate::experiment::sweep::{Group, NoiseInfo, Row, Settings};

/// Sweep settings for `methods` over ratios 0, 0.5 and 0.8, one layer
/// group per name in `groups`, and `noises` noises `n0`, `n1`, ….
pub fn settings(methods: &[&str], groups: &[&str], noises: usize) -> Settings {
    Settings {
        model_sha256: String::new(),
        arch: "mlp".into(),
        dataset: "mnist".into(),
        test_images: 100,
        methods: methods.iter().map(|m| m.to_string()).collect(),
        ratios: vec!["0".into(), "0.5".into(), "0.8".into()],
        groups: groups
            .iter()
            .map(|g| Group {
                name: g.to_string(),
                layers: None,
            })
            .collect(),
        scope: "per-matrix".into(),
        offset: "0.07".into(),
        score_data: "train".into(),
        score_images: 10,
        seed: 1,
        noises: (0..noises)
            .map(|k| NoiseInfo {
                name: format!("n{k}"),
                file: String::new(),
                sha256: String::new(),
                target: k as u8,
                limit: 0.2,
            })
            .collect(),
        layer_weights: vec![10],
    }
}

/// A sweep row with the given accuracies (mean noisy computed).
pub fn row(group: &str, method: &str, ratio: &str, clean: f64, noisy: &[f64]) -> Row {
    Row {
        group: group.into(),
        method: method.into(),
        ratio: ratio.into(),
        clean,
        noisy: noisy.to_vec(),
        fooled: vec![0.0; noisy.len()],
        mean_noisy: noisy.iter().sum::<f64>() / noisy.len() as f64,
        remaining: vec![5],
    }
}

/// A replicate of these settings and rows (random masks merged) with an
/// absolute threshold of `min_clean`, no per-layer sweep and no adaptive
/// points.
pub fn replicate(s: &Settings, rows: &[Row], min_clean: f64) -> Replicate {
    let (settings, rows, masks) = merge_random(s, rows);
    Replicate {
        name: "lq".into(),
        seed: None,
        settings,
        rows,
        random_masks: masks,
        threshold: Threshold {
            value: min_clean,
            rule: Rule::Absolute,
        },
        per_layer: None,
        adaptive: vec![],
    }
}
