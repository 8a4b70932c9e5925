//! murgan: unsupervised anomaly detection on X-ray images with GANs.
//!
//! This facade is the one dependency other programs need: it re-exports the data, models and
//! metrics crates, wraps their errors in one [`Error`], and maps a user's backend choice to
//! a Burn [`Device`].
//!
//! ```
//! use murgan_core::data::{mura, synth, Filter, Split};
//! use murgan_core::metrics::roc_auc;
//!
//! // A small synthetic MURA-shaped set, indexed like the real one.
//! let dir = tempfile::tempdir()?;
//! let config = synth::SynthConfig { studies_per_category: 4, image_size: 32, ..Default::default() };
//! synth::generate(dir.path(), &config, &|_, _| {})?;
//! let set = mura::open(dir.path())?;
//! assert!(!set.select(&Filter::all().split(Split::Valid)).is_empty());
//!
//! let device = murgan_core::device(Some("cpu"))?;
//! # let _ = device;
//! assert_eq!(roc_auc(&[false, true], &[0.2, 0.9])?, 1.0);
//! # Ok::<(), murgan_core::Error>(())
//! ```

#![warn(missing_docs)]

pub mod backend;

pub use backend::{Backend, Device, device};
pub use murgan_data as data;
pub use murgan_metrics as metrics;
pub use murgan_models as models;

/// Any error of murgan's library crates.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// From `murgan-data`.
    #[error(transparent)]
    Data(#[from] murgan_data::DataError),
    /// From `murgan-metrics`.
    #[error(transparent)]
    Metrics(#[from] murgan_metrics::MetricsError),
    /// From `murgan-models`.
    #[error(transparent)]
    Models(#[from] murgan_models::ModelError),
    /// An I/O error outside the library crates.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The backend name is not one murgan knows.
    #[error("unknown backend {0:?}: expected cpu, wgpu or cuda")]
    UnknownBackend(String),
    /// The backend exists but this build does not include it.
    #[error(
        "backend {backend} is not compiled into this build (compiled: {compiled}); rebuild with `--features {feature}`"
    )]
    BackendNotCompiled {
        /// The requested backend.
        backend: &'static str,
        /// The cargo feature that enables it.
        feature: &'static str,
        /// The backends that are compiled in.
        compiled: String,
    },
    /// No backend feature is enabled at all.
    #[error("no backend compiled in: enable one of the features flex, wgpu, cuda")]
    NoBackend,
}

/// `Result` with murgan's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
