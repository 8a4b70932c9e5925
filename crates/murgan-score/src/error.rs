//! The error type of `murgan-score`.

/// What can go wrong while scoring.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScoreError {
    /// A scoring setting is out of range.
    #[error("invalid scoring setting: {0}")]
    InvalidConfig(String),
    /// The input does not fit the model (wrong size, empty batch).
    #[error("input does not fit the model: {0}")]
    Shape(String),
    /// The model cannot be scored this way (e.g. f-AnoGAN before its encoder was trained).
    #[error("{0}")]
    Unsupported(String),
    /// A score came out NaN or infinite (a diverged model or a broken input).
    #[error("image {index} of the batch: {what} is {value}")]
    NonFinite {
        /// Position in the batch.
        index: usize,
        /// Which quantity.
        what: String,
        /// Its value.
        value: f64,
    },
    /// From `murgan-data` (writing a picture).
    #[error(transparent)]
    Data(#[from] murgan_data::DataError),
    /// From `murgan-models`.
    #[error(transparent)]
    Model(#[from] murgan_models::ModelError),
}

/// `Result` with [`ScoreError`].
pub type Result<T, E = ScoreError> = std::result::Result<T, E>;
