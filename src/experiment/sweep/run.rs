//! Running one pruning sweep into a sweep folder: check the settings, load
//! the model and noises, open (or resume) the folder, and prune and measure
//! every item not yet recorded. `parana sweep` and the experiment runner
//! both call [`run`].

use crate::attack::noise_file::{Noise, sha256_file};
use crate::attack::suite::check_model_fits;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::experiment::sweep::results::{FORMAT, Run, Shard, SweepFile};
use crate::experiment::sweep::{Evaluator, Group, NoiseInfo, Row, Settings, Sweeper};
use crate::loader;
use crate::model::Model;
use crate::prune::{InputStats, Method, PruneSettings, Ratio, scores};
use std::path::PathBuf;

/// Everything one sweep needs.
#[derive(Clone, Debug)]
pub struct SweepSpec {
    /// The model file (pruned afresh from the original at every ratio).
    pub model: PathBuf,
    /// Methods, in order (no repeats).
    pub methods: Vec<Method>,
    /// Ratios, in order.
    pub ratios: Vec<Ratio>,
    /// One group per prunable layer, the others left whole.
    pub per_layer: bool,
    /// Layers, scope, offset and score images (with `per_layer`, the
    /// layers swept one at a time; None: every prunable layer).
    pub prune: PruneSettings,
    /// Noise files or folders of noise files.
    pub noise: Vec<PathBuf>,
    /// Evaluate on the first N test images only.
    pub images: Option<usize>,
    /// Do only this shard of the items.
    pub shard: Option<Shard>,
    /// The sweep folder.
    pub out: PathBuf,
}

/// What a sweep call did.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Rows in the folder now.
    pub rows: usize,
    /// Rows computed by this call.
    pub new_rows: usize,
    /// Rows that were already recorded.
    pub skipped: usize,
    /// Seconds spent.
    pub seconds: f64,
}

/// Input statistics of the unpruned `model` over `n` images of
/// `score_data` (`train` or `test`) chosen with `seed`.
pub fn input_stats(
    model: &mut Model,
    data: &Dataset,
    score_data: &str,
    n: usize,
    seed: u64,
) -> Vec<InputStats> {
    let split = if score_data == "test" {
        &data.test
    } else {
        &data.train
    };
    let idx = scores::score_images(split, n, seed);
    scores::input_stats(model, split, &idx)
}

/// The layer groups of a sweep of a model with `n_layers` prunable layers.
fn groups(spec: &SweepSpec, n_layers: usize) -> Result<Vec<Group>> {
    spec.prune.check(n_layers)?;
    Ok(if spec.per_layer {
        let all: Vec<usize> = (0..n_layers).collect();
        spec.prune
            .layers
            .as_deref()
            .unwrap_or(&all)
            .iter()
            .map(|&k| Group {
                name: format!("layer{k}"),
                layers: Some(vec![k]),
            })
            .collect()
    } else {
        match &spec.prune.layers {
            Some(l) => {
                let mut l = l.clone();
                l.sort_unstable();
                l.dedup();
                let names: Vec<String> = l.iter().map(|k| k.to_string()).collect();
                vec![Group {
                    name: format!("layers{}", names.join("+")),
                    layers: Some(l),
                }]
            }
            None => vec![Group {
                name: "all".into(),
                layers: None,
            }],
        }
    })
}

/// Run (or resume) the sweep `spec` on `data`; `on_row(done, total, row)`
/// is called after every recorded row.
pub fn run(
    spec: &SweepSpec,
    data: &Dataset,
    mut on_row: impl FnMut(usize, usize, &Row),
) -> Result<Outcome> {
    if spec.images == Some(0) {
        return Err(Error::input("--images must be at least 1"));
    }
    let mut model = loader::load(&spec.model)?;
    let n_layers = scores::prunable_layers(&model).len();
    let groups = groups(spec, n_layers)?;
    check_model_fits(&model, &spec.model, data)?;
    for m in &spec.methods {
        for g in &groups {
            m.check_fits(&model, g.layers.as_deref())?;
        }
    }
    let noise_paths = Noise::expand_paths(&spec.noise)?;
    let mut noises = Vec::new();
    let mut infos = Vec::new();
    for p in &noise_paths {
        let n = Noise::load(p)?;
        n.check_fits(p, &model, &data.name, data.classes)?;
        infos.push(NoiseInfo::of(p, &n)?);
        noises.push(n);
    }
    let settings = Settings {
        model_sha256: sha256_file(&spec.model)?,
        arch: model.describe(),
        dataset: data.name.clone(),
        test_images: spec.images.unwrap_or(data.test.len()).min(data.test.len()),
        methods: spec.methods.iter().map(|m| m.name().to_string()).collect(),
        ratios: spec.ratios.iter().map(|r| r.to_string()).collect(),
        groups,
        scope: spec.prune.scope.name().into(),
        offset: spec.prune.offset.to_string(),
        score_data: spec.prune.score_data.clone(),
        score_images: spec.prune.score_images,
        seed: spec.prune.seed,
        noises: infos,
        layer_weights: crate::prune::original_weights(&model)
            .iter()
            .map(Vec::len)
            .collect(),
    };
    let _lock = crate::io::lock_dir(&spec.out)?;
    let mut run = Run::open_or_create(
        &spec.out,
        SweepFile {
            format: FORMAT.into(),
            model: spec.model.display().to_string(),
            shard: spec.shard.map(|s| s.to_string()),
            settings: settings.clone(),
        },
    )?;
    let done = run.done();
    let todo: Vec<_> = settings
        .items()
        .into_iter()
        .enumerate()
        .filter(|(k, it)| {
            spec.shard.is_none_or(|s| s.takes(*k)) && !done.contains(&settings.key(it))
        })
        .map(|(_, it)| it)
        .collect();
    let t0 = std::time::Instant::now();
    if !todo.is_empty() {
        let needs_stats = todo.iter().any(|it| spec.methods[it.method].needs_inputs());
        let stats = needs_stats.then(|| {
            input_stats(
                &mut model,
                data,
                &spec.prune.score_data,
                spec.prune.score_images,
                spec.prune.seed,
            )
        });
        let refs: Vec<&Noise> = noises.iter().collect();
        let mut eval = Evaluator::new(&data.test, &refs, spec.images);
        let mut sweeper = Sweeper::new(&settings, model, stats)?;
        for (k, it) in todo.iter().enumerate() {
            let row = sweeper.run(it, &mut eval)?;
            on_row(k + 1, todo.len(), &row);
            run.record(row)?;
            crate::interrupt::check(|| {
                format!(
                    "sweep stopped with {} rows recorded in {} ({} to go); run the same \
                     command to continue",
                    run.rows.len(),
                    spec.out.display(),
                    todo.len() - k - 1
                )
            })?;
        }
    }
    Ok(Outcome {
        rows: run.rows.len(),
        new_rows: todo.len(),
        skipped: done.len(),
        seconds: t0.elapsed().as_secs_f64(),
    })
}
