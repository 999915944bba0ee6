//! One error type for the library, with an area enum per source of failure.

use std::path::PathBuf;

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the library. Each variant names the file (where there is
/// one) and the problem, so the CLI can print it as is.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A data file is missing, truncated, corrupt or inconsistent.
    #[error("data file {path}: {problem}")]
    Data {
        /// The file that failed.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// A configuration value is missing, unknown or out of range.
    #[error("config: {0}")]
    Config(String),
    /// A checkpoint could not be written, read or verified.
    #[error("checkpoint {path}: {problem}")]
    Checkpoint {
        /// The checkpoint file or directory.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Training produced a non-finite value.
    #[error("training diverged at step {step}: {what} is not finite")]
    Diverged {
        /// The global step at which it happened.
        step: u64,
        /// Which quantity became NaN or infinite.
        what: String,
    },
    /// An argument given by the caller is invalid (wrong shape, empty set, ...).
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// The request needs no work (a resume to an epoch count already reached); nothing was
    /// changed.
    #[error("{0}")]
    NothingToDo(String),
}

impl Error {
    pub(crate) fn data(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        Self::Data {
            path: path.into(),
            problem: problem.into(),
        }
    }

    pub(crate) fn checkpoint(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        Self::Checkpoint {
            path: path.into(),
            problem: problem.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
