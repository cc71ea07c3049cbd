//! The report's gradient-masking checks (`[attacks] checks = true`): a
//! section "Gradient-masking checks" listing each check's verdict sentence
//! per model (the `attacks-M` stage's `checks.json`) and per point of the
//! adaptive evaluation (method and ratio), the robust-accuracy figures of a
//! network whose checks failed marked unreliable, and the sentences the
//! Findings add for failed pruned points. Where no checks ran, nothing is
//! said.

use super::compare::{f4, pct};
use super::doc::Doc;
use super::outputs::ModelOutputs;
use crate::attack::masking::{MaskingReport, failures};

/// What a figure of a network whose checks failed is marked with.
pub(super) const UNRELIABLE: &str = "unreliable: masking checks failed";

/// A robust-accuracy cell: four decimals, marked unreliable when the
/// network's checks failed (no checks: unmarked).
pub(super) fn figure(v: f64, checks: Option<&MaskingReport>) -> String {
    match checks {
        Some(c) if !c.reliable => format!("{} ({UNRELIABLE})", f4(v)),
        _ => f4(v),
    }
}

/// One adaptive point with checks: method (`none`: unpruned), ratio, its
/// attacks' figures and its report.
pub(super) struct PointChecks {
    pub method: String,
    pub ratio: String,
    pub attacks: Vec<crate::attack::robustness::AttackEval>,
    pub report: MaskingReport,
}

impl PointChecks {
    fn label(&self) -> String {
        if self.method == "none" {
            "unpruned".into()
        } else {
            format!("{} at {}", self.method, pct(&self.ratio))
        }
    }
}

fn verdicts(r: &MaskingReport) -> Vec<String> {
    r.checks
        .iter()
        .map(|c| {
            format!(
                "{} {}: {}.",
                if c.passed { "pass" } else { "FAIL" },
                c.name,
                c.verdict
            )
        })
        .collect()
}

fn summary(r: &MaskingReport) -> String {
    format!(
        "eps {}, {} images, clean accuracy {}, white-box robust accuracy {}: {}",
        r.eps,
        r.images,
        f4(r.clean_accuracy),
        f4(r.white_box),
        if r.reliable {
            "no sign of gradient masking, the white-box figures can be trusted."
        } else {
            "signs of gradient masking, the white-box figures are unreliable."
        }
    )
}

/// The section, when any model or point has checks.
pub(super) fn section(d: &mut Doc, models: &[ModelOutputs]) {
    if models
        .iter()
        .all(|m| m.checks.is_none() && m.adaptive_checks.is_empty())
    {
        return;
    }
    d.h(2, "Gradient-masking checks");
    d.p("Signs that a gradient attack's robust accuracy measures a weak gradient rather than a robust model (Carlini et al. 2019): robust accuracy must fall to about 0 as eps grows, more steps and restarts must never leave more images robust, Square (no gradients) must not be stronger than the white-box attacks, and APGD-CE transferred from the unpruned model must not be stronger than white-box on a pruned one. A network that fails a check has its robust-accuracy figures marked unreliable.");
    for m in models {
        if m.checks.is_none() && m.adaptive_checks.is_empty() {
            continue;
        }
        d.h(3, &m.name);
        if let Some(r) = &m.checks {
            d.p(format!("The trained model: {}", summary(r)));
            d.list(verdicts(r));
        }
        for p in &m.adaptive_checks {
            d.p(format!(
                "Adaptive evaluation, {}: {}",
                p.label(),
                summary(&p.report)
            ));
            let mut items = verdicts(&p.report);
            if !p.attacks.is_empty() {
                items.push(format!(
                    "Robust accuracy: {}.",
                    p.attacks
                        .iter()
                        .map(|a| format!(
                            "{} {}",
                            a.attack,
                            figure(a.robust_accuracy, Some(&p.report))
                        ))
                        .collect::<Vec<_>>()
                        .join("; ")
                ));
            }
            d.list(items);
        }
    }
}

/// Findings' sentences: one per pruned point whose checks failed.
pub(super) fn findings(models: &[ModelOutputs]) -> Vec<String> {
    let mut out = Vec::new();
    for m in models {
        for p in m.adaptive_checks.iter().filter(|p| p.method != "none") {
            let failed = failures(&p.report);
            if !failed.is_empty() {
                out.push(format!(
                    "{}: the robust accuracy of {} is unreliable: {}",
                    m.name,
                    p.label(),
                    failed.join("; ")
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attack::masking::Check;

    fn report(passed: bool) -> MaskingReport {
        MaskingReport {
            eps: 0.1,
            images: 100,
            clean_accuracy: 0.97,
            white_box: 0.632,
            checks: vec![Check {
                name: "eps-growth".into(),
                passed,
                verdict: "APGD-CE robust accuracy stays above 0 at large eps".into(),
                figures: vec![("apgd-ce eps 0.5".into(), 0.4)],
            }],
            reliable: passed,
        }
    }

    #[test]
    fn a_failing_report_marks_figures_unreliable_and_a_passing_one_does_not() {
        let bad = report(false);
        assert_eq!(
            figure(0.632, Some(&bad)),
            "0.6320 (unreliable: masking checks failed)"
        );
        assert_eq!(figure(0.632, Some(&report(true))), "0.6320");
        assert_eq!(figure(0.632, None), "0.6320");
        let p = PointChecks {
            method: "act".into(),
            ratio: "0.86".into(),
            attacks: vec![],
            report: bad,
        };
        assert_eq!(p.label(), "act at 86%");
        let m = |points: Vec<PointChecks>| ModelOutputs {
            name: "lq".into(),
            train: None,
            suite: None,
            noises: vec![],
            attacks: None,
            sweep: None,
            per_layer: None,
            adaptive: vec![],
            checks: None,
            adaptive_checks: points,
        };
        let ok = PointChecks {
            method: "abs".into(),
            report: report(true),
            ..p
        };
        let bad_point = PointChecks {
            method: "act".into(),
            ratio: "0.86".into(),
            attacks: vec![],
            report: report(false),
        };
        assert!(findings(&[m(vec![ok])]).is_empty());
        assert_eq!(
            findings(&[m(vec![bad_point])]),
            [
                "lq: the robust accuracy of act at 86% is unreliable: eps-growth: APGD-CE robust accuracy stays above 0 at large eps"
            ]
        );
        let mut d = Doc::default();
        section(&mut d, &[m(vec![])]);
        assert!(d.markdown("f").is_empty(), "no checks, nothing said");
    }
}
