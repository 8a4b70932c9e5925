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
use murgan_data::seed::item_seed;

use super::dcgan::write_samples;
use super::{AlphaGanConfig, Routing, Trainer, TrainingSet, bce_logits, normal_noise, scalar};
use crate::Result;
use crate::checkpoint::{self, Staged};
use crate::init::seeded;
use crate::kind::Role;
use crate::nets::{CodeDiscriminator, Encoder, Generator, ImageDiscriminator};

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

/// The three losses of one iteration. Each is its own graph; an update takes from it the
/// gradients of the networks it trains only, and the inputs of the discriminators' losses are
/// detached, so their gradients never reach E or G.
struct Losses {
    /// E and G: λ·‖x − x̂‖₁ + BCE(D(x̂), real) + BCE(D(x̃), real) + BCE(C(ẑ), prior).
    ge: Tensor<1>,
    /// D: BCE(D(x), real) + BCE(D(x̂), fake) + BCE(D(x̃), fake).
    d: Tensor<1>,
    /// C: BCE(C(z), prior) + BCE(C(ẑ), encoded).
    c: Tensor<1>,
    /// The L1 reconstruction error.
    rec: Tensor<1>,
    /// D's mean probability of "real" on the real batch.
    acc_real: Tensor<1>,
}

impl AlphaGanTrainer {
    /// Every loss of an iteration on the batch `x` with prior draws `z`, computed with the
    /// networks as they are (the order of the forward passes is the order of the updates').
    fn losses(&self, x: Tensor<4>, z: Tensor<2>) -> Losses {
        // Encoder and generator.
        let z_enc = self.encoder.forward(x.clone());
        let x_rec = self.generator.forward(z_enc.clone());
        let x_gen = self.generator.forward(z.clone());
        let rec = (x.clone() - x_rec.clone()).abs().mean();
        // Paper routing: D judges a reconstruction from the detached code, so its verdict's
        // gradient reaches G but stops before E.
        let judged = match self.config.routing {
            Routing::Joint => x_rec.clone(),
            Routing::Paper => self.generator.forward(z_enc.clone().detach()),
        };
        // D and C as constants for E's and G's update (their weight gradients would be computed
        // and thrown away); the copies share D's BatchNorm running statistics.
        let (d_fixed, c_fixed) = (
            self.discriminator.clone().no_grad(),
            self.code.clone().no_grad(),
        );
        let (d_rec, _) = d_fixed.forward(judged);
        let (d_gen, _) = d_fixed.forward(x_gen.clone());
        let ge = rec.clone() * self.config.lambda
            + bce_logits(d_rec, true)
            + bce_logits(d_gen, true)
            + bce_logits(c_fixed.forward(z_enc.clone()), true);

        // Image discriminator: real vs reconstructed and sampled.
        let (d_real, _) = self.discriminator.forward(x);
        let (d_rec, _) = self.discriminator.forward(x_rec.detach());
        let (d_gen, _) = self.discriminator.forward(x_gen.detach());
        let acc_real = burn::tensor::activation::sigmoid(d_real.clone()).mean();
        let d = bce_logits(d_real, true) + bce_logits(d_rec, false) + bce_logits(d_gen, false);

        // Code discriminator: prior vs encoded codes.
        let c = bce_logits(self.code.forward(z), true)
            + bce_logits(self.code.forward(z_enc.detach()), false);
        Losses {
            ge,
            d,
            c,
            rec,
            acc_real,
        }
    }
}

impl Trainer for AlphaGanTrainer {
    type Config = AlphaGanConfig;

    fn config(&self) -> &AlphaGanConfig {
        &self.config
    }

    fn step(&mut self, it: usize, data: &TrainingSet) -> Result<Vec<(&'static str, f32)>> {
        let t = self.config.train.clone();
        let x = data.batch(it, t.batch_size, t.seed, t.jitter, &self.device);
        let z = normal_noise(
            t.seed,
            it,
            0,
            x.dims()[0],
            self.config.model.latent_dim,
            &self.device,
        );

        let l = self.losses(x, z);
        let mut grads = l.ge.backward();
        let ge = GradientsParams::from_module(&mut grads, &self.encoder);
        let gg = GradientsParams::from_module(&mut grads, &self.generator);
        self.encoder = self.opt_e.step(t.lr, self.encoder.clone(), ge);
        self.generator = self.opt_g.step(t.lr, self.generator.clone(), gg);
        let gd = GradientsParams::from_grads(l.d.backward(), &self.discriminator);
        self.discriminator = self.opt_d.step(t.lr, self.discriminator.clone(), gd);
        let gc = GradientsParams::from_grads(l.c.backward(), &self.code);
        self.code = self.opt_c.step(t.lr, self.code.clone(), gc);
        super::refresh_after_last_iteration(&self.discriminator, it, data, &t, &self.device);
        let (rec, loss_ge, loss_d, loss_c, acc_real) = (l.rec, l.ge, l.d, l.c, l.acc_real);

        Ok(vec![
            ("rec_l1", scalar(rec, it, "rec_l1")?),
            ("ge_loss", scalar(loss_ge, it, "ge_loss")?),
            ("d_loss", scalar(loss_d, it, "d_loss")?),
            ("c_loss", scalar(loss_c, it, "c_loss")?),
            ("d_real", scalar(acc_real, it, "d_real")?),
        ])
    }

    fn save(&self, staged: &mut Staged, data: &TrainingSet) -> Result<()> {
        staged.module(Role::Encoder.key(), &self.encoder)?;
        staged.module(Role::Generator.key(), &self.generator)?;
        staged.module(Role::Discriminator.key(), &self.discriminator)?;
        staged.module(Role::Code.key(), &self.code)?;
        for (role, opt) in self.optimizers() {
            staged.optimizer(role.key(), opt)?;
        }
        write_samples(
            staged,
            &self.generator,
            Some(&self.encoder),
            data,
            self.config.train.seed,
            &self.device,
        )
    }

    fn restore(&mut self, dir: &Path) -> Result<()> {
        let key = |r: Role| r.key();
        self.encoder = checkpoint::load_module(dir, key(Role::Encoder), self.encoder.clone())?;
        self.generator =
            checkpoint::load_module(dir, key(Role::Generator), self.generator.clone())?;
        self.discriminator =
            checkpoint::load_module(dir, key(Role::Discriminator), self.discriminator.clone())?;
        self.code = checkpoint::load_module(dir, key(Role::Code), self.code.clone())?;
        let t = &self.config.train;
        self.opt_e = checkpoint::load_optimizer(dir, key(Role::Encoder), t.adam())?;
        self.opt_g = checkpoint::load_optimizer(dir, key(Role::Generator), t.adam())?;
        self.opt_d = checkpoint::load_optimizer(dir, key(Role::Discriminator), t.adam())?;
        self.opt_c = checkpoint::load_optimizer(dir, key(Role::Code), t.adam())?;
        Ok(())
    }
}

impl AlphaGanTrainer {
    /// The optimisers, by the role of the network each trains.
    fn optimizers(&self) -> [(Role, &ModuleOptimizer); 4] {
        [
            (Role::Encoder, &self.opt_e),
            (Role::Generator, &self.opt_g),
            (Role::Discriminator, &self.opt_d),
            (Role::Code, &self.opt_c),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::TrainConfig;
    use crate::nets::{CodeDiscriminatorConfig, DcganConfig};

    /// A 16 × 16 alpha-GAN (`adjust` changes its config), a batch of 3 images and prior draws.
    fn tiny(
        adjust: impl FnOnce(AlphaGanConfig) -> AlphaGanConfig,
    ) -> (AlphaGanTrainer, Tensor<4>, Tensor<2>) {
        let model = DcganConfig::new()
            .with_image_size(16)
            .with_latent_dim(4)
            .with_gen_width(2)
            .with_disc_width(2);
        let code = CodeDiscriminatorConfig::new()
            .with_latent_dim(4)
            .with_hidden(4);
        let config = adjust(AlphaGanConfig::new(
            model,
            TrainConfig::new().with_batch_size(3),
            code,
        ));
        let t = AlphaGanTrainer::new(config, &Device::flex()).unwrap_or_else(|e| panic!("{e}"));
        let x = Tensor::<4>::ones([3, 1, 16, 16], &t.device).mul_scalar(0.3);
        let z = normal_noise(1, 0, 0, 3, 4, &t.device);
        (t, x, z)
    }

    /// Which of the four networks a loss's gradients reach.
    fn reached(t: &AlphaGanTrainer, loss: Tensor<1>) -> [bool; 4] {
        let mut g = loss.backward();
        [
            !GradientsParams::from_module(&mut g, &t.encoder).is_empty(),
            !GradientsParams::from_module(&mut g, &t.generator).is_empty(),
            !GradientsParams::from_module(&mut g, &t.discriminator).is_empty(),
            !GradientsParams::from_module(&mut g, &t.code).is_empty(),
        ]
    }

    #[test]
    fn each_loss_reaches_the_networks_it_trains() {
        let (t, x, z) = tiny(|c| c);
        let l = t.losses(x, z);
        // E and G's loss depends on all four networks (D and C judge its outputs), but D and C
        // take part as constants: no weight gradient is computed for them there.
        assert_eq!(reached(&t, l.ge), [true, true, false, false]);
        // The discriminators' losses see detached reconstructions, samples and codes.
        assert_eq!(reached(&t, l.d), [false, false, true, false]);
        assert_eq!(reached(&t, l.c), [false, false, false, true]);
    }

    /// E's gradient of a loss, as host values.
    fn encoder_grad(t: &AlphaGanTrainer, loss: Tensor<1>) -> Vec<f32> {
        let mut grads = loss.backward();
        let g = GradientsParams::from_module(&mut grads, &t.encoder);
        let mut out = Vec::new();
        struct Collect<'a>(&'a GradientsParams, &'a mut Vec<f32>);
        impl burn::module::ModuleVisitor for Collect<'_> {
            fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
                if let Some(g) = self.0.get::<D>(param.id) {
                    self.1.extend(
                        g.into_data()
                            .convert::<f32>()
                            .try_to_vec::<f32>()
                            .unwrap_or_default(),
                    );
                }
            }
        }
        t.encoder.visit(&mut Collect(&g, &mut out));
        out
    }

    #[test]
    fn paper_routing_keeps_ds_verdict_away_from_the_encoder() {
        for (routing, same) in [(Routing::Paper, true), (Routing::Joint, false)] {
            // λ = 0: E's share of the loss is then the code term alone under the paper's routing.
            let (t, x, z) = tiny(|c| c.with_lambda(0.0).with_routing(routing));
            let full = encoder_grad(&t, t.losses(x.clone(), z).ge);
            let code_only =
                encoder_grad(&t, bce_logits(t.code.forward(t.encoder.forward(x)), true));
            let differ = full
                .iter()
                .zip(&code_only)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert_eq!(
                differ < 1e-7,
                same,
                "{routing:?}: E's gradients differ by {differ}"
            );
        }
    }
}
