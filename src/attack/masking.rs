//! Gradient-masking checks (Carlini et al. 2019, "On evaluating adversarial
//! robustness"): signs that a gradient attack's robust accuracy measures a
//! weak gradient rather than a robust model. Each check gives a verdict
//! sentence; a failed check marks the white-box figure as unreliable.
//!
//! - `eps-growth`: robust accuracy under APGD-CE falls to about 0 as eps
//!   grows (0.3, 0.5 by default);
//! - `more-budget`: PGD leaves no more images robust than FGSM, and twice
//!   the steps with two restarts leave no more than the base run, for PGD
//!   and for APGD-CE (within the tolerance);
//! - `black-box`: Square, which uses no gradients, is not stronger than the
//!   white-box attacks (per-image worst of FGSM and the PGD and APGD-CE
//!   runs);
//! - `transfer`: APGD-CE images crafted on another model (e.g. the
//!   unpruned one) are not stronger than the white-box attacks.

use super::apgd::{ApgdConfig, ApgdLoss};
use super::pgd::PgdConfig;
use super::square::SquareConfig;
use super::{Attack, Outcome, predict_rows};
use crate::model::Model;
use serde::{Deserialize, Serialize};

/// Settings of the checks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckOptions {
    /// The radius whose figure is checked.
    pub eps: f32,
    /// Larger radii at which robust accuracy must fall to about 0.
    pub large_eps: Vec<f32>,
    /// APGD iterations of the base run.
    pub apgd_steps: usize,
    /// PGD steps.
    pub pgd_steps: usize,
    /// Square queries.
    pub queries: usize,
    /// Allowed slack, as a share of the images (0.01: one point).
    pub tolerance: f64,
    /// Seed of the attacks.
    pub seed: u64,
    /// With [`run_checks_on`]: the first N images of the split (None: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<usize>,
}

impl CheckOptions {
    /// Eps 0.3 and 0.5, APGD 100 iterations, PGD-20, Square 5000 queries,
    /// tolerance one point.
    pub fn standard(eps: f32, seed: u64) -> CheckOptions {
        CheckOptions {
            eps,
            large_eps: vec![0.3, 0.5],
            apgd_steps: 100,
            pgd_steps: 20,
            queries: 5000,
            tolerance: 0.01,
            seed,
            images: None,
        }
    }
}

/// One check.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Check {
    /// `eps-growth`, `more-budget`, `black-box` or `transfer`.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// One sentence saying what was seen.
    pub verdict: String,
    /// The robust accuracies it compared, by attack.
    pub figures: Vec<(String, f64)>,
}

/// All checks of one model.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MaskingReport {
    /// The radius checked.
    pub eps: f32,
    /// Images attacked.
    pub images: usize,
    /// Clean accuracy on them.
    pub clean_accuracy: f64,
    /// Per-image worst case of the white-box attacks at `eps`.
    pub white_box: f64,
    /// The checks.
    pub checks: Vec<Check>,
    /// Whether every check passed (the white-box figure is then trusted).
    pub reliable: bool,
}

fn robust(o: &Outcome) -> f64 {
    if o.fooled.is_empty() {
        return 0.0;
    }
    o.fooled.iter().filter(|&&f| !f).count() as f64 / o.fooled.len() as f64
}

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// Run the checks on the first `o.images` images of `split` (as
/// `robustness::evaluate_attack` attacks them).
pub fn run_checks_on(
    model: &mut Model,
    split: &crate::data::Split,
    o: &CheckOptions,
    source: Option<&mut Model>,
) -> MaskingReport {
    let n = o.images.unwrap_or(split.len()).min(split.len());
    let idx: Vec<usize> = (0..n).collect();
    let mut x = vec![0.0f32; n * split.image_len()];
    split.gather_f32(&idx, &mut x);
    run_checks(model, &x, &split.labels[..n], o, source)
}

/// The failed checks' verdicts, `name: verdict` (empty when reliable).
pub fn failures(r: &MaskingReport) -> Vec<String> {
    r.checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| format!("{}: {}", c.name, c.verdict))
        .collect()
}

/// Run the checks on the images `x` with `labels`; `source` is the model
/// transferred attacks are crafted on (None: no transfer check).
pub fn run_checks(
    model: &mut Model,
    x: &[f32],
    labels: &[u8],
    o: &CheckOptions,
    source: Option<&mut Model>,
) -> MaskingReport {
    let n = labels.len();
    let len = model.arch.in_len();
    let tol = o.tolerance;
    let apgd = |eps, steps, restarts, seed| {
        Attack::Apgd(ApgdConfig {
            eps,
            steps,
            restarts,
            loss: ApgdLoss::Ce,
            seed,
        })
    };
    let fgsm = Attack::Fgsm {
        eps: o.eps,
        target: None,
    };
    let pgd = Attack::Pgd(PgdConfig {
        eps: o.eps,
        alpha: 2.5 * o.eps / o.pgd_steps.max(1) as f32,
        steps: o.pgd_steps,
        restarts: 1,
        target: None,
        seed: o.seed,
    });
    let pgd_more = Attack::Pgd(PgdConfig {
        eps: o.eps,
        alpha: 2.5 * o.eps / (2 * o.pgd_steps.max(1)) as f32,
        steps: 2 * o.pgd_steps,
        restarts: 2,
        target: None,
        seed: o.seed.wrapping_add(1),
    });
    let base = apgd(o.eps, o.apgd_steps, 1, o.seed);
    let more = apgd(o.eps, 2 * o.apgd_steps, 2, o.seed.wrapping_add(1));
    let runs: Vec<(String, Outcome)> = [
        ("FGSM".to_string(), fgsm),
        (format!("PGD-{}", o.pgd_steps), pgd),
        (format!("PGD-{} x2 restarts", 2 * o.pgd_steps), pgd_more),
        (format!("APGD-CE {}", o.apgd_steps), base),
        (format!("APGD-CE {} x2 restarts", 2 * o.apgd_steps), more),
    ]
    .into_iter()
    .map(|(name, a)| (name, a.run(model, x, labels, 0)))
    .collect();
    let mut clean_pred = Vec::new();
    let mut correct = 0;
    let cap = crate::model::eval::eval_batch(&model.net).max(1);
    for s in (0..n).step_by(cap) {
        let b = cap.min(n - s);
        predict_rows(model, &x[s * len..(s + b) * len], b, &mut clean_pred);
        correct += clean_pred
            .iter()
            .zip(&labels[s..s + b])
            .filter(|&(&p, &y)| p == y as usize)
            .count();
    }
    let clean_accuracy = if n == 0 {
        0.0
    } else {
        correct as f64 / n as f64
    };
    // Per-image worst case of the gradient attacks (FGSM's single step
    // included: it is one of them).
    let white: Vec<bool> = (0..n)
        .map(|i| runs.iter().any(|(_, r)| r.fooled[i]))
        .collect();
    let white_box = if n == 0 {
        0.0
    } else {
        white.iter().filter(|&&f| !f).count() as f64 / n as f64
    };
    let mut checks = Vec::new();

    // More budget never helps the model: iterative beats single-step, and
    // more steps and restarts of the same attack never leave more robust.
    let figs: Vec<(String, f64)> = runs.iter().map(|(k, r)| (k.clone(), robust(r))).collect();
    let mut worse = Vec::new();
    for (a, b) in [(0, 1), (1, 2), (3, 4)] {
        if figs[b].1 > figs[a].1 + tol {
            worse.push(format!(
                "{} leaves {} robust, above {}'s {}",
                figs[b].0,
                pct(figs[b].1),
                figs[a].0,
                pct(figs[a].1)
            ));
        }
    }
    let list = figs
        .iter()
        .map(|(k, v)| format!("{k} {}", pct(*v)))
        .collect::<Vec<_>>()
        .join(", ");
    let gain = figs[1].1 - white_box;
    checks.push(Check {
        name: "more-budget".into(),
        passed: worse.is_empty(),
        verdict: if worse.is_empty() {
            format!(
                "iterative attacks beat the single step and more steps and restarts never left more images robust ({list}){}",
                if gain > tol {
                    format!(
                        "; PGD-{} alone overstates robust accuracy by {:.1} points",
                        o.pgd_steps,
                        gain * 100.0
                    )
                } else {
                    String::new()
                }
            )
        } else {
            format!(
                "a stronger attack left more images robust ({}): the gradients mislead the attack",
                worse.join("; ")
            )
        },
        figures: figs,
    });

    // Robust accuracy falls to about 0 as eps grows.
    let mut figs = vec![(format!("apgd-ce eps {}", o.eps), robust(&runs[3].1))];
    for &e in &o.large_eps {
        let r = apgd(e, o.apgd_steps, 1, o.seed).run(model, x, labels, 0);
        figs.push((format!("apgd-ce eps {e}"), robust(&r)));
    }
    let last = figs.last().map(|f| f.1).unwrap_or(0.0);
    let rising = figs.windows(2).any(|w| w[1].1 > w[0].1 + tol);
    let passed = last <= tol && !rising;
    let list = figs
        .iter()
        .map(|(k, v)| format!("{} at {}", pct(*v), k.trim_start_matches("apgd-ce ")))
        .collect::<Vec<_>>()
        .join(", ");
    checks.push(Check {
        name: "eps-growth".into(),
        passed,
        verdict: if passed {
            format!("APGD-CE robust accuracy falls to about 0 as eps grows ({list})")
        } else if rising {
            format!("APGD-CE robust accuracy rises with eps ({list}): the gradient attack is failing, not the model resisting")
        } else {
            format!("APGD-CE robust accuracy stays above 0 at large eps ({list}): at eps {} any image can be moved to another class, so the gradients are masked", o.large_eps.last().copied().unwrap_or(o.eps))
        },
        figures: figs,
    });

    // Square (black box) is not stronger than the white-box attacks.
    let sq = Attack::Square(SquareConfig {
        queries: o.queries,
        ..SquareConfig::standard(o.eps, o.seed)
    })
    .run(model, x, labels, 0);
    let sq_r = robust(&sq);
    let only = (0..n).filter(|&i| sq.fooled[i] && !white[i]).count();
    let passed = sq_r >= white_box - tol;
    checks.push(Check {
        name: "black-box".into(),
        passed,
        verdict: if passed {
            format!(
                "Square ({} queries, no gradients) is not stronger than the white-box attacks ({} vs {}; it breaks {only} image{} they miss)",
                o.queries,
                pct(sq_r),
                pct(white_box),
                if only == 1 { "" } else { "s" }
            )
        } else {
            format!(
                "Square ({} queries, no gradients) is stronger than the white-box attacks ({} vs {}; it breaks {only} images they miss): the gradients are masked",
                o.queries,
                pct(sq_r),
                pct(white_box)
            )
        },
        figures: vec![("square".into(), sq_r), ("white-box".into(), white_box)],
    });

    // Transferred from another model: not stronger than white-box.
    if let Some(src) = source {
        let t = apgd(o.eps, o.apgd_steps, 1, o.seed).run(src, x, labels, 0);
        let mut pred = Vec::new();
        let mut broken = vec![false; n];
        for s in (0..n).step_by(cap) {
            let b = cap.min(n - s);
            predict_rows(model, &t.adv[s * len..(s + b) * len], b, &mut pred);
            for (k, &p) in pred.iter().enumerate() {
                broken[s + k] = p != labels[s + k] as usize;
            }
        }
        let tr = if n == 0 {
            0.0
        } else {
            broken.iter().filter(|&&f| !f).count() as f64 / n as f64
        };
        let only = (0..n).filter(|&i| broken[i] && !white[i]).count();
        let passed = tr >= white_box - tol;
        checks.push(Check {
            name: "transfer".into(),
            passed,
            verdict: if passed {
                format!(
                    "APGD-CE transferred from the other model is not stronger than white-box ({} vs {}; it breaks {only} image{} they miss)",
                    pct(tr),
                    pct(white_box),
                    if only == 1 { "" } else { "s" }
                )
            } else {
                format!(
                    "APGD-CE transferred from the other model is stronger than white-box ({} vs {}; it breaks {only} images they miss): the gradients are masked",
                    pct(tr),
                    pct(white_box)
                )
            },
            figures: vec![("transfer apgd-ce".into(), tr), ("white-box".into(), white_box)],
        });
    }
    let reliable = checks.iter().all(|c| c.passed);
    MaskingReport {
        eps: o.eps,
        images: n,
        clean_accuracy,
        white_box,
        checks,
        reliable,
    }
}
