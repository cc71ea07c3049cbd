//! Downloading a dataset's four files: HTTP GET with a few retries, a size
//! limit, SHA-256 verification and a full parse before the file is
//! atomically renamed into place, so a failed or corrupt download never
//! leaves a file behind. Files already present and valid are skipped.

use super::locate::find_file;
use super::registry::{DatasetSpec, FileSpec};
use super::verify::{FileCheck, Integrity, check_bytes, check_file};
use crate::error::{Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How to fetch.
#[derive(Clone, Debug)]
pub struct FetchOptions {
    /// Destination folder (created if needed).
    pub dir: PathBuf,
    /// Download folder instead of the registry's base URL.
    pub base_url: Option<String>,
    /// Extra attempts after a failed one (network errors, HTTP 5xx).
    pub retries: u32,
    /// Wait before the first retry; doubled for each further one.
    pub backoff: Duration,
    /// Limit for establishing a connection.
    pub connect_timeout: Duration,
    /// Limit for one whole request (the largest file is 26 MB).
    pub timeout: Duration,
}

impl FetchOptions {
    /// Defaults: 3 retries, 0.5 s backoff, 15 s to connect, 10 min per file.
    pub fn new(dir: impl Into<PathBuf>) -> FetchOptions {
        FetchOptions {
            dir: dir.into(),
            base_url: None,
            retries: 3,
            backoff: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(15),
            timeout: Duration::from_secs(600),
        }
    }
}

/// Progress of a fetch, for a progress bar.
#[derive(Clone, Debug)]
pub enum Progress<'a> {
    /// A download starts (`total`: its length, if the server says).
    Start { file: &'a str, total: Option<u64> },
    /// `n` more bytes arrived.
    Advance(u64),
    /// An attempt failed and will be retried.
    Retry {
        file: &'a str,
        attempt: u32,
        error: &'a str,
    },
    /// A download ended (well or not).
    Finish { file: &'a str },
}

/// What happened to one file.
#[derive(Clone, Debug)]
pub enum Fetched {
    /// Already there and valid: not downloaded.
    Present { path: PathBuf, check: FileCheck },
    /// Downloaded, verified and put in place.
    Downloaded {
        path: PathBuf,
        check: FileCheck,
        attempts: u32,
    },
}

impl Fetched {
    /// Where the file is.
    pub fn path(&self) -> &Path {
        match self {
            Fetched::Present { path, .. } | Fetched::Downloaded { path, .. } => path,
        }
    }
    /// How it checked.
    pub fn check(&self) -> &FileCheck {
        match self {
            Fetched::Present { check, .. } | Fetched::Downloaded { check, .. } => check,
        }
    }
}

/// A failure, and whether the server could not be reached at all (then
/// the other files are not tried).
struct Failure {
    error: Error,
    unreachable: bool,
}

/// Fetch the four files of `spec` into `opts.dir`. Returns one result per
/// file; when the server cannot be reached, the files after the first are
/// not tried and get the same error.
pub fn fetch(
    spec: &DatasetSpec,
    opts: &FetchOptions,
    progress: &mut dyn FnMut(Progress),
) -> Vec<(&'static str, Result<Fetched>)> {
    let agent = agent(opts);
    let mut out = Vec::new();
    let mut unreachable: Option<String> = None;
    for file in &spec.files {
        if let Some(msg) = &unreachable {
            out.push((file.name, Err(Error::Other(msg.clone()))));
            continue;
        }
        match fetch_one(&agent, spec, file, opts, progress) {
            Ok(f) => out.push((file.name, Ok(f))),
            Err(f) => {
                if f.unreachable {
                    unreachable = Some(format!(
                        "not tried: the server was unreachable for {}",
                        file.gz_name()
                    ));
                }
                out.push((file.name, Err(f.error)));
            }
        }
    }
    out
}

/// Fetch one file of `spec` (see [`fetch`]).
pub fn fetch_file(
    spec: &DatasetSpec,
    file: &FileSpec,
    opts: &FetchOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Fetched> {
    fetch_one(&agent(opts), spec, file, opts, progress).map_err(|f| f.error)
}

fn agent(opts: &FetchOptions) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(opts.connect_timeout))
        .timeout_global(Some(opts.timeout))
        .http_status_as_error(false)
        .user_agent(concat!("parana/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// Whether a check is good enough to keep a file: it matches a known sum,
/// or there is no sum at all to match.
fn acceptable(file: &FileSpec, check: &FileCheck) -> bool {
    let sum_ok = match check.integrity {
        Integrity::Known(_) | Integrity::Content => true,
        Integrity::Unverified => !file.has_checksum(),
        Integrity::Mismatch { .. } => false,
    };
    sum_ok && check.data().is_some()
}

/// Why a check is not good enough, in one line.
fn rejection(file: &FileSpec, check: &FileCheck) -> String {
    let mut parts = Vec::new();
    if !matches!(check.integrity, Integrity::Known(_) | Integrity::Content) {
        let expected = match &check.integrity {
            Integrity::Mismatch { expected, .. } => expected.as_str(),
            _ => super::verify::expected_sha256(file, true),
        };
        parts.push(format!(
            "SHA-256 mismatch: got {}, expected {expected}",
            check.sha256
        ));
    }
    if let Some(Err(e)) = &check.parsed {
        parts.push(e.clone());
    }
    parts.join("; ")
}

fn fetch_one(
    agent: &ureq::Agent,
    spec: &DatasetSpec,
    file: &FileSpec,
    opts: &FetchOptions,
    progress: &mut dyn FnMut(Progress),
) -> std::result::Result<Fetched, Failure> {
    let fatal = |error| Failure {
        error,
        unreachable: false,
    };
    // Skip a file that is already there and valid.
    let existing = find_file(&opts.dir, file.name);
    if let Some(path) = &existing {
        let check = check_file(file, path, true).map_err(fatal)?;
        if acceptable(file, &check) {
            return Ok(Fetched::Present {
                path: path.clone(),
                check,
            });
        }
    }
    let url = spec.url(file, opts.base_url.as_deref());
    // A file is never larger than its uncompressed form (plus slack for a
    // gzip of incompressible data).
    let limit = file.raw_size + file.raw_size / 64 + (1 << 20);
    let mut attempt = 0;
    let bytes = loop {
        attempt += 1;
        match download(agent, &url, limit, file, progress) {
            Ok(b) => break b,
            Err(Attempt::Fatal(e)) => return Err(fatal(e)),
            Err(Attempt::Retry { msg, unreachable }) => {
                if attempt > opts.retries {
                    let hint = if unreachable {
                        " (offline? the server cannot be reached)"
                    } else {
                        ""
                    };
                    return Err(Failure {
                        error: Error::Other(format!(
                            "cannot download {url}: {msg}{hint}; gave up after {attempt} attempts"
                        )),
                        unreachable,
                    });
                }
                progress(Progress::Retry {
                    file: file.name,
                    attempt,
                    error: &msg,
                });
                std::thread::sleep(opts.backoff.saturating_mul(1 << (attempt - 1).min(8)));
            }
        }
    };
    let check = check_bytes(file, Path::new(&url), &bytes, true);
    if !acceptable(file, &check) {
        return Err(fatal(Error::file(&url, rejection(file, &check))));
    }
    let path = existing.unwrap_or_else(|| {
        let name = if super::idx::is_gzip(&bytes) {
            file.gz_name()
        } else {
            file.name.to_string()
        };
        opts.dir.join(name)
    });
    crate::io::write_atomic(&path, &bytes).map_err(fatal)?;
    let check = FileCheck {
        path: path.clone(),
        ..check
    };
    Ok(Fetched::Downloaded {
        path,
        check,
        attempts: attempt,
    })
}

enum Attempt {
    /// Worth trying again (network trouble, HTTP 5xx).
    Retry { msg: String, unreachable: bool },
    /// Trying again will not help (HTTP 404, too large).
    Fatal(Error),
}

/// A message for a failed request, and whether it failed before reaching
/// the server (no DNS, no route, refused, connect timeout).
fn describe(e: &ureq::Error) -> (String, bool) {
    match e {
        ureq::Error::HostNotFound => ("host not found".to_string(), true),
        ureq::Error::ConnectionFailed => ("connection failed".to_string(), true),
        ureq::Error::Timeout(t @ (ureq::Timeout::Resolve | ureq::Timeout::Connect)) => {
            (format!("timed out ({t})"), true)
        }
        ureq::Error::Timeout(t) => (format!("timed out ({t})"), false),
        // Before a response arrives, an I/O error is DNS or connecting.
        ureq::Error::Io(io) => (io.to_string(), true),
        other => (other.to_string(), false),
    }
}

fn download(
    agent: &ureq::Agent,
    url: &str,
    limit: u64,
    file: &FileSpec,
    progress: &mut dyn FnMut(Progress),
) -> std::result::Result<Vec<u8>, Attempt> {
    let mut resp = match agent.get(url).header("Accept-Encoding", "identity").call() {
        Ok(r) => r,
        Err(e @ (ureq::Error::BadUri(_) | ureq::Error::Http(_))) => {
            return Err(Attempt::Fatal(Error::input(format!("bad URL {url}: {e}"))));
        }
        Err(e) => {
            let (msg, unreachable) = describe(&e);
            return Err(Attempt::Retry { msg, unreachable });
        }
    };
    let status = resp.status();
    if !status.is_success() {
        let msg = format!(
            "HTTP {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )
        .trim_end()
        .to_string();
        return if status.is_server_error() || matches!(status.as_u16(), 408 | 429) {
            Err(Attempt::Retry {
                msg,
                unreachable: false,
            })
        } else {
            Err(Attempt::Fatal(Error::Other(format!(
                "cannot download {url}: {msg}"
            ))))
        };
    }
    let total = resp.body().content_length();
    if let Some(t) = total.filter(|&t| t > limit) {
        return Err(Attempt::Fatal(Error::Other(format!(
            "cannot download {url}: the server announces {t} bytes, more than {} can be ({limit})",
            file.name
        ))));
    }
    progress(Progress::Start {
        file: file.name,
        total,
    });
    let result = read_body(&mut resp, limit, total, progress);
    progress(Progress::Finish { file: file.name });
    result.map_err(|e| match ureq::Error::from(e) {
        ureq::Error::BodyExceedsLimit(_) => Attempt::Fatal(Error::Other(format!(
            "cannot download {url}: the response is larger than {} can be ({limit} bytes)",
            file.name
        ))),
        e => Attempt::Retry {
            msg: match e {
                ureq::Error::Io(io) => format!("download interrupted: {io}"),
                e => format!("download interrupted: {}", describe(&e).0),
            },
            unreachable: false,
        },
    })
}

fn read_body(
    resp: &mut ureq::http::Response<ureq::Body>,
    limit: u64,
    total: Option<u64>,
    progress: &mut dyn FnMut(Progress),
) -> std::io::Result<Vec<u8>> {
    let mut reader = resp.body_mut().with_config().limit(limit).reader();
    let mut buf = Vec::with_capacity(total.unwrap_or(0).min(limit) as usize);
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                progress(Progress::Advance(n as u64));
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if let Some(t) = total.filter(|&t| t != buf.len() as u64) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("got {} of {t} bytes", buf.len()),
        ));
    }
    Ok(buf)
}
