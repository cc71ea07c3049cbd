//! The best-performance table of a sweep (the article's): for each layer
//! group and method, the ratio with the highest mean noisy accuracy among
//! those whose clean accuracy stays >= a threshold, beside the unpruned
//! model (the ratio-0 row). Ties go to the smaller ratio.
//!
//! The threshold ([`threshold`]) is absolute (`[report] min_clean`, the
//! article's 98%) or relative to the model's unpruned accuracy
//! (`min_clean_drop`); an absolute one that leaves a model with no row for
//! any method falls back to the relative rule with [`FALLBACK_DROP`], and
//! says so.

use crate::experiment::config::ReportSpec;
use crate::experiment::sweep::{Row, Settings};

/// The drop below unpruned accuracy used when an absolute threshold leaves
/// a model with no rows: half a point.
pub const FALLBACK_DROP: f64 = 0.005;

/// How the lowest clean accuracy of a best table was chosen.
#[derive(Clone, Debug, PartialEq)]
pub enum Rule {
    /// The experiment's `min_clean`.
    Absolute,
    /// The unpruned accuracy less `drop` (`min_clean_drop`).
    Relative {
        /// The drop.
        drop: f64,
    },
    /// `min_clean` (`absolute`) left no rows, so the unpruned accuracy less
    /// `drop` is used.
    Fallback {
        /// The absolute threshold that left no rows.
        absolute: f64,
        /// The drop.
        drop: f64,
    },
}

/// The lowest clean accuracy of one model's best table, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    /// The value.
    pub value: f64,
    /// How it was chosen.
    pub rule: Rule,
}

impl Threshold {
    /// A phrase for the report: `>= 0.9800`, `>= 0.9812 (unpruned 0.9862
    /// less 0.005)`, or the fallback with its reason.
    pub fn describe(&self) -> String {
        match self.rule {
            Rule::Absolute => format!(">= {:.4}", self.value),
            Rule::Relative { drop } => {
                format!(">= {:.4} (the unpruned accuracy less {drop})", self.value)
            }
            Rule::Fallback { absolute, drop } => format!(
                ">= {:.4} (no ratio of any method kept clean accuracy >= {absolute}, so the unpruned accuracy less {drop} is used instead)",
                self.value
            ),
        }
    }
}

/// The threshold of a sweep's best table under the report options.
pub fn threshold(report: &ReportSpec, s: &Settings, rows: &[Row]) -> Threshold {
    let unpruned = rows.iter().find(|r| r.ratio == "0").map(|r| r.clean);
    let relative = |drop: f64, rule: Rule| Threshold {
        value: unpruned.map_or(report.min_clean, |u| u - drop),
        rule,
    };
    if let Some(drop) = report.min_clean_drop {
        return relative(drop, Rule::Relative { drop });
    }
    let abs = Threshold {
        value: report.min_clean,
        rule: Rule::Absolute,
    };
    let empty = table(s, rows, abs.value)
        .iter()
        .skip(1)
        .all(|b| b.row.is_none());
    if empty && unpruned.is_some() {
        relative(
            FALLBACK_DROP,
            Rule::Fallback {
                absolute: report.min_clean,
                drop: FALLBACK_DROP,
            },
        )
    } else {
        abs
    }
}

/// One line of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct Best {
    /// Layer group (`all` for whole-net sweeps).
    pub group: String,
    /// `none` for the unpruned model, else the method.
    pub method: String,
    /// The chosen row (None: no ratio keeps clean accuracy >= threshold).
    pub row: Option<Row>,
}

/// The table: the unpruned model first, then one line per group and method.
pub fn table(s: &Settings, rows: &[Row], min_clean: f64) -> Vec<Best> {
    let mut out = Vec::new();
    let zero = rows.iter().find(|r| r.ratio == "0");
    out.push(Best {
        group: "-".into(),
        method: "none".into(),
        row: zero.cloned(),
    });
    for g in &s.groups {
        for m in &s.methods {
            let mut best: Option<&Row> = None;
            for r in rows
                .iter()
                .filter(|r| r.group == g.name && &r.method == m && r.clean >= min_clean)
            {
                let better = match best {
                    None => true,
                    Some(b) => {
                        r.mean_noisy > b.mean_noisy
                            || (r.mean_noisy == b.mean_noisy && ratio_value(r) < ratio_value(b))
                    }
                };
                if better {
                    best = Some(r);
                }
            }
            out.push(Best {
                group: g.name.clone(),
                method: m.clone(),
                row: best.cloned(),
            });
        }
    }
    out
}

fn ratio_value(r: &Row) -> f64 {
    crate::prune::Ratio::parse(&r.ratio)
        .map(|x| x.value())
        .unwrap_or(f64::INFINITY)
}

fn pct(r: &Row) -> String {
    format!("{:.0}%", ratio_value(r) * 100.0)
}

/// The table as Markdown.
pub fn markdown(s: &Settings, t: &[Best], min_clean: f64) -> String {
    let mut out = format!(
        "Best pruning ratio per method (highest mean noisy accuracy with clean accuracy >= {min_clean}), {} on {} {} test images\n\n",
        s.arch, s.test_images, s.dataset
    );
    let groups = s.groups.len() > 1 || s.groups.first().is_some_and(|g| g.name != "all");
    out += if groups {
        "| group | method | pruned | clean |"
    } else {
        "| method | pruned | clean |"
    };
    for n in &s.noises {
        out += &format!(" {} |", n.name);
    }
    out += " mean noisy |\n|";
    let cols = 3 + groups as usize + s.noises.len() + 1;
    out += &"---|".repeat(cols);
    out.push('\n');
    for b in t {
        out += "|";
        if groups {
            out += &format!(" {} |", b.group);
        }
        match &b.row {
            Some(r) => {
                let ratio = if b.method == "none" {
                    "0%".into()
                } else {
                    pct(r)
                };
                out += &format!(" {} | {} | {:.4} |", b.method, ratio, r.clean);
                for v in &r.noisy {
                    out += &format!(" {v:.4} |");
                }
                out += &format!(" {:.4} |\n", r.mean_noisy);
            }
            None => {
                out += &format!(" {} | - | - |", b.method);
                out += &" - |".repeat(s.noises.len() + 1);
                out.push('\n');
            }
        }
    }
    out
}

/// The table as CSV.
pub fn csv(s: &Settings, t: &[Best]) -> String {
    let mut out = String::from("group,method,ratio,clean_accuracy");
    for n in &s.noises {
        out += &format!(",acc_{}", n.name);
    }
    out += ",mean_noisy_accuracy\n";
    for b in t {
        match &b.row {
            Some(r) => {
                let ratio = if b.method == "none" {
                    "0"
                } else {
                    r.ratio.as_str()
                };
                out += &format!("{},{},{},{:.4}", b.group, b.method, ratio, r.clean);
                for v in &r.noisy {
                    out += &format!(",{v:.4}");
                }
                out += &format!(",{:.4}\n", r.mean_noisy);
            }
            None => {
                out += &format!("{},{},,", b.group, b.method);
                out += &",".repeat(s.noises.len() + 1);
                out.push('\n');
            }
        }
    }
    out
}
