//! Minimal `.npy` (NumPy format 1.0/2.0) reading and writing of 2-D float32 arrays.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes a C-order float32 array of shape `[rows, cols]`.
pub fn write_npy_f32(path: &Path, data: &[f32], rows: usize, cols: usize) -> Result<()> {
    if data.len() != rows * cols {
        return Err(Error::Invalid(format!(
            "npy: {} values do not fill a [{rows}, {cols}] array",
            data.len()
        )));
    }
    let mut w = NpyWriter::create(path, rows, cols)?;
    w.write_rows(data)?;
    w.finish()
}

/// Refuses samples outside [0, 1] (the pixel range every metric here expects), naming the
/// file, the range found and what is expected: images saved as bytes (0..255) would
/// otherwise give meaningless FIDs and likelihoods.
pub fn check_unit_range(values: &[f32], path: &Path) -> Result<()> {
    let (lo, hi) = values
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    if lo < 0.0 || hi > 1.0 {
        let hint = if hi > 1.0 && hi <= 255.0 && lo >= 0.0 {
            " (bytes? divide by 255 before saving)"
        } else if lo >= -1.0 && hi <= 1.0 {
            " (tanh output in [-1, 1]? map it with (x + 1) / 2)"
        } else {
            ""
        };
        return Err(Error::data(
            path,
            format!("values range over [{lo}, {hi}]; samples must be pixels in [0, 1]{hint}"),
        ));
    }
    Ok(())
}

/// The `.npy` 1.0 header of a C-order float32 array of `shape`.
fn header(shape: &[usize]) -> Vec<u8> {
    header_of(shape, "<f4")
}

/// A C-order float64 array of `shape` as `.npy` bytes (pytorch-fid's `mu` and `sigma`).
pub fn npy_bytes_f64(shape: &[usize], data: &[f64]) -> Vec<u8> {
    let mut out = header_of(shape, "<f8");
    out.reserve(8 * data.len());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// The `.npy` 1.0 header of a C-order array of `shape` and dtype `descr`.
fn header_of(shape: &[usize], descr: &str) -> Vec<u8> {
    let dims: String = shape.iter().map(|d| format!("{d}, ")).collect();
    let dims = if shape.len() == 1 {
        dims.trim_end().to_string()
    } else {
        dims.trim_end_matches(", ").to_string()
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({dims}), }}");
    // magic (6) + version (2) + header length (2) + header + '\n' is a multiple of 64.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out
}

/// A float32 `[rows, cols]` (or `[rows, ..row_shape]`) `.npy` file written a few rows at a time, so arrays larger than
/// memory can be written. It goes to a temporary file beside `path`, renamed over `path` by
/// [`NpyWriter::finish`] once every row is there: an earlier file at `path` survives a
/// failure, and no half-written array is ever left under the name.
pub struct NpyWriter {
    out: std::io::BufWriter<std::fs::File>,
    tmp: std::path::PathBuf,
    path: std::path::PathBuf,
    rows: usize,
    cols: usize,
    written: usize,
}

impl NpyWriter {
    /// Starts a `[rows, cols]` file (header written).
    pub fn create(path: &Path, rows: usize, cols: usize) -> Result<Self> {
        Self::create_shaped(path, rows, &[cols])
    }

    /// Starts a `[rows, ..row_shape]` file, e.g. `[n, h, w, c]` images (header written);
    /// rows are then `row_shape`'s product of values each.
    pub fn create_shaped(path: &Path, rows: usize, row_shape: &[usize]) -> Result<Self> {
        let cols = row_shape.iter().product();
        let shape: Vec<usize> = std::iter::once(rows)
            .chain(row_shape.iter().copied())
            .collect();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = path.with_file_name(format!(".{name}.partial"));
        let f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, f);
        out.write_all(&header(&shape))
            .map_err(|e| Error::io(&tmp, e))?;
        Ok(Self {
            out,
            tmp,
            path: path.to_path_buf(),
            rows,
            cols,
            written: 0,
        })
    }

    /// Appends whole rows (`values.len()` a multiple of `cols`).
    pub fn write_rows(&mut self, values: &[f32]) -> Result<()> {
        let cols = self.cols.max(1);
        if !values.len().is_multiple_of(cols) || self.written + values.len() / cols > self.rows {
            let _ = std::fs::remove_file(&self.tmp);
            return Err(Error::Invalid(format!(
                "npy {}: {} values are not whole rows of {} within the {} declared",
                self.path.display(),
                values.len(),
                self.cols,
                self.rows
            )));
        }
        let mut buf = Vec::with_capacity(values.len() * 4);
        for v in values {
            buf.extend_from_slice(&v.to_le_bytes());
        }
        if let Err(e) = self.out.write_all(&buf) {
            let _ = std::fs::remove_file(&self.tmp);
            return Err(Error::io(&self.path, e));
        }
        self.written += values.len() / cols;
        Ok(())
    }

    /// Checks every declared row was written, flushes and moves the file into place.
    pub fn finish(mut self) -> Result<()> {
        if self.written != self.rows {
            let _ = std::fs::remove_file(&self.tmp);
            return Err(Error::Invalid(format!(
                "npy {}: {} of {} rows written",
                self.path.display(),
                self.written,
                self.rows
            )));
        }
        let flushed = self
            .out
            .flush()
            .and_then(|_| self.out.get_ref().sync_all())
            .and_then(|_| std::fs::rename(&self.tmp, &self.path));
        if let Err(e) = flushed {
            let _ = std::fs::remove_file(&self.tmp);
            return Err(Error::io(&self.path, e));
        }
        Ok(())
    }
}

/// Reads a 2-D float32 (or float64, converted) C-order array; returns `(data, rows, cols)`.
/// Rejects NaN and infinite values, naming the first offending row.
pub fn read_npy_f32(path: &Path) -> Result<(Vec<f32>, usize, usize)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_npy_f32(&bytes, path)
}

/// An `.npy` array of any rank: its shape and values.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    /// The shape, C order.
    pub shape: Vec<usize>,
    /// The values.
    pub data: NpyData,
}

/// The values of an [`NpyArray`].
#[derive(Clone, Debug, PartialEq)]
pub enum NpyData {
    /// `|u1` (uint8).
    U8(Vec<u8>),
    /// `<f4`, or `<f8` converted.
    F32(Vec<f32>),
}

/// Reads an `.npy` array of any rank, uint8 or float32 / float64 (converted to float32),
/// C order. Float values must be finite.
pub fn read_npy(path: &Path) -> Result<NpyArray> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_npy(&bytes, path)
}

/// The element width (1, 4 or 8 bytes), shape and data bytes of `.npy` bytes, checked.
fn parse_layout<'a>(bytes: &'a [u8], path: &Path) -> Result<(usize, Vec<usize>, &'a [u8])> {
    let bad = |why: String| Error::data(path, why);
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("not a .npy file (bad magic)".into()));
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(bad(format!("unsupported .npy version {v}"))),
    };
    let header = bytes
        .get(start..start + hlen)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| bad("truncated or non-text header".into()))?;
    let field = |key: &str| -> Option<&str> {
        let i = header.find(&format!("'{key}'"))?;
        let rest = &header[i + key.len() + 2..];
        Some(rest[rest.find(':')? + 1..].trim_start())
    };
    let descr = field("descr").ok_or_else(|| bad("header has no 'descr'".into()))?;
    let width = if descr.starts_with("'<f4'") {
        4
    } else if descr.starts_with("'<f8'") {
        8
    } else if descr.starts_with("'|u1'") || descr.starts_with("'<u1'") {
        1
    } else {
        return Err(bad(format!(
            "dtype {} is not supported (need '<f4', '<f8' or '|u1')",
            descr.split(',').next().unwrap_or("")
        )));
    };
    if field("fortran_order").is_some_and(|v| v.starts_with("True")) {
        return Err(bad("Fortran-order arrays are not supported".into()));
    }
    let shape_txt = field("shape").ok_or_else(|| bad("header has no 'shape'".into()))?;
    let inner = shape_txt
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad(format!("unreadable shape {shape_txt}")))?;
    let shape: Vec<usize> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| bad(format!("unreadable shape ({inner})")))
        })
        .collect::<Result<_>>()?;
    let body = &bytes[start + hlen..];
    let need = shape
        .iter()
        .try_fold(width, |a: usize, &d| a.checked_mul(d))
        .ok_or_else(|| bad("shape overflows".into()))?;
    if body.len() != need {
        return Err(bad(format!(
            "shape {} needs {need} data bytes, file has {}",
            shape_text(&shape),
            body.len()
        )));
    }
    Ok((width, shape, body))
}

/// Parses `.npy` bytes of any rank ([`read_npy`]); `path` only names the source in errors.
pub fn parse_npy(bytes: &[u8], path: &Path) -> Result<NpyArray> {
    let bad = |why: String| Error::data(path, why);
    let (width, shape, body) = parse_layout(bytes, path)?;
    let data = match width {
        1 => NpyData::U8(body.to_vec()),
        4 => NpyData::F32(
            body.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        _ => NpyData::F32(
            body.chunks_exact(8)
                .map(|c| {
                    f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32
                })
                .collect(),
        ),
    };
    if let NpyData::F32(v) = &data
        && let Some(i) = v.iter().position(|v| !v.is_finite())
    {
        let row = shape.iter().skip(1).product::<usize>().max(1);
        return Err(bad(format!(
            "non-finite value (NaN or Inf) in row {}",
            i / row
        )));
    }
    Ok(NpyArray { shape, data })
}

/// Parses a float `.npy` (`<f8`, or `<f4` widened) into float64 values with its shape, no
/// rounding (pytorch-fid's statistics are float64); `path` names the source in errors.
pub fn parse_npy_f64(bytes: &[u8], path: &Path) -> Result<(Vec<usize>, Vec<f64>)> {
    let (width, shape, body) = parse_layout(bytes, path)?;
    let v: Vec<f64> = match width {
        8 => body
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect(),
        4 => body
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect(),
        _ => return Err(Error::data(path, "expected a float array")),
    };
    if v.iter().any(|x| !x.is_finite()) {
        return Err(Error::data(path, "non-finite value (NaN or Inf)"));
    }
    Ok((shape, v))
}

/// A shape as NumPy prints it: `(2, 2)`, `(5,)`.
fn shape_text(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        s => format!(
            "({})",
            s.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Parses a 2-D float `.npy` (samples `[n, d]`); `path` only names the source in errors.
pub fn parse_npy_f32(bytes: &[u8], path: &Path) -> Result<(Vec<f32>, usize, usize)> {
    let a = parse_npy(bytes, path)?;
    let (rows, cols) = match a.shape[..] {
        [r, c] => (r, c),
        _ => {
            return Err(Error::data(
                path,
                format!("expected a 2-D array [n, d], found shape {:?}", a.shape),
            ));
        }
    };
    match a.data {
        NpyData::F32(v) => Ok((v, rows, cols)),
        NpyData::U8(_) => Err(Error::data(
            path,
            "dtype '|u1' (uint8): samples must be float32 or float64 pixels in [0, 1]",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a.npy");
        let data: Vec<f32> = (0..12).map(|i| i as f32 / 7.0).collect();
        write_npy_f32(&p, &data, 3, 4).expect("write");
        let bytes = std::fs::read(&p).expect("read");
        assert_eq!(
            (bytes.len() - data.len() * 4) % 64,
            0,
            "header aligned to 64 bytes"
        );
        assert_eq!(read_npy_f32(&p).expect("read back"), (data.clone(), 3, 4));
        let truncated = &bytes[..bytes.len() - 3];
        let e = parse_npy_f32(truncated, &p)
            .expect_err("truncated")
            .to_string();
        assert!(e.contains("needs 48 data bytes"), "{e}");
        let mut nan = bytes.clone();
        let n = nan.len();
        nan[n - 4..].copy_from_slice(&f32::NAN.to_le_bytes());
        let e = parse_npy_f32(&nan, &p).expect_err("nan").to_string();
        assert!(e.contains("row 2"), "{e}");
        let e = parse_npy_f32(b"hello world", &p)
            .expect_err("magic")
            .to_string();
        assert!(e.contains("bad magic"), "{e}");
    }
}
