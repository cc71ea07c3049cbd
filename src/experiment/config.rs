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
    /// Sparse engine benchmarks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sparse: Option<SparseSpec>,
    /// Report options.
    #[serde(default)]
    pub report: ReportSpec,
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
    /// Show the article's own best table beside ours.
    #[serde(default = "yes")]
    pub article_table: bool,
}

impl Default for ReportSpec {
    fn default() -> Self {
        ReportSpec {
            min_clean: default_min_clean(),
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

    fn check(&self, at: &Located) -> Result<()> {
        let classes = crate::data::registry::get(&self.dataset)
            .map_err(|x| at.err("", 0, "dataset", x))?
            .num_classes();
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
            m.train_config()
                .validate()
                .map_err(|x| e("lr", x.to_string()))?;
            if m.steps == 0 {
                return Err(e("steps", "must be at least 1".into()));
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
        }
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
}

impl SweepSection {
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
}
