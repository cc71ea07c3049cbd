//! `parana._native.Model`: a loaded or trained network, with its forward
//! pass on numpy arrays (read in place when contiguous float32; outputs
//! are new arrays owned by Python), evaluation and saving, all through the
//! library's own functions (`parana::loader`, `parana::model::eval`).

use crate::errors::{IntoPy, value_error};
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods,
};
use parana::model::{Model, eval};
use parana::tensorfile::TensorFile;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// A network ready to evaluate (see `parana.Model`).
#[pyclass(name = "Model", module = "parana._native")]
pub struct PyModel {
    /// The network; a Mutex because the forward pass needs `&mut` (its
    /// buffers) and runs without the GIL.
    inner: Mutex<Model>,
    /// The file it was loaded from or last saved to, if any.
    path: Mutex<Option<PathBuf>>,
}

impl PyModel {
    /// Wrap `m`, read from (or written to) `path`.
    pub fn new(m: Model, path: Option<PathBuf>) -> Self {
        PyModel {
            inner: Mutex::new(m),
            path: Mutex::new(path),
        }
    }

    /// The network (a panic while it was held leaves it usable: nothing
    /// it guards can be half-updated by a forward pass).
    pub fn lock(&self) -> MutexGuard<'_, Model> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The file it came from, if any.
    pub fn file(&self) -> Option<PathBuf> {
        self.path.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The `n` inputs of `x` for `m`: a contiguous float32 array whose first
/// axis is the images and whose other axes hold `m`'s input length.
fn inputs<'a>(x: &'a PyReadonlyArrayDyn<'_, f32>, m: &Model) -> PyResult<(&'a [f32], usize)> {
    let len = m.arch.in_len();
    let shape = x.shape();
    let per: usize = shape.iter().skip(1).product();
    if shape.is_empty() || per != len {
        return Err(value_error(format!(
            "inputs of shape {shape:?} do not fit {} (expected (n, ...) with {len} values per image)",
            m.describe()
        )));
    }
    let s = x
        .as_slice()
        .map_err(|_| value_error("inputs must be a C-contiguous float32 array"))?;
    Ok((s, shape[0]))
}

#[pymethods]
impl PyModel {
    /// Load any model file parana writes (dense, pruned, compiled sparse,
    /// decoupled) or a plain PyTorch MLP/CNN state dict.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let m = py.detach(|| parana::loader::load(&path)).py()?;
        Ok(PyModel::new(m, Some(path)))
    }

    /// Build a model from tensors (name -> contiguous float32 array) and
    /// metadata, as the loader reads them from a file (`origin` names the
    /// source in error messages).
    #[staticmethod]
    fn from_tensors(
        tensors: BTreeMap<String, PyReadonlyArrayDyn<'_, f32>>,
        meta: BTreeMap<String, String>,
        origin: String,
    ) -> PyResult<Self> {
        let mut f = TensorFile::default();
        for (name, t) in &tensors {
            let data = t.as_array().iter().copied().collect();
            f.insert(name.clone(), t.shape().to_vec(), data);
        }
        f.meta = meta;
        let m = parana::loader::from_tensor_file(&f, Path::new(&origin)).py()?;
        Ok(PyModel::new(m, None))
    }

    /// Parameters by state-dict name, as new float32 arrays of their shapes.
    fn tensors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let m = self.lock();
        let d = PyDict::new(py);
        for (name, p) in m.named_params() {
            let a = p.value.clone().into_pyarray(py).reshape(p.shape.clone())?;
            d.set_item(name, a)?;
        }
        Ok(d)
    }

    /// Raw outputs, `(n, classes)` float32.
    fn logits<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArrayDyn<'_, f32>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let mut m = self.lock();
        let (xs, n) = inputs(&x, &m)?;
        let classes = m.arch.classes;
        let m = &mut *m;
        let out = py.detach(|| eval::logits(m, xs, n));
        out.into_pyarray(py).reshape([n, classes])
    }

    /// Predicted classes, `(n,)` int64.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArrayDyn<'_, f32>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let mut m = self.lock();
        let (xs, n) = inputs(&x, &m)?;
        let m = &mut *m;
        let pred = py.detach(|| eval::predict_f32(m, xs, n));
        Ok(pred
            .into_iter()
            .map(|p| p as i64)
            .collect::<Vec<_>>()
            .into_pyarray(py))
    }

    /// Save atomically to `path` (dense, or decoupled for a decoupled CNN).
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let mut m = self.lock();
        // `&mut` because a model (its layers) is Send but not Sync.
        let m = &mut *m;
        let p = path.clone();
        py.detach(move || parana::loader::save(m, &p)).py()?;
        *self.path.lock().unwrap_or_else(|e| e.into_inner()) = Some(path);
        Ok(())
    }

    /// The architecture as JSON (the `arch` metadata of a model file).
    fn arch_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.lock().arch).map_err(|e| value_error(e.to_string()))
    }

    /// A one-line description, e.g. `MLP 784-300-100-10`.
    #[getter]
    fn description(&self) -> String {
        self.lock().describe()
    }

    /// The cost function: `lq` or `sce`.
    #[getter]
    fn head(&self) -> String {
        self.lock().head.name().to_string()
    }

    /// The metadata the file carries (dataset, seed, accuracy, ...).
    #[getter]
    fn meta(&self) -> BTreeMap<String, String> {
        self.lock().meta.clone()
    }

    /// Number of parameters.
    #[getter]
    fn param_count(&self) -> usize {
        self.lock().param_count()
    }

    /// Input shape `(height, width, channels)`.
    #[getter]
    fn input_shape(&self) -> (usize, usize, usize) {
        let [h, w, c] = self.lock().arch.input;
        (h, w, c)
    }

    /// Number of classes.
    #[getter]
    fn classes(&self) -> usize {
        self.lock().arch.classes
    }

    /// The file it was loaded from or saved to, or None.
    #[getter]
    fn path(&self) -> Option<PathBuf> {
        self.file()
    }

    fn __repr__(&self) -> String {
        let m = self.lock();
        format!(
            "<parana.Model {} ({}, {} parameters)>",
            m.describe(),
            m.head.name(),
            m.param_count()
        )
    }
}
