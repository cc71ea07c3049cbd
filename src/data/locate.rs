//! Where a dataset's files are on disk: the search path, in order, and the
//! first folder on it that holds all four files (each as `name` or
//! `name.gz`).
//!
//! Order for dataset NAME: `--data-dir DIR` (alone, when given), then
//! `$PARANA_DATA_DIR/NAME`, `./data/NAME`, `../shared/datasets/NAME`,
//! `$XDG_CACHE_HOME/parana/NAME` (default `~/.cache/parana/NAME`, where
//! `parana data fetch` puts files) and `/usr/share/datasets/NAME`.

use super::registry::DatasetSpec;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// One folder of the search path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchDir {
    /// The folder that would hold the four files.
    pub dir: PathBuf,
    /// Why it is searched, e.g. `$PARANA_DATA_DIR`.
    pub origin: &'static str,
}

/// The environment the search path depends on (so tests need not change
/// the process environment).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Env {
    /// `$PARANA_DATA_DIR`.
    pub parana_data_dir: Option<PathBuf>,
    /// `$XDG_CACHE_HOME`.
    pub xdg_cache_home: Option<PathBuf>,
    /// `$HOME`.
    pub home: Option<PathBuf>,
}

fn env_path(key: &str) -> Option<PathBuf> {
    std::env::var_os(key)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

impl Env {
    /// Read the variables from the process environment.
    pub fn from_process() -> Env {
        Env {
            parana_data_dir: env_path("PARANA_DATA_DIR"),
            xdg_cache_home: env_path("XDG_CACHE_HOME"),
            home: env_path("HOME"),
        }
    }

    /// `$XDG_CACHE_HOME/parana/NAME`, or `~/.cache/parana/NAME` (the XDG
    /// spec ignores a relative `$XDG_CACHE_HOME`).
    pub fn cache_dir(&self, name: &str) -> Option<PathBuf> {
        let base = match &self.xdg_cache_home {
            Some(x) if x.is_absolute() => x.clone(),
            _ => self.home.as_ref()?.join(".cache"),
        };
        Some(base.join("parana").join(name))
    }
}

/// Where `parana data fetch NAME` puts files by default.
pub fn cache_dir(name: &str) -> Option<PathBuf> {
    Env::from_process().cache_dir(name)
}

/// The folders searched for dataset `name`, in order, using the process
/// environment. With `data_dir`, only that folder.
pub fn search_path(name: &str, data_dir: Option<&Path>) -> Vec<SearchDir> {
    search_path_in(name, data_dir, &Env::from_process())
}

/// [`search_path`] for a given environment.
pub fn search_path_in(name: &str, data_dir: Option<&Path>, env: &Env) -> Vec<SearchDir> {
    if let Some(d) = data_dir {
        return vec![SearchDir {
            dir: d.to_path_buf(),
            origin: "--data-dir",
        }];
    }
    let mut v = Vec::new();
    if let Some(p) = &env.parana_data_dir {
        v.push(SearchDir {
            dir: p.join(name),
            origin: "$PARANA_DATA_DIR",
        });
    }
    v.push(SearchDir {
        dir: Path::new(".").join("data").join(name),
        origin: "./data",
    });
    v.push(SearchDir {
        dir: Path::new("..").join("shared").join("datasets").join(name),
        origin: "../shared/datasets",
    });
    if let Some(c) = env.cache_dir(name) {
        v.push(SearchDir {
            dir: c,
            origin: "cache",
        });
    }
    v.push(SearchDir {
        dir: Path::new("/usr/share/datasets").join(name),
        origin: "system",
    });
    v
}

/// The path of file `name` in `dir`: `name.gz` if present, else `name`.
pub fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Some(gz);
    }
    let raw = dir.join(name);
    raw.is_file().then_some(raw)
}

/// A folder holding all four files of a dataset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The folder.
    pub dir: PathBuf,
    /// Train images, train labels, test images, test labels.
    pub files: [PathBuf; 4],
}

/// The four files of `spec` in `dir`, or the names of the missing ones.
pub fn files_in(spec: &DatasetSpec, dir: &Path) -> std::result::Result<Found, Vec<&'static str>> {
    let found: Vec<Option<PathBuf>> = spec.files.iter().map(|f| find_file(dir, f.name)).collect();
    let missing: Vec<&'static str> = spec
        .files
        .iter()
        .zip(&found)
        .filter(|(_, p)| p.is_none())
        .map(|(f, _)| f.name)
        .collect();
    match <[Option<PathBuf>; 4]>::try_from(found) {
        Ok([Some(a), Some(b), Some(c), Some(d)]) => Ok(Found {
            dir: dir.to_path_buf(),
            files: [a, b, c, d],
        }),
        _ => Err(missing),
    }
}

/// Find dataset `spec`: in `data_dir` alone if given, else on the search
/// path. The error says where it looked.
pub fn locate(spec: &DatasetSpec, data_dir: Option<&Path>) -> Result<Found> {
    locate_in(spec, data_dir, &search_path(spec.name, data_dir))
}

/// [`locate`] over a given search path.
pub fn locate_in(spec: &DatasetSpec, data_dir: Option<&Path>, dirs: &[SearchDir]) -> Result<Found> {
    let mut looked = Vec::new();
    for d in dirs {
        match files_in(spec, &d.dir) {
            Ok(found) => return Ok(found),
            Err(missing) => looked.push((d, missing)),
        }
    }
    if let (Some(dir), [(_, missing)]) = (data_dir, looked.as_slice()) {
        let what = if dir.is_dir() {
            format!("missing {}[.gz]", missing.join("[.gz], "))
        } else {
            "no such folder".to_string()
        };
        return Err(Error::file(
            dir,
            format!("does not hold dataset {}: {what}", spec.name),
        ));
    }
    let list: Vec<String> = looked
        .iter()
        .map(|(d, missing)| {
            if !d.dir.is_dir() {
                d.dir.display().to_string()
            } else {
                format!("{} (has {} of 4 files)", d.dir.display(), 4 - missing.len())
            }
        })
        .collect();
    Err(Error::input(format!(
        "dataset {} not found; looked in {}; run `parana data fetch {}` to download it, or pass --data-dir",
        spec.name,
        list.join(", "),
        spec.name
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_cache_defaults() {
        let env = Env {
            parana_data_dir: Some("/p".into()),
            xdg_cache_home: None,
            home: Some("/h".into()),
        };
        let v: Vec<PathBuf> = search_path_in("mnist", None, &env)
            .into_iter()
            .map(|d| d.dir)
            .collect();
        let want: Vec<PathBuf> = [
            "/p/mnist",
            "./data/mnist",
            "../shared/datasets/mnist",
            "/h/.cache/parana/mnist",
            "/usr/share/datasets/mnist",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(v, want);
        let env2 = Env {
            xdg_cache_home: Some("/x".into()),
            ..env.clone()
        };
        assert_eq!(
            env2.cache_dir("kmnist"),
            Some(PathBuf::from("/x/parana/kmnist"))
        );
        let rel = Env {
            xdg_cache_home: Some("rel".into()),
            ..env
        };
        assert_eq!(
            rel.cache_dir("k"),
            Some(PathBuf::from("/h/.cache/parana/k"))
        );
        let only = search_path_in("mnist", Some(Path::new("/d")), &Env::default());
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].dir, PathBuf::from("/d"));
    }
}
