//! `parana bench`: speed measurements (see `parana::bench`).

use super::{Global, print_json};
use crate::bench;
use crate::error::Result;

/// `parana bench …`
#[derive(clap::Subcommand, Debug)]
pub enum BenchCommand {
    /// Time the article networks' training step and forward pass.
    #[command(
        after_help = "Example:\n  parana bench train --json\n\nCompare with PyTorch: python3 bench/compare_torch.py"
    )]
    Train {
        /// Repetitions per workload.
        #[arg(long, default_value_t = 20)]
        reps: usize,
        /// Skip the CNN step.
        #[arg(long)]
        no_cnn: bool,
        /// Print JSON (train_step_ms, forward_10k_ms, cnn_train_step_ms: medians).
        #[arg(long)]
        json: bool,
    },
    /// Time the universal-noise step and PGD-20 of the article MLP.
    #[command(
        after_help = "Example:\n  parana bench attack --json\n\nCompare with PyTorch: python3 bench/compare_torch.py"
    )]
    Attack {
        /// Repetitions of the noise steps.
        #[arg(long, default_value_t = 20)]
        reps: usize,
        /// Images PGD-20 runs on (the time is scaled to 10,000).
        #[arg(long, default_value_t = 10_000)]
        pgd_images: usize,
        /// Print JSON (noise_step_ms, noise_step8_ms, pgd20_10k_s; with
        /// --sparsity, one record per sparsity).
        #[arg(long)]
        json: bool,
        /// Instead: time the noise step through the article MLP pruned at
        /// these shares of each matrix (e.g. 0,0.9), the pruned ones on the
        /// sparse engine, and print each one's speed-up over the dense
        /// network (the adaptive evaluation's noise training).
        #[arg(long, value_delimiter = ',')]
        sparsity: Vec<f64>,
    },
    /// Time the sparse engine against the dense path on a pruned network,
    /// per layer and end to end (CNNs decoupled, each matrix pruned by
    /// magnitude among its present taps).
    #[command(
        after_help = "Examples:\n  parana bench sparse --json > sparse.json\n  parana bench sparse --model article-cnn --sparsity 0,90 --batch 1,256 --plot bench-out/\n  parana bench sparse --model cnn.safetensors --sparsity 90 --batch 256 --save-dir sp/"
    )]
    Sparse {
        /// Preset (article-mlp, seed-mlp, article-cnn: freshly initialised)
        /// or a model file (an MLP or a CNN).
        #[arg(long, default_value = "article-mlp")]
        model: String,
        /// Sparsities in percent, comma separated.
        #[arg(long, default_value = "0,50,80,90,95,98", value_delimiter = ',')]
        sparsity: Vec<f64>,
        /// Batch sizes, comma separated.
        #[arg(long, default_value = "1,32,256,10000", value_delimiter = ',')]
        batch: Vec<usize>,
        /// Repetitions at batch 256 (more for small batches, fewer for
        /// large; each record stops after about 1.5 s of runs).
        #[arg(long, default_value_t = 15)]
        reps: usize,
        /// Print a JSON array of records (model, layer, sparsity, batch,
        /// dense_ms, sparse_ms, speedup, ...).
        #[arg(long)]
        json: bool,
        /// Also write each pruned network as
        /// DIR/<model>-s<sparsity>.sparse.safetensors (compiled for MLPs,
        /// decoupled for CNNs; for bench/sparse_torch.py).
        #[arg(long)]
        save_dir: Option<std::path::PathBuf>,
        /// Write DIR/bench-sparse.svg and .png: end-to-end speed-up over the
        /// dense path against sparsity, one line per batch size, and the
        /// ideal.
        #[arg(long)]
        plot: Option<std::path::PathBuf>,
    },
    /// Time a pruning sweep (abs, act, combined; clean + 8 noises over 10k
    /// test images) on a few ratios and extrapolate the full article sweep.
    #[command(
        after_help = "Example:\n  parana bench sweep --model runs/lq.safetensors --noise runs/noise-lq --json"
    )]
    Sweep {
        /// Model file (default: a freshly initialised article-mlp).
        #[arg(long)]
        model: Option<std::path::PathBuf>,
        /// Noise files or folders (default: 8 random noises of limit 0.25).
        #[arg(long, num_args = 1..)]
        noise: Vec<std::path::PathBuf>,
        /// Methods.
        #[arg(long, default_value = "abs,act,combined")]
        methods: String,
        /// Ratios of each method: a range START:END:STEP or a list.
        #[arg(long, default_value = "0:0.99:0.01")]
        ratios: String,
        /// Test images evaluated (per copy); the time is scaled to the whole
        /// test set.
        #[arg(long, default_value_t = 2000)]
        images: usize,
        #[command(flatten)]
        data: super::DataOpts,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a model's outputs, loss and gradients on synthetic inputs, for
    /// bench/compare_torch.py to check against PyTorch.
    Reference {
        /// Model file.
        #[arg(long)]
        model: std::path::PathBuf,
        /// Images in the batch.
        #[arg(long, default_value_t = 64)]
        batch: usize,
        /// Seed of the synthetic images.
        #[arg(long, default_value_t = 3)]
        seed: u64,
        /// Output safetensors file.
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

pub(super) fn run(c: BenchCommand, _g: Global) -> Result<()> {
    match c {
        BenchCommand::Train { reps, no_cnn, json } => {
            let r = bench::train_bench(reps, no_cnn)?;
            if json {
                return print_json(&r);
            }
            println!("threads: {}", r.threads);
            for (k, t) in &r.detail {
                println!(
                    "{k:<24} median {:>9.2} ms   min {:>9.2} ms   ({} reps)",
                    t.median_ms, t.min_ms, t.reps
                );
            }
            Ok(())
        }
        BenchCommand::Attack {
            reps,
            json,
            sparsity,
            ..
        } if !sparsity.is_empty() => {
            let r = bench::pruned_noise_bench(reps, &sparsity)?;
            if json {
                return print_json(&r);
            }
            println!("threads: {}", rayon::current_num_threads());
            println!(
                "{:>8} {:>7} {:>12} {:>8} {:>14} {:>8}",
                "pruned", "sparse", "1 noise ms", "speedup", "8 noises ms", "speedup"
            );
            for p in &r {
                println!(
                    "{:>7.0}% {:>7} {:>12.2} {:>7.2}x {:>14.2} {:>7.2}x",
                    p.sparsity * 100.0,
                    p.sparse_layers,
                    p.step_ms,
                    p.speedup,
                    p.step8_ms,
                    p.speedup8
                );
            }
            Ok(())
        }
        BenchCommand::Attack {
            reps,
            pgd_images,
            json,
            ..
        } => {
            let r = bench::attack_bench(reps, pgd_images.max(1))?;
            if json {
                return print_json(&r);
            }
            println!("threads: {}", r.threads);
            for (k, t) in &r.detail {
                println!(
                    "{k:<24} median {:>9.2} ms   min {:>9.2} ms   ({} reps)",
                    t.median_ms, t.min_ms, t.reps
                );
            }
            println!("pgd20_10k_s              {:.2} s", r.pgd20_10k_s);
            Ok(())
        }
        BenchCommand::Sparse {
            model,
            sparsity,
            batch,
            reps,
            json,
            save_dir,
            plot,
        } => sparse(
            &model,
            &sparsity,
            &batch,
            reps,
            json,
            save_dir.as_deref(),
            plot.as_deref(),
        ),
        BenchCommand::Sweep {
            model,
            noise,
            methods,
            ratios,
            images,
            data,
            json,
        } => {
            use crate::attack::noise_file::Noise;
            let methods = methods
                .split(',')
                .map(|m| crate::prune::Method::parse(m.trim()))
                .collect::<Result<Vec<_>>>()?;
            let ratios = super::sweep::parse_ratios(&ratios)?;
            let m = match &model {
                Some(p) => crate::loader::load(p)?,
                None => bench::model("article-mlp", crate::nn::Head::Lq)?,
            };
            let ds = data.load(None)?;
            super::noise::check_model_fits(
                &m,
                model
                    .as_deref()
                    .unwrap_or(std::path::Path::new("article-mlp")),
                &ds,
            )?;
            let noises: Vec<Noise> = if noise.is_empty() {
                (0..8u8)
                    .map(|k| {
                        let mut r =
                            crate::rng::Rng::stream(7, crate::rng::purpose::NOISE, k as u64);
                        Noise {
                            data: (0..m.arch.in_len())
                                .map(|_| (r.uniform_f32() - 0.5) * 0.5)
                                .collect(),
                            input: m.arch.input,
                            target: k,
                            limit: 0.25,
                            meta: Default::default(),
                        }
                    })
                    .collect()
            } else {
                let mut v = Vec::new();
                for p in Noise::expand_paths(&noise)? {
                    let n = Noise::load(&p)?;
                    n.check_fits(&p, &m, &ds.name, ds.classes)?;
                    v.push(n);
                }
                v
            };
            let refs: Vec<&Noise> = noises.iter().collect();
            let r = crate::experiment::sweep::bench::bench(
                m, &ds.test, &ds.train, &refs, &methods, &ratios, images,
            )?;
            if json {
                return print_json(&r);
            }
            println!(
                "threads: {}   images: {} of {} x (clean + {} noises)   ratios per method: {}",
                r.threads, r.images, r.full_images, r.noises, r.ratios
            );
            println!(
                "act statistics ({} images)   {:.3} s",
                r.score_images, r.stats_s
            );
            println!("noisy inputs converted once  {:.3} s", r.inputs_s);
            for (m, s) in &r.per_method_s {
                println!("{m:<10} {s:>8.1} s");
            }
            println!(
                "measured {:.1} s ({:.1} CPU s); full sweep over {} images: {:.0} s ({:.1} min)",
                r.measured_s,
                r.measured_cpu_s,
                r.full_images,
                r.full_sweep_s,
                r.full_sweep_s / 60.0
            );
            println!(
                "CPU time {:.0} s over {} threads: {:.0} s ({:.1} min) on an idle machine",
                r.full_sweep_cpu_s,
                r.threads,
                r.full_sweep_idle_estimate_s,
                r.full_sweep_idle_estimate_s / 60.0
            );
            Ok(())
        }
        BenchCommand::Reference {
            model,
            batch,
            seed,
            out,
        } => {
            let mut m = crate::loader::load(&model)?;
            bench::reference_dump(&mut m, batch.max(1), seed).save(&out)
        }
    }
}

/// The preset or model file `model` to benchmark.
fn sparse_subject(model: &str) -> Result<crate::sparse::bench::Subject> {
    let path = std::path::Path::new(model);
    let (name, m) = if path.exists() {
        let m = crate::loader::load(path)?;
        if m.net
            .layers()
            .iter()
            .any(|l| l.kind().starts_with("sparse_"))
        {
            return Err(crate::Error::file(
                path,
                "already sparse; give the dense (pruned or not) model file",
            ));
        }
        let stem = path.file_name().and_then(|n| n.to_str()).unwrap_or(model);
        (stem.trim_end_matches(".safetensors").to_string(), m)
    } else {
        (
            model.to_string(),
            bench::model(model, crate::nn::Head::Sce)?,
        )
    };
    crate::sparse::bench::Subject::new(&name, m)
}

fn sparse(
    model: &str,
    sparsity: &[f64],
    batch: &[usize],
    reps: usize,
    json: bool,
    save_dir: Option<&std::path::Path>,
    plot: Option<&std::path::Path>,
) -> Result<()> {
    if let Some(s) = sparsity.iter().find(|s| !(0.0..=100.0).contains(*s)) {
        return Err(crate::Error::input(format!(
            "--sparsity {s} is outside 0..100 (percent)"
        )));
    }
    if batch.contains(&0) {
        return Err(crate::Error::input("--batch sizes must be at least 1"));
    }
    let subject = sparse_subject(model)?;
    if let Some(dir) = save_dir {
        for s in sparsity {
            let f = subject.pruned_file(s / 100.0)?;
            f.save(&dir.join(format!("{}-s{s}.sparse.safetensors", subject.name)))?;
        }
    }
    let fractions: Vec<f64> = sparsity.iter().map(|s| s / 100.0).collect();
    if !json {
        println!(
            "{:<10} {:>5} {:>9} {:>6} {:>11} {:>11} {:>11} {:>11} {:>8} {:>7} {:>9}",
            "layer",
            "kind",
            "sparsity",
            "batch",
            "dense ms",
            "sparse ms",
            "auto ms",
            "conv ms",
            "speedup",
            "ideal",
            "max diff"
        );
    }
    let opt = |v: Option<f64>| v.map_or(String::new(), |a| format!("{a:.3}"));
    let recs = crate::sparse::bench::run(&subject, &fractions, batch, reps.max(1), |r| {
        if !json {
            println!(
                "{:<10} {:>5} {:>8.0}% {:>6} {:>11.3} {:>11.3} {:>11} {:>11} {:>7.2}x {:>6.1}x {:>9.1e}",
                r.layer,
                r.kind,
                100.0 * r.sparsity,
                r.batch,
                r.dense_ms,
                r.sparse_ms,
                opt(r.auto_ms),
                opt(r.conv_ms),
                r.speedup,
                r.ideal_speedup,
                r.max_abs_diff
            );
        }
    })?;
    if let Some(dir) = plot {
        crate::report::sparse_plot::write(&recs, dir)?;
    }
    if json {
        return print_json(&recs);
    }
    Ok(())
}
