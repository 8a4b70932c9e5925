//! Loading a trained model for scoring: reads `model.json`, rebuilds the networks its config
//! describes, loads their weights and puts them in eval mode (BatchNorm on its running
//! statistics), on a plain (non-autodiff) device.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::prelude::*;

use crate::checkpoint::{self, ModelKind, ModelMeta, Staged};
use crate::kind::{AlphaGanConfig, AnoGanConfig, FAnoGanConfig, Role, SquidConfig};
use crate::nets::{
    CodeDiscriminator, Discriminator, Encoder, Generator, ImageDiscriminator, Squid,
};
use crate::{ModelError, Result};

/// The networks of a trained model, in eval mode.
// One value per loaded model: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Networks {
    /// AnoGAN: a DCGAN.
    AnoGan {
        /// Generator.
        generator: Generator,
        /// Discriminator (its feature layer drives the search's discrimination loss).
        discriminator: Discriminator,
    },
    /// alpha-GAN's four networks.
    AlphaGan {
        /// Encoder E.
        encoder: Encoder,
        /// Generator G.
        generator: Generator,
        /// Image discriminator D.
        discriminator: ImageDiscriminator,
        /// Code discriminator C.
        code: CodeDiscriminator,
    },
    /// f-AnoGAN: a DCGAN plus the izi encoder.
    FAnoGan {
        /// Generator.
        generator: Generator,
        /// Discriminator.
        discriminator: Discriminator,
        /// The izi encoder (`None` while the checkpoint is still in the GAN phase).
        encoder: Option<Encoder>,
        /// Weight κ of the feature residual in the izi score.
        kappa: f64,
    },
    /// SQUID: the in-painting auto-encoder (with its memory queues) and its discriminator.
    Squid {
        /// The in-painting auto-encoder.
        autoencoder: Squid,
        /// The discriminator that judges its reconstructions.
        discriminator: Discriminator,
    },
}

/// A checkpoint loaded for scoring.
#[derive(Debug, Clone)]
pub struct LoadedModel {
    /// The checkpoint folder.
    pub dir: PathBuf,
    /// Its `model.json`.
    pub meta: ModelMeta,
    /// Its networks, in eval mode.
    pub networks: Networks,
}

impl Networks {
    /// The same networks in eval mode on the plain device: no autodiff, BatchNorm on its
    /// running statistics. Idempotent; what scoring calls on whatever it is given.
    pub fn valid(&self) -> Networks {
        match self {
            Networks::AnoGan {
                generator,
                discriminator,
            } => Networks::AnoGan {
                generator: generator.valid(),
                discriminator: discriminator.valid(),
            },
            Networks::AlphaGan {
                encoder,
                generator,
                discriminator,
                code,
            } => Networks::AlphaGan {
                encoder: encoder.valid(),
                generator: generator.valid(),
                discriminator: discriminator.valid(),
                code: code.valid(),
            },
            Networks::FAnoGan {
                generator,
                discriminator,
                encoder,
                kappa,
            } => Networks::FAnoGan {
                generator: generator.valid(),
                discriminator: discriminator.valid(),
                encoder: encoder.as_ref().map(Module::valid),
                kappa: *kappa,
            },
            Networks::Squid {
                autoencoder,
                discriminator,
            } => Networks::Squid {
                autoencoder: autoencoder.valid(),
                discriminator: discriminator.valid(),
            },
        }
    }
}

impl Networks {
    /// Writes every network's weights into a checkpoint being assembled, each under its
    /// [`Role::key`] (an f-AnoGAN still in its GAN phase has no encoder to write).
    pub fn save(&self, staged: &mut Staged) -> Result<()> {
        match self {
            Networks::AnoGan {
                generator,
                discriminator,
            } => {
                staged.module(Role::Generator.key(), generator)?;
                staged.module(Role::Discriminator.key(), discriminator)
            }
            Networks::AlphaGan {
                encoder,
                generator,
                discriminator,
                code,
            } => {
                staged.module(Role::Encoder.key(), encoder)?;
                staged.module(Role::Generator.key(), generator)?;
                staged.module(Role::Discriminator.key(), discriminator)?;
                staged.module(Role::Code.key(), code)
            }
            Networks::FAnoGan {
                generator,
                discriminator,
                encoder,
                ..
            } => {
                staged.module(Role::Generator.key(), generator)?;
                staged.module(Role::Discriminator.key(), discriminator)?;
                match encoder {
                    Some(e) => staged.module(Role::Encoder.key(), e),
                    None => Ok(()),
                }
            }
            Networks::Squid {
                autoencoder,
                discriminator,
            } => {
                staged.module(Role::AutoEncoder.key(), autoencoder)?;
                staged.module(Role::Discriminator.key(), discriminator)
            }
        }
    }
}

fn config<C: serde::de::DeserializeOwned>(meta: &ModelMeta, dir: &Path) -> Result<C> {
    serde_json::from_value(meta.config.clone()).map_err(|e| ModelError::CorruptCheckpoint {
        path: dir.join(checkpoint::META_FILE),
        message: format!("config of a {} model: {e}", meta.kind.name()),
    })
}

/// Loads the checkpoint in `dir` (a folder holding `model.json`) onto `device`.
///
/// A training run's output folder is accepted too: its newest checkpoint is used.
pub fn load(dir: &Path, device: &Device) -> Result<LoadedModel> {
    let dir = resolve(dir)?;
    let meta = checkpoint::read_meta(&dir)?;
    let device = device.clone().inner();
    let networks = match meta.kind {
        ModelKind::AnoGan => {
            let c: AnoGanConfig = config(&meta, &dir)?;
            Networks::AnoGan {
                generator: weights(&dir, Role::Generator, c.model.init_generator(&device)?)?,
                discriminator: weights(
                    &dir,
                    Role::Discriminator,
                    c.model.init_discriminator(&device)?,
                )?,
            }
        }
        ModelKind::AlphaGan => {
            let c: AlphaGanConfig = config(&meta, &dir)?;
            Networks::AlphaGan {
                encoder: weights(&dir, Role::Encoder, c.encoder().init(&device)?)?,
                generator: weights(&dir, Role::Generator, c.model.init_generator(&device)?)?,
                discriminator: weights(&dir, Role::Discriminator, c.init_discriminator(&device)?)?,
                code: weights(&dir, Role::Code, c.code.init(&device)?)?,
            }
        }
        ModelKind::FAnoGan => {
            let c: FAnoGanConfig = config(&meta, &dir)?;
            let trained = c.encoder_trained(meta.iteration);
            Networks::FAnoGan {
                generator: weights(&dir, Role::Generator, c.model.init_generator(&device)?)?,
                discriminator: weights(
                    &dir,
                    Role::Discriminator,
                    c.model.init_discriminator(&device)?,
                )?,
                encoder: if trained {
                    Some(weights(&dir, Role::Encoder, c.encoder().init(&device)?)?)
                } else {
                    None
                },
                kappa: c.kappa,
            }
        }
        ModelKind::Squid => {
            let c: SquidConfig = config(&meta, &dir)?;
            Networks::Squid {
                autoencoder: weights(&dir, Role::AutoEncoder, c.net.init(&device)?)?,
                discriminator: weights(
                    &dir,
                    Role::Discriminator,
                    c.discriminator().init_discriminator(&device)?,
                )?,
            }
        }
    };
    if meta.image_size != meta.preprocess.size as usize {
        return Err(ModelError::CorruptCheckpoint {
            path: dir.join(checkpoint::META_FILE),
            message: format!(
                "image size {} differs from the preprocessing size {}",
                meta.image_size, meta.preprocess.size
            ),
        });
    }
    Ok(LoadedModel {
        dir,
        meta,
        networks,
    })
}

/// The checkpoint folder itself, or the newest checkpoint of a run folder.
pub fn resolve(dir: &Path) -> Result<PathBuf> {
    if dir.join(checkpoint::META_FILE).is_file() {
        return Ok(dir.to_path_buf());
    }
    checkpoint::latest(&dir.join("checkpoints"))
        .or_else(|| checkpoint::latest(dir))
        .ok_or_else(|| ModelError::CorruptCheckpoint {
            path: dir.to_path_buf(),
            message: format!(
                "no {} here, nor a checkpoints/iter-NNNNNN folder holding one",
                checkpoint::META_FILE
            ),
        })
}

fn weights<M: Module>(dir: &Path, role: Role, module: M) -> Result<M> {
    Ok(checkpoint::load_module(dir, role.key(), module)?.valid())
}
