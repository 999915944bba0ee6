//! Reader for the IDX format of MNIST-style datasets, raw or gzip-compressed.
//!
//! Layout: two zero bytes, a type byte (0x08 = unsigned byte, the only type MNIST uses), the
//! number of dimensions, then each dimension as a big-endian u32, then the data.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// The contents of one IDX file of unsigned bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// Size of each dimension, outermost first.
    pub dims: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<u8>,
}

/// Largest file we accept once decompressed (MNIST's train images are 47 MB).
const MAX_DECOMPRESSED: u64 = 1 << 31;

/// Reads a file into memory, decompressing it when it starts with the gzip magic bytes.
pub fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    gunzip_if_gzip(raw, path)
}

/// Decompresses `raw` when it starts with the gzip magic bytes, else returns it unchanged;
/// `path` only names the source in errors.
pub fn gunzip_if_gzip(raw: Vec<u8>, path: &Path) -> Result<Vec<u8>> {
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(raw.as_slice())
            .take(MAX_DECOMPRESSED)
            .read_to_end(&mut out)
            .map_err(|e| Error::data(path, format!("corrupt or truncated gzip stream: {e}")))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Parses IDX bytes; `path` only names the source in errors.
pub fn parse_idx(bytes: &[u8], path: &Path) -> Result<IdxArray> {
    if bytes.len() < 4 {
        return Err(Error::data(
            path,
            format!("{} bytes is too short for an IDX header", bytes.len()),
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(Error::data(
            path,
            format!(
                "bad magic number {:02x}{:02x}{:02x}{:02x}: not an IDX file",
                bytes[0], bytes[1], bytes[2], bytes[3]
            ),
        ));
    }
    if bytes[2] != 0x08 {
        return Err(Error::data(
            path,
            format!(
                "IDX element type 0x{:02x} is not supported (expected 0x08, unsigned byte)",
                bytes[2]
            ),
        ));
    }
    let ndim = bytes[3] as usize;
    if ndim == 0 {
        return Err(Error::data(path, "IDX header declares zero dimensions"));
    }
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err(Error::data(
            path,
            format!(
                "truncated header: {ndim} dimensions need {header} bytes, file has {}",
                bytes.len()
            ),
        ));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|i| {
            let o = 4 + 4 * i;
            u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as usize
        })
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| Error::data(path, format!("dimensions {dims:?} overflow")))?;
    let body = bytes.len() - header;
    if body != expected {
        let what = if body < expected {
            "truncated"
        } else {
            "trailing bytes"
        };
        return Err(Error::data(
            path,
            format!("{what}: dimensions {dims:?} need {expected} data bytes, file has {body}"),
        ));
    }
    Ok(IdxArray {
        dims,
        data: bytes[header..].to_vec(),
    })
}

/// Reads and parses one IDX file (raw or gzip).
pub fn read_idx(path: &Path) -> Result<IdxArray> {
    parse_idx(&read_maybe_gzip(path)?, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn parses_a_good_file() {
        let bytes = encode(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        let a = parse_idx(&bytes, Path::new("x")).expect("valid");
        assert_eq!(a.dims, vec![2, 3]);
        assert_eq!(a.data, vec![1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn rejects_broken_files_with_specific_messages() {
        let p = Path::new("broken.idx");
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![0, 0], "too short"),
            (vec![1, 2, 8, 1, 0, 0, 0, 1, 5], "bad magic"),
            (vec![0, 0, 0x0d, 1, 0, 0, 0, 1, 5], "not supported"),
            (vec![0, 0, 8, 0], "zero dimensions"),
            (vec![0, 0, 8, 3, 0, 0, 0, 1], "truncated header"),
            (encode(&[2, 3], &[1, 2, 3]), "truncated"),
            (encode(&[2, 3], &[0; 7]), "trailing bytes"),
        ];
        for (bytes, want) in cases {
            let err = parse_idx(&bytes, p).expect_err("must fail").to_string();
            assert!(err.contains(want), "{err:?} should mention {want:?}");
            assert!(err.contains("broken.idx"), "{err:?} should name the file");
        }
    }
}
