//! `parana data list|verify|fetch`: show where the known datasets are and
//! whether they verify, check one in depth, or download one.

use super::Global;
use crate::data::fetch::{FetchOptions, Fetched, Progress, fetch};
use crate::data::locate::{self, Env};
use crate::data::registry::{self, DatasetSpec};
use crate::data::verify::{FileCheck, Integrity, check_file};
use crate::data::{self, idx::IdxData};
use crate::error::{Error, Result};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};

/// `parana data …`
#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// List known datasets, where each is found and whether it verifies.
    List,
    /// Check a dataset's four files: SHA-256 and a full parse.
    Verify(VerifyArgs),
    /// Download a dataset's four files (skipping those present and valid).
    Fetch(FetchArgs),
}

/// `parana data verify`
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Dataset name (see `parana data list`).
    name: String,
    /// Folder holding the four files (default: search the usual places).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

/// `parana data fetch`
#[derive(Args, Debug)]
pub struct FetchArgs {
    /// Dataset name (see `parana data list`).
    name: String,
    /// Destination folder (default: $XDG_CACHE_HOME/parana/NAME, i.e.
    /// ~/.cache/parana/NAME).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Download from this folder URL instead of the registry's.
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
}

pub(super) fn run(cmd: DataCommand, g: Global) -> Result<()> {
    match cmd {
        DataCommand::List => list(),
        DataCommand::Verify(a) => verify(&a),
        DataCommand::Fetch(a) => fetch_cmd(&a, g),
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// The search order, with NAME as a placeholder.
fn search_order() -> String {
    let env = Env::from_process();
    let mut parts: Vec<String> = Vec::new();
    if env.parana_data_dir.is_none() {
        parts.push("$PARANA_DATA_DIR/NAME (unset)".into());
    }
    for d in locate::search_path_in("NAME", None, &env) {
        parts.push(d.dir.display().to_string());
    }
    parts.join(", ")
}

fn list() -> Result<()> {
    let specs = registry::all();
    let width = specs.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for spec in specs {
        let status = match locate::locate(spec, None) {
            Err(_) => "not found".to_string(),
            Ok(found) => format!("{}: {}", found.dir.display(), list_status(spec, &found)),
        };
        println!("{:width$}  {status}", spec.name);
    }
    println!();
    println!("searched in order: {}", search_order());
    println!(
        "download a dataset with `parana data fetch NAME`; check one with `parana data verify NAME`"
    );
    Ok(())
}

/// "verified, sizes ok", or what is wrong, for a dataset's files.
fn list_status(spec: &DatasetSpec, found: &locate::Found) -> String {
    let mut bad = Vec::new();
    let mut unverified = Vec::new();
    let mut odd_size = Vec::new();
    for (file, path) in spec.files.iter().zip(&found.files) {
        match check_file(file, path, false) {
            Err(e) => bad.push(format!("{} unreadable ({e})", file_name(path))),
            Ok(c) => {
                if !c.is_ok() {
                    bad.push(format!("{} {}", file_name(path), c.problem()));
                } else if c.integrity == Integrity::Unverified {
                    unverified.push(file_name(path));
                }
                if !c.size_ok {
                    odd_size.push(format!("{} ({} bytes)", file_name(path), c.size));
                }
            }
        }
    }
    let mut parts = Vec::new();
    if bad.is_empty() && unverified.is_empty() {
        parts.push("verified".to_string());
    }
    if !bad.is_empty() {
        parts.push(format!("FAILED: {}", bad.join("; ")));
    }
    if !unverified.is_empty() {
        parts.push(format!(
            "unverified (no known checksum): {}",
            unverified.join(", ")
        ));
    }
    if odd_size.is_empty() {
        parts.push("sizes ok".into());
    } else {
        parts.push(format!("unexpected size: {}", odd_size.join(", ")));
    }
    parts.join(", ")
}

fn describe_check(c: &FileCheck) -> String {
    let what = c.data().map(|d| d.to_string()).unwrap_or_default();
    format!("{what}, {} bytes, {}", c.size, c.integrity.describe())
}

fn verify(a: &VerifyArgs) -> Result<()> {
    let spec = registry::get(&a.name)?;
    let found = locate::locate(spec, a.data_dir.as_deref())?;
    println!("{} in {}", spec.name, found.dir.display());
    let mut first_error: Option<Error> = None;
    let mut checks = Vec::new();
    for (file, path) in spec.files.iter().zip(&found.files) {
        let c = check_file(file, path, true)?;
        if c.is_ok() {
            println!("OK    {}: {}", file_name(path), describe_check(&c));
        } else {
            println!("FAIL  {}: {}", file_name(path), c.problem());
            first_error = first_error.or_else(|| c.to_error());
        }
        checks.push(c);
    }
    // Agreement between the files, when all four parsed.
    if let [
        Some(IdxData::Images(tri)),
        Some(IdxData::Labels(trl)),
        Some(IdxData::Images(tei)),
        Some(IdxData::Labels(tel)),
    ] = [0, 1, 2, 3].map(|i| checks[i].data())
    {
        let k = spec.num_classes();
        let [p0, p1, p2, p3] = &found.files;
        let agree = data::check_labels(p0, tri.count, p1, trl, k)
            .and_then(|_| data::check_labels(p2, tei.count, p3, tel, k))
            .and_then(|_| {
                if (tri.rows, tri.cols) == (tei.rows, tei.cols) {
                    Ok(())
                } else {
                    Err(Error::file(
                        p2,
                        format!(
                            "images are {}x{} but the training images are {}x{}",
                            tei.rows, tei.cols, tri.rows, tri.cols
                        ),
                    ))
                }
            });
        match agree {
            Ok(()) => println!(
                "OK    images and labels agree: {} train, {} test, labels < {k}",
                tri.count, tei.count
            ),
            Err(e) => {
                println!("FAIL  {e}");
                first_error = first_error.or(Some(e));
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn fetch_cmd(a: &FetchArgs, g: Global) -> Result<()> {
    let spec = registry::get(&a.name)?;
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => locate::cache_dir(spec.name).ok_or_else(|| {
            Error::input("cannot tell where the cache is ($HOME is not set): pass --dir")
        })?,
    };
    let mut opts = FetchOptions::new(&dir);
    opts.base_url = a.base_url.clone();
    let mut bar: Option<indicatif::ProgressBar> = None;
    let mut on_progress = |p: Progress| match p {
        Progress::Start { file, total } => {
            let b = super::progress(
                total.unwrap_or(0),
                g.quiet,
                "{msg:26} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
            );
            b.set_message(file.to_string());
            bar = Some(b);
        }
        Progress::Advance(n) => {
            if let Some(b) = &bar {
                b.inc(n);
            }
        }
        Progress::Retry {
            file,
            attempt,
            error,
        } => eprintln!("warning: {file}: attempt {attempt} failed ({error}); retrying"),
        Progress::Finish { .. } => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
        }
    };
    let results = fetch(spec, &opts, &mut on_progress);
    let mut first_error = None;
    for (name, r) in results {
        match r {
            Ok(Fetched::Present { path, check }) => println!(
                "OK    {}: already present, {}",
                file_name(&path),
                check.integrity.describe()
            ),
            Ok(Fetched::Downloaded { path, check, .. }) => println!(
                "OK    {}: downloaded, {}",
                file_name(&path),
                describe_check(&check)
            ),
            Err(e) => {
                println!("FAIL  {name}: {e}");
                first_error = first_error.or(Some(e));
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    println!("{} is in {}", spec.name, dir.display());
    let on_path = locate::search_path(spec.name, None)
        .iter()
        .any(|d| d.dir == dir);
    if !on_path {
        println!(
            "(not on the search path: pass --data-dir {} to use it)",
            dir.display()
        );
    }
    Ok(())
}
