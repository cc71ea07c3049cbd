//! `parana eval`: accuracy, per-class accuracy and confusion matrix of a
//! model on a dataset split; with `--noise` / `--attack`, the robustness
//! table (accuracy under universal noises, fooling rates, detection,
//! robust accuracy under FGSM/PGD), and with `--models`, the transfer
//! matrix of every noise on every model.

use super::{DataOpts, Global, print_json};
use crate::attack::noise_file::Noise;
use crate::attack::{Attack, AttackOptions, masking, robustness};
use crate::error::{Error, Result};
use crate::loader;
use crate::model::{Model, eval};
use std::path::PathBuf;

/// Evaluate a model on the test (or training) set.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  parana eval --model lq.safetensors
  parana eval --model lq.safetensors --json
  parana eval --model lq.safetensors --noise noise/ --attack fgsm:0.1,pgd:0.1
  parana eval --models lq.safetensors sce.safetensors --noise noise/ --csv
  parana eval --model lq.safetensors --attack pgd:0.1 --steps 40 --restarts 5 --attack-images 1000
  parana eval --model lq.safetensors --attack autoattack:0.1 --attack-images 1000 --json
  parana eval --model lq.safetensors --attack apgd-ce:0.1,apgd-t:0.1,square:0.1 --queries 1000
  parana eval --model pruned.safetensors --attack-checks --eps 0.1 --transfer-from lq.safetensors")]
pub struct EvalArgs {
    /// Model file.
    #[arg(long, required_unless_present = "models", conflicts_with = "models")]
    model: Option<PathBuf>,
    /// Several model files: every noise is evaluated on every model (transfer matrix).
    #[arg(long, num_args = 1..)]
    models: Vec<PathBuf>,
    /// Noise files or folders of noise-*.safetensors files.
    #[arg(long, num_args = 1..)]
    noise: Vec<PathBuf>,
    /// Per-example attacks, e.g. fgsm:0.1,pgd:0.1 (robust accuracy); also
    /// apgd-ce, apgd-dlr, apgd-t, square, autoattack, autoattack-fast.
    #[arg(long)]
    attack: Option<String>,
    /// APGD iterations (apgd-*, autoattack).
    #[arg(long, default_value_t = 100)]
    apgd_steps: usize,
    /// APGD-T target classes.
    #[arg(long, default_value_t = 9)]
    targets: usize,
    /// Square attack queries per image.
    #[arg(long, default_value_t = 5000)]
    queries: usize,
    /// Gradient-masking checks at --eps (default 0.1) on --attack-images
    /// images (default 1000), each with a verdict.
    #[arg(long, conflicts_with_all = ["attack", "noise", "models"])]
    attack_checks: bool,
    /// With --attack-checks: also transfer APGD-CE from this model file.
    #[arg(long, requires = "attack_checks")]
    transfer_from: Option<PathBuf>,
    /// Radius of attacks given without one (e.g. --attack pgd --eps 0.1).
    #[arg(long)]
    eps: Option<f32>,
    /// PGD steps (and PGD's steps in --attack-checks).
    #[arg(long, default_value_t = 20)]
    steps: usize,
    /// PGD step size (default 2.5 * eps / steps).
    #[arg(long)]
    alpha: Option<f32>,
    /// PGD random restarts (each image keeps its worst case).
    #[arg(long, default_value_t = 1)]
    restarts: usize,
    /// Target class of the attacks (default: untargeted).
    #[arg(long)]
    attack_target: Option<u8>,
    /// Attack only the first N images of the split.
    #[arg(long)]
    attack_images: Option<usize>,
    /// Seed of PGD's random starts.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print the robustness table as CSV.
    #[arg(long, conflicts_with = "json")]
    csv: bool,
    #[command(flatten)]
    data: DataOpts,
    /// Which split: test or train.
    #[arg(long, default_value = "test")]
    split: String,
    /// Print one JSON object (with `clean_accuracy`) instead of tables.
    #[arg(long)]
    json: bool,
}

pub(super) fn run(a: EvalArgs, g: Global) -> Result<()> {
    if a.attack_checks {
        return attack_checks(a, g);
    }
    if !a.models.is_empty() || !a.noise.is_empty() || a.attack.is_some() {
        return robustness_table(a, g);
    }
    let Some(model_path) = a.model.clone() else {
        return Err(Error::input("eval needs --model or --models"));
    };
    let mut model = loader::load(&model_path)?;
    let data = a.data.load(None)?;
    let split = match a.split.as_str() {
        "test" => &data.test,
        "train" => &data.train,
        s => {
            return Err(Error::input(format!(
                "unknown split '{s}' (expected test or train)"
            )));
        }
    };
    if split.image_len() != model.arch.in_len() || data.classes != model.arch.classes {
        return Err(Error::file(
            &model_path,
            format!(
                "model {} does not fit {} ({}x{} images, {} classes)",
                model.describe(),
                data.name,
                split.rows,
                split.cols,
                data.classes
            ),
        ));
    }
    let e = eval::evaluate(&mut model, split);
    if a.json {
        return print_json(&serde_json::json!({
            "model": model_path,
            "dataset": data.name,
            "split": a.split,
            "clean_accuracy": e.accuracy,
            "correct": e.correct,
            "total": e.total,
            "per_class_accuracy": e.per_class,
            "confusion": e.confusion,
        }));
    }
    println!(
        "model     {} ({}, {})",
        model_path.display(),
        model.describe(),
        model.head
    );
    println!("data      {} {} ({} images)", data.name, a.split, e.total);
    println!("accuracy  {:.4} ({} / {})", e.accuracy, e.correct, e.total);
    println!();
    println!("per class:");
    for (c, acc) in e.per_class.iter().enumerate() {
        println!("  {c}: {acc:.4}");
    }
    println!();
    println!("confusion (rows: true class, columns: predicted):");
    let classes = e.confusion.len();
    print!("     ");
    for c in 0..classes {
        print!("{c:>6}");
    }
    println!();
    for (t, row) in e.confusion.iter().enumerate() {
        print!("  {t:>2} ");
        for v in row {
            print!("{v:>6}");
        }
        println!();
    }
    Ok(())
}

/// One model's row of the robustness table.
#[derive(serde::Serialize)]
struct ModelRobustness {
    model: PathBuf,
    arch: String,
    head: String,
    clean_accuracy: f64,
    noises: Vec<serde_json::Value>,
    attacks: Vec<robustness::AttackEval>,
}

fn robustness_table(a: EvalArgs, g: Global) -> Result<()> {
    let paths: Vec<PathBuf> = match &a.model {
        Some(m) => vec![m.clone()],
        None => a.models.clone(),
    };
    // Load and check every input before the (long) evaluation starts.
    let attacks = match &a.attack {
        Some(s) => Attack::parse_with(
            s,
            a.eps,
            &AttackOptions {
                steps: a.steps,
                alpha: a.alpha,
                restarts: a.restarts,
                target: a.attack_target,
                seed: a.seed,
                apgd_steps: a.apgd_steps,
                targets: a.targets,
                queries: a.queries,
            },
        )?,
        None => vec![],
    };
    let mut models: Vec<Model> = Vec::new();
    for p in &paths {
        models.push(on_sparse_engine(loader::load(p)?));
    }
    let data = a.data.load(None)?;
    let split = match a.split.as_str() {
        "test" => &data.test,
        "train" => &data.train,
        s => {
            return Err(Error::input(format!(
                "unknown split '{s}' (expected test or train)"
            )));
        }
    };
    for (m, p) in models.iter().zip(&paths) {
        super::noise::check_model_fits(m, p, &data)?;
        if let Some(t) = a.attack_target
            && t as usize >= m.arch.classes
        {
            return Err(Error::input(format!(
                "--attack-target {t} is outside the classes 0-{}",
                m.arch.classes - 1
            )));
        }
    }
    let noise_paths = Noise::expand_paths(&a.noise)?;
    let mut noises = Vec::new();
    for p in &noise_paths {
        let n = Noise::load(p)?;
        for m in &models {
            n.check_fits(p, m, &data.name, data.classes)?;
        }
        noises.push(n);
    }
    let shas: Vec<String> = paths
        .iter()
        .map(|p| crate::attack::noise_file::sha256_file(p))
        .collect::<Result<_>>()?;
    let mut rows = Vec::new();
    for ((m, p), sha) in models.iter_mut().zip(&paths).zip(&shas) {
        if !g.quiet {
            eprintln!("evaluating {}", p.display());
        }
        let clean = robustness::outputs(m, split, None);
        let clean_accuracy = robustness::accuracy(&clean.pred, &split.labels);
        let mut nrows = Vec::new();
        for (n, np) in noises.iter().zip(&noise_paths) {
            let e = robustness::evaluate_noise(m, split, n, &clean);
            let own = n.meta.get("model_sha256") == Some(sha);
            let mut v = serde_json::to_value(&e).map_err(|e| Error::Other(e.to_string()))?;
            v["file"] = serde_json::json!(np);
            v["trained_on_this_model"] = serde_json::json!(own);
            nrows.push(v);
        }
        let mut arows = Vec::new();
        for at in &attacks {
            arows.push(robustness::evaluate_attack(m, split, at, a.attack_images));
        }
        rows.push(ModelRobustness {
            model: p.clone(),
            arch: m.describe(),
            head: m.head.name().into(),
            clean_accuracy,
            noises: nrows,
            attacks: arows,
        });
    }
    if a.json {
        let mut v = serde_json::json!({
            "dataset": data.name,
            "split": a.split,
            "models": rows,
        });
        if rows.len() == 1 {
            v["clean_accuracy"] = serde_json::json!(rows[0].clean_accuracy);
        }
        return print_json(&v);
    }
    let f = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    let name = |v: &serde_json::Value| {
        format!(
            "class {} limit {}",
            v["target"],
            v["limit"]
                .as_f64()
                .map(|l| format!("{:.2}", l))
                .unwrap_or_default()
        )
    };
    if a.csv {
        println!(
            "model,kind,name,target,limit,eps,accuracy,fooling_rate,success_rate,detection_auc,caught_at_95"
        );
        for r in &rows {
            let mp = r.model.display();
            println!("{mp},clean,clean,,,,{},,,,", r.clean_accuracy);
            for v in &r.noises {
                println!(
                    "{mp},noise,{},{},{},,{},{},,{},{}",
                    v["file"].as_str().unwrap_or(""),
                    v["target"],
                    v["limit"],
                    f(v, "accuracy"),
                    f(v, "fooling_rate"),
                    f(&v["detection"], "auc"),
                    f(&v["detection"], "caught")
                );
            }
            for t in &r.attacks {
                println!(
                    "{mp},attack,\"{}\",,,{},{},,{},,",
                    t.attack, t.eps, t.robust_accuracy, t.success_rate
                );
            }
        }
        return Ok(());
    }
    println!("data {} {} ({} images)", data.name, a.split, split.len());
    for r in &rows {
        println!();
        println!(
            "model {} ({}, {}): clean accuracy {:.4}",
            r.model.display(),
            r.arch,
            r.head,
            r.clean_accuracy
        );
        if !r.noises.is_empty() {
            println!(
                "  {:<24} {:>9} {:>9} {:>8} {:>12}",
                "noise", "accuracy", "fooling", "det.AUC", "caught@95%"
            );
            for v in &r.noises {
                println!(
                    "  {:<24} {:>9.4} {:>9.4} {:>8.3} {:>12.3}{}",
                    name(v),
                    f(v, "accuracy"),
                    f(v, "fooling_rate"),
                    f(&v["detection"], "auc"),
                    f(&v["detection"], "caught"),
                    if v["trained_on_this_model"] == true {
                        ""
                    } else {
                        "  (transfer)"
                    }
                );
            }
        }
        for t in &r.attacks {
            println!(
                "  {:<44} robust accuracy {:.4}  success {:.4}  ({} images, {:.1}s)",
                t.attack, t.robust_accuracy, t.success_rate, t.images, t.seconds
            );
            for st in &t.stages {
                println!(
                    "    then {:<12} on {:>5} images: broke {:>5}, robust accuracy {:.4}  ({:.1}s)",
                    st.attack, st.attacked, st.broken, st.robust_accuracy, st.seconds
                );
            }
        }
    }
    if rows.len() > 1 && !noises.is_empty() {
        println!();
        println!(
            "transfer: accuracy under each noise (rows) on each model (columns); * = trained on it"
        );
        print!("  {:<24}", "noise");
        for r in &rows {
            let n = r
                .model
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            print!(" {:>18}", n);
        }
        println!();
        for k in 0..noises.len() {
            print!("  {:<24}", name(&rows[0].noises[k]));
            for r in &rows {
                let v = &r.noises[k];
                let star = if v["trained_on_this_model"] == true {
                    "*"
                } else {
                    " "
                };
                print!(" {:>17.4}{star}", f(v, "accuracy"));
            }
            println!();
        }
    }
    Ok(())
}

/// The split named by `--split`.
fn pick_split<'a>(data: &'a crate::data::Dataset, s: &str) -> Result<&'a crate::data::Split> {
    match s {
        "test" => Ok(&data.test),
        "train" => Ok(&data.train),
        s => Err(Error::input(format!(
            "unknown split '{s}' (expected test or train)"
        ))),
    }
}

/// `--attack-checks`: the gradient-masking checks with their verdicts.
fn attack_checks(a: EvalArgs, g: Global) -> Result<()> {
    let Some(model_path) = a.model.clone() else {
        return Err(Error::input("--attack-checks needs --model"));
    };
    let eps = a.eps.unwrap_or(0.1);
    if !(eps > 0.0 && eps <= 1.0) {
        return Err(Error::input(format!("--eps {eps} is outside (0, 1]")));
    }
    if a.apgd_steps == 0 || a.steps == 0 {
        return Err(Error::input(
            "--apgd-steps and --steps must be at least 1 for --attack-checks",
        ));
    }
    let mut model = on_sparse_engine(loader::load(&model_path)?);
    let mut source = match &a.transfer_from {
        Some(p) => Some((on_sparse_engine(loader::load(p)?), p.clone())),
        None => None,
    };
    let data = a.data.load(None)?;
    super::noise::check_model_fits(&model, &model_path, &data)?;
    if let Some((m, p)) = &source {
        super::noise::check_model_fits(m, p, &data)?;
    }
    let split = pick_split(&data, &a.split)?;
    let n = a.attack_images.unwrap_or(1000).min(split.len());
    let len = split.image_len();
    let idx: Vec<usize> = (0..n).collect();
    let mut x = vec![0.0f32; n * len];
    split.gather_f32(&idx, &mut x);
    let labels = &split.labels[..n];
    let opts = masking::CheckOptions {
        pgd_steps: a.steps,
        apgd_steps: a.apgd_steps,
        queries: a.queries,
        ..masking::CheckOptions::standard(eps, a.seed)
    };
    if !g.quiet {
        eprintln!(
            "checking {} for gradient masking at eps {eps} on {n} images",
            model_path.display()
        );
    }
    let t0 = std::time::Instant::now();
    let r = masking::run_checks(
        &mut model,
        &x,
        labels,
        &opts,
        source.as_mut().map(|s| &mut s.0),
    );
    let seconds = t0.elapsed().as_secs_f64();
    if a.json {
        let mut v = serde_json::to_value(&r).map_err(|e| Error::Other(e.to_string()))?;
        v["model"] = serde_json::json!(model_path);
        v["transfer_from"] = serde_json::json!(source.as_ref().map(|s| &s.1));
        v["dataset"] = serde_json::json!(data.name);
        v["seconds"] = serde_json::json!(seconds);
        return print_json(&v);
    }
    println!(
        "model {} ({}): eps {eps}, {n} images, clean accuracy {:.4}, white-box robust accuracy {:.4}",
        model_path.display(),
        model.describe(),
        r.clean_accuracy,
        r.white_box
    );
    for c in &r.checks {
        println!(
            "  [{}] {:<12} {}",
            if c.passed { "pass" } else { "FAIL" },
            c.name,
            c.verdict
        );
    }
    println!(
        "  verdict: {}  ({seconds:.1}s)",
        if r.reliable {
            "no sign of gradient masking; the white-box figure can be trusted"
        } else {
            "signs of gradient masking; the white-box figure is unreliable"
        }
    );
    Ok(())
}

/// A pruned model's sparse enough layers on the sparse engine (a no-op for
/// dense models): noise, attacks and checks call the network thousands of
/// times (Square only forward, APGD forward and backward), and a
/// 90%-pruned article MLP runs them several times faster there, with the
/// same outputs to rounding.
fn on_sparse_engine(mut m: crate::model::Model) -> crate::model::Model {
    m.net = crate::sparse::sparsify(m.net, crate::sparse::MAX_DENSITY);
    m
}
