//! Compiled sparse model files: `parana compile` writes them, and
//! [`crate::loader::load`] reads them back into a [`Model`] whose
//! layers are sparse where that is faster.
//!
//! A safetensors file (see `docs/formats.md`), fully connected layer `i`
//! as a CSR matrix PyTorch reads directly
//! (`torch.sparse_csr_tensor(crow, col, values, size)`):
//! `layers.{i}.crow_indices` (I64, `[out + 1]`), `layers.{i}.col_indices`
//! (I64, `[nnz]`), `layers.{i}.values` (F32, `[nnz]`), `layers.{i}.bias`
//! (F32, `[out]`); `size` is `[out, in]` from the `arch` metadata, which
//! describes the consolidated network. Everything is checked when loaded;
//! a bad file is an error naming it, never a panic.

use super::consolidate::{Consolidated, DenseLayer, consolidate};
use super::{Csr, MAX_DENSITY, SparseLinear, SparseTrainable, chain};
use crate::error::{Error, Result};
use crate::model::{Arch, Model};
use crate::nn::{Head, Layer, Linear, Relu};
use crate::tensorfile::TensorFile;
use std::path::Path;

/// Value of the `format` metadata key of a compiled sparse model.
pub const FORMAT: &str = "parana-sparse";
/// Current version of the format.
pub const FORMAT_VERSION: &str = "1";

/// The fully connected layers of an MLP model as plain buffers.
pub fn dense_layers(model: &Model) -> Result<Vec<DenseLayer>> {
    if !model.arch.convs.is_empty() {
        return Err(Error::input(format!(
            "compile works on MLPs; {} has convolutions (decoupling them is not implemented yet)",
            model.arch.describe()
        )));
    }
    if model
        .net
        .layers()
        .iter()
        .any(|l| l.kind().starts_with("sparse_"))
    {
        return Err(Error::input(format!(
            "{} is already sparse (compiled or decoupled): use it as it is",
            model.arch.describe()
        )));
    }
    let mut out = Vec::new();
    for l in model.net.layers() {
        if l.kind() != "linear" {
            continue;
        }
        let (w, b) = (&l.params()[0], &l.params()[1]);
        out.push(DenseLayer {
            out: w.shape[0],
            inp: w.shape[1],
            w: w.value.clone(),
            b: b.value.clone(),
        });
    }
    Ok(out)
}

/// What compiling did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CompileReport {
    /// The architecture before consolidation.
    pub original: String,
    /// After.
    pub compiled: String,
    /// Neurons removed per hidden layer.
    pub neurons_removed: Vec<usize>,
    /// Stored weights per layer.
    pub nnz: Vec<usize>,
    /// Weights per layer before compiling (all, zero or not).
    pub weights: Vec<usize>,
}

/// Consolidate `model` and write it in the sparse format.
pub fn compile(model: &Model) -> Result<(TensorFile, CompileReport)> {
    let layers = dense_layers(model)?;
    let Consolidated {
        layers: c, removed, ..
    } = consolidate(&layers);
    let arch = Arch {
        hidden: c[..c.len() - 1].iter().map(|l| l.out).collect(),
        dropout: 0.0,
        ..model.arch.clone()
    };
    let mut f = TensorFile::default();
    let mut nnz = Vec::new();
    for (i, l) in c.iter().enumerate() {
        let csr = Csr::from_dense(&l.w, l.out, l.inp);
        f.insert_int(
            format!("layers.{i}.crow_indices"),
            vec![l.out + 1],
            csr.ptr().iter().map(|&p| p as i64).collect(),
        );
        f.insert_int(
            format!("layers.{i}.col_indices"),
            vec![csr.nnz()],
            csr.idx().iter().map(|&c| i64::from(c)).collect(),
        );
        f.insert(
            format!("layers.{i}.values"),
            vec![csr.nnz()],
            csr.val().to_vec(),
        );
        f.insert(format!("layers.{i}.bias"), vec![l.out], l.b.clone());
        nnz.push(csr.nnz());
    }
    f.meta = model.meta.clone();
    f.meta.insert("format".into(), FORMAT.into());
    f.meta
        .insert("format_version".into(), FORMAT_VERSION.into());
    f.meta.insert("arch".into(), json(&arch));
    f.meta.insert("arch_description".into(), arch.describe());
    f.meta.insert("original_arch".into(), json(&model.arch));
    f.meta.insert("neurons_removed".into(), json(&removed));
    f.meta.insert("head".into(), model.head.name().into());
    let report = CompileReport {
        original: model.arch.describe(),
        compiled: arch.describe(),
        neurons_removed: removed,
        nnz,
        weights: layers.iter().map(|l| l.w.len()).collect(),
    };
    Ok((f, report))
}

/// A value as a JSON string, for metadata.
fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Whether a loaded file is a compiled sparse model.
pub fn is_sparse(f: &TensorFile) -> bool {
    f.meta.get("format").map(String::as_str) == Some(FORMAT)
}

/// One layer's validated weights from the file.
fn layer_csr(
    f: &TensorFile,
    i: usize,
    out: usize,
    inp: usize,
    path: &Path,
) -> Result<(Csr, Vec<f32>)> {
    let name = |k: &str| format!("layers.{i}.{k}");
    let bad = |m: String| Error::file(path, format!("layers.{i}: {m}"));
    let int = |k: &str| {
        f.ints
            .get(&name(k))
            .ok_or_else(|| bad(format!("missing integer tensor '{}'", name(k))))
    };
    let flt = |k: &str| {
        f.tensors
            .get(&name(k))
            .ok_or_else(|| bad(format!("missing tensor '{}'", name(k))))
    };
    let (crow, col, val, bias) = (
        int("crow_indices")?,
        int("col_indices")?,
        flt("values")?,
        flt("bias")?,
    );
    for (k, s) in [("crow_indices", &crow.shape), ("col_indices", &col.shape)]
        .into_iter()
        .chain([("values", &val.shape), ("bias", &bias.shape)])
    {
        if s.len() != 1 {
            return Err(bad(format!(
                "'{k}' has shape {s:?}, expected one dimension"
            )));
        }
    }
    if bias.data.len() != out {
        return Err(bad(format!(
            "{} biases for {out} outputs (the shape does not fit the architecture)",
            bias.data.len()
        )));
    }
    if crow.data.len() != out + 1 {
        return Err(bad(format!(
            "{} row pointers for {out} outputs (expected {}; the shape does not fit the architecture)",
            crow.data.len(),
            out + 1
        )));
    }
    let ptr: Vec<usize> = crow
        .data
        .iter()
        .map(|&p| usize::try_from(p).map_err(|_| bad(format!("negative row pointer {p}"))))
        .collect::<Result<_>>()?;
    let idx: Vec<u32> = col
        .data
        .iter()
        .map(|&c| u32::try_from(c).map_err(|_| bad(format!("column index {c} outside 0..{inp}"))))
        .collect::<Result<_>>()?;
    let csr = Csr::new(out, inp, ptr, idx, val.data.clone()).map_err(|e| bad(e.to_string()))?;
    Ok((csr, bias.data.clone()))
}

/// Build the model of a compiled sparse file; `path` is used in errors.
/// Layers at most [`MAX_DENSITY`] dense run sparse, the others dense.
pub fn from_tensor_file(f: &TensorFile, path: &Path) -> Result<Model> {
    from_tensor_file_with(f, path, MAX_DENSITY)
}

/// As [`from_tensor_file`], with the density threshold given.
pub fn from_tensor_file_with(f: &TensorFile, path: &Path, max_density: f64) -> Result<Model> {
    if f.meta.get("format_version").map(String::as_str) != Some(FORMAT_VERSION) {
        return Err(Error::file(
            path,
            format!(
                "sparse model format version {:?}, this parana reads {FORMAT_VERSION}",
                f.meta.get("format_version")
            ),
        ));
    }
    let arch: Arch = f
        .meta
        .get("arch")
        .ok_or_else(|| Error::file(path, "sparse model without 'arch' metadata"))
        .and_then(|j| {
            serde_json::from_str(j)
                .map_err(|e| Error::file(path, format!("bad 'arch' metadata: {e}")))
        })?;
    arch.validate()
        .map_err(|e| Error::file(path, e.to_string()))?;
    if !arch.convs.is_empty() {
        return Err(Error::file(
            path,
            "sparse models with convolutions are not supported",
        ));
    }
    let head = match f.meta.get("head") {
        Some(h) => Head::parse(h).map_err(|e| Error::file(path, e.to_string()))?,
        None => Head::Sce,
    };
    let dims: Vec<usize> = std::iter::once(arch.flat_len())
        .chain(arch.hidden.iter().copied())
        .chain(std::iter::once(arch.classes))
        .collect();
    let n = dims.len() - 1;
    let expected: usize = 4 * n;
    // A training checkpoint adds the optimiser's state (`adam.*`).
    let found = f.tensors.keys().filter(|k| !k.starts_with("adam.")).count() + f.ints.len();
    if found != expected {
        return Err(Error::file(
            path,
            format!(
                "{found} tensors, expected {expected} for {} (4 per layer)",
                arch.describe()
            ),
        ));
    }
    // Decoupled CNNs are pruned and fine-tuned weight by weight: their
    // sparse layers train ([`SparseTrainable`]).
    let decoupled = f.meta.get("decoupled").map(String::as_str) == Some("true");
    let mut layers: Vec<std::result::Result<SparseLinear, Box<dyn Layer>>> = Vec::new();
    for i in 0..n {
        let (inp, out) = (dims[i], dims[i + 1]);
        let (csr, bias) = layer_csr(f, i, out, inp, path)?;
        let relu = i + 1 < n;
        if csr.density() <= max_density && decoupled {
            layers.push(Err(Box::new(SparseTrainable::new(csr, bias, relu))));
        } else if csr.density() <= max_density {
            layers.push(Ok(SparseLinear::new(csr, bias, relu)));
        } else {
            let l = Linear::from_parts(inp, out, csr.to_dense(), bias);
            layers.push(Err(Box::new(l)));
            if relu {
                layers.push(Err(Box::new(Relu::new(out))));
            }
        }
    }
    let mut model = Model::new(
        Arch {
            hidden: vec![1; arch.hidden.len()],
            ..arch.clone()
        },
        head,
    );
    model.arch = arch;
    model.net = chain(layers);
    model.meta = crate::model::file::user_meta(&f.meta);
    Ok(model)
}

/// Per-layer summary of a compiled sparse file, for `parana inspect`.
pub fn summary(f: &TensorFile, path: &Path) -> Result<serde_json::Value> {
    let model = from_tensor_file(f, path)?;
    let removed: Vec<usize> = f
        .meta
        .get("neurons_removed")
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default();
    let mut layers = Vec::new();
    let mut i = 0;
    for l in model.net.layers() {
        if l.kind() == "relu" {
            continue;
        }
        let (inp, out) = (l.in_len(), l.out_len());
        let nnz = f
            .ints
            .get(&format!("layers.{i}.col_indices"))
            .map_or(0, |t| t.data.len());
        layers.push(serde_json::json!({
            "name": format!("layers.{i}"),
            "shape": [out, inp],
            "nnz": nnz,
            "sparsity": 1.0 - nnz as f64 / (out * inp).max(1) as f64,
            "engine": if l.kind() == "linear" { "dense" } else { "sparse" },
            "neurons_removed": removed.get(i).copied().unwrap_or(0),
        }));
        i += 1;
    }
    Ok(serde_json::json!({
        "file": path,
        "format": FORMAT,
        "arch_description": model.arch.describe(),
        "original_arch": f.meta.get("original_arch")
            .and_then(|j| serde_json::from_str::<Arch>(j).ok())
            .map(|a| a.describe()),
        "head": model.head,
        "neurons_removed": removed,
        "layers": layers,
        "metadata": model.meta,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::init::init;
    use crate::nn::Mode;
    use crate::rng::Rng;

    fn pruned_model(sparsity: f64) -> Model {
        let mut m = Model::new(Arch::custom(vec![40, 30], vec![]).unwrap(), Head::Lq);
        init(&mut m, 9);
        super::super::prune_magnitude(&mut m.net, sparsity);
        // Cut some neurons off: no inputs for 0..5 of the first hidden
        // layer (biases 0.1, so constant 0.1), no outputs for 5..8.
        let mut p: Vec<&mut crate::nn::Param> = m.net.params_mut().collect();
        p[0].value[..5 * 784].fill(0.0);
        for r in 0..30 {
            p[2].value[r * 40 + 5..r * 40 + 8].fill(0.0);
        }
        m.meta.insert("seed".into(), "9".into());
        m
    }

    fn inputs(n: usize) -> Vec<f32> {
        let mut r = Rng::new(3);
        (0..n * 784).map(|_| r.uniform_f32()).collect()
    }

    #[test]
    fn compiled_model_equals_the_pruned_one() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.sparse.safetensors");
        for sparsity in [0.0, 0.5, 0.9, 0.98] {
            let mut m = pruned_model(sparsity);
            let (f, rep) = compile(&m).unwrap();
            assert!(rep.neurons_removed[0] >= 8, "{rep:?}");
            f.save(&p).unwrap();
            // Loaded through the ordinary model loader.
            let mut back = crate::loader::load(&p).unwrap();
            assert_eq!(back.arch.hidden[0], 40 - rep.neurons_removed[0]);
            assert_eq!(back.meta["seed"], "9");
            assert_eq!(back.head, Head::Lq);
            // Each layer sparse exactly when its density is low enough.
            let kinds: Vec<&str> = back
                .net
                .layers()
                .iter()
                .map(|l| l.kind())
                .filter(|&k| k != "relu")
                .collect();
            for (i, k) in kinds.iter().enumerate() {
                let nnz = f.tensors[&format!("layers.{i}.values")].data.len();
                let dims = [784, back.arch.hidden[0], back.arch.hidden[1], 10];
                let density = nnz as f64 / (dims[i] * dims[i + 1]) as f64;
                let want = if density <= MAX_DENSITY {
                    "sparse_linear"
                } else {
                    "linear"
                };
                assert_eq!(*k, want, "layer {i} density {density}");
            }
            if sparsity == 0.98 {
                assert_eq!(kinds[0], "sparse_linear");
            }
            for batch in [1, 5, 64, 100] {
                let x = inputs(batch);
                let want = m.net.forward(&x, batch, Mode::Eval).to_vec();
                let got = back.logits(&x, batch).to_vec();
                let d = want
                    .iter()
                    .zip(&got)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f32::max);
                assert!(d <= 1e-5, "sparsity {sparsity} batch {batch}: {d}");
            }
            // PyTorch's CSR layout: crow has out + 1 entries ending at nnz.
            let crow = &f.ints["layers.0.crow_indices"].data;
            assert_eq!(crow.len(), back.arch.hidden[0] + 1);
            assert_eq!(
                *crow.last().unwrap() as usize,
                f.tensors["layers.0.values"].data.len()
            );
        }
    }

    #[test]
    fn bad_sparse_files_are_rejected_with_the_file_named() {
        let p = Path::new("bad.sparse.safetensors");
        let (good, _) = compile(&pruned_model(0.9)).unwrap();
        assert!(from_tensor_file(&good, p).is_ok());
        let set = |f: &mut TensorFile, k: &str, v: Vec<i64>| {
            let t = f.ints.get_mut(k).unwrap();
            t.shape = vec![v.len()];
            t.data = v;
        };
        let col = good.ints["layers.1.col_indices"].data.clone();
        let crow = good.ints["layers.1.crow_indices"].data.clone();
        let row0 = (crow[0] as usize, crow[1] as usize);
        assert!(row0.1 - row0.0 >= 2, "row 0 of layers.1 needs two weights");
        let mut cases: Vec<(TensorFile, &str)> = Vec::new();
        let mut f = good.clone();
        let mut c = col.clone();
        c[0] = 10_000;
        set(&mut f, "layers.1.col_indices", c);
        cases.push((f, "outside"));
        let mut f = good.clone();
        let mut c = col.clone();
        c.swap(row0.0, row0.0 + 1);
        set(&mut f, "layers.1.col_indices", c);
        cases.push((f, "unsorted"));
        let mut f = good.clone();
        let mut c = col.clone();
        c[row0.0 + 1] = c[row0.0];
        set(&mut f, "layers.1.col_indices", c);
        cases.push((f, "duplicate"));
        let mut f = good.clone();
        let mut c = col.clone();
        c.pop();
        set(&mut f, "layers.1.col_indices", c);
        cases.push((f, "indices but"));
        let mut f = good.clone();
        let mut c = col.clone();
        c[0] = -1;
        set(&mut f, "layers.1.col_indices", c);
        cases.push((f, "column index -1"));
        let mut f = good.clone();
        let mut r = crow.clone();
        r.push(*r.last().unwrap());
        set(&mut f, "layers.1.crow_indices", r);
        cases.push((f, "does not fit"));
        let mut f = good.clone();
        f.ints.remove("layers.2.crow_indices");
        cases.push((f, "tensors, expected"));
        let mut f = good.clone();
        let mut a: Arch = serde_json::from_str(&f.meta["arch"]).unwrap();
        a.hidden[0] += 1;
        f.meta
            .insert("arch".into(), serde_json::to_string(&a).unwrap());
        cases.push((f, "layers.0"));
        for (f, want) in cases {
            let e = from_tensor_file(&f, p).err().unwrap().to_string();
            assert!(
                e.contains("bad.sparse.safetensors") && e.contains(want),
                "{want}: {e}"
            );
        }
    }
}
