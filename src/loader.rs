//! Model files of every kind parana writes, read and written in one place:
//! dense (`parana train`), pruned with keep masks (`parana prune`), compiled
//! sparse (`parana compile`) and decoupled CNNs (`parana decouple`), plus
//! plain PyTorch state dicts.
//!
//! It sits above [`crate::model::file`] (the dense format) and
//! [`crate::sparse::file`] / [`crate::sparse::decouple`] (the sparse ones),
//! which do not know each other; the CLI, the sweeps, the experiment stages
//! and the Python package all load and save models through here.

use crate::error::Result;
use crate::model::{Model, file};
use crate::sparse;
use crate::tensorfile::TensorFile;
use std::path::Path;

/// Load any model file parana writes (or a plain PyTorch MLP/CNN state
/// dict). Keep masks of a pruned file are ignored: its weights are already
/// pruned. Errors name the file.
pub fn load(path: &Path) -> Result<Model> {
    let f = TensorFile::load(path)?;
    from_tensor_file(&f, path)
}

/// Build a model from a loaded file of any kind; `path` is used in error
/// messages.
pub fn from_tensor_file(f: &TensorFile, path: &Path) -> Result<Model> {
    if sparse::file::is_sparse(f) {
        sparse::file::from_tensor_file(f, path)
    } else {
        file::dense_from_tensor_file(f, path)
    }
}

/// The model as a [`TensorFile`] (tensors and metadata). A decoupled CNN
/// (loaded from `parana decouple`'s output) stays in that sparse format.
pub fn to_tensor_file(model: &Model) -> TensorFile {
    if file::is_decoupled(model) {
        sparse::decouple::file_of(model)
    } else {
        file::dense_to_tensor_file(model)
    }
}

/// Save `model` atomically to `path`, in the format it was loaded from
/// (dense, or decoupled for a decoupled CNN).
pub fn save(model: &Model, path: &Path) -> Result<()> {
    to_tensor_file(model).save(path)
}
