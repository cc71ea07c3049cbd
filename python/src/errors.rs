//! parana's errors as Python exceptions: the same one-line message as the
//! CLI, raised as the classes of `parana/_errors.py` (a `ParanaError` base,
//! with `ValueError`, `FileNotFoundError` and `OSError` subclasses), and
//! `KeyboardInterrupt` for a job stopped by Ctrl-C.

use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError};
use pyo3::prelude::*;

/// The Python exception for `e`.
pub fn to_py(e: parana::Error) -> PyErr {
    use parana::Error;
    let class = match &e {
        Error::Interrupted(_) => return PyKeyboardInterrupt::new_err(e.to_string()),
        Error::File { .. } | Error::Input(_) => "ParanaValueError",
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            "ParanaFileNotFoundError"
        }
        Error::Io { .. } => "ParanaOSError",
        Error::Other(_) => "ParanaError",
    };
    let msg = e.to_string();
    Python::attach(|py| {
        match py
            .import("parana._errors")
            .and_then(|m| m.getattr(class))
            .and_then(|c| c.call1((msg.clone(),)))
        {
            Ok(exc) => PyErr::from_value(exc),
            Err(_) => PyRuntimeError::new_err(msg),
        }
    })
}

/// `ParanaValueError(msg)`: bad arguments found by the binding itself.
pub fn value_error(msg: impl Into<String>) -> PyErr {
    to_py(parana::Error::input(msg))
}

/// `.map_err(to_py)` in one word.
pub trait IntoPy<T> {
    /// The result with its error as a Python exception.
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPy<T> for parana::Result<T> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}
