//! IDX files, the format of MNIST and its relatives: reading image and label
//! files (raw or gzip, told apart by their first bytes), with every header
//! field checked against the file's real length before anything is
//! allocated, and writing them back (raw or gzip, atomically).
//!
//! Layout: a big-endian magic (`0x00000803` images, `0x00000801` labels),
//! then one big-endian u32 per dimension (count, and rows and columns for
//! images), then the u8 data.

use crate::error::{Error, Result};
use crate::io::write_atomic_with;
use flate2::bufread::MultiGzDecoder;
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

/// Magic number of an IDX image file (u8 data, 3 dimensions).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX label file (u8 data, 1 dimension).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Largest image side parana accepts.
pub const MAX_DIM: usize = 4096;
/// The most DEFLATE can expand data (a 258-byte match coded in 2 bits is
/// 1032:1), used to reject headers a gzip file of a given size cannot back.
const MAX_DEFLATE_RATIO: u64 = 1032;
/// Gzip header/trailer bytes that carry no data (allowance for the bound).
const GZIP_SLACK: u64 = 1024;

/// Which of the two IDX file kinds MNIST uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `…-images-idx3-ubyte`: count x rows x cols pixels.
    Images,
    /// `…-labels-idx1-ubyte`: one byte per image.
    Labels,
}

impl Kind {
    /// The magic number of this kind.
    pub fn magic(self) -> u32 {
        match self {
            Kind::Images => IMAGES_MAGIC,
            Kind::Labels => LABELS_MAGIC,
        }
    }
    /// Length of the header in bytes.
    pub fn header_len(self) -> usize {
        match self {
            Kind::Images => 16,
            Kind::Labels => 8,
        }
    }
    fn noun(self) -> &'static str {
        match self {
            Kind::Images => "image",
            Kind::Labels => "label",
        }
    }
}

/// The images of one IDX image file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
    /// `count * rows * cols` pixels, row-major per image.
    pub pixels: Vec<u8>,
}

/// The contents of an IDX file of either kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdxData {
    /// An image file.
    Images(IdxImages),
    /// A label file.
    Labels(Vec<u8>),
}

impl IdxData {
    /// The header bytes that describe this data.
    pub fn header(&self) -> Vec<u8> {
        match self {
            IdxData::Images(im) => images_header(im.count, im.rows, im.cols),
            IdxData::Labels(l) => labels_header(l.len()),
        }
    }
    /// The data bytes after the header.
    pub fn body(&self) -> &[u8] {
        match self {
            IdxData::Images(im) => &im.pixels,
            IdxData::Labels(l) => l,
        }
    }
    /// Number of items (images or labels).
    pub fn count(&self) -> usize {
        match self {
            IdxData::Images(im) => im.count,
            IdxData::Labels(l) => l.len(),
        }
    }
}

impl fmt::Display for IdxData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdxData::Images(im) => write!(f, "{} images of {}x{}", im.count, im.rows, im.cols),
            IdxData::Labels(l) => write!(f, "{} labels", l.len()),
        }
    }
}

/// Whether `bytes` start like a gzip stream (magic 1f 8b).
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// The 16-byte header of an image file. Sizes must fit in u32.
pub fn images_header(count: usize, rows: usize, cols: usize) -> Vec<u8> {
    let mut h = Vec::with_capacity(16);
    for v in [IMAGES_MAGIC as usize, count, rows, cols] {
        h.extend_from_slice(&(v as u32).to_be_bytes());
    }
    h
}

/// The 8-byte header of a label file. `count` must fit in u32.
pub fn labels_header(count: usize) -> Vec<u8> {
    let mut h = Vec::with_capacity(8);
    for v in [LABELS_MAGIC as usize, count] {
        h.extend_from_slice(&(v as u32).to_be_bytes());
    }
    h
}

/// Read an IDX image file (raw or gzip).
pub fn read_images(path: &Path) -> Result<IdxImages> {
    match read_file(path, Kind::Images)? {
        IdxData::Images(im) => Ok(im),
        IdxData::Labels(_) => Err(Error::file(path, "internal: expected images")),
    }
}

/// Read an IDX label file (raw or gzip).
pub fn read_labels(path: &Path) -> Result<Vec<u8>> {
    match read_file(path, Kind::Labels)? {
        IdxData::Labels(l) => Ok(l),
        IdxData::Images(_) => Err(Error::file(path, "internal: expected labels")),
    }
}

/// Read an IDX file of `kind` from disk, streaming (gzip is decoded on the
/// fly into a buffer sized from the validated header).
pub fn read_file(path: &Path, kind: Kind) -> Result<IdxData> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    decode(
        path,
        BufReader::with_capacity(1 << 16, file),
        len,
        kind,
        false,
    )
}

/// Parse an IDX file of `kind` held in memory; `path` only names it in
/// errors.
pub fn parse(path: &Path, bytes: &[u8], kind: Kind) -> Result<IdxData> {
    decode(path, bytes, bytes.len() as u64, kind, true)
}

/// Parse an IDX image file held in memory (`path` names it in errors).
///
/// ```
/// use parana::data::idx::{images_header, parse_images};
/// use std::path::Path;
/// let mut bytes = images_header(2, 2, 3); // 2 images of 2x3
/// bytes.extend_from_slice(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
/// let im = parse_images(Path::new("x.idx"), &bytes).unwrap();
/// assert_eq!((im.count, im.rows, im.cols, im.pixels[11]), (2, 2, 3, 11));
/// // One pixel short: refused, naming the file.
/// let e = parse_images(Path::new("x.idx"), &bytes[..bytes.len() - 1]).unwrap_err();
/// assert!(e.to_string().starts_with("x.idx: "), "{e}");
/// ```
pub fn parse_images(path: &Path, bytes: &[u8]) -> Result<IdxImages> {
    match parse(path, bytes, Kind::Images)? {
        IdxData::Images(im) => Ok(im),
        IdxData::Labels(_) => Err(Error::file(path, "internal: expected images")),
    }
}

/// Parse an IDX label file held in memory (`path` names it in errors).
pub fn parse_labels(path: &Path, bytes: &[u8]) -> Result<Vec<u8>> {
    match parse(path, bytes, Kind::Labels)? {
        IdxData::Labels(l) => Ok(l),
        IdxData::Images(_) => Err(Error::file(path, "internal: expected labels")),
    }
}

/// Header fields, validated.
struct Header {
    kind: Kind,
    count: u64,
    rows: u64,
    cols: u64,
}

impl Header {
    fn body_len(&self) -> u64 {
        // At most 2^32 * 4096 * 4096 = 2^56: no overflow.
        match self.kind {
            Kind::Images => self.count * self.rows * self.cols,
            Kind::Labels => self.count,
        }
    }
    fn total_len(&self) -> u64 {
        self.kind.header_len() as u64 + self.body_len()
    }
    /// E.g. "10000 images of 28x28 (7840016 bytes)".
    fn describe(&self) -> String {
        match self.kind {
            Kind::Images => format!(
                "{} images of {}x{} ({} bytes)",
                self.count,
                self.rows,
                self.cols,
                self.total_len()
            ),
            Kind::Labels => format!("{} labels ({} bytes)", self.count, self.total_len()),
        }
    }
}

/// Read into `buf` until it is full or the reader ends; returns the bytes
/// read.
fn read_upto(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn be32(b: &[u8]) -> u64 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u64
}

/// The core reader over any buffered source of `src_len` bytes.
fn decode(
    path: &Path,
    mut src: impl BufRead,
    src_len: u64,
    kind: Kind,
    in_memory: bool,
) -> Result<IdxData> {
    let gz = is_gzip(src.fill_buf().map_err(|e| Error::io(path, e))?);
    // A read error on a raw file is the OS failing us; on a gzip stream it
    // is (almost always) corrupt data.
    let what = if gz { "decompressed data" } else { "file" };
    let map_err = |e: std::io::Error| -> Error {
        if gz {
            Error::file(path, format!("corrupt or truncated gzip data: {e}"))
        } else if in_memory {
            Error::file(path, format!("read error: {e}"))
        } else {
            Error::io(path, e)
        }
    };
    let mut reader: Box<dyn Read + '_> = if gz {
        Box::new(MultiGzDecoder::new(src))
    } else {
        Box::new(src)
    };

    // Header.
    let hl = kind.header_len();
    let mut hdr = [0u8; 16];
    let got = read_upto(&mut reader, &mut hdr[..hl]).map_err(map_err)?;
    if got < 4 || (got < hl && be32(&hdr) == kind.magic() as u64) {
        return Err(Error::file(
            path,
            format!(
                "truncated: the {what} holds {got} byte{}, too short for an IDX {} header ({hl} bytes)",
                if got == 1 { "" } else { "s" },
                kind.noun()
            ),
        ));
    }
    check_magic(path, be32(&hdr), kind)?;
    let header = Header {
        kind,
        count: be32(&hdr[4..]),
        rows: if kind == Kind::Images {
            be32(&hdr[8..])
        } else {
            1
        },
        cols: if kind == Kind::Images {
            be32(&hdr[12..])
        } else {
            1
        },
    };
    if kind == Kind::Images {
        let (r, c) = (header.rows, header.cols);
        if r == 0 || c == 0 {
            return Err(Error::file(
                path,
                format!("bad header: image size {r}x{c} has a zero side"),
            ));
        }
        if r > MAX_DIM as u64 || c > MAX_DIM as u64 {
            return Err(Error::file(
                path,
                format!(
                    "bad header: image size {r}x{c} is implausible (sides must be at most {MAX_DIM})"
                ),
            ));
        }
    }

    // Size against the file's real length, before allocating anything.
    let total = header.total_len();
    if gz {
        let most = src_len
            .saturating_mul(MAX_DEFLATE_RATIO)
            .saturating_add(GZIP_SLACK);
        if total > most {
            return Err(Error::file(
                path,
                format!(
                    "truncated: header says {} but a gzip file of {src_len} bytes cannot hold more than {most}",
                    header.describe()
                ),
            ));
        }
    } else if total != src_len {
        let what_wrong = if src_len < total {
            "truncated"
        } else {
            "trailing data"
        };
        return Err(Error::file(
            path,
            format!(
                "{what_wrong}: header says {} but the file holds {src_len}",
                header.describe()
            ),
        ));
    }
    let body_len = usize::try_from(header.body_len()).map_err(|_| {
        Error::file(
            path,
            format!(
                "header says {}: too large for this machine",
                header.describe()
            ),
        )
    })?;

    // Body: read what the header says plus one byte, to notice trailing
    // data (this also makes the gzip decoder check its CRC trailer). The
    // buffer is sized from the header, but for gzip no larger than the data
    // can plausibly be, so a lying header on a small file costs nothing.
    let cap = if gz {
        body_len.min(usize::try_from(src_len.saturating_mul(16)).unwrap_or(usize::MAX))
    } else {
        body_len
    };
    let mut body = Vec::with_capacity(cap);
    (&mut reader)
        .take(body_len as u64 + 1)
        .read_to_end(&mut body)
        .map_err(map_err)?;
    if body.len() < body_len {
        return Err(Error::file(
            path,
            format!(
                "truncated: header says {} but the {what} holds {}",
                header.describe(),
                hl + body.len()
            ),
        ));
    }
    if body.len() > body_len {
        // Count what follows, up to a limit, to say how much there is.
        const COUNT_LIMIT: u64 = 1 << 30;
        let more = std::io::copy(&mut (&mut reader).take(COUNT_LIMIT), &mut std::io::sink())
            .map_err(map_err)?;
        let held = total + 1 + more;
        let held = if more == COUNT_LIMIT {
            format!("more than {held}")
        } else {
            held.to_string()
        };
        return Err(Error::file(
            path,
            format!(
                "trailing data: header says {} but the {what} holds {held}",
                header.describe()
            ),
        ));
    }
    Ok(match kind {
        Kind::Images => IdxData::Images(IdxImages {
            count: header.count as usize,
            rows: header.rows as usize,
            cols: header.cols as usize,
            pixels: body,
        }),
        Kind::Labels => IdxData::Labels(body),
    })
}

fn check_magic(path: &Path, magic: u64, kind: Kind) -> Result<()> {
    let want = kind.magic() as u64;
    if magic == want {
        return Ok(());
    }
    let hint = if magic == IMAGES_MAGIC as u64 {
        " (that of an image file)"
    } else if magic == LABELS_MAGIC as u64 {
        " (that of a label file)"
    } else if magic == u32::swap_bytes(want as u32) as u64 {
        " (byte-swapped: written little-endian?)"
    } else {
        ""
    };
    Err(Error::file(
        path,
        format!(
            "not an IDX {} file: magic number is 0x{magic:08x}{hint}, expected 0x{want:08x}",
            kind.noun()
        ),
    ))
}

fn check_writable(images: &IdxImages) -> Result<()> {
    let IdxImages {
        count, rows, cols, ..
    } = *images;
    if rows == 0 || cols == 0 || rows > MAX_DIM || cols > MAX_DIM {
        return Err(Error::input(format!(
            "cannot write images of {rows}x{cols}: sides must be 1..={MAX_DIM}"
        )));
    }
    if u32::try_from(count).is_err() {
        return Err(Error::input(format!(
            "cannot write {count} images: IDX counts are u32"
        )));
    }
    if count.checked_mul(rows * cols) != Some(images.pixels.len()) {
        return Err(Error::input(format!(
            "cannot write images: {} pixels do not make {count} images of {rows}x{cols}",
            images.pixels.len()
        )));
    }
    Ok(())
}

fn write_idx(path: &Path, header: &[u8], body: &[u8], gzip: bool) -> Result<()> {
    write_atomic_with(path, |w| {
        if gzip {
            let mut enc = flate2::write::GzEncoder::new(w, flate2::Compression::default());
            enc.write_all(header)?;
            enc.write_all(body)?;
            enc.finish()?;
        } else {
            w.write_all(header)?;
            w.write_all(body)?;
        }
        Ok(())
    })
}

/// Write `images` as an IDX image file, gzip-compressed if `gzip`
/// (readers tell the two apart by the first bytes).
///
/// ```
/// use parana::data::idx::{IdxImages, read_images, write_images};
/// let dir = std::env::temp_dir().join(format!("parana-doc-idx-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let im = IdxImages { count: 1, rows: 2, cols: 2, pixels: vec![0, 64, 128, 255] };
/// let p = dir.join("images-idx3-ubyte.gz");
/// write_images(&p, &im, true).unwrap();
/// assert_eq!(read_images(&p).unwrap(), im);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn write_images(path: &Path, images: &IdxImages, gzip: bool) -> Result<()> {
    check_writable(images)?;
    let h = images_header(images.count, images.rows, images.cols);
    write_idx(path, &h, &images.pixels, gzip)
}

/// Write `labels` as an IDX label file, gzip-compressed if `gzip`.
pub fn write_labels(path: &Path, labels: &[u8], gzip: bool) -> Result<()> {
    if u32::try_from(labels.len()).is_err() {
        return Err(Error::input(format!(
            "cannot write {} labels: IDX counts are u32",
            labels.len()
        )));
    }
    write_idx(path, &labels_header(labels.len()), labels, gzip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let h = images_header(3, 2, 5);
        assert_eq!(h.len(), 16);
        assert_eq!(&h[..4], &[0, 0, 8, 3]);
        let mut bytes = h.clone();
        bytes.extend_from_slice(&[7u8; 30]);
        let im = parse_images(Path::new("x"), &bytes).unwrap();
        assert_eq!((im.count, im.rows, im.cols), (3, 2, 5));
    }

    #[test]
    fn short_file_is_truncated_not_bad_magic() {
        let e = parse_labels(Path::new("l"), &[0, 0, 8, 1, 0]).unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
    }
}
