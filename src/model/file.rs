//! Model files: safetensors in PyTorch's layout and names.
//!
//! Fully connected layers are `layers.{i}.weight` (`[out, in]`) and
//! `layers.{i}.bias`; convolutions `convs.{i}.weight` (`[out_ch, in_ch, kh,
//! kw]`) and `convs.{i}.bias`, so a PyTorch module holding `nn.ModuleList`s
//! named `convs` and `layers` loads them with `load_state_dict` unchanged.
//! The metadata carries the format version, the architecture (JSON), the
//! head and whatever the producer recorded (dataset, seed, steps, accuracy).
//!
//! This module knows the dense format only; [`crate::loader`] reads and
//! writes every kind of model file (dense, pruned, compiled, decoupled).
//!
//! A file without parana metadata (e.g. `safetensors.torch.save_file(
//! model.state_dict())` of a plain ReLU MLP) loads with its architecture
//! inferred from the tensor shapes.

use super::{Arch, ConvSpec, Model};
use crate::error::{Error, Result};
use crate::nn::Head;
use crate::tensorfile::{Tensor, TensorFile};
use std::collections::BTreeMap;
use std::path::Path;

/// Value of the `format` metadata key of a model file.
pub const FORMAT: &str = "parana-model";
/// Current model file format version.
pub const FORMAT_VERSION: &str = "1";
/// Prefix of the 0/1 keep-mask tensors a pruned model file carries beside
/// its weights (`masks.layers.0.weight`); loading a model ignores them.
pub const MASK_PREFIX: &str = "masks.";

/// A dense model as a [`TensorFile`] (tensors and metadata). Callers go
/// through [`crate::loader::to_tensor_file`], which keeps a decoupled CNN in
/// its sparse format.
pub fn dense_to_tensor_file(model: &Model) -> TensorFile {
    let mut f = TensorFile::default();
    for (name, p) in model.named_params() {
        f.insert(name, p.shape.clone(), p.value.clone());
    }
    f.meta = model.meta.clone();
    f.meta.insert("format".into(), FORMAT.into());
    f.meta
        .insert("format_version".into(), FORMAT_VERSION.into());
    f.meta.insert(
        "arch".into(),
        serde_json::to_string(&model.arch).unwrap_or_default(),
    );
    f.meta.insert("arch_description".into(), model.describe());
    f.meta.insert("head".into(), model.head.name().into());
    f
}

/// Whether `model` is a decoupled CNN (has trainable sparse layers).
pub fn is_decoupled(model: &Model) -> bool {
    model
        .net
        .layers()
        .iter()
        .any(|l| l.kind() == "sparse_trainable")
}

/// Build a model from a loaded dense file (parana's, with or without
/// masks, or a plain PyTorch MLP/CNN state dict); `path` is used in error
/// messages. Callers go through [`crate::loader::from_tensor_file`], which
/// also reads the sparse formats.
pub fn dense_from_tensor_file(f: &TensorFile, path: &Path) -> Result<Model> {
    if let Some(name) = f.ints.keys().next() {
        return Err(Error::file(
            path,
            format!("unexpected integer tensor '{name}' in a dense model file"),
        ));
    }
    if let Some(name) = f.bools.keys().find(|k| !k.starts_with(MASK_PREFIX)) {
        return Err(Error::file(
            path,
            format!("unexpected boolean tensor '{name}' in a model file (only masks.* are)"),
        ));
    }
    let (arch, inferred) = match f.meta.get("arch") {
        Some(json) => {
            let arch: Arch = serde_json::from_str(json)
                .map_err(|e| Error::file(path, format!("bad 'arch' metadata: {e}")))?;
            arch.validate()
                .map_err(|e| Error::file(path, e.to_string()))?;
            (arch, false)
        }
        None => (infer_arch(f, path)?, true),
    };
    let head = match f.meta.get("head") {
        Some(h) => Head::parse(h).map_err(|e| Error::file(path, e.to_string()))?,
        None => Head::Sce,
    };
    let mut model = Model::new(arch, head);
    let names = model.param_names();
    let mut tensors: BTreeMap<&str, &Tensor> =
        f.tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    // An inferred file may use other names (e.g. `0.weight`): map by order.
    let sources: Vec<(String, &Tensor)> = if inferred {
        inferred_order(f)
            .into_iter()
            .map(|n| (n.clone(), &f.tensors[&n]))
            .collect()
    } else {
        let mut v = Vec::new();
        for n in &names {
            let t = tensors.remove(n.as_str()).ok_or_else(|| {
                Error::file(
                    path,
                    format!("missing tensor '{n}' for {}", model.arch.describe()),
                )
            })?;
            v.push((n.clone(), t));
        }
        // `masks.<param>` tensors of a pruned model (see `prune::file`).
        if let Some(extra) = tensors.keys().find(|k| !k.starts_with(MASK_PREFIX)) {
            return Err(Error::file(
                path,
                format!("unexpected tensor '{extra}' for {}", model.arch.describe()),
            ));
        }
        v
    };
    for ((src_name, t), p) in sources.iter().zip(model.net.params_mut()) {
        if t.shape != p.shape {
            return Err(Error::file(
                path,
                format!(
                    "tensor '{src_name}' has shape {:?}, expected {:?}",
                    t.shape, p.shape
                ),
            ));
        }
        p.value.copy_from_slice(&t.data);
    }
    model.meta = user_meta(&f.meta);
    if inferred {
        model.meta.insert("inferred_arch".into(), "true".into());
    }
    Ok(model)
}

/// The metadata a file carries beyond what the loader itself reads
/// (format, architecture, head): what the producer recorded.
pub fn user_meta(meta: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    meta.iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "format" | "format_version" | "arch" | "arch_description" | "head"
            )
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Split `name` into (prefix, index) at its last numeric component, e.g.
/// `layers.2.weight` -> (`layers`, 2), `net.4.weight` -> (`net`, 4).
fn module_index(name: &str) -> Option<(String, usize, String)> {
    let (module, kind) = name.rsplit_once('.')?;
    let (prefix, idx) = match module.rsplit_once('.') {
        Some((p, i)) => (p.to_string(), i.parse().ok()?),
        None => (String::new(), module.parse().ok()?),
    };
    Some((prefix, idx, kind.to_string()))
}

/// Weight/bias tensor names of a foreign file in network order: 4-D
/// (convolution) weights first, then 2-D ones, each by module index.
fn inferred_order(f: &TensorFile) -> Vec<String> {
    let mut w: Vec<(bool, String, usize, String)> = f
        .tensors
        .iter()
        .filter_map(|(n, t)| {
            let (prefix, idx, kind) = module_index(n)?;
            (kind == "weight").then(|| (t.shape.len() == 2, prefix, idx, n.clone()))
        })
        .collect();
    w.sort_by(|a, b| (a.0, a.2, &a.1).cmp(&(b.0, b.2, &b.1)));
    w.into_iter()
        .flat_map(|(_, _, _, n)| {
            let b = format!("{}.bias", &n[..n.len() - ".weight".len()]);
            [n, b]
        })
        .collect()
}

/// Infer the architecture of a file without parana metadata from its
/// tensor shapes.
fn infer_arch(f: &TensorFile, path: &Path) -> Result<Arch> {
    let order = inferred_order(f);
    let bad = |m: String| Error::file(path, format!("cannot infer the architecture: {m}"));
    if order.is_empty() {
        return Err(bad("no '<name>.<index>.weight' tensors".into()));
    }
    if order.len() != f.tensors.len() {
        let extra = f.tensors.keys().find(|k| !order.contains(k));
        return Err(bad(format!("unexpected tensor {extra:?}")));
    }
    let mut convs = Vec::new();
    let mut dims: Vec<(usize, usize)> = Vec::new();
    let mut in_c = None;
    for pair in order.chunks(2) {
        let w = &f.tensors[&pair[0]];
        let b = f
            .tensors
            .get(&pair[1])
            .ok_or_else(|| bad(format!("'{}' has no bias '{}'", pair[0], pair[1])))?;
        if b.shape != [w.shape[0]] {
            return Err(bad(format!(
                "bias '{}' has shape {:?}, expected [{}]",
                pair[1], b.shape, w.shape[0]
            )));
        }
        match w.shape.as_slice() {
            &[o, i, kh, kw] => {
                if !dims.is_empty() {
                    return Err(bad("a convolution after a fully connected layer".into()));
                }
                if let Some(prev) = convs.last().map(|c: &ConvSpec| c.out).or(in_c)
                    && prev != i
                {
                    return Err(bad(format!(
                        "'{}' takes {i} channels, the previous layer gives {prev}",
                        pair[0]
                    )));
                }
                in_c.get_or_insert(i);
                convs.push(ConvSpec { kh, kw, out: o });
            }
            &[o, i] => dims.push((o, i)),
            s => return Err(bad(format!("'{}' has shape {s:?}", pair[0]))),
        }
    }
    if dims.is_empty() {
        return Err(bad("no fully connected output layer".into()));
    }
    for (k, win) in dims.windows(2).enumerate() {
        if win[0].0 != win[1].1 {
            return Err(bad(format!(
                "layer {k} gives {} outputs but layer {} takes {} inputs",
                win[0].0,
                k + 1,
                win[1].1
            )));
        }
    }
    let first_in = dims[0].1;
    let input = match convs.last() {
        Some(c) => {
            let hw = first_in / c.out;
            let s = (hw as f64).sqrt().round() as usize;
            if s * s * c.out != first_in {
                return Err(bad(format!(
                    "{first_in} inputs after the convolutions is not a square image"
                )));
            }
            [s, s, in_c.unwrap_or(1)]
        }
        None => {
            let s = (first_in as f64).sqrt().round() as usize;
            if s * s == first_in {
                [s, s, 1]
            } else {
                [1, first_in, 1]
            }
        }
    };
    let arch = Arch {
        input,
        convs,
        hidden: dims[..dims.len() - 1].iter().map(|d| d.0).collect(),
        classes: dims[dims.len() - 1].0,
        dropout: 0.0,
    };
    arch.validate().map_err(|e| bad(e.to_string()))?;
    Ok(arch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::init::init;

    #[test]
    fn round_trip_keeps_weights_layout_and_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.safetensors");
        let arch = Arch::custom(
            vec![7, 5],
            vec![ConvSpec {
                kh: 3,
                kw: 3,
                out: 2,
            }],
        )
        .unwrap();
        let mut m = Model::new(arch.clone(), Head::Lq);
        init(&mut m, 3);
        m.meta.insert("seed".into(), "3".into());
        dense_to_tensor_file(&m).save(&p).unwrap();
        let f = TensorFile::load(&p).unwrap();
        assert_eq!(f.tensors["convs.0.weight"].shape, vec![2, 1, 3, 3]);
        assert_eq!(f.tensors["layers.0.weight"].shape, vec![7, 28 * 28 * 2]);
        assert_eq!(f.tensors["layers.2.bias"].shape, vec![10]);
        assert_eq!(f.meta["format"], FORMAT);
        let back = dense_from_tensor_file(&f, &p).unwrap();
        assert_eq!(back.arch, arch);
        assert_eq!(back.head, Head::Lq);
        assert_eq!(back.meta["seed"], "3");
        for (a, b) in m.net.params().zip(back.net.params()) {
            assert_eq!(a.value, b.value);
        }
    }

    #[test]
    fn wrong_shapes_and_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.safetensors");
        let mut m = Model::new(Arch::custom(vec![6], vec![]).unwrap(), Head::Sce);
        init(&mut m, 1);
        let mut f = dense_to_tensor_file(&m);
        // Claims another architecture than its tensors have.
        f.meta.insert(
            "arch".into(),
            serde_json::to_string(&Arch::custom(vec![8], vec![]).unwrap()).unwrap(),
        );
        let e = dense_from_tensor_file(&f, &p).err().unwrap().to_string();
        assert!(
            e.contains("m.safetensors") && e.contains("layers.0.weight") && e.contains("[6, 784]"),
            "{e}"
        );
        // A plain torch nn.Sequential state dict: `0.weight`, `2.weight`.
        let mut t = TensorFile::default();
        let f0 = dense_to_tensor_file(&m);
        for (src, dst) in [("layers.0", "0"), ("layers.1", "2")] {
            for k in ["weight", "bias"] {
                let x = &f0.tensors[&format!("{src}.{k}")];
                t.insert(format!("{dst}.{k}"), x.shape.clone(), x.data.clone());
            }
        }
        let g = dense_from_tensor_file(&t, &p).unwrap();
        assert_eq!(g.arch.hidden, vec![6]);
        assert_eq!(g.arch.input, [28, 28, 1]);
        assert_eq!(
            g.net.params().next().unwrap().value,
            f0.tensors["layers.0.weight"].data
        );
        // Shapes that do not chain.
        let mut t2 = t.clone();
        t2.insert("2.weight", vec![10, 5], vec![0.0; 50]);
        let e = dense_from_tensor_file(&t2, &p).err().unwrap().to_string();
        assert!(e.contains("cannot infer") && e.contains("6 outputs"), "{e}");
    }
}
