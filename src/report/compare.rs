//! Comparisons drawn from sweeps for the report: the best table as rows,
//! how far each method prunes before clean accuracy drops below the
//! threshold, the article's trend (noises on which the best ratio beats the
//! unpruned model) and the `lq` against `sce` verdict.

use super::outputs::ModelOutputs;
use crate::experiment::sweep::results::Run;
use crate::report::best;

/// Four decimals.
pub(super) fn f4(v: f64) -> String {
    format!("{v:.4}")
}

/// A ratio as a whole percentage (`0.81` -> `81%`).
pub(super) fn pct(ratio: &str) -> String {
    crate::prune::Ratio::parse(ratio)
        .map(|r| format!("{:.0}%", r.value() * 100.0))
        .unwrap_or_else(|_| ratio.into())
}

/// The best table of a sweep as rows (method, pruned, clean, each noise, mean).
pub(super) fn best_rows(r: &Run, min_clean: f64) -> Vec<Vec<String>> {
    best::table(&r.file.settings, &r.rows, min_clean)
        .iter()
        .map(|b| match &b.row {
            Some(row) => {
                let mut v = vec![
                    b.method.clone(),
                    if b.method == "none" {
                        "0%".into()
                    } else {
                        pct(&row.ratio)
                    },
                    f4(row.clean),
                ];
                v.extend(row.noisy.iter().map(|&x| f4(x)));
                v.push(f4(row.mean_noisy));
                v
            }
            None => {
                let mut v = vec![b.method.clone(), "-".into(), "-".into()];
                v.extend(std::iter::repeat_n(
                    "-".to_string(),
                    r.file.settings.noises.len() + 1,
                ));
                v
            }
        })
        .collect()
}

/// The largest ratio of `method` whose clean accuracy stays >= `min_clean`
/// (every smaller ratio too), as a percentage.
pub(super) fn resilience(r: &Run, method: &str, min_clean: f64) -> f64 {
    let mut rows: Vec<_> = r
        .rows
        .iter()
        .filter(|x| x.method == method && x.group == "all")
        .filter_map(|x| {
            crate::prune::Ratio::parse(&x.ratio)
                .ok()
                .map(|q| (q.value(), x.clean))
        })
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut last = f64::NAN;
    for (q, c) in rows {
        if c < min_clean {
            break;
        }
        last = q * 100.0;
    }
    last
}

/// The article's trend, checked on one sweep: for each method's best ratio,
/// under how many noises the pruned model beats the unpruned one.
pub(super) fn trend(r: &Run, min_clean: f64) -> String {
    let t = best::table(&r.file.settings, &r.rows, min_clean);
    let Some(zero) = t.first().and_then(|b| b.row.as_ref()) else {
        return "No unpruned (ratio 0) row: nothing to compare with.".into();
    };
    let parts: Vec<String> = t
        .iter()
        .skip(1)
        .map(|b| match &b.row {
            Some(x) => {
                let up = x.noisy.iter().zip(&zero.noisy).filter(|(a, z)| a > z).count();
                format!(
                    "{} at {} is more accurate than the unpruned model under {up} of {} noises (clean {})",
                    b.method,
                    pct(&x.ratio),
                    x.noisy.len(),
                    f4(x.clean)
                )
            }
            None => format!("{}: no ratio keeps clean accuracy >= {min_clean}", b.method),
        })
        .collect();
    format!("{}.", parts.join("; "))
}

/// One sentence on which head is more resilient to pruning and more robust.
pub(super) fn verdict(
    swept: &[(&ModelOutputs, &crate::experiment::config::ModelSpec, f64)],
) -> String {
    // The first model of each head, with its threshold.
    let mut by_head: Vec<(&str, &Run, f64)> = Vec::new();
    for (m, spec, min_clean) in swept {
        if let Some(r) = &m.sweep
            && !by_head.iter().any(|(h, _, _)| *h == spec.head)
        {
            by_head.push((spec.head.as_str(), r, *min_clean));
        }
    }
    let Some(methods) = by_head
        .first()
        .map(|(_, r, _)| r.file.settings.methods.clone())
    else {
        return String::new();
    };
    let mut wins: Vec<(&str, usize)> = by_head.iter().map(|(h, _, _)| (*h, 0)).collect();
    for m in &methods {
        let best = by_head
            .iter()
            .enumerate()
            .map(|(k, (_, r, min_clean))| (k, resilience(r, m, *min_clean)))
            .filter(|(_, v)| !v.is_nan())
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((k, _)) = best {
            wins[k].1 += 1;
        }
    }
    let unpruned = |r: &Run| {
        r.rows
            .iter()
            .find(|x| x.ratio == "0")
            .map(|x| x.mean_noisy)
            .unwrap_or(f64::NAN)
    };
    let robust = by_head
        .iter()
        .max_by(|a, b| unpruned(a.1).total_cmp(&unpruned(b.1)))
        .map(|(h, _, _)| *h)
        .unwrap_or("-");
    let counts: Vec<String> = wins
        .iter()
        .map(|(h, n)| format!("{h} for {n} of {} methods", methods.len()))
        .collect();
    format!(
        "Prunes furthest with clean accuracy at or above its threshold (ties to the later model): {}. Highest mean accuracy under the noises unpruned: {robust}.",
        counts.join(", ")
    )
}
