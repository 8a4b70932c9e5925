//! The error type of `murgan-data`.

use std::path::PathBuf;

/// Everything that can go wrong while indexing or loading X-ray data.
///
/// Every variant that concerns a file names it, so a report of skipped files is readable
/// on its own.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder concerned.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The root folder of a data set does not exist or is not a folder.
    #[error("{path}: data set root not found or not a folder")]
    MissingRoot {
        /// The path that was given as root.
        path: PathBuf,
    },
    /// A file listed in an index (a CSV) does not exist.
    #[error("{path}: listed in {listed_in} but missing on disk")]
    MissingFile {
        /// The missing file.
        path: PathBuf,
        /// The index that listed it.
        listed_in: PathBuf,
    },
    /// A path in an index escapes the data set root (`..`, an absolute path, ...).
    #[error("{file}:{line}: path {entry:?} points outside the data set root")]
    PathOutsideRoot {
        /// The index file.
        file: PathBuf,
        /// 1-based line number in the index file.
        line: usize,
        /// The offending entry.
        entry: String,
    },
    /// A line of an index or manifest could not be understood.
    #[error("{file}:{line}: {message}")]
    Parse {
        /// The index or manifest file.
        file: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Two indexes of the same data set disagree.
    #[error("{file}: {message}")]
    Inconsistent {
        /// The index file where the disagreement was found.
        file: PathBuf,
        /// What disagrees.
        message: String,
    },
    /// An image file is empty.
    #[error("{path}: empty file (0 bytes)")]
    EmptyFile {
        /// The empty file.
        path: PathBuf,
    },
    /// An image file is larger than the configured limits allow.
    #[error("{path}: image too large ({message})")]
    TooLarge {
        /// The offending file.
        path: PathBuf,
        /// Which limit it exceeded.
        message: String,
    },
    /// An image file could not be decoded (truncated, corrupt, not an image, unsupported format).
    #[error("{path}: cannot decode image: {message}")]
    Decode {
        /// The offending file.
        path: PathBuf,
        /// The decoder's message.
        message: String,
    },
    /// A file is in a format (or a DICOM transfer syntax) murgan does not read.
    #[error("{path}: unsupported format: {message}")]
    UnsupportedFormat {
        /// The offending file.
        path: PathBuf,
        /// What the format is and why it is refused.
        message: String,
    },
    /// Not one normal training image could be loaded.
    #[error("no normal training images could be loaded ({failed} failed)")]
    NoTrainingData {
        /// How many images failed to load.
        failed: usize,
    },
    /// A parameter is out of range.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// A data set contains no image that matches.
    #[error("{0}: no images found")]
    Empty(PathBuf),
    /// A cache entry could not be used.
    #[error("{path}: bad cache entry: {message}")]
    Cache {
        /// The cache file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

impl DataError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }
}

/// `Result` with [`DataError`].
pub type Result<T, E = DataError> = std::result::Result<T, E>;
