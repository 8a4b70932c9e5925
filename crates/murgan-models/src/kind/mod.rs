//! What each model kind is, apart from how it is trained: its networks (by [`Role`]) and the
//! configuration recorded in `model.json` (network shapes plus the training settings that
//! produced the weights). Loading, import, scoring and training all read these descriptions;
//! nothing here depends on training.
//!
//! Adding a model kind: a [`ModelKind`] variant with its [`ModelKind::roles`], a config module
//! here, its networks in [`crate::nets`], a [`crate::load::Networks`] variant, a trainer in
//! [`crate::train`] and its scores in murgan-score (docs/architecture.md).

mod alphagan;
mod anogan;
mod fanogan;
mod settings;
mod squid;

use serde::{Deserialize, Serialize};

pub use alphagan::{AlphaGanConfig, DiscriminatorKind, Routing};
pub use anogan::AnoGanConfig;
pub use fanogan::FAnoGanConfig;
pub use settings::TrainConfig;
pub use squid::SquidConfig;

use crate::{ModelError, Result};

/// What every model kind's configuration tells besides its shapes: which kind it describes,
/// its training settings and the length of its run. Serialised whole into `model.json`.
pub trait ModelConfig: Serialize {
    /// The model kind it describes.
    const KIND: ModelKind;
    /// The training settings.
    fn settings(&self) -> &TrainConfig;
    /// Iterations of the whole run (f-AnoGAN: both phases).
    fn total_iterations(&self) -> usize {
        self.settings().iterations
    }
}

impl ModelConfig for AnoGanConfig {
    const KIND: ModelKind = ModelKind::AnoGan;
    fn settings(&self) -> &TrainConfig {
        &self.train
    }
}

impl ModelConfig for AlphaGanConfig {
    const KIND: ModelKind = ModelKind::AlphaGan;
    fn settings(&self) -> &TrainConfig {
        &self.train
    }
}

impl ModelConfig for FAnoGanConfig {
    const KIND: ModelKind = ModelKind::FAnoGan;
    fn settings(&self) -> &TrainConfig {
        &self.train
    }
    fn total_iterations(&self) -> usize {
        self.train.iterations + self.encoder_iterations
    }
}

impl ModelConfig for SquidConfig {
    const KIND: ModelKind = ModelKind::Squid;
    fn settings(&self) -> &TrainConfig {
        &self.train
    }
}

/// A network's role in a model; its [`Role::key`] names its files in a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Generator G.
    Generator,
    /// Image discriminator D.
    Discriminator,
    /// Encoder E.
    Encoder,
    /// Code discriminator C.
    Code,
    /// SQUID's in-painting auto-encoder (encoder, memory queues, student and teacher decoders).
    AutoEncoder,
}

impl Role {
    /// The name of its weights (`KEY.bpk`) and optimiser state (`optim-KEY.bpk`) in a
    /// checkpoint.
    pub fn key(self) -> &'static str {
        match self {
            Role::Generator => "generator",
            Role::Discriminator => "discriminator",
            Role::Encoder => "encoder",
            Role::Code => "code_discriminator",
            Role::AutoEncoder => "autoencoder",
        }
    }

    /// A human name, for messages: `generator (G)`.
    pub fn label(self) -> &'static str {
        match self {
            Role::Generator => "generator (G)",
            Role::Discriminator => "discriminator (D)",
            Role::Encoder => "encoder (E)",
            Role::Code => "code discriminator (C)",
            Role::AutoEncoder => "in-painting auto-encoder (G)",
        }
    }
}

/// Which model a checkpoint holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// A DCGAN trained on normals, scored by latent search.
    AnoGan,
    /// Encoder, generator, image and code discriminators.
    AlphaGan,
    /// A DCGAN plus f-AnoGAN's izi encoder.
    FAnoGan,
    /// SQUID: an in-painting auto-encoder with memory queues, judged by a discriminator.
    Squid,
}

impl ModelKind {
    /// Every model kind, in the order the CLI lists them.
    pub const ALL: [ModelKind; 4] = [
        ModelKind::AnoGan,
        ModelKind::AlphaGan,
        ModelKind::FAnoGan,
        ModelKind::Squid,
    ];

    /// The networks a trained model of this kind holds, in checkpoint order.
    pub fn roles(self) -> &'static [Role] {
        match self {
            ModelKind::AnoGan => &[Role::Generator, Role::Discriminator],
            ModelKind::AlphaGan => &[
                Role::Encoder,
                Role::Generator,
                Role::Discriminator,
                Role::Code,
            ],
            ModelKind::FAnoGan => &[Role::Generator, Role::Discriminator, Role::Encoder],
            ModelKind::Squid => &[Role::AutoEncoder, Role::Discriminator],
        }
    }

    /// `anogan`, `alphagan`, `fanogan` or `squid`.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::AnoGan => "anogan",
            ModelKind::AlphaGan => "alphagan",
            ModelKind::FAnoGan => "fanogan",
            ModelKind::Squid => "squid",
        }
    }
}

impl std::str::FromStr for ModelKind {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace(['-', '_'], "")
            .as_str()
        {
            "anogan" | "dcgan" => Ok(ModelKind::AnoGan),
            "alphagan" => Ok(ModelKind::AlphaGan),
            "fanogan" => Ok(ModelKind::FAnoGan),
            "squid" => Ok(ModelKind::Squid),
            other => Err(ModelError::InvalidConfig(format!(
                "unknown model {other:?}: expected anogan, alphagan, fanogan or squid"
            ))),
        }
    }
}
