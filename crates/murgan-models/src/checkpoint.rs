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
    /// How the training normals scored, fitted after the last iteration: what the `combined`
    /// score standardises its parts with.
    #[serde(default)]
    pub reference: Option<NormalReference>,
}

/// How normal images scored under one scoring method: per component, the mean and standard
/// deviation of its value (or of its logarithm), so that components on different scales can be
/// put on one (a z-score each) and added.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NormalReference {
    /// The scoring method the components come from.
    pub method: String,
    /// Normal images it was fitted on.
    pub images: usize,
    /// Where those images came from (a data set root and split, or `memory`).
    pub source: String,
    /// The standardised components.
    pub components: Vec<ComponentReference>,
}

/// One component's place and spread among normal images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentReference {
    /// The component's name.
    pub name: String,
    /// Whether its logarithm is standardised (for squared errors, whose spread grows with
    /// their size) rather than the value itself.
    pub log: bool,
    /// Mean of the (log-)values.
    pub mean: f64,
    /// Their standard deviation.
    pub sd: f64,
}

impl ComponentReference {
    /// Fits the mean and standard deviation of `values` (their logarithm when `log`).
    pub fn fit(name: &str, log: bool, values: &[f64]) -> Self {
        let t: Vec<f64> = values.iter().map(|&v| transform(log, v)).collect();
        let n = t.len().max(1) as f64;
        let mean = t.iter().sum::<f64>() / n;
        let sd = (t.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        Self {
            name: name.to_string(),
            log,
            mean,
            sd,
        }
    }

    /// How many standard deviations above the normals' mean `value` lies.
    pub fn z(&self, value: f64) -> f64 {
        (transform(self.log, value) - self.mean) / self.sd.max(1e-12)
    }
}

fn transform(log: bool, v: f64) -> f64 {
    if log { v.max(1e-12).ln() } else { v }
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

#[cfg(test)]
mod tests {
    use super::ComponentReference;

    #[test]
    fn a_component_reference_standardises_values_or_their_logarithm() {
        let plain = ComponentReference::fit("d", false, &[1.0, 3.0]);
        assert_eq!((plain.mean, plain.sd), (2.0, 1.0));
        assert_eq!(plain.z(4.0), 2.0);
        // Errors e, e³, e⁵: logarithms 1, 3, 5, so mean 3 and sd √(8/3); e³ sits at the mean.
        let e = std::f64::consts::E;
        let log = ComponentReference::fit("residual_coarse", true, &[e, e.powi(3), e.powi(5)]);
        assert!((log.mean - 3.0).abs() < 1e-12);
        assert!((log.sd - (8.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!(log.z(e.powi(3)).abs() < 1e-12);
        // A zero error (a perfect reconstruction) stays finite.
        assert!(log.z(0.0).is_finite() && log.z(0.0) < -5.0);
    }
}
