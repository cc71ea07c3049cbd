//! MNIST-family datasets: IDX files (raw or gzip), the registry of known
//! datasets, where to find them on disk, and fetching them.
//!
//! STUB: being written (see the data helper's task).

use crate::error::Result;
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
    /// Load dataset `name`, from `data_dir` if given, else the search path.
    pub fn load(name: &str, data_dir: Option<&Path>, val: Option<usize>) -> Result<Dataset> {
        let _ = (name, data_dir, val);
        todo!()
    }
}
