//! The report's evidence sections: "Findings" at the top (sentences from
//! [`super::findings`]), the best tables over seeds with 95% confidence
//! intervals and bands ([`super::replicates`], [`super::band_plot`]), and
//! the datasets side by side.

use super::best;
use super::doc::Doc;
use super::outputs::ModelOutputs;
use super::replicates::{self, Group, Replicate, merge_random};
use crate::error::Result;
use crate::experiment::config::{Experiment, Instance};

/// The model instances with a whole-net sweep, grouped by dataset and
/// `[[model]]` (a group's replicates are its seeds), in experiment order.
pub(super) fn groups(exp: &Experiment, insts: &[Instance], models: &[ModelOutputs]) -> Vec<Group> {
    let mut out: Vec<Group> = Vec::new();
    for (inst, m) in insts.iter().zip(models) {
        let Some(run) = &m.sweep else { continue };
        let (settings, rows, random_masks) = merge_random(&run.file.settings, &run.rows);
        let threshold = best::threshold(&exp.report, &settings, &rows);
        let per_layer = m.per_layer.as_ref().map(|p| {
            let (s, r, _) = merge_random(&p.file.settings, &p.rows);
            (s, r)
        });
        let rep = Replicate {
            name: inst.spec.name.clone(),
            seed: inst.replicate,
            settings,
            rows,
            random_masks,
            threshold,
            per_layer,
            adaptive: m.adaptive.clone(),
        };
        match out
            .iter_mut()
            .find(|g| g.dataset == inst.dataset && g.model == inst.base_name)
        {
            Some(g) => g.replicates.push(rep),
            None => out.push(Group {
                dataset: inst.dataset.clone(),
                model: inst.base_name.clone(),
                head: inst.spec.head.clone(),
                replicates: vec![rep],
            }),
        }
    }
    out
}

/// "Findings": per dataset, per model, the sentences the numbers support.
pub(super) fn findings(d: &mut Doc, exp: &Experiment, groups: &[Group], models: &[ModelOutputs]) {
    if groups.is_empty() {
        return;
    }
    d.h(2, "Findings");
    // Seeds and intervals are named only where a model has replicates.
    let seeds = groups.iter().any(|g| g.replicates.len() > 1);
    d.p(format!(
        "Written from the numbers below by the rules of docs/pipeline.md (\"Findings\"): each method at its best ratio (highest mean accuracy under the noises at the clean-accuracy threshold{}), against the unpruned model; a lift counts at 10 points{}.",
        if seeds { ", chosen per seed" } else { "" },
        if seeds {
            "; intervals are 95% Student t over seeds"
        } else {
            "; one seed, so no intervals (list `seeds` on a [[model]] for them)"
        }
    ));
    let datasets = exp.dataset_names();
    let across = super::findings::across(groups);
    if datasets.len() > 1 && !across.is_empty() {
        d.h(3, "Across datasets");
        d.list(across);
    }
    for ds in &datasets {
        let gs: Vec<&Group> = groups.iter().filter(|g| &g.dataset == ds).collect();
        if gs.is_empty() {
            continue;
        }
        if datasets.len() > 1 {
            d.h(3, format!("On {ds}"));
        }
        for g in gs {
            d.list(super::findings::group(g));
        }
    }
    let masked = super::masking::findings(models);
    if !masked.is_empty() {
        d.p("Gradient-masking checks that failed on pruned networks (see \"Gradient-masking checks\"):");
        d.list(masked);
    }
}

/// Best tables over seeds, the raised-noise counts and the band plots of
/// every model with more than one replicate.
pub(super) fn replicate_tables(d: &mut Doc, groups: &[Group]) -> Result<()> {
    let multi: Vec<&Group> = groups.iter().filter(|g| g.replicates.len() > 1).collect();
    if multi.is_empty() {
        return Ok(());
    }
    d.h(2, "Over seeds: means and 95% confidence intervals");
    d.p("Each replicate's best ratio is chosen on its own sweep by the best table's rule; cells give the mean over the replicates ± half the width of the 95% confidence interval (Student t, n - 1 degrees of freedom). \"seeds\" counts the replicates that have a ratio at the threshold. Random pruning is the mean over its mask seeds; besides its own best ratio it is shown at each other method's ratio in each replicate (\"random at M's ratio\", whatever its clean accuracy there): the control at the same number of weights removed.");
    for g in multi {
        let names: Vec<&str> = g.replicates.iter().map(|r| r.name.as_str()).collect();
        d.h(
            3,
            format!("{} on {} ({})", g.model, g.dataset, names.join(", ")),
        );
        let (h, rows) = replicates::best_table(g);
        d.table(h, rows);
        d.p("Seeds in which the best ratio raises accuracy by >= 10 points over the unpruned model, per noise, and the mean lift of the mean noisy accuracy:");
        let (h, rows) = replicates::raised_table(g);
        d.table(h, rows);
        d.figure(
            format!(
                "{} on {}: mean over {} seeds with 95% bands",
                g.model,
                g.dataset,
                g.replicates.len()
            ),
            super::band_plot::svg(g)?,
            format!("bands-{}-{}.svg", g.model, g.dataset),
        );
    }
    Ok(())
}

/// Per model with an adaptive stage: the best table under transferred and
/// under retrained noise.
pub(super) fn transfer_adaptive(d: &mut Doc, groups: &[Group]) {
    let with: Vec<&Group> = groups.iter().filter(|g| g.has_adaptive()).collect();
    if with.is_empty() {
        return;
    }
    d.h(2, "Transferred and adaptive noise");
    d.p("Each method at its best ratio (per seed), under the noises trained against the unpruned model (T, transferred) and under the same recipes retrained against the pruned network itself (A, adaptive); the unpruned model's adaptive noises are its own. Per noise the cell gives the means over seeds; the last columns give the mean over the noises ± half the 95% interval, and \"worst\" takes per noise the lower of T and A (the stronger attack). Random pruning is the mean over the mask seeds `[adaptive]` lists (its `methods`).");
    for g in with {
        d.h(3, format!("{} on {}", g.model, g.dataset));
        let (h, rows) = replicates::transfer_adaptive_table(g);
        d.table(h, rows);
    }
}

/// Per-example attacks (FGSM, PGD, APGD, AutoAttack, … of `[attacks]`) on
/// the pruned networks of the adaptive stage.
pub(super) fn pruned_attacks(d: &mut Doc, groups: &[Group]) {
    let tables: Vec<(&Group, replicates::Table)> = groups
        .iter()
        .filter_map(|g| Some((g, replicates::attack_table(g)?)))
        .collect();
    if tables.is_empty() {
        return;
    }
    d.h(2, "Per-example attacks on the pruned networks");
    d.p("Robust accuracy under the `[attacks]` of the experiment, aimed at each pruned network itself: the unpruned model, each method at its best ratio (chosen per seed) and the ratios of the adaptive stage's grid; mean over seeds ± half the 95% interval.");
    for (g, (h, rows)) in tables {
        d.h(3, format!("{} on {}", g.model, g.dataset));
        d.table(h, rows);
    }
}

/// The same models on each dataset, side by side.
pub(super) fn datasets(d: &mut Doc, exp: &Experiment, groups: &[Group]) {
    let names = exp.dataset_names();
    if names.len() < 2 {
        return;
    }
    d.h(2, "Datasets compared");
    d.p("Per model and method: the unpruned clean accuracy, the mean best ratio and the mean lift of the mean noisy accuracy at it (points, 95% interval over seeds), on each dataset. Thresholds are per dataset as the best tables say.");
    let mut header = vec!["model".to_string(), "method".into()];
    for n in &names {
        header.push(format!("{n}: clean unpruned"));
        header.push(format!("{n}: best ratio"));
        header.push(format!("{n}: lift"));
    }
    let mut rows = Vec::new();
    let mut models: Vec<&str> = groups.iter().map(|g| g.model.as_str()).collect();
    models.dedup();
    for m in models {
        let of = |ds: &str| groups.iter().find(|g| g.model == m && g.dataset == ds);
        let Some(first) = names.iter().find_map(|n| of(n)) else {
            continue;
        };
        for method in first.methods() {
            let mut r = vec![m.to_string(), method.clone()];
            for n in &names {
                match of(n) {
                    Some(g) => {
                        let z = g.summary("none");
                        let s = g.summary(&method);
                        r.push(z.clean.f4());
                        r.push(if s.found == 0 {
                            "-".into()
                        } else {
                            format!("{:.0}%", s.ratio.mean * 100.0)
                        });
                        r.push(if s.found == 0 {
                            "-".into()
                        } else {
                            s.lift.points()
                        });
                    }
                    None => r.extend(["-".to_string(), "-".into(), "-".into()]),
                }
            }
            rows.push(r);
        }
    }
    d.table(header, rows);
}
