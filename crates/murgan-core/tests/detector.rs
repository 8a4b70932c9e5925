//! `Detector` end to end: train a tiny model on a small synthetic set, load its checkpoint,
//! score, find a planted anomaly in the heatmap, calibrate a threshold.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use murgan_core::data::image::{self, GrayImage, PreprocessConfig};
use murgan_core::models::nets::{CodeDiscriminatorConfig, DcganConfig};
use murgan_core::models::train::{
    AlphaGanConfig, AlphaGanTrainer, AnoGanConfig, AnoGanTrainer, Progress, TrainConfig,
    TrainingSet, run,
};
use murgan_core::score::{Method, Scorer, ScoringOptions, SearchConfig};
use murgan_core::{Detector, Device};

const N: usize = 32;
/// The originals are wider than high, so the network input is padded above and below.
const W: u32 = 40;
const H: u32 = 32;

/// A bright disc ("bone") on a dark background, its place and size varying with `k`.
fn radiograph(k: usize) -> GrayImage {
    let (cx, cy, r) = (
        18.0 + (k % 3) as f32 * 2.0,
        16.0 + (k / 3 % 2) as f32,
        8.0 + (k % 2) as f32,
    );
    let pixels = (0..W * H)
        .map(|i| {
            let (x, y) = ((i % W) as f32, (i / W) as f32);
            if (x - cx).powi(2) + (y - cy).powi(2) < r * r {
                0.9
            } else {
                0.1
            }
        })
        .collect();
    GrayImage {
        width: W,
        height: H,
        pixels,
    }
}

/// A radiograph with a bright 6×6 square planted in the dark corner at (x, y) = (2..8, 2..8).
fn with_lesion(k: usize) -> GrayImage {
    let mut img = radiograph(k);
    for y in 2..8 {
        for x in 2..8 {
            img.pixels[(y * W + x) as usize] = 0.95;
        }
    }
    img
}

fn training_set(count: usize) -> TrainingSet {
    let config = PreprocessConfig::new(N as u32);
    let images = (0..count)
        .map(|k| {
            image::preprocess(&radiograph(k), &config, 0)
                .unwrap()
                .pixels
        })
        .collect();
    TrainingSet::from_images(images, N).unwrap()
}

fn shape() -> DcganConfig {
    DcganConfig::new()
        .with_image_size(N)
        .with_latent_dim(16)
        .with_gen_width(8)
        .with_disc_width(8)
}

fn train_cfg(iterations: usize) -> TrainConfig {
    TrainConfig::new()
        .with_batch_size(15)
        .with_iterations(iterations)
        .with_checkpoint_every(iterations)
        .with_lr(2e-3)
        .with_seed(5)
}

fn no_progress(_: &Progress) {}

fn train_alphagan(out: &Path) -> (PathBuf, AlphaGanTrainer) {
    let cfg = AlphaGanConfig::new(
        shape(),
        train_cfg(300),
        CodeDiscriminatorConfig::new()
            .with_latent_dim(16)
            .with_hidden(16),
    );
    let mut t = AlphaGanTrainer::new(cfg, &Device::flex()).unwrap();
    let last = run(&mut t, &training_set(30), out, 300, false, &mut no_progress).unwrap();
    (last, t)
}

#[test]
fn planted_anomaly_is_found_and_scores_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (checkpoint, trainer) = train_alphagan(dir.path());
    // A run folder works as well as its checkpoint folder.
    let detector = Detector::load_with(dir.path(), &Device::flex(), None)
        .unwrap()
        .with_heatmap_sigma(2.0);
    assert_eq!(detector.dir(), checkpoint);
    assert_eq!(detector.method(), Method::Reconstruction);
    assert_eq!(detector.threshold(), None);

    // Round trip: the loaded model scores exactly as the trained networks do.
    let (e, g, d, c) = trainer.networks();
    let direct = Scorer::new(
        murgan_core::models::Networks::AlphaGan {
            encoder: e,
            generator: g,
            discriminator: d,
            code: c,
        },
        ScoringOptions::default(),
    )
    .unwrap();
    let images: Vec<GrayImage> = (0..4)
        .map(with_lesion)
        .chain((0..4).map(radiograph))
        .collect();
    let pre: Vec<_> = images
        .iter()
        .map(|i| detector.preprocess(i).unwrap())
        .collect();
    let loaded = detector.score_preprocessed(&pre).unwrap();
    let tensor = burn::tensor::Tensor::<4>::from_data(
        burn::tensor::TensorData::new(
            pre.iter()
                .flat_map(|p| p.pixels.clone())
                .collect::<Vec<f32>>(),
            [pre.len(), 1, N, N],
        ),
        &Device::flex(),
    );
    let fresh = direct.score(tensor).unwrap().scores;
    for (a, b) in loaded.iter().zip(&fresh) {
        assert!(
            (a.score - b.score).abs() < 1e-6 * a.score.abs().max(1.0),
            "{a:?} {b:?}"
        );
    }

    // The heatmap, on the original 40×32 grid, lights up where the square was planted. Where
    // exactly a briefly trained model's residual peaks depends on the CPU's floating-point
    // summation order, so this compares the lesion's area of each image with and without the
    // lesion, with a wide margin, instead of asking for the peak inside it. (The heatmap's
    // geometry itself is tested on known reconstructions in murgan-score.)
    let reports = detector.score_batch(&images).unwrap();
    let lesion_heat = |h: &murgan_core::score::Heatmap| {
        let mut sum = 0.0;
        for y in 2..8u32 {
            for x in 2..8u32 {
                sum += h.values[(y * h.width + x) as usize];
            }
        }
        sum / 36.0
    };
    for (k, r) in reports.iter().take(4).enumerate() {
        assert_eq!((r.heatmap.width, r.heatmap.height), (W, H));
        let (with, without) = (
            lesion_heat(&r.heatmap),
            lesion_heat(&reports[k + 4].heatmap),
        );
        assert!(
            with > 2.0 * without + 0.05,
            "image {k}: mean heat in the lesion's square {with}, without the lesion {without}"
        );
        assert!(r.score.is_finite() && r.is_anomalous.is_none());
        assert_eq!(r.components.len(), 5);
        assert_eq!(
            (r.reconstruction.width, r.reconstruction.height),
            (N as u32, N as u32)
        );
    }
    // ... and the lesion raises the reconstruction score of the same radiograph.
    for k in 0..4 {
        assert!(reports[k].score > reports[k + 4].score, "image {k}");
    }
    let png = reports[0].heatmap.overlay_png(&images[0], None).unwrap();
    assert!(png.starts_with(b"\x89PNG"));

    // Single-image scoring agrees with the batch, and a bad file is an error naming it.
    let one = detector.score(&images[0]).unwrap();
    assert!((one.score - reports[0].score).abs() < 1e-4 * one.score.max(1.0));
    let bad = dir.path().join("broken.png");
    std::fs::write(&bad, b"not a png").unwrap();
    let err = detector.score_path(&bad).unwrap_err().to_string();
    assert!(err.contains("broken.png"), "{err}");
}

#[test]
fn calibration_gives_the_requested_specificity_and_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = AnoGanConfig::new(shape(), train_cfg(20));
    let mut t = AnoGanTrainer::new(cfg, &Device::flex()).unwrap();
    run(
        &mut t,
        &training_set(30),
        dir.path(),
        20,
        false,
        &mut no_progress,
    )
    .unwrap();

    let options = ScoringOptions {
        method: None,
        search: SearchConfig::default().with_iterations(10),
        ..Default::default()
    };
    let mut detector = Detector::load_with(dir.path(), &Device::flex(), Some(options.clone()))
        .unwrap()
        .with_batch_size(7);
    // 20 distinct normals (a little dimmer each), so their scores do not tie.
    let normals: Vec<GrayImage> = (0..20)
        .map(|k| {
            let mut img = radiograph(k);
            img.pixels
                .iter_mut()
                .for_each(|v| *v *= 1.0 - 0.01 * k as f32);
            img
        })
        .collect();
    let cal = detector.calibrate(&normals, 0.9, "test normals").unwrap();
    assert_eq!(cal.images, 20);
    assert!(cal.specificity >= 0.9, "{cal:?}");
    let reports = detector.score_batch(&normals).unwrap();
    let normal_calls = reports
        .iter()
        .filter(|r| r.is_anomalous == Some(false))
        .count();
    assert_eq!(normal_calls as f64 / 20.0, cal.specificity);
    assert!(
        cal.specificity < 1.0,
        "the lowest threshold reaching 90 % is asked for"
    );

    // Stored in model.json: a fresh load scores with the calibrated settings and threshold.
    let again = Detector::load_with(dir.path(), &Device::flex(), None).unwrap();
    assert_eq!(again.threshold(), Some(cal.threshold));
    assert_eq!(again.options().search.iterations, 10);
    // Other scoring settings: the threshold does not apply.
    let other = ScoringOptions {
        search: SearchConfig::default().with_iterations(3),
        ..options
    };
    let changed = Detector::load_with(dir.path(), &Device::flex(), Some(other)).unwrap();
    assert_eq!(changed.threshold(), None);
    assert_eq!(changed.score(&normals[0]).unwrap().is_anomalous, None);
    assert!(detector.calibrate(&normals, 1.5, "bad").is_err());
}
