//! The datasets parana knows: for each, its four IDX files with their
//! published sizes and SHA-256 sums, its class names and where to download
//! it.
//!
//! A file can be verified two ways. Its bytes may match a known `.gz`
//! ([`GzCopy`]: the canonical download, or another known re-compression of
//! it), or, whatever the compression, its decompressed content may match
//! [`FileSpec::raw_sha256`] (the published sum of the uncompressed file).
//! Sums nobody has published with confidence are left out (`None`, or no
//! [`GzCopy`]), and such files are reported as unverified, never guessed.

use crate::error::{Error, Result};

/// One known `.gz` copy of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GzCopy {
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the `.gz` file, lowercase hex.
    pub sha256: &'static str,
    /// Where this copy comes from (shown to the user).
    pub source: &'static str,
}

/// The role of a file in a dataset, in the order of [`DatasetSpec::files`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Training images.
    TrainImages,
    /// Training labels.
    TrainLabels,
    /// Test images.
    TestImages,
    /// Test labels.
    TestLabels,
}

impl Role {
    /// Whether the file holds images (else labels).
    pub fn is_images(self) -> bool {
        matches!(self, Role::TrainImages | Role::TestImages)
    }
    /// The IDX kind of the file.
    pub fn kind(self) -> super::idx::Kind {
        if self.is_images() {
            super::idx::Kind::Images
        } else {
            super::idx::Kind::Labels
        }
    }
}

/// One of the four files of a dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileSpec {
    /// What the file holds.
    pub role: Role,
    /// File name without `.gz`, e.g. `train-images-idx3-ubyte`. On disk the
    /// file may be called this or this plus `.gz`.
    pub name: &'static str,
    /// Size of the uncompressed file in bytes.
    pub raw_size: u64,
    /// SHA-256 of the uncompressed file, if published.
    pub raw_sha256: Option<&'static str>,
    /// Known `.gz` copies; the first is the one at the dataset's base URL.
    pub gz: &'static [GzCopy],
}

impl FileSpec {
    /// The name of the compressed file, e.g. `train-images-idx3-ubyte.gz`.
    pub fn gz_name(&self) -> String {
        format!("{}.gz", self.name)
    }
    /// The canonical download, if its checksum is known.
    pub fn canonical(&self) -> Option<&'static GzCopy> {
        self.gz.first()
    }
    /// Whether any checksum (of a `.gz` or of the content) is known.
    pub fn has_checksum(&self) -> bool {
        self.raw_sha256.is_some() || !self.gz.is_empty()
    }
    /// Whether `size` is the size of a known copy (compressed or raw).
    pub fn size_known(&self, size: u64) -> bool {
        size == self.raw_size || self.gz.iter().any(|g| g.size == size)
    }
    /// The known `.gz` copy with this SHA-256.
    pub fn gz_with_sha(&self, sha256: &str) -> Option<&'static GzCopy> {
        self.gz.iter().find(|g| g.sha256 == sha256)
    }
}

/// A dataset of the MNIST family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DatasetSpec {
    /// Registry name, e.g. `fashion-mnist`.
    pub name: &'static str,
    /// Human name.
    pub title: &'static str,
    /// Canonical download folder (ends with `/`).
    pub base_url: &'static str,
    /// Class names, index = label.
    pub classes: &'static [&'static str],
    /// Train images, train labels, test images, test labels.
    pub files: [FileSpec; 4],
    /// Number of training images in the published files.
    pub train_len: usize,
    /// Number of test images in the published files.
    pub test_len: usize,
}

impl DatasetSpec {
    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.classes.len()
    }
    /// The spec of the file with `role`.
    pub fn file(&self, role: Role) -> &FileSpec {
        match role {
            Role::TrainImages => &self.files[0],
            Role::TrainLabels => &self.files[1],
            Role::TestImages => &self.files[2],
            Role::TestLabels => &self.files[3],
        }
    }
    /// Download URL of `file`, under `base_url` if given, else the
    /// registry's.
    pub fn url(&self, file: &FileSpec, base_url: Option<&str>) -> String {
        let base = base_url.unwrap_or(self.base_url);
        let sep = if base.ends_with('/') { "" } else { "/" };
        format!("{base}{sep}{}", file.gz_name())
    }
}

const fn file(
    role: Role,
    name: &'static str,
    raw_size: u64,
    raw_sha256: Option<&'static str>,
    gz: &'static [GzCopy],
) -> FileSpec {
    FileSpec {
        role,
        name,
        raw_size,
        raw_sha256,
        gz,
    }
}

const fn gz(size: u64, sha256: &'static str, source: &'static str) -> GzCopy {
    GzCopy {
        size,
        sha256,
        source,
    }
}

const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";
const TRAIN_IMAGES_SIZE: u64 = 16 + 60_000 * 784;
const TRAIN_LABELS_SIZE: u64 = 8 + 60_000;
const TEST_IMAGES_SIZE: u64 = 16 + 10_000 * 784;
const TEST_LABELS_SIZE: u64 = 8 + 10_000;

const MNIST_MIRROR: &str = "original LeCun file, ossci mirror";
const MNIST_SHARED: &str = "re-compressed copy in shared/datasets/mnist";
const FASHION_S3: &str = "original, Zalando S3";
const FASHION_DEBIAN: &str = "Debian package dataset-fashion-mnist";
const KMNIST_CODH: &str = "original, CODH";

/// MNIST. The `.gz` at the mirror are LeCun's originals; the copy in
/// `shared/datasets/mnist` is a re-compression of the same content (its sums
/// are from its SHA256SUMS), so both are listed.
pub const MNIST: DatasetSpec = DatasetSpec {
    name: "mnist",
    title: "MNIST handwritten digits",
    base_url: "https://ossci-datasets.s3.amazonaws.com/mnist/",
    classes: &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
    files: [
        file(
            Role::TrainImages,
            TRAIN_IMAGES,
            TRAIN_IMAGES_SIZE,
            Some("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
            &[
                gz(
                    9_912_422,
                    "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                    MNIST_MIRROR,
                ),
                gz(
                    9_719_462,
                    "9e3972a30d518e07545810282d10765ddde74e6b421bcb31eb31bd330bbcfdb9",
                    MNIST_SHARED,
                ),
            ],
        ),
        file(
            Role::TrainLabels,
            TRAIN_LABELS,
            TRAIN_LABELS_SIZE,
            Some("65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
            &[
                gz(
                    28_881,
                    "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                    MNIST_MIRROR,
                ),
                gz(
                    28_881,
                    "1fe43afe2dcaca7677a837da1412aef26a99622aa79222cb998f5b5a893161cc",
                    MNIST_SHARED,
                ),
            ],
        ),
        file(
            Role::TestImages,
            TEST_IMAGES,
            TEST_IMAGES_SIZE,
            Some("0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
            &[
                gz(
                    1_648_877,
                    "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                    MNIST_MIRROR,
                ),
                gz(
                    1_616_531,
                    "b851314cd3a52b1ba333fcb79bbf4611391e60dd2183e5d532e2241b2876a5cc",
                    MNIST_SHARED,
                ),
            ],
        ),
        file(
            Role::TestLabels,
            TEST_LABELS,
            TEST_LABELS_SIZE,
            Some("ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
            &[
                gz(
                    4_542,
                    "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                    MNIST_MIRROR,
                ),
                gz(
                    4_540,
                    "bde6ca639d305c62cf8b40944df2c06da2575b5c85a67c756052fc4ffad74ef1",
                    MNIST_SHARED,
                ),
            ],
        ),
    ],
    train_len: 60_000,
    test_len: 10_000,
};

/// Fashion-MNIST (Zalando). Debian's `dataset-fashion-mnist` ships the same
/// gzip streams with the embedded file name stripped, hence other sums.
pub const FASHION_MNIST: DatasetSpec = DatasetSpec {
    name: "fashion-mnist",
    title: "Fashion-MNIST (Zalando article images)",
    base_url: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    classes: &[
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
    files: [
        file(
            Role::TrainImages,
            TRAIN_IMAGES,
            TRAIN_IMAGES_SIZE,
            Some("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
            &[
                gz(
                    26_421_880,
                    "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                    FASHION_S3,
                ),
                gz(
                    26_421_856,
                    "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
                    FASHION_DEBIAN,
                ),
            ],
        ),
        file(
            Role::TrainLabels,
            TRAIN_LABELS,
            TRAIN_LABELS_SIZE,
            Some("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
            &[
                gz(
                    29_515,
                    "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                    FASHION_S3,
                ),
                gz(
                    29_491,
                    "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
                    FASHION_DEBIAN,
                ),
            ],
        ),
        file(
            Role::TestImages,
            TEST_IMAGES,
            TEST_IMAGES_SIZE,
            Some("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
            &[
                gz(
                    4_422_102,
                    "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                    FASHION_S3,
                ),
                gz(
                    4_422_079,
                    "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
                    FASHION_DEBIAN,
                ),
            ],
        ),
        file(
            Role::TestLabels,
            TEST_LABELS,
            TEST_LABELS_SIZE,
            Some("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
            &[
                gz(
                    5_148,
                    "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                    FASHION_S3,
                ),
                gz(
                    5_125,
                    "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
                    FASHION_DEBIAN,
                ),
            ],
        ),
    ],
    train_len: 60_000,
    test_len: 10_000,
};

/// Kuzushiji-MNIST (CODH). Only the `.gz` sums are published; the sums of
/// the uncompressed files are not known, so a re-compressed copy cannot be
/// verified.
pub const KMNIST: DatasetSpec = DatasetSpec {
    name: "kmnist",
    title: "Kuzushiji-MNIST (cursive Japanese hiragana)",
    base_url: "http://codh.rois.ac.jp/kmnist/dataset/kmnist/",
    classes: &["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"],
    files: [
        file(
            Role::TrainImages,
            TRAIN_IMAGES,
            TRAIN_IMAGES_SIZE,
            None,
            &[gz(
                18_165_135,
                "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
                KMNIST_CODH,
            )],
        ),
        file(
            Role::TrainLabels,
            TRAIN_LABELS,
            TRAIN_LABELS_SIZE,
            None,
            &[gz(
                29_497,
                "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",
                KMNIST_CODH,
            )],
        ),
        file(
            Role::TestImages,
            TEST_IMAGES,
            TEST_IMAGES_SIZE,
            None,
            &[gz(
                3_041_136,
                "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",
                KMNIST_CODH,
            )],
        ),
        file(
            Role::TestLabels,
            TEST_LABELS,
            TEST_LABELS_SIZE,
            None,
            &[gz(
                5_120,
                "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c",
                KMNIST_CODH,
            )],
        ),
    ],
    train_len: 60_000,
    test_len: 10_000,
};

/// Every known dataset.
pub const DATASETS: &[DatasetSpec] = &[MNIST, FASHION_MNIST, KMNIST];

/// All known datasets.
pub fn all() -> &'static [DatasetSpec] {
    DATASETS
}

/// The dataset called `name`, if known.
pub fn find(name: &str) -> Option<&'static DatasetSpec> {
    DATASETS.iter().find(|d| d.name == name)
}

/// The dataset called `name`, or an error listing the known names.
pub fn get(name: &str) -> Result<&'static DatasetSpec> {
    find(name).ok_or_else(|| {
        let known: Vec<&str> = DATASETS.iter().map(|d| d.name).collect();
        Error::input(format!(
            "unknown dataset {name:?}; known datasets: {}",
            known.join(", ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_consistent() {
        for d in all() {
            assert_eq!(d.num_classes(), 10, "{}", d.name);
            assert!(d.base_url.ends_with('/'));
            let roles = [
                Role::TrainImages,
                Role::TrainLabels,
                Role::TestImages,
                Role::TestLabels,
            ];
            for (f, r) in d.files.iter().zip(roles) {
                assert_eq!(f.role, r);
                assert_eq!(d.file(r).name, f.name);
                for g in f.gz {
                    assert_eq!(g.sha256.len(), 64);
                    assert!(g.sha256.bytes().all(|b| b.is_ascii_hexdigit()));
                    assert!(g.size < f.raw_size);
                }
                if let Some(s) = f.raw_sha256 {
                    assert_eq!(s.len(), 64);
                }
            }
        }
        assert!(get("nope").unwrap_err().to_string().contains("mnist"));
        assert_eq!(
            MNIST.url(&MNIST.files[0], Some("http://h/x")),
            "http://h/x/train-images-idx3-ubyte.gz"
        );
    }
}
