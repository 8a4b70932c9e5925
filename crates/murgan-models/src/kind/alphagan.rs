//! alpha-GAN (Rosca et al. 2017): encoder E, generator G, image discriminator D (DCGAN or
//! PatchGAN) and code discriminator C.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::TrainConfig;
use crate::Result;
use crate::nets::{
    CodeDiscriminatorConfig, DcganConfig, EncoderConfig, ImageDiscriminator, PatchConfig,
};

/// Which image discriminator an alpha-GAN uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiscriminatorKind {
    /// DCGAN's: one logit per image.
    Dcgan,
    /// PatchGAN (70×70-style): one logit per overlapping patch.
    Patch,
}

/// Which networks the image discriminator's verdict on reconstructions trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Routing {
    /// One loss for E and G: E is also updated with the gradient of BCE(D(x̂), real) through
    /// G (murgan's original training).
    Joint,
    /// Rosca et al.'s separate losses: E minimises λ·‖x − x̂‖₁ + BCE(C(ẑ), prior) only, G
    /// λ·‖x − x̂‖₁ + BCE(D(x̂), real) + BCE(D(x̃), real) (D's verdict reaches G, not E).
    Paper,
}

/// alpha-GAN shapes and training settings.
#[derive(Config, Debug, PartialEq)]
pub struct AlphaGanConfig {
    /// Generator / DCGAN discriminator shape; the encoder uses `disc_width`.
    pub model: DcganConfig,
    /// Training settings.
    pub train: TrainConfig,
    /// Image discriminator.
    #[config(default = "DiscriminatorKind::Dcgan")]
    pub discriminator: DiscriminatorKind,
    /// Code discriminator shape (its `latent_dim` must equal the model's).
    pub code: CodeDiscriminatorConfig,
    /// Weight λ of the L1 reconstruction term (mean over pixels).
    #[config(default = 10.0)]
    pub lambda: f64,
    /// Which networks D's verdict on reconstructions trains.
    #[config(default = "Routing::Joint")]
    pub routing: Routing,
}

impl AlphaGanConfig {
    /// The encoder's shape.
    pub fn encoder(&self) -> EncoderConfig {
        EncoderConfig::new()
            .with_image_size(self.model.image_size)
            .with_latent_dim(self.model.latent_dim)
            .with_width(self.model.disc_width)
            .with_bounded(false)
    }

    /// Builds the image discriminator.
    pub fn init_discriminator(&self, device: &Device) -> Result<ImageDiscriminator> {
        Ok(match self.discriminator {
            DiscriminatorKind::Dcgan => {
                ImageDiscriminator::Dcgan(self.model.init_discriminator(device)?)
            }
            DiscriminatorKind::Patch => ImageDiscriminator::Patch(
                PatchConfig::new()
                    .with_width(self.model.disc_width)
                    .init(device)?,
            ),
        })
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        self.train.validate()?;
        if self.code.latent_dim != self.model.latent_dim {
            return Err(crate::ModelError::InvalidConfig(format!(
                "code discriminator latent size {} differs from the model's {}",
                self.code.latent_dim, self.model.latent_dim
            )));
        }
        if !(self.lambda >= 0.0 && self.lambda.is_finite()) {
            return Err(crate::ModelError::InvalidConfig(format!(
                "lambda {}",
                self.lambda
            )));
        }
        Ok(())
    }
}
