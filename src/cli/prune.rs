//! `parana prune`: prune a model once and write it with its masks.

use super::{DataOpts, Global, print_json};
use crate::error::{Error, Result};
use crate::loader;
use crate::model::Model;
use crate::prune::{self, InputStats, Method, PruneSettings, Pruner, Ratio, Scope, scores};
use std::path::PathBuf;

/// Prune a model by absolute value, activated value, Wanda or combined.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  parana prune --model lq.safetensors --method act --ratio 0.81 --out lq-act81.safetensors
  parana prune --model lq.safetensors --method combined --ratio 0.9 --offset 0.07 --out c.safetensors
  parana prune --model lq.safetensors --method abs --ratio 0.5 --layers 0,2 --scope per-row --out p.safetensors
  parana prune --model lq.safetensors --method random:2 --ratio 0.86 --out r.safetensors
  parana prune --model lq.safetensors --method act-inputs --ratio 0.3 --out pixels.safetensors
  parana train --init lq-act81.safetensors --keep-mask --steps 1000 --out lq-act81-ft.safetensors")]
pub struct PruneArgs {
    /// Model file to prune.
    #[arg(long)]
    model: PathBuf,
    /// abs (|W|), act (|mean W*x|, the article's), wanda (|W|*||x||), combined (abs at r + act at r - offset), random / random:SEED (a uniform random mask; seed --seed or SEED), abs-inputs / act-inputs (remove the share ratio of input pixels: the first layer's columns with the smallest summed score).
    #[arg(long)]
    method: String,
    /// Share of weights to prune, in [0, 1): k = floor(numel * ratio), parsed exactly.
    #[arg(long, allow_hyphen_values = true)]
    ratio: String,
    #[command(flatten)]
    opts: PruneOpts,
    #[command(flatten)]
    data: DataOpts,
    /// Output model file (weights, masks.* tensors, pruning metadata).
    #[arg(long)]
    out: PathBuf,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    json: bool,
}

/// Pruning options shared by `prune` and `sweep`.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct PruneOpts {
    /// per-matrix (each matrix loses the ratio), global (one threshold) or per-row (each neuron loses the ratio of its inputs).
    #[arg(long, default_value = "per-matrix")]
    pub scope: String,
    /// Prunable layers to prune, e.g. 0,2 (default: all; the others stay whole).
    #[arg(long)]
    pub layers: Option<String>,
    /// For combined: act prunes at ratio - offset.
    #[arg(long, default_value = "0.07")]
    pub offset: String,
    /// Images the act/wanda scores are computed on: train or test.
    #[arg(long, default_value = "train")]
    pub score_data: String,
    /// Number of score images (chosen with --seed).
    #[arg(long, default_value_t = 2000)]
    pub score_images: usize,
    /// Seed choosing the score images, and the mask seed of `random`.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl PruneOpts {
    /// The parsed settings (checked against a model later, by
    /// [`PruneSettings::check`]).
    pub fn parse(&self) -> Result<PruneSettings> {
        let scope = Scope::parse(&self.scope)?;
        let layers = match &self.layers {
            Some(l) => Some(parse_layers(l)?),
            None => None,
        };
        let offset = Ratio::parse(&self.offset)
            .map_err(|_| Error::input(format!("bad --offset '{}'", self.offset)))?;
        let s = PruneSettings {
            layers,
            scope,
            offset,
            score_data: self.score_data.clone(),
            score_images: self.score_images,
            seed: self.seed,
        };
        // Everything but the layers, which need the model.
        s.check(usize::MAX)?;
        Ok(s)
    }

    /// Input statistics of the unpruned `model` over the score images.
    pub fn stats(&self, model: &mut Model, data: &crate::data::Dataset) -> Vec<InputStats> {
        crate::experiment::sweep::run::input_stats(
            model,
            data,
            &self.score_data,
            self.score_images,
            self.seed,
        )
    }
}

/// `0,2` -> `[0, 2]`.
pub(crate) fn parse_layers(s: &str) -> Result<Vec<usize>> {
    s.split(',')
        .map(|t| {
            t.trim().parse::<usize>().map_err(|_| {
                Error::input(format!(
                    "bad --layers '{s}' (expected layer indices like 0,2)"
                ))
            })
        })
        .collect()
}

pub(super) fn run(a: PruneArgs, g: Global) -> Result<()> {
    let method = Method::parse(&a.method)?;
    let ratio = Ratio::parse(&a.ratio)?;
    let s = a.opts.parse()?;
    let mut model = loader::load(&a.model)?;
    let n_layers = scores::prunable_layers(&model).len();
    if let Some(bad) = s.layers.iter().flatten().find(|&&k| k >= n_layers) {
        return Err(Error::input(format!(
            "layer {bad} does not exist: the model has {n_layers} prunable layers (0-{})",
            n_layers.saturating_sub(1)
        )));
    }
    method.check_fits(&model, s.layers.as_deref())?;
    let t0 = std::time::Instant::now();
    let stats = if method.needs_inputs() {
        let data = a.data.load(None)?;
        if data.train.image_len() != model.arch.in_len() {
            return Err(Error::input(format!(
                "{} images do not fit {}",
                data.name,
                model.describe()
            )));
        }
        Some(a.opts.stats(&mut model, &data))
    } else {
        None
    };
    let pruner = Pruner::seeded(
        &model,
        method,
        s.scope,
        s.layers.as_deref(),
        stats.as_deref(),
        s.offset,
        a.opts.seed,
    )?;
    let masks = pruner.masks(ratio);
    let original = prune::original_weights(&model);
    prune::apply(&mut model, &original, &masks);
    let meta = prune::file::Record {
        method: method.name().into(),
        ratio,
        scope: s.scope,
        offset: s.offset,
        layers: s.layers.as_deref(),
        score_data: method.needs_inputs().then_some(a.opts.score_data.as_str()),
        score_images: a.opts.score_images,
        seed: a.opts.seed,
        from_sha256: Some(crate::attack::noise_file::sha256_file(&a.model)?),
    }
    .meta();
    prune::file::save(&model, &masks, &meta, &a.out)?;
    let sizes: Vec<usize> = original.iter().map(Vec::len).collect();
    let kept: Vec<usize> = masks
        .kept()
        .iter()
        .zip(&sizes)
        .map(|(k, n)| k.unwrap_or(*n))
        .collect();
    let seconds = t0.elapsed().as_secs_f64();
    let (total, left) = (sizes.iter().sum::<usize>(), kept.iter().sum::<usize>());
    // Input-feature methods: the features removed, and the equivalent share
    // of all the weights.
    let features = pruner.input_features().map(|n| (ratio.count(n), n));
    let weight_share = (total - left) as f64 / total.max(1) as f64;
    if a.json {
        let mut j = serde_json::json!({
            "model": a.out,
            "method": method.name(),
            "ratio": ratio.to_string(),
            "scope": s.scope.name(),
            "layers": meta["pruning_layers"],
            "weights": sizes,
            "kept": kept,
            "pruned_weight_share": weight_share,
            "seconds": seconds,
        });
        if let Some((removed, n)) = features {
            j["input_features"] = n.into();
            j["input_features_removed"] = removed.into();
        }
        print_json(&j)?;
    } else if !g.quiet || a.json {
        let per: Vec<String> = kept
            .iter()
            .zip(&sizes)
            .map(|(k, n)| format!("{k}/{n}"))
            .collect();
        let what = match features {
            Some((removed, n)) => format!("{removed} of {n} input features removed"),
            None => s.scope.name().to_string(),
        };
        println!(
            "{}: {} pruning at {} ({what}), kept {} ({:.2}% of all weights pruned)",
            a.out.display(),
            method.name(),
            ratio,
            per.join(" "),
            100.0 * weight_share
        );
    }
    Ok(())
}
