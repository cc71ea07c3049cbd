//! IDX reader/writer: round trips (raw and gzip, fixed and random shapes)
//! and every kind of broken file, each error naming the file.

use parana::data::idx::{self, IdxImages, Kind};
use parana::data::{Dataset, verify};
use proptest::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn images(count: usize, rows: usize, cols: usize, seed: u8) -> IdxImages {
    let pixels = (0..count * rows * cols)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    IdxImages {
        count,
        rows,
        cols,
        pixels,
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn raw_images(count_in_header: u32, rows: u32, cols: u32, body: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [idx::IMAGES_MAGIC, count_in_header, rows, cols] {
        v.extend_from_slice(&x.to_be_bytes());
    }
    v.extend(std::iter::repeat_n(7u8, body));
    v
}

fn raw_labels(count_in_header: u32, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [idx::LABELS_MAGIC, count_in_header] {
        v.extend_from_slice(&x.to_be_bytes());
    }
    v.extend_from_slice(body);
    v
}

/// Write `bytes` to `dir/name` and read it as `kind`; the error text.
fn read_err(dir: &Path, name: &str, bytes: &[u8], kind: Kind) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    let e = idx::read_file(&p, kind).expect_err("corrupt file must not load");
    let msg = e.to_string();
    eprintln!("{msg}");
    assert!(msg.contains(name), "error does not name the file: {msg}");
    assert!(!msg.contains('\n'), "error is not one line: {msg}");
    assert_eq!(e.exit_code(), 2, "{msg}");
    // In memory the same bytes give the same verdict.
    let e2 = idx::parse(&p, bytes, kind).expect_err("parse must fail too");
    assert_eq!(e2.to_string(), msg);
    msg
}

#[test]
fn round_trip_raw_and_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let im = images(5, 3, 4, 1);
    let labels = vec![0u8, 9, 3, 3, 1];
    for gz in [false, true] {
        // Names deliberately do not say whether the file is compressed.
        let ip = dir.path().join(format!("im-{gz}"));
        let lp = dir.path().join(format!("lab-{gz}.gz"));
        idx::write_images(&ip, &im, gz).unwrap();
        idx::write_labels(&lp, &labels, gz).unwrap();
        let bytes = std::fs::read(&ip).unwrap();
        assert_eq!(idx::is_gzip(&bytes), gz);
        if !gz {
            assert_eq!(bytes.len(), 16 + 5 * 3 * 4);
            assert_eq!(&bytes[..4], &[0, 0, 8, 3]);
            assert_eq!(&bytes[4..8], &[0, 0, 0, 5]);
        }
        assert_eq!(idx::read_images(&ip).unwrap(), im);
        assert_eq!(idx::read_labels(&lp).unwrap(), labels);
        assert_eq!(idx::parse_images(&ip, &bytes).unwrap(), im);
    }
    // Only the two files per round, nothing left over by the atomic writer.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 4);
}

#[test]
fn writer_rejects_inconsistent_images() {
    let dir = tempfile::tempdir().unwrap();
    let mut im = images(2, 2, 2, 0);
    im.pixels.pop();
    assert!(idx::write_images(&dir.path().join("x"), &im, false).is_err());
    let zero = images(1, 0, 2, 0);
    assert!(idx::write_images(&dir.path().join("y"), &zero, true).is_err());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn round_trip_random_shapes(
        count in 0usize..12,
        rows in 1usize..9,
        cols in 1usize..9,
        seed: u8,
        gz: bool,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let im = images(count, rows, cols, seed);
        let labels: Vec<u8> = (0..count).map(|i| (i as u8 ^ seed) % 10).collect();
        let ip = dir.path().join("i");
        let lp = dir.path().join("l");
        idx::write_images(&ip, &im, gz).unwrap();
        idx::write_labels(&lp, &labels, gz).unwrap();
        prop_assert_eq!(idx::read_images(&ip).unwrap(), im);
        prop_assert_eq!(idx::read_labels(&lp).unwrap(), labels);
    }

    /// Any cut of a valid file is an error naming the file, never a panic.
    #[test]
    fn every_truncation_fails(cut_frac in 0.0f64..1.0, gz: bool) {
        let im = images(6, 5, 4, 3);
        let mut raw = idx::images_header(6, 5, 4);
        raw.extend_from_slice(&im.pixels);
        let bytes = if gz { gzip(&raw) } else { raw };
        let cut = (bytes.len() as f64 * cut_frac) as usize;
        let e = idx::parse(Path::new("cut.idx"), &bytes[..cut], Kind::Images).unwrap_err();
        prop_assert!(e.to_string().starts_with("cut.idx: "), "{}", e);
    }

    /// Flipping any byte never panics; in the header or the gzip stream it
    /// is caught.
    #[test]
    fn flipped_byte_never_panics(pos_frac in 0.0f64..1.0, gz: bool) {
        let im = images(6, 5, 4, 3);
        let mut raw = idx::images_header(6, 5, 4);
        raw.extend_from_slice(&im.pixels);
        let mut bytes = if gz { gzip(&raw) } else { raw };
        let pos = ((bytes.len() as f64 * pos_frac) as usize).min(bytes.len() - 1);
        bytes[pos] ^= 0x55;
        let r = idx::parse(Path::new("f.idx"), &bytes, Kind::Images);
        if !gz && pos < 16 {
            prop_assert!(r.is_err());
        }
        if let Err(e) = r {
            prop_assert!(e.to_string().starts_with("f.idx: "), "{}", e);
        }
    }
}

#[test]
fn truncated_raw_at_several_points() {
    let dir = tempfile::tempdir().unwrap();
    let mut full = idx::images_header(10, 28, 28);
    full.extend(std::iter::repeat_n(1u8, 10 * 784));
    for cut in [0, 2, 3, 8, 15, 16, 17, 16 + 784 * 5, full.len() - 1] {
        let msg = read_err(
            dir.path(),
            "t10k-images-idx3-ubyte",
            &full[..cut],
            Kind::Images,
        );
        assert!(msg.contains("truncated"), "cut {cut}: {msg}");
    }
    // The message of the issue, for a cut inside the pixels.
    let msg = read_err(
        dir.path(),
        "t10k-images-idx3-ubyte",
        &full[..16 + 784 * 5],
        Kind::Images,
    );
    assert!(
        msg.ends_with(
            "t10k-images-idx3-ubyte: truncated: header says 10 images of 28x28 (7856 bytes) but the file holds 3936"
        ),
        "{msg}"
    );
    let mut labels = idx::labels_header(10);
    labels.extend_from_slice(&[1; 10]);
    for cut in [1, 5, 8, 9, 17] {
        let msg = read_err(dir.path(), "labels", &labels[..cut], Kind::Labels);
        assert!(msg.contains("truncated"), "cut {cut}: {msg}");
    }
}

#[test]
fn truncated_gzip_at_several_points() {
    let dir = tempfile::tempdir().unwrap();
    let mut full = idx::images_header(50, 28, 28);
    full.extend((0..50 * 784).map(|i| (i % 251) as u8));
    let gz = gzip(&full);
    for cut in [
        1,
        2,
        5,
        10,
        20,
        gz.len() / 3,
        gz.len() / 2,
        gz.len() - 8,
        gz.len() - 1,
    ] {
        let msg = read_err(dir.path(), "train-images.gz", &gz[..cut], Kind::Images);
        assert!(
            msg.contains("truncated") || msg.contains("corrupt or truncated gzip data"),
            "cut {cut}: {msg}"
        );
    }
    // A complete gzip of a cut IDX file: the header's size is not reached.
    let msg = read_err(
        dir.path(),
        "short.gz",
        &gzip(&full[..16 + 784 * 7]),
        Kind::Images,
    );
    assert!(
        msg.ends_with("truncated: header says 50 images of 28x28 (39216 bytes) but the decompressed data holds 5504"),
        "{msg}"
    );
}

#[test]
fn wrong_magic() {
    let dir = tempfile::tempdir().unwrap();
    let labels = raw_labels(3, &[1, 2, 3]);
    let msg = read_err(dir.path(), "labels-as-images", &labels, Kind::Images);
    assert!(
        msg.contains("magic number is 0x00000801 (that of a label file), expected 0x00000803"),
        "{msg}"
    );
    let mut swapped = raw_images(1, 2, 2, 4);
    swapped[..4].copy_from_slice(&idx::IMAGES_MAGIC.to_le_bytes());
    let msg = read_err(dir.path(), "swapped", &swapped, Kind::Images);
    assert!(msg.contains("byte-swapped"), "{msg}");
    let msg = read_err(dir.path(), "text.gz", b"hello, world!!!!!!!!", Kind::Labels);
    assert!(msg.contains("not an IDX label file"), "{msg}");
    // Same inside gzip.
    let msg = read_err(dir.path(), "z", &gzip(&labels), Kind::Images);
    assert!(msg.contains("magic"), "{msg}");
}

#[test]
fn zero_and_huge_dimensions() {
    let dir = tempfile::tempdir().unwrap();
    for (r, c) in [(0, 28), (28, 0), (0, 0)] {
        let msg = read_err(dir.path(), "zero", &raw_images(1, r, c, 0), Kind::Images);
        assert!(msg.contains("zero side"), "{msg}");
    }
    for (r, c) in [(5000, 28), (28, 1 << 20), (u32::MAX, u32::MAX)] {
        let msg = read_err(dir.path(), "huge", &raw_images(1, r, c, 784), Kind::Images);
        assert!(msg.contains("implausible"), "{msg}");
    }
}

#[test]
fn header_claiming_2_pow_31_images_fails_fast() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = raw_images(1 << 31, 28, 28, 784);
    let t = Instant::now();
    let msg = read_err(dir.path(), "liar", &tiny, Kind::Images);
    assert!(
        msg.contains("truncated: header says 2147483648 images of 28x28 (1683627180048 bytes) but the file holds 800"),
        "{msg}"
    );
    // Gzip: the size of the compressed file bounds what it can hold.
    let msg = read_err(dir.path(), "liar.gz", &gzip(&tiny), Kind::Images);
    assert!(msg.contains("cannot hold more than"), "{msg}");
    // Labels too, and a gzip whose claim is within the bound but false: the
    // buffer is sized from the compressed length, not the header.
    let lab = raw_labels(u32::MAX, &[1; 100]);
    let msg = read_err(dir.path(), "l.gz", &gzip(&lab), Kind::Labels);
    assert!(msg.contains("cannot hold"), "{msg}");
    let mut big = raw_labels(4_000_000, &[]);
    let mut x = 12345u32;
    big.extend((0..100_000).map(|_| {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (x >> 24) as u8
    }));
    let msg = read_err(dir.path(), "l2.gz", &gzip(&big), Kind::Labels);
    assert!(
        msg.contains("truncated: header says 4000000 labels (4000008 bytes) but the decompressed data holds 100008"),
        "{msg}"
    );
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}

#[test]
fn trailing_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let mut raw = raw_images(2, 2, 2, 8);
    raw.extend_from_slice(b"junk");
    let msg = read_err(dir.path(), "trail", &raw, Kind::Images);
    assert!(
        msg.ends_with(
            "trailing data: header says 2 images of 2x2 (24 bytes) but the file holds 28"
        ),
        "{msg}"
    );
    // Extra data inside the gzip stream.
    let msg = read_err(dir.path(), "trail-in.gz", &gzip(&raw), Kind::Images);
    assert!(
        msg.ends_with("trailing data: header says 2 images of 2x2 (24 bytes) but the decompressed data holds 28"),
        "{msg}"
    );
    // Garbage after the gzip stream.
    let mut gz = gzip(&raw_images(2, 2, 2, 8));
    gz.extend_from_slice(b"garbage after the stream");
    let msg = read_err(dir.path(), "trail-after.gz", &gz, Kind::Images);
    assert!(msg.contains("corrupt or truncated gzip data"), "{msg}");
    // A second gzip member with more data is trailing data too.
    let mut two = gzip(&raw_images(2, 2, 2, 8));
    two.extend_from_slice(&gzip(b"more"));
    let msg = read_err(dir.path(), "two.gz", &two, Kind::Images);
    assert!(msg.contains("trailing data"), "{msg}");
}

#[test]
fn corrupt_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let mut full = idx::images_header(20, 28, 28);
    full.extend((0..20 * 784).map(|i| (i % 7) as u8));
    let good = gzip(&full);
    // Damage the deflate data in the middle.
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 8] {
        *b ^= 0xa5;
    }
    let msg = read_err(dir.path(), "bad-deflate.gz", &bad, Kind::Images);
    assert!(
        msg.contains("corrupt or truncated gzip data")
            || msg.contains("truncated")
            || msg.contains("trailing"),
        "{msg}"
    );
    // Damage only the CRC in the trailer.
    let mut bad_crc = good.clone();
    let n = bad_crc.len();
    bad_crc[n - 8] ^= 1;
    let msg = read_err(dir.path(), "bad-crc.gz", &bad_crc, Kind::Images);
    assert!(msg.contains("corrupt or truncated gzip data"), "{msg}");
    // A gzip header and nothing else.
    let msg = read_err(dir.path(), "hdr.gz", &[0x1f, 0x8b], Kind::Labels);
    assert!(msg.contains("gzip") || msg.contains("truncated"), "{msg}");
}

/// A dataset folder of tiny files with mnist's names.
fn tiny_dataset(dir: &Path, train: (usize, usize), test: (usize, usize), bad: Option<u8>) {
    let tr = images(train.0, 4, 4, 1);
    let te = images(test.0, 4, 4, 2);
    let mut trl: Vec<u8> = (0..train.1).map(|i| (i % 10) as u8).collect();
    let tel: Vec<u8> = (0..test.1).map(|i| (i % 10) as u8).collect();
    if let Some(b) = bad {
        trl[2] = b;
    }
    idx::write_images(&dir.join("train-images-idx3-ubyte.gz"), &tr, true).unwrap();
    idx::write_labels(&dir.join("train-labels-idx1-ubyte"), &trl, false).unwrap();
    idx::write_images(&dir.join("t10k-images-idx3-ubyte"), &te, false).unwrap();
    idx::write_labels(&dir.join("t10k-labels-idx1-ubyte.gz"), &tel, true).unwrap();
}

fn load_err(dir: &Path) -> String {
    let e = Dataset::load("mnist", Some(dir), None).unwrap_err();
    assert_eq!(e.exit_code(), 2, "{e}");
    e.to_string()
}

#[test]
fn count_mismatch_between_images_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    tiny_dataset(dir.path(), (12, 11), (5, 5), None);
    let msg = load_err(dir.path());
    assert!(
        msg.contains("train-labels-idx1-ubyte: count mismatch: 11 labels but train-images-idx3-ubyte.gz holds 12 images"),
        "{msg}"
    );
}

#[test]
fn label_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    tiny_dataset(dir.path(), (12, 12), (5, 5), Some(10));
    let msg = load_err(dir.path());
    assert!(
        msg.contains("train-labels-idx1-ubyte: label 10 at index 2 is out of range"),
        "{msg}"
    );
}

#[test]
fn small_dataset_loads_with_validation_split() {
    let dir = tempfile::tempdir().unwrap();
    tiny_dataset(dir.path(), (12, 12), (5, 5), None);
    let full = Dataset::load("mnist", Some(dir.path()), None).unwrap();
    assert_eq!(
        (full.train.len(), full.test.len(), full.classes),
        (12, 5, 10)
    );
    assert!(full.val.is_none());
    let d = Dataset::load("mnist", Some(dir.path()), Some(3)).unwrap();
    let val = d.val.as_ref().unwrap();
    assert_eq!((d.train.len(), val.len()), (9, 3));
    assert_eq!(val.labels, full.train.labels[9..]);
    assert_eq!(val.images, full.train.images[9 * 16..]);
    assert_eq!(d.train.images, full.train.images[..9 * 16]);
    let mut out = vec![0f32; 32];
    d.train.gather_f32(&[0, 8], &mut out);
    assert_eq!(out[0], d.train.images[0] as f32 / 255.0);
    assert_eq!(out[16], d.train.images[8 * 16] as f32 / 255.0);
    for v in [12, 13] {
        let e = Dataset::load("mnist", Some(dir.path()), Some(v)).unwrap_err();
        assert!(e.to_string().contains("must be smaller"), "{e}");
    }
    assert!(
        Dataset::load("mnist", Some(dir.path()), Some(0))
            .unwrap()
            .val
            .is_none()
    );
}

#[test]
fn data_dir_missing_files_is_named() {
    let dir = tempfile::tempdir().unwrap();
    tiny_dataset(dir.path(), (3, 3), (2, 2), None);
    std::fs::remove_file(dir.path().join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let msg = load_err(dir.path());
    assert!(
        msg.contains("does not hold dataset mnist: missing t10k-labels-idx1-ubyte[.gz]"),
        "{msg}"
    );
    let none: PathBuf = dir.path().join("nope");
    let e = Dataset::load("mnist", Some(&none), None).unwrap_err();
    assert!(e.to_string().contains("no such folder"), "{e}");
    let e = Dataset::load("cifar", Some(dir.path()), None).unwrap_err();
    assert!(e.to_string().contains("unknown dataset"), "{e}");
}

#[test]
fn search_path_finds_first_complete_folder() {
    use parana::data::locate::{SearchDir, locate_in};
    use parana::data::registry::MNIST;
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    tiny_dataset(a.path(), (3, 3), (2, 2), None);
    std::fs::remove_file(a.path().join("train-labels-idx1-ubyte")).unwrap();
    tiny_dataset(b.path(), (3, 3), (2, 2), None);
    tiny_dataset(c.path(), (3, 3), (2, 2), None);
    let dirs: Vec<SearchDir> = [a.path(), b.path(), c.path()]
        .iter()
        .map(|d| SearchDir {
            dir: d.to_path_buf(),
            origin: "test",
        })
        .collect();
    let found = locate_in(&MNIST, None, &dirs).unwrap();
    assert_eq!(found.dir, b.path());
    assert_eq!(found.files[0], b.path().join("train-images-idx3-ubyte.gz"));
    assert_eq!(found.files[1], b.path().join("train-labels-idx1-ubyte"));
    let e = locate_in(&MNIST, None, &dirs[..1]).unwrap_err().to_string();
    assert!(e.contains("(has 3 of 4 files)"), "{e}");
    assert!(e.contains("parana data fetch mnist"), "{e}");
    assert!(!e.contains('\n'));
}

#[test]
fn checks_without_a_known_sum_say_so() {
    // A valid file that matches no known copy of mnist's file.
    let mut raw = idx::labels_header(3);
    raw.extend_from_slice(&[1, 2, 3]);
    let spec = &parana::data::registry::MNIST.files[3];
    let c = verify::check_bytes(spec, Path::new("x"), &raw, true);
    assert!(!c.is_ok());
    assert!(c.problem().contains("SHA-256 mismatch"), "{}", c.problem());
    // KMNIST publishes no content sum: a re-compressed copy is unverified.
    let kspec = &parana::data::registry::KMNIST.files[3];
    let c = verify::check_bytes(kspec, Path::new("y"), &gzip(&raw), false);
    assert_eq!(c.integrity, verify::Integrity::Unverified);
    assert!(c.is_ok());
}
