//! Named training settings: `quick` (minutes on a 2-core CPU) and `paper` (the original
//! study's settings, meant for a GPU).

use burn::prelude::*;

use super::TrainConfig;
use crate::nets::DcganConfig;
use crate::{ModelError, Result};

/// Network shape and training length in one place; every field can be overridden.
#[derive(Config, Debug, PartialEq)]
pub struct Preset {
    /// Side N of the N×N images.
    pub image_size: usize,
    /// Latent size.
    pub latent_dim: usize,
    /// Network width (ngf = ndf).
    pub width: usize,
    /// Images per batch.
    pub batch_size: usize,
    /// GAN iterations.
    pub iterations: usize,
    /// f-AnoGAN encoder iterations.
    pub encoder_iterations: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Checkpoint interval.
    pub checkpoint_every: usize,
    /// Real batches that refresh the discriminator's BatchNorm statistics after the GAN's last
    /// iteration (0: off; see [`TrainConfig::bn_refresh_batches`]).
    #[config(default = 0)]
    pub bn_refresh_batches: usize,
}

impl Preset {
    /// Small and fast: 64×64, width 16, latent 64, batch 32, 500 + 500 iterations. One
    /// iteration took 0.33 s on the 2-core development machine (release build), so a model
    /// trains in about three minutes.
    pub fn quick() -> Self {
        Self {
            image_size: 64,
            latent_dim: 64,
            width: 16,
            batch_size: 32,
            iterations: 500,
            encoder_iterations: 500,
            lr: 2e-4,
            checkpoint_every: 250,
            bn_refresh_batches: 0,
        }
    }

    /// The original study's settings (for a GPU): 64×64, latent 128, width 64, batch 128,
    /// Adam lr 1e-4 with β = (0.5, 0.999); 10,000 + 10,000 iterations.
    pub fn paper() -> Self {
        Self {
            image_size: 64,
            latent_dim: 128,
            width: 64,
            batch_size: 128,
            iterations: 10_000,
            encoder_iterations: 10_000,
            lr: 1e-4,
            checkpoint_every: 1000,
            bn_refresh_batches: 0,
        }
    }

    /// `quick` or `paper`.
    pub fn named(name: &str) -> Result<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "quick" => Ok(Self::quick()),
            "paper" => Ok(Self::paper()),
            other => Err(ModelError::InvalidConfig(format!(
                "unknown preset {other:?}: expected quick or paper"
            ))),
        }
    }

    /// The DCGAN shape.
    pub fn model(&self) -> DcganConfig {
        DcganConfig::new()
            .with_image_size(self.image_size)
            .with_latent_dim(self.latent_dim)
            .with_gen_width(self.width)
            .with_disc_width(self.width)
    }

    /// The training settings (β = (0.5, 0.999)) with `seed`.
    pub fn train(&self, seed: u64) -> TrainConfig {
        TrainConfig::new()
            .with_batch_size(self.batch_size)
            .with_iterations(self.iterations)
            .with_lr(self.lr)
            .with_checkpoint_every(self.checkpoint_every)
            .with_bn_refresh_batches(self.bn_refresh_batches)
            .with_seed(seed)
    }
}
