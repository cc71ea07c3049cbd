//! An experiment as a TOML file: the dataset, the models to train, the
//! noise to train against each, the attacks, the pruning sweeps (whole net
//! and per layer), the sparse benchmarks and the report's options.
//!
//! Unknown keys, wrong types and impossible settings are refused with one
//! line naming the file, the line and the key (`quick.toml: line 12, key
//! sweep.ratios: …`): serde errors carry toml's span, and checks made after
//! parsing find their key's line with [`super::locate`].

use super::locate::{Located, key_at};
use crate::attack::Attack;
use crate::attack::masking::CheckOptions;
use crate::attack::universal::{NoiseConfig, Optimizer, check_limit};
use crate::error::{Error, Result};
use crate::model::{Arch, arch};
use crate::nn::Head;
use crate::prune::{Method, Ratio, Scope};
use crate::train::TrainConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The whole experiment.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Title of the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A paragraph for the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Dataset name: mnist, fashion-mnist or kmnist.
    #[serde(default = "default_dataset")]
    pub dataset: String,
    /// Several datasets: the whole study is run on each (instead of
    /// `dataset`); model instances are named `M-DATASET`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datasets: Option<Vec<String>>,
    /// Folder of the dataset's IDX files, relative to the experiment file
    /// (default: the search path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// The models, each trained and studied separately (`[[model]]`).
    #[serde(rename = "model")]
    pub models: Vec<ModelSpec>,
    /// Universal noise trained against every model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<NoiseSpec>,
    /// Per-example attacks on every model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attacks: Option<AttackSpec>,
    /// Whole-net pruning sweeps of every model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepSection>,
    /// Per-layer pruning sweeps of every model (`[per-layer]`).
    #[serde(default, rename = "per-layer")]
    pub per_layer: Option<SweepSection>,
    /// Adaptive evaluation of every model's `[sweep]`: noises retrained
    /// against the pruned networks (`[adaptive]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptive: Option<AdaptiveSection>,
    /// Sparse engine benchmarks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sparse: Option<SparseSpec>,
    /// Report options.
    #[serde(default)]
    pub report: ReportSpec,
    /// What the jobs of `reproduce --slurm` ask Slurm for (no effect on
    /// local runs or on stage keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm: Option<super::slurm::config::SlurmSection>,
}

fn default_dataset() -> String {
    "mnist".into()
}

/// One model to train.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Short name used in stage and file names (letters, digits, `-`, `_`).
    pub name: String,
    /// Architecture preset (article-mlp, seed-mlp, article-cnn) unless
    /// `hidden` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Custom fully connected hidden widths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<Vec<usize>>,
    /// Custom convolutions, e.g. `["5x5x8"]` (with `hidden`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conv: Option<Vec<String>>,
    /// `lq` or `sce`.
    #[serde(default = "default_head")]
    pub head: String,
    /// Dropout after each hidden fully connected layer.
    #[serde(default)]
    pub dropout: f32,
    /// Optimisation steps.
    #[serde(default = "default_steps")]
    pub steps: u64,
    /// Images per step.
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// Adam learning rate.
    #[serde(default = "default_lr")]
    pub lr: f32,
    /// L2 coefficient.
    #[serde(default = "default_lr")]
    pub l2: f32,
    /// Seed for initialisation, shuffling and dropout.
    #[serde(default = "one")]
    pub seed: u64,
    /// Replicate the model over these seeds (instead of `seed`): each
    /// replicate `M-sK` has its own training, noise, attacks and sweeps, all
    /// seeded by K (see [`Instance`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seeds: Option<Vec<u64>>,
    /// Training images held out for model selection (0: none).
    #[serde(default, skip_serializing_if = "crate::train::is_zero")]
    pub val_images: usize,
    /// Steps between validation checks.
    #[serde(
        default = "crate::train::default_select_every",
        skip_serializing_if = "crate::train::is_default_select_every"
    )]
    pub select_every: u64,
    /// Learning-rate decay over the last steps: off, cosine or linear.
    #[serde(default, skip_serializing_if = "crate::train::LrDecay::is_off")]
    pub lr_decay: crate::train::LrDecay,
    /// Fraction of the steps after which the learning rate decays.
    #[serde(
        default = "crate::train::default_decay_from",
        skip_serializing_if = "crate::train::is_default_decay_from"
    )]
    pub decay_from: f64,
}

fn default_head() -> String {
    "lq".into()
}
fn default_steps() -> u64 {
    10_000
}
fn default_batch() -> usize {
    250
}
fn default_lr() -> f32 {
    1e-4
}
fn one() -> u64 {
    1
}

/// The universal noises trained against each model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoiseSpec {
    /// `article`: the article's eight (target, limit) pairs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// Explicit (target, limit) pairs, e.g. `[[3, 0.25], [5, 0.1]]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairs: Option<Vec<(u8, f32)>>,
    /// Training steps per noise.
    #[serde(default = "default_noise_steps")]
    pub steps: u64,
    /// Learning rate (default 0.1 for sgd, 0.01 for adam).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f32>,
    /// sgd or adam.
    #[serde(default = "default_optimizer")]
    pub optimizer: String,
    /// Training images per step.
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// Seed of the training batches.
    #[serde(default = "one")]
    pub seed: u64,
    /// Noises trained together in one stacked batch.
    #[serde(default = "default_group")]
    pub group: usize,
}

fn default_noise_steps() -> u64 {
    5000
}
fn default_optimizer() -> String {
    "sgd".into()
}
fn default_group() -> usize {
    8
}

/// Per-example attacks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttackSpec {
    /// FGSM radii.
    #[serde(default)]
    pub fgsm: Vec<f32>,
    /// PGD radii.
    #[serde(default)]
    pub pgd: Vec<f32>,
    /// PGD steps.
    #[serde(default = "default_pgd_steps")]
    pub pgd_steps: usize,
    /// PGD random restarts.
    #[serde(default = "one_usize")]
    pub restarts: usize,
    /// Attack only the first N test images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<usize>,
    /// Seed of PGD's random starts.
    #[serde(default = "one")]
    pub seed: u64,
    /// APGD-CE radii.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apgd_ce: Vec<f32>,
    /// APGD-DLR radii.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apgd_dlr: Vec<f32>,
    /// APGD-T radii (9 target classes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apgd_t: Vec<f32>,
    /// Square attack radii.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub square: Vec<f32>,
    /// AutoAttack (standard) radii.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub autoattack: Vec<f32>,
    /// AutoAttack (fast: APGD-CE + APGD-T) radii.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub autoattack_fast: Vec<f32>,
    /// Gradient-masking checks (`attack::masking`) on the attacked images:
    /// `checks.json` beside `attacks.json`, and per point of `[adaptive]`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub checks: bool,
    /// Radius of the checks (default: the largest radius of the section).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks_eps: Option<f32>,
    /// Square's queries in the checks (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks_queries: Option<usize>,
    /// APGD-CE iterations of the checks' base run (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks_steps: Option<usize>,
    /// Check only the first N of the attacked images (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks_images: Option<usize>,
}

fn default_pgd_steps() -> usize {
    20
}
fn one_usize() -> usize {
    1
}

/// A pruning sweep (`[sweep]` over the whole net, `[per-layer]` per layer).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSection {
    /// Methods: abs, act, wanda, combined.
    #[serde(default = "default_methods")]
    pub methods: Vec<String>,
    /// `START:END:STEP` or a list like `0,0.5,0.81`.
    #[serde(default = "default_ratios")]
    pub ratios: String,
    /// per-matrix, global or per-row.
    #[serde(default = "default_scope")]
    pub scope: String,
    /// For combined: act prunes at ratio - offset.
    #[serde(default = "default_offset")]
    pub offset: String,
    /// Score images from `train` or `test`.
    #[serde(default = "default_score_data")]
    pub score_data: String,
    /// Number of score images.
    #[serde(default = "default_score_images")]
    pub score_images: usize,
    /// Seed choosing them.
    #[serde(default = "one")]
    pub seed: u64,
    /// Evaluate on the first N test images only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<usize>,
    /// Prunable layers (0-based, convolutions first): `[sweep]` prunes
    /// them together, `[per-layer]` sweeps each alone (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<usize>>,
    /// Sweep the CNNs decoupled (`parana decouple`): every convolution tap
    /// an independent weight, pruned one by one. Needs convolutions.
    #[serde(default, skip_serializing_if = "is_false")]
    pub decoupled: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn default_methods() -> Vec<String> {
    vec!["abs".into(), "act".into(), "combined".into()]
}
fn default_ratios() -> String {
    "0:0.99:0.01".into()
}
fn default_scope() -> String {
    "per-matrix".into()
}
fn default_offset() -> String {
    "0.07".into()
}
fn default_score_data() -> String {
    "train".into()
}
fn default_score_images() -> usize {
    2000
}

/// Adaptive evaluation (`[adaptive]`): at each method's best ratio of the
/// `[sweep]` and/or on a grid of ratios, prune as the sweep does, retrain
/// every noise of `[noise]` against the pruned network and attack it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdaptiveSection {
    /// A grid of ratios for every method, `START:END:STEP` or a list
    /// (default: none, only the best ratios).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratios: Option<String>,
    /// Add each method's best ratio of the sweep (the report's best table
    /// at `[report] min_clean`).
    #[serde(default = "yes")]
    pub best: bool,
    /// Methods (default: the sweep's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<String>>,
    /// Run `[attacks]`' attacks on every point.
    #[serde(default = "yes")]
    pub attacks: bool,
    /// Attack only the first N test images (default: `[attacks] images`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<usize>,
    /// Train the noises through the sparse engine where it is faster (the
    /// numbers do not depend on it beyond rounding).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub sparse: bool,
}

fn is_true(b: &bool) -> bool {
    *b
}

impl AdaptiveSection {
    /// The methods: `methods`, else the sweep's.
    pub fn methods(&self, sweep: &SweepSection) -> Result<Vec<Method>> {
        match &self.methods {
            Some(m) => SweepSection {
                methods: m.clone(),
                ..sweep.clone()
            }
            .methods(),
            None => sweep.methods(),
        }
    }

    /// The grid's ratios (empty without `ratios`).
    pub fn ratios(&self) -> Result<Vec<Ratio>> {
        match &self.ratios {
            Some(r) if r.contains(':') => Ratio::range(r),
            Some(r) => r.split(',').map(|x| Ratio::parse(x.trim())).collect(),
            None => Ok(vec![]),
        }
    }
}

/// Sparse engine benchmarks (preset networks pruned by magnitude; CNNs
/// decoupled, their matrices pruned among the present taps).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SparseSpec {
    /// Presets to benchmark (article-mlp, seed-mlp, article-cnn).
    #[serde(default = "default_sparse_arch")]
    pub arch: Vec<String>,
    /// Fractions of each weight matrix pruned.
    pub sparsities: Vec<f64>,
    /// Batch sizes.
    #[serde(default = "default_sparse_batches")]
    pub batches: Vec<usize>,
    /// Repetitions.
    #[serde(default = "default_reps")]
    pub reps: usize,
}

fn default_sparse_arch() -> Vec<String> {
    vec!["article-mlp".into()]
}
fn default_sparse_batches() -> Vec<usize> {
    vec![1, 1000]
}
fn default_reps() -> usize {
    5
}

/// Report options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSpec {
    /// Lowest clean accuracy of the best table.
    #[serde(default = "default_min_clean")]
    pub min_clean: f64,
    /// Instead of `min_clean`: the lowest clean accuracy is each model's
    /// unpruned accuracy less this much (e.g. 0.005: within half a point),
    /// which suits datasets of different difficulty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_clean_drop: Option<f64>,
    /// Show the article's own best table beside ours.
    #[serde(default = "yes")]
    pub article_table: bool,
}

impl Default for ReportSpec {
    fn default() -> Self {
        ReportSpec {
            min_clean: default_min_clean(),
            min_clean_drop: None,
            article_table: true,
        }
    }
}

fn default_min_clean() -> f64 {
    0.98
}
fn yes() -> bool {
    true
}

impl Experiment {
    /// Read and check the experiment file at `path`.
    pub fn load(path: &Path) -> Result<Experiment> {
        let src = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Experiment::parse(&src, path)
    }

    /// Parse and check TOML text (`path` names it in errors).
    ///
    /// ```
    /// use parana::experiment::Experiment;
    /// use std::path::Path;
    ///
    /// let e = Experiment::parse(
    ///     "[[model]]\nname = \"lq\"\narch = \"article-mlp\"\n\n[noise]\npreset = \"article\"\n",
    ///     Path::new("exp.toml"),
    /// )
    /// .unwrap();
    /// assert_eq!(e.models[0].steps, 10_000);
    /// assert_eq!(e.noise.unwrap().pairs().unwrap().len(), 8);
    ///
    /// let err = Experiment::parse("[[model]]\nname = \"lq\"\nsteps = \"many\"\n", Path::new("exp.toml"))
    ///     .unwrap_err();
    /// assert!(err.to_string().starts_with("exp.toml: line 3, key model.steps:"));
    /// ```
    pub fn parse(src: &str, path: &Path) -> Result<Experiment> {
        let exp: Experiment = toml::from_str(src).map_err(|e| {
            let msg = e.message().trim().replace('\n', " ");
            match e.span() {
                Some(span) => {
                    let (line, mut key) = key_at(src, span.start);
                    if msg.starts_with("missing field") {
                        // `model` is the only required top-level key; the
                        // others are reported at their table's header.
                        if msg.starts_with("missing field `model`") {
                            return Error::file(
                                path,
                                "no [[model]]: an experiment needs at least one (see docs/experiments.md)",
                            );
                        }
                        key = key.split('.').next().unwrap_or("").to_string();
                    }
                    if key.is_empty() {
                        Error::file(path, format!("line {line}: {msg}"))
                    } else {
                        Error::file(path, format!("line {line}, key {key}: {msg}"))
                    }
                }
                None => Error::file(path, msg),
            }
        })?;
        exp.check(&Located { path, src })?;
        Ok(exp)
    }

    /// The datasets the study runs on: `datasets`, else `dataset`.
    pub fn dataset_names(&self) -> Vec<String> {
        match &self.datasets {
            Some(d) => d.clone(),
            None => vec![self.dataset.clone()],
        }
    }

    /// Every model instance, in run order: for each dataset, each
    /// `[[model]]`, each of its seeds.
    pub fn instances(&self) -> Vec<Instance> {
        let datasets = self.dataset_names();
        let mut out = Vec::new();
        for ds in &datasets {
            for (base, m) in self.models.iter().enumerate() {
                let seeds: Vec<Option<u64>> = match &m.seeds {
                    Some(s) => s.iter().map(|&k| Some(k)).collect(),
                    None => vec![None],
                };
                for seed in seeds {
                    let mut spec = m.clone();
                    spec.seeds = None;
                    if datasets.len() > 1 {
                        spec.name = format!("{}-{ds}", spec.name);
                    }
                    if let Some(k) = seed {
                        spec.seed = k;
                        spec.name = format!("{}-s{k}", spec.name);
                    }
                    out.push(Instance {
                        spec,
                        base,
                        base_name: m.name.clone(),
                        dataset: ds.clone(),
                        replicate: seed,
                    });
                }
            }
        }
        out
    }

    fn check(&self, at: &Located) -> Result<()> {
        if let Some(d) = &self.datasets {
            if d.is_empty() {
                return Err(at.err("", 0, "datasets", "needs at least one dataset"));
            }
            let mut seen = std::collections::HashSet::new();
            if let Some(dup) = d.iter().find(|x| !seen.insert(*x)) {
                return Err(at.err("", 0, "datasets", format!("'{dup}' is listed twice")));
            }
            if self.data_dir.is_some() && d.len() > 1 {
                return Err(at.err(
                    "",
                    0,
                    "data_dir",
                    "one folder cannot hold several datasets: leave data_dir out (the search path finds each) or list one dataset",
                ));
            }
        }
        let mut classes = usize::MAX;
        for ds in self.dataset_names() {
            let key = if self.datasets.is_some() {
                "datasets"
            } else {
                "dataset"
            };
            classes = classes.min(
                crate::data::registry::get(&ds)
                    .map_err(|x| at.err("", 0, key, x))?
                    .num_classes(),
            );
        }
        if self.models.is_empty() {
            return Err(Error::file(
                at.path,
                "no [[model]]: an experiment needs at least one",
            ));
        }
        let mut names = std::collections::HashSet::new();
        for (i, m) in self.models.iter().enumerate() {
            let e = |k: &str, msg: String| at.err("model", i, k, msg);
            if m.name.is_empty()
                || !m
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(e(
                    "name",
                    format!("'{}' must be letters, digits, - or _", m.name),
                ));
            }
            if !names.insert(m.name.clone()) {
                return Err(e("name", format!("'{}' is used twice", m.name)));
            }
            m.arch().map_err(|x| {
                let k = if m.hidden.is_some() { "hidden" } else { "arch" };
                e(k, x.to_string())
            })?;
            m.head().map_err(|x| e("head", x.to_string()))?;
            if m.val_images > 0 && m.select_every == 0 {
                return Err(e(
                    "select_every",
                    "must be at least 1 with val_images".into(),
                ));
            }
            if !(0.0..1.0).contains(&m.decay_from) {
                return Err(e(
                    "decay_from",
                    format!("{} is not a fraction of the steps in [0, 1)", m.decay_from),
                ));
            }
            m.train_config()
                .validate()
                .map_err(|x| e("lr", x.to_string()))?;
            if m.steps == 0 {
                return Err(e("steps", "must be at least 1".into()));
            }
            if let Some(seeds) = &m.seeds {
                if seeds.is_empty() {
                    return Err(e("seeds", "needs at least one seed".into()));
                }
                let mut seen = std::collections::HashSet::new();
                if let Some(dup) = seeds.iter().find(|x| !seen.insert(**x)) {
                    return Err(e("seeds", format!("seed {dup} is listed twice")));
                }
            }
        }
        let mut names = std::collections::HashSet::new();
        for inst in self.instances() {
            if !names.insert(inst.spec.name.clone()) {
                let i = inst.base;
                return Err(at.err(
                    "model",
                    i,
                    "name",
                    format!(
                        "replicate name '{}' is used twice (a model name may not end like another's replicates, -sK or -DATASET)",
                        inst.spec.name
                    ),
                ));
            }
        }
        if let Some(n) = &self.noise {
            let e = |k: &str, msg: String| at.err("noise", 0, k, msg);
            let pairs = n.pairs().map_err(|x| e("preset", x.to_string()))?;
            for (t, l) in pairs {
                check_limit(l).map_err(|x| e("pairs", x.to_string()))?;
                if t as usize >= classes {
                    return Err(e(
                        "pairs",
                        format!("target {t} is outside the classes 0-{}", classes - 1),
                    ));
                }
            }
            for c in n.configs().map_err(|x| e("optimizer", x.to_string()))? {
                c.validate(classes).map_err(|x| e("lr", x.to_string()))?;
            }
            if n.group == 0 {
                return Err(e("group", "must be at least 1".into()));
            }
            if n.steps == 0 {
                return Err(e("steps", "must be at least 1".into()));
            }
        }
        if let Some(a) = &self.attacks {
            a.attacks().map_err(|x| {
                let k = if a.pgd.is_empty() { "fgsm" } else { "pgd" };
                at.err("attacks", 0, k, x)
            })?;
            if a.images == Some(0) {
                return Err(at.err("attacks", 0, "images", "must be at least 1"));
            }
            a.check_options()
                .map_err(|x| at.err("attacks", 0, "checks", x))?;
        }
        for (table, s) in [("sweep", &self.sweep), ("per-layer", &self.per_layer)] {
            let Some(s) = s else { continue };
            let e = |k: &str, msg: String| at.err(table, 0, k, msg);
            if self.noise.is_none() {
                return Err(Error::file(
                    at.path,
                    format!(
                        "[{table}] needs a [noise] section (sweeps measure accuracy under noise)"
                    ),
                ));
            }
            s.methods().map_err(|x| e("methods", x.to_string()))?;
            s.ratios().map_err(|x| e("ratios", x.to_string()))?;
            Scope::parse(&s.scope).map_err(|x| e("scope", x.to_string()))?;
            Ratio::parse(&s.offset).map_err(|x| e("offset", x.to_string()))?;
            if s.score_data != "train" && s.score_data != "test" {
                return Err(e(
                    "score_data",
                    format!("'{}' (expected train or test)", s.score_data),
                ));
            }
            if s.score_images == 0 {
                return Err(e("score_images", "must be at least 1".into()));
            }
            if s.images == Some(0) {
                return Err(e("images", "must be at least 1".into()));
            }
            for m in &self.models {
                let a = m.arch()?;
                if s.decoupled && a.convs.is_empty() {
                    return Err(e(
                        "decoupled",
                        format!("model {} has no convolutions to decouple", m.name),
                    ));
                }
                let n = a.convs.len() + a.hidden.len() + 1;
                if let Some(bad) = s.layers.iter().flatten().find(|&&k| k >= n) {
                    return Err(e(
                        "layers",
                        format!(
                            "layer {bad} does not exist: model {} has {n} prunable layers (0-{})",
                            m.name,
                            n - 1
                        ),
                    ));
                }
            }
        }
        if let Some(a) = &self.adaptive {
            let e = |k: &str, msg: String| at.err("adaptive", 0, k, msg);
            let Some(sweep) = &self.sweep else {
                return Err(Error::file(
                    at.path,
                    "[adaptive] needs a [sweep] section (it prunes as the sweep does)",
                ));
            };
            let methods = a.methods(sweep).map_err(|x| e("methods", x.to_string()))?;
            a.ratios().map_err(|x| e("ratios", x.to_string()))?;
            if a.best {
                let swept = sweep.methods()?;
                if let Some(m) = methods.iter().find(|m| !swept.contains(m)) {
                    return Err(e(
                        "methods",
                        format!(
                            "{} is not swept by [sweep], so it has no best ratio",
                            m.name()
                        ),
                    ));
                }
            } else if a.ratios.is_none() {
                return Err(e(
                    "best",
                    "is false and no ratios are given: nothing to evaluate".into(),
                ));
            }
            if a.images == Some(0) {
                return Err(e("images", "must be at least 1".into()));
            }
        }
        if let Some(s) = &self.sparse {
            let e = |k: &str, msg: String| at.err("sparse", 0, k, msg);
            for a in &s.arch {
                // CNN presets are benchmarked decoupled.
                Arch::preset(a).map_err(|x| e("arch", x.to_string()))?;
            }
            if s.sparsities.is_empty() || s.sparsities.iter().any(|v| !(0.0..1.0).contains(v)) {
                return Err(e("sparsities", "need values in [0, 1)".into()));
            }
            if s.batches.is_empty() || s.batches.contains(&0) {
                return Err(e("batches", "need batch sizes of at least 1".into()));
            }
            if s.reps == 0 {
                return Err(e("reps", "must be at least 1".into()));
            }
        }
        if let Some(d) = self.report.min_clean_drop
            && !(0.0..1.0).contains(&d)
        {
            return Err(at.err(
                "report",
                0,
                "min_clean_drop",
                format!("{d} is outside [0, 1)"),
            ));
        }
        if !(0.0..=1.0).contains(&self.report.min_clean) {
            return Err(at.err(
                "report",
                0,
                "min_clean",
                format!("{} is outside [0, 1]", self.report.min_clean),
            ));
        }
        Ok(())
    }
}

impl ModelSpec {
    /// The architecture (preset, or custom widths and convolutions).
    pub fn arch(&self) -> Result<Arch> {
        let mut a = match (&self.hidden, &self.conv, &self.arch) {
            (Some(_), _, Some(_)) => {
                return Err(Error::input("give either arch or hidden, not both"));
            }
            (Some(h), c, None) => Arch::custom(
                h.clone(),
                arch::parse_convs(&c.as_deref().unwrap_or(&[]).join(","))?,
            )?,
            (None, Some(_), _) => {
                return Err(Error::input(
                    "conv needs hidden for the fully connected part",
                ));
            }
            (None, None, Some(p)) => Arch::preset(p)?,
            (None, None, None) => return Err(Error::input("needs arch or hidden")),
        };
        a.dropout = self.dropout;
        a.validate()?;
        Ok(a)
    }

    /// The head.
    pub fn head(&self) -> Result<Head> {
        self.head
            .parse::<Head>()
            .map_err(|_| Error::input(format!("unknown head '{}' (expected lq or sce)", self.head)))
    }

    /// The training settings.
    pub fn train_config(&self) -> TrainConfig {
        TrainConfig {
            steps: self.steps,
            batch: self.batch,
            lr: self.lr,
            l2: self.l2,
            seed: self.seed,
            val_images: self.val_images,
            select_every: self.select_every,
            lr_decay: self.lr_decay,
            decay_from: self.decay_from,
        }
    }
}

/// One trained model of the study: a `[[model]]` on one dataset with one
/// seed. Its `spec` is the `[[model]]` with `name` made unique (`M`, or
/// `M-DATASET` when the study has several datasets, then `-sK` for seed K
/// when the model lists `seeds`) and `seed` set. A replicate's seed also
/// seeds its noise batches, its act score images and PGD's starts, so
/// replicates differ in everything random, not only in training.
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    /// The model settings of this instance.
    pub spec: ModelSpec,
    /// Index of its `[[model]]`.
    pub base: usize,
    /// Name of its `[[model]]`.
    pub base_name: String,
    /// Its dataset.
    pub dataset: String,
    /// The seed when the model lists `seeds`.
    pub replicate: Option<u64>,
}

impl Instance {
    /// `[noise]` as this instance runs it.
    pub fn noise(&self, exp: &Experiment) -> Option<NoiseSpec> {
        exp.noise.clone().map(|mut n| {
            if let Some(k) = self.replicate {
                n.seed = k;
            }
            n
        })
    }

    /// `[attacks]` as this instance runs it.
    pub fn attacks(&self, exp: &Experiment) -> Option<AttackSpec> {
        exp.attacks.clone().map(|mut a| {
            if let Some(k) = self.replicate {
                a.seed = k;
            }
            a
        })
    }

    /// `[sweep]` (or `[per-layer]` when `per_layer`) as this instance runs it.
    pub fn sweep(&self, exp: &Experiment, per_layer: bool) -> Option<SweepSection> {
        let s = if per_layer {
            &exp.per_layer
        } else {
            &exp.sweep
        };
        s.clone().map(|mut s| {
            if let Some(k) = self.replicate {
                s.seed = k;
            }
            s
        })
    }
}

impl NoiseSpec {
    /// The (target, limit) pairs.
    pub fn pairs(&self) -> Result<Vec<(u8, f32)>> {
        match (self.preset.as_deref(), &self.pairs) {
            (Some(_), Some(_)) => Err(Error::input("give either preset or pairs, not both")),
            (Some("article"), None) => Ok(crate::attack::suite::ARTICLE.to_vec()),
            (Some(p), None) => Err(Error::input(format!(
                "unknown preset '{p}' (expected article)"
            ))),
            (None, Some(p)) if !p.is_empty() => Ok(p.clone()),
            _ => Err(Error::input(
                "needs preset = \"article\" or pairs = [[target, limit], …]",
            )),
        }
    }

    /// One config per noise.
    pub fn configs(&self) -> Result<Vec<NoiseConfig>> {
        let optimizer = Optimizer::parse(&self.optimizer)?;
        let lr = self.lr.unwrap_or(match optimizer {
            Optimizer::Sgd => 0.1,
            Optimizer::Adam => 0.01,
        });
        Ok(self
            .pairs()?
            .into_iter()
            .map(|(target, limit)| NoiseConfig {
                target,
                limit,
                steps: self.steps,
                lr,
                optimizer,
                seed: self.seed,
                batch: self.batch,
            })
            .collect())
    }
}

impl AttackSpec {
    /// The attacks, FGSM first, then PGD, APGD-CE, APGD-DLR, APGD-T,
    /// Square, AutoAttack and AutoAttack-fast (AutoAttack's settings).
    pub fn attacks(&self) -> Result<Vec<Attack>> {
        let mut v = Vec::new();
        for (name, list) in [
            ("fgsm", &self.fgsm),
            ("pgd", &self.pgd),
            ("apgd-ce", &self.apgd_ce),
            ("apgd-dlr", &self.apgd_dlr),
            ("apgd-t", &self.apgd_t),
            ("square", &self.square),
            ("autoattack", &self.autoattack),
            ("autoattack-fast", &self.autoattack_fast),
        ] {
            for eps in list {
                v.extend(Attack::parse_list(
                    &format!("{name}:{eps}"),
                    None,
                    self.pgd_steps,
                    None,
                    self.restarts,
                    None,
                    self.seed,
                )?);
            }
        }
        Ok(v)
    }

    /// The settings of the gradient-masking checks (None: `checks` off).
    pub fn check_options(&self) -> Result<Option<CheckOptions>> {
        if !self.checks {
            return Ok(None);
        }
        let largest = [
            &self.fgsm,
            &self.pgd,
            &self.apgd_ce,
            &self.apgd_dlr,
            &self.apgd_t,
            &self.square,
            &self.autoattack,
            &self.autoattack_fast,
        ]
        .into_iter()
        .flatten()
        .copied()
        .fold(None, |m: Option<f32>, e| Some(m.map_or(e, |m| m.max(e))));
        let Some(eps) = self.checks_eps.or(largest) else {
            return Err(Error::input(
                "checks = true needs checks_eps or an attack radius",
            ));
        };
        if !(eps > 0.0 && eps <= 1.0) {
            return Err(Error::input(format!("checks_eps {eps} is outside (0, 1]")));
        }
        let steps = self.checks_steps.unwrap_or(100);
        if steps == 0 || self.pgd_steps == 0 || self.checks_images == Some(0) {
            return Err(Error::input(
                "checks_steps, pgd_steps and checks_images must be at least 1",
            ));
        }
        Ok(Some(CheckOptions {
            apgd_steps: steps,
            pgd_steps: self.pgd_steps,
            queries: self.checks_queries.unwrap_or(1000),
            images: self.checks_images.or(self.images),
            ..CheckOptions::standard(eps, self.seed)
        }))
    }
}

impl SweepSection {
    /// Its pruning settings (layers, scope, offset, score images).
    pub fn prune_settings(&self) -> Result<crate::prune::PruneSettings> {
        Ok(crate::prune::PruneSettings {
            layers: self.layers.clone(),
            scope: crate::prune::Scope::parse(&self.scope)?,
            offset: Ratio::parse(&self.offset)?,
            score_data: self.score_data.clone(),
            score_images: self.score_images,
            seed: self.seed,
        })
    }

    /// The methods, without repeats.
    pub fn methods(&self) -> Result<Vec<Method>> {
        let mut v: Vec<Method> = Vec::new();
        for m in &self.methods {
            let m = Method::parse(m.trim())?;
            if !v.contains(&m) {
                v.push(m);
            }
        }
        if v.is_empty() {
            return Err(Error::input("needs at least one method"));
        }
        Ok(v)
    }

    /// The ratios.
    pub fn ratios(&self) -> Result<Vec<Ratio>> {
        if self.ratios.contains(':') {
            Ratio::range(&self.ratios)
        } else {
            self.ratios
                .split(',')
                .map(|r| Ratio::parse(r.trim()))
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attack_checks_default_to_the_largest_radius_and_stay_out_of_the_key_when_off() {
        let parse = |a: &str| {
            Experiment::parse(
                &format!("[[model]]\nname = \"m\"\nhidden = [8]\n[attacks]\n{a}"),
                Path::new("x.toml"),
            )
        };
        let plain = parse("fgsm = [0.1]\npgd = [0.2]\n").unwrap();
        let off = parse("fgsm = [0.1]\npgd = [0.2]\nchecks = false\n").unwrap();
        let a = plain.attacks.as_ref().unwrap();
        assert_eq!(a.check_options().unwrap(), None);
        assert_eq!(
            serde_json::to_value(a).unwrap(),
            serde_json::to_value(off.attacks.as_ref().unwrap()).unwrap()
        );
        let on = parse("fgsm = [0.1]\npgd = [0.2]\nimages = 50\nchecks = true\n").unwrap();
        let o = on.attacks.unwrap().check_options().unwrap().unwrap();
        assert_eq!((o.eps, o.queries, o.images), (0.2, 1000, Some(50)));
        let e = parse("checks = true\n").unwrap_err().to_string();
        assert!(e.contains("x.toml") && e.contains("checks_eps"), "{e}");
    }

    #[test]
    fn defaults_fill_an_almost_empty_file() {
        let e = Experiment::parse(
            "[[model]]\nname = \"m\"\narch = \"article-mlp\"\n",
            Path::new("x.toml"),
        )
        .unwrap();
        let m = &e.models[0];
        assert_eq!(
            (m.steps, m.batch, m.lr, m.l2, m.seed),
            (10_000, 250, 1e-4, 1e-4, 1)
        );
        assert_eq!(e.dataset, "mnist");
        assert_eq!(e.report.min_clean, 0.98);
    }

    #[test]
    fn seeds_and_datasets_expand_into_named_instances() {
        let e = Experiment::parse(
            "datasets = [\"mnist\", \"fashion-mnist\"]\n[[model]]\nname = \"lq\"\nhidden = [8]\nseeds = [4, 7]\n[[model]]\nname = \"sce\"\nhidden = [8]\nseed = 3\n[noise]\npairs = [[3, 0.25]]\nseed = 9\n",
            Path::new("x.toml"),
        )
        .unwrap();
        let i = e.instances();
        let names: Vec<&str> = i.iter().map(|x| x.spec.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "lq-mnist-s4",
                "lq-mnist-s7",
                "sce-mnist",
                "lq-fashion-mnist-s4",
                "lq-fashion-mnist-s7",
                "sce-fashion-mnist"
            ]
        );
        assert_eq!(i[1].spec.seed, 7);
        assert_eq!(i[1].spec.seeds, None);
        assert_eq!(i[2].spec.seed, 3);
        assert_eq!(i[3].dataset, "fashion-mnist");
        // A replicate's seed seeds its noise too; a plain model keeps [noise]'s.
        assert_eq!(i[1].noise(&e).unwrap().seed, 7);
        assert_eq!(i[2].noise(&e).unwrap().seed, 9);
    }

    #[test]
    fn bad_seeds_and_datasets_are_refused_with_their_key() {
        let err = |src: &str| {
            Experiment::parse(src, Path::new("x.toml"))
                .unwrap_err()
                .to_string()
        };
        let m = "[[model]]\nname = \"lq\"\nhidden = [8]\n";
        assert!(
            err(&format!("{m}seeds = []\n")).contains("key model.seeds: needs at least one seed")
        );
        assert!(err(&format!("{m}seeds = [1, 1]\n")).contains("seed 1 is listed twice"));
        assert!(
            err(&format!("datasets = [\"mnist\", \"mnist\"]\n{m}"))
                .contains("key datasets: 'mnist' is listed twice")
        );
        assert!(err(&format!("datasets = [\"nope\"]\n{m}")).contains("key datasets:"));
        let clash = format!("{m}seeds = [1]\n[[model]]\nname = \"lq-s1\"\nhidden = [8]\n");
        assert!(
            err(&clash).contains("'lq-s1' is used twice"),
            "{}",
            err(&clash)
        );
    }

    #[test]
    fn selection_and_decay_keys_are_optional_and_checked() {
        let base = "[[model]]\nname = \"m\"\narch = \"article-mlp\"\n";
        let e = Experiment::parse(base, Path::new("x.toml")).unwrap();
        // Left out, they are not serialised: stage keys of existing runs
        // stay what they were.
        let j = serde_json::to_value(&e.models[0]).unwrap();
        for k in ["val_images", "select_every", "lr_decay", "decay_from"] {
            assert!(j.get(k).is_none(), "{k} in {j}");
        }
        let t = serde_json::to_value(e.models[0].train_config()).unwrap();
        assert_eq!(t.as_object().unwrap().len(), 5, "{t}");
        let src = format!(
            "{base}val_images = 5000\nselect_every = 250\nlr_decay = \"cosine\"\ndecay_from = 0.75\n"
        );
        let e = Experiment::parse(&src, Path::new("x.toml")).unwrap();
        let c = e.models[0].train_config();
        assert_eq!(
            (c.val_images, c.select_every, c.lr_decay, c.decay_from),
            (5000, 250, crate::train::LrDecay::Cosine, 0.75)
        );
        for (extra, needle) in [
            (
                "val_images = 10\nselect_every = 0\n",
                "line 5, key model.select_every",
            ),
            ("lr_decay = \"exp\"\n", "line 4, key model.lr_decay"),
            ("decay_from = 1.5\n", "line 4, key model.decay_from"),
        ] {
            let err = Experiment::parse(&format!("{base}{extra}"), Path::new("x.toml"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{err}");
        }
    }
}
