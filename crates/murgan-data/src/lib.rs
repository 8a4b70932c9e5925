//! X-ray data for murgan: the MURA-v1.1 index, folder and CSV data sets, synthetic
//! radiographs in MURA's layout, the image pipeline, and (feature `burn`) in-memory training sets with seeded Burn batches.
//!
//! ```
//! use murgan_data::{Filter, Label, Split, mura, synth};
//!
//! let dir = tempfile::tempdir()?;
//! let config = synth::SynthConfig { studies_per_category: 4, image_size: 32, ..Default::default() };
//! synth::generate(dir.path(), &config, &|_, _| {})?;
//! let set = mura::open(dir.path())?;
//! let normals = set.select(&Filter::all().split(Split::Train).label(Label::Normal));
//! assert!(!normals.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod atomic;
pub mod cache;
pub mod dataset;
pub mod error;
pub mod folder;
pub mod image;
pub mod loader;
pub mod manifest;
pub mod mura;
pub mod seed;
pub mod summary;
pub mod synth;
#[cfg(feature = "burn")]
pub mod training;
pub mod types;

pub use cache::Cache;
pub use dataset::{DataSet, Format};
pub use error::{DataError, Result};
pub use folder::ClassMap;
pub use image::{DecodeLimits, GrayImage, PreprocessConfig, Preprocessed};
pub use loader::{LoadReport, Loader};
pub use manifest::ManifestOptions;
pub use summary::{Counts, Summary};
#[cfg(feature = "burn")]
pub use training::{DataSummary, Jitter, TrainingSet};
pub use types::{Category, Filter, ImageRecord, Label, Split};

/// Opens a data set of any [`Format`]: a MURA root, a folder set (with its classes) or a CSV
/// manifest.
pub fn open(root: &std::path::Path, format: Format, classes: Option<&ClassMap>) -> Result<DataSet> {
    match format {
        Format::Mura => mura::open(root),
        Format::Folder => {
            let classes = classes.ok_or_else(|| {
                DataError::InvalidParameter(
                    "a folder data set needs its normal class folder name(s) (--normal in the CLI)"
                        .into(),
                )
            })?;
            folder::open(root, classes)
        }
        Format::Csv => manifest::open(root, &ManifestOptions::default()),
    }
}
