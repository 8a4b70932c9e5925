//! SQUID (Xiang et al., CVPR 2023): an in-painting auto-encoder with memory queues of normal
//! patterns ([`crate::nets::squid`]) and a discriminator that judges its reconstructions.

use burn::prelude::*;

use super::TrainConfig;
use crate::nets::{DcganConfig, SquidNetConfig};
use crate::{ModelError, Result};

/// SQUID shapes, loss weights and training settings.
#[derive(Config, Debug, PartialEq)]
pub struct SquidConfig {
    /// The in-painting auto-encoder.
    pub net: SquidNetConfig,
    /// Width of the discriminator (DCGAN's, on the whole image).
    #[config(default = 16)]
    pub disc_width: usize,
    /// BatchNorm in the discriminator's hidden layers.
    #[config(default = false)]
    pub disc_batch_norm: bool,
    /// Training settings.
    pub train: TrainConfig,
    /// Weight of the student's reconstruction error, mean (x − x̂)² (SQUID: 10).
    #[config(default = 10.0)]
    pub recon_weight: f64,
    /// Weight of the teacher's reconstruction error (SQUID: 0.01).
    #[config(default = 0.01)]
    pub teacher_weight: f64,
    /// Weight of the distillation of the teacher's hidden maps into the student's (SQUID:
    /// 0.001).
    #[config(default = 0.001)]
    pub distill_weight: f64,
    /// Weight of the adversarial term BCE(D(x̂), real) in the auto-encoder's loss (SQUID: 0.005).
    #[config(default = 0.005)]
    pub adversarial_weight: f64,
}

impl SquidConfig {
    /// The discriminator's shape.
    pub fn discriminator(&self) -> DcganConfig {
        DcganConfig::new()
            .with_image_size(self.net.image_size)
            .with_disc_width(self.disc_width)
            .with_disc_batch_norm(self.disc_batch_norm)
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        self.net.validate()?;
        self.discriminator().validate()?;
        self.train.validate()?;
        for (name, w) in [
            ("reconstruction", self.recon_weight),
            ("teacher", self.teacher_weight),
            ("distillation", self.distill_weight),
            ("adversarial", self.adversarial_weight),
        ] {
            if !(w >= 0.0 && w.is_finite()) {
                return Err(ModelError::InvalidConfig(format!(
                    "SQUID {name} weight {w}: must be finite and ≥ 0"
                )));
            }
        }
        Ok(())
    }
}
