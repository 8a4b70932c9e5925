//! SQUID training (Xiang et al., CVPR 2023), after the authors' code: per iteration, with x a
//! batch of normals and x̂ the student's reconstruction,
//! - D minimises BCE(D(x), real) + BCE(D(x̂), fake);
//! - the auto-encoder minimises w_r·mean (x − x̂)² + w_t·mean (x − x̂_teacher)² +
//!   w_d·distillation + w_a·BCE(D(x̂), real), D's verdict taken after D's update;
//! - then the batch's bottleneck vectors are pushed into the memory queues.
//!
//! The memory queues are part of the auto-encoder's weights, so checkpoints hold them and a
//! resumed run continues exactly.

use std::path::Path;

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use murgan_data::seed::item_seed;

use super::dcgan::to_images;
use super::{SquidConfig, Trainer, TrainingSet, bce_logits, scalar};
use crate::Result;
use crate::checkpoint::{self, Staged};
use crate::init::seeded;
use crate::kind::Role;
use crate::nets::{Discriminator, Squid};

/// Trains a SQUID model.
pub struct SquidTrainer {
    config: SquidConfig,
    device: Device,
    autoencoder: Squid,
    discriminator: Discriminator,
    opt_g: ModuleOptimizer,
    opt_d: ModuleOptimizer,
}

impl SquidTrainer {
    /// Builds the networks on `device` (autodiff switched on), seeded.
    pub fn new(config: SquidConfig, device: &Device) -> Result<Self> {
        config.validate()?;
        let device = device.clone().autodiff();
        let seed = config.train.seed;
        let autoencoder = seeded(config.net.init(&device)?, item_seed(seed, 5));
        let discriminator = seeded(
            config.discriminator().init_discriminator(&device)?,
            item_seed(seed, 2),
        );
        let (opt_g, opt_d) = (config.train.adam(), config.train.adam());
        Ok(Self {
            config,
            device,
            autoencoder,
            discriminator,
            opt_g,
            opt_d,
        })
    }

    /// The auto-encoder and the discriminator (eval mode, no autodiff).
    pub fn networks(&self) -> (Squid, Discriminator) {
        (self.autoencoder.valid(), self.discriminator.valid())
    }
}

impl Trainer for SquidTrainer {
    type Config = SquidConfig;

    fn config(&self) -> &SquidConfig {
        &self.config
    }

    fn step(&mut self, it: usize, data: &TrainingSet) -> Result<Vec<(&'static str, f32)>> {
        let t = self.config.train.clone();
        let c = &self.config;
        let x = data.batch(it, t.batch_size, t.seed, t.jitter, &self.device);
        let out = self.autoencoder.forward_train(x.clone());

        // Discriminator: real images against the student's reconstructions.
        let (d_real, _) = self.discriminator.forward(x.clone());
        let (d_fake, _) = self
            .discriminator
            .forward(out.reconstruction.clone().detach());
        let acc_real = burn::tensor::activation::sigmoid(d_real.clone()).mean();
        let d_loss = bce_logits(d_real, true) + bce_logits(d_fake, false);
        let gd = GradientsParams::from_grads(d_loss.backward(), &self.discriminator);
        self.discriminator = self.opt_d.step(t.lr, self.discriminator.clone(), gd);

        // Auto-encoder: reconstruction, teacher, distillation and the updated D's verdict.
        let rec = (out.reconstruction.clone() - x.clone())
            .powi_scalar(2)
            .mean();
        let teacher = (out.teacher - x).powi_scalar(2).mean();
        // D as a constant here (its weight gradients would be thrown away); the copy shares its
        // BatchNorm running statistics.
        let (d_rec, _) = self
            .discriminator
            .clone()
            .no_grad()
            .forward(out.reconstruction);
        let adv = bce_logits(d_rec, true);
        let g_loss = rec.clone() * c.recon_weight
            + teacher.clone() * c.teacher_weight
            + out.distillation.clone() * c.distill_weight
            + adv.clone() * c.adversarial_weight;
        let mut grads = g_loss.backward();
        let gg = GradientsParams::from_module(&mut grads, &self.autoencoder);
        self.autoencoder = self.opt_g.step(t.lr, self.autoencoder.clone(), gg);
        self.autoencoder = self.autoencoder.clone().enqueue(out.queries);

        Ok(vec![
            ("rec_l2", scalar(rec, it, "rec_l2")?),
            ("teacher_l2", scalar(teacher, it, "teacher_l2")?),
            ("distill", scalar(out.distillation, it, "distill")?),
            ("adv", scalar(adv, it, "adv")?),
            ("d_loss", scalar(d_loss, it, "d_loss")?),
            ("d_real", scalar(acc_real, it, "d_real")?),
        ])
    }

    fn save(&self, staged: &mut Staged, data: &TrainingSet) -> Result<()> {
        staged.module(Role::AutoEncoder.key(), &self.autoencoder)?;
        staged.module(Role::Discriminator.key(), &self.discriminator)?;
        staged.optimizer(Role::AutoEncoder.key(), &self.opt_g)?;
        staged.optimizer(Role::Discriminator.key(), &self.opt_d)?;
        // samples.png: 8 training images and their reconstructions, eval mode.
        let idx: Vec<usize> = (0..data.len().min(8)).collect();
        let x = data.tensor(&idx, &self.device.clone().inner());
        let rec = self.autoencoder.valid().forward(x.clone());
        let sections = [
            ("real training images", to_images(x)),
            ("their reconstructions (in-painted)", to_images(rec)),
        ];
        let sheet = super::sample_sheet(&sections, data.image_size(), 4);
        murgan_data::image::write_png(&staged.path().join("samples.png"), &sheet)?;
        Ok(())
    }

    fn restore(&mut self, dir: &Path) -> Result<()> {
        let (g, d) = (Role::AutoEncoder.key(), Role::Discriminator.key());
        self.autoencoder = checkpoint::load_module(dir, g, self.autoencoder.clone())?;
        self.discriminator = checkpoint::load_module(dir, d, self.discriminator.clone())?;
        self.opt_g = checkpoint::load_optimizer(dir, g, self.config.train.adam())?;
        self.opt_d = checkpoint::load_optimizer(dir, d, self.config.train.adam())?;
        Ok(())
    }
}
