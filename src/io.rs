//! Crash-safe output: every file parana writes goes to a temporary file in
//! the same directory, is synced, and is then renamed over the target, so an
//! interrupted run never leaves a half-written file behind.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;

/// Write `bytes` to `path` atomically (temp file + fsync + rename).
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("results.csv");
/// parana::io::write_atomic(&p, b"ratio,clean\n").unwrap();
/// assert_eq!(std::fs::read(&p).unwrap(), b"ratio,clean\n");
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Write `rows` to `path` atomically as JSON Lines (one object a line).
pub fn write_jsonl<T: serde::Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    let mut jl = String::new();
    for r in rows {
        jl += &serde_json::to_string(r).map_err(|e| Error::Other(e.to_string()))?;
        jl.push('\n');
    }
    write_atomic(path, jl.as_bytes())
}

/// The rows of the JSON Lines file `path` (none if it does not exist);
/// a bad line is an error naming the file and the line.
pub fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(path, e)),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| Error::file(path, format!("line {}: bad row: {e}", i + 1)))
        })
        .collect()
}

/// Write to `path` atomically through a writer callback.
pub fn write_atomic_with(
    path: &Path,
    f: impl FnOnce(&mut std::io::BufWriter<&mut std::fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    // `.NAME.parana-tmp-XXXXXX`: whoever holds NAME's lock can tell a
    // temporary file a killed writer left (see `remove_stale_temps`).
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let prefix = format!(".{}{TMP_MARK}", name.unwrap_or_default());
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    {
        let mut w = std::io::BufWriter::new(tmp.as_file_mut());
        f(&mut w).map_err(|e| Error::io(path, e))?;
        w.flush().map_err(|e| Error::io(path, e))?;
    }
    // tempfile creates 0600 files; outputs are ordinary files (models,
    // datasets, reports) that others on the machine may read.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = tmp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Whether the folder `dir` holds nothing but parana's own lock file and
/// temporary files (left by a killed process): a folder a run may start in.
pub fn holds_only_parana_files(dir: &Path) -> Result<bool> {
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let name = e.map_err(|e| Error::io(dir, e))?.file_name();
        let name = name.to_string_lossy();
        if name != LOCK_NAME && !name.contains(TMP_MARK) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The lock file of a folder (see [`lock_dir`]).
const LOCK_NAME: &str = ".parana.lock";
/// In the name of every temporary file of an atomic write.
const TMP_MARK: &str = ".parana-tmp-";

/// Remove the temporary files a killed writer left in `dir` for the
/// target named `target` (for every target when `None`). Only the holder of
/// the lock of those targets may call it.
fn remove_stale_temps(dir: &Path, target: Option<&str>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = target.map(|t| format!(".{t}{TMP_MARK}"));
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let stale = match &prefix {
            Some(p) => name.starts_with(p.as_str()),
            None => name.contains(TMP_MARK),
        };
        if stale {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// An exclusive lock held while a process writes a folder (a sweep run, a
/// noise folder) or a file: a second process that wants the same one stops
/// with a clear error instead of corrupting it. The lock is `flock` on a
/// lock file, removed when the lock is dropped; the kernel releases the lock
/// of a killed process, so a stale lock file never blocks anyone.
pub struct Lock {
    path: std::path::PathBuf,
    // Closed (unlocking) after `drop` has removed the file.
    _file: std::fs::File,
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Lock the folder `dir` (creating it) for writing, and remove the
/// temporary files a killed writer left in it.
pub fn lock_dir(dir: &Path) -> Result<Lock> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let lock = lock_at(&dir.join(LOCK_NAME), dir)?;
    remove_stale_temps(dir, None);
    Ok(lock)
}

/// Whether a process holds the writer lock of the folder `dir` (taken by
/// [`lock_dir`]); probes with a shared non-blocking lock and lets it go.
pub fn is_locked(dir: &Path) -> Result<bool> {
    let lock = dir.join(LOCK_NAME);
    let file = match std::fs::File::open(&lock) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io(&lock, e)),
    };
    #[cfg(unix)]
    {
        use std::os::unix::io::AsRawFd;
        // SAFETY: flock on a descriptor we own; dropping `file` releases it.
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
        if r != 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::WouldBlock {
                return Ok(true);
            }
            return Err(Error::io(&lock, e));
        }
    }
    drop(file);
    Ok(false)
}

/// Wait for, then hold, an exclusive lock on the file `path` (created if
/// absent, never removed) for a short read-modify-write of a file several
/// processes update, such as `RUN/stages.json` under Slurm jobs; released
/// when the returned file is dropped.
pub fn lock_wait(path: &Path) -> Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::io::AsRawFd;
        loop {
            // SAFETY: flock on a descriptor we own; closing it unlocks.
            let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if r == 0 {
                break;
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(Error::io(path, e));
            }
        }
    }
    Ok(file)
}

/// Lock the output file `path` for writing (lock file `path.lock`), and
/// remove the temporary files a killed writer left for it and for the files
/// written beside it, `also` (a checkpoint, a log).
pub fn lock_file(path: &Path, also: &[&Path]) -> Result<Lock> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let lock = lock_at(Path::new(&name), path)?;
    for p in std::iter::once(path).chain(also.iter().copied()) {
        if let (Some(d), Some(n)) = (p.parent(), p.file_name()) {
            let d = if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            };
            remove_stale_temps(d, Some(&n.to_string_lossy()));
        }
    }
    Ok(lock)
}

fn lock_at(lock: &Path, what: &Path) -> Result<Lock> {
    #[cfg(unix)]
    use std::os::unix::{fs::MetadataExt, io::AsRawFd};
    loop {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(lock)
            .map_err(|e| Error::io(lock, e))?;
        #[cfg(unix)]
        {
            // SAFETY: flock on a descriptor we own.
            let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if r != 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::WouldBlock {
                    return Err(Error::file(
                        what,
                        "another parana process is writing this; wait for it to finish or \
                         write elsewhere",
                    ));
                }
                return Err(Error::io(lock, e));
            }
            // The previous holder may have removed the file between our open
            // and flock: hold the lock only on the file now at the path.
            let ours = file.metadata().map_err(|e| Error::io(lock, e))?.ino();
            if std::fs::metadata(lock).is_ok_and(|m| m.ino() == ours) {
                return Ok(Lock {
                    path: lock.to_path_buf(),
                    _file: file,
                });
            }
        }
        #[cfg(not(unix))]
        return Ok(Lock {
            path: lock.to_path_buf(),
            _file: file,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_folder_lock_is_seen_and_a_released_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!is_locked(dir.path()).unwrap(), "no lock file yet");
        let held = lock_dir(dir.path()).unwrap();
        assert!(is_locked(dir.path()).unwrap());
        drop(held);
        assert!(!is_locked(dir.path()).unwrap());
    }

    #[test]
    fn writes_and_replaces_without_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub").join("out.txt");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.txt")]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644);
        }
    }

    #[test]
    fn failed_writer_leaves_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.txt");
        write_atomic(&p, b"keep").unwrap();
        let r = write_atomic_with(&p, |_| Err(std::io::Error::other("boom")));
        assert!(r.is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"keep");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_second_lock_on_a_folder_fails_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let first = lock_dir(&run).unwrap();
        let e = lock_dir(&run).err().unwrap().to_string();
        assert!(
            e.contains("run") && e.contains("another parana process"),
            "{e}"
        );
        drop(first);
        assert!(!run.join(".parana.lock").exists(), "lock file removed");
        let again = lock_dir(&run).unwrap();
        let f = dir.path().join("m.safetensors");
        let lf = lock_file(&f, &[]).unwrap();
        assert!(lock_file(&f, &[]).is_err());
        drop((again, lf));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "only run/ left"
        );
    }
}
