//! [`Detector`]: a trained model ready to score X-rays, with its preprocessing and its
//! calibrated threshold.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use murgan_data::TrainingSet;
use murgan_data::image::{self, GrayImage, PreprocessConfig, Preprocessed};
use murgan_models::checkpoint::{self, Calibration};
use murgan_models::{ModelKind, ModelMeta, NormalReference};
use murgan_score::{Heatmap, Method, Scorer, Scores, ScoringOptions};
use serde::Serialize;

use crate::{Device, Error, Result};

/// What a [`Detector`] says about one image.
#[derive(Debug, Clone, Serialize)]
pub struct AnomalyReport {
    /// The model's main anomaly score (higher = more anomalous).
    pub score: f64,
    /// Every score component, in the scorer's order (all: higher = more anomalous).
    pub components: Vec<(String, f64)>,
    /// The calibrated threshold, when the model has one for these scoring settings.
    pub threshold: Option<f64>,
    /// `score ≥ threshold`; `None` without a threshold.
    pub is_anomalous: Option<bool>,
    /// Where the image differs from its reconstruction, on the original image's grid.
    #[serde(skip)]
    pub heatmap: Heatmap,
    /// The model's reconstruction of the N×N network input, values in [0, 1].
    #[serde(skip)]
    pub reconstruction: GrayImage,
}

/// A trained model loaded for scoring.
///
/// Images are preprocessed as in training (never augmented), scored in batches with the
/// networks in eval mode, and compared with the calibrated threshold.
#[derive(Debug)]
pub struct Detector {
    dir: PathBuf,
    meta: ModelMeta,
    scorer: Scorer,
    device: Device,
    preprocess: PreprocessConfig,
    batch_size: usize,
    heatmap_sigma: f32,
}

impl Detector {
    /// Loads a checkpoint folder (or a training run's folder: its newest checkpoint) on the
    /// default device, scoring the way it was calibrated (or with the model's default method).
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        Self::load_with(dir, &crate::device(None)?, None)
    }

    /// Loads a checkpoint on `device`; `options` overrides the scoring settings (a calibration
    /// made with other settings then no longer applies).
    pub fn load_with(
        dir: impl AsRef<Path>,
        device: &Device,
        options: Option<ScoringOptions>,
    ) -> Result<Self> {
        Self::load_adjusted(dir, device, |o| {
            if let Some(options) = options {
                *o = options;
            }
        })
    }

    /// Loads a checkpoint on `device`, letting `adjust` change the scoring settings it starts
    /// from: those the model was calibrated with, else the defaults (e.g. to override only the
    /// search steps a user asked for).
    pub fn load_adjusted(
        dir: impl AsRef<Path>,
        device: &Device,
        adjust: impl FnOnce(&mut ScoringOptions),
    ) -> Result<Self> {
        let model = murgan_models::load(dir.as_ref(), device)?;
        let mut options = ScoringOptions::for_model(&model.meta);
        adjust(&mut options);
        // The main score a model declared belongs to its default method: asked for another
        // method that does not compute it, score with that method's own score.
        if let (Some(main), Some(method)) = (&options.main, options.method)
            && options.main == model.meta.main_score
            && !options.has_component(method, main)
        {
            options.main = None;
        }
        let scorer = Scorer::new(model.networks, options)?;
        let mut preprocess = model.meta.preprocess;
        preprocess.augment = None;
        Ok(Self {
            dir: model.dir,
            meta: model.meta,
            scorer,
            device: device.clone().inner(),
            preprocess,
            batch_size: 32,
            heatmap_sigma: 1.0,
        })
    }

    /// Images per forward pass (or per batched search).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Width (σ, in network-input pixels) of the Gaussian that smooths heatmaps.
    pub fn with_heatmap_sigma(mut self, sigma: f32) -> Self {
        self.heatmap_sigma = sigma.max(0.0);
        self
    }

    /// The checkpoint folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The checkpoint's `model.json`.
    pub fn meta(&self) -> &ModelMeta {
        &self.meta
    }

    /// Which model.
    pub fn kind(&self) -> ModelKind {
        self.meta.kind
    }

    /// The scoring method in use.
    pub fn method(&self) -> Method {
        self.scorer.method()
    }

    /// The scoring settings in use.
    pub fn options(&self) -> ScoringOptions {
        self.scorer.options()
    }

    /// The names of the score components, in order.
    pub fn component_names(&self) -> Vec<&'static str> {
        self.scorer.component_names()
    }

    /// How images become network input.
    pub fn preprocess_config(&self) -> &PreprocessConfig {
        &self.preprocess
    }

    /// The calibrated threshold, if the model was calibrated with scoring settings that give
    /// the scores the current ones give (the same method; for the searching methods, the same
    /// search settings: a one-pass method ignores them).
    pub fn threshold(&self) -> Option<f64> {
        let c = self.meta.calibration.as_ref()?;
        let calibrated: ScoringOptions = serde_json::from_value(c.scoring.clone()).ok()?;
        calibrated
            .scores_like(&self.scorer.options())
            .then_some(c.threshold)
    }

    /// Preprocesses a decoded image as in training (no augmentation).
    pub fn preprocess(&self, image: &GrayImage) -> Result<Preprocessed> {
        Ok(image::preprocess(image, &self.preprocess, 0)?)
    }

    /// Decodes an image file (PNG, JPEG) under the model's decoder limits.
    pub fn decode(&self, path: &Path) -> Result<GrayImage> {
        Ok(image::decode_file(path, &self.preprocess.limits)?)
    }

    /// Scores one image.
    pub fn score(&self, image: &GrayImage) -> Result<AnomalyReport> {
        let mut reports = self.score_batch(std::slice::from_ref(image))?;
        reports
            .pop()
            .ok_or_else(|| murgan_score::ScoreError::Shape("no image scored".into()).into())
    }

    /// Decodes and scores one image file.
    pub fn score_path(&self, path: impl AsRef<Path>) -> Result<AnomalyReport> {
        self.score(&self.decode(path.as_ref())?)
    }

    /// Scores decoded images, in batches, with heatmaps.
    pub fn score_batch(&self, images: &[GrayImage]) -> Result<Vec<AnomalyReport>> {
        let pre = images
            .iter()
            .map(|i| self.preprocess(i))
            .collect::<Result<Vec<_>>>()?;
        let threshold = self.threshold();
        let n = self.scorer.image_size();
        let mut out = Vec::with_capacity(images.len());
        for chunk in pre.chunks(self.batch_size) {
            let batch = self.scorer.score(self.tensor(chunk))?;
            let rec: Vec<f32> = batch
                .reconstructions
                .into_data()
                .convert::<f32>()
                .try_into_vec()
                .unwrap_or_default();
            for (k, (p, s)) in chunk.iter().zip(batch.scores).enumerate() {
                let xh = rec.get(k * n * n..(k + 1) * n * n).unwrap_or_default();
                let heatmap = Heatmap::from_reconstruction(
                    &p.pixels,
                    xh,
                    n,
                    &p.placement,
                    self.heatmap_sigma,
                )?;
                out.push(AnomalyReport {
                    is_anomalous: threshold.map(|t| s.score >= t),
                    score: s.score,
                    components: s.components,
                    threshold,
                    heatmap,
                    reconstruction: GrayImage {
                        width: n as u32,
                        height: n as u32,
                        pixels: xh.iter().map(|v| (v + 1.0) / 2.0).collect(),
                    },
                });
            }
        }
        Ok(out)
    }

    /// Scores preprocessed images (no heatmaps): what evaluation and calibration need.
    pub fn score_preprocessed(&self, images: &[Preprocessed]) -> Result<Vec<Scores>> {
        let mut out = Vec::with_capacity(images.len());
        for chunk in images.chunks(self.batch_size) {
            out.extend(self.scorer.score(self.tensor(chunk))?.scores);
        }
        Ok(out)
    }

    /// Fits the threshold that gives `target_specificity` on `normals` and stores it, with the
    /// scoring settings, in the checkpoint's `model.json` (rewritten atomically). `source`
    /// says where the images came from.
    pub fn calibrate(
        &mut self,
        normals: &[GrayImage],
        target_specificity: f64,
        source: &str,
    ) -> Result<Calibration> {
        let pre = normals
            .iter()
            .map(|i| self.preprocess(i))
            .collect::<Result<Vec<_>>>()?;
        self.calibrate_preprocessed(&pre, target_specificity, source)
    }

    /// [`Detector::calibrate`] on images already preprocessed with
    /// [`Detector::preprocess_config`].
    pub fn calibrate_preprocessed(
        &mut self,
        normals: &[Preprocessed],
        target_specificity: f64,
        source: &str,
    ) -> Result<Calibration> {
        let scores: Vec<f64> = self
            .score_preprocessed(normals)?
            .iter()
            .map(|s| s.score)
            .collect();
        self.calibrate_scores(&scores, target_specificity, source)
    }

    /// [`Detector::calibrate`] from the scores this detector gave normal images (for callers
    /// that score large sets in chunks).
    pub fn calibrate_scores(
        &mut self,
        scores: &[f64],
        target_specificity: f64,
        source: &str,
    ) -> Result<Calibration> {
        let threshold = murgan_metrics::threshold_for_specificity(scores, target_specificity)?;
        let below = scores.iter().filter(|&&s| s < threshold).count();
        let calibration = Calibration {
            threshold,
            target_specificity,
            specificity: below as f64 / scores.len() as f64,
            images: scores.len(),
            source: source.to_string(),
            scoring: serde_json::to_value(self.scorer.options())
                .map_err(|e| Error::Io(std::io::Error::other(e)))?,
        };
        let mut meta = self.meta.clone();
        meta.calibration = Some(calibration.clone());
        checkpoint::write_meta(&self.dir, &meta)?;
        self.meta = meta;
        Ok(calibration)
    }

    /// Scores `normals` (typically the images the model was trained on) and fits the
    /// reference its `combined` score is standardised with, saving it in `model.json` and
    /// scoring with it from then on. `None` (and nothing saved) when the scoring method has no
    /// `combined` score. `source` says where the images came from.
    pub fn fit_reference(
        &mut self,
        normals: &TrainingSet,
        source: &str,
    ) -> Result<Option<NormalReference>> {
        if normals.image_size() != self.scorer.image_size() {
            return Err(Error::Score(murgan_score::ScoreError::Shape(format!(
                "reference images of {0}×{0}, the model takes {1}×{1}",
                normals.image_size(),
                self.scorer.image_size()
            ))));
        }
        if self.method().combined_parts().is_empty() {
            return Ok(None);
        }
        let mut scores = Vec::with_capacity(normals.len());
        let all: Vec<usize> = (0..normals.len()).collect();
        for chunk in all.chunks(self.batch_size) {
            let batch = self.scorer.score(normals.tensor(chunk, &self.device))?;
            scores.extend(batch.scores);
        }
        let Some(reference) = self.scorer.fit_reference(&scores, source) else {
            return Ok(None);
        };
        let mut meta = self.meta.clone();
        meta.reference = Some(reference.clone());
        checkpoint::write_meta(&self.dir, &meta)?;
        self.meta = meta;
        let options = ScoringOptions {
            reference: Some(reference.clone()),
            ..self.scorer.options()
        };
        self.scorer = Scorer::new(self.scorer.networks().clone(), options)?;
        Ok(Some(reference))
    }

    fn tensor(&self, images: &[Preprocessed]) -> Tensor<4> {
        let n = self.scorer.image_size();
        let mut data = Vec::with_capacity(images.len() * n * n);
        for p in images {
            data.extend_from_slice(&p.pixels);
        }
        Tensor::from_data(TensorData::new(data, [images.len(), 1, n, n]), &self.device)
    }
}
