//! TensorBoard event files of a run (`DIR/tensorboard/events.out.tfevents.*`), so that
//! `tensorboard --logdir runs` shows every run: scalars over training steps, the epoch
//! metrics and the sample grid of every epoch.
//!
//! The format is TensorFlow's: a TFRecord file (each record a little-endian `u64` length,
//! the masked CRC-32C of those 8 bytes, the payload, the masked CRC-32C of the payload) of
//! `Event` protocol buffers (`tensorflow/core/util/event.proto`, `summary.proto`; only the
//! fields written here are declared). CRC-32C comes from the `crc32c` crate, the protobuf
//! encoding from `prost`.
//!
//! A resumed run never shows a step twice: [`EventLog::open`] drops the records of steps
//! after the checkpoint it resumes from (as `metrics.jsonl` drops later epochs) before it
//! appends.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use prost::Message;

use crate::checkpoint::write_atomic;
use crate::error::{Error, Result};

/// The folder of a run's event files.
pub const DIR: &str = "tensorboard";
/// The prefix TensorBoard looks for.
const PREFIX: &str = "events.out.tfevents.";
/// The first event of every file (TensorBoard's reader expects it).
const FILE_VERSION: &str = "brain.Event:2";

/// `Event` (event.proto), the fields this writer uses.
#[derive(Clone, PartialEq, Message)]
pub struct Event {
    /// Seconds since the Unix epoch.
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    /// The global step.
    #[prost(int64, tag = "2")]
    pub step: i64,
    /// What the event carries.
    #[prost(oneof = "What", tags = "3, 5")]
    pub what: Option<What>,
}

/// `Event.what`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum What {
    /// The file's format version, in its first event.
    #[prost(string, tag = "3")]
    FileVersion(String),
    /// Scalars or images.
    #[prost(message, tag = "5")]
    Summary(Summary),
}

/// `Summary` (summary.proto).
#[derive(Clone, PartialEq, Message)]
pub struct Summary {
    /// One value per tag.
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<Value>,
}

/// `Summary.Value`, the fields this writer uses.
#[derive(Clone, PartialEq, Message)]
pub struct Value {
    /// The series' name, `group/name`.
    #[prost(string, tag = "1")]
    pub tag: String,
    /// A scalar or an image.
    #[prost(oneof = "Kind", tags = "2, 4")]
    pub kind: Option<Kind>,
}

/// `Summary.Value.value`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Kind {
    /// A scalar.
    #[prost(float, tag = "2")]
    SimpleValue(f32),
    /// An encoded image.
    #[prost(message, tag = "4")]
    Image(Image),
}

/// `Summary.Image`.
#[derive(Clone, PartialEq, Message)]
pub struct Image {
    /// Height in pixels.
    #[prost(int32, tag = "1")]
    pub height: i32,
    /// Width in pixels.
    #[prost(int32, tag = "2")]
    pub width: i32,
    /// 1 grey, 3 RGB, 4 RGBA.
    #[prost(int32, tag = "3")]
    pub colorspace: i32,
    /// The PNG file's bytes.
    #[prost(bytes = "vec", tag = "4")]
    pub encoded_image_string: Vec<u8>,
}

/// TFRecord's masked CRC-32C (`tensorflow/core/lib/hash/crc32c.h`: rotate right by 15
/// bits, add 0xa282ead8), so that a CRC of data holding CRCs stays well distributed.
pub fn masked_crc(bytes: &[u8]) -> u32 {
    let c = crc32c::crc32c(bytes);
    c.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// One TFRecord record around `payload`.
fn record(payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(payload.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&masked_crc(payload).to_le_bytes());
    out
}

/// The events of a TFRecord file up to its first damaged record, and what is wrong there
/// (a torn last record, as a kill during a write leaves, or a CRC mismatch), with its byte
/// offset. Every length and CRC is checked.
pub fn read_events(path: &Path) -> Result<(Vec<Event>, Option<String>)> {
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut events = Vec::new();
    let mut at = 0usize;
    let u32_at =
        |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    while at < bytes.len() {
        let bad = |what: &str| Some(format!("{what} at byte {at}"));
        if bytes.len() - at < 12 {
            return Ok((events, bad("a torn record header")));
        }
        let len_bytes = &bytes[at..at + 8];
        if masked_crc(len_bytes) != u32_at(at + 8) {
            return Ok((events, bad("a record length whose CRC does not match")));
        }
        let len = u64::from_le_bytes(len_bytes.try_into().unwrap_or([0; 8]));
        let Some(end) = usize::try_from(len)
            .ok()
            .and_then(|l| (at + 12).checked_add(l))
            .filter(|&e| e.checked_add(4).is_some_and(|e| e <= bytes.len()))
        else {
            return Ok((events, bad("a torn record")));
        };
        let payload = &bytes[at + 12..end];
        if masked_crc(payload) != u32_at(end) {
            return Ok((events, bad("a record whose CRC does not match")));
        }
        match Event::decode(payload) {
            Ok(e) => events.push(e),
            Err(e) => return Ok((events, bad(&format!("a record that is not an Event ({e})")))),
        }
        at = end + 4;
    }
    Ok((events, None))
}

/// The event files of a run's folder, oldest name first.
pub fn event_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir.join(DIR))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(PREFIX) && !n.ends_with(".damaged"))
        })
        .collect();
    v.sort();
    v
}

/// A run's event file, open for appending.
pub struct EventLog {
    path: PathBuf,
    file: fs::File,
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl EventLog {
    /// The event file of the run in `dir`, created when there is none. `keep` is the step
    /// of the checkpoint training resumes from: events of later steps (written after it
    /// by a run that then stopped) are dropped first; `None` starts a fresh run (older
    /// event files are removed). A file damaged part-way keeps its good records; its
    /// original bytes are kept beside it as `NAME.damaged`.
    pub fn open(dir: &Path, keep: Option<u64>) -> Result<Self> {
        let folder = dir.join(DIR);
        fs::create_dir_all(&folder).map_err(|e| Error::io(&folder, e))?;
        let existing = event_files(dir);
        if keep.is_none() {
            for f in &existing {
                fs::remove_file(f).map_err(|e| Error::io(f, e))?;
            }
        }
        let path = match (keep, existing.last()) {
            (Some(step), Some(last)) => {
                for f in &existing {
                    Self::truncate(f, step)?;
                }
                last.clone()
            }
            _ => {
                let secs = now() as u64;
                let path = folder.join(format!("{PREFIX}{secs}.gan"));
                let first = Event {
                    wall_time: now(),
                    step: 0,
                    what: Some(What::FileVersion(FILE_VERSION.into())),
                };
                write_atomic(&path, &record(&first.encode_to_vec()))?;
                path
            }
        };
        let file = fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        Ok(Self { path, file })
    }

    /// Rewrites `path` without the events of steps after `step` (the file-version event
    /// stays).
    fn truncate(path: &Path, step: u64) -> Result<()> {
        let (events, damage) = read_events(path)?;
        let keep: Vec<&Event> = events
            .iter()
            .filter(|e| matches!(e.what, Some(What::FileVersion(_))) || e.step as u64 <= step)
            .collect();
        if damage.is_none() && keep.len() == events.len() {
            return Ok(());
        }
        if damage.is_some() {
            let mut name = path.as_os_str().to_owned();
            name.push(".damaged");
            fs::copy(path, &name).map_err(|e| Error::io(path, e))?;
        }
        let bytes: Vec<u8> = keep
            .iter()
            .flat_map(|e| record(&e.encode_to_vec()))
            .collect();
        write_atomic(path, &bytes)
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&mut self, step: u64, value: Vec<Value>) -> Result<()> {
        let e = Event {
            wall_time: now(),
            step: step as i64,
            what: Some(What::Summary(Summary { value })),
        };
        self.file
            .write_all(&record(&e.encode_to_vec()))
            .map_err(|err| Error::io(&self.path, err))
    }

    /// Scalars at `step`, one per `(tag, value)`; non-finite values are skipped.
    pub fn scalars(&mut self, step: u64, values: &[(&str, f64)]) -> Result<()> {
        let value = values
            .iter()
            .filter(|(_, v)| v.is_finite())
            .map(|&(tag, v)| Value {
                tag: tag.into(),
                kind: Some(Kind::SimpleValue(v as f32)),
            })
            .collect();
        self.write(step, value)
    }

    /// A PNG image at `step` (`png`: the file's bytes; its size and colour type are read
    /// from its header).
    pub fn png(&mut self, step: u64, tag: &str, png: Vec<u8>) -> Result<()> {
        let (width, height, colorspace) = png_header(&png)
            .ok_or_else(|| Error::Invalid(format!("{tag}: the image is not a PNG file")))?;
        let image = Image {
            height,
            width,
            colorspace,
            encoded_image_string: png,
        };
        self.write(
            step,
            vec![Value {
                tag: tag.into(),
                kind: Some(Kind::Image(image)),
            }],
        )
    }

    /// Flushes the file to disk (at the end of every epoch).
    pub fn sync(&mut self) -> Result<()> {
        self.file.sync_data().map_err(|e| Error::io(&self.path, e))
    }
}

/// Width, height and channels from a PNG's IHDR chunk.
fn png_header(png: &[u8]) -> Option<(i32, i32, i32)> {
    const SIG: &[u8] = b"\x89PNG\r\n\x1a\n";
    if png.len() < 26 || &png[..8] != SIG || &png[12..16] != b"IHDR" {
        return None;
    }
    let be = |i: usize| i32::from_be_bytes([png[i], png[i + 1], png[i + 2], png[i + 3]]);
    let channels = match png[25] {
        0 => 1,
        2 => 3,
        4 => 2,
        6 => 4,
        _ => 3,
    };
    Some((be(16), be(20), channels))
}

/// Means over the steps since the last scalar event (so every step counts, and each point
/// is a window of `tensorboard_every` steps; the first window after a resume starts at the
/// checkpoint).
#[derive(Default)]
pub struct Window {
    sums: [f64; 4],
    n: usize,
}

impl Window {
    /// Adds one step's D loss, G loss, D(x) and D(G(z)).
    pub fn add(&mut self, s: &super::StepStats) {
        for (a, v) in self
            .sums
            .iter_mut()
            .zip([s.d_loss, s.g_loss, s.d_real, s.d_fake])
        {
            *a += v;
        }
        self.n += 1;
    }

    /// The window's means under their tags, and a fresh window.
    pub fn take(&mut self) -> Vec<(&'static str, f64)> {
        let n = self.n.max(1) as f64;
        let tags = ["loss/d", "loss/g", "d_output/real", "d_output/fake"];
        let out = tags.into_iter().zip(self.sums.map(|s| s / n)).collect();
        *self = Self::default();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_crc_matches_tensorflow() {
        // reference values from the `tensorboard` package's own implementation
        // (tensorboard.compat.tensorflow_stub.pywrap_tensorflow.masked_crc32c)
        assert_eq!(masked_crc(&[0u8; 32]), 0x0fd7_fffa);
        assert_eq!(masked_crc(b"123456789"), 0xc78a_b0e5);
    }
}
