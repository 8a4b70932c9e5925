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

use super::anogan::{dcgan_step, finish_gan, write_samples};
use super::{TrainConfig, Trainer, TrainingSet, normal_noise, scalar, to_json};
use crate::checkpoint::{self, ModelKind, Staged};
use crate::init::seeded;
use crate::nets::{DcganConfig, Discriminator, Encoder, EncoderConfig, Generator};
use crate::{ModelError, Result};
use murgan_data::pipeline::item_seed;

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
    /// The encoder's shape.
    pub fn encoder(&self) -> EncoderConfig {
        EncoderConfig::new()
            .with_image_size(self.model.image_size)
            .with_latent_dim(self.model.latent_dim)
            .with_width(self.model.disc_width)
            .with_bounded(self.bounded_encoder)
    }
}

/// Trains the GAN, then the izi encoder.
pub struct FAnoGanTrainer {
    config: FAnoGanConfig,
    device: Device,
    generator: Generator,
    discriminator: Discriminator,
    encoder: Encoder,
    opt_g: ModuleOptimizer,
    opt_d: ModuleOptimizer,
    opt_e: ModuleOptimizer,
    frozen: Option<(Generator, Discriminator)>,
}

impl FAnoGanTrainer {
    /// Builds the networks on `device` (autodiff switched on), seeded.
    pub fn new(config: FAnoGanConfig, device: &Device) -> Result<Self> {
        config.model.validate()?;
        config.train.validate()?;
        if config.encoder_iterations == 0 || !(config.kappa >= 0.0 && config.kappa.is_finite()) {
            return Err(ModelError::InvalidConfig(
                "encoder iterations must be positive and κ ≥ 0".into(),
            ));
        }
        let device = device.clone().autodiff();
        let seed = config.train.seed;
        let generator = seeded(config.model.init_generator(&device)?, item_seed(seed, 1));
        let discriminator = seeded(
            config.model.init_discriminator(&device)?,
            item_seed(seed, 2),
        );
        let encoder = seeded(config.encoder().init(&device)?, item_seed(seed, 3));
        let t = &config.train;
        let (opt_g, opt_d, opt_e) = (t.adam(), t.adam(), t.adam());
        Ok(Self {
            config,
            device,
            generator,
            discriminator,
            encoder,
            opt_g,
            opt_d,
            opt_e,
            frozen: None,
        })
    }

    /// Generator, discriminator and encoder (eval mode, no autodiff).
    pub fn networks(&self) -> (Generator, Discriminator, Encoder) {
        (
            self.generator.valid(),
            self.discriminator.valid(),
            self.encoder.valid(),
        )
    }

    fn encoder_step(&mut self, it: usize, data: &TrainingSet) -> Result<Vec<(&'static str, f32)>> {
        let t = &self.config.train;
        let (g, d) = match &self.frozen {
            Some(frozen) => frozen.clone(),
            None => {
                let frozen = (self.generator.valid(), self.discriminator.valid());
                self.frozen = Some(frozen.clone());
                frozen
            }
        };
        let idx = data.batch_indices(it, t.batch_size, t.seed);
        let x = data.tensor(&idx, &self.device);
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
    fn kind(&self) -> ModelKind {
        ModelKind::FAnoGan
    }

    fn config_json(&self) -> serde_json::Value {
        to_json(&self.config)
    }

    fn main_score(&self) -> Option<String> {
        self.config.train.main_score.clone()
    }

    fn total_iterations(&self) -> usize {
        self.config.train.iterations + self.config.encoder_iterations
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
        let t = &self.config.train;
        let idx = data.batch_indices(it, t.batch_size, t.seed);
        let x = data.tensor(&idx, &self.device);
        let z = normal_noise(
            t.seed,
            it,
            0,
            idx.len(),
            self.config.model.latent_dim,
            &self.device,
        );
        let losses = dcgan_step(
            &mut self.generator,
            &mut self.discriminator,
            &mut self.opt_g,
            &mut self.opt_d,
            x,
            z,
            t.lr,
            it,
        )?;
        finish_gan(&self.discriminator, t, it, data, &self.device);
        Ok(losses)
    }

    fn save(&self, staged: &mut Staged, data: &TrainingSet) -> Result<()> {
        staged.module("generator", &self.generator)?;
        staged.module("discriminator", &self.discriminator)?;
        staged.module("encoder", &self.encoder)?;
        staged.optimizer("generator", &self.opt_g)?;
        staged.optimizer("discriminator", &self.opt_d)?;
        staged.optimizer("encoder", &self.opt_e)?;
        write_samples(
            staged,
            &self.generator,
            Some(&self.encoder),
            data,
            self.config.train.seed,
            &self.device,
        )?;
        Ok(())
    }

    fn restore(&mut self, dir: &Path) -> Result<()> {
        self.generator = checkpoint::load_module(dir, "generator", self.generator.clone())?;
        self.discriminator =
            checkpoint::load_module(dir, "discriminator", self.discriminator.clone())?;
        self.encoder = checkpoint::load_module(dir, "encoder", self.encoder.clone())?;
        let t = &self.config.train;
        self.opt_g = checkpoint::load_optimizer(dir, "generator", t.adam())?;
        self.opt_d = checkpoint::load_optimizer(dir, "discriminator", t.adam())?;
        self.opt_e = checkpoint::load_optimizer(dir, "encoder", t.adam())?;
        self.frozen = None;
        Ok(())
    }
}
