//! The error type of `murgan-metrics`.

use std::path::PathBuf;

/// What can go wrong while computing or drawing metrics.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// No scores at all.
    #[error("empty input: no scores")]
    Empty,
    /// Labels and scores differ in length.
    #[error("{labels} labels but {scores} scores")]
    LengthMismatch {
        /// Number of labels.
        labels: usize,
        /// Number of scores.
        scores: usize,
    },
    /// Only one class is present, so ROC-AUC and friends are undefined.
    #[error("only {present} samples present ({n} of them): ROC-AUC needs both normal and abnormal")]
    SingleClass {
        /// `normal` or `abnormal`.
        present: &'static str,
        /// How many.
        n: usize,
    },
    /// A score is NaN.
    #[error("score #{index} is NaN")]
    NanScore {
        /// Position of the first NaN score.
        index: usize,
    },
    /// A parameter is out of range.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// One study holds images with different labels.
    #[error("study {study:?} mixes normal and abnormal images")]
    MixedStudy {
        /// The study.
        study: String,
    },
    /// A line of a scores file could not be understood.
    #[error("{file}:{line}: {message}")]
    Parse {
        /// The file.
        file: PathBuf,
        /// 1-based line number (1 is the header).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Drawing a plot failed.
    #[error("{path}: cannot draw plot: {message}")]
    Plot {
        /// The output file.
        path: PathBuf,
        /// The drawing backend's message.
        message: String,
    },
}

/// `Result` with [`MetricsError`].
pub type Result<T, E = MetricsError> = std::result::Result<T, E>;
