//! Named training settings: `quick` (minutes on a 2-core CPU), `xray` (recommended for real
//! radiographs, chosen on a validation split of real chest X-rays; at most 30 minutes a model on
//! a 2-core CPU), `xray-gpu` (the same, larger and longer) and `paper` (the original study's
//! settings, meant for a GPU).

use burn::prelude::*;

use super::{SquidConfig, TrainConfig};
use crate::nets::{DcganConfig, SquidNetConfig};
use crate::{ModelError, Result};

/// Network shape and training length in one place; every field can be overridden.
#[derive(Config, Debug, PartialEq)]
pub struct Preset {
    /// Side N of the N×N images.
    pub image_size: usize,
    /// Latent size.
    pub latent_dim: usize,
    /// Network width (ngf = ndf).
    pub width: usize,
    /// Images per batch.
    pub batch_size: usize,
    /// GAN iterations.
    pub iterations: usize,
    /// f-AnoGAN encoder iterations.
    pub encoder_iterations: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Checkpoint interval.
    pub checkpoint_every: usize,
    /// Real batches that refresh the discriminator's BatchNorm statistics after the GAN's last
    /// iteration (0: off; see [`TrainConfig::bn_refresh_batches`]).
    #[config(default = 0)]
    pub bn_refresh_batches: usize,
    /// Histogram-equalise the images (in training and, through `model.json`, at scoring time).
    #[config(default = false)]
    pub equalize: bool,
    /// Declare the discriminator's judgement (`d` = −D(x) logit) the main score of the models
    /// that have one (f-AnoGAN, alpha-GAN); otherwise their scoring method's own score.
    #[config(default = false)]
    pub discriminator_score: bool,
    /// BatchNorm in f-AnoGAN's critic (DCGAN's discriminator); `false`: no normalisation, as
    /// in f-AnoGAN's own WGAN critic. AnoGAN and alpha-GAN keep DCGAN's BatchNorm.
    #[config(default = true)]
    pub fanogan_disc_batch_norm: bool,
    /// f-AnoGAN's declared main score, ahead of `discriminator_score` (`None`: that rule).
    #[config(default = "None")]
    pub fanogan_main_score: Option<String>,
    /// SQUID's declared main score (`None`: its own, −D(x̂)).
    #[config(default = "None")]
    pub squid_main_score: Option<String>,
}

impl Preset {
    /// Small and fast: 64×64, width 16, latent 64, batch 32, 500 + 500 iterations. One
    /// iteration took 0.33 s on the 2-core development machine (release build), so a model
    /// trains in about three minutes.
    pub fn quick() -> Self {
        Self {
            image_size: 64,
            latent_dim: 64,
            width: 16,
            batch_size: 32,
            iterations: 500,
            encoder_iterations: 500,
            lr: 2e-4,
            checkpoint_every: 250,
            bn_refresh_batches: 0,
            equalize: false,
            discriminator_score: false,
            fanogan_disc_batch_norm: true,
            fanogan_main_score: None,
            squid_main_score: None,
        }
    }

    /// The original study's settings (for a GPU): 64×64, latent 128, width 64, batch 128,
    /// Adam lr 1e-4 with β = (0.5, 0.999); 10,000 + 10,000 iterations.
    pub fn paper() -> Self {
        Self {
            image_size: 64,
            latent_dim: 128,
            width: 64,
            batch_size: 128,
            iterations: 10_000,
            encoder_iterations: 10_000,
            lr: 1e-4,
            checkpoint_every: 1000,
            bn_refresh_batches: 0,
            equalize: false,
            discriminator_score: false,
            fanogan_disc_batch_norm: true,
            fanogan_main_score: None,
            squid_main_score: None,
        }
    }

    /// Recommended for real radiographs (2-core CPU): histogram equalisation; for alpha-GAN the
    /// discriminator's BatchNorm statistics refreshed on real images and its judgement as the
    /// main score; for f-AnoGAN a critic without BatchNorm; for f-AnoGAN and SQUID the
    /// `combined` score (the coarse residual of the reconstruction and the discriminator's
    /// judgement of the image, each standardised on the training normals) as the main score —
    /// the choices that separated normal from abnormal chest X-rays best on a validation split
    /// carved from the training data (docs/results.md). Fixed length: the same iterations
    /// whatever the data set's size.
    pub fn xray() -> Self {
        Self {
            image_size: 64,
            latent_dim: 64,
            width: 16,
            batch_size: 32,
            iterations: 3000,
            encoder_iterations: 1500,
            lr: 2e-4,
            checkpoint_every: 500,
            bn_refresh_batches: 64,
            equalize: true,
            discriminator_score: true,
            fanogan_disc_batch_norm: false,
            fanogan_main_score: Some("combined".to_string()),
            squid_main_score: Some("combined".to_string()),
        }
    }

    /// `xray` for a lent GPU: 128×128, width 64, latent 128, longer.
    pub fn xray_gpu() -> Self {
        Self {
            image_size: 128,
            latent_dim: 128,
            width: 64,
            batch_size: 64,
            iterations: 10_000,
            encoder_iterations: 5000,
            checkpoint_every: 1000,
            ..Self::xray()
        }
    }

    /// `quick`, `xray`, `xray-gpu` or `paper`.
    pub fn named(name: &str) -> Result<Self> {
        match name.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "quick" => Ok(Self::quick()),
            "xray" => Ok(Self::xray()),
            "xray-gpu" => Ok(Self::xray_gpu()),
            "paper" => Ok(Self::paper()),
            other => Err(ModelError::InvalidConfig(format!(
                "unknown preset {other:?}: expected quick, xray, xray-gpu or paper"
            ))),
        }
    }

    /// The component declared the main score of a `kind` model trained with this preset.
    pub fn main_score(&self, kind: crate::ModelKind) -> Option<String> {
        if kind == crate::ModelKind::FAnoGan && self.fanogan_main_score.is_some() {
            return self.fanogan_main_score.clone();
        }
        if kind == crate::ModelKind::Squid {
            return self.squid_main_score.clone();
        }
        let judged = matches!(kind, crate::ModelKind::FAnoGan | crate::ModelKind::AlphaGan);
        (self.discriminator_score && judged).then(|| "d".to_string())
    }

    /// The DCGAN shape (with DCGAN's BatchNorm in the discriminator).
    pub fn model(&self) -> DcganConfig {
        DcganConfig::new()
            .with_image_size(self.image_size)
            .with_latent_dim(self.latent_dim)
            .with_gen_width(self.width)
            .with_disc_width(self.width)
    }

    /// The DCGAN shape of a `kind` model: f-AnoGAN's critic normalised as the preset says.
    pub fn model_for(&self, kind: crate::ModelKind) -> DcganConfig {
        let batch_norm = kind != crate::ModelKind::FAnoGan || self.fanogan_disc_batch_norm;
        self.model().with_disc_batch_norm(batch_norm)
    }

    /// A SQUID model of this size: a 2 × 2 grid of patches, 200-slot memory queues read
    /// through their top 5 (the authors' chest X-ray settings), the discriminator as wide as
    /// the encoder and without BatchNorm; the preset's training settings with `seed`.
    pub fn squid(&self, seed: u64) -> SquidConfig {
        let net = SquidNetConfig::new()
            .with_image_size(self.image_size)
            .with_width(self.width);
        SquidConfig::new(
            net,
            self.train(seed)
                .with_main_score(self.main_score(crate::ModelKind::Squid)),
        )
        .with_disc_width(self.width)
    }

    /// The training settings (β = (0.5, 0.999)) with `seed`.
    pub fn train(&self, seed: u64) -> TrainConfig {
        TrainConfig::new()
            .with_batch_size(self.batch_size)
            .with_iterations(self.iterations)
            .with_lr(self.lr)
            .with_checkpoint_every(self.checkpoint_every)
            .with_bn_refresh_batches(self.bn_refresh_batches)
            .with_seed(seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModelKind;

    #[test]
    fn presets_by_name_and_their_declared_main_scores() {
        assert_eq!(Preset::named("xray").ok(), Some(Preset::xray()));
        assert_eq!(Preset::named(" XRAY_gpu ").ok(), Some(Preset::xray_gpu()));
        assert!(Preset::named("fast").is_err());
        let x = Preset::xray();
        assert!(x.equalize && x.bn_refresh_batches > 0);
        assert_eq!(x.train(3).bn_refresh_batches, x.bn_refresh_batches);
        assert_eq!(
            x.main_score(ModelKind::FAnoGan).as_deref(),
            Some("combined")
        );
        assert!(!x.model_for(ModelKind::FAnoGan).disc_batch_norm);
        assert!(x.model_for(ModelKind::AlphaGan).disc_batch_norm);
        assert_eq!(x.squid(0).train.main_score.as_deref(), Some("combined"));
        assert_eq!(Preset::quick().squid(0).train.main_score, None);
        assert!(
            Preset::quick()
                .model_for(ModelKind::FAnoGan)
                .disc_batch_norm
        );
        assert_eq!(x.main_score(ModelKind::AlphaGan).as_deref(), Some("d"));
        // AnoGAN's latent search has no discriminator-logit component.
        assert_eq!(x.main_score(ModelKind::AnoGan), None);
        assert_eq!(Preset::quick().main_score(ModelKind::FAnoGan), None);
        assert!(!Preset::quick().equalize);
    }
}
