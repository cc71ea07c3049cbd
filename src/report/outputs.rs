//! What a run's stages left, read back for the report: per model its
//! training record, noise suite and noise files, attacks (and their
//! gradient-masking checks) and sweep folders.
//! Missing stages read as `None`, so a partial run still has a report.

use crate::attack::masking::MaskingReport;
use crate::attack::noise_file::Noise;
use crate::attack::suite::SuiteReport;
use crate::error::Result;
use crate::experiment::sweep::results::Run;
use crate::experiment::work::{self, AttacksRecord, TrainRecord};
use crate::report::masking::PointChecks;
use crate::report::replicates::AdaptivePoint;
use std::path::{Path, PathBuf};

/// What one model's stages left in the run.
pub(super) struct ModelOutputs {
    pub name: String,
    pub train: Option<TrainRecord>,
    pub suite: Option<SuiteReport>,
    pub noises: Vec<Noise>,
    pub attacks: Option<AttacksRecord>,
    pub sweep: Option<Run>,
    pub per_layer: Option<Run>,
    /// Its adaptive evaluation (the `adaptive-M` stage), empty without one.
    pub adaptive: Vec<AdaptivePoint>,
    /// The gradient-masking checks of the `attacks-M` stage, if run.
    pub checks: Option<MaskingReport>,
    /// The adaptive points' gradient-masking checks, in row order.
    pub adaptive_checks: Vec<PointChecks>,
}

pub(super) fn opt_json<T: for<'de> serde::Deserialize<'de>>(p: &Path) -> Result<Option<T>> {
    if p.exists() {
        work::read_json(p).map(Some)
    } else {
        Ok(None)
    }
}

fn opt_run(p: &Path) -> Result<Option<Run>> {
    if p.join("sweep.json").exists() {
        let r = Run::load(p)?;
        Ok((!r.rows.is_empty()).then_some(r))
    } else {
        Ok(None)
    }
}

pub(super) fn load_model_outputs(run: &Path, name: &str) -> Result<ModelOutputs> {
    let suite: Option<SuiteReport> = opt_json(&work::noise_dir(run, name).join("suite.json"))?;
    let mut noises = Vec::new();
    for n in suite.iter().flat_map(|s| &s.noises) {
        let file = n.file.file_name().map(PathBuf::from).unwrap_or_default();
        noises.push(Noise::load(&work::noise_dir(run, name).join(file))?);
    }
    Ok(ModelOutputs {
        name: name.into(),
        train: opt_json(&run.join(format!("train-{name}")).join("train.json"))?,
        suite,
        noises,
        attacks: opt_json(&run.join(format!("attacks-{name}")).join("attacks.json"))?,
        sweep: opt_run(&run.join(format!("sweep-{name}")))?,
        per_layer: opt_run(&run.join(format!("per-layer-{name}")))?,
        adaptive: adaptive_points(&run.join(format!("adaptive-{name}")))?,
        checks: opt_json(&run.join(format!("attacks-{name}")).join("checks.json"))?,
        adaptive_checks: adaptive_checks(&run.join(format!("adaptive-{name}")))?,
    })
}

/// The rows of an `adaptive-M` folder that hold gradient-masking checks.
fn adaptive_checks(dir: &Path) -> Result<Vec<PointChecks>> {
    if !dir.join("adaptive.json").exists() {
        return Ok(Vec::new());
    }
    let f = crate::experiment::adaptive::load(dir)?;
    Ok(f.rows
        .into_iter()
        .filter_map(|r| {
            r.checks.map(|report| PointChecks {
                method: r.method,
                ratio: r.ratio,
                attacks: r.attacks,
                report,
            })
        })
        .collect())
}

/// The points of an `adaptive-M` folder, random masks averaged into one
/// `random` point per ratio (as sweeps' random rows are in the report).
fn adaptive_points(dir: &Path) -> Result<Vec<AdaptivePoint>> {
    if !dir.join("adaptive.json").exists() {
        return Ok(Vec::new());
    }
    let f = crate::experiment::adaptive::load(dir)?;
    let mut out: Vec<(AdaptivePoint, usize)> = Vec::new();
    for r in &f.rows {
        let method = if r.method.starts_with("random") {
            "random".to_string()
        } else {
            r.method.clone()
        };
        match out
            .iter_mut()
            .find(|(p, _)| p.method == method && p.ratio == r.ratio)
        {
            Some((p, k)) => {
                // Running sums, divided below.
                p.clean += r.clean;
                for (a, b) in p.transfer.iter_mut().zip(&r.transfer) {
                    *a += b;
                }
                for (a, b) in p.adaptive.iter_mut().zip(&r.adaptive) {
                    *a += b;
                }
                for (a, b) in p.attacks.iter_mut().zip(&r.attacks) {
                    a.1 += b.robust_accuracy;
                }
                *k += 1;
            }
            None => out.push((
                AdaptivePoint {
                    method,
                    ratio: r.ratio.clone(),
                    clean: r.clean,
                    transfer: r.transfer.clone(),
                    adaptive: r.adaptive.clone(),
                    attacks: r
                        .attacks
                        .iter()
                        .map(|a| (a.attack.clone(), a.robust_accuracy))
                        .collect(),
                    grid: r.reason.iter().any(|x| x == "grid"),
                },
                1,
            )),
        }
    }
    Ok(out
        .into_iter()
        .map(|(mut p, k)| {
            let k = k as f64;
            p.clean /= k;
            p.transfer.iter_mut().for_each(|v| *v /= k);
            p.adaptive.iter_mut().for_each(|v| *v /= k);
            p.attacks.iter_mut().for_each(|a| a.1 /= k);
            p
        })
        .collect())
}
