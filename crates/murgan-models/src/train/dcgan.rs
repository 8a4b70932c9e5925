//! The DCGAN both AnoGAN and f-AnoGAN's first phase train: its two networks with their
//! optimisers, one update (non-saturating BCE losses), saving and restoring, and the sample
//! grids every trainer writes into its checkpoints.

use std::path::Path;

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use murgan_data::seed::item_seed;

use super::{TrainConfig, TrainingSet, bce_logits, normal_noise, scalar};
use crate::Result;
use crate::checkpoint::{self, Staged};
use crate::init::seeded;
use crate::kind::Role;
use crate::nets::{DcganConfig, Discriminator, Encoder, Generator};

/// A DCGAN in training: G and D on the autodiff device, with their Adam states.
pub(super) struct Dcgan {
    pub generator: Generator,
    pub discriminator: Discriminator,
    opt_g: ModuleOptimizer,
    opt_d: ModuleOptimizer,
}

impl Dcgan {
    /// G and D seeded from `train.seed` (streams 1 and 2) on `device` (autodiff).
    pub fn new(model: &DcganConfig, train: &TrainConfig, device: &Device) -> Result<Self> {
        let seed = train.seed;
        Ok(Self {
            generator: seeded(model.init_generator(device)?, item_seed(seed, 1)),
            discriminator: seeded(model.init_discriminator(device)?, item_seed(seed, 2)),
            opt_g: train.adam(),
            opt_d: train.adam(),
        })
    }

    /// Training iteration `iteration`: its seeded batch of real images and noise, one update
    /// of D then G, and after the last GAN iteration D's BatchNorm refresh
    /// ([`super::refresh_after_last_iteration`]).
    pub fn step(
        &mut self,
        iteration: usize,
        data: &TrainingSet,
        t: &TrainConfig,
        device: &Device,
    ) -> Result<Vec<(&'static str, f32)>> {
        let x = data.batch(iteration, t.batch_size, t.seed, t.jitter, device);
        let z = normal_noise(
            t.seed,
            iteration,
            0,
            x.dims()[0],
            self.generator.latent_dim(),
            device,
        );
        let losses = self.update(x, z, t.lr, iteration)?;
        super::refresh_after_last_iteration(&self.discriminator, iteration, data, t, device);
        Ok(losses)
    }

    /// One DCGAN update (D then G) on `x` with noise `z`.
    fn update(
        &mut self,
        x: Tensor<4>,
        z: Tensor<2>,
        lr: f64,
        iteration: usize,
    ) -> Result<Vec<(&'static str, f32)>> {
        let (g, d) = (&mut self.generator, &mut self.discriminator);
        // One generator pass serves both updates, as in PyTorch's DCGAN tutorial: detached for
        // the discriminator's, tracked for the generator's. Between the two only the
        // discriminator changes, so a second pass would give the same images (BatchNorm
        // normalises by the same batch statistics) and only count them into the running
        // statistics twice.
        let fake = g.forward(z);
        let (real_logit, _) = d.forward(x);
        let (fake_logit, _) = d.forward(fake.clone().detach());
        let d_real = burn::tensor::activation::sigmoid(real_logit.clone()).mean();
        let d_fake = burn::tensor::activation::sigmoid(fake_logit.clone()).mean();
        let loss_d = bce_logits(real_logit, true) + bce_logits(fake_logit, false);
        let grads = GradientsParams::from_grads(loss_d.backward(), &*d);
        *d = self.opt_d.step(lr, d.clone(), grads);

        // D as a constant for G's update: its weight gradients would be computed and thrown
        // away. The copy shares D's BatchNorm running statistics, so they are updated as before.
        let (logit, _) = d.clone().no_grad().forward(fake);
        let loss_g = bce_logits(logit, true);
        let grads = GradientsParams::from_grads(loss_g.backward(), &*g);
        *g = self.opt_g.step(lr, g.clone(), grads);
        Ok(vec![
            ("d_loss", scalar(loss_d, iteration, "d_loss")?),
            ("g_loss", scalar(loss_g, iteration, "g_loss")?),
            ("d_real", scalar(d_real, iteration, "d_real")?),
            ("d_fake", scalar(d_fake, iteration, "d_fake")?),
        ])
    }

    /// Writes G's and D's weights and optimiser states into a checkpoint being assembled.
    pub fn save(&self, staged: &mut Staged) -> Result<()> {
        staged.module(Role::Generator.key(), &self.generator)?;
        staged.module(Role::Discriminator.key(), &self.discriminator)?;
        staged.optimizer(Role::Generator.key(), &self.opt_g)?;
        staged.optimizer(Role::Discriminator.key(), &self.opt_d)
    }

    /// Restores G, D and their optimiser states from a checkpoint folder.
    pub fn restore(&mut self, dir: &Path, t: &TrainConfig) -> Result<()> {
        let (g, d) = (Role::Generator.key(), Role::Discriminator.key());
        self.generator = checkpoint::load_module(dir, g, self.generator.clone())?;
        self.discriminator = checkpoint::load_module(dir, d, self.discriminator.clone())?;
        self.opt_g = checkpoint::load_optimizer(dir, g, t.adam())?;
        self.opt_d = checkpoint::load_optimizer(dir, d, t.adam())?;
        Ok(())
    }
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

/// Writes a checkpoint's `samples.png`, labelled and enlarged to be readable: with an encoder,
/// 4 training images ("real"), their reconstructions G(E(x)) in the same order, and 8 samples
/// from the prior; without, 16 samples. Eval mode throughout.
pub(super) fn write_samples(
    staged: &Staged,
    g: &Generator,
    encoder: Option<&Encoder>,
    data: &TrainingSet,
    seed: u64,
    device: &Device,
) -> Result<()> {
    let mut sections = Vec::new();
    let mut samples = generated(g, seed, device);
    if let Some(e) = encoder {
        let idx: Vec<usize> = (0..data.len().min(4)).collect();
        let x = data.tensor(&idx, &device.clone().inner());
        let rec = g.valid().forward(e.valid().forward(x.clone()));
        sections.push(("real training images", to_images(x)));
        sections.push(("their reconstructions G(E(x))", to_images(rec)));
        samples.truncate(8);
    }
    sections.push(("samples G(z) from the prior", samples));
    let sheet = super::sample_sheet(&sections, data.image_size(), 4);
    murgan_data::image::write_png(&staged.path().join("samples.png"), &sheet)?;
    Ok(())
}

/// 16 samples from fixed noise, the generator in eval mode.
fn generated(g: &Generator, seed: u64, device: &Device) -> Vec<Vec<f32>> {
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
