//! Burn integration: a [`Dataset`] of preprocessed radiographs and a [`Batcher`] that stacks
//! them into `[N, 1, H, W]` tensors with their labels.
//!
//! Burn is used without any backend here; the executable's features choose the backend and
//! the caller passes the [`Device`].

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::loader::{LoadReport, Loader, batch_indices};
use crate::{DataError, ImageRecord, Label, Result};

/// One preprocessed radiograph and its label.
#[derive(Debug, Clone, PartialEq)]
pub struct XrayItem {
    /// Index of the record in its data set.
    pub index: usize,
    /// N×N values in [-1, 1].
    pub pixels: Vec<f32>,
    /// Side N.
    pub size: u32,
    /// Normal or abnormal.
    pub label: Label,
}

/// A batch: images `[N, 1, H, W]`, labels `[N]` (0 normal, 1 abnormal) and record indices.
#[derive(Debug, Clone)]
pub struct XrayBatch {
    /// Images, `[N, 1, H, W]`, values in [-1, 1].
    pub images: Tensor<4>,
    /// Labels, `[N]`: 0 normal, 1 abnormal.
    pub labels: Tensor<1, Int>,
    /// Index of each image's record in the data set.
    pub indices: Vec<usize>,
}

/// Records plus the loader that turns each into an [`XrayItem`].
#[derive(Debug, Clone)]
pub struct XrayDataset {
    records: Vec<ImageRecord>,
    loader: Loader,
}

impl XrayDataset {
    /// A data set over `records`.
    pub fn new(records: Vec<ImageRecord>, loader: Loader) -> Self {
        Self { records, loader }
    }

    /// The records.
    pub fn records(&self) -> &[ImageRecord] {
        &self.records
    }

    /// The loader.
    pub fn loader(&self) -> &Loader {
        &self.loader
    }

    fn item(&self, index: usize, pixels: Vec<f32>) -> XrayItem {
        XrayItem {
            index,
            pixels,
            size: self.loader.config.size,
            label: self.records[index].label,
        }
    }

    /// Batches over the whole data set for one epoch: shuffled by `(seed, epoch)` when
    /// `shuffle` is set, each batch decoded in parallel. Files that fail are skipped and
    /// returned beside the batch; a batch whose every file failed is left out.
    pub fn batches<'a>(
        &'a self,
        batch_size: usize,
        shuffle: bool,
        seed: u64,
        epoch: u64,
        device: &'a Device,
    ) -> impl Iterator<Item = (XrayBatch, Vec<(std::path::PathBuf, DataError)>)> + 'a {
        batch_indices(self.records.len(), batch_size, shuffle, seed, epoch)
            .into_iter()
            .filter_map(move |idx| {
                let LoadReport { images, failures } = self.loader.load_many(&self.records, &idx);
                if images.is_empty() {
                    return None;
                }
                let items = images
                    .into_iter()
                    .map(|(i, img)| self.item(i, img.pixels))
                    .collect();
                Some((XrayBatcher.batch(items, device), failures))
            })
    }
}

impl Dataset<XrayItem, DataError> for XrayDataset {
    fn get(&self, index: usize) -> Result<XrayItem> {
        let record = self.records.get(index).ok_or_else(|| {
            DataError::InvalidParameter(format!(
                "index {index} out of range for a data set of {}",
                self.records.len()
            ))
        })?;
        let img = self.loader.load(&record.path, index as u64)?;
        Ok(self.item(index, img.pixels))
    }

    fn len(&self) -> usize {
        self.records.len()
    }
}

/// Stacks [`XrayItem`]s into an [`XrayBatch`].
#[derive(Debug, Clone, Copy, Default)]
pub struct XrayBatcher;

impl Batcher<XrayItem, XrayBatch> for XrayBatcher {
    fn batch(&self, items: Vec<XrayItem>, device: &Device) -> XrayBatch {
        let n = items.len();
        let size = items.first().map_or(0, |i| i.size as usize);
        let mut pixels = Vec::with_capacity(n * size * size);
        let mut labels = Vec::with_capacity(n);
        let mut indices = Vec::with_capacity(n);
        for item in items {
            debug_assert_eq!(
                item.pixels.len(),
                size * size,
                "items of one batch share a size"
            );
            pixels.extend_from_slice(&item.pixels);
            labels.push(i64::from(item.label.as_u8()));
            indices.push(item.index);
        }
        XrayBatch {
            images: Tensor::from_data(TensorData::new(pixels, [n, 1, size, size]), device),
            labels: Tensor::from_data(TensorData::new(labels, [n]), device),
            indices,
        }
    }
}
