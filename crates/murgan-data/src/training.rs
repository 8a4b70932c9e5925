//! A training set: preprocessed normal images held in memory, with batches drawn as a function
//! of `(seed, iteration)` only, so that a resumed run draws what an uninterrupted one would
//! (feature `burn`: batches are Burn tensors; the caller passes the [`Device`]).

use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::{DataError, ImageRecord, Loader, PreprocessConfig, Result};

/// What the model was trained on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataSummary {
    /// The data set's root.
    pub root: String,
    /// Normal training images used.
    pub images: usize,
    /// Training images that failed to load and were skipped.
    pub failed: usize,
}

/// Separates the jitter draws from the other draws of a run's seed.
const JITTER_STREAM: u64 = 0x6a17_7e55;

/// Random shift and zoom of training images, drawn afresh for every image of every batch as a
/// function of `(seed, iteration, position in the batch)`, so a resumed run draws what an
/// uninterrupted one would. Never applied when scoring. The SQUID authors train with
/// `RandomAffine(0, translate=(0.05, 0.05), scale=(0.95, 1.05))`: [`Jitter::affine`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Jitter {
    /// Largest shift, as a fraction of the side, in x and in y independently.
    pub max_shift: f64,
    /// Largest relative change of size: the scale is drawn from `1 ± max_scale`.
    pub max_scale: f64,
}

impl Jitter {
    /// Shifts up to `fraction` of the side and zooms by up to `1 ± fraction`.
    pub fn affine(fraction: f64) -> Self {
        Self {
            max_shift: fraction,
            max_scale: fraction,
        }
    }

    /// Checks that both fractions lie in [0, 0.5].
    pub fn validate(&self) -> Result<()> {
        let ok = |v: f64| (0.0..=0.5).contains(&v);
        if ok(self.max_shift) && ok(self.max_scale) {
            Ok(())
        } else {
            Err(DataError::InvalidParameter(format!(
                "jitter: shift {} and scale {} must lie in [0, 0.5]",
                self.max_shift, self.max_scale
            )))
        }
    }

    /// Applies one draw, seeded by `seed`, to an N×N image in [-1, 1] (-1 fills the uncovered
    /// border, as padding does).
    pub fn apply(&self, image: &[f32], size: usize, seed: u64) -> Vec<f32> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut draw = |max: f64| {
            let max = max as f32;
            if max > 0.0 {
                rng.random_range(-max..=max)
            } else {
                0.0
            }
        };
        let scale = 1.0 + draw(self.max_scale);
        let dx = draw(self.max_shift) * size as f32;
        let dy = draw(self.max_shift) * size as f32;
        crate::image::zoom_shift(image, size, scale, dx, dy, -1.0)
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
    pub preprocess: PreprocessConfig,
}

impl TrainingSet {
    /// Loads `records` (normal images) with `loader`; bad files are skipped and counted.
    pub fn load(records: &[ImageRecord], loader: &Loader, root: &Path) -> Result<Self> {
        let report = loader.load_all(records);
        let failed = report.failures.len();
        if report.images.is_empty() {
            return Err(DataError::NoTrainingData { failed });
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
            return Err(DataError::InvalidParameter(format!(
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
            preprocess: PreprocessConfig::new(size as u32),
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
        let order = crate::loader::batch_indices(self.count, b, true, seed, epoch as u64);
        order.get(k).cloned().unwrap_or_default()
    }

    /// The batch of `iteration` as a `[B, 1, N, N]` tensor ([`Self::batch_indices`]), each
    /// image jittered when `jitter` is set ([`Jitter`]).
    pub fn batch(
        &self,
        iteration: usize,
        batch_size: usize,
        seed: u64,
        jitter: Option<Jitter>,
        device: &Device,
    ) -> Tensor<4> {
        let idx = self.batch_indices(iteration, batch_size, seed);
        let Some(jitter) = jitter else {
            return self.tensor(&idx, device);
        };
        let base = crate::seed::item_seed(seed ^ JITTER_STREAM, iteration as u64);
        let mut data = Vec::with_capacity(idx.len() * self.size * self.size);
        for (k, &i) in idx.iter().enumerate() {
            let seed = crate::seed::item_seed(base, k as u64);
            data.extend(jitter.apply(self.image(i), self.size, seed));
        }
        Tensor::from_data(
            TensorData::new(data, [idx.len(), 1, self.size, self.size]),
            device,
        )
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
