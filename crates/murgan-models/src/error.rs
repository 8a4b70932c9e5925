//! The error type of `murgan-models`.

use std::path::PathBuf;

/// What can go wrong while building, training, saving or loading a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A model or training setting is out of range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// The training data could not be used.
    #[error(transparent)]
    Data(#[from] murgan_data::DataError),
    /// A file of a checkpoint could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A checkpoint is unreadable, truncated or incomplete.
    #[error("{path}: corrupt or incomplete checkpoint: {message}")]
    CorruptCheckpoint {
        /// The checkpoint file or folder.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A checkpoint was written for another model or configuration.
    #[error("{path}: checkpoint does not match: {message}")]
    CheckpointMismatch {
        /// The checkpoint folder.
        path: PathBuf,
        /// What differs.
        message: String,
    },
    /// The checkpoint's schema is newer or older than this build reads.
    #[error("{path}: checkpoint schema {found}, this murgan reads schema {expected}")]
    Schema {
        /// The `model.json`.
        path: PathBuf,
        /// Schema found.
        found: u32,
        /// Schema expected.
        expected: u32,
    },
    /// A tensor computation produced a non-finite loss.
    #[error("training diverged at iteration {iteration}: {what} is {value}")]
    Diverged {
        /// Iteration.
        iteration: usize,
        /// Which loss.
        what: String,
        /// Its value.
        value: f32,
    },
}

impl ModelError {
    /// Wraps an I/O error with its path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ModelError::Io {
            path: path.into(),
            source,
        }
    }
}

/// `Result` with [`ModelError`].
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
