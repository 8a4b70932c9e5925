//! AnoGAN training: a DCGAN (non-saturating BCE losses) on normal images only.

use std::path::Path;

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use super::{TrainConfig, Trainer, TrainingSet, bce_logits, normal_noise, scalar, to_json};
use crate::Result;
use crate::checkpoint::{self, ModelKind, Staged};
use crate::init::seeded;
use crate::nets::{DcganConfig, Discriminator, Generator};
use murgan_data::pipeline::item_seed;

/// AnoGAN = DCGAN shape + training settings.
#[derive(Config, Debug, PartialEq)]
pub struct AnoGanConfig {
    /// Network shapes.
    pub model: DcganConfig,
    /// Training settings.
    pub train: TrainConfig,
}

/// Trains a DCGAN generator and discriminator.
pub struct AnoGanTrainer {
    config: AnoGanConfig,
    device: Device,
    generator: Generator,
    discriminator: Discriminator,
    opt_g: ModuleOptimizer,
    opt_d: ModuleOptimizer,
}

/// One DCGAN update (D then G) on `x`, shared with f-AnoGAN's first phase.
#[allow(clippy::too_many_arguments)]
pub(super) fn dcgan_step(
    g: &mut Generator,
    d: &mut Discriminator,
    opt_g: &mut ModuleOptimizer,
    opt_d: &mut ModuleOptimizer,
    x: Tensor<4>,
    z: Tensor<2>,
    lr: f64,
    iteration: usize,
) -> Result<Vec<(&'static str, f32)>> {
    // One generator pass serves both updates, as in PyTorch's DCGAN tutorial: detached for
    // the discriminator's, tracked for the generator's. Between the two only the discriminator
    // changes, so a second pass would give the same images (BatchNorm normalises by the same
    // batch statistics) and only count them into the running statistics twice.
    let fake = g.forward(z);
    let (real_logit, _) = d.forward(x);
    let (fake_logit, _) = d.forward(fake.clone().detach());
    let d_real = burn::tensor::activation::sigmoid(real_logit.clone()).mean();
    let d_fake = burn::tensor::activation::sigmoid(fake_logit.clone()).mean();
    let loss_d = bce_logits(real_logit, true) + bce_logits(fake_logit, false);
    let grads = GradientsParams::from_grads(loss_d.backward(), &*d);
    *d = opt_d.step(lr, d.clone(), grads);

    let (logit, _) = d.forward(fake);
    let loss_g = bce_logits(logit, true);
    let grads = GradientsParams::from_grads(loss_g.backward(), &*g);
    *g = opt_g.step(lr, g.clone(), grads);
    Ok(vec![
        ("d_loss", scalar(loss_d, iteration, "d_loss")?),
        ("g_loss", scalar(loss_g, iteration, "g_loss")?),
        ("d_real", scalar(d_real, iteration, "d_real")?),
        ("d_fake", scalar(d_fake, iteration, "d_fake")?),
    ])
}

/// D's BatchNorm refresh after the GAN's last iteration (see
/// [`super::refresh_after_last_iteration`]).
pub(super) fn finish_gan(
    d: &Discriminator,
    t: &TrainConfig,
    iteration: usize,
    data: &TrainingSet,
    device: &Device,
) {
    super::refresh_after_last_iteration(
        |x| {
            let _ = d.forward(x);
        },
        iteration,
        data,
        t,
        device,
    );
}

/// Images of a `[B, 1, N, N]` tensor as vectors.
pub(super) fn to_images(t: Tensor<4>) -> Vec<Vec<f32>> {
    let [b, _, h, w] = t.dims();
    let data: Vec<f32> = t
        .into_data()
        .convert::<f32>()
        .try_into_vec()
        .unwrap_or_default();
    data.chunks(h * w).take(b).map(<[f32]>::to_vec).collect()
}

/// Writes a checkpoint's `samples.png`: with an encoder, 4 training images, their
/// reconstructions and 8 samples from the prior; without, 16 samples. Eval mode throughout.
pub(super) fn write_samples(
    staged: &Staged,
    g: &Generator,
    encoder: Option<&crate::nets::Encoder>,
    data: &TrainingSet,
    seed: u64,
    device: &Device,
) -> Result<()> {
    let mut images = Vec::new();
    if let Some(e) = encoder {
        let idx: Vec<usize> = (0..data.len().min(4)).collect();
        let x = data.tensor(&idx, &device.clone().inner());
        let rec = g.valid().forward(e.valid().forward(x.clone()));
        images.extend(to_images(x));
        images.extend(to_images(rec));
    }
    let room = 16 - images.len().min(8);
    images.extend(generated(g, seed, device).into_iter().take(room));
    let grid = super::sample_grid(&images, data.image_size(), 4);
    murgan_data::pipeline::write_png(&staged.path().join("samples.png"), &grid)?;
    Ok(())
}

/// 16 samples from fixed noise, the generator in eval mode.
pub(super) fn generated(g: &Generator, seed: u64, device: &Device) -> Vec<Vec<f32>> {
    let z = normal_noise(
        seed,
        usize::MAX,
        7,
        16,
        g.latent_dim(),
        &device.clone().inner(),
    );
    to_images(g.valid().forward(z))
}

impl AnoGanTrainer {
    /// Builds the networks on `device` (autodiff is switched on here), seeded.
    pub fn new(config: AnoGanConfig, device: &Device) -> Result<Self> {
        config.model.validate()?;
        config.train.validate()?;
        let device = device.clone().autodiff();
        let seed = config.train.seed;
        let generator = seeded(config.model.init_generator(&device)?, item_seed(seed, 1));
        let discriminator = seeded(
            config.model.init_discriminator(&device)?,
            item_seed(seed, 2),
        );
        let (opt_g, opt_d) = (config.train.adam(), config.train.adam());
        Ok(Self {
            config,
            device,
            generator,
            discriminator,
            opt_g,
            opt_d,
        })
    }

    /// The generator (eval mode, no autodiff).
    pub fn generator(&self) -> Generator {
        self.generator.valid()
    }

    /// The discriminator (eval mode, no autodiff).
    pub fn discriminator(&self) -> Discriminator {
        self.discriminator.valid()
    }
}

impl Trainer for AnoGanTrainer {
    fn kind(&self) -> ModelKind {
        ModelKind::AnoGan
    }

    fn config_json(&self) -> serde_json::Value {
        to_json(&self.config)
    }

    fn main_score(&self) -> Option<String> {
        self.config.train.main_score.clone()
    }

    fn total_iterations(&self) -> usize {
        self.config.train.iterations
    }

    fn phase(&self, _iteration: usize) -> &'static str {
        "gan"
    }

    fn step(&mut self, iteration: usize, data: &TrainingSet) -> Result<Vec<(&'static str, f32)>> {
        let t = &self.config.train;
        let idx = data.batch_indices(iteration, t.batch_size, t.seed);
        let x = data.tensor(&idx, &self.device);
        let z = normal_noise(
            t.seed,
            iteration,
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
            iteration,
        )?;
        finish_gan(&self.discriminator, t, iteration, data, &self.device);
        Ok(losses)
    }

    fn save(&self, staged: &mut Staged, data: &TrainingSet) -> Result<()> {
        staged.module("generator", &self.generator)?;
        staged.module("discriminator", &self.discriminator)?;
        staged.optimizer("generator", &self.opt_g)?;
        staged.optimizer("discriminator", &self.opt_d)?;
        write_samples(
            staged,
            &self.generator,
            None,
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
        self.opt_g = checkpoint::load_optimizer(dir, "generator", self.config.train.adam())?;
        self.opt_d = checkpoint::load_optimizer(dir, "discriminator", self.config.train.adam())?;
        Ok(())
    }
}
