//! Reading and writing safetensors files of named `f32` tensors with string
//! metadata: the container of parana's model, checkpoint and noise files.
//! Integer tensors (indices of sparse models) are kept apart, in
//! [`TensorFile::ints`]: written as `I64`, read from `I64`, `I32` or `U32`.
//! Boolean tensors (the keep masks of pruned models) are in
//! [`TensorFile::bools`]: written as `BOOL`, read from `BOOL` or `U8` (0/1).
//!
//! Loading checks everything a user's file can get wrong (not safetensors,
//! truncated, wrong dtype, NaN or infinite values) and names the file in
//! the error.

use crate::error::{Error, Result};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// One tensor: its shape and its values, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// Shape.
    pub shape: Vec<usize>,
    /// Values.
    pub data: Vec<f32>,
}

/// One integer tensor: its shape and its values, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct IntTensor {
    /// Shape.
    pub shape: Vec<usize>,
    /// Values.
    pub data: Vec<i64>,
}

/// One boolean tensor: its shape and its values, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct BoolTensor {
    /// Shape.
    pub shape: Vec<usize>,
    /// Values.
    pub data: Vec<bool>,
}

/// The contents of a safetensors file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TensorFile {
    /// Tensors by name (sorted, so files are byte-for-byte reproducible).
    pub tensors: BTreeMap<String, Tensor>,
    /// Integer tensors by name (none in model, checkpoint or noise files).
    pub ints: BTreeMap<String, IntTensor>,
    /// Boolean tensors by name (the masks of pruned models).
    pub bools: BTreeMap<String, BoolTensor>,
    /// The `__metadata__` strings.
    pub meta: BTreeMap<String, String>,
}

impl TensorFile {
    /// Add a tensor.
    pub fn insert(&mut self, name: impl Into<String>, shape: Vec<usize>, data: Vec<f32>) {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        self.tensors.insert(name.into(), Tensor { shape, data });
    }

    /// Add an integer tensor.
    pub fn insert_int(&mut self, name: impl Into<String>, shape: Vec<usize>, data: Vec<i64>) {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        self.ints.insert(name.into(), IntTensor { shape, data });
    }

    /// Add a boolean tensor.
    pub fn insert_bool(&mut self, name: impl Into<String>, shape: Vec<usize>, data: Vec<bool>) {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        self.bools.insert(name.into(), BoolTensor { shape, data });
    }

    /// Serialise to bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut bytes: Vec<(String, Vec<u8>, Vec<usize>, Dtype)> = self
            .tensors
            .iter()
            .map(|(n, t)| {
                let b: Vec<u8> = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
                (n.clone(), b, t.shape.clone(), Dtype::F32)
            })
            .collect();
        for (n, t) in &self.ints {
            let b: Vec<u8> = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
            bytes.push((n.clone(), b, t.shape.clone(), Dtype::I64));
        }
        for (n, t) in &self.bools {
            let b: Vec<u8> = t.data.iter().map(|&v| v as u8).collect();
            bytes.push((n.clone(), b, t.shape.clone(), Dtype::BOOL));
        }
        let mut views = Vec::with_capacity(bytes.len());
        for (n, b, s, d) in &bytes {
            let v = TensorView::new(*d, s.clone(), b)
                .map_err(|e| Error::Other(format!("tensor {n}: {e}")))?;
            views.push((n.clone(), v));
        }
        let meta: HashMap<String, String> = self.meta.clone().into_iter().collect();
        safetensors::serialize(views, Some(meta))
            .map_err(|e| Error::Other(format!("safetensors: {e}")))
    }

    /// Write atomically to `path`.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::io::write_atomic(path, &self.to_bytes()?)
    }

    /// Parse `bytes` read from `path` (the path is only used in errors).
    ///
    /// ```
    /// use parana::tensorfile::TensorFile;
    /// use std::path::Path;
    /// let mut f = TensorFile::default();
    /// f.insert("layers.0.bias", vec![2], vec![0.5, -1.0]);
    /// let bytes = f.to_bytes().unwrap();
    /// assert_eq!(TensorFile::from_bytes(&bytes, Path::new("m.safetensors")).unwrap(), f);
    /// let e = TensorFile::from_bytes(&bytes[..9], Path::new("m.safetensors")).unwrap_err();
    /// assert!(e.to_string().starts_with("m.safetensors: not a valid safetensors file"));
    /// ```
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<TensorFile> {
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| Error::file(path, format!("not a valid safetensors file ({e})")))?;
        let (_, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| Error::file(path, format!("not a valid safetensors file ({e})")))?;
        let meta = header
            .metadata()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let mut tensors = BTreeMap::new();
        let mut ints = BTreeMap::new();
        let mut bools = BTreeMap::new();
        for (name, view) in st.iter() {
            if matches!(view.dtype(), Dtype::BOOL | Dtype::U8) {
                if let Some(i) = view.data().iter().position(|&b| b > 1) {
                    return Err(Error::file(
                        path,
                        format!(
                            "tensor '{name}' holds {} at index {i}, expected 0 or 1",
                            view.data()[i]
                        ),
                    ));
                }
                let data = view.data().iter().map(|&b| b == 1).collect();
                let shape = view.shape().to_vec();
                bools.insert(name.to_string(), BoolTensor { shape, data });
                continue;
            }
            let int: Option<Vec<i64>> = match view.dtype() {
                Dtype::I64 => Some(
                    view.data()
                        .chunks_exact(8)
                        .map(|c| {
                            i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])
                        })
                        .collect(),
                ),
                Dtype::I32 => Some(
                    view.data()
                        .chunks_exact(4)
                        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64)
                        .collect(),
                ),
                Dtype::U32 => Some(
                    view.data()
                        .chunks_exact(4)
                        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64)
                        .collect(),
                ),
                _ => None,
            };
            if let Some(data) = int {
                let shape = view.shape().to_vec();
                ints.insert(name.to_string(), IntTensor { shape, data });
                continue;
            }
            if view.dtype() != Dtype::F32 {
                return Err(Error::file(
                    path,
                    format!(
                        "tensor '{name}' has dtype {:?}, expected F32 (or I64/I32/U32 indices, BOOL/U8 masks)",
                        view.dtype()
                    ),
                ));
            }
            let data: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            if let Some(i) = data.iter().position(|v| !v.is_finite()) {
                return Err(Error::file(
                    path,
                    format!(
                        "tensor '{name}' holds a non-finite value ({}) at index {i}",
                        data[i]
                    ),
                ));
            }
            tensors.insert(
                name.to_string(),
                Tensor {
                    shape: view.shape().to_vec(),
                    data,
                },
            );
        }
        Ok(TensorFile {
            tensors,
            ints,
            bools,
            meta,
        })
    }

    /// Read and check the file at `path`.
    pub fn load(path: &Path) -> Result<TensorFile> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        TensorFile::from_bytes(&bytes, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.safetensors");
        let mut f = TensorFile::default();
        f.insert("a.weight", vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, -6.5]);
        f.insert("a.bias", vec![2], vec![0.1, 0.2]);
        f.meta.insert("k".into(), "v".into());
        f.save(&p).unwrap();
        let g = TensorFile::load(&p).unwrap();
        assert_eq!(f, g);
        // Integer tensors alongside, round trip exact.
        let mut fi = f.clone();
        fi.insert_int("a.idx", vec![3], vec![0, 7, i64::from(u32::MAX) + 1]);
        let gi = TensorFile::from_bytes(&fi.to_bytes().unwrap(), &p).unwrap();
        assert_eq!(fi, gi);
        // Boolean tensors too, one byte each.
        let mut fb = f.clone();
        fb.insert_bool(
            "masks.a.weight",
            vec![2, 3],
            vec![true, false, true, true, false, false],
        );
        let bb = fb.to_bytes().unwrap();
        let view = SafeTensors::deserialize(&bb).unwrap();
        let t = view.tensor("masks.a.weight").unwrap();
        assert_eq!((t.dtype(), t.data().len()), (Dtype::BOOL, 6));
        assert_eq!(fb, TensorFile::from_bytes(&bb, &p).unwrap());
        // Byte-for-byte reproducible.
        assert_eq!(f.to_bytes().unwrap(), g.to_bytes().unwrap());

        let bytes = std::fs::read(&p).unwrap();
        for cut in [0, 4, 8, 20, bytes.len() - 1] {
            let e = TensorFile::from_bytes(&bytes[..cut], &p)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("t.safetensors") && e.contains("not a valid safetensors"),
                "{e}"
            );
        }
        let mut nan = f.clone();
        nan.insert("a.bias", vec![2], vec![0.1, f32::NAN]);
        let e = TensorFile::from_bytes(&nan.to_bytes().unwrap(), &p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("non-finite") && e.contains("a.bias"), "{e}");
    }
}
