//! Checkpoints: one folder per saved iteration holding the weights of every sub-network, the
//! optimiser states and `model.json`, written atomically (a temporary folder renamed into
//! place), so a crash never leaves a half-written checkpoint behind.
//!
//! ```text
//! OUT/checkpoints/iter-000200/
//!     model.json                  kind, full config, preprocessing, iteration, data summary, versions
//!     generator.bpk ...           weights (burnpack), one file per sub-network
//!     optim-generator.bpk ...     optimiser states, for resuming
//!     samples.png                 generated (and reconstructed) samples
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::{ModuleOptimizer, OptimizerRecord};
use burn::store::ModuleRecord;
use murgan_data::PreprocessConfig;
use serde::{Deserialize, Serialize};

pub use crate::kind::ModelKind;
use crate::{ModelError, Result};
pub use murgan_data::training::DataSummary;

/// The version of the checkpoint layout this build writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// Name of the metadata file in a checkpoint folder.
pub const META_FILE: &str = "model.json";

/// The contents of `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// Layout version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// The murgan version that wrote it.
    pub murgan_version: String,
    /// Which model.
    pub kind: ModelKind,
    /// The full model and training configuration.
    pub config: serde_json::Value,
    /// Side N of the N×N input images.
    pub image_size: usize,
    /// How images are turned into network input (values in [-1, 1], padding -1).
    pub preprocess: PreprocessConfig,
    /// Categories trained on (empty: the data set has none).
    pub categories: Vec<String>,
    /// Training iterations completed.
    pub iteration: usize,
    /// Training phase reached (`gan`, `encoder`, or `done`).
    pub phase: String,
    /// The training data.
    pub data: DataSummary,
    /// Sub-network name → weights file.
    pub networks: BTreeMap<String, String>,
    /// The anomaly threshold fitted on normal images, when the model has been calibrated.
    #[serde(default)]
    pub calibration: Option<Calibration>,
    /// The score component declared, at training time, to be this model's main anomaly score
    /// (e.g. `d` for the discriminator's judgement); `None`: its scoring method's own score.
    #[serde(default)]
    pub main_score: Option<String>,
}

/// An anomaly threshold fitted on normal images, and how the scores behind it were computed
/// (a threshold only holds for scores computed the same way).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Scores at or above this are anomalous.
    pub threshold: f64,
    /// The specificity asked for on the calibration images.
    pub target_specificity: f64,
    /// The specificity reached on them.
    pub specificity: f64,
    /// Normal images the threshold was fitted on.
    pub images: usize,
    /// Where those images came from (a data set root and split, or `memory`).
    pub source: String,
    /// The scoring settings the threshold belongs to.
    pub scoring: serde_json::Value,
}

/// A checkpoint folder being assembled; [`Staged::commit`] moves it into place.
#[derive(Debug)]
pub struct Staged {
    tmp: PathBuf,
    target: PathBuf,
    networks: BTreeMap<String, String>,
}

/// The folder name of the checkpoint at `iteration`.
pub fn folder_name(iteration: usize) -> String {
    format!("iter-{iteration:06}")
}

impl Staged {
    /// Starts a checkpoint for `iteration` under `root` (usually `OUT/checkpoints`).
    pub fn new(root: &Path, iteration: usize) -> Result<Self> {
        let target = root.join(folder_name(iteration));
        let tmp = root.join(format!(".{}.tmp", folder_name(iteration)));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(|e| ModelError::io(&tmp, e))?;
        }
        fs::create_dir_all(&tmp).map_err(|e| ModelError::io(&tmp, e))?;
        Ok(Self {
            tmp,
            target,
            networks: BTreeMap::new(),
        })
    }

    /// Saves a sub-network's weights as `<name>.bpk`.
    pub fn module<M: Module>(&mut self, name: &str, module: &M) -> Result<()> {
        let file = format!("{name}.bpk");
        let path = self.tmp.join(&file);
        // `valid()` first: it folds pending BatchNorm running-statistic updates in, which
        // recording the training module directly would miss.
        module
            .valid()
            .into_record()
            .save(&path)
            .map_err(|e| ModelError::io(&path, std::io::Error::other(e.to_string())))?;
        self.networks.insert(name.to_string(), file);
        Ok(())
    }

    /// Saves an optimiser's state as `optim-<name>.bpk`.
    pub fn optimizer(&mut self, name: &str, optim: &ModuleOptimizer) -> Result<()> {
        let path = self.tmp.join(format!("optim-{name}.bpk"));
        optim
            .to_record()
            .save(&path)
            .map_err(|e| ModelError::io(&path, std::io::Error::other(e.to_string())))
    }

    /// Writes another file (samples, logs) into the checkpoint.
    pub fn file(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.tmp.join(name);
        fs::write(&path, bytes).map_err(|e| ModelError::io(&path, e))
    }

    /// The folder being written (for writers that need a path).
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Writes `model.json` and moves the folder into place. Returns the final folder.
    pub fn commit(self, mut meta: ModelMeta) -> Result<PathBuf> {
        meta.networks = self.networks;
        let json = serde_json::to_vec_pretty(&meta)
            .map_err(|e| ModelError::io(&self.tmp, std::io::Error::other(e.to_string())))?;
        let meta_path = self.tmp.join(META_FILE);
        fs::write(&meta_path, json).map_err(|e| ModelError::io(&meta_path, e))?;
        // Make the files durable before the rename publishes them.
        for entry in fs::read_dir(&self.tmp).map_err(|e| ModelError::io(&self.tmp, e))? {
            let path = entry.map_err(|e| ModelError::io(&self.tmp, e))?.path();
            fs::File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(|e| ModelError::io(&path, e))?;
        }
        if self.target.exists() {
            fs::remove_dir_all(&self.target).map_err(|e| ModelError::io(&self.target, e))?;
        }
        fs::rename(&self.tmp, &self.target).map_err(|e| ModelError::io(&self.target, e))?;
        Ok(self.target)
    }
}

/// Reads and checks `model.json` of a checkpoint folder.
pub fn read_meta(dir: &Path) -> Result<ModelMeta> {
    let path = dir.join(META_FILE);
    let text = fs::read_to_string(&path).map_err(|e| ModelError::io(&path, e))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| ModelError::CorruptCheckpoint {
            path: path.clone(),
            message: e.to_string(),
        })?;
    let found = value
        .get("schema_version")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0) as u32;
    if found != SCHEMA_VERSION {
        return Err(ModelError::Schema {
            path,
            found,
            expected: SCHEMA_VERSION,
        });
    }
    serde_json::from_value(value).map_err(|e| ModelError::CorruptCheckpoint {
        path,
        message: e.to_string(),
    })
}

/// Rewrites `model.json` of a checkpoint folder atomically (temporary file + rename), e.g. to
/// store a calibration.
pub fn write_meta(dir: &Path, meta: &ModelMeta) -> Result<()> {
    let path = dir.join(META_FILE);
    let json = serde_json::to_vec_pretty(meta)
        .map_err(|e| ModelError::io(&path, std::io::Error::other(e.to_string())))?;
    murgan_data::atomic::write_atomic(&path, &json)?;
    Ok(())
}

/// Loads a sub-network's weights from a checkpoint into `module` (built from the same config).
pub fn load_module<M: Module>(dir: &Path, name: &str, module: M) -> Result<M> {
    let path = dir.join(format!("{name}.bpk"));
    if !path.is_file() {
        return Err(ModelError::CorruptCheckpoint {
            path,
            message: format!("missing weights of {name}"),
        });
    }
    let record = ModuleRecord::load(&path).map_err(|e| ModelError::CorruptCheckpoint {
        path: path.clone(),
        message: e.to_string(),
    })?;
    module
        .try_load_record(record)
        .map_err(|e| ModelError::CorruptCheckpoint {
            path,
            message: e.to_string(),
        })
}

/// Loads an optimiser state saved by [`Staged::optimizer`].
pub fn load_optimizer(dir: &Path, name: &str, optim: ModuleOptimizer) -> Result<ModuleOptimizer> {
    let path = dir.join(format!("optim-{name}.bpk"));
    let record = OptimizerRecord::load(&path).map_err(|e| ModelError::CorruptCheckpoint {
        path: path.clone(),
        message: e.to_string(),
    })?;
    Ok(optim.load_record(record))
}

/// The newest complete checkpoint under `root` (folders `iter-NNNNNN` with a `model.json`).
pub fn latest(root: &Path) -> Option<PathBuf> {
    let entries = fs::read_dir(root).ok()?;
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let n: usize = name.strip_prefix("iter-")?.parse().ok()?;
            e.path().join(META_FILE).is_file().then(|| (n, e.path()))
        })
        .max_by_key(|(n, _)| *n)
        .map(|(_, p)| p)
}
