//! The library's error type.
//!
//! Errors caused by what a user gave us (a file, a flag) are
//! [`Error::Input`]: the CLI prints them as one line and exits with code 2.
//! Everything else (an I/O failure while writing, say) is [`Error::Io`] or
//! [`Error::Other`] and exits with code 1. A job stopped by Ctrl-C returns
//! [`Error::Interrupted`] (exit code 130, as shells report SIGINT).

use std::path::{Path, PathBuf};

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad user input: a file that is corrupt, of the wrong kind or shape.
    #[error("{}: {msg}", path.display())]
    File { path: PathBuf, msg: String },
    /// Bad user input that is not tied to one file (a flag, a setting).
    #[error("{0}")]
    Input(String),
    /// The operating system failed us while reading or writing `path`.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Anything else (a network failure, an internal limit).
    #[error("{0}")]
    Other(String),
    /// Stopped by Ctrl-C at a safe point; the message says how to resume.
    #[error("interrupted: {0}")]
    Interrupted(String),
}

impl Error {
    /// A problem with the contents of the file at `path`.
    pub fn file(path: impl AsRef<Path>, msg: impl Into<String>) -> Self {
        Error::File {
            path: path.as_ref().to_path_buf(),
            msg: msg.into(),
        }
    }

    /// A problem with a flag or setting.
    pub fn input(msg: impl Into<String>) -> Self {
        Error::Input(msg.into())
    }

    /// An I/O error while working on `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// Exit code for the CLI: 2 for bad input (including files that do not
    /// exist or cannot be read), 1 for everything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::File { .. } | Error::Input(_) => 2,
            Error::Io { source, .. } => match source.kind() {
                std::io::ErrorKind::NotFound
                | std::io::ErrorKind::PermissionDenied
                | std::io::ErrorKind::UnexpectedEof
                | std::io::ErrorKind::InvalidData => 2,
                _ => 1,
            },
            Error::Other(_) => 1,
            Error::Interrupted(_) => 130,
        }
    }
}
