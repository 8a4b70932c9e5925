//! AnoGAN training: a DCGAN (non-saturating BCE losses) on normal images only.

use std::path::Path;

use burn::prelude::*;

use super::dcgan::{Dcgan, write_samples};
use super::{AnoGanConfig, Trainer, TrainingSet};
use crate::Result;
use crate::checkpoint::Staged;
use crate::nets::{Discriminator, Generator};

/// Trains a DCGAN generator and discriminator.
pub struct AnoGanTrainer {
    config: AnoGanConfig,
    device: Device,
    gan: Dcgan,
}

impl AnoGanTrainer {
    /// Builds the networks on `device` (autodiff is switched on here), seeded.
    pub fn new(config: AnoGanConfig, device: &Device) -> Result<Self> {
        config.validate()?;
        let device = device.clone().autodiff();
        let gan = Dcgan::new(&config.model, &config.train, &device)?;
        Ok(Self {
            config,
            device,
            gan,
        })
    }

    /// The generator (eval mode, no autodiff).
    pub fn generator(&self) -> Generator {
        self.gan.generator.valid()
    }

    /// The discriminator (eval mode, no autodiff).
    pub fn discriminator(&self) -> Discriminator {
        self.gan.discriminator.valid()
    }
}

impl Trainer for AnoGanTrainer {
    type Config = AnoGanConfig;

    fn config(&self) -> &AnoGanConfig {
        &self.config
    }

    fn step(&mut self, iteration: usize, data: &TrainingSet) -> Result<Vec<(&'static str, f32)>> {
        self.gan
            .step(iteration, data, &self.config.train, &self.device)
    }

    fn save(&self, staged: &mut Staged, data: &TrainingSet) -> Result<()> {
        self.gan.save(staged)?;
        write_samples(
            staged,
            &self.gan.generator,
            None,
            data,
            self.config.train.seed,
            &self.device,
        )
    }

    fn restore(&mut self, dir: &Path) -> Result<()> {
        self.gan.restore(dir, &self.config.train)
    }
}
