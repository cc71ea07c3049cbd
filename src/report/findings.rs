//! The report's "Findings": sentences written from the numbers by fixed
//! rules (docs/pipeline.md, "Findings"), one paragraph per model and
//! dataset, so a reader gets the conclusions and sees where the article's
//! claim holds and where it does not.
//!
//! For each method at its best ratio (chosen per replicate by the best
//! table's rule), over the replicates (seeds):
//! 1. **Transfer**: under how many noises the mean lift over the unpruned
//!    model is at least 10 points, in how many seeds each of them is, and
//!    the mean lift of the mean noisy accuracy with its 95% interval; the
//!    claim *holds* when that interval lies above zero and the lift is a
//!    point or more (one seed: a lift of at least 10 points under half the
//!    noises or more), else it *does not hold*.
//! 2. **Adaptive**: the same count and lift against noises retrained on the
//!    pruned network (the unpruned model's own noises as baseline), and
//!    against the stronger of the two per noise (the worst case); when the
//!    worst-case lift is under half the transferred one, the gain is said
//!    to be mostly one of transfer; when the retrained noise is weaker than
//!    the transferred one (by a point or more) under most noises, that is
//!    said too.
//!    With per-example attacks in the adaptive stage, the strongest of
//!    them on the unpruned model, and the paired change of its robust
//!    accuracy at the same points.
//! 3. **Random control**: random pruning (masks averaged) at the same ratio
//!    in each replicate; the method's lift is *specific* when its paired
//!    excess over random lies above zero (interval; one seed: >= 5 points).
//! 4. **Input filter**: `act-inputs` (pixels pruned by summed act score)
//!    against `act`: the share of act's lift that pruning pixels alone gives.
//! 5. **Attribution**: from the per-layer sweeps, the share of the
//!    whole-net lift that pruning each layer alone gives at its own best
//!    ratio.
//! 6. **Across datasets** ([`across`]): each model's rule-1 verdicts on
//!    every dataset side by side, and whether the finding carries over.

use super::replicates::{AdaptivePoint, Group, LIFT, ratio_of};
use super::stats::{Summary, summarize};
use crate::experiment::sweep::Row;

/// A lift of a method over random pruning that counts as specific for one
/// seed (no interval): 5 points.
pub const SPECIFIC: f64 = 0.05;

/// The smallest change over seeds a sentence calls a gain or a loss: a
/// point. Seeds that agree closely give intervals above zero around tenths
/// of a point (two replicates that each move the same three test images
/// out of a thousand give 0.3 (0.3 to 0.3)), which is no finding.
pub const POINT: f64 = 0.01;

/// A gain over seeds: the 95% interval lies above zero and the mean is at
/// least [`POINT`].
fn gain(s: &Summary) -> bool {
    s.above_zero() && s.mean >= POINT
}

/// A loss over seeds: the 95% interval lies below zero and the mean is at
/// most -[`POINT`].
fn loss(s: &Summary) -> bool {
    s.ci().1 < 0.0 && s.mean <= -POINT
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

fn ratio_phrase(s: &Summary) -> String {
    if s.min == s.max {
        pct(s.mean)
    } else {
        format!(
            "{} (chosen per seed: {}-{})",
            pct(s.mean),
            pct(s.min),
            pct(s.max)
        )
    }
}

/// Per noise, the mean over replicates of `acc(replicate)[k] - base[k]`,
/// and the per-replicate mean over noises of that difference.
fn lifts(pairs: &[(Vec<f64>, Vec<f64>)]) -> (Vec<f64>, Summary, Vec<usize>) {
    let k = pairs.first().map_or(0, |p| p.0.len());
    let n = pairs.len().max(1) as f64;
    let per_noise: Vec<f64> = (0..k)
        .map(|j| pairs.iter().map(|(a, b)| a[j] - b[j]).sum::<f64>() / n)
        .collect();
    let raised: Vec<usize> = (0..k)
        .map(|j| {
            pairs
                .iter()
                .filter(|(a, b)| a[j] - b[j] >= LIFT - 1e-12)
                .count()
        })
        .collect();
    let mean = summarize(
        &pairs
            .iter()
            .map(|(a, b)| a.iter().zip(b).map(|(x, y)| x - y).sum::<f64>() / a.len().max(1) as f64)
            .collect::<Vec<_>>(),
    );
    (per_noise, mean, raised)
}

/// "under N of K noises" and "(each in at least S of n seeds)".
fn count_phrase(per_noise: &[f64], raised: &[usize], n: usize, what: &str) -> (usize, String) {
    let up: Vec<usize> = (0..per_noise.len())
        .filter(|&j| per_noise[j] >= LIFT - 1e-12)
        .collect();
    let k = per_noise.len();
    let text = if up.is_empty() {
        format!("under none of the {k} {what}")
    } else if n > 1 {
        let least = up.iter().map(|&j| raised[j]).min().unwrap_or(0);
        format!(
            "under {} of {k} {what} (on average over {n} seeds; each of them in at least {least} of {n} seeds)",
            up.len()
        )
    } else {
        format!("under {} of {k} {what}", up.len())
    };
    (up.len(), text)
}

/// Whether a lift holds: its interval lies above zero, or with one seed,
/// `count` noises of `k` (at least half) are raised by 10 points.
fn holds(lift: &Summary, count: usize, k: usize) -> bool {
    if lift.n >= 2 {
        gain(lift)
    } else {
        lift.mean > 0.0 && k > 0 && 2 * count >= k
    }
}

/// Per-example attacks aimed at each pruned network (the adaptive stage's
/// `[attacks]`) at `m`'s best ratios, against the unpruned model: the
/// attack that leaves the unpruned model least robust, its robust accuracy
/// on both, and the paired change with its interval. A change counts when
/// its interval lies above (or below) zero; with one seed, at 5 points.
fn attack_sentence(g: &Group, m: &str, pairs: &[(Option<Row>, Option<Row>)]) -> Option<String> {
    let pts: Vec<(&AdaptivePoint, &AdaptivePoint)> = g
        .replicates
        .iter()
        .zip(pairs)
        .filter_map(|(r, (_, b))| {
            let p = r.adaptive_point(m, &b.as_ref()?.ratio)?;
            Some((p, r.adaptive_point("none", "0")?))
        })
        .filter(|(p, z)| !p.attacks.is_empty() && !z.attacks.is_empty())
        .collect();
    let acc = |p: &AdaptivePoint, name: &str| p.attacks.iter().find(|a| a.0 == name).map(|a| a.1);
    let names: Vec<&String> = pts.first()?.1.attacks.iter().map(|a| &a.0).collect();
    let with = |name: &str| -> Vec<(f64, f64)> {
        pts.iter()
            .filter_map(|(p, z)| Some((acc(p, name)?, acc(z, name)?)))
            .collect()
    };
    // The strongest attack on the unpruned model, over the seeds.
    let name = names.into_iter().min_by(|a, b| {
        let mean = |n: &str| {
            let v = with(n);
            v.iter().map(|x| x.1).sum::<f64>() / v.len().max(1) as f64
        };
        mean(a).total_cmp(&mean(b))
    })?;
    let v = with(name);
    if v.is_empty() {
        return None;
    }
    let pruned = summarize(&v.iter().map(|x| x.0).collect::<Vec<_>>());
    let unpruned = summarize(&v.iter().map(|x| x.1).collect::<Vec<_>>());
    let change = summarize(&v.iter().map(|x| x.0 - x.1).collect::<Vec<_>>());
    let (up, down) = if change.n >= 2 {
        (gain(&change), loss(&change))
    } else {
        (change.mean >= SPECIFIC, change.mean <= -SPECIFIC)
    };
    let verdict = if up {
        format!(
            "{m} pruning makes the network more robust to an attack aimed at it, not only to noise made for the unpruned model"
        )
    } else if down {
        format!("{m} pruning makes the network less robust to an attack aimed at it")
    } else {
        format!(
            "no change in robustness to an attack aimed at the network can be told from {m} pruning"
        )
    };
    let seeds = if pts.len() < pairs.len() {
        format!(", {} of {} seeds evaluated", pts.len(), pairs.len())
    } else {
        String::new()
    };
    Some(format!(
        "Against the per-example attack {name}, aimed at each network ({m}, same ratios{seeds}): robust accuracy {} pruned against {} unpruned, a change of {} points: {verdict}.",
        pct1(pruned.mean),
        pct1(unpruned.mean),
        change.points()
    ))
}

fn pct1(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// Rule 1's verdict on the article's claim for one method.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Verdict {
    Holds,
    Weakly,
    Unsettled,
    DoesNot,
}

impl Verdict {
    fn holds(self) -> bool {
        matches!(self, Verdict::Holds | Verdict::Weakly)
    }

    /// The clause of the method's own sentence.
    fn text(self) -> &'static str {
        match self {
            Verdict::Holds => {
                "the article's claim (pruning raises accuracy under the noise) holds here"
            }
            Verdict::Weakly => {
                "the article's claim holds only weakly here (accuracy rises, but by 10 points under fewer than half the noises)"
            }
            Verdict::Unsettled => {
                "whether the article's claim holds is not settled here: the lift's 95% interval spans both zero and 10 points, so the seeds disagree and more of them would decide"
            }
            Verdict::DoesNot => {
                "the article's claim (pruning raises accuracy under the noise) does not hold here"
            }
        }
    }

    /// The verb phrase of the across-datasets sentence.
    fn short(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::Weakly => "holds only weakly",
            Verdict::Unsettled => "is not settled",
            Verdict::DoesNot => "does not hold",
        }
    }
}

/// Rule 1 for one method: its best ratios, the lift of the mean noisy
/// accuracy, the noises raised by 10 points and the verdict.
struct Transfer {
    ratio: Summary,
    lift: Summary,
    phrase: String,
    verdict: Verdict,
}

/// Rule 1 from (unpruned, best) rows of the replicates that have a best
/// ratio; `k` noises.
fn transfer(found: &[(&Row, &Row)], k: usize) -> Transfer {
    let ratio = summarize(&found.iter().map(|(_, b)| ratio_of(b)).collect::<Vec<_>>());
    let tr: Vec<(Vec<f64>, Vec<f64>)> = found
        .iter()
        .map(|(z, b)| (b.noisy.clone(), z.noisy.clone()))
        .collect();
    let (per_noise, lift, raised) = lifts(&tr);
    let (count, phrase) = count_phrase(&per_noise, &raised, found.len(), "transferred noises");
    let verdict = match (holds(&lift, count, k), 2 * count >= k) {
        (true, true) => Verdict::Holds,
        (true, false) => Verdict::Weakly,
        (false, _) if lift.n >= 2 && lift.ci().1 >= LIFT => Verdict::Unsettled,
        (false, _) => Verdict::DoesNot,
    };
    Transfer {
        ratio,
        lift,
        phrase,
        verdict,
    }
}

/// The replicates of `g` that have a best ratio for `m`, paired with their
/// unpruned rows.
fn found(pairs: &[(Option<Row>, Option<Row>)]) -> Vec<(&Row, &Row)> {
    pairs
        .iter()
        .filter_map(|(z, b)| Some((z.as_ref()?, b.as_ref()?)))
        .collect()
}

/// Rule 6, across datasets: for each model run on more than one dataset
/// and each of its methods (random aside), rule 1's verdict on every
/// dataset side by side, with the best ratio and the mean lift, so a
/// reader sees at once whether a finding carries over. `groups` in the
/// order of the experiment's datasets.
pub fn across(groups: &[Group]) -> Vec<String> {
    let mut out = Vec::new();
    let mut models: Vec<&str> = Vec::new();
    for g in groups {
        if !models.contains(&g.model.as_str()) {
            models.push(&g.model);
        }
    }
    for model in models {
        let gs: Vec<&Group> = groups.iter().filter(|g| g.model == model).collect();
        if gs.len() < 2 {
            continue;
        }
        for m in gs[0].methods().into_iter().filter(|m| m != "random") {
            let parts: Vec<(Option<Verdict>, String)> = gs
                .iter()
                .map(|g| {
                    let pairs = g.best_pairs(&m);
                    let found = found(&pairs);
                    let n = g.replicates.len();
                    let seeds = format!("{n} seed{}", if n == 1 { "" } else { "s" });
                    if found.is_empty() {
                        return (
                            None,
                            format!(
                                "cannot be judged on {} (no ratio at the clean-accuracy threshold, {seeds})",
                                g.dataset
                            ),
                        );
                    }
                    let t = transfer(&found, g.noise_names().len());
                    (
                        Some(t.verdict),
                        format!(
                            "{} on {} (at {}, mean lift {} points, {seeds})",
                            t.verdict.short(),
                            g.dataset,
                            ratio_phrase(&t.ratio),
                            t.lift.points()
                        ),
                    )
                })
                .collect();
            let same = parts.windows(2).all(|w| w[0].0 == w[1].0);
            let texts: Vec<&str> = parts.iter().map(|p| p.1.as_str()).collect();
            let (head, last) = texts.split_at(texts.len() - 1);
            // The finding does not carry over when it holds (if weakly) on
            // one dataset and does not hold on another, every verdict
            // settled; an unsettled or unjudged one says nothing of it.
            let settled = parts
                .iter()
                .all(|p| p.0.is_some_and(|v| v != Verdict::Unsettled));
            let split = parts.iter().any(|p| p.0.is_some_and(Verdict::holds))
                && parts.iter().any(|p| p.0 == Some(Verdict::DoesNot));
            let carry = match (split, settled, gs.len()) {
                (true, true, 2) => {
                    ": the finding does not carry over from one dataset to the other"
                }
                (true, true, _) => ": the finding does not carry over across the datasets",
                _ => "",
            };
            out.push(format!(
                "{model}, {m}: the article's claim {} {} {}{carry}.",
                head.join(", "),
                if same { "and" } else { "but" },
                last[0]
            ));
        }
    }
    out
}

/// The findings of one group: its sentences.
pub fn group(g: &Group) -> Vec<String> {
    let mut out = Vec::new();
    let n = g.replicates.len();
    let k = g.noise_names().len();
    let seeds = if n > 1 {
        format!(" ({n} seeds)")
    } else {
        String::new()
    };
    let methods: Vec<String> = g.methods().into_iter().filter(|m| m != "random").collect();
    let has_random = g.methods().iter().any(|m| m == "random");
    let mut act_lift: Option<(f64, bool)> = None;
    // Random pruning at its own best ratio (the same clean-accuracy rule):
    // the fair control when random masks at a method's ratio cost clean
    // accuracy the method keeps.
    let random_best = has_random.then(|| {
        let pairs = g.best_pairs("random");
        let found = found(&pairs);
        if found.is_empty() {
            return "; random pruning has no ratio at the clean-accuracy threshold".to_string();
        }
        let ratio = summarize(&found.iter().map(|(_, b)| ratio_of(b)).collect::<Vec<_>>());
        if ratio.max == 0.0 {
            return "; under the same clean-accuracy rule random pruning's best ratio is 0%: no random mask that keeps clean accuracy at the threshold raises accuracy under the noises"
                .to_string();
        }
        let lift = summarize(
            &found
                .iter()
                .map(|(z, b)| b.mean_noisy - z.mean_noisy)
                .collect::<Vec<_>>(),
        );
        format!(
            "; at its own best ratio under the same clean-accuracy rule, {}, random pruning lifts by {} points",
            ratio_phrase(&ratio),
            lift.points()
        )
    });
    let mut inputs_lift: Option<f64> = None;
    for m in &methods {
        let pairs = g.best_pairs(m);
        let found = found(&pairs);
        if found.is_empty() {
            out.push(format!(
                "{}{seeds}, {m}: no ratio keeps clean accuracy at or above the threshold, so there is no best ratio to judge.",
                g.model
            ));
            continue;
        }
        let Transfer {
            ratio,
            lift,
            phrase,
            verdict,
        } = transfer(&found, k);
        let lift_holds = verdict.holds();
        let verdict = verdict.text();
        let missing = if found.len() < n {
            format!(
                " ({} of {n} seeds have a ratio at the threshold)",
                found.len()
            )
        } else {
            String::new()
        };
        out.push(format!(
            "{}{seeds}: {m} at {} raises accuracy by >= 10 points {phrase}{missing}; mean lift {} points: {verdict}.",
            g.model,
            ratio_phrase(&ratio),
            lift.points()
        ));
        if m == "act" {
            act_lift = Some((lift.mean, lift_holds));
        }
        if m == "act-inputs" {
            inputs_lift = Some(lift.mean);
        }
        // Adaptive noise at the same points, and the stronger of the two.
        // The baseline is the adaptive stage's own unpruned point, so every
        // figure of the sentence comes from the same images (a sweep may
        // use fewer test images than the adaptive stage).
        let pts: Vec<(AdaptivePoint, Vec<f64>)> = g
            .replicates
            .iter()
            .zip(&pairs)
            .filter_map(|(r, (_, b))| {
                let p = r.adaptive_point(m, &b.as_ref()?.ratio)?;
                let z = r.adaptive_point("none", "0")?;
                Some((p.clone(), z.transfer.clone()))
            })
            .collect();
        if !pts.is_empty() {
            let ad: Vec<(Vec<f64>, Vec<f64>)> = pts
                .iter()
                .map(|(p, z)| (p.adaptive.clone(), z.clone()))
                .collect();
            let worst: Vec<(Vec<f64>, Vec<f64>)> =
                pts.iter().map(|(p, z)| (p.worst(), z.clone())).collect();
            let same: Vec<(Vec<f64>, Vec<f64>)> = pts
                .iter()
                .map(|(p, z)| (p.transfer.clone(), z.clone()))
                .collect();
            let (_, tlift, _) = lifts(&same);
            let (pn, alift, araised) = lifts(&ad);
            let (_, aphrase) = count_phrase(
                &pn,
                &araised,
                ad.len(),
                "noises retrained on the pruned network",
            );
            let (wn, wlift, wraised) = lifts(&worst);
            let (_, wphrase) = count_phrase(&wn, &wraised, worst.len(), "noises");
            // Per noise (means over seeds), is the retrained noise weaker by
            // a point or more? Retraining with another start moves accuracy
            // by tenths of a point either way, which says nothing.
            let n = pts.len() as f64;
            let weaker = (0..k)
                .filter(|&j| {
                    let t: f64 = pts.iter().map(|(p, _)| p.transfer[j]).sum();
                    let a: f64 = pts.iter().map(|(p, _)| p.adaptive[j]).sum();
                    (a - t) / n >= POINT
                })
                .count();
            // Only a lift there was can be gone (at least a point) or
            // survive (one that holds by rule 1).
            let tail = if wlift.mean < tlift.mean / 2.0 && tlift.mean >= POINT {
                ": most of the transferred lift is gone against an attack aimed at the pruned network, so it was mostly a failure of the noise to transfer, not robustness"
            } else if lift_holds && wlift.mean > 0.0 && holds(&wlift, 1, 1) {
                ": the lift survives the stronger of the two attacks"
            } else {
                ""
            };
            let weak = if 2 * weaker > k {
                format!(
                    " The retrained noise is weaker than the transferred one by a point or more under {weaker} of {k} noises: the same recipe finds no stronger noise for the pruned network, so the adaptive figure alone overstates robustness and the worst case is the one to read."
                )
            } else {
                String::new()
            };
            out.push(format!(
                "Against noises retrained on the pruned network ({m}, same ratios{}), accuracy rises by >= 10 points {aphrase}, mean lift {} points; taking per noise the stronger of the transferred and the retrained noise, {wphrase}, mean lift {} points, against {} points for the transferred noise on the same images{tail}.{weak}",
                if ad.len() < found.len() {
                    format!(", {} of {} seeds evaluated", ad.len(), found.len())
                } else {
                    String::new()
                },
                alift.points(),
                wlift.points(),
                tlift.points()
            ));
        }
        if let Some(sentence) = attack_sentence(g, m, &pairs) {
            out.push(sentence);
        }
        // Random pruning at the same ratios (of weights: pixel pruning's
        // ratio is a share of pixels, so random weight masks are no control).
        if has_random && super::replicates::has_random_control(m) {
            let ratios: Vec<Option<String>> = pairs
                .iter()
                .map(|(_, b)| b.as_ref().map(|b| b.ratio.clone()))
                .collect();
            let rnd = g.at_ratio("random", &ratios);
            let paired: Vec<(f64, f64)> = pairs
                .iter()
                .zip(&rnd)
                .filter_map(|((z, b), r)| {
                    let (z, b, r) = (z.as_ref()?, b.as_ref()?, r.as_ref()?);
                    Some((b.mean_noisy - z.mean_noisy, r.mean_noisy - z.mean_noisy))
                })
                .collect();
            if !paired.is_empty() {
                let rl = summarize(&paired.iter().map(|p| p.1).collect::<Vec<_>>());
                let diff = summarize(&paired.iter().map(|p| p.0 - p.1).collect::<Vec<_>>());
                let specific = if diff.n >= 2 {
                    gain(&diff)
                } else {
                    diff.mean >= SPECIFIC
                };
                let masks = g.replicates.first().map_or(0, |r| r.random_masks);
                out.push(format!(
                    "Random pruning at the same ratios (mean of {masks} mask{}): mean lift {} points; {m} exceeds it by {} points, so {}{}.",
                    if masks == 1 { "" } else { "s" },
                    rl.points(),
                    diff.points(),
                    if specific {
                        format!("the weights {m} chooses matter, not only how many are removed")
                    } else {
                        format!("{m}'s lift is not distinguishable from removing as many weights at random")
                    },
                    random_best.clone().unwrap_or_default(),
                ));
            }
        }
        // Attribution to single layers: only of a lift that holds (shares
        // of a lift indistinguishable from zero are noise).
        let has_layers = g.replicates.iter().any(|r| {
            r.per_layer
                .as_ref()
                .is_some_and(|(s, _)| s.methods.contains(m))
        });
        if has_layers && !lift_holds {
            out.push(format!(
                "The per-layer sweeps of {m} are not used to attribute its lift to layers: the whole-net lift does not hold, so shares of it would be noise."
            ));
            continue;
        }
        let shares: Vec<Vec<f64>> = g
            .replicates
            .iter()
            .zip(&pairs)
            .filter_map(|(r, (z, b))| {
                let (z, b) = (z.as_ref()?, b.as_ref()?);
                let (s, rows) = r.per_layer.as_ref()?;
                if !s.methods.contains(m) {
                    return None;
                }
                let whole = b.mean_noisy - z.mean_noisy;
                if whole <= 0.0 {
                    return None;
                }
                let t = super::best::table(s, rows, r.threshold.value);
                Some(
                    s.groups
                        .iter()
                        .map(|gr| {
                            t.iter()
                                .find(|x| x.group == gr.name && &x.method == m)
                                .and_then(|x| x.row.as_ref())
                                .map_or(0.0, |x| (x.mean_noisy - z.mean_noisy) / whole)
                        })
                        .collect(),
                )
            })
            .collect();
        if let (Some(first), Some((s, _))) = (
            shares.first(),
            g.replicates.first().and_then(|r| r.per_layer.as_ref()),
        ) {
            let parts: Vec<String> = (0..first.len())
                .map(|j| {
                    let v = summarize(&shares.iter().map(|x| x[j]).collect::<Vec<_>>());
                    format!("{} {}", s.groups[j].name, pct(v.mean))
                })
                .collect();
            let top = (0..first.len())
                .max_by(|&a, &b| {
                    let ma: f64 = shares.iter().map(|x| x[a]).sum();
                    let mb: f64 = shares.iter().map(|x| x[b]).sum();
                    ma.total_cmp(&mb)
                })
                .map(|j| s.groups[j].name.clone())
                .unwrap_or_default();
            out.push(format!(
                "Pruning one layer alone with {m} (at its own best ratio) gives this share of the whole-net lift: {}; the largest comes from {top} (shares need not add up to 100%: layers pruned together interact).",
                parts.join(", ")
            ));
        }
    }
    match (act_lift, inputs_lift) {
        (Some((a, true)), Some(i)) if a > 0.0 => out.push(format!(
            "Pruning input pixels alone (act-inputs) gives {} of act's lift, so act {} as an input filter.",
            pct(i / a),
            if i >= 0.8 * a {
                "works largely"
            } else if i >= 0.3 * a {
                "works partly"
            } else {
                "does not work mainly"
            }
        )),
        (Some(_), Some(_)) => out.push(
            "act's lift does not hold, so the share of it that pruning input pixels alone (act-inputs) gives is not computed; act-inputs' own lift is stated above.".to_string(),
        ),
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::sweep::Settings;
    use crate::report::fixtures;
    use crate::report::replicates::Replicate;

    fn settings(methods: &[&str], groups: &[&str]) -> Settings {
        fixtures::settings(methods, groups, 4)
    }

    fn row(group: &str, method: &str, ratio: &str, clean: f64, noisy: [f64; 4]) -> Row {
        fixtures::row(group, method, ratio, clean, &noisy)
    }

    /// A replicate whose act pruning at 80% lifts every noise by `lift`
    /// (plus `jitter`), random by `rlift`; 0.5 is always worse.
    fn replicate(lift: f64, rlift: f64, jitter: f64) -> Replicate {
        let base = [0.3, 0.4, 0.5, 0.6];
        let up = |d: f64| base.map(|b| b + d + jitter);
        let s = settings(&["act", "random:1", "random:2"], &["all"]);
        let rows = vec![
            row("all", "act", "0", 0.98, base),
            row("all", "act", "0.5", 0.98, up(lift / 2.0)),
            row("all", "act", "0.8", 0.975, up(lift)),
            row("all", "random:1", "0", 0.98, base),
            row("all", "random:1", "0.5", 0.98, up(0.0)),
            row("all", "random:1", "0.8", 0.97, up(rlift - 0.01)),
            row("all", "random:2", "0", 0.98, base),
            row("all", "random:2", "0.5", 0.98, up(0.0)),
            row("all", "random:2", "0.8", 0.97, up(rlift + 0.01)),
        ];
        fixtures::replicate(&s, &rows, 0.97)
    }

    fn group(reps: Vec<Replicate>) -> Group {
        Group {
            dataset: "mnist".into(),
            model: "lq".into(),
            head: "lq".into(),
            replicates: reps,
        }
    }

    /// The findings of three replicates `(lift, rlift, jitter)`.
    fn findings_of(reps: [(f64, f64, f64); 3]) -> Vec<String> {
        super::group(&group(reps.map(|(l, r, j)| replicate(l, r, j)).to_vec()))
    }

    #[test]
    fn a_lift_that_holds_is_said_to_hold_with_its_numbers() {
        // Lifts of 15, 16 and 9 points under every noise.
        let f = findings_of([(0.15, 0.0, 0.0), (0.15, 0.0, 0.01), (0.15, 0.0, -0.06)]);
        assert!(f[0].starts_with("lq (3 seeds): act at 80% raises accuracy by >= 10 points under 4 of 4 transferred noises (on average over 3 seeds; each of them in at least 2 of 3 seeds)"), "{}", f[0]);
        assert!(
            f[0].contains("mean lift 13.3 (95% CI 3.9 to 22.7)"),
            "{}",
            f[0]
        );
        assert!(f[0].ends_with("holds here."), "{}", f[0]);
        assert!(f[1].starts_with("Random pruning at the same ratios (mean of 2 masks): mean lift -1.7 (95% CI -11.1 to 7.7) points; act exceeds it by 15.0"), "{}", f[1]);
        assert!(f[1].contains("the weights act chooses matter"), "{}", f[1]);
        assert!(f[1].ends_with("; at its own best ratio under the same clean-accuracy rule, 17% (chosen per seed: 0%-50%), random pruning lifts by 0.3 (95% CI -1.1 to 1.8) points."), "{}", f[1]);
        // A threshold random pruning cannot meet is said so.
        let mut reps: Vec<Replicate> = [0.0, 0.01, -0.01].map(|j| replicate(0.15, 0.0, j)).to_vec();
        for r in &mut reps {
            for x in r
                .rows
                .iter_mut()
                .filter(|x| x.method == "random" && x.ratio != "0")
            {
                x.clean = 0.5;
            }
        }
        let f = super::group(&group(reps));
        assert!(
            f[1].ends_with(
                "; under the same clean-accuracy rule random pruning's best ratio is 0%: no random mask that keeps clean accuracy at the threshold raises accuracy under the noises."
            ),
            "{}",
            f[1]
        );
    }

    #[test]
    fn sentences_follow_the_numbers_when_the_effect_is_absent() {
        // act lifts nothing; random pruning does as well as act.
        let f = findings_of([(0.0, 0.0, 0.0), (0.0, 0.0, 0.01), (0.0, 0.0, -0.01)]);
        assert!(
            f[0].contains("under none of the 4 transferred noises"),
            "{}",
            f[0]
        );
        assert!(f[0].ends_with("does not hold here."), "{}", f[0]);
        // A lift that random pruning matches is not specific to act.
        let f = findings_of([(0.15, 0.15, 0.0), (0.15, 0.15, 0.01), (0.15, 0.15, -0.01)]);
        assert!(f[0].ends_with("holds here."), "{}", f[0]);
        assert!(
            f[1].contains("not distinguishable from removing as many weights at random"),
            "{}",
            f[1]
        );
        // A lift of 5 points under every noise: fewer noises counted, still a lift.
        let f = findings_of([(0.05, 0.0, 0.0), (0.06, 0.0, 0.0), (0.055, 0.0, 0.0)]);
        assert!(f[0].contains("under none of the 4"), "{}", f[0]);
        assert!(f[0].contains("mean lift 5.5"), "{}", f[0]);
        assert!(f[0].ends_with("holds only weakly here (accuracy rises, but by 10 points under fewer than half the noises)."), "{}", f[0]);
        // Half a point, however alike the seeds: no lift to speak of.
        let f = findings_of([(0.005, 0.0, 0.0), (0.006, 0.0, 0.0), (0.0055, 0.0, 0.0)]);
        assert!(
            f[0].contains("mean lift 0.5 (95% CI 0.4 to 0.7)"),
            "{}",
            f[0]
        );
        assert!(f[0].ends_with("does not hold here."), "{}", f[0]);
    }

    #[test]
    fn across_datasets_the_verdicts_stand_side_by_side() {
        let on = |ds: &str, l: f64| Group {
            dataset: ds.into(),
            ..group([0.0, 0.01, -0.01].map(|j| replicate(l, 0.0, j)).to_vec())
        };
        // act lifts by 15 points on both datasets: the finding carries over.
        let f = super::across(&[on("mnist", 0.15), on("fashion-mnist", 0.15)]);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].starts_with(
                "lq, act: the article's claim holds on mnist (at 80%, mean lift 15.0 (95% CI"
            ),
            "{}",
            f[0]
        );
        assert!(
            f[0].contains(", 3 seeds) and holds on fashion-mnist (at 80%"),
            "{}",
            f[0]
        );
        assert!(!f[0].contains("carry over"), "{}", f[0]);
        // Not on the second: "but", and the finding does not carry over.
        let f = super::across(&[on("mnist", 0.15), on("fashion-mnist", 0.0)]);
        assert!(
            f[0].contains("3 seeds) but does not hold on fashion-mnist (at 17% (chosen per seed: 0%-50%), mean lift 0.3 (95% CI -1.1 to 1.8) points, 3 seeds)"),
            "{}",
            f[0]
        );
        assert!(
            f[0].ends_with(": the finding does not carry over from one dataset to the other."),
            "{}",
            f[0]
        );
        // A dataset where no ratio keeps clean accuracy (not even the
        // unpruned model's) cannot be judged.
        let mut hard = on("fashion-mnist", 0.15);
        for r in &mut hard.replicates {
            for x in r.rows.iter_mut() {
                x.clean = 0.5;
            }
        }
        let f = super::across(&[on("mnist", 0.15), hard]);
        assert!(f[0].contains("but cannot be judged on fashion-mnist (no ratio at the clean-accuracy threshold, 3 seeds)"), "{}", f[0]);
        assert!(!f[0].contains("carry over"), "{}", f[0]);
        // Seeds that disagree on the second dataset settle nothing.
        let split = Group {
            dataset: "fashion-mnist".into(),
            ..group([0.3, 0.0, -0.1].map(|l| replicate(l, 0.0, 0.0)).to_vec())
        };
        let f = super::across(&[on("mnist", 0.15), split]);
        assert!(
            f[0].contains("but is not settled on fashion-mnist"),
            "{}",
            f[0]
        );
        assert!(!f[0].contains("carry over"), "{}", f[0]);
        // Holding strongly on one and weakly on the other still holds.
        let f = super::across(&[on("mnist", 0.15), on("fashion-mnist", 0.055)]);
        assert!(
            f[0].contains("but holds only weakly on fashion-mnist"),
            "{}",
            f[0]
        );
        assert!(!f[0].contains("carry over"), "{}", f[0]);
        // One dataset: nothing to compare.
        assert!(super::across(&[on("mnist", 0.15)]).is_empty());
    }

    #[test]
    fn seeds_that_disagree_leave_the_claim_unsettled() {
        // Lifts of 30, 0 and -10 points: mean 6.7, interval far wider than 10.
        let f = findings_of([(0.3, 0.0, 0.0), (0.0, 0.0, 0.0), (-0.1, 0.0, 0.0)]);
        assert!(
            f[0].ends_with("is not settled here: the lift's 95% interval spans both zero and 10 points, so the seeds disagree and more of them would decide."),
            "{}",
            f[0]
        );
        // A lift whose interval stays below 10 points is a claim that does
        // not hold, not an unsettled one.
        let f = findings_of([(0.02, 0.0, 0.0), (0.0, 0.0, 0.0), (-0.01, 0.0, 0.0)]);
        assert!(f[0].ends_with("does not hold here."), "{}", f[0]);
    }

    #[test]
    fn adaptive_noise_that_undoes_the_lift_is_called_out() {
        let mut reps = vec![replicate(0.2, 0.0, 0.0), replicate(0.2, 0.0, 0.01)];
        for r in &mut reps {
            // The adaptive stage's unpruned point: the baseline, on the
            // stage's own images (2 points below the sweep's here).
            let z = r.rows.iter().find(|x| x.ratio == "0").unwrap().clone();
            let zn: Vec<f64> = z.noisy.iter().map(|v| v - 0.02).collect();
            r.adaptive.push(AdaptivePoint {
                method: "none".into(),
                ratio: "0".into(),
                clean: z.clean,
                transfer: zn.clone(),
                adaptive: zn,
                attacks: vec![],
                grid: false,
            });
            let b = r
                .rows
                .iter()
                .find(|x| x.method == "act" && x.ratio == "0.8")
                .unwrap()
                .clone();
            r.adaptive.push(AdaptivePoint {
                method: "act".into(),
                ratio: "0.8".into(),
                clean: b.clean,
                transfer: b.noisy.iter().map(|v| v - 0.02).collect(),
                // Retrained noise takes back all but 2 points.
                adaptive: b.noisy.iter().map(|v| v - 0.2).collect(),
                attacks: vec![],
                grid: false,
            });
        }
        let sentence = |reps: &[Replicate]| -> String {
            super::group(&group(reps.to_vec()))
                .into_iter()
                .find(|s| s.starts_with("Against noises retrained"))
                .unwrap()
        };
        let a = sentence(&reps);
        assert!(
            a.contains("under none of the 4 noises retrained on the pruned network"),
            "{a}"
        );
        assert!(
            a.contains(
                "stronger of the transferred and the retrained noise, under none of the 4 noises"
            ),
            "{a}"
        );
        assert!(
            a.contains("mostly a failure of the noise to transfer"),
            "{a}"
        );
        assert!(!a.contains("weaker than the transferred"), "{a}");
        // Lifts from the adaptive stage's images, the transferred one too.
        assert!(
            a.contains("mean lift 2.5 (95% CI -3.9 to 8.9) points;"),
            "{a}"
        );
        assert!(
            a.contains("against 20.5 (95% CI 14.1 to 26.9) points for the transferred noise on the same images"),
            "{a}"
        );
        // Without the unpruned point there is no baseline and no sentence.
        let mut bare = reps.clone();
        for r in &mut bare {
            r.adaptive.retain(|p| p.method != "none");
        }
        assert!(
            !super::group(&group(bare))
                .iter()
                .any(|s| s.starts_with("Against noises retrained"))
        );
        // The same lift surviving the retrained noise is said to survive.
        for r in &mut reps {
            let p = r.adaptive.iter_mut().find(|p| p.method == "act").unwrap();
            p.adaptive = p.transfer.iter().map(|v| v - 0.01).collect();
        }
        let a = sentence(&reps);
        assert!(a.contains("under 4 of 4 noises retrained"), "{a}");
        assert!(
            a.contains("survives the stronger of the two attacks"),
            "{a}"
        );
        assert!(!a.contains("weaker than the transferred"), "{a}");
        // A retrained noise weaker than the transferred one is said to be,
        // and the worst case is then the transferred noise.
        for r in &mut reps {
            let p = r.adaptive.iter_mut().find(|p| p.method == "act").unwrap();
            p.adaptive = p.transfer.iter().map(|v| v + 0.05).collect();
        }
        let a = sentence(&reps);
        assert!(
            a.contains("weaker than the transferred one by a point or more under 4 of 4 noises"),
            "{a}"
        );
        assert!(a.contains("mean lift 25.5"), "{a}");
        // Weaker by tenths of a point is a retraining's noise, not a
        // weaker attack: nothing is said.
        for r in &mut reps {
            let p = r.adaptive.iter_mut().find(|p| p.method == "act").unwrap();
            p.adaptive = p.transfer.iter().map(|v| v + 0.003).collect();
        }
        let a = sentence(&reps);
        assert!(!a.contains("weaker than the transferred"), "{a}");
        // No lift to speak of: nothing is gone and nothing survives.
        let mut flat = reps.clone();
        for r in &mut flat {
            let z = r
                .adaptive
                .iter()
                .find(|p| p.method == "none")
                .unwrap()
                .transfer
                .clone();
            let p = r.adaptive.iter_mut().find(|p| p.method == "act").unwrap();
            p.transfer = z.iter().map(|v| v + 0.001).collect();
            p.adaptive = z;
        }
        let a = sentence(&flat);
        assert!(!a.contains("is gone") && !a.contains("survives"), "{a}");
    }

    #[test]
    fn per_example_attacks_on_the_pruned_network_follow_the_numbers() {
        // Unpruned and act-80% points with FGSM and PGD robust accuracy;
        // PGD is the stronger attack on the unpruned model.
        let with_attacks = |pgd_change: [f64; 3]| -> Vec<Replicate> {
            (0..3)
                .map(|i| {
                    let j = 0.01 * i as f64;
                    let mut r = replicate(0.2, 0.0, j);
                    for (method, ratio, pgd) in [
                        ("none", "0", 0.36 + j),
                        ("act", "0.8", 0.36 + j + pgd_change[i]),
                    ] {
                        r.adaptive.push(AdaptivePoint {
                            method: method.into(),
                            ratio: ratio.into(),
                            clean: 0.98,
                            transfer: vec![0.5; 4],
                            adaptive: vec![0.5; 4],
                            attacks: vec![("fgsm:0.1".into(), 0.5), ("pgd:0.1".into(), pgd)],
                            grid: false,
                        });
                    }
                    r
                })
                .collect()
        };
        let sentence = |pgd_change: [f64; 3]| -> String {
            super::group(&group(with_attacks(pgd_change)))
                .into_iter()
                .find(|s| s.starts_with("Against the per-example attack"))
                .unwrap()
        };
        let a = sentence([0.28, 0.27, 0.29]);
        assert!(
            a.starts_with("Against the per-example attack pgd:0.1, aimed at each network (act, same ratios): robust accuracy 65.0% pruned against 37.0% unpruned, a change of 28.0 (95% CI 25.5 to 30.5) points"),
            "{a}"
        );
        assert!(
            a.contains("makes the network more robust to an attack aimed at it"),
            "{a}"
        );
        let a = sentence([-0.10, -0.12, -0.08]);
        assert!(a.contains("makes the network less robust"), "{a}");
        let a = sentence([0.05, -0.05, 0.01]);
        assert!(a.contains("no change in robustness"), "{a}");
        // Seeds that agree on a few images: an interval off zero around a
        // third of a point is no change, and a point is one.
        let a = sentence([0.003, 0.003, 0.003]);
        assert!(
            a.contains("a change of 0.3 (95% CI 0.3 to 0.3) points: no change in robustness"),
            "{a}"
        );
        let a = sentence([0.01, 0.01, 0.01]);
        assert!(a.contains("more robust"), "{a}");
        let a = sentence([-0.003, -0.003, -0.003]);
        assert!(a.contains("no change in robustness"), "{a}");
        // Without attacks in the adaptive stage, no sentence.
        let mut bare = with_attacks([0.28, 0.27, 0.29]);
        for r in &mut bare {
            r.adaptive.iter_mut().for_each(|p| p.attacks.clear());
        }
        assert!(
            !super::group(&group(bare))
                .iter()
                .any(|s| s.starts_with("Against the per-example attack"))
        );
    }

    /// `r` with an `act-inputs` method that gives `share` of act's lift.
    fn with_inputs(mut r: Replicate, share: f64) -> Replicate {
        let base = r
            .rows
            .iter()
            .find(|x| x.ratio == "0")
            .unwrap()
            .noisy
            .clone();
        let extra: Vec<Row> = r
            .rows
            .iter()
            .filter(|x| x.method == "act")
            .map(|x| {
                let noisy: Vec<f64> = x
                    .noisy
                    .iter()
                    .zip(&base)
                    .map(|(v, b)| b + (v - b) * share)
                    .collect();
                Row {
                    method: "act-inputs".into(),
                    mean_noisy: noisy.iter().sum::<f64>() / noisy.len() as f64,
                    noisy,
                    ..x.clone()
                }
            })
            .collect();
        r.rows.extend(extra);
        r.settings.methods.push("act-inputs".into());
        r
    }

    #[test]
    fn the_input_filter_share_follows_the_numbers() {
        let sentence = |lift: f64, share: f64| -> String {
            let reps = [0.0, 0.01, -0.01]
                .map(|j| with_inputs(replicate(lift, 0.0, j), share))
                .to_vec();
            super::group(&group(reps)).pop().unwrap()
        };
        let s = sentence(0.2, 0.9);
        assert!(s.contains("gives 90% of act's lift"), "{s}");
        // Random weight masks are act's control, not act-inputs' (its
        // ratio is a share of pixels): one random sentence, after act's.
        let all = super::group(&group(
            [0.0, 0.01, -0.01]
                .map(|j| with_inputs(replicate(0.2, 0.0, j), 0.9))
                .to_vec(),
        ));
        let random: Vec<&String> = all
            .iter()
            .filter(|s| s.starts_with("Random pruning at the same ratios"))
            .collect();
        assert_eq!(random.len(), 1, "{all:#?}");
        assert!(random[0].contains("act exceeds it"), "{}", random[0]);
        assert!(s.ends_with("act works largely as an input filter."), "{s}");
        let s = sentence(0.2, 0.5);
        assert!(
            s.contains("gives 50% of act's lift, so act works partly"),
            "{s}"
        );
        let s = sentence(0.2, 0.1);
        assert!(s.contains("does not work mainly as an input filter"), "{s}");
        // No share of a lift that does not hold.
        let s = sentence(0.0, 0.9);
        assert!(
            s.starts_with("act's lift does not hold, so the share"),
            "{s}"
        );
    }

    #[test]
    fn per_layer_sweeps_attribute_the_lift() {
        let mut r = replicate(0.2, 0.0, 0.0);
        let s = settings(&["act"], &["layer0", "layer1"]);
        let base = [0.3, 0.4, 0.5, 0.6];
        let rows = vec![
            row("layer0", "act", "0", 0.98, base),
            row("layer0", "act", "0.8", 0.98, base.map(|b| b + 0.15)),
            row("layer1", "act", "0", 0.98, base),
            row("layer1", "act", "0.8", 0.98, base.map(|b| b + 0.05)),
        ];
        r.per_layer = Some((s, rows));
        let f = super::group(&group(vec![r]));
        let a = f
            .iter()
            .find(|s| s.starts_with("Pruning one layer alone"))
            .unwrap();
        assert!(
            a.contains("layer0 75%, layer1 25%; the largest comes from layer0"),
            "{a}"
        );
        // No shares of a lift that does not hold: the sentence says why.
        let mut r = replicate(0.0, 0.0, 0.0);
        r.per_layer = Some((settings(&["act"], &["layer0"]), vec![]));
        let f = super::group(&group(vec![r]));
        assert!(!f.iter().any(|s| s.starts_with("Pruning one layer")));
        assert!(
            f.iter()
                .any(|s| s.contains("not used to attribute its lift to layers")),
            "{f:?}"
        );
        // No attribution for a method the per-layer sweeps left out.
        let mut r = replicate(0.2, 0.0, 0.0);
        r.per_layer = Some((settings(&["abs"], &["layer0"]), vec![]));
        assert!(
            !super::group(&group(vec![r]))
                .iter()
                .any(|s| s.starts_with("Pruning one layer"))
        );
    }
}
