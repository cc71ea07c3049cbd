//! MNIST-family datasets in memory: [`Split`] and [`Dataset`], and loading
//! a dataset by name (find its files, read them, check they agree, split
//! off a validation set).
//!
//! The parts live in their own modules: [`idx`] (the file format),
//! [`registry`] (known datasets and checksums), [`locate`] (where files
//! are), [`verify`] (checksums) and [`fetch`] (downloading).

pub mod fetch;
pub mod idx;
pub mod locate;
pub mod registry;
pub mod verify;

pub use registry::DatasetSpec;

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// One split (train, validation or test) of a dataset, kept as u8 pixels.
#[derive(Clone, Debug)]
pub struct Split {
    /// `len * rows * cols` pixels, row-major per image.
    pub images: Vec<u8>,
    /// One label per image, each `< classes`.
    pub labels: Vec<u8>,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
}

impl Split {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    /// Whether the split holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// Pixels per image.
    pub fn image_len(&self) -> usize {
        self.rows * self.cols
    }
    /// Write the images `idx` as f32 in [0, 1] into `out` (`idx.len() *
    /// image_len()` values).
    pub fn gather_f32(&self, idx: &[usize], out: &mut [f32]) {
        let n = self.image_len();
        for (k, &i) in idx.iter().enumerate() {
            let src = &self.images[i * n..(i + 1) * n];
            for (o, &p) in out[k * n..(k + 1) * n].iter_mut().zip(src) {
                *o = p as f32 * (1.0 / 255.0);
            }
        }
    }
    /// The pixels of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_len();
        &self.images[i * n..(i + 1) * n]
    }
    /// How many images each of `classes` classes has (labels beyond are
    /// not counted).
    pub fn class_counts(&self, classes: usize) -> Vec<usize> {
        let mut c = vec![0; classes];
        for &l in &self.labels {
            if let Some(x) = c.get_mut(l as usize) {
                *x += 1;
            }
        }
        c
    }
    /// Split off the images from `at` on into a new split (like
    /// `Vec::split_off`). Panics if `at > len()`.
    pub fn split_off(&mut self, at: usize) -> Split {
        Split {
            images: self.images.split_off(at * self.image_len()),
            labels: self.labels.split_off(at),
            rows: self.rows,
            cols: self.cols,
        }
    }
}

/// A loaded dataset.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Registry name, e.g. `mnist`.
    pub name: String,
    /// Folder it was loaded from.
    pub dir: PathBuf,
    /// Training images (without the validation images, if any were split off).
    pub train: Split,
    /// Validation images taken from the end of the training set, if asked.
    pub val: Option<Split>,
    /// Test images.
    pub test: Split,
    /// Number of classes.
    pub classes: usize,
}

impl Dataset {
    /// Load dataset `name`, from `data_dir` if given, else the search path
    /// (see [`locate`]). With `val: Some(n)` (n > 0), the last `n` training
    /// images become the validation split; `Some(0)` means none.
    pub fn load(name: &str, data_dir: Option<&Path>, val: Option<usize>) -> Result<Dataset> {
        let spec = registry::get(name)?;
        let found = locate::locate(spec, data_dir)?;
        Dataset::load_found(spec, &found, val)
    }

    /// Load `spec` from files already located.
    pub fn load_found(
        spec: &DatasetSpec,
        found: &locate::Found,
        val: Option<usize>,
    ) -> Result<Dataset> {
        let [tri, trl, tei, tel] = &found.files;
        // The two halves decode in parallel (gzip decoding dominates).
        let (train, test) = std::thread::scope(|s| {
            let test = s.spawn(|| load_split(tei, tel, spec.num_classes()));
            let train = load_split(tri, trl, spec.num_classes());
            let test = test
                .join()
                .unwrap_or_else(|_| Err(Error::Other("test-set loader panicked".into())));
            (train, test)
        });
        let (mut train, test) = (train?, test?);
        if (test.rows, test.cols) != (train.rows, train.cols) {
            return Err(Error::file(
                tei,
                format!(
                    "images are {}x{} but the training images ({}) are {}x{}",
                    test.rows,
                    test.cols,
                    file_name(tri),
                    train.rows,
                    train.cols
                ),
            ));
        }
        let val = match val {
            None | Some(0) => None,
            Some(v) if v >= train.len() => {
                return Err(Error::input(format!(
                    "validation size {v} must be smaller than the training set ({} images in {})",
                    train.len(),
                    tri.display()
                )));
            }
            Some(v) => Some(train.split_off(train.len() - v)),
        };
        Ok(Dataset {
            name: spec.name.to_string(),
            dir: found.dir.clone(),
            train,
            val,
            test,
            classes: spec.num_classes(),
        })
    }

    /// The registry entry of this dataset.
    pub fn spec(&self) -> Option<&'static DatasetSpec> {
        registry::find(&self.name)
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// Check that labels agree with images: same count, each `< classes`.
pub fn check_labels(
    images_path: &Path,
    images: usize,
    labels_path: &Path,
    labels: &[u8],
    classes: usize,
) -> Result<()> {
    if labels.len() != images {
        return Err(Error::file(
            labels_path,
            format!(
                "count mismatch: {} labels but {} holds {images} images",
                labels.len(),
                file_name(images_path)
            ),
        ));
    }
    if let Some((i, &l)) = labels
        .iter()
        .enumerate()
        .find(|&(_, &l)| l as usize >= classes)
    {
        return Err(Error::file(
            labels_path,
            format!(
                "label {l} at index {i} is out of range: the dataset has {classes} classes (0-{})",
                classes.saturating_sub(1)
            ),
        ));
    }
    Ok(())
}

fn load_split(images_path: &Path, labels_path: &Path, classes: usize) -> Result<Split> {
    let im = idx::read_images(images_path)?;
    let labels = idx::read_labels(labels_path)?;
    check_labels(images_path, im.count, labels_path, &labels, classes)?;
    Ok(Split {
        images: im.pixels,
        labels,
        rows: im.rows,
        cols: im.cols,
    })
}
