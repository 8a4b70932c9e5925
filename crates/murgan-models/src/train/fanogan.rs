//! f-AnoGAN training (Schlegl et al. 2019): first a DCGAN on normals, then the izi encoder
//! with G and D frozen (eval mode, constant weights), minimising
//! `MSE(x, G(E(x))) + κ·MSE(f(x), f(G(E(x))))`, f = the discriminator's feature layer.
//!
//! f-AnoGAN trains its GAN as a WGAN-GP. The gradient penalty needs the gradient of a
//! gradient, which Burn 0.22's autodiff does not provide (a gradient comes back as a constant
//! tensor), so murgan trains the GAN with DCGAN's losses instead.

use std::path::Path;

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use murgan_data::seed::item_seed;

use super::dcgan::{Dcgan, write_samples};
use super::{FAnoGanConfig, Trainer, TrainingSet, scalar};
use crate::Result;
use crate::checkpoint::{self, Staged};
use crate::init::seeded;
use crate::kind::Role;
use crate::nets::{Discriminator, Encoder, Generator};

/// Trains the GAN, then the izi encoder.
pub struct FAnoGanTrainer {
    config: FAnoGanConfig,
    device: Device,
    gan: Dcgan,
    encoder: Encoder,
    opt_e: ModuleOptimizer,
    frozen: Option<(Generator, Discriminator)>,
}

impl FAnoGanTrainer {
    /// Builds the networks on `device` (autodiff switched on), seeded.
    pub fn new(config: FAnoGanConfig, device: &Device) -> Result<Self> {
        config.validate()?;
        let device = device.clone().autodiff();
        let gan = Dcgan::new(&config.model, &config.train, &device)?;
        let encoder = seeded(
            config.encoder().init(&device)?,
            item_seed(config.train.seed, 3),
        );
        let opt_e = config.train.adam();
        Ok(Self {
            config,
            device,
            gan,
            encoder,
            opt_e,
            frozen: None,
        })
    }

    /// Generator, discriminator and encoder (eval mode, no autodiff).
    pub fn networks(&self) -> (Generator, Discriminator, Encoder) {
        (
            self.gan.generator.valid(),
            self.gan.discriminator.valid(),
            self.encoder.valid(),
        )
    }

    fn encoder_step(&mut self, it: usize, data: &TrainingSet) -> Result<Vec<(&'static str, f32)>> {
        let t = &self.config.train;
        let (g, d) = match &self.frozen {
            Some(frozen) => frozen.clone(),
            None => {
                let frozen = (self.gan.generator.valid(), self.gan.discriminator.valid());
                self.frozen = Some(frozen.clone());
                frozen
            }
        };
        let x = data.batch(it, t.batch_size, t.seed, t.jitter, &self.device);
        let x_hat = g.forward(self.encoder.forward(x.clone()));
        let residual = (x.clone() - x_hat.clone()).powi_scalar(2).mean();
        let feature = (d.features(x) - d.features(x_hat)).powi_scalar(2).mean();
        let loss = residual.clone() + feature.clone() * self.config.kappa;
        let grads = GradientsParams::from_grads(loss.backward(), &self.encoder);
        self.encoder = self.opt_e.step(t.lr, self.encoder.clone(), grads);
        Ok(vec![
            ("izi_loss", scalar(loss, it, "izi_loss")?),
            ("residual", scalar(residual, it, "residual")?),
            ("feature", scalar(feature, it, "feature")?),
        ])
    }
}

impl Trainer for FAnoGanTrainer {
    type Config = FAnoGanConfig;

    fn config(&self) -> &FAnoGanConfig {
        &self.config
    }

    fn phase(&self, iteration: usize) -> &'static str {
        if iteration < self.config.train.iterations {
            "gan"
        } else {
            "encoder"
        }
    }

    fn step(&mut self, it: usize, data: &TrainingSet) -> Result<Vec<(&'static str, f32)>> {
        if it >= self.config.train.iterations {
            return self.encoder_step(it, data);
        }
        self.gan.step(it, data, &self.config.train, &self.device)
    }

    fn save(&self, staged: &mut Staged, data: &TrainingSet) -> Result<()> {
        self.gan.save(staged)?;
        staged.module(Role::Encoder.key(), &self.encoder)?;
        staged.optimizer(Role::Encoder.key(), &self.opt_e)?;
        write_samples(
            staged,
            &self.gan.generator,
            Some(&self.encoder),
            data,
            self.config.train.seed,
            &self.device,
        )
    }

    fn restore(&mut self, dir: &Path) -> Result<()> {
        let t = &self.config.train;
        self.gan.restore(dir, t)?;
        let e = Role::Encoder.key();
        self.encoder = checkpoint::load_module(dir, e, self.encoder.clone())?;
        self.opt_e = checkpoint::load_optimizer(dir, e, t.adam())?;
        self.frozen = None;
        Ok(())
    }
}
