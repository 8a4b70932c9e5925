//! AnoGAN (Schlegl et al. 2017): a DCGAN trained on normals, scored by a latent search.

use burn::prelude::*;

use super::TrainConfig;
use crate::Result;
use crate::nets::DcganConfig;

/// AnoGAN = DCGAN shape + training settings.
#[derive(Config, Debug, PartialEq)]
pub struct AnoGanConfig {
    /// Network shapes.
    pub model: DcganConfig,
    /// Training settings.
    pub train: TrainConfig,
}

impl AnoGanConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        self.train.validate()
    }
}
