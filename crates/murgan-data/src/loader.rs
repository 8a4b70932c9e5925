//! Loading many images: parallel decoding (rayon), the optional cache, seeded augmentation,
//! seeded shuffling, and a report of the files that failed.

use std::path::PathBuf;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::cache::Cache;
use crate::image::{self, PreprocessConfig, Preprocessed};
use crate::seed::item_seed;
use crate::{DataError, ImageRecord, Result};

/// Turns records into preprocessed images.
#[derive(Debug, Clone)]
pub struct Loader {
    /// Preprocessing settings.
    pub config: PreprocessConfig,
    /// Optional on-disk cache.
    pub cache: Option<Cache>,
    /// Seed of the augmentation (ignored without augmentation).
    pub seed: u64,
}

/// The outcome of loading a set of images: what loaded, and what failed and why.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// (index into the input, image) for every image that loaded, in input order.
    pub images: Vec<(usize, Preprocessed)>,
    /// (path, error) for every image that failed.
    pub failures: Vec<(PathBuf, DataError)>,
}

impl Loader {
    /// A loader without cache, seed 0.
    pub fn new(config: PreprocessConfig) -> Self {
        Self {
            config,
            cache: None,
            seed: 0,
        }
    }

    /// Adds an on-disk cache.
    pub fn with_cache(mut self, cache: Cache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Sets the augmentation seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Loads one image; `index` (with the loader's seed) decides its augmentation.
    pub fn load(&self, path: &std::path::Path, index: u64) -> Result<Preprocessed> {
        let base_config = PreprocessConfig {
            augment: None,
            ..self.config
        };
        let cached = match &self.cache {
            Some(c) => c.get(path, &base_config)?,
            None => None,
        };
        let mut image = match cached {
            Some(img) => img,
            None => {
                let img = image::load(path, &base_config, 0)?;
                if let Some(c) = &self.cache {
                    // A cache that cannot be written only costs speed.
                    let _ = c.put(path, &base_config, &img);
                }
                img
            }
        };
        if let Some(aug) = &self.config.augment {
            image::augment(&mut image, aug, item_seed(self.seed, index));
        }
        Ok(image)
    }

    /// Loads `records[i]` for each `i` in `indices` in parallel; failures are reported, not
    /// fatal.
    pub fn load_many(&self, records: &[ImageRecord], indices: &[usize]) -> LoadReport {
        let results: Vec<(usize, Result<Preprocessed>)> = indices
            .par_iter()
            .filter_map(|&i| records.get(i).map(|r| (i, self.load(&r.path, i as u64))))
            .collect();
        let mut report = LoadReport::default();
        for (i, res) in results {
            match res {
                Ok(img) => report.images.push((i, img)),
                Err(e) => report.failures.push((records[i].path.clone(), e)),
            }
        }
        report
    }

    /// Loads every record in parallel.
    pub fn load_all(&self, records: &[ImageRecord]) -> LoadReport {
        let all: Vec<usize> = (0..records.len()).collect();
        self.load_many(records, &all)
    }
}

/// The indices `0..len` in batches of `batch_size`, shuffled by `(seed, epoch)` when
/// `shuffle` is set. The last batch may be shorter.
pub fn batch_indices(
    len: usize,
    batch_size: usize,
    shuffle: bool,
    seed: u64,
    epoch: u64,
) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..len).collect();
    if shuffle {
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(item_seed(seed, epoch)));
    }
    order
        .chunks(batch_size.max(1))
        .map(<[usize]>::to_vec)
        .collect()
}
