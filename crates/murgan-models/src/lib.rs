//! GANs that learn what a normal radiograph looks like, on Burn 0.22's runtime [`Device`]:
//! DCGAN (AnoGAN), alpha-GAN and f-AnoGAN's izi encoder; their training with seeded,
//! resumable runs; and atomic checkpoints.
//!
//! ```
//! use burn::prelude::*;
//! use murgan_models::nets::DcganConfig;
//!
//! let device = Device::flex();
//! let config = DcganConfig::new().with_image_size(32).with_latent_dim(8).with_gen_width(4).with_disc_width(4);
//! let g = config.init_generator(&device)?;
//! let d = config.init_discriminator(&device)?;
//! let x = g.forward(Tensor::zeros([2, 8], &device));
//! assert_eq!(x.dims(), [2, 1, 32, 32]);
//! let (logit, features) = d.forward(x);
//! assert_eq!(logit.dims(), [2]);
//! assert_eq!(features.dims(), [2, 16, 4, 4]);
//! # Ok::<(), murgan_models::ModelError>(())
//! ```
//!
//! [`Device`]: burn::tensor::Device

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod checkpoint;
pub mod error;
#[cfg(feature = "pytorch")]
pub mod import;
pub mod init;
pub mod kind;
pub mod load;
pub mod nets;
pub mod noise;
pub mod train;

pub use checkpoint::{Calibration, ComponentReference, ModelMeta, NormalReference};
pub use error::{ModelError, Result};
pub use kind::{ModelKind, Role};
pub use load::{LoadedModel, Networks, load};
