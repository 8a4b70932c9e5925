//! Training: the shared loop (seeded batches and noise, progress, loss log, checkpoints with
//! resume) and one trainer per model. The loss chart is the caller's to draw
//! ([`loss_series`] reads `losses.csv` back).
//!
//! Every random draw is a function of `(seed, iteration)`, so a run resumed from a checkpoint
//! continues exactly as an uninterrupted run with the same seed would have.

mod alphagan;
mod anogan;
mod dcgan;
mod fanogan;
mod log;
mod preset;
mod squid;

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::activation::log_sigmoid;
use serde::Serialize;

pub use alphagan::AlphaGanTrainer;
pub use anogan::AnoGanTrainer;
pub use fanogan::FAnoGanTrainer;
pub use log::{LossLog, MIN_TILE, loss_series, sample_sheet};
pub use preset::Preset;
pub use squid::SquidTrainer;
// What a training run's caller needs besides the trainers: the model descriptions and the
// training set, re-exported from their homes.
pub use crate::kind::{
    AlphaGanConfig, AnoGanConfig, DiscriminatorKind, FAnoGanConfig, ModelConfig, Routing,
    SquidConfig, TrainConfig,
};
pub use crate::noise::normal_noise;
pub use murgan_data::TrainingSet;

use crate::checkpoint::{self, ModelKind, ModelMeta, SCHEMA_VERSION, Staged};
use crate::{ModelError, Result};

/// After the GAN's last iteration (`iteration + 1 == train.iterations`), when
/// `train.bn_refresh_batches > 0`: runs `discriminator` (in training mode on the
/// autodiff device) over that many seeded batches of real training images, so that its
/// BatchNorm running statistics (momentum 0.1) come from real images: after 64 batches what
/// came before weighs 0.9⁶⁴ ≈ 0.1 %. Nothing is trained; the batches are drawn apart from the
/// training batches. Done inside the last step, so the final checkpoint holds the refreshed
/// statistics and a later phase (f-AnoGAN's encoder) never changes D.
pub(crate) fn refresh_after_last_iteration(
    discriminator: &impl Judge,
    iteration: usize,
    data: &TrainingSet,
    train: &TrainConfig,
    device: &Device,
) {
    if iteration + 1 != train.iterations || train.bn_refresh_batches == 0 {
        return;
    }
    let seed = murgan_data::seed::item_seed(train.seed, 0xb17);
    for k in 0..train.bn_refresh_batches {
        let idx = data.batch_indices(k, train.batch_size, seed);
        discriminator.judge(data.tensor(&idx, device));
    }
}

/// An image discriminator run on real images for [`refresh_after_last_iteration`].
pub(crate) trait Judge {
    /// Runs the discriminator on `x`, discarding its verdict (only BatchNorm statistics move).
    fn judge(&self, x: Tensor<4>);
}

impl Judge for crate::nets::Discriminator {
    fn judge(&self, x: Tensor<4>) {
        let _ = self.forward(x);
    }
}

impl Judge for crate::nets::ImageDiscriminator {
    fn judge(&self, x: Tensor<4>) {
        let _ = self.forward(x);
    }
}

/// Binary cross-entropy of logits against an all-`target` label, averaged.
pub fn bce_logits<const D: usize>(logits: Tensor<D>, target: bool) -> Tensor<1> {
    let x = if target { logits } else { -logits };
    -log_sigmoid(x).mean()
}

/// Reads a scalar loss, refusing NaN and infinity.
pub(crate) fn scalar(t: Tensor<1>, iteration: usize, what: &str) -> Result<f32> {
    let v: f32 = t.into_scalar::<f32>();
    if v.is_finite() {
        Ok(v)
    } else {
        Err(ModelError::Diverged {
            iteration,
            what: what.to_string(),
            value: v,
        })
    }
}

/// What a trainer reports after each step.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Iterations completed.
    pub iteration: usize,
    /// Iterations in the whole run.
    pub total: usize,
    /// The phase (`gan`, `encoder`).
    pub phase: &'static str,
    /// Named losses of this step.
    pub losses: Vec<(&'static str, f32)>,
    /// The checkpoint written after this step, if any.
    pub checkpoint: Option<PathBuf>,
}

/// One model's training, driven by [`run`].
pub trait Trainer {
    /// The model's configuration (its kind, shapes and training settings).
    type Config: ModelConfig;
    /// The full configuration, as written to `model.json`.
    fn config(&self) -> &Self::Config;

    /// Which model.
    fn kind(&self) -> ModelKind {
        Self::Config::KIND
    }
    /// The full configuration as JSON.
    fn config_json(&self) -> serde_json::Value {
        to_json(self.config())
    }
    /// Iterations in the whole run.
    fn total_iterations(&self) -> usize {
        self.config().total_iterations()
    }
    /// The component declared the model's main score ([`TrainConfig::main_score`]).
    fn main_score(&self) -> Option<String> {
        self.config().settings().main_score.clone()
    }
    /// The phase of `iteration` (0-based): `gan` unless the model has more than one.
    fn phase(&self, _iteration: usize) -> &'static str {
        "gan"
    }
    /// Runs training iteration `iteration` (0-based); returns the named losses.
    fn step(&mut self, iteration: usize, data: &TrainingSet) -> Result<Vec<(&'static str, f32)>>;
    /// Writes weights, optimiser states and samples into a checkpoint being assembled.
    fn save(&self, staged: &mut Staged, data: &TrainingSet) -> Result<()>;
    /// Restores weights and optimiser states from a checkpoint folder.
    fn restore(&mut self, dir: &Path) -> Result<()>;
}

/// Runs (or, with `resume`, continues) training, writing checkpoints every
/// `checkpoint_every` iterations and at the end. Returns the final checkpoint folder.
pub fn run<T: Trainer>(
    trainer: &mut T,
    data: &TrainingSet,
    out: &Path,
    checkpoint_every: usize,
    resume: bool,
    progress: &mut dyn FnMut(&Progress),
) -> Result<PathBuf> {
    if checkpoint_every == 0 {
        return Err(ModelError::InvalidConfig(
            "checkpoint interval must be positive".into(),
        ));
    }
    let ckpt_root = out.join("checkpoints");
    std::fs::create_dir_all(&ckpt_root).map_err(|e| ModelError::io(&ckpt_root, e))?;
    let mut start = 0;
    if !resume && checkpoint::latest(&ckpt_root).is_some() {
        return Err(ModelError::InvalidConfig(format!(
            "{} already holds checkpoints of an earlier run: resume it, or train into another folder",
            out.display()
        )));
    }
    if resume && let Some(dir) = checkpoint::latest(&ckpt_root) {
        let meta = checkpoint::read_meta(&dir)?;
        check_compatible(&meta, trainer, &dir)?;
        trainer.restore(&dir)?;
        start = meta.iteration;
    }
    let total = trainer.total_iterations();
    let mut log = LossLog::open(&out.join("losses.csv"), start)?;
    let mut last = checkpoint::latest(&ckpt_root);
    if start >= total {
        return last.ok_or_else(|| ModelError::InvalidConfig("nothing to train".into()));
    }
    for it in start..total {
        let losses = trainer.step(it, data)?;
        let done = it + 1;
        log.push(done, trainer.phase(it), &losses)?;
        let checkpoint = if done % checkpoint_every == 0 || done == total {
            // The log first: a crash between the two leaves rows past the newest checkpoint,
            // which resuming drops; the other order could leave a checkpoint whose rows were
            // cut mid-line.
            log.flush()?;
            let dir = write_checkpoint(trainer, data, &ckpt_root, done)?;
            last = Some(dir.clone());
            Some(dir)
        } else {
            None
        };
        progress(&Progress {
            iteration: done,
            total,
            phase: trainer.phase(it),
            losses,
            checkpoint,
        });
    }
    last.ok_or_else(|| ModelError::InvalidConfig("no checkpoint written".into()))
}

fn meta_for<T: Trainer>(trainer: &T, data: &TrainingSet, iteration: usize) -> ModelMeta {
    let phase = if iteration >= trainer.total_iterations() {
        "done"
    } else {
        trainer.phase(iteration)
    };
    ModelMeta {
        schema_version: SCHEMA_VERSION,
        murgan_version: env!("CARGO_PKG_VERSION").to_string(),
        kind: trainer.kind(),
        config: trainer.config_json(),
        image_size: data.image_size(),
        preprocess: data.preprocess,
        categories: data.categories.clone(),
        iteration,
        phase: phase.to_string(),
        data: data.summary.clone(),
        networks: Default::default(),
        calibration: None,
        reference: None,
        main_score: trainer.main_score(),
    }
}

fn write_checkpoint<T: Trainer>(
    trainer: &T,
    data: &TrainingSet,
    root: &Path,
    iteration: usize,
) -> Result<PathBuf> {
    let mut staged = Staged::new(root, iteration)?;
    trainer.save(&mut staged, data)?;
    staged.commit(meta_for(trainer, data, iteration))
}

fn check_compatible<T: Trainer>(meta: &ModelMeta, trainer: &T, dir: &Path) -> Result<()> {
    if meta.kind != trainer.kind() {
        return Err(ModelError::CheckpointMismatch {
            path: dir.to_path_buf(),
            message: format!(
                "it holds a {} model, not {}",
                meta.kind.name(),
                trainer.kind().name()
            ),
        });
    }
    let new = trainer.config_json();
    if comparable(&meta.config) != comparable(&new) {
        return Err(ModelError::CheckpointMismatch {
            path: dir.to_path_buf(),
            message: format!(
                "its configuration differs from this run's (on resuming only the numbers of \
                 iterations and the checkpoint interval may change):\n  checkpoint: {}\n  this run:   {new}",
                meta.config
            ),
        });
    }
    let mismatch = |message: String| {
        Err(ModelError::CheckpointMismatch {
            path: dir.to_path_buf(),
            message,
        })
    };
    let total = trainer.total_iterations();
    if meta.iteration > total {
        return mismatch(format!(
            "it has trained {} iterations, more than this run's {total}",
            meta.iteration
        ));
    }
    // A first phase (f-AnoGAN's GAN) may change its length only while the checkpoint is still
    // in it: a later phase was trained on what the first one ended with.
    let first_phase = |c: &serde_json::Value| c["train"]["iterations"].as_u64();
    let (old_gan, new_gan) = (first_phase(&meta.config), first_phase(&new));
    if let (Some(old_gan), Some(new_gan)) = (old_gan, new_gan)
        && old_gan != new_gan
        && total > trainer.config().settings().iterations
        && meta.iteration as u64 > old_gan.min(new_gan)
    {
        return mismatch(format!(
            "it is {} iterations in, past the end of its GAN phase ({old_gan} iterations), so \
             the GAN phase cannot become {new_gan} iterations long; extend the encoder phase \
             (--encoder-iterations) or train into a new folder",
            meta.iteration
        ));
    }
    Ok(())
}

/// A config without what may change when a run is resumed: the checkpoint interval and the
/// numbers of iterations (a run extended from a checkpoint continues as one trained to the new
/// length in one go would have: nothing else depends on the length).
fn comparable(config: &serde_json::Value) -> serde_json::Value {
    let mut c = config.clone();
    if let Some(train) = c
        .get_mut("train")
        .and_then(serde_json::Value::as_object_mut)
    {
        train.remove("checkpoint_every");
        train.remove("iterations");
    }
    if let Some(top) = c.as_object_mut() {
        top.remove("encoder_iterations");
    }
    strip_nulls(&mut c);
    c
}

/// Removes `null` members: an optional setting added in a later version (absent from an older
/// `model.json`) and one left unset are the same setting.
fn strip_nulls(value: &mut serde_json::Value) {
    if let Some(map) = value.as_object_mut() {
        map.retain(|_, v| !v.is_null());
        map.values_mut().for_each(strip_nulls);
    }
}

/// Serialises a config for `model.json`.
pub(crate) fn to_json<C: Serialize>(c: &C) -> serde_json::Value {
    serde_json::to_value(c).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::comparable;
    use serde_json::json;

    #[test]
    fn configs_compare_without_lengths_and_unset_settings() {
        // Written before `jitter` existed, and by this version with it unset: the same run.
        let old = json!({"train": {"iterations": 3000, "seed": 0, "checkpoint_every": 500}});
        let new = json!({"train": {"iterations": 6000, "seed": 0, "checkpoint_every": 100,
                                   "jitter": null}});
        assert_eq!(comparable(&old), comparable(&new));
        // A setting that is set still counts.
        let jittered = json!({"train": {"iterations": 3000, "seed": 0,
                                        "jitter": {"max_shift": 0.05, "max_scale": 0.05}}});
        assert_ne!(comparable(&old), comparable(&jittered));
        assert_ne!(comparable(&old), comparable(&json!({"train": {"seed": 1}})));
    }
}
