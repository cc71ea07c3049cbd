//! Noise files: a trained universal noise in a safetensors file, and its
//! training checkpoint.
//!
//! A noise file `noise-class3-limit0.25.safetensors` holds one tensor,
//! `noise`, of shape `[channels, height, width]` (PyTorch's layout; `[1, 28,
//! 28]` for MNIST), and metadata: `format` (`parana-noise`), `target`,
//! `limit`, `steps`, `seed`, `lr`, `optimizer`, `batch`, `dataset`,
//! `model_sha256` (of the model file it was trained against), `model`,
//! `fooling_rate` and `accuracy` (on the test set) and `classes`.
//!
//! Loading checks everything a user's file can get wrong (not a noise file,
//! wrong shape, non-finite values, a limit outside (0, 1] or values beyond
//! it, a target outside the classes, another dataset) and names the file in
//! the error.

use super::universal::{NoiseConfig, NoiseState, Optimizer};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::tensorfile::TensorFile;
use std::collections::BTreeMap;
use std::path::Path;

/// Value of the `format` metadata key of a noise file.
pub const FORMAT: &str = "parana-noise";

/// A loaded (or freshly trained) noise.
#[derive(Clone, Debug, PartialEq)]
pub struct Noise {
    /// Values in the model's input layout (`[height, width, channels]`).
    pub data: Vec<f32>,
    /// Input shape `[height, width, channels]`.
    pub input: [usize; 3],
    /// Target class.
    pub target: u8,
    /// The limit it was trained with: every `|value| <= limit`.
    pub limit: f32,
    /// All metadata (including the keys above as strings).
    pub meta: BTreeMap<String, String>,
}

/// File name of the noise for `target` and `limit`, e.g.
/// `noise-class3-limit0.25.safetensors`.
pub fn file_name(target: u8, limit: f32) -> String {
    format!("noise-class{target}-limit{limit}.safetensors")
}

/// SHA-256 of a file, lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    use sha2::Digest;
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let d = sha2::Sha256::digest(&bytes);
    Ok(d.iter().map(|b| format!("{b:02x}")).collect())
}

/// `[h, w, c]` values to `[c, h, w]`.
fn to_chw(data: &[f32], [h, w, c]: [usize; 3]) -> Vec<f32> {
    let mut out = vec![0.0; data.len()];
    for p in 0..h * w {
        for ch in 0..c {
            out[ch * h * w + p] = data[p * c + ch];
        }
    }
    out
}

/// `[c, h, w]` values to `[h, w, c]`.
fn to_hwc(data: &[f32], [h, w, c]: [usize; 3]) -> Vec<f32> {
    let mut out = vec![0.0; data.len()];
    for p in 0..h * w {
        for ch in 0..c {
            out[p * c + ch] = data[ch * h * w + p];
        }
    }
    out
}

impl Noise {
    /// The noise file's contents.
    pub fn to_tensor_file(&self) -> TensorFile {
        let [h, w, c] = self.input;
        let mut f = TensorFile::default();
        f.insert("noise", vec![c, h, w], to_chw(&self.data, self.input));
        f.meta = self.meta.clone();
        f.meta.insert("format".into(), FORMAT.into());
        f.meta.insert("target".into(), self.target.to_string());
        f.meta.insert("limit".into(), self.limit.to_string());
        f
    }

    /// Save atomically to `path`.
    pub fn save(&self, path: &Path) -> Result<()> {
        self.to_tensor_file().save(path)
    }

    /// Load and check the noise file at `path`.
    pub fn load(path: &Path) -> Result<Noise> {
        let f = TensorFile::load(path)?;
        Noise::from_tensor_file(&f, path)
    }

    /// Check a loaded file; `path` is used in errors.
    pub fn from_tensor_file(f: &TensorFile, path: &Path) -> Result<Noise> {
        let bad = |m: String| Error::file(path, m);
        let t = f.tensors.get("noise").ok_or_else(|| {
            let what = if f.meta.get("format").map(String::as_str)
                == Some(crate::model::file::FORMAT)
                || f.tensors.keys().any(|k| k.ends_with(".weight"))
            {
                "a model file, not a noise file"
            } else {
                "not a noise file"
            };
            bad(format!("{what} (no tensor 'noise')"))
        })?;
        if f.tensors.len() != 1 {
            let extra = f.tensors.keys().find(|k| *k != "noise");
            return Err(bad(format!(
                "not a noise file: unexpected tensor {}",
                extra.map(String::as_str).unwrap_or("?")
            )));
        }
        let (c, h, w) = match t.shape.as_slice() {
            &[c, h, w] if c > 0 && h > 0 && w > 0 => (c, h, w),
            s => {
                return Err(bad(format!(
                    "tensor 'noise' has shape {s:?}, expected [channels, height, width] like [1, 28, 28]"
                )));
            }
        };
        let meta_num = |k: &str| -> Result<&str> {
            f.meta
                .get(k)
                .map(String::as_str)
                .ok_or_else(|| bad(format!("not a noise file: no '{k}' metadata")))
        };
        let target: u8 = meta_num("target")?
            .parse()
            .map_err(|_| bad(format!("bad 'target' metadata '{}'", f.meta["target"])))?;
        let limit: f32 = meta_num("limit")?
            .parse()
            .map_err(|_| bad(format!("bad 'limit' metadata '{}'", f.meta["limit"])))?;
        if !(limit > 0.0 && limit <= 1.0) {
            return Err(bad(format!("limit {limit} is outside (0, 1]")));
        }
        if let Some(classes) = f.meta.get("classes").and_then(|c| c.parse::<usize>().ok())
            && target as usize >= classes
        {
            return Err(bad(format!(
                "target {target} is outside the classes 0-{}",
                classes.saturating_sub(1)
            )));
        }
        // The values were clipped to the limit in f32; allow for rounding
        // in the limit's decimal form only.
        let tol = limit * 1e-6;
        if let Some((i, v)) = t
            .data
            .iter()
            .enumerate()
            .find(|(_, v)| v.abs() > limit + tol)
        {
            return Err(bad(format!(
                "value {v} at index {i} exceeds the limit {limit}"
            )));
        }
        let input = [h, w, c];
        Ok(Noise {
            data: to_hwc(&t.data, input),
            input,
            target,
            limit,
            meta: f.meta.clone(),
        })
    }

    /// Check that this noise (loaded from `path`) fits `model` and the
    /// dataset `dataset` with `classes` classes.
    pub fn check_fits(
        &self,
        path: &Path,
        model: &Model,
        dataset: &str,
        classes: usize,
    ) -> Result<()> {
        let bad = |m: String| Error::file(path, m);
        if self.input != model.arch.input {
            let [h, w, c] = self.input;
            let [mh, mw, mc] = model.arch.input;
            return Err(bad(format!(
                "noise of shape [{c}, {h}, {w}] does not fit the model's [{mc}, {mh}, {mw}] inputs"
            )));
        }
        if let Some(d) = self.meta.get("dataset")
            && d != dataset
        {
            return Err(bad(format!(
                "noise was trained on dataset '{d}', not '{dataset}'"
            )));
        }
        if self.target as usize >= classes.min(model.arch.classes) {
            return Err(bad(format!(
                "target {} is outside the classes 0-{}",
                self.target,
                classes.min(model.arch.classes).saturating_sub(1)
            )));
        }
        Ok(())
    }

    /// The noise files named by `paths`: files as given, folders by their
    /// `noise-*.safetensors` files in name order.
    pub fn expand_paths(paths: &[std::path::PathBuf]) -> Result<Vec<std::path::PathBuf>> {
        let mut out = Vec::new();
        for p in paths {
            if p.is_dir() {
                let mut found: Vec<_> = std::fs::read_dir(p)
                    .map_err(|e| Error::io(p, e))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|q| {
                        q.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                            n.starts_with("noise-")
                                && n.ends_with(".safetensors")
                                && !n.ends_with(".ckpt.safetensors")
                        })
                    })
                    .collect();
                if found.is_empty() {
                    return Err(Error::file(p, "folder holds no noise-*.safetensors file"));
                }
                found.sort();
                out.extend(found);
            } else {
                out.push(p.clone());
            }
        }
        Ok(out)
    }
}

/// The checkpoint of a noise being trained: the noise, Adam's moments, the
/// step, and the settings it must be resumed with.
pub fn save_checkpoint(
    path: &Path,
    st: &NoiseState,
    input: [usize; 3],
    model_sha: &str,
) -> Result<()> {
    let mut f = TensorFile::default();
    f.insert("noise", vec![st.noise.len()], st.noise.clone());
    if st.cfg.optimizer == Optimizer::Adam {
        f.insert("adam.m", vec![st.m.len()], st.m.clone());
        f.insert("adam.v", vec![st.v.len()], st.v.clone());
    }
    f.meta
        .insert("format".into(), "parana-noise-checkpoint".into());
    f.meta.insert("step".into(), st.step.to_string());
    f.meta.insert("resume_key".into(), st.cfg.resume_key());
    f.meta.insert("model_sha256".into(), model_sha.into());
    f.meta.insert("input".into(), format!("{input:?}"));
    f.save(path)
}

/// Resume `cfg` from the checkpoint at `path`; fails if it was made with
/// other settings or against another model.
pub fn load_checkpoint(path: &Path, cfg: &NoiseConfig, model_sha: &str) -> Result<NoiseState> {
    let f = TensorFile::load(path)?;
    let bad = |m: String| Error::file(path, m);
    let key = f.meta.get("resume_key").cloned().unwrap_or_default();
    if key != cfg.resume_key() {
        return Err(bad(format!(
            "checkpoint was made with other settings ({key}); now {}",
            cfg.resume_key()
        )));
    }
    if f.meta.get("model_sha256").map(String::as_str) != Some(model_sha) {
        return Err(bad("checkpoint was made against another model file".into()));
    }
    let step: u64 = f
        .meta
        .get("step")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("checkpoint has no valid 'step'".into()))?;
    let get = |k: &str| {
        f.tensors
            .get(k)
            .map(|t| t.data.clone())
            .ok_or_else(|| bad(format!("checkpoint has no tensor '{k}'")))
    };
    let noise = get("noise")?;
    let mut st = NoiseState::new(cfg.clone(), noise.len());
    if noise.iter().any(|v| v.abs() > cfg.limit) {
        return Err(bad("checkpoint noise exceeds the limit".into()));
    }
    st.noise = noise;
    if cfg.optimizer == Optimizer::Adam {
        st.m = get("adam.m")?;
        st.v = get("adam.v")?;
        if st.m.len() != st.noise.len() || st.v.len() != st.noise.len() {
            return Err(bad("checkpoint Adam moments have the wrong size".into()));
        }
    }
    st.step = step.min(cfg.steps);
    Ok(st)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise() -> Noise {
        let mut meta = BTreeMap::new();
        meta.insert("dataset".into(), "mnist".into());
        meta.insert("classes".into(), "10".into());
        Noise {
            data: (0..784).map(|i| ((i % 7) as f32 - 3.0) / 12.0).collect(),
            input: [28, 28, 1],
            target: 3,
            limit: 0.25,
            meta,
        }
    }

    #[test]
    fn round_trip_and_checks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(file_name(3, 0.25));
        assert!(p.ends_with("noise-class3-limit0.25.safetensors"));
        let n = noise();
        n.save(&p).unwrap();
        let f = TensorFile::load(&p).unwrap();
        assert_eq!(f.tensors["noise"].shape, vec![1, 28, 28]);
        let back = Noise::load(&p).unwrap();
        assert_eq!(back.data, n.data);
        assert_eq!((back.target, back.limit), (3, 0.25));
        assert_eq!(back.meta["dataset"], "mnist");

        let err = |f: &TensorFile| Noise::from_tensor_file(f, &p).unwrap_err().to_string();
        let mut g = f.clone();
        g.meta.insert("limit".into(), "1.5".into());
        assert!(err(&g).contains("outside (0, 1]"), "{}", err(&g));
        let mut g = f.clone();
        g.meta.insert("limit".into(), "0.1".into());
        assert!(err(&g).contains("exceeds the limit"), "{}", err(&g));
        let mut g = f.clone();
        g.meta.insert("target".into(), "10".into());
        assert!(err(&g).contains("outside the classes"), "{}", err(&g));
        let mut g = f.clone();
        g.insert("noise", vec![784], n.data.clone());
        assert!(err(&g).contains("shape [784]"), "{}", err(&g));
        let mut g = TensorFile::default();
        g.insert("layers.0.weight", vec![1, 1], vec![0.0]);
        assert!(err(&g).contains("a model file"), "{}", err(&g));
        assert!(err(&g).contains("noise-class3-limit0.25"), "{}", err(&g));
    }

    #[test]
    fn channels_first_layout_round_trips() {
        let mut n = noise();
        n.input = [2, 3, 2];
        n.data = (0..12).map(|i| i as f32 / 100.0).collect();
        let f = n.to_tensor_file();
        // Channel 0 first: the values at even (h, w, c=0) positions.
        assert_eq!(
            &f.tensors["noise"].data[..6],
            &[0.0, 0.02, 0.04, 0.06, 0.08, 0.1]
        );
        let back = Noise::from_tensor_file(&f, Path::new("x")).unwrap();
        assert_eq!(back.data, n.data);
    }
}
