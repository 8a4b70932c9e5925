//! f-AnoGAN (Schlegl et al. 2019): a DCGAN, then the izi encoder trained with G and D frozen.

use burn::prelude::*;

use super::TrainConfig;
use crate::nets::{DcganConfig, EncoderConfig};
use crate::{ModelError, Result};

/// f-AnoGAN shapes and training settings.
#[derive(Config, Debug, PartialEq)]
pub struct FAnoGanConfig {
    /// GAN shape; the encoder uses `disc_width`.
    pub model: DcganConfig,
    /// Training settings; `iterations` is the GAN phase.
    pub train: TrainConfig,
    /// Iterations of the encoder phase.
    #[config(default = 2000)]
    pub encoder_iterations: usize,
    /// Weight κ of the feature residual.
    #[config(default = 1.0)]
    pub kappa: f64,
    /// Squash codes with tanh (the peer's izi does; DCGAN's prior is N(0, I), so off by default).
    #[config(default = false)]
    pub bounded_encoder: bool,
}

impl FAnoGanConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        self.train.validate()?;
        if self.encoder_iterations == 0 || !(self.kappa >= 0.0 && self.kappa.is_finite()) {
            return Err(ModelError::InvalidConfig(
                "encoder iterations must be positive and κ ≥ 0".into(),
            ));
        }
        Ok(())
    }

    /// Whether a checkpoint at `iteration` has finished the GAN phase and holds a trained
    /// encoder.
    pub fn encoder_trained(&self, iteration: usize) -> bool {
        iteration > self.train.iterations
    }

    /// The encoder's shape.
    pub fn encoder(&self) -> EncoderConfig {
        EncoderConfig::new()
            .with_image_size(self.model.image_size)
            .with_latent_dim(self.model.latent_dim)
            .with_width(self.model.disc_width)
            .with_bounded(self.bounded_encoder)
    }
}
