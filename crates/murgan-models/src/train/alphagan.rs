//! alpha-GAN training (Rosca et al. 2017): encoder E, generator G, image discriminator D
//! (DCGAN or PatchGAN) and code discriminator C.
//!
//! Per iteration, with x a batch of normals, ẑ = E(x), x̂ = G(ẑ), z ~ N(0, I), x̃ = G(z):
//! - E and G minimise λ·‖x − x̂‖₁ + BCE(D(x̂), real) + BCE(D(x̃), real) + BCE(C(ẑ), prior);
//! - D minimises BCE(D(x), real) + BCE(D(x̂), fake) + BCE(D(x̃), fake);
//! - C minimises BCE(C(z), prior) + BCE(C(ẑ), encoded).

use std::path::Path;

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::anogan::write_samples;
use super::{TrainConfig, Trainer, TrainingSet, bce_logits, normal_noise, scalar, to_json};
use crate::Result;
use crate::checkpoint::{self, ModelKind, Staged};
use crate::init::seeded;
use crate::nets::{
    CodeDiscriminator, CodeDiscriminatorConfig, DcganConfig, Encoder, EncoderConfig, Generator,
    ImageDiscriminator, PatchConfig,
};
use murgan_data::pipeline::item_seed;

/// Which image discriminator an alpha-GAN uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiscriminatorKind {
    /// DCGAN's: one logit per image.
    Dcgan,
    /// PatchGAN (70×70-style): one logit per overlapping patch.
    Patch,
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
}

/// Trains an alpha-GAN.
pub struct AlphaGanTrainer {
    config: AlphaGanConfig,
    device: Device,
    encoder: Encoder,
    generator: Generator,
    discriminator: ImageDiscriminator,
    code: CodeDiscriminator,
    opt_e: ModuleOptimizer,
    opt_g: ModuleOptimizer,
    opt_d: ModuleOptimizer,
    opt_c: ModuleOptimizer,
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

impl AlphaGanTrainer {
    /// Builds the four networks on `device` (autodiff switched on), seeded.
    pub fn new(config: AlphaGanConfig, device: &Device) -> Result<Self> {
        config.validate()?;
        let device = device.clone().autodiff();
        let seed = config.train.seed;
        let encoder = seeded(config.encoder().init(&device)?, item_seed(seed, 3));
        let generator = seeded(config.model.init_generator(&device)?, item_seed(seed, 1));
        let discriminator = seeded(config.init_discriminator(&device)?, item_seed(seed, 2));
        let code = seeded(config.code.init(&device)?, item_seed(seed, 4));
        let t = &config.train;
        let (opt_e, opt_g, opt_d, opt_c) = (t.adam(), t.adam(), t.adam(), t.adam());
        Ok(Self {
            config,
            device,
            encoder,
            generator,
            discriminator,
            code,
            opt_e,
            opt_g,
            opt_d,
            opt_c,
        })
    }

    /// The encoder, generator, image and code discriminators (eval mode, no autodiff).
    pub fn networks(&self) -> (Encoder, Generator, ImageDiscriminator, CodeDiscriminator) {
        (
            self.encoder.valid(),
            self.generator.valid(),
            self.discriminator.valid(),
            self.code.valid(),
        )
    }
}

impl Trainer for AlphaGanTrainer {
    fn kind(&self) -> ModelKind {
        ModelKind::AlphaGan
    }

    fn config_json(&self) -> serde_json::Value {
        to_json(&self.config)
    }

    fn total_iterations(&self) -> usize {
        self.config.train.iterations
    }

    fn phase(&self, _iteration: usize) -> &'static str {
        "gan"
    }

    fn step(&mut self, it: usize, data: &TrainingSet) -> Result<Vec<(&'static str, f32)>> {
        let t = self.config.train.clone();
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

        // Encoder and generator.
        let z_enc = self.encoder.forward(x.clone());
        let x_rec = self.generator.forward(z_enc.clone());
        let x_gen = self.generator.forward(z.clone());
        let rec = (x.clone() - x_rec.clone()).abs().mean();
        let (d_rec, _) = self.discriminator.forward(x_rec.clone());
        let (d_gen, _) = self.discriminator.forward(x_gen.clone());
        let loss_ge = rec.clone() * self.config.lambda
            + bce_logits(d_rec, true)
            + bce_logits(d_gen, true)
            + bce_logits(self.code.forward(z_enc.clone()), true);
        let mut grads = loss_ge.backward();
        let ge = GradientsParams::from_module(&mut grads, &self.encoder);
        let gg = GradientsParams::from_module(&mut grads, &self.generator);
        self.encoder = self.opt_e.step(t.lr, self.encoder.clone(), ge);
        self.generator = self.opt_g.step(t.lr, self.generator.clone(), gg);

        // Image discriminator: real vs reconstructed and sampled.
        let (d_real, _) = self.discriminator.forward(x);
        let (d_rec, _) = self.discriminator.forward(x_rec.detach());
        let (d_gen, _) = self.discriminator.forward(x_gen.detach());
        let acc_real = burn::tensor::activation::sigmoid(d_real.clone()).mean();
        let loss_d = bce_logits(d_real, true) + bce_logits(d_rec, false) + bce_logits(d_gen, false);
        let gd = GradientsParams::from_grads(loss_d.backward(), &self.discriminator);
        self.discriminator = self.opt_d.step(t.lr, self.discriminator.clone(), gd);

        // Code discriminator: prior vs encoded codes.
        let loss_c = bce_logits(self.code.forward(z), true)
            + bce_logits(self.code.forward(z_enc.detach()), false);
        let gc = GradientsParams::from_grads(loss_c.backward(), &self.code);
        self.code = self.opt_c.step(t.lr, self.code.clone(), gc);

        Ok(vec![
            ("rec_l1", scalar(rec, it, "rec_l1")?),
            ("ge_loss", scalar(loss_ge, it, "ge_loss")?),
            ("d_loss", scalar(loss_d, it, "d_loss")?),
            ("c_loss", scalar(loss_c, it, "c_loss")?),
            ("d_real", scalar(acc_real, it, "d_real")?),
        ])
    }

    fn save(&self, staged: &mut Staged, data: &TrainingSet) -> Result<()> {
        staged.module("encoder", &self.encoder)?;
        staged.module("generator", &self.generator)?;
        staged.module("discriminator", &self.discriminator)?;
        staged.module("code_discriminator", &self.code)?;
        for (name, opt) in [
            ("encoder", &self.opt_e),
            ("generator", &self.opt_g),
            ("discriminator", &self.opt_d),
            ("code_discriminator", &self.opt_c),
        ] {
            staged.optimizer(name, opt)?;
        }
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
        self.encoder = checkpoint::load_module(dir, "encoder", self.encoder.clone())?;
        self.generator = checkpoint::load_module(dir, "generator", self.generator.clone())?;
        self.discriminator =
            checkpoint::load_module(dir, "discriminator", self.discriminator.clone())?;
        self.code = checkpoint::load_module(dir, "code_discriminator", self.code.clone())?;
        let t = &self.config.train;
        self.opt_e = checkpoint::load_optimizer(dir, "encoder", t.adam())?;
        self.opt_g = checkpoint::load_optimizer(dir, "generator", t.adam())?;
        self.opt_d = checkpoint::load_optimizer(dir, "discriminator", t.adam())?;
        self.opt_c = checkpoint::load_optimizer(dir, "code_discriminator", t.adam())?;
        Ok(())
    }
}
