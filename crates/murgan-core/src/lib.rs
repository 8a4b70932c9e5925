//! murgan: unsupervised anomaly detection on X-ray images with GANs.
//!
//! This facade is the one dependency other programs need: it re-exports the data, models,
//! score and metrics crates, wraps their errors in one [`Error`], maps a user's backend choice
//! to a Burn [`Device`], and offers [`Detector`], a trained model ready to score X-rays.
//!
//! Embedding a trained model (a folder `murgan train` wrote):
//!
//! ```
//! # use murgan_core::models::{nets::DcganConfig, train::*};
//! # let dir = tempfile::tempdir()?;
//! # let shape = DcganConfig::new().with_image_size(16).with_latent_dim(4).with_gen_width(4).with_disc_width(4);
//! # let mut trainer = AnoGanTrainer::new(AnoGanConfig::new(shape, TrainConfig::new().with_iterations(2).with_batch_size(2)), &murgan_core::device(Some("cpu"))?)?;
//! # run(&mut trainer, &TrainingSet::from_images(vec![vec![0.0; 256]; 4], 16)?, dir.path(), 2, false, &mut |_| {})?;
//! use murgan_core::{Detector, data::image::GrayImage};
//!
//! let mut detector = Detector::load(dir.path())?; // reads model.json, builds the right model
//! let xray = GrayImage { width: 40, height: 30, pixels: vec![0.5; 1200] }; // or detector.decode(path)
//! let report = detector.score(&xray)?;
//! println!("score {:.2}, parts {:?}", report.score, report.components);
//! assert_eq!((report.heatmap.width, report.heatmap.height), (40, 30)); // on the original grid
//!
//! let normals = vec![xray.clone(); 10];
//! let calibration = detector.calibrate(&normals, 0.95, "my normals")?; // stored in model.json
//! println!("threshold {:.2} at specificity {:.2}", calibration.threshold, calibration.specificity);
//! assert_eq!(detector.score(&xray)?.is_anomalous, Some(false));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Data and metrics without a model:
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
//! assert_eq!(roc_auc(&[false, true], &[0.2, 0.9])?, 1.0);
//! # Ok::<(), murgan_core::Error>(())
//! ```

#![warn(missing_docs)]

pub mod allocator;
pub mod backend;
pub mod detector;
pub mod process;
pub mod threads;

pub use allocator::tune_allocator;
pub use backend::{Backend, Device, device};
/// Burn, the tensor library murgan's models run on (for callers that build tensors themselves).
pub use burn;
pub use detector::{AnomalyReport, Detector};
pub use murgan_data as data;
pub use murgan_metrics as metrics;
pub use murgan_models as models;
pub use murgan_score as score;
pub use process::default_sigpipe;
pub use threads::in_compute_pool;

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
    /// From `murgan-score`.
    #[error(transparent)]
    Score(#[from] murgan_score::ScoreError),
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
