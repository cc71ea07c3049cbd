//! The corrupt-input suite: a generated set of bad files — IDX datasets,
//! models, masks, noise files, sparse files, sweep folders — and bad
//! command-line values, each given to the real `parana` binary. Every case
//! must end with exit code 2, exactly one line on stderr naming the file (or
//! value) and the problem, no panic, no output file created and no existing
//! file changed.

mod common;

use common::{mnist, parana, small_model_file};
use parana::tensorfile::TensorFile;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One bad input: the arguments, words stderr must contain, and an output
/// path that must not appear.
struct Case {
    name: String,
    args: Vec<String>,
    needles: Vec<String>,
    out: Option<PathBuf>,
}

fn case(name: &str, args: &[&str], needles: &[&str]) -> Case {
    Case {
        name: name.into(),
        args: args.iter().map(|s| s.to_string()).collect(),
        needles: needles.iter().map(|s| s.to_string()).collect(),
        out: None,
    }
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut m = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                m.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    m
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A small MNIST-format dataset (the first images of real MNIST) in `dir`,
/// raw IDX files; returns their four paths (train images, train labels,
/// test images, test labels).
fn small_dataset(dir: &Path) -> [PathBuf; 4] {
    use parana::data::idx::{images_header, labels_header};
    std::fs::create_dir_all(dir).unwrap();
    let d = mnist();
    let write = |split: &parana::data::Split, n: usize, img: &str, lab: &str| {
        let mut bytes = images_header(n, 28, 28);
        bytes.extend_from_slice(&split.images[..n * 784]);
        std::fs::write(dir.join(img), bytes).unwrap();
        let mut bytes = labels_header(n);
        bytes.extend_from_slice(&split.labels[..n]);
        std::fs::write(dir.join(lab), bytes).unwrap();
    };
    write(
        &d.train,
        600,
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
    );
    write(
        &d.test,
        300,
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    );
    [
        dir.join("train-images-idx3-ubyte"),
        dir.join("train-labels-idx1-ubyte"),
        dir.join("t10k-images-idx3-ubyte"),
        dir.join("t10k-labels-idx1-ubyte"),
    ]
}

/// A copy of the dataset in `good` at `dir` with file `which` (0..4)
/// replaced by `bytes` (written under `name`, e.g. with `.gz`).
fn dataset_with(good: &[PathBuf; 4], dir: &Path, which: usize, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    for (k, p) in good.iter().enumerate() {
        if k != which {
            std::fs::copy(p, dir.join(p.file_name().unwrap())).unwrap();
        }
    }
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// `bytes` with `new` written at offset `at`.
fn patched(bytes: &[u8], at: usize, new: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[at..at + new.len()].copy_from_slice(new);
    b
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// `f` with tensor `name` changed by `edit`, saved at `path`.
fn edited(f: &TensorFile, path: &Path, edit: impl FnOnce(&mut TensorFile)) -> PathBuf {
    let mut g = f.clone();
    edit(&mut g);
    g.save(path).unwrap();
    path.to_path_buf()
}

#[test]
fn every_bad_input_gives_one_line_exit_code_2_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let model = small_model_file(root);
    let good = small_dataset(&root.join("data"));
    let gd = root.join("data");
    let gd = s(&gd).to_string();
    let out = root.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mut cases: Vec<Case> = Vec::new();

    // --- IDX datasets (eval on a copy of the small dataset with one file bad).
    let images = std::fs::read(&good[2]).unwrap();
    let labels = std::fs::read(&good[3]).unwrap();
    let mut idx_cases: Vec<(&str, usize, &str, Vec<u8>, &str)> = vec![
        (
            "idx empty",
            2,
            "t10k-images-idx3-ubyte",
            vec![],
            "t10k-images",
        ),
        (
            "idx header cut",
            2,
            "t10k-images-idx3-ubyte",
            images[..10].to_vec(),
            "t10k-images",
        ),
        (
            "idx body cut",
            2,
            "t10k-images-idx3-ubyte",
            images[..images.len() / 2].to_vec(),
            "t10k-images",
        ),
        (
            "idx one byte short",
            3,
            "t10k-labels-idx1-ubyte",
            labels[..labels.len() - 1].to_vec(),
            "t10k-labels",
        ),
        (
            "idx trailing bytes",
            3,
            "t10k-labels-idx1-ubyte",
            [labels.clone(), vec![0; 7]].concat(),
            "t10k-labels",
        ),
    ];
    // One field of a valid file changed: (name, which file, bytes, needle).
    let (img, lab) = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");
    let mut fewer = parana::data::idx::labels_header(299);
    fewer.extend_from_slice(&labels[8..8 + 299]);
    let mut zero = parana::data::idx::images_header(0, 28, 28);
    zero.truncate(16);
    for (name, which, file, bytes, needle) in [
        // dtype byte: float instead of unsigned byte
        (
            "idx wrong dtype",
            2,
            img,
            patched(&images, 2, &[0x0D]),
            "t10k-images",
        ),
        // one dimension in an images file
        (
            "idx wrong rank",
            2,
            img,
            patched(&images, 3, &[1]),
            "t10k-images",
        ),
        (
            "idx wrong magic",
            3,
            lab,
            patched(&labels, 0, &[0x1F]),
            "t10k-labels",
        ),
        ("idx zero images", 2, img, zero, "t10k-images"),
        ("idx count mismatch", 3, lab, fewer, "t10k"),
        (
            "idx label out of range",
            3,
            lab,
            patched(&labels, 20, &[12]),
            "t10k-labels",
        ),
        (
            "idx huge count",
            2,
            img,
            patched(&images, 4, &u32::MAX.to_be_bytes()),
            "t10k-images",
        ),
    ] {
        idx_cases.push((name, which, file, bytes, needle));
    }
    let gz = gzip(&images);
    idx_cases.push((
        "gz truncated",
        2,
        "t10k-images-idx3-ubyte.gz",
        gz[..gz.len() / 2].to_vec(),
        "t10k-images",
    ));
    let mut bad_gz = gz.clone();
    for b in &mut bad_gz[20..60] {
        *b ^= 0x5A;
    }
    idx_cases.push((
        "gz corrupt",
        2,
        "t10k-images-idx3-ubyte.gz",
        bad_gz,
        "t10k-images",
    ));
    idx_cases.push((
        "gz of a cut file",
        2,
        "t10k-images-idx3-ubyte.gz",
        gzip(&images[..images.len() - 100]),
        "t10k-images",
    ));
    idx_cases.push((
        "gz of garbage",
        3,
        "t10k-labels-idx1-ubyte.gz",
        gzip(b"definitely not an IDX file"),
        "t10k-labels",
    ));
    for (k, (name, which, file, bytes, needle)) in idx_cases.into_iter().enumerate() {
        let dir = root.join(format!("bad-data-{k}"));
        dataset_with(&good, &dir, which, file, &bytes);
        cases.push(case(
            name,
            &["eval", "--model", s(&model), "--data-dir", s(&dir)],
            &[needle],
        ));
    }

    // --- Model files.
    let mf = TensorFile::load(&model).unwrap();
    let bad = |n: &str| root.join(n);
    let m_bytes = std::fs::read(&model).unwrap();
    let raw: Vec<(&str, Vec<u8>, &str)> = vec![
        ("model empty", vec![], "not a valid safetensors"),
        (
            "model cut",
            m_bytes[..m_bytes.len() / 3].to_vec(),
            "safetensors",
        ),
        ("model header cut", m_bytes[..12].to_vec(), "safetensors"),
        ("model text", b"{\"hello\": 1}".to_vec(), "safetensors"),
        (
            "model huge header length",
            [&u64::MAX.to_le_bytes()[..], &m_bytes[8..]].concat(),
            "safetensors",
        ),
    ];
    for (k, (name, bytes, needle)) in raw.into_iter().enumerate() {
        let p = bad(&format!("raw-{k}.safetensors"));
        std::fs::write(&p, bytes).unwrap();
        cases.push(case(name, &["inspect", "--model", s(&p)], &[needle]));
    }
    let nan = edited(&mf, &bad("nan.safetensors"), |g| {
        g.tensors.get_mut("layers.1.weight").unwrap().data[5] = f32::NAN;
    });
    let inf = edited(&mf, &bad("inf.safetensors"), |g| {
        g.tensors.get_mut("layers.0.bias").unwrap().data[0] = f32::INFINITY;
    });
    let missing = edited(&mf, &bad("missing.safetensors"), |g| {
        g.tensors.remove("layers.2.bias");
    });
    let shape = edited(&mf, &bad("shape.safetensors"), |g| {
        let t = g.tensors.get_mut("layers.1.weight").unwrap();
        t.shape = vec![t.shape[1], t.shape[0]];
    });
    let extra = edited(&mf, &bad("extra.safetensors"), |g| {
        g.insert("layers.9.weight", vec![2], vec![0.0, 1.0]);
    });
    let arch = edited(&mf, &bad("arch.safetensors"), |g| {
        g.meta.insert("arch".into(), "{not json".into());
    });
    let ints = edited(&mf, &bad("ints.safetensors"), |g| {
        g.insert_int("layers.0.idx", vec![1], vec![3]);
    });
    for (name, p, needle) in [
        ("model NaN weight", &nan, "non-finite"),
        ("model Inf bias", &inf, "non-finite"),
        ("model missing tensor", &missing, "layers.2.bias"),
        ("model wrong shape", &shape, "layers.1.weight"),
        ("model unexpected tensor", &extra, "layers.9.weight"),
        ("model bad arch metadata", &arch, "arch"),
        ("model stray integer tensor", &ints, "layers.0.idx"),
    ] {
        cases.push(case(
            name,
            &["eval", "--model", s(p), "--data-dir", &gd],
            &[needle],
        ));
    }
    // A model for 20x20 images given 28x28 ones.
    let small_input = edited(&mf, &bad("other-input.safetensors"), |g| {
        g.meta.clear();
        let t = g.tensors.get_mut("layers.0.weight").unwrap();
        let rows = t.shape[0];
        t.shape = vec![rows, 400];
        t.data.truncate(rows * 400);
    });
    cases.push(case(
        "model of another architecture",
        &["eval", "--model", s(&small_input), "--data-dir", &gd],
        &["does not fit"],
    ));

    // --- Pruned models and masks.
    let pruned = root.join("pruned.safetensors");
    let o = parana()
        .args([
            "prune",
            "--model",
            s(&model),
            "--method",
            "abs",
            "--ratio",
            "0.8",
        ])
        .args(["--data-dir", &gd, "--out", s(&pruned)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pf = TensorFile::load(&pruned).unwrap();
    let mask_shape = edited(&pf, &bad("mask-shape.safetensors"), |g| {
        let t = g.bools.get_mut("masks.layers.0.weight").unwrap();
        t.data.truncate(10);
        t.shape = vec![10];
    });
    let mask_u8 = bad("mask-u8.safetensors");
    {
        // A U8 mask holding a 2: written by hand (TensorFile writes BOOL).
        let mut g = pf.clone();
        g.bools.clear();
        let mut bytes = g.to_bytes().unwrap();
        bytes = with_u8_tensor(&bytes, "masks.layers.0.weight", &[2, 1, 0, 1]);
        std::fs::write(&mask_u8, bytes).unwrap();
    }
    let no_masks = edited(&pf, &bad("no-masks.safetensors"), |g| g.bools.clear());
    for (name, p, needle) in [
        ("mask of the wrong shape", &mask_shape, "mask"),
        ("mask holding 2", &mask_u8, "expected 0 or 1"),
        ("keep-mask without masks", &no_masks, "masks"),
    ] {
        let o = out.join(format!("{}.safetensors", name.replace(' ', "-")));
        let mut c = case(
            name,
            &[
                "train",
                "--init",
                s(p),
                "--keep-mask",
                "--steps",
                "5",
                "--data-dir",
                &gd,
                "--out",
                s(&o),
            ],
            &[needle],
        );
        c.out = Some(o);
        cases.push(c);
    }

    // --- Noise files.
    let noise = parana::attack::noise_file::Noise {
        data: vec![0.1; 784],
        input: [28, 28, 1],
        target: 3,
        limit: 0.25,
        meta: BTreeMap::new(),
    };
    let nf = noise.to_tensor_file();
    let noise_name = nf.tensors.keys().next().unwrap().clone();
    let wrong_size = edited(&nf, &bad("noise-size.safetensors"), |g| {
        let t = g.tensors.get_mut(&noise_name).unwrap();
        t.data.truncate(400);
        t.shape = vec![1, 20, 20];
    });
    let noise_nan = edited(&nf, &bad("noise-nan.safetensors"), |g| {
        g.tensors.get_mut(&noise_name).unwrap().data[7] = f32::NAN;
    });
    let over = edited(&nf, &bad("noise-over.safetensors"), |g| {
        g.tensors.get_mut(&noise_name).unwrap().data[7] = 0.9;
    });
    let other_ds = edited(&nf, &bad("noise-fashion.safetensors"), |g| {
        g.meta.insert("dataset".into(), "fashion-mnist".into());
    });
    let target = edited(&nf, &bad("noise-target.safetensors"), |g| {
        g.meta.insert("target".into(), "12".into());
    });
    let nb = std::fs::read(&over).unwrap();
    let noise_cut = bad("noise-cut.safetensors");
    std::fs::write(&noise_cut, &nb[..nb.len() - 9]).unwrap();
    for (name, p, needle) in [
        ("noise of the wrong size", &wrong_size, "noise-size"),
        ("noise with NaN", &noise_nan, "non-finite"),
        ("noise beyond its limit", &over, "limit"),
        ("noise for another dataset", &other_ds, "fashion-mnist"),
        ("noise target out of range", &target, "target"),
        ("noise truncated", &noise_cut, "safetensors"),
    ] {
        cases.push(case(
            name,
            &[
                "eval",
                "--model",
                s(&model),
                "--data-dir",
                &gd,
                "--noise",
                s(p),
            ],
            &[needle],
        ));
    }

    // --- Compiled sparse files.
    let sparse = root.join("m.sparse.safetensors");
    let o = parana()
        .args(["compile", "--model", s(&pruned), "--out", s(&sparse)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sf = TensorFile::load(&sparse).unwrap();
    let col = "layers.1.col_indices";
    let crow = "layers.1.crow_indices";
    type Edit = Box<dyn FnOnce(&mut TensorFile)>;
    let sparse_cases: Vec<(&str, Edit)> = vec![
        (
            "sparse index out of range",
            Box::new(|g: &mut TensorFile| g.ints.get_mut(col).unwrap().data[0] = 1 << 20),
        ),
        (
            "sparse negative index",
            Box::new(|g: &mut TensorFile| g.ints.get_mut(col).unwrap().data[0] = -1),
        ),
        (
            "sparse unsorted indices",
            Box::new(|g: &mut TensorFile| {
                let (c, r) = (g.ints[col].data.clone(), g.ints[crow].data.clone());
                // The first row with two entries, swapped.
                let row = (0..r.len() - 1).find(|&i| r[i + 1] - r[i] >= 2).unwrap();
                let s = r[row] as usize;
                let d = &mut g.ints.get_mut(col).unwrap().data;
                d[s] = c[s + 1];
                d[s + 1] = c[s];
            }),
        ),
        (
            "sparse duplicate indices",
            Box::new(|g: &mut TensorFile| {
                let r = g.ints[crow].data.clone();
                let row = (0..r.len() - 1).find(|&i| r[i + 1] - r[i] >= 2).unwrap();
                let s = r[row] as usize;
                let d = &mut g.ints.get_mut(col).unwrap().data;
                d[s + 1] = d[s];
            }),
        ),
        (
            "sparse row pointers decreasing",
            Box::new(|g: &mut TensorFile| {
                let d = &mut g.ints.get_mut(crow).unwrap().data;
                d.swap(1, 2);
                if d[1] <= d[2] {
                    d[1] = d[2] + 1;
                }
            }),
        ),
        (
            "sparse lengths mismatch",
            Box::new(|g: &mut TensorFile| {
                let t = g.ints.get_mut(col).unwrap();
                t.data.pop();
                t.shape = vec![t.data.len()];
            }),
        ),
        (
            "sparse missing tensor",
            Box::new(|g: &mut TensorFile| {
                g.ints.remove(crow);
            }),
        ),
        (
            "sparse NaN value",
            Box::new(|g: &mut TensorFile| {
                g.tensors.get_mut("layers.1.values").unwrap().data[0] = f32::NAN;
            }),
        ),
    ];
    for (k, (name, edit)) in sparse_cases.into_iter().enumerate() {
        let p = edited(&sf, &bad(&format!("sparse-{k}.safetensors")), edit);
        cases.push(case(
            name,
            &["eval", "--model", s(&p), "--data-dir", &gd],
            &[&format!("sparse-{k}.safetensors")],
        ));
    }

    // --- Experiment files (parana reproduce).
    let good_toml = format!(
        "dataset = \"mnist\"\ndata_dir = \"{gd}\"\n\n[[model]]\nname = \"m\"\nhidden = [8]\nsteps = 5\n"
    );
    for (k, (name, text, needle)) in [
        (
            "toml unknown key",
            good_toml.replace("steps = 5", "stepz = 5"),
            "stepz",
        ),
        (
            "toml wrong type",
            good_toml.replace("steps = 5", "steps = \"five\""),
            "steps",
        ),
        (
            "toml impossible value",
            good_toml.replace("hidden = [8]", "hidden = [0]"),
            "exp-2.toml",
        ),
        (
            "toml not toml",
            "[[model\nname = ".to_string(),
            "exp-3.toml",
        ),
        (
            "toml unknown table",
            format!("{good_toml}\n[sweeps]\nratios = \"0\"\n"),
            "sweeps",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let p = root.join(format!("exp-{k}.toml"));
        std::fs::write(&p, text).unwrap();
        let o = out.join(format!("run-{k}"));
        let mut c = case(
            name,
            &["reproduce", s(&p), "--out", s(&o)],
            &[needle, &format!("exp-{k}.toml")],
        );
        c.out = Some(o);
        cases.push(c);
    }

    // --- Command-line values.
    for (name, ratio) in [
        ("ratio 1", "1"),
        ("ratio above 1", "1.5"),
        ("ratio negative", "-0.1"),
        ("ratio NaN", "nan"),
    ] {
        let o = out.join(format!("{}.safetensors", name.replace(' ', "-")));
        let mut c = case(
            name,
            &[
                "prune",
                "--model",
                s(&model),
                "--method",
                "abs",
                "--ratio",
                ratio,
                "--out",
                s(&o),
            ],
            &[ratio],
        );
        c.out = Some(o);
        cases.push(c);
    }
    let o = out.join("method.safetensors");
    let mut c = case(
        "unknown method",
        &[
            "prune",
            "--model",
            s(&model),
            "--method",
            "taylor",
            "--ratio",
            "0.5",
            "--out",
            s(&o),
        ],
        &["taylor"],
    );
    c.out = Some(o);
    cases.push(c);
    let o = out.join("layer.safetensors");
    let mut c = case(
        "layer that does not exist",
        &[
            "prune",
            "--model",
            s(&model),
            "--method",
            "abs",
            "--ratio",
            "0.5",
            "--layers",
            "7",
            "--out",
            s(&o),
        ],
        &["7"],
    );
    c.out = Some(o);
    cases.push(c);

    // --- Sweep folders: a sweep of this model exists; resuming it with a
    // different model, or after its files were damaged, is refused.
    let run = root.join("run");
    let o = parana()
        .args(["sweep", "--model", s(&model), "--methods", "abs"])
        .args(["--ratios", "0,0.5", "--images", "100", "--data-dir", &gd])
        .args(["--out", s(&run)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sweep = |name: &str, m: &Path, dir: &Path, needle: &str| {
        case(
            name,
            &[
                "sweep",
                "--model",
                s(m),
                "--methods",
                "abs",
                "--ratios",
                "0,0.5",
                "--images",
                "100",
                "--data-dir",
                &gd,
                "--out",
                s(dir),
            ],
            &[needle],
        )
    };
    cases.push(sweep("sweep resumed with another model", &nan, &run, "nan"));
    let other = edited(&mf, &bad("other-model.safetensors"), |g| {
        g.tensors.get_mut("layers.1.weight").unwrap().data[0] += 0.5;
    });
    cases.push(sweep(
        "sweep resumed with a changed model",
        &other,
        &run,
        "run",
    ));
    for (k, (file, bytes)) in [
        ("results.jsonl", b"{\"group\": \"all\", \"meth".to_vec()),
        ("sweep.json", b"[1, 2".to_vec()),
    ]
    .into_iter()
    .enumerate()
    {
        let dir = root.join(format!("run-bad-{k}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["sweep.json", "results.jsonl", "results.csv"] {
            std::fs::copy(run.join(f), dir.join(f)).unwrap();
        }
        std::fs::write(dir.join(file), bytes).unwrap();
        cases.push(sweep(
            &format!("sweep with a damaged {file}"),
            &model,
            &dir,
            file,
        ));
    }

    // --- Run every case.
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let before = snapshot(root);
    let mut failures = Vec::new();
    for c in &cases {
        let o = parana().args(&c.args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        let mut why = Vec::new();
        if o.status.code() != Some(2) {
            why.push(format!("exit {:?}", o.status.code()));
        }
        if err.contains("panicked") {
            why.push("panicked".into());
        }
        if err.trim_end().lines().count() != 1 {
            why.push("not one line".into());
        }
        for n in &c.needles {
            if !err.contains(n.as_str()) {
                why.push(format!("no '{n}'"));
            }
        }
        if let Some(p) = &c.out
            && p.exists()
        {
            why.push(format!("{} was written", p.display()));
        }
        if !why.is_empty() {
            failures.push(format!(
                "{}: {} — stderr: {}",
                c.name,
                why.join(", "),
                err.trim_end()
            ));
        }
    }
    let after = snapshot(root);
    let changed: Vec<_> = before
        .iter()
        .filter(|(p, b)| after.get(*p) != Some(*b))
        .map(|(p, _)| p.display().to_string())
        .chain(
            after
                .keys()
                .filter(|p| !before.contains_key(*p))
                .map(|p| format!("new {}", p.display())),
        )
        .collect();
    assert!(
        failures.is_empty() && changed.is_empty(),
        "{} of {} cases failed:\n{}\nfiles changed: {changed:?}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// `bytes` (a safetensors file) with one more tensor `name` of dtype U8.
fn with_u8_tensor(bytes: &[u8], name: &str, data: &[u8]) -> Vec<u8> {
    let st = safetensors::SafeTensors::deserialize(bytes).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(bytes).unwrap();
    let mut views: Vec<(String, safetensors::tensor::TensorView)> =
        st.iter().map(|(n, v)| (n.to_string(), v)).collect();
    let shape = vec![data.len()];
    views.push((
        name.to_string(),
        safetensors::tensor::TensorView::new(safetensors::Dtype::U8, shape, data).unwrap(),
    ));
    let meta: std::collections::HashMap<String, String> =
        header.metadata().clone().unwrap_or_default();
    safetensors::serialize(views, Some(meta)).unwrap()
}
