//! `fgsm` and `pgd` on numpy arrays: the library's attacks
//! (`parana::attack::{fgsm, pgd}`), off the GIL.

use crate::errors::{IntoPy, value_error};
use crate::model::PyModel;
use numpy::{
    IntoPyArray, PyArray1, PyArrayDyn, PyArrayMethods, PyReadonlyArray1, PyReadonlyArrayDyn,
    PyUntypedArrayMethods,
};
use parana::attack::Outcome;
use parana::attack::pgd::PgdConfig;
use pyo3::prelude::*;

/// Adversarial images (the input's shape), predictions and fooled flags.
type Arrays<'py> = (
    Bound<'py, PyArrayDyn<f32>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<bool>>,
);

fn arrays<'py>(py: Python<'py>, o: Outcome, shape: Vec<usize>) -> PyResult<Arrays<'py>> {
    let pred: Vec<i64> = o.pred.iter().map(|&p| p as i64).collect();
    Ok((
        o.adv.into_pyarray(py).reshape(shape)?,
        pred.into_pyarray(py),
        o.fooled.into_pyarray(py),
    ))
}

/// Check the images `x` and `labels` fit `m`; returns the pixels and labels.
fn checked<'a>(
    m: &parana::model::Model,
    x: &'a PyReadonlyArrayDyn<'_, f32>,
    labels: &'a PyReadonlyArray1<'_, u8>,
    target: Option<u8>,
) -> PyResult<(&'a [f32], &'a [u8])> {
    let shape = x.shape();
    let per: usize = shape.iter().skip(1).product();
    let ys = labels
        .as_slice()
        .map_err(|_| value_error("labels must be a contiguous array"))?;
    if shape.is_empty() || per != m.arch.in_len() || shape[0] != ys.len() {
        return Err(value_error(format!(
            "images of shape {shape:?} and {} labels do not fit {}",
            ys.len(),
            m.describe()
        )));
    }
    let classes = m.arch.classes;
    if let Some(y) = ys.iter().chain(&target).find(|&&y| y as usize >= classes) {
        return Err(value_error(format!(
            "class {y} is outside the classes 0-{}",
            classes - 1
        )));
    }
    let xs = x
        .as_slice()
        .map_err(|_| value_error("images must be a C-contiguous float32 array"))?;
    Ok((xs, ys))
}

/// FGSM with radius `eps` (targeted at `target` when given).
#[pyfunction]
#[pyo3(signature = (model, x, labels, eps, target = None))]
pub fn fgsm<'py>(
    py: Python<'py>,
    model: &PyModel,
    x: PyReadonlyArrayDyn<'_, f32>,
    labels: PyReadonlyArray1<'_, u8>,
    eps: f32,
    target: Option<u8>,
) -> PyResult<Arrays<'py>> {
    let mut m = model.lock();
    let (xs, ys) = checked(&m, &x, &labels, target)?;
    if !(eps >= 0.0 && eps.is_finite()) {
        return Err(value_error(format!(
            "eps {eps} must be a non-negative number"
        )));
    }
    let m = &mut *m;
    let o = py.detach(|| parana::attack::fgsm::fgsm(m, xs, ys, eps, target));
    arrays(py, o, x.shape().to_vec())
}

/// PGD (L-inf radius `eps`, step `alpha`, default 2.5 eps / steps, as the CLI).
#[pyfunction]
#[pyo3(signature = (model, x, labels, eps, *, alpha = None, steps = 100, restarts = 1, target = None, seed = 1, first_index = 0))]
#[allow(clippy::too_many_arguments)]
pub fn pgd<'py>(
    py: Python<'py>,
    model: &PyModel,
    x: PyReadonlyArrayDyn<'_, f32>,
    labels: PyReadonlyArray1<'_, u8>,
    eps: f32,
    alpha: Option<f32>,
    steps: usize,
    restarts: usize,
    target: Option<u8>,
    seed: u64,
    first_index: usize,
) -> PyResult<Arrays<'py>> {
    let cfg = PgdConfig {
        eps,
        alpha: alpha.unwrap_or(2.5 * eps / steps.max(1) as f32),
        steps,
        restarts,
        target,
        seed,
    };
    cfg.validate().py()?;
    let mut m = model.lock();
    let (xs, ys) = checked(&m, &x, &labels, target)?;
    let m = &mut *m;
    let o = py.detach(|| parana::attack::pgd::pgd(m, xs, ys, first_index, &cfg));
    arrays(py, o, x.shape().to_vec())
}
