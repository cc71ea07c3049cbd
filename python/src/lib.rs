//! `parana._native`: parana's library for Python (the pure-Python package
//! `parana` wraps it with keyword arguments, docstrings, pandas tables and
//! PyTorch conversion). Every function calls the library functions the CLI
//! calls; nothing of the engine is copied here.

mod attack;
mod data;
mod errors;
mod experiment;
mod long;
mod model;
mod prune;
mod train;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<model::PyModel>()?;
    m.add_function(wrap_pyfunction!(data::load_dataset, m)?)?;
    m.add_function(wrap_pyfunction!(data::load_noise, m)?)?;
    m.add_function(wrap_pyfunction!(train::train, m)?)?;
    m.add_function(wrap_pyfunction!(train::train_noises, m)?)?;
    m.add_function(wrap_pyfunction!(attack::fgsm, m)?)?;
    m.add_function(wrap_pyfunction!(attack::pgd, m)?)?;
    m.add_function(wrap_pyfunction!(prune::prune, m)?)?;
    m.add_function(wrap_pyfunction!(prune::sweep, m)?)?;
    m.add_function(wrap_pyfunction!(experiment::evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(experiment::reproduce, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
