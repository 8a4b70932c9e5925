//! Training settings shared by every model kind, recorded in `model.json`.

use burn::prelude::*;

use crate::{ModelError, Result};

/// Settings shared by every trainer.
#[derive(Config, Debug, PartialEq)]
pub struct TrainConfig {
    /// Images per batch.
    #[config(default = 64)]
    pub batch_size: usize,
    /// Training iterations (for f-AnoGAN: of each phase).
    #[config(default = 2000)]
    pub iterations: usize,
    /// Adam learning rate.
    #[config(default = 2e-4)]
    pub lr: f64,
    /// Adam β₁ (0.5 as in DCGAN).
    #[config(default = 0.5)]
    pub beta1: f64,
    /// Adam β₂.
    #[config(default = 0.999)]
    pub beta2: f64,
    /// Adam ε, PyTorch's default (Burn's own default is 1e-5, which damps small gradients).
    #[config(default = 1e-8)]
    pub epsilon: f64,
    /// Seed of initialisation, batches and noise.
    #[config(default = 0)]
    pub seed: u64,
    /// Write a checkpoint every this many iterations (and at the end).
    #[config(default = 500)]
    pub checkpoint_every: usize,
    /// After the last GAN iteration, run the image discriminator (DCGAN's, or alpha-GAN's D)
    /// over this many batches of real training images (nothing trained) so that its BatchNorm
    /// running statistics, which eval mode uses at scoring time, describe real images rather
    /// than the mostly generated batches of training. 0: off.
    #[config(default = 0)]
    pub bn_refresh_batches: usize,
    /// The score component declared the model's main anomaly score (written to `model.json`;
    /// `None`: the scoring method's own score). Fixed before training, never after evaluation.
    pub main_score: Option<String>,
    /// Random shift and zoom of every training image (`None`: the stored pixels). Training
    /// only; scoring never jitters.
    #[config(default = "None")]
    pub jitter: Option<murgan_data::Jitter>,
}

impl TrainConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if self.batch_size == 0 || self.iterations == 0 || self.checkpoint_every == 0 {
            return Err(ModelError::InvalidConfig(
                "batch size, iterations and checkpoint interval must be positive".into(),
            ));
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(ModelError::InvalidConfig(format!(
                "learning rate {}",
                self.lr
            )));
        }
        if !(self.epsilon > 0.0 && self.epsilon.is_finite()) {
            return Err(ModelError::InvalidConfig(format!(
                "Adam epsilon {}",
                self.epsilon
            )));
        }
        if let Some(j) = self.jitter {
            j.validate()
                .map_err(|e| ModelError::InvalidConfig(e.to_string()))?;
        }
        Ok(())
    }

    /// Adam with this config's betas and ε.
    pub fn adam(&self) -> burn::optim::ModuleOptimizer {
        burn::optim::AdamConfig::new()
            .with_beta_1(self.beta1 as f32)
            .with_beta_2(self.beta2 as f32)
            .with_epsilon(self.epsilon as f32)
            .init()
    }
}
