//! Anomaly scores from trained GANs: AnoGAN's batched latent search, f-AnoGAN's one-pass izi
//! score (and the search warm-started from it), alpha-GAN's reconstruction, feature and
//! discriminator scores, and residual heatmaps mapped back onto the original X-ray.
//!
//! Every score's direction is fixed in code: **higher = more anomalous**. Scoring is
//! deterministic: networks in eval mode, no augmentation, seeded starting latents.
//!
//! ```
//! use burn::prelude::*;
//! use murgan_models::Networks;
//! use murgan_models::nets::DcganConfig;
//! use murgan_score::{Scorer, ScoringOptions, SearchConfig};
//!
//! let device = Device::flex();
//! let shape = DcganConfig::new().with_image_size(16).with_latent_dim(4).with_gen_width(4).with_disc_width(4);
//! let networks = Networks::AnoGan {
//!     generator: shape.init_generator(&device)?,
//!     discriminator: shape.init_discriminator(&device)?,
//! };
//! let options = ScoringOptions { search: SearchConfig::default().with_iterations(5), ..Default::default() };
//! let scorer = Scorer::new(networks, options)?;
//! let batch = scorer.score(Tensor::zeros([3, 1, 16, 16], &device))?;
//! assert_eq!(batch.scores.len(), 3);
//! assert!(batch.scores[0].get("residual").is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod error;
pub mod heatmap;
pub mod scorer;
pub mod search;

pub use error::{Result, ScoreError};
pub use heatmap::Heatmap;
pub use scorer::{COMBINED, Method, ScoredBatch, Scorer, Scores, ScoringOptions};
pub use search::{SearchConfig, SearchOutput, SearchResult, latent_search};
