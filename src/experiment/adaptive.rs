//! Adaptive evaluation of pruned networks: for chosen (method, ratio)
//! points, prune the model exactly as a sweep does ([`Pruner`] with the
//! sweep's scope, offset, layers and score images), train every noise of
//! the study afresh against the *pruned* network with the recipe read from
//! the transferred noise files (target, limit, steps, optimizer, lr, batch,
//! seed), and record accuracy under the adaptive noise beside accuracy
//! under the transferred one, with per-example attacks
//! ([`Attack`]) against the pruned network.
//!
//! A run folder `OUT` holds `adaptive.json` (settings and all rows),
//! `adaptive.jsonl` (one row per finished point, rewritten atomically as
//! each finishes), `adaptive.csv`, and per point `OUT/<method>-<ratio>/`:
//! `model.safetensors` (the pruned model, masks included, as `parana
//! prune` writes it) and `noise/` (ordinary noise files whose metadata
//! also names the pruned model). The unpruned point (`none`, ratio 0)
//! reuses the transferred noises: they were trained against it.
//!
//! A rerun skips recorded points; noise training resumes from its
//! checkpoints. Noise gradients go through the sparse engine where the
//! pruned layers are sparse enough ([`crate::sparse::MAX_DENSITY`]); all
//! accuracies are measured on the model as loaded from its file, so
//! `parana eval --model P --noise N` gives exactly the recorded numbers.

use crate::attack::Attack;
use crate::attack::masking::{self, CheckOptions, MaskingReport};
use crate::attack::noise_file::{self, Noise, sha256_file};
use crate::attack::robustness::{self, AttackEval};
use crate::attack::suite::{self, Extras, Suite};
use crate::attack::universal::{NoiseConfig, Optimizer};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::experiment::sweep::NoiseInfo;
use crate::experiment::sweep::run::input_stats;
use crate::loader;
use crate::model::Model;
use crate::prune::{self, InputStats, Method, PruneSettings, Pruner, Ratio, scores};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Value of `format` in `adaptive.json`.
pub const FORMAT: &str = "parana-adaptive";

/// One (method, ratio) to evaluate; `method: None` is the unpruned model.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// Pruning method (None: unpruned).
    pub method: Option<Method>,
    /// Ratio.
    pub ratio: Ratio,
    /// Why it is evaluated: `best`, `grid`, `given`, `unpruned`.
    pub reason: Vec<String>,
}

impl Point {
    /// A point; ratio 0 of any method is the unpruned model.
    pub fn new(method: Method, ratio: Ratio, reason: &str) -> Point {
        Point {
            method: (ratio != Ratio::ZERO).then_some(method),
            ratio,
            reason: vec![reason.to_string()],
        }
    }

    /// The unpruned model.
    pub fn unpruned() -> Point {
        Point {
            method: None,
            ratio: Ratio::ZERO,
            reason: vec!["unpruned".into()],
        }
    }

    /// `none`, `act`, ...
    pub fn method_name(&self) -> String {
        self.method.map_or("none".into(), |m| m.name().into_owned())
    }

    /// Its folder name, `act-0.86`.
    pub fn name(&self) -> String {
        format!("{}-{}", self.method_name(), self.ratio)
    }

    fn key(&self) -> (String, String) {
        (self.method_name(), self.ratio.to_string())
    }
}

/// `points` with the unpruned point first and repeats merged (their
/// reasons joined).
pub fn dedup(points: &[Point]) -> Vec<Point> {
    let mut out = vec![Point::unpruned()];
    for p in points {
        match out.iter_mut().find(|q| q.key() == p.key()) {
            Some(q) => {
                for r in &p.reason {
                    if !q.reason.contains(r) {
                        q.reason.push(r.clone());
                    }
                }
            }
            None => out.push(p.clone()),
        }
    }
    out
}

/// Everything one adaptive evaluation needs.
#[derive(Clone, Debug)]
pub struct AdaptiveSpec {
    /// The unpruned model file.
    pub model: PathBuf,
    /// The transferred noise files or folders (trained against `model`).
    pub noise: Vec<PathBuf>,
    /// The points (the unpruned one is always added).
    pub points: Vec<Point>,
    /// Layers pruned (None: all), scope, offset and score images.
    pub prune: PruneSettings,
    /// Per-example attacks on each point.
    pub attacks: Vec<Attack>,
    /// Attack only the first N test images.
    pub attack_images: Option<usize>,
    /// Gradient-masking checks on each point (pruned points transfer from
    /// the unpruned model), on their own first N test images.
    pub checks: Option<CheckOptions>,
    /// Noises trained together in one stacked batch.
    pub group: usize,
    /// Train the noises through the sparse engine where it is faster.
    pub sparse: bool,
    /// The run folder.
    pub out: PathBuf,
}

/// What determines the rows (`adaptive.json`): a run resumes only with
/// identical settings (points may be added).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// SHA-256 of the unpruned model file.
    pub model_sha256: String,
    /// Its architecture.
    pub arch: String,
    /// Dataset (test split).
    pub dataset: String,
    /// The transferred noises, in column order.
    pub noises: Vec<NoiseInfo>,
    /// Each noise's training recipe (as `NoiseConfig::resume_key`, then
    /// `steps=N`).
    pub recipes: Vec<String>,
    /// per-matrix, global or per-row.
    pub scope: String,
    /// Offset of combined.
    pub offset: String,
    /// Pruned layers (`all` or `0,2`).
    pub layers: String,
    /// train or test.
    pub score_data: String,
    /// Number of score images.
    pub score_images: usize,
    /// Seed choosing them.
    pub seed: u64,
    /// The attacks (described).
    pub attacks: Vec<String>,
    /// Images attacked.
    pub attack_images: usize,
    /// The gradient-masking checks' settings (None: no checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<CheckOptions>,
    /// Weights per prunable layer of the unpruned model.
    pub layer_weights: Vec<usize>,
}

/// One evaluated point.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AdaptiveRow {
    /// Method (`none`: unpruned).
    pub method: String,
    /// Ratio as given.
    pub ratio: String,
    /// Why it was evaluated (`unpruned`, `best`, `grid`, `given`).
    pub reason: Vec<String>,
    /// Clean test accuracy.
    pub clean: f64,
    /// Accuracy under each transferred noise (settings order).
    pub transfer: Vec<f64>,
    /// Accuracy under each noise retrained against this network.
    pub adaptive: Vec<f64>,
    /// Fooling rate of each transferred noise.
    pub transfer_fooled: Vec<f64>,
    /// Fooling rate of each adaptive noise.
    pub adaptive_fooled: Vec<f64>,
    /// Mean of `transfer`.
    pub transfer_mean: f64,
    /// Mean of `adaptive`.
    pub adaptive_mean: f64,
    /// Mean over the noises of the lower of the two accuracies: the
    /// stronger attack per noise, the honest worst case (a retrained noise
    /// can come out weaker than the transferred one when the pruned
    /// network's gradients mislead the same recipe).
    #[serde(default)]
    pub worst_mean: f64,
    /// Robust accuracy under each attack.
    pub attacks: Vec<AttackEval>,
    /// The gradient-masking checks of this network, if asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<MaskingReport>,
    /// Weights left per prunable layer.
    pub remaining: Vec<usize>,
    /// The pruned model file (relative to the run folder; the unpruned
    /// point names the original file).
    pub model_file: String,
    /// The folder of its adaptive noises (likewise).
    pub noise_dir: String,
    /// Seconds spent on the point.
    pub seconds: f64,
}

/// `adaptive.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AdaptiveFile {
    /// [`FORMAT`].
    pub format: String,
    /// The unpruned model file as given.
    pub model: String,
    /// The settings.
    pub settings: Settings,
    /// Every recorded row.
    pub rows: Vec<AdaptiveRow>,
}

/// What the progress callback is told.
#[derive(Clone, Debug)]
pub enum Event {
    /// A point starts (`index` counts from 1 over the points to do).
    Point {
        /// Its position.
        index: usize,
        /// Points to do.
        total: usize,
        /// `act-0.86`.
        name: String,
    },
    /// Noise training inside the current point.
    Noise(suite::Event),
    /// An attack starts.
    Attack(String),
    /// A point is recorded.
    Row(Box<AdaptiveRow>),
}

/// What a call did.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Rows in the folder now.
    pub rows: usize,
    /// Rows computed by this call.
    pub new_rows: usize,
    /// Seconds spent.
    pub seconds: f64,
}

/// The training recipe of a noise file (as `parana noise` wrote it).
pub fn recipe(n: &Noise, path: &Path) -> Result<NoiseConfig> {
    let get = |k: &str| -> Result<&str> {
        n.meta.get(k).map(String::as_str).ok_or_else(|| {
            Error::file(
                path,
                format!(
                    "no '{k}' metadata: its training recipe is unknown (train it with parana noise)"
                ),
            )
        })
    };
    let bad = |k: &str| Error::file(path, format!("bad '{k}' metadata"));
    let c = NoiseConfig {
        target: n.target,
        limit: n.limit,
        steps: get("steps")?.parse().map_err(|_| bad("steps"))?,
        lr: get("lr")?.parse().map_err(|_| bad("lr"))?,
        optimizer: Optimizer::parse(get("optimizer")?)?,
        seed: get("seed")?.parse().map_err(|_| bad("seed"))?,
        batch: get("batch")?.parse().map_err(|_| bad("batch"))?,
    };
    c.validate(usize::MAX)
        .map_err(|e| Error::file(path, e.to_string()))?;
    Ok(c)
}

/// Mean over the noises of `min(transfer, adaptive)`.
fn worst_mean(transfer: &[f64], adaptive: &[f64]) -> f64 {
    let w: Vec<f64> = transfer
        .iter()
        .zip(adaptive)
        .map(|(a, b)| a.min(*b))
        .collect();
    mean(&w)
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

fn write_json(path: &Path, v: &impl Serialize) -> Result<()> {
    let s = serde_json::to_string_pretty(v).map_err(|e| Error::Other(e.to_string()))?;
    crate::io::write_atomic(path, (s + "\n").as_bytes())
}

/// Load the run folder `dir` (read-only).
pub fn load(dir: &Path) -> Result<AdaptiveFile> {
    let p = dir.join("adaptive.json");
    let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
    let f: AdaptiveFile = serde_json::from_str(&text)
        .map_err(|e| Error::file(&p, format!("not a parana adaptive file: {e}")))?;
    if f.format != FORMAT {
        return Err(Error::file(&p, "not a parana adaptive file"));
    }
    Ok(f)
}

fn read_rows(dir: &Path) -> Result<Vec<AdaptiveRow>> {
    crate::io::read_jsonl(&dir.join("adaptive.jsonl"))
}

/// The rows as CSV: method, ratio, reason, clean, the two means, then per
/// noise `transfer_<noise>` and `adaptive_<noise>` (accuracies) and the
/// fooling rates, `robust_<k>` per attack, `remaining_layer<k>`, seconds.
pub fn csv(s: &Settings, rows: &[AdaptiveRow]) -> String {
    let mut out = String::from("method,ratio,reason,clean_accuracy,transfer_mean,adaptive_mean");
    for pre in ["transfer", "adaptive", "transfer_fooled", "adaptive_fooled"] {
        for n in &s.noises {
            out += &format!(",{pre}_{}", n.name);
        }
    }
    for k in 0..s.attacks.len() {
        out += &format!(",robust_{k}");
    }
    for k in 0..s.layer_weights.len() {
        out += &format!(",remaining_layer{k}");
    }
    out += ",seconds\n";
    for r in rows {
        out += &format!(
            "{},{},{},{},{},{},{}",
            r.method,
            r.ratio,
            r.reason.join("+"),
            r.clean,
            r.transfer_mean,
            r.adaptive_mean,
            r.worst_mean
        );
        for v in [
            &r.transfer,
            &r.adaptive,
            &r.transfer_fooled,
            &r.adaptive_fooled,
        ] {
            for x in v {
                out += &format!(",{x}");
            }
        }
        for a in &r.attacks {
            out += &format!(",{}", a.robust_accuracy);
        }
        for k in &r.remaining {
            out += &format!(",{k}");
        }
        out += &format!(",{:.3}\n", r.seconds);
    }
    out
}

fn save_all(dir: &Path, f: &AdaptiveFile) -> Result<()> {
    crate::io::write_jsonl(&dir.join("adaptive.jsonl"), &f.rows)?;
    crate::io::write_atomic(
        &dir.join("adaptive.csv"),
        csv(&f.settings, &f.rows).as_bytes(),
    )?;
    write_json(&dir.join("adaptive.json"), f)
}

/// The pruning metadata `parana prune` writes, for `spec` at `p`.
fn pruning_meta(spec: &AdaptiveSpec, p: &Point, from_sha: &str) -> BTreeMap<String, String> {
    let needs = p.method.is_some_and(Method::needs_inputs);
    crate::prune::file::Record {
        method: p.method_name(),
        ratio: p.ratio,
        scope: spec.prune.scope,
        offset: spec.prune.offset,
        layers: spec.prune.layers.as_deref(),
        score_data: needs.then_some(spec.prune.score_data.as_str()),
        score_images: spec.prune.score_images,
        seed: spec.prune.seed,
        from_sha256: Some(from_sha.into()),
    }
    .meta()
}

/// Accuracy and fooling rate of `model` under each noise.
fn under(
    model: &mut Model,
    data: &Dataset,
    noises: &[Noise],
    clean: &robustness::Outputs,
) -> (Vec<f64>, Vec<f64>) {
    noises
        .iter()
        .map(|n| {
            let e = robustness::evaluate_noise(model, &data.test, n, clean);
            (e.accuracy, e.fooling_rate)
        })
        .unzip()
}

/// Run (or resume) the adaptive evaluation `spec` on `data`.
pub fn run(
    spec: &AdaptiveSpec,
    data: &Dataset,
    mut on_event: impl FnMut(Event),
) -> Result<Outcome> {
    if spec.attack_images == Some(0) {
        return Err(Error::input("--images must be at least 1"));
    }
    if spec.group == 0 {
        return Err(Error::input("--group must be at least 1"));
    }
    let mut model = loader::load(&spec.model)?;
    suite::check_model_fits(&model, &spec.model, data)?;
    spec.prune.check(scores::prunable_layers(&model).len())?;
    let model_sha = sha256_file(&spec.model)?;
    let paths = Noise::expand_paths(&spec.noise)?;
    let (mut noises, mut infos, mut configs) = (Vec::new(), Vec::new(), Vec::new());
    for p in &paths {
        let n = Noise::load(p)?;
        n.check_fits(p, &model, &data.name, data.classes)?;
        let c = recipe(&n, p)?;
        if configs
            .iter()
            .any(|o: &NoiseConfig| (o.target, o.limit) == (c.target, c.limit))
        {
            return Err(Error::file(
                p,
                format!(
                    "a second noise of target {} and limit {}",
                    c.target, c.limit
                ),
            ));
        }
        infos.push(NoiseInfo::of(p, &n)?);
        configs.push(c);
        noises.push(n);
    }
    let original = prune::original_weights(&model);
    let settings = Settings {
        model_sha256: model_sha.clone(),
        arch: model.describe(),
        dataset: data.name.clone(),
        noises: infos,
        recipes: configs
            .iter()
            .map(|c| format!("{} steps={}", c.resume_key(), c.steps))
            .collect(),
        scope: spec.prune.scope.name().into(),
        offset: spec.prune.offset.to_string(),
        layers: crate::prune::layers_name(spec.prune.layers.as_deref()),
        score_data: spec.prune.score_data.clone(),
        score_images: spec.prune.score_images,
        seed: spec.prune.seed,
        attacks: spec.attacks.iter().map(Attack::describe).collect(),
        attack_images: spec
            .attack_images
            .unwrap_or(data.test.len())
            .min(data.test.len()),
        checks: spec.checks.clone(),
        layer_weights: original.iter().map(Vec::len).collect(),
    };
    let _lock = crate::io::lock_dir(&spec.out)?;
    let mut f = if spec.out.join("adaptive.json").exists() {
        let old = load(&spec.out)?;
        if old.settings != settings {
            return Err(Error::file(
                &spec.out,
                "holds an adaptive evaluation made with other settings (model, noises, \
                 pruning or attacks); use another --out or the same settings to resume",
            ));
        }
        AdaptiveFile {
            rows: read_rows(&spec.out)?,
            ..old
        }
    } else {
        if !crate::io::holds_only_parana_files(&spec.out)? {
            return Err(Error::file(
                &spec.out,
                "exists, is not empty and holds no adaptive.json; choose another --out",
            ));
        }
        AdaptiveFile {
            format: FORMAT.into(),
            model: spec.model.display().to_string(),
            settings: settings.clone(),
            rows: Vec::new(),
        }
    };
    let points = dedup(&spec.points);
    // Points already recorded only gain the reasons asked now.
    let mut todo = Vec::new();
    for p in &points {
        match f
            .rows
            .iter_mut()
            .find(|r| (r.method.clone(), r.ratio.clone()) == p.key())
        {
            Some(r) => {
                for why in &p.reason {
                    if !r.reason.contains(why) {
                        r.reason.push(why.clone());
                    }
                }
            }
            None => todo.push(p.clone()),
        }
    }
    save_all(&spec.out, &f)?;
    let t0 = std::time::Instant::now();
    let needs_stats = todo
        .iter()
        .any(|p| p.method.is_some_and(Method::needs_inputs));
    let stats: Option<Vec<InputStats>> = needs_stats.then(|| {
        input_stats(
            &mut model,
            data,
            &spec.prune.score_data,
            spec.prune.score_images,
            spec.prune.seed,
        )
    });
    let mut pruners: Vec<(Method, Pruner)> = Vec::new();
    for (k, p) in todo.iter().enumerate() {
        on_event(Event::Point {
            index: k + 1,
            total: todo.len(),
            name: p.name(),
        });
        let tp = std::time::Instant::now();
        let row = match p.method {
            None => {
                let clean = robustness::outputs(&mut model, &data.test, None);
                let (transfer, transfer_fooled) = under(&mut model, data, &noises, &clean);
                let attacks = attack(&mut model, data, spec, &mut on_event);
                let checks = check(&mut model, data, spec, None, &mut on_event);
                AdaptiveRow {
                    method: p.method_name(),
                    ratio: p.ratio.to_string(),
                    reason: p.reason.clone(),
                    clean: robustness::accuracy(&clean.pred, &data.test.labels),
                    transfer_mean: mean(&transfer),
                    adaptive_mean: mean(&transfer),
                    worst_mean: mean(&transfer),
                    adaptive: transfer.clone(),
                    adaptive_fooled: transfer_fooled.clone(),
                    transfer,
                    transfer_fooled,
                    attacks,
                    checks,
                    remaining: settings.layer_weights.clone(),
                    model_file: spec.model.display().to_string(),
                    noise_dir: spec
                        .noise
                        .iter()
                        .map(|n| n.display().to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                    seconds: 0.0,
                }
            }
            Some(method) => {
                if !pruners.iter().any(|(m, _)| *m == method) {
                    // Seeded as the sweep's Sweeper is, so `random` prunes
                    // the very weights of the sweep's row.
                    let pr = Pruner::seeded(
                        &model,
                        method,
                        spec.prune.scope,
                        spec.prune.layers.as_deref(),
                        stats.as_deref(),
                        spec.prune.offset,
                        spec.prune.seed,
                    )?;
                    pruners.push((method, pr));
                }
                let Some((_, pruner)) = pruners.iter().find(|(m, _)| *m == method) else {
                    unreachable!("pushed above")
                };
                point(
                    spec,
                    data,
                    p,
                    &mut model,
                    &original,
                    pruner,
                    &model_sha,
                    &noises,
                    &configs,
                    &mut on_event,
                )?
            }
        };
        let row = AdaptiveRow {
            seconds: tp.elapsed().as_secs_f64(),
            ..row
        };
        f.rows.push(row.clone());
        save_all(&spec.out, &f)?;
        on_event(Event::Row(Box::new(row)));
        crate::interrupt::check(|| {
            format!(
                "adaptive evaluation stopped with {} points recorded in {} ({} to go); run \
                 the same command to continue",
                f.rows.len(),
                spec.out.display(),
                todo.len() - k - 1
            )
        })?;
    }
    Ok(Outcome {
        rows: f.rows.len(),
        new_rows: todo.len(),
        seconds: t0.elapsed().as_secs_f64(),
    })
}

fn attack(
    model: &mut Model,
    data: &Dataset,
    spec: &AdaptiveSpec,
    on_event: &mut impl FnMut(Event),
) -> Vec<AttackEval> {
    spec.attacks
        .iter()
        .map(|at| {
            on_event(Event::Attack(at.describe()));
            robustness::evaluate_attack(model, &data.test, at, spec.attack_images)
        })
        .collect()
}

/// The gradient-masking checks of `spec` on `model` (`source`: the
/// unpruned model, for the transfer check).
fn check(
    model: &mut Model,
    data: &Dataset,
    spec: &AdaptiveSpec,
    source: Option<&mut Model>,
    on_event: &mut impl FnMut(Event),
) -> Option<MaskingReport> {
    let o = spec.checks.as_ref()?;
    on_event(Event::Attack(format!(
        "gradient-masking checks at eps {}",
        o.eps
    )));
    Some(masking::run_checks_on(model, &data.test, o, source))
}

/// Prune, write, train the adaptive noises and measure one point; `model`
/// is left with its original weights.
#[allow(clippy::too_many_arguments)]
fn point(
    spec: &AdaptiveSpec,
    data: &Dataset,
    p: &Point,
    model: &mut Model,
    original: &[Vec<f32>],
    pruner: &Pruner,
    model_sha: &str,
    noises: &[Noise],
    configs: &[NoiseConfig],
    on_event: &mut impl FnMut(Event),
) -> Result<AdaptiveRow> {
    let dir = spec.out.join(p.name());
    let model_path = dir.join("model.safetensors");
    let noise_dir = dir.join("noise");
    let masks = pruner.masks(p.ratio);
    let remaining: Vec<usize> = masks
        .kept()
        .iter()
        .zip(original)
        .map(|(k, w)| k.unwrap_or(w.len()))
        .collect();
    // A file written before (by an interrupted run of the same settings)
    // is kept: its noise checkpoints are tied to its SHA-256, and a model
    // file records when it was written.
    if !model_path.exists() {
        prune::apply(model, original, &masks);
        let saved = prune::file::save(
            model,
            &masks,
            &pruning_meta(spec, p, model_sha),
            &model_path,
        );
        prune::apply(model, original, &prune::Masks(vec![]));
        saved?;
    }
    let pruned_sha = sha256_file(&model_path)?;
    // Noises already written against this very file are kept.
    let done = |c: &NoiseConfig| -> bool {
        let path = noise_dir.join(noise_file::file_name(c.target, c.limit));
        Noise::load(&path).is_ok_and(|n| {
            n.meta.get("model_sha256") == Some(&pruned_sha)
                && recipe(&n, &path).is_ok_and(|r| r == *c)
        })
    };
    let missing: Vec<NoiseConfig> = configs.iter().filter(|c| !done(c)).cloned().collect();
    if !missing.is_empty() {
        let s = Suite {
            model: model_path.clone(),
            noises: missing,
            group: spec.group,
            out: noise_dir.clone(),
            checkpoint_every: 100,
            resume: true,
        };
        let mut meta = BTreeMap::new();
        meta.insert("adaptive".into(), "true".into());
        meta.insert(
            "pruned_model".into(),
            format!("{}/model.safetensors", p.name()),
        );
        meta.insert("pruned_model_sha256".into(), pruned_sha.clone());
        meta.insert("pruning_method".into(), p.method_name());
        meta.insert("pruning_ratio".into(), p.ratio.to_string());
        meta.insert("transferred_from_sha256".into(), model_sha.into());
        let extras = Extras {
            meta,
            sparse: spec.sparse.then_some(crate::sparse::MAX_DENSITY),
        };
        suite::train_suite_with(&s, data, &extras, |e| on_event(Event::Noise(e))).map_err(|e| {
            match e {
                Error::Interrupted(_) => Error::Interrupted(format!(
                    "adaptive evaluation stopped while training the noises of {}; \
                     checkpoints written in {}: run the same command to continue",
                    p.name(),
                    noise_dir.display()
                )),
                e => e,
            }
        })?;
    }
    let mut pruned = loader::load(&model_path)?;
    let mut adaptive_noises = Vec::new();
    for c in configs {
        adaptive_noises.push(Noise::load(
            &noise_dir.join(noise_file::file_name(c.target, c.limit)),
        )?);
    }
    let clean = robustness::outputs(&mut pruned, &data.test, None);
    let (transfer, transfer_fooled) = under(&mut pruned, data, noises, &clean);
    let (adaptive, adaptive_fooled) = under(&mut pruned, data, &adaptive_noises, &clean);
    let attacks = attack(&mut pruned, data, spec, on_event);
    let checks = check(&mut pruned, data, spec, Some(model), on_event);
    Ok(AdaptiveRow {
        method: p.method_name(),
        ratio: p.ratio.to_string(),
        reason: p.reason.clone(),
        clean: robustness::accuracy(&clean.pred, &data.test.labels),
        transfer_mean: mean(&transfer),
        adaptive_mean: mean(&adaptive),
        worst_mean: worst_mean(&transfer, &adaptive),
        transfer,
        adaptive,
        transfer_fooled,
        adaptive_fooled,
        attacks,
        checks,
        remaining,
        model_file: format!("{}/model.safetensors", p.name()),
        noise_dir: format!("{}/noise", p.name()),
        seconds: 0.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_merge_repeats_and_ratio_zero_is_the_unpruned_model() {
        let r = |s| Ratio::parse(s).unwrap();
        let pts = dedup(&[
            Point::new(Method::Act, r("0.5"), "grid"),
            Point::new(Method::Act, r("0.5"), "best"),
            Point::new(Method::Abs, r("0"), "grid"),
            Point::new(Method::Abs, r("0.5"), "grid"),
        ]);
        let names: Vec<String> = pts.iter().map(Point::name).collect();
        assert_eq!(names, ["none-0", "act-0.5", "abs-0.5"]);
        assert_eq!(pts[0].reason, ["unpruned", "grid"]);
        assert_eq!(pts[1].reason, ["grid", "best"]);
    }

    #[test]
    fn recipe_reads_the_noise_metadata_and_names_the_file_when_missing() {
        let mut meta = BTreeMap::new();
        for (k, v) in [
            ("steps", "40"),
            ("lr", "0.1"),
            ("optimizer", "adam"),
            ("seed", "3"),
            ("batch", "25"),
        ] {
            meta.insert(k.to_string(), v.to_string());
        }
        let mut n = Noise {
            data: vec![0.0; 784],
            input: [28, 28, 1],
            target: 5,
            limit: 0.1,
            meta,
        };
        let c = recipe(&n, Path::new("n.safetensors")).unwrap();
        assert_eq!(
            (c.target, c.limit, c.steps, c.optimizer, c.seed, c.batch),
            (5, 0.1, 40, Optimizer::Adam, 3, 25)
        );
        n.meta.remove("batch");
        let e = recipe(&n, Path::new("n.safetensors"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("n.safetensors") && e.contains("'batch'"), "{e}");
    }
}
