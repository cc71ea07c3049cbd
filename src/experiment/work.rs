//! What each stage does, through the same library functions the CLI
//! commands call, and where it writes (`RUN/<stage id>/…`). Stages that
//! already resume (training checkpoints, noise checkpoints, sweep rows)
//! are run with resume on, so an interrupted stage continues inside.

use super::config::Experiment;
use super::stage::{Kind, Stage};
use super::sweep::run::{self as sweep_run, SweepSpec};
use crate::attack::robustness::{self, AttackEval};
use crate::attack::suite::{self, Suite};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::loader;
use crate::model::{Model, eval, init};
use crate::prune::Ratio;
use crate::train::{self, TrainIo};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The trained model of model `name`.
pub fn model_file(run: &Path, name: &str) -> PathBuf {
    run.join(format!("train-{name}")).join("model.safetensors")
}

/// The noise folder of model `name`.
pub fn noise_dir(run: &Path, name: &str) -> PathBuf {
    run.join(format!("noise-{name}"))
}

/// The decoupled form of model `name` (the `decouple-M` stage).
pub fn decoupled_file(run: &Path, name: &str) -> PathBuf {
    run.join(format!("decouple-{name}"))
        .join("model.safetensors")
}

/// `train-M/train.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainRecord {
    /// Model name in the experiment.
    pub name: String,
    /// Architecture description.
    pub arch: String,
    /// lq or sce.
    pub head: String,
    /// Parameters.
    pub params: usize,
    /// Clean test accuracy.
    pub test_accuracy: f64,
    /// The training settings.
    pub config: crate::train::TrainConfig,
    /// Seconds of training in the last (finishing) process.
    pub seconds: f64,
    /// Model selection on held-out training images, if asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<crate::train::Selection>,
}

/// `attacks-M/attacks.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AttacksRecord {
    /// Clean accuracy on the attacked images.
    pub clean_accuracy: f64,
    /// One per attack.
    pub attacks: Vec<AttackEval>,
}

fn write_json(path: &Path, v: &impl Serialize) -> Result<()> {
    let s = serde_json::to_string_pretty(v).map_err(|e| Error::Other(e.to_string()))?;
    crate::io::write_atomic(path, (s + "\n").as_bytes())
}

/// Read a JSON file written by a stage.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::file(path, e.to_string()))
}

/// Run `stage` of `exp` into `run`; `progress(msg)` reports inside the stage.
pub fn run_stage(
    exp: &Experiment,
    stage: &Stage,
    run: &Path,
    data: Option<&Dataset>,
    progress: &mut dyn FnMut(String),
) -> Result<()> {
    let dir = run.join(&stage.id);
    match stage.kind {
        Kind::Sparse => return sparse(exp, &dir, progress),
        Kind::Report => return crate::report::write(run).map(|_| ()),
        _ => {}
    }
    let insts = exp.instances();
    let (Some(data), Some(inst)) = (data, stage.model.and_then(|i| insts.get(i))) else {
        return Err(Error::Other(format!(
            "stage {} needs the dataset and a model",
            stage.id
        )));
    };
    let m = &inst.spec;
    match stage.kind {
        Kind::Train => {
            let mut arch = m.arch()?;
            arch.classes = data.classes;
            let mut model = Model::new(arch, m.head()?);
            init::init(&mut model, m.seed);
            let cfg = m.train_config();
            let out = model_file(run, &m.name);
            let io = TrainIo {
                checkpoint: Some(dir.join("model.ckpt.safetensors")),
                checkpoint_every: 1000,
                resume: true,
                log: Some(dir.join("model.log.csv")),
                eval_every: 500,
                keep_masks: None,
            };
            let s = train::train(&mut model, data, &cfg, &io, |s| {
                if s.step % 50 == 0 || s.step == s.steps {
                    progress(format!("step {}/{} loss {:.4}", s.step, s.steps, s.loss));
                }
            })?;
            let test = eval::evaluate(&mut model, &data.test);
            train::stamp_meta(&mut model, &data.name, &cfg, test.accuracy);
            if let Some(sel) = &s.selection {
                sel.stamp(&mut model);
            }
            loader::save(&model, &out)?;
            write_json(
                &dir.join("train.json"),
                &TrainRecord {
                    name: m.name.clone(),
                    arch: model.describe(),
                    head: model.head.name().into(),
                    params: model.param_count(),
                    test_accuracy: test.accuracy,
                    config: cfg,
                    seconds: s.seconds,
                    selection: s.selection,
                },
            )
        }
        Kind::Noise => {
            let s = noise_suite(exp, stage, run)?;
            let report = suite::train_suite(&s, data, |e| {
                if let suite::Event::Step { done, total, msg } = e
                    && (done % 20 == 0 || done == total)
                {
                    progress(format!("step {done}/{total} fooling {msg}"));
                }
            })?;
            write_json(&dir.join("suite.json"), &report)
        }
        Kind::Attacks => {
            let Some(a) = &inst.attacks(exp) else {
                return Err(Error::Other("attacks stage without [attacks]".into()));
            };
            let mut model = loader::load(&model_file(run, &m.name))?;
            let n = a.images.unwrap_or(data.test.len()).min(data.test.len());
            let pred = eval::predict(&mut model, &data.test);
            let clean_accuracy = robustness::accuracy(&pred[..n], &data.test.labels[..n]);
            let mut attacks = Vec::new();
            for at in a.attacks()? {
                progress(at.describe());
                attacks.push(robustness::evaluate_attack(
                    &mut model, &data.test, &at, a.images,
                ));
            }
            write_json(
                &dir.join("attacks.json"),
                &AttacksRecord {
                    clean_accuracy,
                    attacks,
                },
            )?;
            if let Some(o) = a.check_options()? {
                progress(format!("gradient-masking checks at eps {}", o.eps));
                let r = crate::attack::masking::run_checks_on(&mut model, &data.test, &o, None);
                write_json(&dir.join("checks.json"), &r)?;
            }
            Ok(())
        }
        Kind::Decouple => {
            let model = loader::load(&model_file(run, &m.name))?;
            let f = crate::sparse::decouple::decouple(&model)?;
            progress(f.meta.get("arch_description").cloned().unwrap_or_default());
            f.save(&decoupled_file(run, &m.name))
        }
        Kind::Sweep | Kind::PerLayer => {
            let spec = sweep_spec(exp, stage, run)?;
            sweep_run::run(&spec, data, |done, total, row| {
                progress(format!(
                    "{done}/{total} {} {} {}: clean {:.4} noisy {:.4}",
                    row.group, row.method, row.ratio, row.clean, row.mean_noisy
                ))
            })
            .map(|_| ())
        }
        Kind::Adaptive => adaptive(exp, inst, run, &dir, data, progress),
        Kind::Sparse | Kind::Report => unreachable!("handled above"),
    }
}

/// The suite a `noise-M` stage trains, into `RUN/<id>` (a Slurm shard job
/// keeps some of its noises and changes its `out`). Noises already
/// finished in `out` with the same settings are kept (see
/// [`suite::train_suite`]).
pub fn noise_suite(exp: &Experiment, stage: &Stage, run: &Path) -> Result<Suite> {
    let insts = exp.instances();
    let inst = stage
        .model
        .and_then(|i| insts.get(i))
        .filter(|_| stage.kind == Kind::Noise)
        .ok_or_else(|| Error::input(format!("stage {} is not a noise suite", stage.id)))?;
    let Some(n) = &inst.noise(exp) else {
        return Err(Error::Other("noise stage without [noise]".into()));
    };
    Ok(Suite {
        model: model_file(run, &inst.spec.name),
        noises: n.configs()?,
        group: n.group,
        out: run.join(&stage.id),
        checkpoint_every: 100,
        resume: true,
    })
}

/// The sweep a `sweep-M` or `per-layer-M` stage runs, into `RUN/<id>`
/// (a Slurm shard job changes its `shard` and `out`).
pub fn sweep_spec(exp: &Experiment, stage: &Stage, run: &Path) -> Result<SweepSpec> {
    let insts = exp.instances();
    let inst = stage
        .model
        .and_then(|i| insts.get(i))
        .filter(|_| matches!(stage.kind, Kind::Sweep | Kind::PerLayer))
        .ok_or_else(|| Error::input(format!("stage {} is not a sweep", stage.id)))?;
    let m = &inst.spec;
    let Some(sec) = &inst.sweep(exp, stage.kind == Kind::PerLayer) else {
        return Err(Error::Other("sweep stage without its section".into()));
    };
    Ok(SweepSpec {
        model: if sec.decoupled {
            decoupled_file(run, &m.name)
        } else {
            model_file(run, &m.name)
        },
        methods: sec.methods()?,
        ratios: sec.ratios()?,
        per_layer: stage.kind == Kind::PerLayer,
        prune: sec.prune_settings()?,
        noise: vec![noise_dir(run, &m.name)],
        images: sec.images,
        shard: None,
        out: run.join(&stage.id),
    })
}

/// The sparse benchmarks of `[sparse]`.
fn sparse(exp: &Experiment, dir: &Path, progress: &mut dyn FnMut(String)) -> Result<()> {
    let Some(sp) = &exp.sparse else {
        return Err(Error::Other("sparse stage without [sparse]".into()));
    };
    let mut all = Vec::new();
    for a in &sp.arch {
        let m = crate::bench::model(a, crate::nn::Head::Sce)?;
        let subject = crate::sparse::bench::Subject::new(a, m)?;
        all.extend(crate::sparse::bench::run(
            &subject,
            &sp.sparsities,
            &sp.batches,
            sp.reps,
            |r| {
                progress(format!(
                    "{} {} {:.2} x{}",
                    r.model, r.layer, r.sparsity, r.batch
                ))
            },
        )?);
    }
    write_json(&dir.join("sparse.json"), &all)
}

/// The `adaptive-M` stage: the points of `[adaptive]` (each method's best
/// ratio of `sweep-M`, and the grid), run by [`super::adaptive::run`].
fn adaptive(
    exp: &Experiment,
    inst: &super::config::Instance,
    run: &Path,
    dir: &Path,
    data: &Dataset,
    progress: &mut dyn FnMut(String),
) -> Result<()> {
    use super::adaptive::{AdaptiveSpec, Event, Point};
    use crate::attack::masking::CheckOptions;
    let m = &inst.spec;
    let (Some(a), Some(sw), Some(n)) = (&exp.adaptive, &inst.sweep(exp, false), &inst.noise(exp))
    else {
        return Err(Error::Other(
            "adaptive stage without [adaptive], [sweep] and [noise]".into(),
        ));
    };
    let methods = a.methods(sw)?;
    let mut points = Vec::new();
    if a.best {
        // The best ratios of the report's best table: the same threshold
        // rule, and random masks averaged into one `random` whose best
        // ratio every random method of [adaptive] is evaluated at.
        let sweep = super::sweep::results::Run::load(&run.join(format!("sweep-{}", m.name)))?;
        let (settings, rows, _) =
            crate::report::replicates::merge_random(&sweep.file.settings, &sweep.rows);
        let t = crate::report::best::threshold(&exp.report, &settings, &rows);
        let table = crate::report::best::table(&settings, &rows, t.value);
        for b in table.iter().filter(|b| b.method != "none") {
            let Some(row) = &b.row else { continue };
            let ratio = Ratio::parse(&row.ratio)?;
            if b.method == "random" {
                for &method in methods.iter().filter(|x| x.is_random()) {
                    points.push(Point::new(method, ratio, "best"));
                }
            } else {
                let method = crate::prune::Method::parse(&b.method)?;
                if methods.contains(&method) {
                    points.push(Point::new(method, ratio, "best"));
                }
            }
        }
    }
    for r in a.ratios()? {
        for &method in &methods {
            points.push(Point::new(method, r, "grid"));
        }
    }
    let attacks = match (&inst.attacks(exp), a.attacks) {
        (Some(at), true) => at.attacks()?,
        _ => vec![],
    };
    let spec = AdaptiveSpec {
        model: if sw.decoupled {
            decoupled_file(run, &m.name)
        } else {
            model_file(run, &m.name)
        },
        noise: vec![noise_dir(run, &m.name)],
        points,
        prune: sw.prune_settings()?,
        attacks,
        attack_images: a.images.or(inst.attacks(exp).and_then(|x| x.images)),
        checks: match (&inst.attacks(exp), a.attacks) {
            (Some(at), true) => at.check_options()?.map(|o| CheckOptions {
                images: at.checks_images.or(a.images).or(at.images),
                ..o
            }),
            _ => None,
        },
        group: n.group,
        sparse: a.sparse,
        out: dir.to_path_buf(),
    };
    let mut point = String::new();
    super::adaptive::run(&spec, data, |e| match e {
        Event::Point { index, total, name } => {
            point = format!("{index}/{total} {name}");
            progress(point.clone());
        }
        Event::Noise(suite::Event::Step { done, total, msg }) => {
            if done % 20 == 0 || done == total {
                progress(format!("{point}: noise step {done}/{total} fooling {msg}"));
            }
        }
        Event::Noise(_) => {}
        Event::Attack(at) => progress(format!("{point}: {at}")),
        Event::Row(r) => progress(format!(
            "{point}: clean {:.4} transfer {:.4} adaptive {:.4}",
            r.clean, r.transfer_mean, r.adaptive_mean
        )),
    })
    .map(|_| ())
}
