//! Whole-file reads and writes, with transparent gzip.

use std::io::{Read, Write};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use crate::DataError;

/// The first two bytes of every gzip file.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// How a written file is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain bytes.
    Raw,
    /// gzip (what the MNIST family distributes: `*-ubyte.gz`).
    Gzip,
}

/// The contents of a file (`raw`), decompressed when it starts with the gzip magic bytes
/// `1f 8b` (whatever its name); `path` names it in errors. The flag says whether it was gzip.
pub(crate) fn maybe_gunzip(path: &Path, raw: Vec<u8>) -> Result<(Vec<u8>, bool), DataError> {
    if !raw.starts_with(&GZIP_MAGIC) {
        return Ok((raw, false));
    }
    let mut out = Vec::with_capacity(gzip_size_hint(&raw));
    MultiGzDecoder::new(raw.as_slice())
        .read_to_end(&mut out)
        .map_err(|source| DataError::Gzip {
            path: path.to_path_buf(),
            source,
        })?;
    Ok((out, true))
}

/// The uncompressed size a gzip file announces in its last four bytes (modulo 2³²), capped
/// so that a corrupt trailer cannot reserve much memory: at most 1 GiB, and at most what
/// `raw` can inflate to (deflate expands at most 1032-fold).
fn gzip_size_hint(raw: &[u8]) -> usize {
    const CAP: usize = 1 << 30;
    const MAX_RATIO: usize = 1032;
    match raw.len().checked_sub(4).and_then(|at| raw.get(at..)) {
        Some(tail) => {
            let size = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]) as usize;
            size.min(CAP).min(raw.len().saturating_mul(MAX_RATIO))
        }
        None => 0,
    }
}

/// Writes `bytes` to `path`, gzip-compressed or raw.
pub(crate) fn write_file(
    path: &Path,
    bytes: &[u8],
    compression: Compression,
) -> Result<(), DataError> {
    match compression {
        Compression::Raw => std::fs::write(path, bytes),
        Compression::Gzip => gzip(bytes).and_then(|data| std::fs::write(path, data)),
    }
    .map_err(|e| DataError::io(path, e))
}

fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes)?;
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gzip_trailer_cannot_reserve_more_than_the_file_can_inflate_to() {
        // 20 bytes whose trailer announces 4 GiB − 1: at most 1032 × 20 bytes are reserved.
        let mut raw = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0];
        raw.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(gzip_size_hint(&raw), 1032 * 20);
        let err = maybe_gunzip(Path::new("x.gz"), raw).unwrap_err();
        assert!(
            err.to_string().starts_with("x.gz: not a valid gzip file"),
            "{err}"
        );
        // A real file's announced size is used as is.
        let big = gzip(&vec![7; 100_000]).unwrap();
        assert_eq!(gzip_size_hint(&big), 100_000);
        assert_eq!(
            maybe_gunzip(Path::new("y.gz"), big).unwrap(),
            (vec![7; 100_000], true)
        );
    }
}
