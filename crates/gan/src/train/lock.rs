//! The run directory's lock: one process writes a run at a time.
//!
//! An advisory lock (`flock`) on `RUN_DIR/lock`, taken when a run is created or resumed and
//! held until the [`RunLock`] is dropped. The operating system releases it when the process
//! ends in any way (`kill -9` included), so a stale lock file never blocks a resume; the
//! file's text (process id, start time, command line) only serves to name the holder.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::Path;

use crate::error::{Error, Result};

/// Name of the lock file inside a run directory.
pub const LOCK_FILE: &str = "lock";

/// A held lock on a run directory.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the lock of run directory `dir` (created when missing), or fails at once,
    /// naming the process that holds it.
    pub fn acquire(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(Error::Invalid(format!(
                    "{} is in use by another gan process ({}); wait for it to finish or stop \
                     it (Ctrl-C saves a checkpoint), then resume",
                    dir.display(),
                    if holder.is_empty() {
                        "holder unknown".to_string()
                    } else {
                        holder.replace('\n', ", ")
                    }
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let args: Vec<String> = std::env::args().collect();
        let text = format!(
            "pid {}\nsince {since} (seconds since 1970)\ncommand {}\n",
            std::process::id(),
            args.join(" ")
        );
        file.set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| file.write_all(text.as_bytes()))
            .map_err(|e| Error::io(&path, e))?;
        Ok(Self { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_the_lock_frees_on_drop() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = RunLock::acquire(dir.path()).expect("first");
        let e = RunLock::acquire(dir.path())
            .expect_err("second")
            .to_string();
        assert!(
            e.contains("in use by another gan process")
                && e.contains(&format!("pid {}", std::process::id())),
            "{e}"
        );
        drop(first);
        RunLock::acquire(dir.path()).expect("free again");
    }
}
