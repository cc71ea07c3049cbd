//! The real MNIST files in `../shared/datasets/mnist` (beside the checkout):
//! counts, class balance of the test set, validation split, checksums.

use parana::data::registry::MNIST;
use parana::data::verify::{self, Integrity};
use parana::data::{Dataset, idx};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

fn mnist_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/datasets/mnist"
    ))
}

#[test]
fn loads_mnist_with_validation_split() {
    let t = Instant::now();
    let d = Dataset::load("mnist", Some(&mnist_dir()), Some(5000)).unwrap();
    let took = t.elapsed();
    if !cfg!(debug_assertions) {
        assert!(took.as_secs_f64() < 1.0, "loading MNIST took {took:?}");
    }
    assert_eq!(d.name, "mnist");
    assert_eq!(d.classes, 10);
    assert_eq!((d.train.rows, d.train.cols), (28, 28));
    assert_eq!((d.test.rows, d.test.cols), (28, 28));
    let val = d.val.as_ref().unwrap();
    assert_eq!(d.train.len() + val.len(), 60_000);
    assert_eq!(
        (d.train.len(), val.len(), d.test.len()),
        (55_000, 5000, 10_000)
    );
    assert_eq!(d.train.images.len(), 55_000 * 784);
    assert_eq!(val.images.len(), 5000 * 784);
    assert_eq!(
        d.test.class_counts(10),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    // The validation images are the last 5000 of the training file.
    let labels = idx::read_labels(&mnist_dir().join("train-labels-idx1-ubyte.gz")).unwrap();
    assert_eq!(val.labels, labels[55_000..]);
    assert_eq!(d.train.labels, labels[..55_000]);
    // Pixels are u8 and cover the full range; f32 gathering scales to [0, 1].
    assert_eq!(d.test.images.iter().copied().max(), Some(255));
    let mut out = vec![0f32; 784];
    d.test.gather_f32(&[0], &mut out);
    assert!(out.iter().all(|&x| (0.0..=1.0).contains(&x)));
    assert!(out.contains(&1.0));
}

#[test]
fn mnist_checksums_verify() {
    let dir = mnist_dir();
    for f in &MNIST.files {
        let path = dir.join(f.gz_name());
        let c = verify::check_file(f, &path, false).unwrap();
        assert!(
            matches!(c.integrity, Integrity::Known(_)),
            "{}: {:?}",
            f.name,
            c.integrity
        );
        assert!(c.size_ok, "{}", f.name);
        assert_eq!(c.sha256, verify::sha256_hex(&std::fs::read(&path).unwrap()));
    }
}

#[test]
fn recompressed_and_raw_copies_verify_by_content() {
    let f = &MNIST.files[3]; // t10k labels: small
    let gz = std::fs::read(mnist_dir().join(f.gz_name())).unwrap();
    let data = idx::parse(&mnist_dir(), &gz, f.role.kind()).unwrap();
    let mut raw = data.header();
    raw.extend_from_slice(data.body());
    assert_eq!(raw.len() as u64, f.raw_size);
    let c = verify::check_bytes(f, "raw".as_ref(), &raw, false);
    assert_eq!(c.integrity, Integrity::Content);
    assert!(c.size_ok);
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(&raw).unwrap();
    let regz = e.finish().unwrap();
    let c = verify::check_bytes(f, "regz".as_ref(), &regz, false);
    assert_eq!(c.integrity, Integrity::Content);
    // One changed label and the content sum no longer matches.
    let mut bad = raw.clone();
    bad[100] = (bad[100] + 1) % 10;
    let c = verify::check_bytes(f, "bad".as_ref(), &bad, true);
    assert!(matches!(c.integrity, Integrity::Mismatch { .. }));
    assert!(
        c.to_error()
            .unwrap()
            .to_string()
            .starts_with("bad: SHA-256 mismatch")
    );
}
