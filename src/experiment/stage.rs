//! The stages of an experiment and their keys.
//!
//! [`plan`] turns an [`Experiment`] into stages in run order: per model
//! `train-M`, `noise-M`, `attacks-M`, `decouple-M` (when a sweep asks for
//! the decoupled CNN), `sweep-M`, `per-layer-M`, `adaptive-M`; then
//! `sparse` and `report`. Each stage's outputs live in `RUN/<id>/` and are
//! keyed by the SHA-256 of its kind, its settings and the keys of the
//! stages it depends on, so changing one setting changes the key of that
//! stage and of everything downstream of it, and nothing else.

use super::config::Experiment;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Bumped when what a stage writes changes, so old runs are recomputed.
pub const STAGE_FORMAT: u32 = 1;

/// What a stage does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Train one model.
    Train,
    /// Train the noise suite against one model.
    Noise,
    /// FGSM/PGD robust accuracy of one model.
    Attacks,
    /// One CNN's convolutions as sparse matrices (for decoupled sweeps).
    Decouple,
    /// Whole-net pruning sweep of one model.
    Sweep,
    /// Per-layer pruning sweeps of one model.
    PerLayer,
    /// Adaptive evaluation of one model's sweep.
    Adaptive,
    /// Sparse engine benchmarks.
    Sparse,
    /// The report.
    Report,
}

impl Kind {
    /// Name used in stage ids and `--only`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Train => "train",
            Kind::Noise => "noise",
            Kind::Attacks => "attacks",
            Kind::Decouple => "decouple",
            Kind::Sweep => "sweep",
            Kind::PerLayer => "per-layer",
            Kind::Adaptive => "adaptive",
            Kind::Sparse => "sparse",
            Kind::Report => "report",
        }
    }
}

/// One stage of the plan.
#[derive(Clone, Debug)]
pub struct Stage {
    /// `train-lq`, `sweep-sce`, `report`, …: also its folder in the run.
    pub id: String,
    /// What it does.
    pub kind: Kind,
    /// Index of its model instance in [`Experiment::instances`] (model stages).
    pub model: Option<usize>,
    /// Indices (in the plan) of the stages it reads.
    pub deps: Vec<usize>,
    /// SHA-256 of its kind, settings and the keys of its dependencies
    /// (optional settings left out are not serialised, so adding an
    /// optional setting to parana keeps the keys of existing runs).
    pub key: String,
}

impl Stage {
    /// Whether `--only SEL` selects this stage: its id or its kind.
    pub fn selected_by(&self, sel: &str) -> bool {
        self.id == sel || self.kind.name() == sel
    }
}

fn key(kind: Kind, settings: serde_json::Value, deps: &[&Stage]) -> String {
    let v = serde_json::json!({
        "format": STAGE_FORMAT,
        "stage": kind.name(),
        "settings": settings,
        "deps": deps.iter().map(|d| d.key.as_str()).collect::<Vec<_>>(),
    });
    let mut h = Sha256::new();
    h.update(v.to_string().as_bytes());
    h.finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
}

fn json(v: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// The stages of `exp`, in run order.
pub fn plan(exp: &Experiment) -> Vec<Stage> {
    let mut stages: Vec<Stage> = Vec::new();
    let push = |stages: &mut Vec<Stage>,
                id: String,
                kind: Kind,
                model: Option<usize>,
                deps: Vec<usize>,
                settings: serde_json::Value| {
        let k = {
            let d: Vec<&Stage> = deps.iter().map(|&i| &stages[i]).collect();
            key(kind, settings, &d)
        };
        stages.push(Stage {
            id,
            kind,
            model,
            deps,
            key: k,
        });
        stages.len() - 1
    };
    for (mi, inst) in exp.instances().iter().enumerate() {
        let m = &inst.spec;
        let data = serde_json::json!({"dataset": inst.dataset, "data_dir": exp.data_dir});
        let train = push(
            &mut stages,
            format!("train-{}", m.name),
            Kind::Train,
            Some(mi),
            vec![],
            serde_json::json!({"data": data, "model": json(m)}),
        );
        let noise = inst.noise(exp).map(|n| {
            push(
                &mut stages,
                format!("noise-{}", m.name),
                Kind::Noise,
                Some(mi),
                vec![train],
                json(&n),
            )
        });
        if let Some(a) = &inst.attacks(exp) {
            push(
                &mut stages,
                format!("attacks-{}", m.name),
                Kind::Attacks,
                Some(mi),
                vec![train],
                json(a),
            );
        }
        let sections = [
            (Kind::Sweep, inst.sweep(exp, false)),
            (Kind::PerLayer, inst.sweep(exp, true)),
        ];
        let decoupled = sections
            .iter()
            .any(|(_, s)| s.as_ref().is_some_and(|s| s.decoupled));
        let decouple = decoupled.then(|| {
            push(
                &mut stages,
                format!("decouple-{}", m.name),
                Kind::Decouple,
                Some(mi),
                vec![train],
                serde_json::json!({}),
            )
        });
        let mut sweep = None;
        for (kind, sec) in sections {
            if let (Some(s), Some(noise)) = (&sec, noise) {
                let model = match decouple {
                    Some(d) if s.decoupled => d,
                    _ => train,
                };
                let at = stages.len();
                if kind == Kind::Sweep {
                    sweep = Some((at, model));
                }
                push(
                    &mut stages,
                    format!("{}-{}", kind.name(), m.name),
                    kind,
                    Some(mi),
                    vec![model, noise],
                    json(s),
                );
            }
        }
        if let (Some(a), Some((sweep, model)), Some(noise)) = (&exp.adaptive, sweep, noise) {
            push(
                &mut stages,
                format!("adaptive-{}", m.name),
                Kind::Adaptive,
                Some(mi),
                vec![model, noise, sweep],
                serde_json::json!({
                    "adaptive": json(a),
                    "attacks": if a.attacks { json(&inst.attacks(exp)) } else { serde_json::Value::Null },
                    "min_clean": if a.best { json(&exp.report.min_clean) } else { serde_json::Value::Null },
                    "min_clean_drop": if a.best { json(&exp.report.min_clean_drop) } else { serde_json::Value::Null },
                }),
            );
        }
    }
    if let Some(s) = &exp.sparse {
        push(
            &mut stages,
            "sparse".into(),
            Kind::Sparse,
            None,
            vec![],
            json(s),
        );
    }
    let all: Vec<usize> = (0..stages.len()).collect();
    push(
        &mut stages,
        "report".into(),
        Kind::Report,
        None,
        all,
        serde_json::json!({
            "report": json(&exp.report),
            "rules": crate::report::RULES,
            "title": exp.title,
            "description": exp.description,
        }),
    );
    stages
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXP: &str = r#"
[[model]]
name = "a"
hidden = [8]

[[model]]
name = "b"
hidden = [8]
head = "sce"

[noise]
pairs = [[3, 0.25]]

[sweep]
ratios = "0,0.5"

[per-layer]
ratios = "0,0.5"
"#;

    fn keys(src: &str) -> Vec<(String, String)> {
        let e = Experiment::parse(src, std::path::Path::new("t.toml")).unwrap();
        plan(&e).into_iter().map(|s| (s.id, s.key)).collect()
    }

    #[test]
    fn plan_orders_stages_and_ends_with_the_report() {
        let ids: Vec<String> = keys(EXP).into_iter().map(|(i, _)| i).collect();
        assert_eq!(
            ids,
            [
                "train-a",
                "noise-a",
                "sweep-a",
                "per-layer-a",
                "train-b",
                "noise-b",
                "sweep-b",
                "per-layer-b",
                "report"
            ]
        );
    }

    #[test]
    fn a_setting_changes_its_stage_and_what_depends_on_it_only() {
        let base = keys(EXP);
        let changed = |src: &str| -> Vec<String> {
            keys(src)
                .into_iter()
                .zip(&base)
                .filter(|((_, k), (_, k0))| k != k0)
                .map(|((id, _), _)| id)
                .collect()
        };
        assert_eq!(keys(EXP), base, "keys are deterministic");
        assert_eq!(
            changed(&EXP.replace("[sweep]\nratios = \"0,0.5\"", "[sweep]\nratios = \"0,0.6\"")),
            ["sweep-a", "sweep-b", "report"]
        );
        assert_eq!(
            changed(&EXP.replace("pairs = [[3, 0.25]]", "pairs = [[3, 0.2]]")),
            [
                "noise-a",
                "sweep-a",
                "per-layer-a",
                "noise-b",
                "sweep-b",
                "per-layer-b",
                "report"
            ]
        );
        assert_eq!(
            changed(&EXP.replace("head = \"sce\"", "head = \"sce\"\nsteps = 20")),
            ["train-b", "noise-b", "sweep-b", "per-layer-b", "report"]
        );
        assert_eq!(changed(&format!("title = \"x\"\n{EXP}")), ["report"]);
    }
}
