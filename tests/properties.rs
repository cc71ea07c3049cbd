//! Property tests of the file readers on stable (the inputs of the fuzz
//! targets in `fuzz/`): any mutation of a valid model, sparse, noise or
//! mask file, of a sweep's results log and of an experiment TOML file, is
//! either read or rejected with an error naming the file — never a panic.
//! (IDX files have their own in `data_idx.rs`.)

use parana::attack::noise_file::Noise;
use parana::loader;
use parana::model::{Arch, Model, init};
use parana::nn::Head;
use parana::tensorfile::TensorFile;
use proptest::prelude::*;
use proptest::sample::Index;
use std::path::Path;

fn small_model() -> Model {
    let mut m = Model::new(Arch::custom(vec![12, 8], vec![]).unwrap(), Head::Lq);
    init::init(&mut m, 1);
    m
}

/// Valid files of every kind the loaders read, made once.
fn seeds() -> &'static [(&'static str, Vec<u8>)] {
    static S: std::sync::OnceLock<Vec<(&'static str, Vec<u8>)>> = std::sync::OnceLock::new();
    S.get_or_init(|| {
        let m = small_model();
        let model = loader::to_tensor_file(&m).to_bytes().unwrap();
        let mut p = small_model();
        parana::sparse::prune_magnitude(&mut p.net, 0.8);
        let (sf, _) = parana::sparse::file::compile(&p).unwrap();
        let sparse = sf.to_bytes().unwrap();
        let noise = Noise {
            data: (0..784).map(|i| ((i % 7) as f32 - 3.0) * 0.05).collect(),
            input: [28, 28, 1],
            target: 3,
            limit: 0.25,
            meta: Default::default(),
        }
        .to_tensor_file()
        .to_bytes()
        .unwrap();
        let mut mf = loader::to_tensor_file(&p);
        let keep: Vec<bool> = p
            .net
            .params()
            .next()
            .unwrap()
            .value
            .iter()
            .map(|&v| v != 0.0)
            .collect();
        mf.insert_bool("masks.layers.0.weight", vec![12, 784], keep);
        let masked = mf.to_bytes().unwrap();
        vec![
            ("model", model),
            ("sparse", sparse),
            ("noise", noise),
            ("masked", masked),
        ]
    })
}

/// `bytes` with `edits` (position within the first `span` bytes, new
/// byte) applied and cut at `cut`.
fn edit_bytes(bytes: &[u8], span: usize, edits: &[(Index, u8)], cut: Option<Index>) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for (i, v) in edits {
        b[i.index(span)] = *v;
    }
    if let Some(c) = cut {
        b.truncate(c.index(b.len() + 1));
    }
    b
}

/// A safetensors file mutated, in its header (the JSON the loaders parse)
/// only when `header_only`.
fn mutate(bytes: &[u8], edits: &[(Index, u8)], cut: Option<Index>, header_only: bool) -> Vec<u8> {
    let span = if header_only {
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        (8 + n).min(bytes.len())
    } else {
        bytes.len()
    };
    edit_bytes(bytes, span, edits, cut)
}

/// Read `bytes` as every kind of file: Ok or an error naming the path.
fn read_all_ways(bytes: &[u8]) -> Result<(), String> {
    let p = Path::new("/x/input.safetensors");
    let named = |e: parana::Error| {
        let s = e.to_string();
        if s.contains("input.safetensors") {
            Ok(())
        } else {
            Err(format!("error does not name the file: {s}"))
        }
    };
    let f = match TensorFile::from_bytes(bytes, p) {
        Ok(f) => f,
        Err(e) => return named(e),
    };
    match loader::from_tensor_file(&f, p) {
        Ok(m) => {
            if let Err(e) = parana::prune::file::masks_of(&f, &m, p) {
                named(e)?;
            }
        }
        Err(e) => named(e)?,
    }
    if let Err(e) = Noise::from_tensor_file(&f, p) {
        named(e)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn mutated_files_are_read_or_rejected_naming_the_file(
        which in 0usize..4,
        edits in prop::collection::vec((any::<Index>(), any::<u8>()), 0..6),
        cut in prop::option::of(any::<Index>()),
        header_only: bool,
    ) {
        let (_, bytes) = &seeds()[which];
        let b = mutate(bytes, &edits, cut, header_only);
        let r = std::panic::catch_unwind(|| read_all_ways(&b));
        prop_assert!(r.is_ok(), "panicked");
        if let Ok(Err(e)) = r {
            prop_assert!(false, "{}", e);
        }
    }

    #[test]
    fn mutated_results_logs_are_read_or_rejected(
        edits in prop::collection::vec((any::<Index>(), any::<u8>()), 1..4),
        cut in prop::option::of(any::<Index>()),
        in_settings: bool,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (sweep, results) = results_seed();
        let (target, other) = if in_settings { ("sweep.json", "results.jsonl") } else { ("results.jsonl", "sweep.json") };
        let (mine, theirs) = if in_settings { (sweep, results) } else { (results, sweep) };
        let b = edit_bytes(mine.as_bytes(), mine.len(), &edits, cut);
        std::fs::write(dir.path().join(target), &b).unwrap();
        std::fs::write(dir.path().join(other), theirs).unwrap();
        let r = std::panic::catch_unwind(|| parana::experiment::sweep::results::Run::load(dir.path()));
        prop_assert!(r.is_ok(), "panicked");
        if let Ok(Err(e)) = r {
            let s = e.to_string();
            prop_assert!(s.contains(target) || s.contains(&*dir.path().to_string_lossy()), "{}", s);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Experiment files (the checked-in quick.toml, mutated): parsed or
    /// rejected naming the file, never a panic.
    #[test]
    fn mutated_experiment_files_are_parsed_or_rejected(
        edits in prop::collection::vec((any::<Index>(), any::<u8>()), 1..5),
        cut in prop::option::of(any::<Index>()),
    ) {
        let src = include_str!("../experiments/quick.toml");
        let b = edit_bytes(src.as_bytes(), src.len(), &edits, cut);
        let text = String::from_utf8_lossy(&b).into_owned();
        let p = Path::new("/x/exp.toml");
        let r = std::panic::catch_unwind(|| parana::experiment::config::Experiment::parse(&text, p));
        prop_assert!(r.is_ok(), "panicked");
        if let Ok(Err(e)) = r {
            prop_assert!(e.to_string().contains("exp.toml"), "{}", e);
        }
    }
}

/// A real sweep folder's `sweep.json` and `results.jsonl`.
fn results_seed() -> (&'static str, &'static str) {
    static S: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    let (a, b) = S.get_or_init(|| {
        use parana::experiment::sweep::{
            Group, Row, Settings,
            results::{Run, SweepFile},
        };
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings {
            model_sha256: "ab".repeat(32),
            arch: "mlp 784-12-8-10".into(),
            dataset: "mnist".into(),
            test_images: 100,
            methods: vec!["abs".into()],
            ratios: vec!["0".into(), "0.5".into()],
            groups: vec![Group {
                name: "all".into(),
                layers: None,
            }],
            scope: "per-matrix".into(),
            offset: "0.07".into(),
            score_data: "train".into(),
            score_images: 10,
            seed: 1,
            noises: vec![],
            layer_weights: vec![9408, 96, 80],
        };
        let mut run = Run::open_or_create(
            dir.path(),
            SweepFile {
                format: "parana-sweep".into(),
                model: "m.safetensors".into(),
                shard: None,
                settings,
            },
        )
        .unwrap();
        for r in ["0", "0.5"] {
            run.record(Row {
                group: "all".into(),
                method: "abs".into(),
                ratio: r.into(),
                clean: 0.91,
                noisy: vec![],
                fooled: vec![],
                mean_noisy: 0.0,
                remaining: vec![9408, 96, 80],
            })
            .unwrap();
        }
        let read = |n| std::fs::read_to_string(dir.path().join(n)).unwrap();
        (read("sweep.json"), read("results.jsonl"))
    });
    (a, b)
}
