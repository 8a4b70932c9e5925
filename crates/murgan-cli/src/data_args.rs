//! The data-set arguments every subcommand that reads a data set shares (`train`, `evaluate`,
//! `calibrate`, `dataset summary`), declared once, so one argument list serves them all.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use murgan_core::data::{self, Category, ClassMap, DataSet, Format, Loader, PreprocessConfig};

/// Which data set, in which layout, with which classes and categories.
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// The data set: a MURA root, a folder-layout root or a CSV manifest.
    #[arg(long, alias = "root")]
    pub data: PathBuf,
    /// Layout: mura, folder or csv.
    #[arg(long, default_value = "mura")]
    pub format: String,
    /// Normal class folder(s) of a folder data set, e.g. NORMAL or 0.
    #[arg(long, value_delimiter = ',')]
    pub normal: Vec<String>,
    /// Abnormal class folder(s) of a folder data set (default: every other class). Training
    /// uses normals only whatever this says.
    #[arg(long, value_delimiter = ',')]
    pub abnormal: Vec<String>,
    /// Categories, e.g. WRIST or HAND,FINGER (default: all when training or summarising; when
    /// scoring, those the model was trained on if the data set has them).
    #[arg(long, value_delimiter = ',')]
    pub category: Vec<String>,
    /// Cache preprocessed images in this folder (training and scoring).
    #[arg(long)]
    pub cache: Option<PathBuf>,
}

impl DataArgs {
    /// Opens the data set and reports on stderr the entries it had to skip.
    pub fn open_reporting(&self) -> Result<DataSet> {
        let set = self.open()?;
        crate::output::report_problems(&set.problems);
        Ok(set)
    }

    /// Opens the data set (its `problems` lists the entries it had to skip).
    pub fn open(&self) -> Result<DataSet> {
        let format: Format = self.format.parse()?;
        let classes = ClassMap::from_lists(&self.normal, &self.abnormal);
        let set = data::open(&self.data, format, classes.as_ref()).with_context(|| {
            format!(
                "opening {} as a {} data set",
                self.data.display(),
                self.format
            )
        })?;
        Ok(set)
    }

    /// The categories given with `--category` (empty: none given).
    pub fn categories(&self) -> Result<Vec<Category>> {
        Ok(self
            .category
            .iter()
            .map(|c| c.parse::<Category>())
            .collect::<Result<_, _>>()?)
    }

    /// A loader with `config`, caching in `--cache` when given.
    pub fn loader(&self, config: PreprocessConfig) -> Result<Loader> {
        let mut loader = Loader::new(config);
        if let Some(dir) = &self.cache {
            loader = loader.with_cache(data::Cache::new(dir)?);
        }
        Ok(loader)
    }
}
