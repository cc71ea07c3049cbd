//! A model's replicates read together: the `[[model]]` trained with several
//! seeds (and, separately, on each dataset) gives one group of sweeps,
//! summarised by the mean and 95% confidence interval of every cell of the
//! best table, with each replicate's best ratio chosen by the same rule on
//! its own sweep ([`super::best`]).
//!
//! Random pruning with several mask seeds (`random:1`, `random:2`, …) is
//! first averaged ratio by ratio into one method `random` ([`merge_random`]),
//! so the controls read as one line whatever the number of masks.

use super::best::{self, Threshold};
use super::stats::{Summary, summarize};
use crate::experiment::sweep::{Row, Settings};

/// A table as text: header and rows.
pub type Table = (Vec<String>, Vec<Vec<String>>);

/// A lift of at least this much (10 points) counts as a raise.
pub const LIFT: f64 = 0.10;

impl Replicate {
    /// The adaptive point of `method` at `ratio`; at ratio 0 every method
    /// is the unpruned model, whose point is `none`'s.
    pub fn adaptive_point(&self, method: &str, ratio: &str) -> Option<&AdaptivePoint> {
        let method = if ratio == "0" { "none" } else { method };
        self.adaptive
            .iter()
            .find(|p| p.method == method && (p.ratio == ratio || method == "none"))
    }
}

/// One replicate of a model: its sweep (random masks merged) and threshold.
#[derive(Clone, Debug)]
pub struct Replicate {
    /// Instance name (`lq-s2`).
    pub name: String,
    /// Its seed, when the model lists seeds.
    pub seed: Option<u64>,
    /// The sweep's settings, random methods merged.
    pub settings: Settings,
    /// The sweep's rows, random methods merged.
    pub rows: Vec<Row>,
    /// Masks averaged into `random` (0: no random method).
    pub random_masks: usize,
    /// The threshold of its best table.
    pub threshold: Threshold,
    /// Its per-layer sweep, random methods merged.
    pub per_layer: Option<(Settings, Vec<Row>)>,
    /// Its adaptive evaluation (empty without one).
    pub adaptive: Vec<AdaptivePoint>,
}

/// Accuracy of one pruned network under the transferred noises and under
/// noises retrained against it (the `adaptive-M` stage).
#[derive(Clone, Debug, PartialEq)]
pub struct AdaptivePoint {
    /// The method.
    pub method: String,
    /// The ratio as given.
    pub ratio: String,
    /// Clean accuracy.
    pub clean: f64,
    /// Accuracy under each transferred noise.
    pub transfer: Vec<f64>,
    /// Accuracy under each noise retrained against the pruned network.
    pub adaptive: Vec<f64>,
    /// Robust accuracy under each per-example attack: (attack, accuracy).
    pub attacks: Vec<(String, f64)>,
    /// Whether the point is on the adaptive stage's grid of ratios.
    pub grid: bool,
}

impl AdaptivePoint {
    /// Per noise, the lower of the two accuracies: the stronger attack.
    pub fn worst(&self) -> Vec<f64> {
        self.transfer
            .iter()
            .zip(&self.adaptive)
            .map(|(a, b)| a.min(*b))
            .collect()
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// The replicates of one `[[model]]` on one dataset.
#[derive(Clone, Debug)]
pub struct Group {
    /// Dataset name.
    pub dataset: String,
    /// `[[model]]` name.
    pub model: String,
    /// lq or sce.
    pub head: String,
    /// Its replicates (at least one).
    pub replicates: Vec<Replicate>,
}

fn is_random(m: &str) -> bool {
    m == "random" || m.starts_with("random:")
}

/// Average the rows of every random-mask method (`random`, `random:K`)
/// into one method `random`, ratio by ratio (within each layer group);
/// returns the settings and rows with `random` in place of the first of
/// them, and how many masks were averaged.
pub fn merge_random(s: &Settings, rows: &[Row]) -> (Settings, Vec<Row>, usize) {
    let masks: Vec<&String> = s.methods.iter().filter(|m| is_random(m)).collect();
    if masks.is_empty() {
        return (s.clone(), rows.to_vec(), 0);
    }
    let mut settings = s.clone();
    let mut methods = Vec::new();
    for m in &s.methods {
        if !is_random(m) {
            methods.push(m.clone());
        } else if !methods.iter().any(|x| x == "random") {
            methods.push("random".into());
        }
    }
    settings.methods = methods;
    let mut out: Vec<Row> = rows
        .iter()
        .filter(|r| !is_random(&r.method))
        .cloned()
        .collect();
    for g in &s.groups {
        for ratio in &s.ratios {
            let same: Vec<&Row> = rows
                .iter()
                .filter(|r| is_random(&r.method) && r.group == g.name && &r.ratio == ratio)
                .collect();
            let Some(first) = same.first() else { continue };
            let k = same.len() as f64;
            let mean = |f: &dyn Fn(&Row) -> f64| same.iter().map(|r| f(r)).sum::<f64>() / k;
            let cols = |f: &dyn Fn(&Row) -> &Vec<f64>| -> Vec<f64> {
                (0..f(first).len())
                    .map(|j| same.iter().map(|r| f(r)[j]).sum::<f64>() / k)
                    .collect()
            };
            out.push(Row {
                group: g.name.clone(),
                method: "random".into(),
                ratio: ratio.clone(),
                clean: mean(&|r| r.clean),
                noisy: cols(&|r| &r.noisy),
                fooled: cols(&|r| &r.fooled),
                mean_noisy: mean(&|r| r.mean_noisy),
                remaining: (0..first.remaining.len())
                    .map(|j| {
                        (same.iter().map(|r| r.remaining[j] as f64).sum::<f64>() / k).round()
                            as usize
                    })
                    .collect(),
            });
        }
    }
    (settings, out, masks.len())
}

/// The ratio of a row as a fraction.
pub fn ratio_of(r: &Row) -> f64 {
    crate::prune::Ratio::parse(&r.ratio)
        .map(|x| x.value())
        .unwrap_or(f64::NAN)
}

/// One method's best rows across the replicates.
#[derive(Clone, Debug)]
pub struct MethodSummary {
    /// The method (`none` for the unpruned model).
    pub method: String,
    /// Replicates with a best row.
    pub found: usize,
    /// The chosen ratios.
    pub ratio: Summary,
    /// Clean accuracy.
    pub clean: Summary,
    /// Accuracy under each noise.
    pub noisy: Vec<Summary>,
    /// Mean accuracy under the noises.
    pub mean_noisy: Summary,
    /// Per noise, in how many replicates the best row beats the unpruned
    /// model by at least [`LIFT`].
    pub raised: Vec<usize>,
    /// The lift of the mean noisy accuracy over the unpruned model.
    pub lift: Summary,
}

impl Group {
    /// The noises' names (of the first replicate).
    pub fn noise_names(&self) -> Vec<String> {
        self.replicates
            .first()
            .map(|r| r.settings.noises.iter().map(|n| n.name.clone()).collect())
            .unwrap_or_default()
    }

    /// The methods of the whole-net group (of the first replicate).
    pub fn methods(&self) -> Vec<String> {
        self.replicates
            .first()
            .map(|r| r.settings.methods.clone())
            .unwrap_or_default()
    }

    /// Each replicate's unpruned row and best row of `method` (whole net).
    pub fn best_pairs(&self, method: &str) -> Vec<(Option<Row>, Option<Row>)> {
        self.replicates
            .iter()
            .map(|r| {
                let t = best::table(&r.settings, &r.rows, r.threshold.value);
                let zero = t.first().and_then(|b| b.row.clone());
                let row = if method == "none" {
                    zero.clone()
                } else {
                    // A whole-net sweep has one layer group.
                    t.iter()
                        .skip(1)
                        .find(|b| b.method == method)
                        .and_then(|b| b.row.clone())
                };
                (zero, row)
            })
            .collect()
    }

    /// The best rows of `method` (or `none`) summarised over the replicates.
    pub fn summary(&self, method: &str) -> MethodSummary {
        self.summarize_pairs(method, &self.best_pairs(method))
    }

    /// Random pruning (masks averaged) at `method`'s best ratio in each
    /// replicate, summarised as [`Group::summary`] does: the control at the
    /// same ratio, row by row beside the method.
    pub fn random_at_best_of(&self, method: &str) -> MethodSummary {
        let pairs = self.best_pairs(method);
        let ratios: Vec<Option<String>> = pairs
            .iter()
            .map(|(_, b)| b.as_ref().map(|b| b.ratio.clone()))
            .collect();
        let rnd = self.at_ratio("random", &ratios);
        let pairs: Vec<(Option<Row>, Option<Row>)> = pairs
            .into_iter()
            .zip(rnd)
            .map(|((z, _), r)| (z, r))
            .collect();
        self.summarize_pairs(&format!("random at {method}'s ratio"), &pairs)
    }

    /// Unpruned and pruned rows, per replicate, summarised.
    fn summarize_pairs(&self, method: &str, pairs: &[(Option<Row>, Option<Row>)]) -> MethodSummary {
        let noises = self.noise_names().len();
        let found: Vec<(&Row, &Row)> = pairs
            .iter()
            .filter_map(|(z, b)| Some((z.as_ref()?, b.as_ref()?)))
            .collect();
        let col = |f: &dyn Fn(&Row) -> f64| {
            summarize(&found.iter().map(|(_, b)| f(b)).collect::<Vec<_>>())
        };
        MethodSummary {
            method: method.into(),
            found: found.len(),
            ratio: col(&ratio_of),
            clean: col(&|r| r.clean),
            noisy: (0..noises).map(|k| col(&|r| r.noisy[k])).collect(),
            mean_noisy: col(&|r| r.mean_noisy),
            raised: (0..noises)
                .map(|k| {
                    found
                        .iter()
                        .filter(|(z, b)| b.noisy[k] - z.noisy[k] >= LIFT - 1e-12)
                        .count()
                })
                .collect(),
            lift: summarize(
                &found
                    .iter()
                    .map(|(z, b)| b.mean_noisy - z.mean_noisy)
                    .collect::<Vec<_>>(),
            ),
        }
    }

    /// The row of `method` at `ratio` in each replicate (None where absent).
    pub fn at_ratio(&self, method: &str, ratios: &[Option<String>]) -> Vec<Option<Row>> {
        self.replicates
            .iter()
            .zip(ratios)
            .map(|(r, q)| {
                let q = q.as_ref()?;
                r.rows
                    .iter()
                    .find(|x| x.method == method && &x.ratio == q)
                    .cloned()
            })
            .collect()
    }
}

impl Group {
    /// Whether any replicate has adaptive points.
    pub fn has_adaptive(&self) -> bool {
        self.replicates.iter().any(|r| !r.adaptive.is_empty())
    }

    /// Per replicate, the adaptive point at `method`'s best ratio (the
    /// unpruned point for `none`).
    pub fn adaptive_at_best(&self, method: &str) -> Vec<Option<AdaptivePoint>> {
        self.replicates
            .iter()
            .zip(self.best_pairs(method))
            .map(|(r, (_, b))| {
                let ratio = if method == "none" {
                    "0".to_string()
                } else {
                    b?.ratio
                };
                r.adaptive_point(method, &ratio).cloned()
            })
            .collect()
    }
}

/// The best table with transferred and adaptive noise side by side: per
/// method at its best ratio, per noise the mean accuracy under the
/// transferred and the retrained noise (`T / A`), then the mean over the
/// noises of each and of the per-noise worst, with 95% intervals.
pub fn transfer_adaptive_table(g: &Group) -> (Vec<String>, Vec<Vec<String>>) {
    let mut header = vec![
        "method".to_string(),
        "pruned".into(),
        "seeds".into(),
        "clean".into(),
    ];
    header.extend(g.noise_names().iter().map(|n| format!("{n} T / A")));
    header.extend([
        "mean transfer".to_string(),
        "mean adaptive".into(),
        "mean worst".into(),
    ]);
    let k = g.noise_names().len();
    let mut rows = Vec::new();
    for m in std::iter::once("none".to_string()).chain(g.methods()) {
        let pts: Vec<AdaptivePoint> = g.adaptive_at_best(&m).into_iter().flatten().collect();
        let mut v = vec![m.clone()];
        if pts.is_empty() {
            // Not evaluated adaptively (left out of [adaptive] methods).
            continue;
        }
        let ratio = summarize(
            &pts.iter()
                .map(|p| crate::prune::Ratio::parse(&p.ratio).map_or(f64::NAN, |r| r.value()))
                .collect::<Vec<_>>(),
        );
        v.push(if ratio.min == ratio.max {
            format!("{:.0}%", ratio.mean * 100.0)
        } else {
            format!(
                "{:.0}% ({:.0}-{:.0}%)",
                ratio.mean * 100.0,
                ratio.min * 100.0,
                ratio.max * 100.0
            )
        });
        v.push(format!("{}/{}", pts.len(), g.replicates.len()));
        v.push(summarize(&pts.iter().map(|p| p.clean).collect::<Vec<_>>()).f4());
        for j in 0..k {
            let t = mean(&pts.iter().map(|p| p.transfer[j]).collect::<Vec<_>>());
            let a = mean(&pts.iter().map(|p| p.adaptive[j]).collect::<Vec<_>>());
            v.push(format!("{t:.3} / {a:.3}"));
        }
        v.push(summarize(&pts.iter().map(|p| mean(&p.transfer)).collect::<Vec<_>>()).f4());
        v.push(summarize(&pts.iter().map(|p| mean(&p.adaptive)).collect::<Vec<_>>()).f4());
        v.push(summarize(&pts.iter().map(|p| mean(&p.worst())).collect::<Vec<_>>()).f4());
        rows.push(v);
    }
    (header, rows)
}

/// Whether `method`'s ratio is a share of weights, so random masks at the
/// same ratio are its control (not so for pixel pruning, `*-inputs`, whose
/// ratio is a share of pixels).
pub fn has_random_control(method: &str) -> bool {
    !crate::prune::Method::parse(method).is_ok_and(|m| m.prunes_inputs() || m.is_random())
}

/// Each method's best rows summarised over the replicates, followed, when
/// the sweep has random masks, by random pruning at each weight-pruning
/// method's ratios: the control, in the tables themselves.
fn method_summaries(g: &Group) -> Vec<MethodSummary> {
    let methods = g.methods();
    let controls: Vec<&String> = if methods.iter().any(|m| m == "random") {
        methods.iter().filter(|m| has_random_control(m)).collect()
    } else {
        vec![]
    };
    methods
        .iter()
        .map(|m| g.summary(m))
        .chain(controls.into_iter().map(|m| g.random_at_best_of(m)))
        .collect()
}

/// The best table over the replicates: header and rows of text (cells
/// `mean ± half-width of the 95% interval`; the pruned column gives the
/// mean chosen ratio and its range).
pub fn best_table(g: &Group) -> (Vec<String>, Vec<Vec<String>>) {
    let mut header = vec![
        "method".to_string(),
        "pruned (range)".into(),
        "seeds".into(),
        "clean".into(),
    ];
    header.extend(g.noise_names());
    header.push("mean noisy".into());
    let n = g.replicates.len();
    let mut rows = Vec::new();
    let summaries = std::iter::once(g.summary("none")).chain(method_summaries(g));
    for s in summaries {
        let m = s.method.clone();
        let mut v = vec![
            m.clone(),
            if m == "none" {
                "0%".into()
            } else if s.found == 0 {
                "-".into()
            } else if s.ratio.min == s.ratio.max {
                format!("{:.0}%", s.ratio.mean * 100.0)
            } else {
                format!(
                    "{:.0}% ({:.0}-{:.0}%)",
                    s.ratio.mean * 100.0,
                    s.ratio.min * 100.0,
                    s.ratio.max * 100.0
                )
            },
            format!("{}/{n}", s.found),
            s.clean.f4(),
        ];
        v.extend(s.noisy.iter().map(Summary::f4));
        v.push(s.mean_noisy.f4());
        rows.push(v);
    }
    (header, rows)
}

/// Per method and noise, in how many replicates the best ratio raises
/// accuracy by at least 10 points over the unpruned model.
pub fn raised_table(g: &Group) -> (Vec<String>, Vec<Vec<String>>) {
    let mut header = vec!["method".to_string()];
    header.extend(g.noise_names());
    header.push("mean lift, points".into());
    let n = g.replicates.len();
    let rows = method_summaries(g)
        .into_iter()
        .map(|s| {
            let mut v = vec![s.method.clone()];
            v.extend(s.raised.iter().map(|c| format!("{c}/{n}")));
            v.push(if s.found == 0 {
                "-".into()
            } else {
                s.lift.points()
            });
            v
        })
        .collect();
    (header, rows)
}

/// One method's band points: `(ratio %, clean, mean noisy)`.
pub type BandPoints = Vec<(f64, Summary, Summary)>;

/// Mean and interval of clean and mean noisy accuracy per method and ratio
/// over the replicates that have the ratio (whole net), for band plots.
pub fn bands(g: &Group) -> Vec<(String, BandPoints)> {
    let Some(first) = g.replicates.first() else {
        return vec![];
    };
    g.methods()
        .iter()
        .map(|m| {
            let mut pts: Vec<(f64, Summary, Summary)> = first
                .settings
                .ratios
                .iter()
                .filter_map(|q| {
                    let rows: Vec<&Row> = g
                        .replicates
                        .iter()
                        .filter_map(|r| r.rows.iter().find(|x| &x.method == m && &x.ratio == q))
                        .collect();
                    let first = rows.first()?;
                    Some((
                        ratio_of(first) * 100.0,
                        summarize(&rows.iter().map(|r| r.clean).collect::<Vec<_>>()),
                        summarize(&rows.iter().map(|r| r.mean_noisy).collect::<Vec<_>>()),
                    ))
                })
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            (m.clone(), pts)
        })
        .collect()
}

/// Per-example attacks on the pruned networks over the replicates: the
/// unpruned model, each method at its best ratio, and every other ratio
/// the adaptive stage evaluated in all replicates (its grid); cells are
/// mean robust accuracy ± half the 95% interval.
pub fn attack_table(g: &Group) -> Option<Table> {
    let names: Vec<String> = g
        .replicates
        .iter()
        .flat_map(|r| &r.adaptive)
        .find(|p| !p.attacks.is_empty())?
        .attacks
        .iter()
        .map(|a| a.0.clone())
        .collect();
    let mut header = vec![
        "method".to_string(),
        "pruned".into(),
        "seeds".into(),
        "clean".into(),
    ];
    header.extend(names.iter().cloned());
    let n = g.replicates.len();
    let row = |label: String, pruned: String, pts: &[AdaptivePoint]| -> Vec<String> {
        let mut v = vec![label, pruned, format!("{}/{n}", pts.len())];
        v.push(summarize(&pts.iter().map(|p| p.clean).collect::<Vec<_>>()).f4());
        for name in &names {
            let acc: Vec<f64> = pts
                .iter()
                .filter_map(|p| p.attacks.iter().find(|a| &a.0 == name).map(|a| a.1))
                .collect();
            v.push(summarize(&acc).f4());
        }
        v
    };
    let mut rows = Vec::new();
    for m in std::iter::once("none".to_string()).chain(g.methods()) {
        let pts: Vec<AdaptivePoint> = g.adaptive_at_best(&m).into_iter().flatten().collect();
        if pts.is_empty() {
            continue;
        }
        let label = if m == "none" {
            m.clone()
        } else {
            format!("{m} (best)")
        };
        let ratio = summarize(
            &pts.iter()
                .map(|p| crate::prune::Ratio::parse(&p.ratio).map_or(0.0, |r| r.value()))
                .collect::<Vec<_>>(),
        );
        rows.push(row(label, format!("{:.0}%", ratio.mean * 100.0), &pts));
        if m == "none" {
            continue;
        }
        // Ratios every replicate evaluated for this method: the grid.
        let Some(first) = g.replicates.first() else {
            continue;
        };
        let mut grid: Vec<&String> = first
            .adaptive
            .iter()
            .filter(|p| p.method == m && p.grid)
            .map(|p| &p.ratio)
            .collect();
        grid.sort_by(|a, b| {
            let v = |x: &str| crate::prune::Ratio::parse(x).map_or(0.0, |r| r.value());
            v(a).total_cmp(&v(b))
        });
        grid.dedup();
        for q in grid {
            let pts: Vec<AdaptivePoint> = g
                .replicates
                .iter()
                .filter_map(|r| {
                    r.adaptive
                        .iter()
                        .find(|p| p.method == m && &p.ratio == q)
                        .cloned()
                })
                .collect();
            if pts.len() == n {
                rows.push(row(
                    m.clone(),
                    format!(
                        "{:.0}%",
                        crate::prune::Ratio::parse(q).map_or(f64::NAN, |r| r.value() * 100.0)
                    ),
                    &pts,
                ));
            }
        }
    }
    Some((header, rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    fn row(method: &str, ratio: &str, clean: f64, noisy: [f64; 2]) -> Row {
        fixtures::row("all", method, ratio, clean, &noisy)
    }

    /// A replicate whose act rows rise with the ratio (best at `best`, the
    /// highest ratio at the 0.97 threshold) and whose two random masks
    /// collapse at 0.8; `d` shifts every accuracy.
    fn replicate(best: &str, d: f64) -> Replicate {
        let s = fixtures::settings(&["act", "random:1", "random:2"], &["all"], 2);
        let act_clean = |r: &str| {
            if r == best {
                0.975
            } else if r == "0.8" {
                0.9
            } else {
                0.98
            }
        };
        let mut rows = Vec::new();
        for (q, up) in [("0", 0.0), ("0.5", 0.1), ("0.8", 0.2)] {
            rows.push(row(
                "act",
                q,
                act_clean(q) + d,
                [0.3 + up + d, 0.5 + up + d],
            ));
        }
        for (m, e) in [("random:1", -0.01), ("random:2", 0.01)] {
            rows.push(row(m, "0", 0.98 + d, [0.3 + d, 0.5 + d]));
            rows.push(row(m, "0.5", 0.8 + d + e, [0.2 + d + e, 0.3 + d + e]));
            rows.push(row(m, "0.8", 0.2 + d + e, [0.1 + d + e, 0.1 + d + e]));
        }
        fixtures::replicate(&s, &rows, 0.97)
    }

    #[test]
    fn pixel_pruning_has_no_random_weight_control() {
        assert!(has_random_control("act") && has_random_control("combined"));
        assert!(!has_random_control("act-inputs") && !has_random_control("random"));
    }

    #[test]
    fn tables_over_seeds_carry_random_pruning_at_each_methods_ratio() {
        let g = Group {
            dataset: "mnist".into(),
            model: "lq".into(),
            head: "lq".into(),
            replicates: vec![replicate("0.5", 0.0), replicate("0.5", 0.02)],
        };
        let (_, rows) = best_table(&g);
        let labels: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(labels, ["none", "act", "random", "random at act's ratio"]);
        // act's best is 50% in both seeds (80% costs clean accuracy);
        // random's own best is 0%, and at act's ratio it is the mean of
        // its two masks there, 0.80 and 0.82 clean over the seeds.
        assert_eq!(rows[1][1], "50%");
        assert_eq!(rows[2][1], "0%");
        assert_eq!(rows[3][1], "50%");
        assert_eq!(rows[3][2], "2/2");
        // Sample sd of 0.80 and 0.82 is 0.02 / sqrt 2.
        let t = crate::report::stats::t975(1) * (0.02 / 2f64.sqrt()) / 2f64.sqrt();
        assert_eq!(rows[3][3], format!("{:.4} ± {:.4}", 0.81, t));
        // Its lift (mean noisy 0.25 + d against 0.4 + d) is in the raised
        // table too, with no noise raised by 10 points.
        let (_, raised) = raised_table(&g);
        let last = raised.last().unwrap();
        assert_eq!(last[0], "random at act's ratio");
        assert_eq!(&last[1..3], ["0/2", "0/2"]);
        assert!(last[3].starts_with("-15.0 (95% CI"), "{}", last[3]);
        // Once act's best moves to 80% in one seed, the control follows it.
        let g = Group {
            replicates: vec![replicate("0.5", 0.0), replicate("0.8", 0.0)],
            ..g
        };
        let (_, rows) = best_table(&g);
        assert_eq!(rows[3][1], "65% (50-80%)");
    }
}
