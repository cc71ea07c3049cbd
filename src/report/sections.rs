//! The content of a report, section by section, from what a run's stages
//! left: models, noise, sweeps, per-layer sweeps, lq against sce, the best
//! tables beside the article's, attacks and their gradient-masking checks,
//! sparse speed-ups, stage times,
//! versions and seeds.

use super::compare::{best_rows, f4, pct, resilience, trend, verdict};
use super::doc::Doc;
use super::outputs::{ModelOutputs, load_model_outputs, opt_json};
use super::{article, evidence, figures, masking};
use crate::error::{Error, Result};
use crate::experiment::cache::StagesFile;
use crate::experiment::config::{Experiment, ModelSpec};
use crate::report::{best, plot};
use std::path::Path;

/// Build the report of `run`; returns it and its title.
pub fn build(run: &Path) -> Result<(Doc, String)> {
    let exp_path = run.join("experiment.toml");
    if !exp_path.exists() {
        return Err(Error::file(
            run,
            "holds no experiment.toml: not a `parana reproduce` run folder",
        ));
    }
    let exp = Experiment::load(&exp_path)?;
    let stages = StagesFile::load(run)?;
    let insts = exp.instances();
    let models: Vec<ModelOutputs> = insts
        .iter()
        .map(|m| load_model_outputs(run, &m.spec.name))
        .collect::<Result<_>>()?;
    let title = exp
        .title
        .clone()
        .unwrap_or_else(|| "parana experiment report".into());
    let mut d = Doc::default();
    d.h(1, &title);
    if let Some(desc) = &exp.description {
        d.p(desc.trim());
    }
    d.p(format!(
        "Dataset: {}. Written by parana {} on {} with {} worker threads.",
        exp.dataset_names().join(", "),
        env!("CARGO_PKG_VERSION"),
        humantime::format_rfc3339_seconds(std::time::SystemTime::now()),
        rayon::current_num_threads()
    ));
    let specs: Vec<ModelSpec> = insts.iter().map(|i| i.spec.clone()).collect();
    let c = Ctx {
        exp: &exp,
        specs: &specs,
        models: &models,
        run,
        stages: &stages,
    };
    let groups = evidence::groups(&exp, &insts, &models);
    evidence::findings(&mut d, &exp, &groups, &models);
    model_table(&mut d, &c)?;
    noise(&mut d, &c)?;
    sweeps(&mut d, &c)?;
    heads(&mut d, &c)?;
    best_tables(&mut d, &c)?;
    evidence::replicate_tables(&mut d, &groups)?;
    evidence::transfer_adaptive(&mut d, &groups);
    evidence::pruned_attacks(&mut d, &groups);
    evidence::datasets(&mut d, &exp, &groups);
    attacks(&mut d, &c)?;
    masking::section(&mut d, &models);
    sparse(&mut d, &c)?;
    stage_times(&mut d, &c)?;
    versions(&mut d, &c)?;
    Ok((d, title))
}

impl Ctx<'_> {
    /// The best-table threshold of a model with a sweep.
    fn threshold(&self, m: &ModelOutputs) -> Option<best::Threshold> {
        m.sweep
            .as_ref()
            .map(|r| best::threshold(&self.exp.report, &r.file.settings, &r.rows))
    }
}

/// What every section reads.
struct Ctx<'a> {
    exp: &'a Experiment,
    /// The settings of the model instances, parallel to `models`.
    specs: &'a [ModelSpec],
    models: &'a [ModelOutputs],
    run: &'a Path,
    stages: &'a StagesFile,
}

/// A seed of `[noise]`, `[sweep]`, `[per-layer]` or `[attacks]` as the run
/// used it: a replicate `M-sK` uses K instead (`config::Instance`), so a
/// study with replicates must not print the section's own value alone.
fn seed_text(exp: &Experiment, seed: u64) -> String {
    let insts = exp.instances();
    let replicated = insts.iter().filter(|i| i.replicate.is_some()).count();
    if replicated == 0 {
        seed.to_string()
    } else if replicated == insts.len() {
        "each replicate's own (K for M-sK)".to_string()
    } else {
        format!("{seed}, and K for each replicate M-sK")
    }
}

/// The training settings of a model, with its decay and what selection
/// on held-out training images chose.
fn training_cell(
    spec: &crate::experiment::config::ModelSpec,
    t: Option<&crate::experiment::work::TrainRecord>,
) -> String {
    let mut s = format!(
        "{} steps, batch {}, lr {}, l2 {}, seed {}",
        spec.steps, spec.batch, spec.lr, spec.l2, spec.seed
    );
    if !spec.lr_decay.is_off() {
        s += &format!(
            ", {} decay from {}%",
            spec.lr_decay.name(),
            spec.decay_from * 100.0
        );
    }
    if let Some(sel) = t.and_then(|t| t.selection.as_ref()) {
        s += &format!(
            "; kept step {} (best of checks every {} on {} held-out training images, {}; last step: {} clean)",
            sel.selected_step,
            sel.select_every,
            sel.val_images,
            f4(sel.val_accuracy),
            f4(sel.final_test_accuracy)
        );
    }
    s
}

/// The models: architecture, head, training settings, clean accuracy.
fn model_table(d: &mut Doc, c: &Ctx) -> Result<()> {
    let models = c.models;
    d.h(2, "Models");
    let mut rows = Vec::new();
    for (m, spec) in models.iter().zip(c.specs) {
        let t = m.train.as_ref();
        rows.push(vec![
            m.name.clone(),
            t.map(|t| t.arch.clone()).unwrap_or_else(|| "-".into()),
            spec.head.clone(),
            t.map(|t| t.params.to_string()).unwrap_or_default(),
            training_cell(spec, t),
            t.map(|t| f4(t.test_accuracy)).unwrap_or_else(|| "-".into()),
            t.map(|t| format!("{:.0}", t.seconds)).unwrap_or_default(),
        ]);
    }
    d.table(
        [
            "model",
            "architecture",
            "head",
            "parameters",
            "training (Adam)",
            "clean accuracy",
            "train s",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    );
    Ok(())
}

/// The noise images and robustness of each model, and the unpruned models side by side.
fn noise(d: &mut Doc, c: &Ctx) -> Result<()> {
    let exp = c.exp;
    let models = c.models;
    if models.iter().any(|m| m.suite.is_some()) {
        d.h(2, "Universal noise");
        if let Some(n) = &exp.noise {
            d.p(format!(
                "One universal targeted noise per (target, limit), trained against each model: {} {} steps of {} images, lr {}, seed {}. Red adds brightness, blue removes it; full colour is the limit. Detection: how well the gap between the two largest outputs tells noisy from clean test images (ROC AUC; share caught at the threshold keeping 95% of clean images).",
                n.steps,
                n.optimizer,
                n.batch,
                n.configs()?.first().map(|c| c.lr).unwrap_or(0.0),
                seed_text(exp, n.seed)
            ));
        }
        for m in models {
            let Some(s) = &m.suite else { continue };
            d.h(3, format!("Noise against {}", m.name));
            d.figure(
                format!("Noise trained against {}", m.name),
                figures::noises_svg(&m.noises),
                format!("noise-{}.svg", m.name),
            );
            d.table(
                [
                    "noise (class / limit)",
                    "accuracy",
                    "fooling rate",
                    "detection AUC",
                    "caught at 95%",
                ]
                .map(String::from)
                .to_vec(),
                s.noises
                    .iter()
                    .map(|n| {
                        vec![
                            format!("{} / {}", n.target, n.limit),
                            f4(n.accuracy),
                            f4(n.fooling_rate),
                            format!("{:.3}", n.detection_auc),
                            format!("{:.3}", n.detection_caught_at_95),
                        ]
                    })
                    .collect(),
            );
        }
        // Robustness side by side.
        let with: Vec<&ModelOutputs> = models.iter().filter(|m| m.suite.is_some()).collect();
        if with.len() > 1 {
            d.h(3, "Robustness of the unpruned models");
            let mut header = vec!["noise (class / limit)".to_string()];
            header.extend(with.iter().map(|m| format!("{} accuracy", m.name)));
            let first = with[0]
                .suite
                .as_ref()
                .map(|s| s.noises.clone())
                .unwrap_or_default();
            let mut rows = vec![];
            let mut clean = vec!["clean".to_string()];
            clean.extend(with.iter().map(|m| {
                m.suite
                    .as_ref()
                    .map(|s| f4(s.clean_accuracy))
                    .unwrap_or_default()
            }));
            rows.push(clean);
            for n in &first {
                let mut r = vec![format!("{} / {}", n.target, n.limit)];
                for m in &with {
                    let v = m.suite.as_ref().and_then(|s| {
                        s.noises
                            .iter()
                            .find(|x| x.target == n.target && x.limit == n.limit)
                    });
                    r.push(v.map(|x| f4(x.accuracy)).unwrap_or_else(|| "-".into()));
                }
                rows.push(r);
            }
            d.table(header, rows);
        }
    }
    Ok(())
}

/// The whole-net and per-layer sweep panels.
fn sweeps(d: &mut Doc, c: &Ctx) -> Result<()> {
    let exp = c.exp;
    let models = c.models;
    if models.iter().any(|m| m.sweep.is_some()) {
        d.h(2, "Pruning sweeps");
        if let Some(s) = &exp.sweep {
            d.p(format!(
                "Each model pruned afresh at every ratio {} with {} ({} scope; act scores over {} {} images, seed {}); accuracy on the {} and under each noise.",
                s.ratios,
                s.methods.join(", "),
                s.scope,
                s.score_images,
                s.score_data,
                seed_text(exp, s.seed),
                match s.images {
                    Some(n) => format!("first {n} clean test images"),
                    None => "clean test images".into(),
                }
            ));
        }
        for m in models {
            let Some(r) = &m.sweep else { continue };
            let svg = plot::svg(&r.file.settings, &r.rows)?;
            d.figure(
                format!("Sweep of {}: accuracy against % pruned", m.name),
                svg,
                format!("sweep-{}.svg", m.name),
            );
        }
    }
    if models.iter().any(|m| m.per_layer.is_some()) {
        d.h(2, "Per-layer sweeps");
        d.p("One layer pruned at a time, the others left whole.");
        for m in models {
            let Some(r) = &m.per_layer else { continue };
            let svg = plot::svg(&r.file.settings, &r.rows)?;
            d.figure(
                format!("Per-layer sweeps of {}", m.name),
                svg,
                format!("per-layer-{}.svg", m.name),
            );
        }
    }
    Ok(())
}

/// `lq` against `sce`: how far each prunes and how robust each is.
fn heads(d: &mut Doc, c: &Ctx) -> Result<()> {
    let models = c.models;
    let swept: Vec<(&ModelOutputs, &ModelSpec, f64)> = models
        .iter()
        .zip(c.specs)
        .filter_map(|(m, s)| Some((m, s, c.threshold(m)?.value)))
        .collect();
    let heads: std::collections::BTreeSet<&str> =
        swept.iter().map(|(_, s, _)| s.head.as_str()).collect();
    if heads.len() > 1 {
        d.h(2, "Cost functions compared (lq against sce)");
        d.p("Resilience to pruning: the largest share pruned up to which clean accuracy stays at or above the model's threshold (that of its best table) at every ratio; a best ratio can lie beyond it, where clean accuracy dips under the threshold and comes back. Robustness: mean accuracy under the noises, unpruned and at the best ratio of the best table.");
        let mut rows = Vec::new();
        for (m, spec, min_clean) in &swept {
            let Some(r) = &m.sweep else { continue };
            let t = best::table(&r.file.settings, &r.rows, *min_clean);
            let unpruned = t.first().and_then(|b| b.row.as_ref()).map(|r| r.mean_noisy);
            for b in t.iter().skip(1) {
                rows.push(vec![
                    m.name.clone(),
                    spec.head.clone(),
                    f4(*min_clean),
                    b.method.clone(),
                    {
                        let v = resilience(r, &b.method, *min_clean);
                        if v.is_nan() {
                            "-".into()
                        } else {
                            format!("{v:.0}%")
                        }
                    },
                    unpruned.map(f4).unwrap_or_default(),
                    b.row
                        .as_ref()
                        .map(|x| format!("{} at {}", f4(x.mean_noisy), pct(&x.ratio)))
                        .unwrap_or_else(|| "-".into()),
                ]);
            }
        }
        d.table(
            [
                "model",
                "head",
                "min clean",
                "method",
                "prunable at >= min clean",
                "mean noisy, unpruned",
                "best mean noisy",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        );
        d.p(verdict(&swept));
    }
    Ok(())
}

/// The best table of each model, the article's trend, and the article's own table.
fn best_tables(d: &mut Doc, c: &Ctx) -> Result<()> {
    let exp = c.exp;
    let models = c.models;
    if models.iter().any(|m| m.sweep.is_some()) {
        d.h(2, "Best performance");
        d.p(match exp.report.min_clean_drop {
            Some(drop) => format!("Per method, the ratio with the highest mean accuracy under the noises among those keeping clean accuracy within {drop} of the unpruned model's (ties to the smaller ratio), beside the unpruned model."),
            None => format!("Per method, the ratio with the highest mean accuracy under the noises among those keeping clean accuracy >= {} (ties to the smaller ratio), beside the unpruned model. Where no ratio of any method keeps it, the threshold falls back to the unpruned accuracy less {}, as said under the table.", exp.report.min_clean, best::FALLBACK_DROP),
        });
        for m in models {
            let (Some(r), Some(t)) = (&m.sweep, c.threshold(m)) else {
                continue;
            };
            d.h(3, format!("{} ({})", m.name, r.file.settings.arch));
            let mut header = vec!["method".to_string(), "pruned".into(), "clean".into()];
            header.extend(r.file.settings.noises.iter().map(|n| n.name.clone()));
            header.push("mean noisy".into());
            d.table(header, best_rows(r, t.value));
            if t.rule != best::Rule::Absolute {
                d.p(format!("Clean accuracy {}.", t.describe()));
            }
            d.p(trend(r, t.value));
        }
        if exp.report.article_table {
            d.h(3, "The article's table (reference)");
            d.p(format!("Quoted from {}.", article::SOURCE));
            let mut header = vec!["pruning".to_string(), "clean".into()];
            header.extend(
                article::NOISES
                    .iter()
                    .map(|(t, l)| format!("class{t}-limit{l}")),
            );
            header.push("mean noisy".into());
            let rows = article::TABLE
                .iter()
                .map(|l| {
                    let mut v = vec![l.pruning.to_string(), f4(l.clean)];
                    v.extend(l.noisy.iter().map(|&x| f4(x)));
                    v.push(f4(l.mean_noisy()));
                    v
                })
                .collect();
            d.table(header, rows);
        }
    }
    Ok(())
}

/// FGSM/PGD robust accuracy.
fn attacks(d: &mut Doc, c: &Ctx) -> Result<()> {
    let models = c.models;
    if models.iter().any(|m| m.attacks.is_some()) {
        d.h(2, "FGSM and PGD");
        d.p("Robust accuracy under per-example L-inf attacks (untargeted, softmax cross-entropy on the raw outputs).");
        let mut rows = Vec::new();
        for m in models {
            let Some(a) = &m.attacks else { continue };
            rows.push(vec![
                m.name.clone(),
                "none (clean)".into(),
                "-".into(),
                f4(a.clean_accuracy),
                "-".into(),
                "-".into(),
            ]);
            for e in &a.attacks {
                rows.push(vec![
                    m.name.clone(),
                    e.attack.clone(),
                    e.images.to_string(),
                    masking::figure(e.robust_accuracy, m.checks.as_ref()),
                    f4(e.success_rate),
                    format!("{:.2}", e.seconds),
                ]);
            }
        }
        d.table(
            [
                "model",
                "attack",
                "images",
                "accuracy",
                "success rate",
                "seconds",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        );
    }
    Ok(())
}

/// Sparse engine speed-ups.
fn sparse(d: &mut Doc, c: &Ctx) -> Result<()> {
    let run = c.run;
    let sparse: Option<Vec<serde_json::Value>> = opt_json(&run.join("sparse").join("sparse.json"))?;
    if let Some(recs) = sparse {
        d.h(2, "Sparse engine");
        d.p("The sparse CPU engine against the dense path, end to end, on networks pruned by magnitude (CNNs decoupled, their matrices pruned among the present taps; dense = the unpruned network; median milliseconds per forward pass; `auto` picks dense or sparse per layer by density, as `parana eval` does).");
        let g = |v: &serde_json::Value, k: &str| {
            v[k].as_f64()
                .map(|x| format!("{x:.3}"))
                .unwrap_or_else(|| "-".into())
        };
        let rows = recs
            .iter()
            .filter(|r| r["layer"] == "all")
            .map(|r| {
                vec![
                    r["model"].as_str().unwrap_or("").to_string(),
                    format!("{:.0}%", r["sparsity"].as_f64().unwrap_or(0.0) * 100.0),
                    r["batch"].to_string(),
                    g(r, "dense_ms"),
                    g(r, "sparse_ms"),
                    g(r, "auto_ms"),
                    format!("{:.2}x", r["speedup"].as_f64().unwrap_or(f64::NAN)),
                    format!("{:.2}x", r["ideal_speedup"].as_f64().unwrap_or(f64::NAN)),
                ]
            })
            .collect();
        d.table(
            [
                "model",
                "pruned",
                "batch",
                "dense ms",
                "sparse ms",
                "auto ms",
                "speed-up",
                "ideal",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        );
    }
    Ok(())
}

/// The state, run time and key of every stage.
fn stage_times(d: &mut Doc, c: &Ctx) -> Result<()> {
    let stages = c.stages;
    d.h(2, "Stages and run time");
    let mut recs: Vec<_> = stages.stages.iter().collect();
    recs.sort_by_key(|(_, r)| r.order);
    let total: f64 = recs.iter().map(|(_, r)| r.seconds).sum();
    let mut rows: Vec<Vec<String>> = recs
        .iter()
        .map(|(id, r)| {
            let state = match (r.done, id.as_str()) {
                (true, _) if r.runs > 1 => {
                    format!("done (resumed; time of the last of {} runs)", r.runs)
                }
                (true, _) => "done".into(),
                (false, "report") => "writing this report".into(),
                (false, _) => "not finished".into(),
            };
            vec![
                id.to_string(),
                state,
                format!("{:.1}", r.seconds),
                r.finished.clone().unwrap_or_default(),
                r.key[..12.min(r.key.len())].to_string(),
            ]
        })
        .collect();
    rows.push(vec![
        "total (finished stages)".into(),
        String::new(),
        format!("{total:.1}"),
        String::new(),
        String::new(),
    ]);
    d.table(
        ["stage", "state", "seconds", "finished", "key"]
            .map(String::from)
            .to_vec(),
        rows,
    );
    d.p("Seconds are those of each stage's last run (a resumed stage counts only the part after the resume); a cached stage keeps the time it took when it ran.");
    Ok(())
}

/// The parana version and every seed.
fn versions(d: &mut Doc, c: &Ctx) -> Result<()> {
    let exp = c.exp;
    d.h(2, "Versions and seeds");
    let mut rows = vec![vec![
        "parana".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    ]];
    for m in c.specs {
        rows.push(vec![format!("model {} seed", m.name), m.seed.to_string()]);
    }
    if let Some(n) = &exp.noise {
        rows.push(vec!["noise seed".into(), seed_text(exp, n.seed)]);
    }
    for (k, s) in [("sweep", &exp.sweep), ("per-layer", &exp.per_layer)] {
        if let Some(s) = s {
            rows.push(vec![
                format!("{k} score-image seed"),
                seed_text(exp, s.seed),
            ]);
        }
    }
    if let Some(a) = &exp.attacks {
        rows.push(vec!["PGD seed".into(), seed_text(exp, a.seed)]);
    }
    d.table(vec!["what".into(), "value".into()], rows);
    Ok(())
}
