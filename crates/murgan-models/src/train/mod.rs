//! Training: the shared loop (seeded batches and noise, progress, loss log and plot,
//! checkpoints with resume) and one trainer per model.
//!
//! Every random draw is a function of `(seed, iteration)`, so a run resumed from a checkpoint
//! continues exactly as an uninterrupted run with the same seed would have.

mod alphagan;
mod anogan;
mod fanogan;
mod log;
mod preset;

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::activation::log_sigmoid;
use murgan_data::pipeline::item_seed;
use murgan_data::{ImageRecord, Loader};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::Serialize;

pub use alphagan::{AlphaGanConfig, AlphaGanTrainer, DiscriminatorKind, Routing};
pub use anogan::{AnoGanConfig, AnoGanTrainer};
pub use fanogan::{FAnoGanConfig, FAnoGanTrainer};
pub use log::{LossLog, sample_grid};
pub use preset::Preset;

use crate::checkpoint::{self, DataSummary, ModelKind, ModelMeta, SCHEMA_VERSION, Staged};
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

/// Preprocessed normal training images held in memory, with batch and noise draws that depend
/// only on `(seed, iteration)`.
#[derive(Debug, Clone)]
pub struct TrainingSet {
    pixels: Vec<f32>,
    count: usize,
    size: usize,
    /// What was loaded.
    pub summary: DataSummary,
    /// The categories of the images (names, sorted, unique).
    pub categories: Vec<String>,
    /// The preprocessing used (no augmentation: batches are drawn deterministically).
    pub preprocess: murgan_data::PreprocessConfig,
}

impl TrainingSet {
    /// Loads `records` (normal images) with `loader`; bad files are skipped and counted.
    pub fn load(records: &[ImageRecord], loader: &Loader, root: &Path) -> Result<Self> {
        let report = loader.load_all(records);
        let failed = report.failures.len();
        if report.images.is_empty() {
            return Err(ModelError::NoTrainingData { failed });
        }
        let size = loader.config.size as usize;
        let mut pixels = Vec::with_capacity(report.images.len() * size * size);
        for (_, img) in &report.images {
            pixels.extend_from_slice(&img.pixels);
        }
        let mut categories: Vec<String> = records
            .iter()
            .map(|r| r.category_name().to_string())
            .collect();
        categories.sort();
        categories.dedup();
        Ok(Self {
            count: report.images.len(),
            pixels,
            size,
            summary: DataSummary {
                root: root.display().to_string(),
                images: report.images.len(),
                failed,
            },
            categories,
            preprocess: loader.config,
        })
    }

    /// A training set from in-memory N×N images in [-1, 1] (tests, benchmarks).
    pub fn from_images(images: Vec<Vec<f32>>, size: usize) -> Result<Self> {
        if images.is_empty() || images.iter().any(|i| i.len() != size * size) {
            return Err(ModelError::InvalidConfig(format!(
                "need non-empty images of {size}×{size}"
            )));
        }
        Ok(Self {
            count: images.len(),
            pixels: images.concat(),
            size,
            summary: DataSummary {
                root: "memory".into(),
                images: images.len(),
                failed: 0,
            },
            categories: Vec::new(),
            preprocess: murgan_data::PreprocessConfig::new(size as u32),
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the set is empty (never, once built).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Side N of the images.
    pub fn image_size(&self) -> usize {
        self.size
    }

    /// Image `i`, N×N values.
    pub fn image(&self, i: usize) -> &[f32] {
        let n = self.size * self.size;
        &self.pixels[i * n..(i + 1) * n]
    }

    /// The indices of the batch of `iteration`: epochs are seeded permutations, cut into full
    /// batches (a set smaller than a batch is one batch).
    pub fn batch_indices(&self, iteration: usize, batch_size: usize, seed: u64) -> Vec<usize> {
        let b = batch_size.min(self.count);
        let per_epoch = self.count / b;
        let (epoch, k) = (iteration / per_epoch, iteration % per_epoch);
        let order = murgan_data::loader::batch_indices(self.count, b, true, seed, epoch as u64);
        order.get(k).cloned().unwrap_or_default()
    }

    /// The images of `indices` as a `[B, 1, N, N]` tensor.
    pub fn tensor(&self, indices: &[usize], device: &Device) -> Tensor<4> {
        let mut data = Vec::with_capacity(indices.len() * self.size * self.size);
        for &i in indices {
            data.extend_from_slice(self.image(i));
        }
        Tensor::from_data(
            TensorData::new(data, [indices.len(), 1, self.size, self.size]),
            device,
        )
    }
}

/// After the GAN's last iteration (`iteration + 1 == train.iterations`), when
/// `train.bn_refresh_batches > 0`: runs `forward` (a discriminator in training mode on the
/// autodiff device) over that many seeded batches of real training images, so that its
/// BatchNorm running statistics (momentum 0.1) come from real images: after 64 batches what
/// came before weighs 0.9⁶⁴ ≈ 0.1 %. Nothing is trained; the batches are drawn apart from the
/// training batches. Done inside the last step, so the final checkpoint holds the refreshed
/// statistics and a later phase (f-AnoGAN's encoder) never changes D.
pub(crate) fn refresh_after_last_iteration(
    forward: impl Fn(Tensor<4>),
    iteration: usize,
    data: &TrainingSet,
    train: &TrainConfig,
    device: &Device,
) {
    if iteration + 1 != train.iterations || train.bn_refresh_batches == 0 {
        return;
    }
    let seed = murgan_data::pipeline::item_seed(train.seed, 0xb17);
    for k in 0..train.bn_refresh_batches {
        let idx = data.batch_indices(k, train.batch_size, seed);
        forward(data.tensor(&idx, device));
    }
}

/// Standard-normal noise `[rows, cols]` drawn from `(seed, iteration, stream)`.
pub fn normal_noise(
    seed: u64,
    iteration: usize,
    stream: u64,
    rows: usize,
    cols: usize,
    device: &Device,
) -> Tensor<2> {
    let mut rng = ChaCha8Rng::seed_from_u64(item_seed(item_seed(seed, iteration as u64), stream));
    let data: Vec<f32> = (0..rows * cols)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    Tensor::from_data(TensorData::new(data, [rows, cols]), device)
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
    /// Which model.
    fn kind(&self) -> ModelKind;
    /// The full configuration, as written to `model.json`.
    fn config_json(&self) -> serde_json::Value;
    /// Iterations in the whole run.
    fn total_iterations(&self) -> usize;

    /// The component declared the model's main score ([`TrainConfig::main_score`]).
    fn main_score(&self) -> Option<String>;
    /// The phase of `iteration` (0-based).
    fn phase(&self, iteration: usize) -> &'static str;
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
            log.plot(&out.join("losses.png"))?;
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
    if comparable(&meta.config) != comparable(&trainer.config_json()) {
        return Err(ModelError::CheckpointMismatch {
            path: dir.to_path_buf(),
            message: format!(
                "its configuration differs from this run's:\n  checkpoint: {}\n  this run:   {}",
                meta.config,
                trainer.config_json()
            ),
        });
    }
    Ok(())
}

/// A config without the settings that do not change the weights (the checkpoint interval).
fn comparable(config: &serde_json::Value) -> serde_json::Value {
    let mut c = config.clone();
    if let Some(train) = c
        .get_mut("train")
        .and_then(serde_json::Value::as_object_mut)
    {
        train.remove("checkpoint_every");
    }
    c
}

/// Serialises a config for `model.json`.
pub(crate) fn to_json<C: Serialize>(c: &C) -> serde_json::Value {
    serde_json::to_value(c).unwrap_or(serde_json::Value::Null)
}
