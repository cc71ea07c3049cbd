//! `load_dataset` and `load_noise`: datasets and noise files as numpy
//! arrays, read by the library's loaders (the CLI's search path for
//! datasets: `../shared/datasets/NAME`, `./data/NAME`, `~/.cache/parana/NAME`, ...).

use crate::errors::IntoPy;
use numpy::{IntoPyArray, PyArray1, PyArrayDyn, PyArrayMethods};
use parana::attack::noise_file::Noise;
use parana::data::{Dataset, Split};
use pyo3::prelude::*;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The dataset's images `(n, rows, cols)` uint8 and labels `(n,)` int64.
type SplitArrays<'py> = (Bound<'py, PyArrayDyn<u8>>, Bound<'py, PyArray1<i64>>);

fn split_arrays<'py>(py: Python<'py>, s: Split) -> PyResult<SplitArrays<'py>> {
    let (n, rows, cols) = (s.len(), s.rows, s.cols);
    let labels: Vec<i64> = s.labels.iter().map(|&l| i64::from(l)).collect();
    let images = s.images.into_pyarray(py).reshape(vec![n, rows, cols])?;
    Ok((images, labels.into_pyarray(py)))
}

/// Load dataset `name` (from `data_dir`, or found as the CLI finds it):
/// `(name, classes, dir, (train_images, train_labels), (test_images, test_labels))`.
#[pyfunction]
#[pyo3(signature = (name = "mnist".to_string(), data_dir = None))]
pub fn load_dataset<'py>(
    py: Python<'py>,
    name: String,
    data_dir: Option<PathBuf>,
) -> PyResult<DatasetParts<'py>> {
    let d = py
        .detach(|| Dataset::load(&name, data_dir.as_deref(), None))
        .py()?;
    let Dataset {
        name,
        dir,
        train,
        test,
        classes,
        ..
    } = d;
    Ok((
        name,
        classes,
        dir,
        split_arrays(py, train)?,
        split_arrays(py, test)?,
    ))
}

/// A noise's values, target, limit and metadata.
type NoiseParts<'py> = (
    Bound<'py, PyArrayDyn<f32>>,
    u8,
    f32,
    BTreeMap<String, String>,
);

/// A dataset's name, classes, folder and splits.
type DatasetParts<'py> = (String, usize, PathBuf, SplitArrays<'py>, SplitArrays<'py>);

/// Read a noise file: `(values (h, w, c) float32, target, limit, metadata)`.
#[pyfunction]
pub fn load_noise<'py>(py: Python<'py>, path: PathBuf) -> PyResult<NoiseParts<'py>> {
    let n = Noise::load(&path).py()?;
    let shape = n.input.to_vec();
    let a = n.data.into_pyarray(py).reshape(shape)?;
    Ok((a, n.target, n.limit, n.meta))
}
