//! Decoupling a CNN: each convolution becomes a sparse matrix from its
//! input feature map to its output feature map, every tap an independent
//! weight from then on, so the network is a (sparse) MLP that pruning and
//! the sparse engine treat weight by weight.
//!
//! Feature maps are indexed channels-last, `(h, w, c)` as `(h * W + w) * C
//! + c` (784x9408, 9408x11760, 11760x19600, 19600x15680 for the article's
//! CNN); taps that fall outside the image (SAME padding) are absent. The
//! first fully connected layer's columns are reordered from PyTorch's
//! `(c, h, w)` to that order, replacing the permute layer.

use super::Csr;
use super::file::{FORMAT, FORMAT_VERSION};
use crate::error::{Error, Result};
use crate::model::{Arch, Model};
use crate::tensorfile::TensorFile;

/// The matrix (`[h*w*out_c, h*w*in_c]`) of a stride-1 SAME convolution
/// with PyTorch-layout weights `[out_c, in_c, kh, kw]`, as in
/// [`crate::nn::Conv2d`] (padding `(k - 1) / 2` before).
pub fn conv_matrix(
    h: usize,
    w: usize,
    in_c: usize,
    out_c: usize,
    kh: usize,
    kw: usize,
    weight: &[f32],
) -> Csr {
    assert_eq!(weight.len(), out_c * in_c * kh * kw);
    let (pt, pl) = ((kh - 1) / 2, (kw - 1) / 2);
    let mut ptr = vec![0usize];
    let (mut idx, mut val) = (Vec::new(), Vec::new());
    for y in 0..h {
        for x in 0..w {
            for o in 0..out_c {
                // Columns increase with (ky, kx, ci): sorted, no duplicates.
                for ky in 0..kh {
                    let Some(iy) = (y + ky).checked_sub(pt).filter(|&v| v < h) else {
                        continue;
                    };
                    for kx in 0..kw {
                        let Some(ix) = (x + kx).checked_sub(pl).filter(|&v| v < w) else {
                            continue;
                        };
                        for ci in 0..in_c {
                            idx.push(((iy * w + ix) * in_c + ci) as u32);
                            val.push(weight[((o * in_c + ci) * kh + ky) * kw + kx]);
                        }
                    }
                }
                ptr.push(idx.len());
            }
        }
    }
    // Zero taps (pruned weights) are not stored.
    let mut keep_ptr = vec![0usize];
    let (mut kidx, mut kval) = (Vec::with_capacity(idx.len()), Vec::with_capacity(val.len()));
    for r in 0..h * w * out_c {
        for j in ptr[r]..ptr[r + 1] {
            if val[j] != 0.0 {
                kidx.push(idx[j]);
                kval.push(val[j]);
            }
        }
        keep_ptr.push(kidx.len());
    }
    Csr::new(h * w * out_c, h * w * in_c, keep_ptr, kidx, kval)
        .unwrap_or_else(|e| unreachable!("conv_matrix builds valid CSR: {e}"))
}

/// The decoupled form of a CNN model, as a compiled sparse model file (an
/// MLP whose first layers are the convolution matrices).
pub fn decouple(model: &Model) -> Result<TensorFile> {
    Ok(to_file(model, &matrices(model)?))
}

/// The decoupled network's layers, first to last: each convolution's
/// matrix, then the fully connected layers (the first one's columns in
/// `(h, w, c)` order), each with its biases.
pub fn matrices(model: &Model) -> Result<Vec<(Csr, Vec<f32>)>> {
    let arch = &model.arch;
    if arch.convs.is_empty() {
        return Err(Error::input(format!(
            "{} has no convolutions to decouple (use parana compile)",
            arch.describe()
        )));
    }
    let [h, w, c0] = arch.input;
    let mut mats: Vec<(Csr, Vec<f32>)> = Vec::new();
    let mut fc = Vec::new();
    for l in model.net.layers() {
        match l.kind() {
            "conv2d" => {
                let (wt, b) = (&l.params()[0], &l.params()[1]);
                let [o, i, kh, kw] = [wt.shape[0], wt.shape[1], wt.shape[2], wt.shape[3]];
                let bias: Vec<f32> = (0..h * w).flat_map(|_| b.value.iter().copied()).collect();
                mats.push((conv_matrix(h, w, i, o, kh, kw, &wt.value), bias));
            }
            "linear" => fc.push((l.params()[0].clone(), l.params()[1].value.clone())),
            _ => {}
        }
    }
    let c = arch.convs.last().map_or(c0, |s| s.out);
    for (k, (wt, b)) in fc.into_iter().enumerate() {
        let (o, i) = (wt.shape[0], wt.shape[1]);
        let dense = if k == 0 {
            // Columns from PyTorch's (c, h, w) order to (h, w, c).
            let mut d = vec![0.0; o * i];
            for r in 0..o {
                for y in 0..h * w {
                    for ch in 0..c {
                        d[r * i + y * c + ch] = wt.value[r * i + ch * h * w + y];
                    }
                }
            }
            d
        } else {
            wt.value
        };
        mats.push((Csr::from_dense(&dense, o, i), b));
    }
    Ok(mats)
}

/// The file of a decoupled model as loaded (and maybe pruned or trained
/// since): every fully connected layer, dense or sparse, as CSR of its
/// non-zero weights, so a pruned model stores only the weights it keeps.
pub fn file_of(model: &Model) -> TensorFile {
    let mut mats = Vec::new();
    for l in model.net.layers() {
        let p = l.params();
        match l.kind() {
            "linear" => mats.push((
                Csr::from_dense(&p[0].value, p[0].shape[0], p[0].shape[1]),
                p[1].value.clone(),
            )),
            "sparse_trainable" => {
                let (cols, rows) = (l.in_len(), l.out_len());
                let Some((ptr, idx)) = l.sparse_structure() else {
                    continue;
                };
                let keep: Vec<bool> = p[0].value.iter().map(|&v| v != 0.0).collect();
                let w = Csr::new(rows, cols, ptr.to_vec(), idx.to_vec(), p[0].value.clone())
                    .unwrap_or_else(|e| unreachable!("a layer's own structure: {e}"));
                mats.push((w.retain(&keep), p[1].value.clone()));
            }
            _ => {}
        }
    }
    to_file(model, &mats)
}

/// The sparse model file of the decoupled layers `mats` of `model` (its
/// metadata, head and original architecture recorded).
pub fn to_file(model: &Model, mats: &[(Csr, Vec<f32>)]) -> TensorFile {
    let arch = &model.arch;
    let n = mats.len();
    let dims: Vec<usize> = mats.iter().map(|(m, _)| m.rows()).collect();
    let out_arch = Arch {
        input: arch.input,
        convs: vec![],
        hidden: dims[..n - 1].to_vec(),
        classes: dims[n - 1],
        dropout: 0.0,
    };
    let mut f = TensorFile::default();
    for (i, (m, b)) in mats.iter().enumerate() {
        f.insert_int(
            format!("layers.{i}.crow_indices"),
            vec![m.rows() + 1],
            m.ptr().iter().map(|&p| p as i64).collect(),
        );
        f.insert_int(
            format!("layers.{i}.col_indices"),
            vec![m.nnz()],
            m.idx().iter().map(|&c| i64::from(c)).collect(),
        );
        f.insert(
            format!("layers.{i}.values"),
            vec![m.nnz()],
            m.val().to_vec(),
        );
        f.insert(format!("layers.{i}.bias"), vec![m.rows()], b.clone());
    }
    f.meta = model.meta.clone();
    f.meta.insert("format".into(), FORMAT.into());
    f.meta
        .insert("format_version".into(), FORMAT_VERSION.into());
    f.meta.insert("arch".into(), js(&out_arch));
    f.meta
        .insert("arch_description".into(), out_arch.describe_decoupled());
    if !arch.convs.is_empty() {
        f.meta.insert("original_arch".into(), js(arch));
    }
    f.meta.insert("decoupled".into(), "true".into());
    f.meta
        .insert("neurons_removed".into(), js(&vec![0usize; n - 1]));
    f.meta.insert("head".into(), model.head.name().into());
    f
}

fn js<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ConvSpec, init::init};
    use crate::nn::{Head, Mode};
    use crate::rng::Rng;

    #[test]
    fn decoupled_network_equals_the_convolutional_one() {
        let convs = vec![
            ConvSpec {
                kh: 3,
                kw: 3,
                out: 4,
            },
            ConvSpec {
                kh: 5,
                kw: 5,
                out: 3,
            },
            ConvSpec {
                kh: 2,
                kw: 4,
                out: 2,
            },
        ];
        let mut m = Model::new(Arch::custom(vec![20], convs).unwrap(), Head::Sce);
        init(&mut m, 4);
        // Some taps pruned: they must be absent, not stored as zeros.
        crate::sparse::prune_magnitude(&mut m.net, 0.5);
        let f = decouple(&m).unwrap();
        assert_eq!(
            f.ints["layers.0.col_indices"].data.len(),
            f.tensors["layers.0.values"].data.len()
        );
        // Border taps absent: 784 outputs x 4 channels x 9 taps, fewer.
        assert!(f.ints["layers.0.col_indices"].data.len() < 784 * 4 * 9 / 2 + 1);
        let mut d = crate::sparse::file::from_tensor_file(&f, std::path::Path::new("d")).unwrap();
        assert_eq!(d.arch.hidden, vec![784 * 4, 784 * 3, 784 * 2, 20]);
        let words = "decoupled cnn 784-3136-2352-1568-20-10";
        assert_eq!(f.meta["arch_description"], words);
        assert_eq!(d.describe(), words);
        let mut r = Rng::new(8);
        for batch in [1, 7, 64, 70] {
            let x: Vec<f32> = (0..batch * 784).map(|_| r.uniform_f32()).collect();
            let want = m.net.forward(&x, batch, Mode::Eval).to_vec();
            let got = d.logits(&x, batch).to_vec();
            let diff = want
                .iter()
                .zip(&got)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(diff <= 1e-4, "batch {batch}: {diff}");
        }
    }

    #[test]
    fn conv_matrix_matches_a_direct_convolution() {
        let (h, w, ci, co, kh, kw) = (5, 6, 2, 3, 3, 3);
        let mut r = Rng::new(2);
        let wt: Vec<f32> = (0..co * ci * kh * kw)
            .map(|_| r.uniform_f32() - 0.5)
            .collect();
        let x: Vec<f32> = (0..h * w * ci).map(|_| r.uniform_f32()).collect();
        let m = conv_matrix(h, w, ci, co, kh, kw, &wt);
        let dense = m.to_dense();
        for y in 0..h {
            for xx in 0..w {
                for o in 0..co {
                    let mut want = 0.0;
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let (iy, ix) = (y as i64 + ky as i64 - 1, xx as i64 + kx as i64 - 1);
                            if iy < 0 || ix < 0 || iy >= h as i64 || ix >= w as i64 {
                                continue;
                            }
                            for c in 0..ci {
                                want += wt[((o * ci + c) * kh + ky) * kw + kx]
                                    * x[((iy as usize) * w + ix as usize) * ci + c];
                            }
                        }
                    }
                    let row = (y * w + xx) * co + o;
                    let got: f32 = (0..h * w * ci)
                        .map(|k| dense[row * h * w * ci + k] * x[k])
                        .sum();
                    assert!((got - want).abs() < 1e-5);
                }
            }
        }
    }
}
