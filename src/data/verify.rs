//! Checking a file against the registry: SHA-256 of its bytes against the
//! known `.gz` copies, else SHA-256 of its decompressed content against the
//! published sum, plus (optionally) a full IDX parse.

use super::idx::{self, IdxData};
use super::registry::{FileSpec, GzCopy};
use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of the uncompressed IDX file holding `data`.
pub fn content_sha256(data: &IdxData) -> String {
    let mut h = Sha256::new();
    h.update(data.header());
    h.update(data.body());
    hex(&h.finalize())
}

/// How a file's bytes compare with the registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Integrity {
    /// The bytes are a known `.gz` copy.
    Known(&'static GzCopy),
    /// The decompressed content matches the published SHA-256 (a raw file,
    /// or another compression of the same data).
    Content,
    /// No checksum is known for this copy of the file (nor for its
    /// content), so it cannot be verified; it parsed fine.
    Unverified,
    /// The checksum does not match.
    Mismatch {
        /// SHA-256 of the file.
        sha256: String,
        /// What it should be (canonical `.gz`, or the content sum).
        expected: String,
    },
}

impl Integrity {
    /// Whether this does not contradict the registry (verified, or nothing
    /// to verify against).
    pub fn is_ok(&self) -> bool {
        matches!(
            self,
            Integrity::Known(_) | Integrity::Content | Integrity::Unverified
        )
    }
    /// One-line description.
    pub fn describe(&self) -> String {
        match self {
            Integrity::Known(g) => format!("SHA-256 ok ({})", g.source),
            Integrity::Content => {
                "SHA-256 of the decompressed content ok (published sum)".to_string()
            }
            Integrity::Unverified => "unverified (no known checksum)".to_string(),
            Integrity::Mismatch { sha256, expected } => {
                format!("SHA-256 mismatch: file has {sha256}, expected {expected}")
            }
        }
    }
}

/// What checking one file found.
#[derive(Clone, Debug)]
pub struct FileCheck {
    /// The file (or URL) checked.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// SHA-256 of its bytes.
    pub sha256: String,
    /// Whether the size is that of a known copy (compressed or raw).
    pub size_ok: bool,
    /// How it compares with the registry.
    pub integrity: Integrity,
    /// The parsed contents, or why parsing failed (`None` if not parsed).
    pub parsed: Option<std::result::Result<IdxData, String>>,
}

impl FileCheck {
    /// Verified (or unverifiable) and, if parsed, parsed fine.
    pub fn is_ok(&self) -> bool {
        self.integrity.is_ok() && !matches!(self.parsed, Some(Err(_)))
    }
    /// The parsed contents, if parsed fine.
    pub fn data(&self) -> Option<&IdxData> {
        match &self.parsed {
            Some(Ok(d)) => Some(d),
            _ => None,
        }
    }
    /// What is wrong, in one line (empty if nothing).
    pub fn problem(&self) -> String {
        let mut parts = Vec::new();
        if !self.integrity.is_ok() {
            parts.push(self.integrity.describe());
        }
        if let Some(Err(e)) = &self.parsed {
            parts.push(e.clone());
        }
        parts.join("; ")
    }
    /// The problem as an [`Error::file`], if any.
    pub fn to_error(&self) -> Option<Error> {
        (!self.is_ok()).then(|| Error::file(&self.path, self.problem()))
    }
}

/// The message of an error without the file name in front.
pub(crate) fn message(e: &Error) -> String {
    match e {
        Error::File { msg, .. } => msg.clone(),
        other => other.to_string(),
    }
}

/// Check `bytes`, the contents of `path`, against `spec`. Parses the file
/// if `parse`, and also whenever its bytes are not a known `.gz` (the
/// content sum needs the decompressed data).
pub fn check_bytes(spec: &FileSpec, path: &Path, bytes: &[u8], parse: bool) -> FileCheck {
    let sha256 = sha256_hex(bytes);
    let size = bytes.len() as u64;
    let known = spec.gz_with_sha(&sha256);
    let parsed = (parse || known.is_none())
        .then(|| idx::parse(path, bytes, spec.role.kind()).map_err(|e| message(&e)));
    let integrity = if let Some(g) = known {
        Integrity::Known(g)
    } else {
        let content = match &parsed {
            Some(Ok(d)) => Some(content_sha256(d)),
            _ => None,
        };
        match (spec.raw_sha256, content) {
            (Some(want), Some(got)) if want == got => Integrity::Content,
            // Parsed fine, but nothing to compare its content with.
            (None, Some(_)) => Integrity::Unverified,
            _ if !spec.has_checksum() => Integrity::Unverified,
            _ => Integrity::Mismatch {
                sha256: sha256.clone(),
                expected: expected_sha256(spec, idx::is_gzip(bytes)).to_string(),
            },
        }
    };
    FileCheck {
        path: path.to_path_buf(),
        size,
        sha256,
        size_ok: spec.size_known(size),
        integrity,
        parsed,
    }
}

/// The sum a file should have: the canonical `.gz` one for a gzip file,
/// the content one for a raw file (falling back to whichever is known).
pub fn expected_sha256(spec: &FileSpec, gzip: bool) -> &'static str {
    let gz = spec.canonical().map(|g| g.sha256);
    let first = if gzip {
        gz.or(spec.raw_sha256)
    } else {
        spec.raw_sha256.or(gz)
    };
    first.unwrap_or("unknown")
}

/// Read `path` and check it against `spec` (see [`check_bytes`]). Errors
/// only when the file cannot be read.
pub fn check_file(spec: &FileSpec, path: &Path, parse: bool) -> Result<FileCheck> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(check_bytes(spec, path, &bytes, parse))
}
