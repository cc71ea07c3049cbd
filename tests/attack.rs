//! Attacks on real MNIST with a small trained MLP: perturbations stay in
//! their ball and in [0, 1], PGD is never weaker with more steps or
//! restarts and never weaker than FGSM, and universal noise trained through
//! the real binary lowers accuracy; bad noise inputs give one-line errors
//! with exit code 2 and write nothing.

mod common;

use common::{mnist, mnist_dir, parana};
use parana::attack::{Attack, fgsm, pgd::PgdConfig, robustness};
use parana::loader;
use parana::model::{Arch, Model, init};
use parana::nn::Head;
use parana::train::{TrainConfig, TrainIo};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

/// A 784-64-10 `lq` MLP trained for 400 steps (about 93% accuracy), saved
/// once per test binary.
fn small_model_file() -> &'static Path {
    static FILE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, p) = FILE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("small.safetensors");
        let mut m = Model::new(Arch::custom(vec![64], vec![]).unwrap(), Head::Lq);
        init::init(&mut m, 1);
        let cfg = TrainConfig {
            steps: 400,
            batch: 100,
            lr: 2e-3,
            ..TrainConfig::default()
        };
        let io = TrainIo {
            checkpoint: None,
            checkpoint_every: 0,
            resume: false,
            log: None,
            eval_every: 0,
            keep_masks: None,
        };
        parana::train::train(&mut m, mnist(), &cfg, &io, |_| {}).unwrap();
        m.meta.insert("dataset".into(), "mnist".into());
        loader::save(&m, &p).unwrap();
        (dir, p)
    });
    p
}

fn small_model() -> Model {
    loader::load(small_model_file()).unwrap()
}

fn test_images(n: usize) -> (Vec<f32>, Vec<u8>) {
    let t = &mnist().test;
    let idx: Vec<usize> = (0..n).collect();
    let mut x = vec![0.0; n * 784];
    t.gather_f32(&idx, &mut x);
    (x, t.labels[..n].to_vec())
}

fn pgd(eps: f32, steps: usize, restarts: usize, target: Option<u8>) -> Attack {
    Attack::Pgd(PgdConfig {
        eps,
        alpha: 2.5 * eps / steps as f32,
        steps,
        restarts,
        target,
        seed: 7,
    })
}

#[test]
fn every_perturbation_is_within_eps_and_within_unit_range() {
    let mut m = small_model();
    let (x, y) = test_images(300);
    for eps in [0.05f32, 0.3] {
        for target in [None, Some(2u8)] {
            for attack in [Attack::Fgsm { eps, target }, pgd(eps, 7, 2, target)] {
                let o = attack.run(&mut m, &x, &y, 0);
                assert_eq!(o.adv.len(), x.len());
                let mut moved = 0;
                for (a, &v) in o.adv.iter().zip(&x) {
                    assert!(
                        (0.0..=1.0).contains(a),
                        "{} left [0, 1]: {a}",
                        attack.describe()
                    );
                    assert!(
                        (a - v).abs() <= eps + 1e-6,
                        "{}: moved {}",
                        attack.describe(),
                        a - v
                    );
                    moved += (a != &v) as usize;
                }
                assert!(moved > x.len() / 10, "{} hardly moved", attack.describe());
                // The reported predictions are the model's on the returned images.
                let mut check = Vec::new();
                parana::attack::predict_rows(&mut m, &o.adv, y.len(), &mut check);
                assert_eq!(check, o.pred);
            }
        }
    }
}

#[test]
fn pgd_with_more_steps_or_restarts_is_never_weaker() {
    let mut m = small_model();
    let (x, y) = test_images(400);
    for target in [None, Some(5u8)] {
        let a = pgd(0.08, 5, 1, target).run(&mut m, &x, &y, 0);
        // Same step size, more steps: a superset of the points visited.
        let mut more = pgd(0.08, 5, 1, target);
        if let Attack::Pgd(c) = &mut more {
            c.steps = 12;
        }
        let b = more.run(&mut m, &x, &y, 0);
        let mut restarts = more.clone();
        if let Attack::Pgd(c) = &mut restarts {
            c.restarts = 3;
        }
        let c = restarts.run(&mut m, &x, &y, 0);
        for i in 0..y.len() {
            assert!(!a.fooled[i] || b.fooled[i], "image {i}: more steps lost it");
            assert!(
                !b.fooled[i] || c.fooled[i],
                "image {i}: more restarts lost it"
            );
        }
        let count = |o: &parana::attack::Outcome| o.fooled.iter().filter(|&&f| f).count();
        assert!(count(&a) <= count(&b) && count(&b) <= count(&c));
        assert!(
            count(&c) > count(&a),
            "{target:?}: more work broke nothing more"
        );
    }
}

#[test]
fn pgd_robust_accuracy_is_not_above_fgsm_at_the_same_eps() {
    let mut m = small_model();
    let test = &mnist().test;
    let clean = robustness::outputs(&mut m, test, None);
    let clean_acc = robustness::accuracy(&clean.pred[..500], &test.labels[..500]);
    for eps in [0.05f32, 0.1, 0.2] {
        let f = robustness::evaluate_attack(
            &mut m,
            test,
            &Attack::Fgsm { eps, target: None },
            Some(500),
        );
        let p = robustness::evaluate_attack(&mut m, test, &pgd(eps, 20, 1, None), Some(500));
        assert!(
            p.robust_accuracy <= f.robust_accuracy,
            "eps {eps}: PGD {} > FGSM {}",
            p.robust_accuracy,
            f.robust_accuracy
        );
        assert!(f.robust_accuracy < clean_acc, "eps {eps}: FGSM did nothing");
    }
    // FGSM agrees with a direct call on the same images.
    let (x, y) = test_images(500);
    let o = fgsm::fgsm(&mut m, &x, &y, 0.1, None);
    let f = robustness::evaluate_attack(
        &mut m,
        test,
        &Attack::Fgsm {
            eps: 0.1,
            target: None,
        },
        Some(500),
    );
    assert_eq!(robustness::accuracy(&o.pred, &y), f.robust_accuracy);
}

fn run(args: &[&str]) -> Output {
    parana().args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn universal_noise_lowers_accuracy_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("noise");
    let m = small_model_file().to_str().unwrap();
    let d = mnist_dir();
    let d = d.to_str().unwrap();
    let o = run(&[
        "noise",
        "train",
        "--model",
        m,
        "--target",
        "3",
        "--limit",
        "0.3",
        "--steps",
        "300",
        "--data-dir",
        d,
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let clean = s["clean_accuracy"].as_f64().unwrap();
    let noisy = s["noises"][0]["accuracy"].as_f64().unwrap();
    let fooling = s["noises"][0]["fooling_rate"].as_f64().unwrap();
    assert!(clean > 0.88, "{s}");
    assert!(noisy < clean - 0.3, "noise barely hurt: {s}");
    assert!(fooling > 0.3, "{s}");
    let nf = out.join("noise-class3-limit0.3.safetensors");
    assert!(nf.exists() && out.join("noise-class3-limit0.3.png").exists());
    assert!(!out.join("noise-class3-limit0.3.ckpt.safetensors").exists());
    let noise = parana::attack::noise_file::Noise::load(&nf).unwrap();
    assert!(noise.data.iter().all(|v| v.abs() <= 0.3));
    assert_eq!(noise.meta["steps"], "300");
    assert_eq!(noise.meta["dataset"], "mnist");
    assert_eq!(
        noise.meta["model_sha256"],
        parana::attack::noise_file::sha256_file(small_model_file()).unwrap()
    );

    // eval --noise on the folder gives the same accuracy, and the table
    // has the attack too.
    let o = run(&[
        "eval",
        "--model",
        m,
        "--noise",
        out.to_str().unwrap(),
        "--attack",
        "fgsm:0.1",
        "--attack-images",
        "200",
        "--data-dir",
        d,
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let row = &e["models"][0];
    assert!((row["noises"][0]["accuracy"].as_f64().unwrap() - noisy).abs() < 1e-12);
    assert_eq!(row["noises"][0]["trained_on_this_model"], true);
    let auc = row["noises"][0]["detection"]["auc"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&auc));
    assert_eq!(row["attacks"][0]["images"], 200);
    let o = run(&[
        "eval",
        "--models",
        m,
        m,
        "--noise",
        nf.to_str().unwrap(),
        "--data-dir",
        d,
        "--csv",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        csv.lines().filter(|l| l.contains(",noise,")).count(),
        2,
        "{csv}"
    );
}

#[test]
fn resuming_a_suite_keeps_finished_noises_and_retrains_those_of_other_settings() {
    use parana::attack::noise_file::Noise;
    let dir = tempfile::tempdir().unwrap();
    let m = small_model_file().to_str().unwrap();
    let d = mnist_dir();
    let d = d.to_str().unwrap();
    let name = "noise-class3-limit0.3.safetensors";
    let train = |out: &Path, resume: bool| {
        let mut a = vec![
            "noise",
            "train",
            "--model",
            m,
            "--target",
            "3",
            "--limit",
            "0.3",
            "--steps",
            "100",
            "--data-dir",
            d,
            "--out",
        ];
        a.push(out.to_str().unwrap());
        if resume {
            a.push("--resume");
        }
        let o = run(&a);
        assert!(o.status.success(), "{}", stderr(&o));
    };
    let whole = dir.path().join("whole");
    train(&whole, false);
    let want = Noise::load(&whole.join(name)).unwrap();
    assert_eq!(
        want.meta["resume_key"],
        "target=3 limit=0.3 lr=0.1 optimizer=sgd seed=1 batch=250"
    );
    // A finished file of the same settings (here with other values, to
    // tell) is kept as it is: evaluated and written again, not retrained.
    let planted = |out: &Path, key: &str| -> Vec<f32> {
        std::fs::create_dir_all(out).unwrap();
        let mut n = want.clone();
        n.data.iter_mut().for_each(|v| *v *= 0.5);
        n.meta.insert("resume_key".into(), key.into());
        n.meta.insert("accuracy".into(), "0.0000".into());
        n.save(&out.join(name)).unwrap();
        n.data
    };
    let kept = dir.path().join("kept");
    let half = planted(&kept, &want.meta["resume_key"]);
    train(&kept, true);
    let got = Noise::load(&kept.join(name)).unwrap();
    assert_eq!(got.data, half);
    assert_ne!(got.meta["accuracy"], "0.0000", "re-evaluated");
    // Made with other settings: trained afresh, as the whole run.
    let other = dir.path().join("other");
    planted(
        &other,
        "target=3 limit=0.3 lr=0.1 optimizer=sgd seed=2 batch=250",
    );
    train(&other, true);
    assert_eq!(Noise::load(&other.join(name)).unwrap().data, want.data);
}

/// Exit code 2, one line on stderr naming every needle, nothing written to `out`.
fn assert_rejected(args: &[&str], needles: &[&str], out: &Path) {
    let o = run(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err}"
    );
    for n in needles {
        assert!(err.contains(n), "'{n}' missing from: {err}");
    }
    assert!(!out.exists(), "{args:?} wrote {}", out.display());
}

#[test]
fn bad_noise_inputs_give_one_line_errors_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let m = small_model_file().to_str().unwrap();
    let d = mnist_dir();
    let d = d.to_str().unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    let train = |extra: &[&str]| {
        let mut v = vec![
            "noise",
            "train",
            "--steps",
            "2",
            "--data-dir",
            d,
            "--out",
            o,
        ];
        v.extend_from_slice(extra);
        v.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let args = |v: &Vec<String>| v.clone();
    let check = |v: Vec<String>, needles: &[&str]| {
        let r: Vec<&str> = v.iter().map(String::as_str).collect();
        assert_rejected(&r, needles, &out);
    };
    // Flags: limit outside (0, 1], target outside the classes.
    for lim in ["--limit=0", "--limit=1.5", "--limit=-0.1", "--limit=nan"] {
        check(
            args(&train(&["--model", m, "--target", "3", lim])),
            &["limit", "(0, 1]"],
        );
    }
    check(
        args(&train(&["--model", m, "--target", "10", "--limit", "0.2"])),
        &["small.safetensors", "target 10", "0-9"],
    );
    // A model file that is not a model.
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"not a model at all").unwrap();
    check(
        args(&train(&[
            "--model",
            junk.to_str().unwrap(),
            "--target",
            "3",
            "--limit",
            "0.2",
        ])),
        &["junk.safetensors", "not a valid safetensors"],
    );

    // Noise files for eval: good one first.
    let good = parana::attack::noise_file::Noise {
        data: vec![0.1; 784],
        input: [28, 28, 1],
        target: 3,
        limit: 0.2,
        meta: [
            ("dataset".to_string(), "mnist".to_string()),
            ("classes".into(), "10".into()),
        ]
        .into(),
    };
    let eval = |noise: &Path| {
        vec![
            "eval".to_string(),
            "--model".into(),
            m.into(),
            "--noise".into(),
            noise.to_str().unwrap().into(),
            "--data-dir".into(),
            d.into(),
        ]
    };
    let p = dir.path().join("good.safetensors");
    good.save(&p).unwrap();
    let ok = run(&eval(&p).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(ok.status.success(), "{}", stderr(&ok));

    let write = |name: &str, f: parana::tensorfile::TensorFile| {
        let p = dir.path().join(name);
        f.save(&p).unwrap();
        p
    };
    let base = good.to_tensor_file();
    let mut f = base.clone();
    f.insert("noise", vec![1, 14, 14], vec![0.0; 196]);
    let p = write("small-shape.safetensors", f);
    check(
        eval(&p),
        &["small-shape.safetensors", "[1, 14, 14]", "does not fit"],
    );
    let mut f = base.clone();
    f.insert("noise", vec![784], vec![0.0; 784]);
    let p = write("flat.safetensors", f);
    check(eval(&p), &["flat.safetensors", "shape [784]"]);
    let mut f = base.clone();
    f.meta.insert("dataset".into(), "fashion-mnist".into());
    let p = write("fashion.safetensors", f);
    check(eval(&p), &["fashion.safetensors", "fashion-mnist"]);
    let mut f = base.clone();
    f.meta.insert("limit".into(), "1.5".into());
    let p = write("limit.safetensors", f);
    check(eval(&p), &["limit.safetensors", "outside (0, 1]"]);
    let mut f = base.clone();
    f.meta.insert("target".into(), "12".into());
    let p = write("target.safetensors", f);
    check(eval(&p), &["target.safetensors", "target 12"]);
    let mut f = base.clone();
    f.insert("noise", vec![1, 28, 28], vec![0.5; 784]);
    let p = write("big.safetensors", f);
    check(eval(&p), &["big.safetensors", "exceeds the limit"]);
    // A model given as a noise, and a noise given as a model.
    check(
        eval(small_model_file()),
        &["small.safetensors", "a model file, not a noise file"],
    );
    let good_path = dir.path().join("good.safetensors");
    check(
        args(&train(&[
            "--model",
            good_path.to_str().unwrap(),
            "--target",
            "3",
            "--limit",
            "0.2",
        ])),
        &["good.safetensors"],
    );
}
