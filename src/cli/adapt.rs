//! `parana adapt`: adaptive evaluation of pruned networks (see
//! `parana::experiment::adaptive`).

use super::prune::PruneOpts;
use super::{DataOpts, Global, print_json, progress};
use crate::attack::masking::{self, CheckOptions};
use crate::attack::suite;
use crate::attack::{Attack, AttackOptions};
use crate::error::{Error, Result};
use crate::experiment::adaptive::{self, AdaptiveSpec, Event, Point};
use crate::prune::Method;
use std::path::PathBuf;

/// Prune at chosen ratios, retrain every noise against each pruned network
/// and compare accuracy under it with accuracy under the transferred noise.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  parana adapt --model lq.safetensors --noise noise/ --methods act,abs --ratios 0.5,0.8,0.86 --out adapt/
  parana adapt --model lq.safetensors --noise noise/ --methods act --ratios 0.86 --attack fgsm:0.1,pgd:0.1 --images 1000 --out adapt/
  parana adapt --model lq.safetensors --noise noise/ --methods act --ratios 0.86 --attack apgd-ce:0.1 --attack-checks --out adapt/
Interrupted? Run the same command again: finished points are kept, noise training resumes.")]
pub struct AdaptArgs {
    /// The unpruned model file (the noises were trained against it).
    #[arg(long)]
    model: PathBuf,
    /// The transferred noise files or folders of noise-*.safetensors files;
    /// each is retrained with its own recipe (from its metadata).
    #[arg(long, required = true, num_args = 1..)]
    noise: Vec<PathBuf>,
    /// Methods: abs, act, wanda, combined (comma-separated).
    #[arg(long, default_value = "act")]
    methods: String,
    /// Ratios of every method: a list like 0.5,0.8,0.86 or START:END:STEP.
    #[arg(long)]
    ratios: String,
    /// Per-example attacks on every point: fgsm, pgd, apgd-ce, apgd-dlr,
    /// apgd-t, square, autoattack, autoattack-fast, e.g. fgsm:0.1,pgd:0.1.
    #[arg(long)]
    attack: Option<String>,
    /// PGD steps (and PGD's steps in --attack-checks).
    #[arg(long, default_value_t = 20)]
    pgd_steps: usize,
    /// APGD iterations (apgd-*, autoattack, and the checks' base run).
    #[arg(long, default_value_t = 100)]
    apgd_steps: usize,
    /// Square attack queries per image (square, autoattack, the checks).
    #[arg(long, default_value_t = 1000)]
    queries: usize,
    /// Gradient-masking checks on every point (pruned points also transfer
    /// APGD-CE from the unpruned model), on the first --images test images
    /// (default 1000), at --checks-eps (default: the largest radius of
    /// --attack, else 0.1).
    #[arg(long)]
    attack_checks: bool,
    /// Radius of --attack-checks.
    #[arg(long, requires = "attack_checks")]
    checks_eps: Option<f32>,
    /// PGD random restarts.
    #[arg(long, default_value_t = 1)]
    restarts: usize,
    /// Seed of PGD's random starts.
    #[arg(long, default_value_t = 1)]
    attack_seed: u64,
    /// Attack only the first N test images (noises are evaluated on all).
    #[arg(long)]
    images: Option<usize>,
    /// Noises trained together in one stacked batch.
    #[arg(long, default_value_t = 8)]
    group: usize,
    /// Train the noises through the dense layers only (no sparse engine).
    #[arg(long)]
    dense: bool,
    #[command(flatten)]
    opts: PruneOpts,
    #[command(flatten)]
    data: DataOpts,
    /// Run folder (adaptive.json, adaptive.jsonl, adaptive.csv, one folder per point).
    #[arg(long)]
    out: PathBuf,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    json: bool,
}

pub(super) fn run(a: AdaptArgs, g: Global) -> Result<()> {
    // Everything a user can get wrong is checked before any work.
    let ratios = super::sweep::parse_ratios(&a.ratios)?;
    let mut points = Vec::new();
    for m in a.methods.split(',') {
        let m = Method::parse(m.trim())?;
        for r in &ratios {
            points.push(Point::new(m, *r, "given"));
        }
    }
    let prune = a.opts.parse()?;
    let attacks = match &a.attack {
        Some(s) => Attack::parse_with(
            s,
            None,
            &AttackOptions {
                steps: a.pgd_steps,
                restarts: a.restarts,
                seed: a.attack_seed,
                apgd_steps: a.apgd_steps,
                queries: a.queries,
                ..AttackOptions::default()
            },
        )?,
        None => vec![],
    };
    if a.images == Some(0) {
        return Err(Error::input("--images must be at least 1"));
    }
    if a.pgd_steps == 0 || a.apgd_steps == 0 || a.queries == 0 {
        return Err(Error::input(
            "--pgd-steps, --apgd-steps and --queries must be at least 1",
        ));
    }
    let checks = if a.attack_checks {
        let largest = attacks
            .iter()
            .map(Attack::eps)
            .fold(None, |m: Option<f32>, e| Some(m.map_or(e, |m| m.max(e))));
        let eps = a.checks_eps.or(largest).unwrap_or(0.1);
        if !(eps > 0.0 && eps <= 1.0) {
            return Err(Error::input(format!(
                "--checks-eps {eps} is outside (0, 1]"
            )));
        }
        Some(CheckOptions {
            apgd_steps: a.apgd_steps,
            pgd_steps: a.pgd_steps,
            queries: a.queries,
            images: Some(a.images.unwrap_or(1000)),
            ..CheckOptions::standard(eps, a.attack_seed)
        })
    } else {
        None
    };
    let spec = AdaptiveSpec {
        model: a.model.clone(),
        noise: a.noise.clone(),
        points,
        prune,
        attacks,
        attack_images: a.images,
        checks,
        group: a.group,
        sparse: !a.dense,
        out: a.out.clone(),
    };
    let data = a.data.load(None)?;
    let pb = progress(
        0,
        g.quiet,
        "{elapsed_precise} [{bar:30}] {pos}/{len} {prefix} {msg} (eta {eta})",
    );
    let o = adaptive::run(&spec, &data, |e| match e {
        Event::Point { index, total, name } => {
            pb.set_prefix(format!("point {index}/{total} {name}"));
            pb.set_message("");
        }
        Event::Noise(suite::Event::Step { done, total, msg }) => {
            pb.set_length(total);
            pb.set_position(done);
            pb.set_message(format!("fooling {msg}"));
        }
        Event::Noise(suite::Event::Start { .. }) => {}
        Event::Attack(name) => pb.set_message(name),
        Event::Row(r) => {
            if !g.quiet && !a.json {
                pb.suspend(|| {
                    println!(
                        "{} {}: clean {:.4}, mean accuracy under transferred noise {:.4}, \
                         under adaptive noise {:.4}",
                        r.method, r.ratio, r.clean, r.transfer_mean, r.adaptive_mean
                    );
                    for at in &r.attacks {
                        println!("  {}: robust accuracy {:.4}", at.attack, at.robust_accuracy);
                    }
                    if let Some(c) = &r.checks {
                        let verdict = if c.reliable {
                            "every check passed".to_string()
                        } else {
                            format!("FAILED: {}", masking::failures(c).join("; "))
                        };
                        println!("  gradient-masking checks at eps {}: {verdict}", c.eps);
                    }
                });
            }
        }
    })?;
    pb.finish_and_clear();
    if a.json {
        print_json(&serde_json::json!({
            "run": a.out,
            "rows": o.rows,
            "new_rows": o.new_rows,
            "seconds": o.seconds,
        }))
    } else {
        println!(
            "{}: {} new points in {:.1}s ({} recorded)",
            a.out.display(),
            o.new_rows,
            o.seconds,
            o.rows
        );
        Ok(())
    }
}
